"""`seqgraph graph linkpred`: link prediction with a graph auto-encoder (GAE or VGAE), AUC and AP over seeds."""

import dataclasses
import functools
from pathlib import Path
from typing import TypedDict

from ...errors import InputError
from ...graph.link.autoencoder import recommend
from ...graph.link.split import EdgeSplit, pair_keys
from ...graph.link.train import AUTOENCODERS, PUBLISHED, LinkPredConfig, build_autoencoder, fit_linkpred
from ...stats import mean_std, pm
from ..flags import MAX_SIZE, bounded_int, learning_rate, nonnegative_int, positive_int
from ..options import add_run_options
from ..plots import pyplot, save_figure
from .common import GraphRun, add_dataset_options


class LinkPredResults(TypedDict):
    """``results.json`` of ``graph linkpred`` (scores in %)."""

    dataset: str
    model: str
    units: str
    config: dict
    device: str
    published: dict | None  # the paper's AUC and AP (Cora)
    split: dict  # train_edges, val_edges, test_edges (undirected)
    headline: str
    runs: list[dict]  # per seed: best_epoch, val_auc_best, test_auc_best_val, test_ap_best_val, *_last, ...
    test_auc_best_val: dict  # mean and std over seeds
    test_ap_best_val: dict
    test_auc_last: dict
    test_ap_last: dict
    recommendations: dict | None  # --recommend NODE's suggested links


TOP = 10  # links listed by --recommend


def register(sub) -> None:
    c = LinkPredConfig()
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
        f"Defaults are the paper's: GCN {c.hidden_size} -> {c.latent}, Adam lr {c.lr}, {c.epochs} epochs.")
    add_dataset_options(p)
    p.add_argument("--model", choices=AUTOENCODERS, default="gae", help="the auto-encoder (default: gae)")
    p.add_argument("--epochs", type=positive_int, default=c.epochs, help=f"training epochs (default: {c.epochs})")
    p.add_argument("--lr", type=learning_rate, default=c.lr, help=f"Adam learning rate (default: {c.lr})")
    p.add_argument("--hidden", type=bounded_int(MAX_SIZE), default=c.hidden_size,
                   help=f"features of the first GCN layer, at most {MAX_SIZE:,} (default: {c.hidden_size})")
    p.add_argument("--latent", type=bounded_int(MAX_SIZE), default=c.latent,
                   help=f"size of z per node, at most {MAX_SIZE:,} (default: {c.latent})")
    p.add_argument("--recommend", type=nonnegative_int, metavar="NODE",
                   help="list the most likely missing links of this node id")
    p.add_argument("--top", type=bounded_int(MAX_SIZE),
                   help=f"how many links --recommend lists, at most {MAX_SIZE:,} (default: {TOP})")
    add_run_options(p)
    p.set_defaults(func=run_linkpred)


def run_linkpred(args) -> int:
    if args.top is not None and args.recommend is None:
        raise InputError("--top is the number of links --recommend NODE lists: give --recommend")
    top = TOP if args.top is None else args.top
    run = GraphRun.load(args)
    graph, name = run.graph, run.name
    if args.recommend is not None and args.recommend >= graph.num_nodes:
        raise InputError(f"--recommend {args.recommend}: {name} has nodes 0 .. {graph.num_nodes - 1}")
    config = LinkPredConfig(model=args.model, hidden_size=args.hidden, latent=args.latent, lr=args.lr,
                                     epochs=args.epochs)
    run_config = {"dataset": args.dataset, "seeds": args.seeds, "recommend": args.recommend, "top": top,
                  **dataclasses.asdict(config)}
    run.prepare("graph linkpred", run_config, [functools.partial(build_autoencoder, config)])

    runs, first = [], None
    with run.progress(len(args.seeds) * config.epochs, f"{config.model} {name}") as bar, \
            run.threads(config.hidden_size):
        for seed in args.seeds:
            def on_epoch(record, seed=seed):
                bar.update(1)
                bar.set_postfix(seed=seed, val_auc=f"{100 * record['val_auc']:.1f}")
            result, z, split = fit_linkpred(graph, config, seed, run.device, on_epoch)
            runs.append(result)
            first = first or (z, split)

    per_seed = [{"seed": r.seed, "best_epoch": r.best_epoch, "val_auc_best": 100 * r.val_auc_best,
                 "test_auc_best_val": 100 * r.test_auc_best_val, "test_ap_best_val": 100 * r.test_ap_best_val,
                 "test_auc_last": 100 * r.test_auc_last, "test_ap_last": 100 * r.test_ap_last,
                 "seconds_per_epoch": r.seconds_per_epoch} for r in runs]
    results = LinkPredResults(
        dataset=name, model=config.model, units="%", config=run_config, device=str(run.device),
        published=PUBLISHED[config.model] if name == "cora" else None,
        split={"train_edges": first[1].train_pos.size(1), "val_edges": first[1].val_pos.size(1),
               "test_edges": first[1].test_pos.size(1)},
        headline="test_auc_best_val, test_ap_best_val (the paper reports the last epoch: *_last)", runs=per_seed,
        **{key: mean_std([r[key] for r in per_seed])
           for key in ("test_auc_best_val", "test_ap_best_val", "test_auc_last", "test_ap_last")},
        recommendations=None if args.recommend is None else recommendations(*first, args.recommend, top))
    title = f"{config.model.upper()} on {name}"
    return run.finish(results, "curves.png", lambda path: plot_linkpred(runs, path, title), format_linkpred(results))


def recommendations(z, split: EdgeSplit, node: int, top: int) -> dict:
    """The ``top`` suggested links of ``node`` (first seed's model, its training graph), each marked ``val`` or
    ``test`` when it is a held-out edge of that split."""
    nodes, probabilities = recommend(z.cpu(), split.train_edge_index, node, top)
    n = split.num_nodes
    held_out = {key: name for name, pairs in (("val", split.val_pos), ("test", split.test_pos))
                for key in pair_keys(pairs, n).tolist()}
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
    if results["recommendations"]:
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
    save_figure(fig, path)
