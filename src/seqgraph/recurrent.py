r"""Recurrent layers: a cell of :mod:`seqgraph.cells` unrolled over time, and the bidirectional LSTM.

Every layer is batch-first: ``forward(x, state=None)`` takes ``x`` of shape ``(B, T, I)`` and returns the
outputs ``(B, T, H)`` (the hidden state $h(t)$ of every step) and the final state: ``h(T)`` for
:class:`RNN` and :class:`GRU`, ``(h(T), c(T))`` for :class:`LSTM` and :class:`PeepholeLSTM`. A missing
initial state is zero. The attributes ``input_size``, ``hidden_size`` and ``bidirectional`` have
``torch.nn.LSTM``'s meaning, so a batch-first ``nn.LSTM`` can stand in for any of these layers.

Speed is part of correctness here. Each layer runs its loop and a hand-written backward pass through time
in one autograd function of :mod:`seqgraph.fused` (:class:`~seqgraph.fused.lstm.LSTMFunction` and
the GRU, peephole and RNN ones beside it): the input terms of all timesteps in one matrix product before the
loop, one recurrent product per step (two for the GRU, whose reset gate comes before its product) and the
gate arithmetic in place in preallocated buffers, and each weight gradient as one product over all steps.
The :class:`BiLSTM` runs both directions in the same loop. Stepping ``layer.cell`` by hand gives the same
numbers as the layer (the tests check it), which is what gradient-flow analyses do.
"""

import torch
from torch import nn

from .cells import GRUCell, LSTMCell, PeepholeLSTMCell, RNNCell
from .errors import InputError
from .fused.gru import GRUFunction
from .fused.lstm import LSTMFunction
from .fused.peephole import PeepholeLSTMFunction
from .fused.rnn import RNNFunction


def check_sequence(layer: nn.Module, x: torch.Tensor) -> None:
    """Raise :class:`InputError`, naming ``layer``, unless ``x`` is a float ``(B, T, input_size)`` with T >= 1."""
    name = type(layer).__name__
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise InputError(f"{name}: expected a floating-point tensor, got {getattr(x, 'dtype', type(x))}")
    if x.dim() != 3 or x.shape[-1] != layer.input_size:
        raise InputError(f"{name}: expected input of shape (B, T, {layer.input_size}), got {tuple(x.shape)}")
    if x.shape[1] == 0:
        raise InputError(f"{name}: got sequences of length T=0")


class _Recurrent(nn.Module):
    """A cell of ``cell_class`` and its sizes; a subclass runs it over ``t = 1..T`` in its fused loop."""

    cell_class: type
    bidirectional = False

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.cell = self.cell_class(input_size, hidden_size)
        self.input_size = input_size
        self.hidden_size = hidden_size

    def reset_parameters(self) -> None:
        self.cell.reset_parameters()


class RNN(_Recurrent):
    """The vanilla RNN, :class:`~seqgraph.cells.RNNCell` (:ref:`eq. (1) <eq-rnn>`) over ``t = 1..T``; batch-first.

    Args:
        input_size: $N_{in}$, the size $I$ of $x(t)$.
        hidden_size: $N_h$, the size $H$ of $h(t)$.

    The loop and its backward pass run in :class:`~seqgraph.fused.rnn.RNNFunction`.

    Shapes: ``x`` ``(B, T, I)``, optional state ``h(0)`` ``(B, H)`` -> outputs ``(B, T, H)``, ``h(T)``.
    """

    cell_class = RNNCell

    def forward(self, x: torch.Tensor, state=None):
        check_sequence(self, x)
        h0 = self.cell.zero_state(x) if state is None else state
        cell = self.cell
        h = RNNFunction.apply(x.transpose(0, 1), cell.weight_ih, cell.bias, cell.weight_hh, h0)  # (T, B, H)
        return h.transpose(0, 1), h[-1]


class GRU(_Recurrent):
    """The GRU of Cho et al. 2014 (reset gate before the recurrent product; :class:`~seqgraph.cells.GRUCell`,
    :ref:`eq. (29)-(32) <eq-gru>`) over ``t = 1..T``; batch-first.

    Args:
        input_size: $N_{in}$, the size $I$ of $x(t)$.
        hidden_size: $N_h$, the size $H$ of $h(t)$.

    The loop and its backward pass run in :class:`~seqgraph.fused.gru.GRUFunction`.

    Shapes: ``x`` ``(B, T, I)``, optional state ``h(0)`` ``(B, H)`` -> outputs ``(B, T, H)``, ``h(T)``.
    """

    cell_class = GRUCell

    def forward(self, x: torch.Tensor, state=None):
        check_sequence(self, x)
        h0 = self.cell.zero_state(x) if state is None else state
        h = GRUFunction.apply(x.transpose(0, 1), self.cell.weight_ih, self.cell.weight_hh, h0)  # (T, B, H)
        return h.transpose(0, 1), h[-1]


