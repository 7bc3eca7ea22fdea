r"""Gradient flow through time (report §1.1, :ref:`eq-gradients`).

The loss $\mathcal{L}$ is computed from the last hidden state $h(T)$ only, so its gradient reaches an
earlier state through the chain of Jacobians

.. math::
    \frac{\partial \mathcal{L}}{\partial h(t)}
    = \Big(\prod_{j=t+1}^{T} \frac{\partial h(j)}{\partial h(j-1)}\Big)^{\top}
      \frac{\partial \mathcal{L}}{\partial h(T)},

and for the vanilla RNN $\partial h(j) / \partial h(j-1) = \mathrm{diag}(1 - h(j)^2) W_{hh}$: the norm shrinks
or grows geometrically with $T - t$ as $W_{hh}$'s spectrum lies inside or outside the unit circle. For a
linear RNN with $W_{hh} = s Q$, $Q$ orthogonal, each step multiplies the norm by exactly $s$.

:func:`hidden_gradient_norms` measures $\lVert \partial \mathcal{L} / \partial h(t) \rVert$ for $t = 1..T$ by
stepping a cell by hand and keeping the gradient of every $h(t)$ (``retain_grad``), each example's norm
averaged over the batch. The loss is summed over the batch, so each example's gradient is that of its
own loss, not divided by the batch size. For the LSTMs $h(t)$ is the hidden state, not the cell state;
the peephole LSTM's gates read $c(t-1)$ only, so its $h(t)$ reaches the loss only at $t = T$ and is left out.
"""

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError


def hidden_gradient_norms(cell: Callable, inputs: torch.Tensor, readout: Callable[[torch.Tensor], torch.Tensor],
                          targets: torch.Tensor) -> torch.Tensor:
    r"""$\lVert \partial \mathcal{L}(T) / \partial h(t) \rVert$ for $t = 1..T$, averaged over the batch.

    Args:
        cell: one time step, ``cell(x_t, state) -> state`` (state ``h`` or ``(h, c)``; None is zero).
        inputs: the embedded sequence ``(B, T, I)``.
        readout: log-probabilities ``(B, C)`` from ``h(T)`` ``(B, H)``.
        targets: the labels ``(B,)``.

    Returns:
        A tensor of shape ``(T,)``; entry ``t - 1`` belongs to ``h(t)``.
    """
    state, hidden = None, []
    for t in range(inputs.shape[1]):
        state = cell(inputs[:, t], state)
        h = state[0] if isinstance(state, tuple) else state  # (B, H)
        h.retain_grad()
        hidden.append(h)
    loss = F.nll_loss(readout(hidden[-1]), targets, reduction="sum")
    loss.backward()
    if any(h.grad is None for h in hidden):
        raise InputError("hidden_gradient_norms: the cell does not feed h(t) to the next step (peephole LSTM?)")
    return torch.stack([h.grad.norm(dim=1).mean() for h in hidden]).detach()  # (T,)


def classifier_gradient_norms(classifier: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """:func:`hidden_gradient_norms` of a unidirectional classifier of :mod:`seqgraph.classifier`.

    ``x`` ``(B, T)`` symbols, ``y`` ``(B,)`` labels; the classifier's parameters receive gradients.
    """
    if getattr(classifier.rnn, "bidirectional", False):
        raise InputError("classifier_gradient_norms: needs a unidirectional classifier")

    def readout(h):
        return F.log_softmax(classifier.head(h), dim=-1)  # (B, C), as the classifier's forward

    return hidden_gradient_norms(classifier.rnn.cell, classifier.embedding(x), readout, y)


def spectral_radius(weight: torch.Tensor) -> float:
    """The largest modulus of the eigenvalues of a square matrix."""
    return torch.linalg.eigvals(weight.detach().double()).abs().max().item()


@torch.no_grad()
def set_spectral_radius(weight: torch.Tensor, radius: float) -> None:
    """Rescale the square matrix ``weight`` in place so that its spectral radius is ``radius``."""
    weight.mul_(radius / spectral_radius(weight))
