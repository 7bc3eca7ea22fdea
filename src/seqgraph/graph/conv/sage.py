r"""GraphSAGE layers with a mean or an LSTM neighbour aggregator.

Hamilton, Ying & Leskovec, "Inductive Representation Learning on Large Graphs" (NIPS 2017),
https://arxiv.org/abs/1706.02216. Report §3.4: an RNN can aggregate a node's neighbours instead of a linear
sum; the LSTM is our own (:class:`seqgraph.recurrent.LSTM`, batch-first).
"""

import torch
from torch import Tensor, nn

from ...errors import InputError
from ...recurrent import LSTM, last_states
from ..data import degree, remove_self_loops
from .inits import glorot_

AGGREGATORS = ("mean", "lstm")


def sample_neighbours(edge_index: Tensor, num_nodes: int, num_samples: int,
                      generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """Up to ``num_samples`` neighbours ``j`` (edges ``j -> i``) of every node ``i``, without replacement,
    in a random order.

    Returns ``index`` ``(N, S)``, row ``i`` holding the sampled sources of node ``i`` and then ``-1`` padding,
    ``S = min(num_samples, max degree)``, and ``lengths`` ``(N,)`` = ``min(degree, num_samples)``.
    """
    src, dst = edge_index
    # a random permutation of the edges, then a stable sort by target: each node's edges in random order
    perm = torch.randperm(src.numel(), generator=generator, device=src.device)
    perm = perm[dst[perm].argsort(stable=True)]
    src, dst = src[perm], dst[perm]
    deg = degree(dst, num_nodes, dtype=torch.long)  # (N,)
    start = deg.cumsum(0) - deg  # first position of each node's edges   (N,)
    rank = torch.arange(dst.numel(), device=dst.device) - start[dst]  # position among the node's edges   (E,)
    keep = rank < num_samples
    lengths = deg.clamp(max=num_samples)
    index = src.new_full((num_nodes, int(lengths.max()) if num_nodes else 0), -1)
    index[dst[keep], rank[keep]] = src[keep]
    return index, lengths


class SAGEConv(nn.Module):
    r"""GraphSAGE layer (Hamilton et al. 2017, Algorithm 1 without the normalisation step).

    .. math::
        h_{N(i)} = \mathrm{AGG}(\{h_j : j \in N(i)\}), \qquad
        h_i' = W_{self} h_i + W_{neigh} h_{N(i)} + b \quad (= W [h_i \,\|\, h_{N(i)}] + b)

    Aggregators:

    - ``mean``: :math:`h_{N(i)} = \frac{1}{|N(i)|} \sum_{j \in N(i)} h_j` over all neighbours (0 for a node
      without any). It is linear, so :math:`W_{neigh}` is applied before the average: one ``(E, F')`` gather.
    - ``lstm``: our LSTM reads up to ``num_samples`` neighbours in a random order (a fresh one every call, as
      the paper: the LSTM is not permutation invariant, so it is trained on random orders) and
      :math:`h_{N(i)}` is its state after node ``i``'s last neighbour, :math:`h(|N(i)|)`
      (:func:`~seqgraph.recurrent.last_states`: padded sequences, bucketed by length; padding never
      reaches a node's state). To keep the gathered sequences small, neighbours enter as :math:`P h_j`
      (``P``: ``in_channels -> aggr_channels``).

    Args:
        in_channels: :math:`F`, input features per node.
        out_channels: :math:`F'`, output features per node.
        aggr: ``mean`` or ``lstm``.
        num_samples: most neighbours the LSTM reads per node (25 in the paper's first layer); ``mean`` uses all.
        aggr_channels: size of :math:`P h_j` and of the LSTM state (default: ``out_channels``).
        bias: add the learnable bias :math:`b`.

    Shapes: x :math:`(N, F)` dense or sparse CSR, edge_index :math:`(2, E)` (row 0 source j, row 1 target i)
    -> :math:`(N, F')`.
    """

    def __init__(self, in_channels: int, out_channels: int, aggr: str = "mean", num_samples: int = 25,
                 aggr_channels: int | None = None, bias: bool = True):
        super().__init__()
        if aggr not in AGGREGATORS:
            raise InputError(f"SAGEConv aggr must be one of {', '.join(AGGREGATORS)}, got {aggr!r}")
        if in_channels <= 0 or out_channels <= 0 or num_samples <= 0:
            raise InputError(f"SAGEConv needs positive in_channels, out_channels and num_samples, "
                             f"got {in_channels}, {out_channels}, {num_samples}")
        self.in_channels, self.out_channels, self.aggr, self.num_samples = in_channels, out_channels, aggr, num_samples
        self.lin_self = nn.Linear(in_channels, out_channels, bias=False)  # W_self, stored (F', F)
        if aggr == "lstm":
            k = aggr_channels or out_channels
            self.lin_proj = nn.Linear(in_channels, k, bias=False)  # P
            self.lstm = LSTM(k, k)
            self.lin_neigh = nn.Linear(k, out_channels, bias=False)  # W_neigh
        else:
            self.lin_neigh = nn.Linear(in_channels, out_channels, bias=False)  # W_neigh
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        glorot_(self.lin_self.weight)
        glorot_(self.lin_neigh.weight)
        if self.aggr == "lstm":
            glorot_(self.lin_proj.weight)
            self.lstm.reset_parameters()
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        n = x.size(0)
        edge_index = remove_self_loops(edge_index)
        if self.aggr == "mean":
            src, dst = edge_index
            h = x @ self.lin_neigh.weight.t()  # W_neigh h_j for every node   (N, F')
            deg = degree(dst, n, h.dtype).clamp(min=1)[:, None]  # (N, 1)
            neigh = h.new_zeros(h.shape).index_add_(0, dst, h.index_select(0, src)) / deg  # W_neigh h_N(i)  (N, F')
        else:
            # the LSTM state after each node's last sampled neighbour, fed as P h_j   (N, K)
            index, lengths = sample_neighbours(edge_index, n, self.num_samples)
            neigh = self.lin_neigh(last_states(self.lstm, x @ self.lin_proj.weight.t(), index, lengths))  # (N, F')
        # h_i' = W_self h_i + W_neigh h_N(i) + b
        out = x @ self.lin_self.weight.t() + neigh  # (N, F')
        return out if self.bias is None else out + self.bias

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, aggr={self.aggr!r})"
