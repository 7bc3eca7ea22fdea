"""Graph layers, each written from its paper's equations: GCN, GCN with a self weight, GAT, GraphSAGE and GIN."""

from .gat import GATConv
from .gcn import GCNConv, SelfGCNConv
from .gin import GINConv
from .sage import SAGEConv

__all__ = ["GATConv", "GCNConv", "GINConv", "SAGEConv", "SelfGCNConv"]
