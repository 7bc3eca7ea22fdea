r"""Recurrent cells whose matrix products are graph convolutions: one time step of a signal on every node.

Each cell is a recurrent cell of :mod:`seqgraph.cells` with its products swapped: where the plain cell has :math:`W
x + U h`, the graph cell has :math:`\Theta_x \star_G x + \Theta_h \star_G h`, a graph convolution of
:mod:`~seqgraph.graph.temporal.conv` that mixes every node with its neighbours. With the identity for a graph (no
diffusion step, one Chebyshev term) each reduces to its plain cell, node by node; the tests check it.

As :mod:`seqgraph.cells` does, a cell splits its work in two: :meth:`project_input` computes the input terms of
every gate for all time steps at once (the graph products of the input, before the loop) and :meth:`step` adds the
recurrent terms of one step. ``forward(x, state, operators)`` does both for one step.

Shapes, node-major so that a graph product needs no copy (:mod:`.operators`): ``x`` ``(N, B, I)`` (or
``(N, B, T, I)`` for :meth:`project_input`), states ``(N, B, H)``.
"""

import torch
from torch import Tensor, nn

from .conv import ChebConv, DiffusionConv
from .operators import product


class _GraphCell(nn.Module):
    """``input_conv`` (the input terms of every gate, with their biases) and the loop around :meth:`step`."""

    has_cell_state = False

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size

    def project_input(self, x: Tensor, operators) -> Tensor:
        """The input terms of every gate, ``(N, ..., I) -> (N, ..., gates * H)``."""
        return self.input_conv(x, operators)

    def zero_state(self, x: Tensor):
        h = x.new_zeros(*x.shape[:-1], self.hidden_size)
        return (h, torch.zeros_like(h)) if self.has_cell_state else h

    def forward(self, x: Tensor, state, operators):
        if state is None:
            state = self.zero_state(x)
        return self.step(self.project_input(x, operators), state, operators)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}"


class _KeepingGRU(_GraphCell):
    r"""The GRU as DCRNN and T-GCN's code write it, whose update gate :math:`u` keeps the old state:
    :math:`r, u` from the input terms ``[r; u; C]`` (:meth:`project_input`) and :meth:`gate_terms` of :math:`H`,
    the candidate :math:`C` from :meth:`candidate_terms` of :math:`r \odot H`, and
    :math:`H' = u \odot H + (1 - u) \odot C`. A subclass says what its graph products are."""

    def gate_terms(self, h: Tensor, operators) -> Tensor:
        raise NotImplementedError

    def candidate_terms(self, rh: Tensor, operators) -> Tensor:
        raise NotImplementedError

    def step(self, x_proj: Tensor, h: Tensor, operators) -> Tensor:
        rx, ux, cx = x_proj.chunk(3, -1)  # the input terms of r, u and C, biases included   (N, B, H) each
        rh, uh = self.gate_terms(h, operators).chunk(2, -1)
        r = torch.sigmoid(rx + rh)
        u = torch.sigmoid(ux + uh)
        c = torch.tanh(cx + self.candidate_terms(r * h, operators))
        return torch.lerp(c, h, u)  # u ⊙ H + (1 - u) ⊙ C


