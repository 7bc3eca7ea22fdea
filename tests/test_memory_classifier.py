import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from seqgraph.errors import InputError
from seqgraph.memory.classifier import CLASSIFIERS as MODELS
from seqgraph.memory.classifier import SequenceClassifier, build_classifier, lstm_param_count
from seqgraph.recurrent import LSTM, BiLSTM


@pytest.mark.parametrize("model", MODELS)
def test_classifier_returns_log_probabilities(model):
    torch.manual_seed(0)
    clf = build_classifier(model, num_symbols=5, num_classes=3, hidden_size=8)
    assert clf.embedding.embedding_dim == 2  # hidden / 4
    log_p = clf(torch.randint(5, (4, 6)))
    assert log_p.shape == (4, 3)
    torch.testing.assert_close(log_p.exp().sum(1), torch.ones(4))


def test_classifier_init_kaiming_head_zero_bias_and_embedding_dim_override():
    torch.manual_seed(0)
    clf = build_classifier("lstm", 16, 10, hidden_size=400, embedding_dim=7)
    assert clf.rnn.input_size == clf.embedding.embedding_dim == 7
    assert clf.head.weight.std().item() == pytest.approx((2 / 400) ** 0.5, rel=0.05)
    assert torch.count_nonzero(clf.head.bias) == 0


@settings(max_examples=25, deadline=None)
@given(input_dim=st.integers(1, 40), hidden=st.integers(1, 40), classes=st.integers(1, 20),
       symbols=st.integers(1, 20))
def test_lstm_param_count_formula_equals_the_model(input_dim, hidden, classes, symbols):
    clf = build_classifier("lstm", symbols, classes, hidden, embedding_dim=input_dim)
    without_embedding = sum(p.numel() for p in clf.parameters()) - clf.embedding.weight.numel()
    assert lstm_param_count(input_dim, hidden, classes) == without_embedding


def test_lstm_param_count_of_the_report_configuration():
    # embedding 32, hidden 128, 10 classes: 4 (128*32 + 128*128 + 128) + 10*128 + 10
    assert lstm_param_count(32, 128, 10) == 83_722


@pytest.mark.parametrize("model", MODELS)
def test_classifier_predicts_from_the_final_hidden_state(model):
    # h(T); for the BiLSTM H = [h_fwd(T); h_bwd(1)], which is the h of its final state
    torch.manual_seed(0)
    clf = build_classifier(model, 5, 3, hidden_size=8)
    x = torch.randint(5, (4, 6))
    _, state = clf.rnn(clf.embedding(x))
    h = state[0] if isinstance(state, tuple) else state
    torch.testing.assert_close(clf(x), torch.log_softmax(clf.head(h), -1))


@pytest.mark.parametrize("bidirectional", [False, True])
def test_classifier_with_torch_lstm_inside_agrees(bidirectional):
    # a batch-first nn.LSTM can stand in for our layer; with the same weights the predictions agree
    torch.manual_seed(0)
    torch_lstm = nn.LSTM(2, 8, batch_first=True, bidirectional=bidirectional)
    ours = (BiLSTM if bidirectional else LSTM).from_torch(torch_lstm)
    clf = SequenceClassifier(ours, num_symbols=5, num_classes=3)
    clf_torch = SequenceClassifier(torch_lstm, num_symbols=5, num_classes=3)
    clf_torch.embedding.load_state_dict(clf.embedding.state_dict())
    clf_torch.head.load_state_dict(clf.head.state_dict())
    x = torch.randint(5, (4, 6))
    torch.testing.assert_close(clf(x), clf_torch(x), rtol=0, atol=1e-5)


def test_lstm_classifier_learns_a_memory_task():
    # the label is the first symbol: the LSTM must carry it over 6 steps
    torch.manual_seed(0)
    clf = build_classifier("lstm", num_symbols=4, num_classes=4, hidden_size=16)
    opt = torch.optim.Adam(clf.parameters(), lr=1e-2)
    losses = []
    for _ in range(60):
        x = torch.randint(4, (32, 6))
        loss = nn.functional.nll_loss(clf(x), x[:, 0])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert sum(losses[-10:]) / 10 < 0.5 * sum(losses[:10]) / 10


