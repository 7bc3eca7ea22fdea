r"""Recurrent layers: a cell of :mod:`seqgraph.cells` unrolled over time, and the bidirectional LSTM.

Every layer is batch-first: ``forward(x, state=None)`` takes ``x`` of shape ``(B, T, I)`` and returns the
outputs ``(B, T, H)`` (the hidden state $h(t)$ of every step) and the final state: ``h(T)`` for
:class:`RNN` and :class:`GRU`, ``(h(T), c(T))`` for :class:`LSTM` and :class:`PeepholeLSTM`. A missing
initial state is zero. The attributes ``input_size``, ``hidden_size`` and ``bidirectional`` have
``torch.nn.LSTM``'s meaning, so a batch-first ``nn.LSTM`` can stand in for any of these layers.

Speed is part of correctness here. The input terms of all timesteps are computed in one matrix product
before the loop (``cell.project_input``), so each step only does one product for the recurrent terms of
all gates plus the gate arithmetic (``cell.step``). The :class:`LSTM` goes further: its loop and a
hand-written backward pass through time live in :class:`LSTMFunction`, which writes into preallocated
buffers and computes the weight gradient of all steps in one product. Stepping ``layer.cell`` by hand gives
the same numbers as the layer (the tests check it), which is what gradient-flow analyses do.
"""

import torch
from torch import nn
from torch.autograd.function import once_differentiable

from .cells import GRUCell, LSTMCell, PeepholeLSTMCell, RNNCell
from .errors import InputError


def check_sequence(layer: nn.Module, x: torch.Tensor) -> None:
    """Raise :class:`InputError`, naming ``layer``, unless ``x`` is a float ``(B, T, input_size)`` with T >= 1."""
    name = type(layer).__name__
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise InputError(f"{name}: expected a floating-point tensor, got {getattr(x, 'dtype', type(x))}")
    if x.dim() != 3 or x.shape[-1] != layer.input_size:
        raise InputError(f"{name}: expected input of shape (B, T, {layer.input_size}), got {tuple(x.shape)}")
    if x.shape[1] == 0:
        raise InputError(f"{name}: got sequences of length T=0")


class _Unrolled(nn.Module):
    """A cell stepped over ``t = 1..T``: the generic loop that :class:`LSTM` replaces by a fused one."""

    cell_class: type
    bidirectional = False

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.cell = self.cell_class(input_size, hidden_size)
        self.input_size = input_size
        self.hidden_size = hidden_size

    def reset_parameters(self) -> None:
        self.cell.reset_parameters()

    def forward(self, x: torch.Tensor, state=None):
        check_sequence(self, x)
        if state is None:
            state = self.cell.zero_state(x)
        x_proj = self.cell.project_input(x)  # (B, T, k*H): the input terms of every step in one product
        outputs = []
        for t in range(x.shape[1]):
            state = self.cell.step(x_proj[:, t], state)
            outputs.append(state[0] if isinstance(state, tuple) else state)
        return torch.stack(outputs, 1), state  # (B, T, H)


class RNN(_Unrolled):
    """The vanilla RNN, :class:`~seqgraph.cells.RNNCell` (SPEC eq. 1) over ``t = 1..T``; batch-first.

    Args:
        input_size: $N_{in}$, the size $I$ of $x(t)$.
        hidden_size: $N_h$, the size $H$ of $h(t)$.

    Shapes: ``x`` ``(B, T, I)``, optional state ``h(0)`` ``(B, H)`` -> outputs ``(B, T, H)``, ``h(T)``.
    """

    cell_class = RNNCell


class GRU(_Unrolled):
    """The GRU of Cho et al. 2014 (reset gate before the recurrent product; :class:`~seqgraph.cells.GRUCell`,
    SPEC eq. 29-32) over ``t = 1..T``; batch-first.

    Args:
        input_size: $N_{in}$, the size $I$ of $x(t)$.
        hidden_size: $N_h$, the size $H$ of $h(t)$.

    Shapes: ``x`` ``(B, T, I)``, optional state ``h(0)`` ``(B, H)`` -> outputs ``(B, T, H)``, ``h(T)``.
    """

    cell_class = GRUCell


class PeepholeLSTM(_Unrolled):
    """SPEC's peephole LSTM, :class:`~seqgraph.cells.PeepholeLSTMCell` (eq. 35-39), over ``t = 1..T``;
    batch-first.

    Args:
        input_size: $N_{in}$, the size $I$ of $x(t)$.
        hidden_size: $N_h$, the size $H$ of $h(t)$ and $c(t)$.

    Shapes: ``x`` ``(B, T, I)``, optional state ``(h(0), c(0))`` each ``(B, H)`` -> outputs ``(B, T, H)``,
    ``(h(T), c(T))``.
    """

    cell_class = PeepholeLSTMCell


