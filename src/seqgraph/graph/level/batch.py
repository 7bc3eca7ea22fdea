"""A dataset of many small graphs, and mini-batches of them as one disjoint union.

A batch of graphs ``G_1 .. G_B`` is their disjoint union: one :class:`~seqgraph.graph.data.Graph` whose node
ids are offset so that graph ``b``'s nodes come after those of graphs ``1 .. b-1``, and a vector ``batch``
``(N,)`` that gives each node's graph (PyG's ``Batch`` convention). A message-passing layer then needs no
change: no edge joins two graphs, so no message crosses between them; a readout reduces over the nodes of
each graph (:mod:`seqgraph.graph.level.readout`).

:class:`GraphDataset` keeps every graph concatenated once: node features ``x`` ``(N_total, F)``, edges in
local node ids (``0 .. n_g - 1`` within their graph) ``(2, E_total)``, and the offsets ``node_ptr``,
``edge_ptr`` ``(G + 1,)``. Batching ``index`` then is a few gathers over these arrays, whatever the number
of graphs: no Python loop over graphs and no per-graph objects, unlike a collate function that builds the
union graph by graph (PyG's ``Batch.from_data_list``).
"""

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from ...errors import InputError
from ..data import Graph, degree
from ..sparse import CSR, Adjacency


@dataclass
class GraphBatch:
    """The disjoint union of ``num_graphs`` graphs: ``graph`` (features ``graph.x``), ``batch`` ``(N,)`` with each
    node's graph in ``0 .. num_graphs - 1``, the graphs' labels ``y`` ``(num_graphs,)``, and the edges as sparse
    matrices for the neighbour sum (``adjacency``, :mod:`seqgraph.graph.sparse`)."""

    graph: Graph
    batch: Tensor
    y: Tensor
    num_graphs: int
    adjacency: Adjacency

    def to(self, device: torch.device | str) -> "GraphBatch":
        return GraphBatch(self.graph.to(device), self.batch.to(device), self.y.to(device), self.num_graphs,
                          self.adjacency.to(device))

    @classmethod
    def from_pyg(cls, batch) -> "GraphBatch":
        """From a PyTorch Geometric ``Batch`` (its ``x``, ``edge_index``, ``batch`` vector and graph labels ``y``);
        PyG is not imported."""
        graph = Graph(batch.edge_index, batch.num_nodes, x=batch.x)
        return cls(graph, batch.batch, batch.y, batch.num_graphs, Adjacency(graph.edge_index, graph.num_nodes))

    def to_pyg(self):
        """The same graphs as a PyTorch Geometric ``Batch``, made by ``Batch.from_data_list`` from each graph on its
        own (node ids from 0), so that it can be split again with ``to_data_list``."""
        from torch_geometric.data import Batch, Data

        counts = torch.bincount(self.batch, minlength=self.num_graphs)  # nodes per graph   (B,)
        start = torch.cumsum(counts, 0) - counts
        owner = self.batch[self.graph.edge_index[0]]  # each edge's graph   (E,)
        graphs = []
        for b in range(self.num_graphs):
            edges = self.graph.edge_index[:, owner == b] - start[b]
            nodes = slice(int(start[b]), int(start[b] + counts[b]))
            graphs.append(Data(x=self.graph.x[nodes], edge_index=edges, y=self.y[b:b + 1], num_nodes=int(counts[b])))
        return Batch.from_data_list(graphs)


def ranges(start: Tensor, count: Tensor) -> tuple[Tensor, Tensor]:
    """Concatenated integer ranges ``[start_b, start_b + count_b)`` for every ``b``, vectorised.

    Returns ``(values, owner)``: ``values`` ``(Σ count,)`` and ``owner`` ``(Σ count,)``, the ``b`` each
    value came from.
    """
    owner = torch.repeat_interleave(torch.arange(count.numel(), device=count.device), count)
    first = torch.cumsum(count, 0) - count  # where each range starts in the output
    values = torch.arange(owner.numel(), device=count.device) - first[owner] + start[owner]
    return values, owner


