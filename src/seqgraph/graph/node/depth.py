r"""Self-connections with their own weight, and what depth does to GCN representations (over-smoothing).

Report §3.1: a GCN layer gives two nodes with the same closed neighbourhood the same output whatever their
features. :class:`~seqgraph.graph.conv.gcn.SelfGCNConv` adds a separate weight for the node itself, which keeps
them apart (``seqgraph graph depth`` prints both).

Over-smoothing (Li, Han & Wu, "Deeper Insights into Graph Convolutional Networks for Semi-Supervised
Learning", AAAI 2018, https://arxiv.org/abs/1801.07606): every GCN layer averages a node with its neighbours,
so a deep stack drives all representations of a connected graph towards one direction. :class:`DeepGCN`
stacks ``num_layers`` layers of three kinds: ``plain`` GCN layers, ``self``
(:class:`~seqgraph.graph.conv.gcn.SelfGCNConv`) and ``residual`` GCN layers :math:`H^{(l+1)} = \mathrm{ReLU}(\hat A
H^{(l)} W^{(l)}) + H^{(l)}` (Kipf & Welling 2017, appendix B); :func:`mean_pairwise_distance` measures how far apart
the nodes' representations stay.
"""

import torch
from torch import Tensor, nn

from ...errors import InputError
from ..conv.gcn import GCNConv, SelfGCNConv
from ..data import Graph, feature_dropout, to_csr

VARIANTS = ("plain", "self", "residual")


class DeepGCN(nn.Module):
    """``num_layers`` graph convolutions, ``in -> hidden -> ... -> hidden -> out``, ReLU and dropout between.

    ``variant``: ``plain`` (GCNConv), ``self`` (:class:`~seqgraph.graph.conv.gcn.SelfGCNConv`) or ``residual``
    (GCNConv plus the layer's input, on the hidden-to-hidden layers, whose sizes match; so 1 and 2 layers have no
    residual). Dropout comes before every layer, as in Kipf & Welling's two-layer GCN.

    Shapes: x ``(N, in_channels)`` dense or sparse CSR, edge_index ``(2, E)`` -> ``(N, out_channels)``.
    """

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int, num_layers: int,
                 variant: str = "plain", dropout: float = 0.5):
        super().__init__()
        if variant not in VARIANTS:
            raise InputError(f"DeepGCN variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
        if num_layers < 1:
            raise InputError(f"DeepGCN needs at least one layer, got {num_layers}")
        self.variant = variant
        self.dropout = dropout
        sizes = [in_channels] + [hidden_channels] * (num_layers - 1) + [out_channels]
        conv = SelfGCNConv if variant == "self" else GCNConv
        self.convs = nn.ModuleList(conv(a, b, cached=True) for a, b in zip(sizes[:-1], sizes[1:], strict=True))

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        last = len(self.convs) - 1
        for l, conv in enumerate(self.convs):
            h = conv(feature_dropout(x, self.dropout, self.training), edge_index)  # (N, F_l+1)
            if l < last:
                h = h.relu()
                if self.variant == "residual" and 0 < l:
                    h = h + x  # H(l+1) = ReLU(Â H(l) W(l)) + H(l)
            x = h
        return x


@torch.no_grad()
def mean_pairwise_distance(h: Tensor) -> float:
    """The mean Euclidean distance between the L2-normalised rows of ``h`` ``(N, F)`` over all pairs i != j.

    Normalising first makes it a measure of direction only, from 0 (all rows parallel: fully smoothed) to 2;
    a layer that merely shrinks every row does not count as smoothing.
    """
    n = h.size(0)
    if n < 2:
        raise InputError(f"mean_pairwise_distance needs at least two rows, got {n}")
    u = nn.functional.normalize(h.double(), dim=1)  # (N, F)
    return float(torch.cdist(u, u).sum() / (n * (n - 1)))


@torch.no_grad()
def output_distance(model: nn.Module, graph: Graph) -> float:
    """:func:`mean_pairwise_distance` of ``model``'s output for every node of ``graph``, in eval mode."""
    model.eval()
    device = next(model.parameters()).device
    return mean_pairwise_distance(model(to_csr(graph.x.float()).to(device), graph.edge_index.to(device)))
