"""A small graph type, the sparse operations GCN and GAT need, and the transforms of node features.

Connectivity is COO ``edge_index`` of shape ``(2, E)``: row 0 holds the source ``j``, row 1 the target
``i`` of each edge ``j -> i``, so messages flow from ``edge_index[0]`` to ``edge_index[1]`` (PyG's
``source_to_target``). An undirected graph stores both directions.

Duplicate edges: ``edge_index`` is read as a multiset, so an edge listed twice has weight 2 in ``A``,
as in PyG's ``gcn_norm`` (and ``torch.sparse`` coalescing, which sums). :func:`coalesce` (which
:func:`to_undirected` and the Planetoid loader apply) turns it into a simple graph; on coalesced input
every normalisation here equals the textbook one with a 0/1 adjacency matrix.

Self-loops: ``Ã = A + I`` (:ref:`eq. (45) <eq-gcn>`) is built by dropping the self-loops ``A`` already has and
adding exactly one per node, as PyG's ``add_remaining_self_loops`` does for unweighted graphs, so
a node never counts itself twice.
"""

import dataclasses
import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import InputError


def check_edge_index(edge_index: Tensor, num_nodes: int) -> None:
    """Raise InputError unless ``edge_index`` is an integer ``(2, E)`` tensor of node ids in ``[0, num_nodes)``."""
    if not isinstance(edge_index, Tensor):
        raise InputError(f"edge_index must be a tensor, got {type(edge_index).__name__}")
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise InputError(f"edge_index must have shape (2, E), got {tuple(edge_index.shape)}")
    if edge_index.dtype.is_floating_point or edge_index.dtype.is_complex or edge_index.dtype == torch.bool:
        raise InputError(f"edge_index must hold integers, got {edge_index.dtype}")
    if num_nodes < 0:
        raise InputError(f"num_nodes must be non-negative, got {num_nodes}")
    if edge_index.numel():
        low, high = int(edge_index.min()), int(edge_index.max())
        if low < 0:
            raise InputError(f"edge_index holds a negative node id ({low})")
        if high >= num_nodes:
            raise InputError(f"edge_index refers to node {high}, but the graph has {num_nodes} nodes")


def remove_self_loops(edge_index: Tensor) -> Tensor:
    """Drop the edges ``i -> i``."""
    keep = edge_index[0] != edge_index[1]
    return edge_index if bool(keep.all()) else edge_index[:, keep]


def add_self_loops(edge_index: Tensor, num_nodes: int) -> Tensor:
    """Exactly one self-loop per node, appended after the other edges (existing loops are dropped first)."""
    loops = torch.arange(num_nodes, device=edge_index.device).expand(2, num_nodes)
    return torch.cat([remove_self_loops(edge_index), loops], dim=1)


