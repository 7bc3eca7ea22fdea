"""The neighbour sum ``out_i = Σ_{j -> i} h_j`` as a sparse matrix product, for batches of many small graphs.

:func:`seqgraph.graph.layers.propagate` gathers one message per edge (an ``(E, F)`` tensor) and adds them into
their targets. When the edges come sorted by target, the same sum is ``A h`` with ``A`` in compressed sparse row
form (row ``i`` lists the sources of node ``i``'s in-edges: PyG's ``adj_t``), one sparse-dense product without
the ``(E, F)`` intermediate; backward is ``A^T g``, the product with the rows listed by source. A batch of TU
graphs gets both orders almost for free (:meth:`seqgraph.graph.batch.GraphDataset.batch`), since the dataset
keeps its edges sorted once.
"""

import warnings
from typing import NamedTuple

import torch
from torch import Tensor


def csr(rows: Tensor, cols: Tensor, num_nodes: int) -> Tensor:
    """The 0/1 ``(N, N)`` CSR matrix with an entry at each ``(rows[k], cols[k])``; ``rows`` must be sorted."""
    crow = torch.zeros(num_nodes + 1, dtype=torch.long, device=rows.device)
    crow[1:] = torch.bincount(rows, minlength=num_nodes).cumsum(0)
    with warnings.catch_warnings():  # torch marks CSR as beta on first use; the products used here are stable
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(crow, cols, torch.ones(cols.numel(), device=rows.device),
                                       (num_nodes, num_nodes), check_invariants=False)


class SparseAdjacency(NamedTuple):
    """A graph's edges three ways: ``edge_index`` ``(2, E)`` (for layers that want a list), ``adj_t`` (CSR, row
    ``i`` = the sources of edges into ``i``) and ``adj`` (CSR, row ``j`` = the targets of edges out of ``j``)."""

    edge_index: Tensor
    adj_t: Tensor
    adj: Tensor

    @classmethod
    def from_edge_index(cls, edge_index: Tensor, num_nodes: int) -> "SparseAdjacency":
        """From edges in any order (sorted here both ways)."""
        by_target = edge_index[:, torch.argsort(edge_index[1] * num_nodes + edge_index[0])]
        by_source = edge_index[:, torch.argsort(edge_index[0] * num_nodes + edge_index[1])]
        return cls.from_sorted(by_target, by_source, num_nodes)

    @classmethod
    def from_sorted(cls, edge_index: Tensor, edge_index_by_source: Tensor, num_nodes: int) -> "SparseAdjacency":
        """From the same edges sorted by (target, source) and by (source, target)."""
        return cls(edge_index, csr(edge_index[1], edge_index[0], num_nodes),
                   csr(edge_index_by_source[0], edge_index_by_source[1], num_nodes))

    def propagate(self, h: Tensor) -> Tensor:
        """``out_i = Σ_{j -> i} h_j`` for ``h`` ``(N, F)``."""
        return _SpMM.apply(h, self.adj_t, self.adj)

    def to(self, device: torch.device | str) -> "SparseAdjacency":
        return SparseAdjacency(*(t.to(device) for t in self))


class _SpMM(torch.autograd.Function):
    @staticmethod
    def forward(ctx, h: Tensor, adj_t: Tensor, adj: Tensor) -> Tensor:
        ctx.adj = adj
        return adj_t @ h  # (N, F)

    @staticmethod
    def backward(ctx, grad: Tensor):
        return ctx.adj @ grad, None, None  # d(A h)/dh = A^T
