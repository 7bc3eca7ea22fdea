"""`seqgraph graph linkpred | depth | compare`: link prediction, self-loop weighting and depth, and recurrent
against graph models on one protocol. ``register(graph_subparsers)`` adds them to ``seqgraph graph``.
"""

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from torch import nn
from tqdm import tqdm

from .. import outdir
from ..errors import InputError
from ..graph import depth, linkpred
from ..graph.sage import GraphSAGE
from ..graph.sequence import SequenceClassifier
from ..graph.train import TrainConfig, build_model, count_parameters, default_config, fit_model
from ..stats import mean_std, pm
from . import graph as graph_command
from .common import (
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


def register(subparsers) -> None:
    register_linkpred(subparsers)
    register_depth(subparsers)
    register_compare(subparsers)


def add_dataset_options(p, seeds: int = 10) -> None:
    p.add_argument("--dataset", default="cora",
                   help="cora, citeseer, pubmed (from the data directory) or a folder holding ind.<name>.* files "
                   "(default: cora)")
    p.add_argument("--seeds", type=nonnegative_int, nargs="+", default=list(range(seeds)),
                   help=f"seeds, one run each (default: {' '.join(map(str, range(seeds)))})")


# ---------------------------------------------------------------------------------------------- linkpred


def register_linkpred(sub) -> None:
    c = linkpred.LinkPredConfig()
    p = sub.add_parser(
        "linkpred", help="link prediction with a graph auto-encoder (GAE or VGAE): AUC, AP, friend suggestions",
        description="Graph auto-encoders (Kipf & Welling 2016): a two-layer GCN encoder and an inner-product "
        "decoder, or the variational version. Per seed, the undirected edges are split 85/5/10 into training, "
        "validation and test edges (both directions of an edge in the same split), with as many validation and "
        "test non-edges (never an edge of any split, never a self-loop); the encoder sees the training edges "
        "only and fresh training non-edges are drawn every epoch. Reports the test AUC and average precision "
        "at the epoch of best validation AUC and at the last epoch (which the paper reports), mean ± std over "
        "seeds, beside the paper's. --recommend NODE lists the --top most "
        "likely missing links of NODE under the first seed's model (friend suggestion), marking those that are "
        "held-out edges. Writes DIR/results.json and DIR/curves.png (validation AUC and AP per epoch). "
        f"Defaults are the paper's: GCN {c.hidden} -> {c.latent}, Adam lr {c.lr}, {c.epochs} epochs.")
    add_dataset_options(p)
    p.add_argument("--model", choices=linkpred.MODELS, default="gae", help="the auto-encoder (default: gae)")
    p.add_argument("--epochs", type=positive_int, default=c.epochs, help=f"training epochs (default: {c.epochs})")
    p.add_argument("--lr", type=learning_rate, default=c.lr, help=f"Adam learning rate (default: {c.lr})")
    p.add_argument("--hidden", type=positive_int, default=c.hidden,
                   help=f"features of the first GCN layer (default: {c.hidden})")
    p.add_argument("--latent", type=positive_int, default=c.latent, help=f"size of z per node (default: {c.latent})")
    p.add_argument("--recommend", type=nonnegative_int, metavar="NODE",
                   help="list the most likely missing links of this node id")
    p.add_argument("--top", type=positive_int, default=10, help="how many links --recommend lists (default: 10)")
    add_run_options(p)
    p.set_defaults(func=run_linkpred)


def run_linkpred(args) -> int:
    device = resolve_device(args.device)
    graph, name = graph_command.load_dataset(args.dataset, args.data_dir)
    if args.recommend is not None and args.recommend >= graph.num_nodes:
        raise InputError(f"--recommend {args.recommend}: {name} has nodes 0 .. {graph.num_nodes - 1}")
    config = linkpred.LinkPredConfig(model=args.model, hidden=args.hidden, latent=args.latent, lr=args.lr,
                                     epochs=args.epochs)
    run_config = {"dataset": args.dataset, "seeds": args.seeds, "recommend": args.recommend, "top": args.top,
                  **dataclasses.asdict(config)}
    out = outdir.prepare(args.out, "graph linkpred", run_config, args.force)

    runs, first = [], None
    with tqdm(total=len(args.seeds) * config.epochs, desc=f"{config.model} {name}", unit="epoch") as bar:
        for seed in args.seeds:
            def on_epoch(record, seed=seed):
                bar.update(1)
                bar.set_postfix(seed=seed, val_auc=f"{100 * record['val_auc']:.1f}")
            result, z, split = linkpred.fit_linkpred(graph, config, seed, device, on_epoch)
            runs.append(result)
            first = first or (z, split)

    results = {"dataset": name, "model": config.model, "units": "%", "config": run_config, "device": str(device),
               "published": linkpred.PUBLISHED[config.model] if name == "cora" else None,
               "split": {"train_edges": first[1].train_pos.size(1), "val_edges": first[1].val_pos.size(1),
                         "test_edges": first[1].test_pos.size(1)},
               "headline": "test_auc_best_val, test_ap_best_val (the paper reports the last epoch: *_last)",
               "runs": [{"seed": r.seed, "best_epoch": r.best_epoch, "val_auc_best": 100 * r.val_auc_best,
                         "test_auc_best_val": 100 * r.test_auc_best_val, "test_ap_best_val": 100 * r.test_ap_best_val,
                         "test_auc_last": 100 * r.test_auc_last, "test_ap_last": 100 * r.test_ap_last,
                         "seconds_per_epoch": r.seconds_per_epoch} for r in runs]}
    for key in ("test_auc_best_val", "test_ap_best_val", "test_auc_last", "test_ap_last"):
        results[key] = mean_std([r[key] for r in results["runs"]])
    if args.recommend is not None:
        results["recommendations"] = recommendations(*first, args.recommend, args.top)
    outdir.write_json(out / "results.json", results)
    plot_linkpred(runs, out / "curves.png", f"{config.model.upper()} on {name}")
    if args.json:
        print_json(results)
    else:
        print(format_linkpred(results))
        print(f"wrote {out / 'results.json'}, {out / 'curves.png'}")
    return 0


def recommendations(z, split: linkpred.EdgeSplit, node: int, top: int) -> dict:
    """The ``top`` suggested links of ``node`` (first seed's model, its training graph), each marked ``val`` or
    ``test`` when it is a held-out edge of that split."""
    nodes, probabilities = linkpred.recommend(z.cpu(), split.train_edge_index, node, top)
    n = split.num_nodes
    held_out = {key: name for name, pairs in (("val", split.val_pos), ("test", split.test_pos))
                for key in linkpred.pair_keys(pairs, n).tolist()}
    return {"node": node, "seed_split": "first seed", "links": [
        {"node": v, "probability": p, "held_out_edge": held_out.get(min(node, v) * n + max(node, v))}
        for v, p in zip(nodes.tolist(), probabilities.tolist(), strict=True)]}


def format_linkpred(results: dict) -> str:
    lines = [f"{'seed':>4}  {'best epoch':>10}  {'val AUC %':>9}  {'test AUC %':>10}  {'test AP %':>9}  "
             f"{'last: test AUC %':>16}  {'test AP %':>9}"]
    for r in results["runs"]:
        lines.append(f"{r['seed']:>4}  {r['best_epoch']:>10}  {r['val_auc_best']:>9.1f}  "
                     f"{r['test_auc_best_val']:>10.1f}  {r['test_ap_best_val']:>9.1f}  {r['test_auc_last']:>16.1f}  "
                     f"{r['test_ap_last']:>9.1f}")
    published, n = results["published"], len(results["runs"])
    lines += ["", f"{results['model'].upper()} on {results['dataset']}, test %, mean ± std over {n} seed(s):",
              f"  best validation epoch (headline)  AUC {pm(results['test_auc_best_val'], runs=n)}  "
              f"AP {pm(results['test_ap_best_val'], runs=n)}",
              f"  last epoch (the paper's report)   AUC {pm(results['test_auc_last'], runs=n)}  "
              f"AP {pm(results['test_ap_last'], runs=n)}"]
    if published:
        lines.append(f"  Kipf & Welling 2016               AUC {published['auc']}  AP {published['ap']}")
    if "recommendations" in results:
        rec = results["recommendations"]
        lines.append(f"\nmost likely missing links of node {rec['node']} (first seed; its training graph):")
        for link in rec["links"]:
            mark = f"  <- held-out {link['held_out_edge']} edge" if link["held_out_edge"] else ""
            lines.append(f"  {link['node']:>6}  p = {link['probability']:.3f}{mark}")
    return "\n".join(lines)


def plot_linkpred(runs, path: Path, title: str) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, r in enumerate(runs):
        epochs = [h["epoch"] for h in r.history]
        for key, colour in (("val_auc", "C0"), ("val_ap", "C1")):
            ax.plot(epochs, [h[key] for h in r.history], color=colour, lw=0.8, alpha=0.6,
                    label=key.replace("_", " ").replace("auc", "AUC").replace("ap", "AP") if i == 0 else None)
    ax.set(xlabel="epoch", ylabel="score", title=f"{title}: validation", ylim=(0.5, 1))
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------- depth


def register_depth(sub) -> None:
    p = sub.add_parser(
        "depth", help="over-smoothing: accuracy and spread of GCN representations for 1 to 16 layers",
        description="Trains GCN stacks of each depth in three variants: plain GCN layers, layers with a separate "
        "weight for the node itself (h_i' = Σ_j Â_ij W h_j + W_self h_i), and GCN layers with residual "
        "connections (H' = ReLU(Â H W) + H). For each: test accuracy at the best validation epoch, and the mean "
        "pairwise distance between the nodes' L2-normalised outputs after training (0: every node points the "
        "same way, fully smoothed; up to 2). Also shows report §3.1: the self weight keeps apart two nodes with "
        "the same closed neighbourhood, which a plain GCN layer maps to the same value. Writes DIR/results.json "
        "and DIR/depth.png.")
    add_dataset_options(p, seeds=3)
    p.add_argument("--layers", type=positive_int, nargs="+", default=[1, 2, 4, 8, 16],
                   help="depths to train (default: 1 2 4 8 16)")
    p.add_argument("--variants", choices=depth.VARIANTS, nargs="+", default=list(depth.VARIANTS),
                   help="layer kinds (default: all)")
    p.add_argument("--hidden", type=positive_int, default=64, help="hidden features (default: 64)")
    p.add_argument("--dropout", type=probability, default=0.5, help="dropout before every layer (default: 0.5)")
    p.add_argument("--lr", type=learning_rate, default=0.01, help="Adam learning rate (default: 0.01)")
    p.add_argument("--weight-decay", type=nonnegative_float, default=5e-4,
                   help="L2 weight decay on every layer (default: 0.0005)")
    p.add_argument("--epochs", type=positive_int, default=200, help="training epochs (default: 200)")
    add_run_options(p)
    p.set_defaults(func=run_depth)


def run_depth(args) -> int:
    device = resolve_device(args.device)
    graph, name = graph_command.load_dataset(args.dataset, args.data_dir)
    config = TrainConfig(model="deep-gcn", hidden=args.hidden, dropout=args.dropout, lr=args.lr,
                         weight_decay=args.weight_decay, epochs=args.epochs)
    run_config = {"dataset": args.dataset, "seeds": args.seeds, "layers": args.layers, "variants": args.variants,
                  **dataclasses.asdict(config)}
    out = outdir.prepare(args.out, "graph depth", run_config, args.force)

    demo = depth.self_weight_demo(args.seeds[0])
    rows = []
    total = len(args.variants) * len(args.layers) * len(args.seeds) * config.epochs
    with tqdm(total=total, desc=f"depth {name}", unit="epoch") as bar:
        for variant in args.variants:
            for layers in args.layers:
                def build(in_channels, classes, layers=layers, variant=variant):
                    return depth.DeepGCN(in_channels, config.hidden, classes, layers, variant, config.dropout)
                runs = []
                for seed in args.seeds:
                    bar.set_postfix(variant=variant, layers=layers, seed=seed)
                    result, model = fit_model(build, graph, config, seed, device, lambda _: bar.update(1))
                    runs.append({"seed": seed, "test_acc": 100 * result.test_acc_best_val,
                                 "best_epoch": result.best_epoch, "distance": depth.output_distance(model, graph)})
                rows.append({"variant": variant, "layers": layers, "runs": runs,
                             "test_acc": mean_std([r["test_acc"] for r in runs]),
                             "distance": mean_std([r["distance"] for r in runs])})

    results = {"dataset": name, "units": {"test_acc": "%", "distance": "mean pairwise distance of L2-normalised "
                                          "outputs, 0..2"},
               "config": run_config, "device": str(device), "rows": rows,
               "same_neighbourhood": {key: value.tolist() for key, value in demo.items()}}
    outdir.write_json(out / "results.json", results)
    plot_depth(rows, out / "depth.png", name)
    if args.json:
        print_json(results)
    else:
        print(format_depth(results, demo))
        print(f"wrote {out / 'results.json'}, {out / 'depth.png'}")
    return 0


def format_depth(results: dict, demo: dict) -> str:
    lines = ["§3.1, graph 0-1, 0-2, 1-2, 2-3 (nodes 0 and 1 share the closed neighbourhood {0, 1, 2}):",
             f"  plain GCN layer:      h_0 = {fmt_row(demo['gcn'][0])}  h_1 = {fmt_row(demo['gcn'][1])}",
             f"  with W_self h_i:      h_0 = {fmt_row(demo['self_weighted'][0])}  "
             f"h_1 = {fmt_row(demo['self_weighted'][1])}",
             "", f"{'variant':<9} {'layers':>6}  {'test acc %':>12}  {'distance':>13}"]
    for row in results["rows"]:
        lines.append(f"{row['variant']:<9} {row['layers']:>6}  {pm(row['test_acc'], runs=len(row['runs'])):>12}  "
                     f"{pm(row['distance'], 3, len(row['runs'])):>13}")
    return "\n".join(lines)


def fmt_row(values) -> str:
    return "[" + ", ".join(f"{v:.3f}" for v in values.tolist()) + "]"


def plot_depth(rows: list[dict], path: Path, name: str) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for variant in dict.fromkeys(row["variant"] for row in rows):
        mine = [row for row in rows if row["variant"] == variant]
        for ax, key in zip(axes, ("test_acc", "distance"), strict=True):
            ax.errorbar([row["layers"] for row in mine], [row[key]["mean"] for row in mine],
                        yerr=[row[key]["std"] for row in mine], marker="o", capsize=3, label=variant)
    axes[0].set(ylabel="test accuracy % (best validation epoch)", title=f"GCN depth on {name}: accuracy")
    axes[1].set(ylabel="mean pairwise distance (L2-normalised outputs)", title="spread of the node outputs")
    for ax in axes:
        ax.set_xscale("log", base=2)
        ax.set_xlabel("layers")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------- compare


@dataclass
class Contender:
    label: str
    config: TrainConfig  # optimiser, epochs, hidden size and dropout
    build: Callable[[TrainConfig, int, int], nn.Module]  # (config, in_channels, classes) -> model


def contenders(dataset: str) -> dict[str, Contender]:
    """GCN and GAT with their papers' settings; GraphSAGE and the sequence LSTM on GCN's protocol (Adam lr 0.01,
    weight decay 5e-4, dropout 0.5, 200 epochs), hidden 16 like GCN, 64 for the LSTM-based models."""
    base = TrainConfig()
    return {
        "gcn": Contender("GCN", default_config("gcn", dataset), build_model),
        "gat": Contender("GAT", default_config("gat", dataset), build_model),
        "sage-mean": Contender("GraphSAGE-mean", dataclasses.replace(base, model="sage-mean"),
                               lambda c, i, k: GraphSAGE(i, c.hidden, k, "mean", c.dropout)),
        "sage-lstm": Contender("GraphSAGE-LSTM", dataclasses.replace(base, model="sage-lstm", hidden=64),
                               lambda c, i, k: GraphSAGE(i, c.hidden, k, "lstm", c.dropout)),
        "seq-bfs": Contender("LSTM on BFS order", dataclasses.replace(base, model="seq-bfs", hidden=64),
                             lambda c, i, k: SequenceClassifier(i, c.hidden, k, "bfs", dropout=c.dropout)),
        "seq-dfs": Contender("LSTM on DFS order", dataclasses.replace(base, model="seq-dfs", hidden=64),
                             lambda c, i, k: SequenceClassifier(i, c.hidden, k, "dfs", dropout=c.dropout)),
    }


MODEL_NAMES = tuple(contenders("cora"))


def register_compare(sub) -> None:
    p = sub.add_parser(
        "compare", help="GCN, GAT, GraphSAGE (mean, LSTM) and an LSTM over BFS/DFS orders, same split and seeds",
        description="Node classification on a Planetoid public split with every model and the same seeds: GCN and "
        "GAT with their papers' settings, GraphSAGE with the mean and with the LSTM aggregator (Hamilton et al. "
        "2017; our LSTM over a random order of up to 25 then 10 sampled neighbours), and our LSTM reading a BFS "
        "or DFS ordering of each node's 2-hop neighbourhood (up to 32 nodes, the node itself last). The others "
        "use GCN's protocol (Adam lr 0.01, weight decay 5e-4, dropout 0.5, 200 epochs) with 16 hidden features, "
        "64 for the LSTM-based models. Reports test accuracy at "
        "the best validation epoch (mean ± std), parameters and seconds per epoch (one training step and one "
        "evaluation). Writes DIR/results.json and DIR/compare.png.")
    add_dataset_options(p)
    p.add_argument("--models", choices=MODEL_NAMES, nargs="+", default=list(MODEL_NAMES),
                   help="models to run (default: all)")
    p.add_argument("--epochs", type=positive_int,
                   help="maximum epochs for every model (default: each model's own, 200; GAT 1000 with patience 100)")
    add_run_options(p)
    p.set_defaults(func=run_compare)


def run_compare(args) -> int:
    device = resolve_device(args.device)
    graph, name = graph_command.load_dataset(args.dataset, args.data_dir)
    chosen = {key: contenders(name)[key] for key in args.models}
    if args.epochs is not None:
        chosen = {key: dataclasses.replace(c, config=dataclasses.replace(c.config, epochs=args.epochs))
                  for key, c in chosen.items()}
    run_config = {"dataset": args.dataset, "seeds": args.seeds,
                  "models": {key: dataclasses.asdict(c.config) for key, c in chosen.items()}}
    out = outdir.prepare(args.out, "graph compare", run_config, args.force)

    rows = []
    total = sum(c.config.epochs for c in chosen.values()) * len(args.seeds)
    with tqdm(total=total, desc=f"compare {name}", unit="epoch") as bar:
        for key, c in chosen.items():
            runs, parameters = [], None
            for seed in args.seeds:
                bar.set_postfix(model=key, seed=seed)
                result, model = fit_model(lambda i, k, c=c: c.build(c.config, i, k), graph, c.config, seed, device,
                                          lambda _: bar.update(1))
                bar.update(c.config.epochs - result.last_epoch)  # epochs skipped by early stopping
                parameters = count_parameters(model)
                runs.append({"seed": seed, "test_acc": 100 * result.test_acc_best_val, "best_epoch": result.best_epoch,
                             "epochs": result.last_epoch, "seconds_per_epoch": result.seconds_per_epoch})
            rows.append({"model": key, "label": c.label, "parameters": parameters, "runs": runs,
                         "test_acc": mean_std([r["test_acc"] for r in runs]),
                         "seconds_per_epoch": mean_std([r["seconds_per_epoch"] for r in runs])})

    results = {"dataset": name, "units": {"test_acc": "%", "seconds_per_epoch": "s"}, "config": run_config,
               "device": str(device), "rows": rows}
    outdir.write_json(out / "results.json", results)
    plot_compare(rows, out / "compare.png", name)
    if args.json:
        print_json(results)
    else:
        print(format_compare(results))
        print(f"wrote {out / 'results.json'}, {out / 'compare.png'}")
    return 0


def format_compare(results: dict) -> str:
    n = len(results["rows"][0]["runs"])
    lines = [f"{results['dataset']}, test accuracy at the best validation epoch, mean ± std over {n} seed(s)",
             f"{'model':<20} {'test acc %':>12} {'parameters':>11} {'s / epoch':>10}"]
    for row in results["rows"]:
        lines.append(f"{row['label']:<20} {pm(row['test_acc'], runs=n):>12} {row['parameters']:>11,} "
                     f"{row['seconds_per_epoch']['mean']:>10.3f}")
    return "\n".join(lines)


def plot_compare(rows: list[dict], path: Path, name: str) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.bar([row["label"] for row in rows], [row["test_acc"]["mean"] for row in rows],
           yerr=[row["test_acc"]["std"] for row in rows], capsize=4, color=[f"C{i}" for i in range(len(rows))])
    ax.set(ylabel="test accuracy % (mean ± std over seeds)", title=f"Node classification on {name}")
    low = min(row["test_acc"]["mean"] - row["test_acc"]["std"] for row in rows)
    ax.set_ylim(max(0.0, low - 5), 100)
    ax.tick_params(axis="x", labelrotation=20)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
