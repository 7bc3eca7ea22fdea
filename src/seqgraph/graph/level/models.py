r"""Graph classification models: GIN, GCN with a readout, GIN with Set2Set, and two structure-agnostic baselines.

Every model maps a batch of graphs (their disjoint union, :mod:`seqgraph.graph.level.batch`) to class scores:
``forward(x, edge_index, batch, num_graphs) -> (B, C)``, ``x`` ``(N, F)``, ``edge_index`` ``(2, E)`` or, faster,
an :class:`~seqgraph.graph.sparse.Adjacency` (a batch's ``adjacency``).
"""

import torch
from torch import Tensor, nn

from ...errors import InputError
from ..conv.gcn import GCNConv
from ..conv.gin import GINConv
from ..sparse import Adjacency
from .readout import READOUTS, Set2Set, sum_readout

MODELS = ("gin", "gin-eps", "gcn", "gin-set2set", "baseline", "deepsets")
READOUT_MODELS = ("gin", "gin-eps", "gcn")  # the models whose readout is a choice of READOUTS


def mlp(in_channels: int, hidden_channels: int, out_channels: int, num_layers: int = 2) -> nn.Sequential:
    """``num_layers`` linear layers with batch norm and ReLU between them (GIN's MLPs: "batch normalization is
    applied on every hidden layer"); the output layer is linear."""
    sizes = [in_channels] + [hidden_channels] * (num_layers - 1) + [out_channels]
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < num_layers - 1:
            layers += [nn.BatchNorm1d(b), nn.ReLU()]
    return nn.Sequential(*layers)


class GraphClassifier(nn.Module):
    r"""A GNN with a readout of every layer, concatenated: Xu et al. (2019), :ref:`eq. (4.2) <eq-gin>`.

    .. math::
        h_G = \mathrm{CONCAT}\big(\mathrm{READOUT}(\{h_v^{(k)} \mid v \in G\}) \mid k = 0, 1, \ldots, K\big)
        \qquad (4.2)

    then dropout and a linear layer give the class scores. Layer ``k = 1..K`` is
    :math:`h^{(k)} = \mathrm{ReLU}(\mathrm{BN}(\mathrm{conv}(h^{(k-1)})))` as in GIN's code; ``num_layers``
    counts the input layer (GIN's "5 GNN layers (including the input layer)" is ``K = 4``).

    - ``conv="gin"``: :class:`GINConv` with a 2-layer MLP (GIN-0, or GIN-ε with ``train_eps``);
    - ``conv="gcn"``: :class:`~seqgraph.graph.conv.gcn.GCNConv` (Kipf & Welling 2017,
      :ref:`eq. (44)-(48) <eq-gcn>`), the report's GCN layer used for graph-level outputs;
    - ``readout``: ``sum`` (GIN's choice, injective on multisets), ``mean``, ``max`` or ``set2set``
      (:class:`~seqgraph.graph.level.readout.Set2Set`, one per layer, output 2× the layer's width).

    GIN's code applies the dropout to each layer's scores after its own linear map; here it is applied to
    :math:`h_G` before the single linear map, which equals the sum of per-layer linear maps without dropout.

    Args:
        in_channels: F, node features. num_classes: C. hidden_channels: the width of every layer.
        num_layers: K + 1. dropout: the probability before the final layer.
        set2set_steps: T of the Set2Set readouts.

    Shapes: ``x`` ``(N, F)``, ``edge_index`` ``(2, E)``, ``batch`` ``(N,)`` -> ``(B, C)``.
    """

    def __init__(self, in_channels: int, num_classes: int, hidden_channels: int = 64, num_layers: int = 5,
                 conv: str = "gin", train_eps: bool = False, readout: str = "sum", dropout: float = 0.5,
                 set2set_steps: int = 3):
        super().__init__()
        if num_layers < 1 or conv not in ("gin", "gcn") or readout not in (*READOUTS, "set2set"):
            raise InputError(f"GraphClassifier: bad num_layers={num_layers}, conv={conv!r} or readout={readout!r}")
        widths = [in_channels] + [hidden_channels] * (num_layers - 1)  # the width of h^(0) .. h^(K)
        self.convs = nn.ModuleList(
            GINConv(mlp(a, hidden_channels, b), train_eps=train_eps) if conv == "gin" else GCNConv(a, b)
            for a, b in zip(widths[:-1], widths[1:], strict=True))
        self.norms = nn.ModuleList(nn.BatchNorm1d(b) for b in widths[1:])
        if readout == "set2set":
            self.set2sets = nn.ModuleList(Set2Set(w, set2set_steps) for w in widths)
        self.readout = readout
        self.dropout = nn.Dropout(dropout)
        self.lin = nn.Linear(sum(widths) * (2 if readout == "set2set" else 1), num_classes)

    def read(self, k: int, h: Tensor, batch: Tensor, num_graphs: int) -> Tensor:
        if self.readout == "set2set":
            return self.set2sets[k](h, batch, num_graphs)
        return READOUTS[self.readout](h, batch, num_graphs)

    def forward(self, x: Tensor, edge_index: Tensor | Adjacency, batch: Tensor, num_graphs: int) -> Tensor:
        if isinstance(edge_index, Adjacency) and any(isinstance(c, GCNConv) for c in self.convs):
            edge_index = edge_index.edge_index  # GCNConv normalises by degrees from the edge list
        h = x
        pooled = [self.read(0, h, batch, num_graphs)]
        for k, (conv, norm) in enumerate(zip(self.convs, self.norms, strict=True), 1):
            h = norm(conv(h, edge_index)).relu()  # (N, hidden_channels)
            pooled.append(self.read(k, h, batch, num_graphs))
        # (4.2)
        h_graph = torch.cat(pooled, dim=-1)  # (B, Σ widths)
        return self.lin(self.dropout(h_graph))  # (B, C)


