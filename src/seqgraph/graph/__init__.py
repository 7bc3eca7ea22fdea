"""Graph neural networks written from their equations (the manual's Part 3).

The package reads top to bottom: :mod:`.data` (the :class:`Graph` type) and :mod:`.sparse` (the one sparse
matrix type and product), the layers in :mod:`.conv`, then one subpackage per task, each holding its models and
their training: :mod:`.node` (node classification), :mod:`.link` (link prediction), :mod:`.level` (graph-level
outputs), :mod:`.scale` (graphs beyond one batch, process or memory); the loaders in :mod:`.datasets`.
"""

from .conv import GATConv, GCNConv, GINConv, SAGEConv, SelfGCNConv
from .data import Graph
from .datasets import load_dataset
from .datasets.amazon import load_amazon_photo
from .datasets.planetoid import load_planetoid, read_planetoid
from .datasets.tu import load_tu, read_tu
from .level import GraphBatch, GraphDataset
from .sparse import CSR, Adjacency, propagate

__all__ = ["CSR", "Adjacency", "GATConv", "GCNConv", "GINConv", "Graph", "GraphBatch", "GraphDataset", "SAGEConv",
           "SelfGCNConv", "load_amazon_photo", "load_dataset", "load_planetoid", "load_tu", "propagate",
           "read_planetoid", "read_tu"]
