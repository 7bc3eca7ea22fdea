r"""The one sparse matrix type of the graph layers, and the one sparse product.

A graph's edges ``j -> i`` (``edge_index`` row 0 the source ``j``, row 1 the target ``i``) are the non-zeros
:math:`A_{ij}` of its adjacency matrix. :class:`CSR` stores them grouped by target: row ``i`` lists the sources
of node ``i``'s in-edges (PyG's ``adj_t``), optionally with a weight each. The neighbour sum of every message
passing layer is then one sparse-dense product,

.. math::
    \mathrm{out}_i = \sum_{j \to i} w_{ij} h_j, \qquad \mathrm{out} = A h, \qquad
    \frac{\partial L}{\partial h} = A^T \frac{\partial L}{\partial \mathrm{out}},

whose backward is the product with the transpose: the same edges grouped by source. :func:`propagate` computes
it without ever building the ``(E, F)`` tensor of messages that a gather of ``h_j`` followed by ``index_add_``
would (that took 24 s against 9.5 s for sorting the edges into CSR and multiplying, at 1M nodes, 10M edges and
64 features on one thread: ``benchmarks/graph_scale.py --propagate``).

An :class:`Adjacency` holds the edge list and both orders; the transpose is sorted only when backward first needs
it, or given up front where it comes for free (a batch of TU graphs keeps its edges sorted both ways once:
:meth:`seqgraph.graph.level.batch.GraphDataset.batch`). Mini-batch training and the memory-mapped graph store
use :class:`CSR` directly, as an index of in-neighbours for sampling (:mod:`seqgraph.graph.scale.sampler`).
"""

import functools
import warnings
from dataclasses import dataclass

import torch
from torch import Tensor


def csr_tensor(indptr: Tensor, indices: Tensor, values: Tensor, shape: tuple[int, int]) -> Tensor:
    """A ``torch.sparse_csr_tensor`` of the given parts, unchecked (every caller builds valid ones)."""
    with warnings.catch_warnings():  # torch calls its (well-tested) CSR support beta on first use
        warnings.filterwarnings("ignore", "Sparse CSR tensor support is in beta", UserWarning)
        return torch.sparse_csr_tensor(indptr, indices, values, shape, check_invariants=False)


@dataclass
class CSR:
    """Edges grouped by target: the sources ``j`` of node ``i``'s edges ``j -> i`` are
    ``indices[indptr[i]:indptr[i + 1]]`` and their weights the same slice of ``values`` (None: every weight 1).

    Args:
        indptr: ``(N + 1,)`` int64, non-decreasing, ``indptr[0] = 0``, ``indptr[N] = E``.
        indices: ``(E,)`` int32 or int64 source ids (may be a memory-mapped array's tensor).
        values: ``(E,)`` float weights, or None.
    """

    indptr: Tensor
    indices: Tensor
    values: Tensor | None = None

    @classmethod
    def from_edge_index(cls, edge_index: Tensor, num_nodes: int, weight: Tensor | None = None) -> "CSR":
        """From COO ``(2, E)`` edges in any order (and their weights ``(E,)``); a row keeps its edges in the
        order given. Self-loops and repeated edges are kept as they are."""
        src, dst = edge_index
        order = dst.argsort(stable=True)
        counts = torch.bincount(dst, minlength=num_nodes)
        return cls(torch.cat([counts.new_zeros(1), counts.cumsum(0)]), src[order],
                   None if weight is None else weight[order])

    @classmethod
    def from_sorted(cls, rows: Tensor, cols: Tensor, num_nodes: int) -> "CSR":
        """From the entries ``(rows[k], cols[k])``, already sorted by row."""
        return cls(torch.cat([rows.new_zeros(1), torch.bincount(rows, minlength=num_nodes).cumsum(0)]), cols)

    @property
    def num_nodes(self) -> int:
        return self.indptr.numel() - 1

    @property
    def num_edges(self) -> int:
        return self.indices.numel()

    def degree(self) -> Tensor:
        """In-degree of every node ``(N,)`` int64 (repeated edges counted)."""
        return self.indptr[1:] - self.indptr[:-1]

    def edge_index(self) -> Tensor:
        """The COO ``(2, E)`` form, sorted by target."""
        dst = torch.repeat_interleave(torch.arange(self.num_nodes, device=self.indptr.device), self.degree())
        return torch.stack([self.indices.long(), dst])

    def matrix(self, dtype: torch.dtype) -> Tensor:
        """The ``(N, N)`` torch sparse CSR matrix A of ``dtype`` (row ``i``: the in-edges of ``i``)."""
        values = (torch.ones(self.num_edges, dtype=dtype, device=self.indices.device) if self.values is None
                  else self.values.to(dtype))
        return csr_tensor(self.indptr, self.indices, values, (self.num_nodes, self.num_nodes))

    def to(self, device: torch.device | str) -> "CSR":
        return CSR(*(None if t is None else t.to(device) for t in (self.indptr, self.indices, self.values)))


