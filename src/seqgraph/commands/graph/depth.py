"""`seqgraph graph depth`: over-smoothing of GCN stacks of 1 to 16 layers, plain, self-weighted and residual."""

import dataclasses
import functools
from pathlib import Path
from typing import TypedDict

import torch

from ...graph.conv.gcn import SelfGCNConv
from ...graph.node import depth
from ...graph.node.train import NodeTrainConfig, fit_model
from ...stats import mean_std, pm
from ..flags import (
    MAX_LAYERS,
    MAX_SIZE,
    Distinct,
    bounded_int,
    learning_rate,
    nonnegative_float,
    positive_int,
    probability,
)
from ..options import add_run_options
from ..plots import pyplot, save_figure
from .common import GraphRun, add_dataset_options
from .example import same_neighbourhood_demo


class DepthResults(TypedDict):
    """``results.json`` of ``graph depth``."""

    dataset: str
    units: dict
    config: dict
    device: str
    rows: list[dict]  # per variant and depth: runs, test_acc and distance (mean and std over seeds)
    same_neighbourhood: dict  # §3.1 with and without the self weight


def register(sub) -> None:
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
    p.add_argument("--layers", type=bounded_int(MAX_LAYERS), nargs="+", action=Distinct, default=[1, 2, 4, 8, 16],
                   help=f"depths to train, each at most {MAX_LAYERS} (default: 1 2 4 8 16)")
    p.add_argument("--variants", choices=depth.VARIANTS, nargs="+", action=Distinct, default=list(depth.VARIANTS),
                   help="layer kinds (default: all)")
    p.add_argument("--hidden", type=bounded_int(MAX_SIZE), default=64,
                   help=f"hidden features, at most {MAX_SIZE:,} (default: 64)")
    p.add_argument("--dropout", type=probability, default=0.5, help="dropout before every layer (default: 0.5)")
    p.add_argument("--lr", type=learning_rate, default=0.01, help="Adam learning rate (default: 0.01)")
    p.add_argument("--weight-decay", type=nonnegative_float, default=5e-4,
                   help="L2 weight decay on every layer (default: 0.0005)")
    p.add_argument("--epochs", type=positive_int, default=200, help="training epochs (default: 200)")
    add_run_options(p)
    p.set_defaults(func=run_depth)


def run_depth(args) -> int:
    run = GraphRun.load(args)
    graph, name = run.graph, run.name
    config = NodeTrainConfig(model="deep-gcn", hidden_size=args.hidden, dropout=args.dropout, lr=args.lr,
                         weight_decay=args.weight_decay, epochs=args.epochs)
    def build(in_channels: int, classes: int, layers: int, variant: str) -> depth.DeepGCN:
        return depth.DeepGCN(in_channels, config.hidden_size, classes, layers, variant, config.dropout)

    run_config = {"dataset": args.dataset, "seeds": args.seeds, "layers": args.layers, "variants": args.variants,
                  **dataclasses.asdict(config)}
    run.prepare("graph depth", run_config, [functools.partial(build, layers=max(args.layers), variant=variant)
                                            for variant in args.variants])

    demo = self_weight_demo(args.seeds[0])
    rows = []
    total = len(args.variants) * len(args.layers) * len(args.seeds) * config.epochs
    with run.progress(total, f"depth {name}") as bar, run.threads(config.hidden_size):
        for variant in args.variants:
            for layers in args.layers:
                runs = []
                for seed in args.seeds:
                    bar.set_postfix(variant=variant, layers=layers, seed=seed)
                    result, model = fit_model(functools.partial(build, layers=layers, variant=variant), graph,
                                              config, seed, run.device, lambda _: bar.update(1))
                    runs.append({"seed": seed, "test_acc": 100 * result.test_acc_best_val,
                                 "best_epoch": result.best_epoch, "distance": depth.output_distance(model, graph)})
                rows.append({"variant": variant, "layers": layers, "runs": runs,
                             "test_acc": mean_std([r["test_acc"] for r in runs]),
                             "distance": mean_std([r["distance"] for r in runs])})

    results = DepthResults(
        dataset=name, units={"test_acc": "%", "distance": "mean pairwise distance of L2-normalised outputs, 0..2"},
        config=run_config, device=str(run.device), rows=rows,
        same_neighbourhood={key: value.tolist() for key, value in demo.items()})
    return run.finish(results, "depth.png", lambda path: plot_depth(rows, path, name), format_depth(results, demo))


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
    save_figure(fig, path)


def self_weight_demo(seed: int = 0) -> dict:
    """§3.1 on :func:`~seqgraph.graph.same_neighbourhood_demo`'s graph (0-1, 0-2, 1-2, 2-3; nodes 0 and
    1 share the closed neighbourhood {0, 1, 2}), with random features and a random :class:`SelfGCNConv`.

    Returns the features, the layer's GCN sum alone (a plain GCN layer with the same ``W``: rows 0 and 1 equal)
    and the full layer (rows 0 and 1 differ).
    """
    demo = same_neighbourhood_demo(seed)
    x, edge_index = demo["x"], demo["edge_index"]  # (4, 3), (2, 8)
    generator = torch.Generator().manual_seed(seed)
    layer = SelfGCNConv(x.size(1), demo["gcn"].size(1)).double()
    with torch.no_grad():
        for weight in (layer.conv.lin.weight, layer.lin_self.weight):
            weight.copy_(torch.randn(weight.shape, generator=generator, dtype=torch.float64))
        return {"edge_index": edge_index, "x": x, "gcn": layer.conv(x, edge_index),
                "self_weighted": layer(x, edge_index)}