class DCGRUCell(_KeepingGRU):
    r"""The diffusion convolutional GRU of Li et al. (2018), eq. (3): the GRU with every product a diffusion
    convolution (:class:`~seqgraph.graph.temporal.conv.DiffusionConv`),

    .. math::
        r^{(t)} &= \sigma(\Theta_r \star_G [X^{(t)}, H^{(t-1)}] + b_r) \\
        u^{(t)} &= \sigma(\Theta_u \star_G [X^{(t)}, H^{(t-1)}] + b_u) \\
        C^{(t)} &= \tanh(\Theta_C \star_G [X^{(t)}, (r^{(t)} \odot H^{(t-1)})] + b_c) \\
        H^{(t)} &= u^{(t)} \odot H^{(t-1)} + (1 - u^{(t)}) \odot C^{(t)}

    The paper's update gate :math:`u` keeps the old state; seqgraph's :class:`~seqgraph.cells.GRUCell` (eq. 29-32)
    writes the same cell with :math:`z = 1 - u`. The convolution of the concatenation is the sum of the
    convolutions of its parts, so :math:`\Theta \star_G [X, H] = \Theta_X \star_G X + \Theta_H \star_G H`:
    ``input_conv`` holds the :math:`X` parts of :math:`r, u, C` (and the biases :math:`b_r, b_u` start at 1, as in
    DCRNN's code: the cell starts by keeping its state), ``gate_conv`` the :math:`H` parts of :math:`r, u`,
    ``candidate_conv`` that of :math:`C`.

    Args:
        input_size: features per node of :math:`X^{(t)}`. hidden_size: of :math:`H^{(t)}`. K: diffusion steps.
    """

    def __init__(self, input_size: int, hidden_size: int, K: int = 2):
        super().__init__(input_size, hidden_size)
        self.input_conv = DiffusionConv(input_size, 3 * hidden_size, K)  # [r; u; C] X parts and biases
        self.gate_conv = DiffusionConv(hidden_size, 2 * hidden_size, K, bias=False)  # [r; u] H parts
        self.candidate_conv = DiffusionConv(hidden_size, hidden_size, K, bias=False)  # C's (r ⊙ H) part
        with torch.no_grad():
            self.input_conv.bias[: 2 * hidden_size].fill_(1.0)  # b_r = b_u = 1

    def gate_terms(self, h: Tensor, walks) -> Tensor:
        return self.gate_conv(h, walks)

    def candidate_terms(self, rh: Tensor, walks) -> Tensor:
        return self.candidate_conv(rh, walks)


class GConvGRUCell(_GraphCell):
    r"""The GRU of seqgraph's eq. (29)-(32) with Chebyshev graph convolutions in place of its products (Seo,
    Defferrard, Vandergheynst & Bresson, "Structured Sequence Modeling with Graph Convolutional Recurrent Networks",
    ICONIP 2018, https://arxiv.org/abs/1612.07659, §3; PyTorch Geometric Temporal's ``GConvGRU``):

    .. math::
        z &= \sigma(W_{xz} \star_G x + W_{hz} \star_G h + b_z) \\
        r &= \sigma(W_{xr} \star_G x + W_{hr} \star_G h + b_r) \\
        \tilde h &= \tanh(W_{xh} \star_G x + W_{hh} \star_G (r \odot h) + b_h) \\
        h' &= (1 - z) \odot h + z \odot \tilde h

    with :math:`\star_G` the :class:`~seqgraph.graph.temporal.conv.ChebConv` of ``K`` terms. (PyTorch Geometric
    Temporal interpolates the other way round, :math:`h' = z \odot h + (1 - z) \odot \tilde h`, and gives each of its
    six convolutions a bias.)
    """

    def __init__(self, input_size: int, hidden_size: int, K: int = 3):
        super().__init__(input_size, hidden_size)
        self.input_conv = ChebConv(input_size, 3 * hidden_size, K)  # [W_xz; W_xr; W_xh] and the biases
        self.gate_conv = ChebConv(hidden_size, 2 * hidden_size, K, bias=False)  # [W_hz; W_hr]
        self.candidate_conv = ChebConv(hidden_size, hidden_size, K, bias=False)  # W_hh

    def step(self, x_proj: Tensor, h: Tensor, laplacian) -> Tensor:
        zx, rx, hx = x_proj.chunk(3, -1)
        zh, rh = self.gate_conv(h, laplacian).chunk(2, -1)
        z = torch.sigmoid(zx + zh)
        r = torch.sigmoid(rx + rh)
        h_tilde = torch.tanh(hx + self.candidate_conv(r * h, laplacian))
        return torch.lerp(h, h_tilde, z)  # (1 - z) ⊙ h + z ⊙ h̃


