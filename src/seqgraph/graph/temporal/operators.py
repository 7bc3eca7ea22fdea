r"""The graph operators of the recurrent graph models, built once per graph, and their product with a batch.

A sensor graph is a weighted adjacency :math:`W` (``N x N``), :math:`W_{ij}` the weight of the edge from node ``i``
to node ``j`` (the layout of DCRNN's ``adj_mx``; a symmetric ``W`` for an undirected graph). Each model multiplies
its signal by a fixed matrix :math:`M` built from :math:`W`:

- DCRNN's random walks (Li et al. 2018, eq. 2): forward :math:`P_f = D_O^{-1} W` and reverse
  :math:`P_b = D_I^{-1} W^T`, with :math:`D_O = \mathrm{diag}(W \mathbf 1)` and :math:`D_I = \mathrm{diag}(W^T
  \mathbf 1)` the out- and in-degrees (:func:`random_walks`);
- Chebyshev's rescaled Laplacian (Defferrard et al. 2016, used by Seo et al. 2018):
  :math:`\hat L = 2 L / \lambda_{max} - I` with :math:`L = I - D^{-1/2} W D^{-1/2}` and :math:`\lambda_{max} = 2`,
  so :math:`\hat L = -D^{-1/2} W D^{-1/2}` (self-loops removed first, as PyG's ``ChebConv``: :func:`scaled_laplacian`);
- GCN's :math:`\hat A = \tilde D^{-1/2} (W + I) \tilde D^{-1/2}` (Kipf & Welling 2017, as T-GCN uses it:
  :func:`gcn_operator`).

Each is an :class:`~seqgraph.graph.sparse.Adjacency` holding :math:`M` as weighted edges, so :func:`product`
computes :math:`M X` with the one sparse product of the graph layers (backward: :math:`M^T`). The recurrent models
keep their signals node-major, ``(N, B, F)``: then a batch is one ``(N, B F)`` matrix, every sample's columns side by
side, and :math:`M X` for the whole batch is one sparse product per time step with no copy before or after it,
however many windows the batch holds. A batch whose samples each have their own graph (a graph per day) uses the
block-diagonal operator of those graphs, its rows interleaved to match that layout (:func:`block_diagonal`): again
one product.
"""

import torch
from torch import Tensor

from ..sparse import Adjacency, propagate


def matrix(rows: Tensor, cols: Tensor, values: Tensor, num_nodes: int) -> Adjacency:
    """The ``N x N`` matrix :math:`M` with :math:`M_{rows[k], cols[k]} = values[k]` (repeats summed), for products
    :math:`(M x)_i = \\sum_j M_{ij} x_j`: entry ``(i, j)`` is the edge ``j -> i`` carrying :math:`x_j` into ``i``."""
    return Adjacency(torch.stack([cols, rows]), num_nodes, values)


def _inverse(degree: Tensor) -> Tensor:
    """``1 / degree``, 0 where the degree is 0 (a node without edges keeps a zero row)."""
    return torch.where(degree > 0, 1.0 / degree.clamp(min=torch.finfo(degree.dtype).tiny), 0.0)


def random_walks(edge_index: Tensor, weight: Tensor, num_nodes: int) -> tuple[Adjacency, Adjacency]:
    """DCRNN's forward and reverse random-walk matrices :math:`(D_O^{-1} W, D_I^{-1} W^T)` of the weighted edges
    ``i -> j`` (``edge_index`` row 0 ``i``, row 1 ``j``, weight :math:`W_{ij}`)."""
    i, j = edge_index
    out_degree = torch.zeros(num_nodes, dtype=weight.dtype).index_add_(0, i, weight)  # D_O = W 1
    in_degree = torch.zeros(num_nodes, dtype=weight.dtype).index_add_(0, j, weight)  # D_I = W^T 1
    forward = matrix(i, j, weight * _inverse(out_degree)[i], num_nodes)  # (D_O^-1 W)_ij = W_ij / d_out(i)
    reverse = matrix(j, i, weight * _inverse(in_degree)[j], num_nodes)  # (D_I^-1 W^T)_ji = W_ij / d_in(j)
    return forward, reverse


def scaled_laplacian(edge_index: Tensor, weight: Tensor, num_nodes: int) -> Adjacency:
    """:math:`\\hat L = -D^{-1/2} W D^{-1/2}` of the weighted edges without their self-loops, :math:`D` the
    weighted out-degree (PyG's ``ChebConv`` with ``normalization="sym"`` and :math:`\\lambda_{max} = 2`)."""
    keep = edge_index[0] != edge_index[1]
    (i, j), weight = edge_index[:, keep], weight[keep]
    d = _inverse(torch.zeros(num_nodes, dtype=weight.dtype).index_add_(0, i, weight)).sqrt()  # D^-1/2
    return matrix(i, j, -d[i] * weight * d[j], num_nodes)


def gcn_operator(edge_index: Tensor, weight: Tensor, num_nodes: int) -> Adjacency:
    """:math:`\\hat A = \\tilde D^{-1/2} (W + I) \\tilde D^{-1/2}`, :math:`\\tilde D` the row sums of :math:`W + I`
    (existing self-loops are replaced by weight 1, as GCN's :math:`\\tilde A = A + I`)."""
    keep = edge_index[0] != edge_index[1]
    loops = torch.arange(num_nodes)
    i = torch.cat([edge_index[0, keep], loops])
    j = torch.cat([edge_index[1, keep], loops])
    weight = torch.cat([weight[keep], torch.ones(num_nodes, dtype=weight.dtype)])
    d = _inverse(torch.zeros(num_nodes, dtype=weight.dtype).index_add_(0, i, weight)).sqrt()  # D~^-1/2
    return matrix(i, j, d[i] * weight * d[j], num_nodes)


def block_diagonal(operators: list[Adjacency]) -> Adjacency:
    """One operator for a batch whose sample ``b`` has its own graph ``operators[b]`` (all of ``N`` nodes): node
    ``i`` of sample ``b`` is row ``i B + b``, the order of a node-major ``(N, B, F)`` batch."""
    count = len(operators)
    edges = torch.cat([op.edge_index * count + b for b, op in enumerate(operators)], dim=1)
    return Adjacency(edges, operators[0].num_nodes * count, torch.cat([op.weight for op in operators]))


def product(operator: Adjacency, x: Tensor) -> Tensor:
    """:math:`M X` for every sample (and every time step) of the node-major ``x`` ``(N, B, F)`` or ``(N, B, T, F)``:
    one sparse product for all of them. ``operator`` is an ``N``-node matrix shared by the samples, or a
    block-diagonal one of ``N B`` rows (:func:`block_diagonal`: a graph per sample, the same for all its steps)."""
    rows = operator.num_nodes
    return propagate(x.reshape(rows, -1), operator).view(x.shape)
