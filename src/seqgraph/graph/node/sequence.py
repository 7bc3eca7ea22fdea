r"""Graphs as sequences (report §3.4): classify a node with an LSTM reading a BFS or DFS ordering of its
k-hop neighbourhood.

The k-hop neighbourhood of ``root`` is every node at most ``hops`` edges away. :func:`bfs_order` lists it by
distance (root first, then its neighbours, then theirs); :func:`dfs_order` in depth-first preorder of the
neighbourhood's own edges. Both visit neighbours in ascending id, so an order is a fixed function of the
graph, and both stop after ``max_len`` nodes. As the report says, either imposes an order that the graph
does not have; the comparison with GCN, GAT and GraphSAGE measures what that costs.
"""

from collections import deque

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...errors import InputError
from ...recurrent import LSTM, last_states
from ..conv.inits import glorot_
from ..data import feature_dropout, remove_self_loops, to_undirected

ORDERS = ("bfs", "dfs")


def adjacency_lists(edge_index: Tensor, num_nodes: int) -> list[list[int]]:
    """Undirected neighbours of every node, ascending, without self-loops."""
    src, dst = to_undirected(remove_self_loops(edge_index), num_nodes).tolist()  # sorted by (target, source)
    neighbours = [[] for _ in range(num_nodes)]
    for j, i in zip(src, dst, strict=True):
        neighbours[i].append(j)
    return neighbours


def bfs_order(neighbours: list[list[int]], root: int, hops: int, max_len: int) -> list[int]:
    """Breadth-first order of the ``hops``-hop neighbourhood of ``root``, at most ``max_len`` nodes."""
    order, seen, queue = [root], {root}, deque([(root, 0)])
    while queue and len(order) < max_len:
        node, depth = queue.popleft()
        if depth == hops:
            continue
        for j in neighbours[node]:
            if j not in seen and len(order) < max_len:
                seen.add(j)
                order.append(j)
                queue.append((j, depth + 1))
    return order


def dfs_order(neighbours: list[list[int]], root: int, hops: int, max_len: int) -> list[int]:
    """Depth-first preorder of the ``hops``-hop neighbourhood of ``root`` (the subgraph it induces, so every
    node within ``hops`` is reached however deep the search path), at most ``max_len`` nodes.
    """
    ball = set(bfs_order(neighbours, root, hops, len(neighbours)))
    order, seen, stack = [], set(), [root]
    while stack and len(order) < max_len:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        order.append(node)
        # reversed, so that the smallest neighbour is popped (visited) first
        stack.extend(j for j in reversed(neighbours[node]) if j in ball and j not in seen)
    return order


def neighbourhood_sequences(edge_index: Tensor, num_nodes: int, order: str = "bfs", hops: int = 2,
                            max_len: int = 32) -> tuple[Tensor, Tensor]:
    """Every node's ordering as a padded matrix: ``index`` ``(N, L)`` (``-1`` after the end) and ``lengths``."""
    if order not in ORDERS:
        raise InputError(f"order must be one of {', '.join(ORDERS)}, got {order!r}")
    visit = bfs_order if order == "bfs" else dfs_order
    neighbours = adjacency_lists(edge_index, num_nodes)
    orders = [visit(neighbours, root, hops, max_len) for root in range(num_nodes)]
    lengths = torch.tensor([len(o) for o in orders], dtype=torch.long)
    index = torch.full((num_nodes, int(lengths.max()) if num_nodes else 0), -1, dtype=torch.long)
    for root, o in enumerate(orders):
        index[root, : len(o)] = torch.tensor(o)
    return index, lengths


class NeighbourhoodLSTM(nn.Module):
    r"""An LSTM that classifies node ``i`` from the ordering :math:`v_1 = i, v_2, \dots, v_n` of its k-hop
    neighbourhood.

    .. math::
        u_j = P x_j, \qquad h(t) = \mathrm{LSTM}(u_{v_{n+1-t}}, h(t-1)), \qquad \hat y_i = W_{out} h(n) + b

    The LSTM reads the ordering backwards, so the node itself comes last and its own features are the
    freshest in :math:`h(n)`; with a BFS order the farthest nodes come first (:func:`last_states` pads and
    buckets the sequences; padding changes nothing). The orderings are computed on the first call and
    cached: one model serves one fixed graph.

    Args:
        in_channels: :math:`F`, input features per node.
        hidden_channels: size of :math:`u_j` and of the LSTM state.
        out_channels: number of classes.
        order: ``bfs`` or ``dfs``.
        hops: radius of the neighbourhood.
        max_len: longest ordering read (truncated after that many nodes).
        dropout: on the input features and on :math:`h(n)`.

    Shapes: x :math:`(N, F)` dense or sparse CSR, edge_index :math:`(2, E)` -> logits :math:`(N, C)`.
    """

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int, order: str = "bfs",
                 hops: int = 2, max_len: int = 32, dropout: float = 0.5):
        super().__init__()
        if order not in ORDERS:
            raise InputError(f"NeighbourhoodLSTM order must be one of {', '.join(ORDERS)}, got {order!r}")
        if hops < 1 or max_len < 1:
            raise InputError(f"NeighbourhoodLSTM needs hops >= 1 and max_len >= 1, got {hops}, {max_len}")
        self.order, self.hops, self.max_len, self.dropout = order, hops, max_len, dropout
        self.lin_proj = nn.Linear(in_channels, hidden_channels, bias=False)  # P
        self.lstm = LSTM(hidden_channels, hidden_channels)
        self.lin_out = nn.Linear(hidden_channels, out_channels)  # W_out, b
        self._cache: tuple[Tensor, Tensor] | None = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        glorot_(self.lin_proj.weight)
        self.lstm.reset_parameters()
        self.lin_out.reset_parameters()
        self._cache = None

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        if self._cache is None:
            index, lengths = neighbourhood_sequences(edge_index.cpu(), x.size(0), self.order, self.hops, self.max_len)
            self._cache = (reverse_within_length(index, lengths).to(x.device), lengths.to(x.device))
        index, lengths = self._cache  # (N, L) node ids read backwards, -1 after the end; (N,)
        u = feature_dropout(x, self.dropout, self.training) @ self.lin_proj.weight.t()  # u_j = P x_j   (N, H)
        h = last_states(self.lstm, u, index, lengths)  # h(n), at each node's own length   (N, H)
        return self.lin_out(F.dropout(h, self.dropout, self.training))  # (N, C)


def reverse_within_length(index: Tensor, lengths: Tensor) -> Tensor:
    """Each row's first ``lengths[i]`` entries reversed, the padding left where it is. ``(N, L)``."""
    positions = torch.arange(index.size(1))  # (L,)
    source = lengths[:, None] - 1 - positions  # (N, L)
    return torch.where(source >= 0, index.gather(1, source.clamp(min=0)), index)
