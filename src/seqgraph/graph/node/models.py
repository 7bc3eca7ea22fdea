r"""The node classifiers: GCN (Kipf & Welling 2017), GraphSAGE (Hamilton et al. 2017) and GAT (Veličković et al.
2018) as stacks of one kind of layer, on the whole graph or on sampled blocks.

:class:`LayerStack` with two layers is the report's two-layer GCN and GAT, as in PyG's examples/gcn.py and
gat.py (:func:`build_model` makes them from a training configuration), and GraphSAGE with the mean or the LSTM
aggregator. Mini-batch training (:mod:`seqgraph.graph.scale.train`) runs the same stack on the blocks of
:func:`~seqgraph.graph.scale.sampler.sample_blocks`: layer ``l`` of ``L`` maps the features of the nodes
:math:`B^{L-l}` to those of :math:`B^{L-l-1}` along hop ``L - l``'s edges, each layer applied to the block's
sources, of which the targets are the first rows; exact layer-wise inference
(:func:`~seqgraph.graph.scale.layerwise.layerwise_inference`) runs it one layer at a time over every node.
"""

import torch.nn.functional as F
from torch import Tensor, nn

from ...errors import InputError
from ..conv.gat import GATConv
from ..conv.gcn import GCNConv
from ..conv.sage import SAGEConv
from ..data import feature_dropout

NODE_MODELS = ("gcn", "gat")  # full-batch node classification (`graph train`)
KINDS = ("gcn", "sage", "gat")  # every layer kind of a stack (mini-batch `graph train`)


class LayerStack(nn.Module):
    """``num_layers`` graph layers of one kind with dropout before each and a nonlinearity between them.

    - ``gcn``: GCNConv (Kipf & Welling 2017), ReLU; weight decay on the first layer only (as their code).
      ``cached``: the layers keep the normalisation of the first graph they see (one fixed graph, full batch).
    - ``sage``: SAGEConv (Hamilton et al. 2017) with the ``aggr`` aggregator (``mean`` or ``lstm``, which reads
      up to ``num_samples[l]`` neighbours at layer ``l``), ReLU.
    - ``gat``: GATConv (Veličković et al. 2018) with ``heads`` concatenated heads, ELU, and an output layer
      averaging ``output_heads`` heads; ``dropout`` also on the attention coefficients.

    Shapes: ``forward(x (N, F), edge_index (2, E)) -> (N, C)``; ``forward(x (n_L, F), blocks) -> (n_0, C)``
    with ``x`` the features of ``blocks.nodes``.
    """

    def __init__(self, kind: str, in_channels: int, hidden_channels: int, out_channels: int, num_layers: int = 2,
                 dropout: float = 0.5, heads: int = 1, output_heads: int = 1, cached: bool = False,
                 aggr: str = "mean", num_samples: tuple[int, ...] = (25, 10)):
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
            width = out_channels if last else hidden_channels
            if kind == "gcn":
                convs.append(GCNConv(size, width, cached=cached))
            elif kind == "sage":
                samples = num_samples[min(layer, len(num_samples) - 1)]
                convs.append(SAGEConv(size, width, aggr, samples, aggr_channels=hidden_channels))
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

    def forward(self, x: Tensor, edges, deg: Tensor | None = None) -> Tensor:
        if isinstance(edges, Tensor):
            for index in range(self.num_layers):
                x = self.layer(index, x, edges, deg)
            return x
        if edges.num_hops != self.num_layers:  # sampled blocks (seqgraph.graph.scale.sampler.Blocks)
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


def build_model(config, in_channels: int, num_classes: int) -> LayerStack:
    """The two-layer GCN or GAT of ``config`` (a :class:`~seqgraph.graph.node.train.NodeTrainConfig`); the GCN's
    layers cache the normalisation, so one model serves one fixed graph (transductive training)."""
    if config.model not in NODE_MODELS:
        raise InputError(f"unknown model {config.model!r}; choose one of {', '.join(NODE_MODELS)}")
    return LayerStack(config.model, in_channels, config.hidden_size, num_classes, 2, config.dropout, config.heads,
                      config.output_heads, cached=True)