class PeepholeLSTM(_Recurrent):
    """The peephole LSTM, :class:`~seqgraph.cells.PeepholeLSTMCell` (:ref:`eq. (35)-(39) <eq-peephole>`), over
    ``t = 1..T``; batch-first.

    Args:
        input_size: $N_{in}$, the size $I$ of $x(t)$.
        hidden_size: $N_h$, the size $H$ of $h(t)$ and $c(t)$.

    The loop and its backward pass run in :class:`~seqgraph.fused.peephole.PeepholeLSTMFunction`. The state
    carries ``h`` for the LSTMs' common interface, but the peephole cell never reads ``h(0)``.

    Shapes: ``x`` ``(B, T, I)``, optional state ``(h(0), c(0))`` each ``(B, H)`` -> outputs ``(B, T, H)``,
    ``(h(T), c(T))``.
    """

    cell_class = PeepholeLSTMCell

    def forward(self, x: torch.Tensor, state=None):
        check_sequence(self, x)
        _, c0 = self.cell.zero_state(x) if state is None else state  # h(0) is not an input of the peephole cell
        cell = self.cell
        h, c = PeepholeLSTMFunction.apply(x.transpose(0, 1), cell.weight_ih, cell.bias, cell.weight_hh, c0)
        return h.transpose(0, 1), (h[-1], c)  # (B, T, H), ((B, H), (B, H))


class LSTM(_Recurrent):
    """The LSTM, :class:`~seqgraph.cells.LSTMCell` (:ref:`eq. (4)-(9) <eq-lstm>`), over ``t = 1..T``; batch-first.

    The loop and its backward pass run in :class:`~seqgraph.fused.lstm.LSTMFunction` (one direction); the
    numbers are those of stepping ``self.cell`` by hand, and of ``torch.nn.LSTM`` with the same weights (see
    :meth:`from_torch`), to float rounding. The outputs are a transposed view of a time-major buffer, as
    ``nn.LSTM``'s batch-first ones.

    Args:
        input_size: $N_{in}$, the size $I$ of $x(t)$.
        hidden_size: $N_h$, the size $H$ of $h(t)$ and $c(t)$.

    Shapes: ``x`` ``(B, T, I)``, optional state ``(h(0), c(0))`` each ``(B, H)`` -> outputs ``(B, T, H)``,
    ``(h(T), c(T))``.
    """

    cell_class = LSTMCell

    def forward(self, x: torch.Tensor, state=None):
        check_sequence(self, x)
        h0, c0 = self.cell.zero_state(x) if state is None else state
        cell = self.cell
        bias = None if cell.bias is None else cell.bias[None]
        # one direction: LSTMFunction's direction dimension of size 1; time-major inside, as nn.LSTM's
        h, c = LSTMFunction.apply(x.transpose(0, 1)[None], cell.weight_ih[None], bias, cell.weight_hh[None],
                                  h0[None], c0[None])  # (1, T, B, H), (1, B, H)
        h = h.squeeze(0)  # a view both ways: indexing would cost a zero-filled copy in the backward pass
        return h.transpose(0, 1), (h[-1], c.squeeze(0))

    @classmethod
    def from_torch(cls, module: nn.LSTM) -> "LSTM":
        """An LSTM layer holding the weights of a one-layer, unidirectional ``torch.nn.LSTM``.

        The two agree to float precision whatever ``module.batch_first`` (weights do not depend on it; this
        layer is always batch-first). See :meth:`seqgraph.cells.LSTMCell.from_torch`.
        """
        if module.bidirectional:
            raise InputError(f"{cls.__name__}.from_torch: got a bidirectional nn.LSTM; use BiLSTM.from_torch")
        layer = cls(module.input_size, module.hidden_size)
        layer.cell = LSTMCell.from_torch(module)
        return layer


