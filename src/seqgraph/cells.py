r"""One time step of each recurrent cell of the report's Part 1, written from its equations (:doc:`/equations`)
with ``nn.Parameter``.

A cell's ``forward(x, state)`` takes one time step ``x`` of shape ``(B, I)`` and returns the new state:
``h`` of shape ``(B, H)`` for :class:`RNNCell` and :class:`GRUCell`, ``(h, c)`` for the two LSTMs. A missing
state is the zero state $h(0) = c(0) = 0$, built with ``x.new_zeros``.

Each step is split in two, as the layers of :mod:`seqgraph.recurrent` split it: ``project_input(x)`` computes
the input terms ($W_{\cdot x} x + b_\cdot$) for any leading shape, so that a loop applies it to all timesteps
in one matrix product, and ``step(x_proj, state)`` does the recurrent product and the gate arithmetic.
``forward(x, state) == step(project_input(x), state)``. The cells are the line-by-line reference for the
equations: the layers run them in the fused loops of :mod:`seqgraph.fused`, whose hand-written backward
passes the tests tie to these cells stepped by hand.

The weights of all gates are fused as in ``torch.nn``: ``weight_ih`` stacks the input matrices of the
gates, ``weight_hh`` the recurrent ones, ``bias`` the biases (one per gate, as in the equations; ``torch.nn``
keeps two, ``bias_ih`` and ``bias_hh``, whose sum is this one). Each class docstring maps the equations'
symbols to slices of these tensors. Weights are Kaiming-normal (fan-in mode) and biases zero (the assignment's
:ref:`Table 2 <table-2>`).
"""

import math

import torch
from torch import nn

from .errors import InputError


