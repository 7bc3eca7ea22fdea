import pytest
import torch
import torch.nn.functional as F

from seqgraph.cells import RNNCell
from seqgraph.memory.classifier import build_classifier
from seqgraph.memory.gradients import (
    classifier_gradient_norms,
    hidden_gradient_norms,
    set_spectral_radius,
    spectral_radius,
)


def linear_rnn_cell(w_hx, w_hh):
    """h(t) = W_hx x(t) + W_hh h(t-1): the vanilla RNN with the identity instead of tanh."""

    def cell(x, h):
        return x @ w_hx.T + (0 if h is None else h @ w_hh.T)

    return cell


@pytest.mark.parametrize("scale", [0.5, 0.9, 1.0, 1.1, 1.5])
def test_linear_rnn_gradient_ratio_is_the_spectral_radius(scale):
    torch.manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(6, 6, dtype=torch.float64))  # orthogonal
    w_hh = scale * q
    assert spectral_radius(w_hh) == pytest.approx(scale)
    w_hx, w_ph = torch.randn(6, 3, dtype=torch.float64, requires_grad=True), torch.randn(4, 6, dtype=torch.float64)
    inputs, targets = torch.randn(5, 12, 3, dtype=torch.float64), torch.randint(0, 4, (5,))
    norms = hidden_gradient_norms(linear_rnn_cell(w_hx, w_hh), inputs, lambda h: F.log_softmax(h @ w_ph.T, -1),
                                  targets)
    assert norms.shape == (12,)
    # ∂L/∂h(t-1) = W_hhᵀ ∂L/∂h(t) = s Qᵀ ∂L/∂h(t): every step back multiplies each example's norm by s
    torch.testing.assert_close(norms[:-1] / norms[1:], torch.full((11,), scale, dtype=torch.float64))


def test_tanh_rnn_matches_backprop_through_time_by_hand():
    torch.manual_seed(1)
    cell = RNNCell(3, 5).double()
    w_ph = torch.randn(4, 5, dtype=torch.float64)
    inputs, targets = torch.randn(2, 7, 3, dtype=torch.float64), torch.tensor([1, 3])
    norms = hidden_gradient_norms(cell, inputs, lambda h: F.log_softmax(h @ w_ph.T, -1), targets)

    # Without autograd: δ(T) = W_phᵀ (softmax(p) - onehot(y)), δ(t-1) = W_hhᵀ (δ(t) ⊙ (1 - h(t)²)).
    with torch.no_grad():
        w_hx, w_hh, b = cell.weight_ih, cell.weight_hh, cell.bias
        h, hs = torch.zeros(2, 5, dtype=torch.float64), []
        for t in range(7):
            h = torch.tanh(inputs[:, t] @ w_hx.T + h @ w_hh.T + b)
            hs.append(h)
        delta = (torch.softmax(h @ w_ph.T, -1) - F.one_hot(targets, 4)) @ w_ph
        expected = [delta.norm(dim=1).mean()]
        for t in range(6, 0, -1):
            delta = (delta * (1 - hs[t] ** 2)) @ w_hh
            expected.insert(0, delta.norm(dim=1).mean())
    torch.testing.assert_close(norms, torch.stack(expected))


@pytest.mark.parametrize("model", ["rnn", "lstm", "gru"])
def test_classifier_gradient_norms_unroll_the_classifier(model):
    torch.manual_seed(2)
    classifier = build_classifier(model, num_symbols=5, num_classes=5, hidden_size=8).double()
    x, y = torch.randint(0, 5, (3, 6)), torch.randint(0, 5, (3,))
    norms = classifier_gradient_norms(classifier, x, y)
    assert norms.shape == (6,) and torch.isfinite(norms).all() and (norms > 0).all()
    # the hand unrolling computes the classifier's own loss: its parameter gradients agree
    manual = {name: p.grad.clone() for name, p in classifier.named_parameters()}
    classifier.zero_grad()
    F.nll_loss(classifier(x), y, reduction="sum").backward()
    for name, p in classifier.named_parameters():
        torch.testing.assert_close(manual[name], p.grad, msg=name)


def test_set_spectral_radius():
    torch.manual_seed(3)
    weight = torch.randn(10, 10)
    set_spectral_radius(weight, 0.9)
    assert spectral_radius(weight) == pytest.approx(0.9, rel=1e-5)


@pytest.mark.parametrize("model, message", [("bilstm", "unidirectional"), ("peeplstm", "does not feed h")])
def test_classifiers_without_a_chain_of_h_refused(model, message):
    classifier = build_classifier(model, num_symbols=5, num_classes=5, hidden_size=8)
    with pytest.raises(ValueError, match=message):
        classifier_gradient_norms(classifier, torch.randint(0, 5, (2, 4)), torch.tensor([0, 1]))
