r"""GCN, GraphSAGE-mean and GAT as stacks of layers that run on sampled blocks, on the whole graph, or one
layer at a time over every node: exact layer-wise inference.

Mini-batch training (:mod:`seqgraph.graph.minibatch`) runs the model on the blocks of
:func:`~seqgraph.graph.sampler.sample_blocks`: layer ``l`` of ``L`` maps the features of the nodes
:math:`B^{L-l}` to those of :math:`B^{L-l-1}` along hop ``L - l``'s edges. The layers are the existing ones
(GCNConv, SAGEConv, GATConv) applied to the block's sources, of which the targets are the first rows.

Layer-wise inference (Hamilton et al. 2017, Appendix A; DGL's and PyG's "inference over the full graph")
computes :math:`H^{(l+1)}` for every node from :math:`H^{(l)}` with full neighbourhoods, in chunks of
consecutive target nodes bounded in number and in incoming edges, so memory stays bounded whatever the
graph's size and the accuracy is the model's, not a sampled estimate. With all neighbours present each
layer computes what it computes on the whole graph, so the result equals the full-batch forward pass.
"""

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import InputError
from .data import feature_dropout
from .layers import GATConv, GCNConv
from .sage import SAGEConv
from .sampler import CSR, Blocks, append_new, sample_neighbours

KINDS = ("gcn", "sage", "gat")


class LayerStack(nn.Module):
    """``num_layers`` graph layers of one kind with dropout before each and a nonlinearity between them.

    - ``gcn``: GCNConv (Kipf & Welling 2017), ReLU; weight decay on the first layer only (as their code).
    - ``sage``: SAGEConv with the mean aggregator (Hamilton et al. 2017), ReLU.
    - ``gat``: GATConv (Veličković et al. 2018) with ``heads`` concatenated heads, ELU, and an output layer
      averaging ``output_heads`` heads; ``dropout`` also on the attention coefficients.

    With ``num_layers = 2`` these are :class:`~seqgraph.graph.train.GCN`, :class:`~seqgraph.graph.train.GAT` and
    :class:`~seqgraph.graph.sage.GraphSAGE` (mean), parameter for parameter.

    Shapes: ``forward(x (N, F), edge_index (2, E)) -> (N, C)``; ``forward(x (n_L, F), blocks) -> (n_0, C)``
    with ``x`` the features of ``blocks.nodes``.
    """

    def __init__(self, kind: str, in_channels: int, hidden_channels: int, out_channels: int, num_layers: int = 2,
                 dropout: float = 0.5, heads: int = 1, output_heads: int = 1):
        super().__init__()
        if kind not in KINDS:
            raise InputError(f"unknown model {kind!r}; choose one of {', '.join(KINDS)}")
        if num_layers < 1:
            raise InputError(f"a model needs at least one layer, got {num_layers}")
        self.kind, self.dropout = kind, dropout
        sizes = [in_channels] + [hidden_channels * (heads if kind == "gat" else 1)] * (num_layers - 1)
        convs = []
        for layer, size in enumerate(sizes):
            last = layer == num_layers - 1
            if kind == "gcn":
                convs.append(GCNConv(size, out_channels if last else hidden_channels))
            elif kind == "sage":
                convs.append(SAGEConv(size, out_channels if last else hidden_channels, "mean"))
            else:
                convs.append(GATConv(size, out_channels, heads=output_heads, concat=False, dropout=dropout) if last
                             else GATConv(size, hidden_channels, heads=heads, dropout=dropout))
        self.convs = nn.ModuleList(convs)

    @property
    def num_layers(self) -> int:
        return len(self.convs)

    def layer(self, index: int, x: Tensor, edge_index: Tensor, deg: Tensor | None = None) -> Tensor:
        """Layer ``index`` with its dropout and nonlinearity; ``deg`` (whole-graph in-degrees of ``x``'s nodes)
        matters to GCN on a sampled block only."""
        x = feature_dropout(x, self.dropout, self.training)
        x = self.convs[index](x, edge_index, deg) if self.kind == "gcn" else self.convs[index](x, edge_index)
        if index == self.num_layers - 1:
            return x
        return F.elu(x) if self.kind == "gat" else x.relu()

    def forward(self, x: Tensor, edges: Tensor | Blocks, deg: Tensor | None = None) -> Tensor:
        if isinstance(edges, Tensor):
            for index in range(self.num_layers):
                x = self.layer(index, x, edges, deg)
            return x
        if edges.num_hops != self.num_layers:
            raise InputError(f"{edges.num_hops} sampled hops for a model of {self.num_layers} layers")
        for index in range(self.num_layers):
            hop = self.num_layers - index  # the first layer reads the outermost hop
            n_src, n_dst = edges.sizes[hop], edges.sizes[hop - 1]
            x = self.layer(index, x[:n_src], edges.edges[hop - 1], None if deg is None else deg[:n_src])[:n_dst]
        return x

    def param_groups(self, weight_decay: float) -> list[dict]:
        if self.kind != "gcn":
            return [{"params": self.parameters(), "weight_decay": weight_decay}]
        return [{"params": self.convs[0].parameters(), "weight_decay": weight_decay},
                {"params": self.convs[1:].parameters(), "weight_decay": 0.0}]


def chunks(indptr: Tensor, max_nodes: int, max_edges: int) -> list[tuple[int, int]]:
    """Ranges ``[lo, hi)`` of consecutive nodes covering ``[0, N)``, each of at most ``max_nodes`` nodes and
    ``max_edges`` incoming edges (a single node with more edges is a range of its own)."""
    if max_nodes <= 0 or max_edges <= 0:
        raise InputError(f"chunk sizes must be positive, got {max_nodes} nodes and {max_edges} edges")
    num_nodes, ranges, lo = indptr.numel() - 1, [], 0
    while lo < num_nodes:
        by_edges = int(torch.searchsorted(indptr, indptr[lo] + max_edges, right=True)) - 1
        hi = max(lo + 1, min(lo + max_nodes, by_edges, num_nodes))
        ranges.append((lo, hi))
        lo = hi
    return ranges


@torch.no_grad()
def layerwise_inference(model: LayerStack, csr: CSR, x: Tensor, max_nodes: int = 16384,
                        max_edges: int = 1 << 20) -> Tensor:
    """The model's output for every node ``(N, C)``, one layer at a time with full neighbourhoods (eval mode).

    ``x`` ``(N, F)`` may be a memory-mapped array's tensor: each chunk reads only the rows it needs. Peak
    memory: one layer's output ``(N, F')`` plus a chunk's ``max_nodes + max_edges`` gathered rows.
    """
    model.eval()
    if x.dim() != 2 or x.size(0) != csr.num_nodes:
        raise InputError(f"features must have shape (num_nodes={csr.num_nodes}, F), got {tuple(x.shape)}")
    deg = csr.degree()
    ranges = chunks(csr.indptr, max_nodes, max_edges)
    param = next(model.parameters())
    for index in range(model.num_layers):
        out = None
        for lo, hi in ranges:
            targets = torch.arange(lo, hi)
            src, dst = sample_neighbours(csr, targets, -1)  # every in-neighbour
            nodes, src_local = append_new(targets, src)  # the targets first, then their new neighbours
            h = x.index_select(0, nodes).to(param.device, param.dtype)
            h = model.layer(index, h, torch.stack([src_local, dst]).to(param.device), deg[nodes].to(param.device))
            if out is None:
                out = h.new_empty(csr.num_nodes, h.size(1))
            out[lo:hi] = h[: hi - lo]
        x = out
    return x