class Adjacency:
    """A graph's edges ready for :func:`propagate`: the edge list, A by target and A^T (by source).

    Args:
        edge_index: ``(2, E)`` edges ``j -> i`` in any order.
        num_nodes: ``N``.
        weight: ``(E,)`` edge weights ``w_ij`` (None: 1).
        by_target, by_source: the CSR of A and of A^T when the caller has them (else sorted here, A^T only when
            first needed).
    """

    def __init__(self, edge_index: Tensor, num_nodes: int, weight: Tensor | None = None,
                 by_target: CSR | None = None, by_source: CSR | None = None):
        self.edge_index, self.num_nodes, self.weight = edge_index, num_nodes, weight
        self.by_target = by_target or CSR.from_edge_index(edge_index, num_nodes, weight)
        if by_source is not None:
            self._pair(Adjacency(edge_index.flip(0), num_nodes, weight, by_source))

    @functools.cached_property
    def transpose(self) -> "Adjacency":
        """A^T: every edge reversed (the backward of a product with A)."""
        return self._pair(Adjacency(self.edge_index.flip(0), self.num_nodes, self.weight))

    def _pair(self, transpose: "Adjacency") -> "Adjacency":
        self.__dict__["transpose"], transpose.__dict__["transpose"] = transpose, self
        return transpose

    def propagate(self, h: Tensor) -> Tensor:
        """``out_i = Σ_{j -> i} w_ij h_j`` for ``h`` ``(N, F)``."""
        return _SparseProduct.apply(h, self)

    def to(self, device: torch.device | str) -> "Adjacency":
        transpose = self.__dict__.get("transpose")  # moved if sorted already, else sorted where it is needed
        return Adjacency(self.edge_index.to(device), self.num_nodes,
                         None if self.weight is None else self.weight.to(device), self.by_target.to(device),
                         None if transpose is None else transpose.by_target.to(device))


class _SparseProduct(torch.autograd.Function):
    @staticmethod
    def forward(ctx, h: Tensor, adjacency: Adjacency) -> Tensor:
        ctx.adjacency = adjacency
        return adjacency.by_target.matrix(h.dtype) @ h  # Σ_{j -> i} w_ij h_j, row by row   (N, F)

    @staticmethod
    def backward(ctx, grad: Tensor):
        return _SparseProduct.apply(grad, ctx.adjacency.transpose), None  # d(A h)/dh = A^T


def propagate(h: Tensor, edges: Tensor | Adjacency, weight: Tensor | None = None) -> Tensor:
    """``out_i = Σ_{edges j -> i} w_ij h_j``, the sparse product A h, for features ``h`` ``(N, F)`` and
    ``edges`` an ``(2, E)`` edge list (with ``weight`` ``(E,)`` or unweighted) or an :class:`Adjacency`."""
    adjacency = edges if isinstance(edges, Adjacency) else Adjacency(edges, h.size(0), weight)
    return adjacency.propagate(h)
