"""The report's worked example: a 6-node graph, its Ã and Â, and how far a GCN sees per layer.

Graph (SPEC Part 3): nodes A-F, undirected edges A-B, A-E, B-D, C-D, D-F. A GCN layer mixes each node with
its direct neighbours, so a signal starting at C needs one layer per hop of the shortest path C-D-B-A-E:
E first receives it after exactly 4 updates.

Report §3.1: two nodes with the same closed neighbourhood (themselves plus their neighbours) get the same
output from a GCN layer whatever their features, since Σ over the same set with the same weights is the
same sum. Weighting the self-connection differently (Ã = A + 2I, ``GCNConv(improved=True)``) separates them.
"""

import torch
from torch import Tensor

from .data import Graph, normalized_adjacency, to_undirected
from .layers import GCNConv

NODES = "ABCDEF"
EDGES = (("A", "B"), ("A", "E"), ("B", "D"), ("C", "D"), ("D", "F"))


def report_graph() -> Graph:
    """The report's graph, both directions of every edge."""
    pairs = torch.tensor([[NODES.index(u), NODES.index(v)] for u, v in EDGES]).t()  # (2, 5)
    return Graph(to_undirected(pairs, len(NODES)), len(NODES))


def to_dense(edge_index: Tensor, weight: Tensor, num_nodes: int) -> Tensor:
    """The ``(N, N)`` matrix M with M[target, source] = weight, duplicates summed. For tiny graphs only."""
    return torch.zeros(num_nodes, num_nodes, dtype=weight.dtype).index_put_(
        (edge_index[1], edge_index[0]), weight, accumulate=True)


def a_tilde(graph: Graph) -> Tensor:
    """Ã = A + I as a dense matrix (SPEC eq. 45)."""
    edges = graph.add_self_loops().edge_index
    return to_dense(edges, torch.ones(edges.size(1), dtype=torch.float64), graph.num_nodes)


def a_hat(graph: Graph) -> Tensor:
    """Â = D̃^-1/2 Ã D̃^-1/2 as a dense matrix (SPEC eq. 47), in float64."""
    edges, weight = normalized_adjacency(graph.edge_index, graph.num_nodes, dtype=torch.float64)
    return to_dense(edges, weight, graph.num_nodes)


def spread_signal(graph: Graph, source: str, steps: int) -> list[Tensor]:
    """A one-hot signal on ``source`` after 0, 1, ..., ``steps`` GCN updates h <- ReLU(Â h W) with W = [1]."""
    conv = GCNConv(1, 1, bias=False).double()
    with torch.no_grad():
        conv.lin.weight.fill_(1.0)
        h = torch.zeros(graph.num_nodes, 1, dtype=torch.float64)
        h[NODES.index(source)] = 1.0
        signals = [h[:, 0]]
        for _ in range(steps):
            h = conv(h, graph.edge_index).relu()  # (N, 1)
            signals.append(h[:, 0])
    return signals


def first_arrival(graph: Graph, source: str, target: str, max_steps: int = 10) -> int | None:
    """The number of GCN updates after which ``target`` first holds a non-zero share of ``source``'s signal."""
    for step, h in enumerate(spread_signal(graph, source, max_steps)):
        if h[NODES.index(target)] != 0:
            return step
    return None


def same_neighbourhood_demo(seed: int = 0, in_channels: int = 3, out_channels: int = 2) -> dict:
    """§3.1 on the 4-node graph 0-1, 0-2, 1-2, 2-3, where nodes 0 and 1 share the closed neighbourhood {0, 1, 2}.

    With random, different features on 0 and 1 and a random GCN layer, returns the features and both layers'
    outputs: the plain GCN (Ã = A + I) maps 0 and 1 to the same row, the self-weighted one (A + 2I) does not.
    """
    generator = torch.Generator().manual_seed(seed)
    edge_index = to_undirected(torch.tensor([[0, 0, 1, 2], [1, 2, 2, 3]]), 4)
    x = torch.randn(4, in_channels, generator=generator, dtype=torch.float64)
    plain = GCNConv(in_channels, out_channels).double()
    with torch.no_grad():
        plain.lin.weight.copy_(torch.randn(out_channels, in_channels, generator=generator, dtype=torch.float64))
        improved = GCNConv(in_channels, out_channels, improved=True).double()
        improved.load_state_dict(plain.state_dict())
        return {"edge_index": edge_index, "x": x, "gcn": plain(x, edge_index),
                "gcn_self_weight_2": improved(x, edge_index)}