def coalesce(edge_index: Tensor, num_nodes: int) -> Tensor:
    """Remove duplicate edges and sort by (target, source), like PyG's ``coalesce(sort_by_row=False)``."""
    key = torch.unique(edge_index[1] * num_nodes + edge_index[0])  # sorted
    return torch.stack([key % num_nodes, key // num_nodes])


def to_undirected(edge_index: Tensor, num_nodes: int) -> Tensor:
    """Symmetrise: every edge in both directions, each once."""
    return coalesce(torch.cat([edge_index, edge_index.flip(0)], dim=1), num_nodes)


def degree(index: Tensor, num_nodes: int, dtype: torch.dtype = torch.float) -> Tensor:
    """How many times each node occurs in ``index``; ``degree(edge_index[1], N)`` is the in-degree."""
    return torch.zeros(num_nodes, dtype=dtype, device=index.device).index_add_(
        0, index, torch.ones(index.numel(), dtype=dtype, device=index.device))


def gcn_norm(edge_index: Tensor, num_nodes: int, self_loop_weight: float = 1.0,
             dtype: torch.dtype = torch.float) -> tuple[Tensor, Tensor]:
    """The pieces of Â = D̃^-1/2 Ã D̃^-1/2 (:ref:`eq. (45)-(47) <eq-gcn>`) without materialising it.

    With Ã = A + w·I (``w = self_loop_weight``; 1 in eq. 45, 2 in Kipf & Welling's "improved"
    variant), D̃_ii = Σ_j Ã_ij = in-degree(i) + w, and

        Â_ij = d_i d_j for every edge j -> i,      Â_ii = w d_i²,      d = D̃^-1/2 (a vector).

    Returns the edges without self-loops ``(2, E')`` and ``d`` ``(N,)``. A GCN layer needs only these:
    Â H = d ⊙ (A (d ⊙ H) + w d ⊙ H), so no per-edge weight tensor is ever built.
    """
    edge_index = remove_self_loops(edge_index)
    deg = degree(edge_index[1], num_nodes, dtype) + self_loop_weight  # D̃_ii = Σ_j Ã_ij   (eq. 46)
    return edge_index, deg.rsqrt()


def normalized_adjacency(edge_index: Tensor, num_nodes: int, self_loop_weight: float = 1.0,
                         dtype: torch.dtype = torch.float) -> tuple[Tensor, Tensor]:
    """Â = D̃^-1/2 (A + w·I) D̃^-1/2 as COO: ``(edge_index with one self-loop per node, weights (E'+N,))``.

    Entry ``k`` is Â[edge_index[1, k], edge_index[0, k]]; duplicate edges appear as repeated entries
    that add up (see the module docstring).
    """
    edges, d = gcn_norm(edge_index, num_nodes, self_loop_weight, dtype)
    src, dst = edges
    weight = torch.cat([d[dst] * d[src], self_loop_weight * d * d])  # Â_ij = 1/sqrt(D̃_ii D̃_jj)   (eq. 47)
    return add_self_loops(edges, num_nodes), weight


def feature_dropout(x: Tensor, p: float, training: bool) -> Tensor:
    """Dropout that, for a sparse CSR ``x``, drops only its stored entries (Kipf & Welling's sparse_dropout).

    Zeros stay zero under dropout anyway, so this is the same distribution as dense dropout at the cost of
    the non-zeros alone (1.3% of Cora's 2708 x 1433 features).
    """
    if x.layout != torch.sparse_csr:
        return F.dropout(x, p, training)
    if not training or p == 0:
        return x
    values = F.dropout(x.values(), p, training)
    return torch.sparse_csr_tensor(x.crow_indices(), x.col_indices(), values, x.shape, check_invariants=False)


def to_csr(x: Tensor) -> Tensor:
    with warnings.catch_warnings():  # torch calls its (well-tested) CSR support beta
        warnings.filterwarnings("ignore", "Sparse CSR tensor support is in beta", UserWarning)
        return x.to_sparse_csr()


_ATTRIBUTES = ("x", "y", "train_mask", "val_mask", "test_mask")  # the optional node tensors, PyG's names too


@dataclass
class Graph:
    """A graph with optional node features, labels and split masks, checked on construction.

    Args:
        edge_index: ``(2, E)`` integer node ids, row 0 source, row 1 target (stored as int64).
        num_nodes: ``N``; nodes without edges count.
        x: ``(N, F)`` node features.
        y: ``(N,)`` integer class labels.
        train_mask, val_mask, test_mask: ``(N,)`` boolean masks.
    """

    edge_index: Tensor
    num_nodes: int
    x: Tensor | None = None
    y: Tensor | None = None
    train_mask: Tensor | None = None
    val_mask: Tensor | None = None
    test_mask: Tensor | None = None

    def __post_init__(self):
        self.num_nodes = int(self.num_nodes)
        check_edge_index(self.edge_index, self.num_nodes)
        self.edge_index = self.edge_index.long()
        if self.x is not None and (self.x.dim() != 2 or self.x.size(0) != self.num_nodes):
            raise InputError(f"x must have shape (num_nodes={self.num_nodes}, F), got {tuple(self.x.shape)}")
        if self.y is not None:
            if self.y.dim() != 1 or self.y.size(0) != self.num_nodes:
                raise InputError(f"y must have shape (num_nodes={self.num_nodes},), got {tuple(self.y.shape)}")
            if self.y.dtype.is_floating_point:
                raise InputError(f"y must hold integer class labels, got {self.y.dtype}")
        for name in ("train_mask", "val_mask", "test_mask"):
            mask = getattr(self, name)
            if mask is not None and (mask.dtype != torch.bool or tuple(mask.shape) != (self.num_nodes,)):
                raise InputError(f"{name} must be a bool tensor of shape ({self.num_nodes},), "
                                 f"got {mask.dtype} {tuple(mask.shape)}")

    @classmethod
    def from_pyg(cls, data) -> "Graph":
        """From a PyTorch Geometric ``Data`` (or anything with its attribute names); PyG is not imported."""
        return cls(data.edge_index, data.num_nodes,
                   **{name: getattr(data, name, None) for name in _ATTRIBUTES})

    def to_pyg(self):
        """A PyTorch Geometric ``Data`` with the same tensors (needs PyG: ``pip install torch_geometric``)."""
        from torch_geometric.data import Data

        return Data(edge_index=self.edge_index, num_nodes=self.num_nodes,
                    **{name: getattr(self, name) for name in _ATTRIBUTES if getattr(self, name) is not None})

    @property
    def num_edges(self) -> int:
        return self.edge_index.size(1)

    def with_edges(self, edge_index: Tensor) -> "Graph":
        return dataclasses.replace(self, edge_index=edge_index)

    def coalesce(self) -> "Graph":
        return self.with_edges(coalesce(self.edge_index, self.num_nodes))

    def symmetrise(self) -> "Graph":
        return self.with_edges(to_undirected(self.edge_index, self.num_nodes))

    def add_self_loops(self) -> "Graph":
        return self.with_edges(add_self_loops(self.edge_index, self.num_nodes))

    def remove_self_loops(self) -> "Graph":
        return self.with_edges(remove_self_loops(self.edge_index))

    def degree(self) -> Tensor:
        """In-degree (the degree of an undirected graph), self-loops included if stored."""
        return degree(self.edge_index[1], self.num_nodes)

    def normalized_adjacency(self, self_loop_weight: float = 1.0) -> tuple[Tensor, Tensor]:
        return normalized_adjacency(self.edge_index, self.num_nodes, self_loop_weight)

    def to(self, device: torch.device | str) -> "Graph":
        return dataclasses.replace(self, **{f.name: getattr(self, f.name).to(device) for f in dataclasses.fields(self)
                                            if isinstance(getattr(self, f.name), Tensor)})
