"""The node classifiers of the report's Part 3: two-layer GCN (Kipf & Welling 2017) and GAT (Veličković et al.
2018), as in PyG's examples/gcn.py and gat.py. :func:`build_model` makes one from a training configuration.
"""

import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import InputError
from .data import feature_dropout
from .layers import GATConv, GCNConv

NODE_MODELS = ("gcn", "gat")


class GCN(nn.Module):
    """Two GCN layers: dropout, GCNConv, ReLU, dropout, GCNConv -> class logits.

    The layers cache the normalisation: one model serves one fixed graph (transductive training).
    """

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int, dropout: float):
        super().__init__()
        self.dropout = dropout
        self.conv1 = GCNConv(in_channels, hidden_channels, cached=True)
        self.conv2 = GCNConv(hidden_channels, out_channels, cached=True)

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        x = feature_dropout(x, self.dropout, self.training)
        x = self.conv1(x, edge_index).relu()  # σ = ReLU   (eq. 44)
        x = F.dropout(x, self.dropout, self.training)
        return self.conv2(x, edge_index)

    def param_groups(self, weight_decay: float) -> list[dict]:
        # Kipf & Welling (and PyG's example) regularise the first layer only.
        return [{"params": self.conv1.parameters(), "weight_decay": weight_decay},
                {"params": self.conv2.parameters(), "weight_decay": 0.0}]


class GAT(nn.Module):
    """Two GAT layers: dropout, GATConv (``heads`` heads, concatenated), ELU, dropout, GATConv (averaged heads)."""

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int, heads: int, output_heads: int,
                 dropout: float):
        super().__init__()
        self.dropout = dropout
        self.conv1 = GATConv(in_channels, hidden_channels, heads=heads, dropout=dropout)
        self.conv2 = GATConv(hidden_channels * heads, out_channels, heads=output_heads, concat=False, dropout=dropout)

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        x = feature_dropout(x, self.dropout, self.training)
        x = F.elu(self.conv1(x, edge_index))
        x = F.dropout(x, self.dropout, self.training)
        return self.conv2(x, edge_index)

    def param_groups(self, weight_decay: float) -> list[dict]:
        return [{"params": self.parameters(), "weight_decay": weight_decay}]


def build_model(config, in_channels: int, num_classes: int) -> nn.Module:
    """The GCN or GAT of ``config`` (a :class:`~seqgraph.graph.train.NodeTrainConfig`)."""
    if config.model == "gcn":
        return GCN(in_channels, config.hidden_size, num_classes, config.dropout)
    if config.model == "gat":
        return GAT(in_channels, config.hidden_size, num_classes, config.heads, config.output_heads, config.dropout)
    raise InputError(f"unknown model {config.model!r}; choose one of {', '.join(NODE_MODELS)}")
