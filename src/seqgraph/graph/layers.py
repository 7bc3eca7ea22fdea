"""Graph convolution (GCN) and graph attention (GAT) layers, written from their equations.

Both take PyG's names and parameter layout (``lin.weight``, ``bias``, GAT's ``att_src``/``att_dst``), so
``load_state_dict`` copies weights from ``torch_geometric.nn.GCNConv``/``GATConv`` by key. Messages are
explicit gathers (``h.index_select(0, src)``, the ``_j`` tensors) summed into their targets with ``index_add_``,
except GCN's, whose messages need no per-edge weight: it is a sparse CSR product (:func:`propagate`).
Node features may be dense or a sparse CSR matrix (bag-of-words inputs); the output is dense.
"""

import math
import warnings

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import InputError
from .data import add_self_loops, degree, gcn_norm


def glorot_(weight: Tensor) -> None:
    """Uniform in ±sqrt(6 / (fan_in + fan_out)) over the last two dimensions, as PyG's ``inits.glorot``."""
    bound = math.sqrt(6.0 / (weight.size(-2) + weight.size(-1)))
    nn.init.uniform_(weight, -bound, bound)


class GCNConv(nn.Module):
    r"""Graph convolution from Kipf & Welling, "Semi-Supervised Classification with Graph Convolutional
    Networks" (ICLR 2017), https://arxiv.org/abs/1609.02907.

    .. math::
        H^{(l+1)} = \sigma(\hat A H^{(l)} W^{(l)})                               (44)
        \tilde A = A + I_N                                                        (45)
        \tilde D_{ii} = \sum_j \tilde A_{ij}                                      (46)
        \hat A = \tilde D^{-1/2} \tilde A \tilde D^{-1/2}                         (47)

    The layer computes :math:`\hat A H W + b`; the nonlinearity σ belongs to the model. Read per node
    it is message passing (48): node ``i`` sums the transformed features of its neighbours and itself,
    each scaled by :math:`1/\sqrt{\tilde D_{ii} \tilde D_{jj}}`:

    .. math::
        h_i' = \sum_{j \in N(i) \cup \{i\}} \frac{W h_j}{\sqrt{\tilde D_{ii} \tilde D_{jj}}} + b    (48)

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

    On a sampled block (:mod:`seqgraph.graph.sampler`) pass ``deg``, every node's in-degree in the whole
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
        (src, dst), d = norm  # edges j -> i without self-loops; d = D̃^-1/2 (eqs. 45-47)   (N,)
        h = x @ self.lin.weight.t()  # H W   (N, F')
        if deg is not None:  # a sampled block: the whole graph's D̃, and |N(i)| / k_i on the sampled sums
            deg, sampled = deg.to(h.dtype), degree(dst, x.size(0), h.dtype)  # |N(i)|, k_i   (N,)
            d = (deg + w).rsqrt()
        h = d[:, None] * h  # D̃^-1/2 H W   (N, F')
        # in place from here: no backward needs these values, and each (N, F') copy would add to the peak
        out = propagate(h, src, dst)  # A D̃^-1/2 H W: the neighbours' h_j summed into i
        if deg is not None:
            out.mul_((deg / sampled.clamp(min=1))[:, None])
        out.add_(h, alpha=w)  # Ã D̃^-1/2 H W: and i itself
        out.mul_(d[:, None])  # Â H W = D̃^-1/2 Ã D̃^-1/2 H W   (eqs. 44, 48)   (N, F')
        return out if self.bias is None else out.add_(self.bias)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.in_channels}, {self.out_channels})"


def adjacency_csr(src: Tensor, dst: Tensor, num_nodes: int, dtype: torch.dtype) -> Tensor:
    """A as a sparse CSR ``(N, N)`` matrix of ones: row ``i`` holds the sources ``j`` of the edges ``j -> i``."""
    order = dst.argsort(stable=True)
    counts = torch.bincount(dst, minlength=num_nodes)
    crow = torch.cat([counts.new_zeros(1), counts.cumsum(0)])
    with warnings.catch_warnings():  # torch calls its (well-tested) CSR support beta
        warnings.filterwarnings("ignore", "Sparse CSR tensor support is in beta", UserWarning)
        return torch.sparse_csr_tensor(crow, src[order], torch.ones(src.numel(), dtype=dtype, device=src.device),
                                       (num_nodes, num_nodes), check_invariants=False)


class _Propagate(torch.autograd.Function):
    @staticmethod
    def forward(ctx, h: Tensor, src: Tensor, dst: Tensor) -> Tensor:
        ctx.save_for_backward(src, dst)
        return adjacency_csr(src, dst, h.size(0), h.dtype) @ h  # Σ_{j -> i} h_j, row by row   (N, F)

    @staticmethod
    def backward(ctx, grad: Tensor):
        src, dst = ctx.saved_tensors
        return _Propagate.apply(grad, dst, src), None, None  # d(A h)/dh = A^T: the same sum along reversed edges


def propagate(h: Tensor, src: Tensor, dst: Tensor) -> Tensor:
    """``out_i = Σ_{edges j -> i} h_j``, the sparse product A h, for features ``h`` ``(N, F)``.

    A sparse CSR times dense product: no ``(E, F)`` tensor of messages is ever built (a gather of ``h_j`` and
    ``index_add_`` into the targets build one, and took 24 s against 9.5 s for sorting the edges into CSR and
    multiplying, at 1M nodes / 10M edges / 64 features on one thread: benchmarks/graph_scale.py --propagate).
    An autograd function so that backward keeps only the edge list and builds the transpose's CSR when needed.
    """
    return _Propagate.apply(h, src, dst)


class GATConv(nn.Module):
    r"""Multi-head graph attention from Veličković et al., "Graph Attention Networks" (ICLR 2018),
    https://arxiv.org/abs/1710.10903.

    .. math::
        e_{ij} = \mathrm{LeakyReLU}_{0.2}\big(a^T [W h_i \,\|\, W h_j]\big)
               = \mathrm{LeakyReLU}_{0.2}\big(a_{dst}^T W h_i + a_{src}^T W h_j\big)
        \alpha_{ij} = \mathrm{softmax}_j(e_{ij}) = \frac{\exp e_{ij}}{\sum_{k \in N(i) \cup \{i\}} \exp e_{ik}}
        h_i' = \big\Vert_{k=1}^{K} \sum_{j \in N(i) \cup \{i\}} \alpha^k_{ij} W^k h_j + b
        \quad\text{(or the mean over the K heads when concat=False)}

    Message passing: every edge ``j -> i`` (plus one self-loop per node) carries ``W h_j`` weighted by
    its attention ``α_ij``; the softmax runs over each target's incoming edges. The attention vector
    ``a`` is stored in two halves, ``att_dst`` (for ``W h_i``) and ``att_src`` (for ``W h_j``), so each
    node's two scores are computed once per node and only added per edge. σ belongs to the model.
    A repeated edge is a repeated term of the softmax (as in PyG); coalesce the graph to avoid that.

    Args:
        in_channels: :math:`F`, the number of input features per node.
        out_channels: :math:`F'`, the number of output features per head.
        heads: :math:`K`, the number of independent attention heads.
        concat: concatenate the heads (output :math:`K F'`) or average them (output :math:`F'`).
        negative_slope: slope of the LeakyReLU for negative scores (0.2 in the paper).
        dropout: dropout probability on the attention coefficients α (training only).
        bias: add the learnable bias :math:`b`.

    Shapes:
        x :math:`(N, F)` dense or sparse CSR, edge_index :math:`(2, E)` (row 0 source j, row 1 target i)
        -> :math:`(N, K F')` if ``concat`` else :math:`(N, F')`. With ``return_attention_weights=True`` also
        ``(edge_index (2, E'), alpha (E', K))``, the edges with self-loops and their α before dropout.
    """

    def __init__(self, in_channels: int, out_channels: int, heads: int = 1, concat: bool = True,
                 negative_slope: float = 0.2, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        if in_channels <= 0 or out_channels <= 0 or heads <= 0:
            raise InputError(f"GATConv needs positive in_channels, out_channels and heads, "
                             f"got {in_channels}, {out_channels}, {heads}")
        if not 0 <= dropout < 1:
            raise InputError(f"GATConv dropout must be in [0, 1), got {dropout}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.heads = heads
        self.concat = concat
        self.negative_slope = negative_slope
        self.dropout = dropout
        self.lin = nn.Linear(in_channels, heads * out_channels, bias=False)  # the K matrices W^k, stacked
        self.att_src = nn.Parameter(torch.empty(1, heads, out_channels))  # second half of a, per head
        self.att_dst = nn.Parameter(torch.empty(1, heads, out_channels))  # first half of a, per head
        self.bias = nn.Parameter(torch.empty(heads * out_channels if concat else out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        glorot_(self.lin.weight)
        glorot_(self.att_src)
        glorot_(self.att_dst)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def forward(self, x: Tensor, edge_index: Tensor, return_attention_weights: bool = False):
        N, K, C = x.size(0), self.heads, self.out_channels
        edge_index = add_self_loops(edge_index, N)  # drops existing loops first
        src, dst = edge_index
        h = (x @ self.lin.weight.t()).view(N, K, C)  # W^k h for every node and head   (N, K, F')
        s_src = (h * self.att_src).sum(-1)  # a_src^T W h, the score of h as a source   (N, K)
        s_dst = (h * self.att_dst).sum(-1)  # a_dst^T W h, the score of h as a target   (N, K)
        s_j, s_i = s_src.index_select(0, src), s_dst.index_select(0, dst)  # (E', K)
        e = F.leaky_relu(s_i + s_j, self.negative_slope)  # e_ij = LeakyReLU(a^T [W h_i ‖ W h_j])   (E', K)
        alpha = segment_softmax(e, dst, N)  # α_ij = softmax_j(e_ij) over i's incoming edges   (E', K)
        h_j = h.index_select(0, src)  # W h_j   (E', K, F')
        a = F.dropout(alpha, self.dropout, self.training)[..., None]  # (E', K, 1)
        out = h.new_zeros(N, K, C).index_add_(0, dst, a * h_j)  # Σ_j α_ij W h_j   (N, K, F')
        out = out.reshape(N, K * C) if self.concat else out.mean(dim=1)  # ‖ over heads, or mean
        if self.bias is not None:
            out = out + self.bias
        return (out, (edge_index, alpha)) if return_attention_weights else out

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, heads={self.heads})"


def segment_softmax(e: Tensor, index: Tensor, num_segments: int) -> Tensor:
    """Softmax of the rows of ``e`` ``(E, K)`` within each group of equal ``index`` ``(E,)``.

    The group maximum is subtracted for stability; it is a constant of the softmax, so it is detached.
    """
    e_max = e.new_full((num_segments, e.size(1)), -math.inf).scatter_reduce_(
        0, index[:, None].expand_as(e), e.detach(), "amax")  # (num_segments, K)
    p = (e - e_max.index_select(0, index)).exp()  # (E, K)
    return p / p.new_zeros(num_segments, e.size(1)).index_add_(0, index, p).index_select(0, index)