class StructureAgnostic(nn.Module):
    r"""The structure-agnostic baseline of Errica, Podda, Bacciu & Micheli, "A Fair Comparison of Graph Neural
    Networks for Graph Classification" (ICLR 2020), https://arxiv.org/abs/1912.09893, §4, for the chemical
    datasets (NCI1, PROTEINS, D&D; after the molecular fingerprint): an MLP on the sum of the node features, blind
    to the edges. For ENZYMES and the social datasets they use :class:`DeepSets` instead.

    .. math::
        h_G = \sum_{v \in G} x_v, \qquad \hat y = W_2\, \mathrm{ReLU}(W_1 h_G + b_1) + b_2

    (Their code ends with a second ReLU on the scores; it is left out here, since it zeroes negative logits.)

    Shapes: ``x`` ``(N, F)``, ``batch`` ``(N,)`` -> ``(B, C)``; ``edge_index`` is ignored.
    """

    def __init__(self, in_channels: int, num_classes: int, hidden_channels: int = 64):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(in_channels, hidden_channels), nn.ReLU(),
                                 nn.Linear(hidden_channels, num_classes))

    def forward(self, x: Tensor, edge_index: Tensor, batch: Tensor, num_graphs: int) -> Tensor:
        return self.mlp(sum_readout(x, batch, num_graphs))


class DeepSets(nn.Module):
    r"""Errica et al.'s (2020) structure-agnostic baseline for ENZYMES and the social datasets (their code's
    ``DeepMultisets``, after Zaheer et al., "Deep Sets", NeurIPS 2017): every node's features through a layer of
    their own, summed over the graph, then an MLP; blind to the edges.

    .. math::
        h_G = \sum_{v \in G} \mathrm{ReLU}(W_v x_v + b_v), \qquad
        \hat y = W_2\, \mathrm{ReLU}(W_1 h_G + b_1) + b_2

    Shapes: ``x`` ``(N, F)``, ``batch`` ``(N,)`` -> ``(B, C)``; ``edge_index`` is ignored.
    """

    def __init__(self, in_channels: int, num_classes: int, hidden_channels: int = 64):
        super().__init__()
        self.node = nn.Linear(in_channels, hidden_channels)
        self.mlp = nn.Sequential(nn.Linear(hidden_channels, hidden_channels), nn.ReLU(),
                                 nn.Linear(hidden_channels, num_classes))

    def forward(self, x: Tensor, edge_index: Tensor, batch: Tensor, num_graphs: int) -> Tensor:
        return self.mlp(sum_readout(self.node(x).relu(), batch, num_graphs))


def build_model(name: str, in_channels: int, num_classes: int, hidden_channels: int = 64, num_layers: int = 5,
                dropout: float = 0.5, set2set_steps: int = 3, readout: str = "sum") -> nn.Module:
    """One of ``MODELS``; ``readout`` (sum, mean or max) is that of gin, gin-eps and gcn (``gin-set2set``: Set2Set
    readouts; the baselines sum by definition)."""
    if name not in MODELS:
        raise InputError(f"unknown model {name!r}: choose {', '.join(MODELS)}")
    if readout not in READOUTS:
        raise InputError(f"unknown readout {readout!r}: choose {', '.join(READOUTS)}")
    if readout != "sum" and name not in READOUT_MODELS:
        raise InputError(f"readout {readout!r} applies to {', '.join(READOUT_MODELS)}; {name} has its own")
    if name == "baseline":
        return StructureAgnostic(in_channels, num_classes, hidden_channels)
    if name == "deepsets":
        return DeepSets(in_channels, num_classes, hidden_channels)
    return GraphClassifier(in_channels, num_classes, hidden_channels, num_layers,
                           conv="gcn" if name == "gcn" else "gin",
                           train_eps=name == "gin-eps", readout="set2set" if name == "gin-set2set" else readout,
                           dropout=dropout, set2set_steps=set2set_steps)
