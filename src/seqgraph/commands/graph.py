"""`seqgraph graph ...`: graph neural networks (SPEC Part 3), one sub-command per function in SUBCOMMANDS.

A new sub-command is a ``register_<name>(sub)`` function that adds its parser to ``sub`` with
``set_defaults(func=...)``, appended to ``SUBCOMMANDS``.
"""

import dataclasses
from pathlib import Path

from tqdm import tqdm

from .. import outdir
from ..errors import InputError
from ..graph import example
from ..graph.planetoid import NAMES, load_planetoid, planetoid_name, read_planetoid
from ..graph.train import MODELS, default_config, fit
from ..stats import mean_std, pm
from .common import (
    add_json_option,
    add_run_options,
    learning_rate,
    nonnegative_float,
    nonnegative_int,
    positive_int,
    print_json,
    probability,
    pyplot,
    resolve_device,
)

# Test accuracy (%) on the Planetoid public splits: Kipf & Welling 2017, Table 2; Veličković et al. 2018, Table 3.
PUBLISHED = {
    "gcn": {"cora": "81.5", "citeseer": "70.3", "pubmed": "79.0"},
    "gat": {"cora": "83.0 ± 0.7", "citeseer": "72.5 ± 0.7", "pubmed": "79.0 ± 0.3"},
}
HEADLINE = "test_acc_best_val"


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "graph", help="graph neural networks: GCN and GAT node classification, the report's worked example",
        description="Graph convolutional (GCN) and graph attention (GAT) networks written from their equations.")
    sub = parser.add_subparsers(dest="graph_command", metavar="SUBCOMMAND")
    sub.required = True
    from . import graph_apps  # linkpred, depth, compare; it imports this module's dataset loader

    for add in (*SUBCOMMANDS, graph_apps.register):
        add(sub)


def register_train(sub) -> None:
    gcn, gat = default_config("gcn"), default_config("gat")
    p = sub.add_parser(
        "train", help="node classification on Cora, Citeseer, Pubmed or a folder of Planetoid files",
        description="Train GCN or GAT on a Planetoid citation graph with its public split (Cora: 140 training, "
        "500 validation, 1000 test nodes), once per seed. Each epoch is one full-batch Adam step followed by an "
        "evaluation in eval mode. Reports the test accuracy at the best validation epoch (headline: highest "
        "validation accuracy, ties broken by validation loss) and at the last epoch, mean ± std over seeds, "
        "beside the published numbers. Writes DIR/results.json, DIR/history.json and DIR/curves.png. "
        f"Defaults are the papers' configurations: GCN hidden {gcn.hidden}, dropout {gcn.dropout}, lr {gcn.lr}, "
        f"weight decay {gcn.weight_decay} on the first layer, {gcn.epochs} epochs; GAT {gat.heads} heads x "
        f"{gat.hidden} hidden, 1 output head, dropout {gat.dropout}, lr {gat.lr}, weight decay {gat.weight_decay}, "
        f"up to {gat.epochs} epochs with patience {gat.patience} (Pubmed: 8 output heads, lr 0.01, weight decay "
        "0.001).")
    p.add_argument("--dataset", default="cora",
                   help=f"{', '.join(NAMES)} (from the data directory) or a folder holding ind.<name>.* files "
                   "(default: cora)")
    p.add_argument("--model", choices=MODELS, default="gcn", help="the network (default: gcn)")
    p.add_argument("--seeds", type=nonnegative_int, nargs="+", default=list(range(10)),
                   help="seeds, one run each (default: 0 1 ... 9)")
    p.add_argument("--epochs", type=positive_int, help="maximum number of epochs (default: 200 GCN, 1000 GAT)")
    p.add_argument("--patience", type=nonnegative_int,
                   help="stop after this many epochs without a new best validation accuracy or loss; "
                   "0 never stops early (default: none for GCN, 100 for GAT)")
    p.add_argument("--lr", type=learning_rate, help="Adam learning rate (default: the paper's)")
    p.add_argument("--weight-decay", type=nonnegative_float, help="L2 weight decay (default: the paper's)")
    p.add_argument("--hidden", type=positive_int, help="hidden features, per head for GAT (default: 16 GCN, 8 GAT)")
    p.add_argument("--heads", type=positive_int, help="GAT attention heads of the first layer (default: 8)")
    p.add_argument("--output-heads", type=positive_int,
                   help="GAT attention heads of the output layer, averaged (default: 1; Pubmed 8)")
    p.add_argument("--dropout", type=probability, help="dropout probability (default: 0.5 GCN, 0.6 GAT)")
    add_run_options(p)
    p.set_defaults(func=run_train)


def register_example(sub) -> None:
    p = sub.add_parser(
        "example", help="the report's 6-node graph: Ã, Â, 4 GCN updates from C to E; the §3.1 collapse",
        description="The worked example of the report (nodes A-F; edges A-B, A-E, B-D, C-D, D-F): prints Ã = A + I, "
        "Â = D̃^-1/2 Ã D̃^-1/2, and a one-hot signal on C propagated by GCN updates, which reaches E after exactly "
        "4 of them (the path C-D-B-A-E). Then the point of §3.1: two nodes with the same closed neighbourhood get "
        "the same GCN output whatever their features, unless self-connections are weighted differently.")
    p.add_argument("--steps", type=positive_int, default=5, help="GCN updates to show (default: 5)")
    p.add_argument("--seed", type=nonnegative_int, default=0, help="seed of the §3.1 features and weights (default: 0)")
    add_json_option(p)
    p.set_defaults(func=run_example)


SUBCOMMANDS = (register_train, register_example)


