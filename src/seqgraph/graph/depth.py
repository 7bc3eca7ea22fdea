r"""Self-connections with their own weight, and what depth does to GCN representations (over-smoothing).

Report §3.1: a GCN layer gives two nodes with the same closed neighbourhood the same output whatever their
features (:func:`seqgraph.graph.example.same_neighbourhood_demo`). :class:`SelfGCNConv` adds a separate
weight for the node itself, which keeps them apart (:func:`self_weight_demo`).

Over-smoothing (Li, Han & Wu, "Deeper Insights into Graph Convolutional Networks for Semi-Supervised
Learning", AAAI 2018, https://arxiv.org/abs/1801.07606): every GCN layer averages a node with its neighbours,
so a deep stack drives all representations of a connected graph towards one direction. :class:`DeepGCN`
stacks ``num_layers`` layers of three kinds: ``plain`` GCN layers, ``self`` (:class:`SelfGCNConv`) and
``residual`` GCN layers :math:`H^{(l+1)} = \mathrm{ReLU}(\hat A H^{(l)} W^{(l)}) + H^{(l)}` (Kipf & Welling
2017, appendix B); :func:`mean_pairwise_distance` measures how far apart the nodes' representations stay.
"""

import torch
from torch import Tensor, nn

from ..errors import InputError
from . import example
from .data import Graph, feature_dropout, to_csr
from .layers import GCNConv, glorot_

VARIANTS = ("plain", "self", "residual")


class SelfGCNConv(nn.Module):
    r"""A GCN layer with a separate weight for the node itself.

    .. math::
        h_i' = \sum_{j \in N(i) \cup \{i\}} \hat A_{ij} W h_j + W_{self} h_i + b

    The sum is :class:`~seqgraph.graph.layers.GCNConv` (SPEC eqs. 44-48). Two nodes with the same closed
    neighbourhood get the same sum, but :math:`W_{self} h_i` differs when their features do; with
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


def self_weight_demo(seed: int = 0) -> dict:
    """§3.1 on :func:`~seqgraph.graph.example.same_neighbourhood_demo`'s graph (0-1, 0-2, 1-2, 2-3; nodes 0 and
    1 share the closed neighbourhood {0, 1, 2}), with random features and a random :class:`SelfGCNConv`.

    Returns the features, the layer's GCN sum alone (a plain GCN layer with the same ``W``: rows 0 and 1 equal)
    and the full layer (rows 0 and 1 differ).
    """
    demo = example.same_neighbourhood_demo(seed)
    x, edge_index = demo["x"], demo["edge_index"]  # (4, 3), (2, 8)
    generator = torch.Generator().manual_seed(seed)
    layer = SelfGCNConv(x.size(1), demo["gcn"].size(1)).double()
    with torch.no_grad():
        for weight in (layer.conv.lin.weight, layer.lin_self.weight):
            weight.copy_(torch.randn(weight.shape, generator=generator, dtype=torch.float64))
        return {"edge_index": edge_index, "x": x, "gcn": layer.conv(x, edge_index),
                "self_weighted": layer(x, edge_index)}


class DeepGCN(nn.Module):
    """``num_layers`` graph convolutions, ``in -> hidden -> ... -> hidden -> out``, ReLU and dropout between.

    ``variant``: ``plain`` (GCNConv), ``self`` (:class:`SelfGCNConv`) or ``residual`` (GCNConv plus the layer's
    input, on the hidden-to-hidden layers, whose sizes match; so 1 and 2 layers have no residual).
    Dropout comes before every layer, as in Kipf & Welling's two-layer GCN.

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
