r"""Graph attention (GAT): Veličković et al.'s multi-head layer, with its messages as explicit gathers.

The layer takes PyG's names and parameter layout (``lin.weight``, ``att_src``, ``att_dst``, ``bias``), so
``load_state_dict`` copies weights from ``torch_geometric.nn.GATConv`` by key. Messages are gathers
(``h.index_select(0, src)``, the ``_j`` tensors) summed into their targets with ``index_add_``: every edge has a
weight of its own, the attention coefficient.
"""

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...errors import InputError
from ..data import add_self_loops
from .inits import glorot_


class GATConv(nn.Module):
    r"""Multi-head graph attention from Veličković et al., "Graph Attention Networks" (ICLR 2018),
    https://arxiv.org/abs/1710.10903.

    .. math::
        e_{ij} &= \mathrm{LeakyReLU}_{0.2}\big(a^T [W h_i \,\|\, W h_j]\big)
                = \mathrm{LeakyReLU}_{0.2}\big(a_{dst}^T W h_i + a_{src}^T W h_j\big) \\
        \alpha_{ij} &= \mathrm{softmax}_j(e_{ij})
                     = \frac{\exp e_{ij}}{\sum_{k \in N(i) \cup \{i\}} \exp e_{ik}} \\
        h_i' &= \|_{k=1}^{K} \sum_{j \in N(i) \cup \{i\}} \alpha^k_{ij} W^k h_j + b
        \quad\text{(or the mean over the K heads when concat=False)}

    Message passing, :ref:`eq. (49) <eq-gat>`: every edge ``j -> i`` (plus one self-loop per node) carries
    ``W h_j`` weighted by its attention ``α_ij``; the softmax runs over each target's incoming edges. The
    attention vector ``a`` is stored in two halves, ``att_dst`` (for ``W h_i``) and ``att_src`` (for ``W h_j``),
    so each node's two scores are computed once per node and only added per edge. σ belongs to the model.
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