@pytest.mark.parametrize("x, message", [
    (torch.rand(2, 3), r"expected integer symbols \(torch.long\), got torch.float32"),
    ([[1, 2]], r"expected integer symbols \(torch.long\), got <class 'list'>"),
    (torch.ones(2, 3, 1, dtype=torch.long), r"expected symbols of shape \(B, T\), got \(2, 3, 1\)"),
    (torch.ones(3, dtype=torch.long), r"expected symbols of shape \(B, T\), got \(3,\)"),
    (torch.ones(2, 0, dtype=torch.long), r"got an empty batch of shape \(2, 0\)"),
    (torch.tensor([[0, 5]]), r"symbols must lie in \[0, 5\), got values in \[0, 5\]"),
    (torch.tensor([[-1, 2]]), r"symbols must lie in \[0, 5\), got values in \[-1, 2\]"),
])
def test_classifier_rejects_bad_input(x, message):
    clf = build_classifier("lstm", num_symbols=5, num_classes=3, hidden_size=8)
    with pytest.raises(ValueError, match=f"SequenceClassifier: {message}"):
        clf(x)


def test_classifier_rejects_bad_sizes():
    with pytest.raises(ValueError, match="build_classifier: unknown model 'transformer'"):
        build_classifier("transformer", 5, 3, 8)
    with pytest.raises(ValueError, match="SequenceClassifier: num_classes must be a positive integer, got 0"):
        build_classifier("gru", 5, 0, 8)
    with pytest.raises(ValueError, match="SequenceClassifier: num_symbols must be a positive integer"):
        build_classifier("rnn", -1, 3, 8)
    with pytest.raises(ValueError, match="LSTMCell: hidden_size must be a positive integer, got 0"):
        build_classifier("lstm", 5, 3, 0)


# --- the initialisation variants of the README's "Why the steps differ" ------------------------------------------

def test_default_initialisation_leaves_the_random_stream_as_built():
    torch.manual_seed(0)
    plain = build_classifier("lstm", 5, 4, hidden_size=64)
    torch.manual_seed(0)
    named = build_classifier("lstm", 5, 4, hidden_size=64, init="kaiming", embedding_init="normal")
    for (key, a), b in zip(plain.state_dict().items(), named.state_dict().values(), strict=True):
        assert torch.equal(a, b), key


def test_initialisation_variants_draw_the_documented_distributions():
    torch.manual_seed(0)
    hidden, embedding = 256, 32
    torch_init = build_classifier("lstm", 5, 4, hidden, embedding, init="torch")
    bound = 1 / math.sqrt(hidden)
    for name, p in torch_init.rnn.named_parameters():
        assert p.abs().max() <= bound and p.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.05), name
    xw = build_classifier("lstm", 5, 4, hidden, embedding, init="kaiming-xw")
    w_ih = xw.rnn.cell.weight_ih  # (4H, E): as x @ W with W (E, 4H) the fan is 4H, not E
    assert w_ih.std().item() == pytest.approx(math.sqrt(2 / (4 * hidden)), rel=0.05)
    assert build_classifier("lstm", 5, 4, hidden, embedding).rnn.cell.weight_ih.std().item() == pytest.approx(
        math.sqrt(2 / embedding), rel=0.05)
    emb = build_classifier("lstm", 500, 4, hidden, embedding, embedding_init="kaiming").embedding.weight
    assert emb.std().item() == pytest.approx(math.sqrt(2 / embedding), rel=0.05)  # 0.25, not N(0, 1)


def test_unknown_initialisations_are_input_errors():
    with pytest.raises(InputError, match="unknown init 'xavier'"):
        build_classifier("lstm", 5, 4, 16, init="xavier")
    with pytest.raises(InputError, match="unknown embedding_init"):
        build_classifier("lstm", 5, 4, 16, embedding_init="zeros")
