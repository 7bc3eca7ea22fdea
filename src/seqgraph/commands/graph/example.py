"""`seqgraph graph example`: the report's 6-node graph, Ã and Â, a signal spreading from C to E, and §3.1.

Graph (the report's Part 3): nodes A-F, undirected edges A-B, A-E, B-D, C-D, D-F. A GCN layer mixes each node
with its direct neighbours, so a signal starting at C needs one layer per hop of the shortest path C-D-B-A-E:
E first receives it after exactly 4 updates.

Report §3.1: two nodes with the same closed neighbourhood (themselves plus their neighbours) get the same
output from a GCN layer whatever their features, since Σ over the same set with the same weights is the
same sum. Weighting the self-connection differently (Ã = A + 2I, ``GCNConv(improved=True)``) separates them.
"""

from typing import TypedDict

import torch
from torch import Tensor

from ...graph.conv.gcn import GCNConv
from ...graph.data import Graph, normalized_adjacency, to_undirected
from ..flags import bounded_int, seed_value
from ..options import add_json_option
from ..output import print_json

MAX_EXAMPLE_STEPS = 1000  # each one printed
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
    """Ã = A + I as a dense matrix (eq. 45)."""
    edges = graph.add_self_loops().edge_index
    return to_dense(edges, torch.ones(edges.size(1), dtype=torch.float64), graph.num_nodes)


def a_hat(graph: Graph) -> Tensor:
    """Â = D̃^-1/2 Ã D̃^-1/2 as a dense matrix (eq. 47), in float64."""
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


class ExampleResults(TypedDict):
    """What ``graph example --json`` prints."""

    nodes: list[str]
    edges: list[str]
    a_tilde: list[list[float]]  # Ã = A + I
    a_hat: list[list[float]]  # Â = D̃^-1/2 Ã D̃^-1/2
    signal_from_C: list[list[float]]  # the one-hot signal on C after 0, 1, ... GCN updates
    E_first_reached_after: int | None
    same_neighbourhood: dict  # §3.1: x, gcn, gcn_self_weight_2


def register(sub) -> None:
    p = sub.add_parser(
        "example", help="the report's 6-node graph: Ã, Â, 4 GCN updates from C to E; the §3.1 collapse",
        description="The worked example of the report (nodes A-F; edges A-B, A-E, B-D, C-D, D-F): prints Ã = A + I, "
        "Â = D̃^-1/2 Ã D̃^-1/2, and a one-hot signal on C propagated by GCN updates, which reaches E after exactly "
        "4 of them (the path C-D-B-A-E). Then the point of §3.1: two nodes with the same closed neighbourhood get "
        "the same GCN output whatever their features, unless self-connections are weighted differently.")
    p.add_argument("--steps", type=bounded_int(MAX_EXAMPLE_STEPS), default=5,
                   help=f"GCN updates to show, at most {MAX_EXAMPLE_STEPS} (default: 5)")
    p.add_argument("--seed", type=seed_value, default=0, help="seed of the §3.1 features and weights (default: 0)")
    add_json_option(p)
    p.set_defaults(func=run_example)


def run_example(args) -> int:
    graph = report_graph()
    tilde, hat = a_tilde(graph), a_hat(graph)
    signals = spread_signal(graph, "C", args.steps)
    arrival = first_arrival(graph, "C", "E")
    demo = same_neighbourhood_demo(args.seed)
    if args.json:
        print_json(ExampleResults(
            nodes=list(NODES), edges=["-".join(e) for e in EDGES], a_tilde=tilde.tolist(),
            a_hat=hat.tolist(), signal_from_C=[s.tolist() for s in signals], E_first_reached_after=arrival,
            same_neighbourhood={k: v.tolist() for k, v in demo.items()}))
        return 0
    edges = ", ".join("-".join(e) for e in EDGES)
    print(f"The report's graph: nodes {', '.join(NODES)}; edges {edges}")
    print("\nÃ = A + I (eq. 45)")
    print(_matrix(tilde, "{:.0f}"))
    print("\nÂ = D̃^-1/2 Ã D̃^-1/2 (eq. 47)")
    print(_matrix(hat, "{:.3f}"))
    print("\nA one-hot signal on C after each GCN update h <- ReLU(Â h W), W = [1]:")
    print("step  " + "  ".join(f"{n:>6}" for n in NODES))
    for step, h in enumerate(signals):
        print(f"{step:>4}  " + "  ".join(f"{v:>6.3f}" for v in h.tolist()))
    print(f"E first receives C's signal after {arrival} updates (the path C-D-B-A-E has 4 edges).")
    print("\n§3.1: in the graph 0-1, 0-2, 1-2, 2-3, nodes 0 and 1 share the closed neighbourhood {0, 1, 2}.")
    print("features x:\n" + _matrix(demo["x"], "{:.3f}", rows="0123"))
    print("GCN layer (Ã = A + I): rows 0 and 1 coincide although x_0 != x_1\n"
          + _matrix(demo["gcn"], "{:.3f}", rows="0123"))
    print("self-connection weighted 2 (Ã = A + 2I): rows 0 and 1 differ\n"
          + _matrix(demo["gcn_self_weight_2"], "{:.3f}", rows="0123"))
    return 0


def _matrix(m, fmt: str, rows: str = NODES) -> str:
    cols = NODES if m.size(1) == len(NODES) else range(m.size(1))
    width = max(len(fmt.format(v)) for v in m.flatten().tolist()) + 1
    header = "   " + "".join(f"{c!s:>{width}}" for c in cols)
    return "\n".join([header] + [f"{r:>2} " + "".join(f"{fmt.format(v):>{width}}" for v in row)
                                 for r, row in zip(rows, m.tolist(), strict=True)])
