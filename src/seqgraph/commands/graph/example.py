"""`seqgraph graph example`: the report's 6-node graph, Ã and Â, a signal spreading from C to E, and §3.1."""

from typing import TypedDict

from ...graph import example
from ..common import add_json_option, bounded_int, print_json, seed_value

MAX_EXAMPLE_STEPS = 1000  # each one printed


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
    graph = example.report_graph()
    a_tilde, a_hat = example.a_tilde(graph), example.a_hat(graph)
    signals = example.spread_signal(graph, "C", args.steps)
    arrival = example.first_arrival(graph, "C", "E")
    demo = example.same_neighbourhood_demo(args.seed)
    if args.json:
        print_json(ExampleResults(
            nodes=list(example.NODES), edges=["-".join(e) for e in example.EDGES], a_tilde=a_tilde.tolist(),
            a_hat=a_hat.tolist(), signal_from_C=[s.tolist() for s in signals], E_first_reached_after=arrival,
            same_neighbourhood={k: v.tolist() for k, v in demo.items()}))
        return 0
    edges = ", ".join("-".join(e) for e in example.EDGES)
    print(f"The report's graph: nodes {', '.join(example.NODES)}; edges {edges}")
    print("\nÃ = A + I (eq. 45)")
    print(_matrix(a_tilde, "{:.0f}"))
    print("\nÂ = D̃^-1/2 Ã D̃^-1/2 (eq. 47)")
    print(_matrix(a_hat, "{:.3f}"))
    print("\nA one-hot signal on C after each GCN update h <- ReLU(Â h W), W = [1]:")
    print("step  " + "  ".join(f"{n:>6}" for n in example.NODES))
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


def _matrix(m, fmt: str, rows: str = example.NODES) -> str:
    cols = example.NODES if m.size(1) == len(example.NODES) else range(m.size(1))
    width = max(len(fmt.format(v)) for v in m.flatten().tolist()) + 1
    header = "   " + "".join(f"{c!s:>{width}}" for c in cols)
    return "\n".join([header] + [f"{r:>2} " + "".join(f"{fmt.format(v):>{width}}" for v in row)
                                 for r, row in zip(rows, m.tolist(), strict=True)])