class BiLSTM(nn.Module):
    r"""The bidirectional LSTM of :ref:`eq. (14)-(28) <eq-bilstm>`: a forward LSTM over $t = 1..T$ and a backward
    LSTM with its own parameters over $t = T..1$ (Schuster & Paliwal 1997, "Bidirectional Recurrent Neural Networks",
    https://doi.org/10.1109/78.650093); batch-first.

    .. math::
        h_{fwd}(t) &= \mathrm{LSTM}_{fwd}(x(t), h_{fwd}(t-1)), \quad t = 1..T \\
        h_{bwd}(t) &= \mathrm{LSTM}_{bwd}(x(t), h_{bwd}(t+1)), \quad t = T..1 \\
        H &= [h_{fwd}(T); h_{bwd}(1)]

    The outputs at position $t$ are $[h_{fwd}(t); h_{bwd}(t)]$, as in ``torch.nn.LSTM(bidirectional=True)``;
    the final state is ``(h, c)`` with ``h`` $= H$ above and ``c`` $= [c_{fwd}(T); c_{bwd}(1)]$, and an
    initial state has the same layout. The two directions keep their parameters in ``forward_lstm.cell`` and
    ``backward_lstm.cell`` but run in one loop, :class:`~seqgraph.fused.lstm.LSTMFunction` with two directions:
    step $s$ advances the forward direction to $t = s$ and the backward one to $t = T + 1 - s$, and the gate
    arithmetic of both is one set of operations.

    Args:
        input_size: $N_{in}$, the size $I$ of $x(t)$.
        hidden_size: $N_h$, the size $H$ of each direction's state.

    Shapes: ``x`` ``(B, T, I)``, optional state ``(h, c)`` each ``(B, 2H)`` -> outputs ``(B, T, 2H)``,
    ``(h, c)`` each ``(B, 2H)``.
    """

    bidirectional = True

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.forward_lstm = LSTM(input_size, hidden_size)
        self.backward_lstm = LSTM(input_size, hidden_size)
        self.input_size = input_size
        self.hidden_size = hidden_size

    def reset_parameters(self) -> None:
        self.forward_lstm.reset_parameters()
        self.backward_lstm.reset_parameters()

    def forward(self, x: torch.Tensor, state=None):
        check_sequence(self, x)
        B, H = x.shape[0], self.hidden_size
        if state is None:
            h0 = c0 = x.new_zeros(2, B, H)
        else:  # (B, 2H) -> (direction, B, H)
            h0, c0 = (s.view(B, 2, H).transpose(0, 1) for s in state)
        cells = (self.forward_lstm.cell, self.backward_lstm.cell)
        x = x.transpose(0, 1)  # (T, B, I)
        # both directions in one loop: the backward one reads t = T..1, so its step s is position T - s
        h, c = LSTMFunction.apply(torch.stack((x, x.flip(0))), *(torch.stack([getattr(cell, name) for cell in cells])
                                  for name in ("weight_ih", "bias", "weight_hh")), h0, c0)  # (2, T, B, H), (2, B, H)
        # flipping the backward direction's outputs puts h_bwd(t) at position t
        outputs = torch.cat((h[0], h[1].flip(0)), -1).transpose(0, 1)  # (B, T, 2H)
        # H = [h_fwd(T); h_bwd(1)]: the backward direction's last step is position 1
        return outputs, (torch.cat((h[0, -1], h[1, -1]), -1), torch.cat((c[0], c[1]), -1))

    @classmethod
    def from_torch(cls, module: nn.LSTM) -> "BiLSTM":
        """A BiLSTM holding the weights of a one-layer ``torch.nn.LSTM(bidirectional=True)``."""
        if not module.bidirectional:
            raise InputError(f"{cls.__name__}.from_torch: expected a bidirectional nn.LSTM")
        layer = cls(module.input_size, module.hidden_size)
        layer.forward_lstm.cell = LSTMCell.from_torch(module)
        layer.backward_lstm.cell = LSTMCell.from_torch(module, reverse=True)
        return layer


def last_states(lstm: nn.Module, h: torch.Tensor, index: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Run ``lstm`` (a batch-first layer of this module) over the sequence of rows of ``h`` ``(N, F)`` that each
    row of ``index`` ``(B, L)`` names (``-1`` after the end) and return its state after each sequence's last element,
    ``(B, H)``: the output at step ``lengths[b]``, or 0 where ``lengths[b]`` is 0.

    Sequences are bucketed by length (1, 2, 3-4, 5-8, ...) and each bucket is padded to its own longest: a
    short sequence never runs the steps of a long one. The LSTM is causal, so padding after a sequence's
    end never reaches its state at its own length. The rows are gathered with ``index_select``: the backward
    of ``h[index]`` accumulates repeated rows in an order that varies with the threads on a CPU.
    """
    out = h.new_zeros(index.size(0), lstm.hidden_size)
    bucket = torch.ceil(torch.log2(lengths.clamp(min=1).double())).long()  # (B,)
    for b in bucket[lengths > 0].unique().tolist():
        rows = ((bucket == b) & (lengths > 0)).nonzero().squeeze(1)  # (B_b,)
        n = lengths[rows]  # (B_b,)
        nodes = index[rows, : int(n.max())].clamp(min=0)  # (B_b, T_b)
        outputs, _ = lstm(h.index_select(0, nodes.flatten()).view(*nodes.shape, -1))  # h(1..T_b)   (B_b, T_b, H)
        out = out.index_copy(0, rows, outputs[torch.arange(rows.numel(), device=rows.device), n - 1])
    return out