class GConvLSTMCell(_GraphCell):
    r"""The LSTM of seqgraph's eq. (4)-(9) with Chebyshev graph convolutions in place of its products (Seo et al.
    2018, GCRN model 2, without its diagonal peephole terms :math:`w_c \odot c`, which PyTorch Geometric Temporal's
    ``GConvLSTM`` adds):

    .. math::
        g &= \tanh(W_{xg} \star_G x + W_{hg} \star_G h + b_g), \quad
        i = \sigma(W_{xi} \star_G x + W_{hi} \star_G h + b_i) \\
        f &= \sigma(W_{xf} \star_G x + W_{hf} \star_G h + b_f), \quad
        o = \sigma(W_{xo} \star_G x + W_{ho} \star_G h + b_o) \\
        c' &= g \odot i + c \odot f, \qquad h' = \tanh(c') \odot o

    Gates in ``torch.nn.LSTM``'s order i, f, g, o along the convolutions' outputs.
    """

    has_cell_state = True

    def __init__(self, input_size: int, hidden_size: int, K: int = 3):
        super().__init__(input_size, hidden_size)
        self.input_conv = ChebConv(input_size, 4 * hidden_size, K)  # W_x. and the biases b_.
        self.hidden_conv = ChebConv(hidden_size, 4 * hidden_size, K, bias=False)  # W_h.

    def step(self, x_proj: Tensor, state: tuple[Tensor, Tensor], laplacian) -> tuple[Tensor, Tensor]:
        h, c = state
        i, f, g, o = (x_proj + self.hidden_conv(h, laplacian)).chunk(4, -1)
        c = torch.tanh(g) * torch.sigmoid(i) + c * torch.sigmoid(f)  # (N, B, H)
        return torch.tanh(c) * torch.sigmoid(o), c


class TGCNCell(_GraphCell):
    r"""The temporal graph convolutional cell of Zhao et al., "T-GCN: A Temporal Graph Convolutional Network for
    Traffic Prediction" (IEEE T-ITS 2019), https://arxiv.org/abs/1811.05320, eq. (2)-(6) as the paper writes them:
    a two-layer GCN of each step's input, then a GRU over it,

    .. math::
        f(X_t) &= \sigma(\hat A\, \mathrm{ReLU}(\hat A X_t W_0) W_1)                          \qquad (2) \\
        u_t &= \sigma(W_u [f(X_t), h_{t-1}] + b_u), \quad r_t = \sigma(W_r [f(X_t), h_{t-1}] + b_r) \qquad (3, 4) \\
        c_t &= \tanh(W_c [f(X_t), (r_t \odot h_{t-1})] + b_c)                                   \qquad (5) \\
        h_t &= u_t \odot h_{t-1} + (1 - u_t) \odot c_t                                          \qquad (6)

    with :math:`\hat A` GCN's normalised adjacency (:func:`~seqgraph.graph.temporal.operators.gcn_operator`). The
    GCN reads the input alone, so the graph products of all steps happen in :meth:`project_input`, before the loop.
    The authors' code (lehaifeng/T-GCN) instead applies one GCN layer to the concatenation :math:`[x_t, h_{t-1}]` in
    each gate and splits :math:`r, u` across nodes; PyTorch Geometric Temporal's ``TGCN`` applies three one-layer
    GCNs to :math:`X_t` (one per gate) and then a linear layer to :math:`[\mathrm{GCN}(X_t), h]`.

    Args:
        input_size: features per node. hidden_size: of :math:`h`, and of :math:`f(X_t)` (``gcn_size`` if given).
    """

    def __init__(self, input_size: int, hidden_size: int, gcn_size: int | None = None):
        super().__init__(input_size, hidden_size)
        gcn_size = gcn_size or hidden_size
        self.gcn0 = nn.Linear(input_size, gcn_size, bias=False)  # W_0
        self.gcn1 = nn.Linear(gcn_size, gcn_size, bias=False)  # W_1
        self.input_proj = nn.Linear(gcn_size, 3 * hidden_size)  # the f(X_t) columns of [W_u; W_r; W_c], biases
        self.weight_hh = nn.Parameter(torch.empty(3 * hidden_size, hidden_size))  # their h columns
        nn.init.xavier_uniform_(self.weight_hh)
        with torch.no_grad():
            self.input_proj.bias[: 2 * hidden_size].fill_(1.0)  # b_u = b_r = 1, as the authors' code

    def project_input(self, x: Tensor, a_hat) -> Tensor:
        f = torch.sigmoid(self.gcn1(product(a_hat, torch.relu(self.gcn0(product(a_hat, x))))))  # (2)
        return self.input_proj(f)

    def step(self, x_proj: Tensor, h: Tensor, a_hat=None) -> Tensor:
        H = self.hidden_size
        ux, rx, cx = x_proj.chunk(3, -1)
        uh, rh = (h @ self.weight_hh[: 2 * H].t()).chunk(2, -1)
        u = torch.sigmoid(ux + uh)  # (3)
        r = torch.sigmoid(rx + rh)  # (4)
        c = torch.tanh(cx + (r * h) @ self.weight_hh[2 * H:].t())  # (5)
        return torch.lerp(c, h, u)  # (6)


