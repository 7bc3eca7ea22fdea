"""The edge split of link prediction: held-out edges and non-edges that cannot leak into training.

:func:`split_edges` works on undirected pairs ``u < v``, so both directions of an edge land in the same split;
the encoder sees the training edges only. Validation and test negatives are pairs that are no edge of the whole
graph, never self-loops, distinct from each other, one per positive. Fresh training negatives are drawn every
epoch (:func:`sample_negatives`) among the pairs that are neither training edges nor held out: every held-out pair
(positive and negative alike, so excluding them reveals no label) stays unseen by training.
"""

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from ...errors import InputError
from ..data import Graph, remove_self_loops, to_undirected


@dataclass
class EdgeSplit:
    """Undirected pairs ``(2, M)`` with ``u < v`` per split, and the message-passing graph of training edges.

    ``train_edge_index`` holds both directions of ``train_pos`` (what the encoder sees).
    """

    num_nodes: int
    train_pos: Tensor
    val_pos: Tensor
    val_neg: Tensor
    test_pos: Tensor
    test_neg: Tensor

    @property
    def train_edge_index(self) -> Tensor:
        return torch.cat([self.train_pos, self.train_pos.flip(0)], dim=1)  # (2, 2 M_train)

    def held_out(self) -> Tensor:
        """Every validation and test pair, positive or negative, ``(2, M)``."""
        return torch.cat([self.val_pos, self.val_neg, self.test_pos, self.test_neg], dim=1)


def undirected_pairs(edge_index: Tensor, num_nodes: int) -> Tensor:
    """Each undirected edge once as ``(u, v)`` with ``u < v``, sorted; self-loops dropped. ``(2, M)``."""
    edges = to_undirected(remove_self_loops(edge_index), num_nodes)
    return edges[:, edges[0] < edges[1]]


def pair_keys(pairs: Tensor, num_nodes: int) -> Tensor:
    """A unique integer per unordered pair: ``min * N + max``. ``(2, M) -> (M,)``."""
    return pairs.min(0).values * num_nodes + pairs.max(0).values


def sample_negatives(num: int, num_nodes: int, forbidden: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """``num`` distinct unordered pairs ``(u, v)``, ``u < v``, uniformly among those whose key is not in
    ``forbidden`` (see :func:`pair_keys`). ``(2, num)``.

    Rejection sampling: Cora has 3.7 million pairs and 5,278 edges, so almost every draw is accepted.
    """
    forbidden = torch.unique(forbidden)
    available = num_nodes * (num_nodes - 1) // 2 - forbidden.numel()
    if num > available:
        raise InputError(f"asked for {num} negative pairs, but only {available} pairs are free")
    chosen = forbidden.new_empty(0)
    while chosen.numel() < num:
        need = num - chosen.numel()
        u, v = torch.randint(num_nodes, (2, 2 * need + 16), generator=generator)
        keep = u != v  # no self-loops
        keys = torch.minimum(u, v)[keep] * num_nodes + torch.maximum(u, v)[keep]
        keys = keys[~torch.isin(keys, forbidden) & ~torch.isin(keys, chosen)].unique()
        # unique() sorts: shuffle before taking a prefix, or small node ids would be favoured
        keys = keys[torch.randperm(keys.numel(), generator=generator)[:need]]
        chosen = torch.cat([chosen, keys])
    return torch.stack([chosen // num_nodes, chosen % num_nodes])


def split_edges(graph: Graph, val_fraction: float = 0.05, test_fraction: float = 0.10,
                seed: int = 0) -> EdgeSplit:
    """Hold out ``floor(fraction * M)`` of the ``M`` undirected edges for validation and test (Kipf's 5/10 %),
    with as many negative pairs each; seeded by ``seed``.
    """
    if not (0 <= val_fraction and 0 <= test_fraction and val_fraction + test_fraction < 1):
        raise InputError(f"validation and test fractions must be >= 0 and sum to less than 1, "
                         f"got {val_fraction} and {test_fraction}")
    n = graph.num_nodes
    pairs = undirected_pairs(graph.edge_index, n)  # (2, M)
    m = pairs.size(1)
    num_val, num_test = math.floor(val_fraction * m), math.floor(test_fraction * m)
    if num_val + num_test >= m:
        raise InputError(f"the graph has {m} edges: too few to hold out {num_val} + {num_test}")
    generator = torch.Generator().manual_seed(seed)
    pairs = pairs[:, torch.randperm(m, generator=generator)]
    val_pos, test_pos, train_pos = pairs.split([num_val, num_test, m - num_val - num_test], dim=1)
    # negatives: no edge of the whole graph (any split), distinct across val and test
    negatives = sample_negatives(num_val + num_test, n, pair_keys(pairs, n), generator)
    val_neg, test_neg = negatives.split([num_val, num_test], dim=1)
    return EdgeSplit(n, train_pos, val_pos, val_neg, test_pos, test_neg)
