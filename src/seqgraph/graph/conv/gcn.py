r"""Graph convolution (GCN): Kipf & Welling's layer, and the variant with a weight of its own for each node.

The layer takes PyG's names and parameter layout (``lin.weight``, ``bias``), so ``load_state_dict`` copies weights
from ``torch_geometric.nn.GCNConv`` by key. Its neighbour sum needs no per-edge weight (the normalisation factors
into a scale of the rows before and after it), so it is the sparse product of :func:`~seqgraph.graph.sparse.propagate`.
Node features may be dense or a sparse CSR matrix (bag-of-words inputs); the output is dense.
"""

import torch
from torch import Tensor, nn

from ...errors import InputError
from ..data import degree, gcn_norm
from ..sparse import propagate
from .inits import glorot_


class GCNConv(nn.Module):
    r"""Graph convolution from Kipf & Welling, "Semi-Supervised Classification with Graph Convolutional
    Networks" (ICLR 2017), https://arxiv.org/abs/1609.02907; :ref:`eq. (44)-(48) <eq-gcn>`.

    .. math::
        H^{(l+1)} &= \sigma(\hat A H^{(l)} W^{(l)})                      \qquad (44) \\
        \tilde A &= A + I_N                                               \qquad (45) \\
        \tilde D_{ii} &= \sum_j \tilde A_{ij}                             \qquad (46) \\
        \hat A &= \tilde D^{-1/2} \tilde A \tilde D^{-1/2}                \qquad (47)

    The layer computes :math:`\hat A H W + b`; the nonlinearity σ belongs to the model. Read per node
    it is message passing (48): node ``i`` sums the transformed features of its neighbours and itself,
    each scaled by :math:`1/\sqrt{\tilde D_{ii} \tilde D_{jj}}`:

    .. math::
        h_i' = \sum_{j \in N(i) \cup \{i\}} \frac{W h_j}{\sqrt{\tilde D_{ii} \tilde D_{jj}}} + b    \qquad (48)

    Since that weight factors into :math:`d_i d_j` with :math:`d = \tilde D^{-1/2}`, the layer scales
    the node features by ``d`` before the gather and the sums by ``d`` after, instead of multiplying
    every one of the E messages by its own weight: one ``(E, F')`` tensor instead of two.

    Args:
        in_channels: :math:`F`, the number of input features per node.
        out_channels: :math:`F'`, the number of output features per node (columns of :math:`W`).
        improved: weight self-loops by 2 (:math:`\tilde A = A + 2I`), Kipf & Welling's variant.
        cached: compute :math:`\tilde D^{-1/2}` on the first call and reuse it; only for a fixed graph
            (transductive training), as PyG's ``cached``.
        bias: add the learnable bias :math:`b`.

    On a sampled block (:mod:`seqgraph.graph.scale.sampler`) pass ``deg``, every node's in-degree in the whole
    graph: then :math:`\tilde D` is the whole graph's, and node ``i``'s sum over its :math:`k_i` sampled
    neighbours is scaled by :math:`|N(i)| / k_i`, an unbiased estimate of the sum over all of them (exactly
    it when all are present, as in layer-wise inference).

    Shapes:
        x :math:`(N, F)` dense or sparse CSR, edge_index :math:`(2, E)` (row 0 source j, row 1 target i),
        deg :math:`(N,)` or None -> :math:`(N, F')`.
    """

    def __init__(self, in_channels: int, out_channels: int, improved: bool = False, cached: bool = False,
                 bias: bool = True):
        super().__init__()
        if in_channels <= 0 or out_channels <= 0:
            raise InputError(f"GCNConv needs positive in_channels and out_channels, got {in_channels}, {out_channels}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.improved = improved
        self.cached = cached
        self._cache: tuple[Tensor, Tensor] | None = None
        self.lin = nn.Linear(in_channels, out_channels, bias=False)  # W^T, stored (F', F) like nn.Linear
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        glorot_(self.lin.weight)
        if self.bias is not None:
            nn.init.zeros_(self.bias)
        self._cache = None

    def forward(self, x: Tensor, edge_index: Tensor, deg: Tensor | None = None) -> Tensor:
        w = 2.0 if self.improved else 1.0  # self-loop weight: Ã = A + wI
        norm = self._cache or gcn_norm(edge_index, x.size(0), w, dtype=self.lin.weight.dtype)
        if self.cached:
            self._cache = norm
        edges, d = norm  # edges j -> i without self-loops; d = D̃^-1/2 (eqs. 45-47)   (N,)
        h = x @ self.lin.weight.t()  # H W   (N, F')
        if deg is not None:  # a sampled block: the whole graph's D̃, and |N(i)| / k_i on the sampled sums
            deg, sampled = deg.to(h.dtype), degree(edges[1], x.size(0), h.dtype)  # |N(i)|, k_i   (N,)
            d = (deg + w).rsqrt()
        h = d[:, None] * h  # D̃^-1/2 H W   (N, F')
        # in place from here: no backward needs these values, and each (N, F') copy would add to the peak
        out = propagate(h, edges)  # A D̃^-1/2 H W: the neighbours' h_j summed into i
        if deg is not None:
            out.mul_((deg / sampled.clamp(min=1))[:, None])
        out.add_(h, alpha=w)  # Ã D̃^-1/2 H W: and i itself
        out.mul_(d[:, None])  # Â H W = D̃^-1/2 Ã D̃^-1/2 H W   (eqs. 44, 48)   (N, F')
        return out if self.bias is None else out.add_(self.bias)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.in_channels}, {self.out_channels})"


class SelfGCNConv(nn.Module):
    r"""A GCN layer with a separate weight for the node itself.

    .. math::
        h_i' = \sum_{j \in N(i) \cup \{i\}} \hat A_{ij} W h_j + W_{self} h_i + b

    The sum is :class:`~seqgraph.graph.conv.gcn.GCNConv` (:ref:`eq. (44)-(48) <eq-gcn>`). Two nodes with the
    same closed neighbourhood get the same sum, but :math:`W_{self} h_i` differs when their features do; with
    :math:`W_{self} = 0` the layer is a plain GCN layer.

    Args:
        in_channels: :math:`F`, input features per node.
        out_channels: :math:`F'`, output features per node.
        cached: cache the normalisation (one fixed graph), as ``GCNConv``.
        bias: add the learnable bias :math:`b`.

    Shapes: x :math:`(N, F)` dense or sparse CSR, edge_index :math:`(2, E)` -> :math:`(N, F')`.
    """

    def __init__(self, in_channels: int, out_channels: int, cached: bool = False, bias: bool = True):
        super().__init__()
        self.conv = GCNConv(in_channels, out_channels, cached=cached, bias=bias)
        self.lin_self = nn.Linear(in_channels, out_channels, bias=False)  # W_self, stored (F', F)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.conv.reset_parameters()
        glorot_(self.lin_self.weight)

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        # Σ_j Â_ij W h_j + b  +  W_self h_i   (N, F')
        return self.conv(x, edge_index) + x @ self.lin_self.weight.t()

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.conv.in_channels}, {self.conv.out_channels})"