class _Cell(nn.Module):
    """Sizes, the input projection, the zero state, initialisation and ``repr`` shared by all cells.

    A subclass sets ``input_blocks`` (how many ``H``-row blocks ``weight_ih`` has) and ``recurrent_blocks``
    (the same for ``weight_hh``), and defines ``step``.
    """

    input_blocks: int
    recurrent_blocks: int
    has_cell_state = False  # the LSTMs carry (h, c); the others carry h alone

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True):
        super().__init__()
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"{type(self).__name__}: {name} must be a positive integer, got {value!r}")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.weight_ih = nn.Parameter(torch.empty(self.input_blocks * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(self.recurrent_blocks * hidden_size, hidden_size))
        self.bias = nn.Parameter(torch.empty(self.input_blocks * hidden_size)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # Kaiming normal per matrix of the equations: std sqrt(2 / fan_in), fan_in = the width of the matrix.
        # The fused tensors stack those matrices along rows, so their fan-in is that of each stacked matrix.
        nn.init.kaiming_normal_(self.weight_ih)
        nn.init.kaiming_normal_(self.weight_hh)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def project_input(self, x: torch.Tensor) -> torch.Tensor:
        """The input terms of every gate, ``(..., I) -> (..., input_blocks * H)``."""
        return nn.functional.linear(x, self.weight_ih, self.bias)

    def zero_state(self, x: torch.Tensor):
        """$h(0) = 0$ (and $c(0) = 0$) for a batch like ``x`` of shape ``(B, ...)``."""
        h = x.new_zeros(x.shape[0], self.hidden_size)
        return (h, x.new_zeros(x.shape[0], self.hidden_size)) if self.has_cell_state else h

    def forward(self, x: torch.Tensor, state=None):
        """One time step: ``x`` ``(B, I)``, ``state`` ``h`` or ``(h, c)`` (each ``(B, H)``) or None."""
        if state is None:
            state = self.zero_state(x)
        return self.step(self.project_input(x), state)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}"


class RNNCell(_Cell):
    r"""The vanilla (Elman) RNN cell, :ref:`eq. (1) <eq-rnn>`.

    .. math::
        h(t) = \tanh(W_{hx} x(t) + W_{hh} h(t-1) + b_h)    \qquad (1)

    The output layer $p(t) = W_{ph} h(t) + b_p$ (2) is the classifier's head.

    Args:
        input_size: $N_{in}$, the size $I$ of $x(t)$.
        hidden_size: $N_h$, the size $H$ of $h(t)$.

    Parameters: ``weight_ih (H, I)`` $= W_{hx}$, ``weight_hh (H, H)`` $= W_{hh}$, ``bias (H)`` $= b_h$.

    Shapes: ``x`` ``(B, I)``, state ``h`` ``(B, H)`` -> ``h`` ``(B, H)``.
    """

    input_blocks = 1
    recurrent_blocks = 1

    def step(self, x_proj: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        # (1): x_proj already holds W_hx x(t) + b_h
        return torch.tanh(torch.addmm(x_proj, h, self.weight_hh.t()))  # (B, H)


class LSTMCell(_Cell):
    r"""The LSTM cell of :ref:`eq. (4)-(9) <eq-lstm>` (Hochreiter & Schmidhuber 1997, with a forget gate), no
    peepholes.

    .. math::
        g(t) &= \tanh(W_{gx} x(t) + W_{gh} h(t-1) + b_g)      \qquad (4) \\
        i(t) &= \sigma(W_{ix} x(t) + W_{ih} h(t-1) + b_i)     \qquad (5) \\
        f(t) &= \sigma(W_{fx} x(t) + W_{fh} h(t-1) + b_f)     \qquad (6) \\
        o(t) &= \sigma(W_{ox} x(t) + W_{oh} h(t-1) + b_o)     \qquad (7) \\
        c(t) &= g(t) \odot i(t) + c(t-1) \odot f(t)           \qquad (8) \\
        h(t) &= \tanh(c(t)) \odot o(t)                        \qquad (9)

    The output layer (10)-(11) is the classifier's head.

    Args:
        input_size: $N_{in}$, the size $I$ of $x(t)$.
        hidden_size: $N_h$, the size $H$ of $h(t)$ and $c(t)$.

    Parameters, the equations' matrices stacked by rows (H each) in ``torch.nn.LSTM``'s gate order i, f, g, o::

        weight_ih (4H, I) = [W_ix; W_fx; W_gx; W_ox]
        weight_hh (4H, H) = [W_ih; W_fh; W_gh; W_oh]
        bias      (4H)    = [b_i;  b_f;  b_g;  b_o ]

    so that e.g. ``W_gx = weight_ih[2H:3H]`` and ``b_f = bias[H:2H]``. Mind the names: the equations' $W_{ih}$ is
    the input gate's recurrent matrix, ``weight_hh[0:H]``; torch's ``weight_ih`` holds the input matrices.

    Shapes: ``x`` ``(B, I)``, state ``(h, c)`` each ``(B, H)`` -> ``(h, c)``.
    """

    input_blocks = 4
    recurrent_blocks = 4
    has_cell_state = True

    def step(self, x_proj: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]):
        h, c = state
        # the recurrent terms of all four gates in one product; x_proj holds W_.x x(t) + b_.
        gates = torch.addmm(x_proj, h, self.weight_hh.t())  # (B, 4H)
        i, f, g, o = gates.chunk(4, -1)  # torch.nn.LSTM's gate order
        # (4)
        g = torch.tanh(g)
        # (5)
        i = torch.sigmoid(i)
        # (6)
        f = torch.sigmoid(f)
        # (7)
        o = torch.sigmoid(o)
        # (8)
        c = g * i + c * f  # (B, H)
        # (9)
        h = torch.tanh(c) * o  # (B, H)
        return h, c

    @classmethod
    def from_torch(cls, module: nn.LSTM | nn.LSTMCell, reverse: bool = False) -> "LSTMCell":
        """A cell holding the weights of a ``torch.nn.LSTMCell`` or of a one-layer ``torch.nn.LSTM``.

        ``torch.nn`` uses the same gate order (i, f, g, o) and two bias vectors per gate set; the equations
        have one bias per gate, their sum ``bias_ih + bias_hh``. ``reverse=True`` takes the backward direction of
        a bidirectional ``nn.LSTM`` (its ``*_reverse`` parameters).
        """
        name = f"{cls.__name__}.from_torch"
        if not isinstance(module, (nn.LSTM, nn.LSTMCell)):
            raise InputError(f"{name}: expected nn.LSTM or nn.LSTMCell, got {type(module).__name__}")
        if reverse and not getattr(module, "bidirectional", False):
            raise InputError(f"{name}: reverse=True needs a bidirectional nn.LSTM")
        if isinstance(module, nn.LSTM) and (module.num_layers != 1 or module.proj_size != 0):
            raise InputError(f"{name}: needs a one-layer nn.LSTM without projection, "
                             f"got num_layers={module.num_layers}, proj_size={module.proj_size}")
        suffix = "" if isinstance(module, nn.LSTMCell) else "_l0_reverse" if reverse else "_l0"
        weight_ih = getattr(module, "weight_ih" + suffix)
        cell = cls(module.input_size, module.hidden_size).to(weight_ih)  # same device and dtype
        with torch.no_grad():
            cell.weight_ih.copy_(weight_ih)
            cell.weight_hh.copy_(getattr(module, "weight_hh" + suffix))
            if module.bias:
                cell.bias.copy_(getattr(module, "bias_ih" + suffix) + getattr(module, "bias_hh" + suffix))
            else:
                cell.bias.zero_()
        return cell


class GRUCell(_Cell):
    r"""The gated recurrent unit of Cho et al. 2014, "Learning Phrase Representations using RNN
    Encoder-Decoder for Statistical Machine Translation", https://arxiv.org/abs/1406.1078,
    :ref:`eq. (29)-(32) <eq-gru>`.

    .. math::
        z(t) &= \sigma(W_z [h(t-1), x(t)])                                \qquad (29) \\
        r(t) &= \sigma(W_r [h(t-1), x(t)])                                \qquad (30) \\
        \tilde h(t) &= \tanh(W [r(t) \odot h(t-1), x(t)])                 \qquad (31) \\
        h(t) &= (1 - z(t)) \odot h(t-1) + z(t) \odot \tilde h(t)          \qquad (32)

    The reset gate is applied to $h(t-1)$ *before* the recurrent product, as in the paper and char-rnn's
    GRU.lua. ``torch.nn.GRU`` applies it *after*: $n = \tanh(W_{in} x + b_{in} + r \odot (W_{hn} h + b_{hn}))$,
    and interpolates the other way round, $h = (1 - z) \odot n + z \odot h(t-1)$; so the two do not agree
    even with the same weights. As in the assignment (and the paper) the equations have no biases, so neither has
    this cell; the embedding in front of it gives every input symbol its own offset anyway.

    Args:
        input_size: $N_{in}$, the size $I$ of $x(t)$.
        hidden_size: $N_h$, the size $H$ of $h(t)$.

    Parameters: each of the equations' matrices acts on $[h(t-1), x(t)]$ and is split in its $h$ and $x$ columns,
    ``W_z = [weight_hh[0:H], weight_ih[0:H]]``, ``W_r = [weight_hh[H:2H], weight_ih[H:2H]]``,
    ``W = [weight_hh[2H:3H], weight_ih[2H:3H]]``; ``weight_ih`` is ``(3H, I)``, ``weight_hh`` ``(3H, H)``.
    Their Kaiming-normal initialisation uses the fan-in of the equations' matrices, ``H + I``.

    Shapes: ``x`` ``(B, I)``, state ``h`` ``(B, H)`` -> ``h`` ``(B, H)``.
    """

    input_blocks = 3
    recurrent_blocks = 3

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__(input_size, hidden_size, bias=False)

    def reset_parameters(self) -> None:
        # the equations' W_z, W_r and W are (H, H + I) matrices: one Kaiming std for both of their column blocks
        std = math.sqrt(2 / (self.hidden_size + self.input_size))
        nn.init.normal_(self.weight_ih, std=std)
        nn.init.normal_(self.weight_hh, std=std)

    def step(self, x_proj: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        H = self.hidden_size
        zx, rx, hx = x_proj.chunk(3, -1)  # the x(t) columns of W_z, W_r and W
        # both gates' recurrent terms in one product
        zh, rh = (h @ self.weight_hh[: 2 * H].t()).chunk(2, -1)  # (B, H) each
        # (29)
        z = torch.sigmoid(zx + zh)
        # (30)
        r = torch.sigmoid(rx + rh)
        # (31): the reset gate scales h(t-1) before the product
        h_tilde = torch.tanh(torch.addmm(hx, r * h, self.weight_hh[2 * H :].t()))  # (B, H)
        # (32)
        return torch.lerp(h, h_tilde, z)  # (1 - z) * h + z * h_tilde


class PeepholeLSTMCell(_Cell):
    r"""The peephole LSTM of :ref:`eq. (35)-(39) <eq-peephole>` (Gers & Schmidhuber 2000, "Recurrent Nets that Time and
    Count", https://doi.org/10.1109/IJCNN.2000.861302), in the assignment's form: the gates look at the cell state
    $c(t-1)$ through full matrices, and $h$ is not fed back at all.

    .. math::
        f(t) &= \sigma(W_{fx} x(t) + W_{fh} c(t-1) + b_f)                 \qquad (35) \\
        i(t) &= \sigma(W_{ix} x(t) + W_{ih} c(t-1) + b_i)                 \qquad (36) \\
        o(t) &= \sigma(W_{ox} x(t) + W_{oh} c(t-1) + b_o)                 \qquad (37) \\
        c(t) &= \sigma(W_{cx} x(t) + b_c) \odot i(t) + c(t-1) \odot f(t)  \qquad (38) \\
        h(t) &= \tanh(c(t)) \odot o(t)                                    \qquad (39)

    Args:
        input_size: $N_{in}$, the size $I$ of $x(t)$.
        hidden_size: $N_h$, the size $H$ of $h(t)$ and $c(t)$.

    Parameters, the equations' matrices stacked by rows (H each) in the LSTM's order i, f, cell input, o; the
    peephole matrices act on $c(t-1)$ and (38) has none for the cell input::

        weight_ih (4H, I) = [W_ix; W_fx; W_cx; W_ox]
        weight_hh (3H, H) = [W_ih; W_fh; W_oh]
        bias      (4H)    = [b_i;  b_f;  b_c;  b_o ]

    Shapes: ``x`` ``(B, I)``, state ``(h, c)`` each ``(B, H)`` -> ``(h, c)``.
    """

    input_blocks = 4
    recurrent_blocks = 3
    has_cell_state = True

    def step(self, x_proj: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]):
        _, c = state  # h(t-1) is not an input of this cell
        ix, fx, cx, ox = x_proj.chunk(4, -1)  # W_.x x(t) + b_.
        # the peephole terms of the three gates in one product
        ic, fc, oc = (c @ self.weight_hh.t()).chunk(3, -1)  # (B, H) each
        # (35)
        f = torch.sigmoid(fx + fc)
        # (36)
        i = torch.sigmoid(ix + ic)
        # (37)
        o = torch.sigmoid(ox + oc)
        # (38)
        c = torch.sigmoid(cx) * i + c * f  # (B, H)
        # (39)
        h = torch.tanh(c) * o  # (B, H)
        return h, c