class TGCNCodeCell(_KeepingGRU):
    r"""T-GCN as the authors' code computes it (lehaifeng/T-GCN, ``T-GCN-PyTorch/models/tgcn.py``, and its
    TensorFlow original), which is what their published numbers come from: one GCN layer over the concatenation
    :math:`[X_t, h_{t-1}]` inside each gate of the GRU, where the paper's eq. (2)-(6) (:class:`TGCNCell`) pass the
    input through a two-layer GCN and a sigmoid before the GRU:

    .. math::
        {[r_t, u_t]} &= \sigma(\hat A [X_t, h_{t-1}] W_g + b_g), \quad b_g = 1 \\
        c_t &= \tanh(\hat A [X_t, r_t \odot h_{t-1}] W_c + b_c) \\
        h_t &= u_t \odot h_{t-1} + (1 - u_t) \odot c_t

    The product with :math:`\hat A` is linear, so :math:`\hat A [X, H] W = (\hat A X) W_X + (\hat A H) W_H`: the
    input's part of every step is computed before the loop. The code splits :math:`[r, u]` across the flattened
    nodes and units of the batch (the first half of the nodes' gate outputs is :math:`r`); here each node's first
    :math:`H` gate outputs are its :math:`r` and the next :math:`H` its :math:`u`, as the equations read.
    :math:`W_g` and :math:`W_c` are Glorot-uniform over their whole :math:`(I + H)` rows, as the code's.

    Args:
        input_size: features per node. hidden_size: of :math:`h`.
    """

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__(input_size, hidden_size)
        self.input_proj = nn.Linear(input_size, 3 * hidden_size)  # the X rows of [W_g, W_c], and b_g, b_c
        self.gate_weight = nn.Linear(hidden_size, 2 * hidden_size, bias=False)  # the h rows of W_g
        self.candidate_weight = nn.Linear(hidden_size, hidden_size, bias=False)  # the (r ⊙ h) rows of W_c
        with torch.no_grad():
            for rows, weight in ((slice(0, 2 * hidden_size), self.gate_weight),
                                 (slice(2 * hidden_size, None), self.candidate_weight)):
                bound = (6 / (input_size + hidden_size + weight.out_features)) ** 0.5
                self.input_proj.weight[rows].uniform_(-bound, bound)
                weight.weight.uniform_(-bound, bound)
            self.input_proj.bias.zero_()
            self.input_proj.bias[: 2 * hidden_size].fill_(1.0)  # b_g = 1: the cell starts by keeping its state

    def project_input(self, x: Tensor, a_hat) -> Tensor:
        return self.input_proj(product(a_hat, x))

    def gate_terms(self, h: Tensor, a_hat) -> Tensor:
        return self.gate_weight(product(a_hat, h))

    def candidate_terms(self, rh: Tensor, a_hat) -> Tensor:
        return self.candidate_weight(product(a_hat, rh))


CELLS = {"dcrnn": DCGRUCell, "gconv-gru": GConvGRUCell, "gconv-lstm": GConvLSTMCell, "tgcn": TGCNCell,
         "tgcn-code": TGCNCodeCell}
