r"""The graph convolutions that take the place of a recurrent cell's matrix products: diffusion and Chebyshev.

Both map a batch of node signals ``(B, N, F)`` to ``(B, N, F')`` by stacking :math:`M` filtered copies of the
signal along the features and applying one weight matrix to the stack:

.. math::
    \mathrm{out} = \sum_{m=1}^{M} (S_m X) \Theta_m + b, \qquad \Theta_m \in \mathbb R^{F \times F'},

so the ``weight`` ``(F', M F)`` holds :math:`\Theta_m^T` in its column block ``m``. The copies are one sparse
product each (:func:`~seqgraph.graph.temporal.operators.product`), for the whole node-major batch ``(N, B, F)`` at
once; a signal of several time steps ``(N, B, T, F)`` is filtered in the same products, so a cell's input terms of
every step cost one product per copy (the layer's input projection before the loop, as :mod:`seqgraph.recurrent`
does).
"""

import math

import torch
from torch import Tensor, nn

from ...errors import InputError
from ..sparse import Adjacency
from .operators import product


class _GraphFilter(nn.Module):
    """``weight (F', M F)`` and ``bias (F')`` over a stack of ``num_filters`` filtered copies; a subclass makes the
    copies (:meth:`filtered`)."""

    def __init__(self, in_channels: int, out_channels: int, num_filters: int, bias: bool):
        super().__init__()
        if in_channels < 1 or out_channels < 1:
            raise InputError(f"{type(self).__name__} needs positive in_channels and out_channels, "
                             f"got {in_channels}, {out_channels}")
        self.in_channels, self.out_channels, self.num_filters = in_channels, out_channels, num_filters
        self.weight = nn.Parameter(torch.empty(out_channels, num_filters * in_channels))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # Glorot uniform per Θ_m (the fan-in and fan-out of one filter's matrix), as DCRNN's and PyG's code
        bound = math.sqrt(6.0 / (self.in_channels + self.out_channels))
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def forward(self, x: Tensor, operators) -> Tensor:
        """``x`` ``(N, B, F)`` or ``(N, B, T, F)`` -> ``(N, ..., F')``."""
        stack = torch.cat(self.filtered(x, operators), dim=-1)  # [S_1 X, ..., S_M X]   (..., N, M F)
        return nn.functional.linear(stack, self.weight, self.bias)  # Σ_m (S_m X) Θ_m + b   (..., N, F')

    def filtered(self, x: Tensor, operators) -> list[Tensor]:
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, filters={self.num_filters}"


class DiffusionConv(_GraphFilter):
    r"""Diffusion convolution, Li, Yu, Shahabi & Liu, "Diffusion Convolutional Recurrent Neural Network:
    Data-Driven Traffic Forecasting" (ICLR 2018), https://arxiv.org/abs/1707.01926, eq. (2):

    .. math::
        X_{:,p} \star_G f_\theta = \sum_{k=0}^{K} \big(\theta_{k,1} (D_O^{-1} W)^k
            + \theta_{k,2} (D_I^{-1} W^T)^k\big) X_{:,p}

    with one filter per pair of input and output features (the layer after eq. 2). The diffusion of ``K`` steps
    along the forward and the reverse random walk (:func:`~seqgraph.graph.temporal.operators.random_walks`) gives
    :math:`2K + 1` copies, :math:`X, P_f X, \dots, P_f^K X, P_b X, \dots, P_b^K X` (the two :math:`k = 0` terms are
    the same copy, so they share one :math:`\Theta`); ``K = 0`` is a plain linear layer.

    The powers are those of the paper. DCRNN's code differs: it multiplies by the transposed walks, takes the
    Chebyshev-like recursion :math:`x_k = 2 S x_{k-1} - x_{k-2}` instead of powers, and starts the reverse walk from
    the forward walk's first step (issues #45, #90 of liyaguang/DCRNN); PyTorch Geometric Temporal's ``DConv``
    weighs messages by degrees only and keeps two copies of :math:`X`.

    Args:
        in_channels: :math:`F`. out_channels: :math:`F'`. K: the diffusion steps (``max_diffusion_step`` in
        DCRNN's configuration). bias: add :math:`b`.

    Shapes: ``x`` ``(N, B, F)`` or ``(N, B, T, F)``, ``operators`` the walks ``(P_f, P_b)`` -> ``(N, ..., F')``.
    """

    def __init__(self, in_channels: int, out_channels: int, K: int = 2, bias: bool = True):
        if K < 0:
            raise InputError(f"DiffusionConv needs K >= 0 diffusion steps, got {K}")
        self.K = K
        super().__init__(in_channels, out_channels, 2 * K + 1, bias)

    def filtered(self, x: Tensor, operators: tuple[Adjacency, Adjacency]) -> list[Tensor]:
        copies = [x]
        for walk in operators:  # P_f, then P_b
            power = x
            for _ in range(self.K):
                power = product(walk, power)  # P^k X   (N, B, F)
                copies.append(power)
        return copies


class ChebConv(_GraphFilter):
    r"""Chebyshev spectral graph convolution, Defferrard, Bresson & Vandergheynst, "Convolutional Neural Networks on
    Graphs with Fast Localized Spectral Filtering" (NIPS 2016), https://arxiv.org/abs/1606.09375, eq. (4)-(5):

    .. math::
        \mathrm{out} = \sum_{k=0}^{K-1} T_k(\hat L) X \Theta_k + b, \qquad T_0 = X,\ T_1 = \hat L X,\
        T_k = 2 \hat L T_{k-1} - T_{k-2}

    with :math:`\hat L` the rescaled Laplacian (:func:`~seqgraph.graph.temporal.operators.scaled_laplacian`).
    ``K`` counts the terms, as PyG's ``ChebConv``: ``K = 1`` is a linear layer, ``K = 3`` reaches 2 hops.

    Shapes: ``x`` ``(N, B, F)`` or ``(N, B, T, F)``, ``operators`` :math:`\hat L` -> ``(N, ..., F')``.
    """

    def __init__(self, in_channels: int, out_channels: int, K: int = 3, bias: bool = True):
        if K < 1:
            raise InputError(f"ChebConv needs K >= 1 Chebyshev terms, got {K}")
        self.K = K
        super().__init__(in_channels, out_channels, K, bias)

    def filtered(self, x: Tensor, laplacian: Adjacency) -> list[Tensor]:
        copies = [x]
        if self.K > 1:
            copies.append(product(laplacian, x))  # T_1 = L̂ X
        for _ in range(2, self.K):
            copies.append(2 * product(laplacian, copies[-1]) - copies[-2])  # T_k = 2 L̂ T_(k-1) - T_(k-2)
        return copies
