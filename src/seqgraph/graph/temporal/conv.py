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

The diffusion convolution writes its copies straight into the stack (:class:`_DiffusionStack`) instead of
concatenating them: the stack is what a training step keeps for the backward pass, and copies made before it and
freed after it leave holes in the C library's heap that the next, larger stack does not fit. A DCRNN training step at
METR-LA's size peaked at 6.0 GiB that way, and peaks at 4.1 GiB with the stack first
(``benchmarks/results/forecast.json``).
"""

import math
from collections.abc import Iterator

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
        return nn.functional.linear(self.stack(x, operators), self.weight, self.bias)  # Σ_m (S_m X) Θ_m + b

    def stack(self, x: Tensor, operators) -> Tensor:
        """The filtered copies side by side, ``[S_1 X, ..., S_M X]`` ``(N, ..., M F)``."""
        return torch.cat(list(self.filtered(x, operators)), dim=-1)

    def filtered(self, x: Tensor, operators) -> Iterator[Tensor]:
        """The copies :math:`S_1 X, \\dots, S_M X` in their order in the stack."""
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

    def stack(self, x: Tensor, walks: tuple[Adjacency, Adjacency]) -> Tensor:
        return _DiffusionStack.apply(x, x, x, walks, self) if self.K else x

    def filtered(self, x: Tensor, walks: tuple[Adjacency, Adjacency]) -> Iterator[Tensor]:
        yield x
        for walk in walks:  # P_f, then P_b
            power = x
            for _ in range(self.K):
                power = product(walk, power)  # P^k X   (N, B, F)
                yield power


class _DiffusionStack(torch.autograd.Function):
    r""":meth:`DiffusionConv.filtered`'s copies written into one stack allocated first (see the module docstring),
    with the gradient that autograd gives ``torch.cat`` of them, bit for bit: for each walk :math:`P`, from the
    deepest power back, :math:`g_K`, :math:`g_{K-1} + P^T g_K`, ..., and then :math:`P^T` of that for :math:`X`.
    :math:`X` comes in three times, so that its gradient arrives in autograd's three parts and order (its own block,
    then the reverse walk's, then the forward walk's: the engine runs the nodes made last first) and is summed
    with its other uses' as before."""

    @staticmethod
    def forward(ctx, x: Tensor, _x_reverse: Tensor, _x_forward: Tensor, walks, conv: "DiffusionConv") -> Tensor:
        width = x.size(-1)
        stack = x.new_empty(*x.shape[:-1], conv.num_filters * width)
        for m, copy in enumerate(conv.filtered(x, walks)):
            stack[..., m * width:(m + 1) * width] = copy
        ctx.walks, ctx.K, ctx.width = walks, conv.K, width
        return stack

    @staticmethod
    def backward(ctx, grad: Tensor):
        blocks = grad.split(ctx.width, dim=-1)  # g_0; g_1 .. g_K of P_f; of P_b
        through = []
        for w, walk in enumerate(ctx.walks):
            powers = blocks[1 + w * ctx.K:1 + (w + 1) * ctx.K]
            total = powers[-1]
            for g in reversed(powers[:-1]):
                total = g + product(walk.transpose, total)
            through.append(product(walk.transpose, total))
        return blocks[0], through[1], through[0], None, None


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

    def filtered(self, x: Tensor, laplacian: Adjacency) -> Iterator[Tensor]:
        yield x
        if self.K > 1:
            previous, term = x, product(laplacian, x)  # T_0, T_1 = L̂ X
            yield term
            for _ in range(2, self.K):
                previous, term = term, 2 * product(laplacian, term) - previous  # T_k = 2 L̂ T_(k-1) - T_(k-2)
                yield term