def load_dataset(spec: str, data_dir: str | None):
    """A Planetoid name from the data directory, or a folder of ``ind.<name>.*`` files: (graph, name)."""
    if Path(spec).is_dir():
        name = planetoid_name(spec)
        return read_planetoid(spec, name), name
    if spec.lower() in NAMES:
        return load_planetoid(spec, data_dir), spec.lower()
    raise InputError(f"unknown dataset {spec!r}: choose {', '.join(NAMES)} or a folder holding ind.<name>.* files")


def run_train(args) -> int:
    device = resolve_device(args.device)
    graph, name = load_dataset(args.dataset, args.data_dir)
    overrides = {field: getattr(args, field) for field in
                 ("epochs", "patience", "lr", "weight_decay", "hidden", "heads", "output_heads", "dropout")
                 if getattr(args, field) is not None}
    if overrides.get("patience") == 0:
        overrides["patience"] = None
    config = dataclasses.replace(default_config(args.model, name), **overrides)
    run_config = {"dataset": args.dataset, "seeds": args.seeds, **dataclasses.asdict(config)}
    out = outdir.prepare(args.out, "graph train", run_config, args.force)

    runs = []
    with tqdm(total=len(args.seeds) * config.epochs, desc=f"{config.model} {name}", unit="epoch") as bar:
        for seed in args.seeds:
            def on_epoch(record, seed=seed):
                bar.update(1)
                bar.set_postfix(seed=seed, val=f"{100 * record['val_acc']:.1f}", test=f"{100 * record['test_acc']:.1f}")
            result = fit(graph, config, seed, device, on_epoch)
            bar.update(config.epochs - result.last_epoch)  # epochs skipped by early stopping
            runs.append(result)

    results = summarise(runs, name, config)
    results.update(config=run_config, device=str(device), num_nodes=graph.num_nodes, num_edges=graph.num_edges)
    outdir.write_json(out / "results.json", results)
    outdir.write_json(out / "history.json", {str(r.seed): r.history for r in runs})
    plot_curves(runs, out / "curves.png", f"{config.model.upper()} on {name}")
    if args.json:
        print_json(results)
    else:
        print(format_table(results))
        print(f"wrote {out / 'results.json'}, {out / 'curves.png'}")
    return 0


def summarise(runs, name: str, config) -> dict:
    """Per-seed and mean ± std (sample std over seeds) test accuracies in %, and the published number."""
    per_seed = [{"seed": r.seed, "best_epoch": r.best_epoch, "val_acc_best": 100 * r.val_acc_best,
                 "test_acc_best_val": 100 * r.test_acc_best_val, "last_epoch": r.last_epoch,
                 "test_acc_last": 100 * r.test_acc_last, "seconds_per_epoch": r.seconds_per_epoch} for r in runs]
    results = {"dataset": name, "model": config.model, "headline": HEADLINE, "units": "accuracy in %",
               "published": PUBLISHED[config.model].get(name), "runs": per_seed}
    for key in ("test_acc_best_val", "test_acc_last"):
        results[key] = mean_std(run[key] for run in per_seed)
    return results


def format_table(results: dict) -> str:
    lines = [f"{'seed':>4}  {'best epoch':>10}  {'val %':>6}  {'test % (best val)':>17}  {'last epoch':>10}  "
             f"{'test % (last)':>13}"]
    for r in results["runs"]:
        lines.append(f"{r['seed']:>4}  {r['best_epoch']:>10}  {r['val_acc_best']:>6.1f}  "
                     f"{r['test_acc_best_val']:>17.1f}  {r['last_epoch']:>10}  {r['test_acc_last']:>13.1f}")
    best, last = results["test_acc_best_val"], results["test_acc_last"]
    n = len(results["runs"])
    lines += ["", f"{results['model'].upper()} on {results['dataset']}, test accuracy %, mean ± std over {n} seed(s):",
              f"  ours, best-validation epoch (headline)  {pm(best, runs=n)}",
              f"  ours, last epoch                        {pm(last, runs=n)}",
              f"  published                               {results['published'] or 'n/a'}"]
    return "\n".join(lines)


def plot_curves(runs, path: Path, title: str) -> None:
    """Training and validation loss and accuracy per epoch, one thin line per seed."""
    plt = pyplot()

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    for i, r in enumerate(runs):
        epochs = [h["epoch"] for h in r.history]
        for ax, key, colour in ((ax_loss, "train_loss", "C0"), (ax_loss, "val_loss", "C1"),
                                (ax_acc, "train_acc", "C0"), (ax_acc, "val_acc", "C1")):
            ax.plot(epochs, [h[key] for h in r.history], color=colour, lw=0.8, alpha=0.6,
                    label=key.replace("_", " ") if i == 0 else None)
        ax_acc.axvline(r.best_epoch, color="grey", lw=0.5, alpha=0.5)
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title=f"{title}: loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title=f"{title}: accuracy (grey: best validation epoch)")
    for ax in (ax_loss, ax_acc):
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run_example(args) -> int:
    graph = example.report_graph()
    a_tilde, a_hat = example.a_tilde(graph), example.a_hat(graph)
    signals = example.propagate(graph, "C", args.steps)
    arrival = example.first_arrival(graph, "C", "E")
    demo = example.same_neighbourhood_demo(args.seed)
    if args.json:
        print_json({"nodes": list(example.NODES), "edges": ["-".join(e) for e in example.EDGES],
                    "a_tilde": a_tilde.tolist(), "a_hat": a_hat.tolist(),
                    "signal_from_C": [s.tolist() for s in signals], "E_first_reached_after": arrival,
                    "same_neighbourhood": {k: v.tolist() for k, v in demo.items()}})
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