class LSTM(_Unrolled):
    """The LSTM, :class:`~seqgraph.cells.LSTMCell` (SPEC eq. 4-9), over ``t = 1..T``; batch-first.

    The loop and its backward pass run in :class:`LSTMFunction`; the numbers are those of stepping
    ``self.cell`` by hand, and of ``torch.nn.LSTM`` with the same weights (see :meth:`from_torch`), to float
    rounding. The outputs are a transposed view of a time-major buffer, as ``nn.LSTM``'s batch-first ones.

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
        # the input terms of every step in one product, time-major so that each step's slice is contiguous
        x_proj = self.cell.project_input(x.transpose(0, 1))  # (T, B, 4H)
        outputs, c = LSTMFunction.apply(x_proj, h0, c0, self.cell.weight_hh)  # (T, B, H), (B, H)
        return outputs.transpose(0, 1), (outputs[-1], c)

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


def _tanh(x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """tanh(x) = 2 sigmoid(2x) - 1 into ``out``: on CPU, torch.tanh costs about four sigmoids."""
    return torch.add(x, x, out=out).sigmoid_().mul_(2).sub_(1)


class LSTMFunction(torch.autograd.Function):
    r"""SPEC eq. (4)-(9) over all timesteps, with backpropagation through time written out; time-major.

    ``apply(x_proj, h0, c0, weight_hh)`` takes the input terms ``x_proj`` ``(T, B, 4H)`` (gates in the order
    i, f, g, o, biases included), the initial state ``(B, H)`` each and ``weight_hh`` ``(4H, H)``; it
    returns all hidden states ``(T, B, H)`` and ``c(T)``. Per step the forward pass does one product and
    the gate arithmetic in place in preallocated buffers. Going back from $t = T$ with
    $\delta h(t) = \partial L / \partial h(t)$ (the gradient of output $t$ plus what flows back from step
    $t + 1$), the gates' gradients before their nonlinearities $\delta a$ are

    .. math::
        \delta c(t) &= \delta h(t) \odot o \odot (1 - \tanh^2 c(t)) + \delta c(t+1) \odot f(t+1) \\
        \delta a_i &= \delta c(t) \odot g \odot i (1 - i), \qquad
        \delta a_f = \delta c(t) \odot c(t-1) \odot f (1 - f) \\
        \delta a_g &= \delta c(t) \odot i \odot (1 - g^2), \qquad
        \delta a_o = \delta h(t) \odot \tanh c(t) \odot o (1 - o) \\
        \delta h(t-1) &\mathrel{+}= \delta a(t) \, W_{hh}, \qquad
        \partial L / \partial W_{hh} = \textstyle\sum_t \delta a(t)^\top h(t-1)

    and $\delta a$ is also the gradient of ``x_proj``. The factors that do not depend on $\delta$ are
    computed for all steps at once before the loop, which leaves one product and four elementwise
    operations per step; the weight gradient is one product over all steps.
    """

    @staticmethod
    def forward(ctx, x_proj, h0, c0, weight_hh):
        T, B, H = x_proj.shape[0], x_proj.shape[1], h0.shape[1]
        gates = torch.empty_like(x_proj)  # (T, B, 4H): i, f, g, o after their nonlinearities
        h = x_proj.new_empty(T, B, H)  # h(1..T)
        c = x_proj.new_empty(T + 1, B, H)  # c(0..T)
        tanh_c = x_proj.new_empty(T, B, H)  # tanh c(1..T)
        c[0] = c0
        h_prev, weight_hh_t = h0, weight_hh.t()
        # per-step views made once: unbind is cheaper than indexing in the loop
        per_step = zip(x_proj.unbind(0), gates.unbind(0), c[:-1].unbind(0), c[1:].unbind(0), tanh_c.unbind(0),
                       h.unbind(0), strict=True)
        for x_proj_t, a, c_prev, c_t, tanh_c_t, h_t in per_step:
            torch.addmm(x_proj_t, h_prev, weight_hh_t, out=a)  # (B, 4H)
            i, f, g, o = a.chunk(4, -1)  # torch.nn.LSTM's gate order
            # (4)-(7) in place, one sigmoid for all four: tanh(g) = 2 sigmoid(2g) - 1, see _tanh
            g.add_(g)
            a.sigmoid_()
            g.mul_(2).sub_(1)
            # (8)
            torch.mul(c_prev, f, out=c_t).addcmul_(g, i)
            # (9)
            h_prev = torch.mul(_tanh(c_t, out=tanh_c_t), o, out=h_t)
        ctx.save_for_backward(gates, h0, h, c, tanh_c, weight_hh)
        return h, c[T]

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_h, grad_c_last):
        gates, h0, h, c, tanh_c, weight_hh = ctx.saved_tensors
        T, B, H = h.shape
        i, f, g, o = gates.chunk(4, -1)  # (T, B, H) each
        # d_gates starts as the factors that do not depend on delta, for all steps at once:
        # i (1 - i) g, f (1 - f) c(t-1), i (1 - g^2), o (1 - o) tanh c(t); the loop multiplies in delta
        d_gates = torch.addcmul(gates, gates, gates, value=-1)  # sigmoid' = s (1 - s), (T, B, 4H)
        d_i, d_f, d_g, d_o = d_gates.chunk(4, -1)
        d_i.mul_(g)
        d_f.mul_(c[:-1])
        torch.addcmul(i, i, g * g, value=-1, out=d_g)
        d_o.mul_(tanh_c)
        dh_to_dc = torch.addcmul(o, o, tanh_c * tanh_c, value=-1)  # o (1 - tanh^2 c), (T, B, H)
        d_ifg = d_gates.view(T, B, 4, H)[:, :, :3]
        dc = grad_c_last.clone()
        dc_column = dc.unsqueeze(1)  # (B, 1, H), a view of dc for the three gates at once
        d_next = f_next = None  # delta a(t + 1) and f(t + 1), from the step after
        per_step = zip(grad_h.unbind(0), f.unbind(0), dh_to_dc.unbind(0), d_gates.unbind(0), d_ifg.unbind(0),
                       d_o.unbind(0), strict=True)
        for grad_h_t, f_t, dh_to_dc_t, d_t, d_ifg_t, d_o_t in reversed(list(per_step)):
            dh = grad_h_t if d_next is None else torch.addmm(grad_h_t, d_next, weight_hh)  # delta h(t), (B, H)
            if f_next is not None:
                dc.mul_(f_next)
            dc.addcmul_(dh, dh_to_dc_t)  # delta c(t)
            d_ifg_t.mul_(dc_column)
            d_o_t.mul_(dh)
            d_next, f_next = d_t, f_t
        d_h0 = d_gates[0] @ weight_hh if ctx.needs_input_grad[1] else None
        d_c0 = dc * f[0] if ctx.needs_input_grad[2] else None
        d_weight_hh = None
        if ctx.needs_input_grad[3]:
            h_prev = torch.cat((h0.unsqueeze(0), h[:-1]))  # h(0..T-1), (T, B, H)
            d_weight_hh = (h_prev.view(T * B, H).t() @ d_gates.view(T * B, 4 * H)).t()  # (4H, H)
        return d_gates, d_h0, d_c0, d_weight_hh


class BiLSTM(nn.Module):
    r"""The bidirectional LSTM of SPEC eq. (14)-(28): a forward LSTM over $t = 1..T$ and a backward LSTM with
    its own parameters over $t = T..1$ (Schuster & Paliwal 1997, "Bidirectional Recurrent Neural Networks",
    https://doi.org/10.1109/78.650093); batch-first.

    .. math::
        h_{fwd}(t) &= \mathrm{LSTM}_{fwd}(x(t), h_{fwd}(t-1)), \quad t = 1..T \\
        h_{bwd}(t) &= \mathrm{LSTM}_{bwd}(x(t), h_{bwd}(t+1)), \quad t = T..1 \\
        H &= [h_{fwd}(T); h_{bwd}(1)]

    The outputs at position $t$ are $[h_{fwd}(t); h_{bwd}(t)]$, as in ``torch.nn.LSTM(bidirectional=True)``;
    the final state is ``(h, c)`` with ``h`` $= H$ above and ``c`` $= [c_{fwd}(T); c_{bwd}(1)]$, and an
    initial state has the same layout.

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
        H = self.hidden_size
        fwd_state = bwd_state = None
        if state is not None:
            h, c = state
            fwd_state, bwd_state = (h[:, :H], c[:, :H]), (h[:, H:], c[:, H:])
        out_fwd, (h_fwd, c_fwd) = self.forward_lstm(x, fwd_state)  # t = 1..T
        # the backward LSTM reads t = T..1; flipping its outputs back puts h_bwd(t) at position t
        out_bwd, (h_bwd, c_bwd) = self.backward_lstm(x.flip(1), bwd_state)
        outputs = torch.cat((out_fwd, out_bwd.flip(1)), -1)  # (B, T, 2H)
        return outputs, (torch.cat((h_fwd, h_bwd), -1), torch.cat((c_fwd, c_bwd), -1))

    @classmethod
    def from_torch(cls, module: nn.LSTM) -> "BiLSTM":
        """A BiLSTM holding the weights of a one-layer ``torch.nn.LSTM(bidirectional=True)``."""
        if not module.bidirectional:
            raise InputError(f"{cls.__name__}.from_torch: expected a bidirectional nn.LSTM")
        layer = cls(module.input_size, module.hidden_size)
        layer.forward_lstm.cell = LSTMCell.from_torch(module)
        layer.backward_lstm.cell = LSTMCell.from_torch(module, reverse=True)
        return layer