@dataclass
class GraphDataset:
    """Graphs with one class label each, stored concatenated (see the module docstring).

    Each graph's edges are kept sorted by (target, source), and ``source_order`` lists them by (source, target),
    so that a batch gets both CSR forms of its adjacency matrix by gathers alone.

    Args:
        x: ``(N_total, F)`` node features of all graphs, graph by graph.
        edge_index: ``(2, E_total)`` edges in local node ids, graph by graph (row 0 source, row 1 target).
        node_ptr: ``(G + 1,)``: graph ``g``'s nodes are rows ``node_ptr[g] .. node_ptr[g + 1] - 1`` of ``x``.
        edge_ptr: ``(G + 1,)``: graph ``g``'s edges are columns ``edge_ptr[g] .. edge_ptr[g + 1] - 1``.
        y: ``(G,)`` class labels in ``0 .. C - 1``.
        name: the dataset's name.
        label_values: the original label of each class ``0 .. C - 1`` as it appears in the source files.
        features: how ``x`` was made, in words.
    """

    x: Tensor
    edge_index: Tensor
    node_ptr: Tensor
    edge_ptr: Tensor
    y: Tensor
    name: str = ""
    label_values: Sequence = ()
    features: str = ""

    def __post_init__(self):
        g = self.y.numel()
        if g == 0:
            raise InputError(f"dataset {self.name!r} holds no graphs")
        if self.node_ptr.shape != (g + 1,) or self.edge_ptr.shape != (g + 1,):
            raise InputError(f"node_ptr and edge_ptr must have shape ({g + 1},), "
                             f"got {tuple(self.node_ptr.shape)} and {tuple(self.edge_ptr.shape)}")
        if self.x.dim() != 2 or self.x.size(0) != int(self.node_ptr[-1]):
            raise InputError(f"x must have shape ({int(self.node_ptr[-1])}, F), got {tuple(self.x.shape)}")
        if self.edge_index.dim() != 2 or self.edge_index.size(0) != 2 or self.edge_index.size(1) != int(
                self.edge_ptr[-1]):
            raise InputError(f"edge_index must have shape (2, {int(self.edge_ptr[-1])}), "
                             f"got {tuple(self.edge_index.shape)}")
        sizes = (self.node_ptr[1:] - self.node_ptr[:-1]).repeat_interleave(self.edge_ptr[1:] - self.edge_ptr[:-1])
        if self.edge_index.numel() and bool(((self.edge_index < 0) | (self.edge_index >= sizes)).any()):
            raise InputError("edge_index holds a node id outside its own graph")
        # Sorting by global ids keeps every graph's edges in its own block (node ids increase graph by graph).
        n = max(int(self.node_ptr[-1]), 1)
        glob = self.edge_index + self.node_ptr[:-1].repeat_interleave(self.edge_ptr[1:] - self.edge_ptr[:-1])
        by_target = torch.argsort(glob[1] * n + glob[0])
        self.edge_index, glob = self.edge_index[:, by_target], glob[:, by_target]
        self.source_order = torch.argsort(glob[0] * n + glob[1])  # (E_total,)

    @classmethod
    def from_graphs(cls, graphs: Sequence[Graph], y: Sequence[int] | Tensor, **kwargs) -> "GraphDataset":
        """Concatenate a list of graphs (each with features ``x``) and their labels, once."""
        if not graphs:
            raise InputError("no graphs to make a dataset of")
        nodes = torch.tensor([g.num_nodes for g in graphs])
        edges = torch.tensor([g.num_edges for g in graphs])
        return cls(x=torch.cat([g.x for g in graphs]), edge_index=torch.cat([g.edge_index for g in graphs], dim=1),
                   node_ptr=torch.cat([nodes.new_zeros(1), nodes.cumsum(0)]),
                   edge_ptr=torch.cat([edges.new_zeros(1), edges.cumsum(0)]),
                   y=torch.as_tensor(y, dtype=torch.long), **kwargs)

    def __len__(self) -> int:
        return self.y.numel()

    @property
    def num_features(self) -> int:
        return self.x.size(1)

    @property
    def num_classes(self) -> int:
        return len(self.label_values) if self.label_values else int(self.y.max()) + 1

    @property
    def num_nodes(self) -> Tensor:
        """``(G,)`` the number of nodes of each graph."""
        return self.node_ptr[1:] - self.node_ptr[:-1]

    @property
    def num_edges(self) -> Tensor:
        """``(G,)`` the number of (directed) edges of each graph."""
        return self.edge_ptr[1:] - self.edge_ptr[:-1]

    def degrees(self) -> Tensor:
        """``(N_total,)`` every node's in-degree within its graph."""
        owner = torch.repeat_interleave(torch.arange(len(self)), self.num_edges)
        return degree(self.edge_index[1] + self.node_ptr[owner], self.x.size(0), torch.long)

    def with_features(self, x: Tensor, features: str) -> "GraphDataset":
        return dataclasses.replace(self, x=x, features=features)

    def graph(self, i: int) -> Graph:
        """Graph ``i`` on its own."""
        nodes = slice(int(self.node_ptr[i]), int(self.node_ptr[i + 1]))
        edges = slice(int(self.edge_ptr[i]), int(self.edge_ptr[i + 1]))
        return Graph(self.edge_index[:, edges], nodes.stop - nodes.start, x=self.x[nodes])

    def batch(self, index: Sequence[int] | Tensor) -> GraphBatch:
        """The disjoint union of the graphs ``index`` (in that order), by gathers over the stored arrays."""
        index = torch.as_tensor(index, dtype=torch.long)
        counts = self.num_nodes[index]  # (B,)
        node_ids, batch = ranges(self.node_ptr[index], counts)  # rows of x, and their graph in the batch
        edge_ids, edge_owner = ranges(self.edge_ptr[index], self.num_edges[index])
        offset = torch.cumsum(counts, 0) - counts  # where each graph's nodes start in the union
        edge_index = self.edge_index[:, edge_ids] + offset[edge_owner]  # local ids -> ids in the union
        # source_order permutes edges within each graph's block, so edge_owner still applies
        by_source = self.edge_index[:, self.source_order[edge_ids]] + offset[edge_owner]
        graph = Graph(edge_index, node_ids.numel(), x=self.x[node_ids])
        n = graph.num_nodes
        adjacency = Adjacency(edge_index, n, by_target=CSR.from_sorted(edge_index[1], edge_index[0], n),
                              by_source=CSR.from_sorted(by_source[0], by_source[1], n))
        return GraphBatch(graph, batch, self.y[index], index.numel(), adjacency)


def minibatches(dataset: GraphDataset, index: Sequence[int] | Tensor, batch_size: int,
                generator: torch.Generator | None = None, shuffle: bool = True) -> Iterator[GraphBatch]:
    """Mini-batches over the graphs ``index``: shuffled with ``generator`` (seeded by the caller) if ``shuffle``,
    cut into consecutive batches of ``batch_size`` (the last one may be smaller)."""
    if batch_size < 1:
        raise InputError(f"batch_size must be a positive integer, got {batch_size}")
    index = torch.as_tensor(index, dtype=torch.long)
    if shuffle:
        index = index[torch.randperm(index.numel(), generator=generator)]
    for start in range(0, index.numel(), batch_size):
        yield dataset.batch(index[start:start + batch_size])
