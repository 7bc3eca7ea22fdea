"""`seqgraph graph generate`: a synthetic R-MAT graph with planted classes, written as memory-mapped .npy files."""

from ...graph.datasets.synthetic import check_settings, generate_rmat
from ...graph.scale.sampler import MAX_NODES
from ...graph.scale.storage import open_store
from ..flags import MAX_SIZE, bounded_int, naming, nonnegative_int, positive_float, positive_int, share
from ..options import add_threads_option
from ..output import prepare_out, print_json


def register(sub) -> None:
    p = sub.add_parser(
        "generate", help="a large synthetic graph (R-MAT degrees, planted classes) as memory-mapped .npy files",
        description="Write an R-MAT graph (Graph500's skewed degrees) with planted classes and class-dependent "
        "Gaussian features to --out as .npy files (CSR adjacency, features, labels, splits), generated in chunks so "
        "that memory stays bounded. Train on it with `seqgraph graph train --dataset DIR --batch-size B`. Example: "
        "--nodes 10000000 --edges 100000000 (about 3.2 GB with 64 features).")
    p.add_argument("--nodes", type=bounded_int(MAX_NODES), default=1_000_000,
                   help=f"nodes, at most {MAX_NODES:,} (default: 1000000)")
    p.add_argument("--edges", type=positive_int, default=10_000_000,
                   help="directed edges stored, an even number: each R-MAT pair both ways; the files must fit on "
                   "the disk "
                   "(default: 10000000)")
    p.add_argument("--features", type=bounded_int(MAX_SIZE), default=64,
                   help=f"features per node, at most {MAX_SIZE:,} (default: 64)")
    p.add_argument("--classes", type=positive_int, default=8,
                   help="planted classes, from 2 to half the nodes (default: 8)")
    p.add_argument("--homophily", type=share, default=0.9,
                   help="probability that an edge joins two nodes of the same class, in (0, 1] (default: 0.9)")
    p.add_argument("--signal", type=positive_float, default=0.3,
                   help="scale of the class means against unit feature noise (default: 0.3)")
    p.add_argument("--seed", type=nonnegative_int, default=0, help="seed (default: 0)")
    p.add_argument("--out", required=True, help="folder for the .npy files")
    p.add_argument("--force", action="store_true", help="write into --out even if it holds another experiment")
    p.add_argument("--json", action="store_true", help="print a summary as JSON on stdout")
    add_threads_option(p)
    p.set_defaults(func=run)


def run(args) -> int:
    settings = {key: getattr(args, key) for key in ("nodes", "edges", "features", "classes", "homophily", "signal",
                                                    "seed")}
    with naming(f"--signal {args.signal:g}"):
        check_settings(args.out, args.nodes, args.edges, args.features, args.classes, args.homophily,
                       signal=args.signal)
    out = prepare_out(args, "graph generate", settings)
    generate_rmat(out, args.nodes, args.edges, args.features, args.classes, args.homophily, args.signal,
                  seed=args.seed)
    store = open_store(out)
    summary = {**settings, "folder": str(out), "max_degree": int(store.csr.degree().max()),
               "train_nodes": store.train_idx.numel(), "val_nodes": store.val_idx.numel(),
               "test_nodes": store.test_idx.numel()}
    if args.json:
        print_json(summary)
    else:
        print(f"wrote {out}: {args.nodes} nodes, {args.edges} edges (largest in-degree {summary['max_degree']}), "
              f"{args.features} features, {args.classes} classes; {summary['train_nodes']} training, "
              f"{summary['val_nodes']} validation, {summary['test_nodes']} test nodes")
    return 0
