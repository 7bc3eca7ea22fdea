"""`seqgraph graph compare`: recurrent against graph models for node classification, one protocol, same seeds."""

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from torch import nn

from ...graph.node.models import LayerStack, build_model
from ...graph.node.sequence import NeighbourhoodLSTM
from ...graph.node.train import NodeTrainConfig, count_parameters, default_config, fit_model
from ...stats import mean_std, pm
from ..flags import Distinct, positive_int
from ..options import add_run_options
from ..plots import pyplot, save_figure
from .common import GraphRun, add_dataset_options


class CompareResults(TypedDict):
    """``results.json`` of ``graph compare``."""

    dataset: str
    units: dict
    config: dict
    device: str
    rows: list[dict]  # per model: label, parameters, runs, test_acc and seconds_per_epoch (mean and std)


@dataclass
class Contender:
    label: str
    config: NodeTrainConfig  # optimiser, epochs, hidden size and dropout
    build: Callable[[NodeTrainConfig, int, int], nn.Module]  # (config, in_channels, classes) -> model


def contenders(dataset: str) -> dict[str, Contender]:
    """GCN and GAT with their papers' settings; GraphSAGE and the sequence LSTM on GCN's protocol (Adam lr 0.01,
    weight decay 5e-4, dropout 0.5, 200 epochs), hidden 16 like GCN, 64 for the LSTM-based models."""
    base = NodeTrainConfig()
    return {
        "gcn": Contender("GCN", default_config("gcn", dataset), build_model),
        "gat": Contender("GAT", default_config("gat", dataset), build_model),
        "sage-mean": Contender("GraphSAGE-mean", dataclasses.replace(base, model="sage-mean"),
                               lambda c, i, k: LayerStack("sage", i, c.hidden_size, k, 2, c.dropout, aggr="mean")),
        "sage-lstm": Contender("GraphSAGE-LSTM", dataclasses.replace(base, model="sage-lstm", hidden_size=64),
                               lambda c, i, k: LayerStack("sage", i, c.hidden_size, k, 2, c.dropout, aggr="lstm")),
        "seq-bfs": Contender("LSTM on BFS order", dataclasses.replace(base, model="seq-bfs", hidden_size=64),
                             lambda c, i, k: NeighbourhoodLSTM(i, c.hidden_size, k, "bfs", dropout=c.dropout)),
        "seq-dfs": Contender("LSTM on DFS order", dataclasses.replace(base, model="seq-dfs", hidden_size=64),
                             lambda c, i, k: NeighbourhoodLSTM(i, c.hidden_size, k, "dfs", dropout=c.dropout)),
    }


MODEL_NAMES = tuple(contenders("cora"))


def register(sub) -> None:
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
    p.add_argument("--models", choices=MODEL_NAMES, nargs="+", action=Distinct, default=list(MODEL_NAMES),
                   help="models to run (default: all)")
    p.add_argument("--epochs", type=positive_int,
                   help="maximum epochs for every model (default: each model's own, 200; GAT 1000 with patience 100)")
    add_run_options(p)
    p.set_defaults(func=run_compare)


def run_compare(args) -> int:
    run = GraphRun.load(args)
    graph, name = run.graph, run.name
    chosen = {key: contenders(name)[key] for key in args.models}
    if args.epochs is not None:
        chosen = {key: dataclasses.replace(c, config=dataclasses.replace(c.config, epochs=args.epochs))
                  for key, c in chosen.items()}
    run_config = {"dataset": args.dataset, "seeds": args.seeds,
                  "models": {key: dataclasses.asdict(c.config) for key, c in chosen.items()}}
    run.prepare("graph compare", run_config,
                [lambda i, k, c=c: c.build(c.config, i, k) for c in chosen.values()])

    rows = []
    total = sum(c.config.epochs for c in chosen.values()) * len(args.seeds)
    with run.progress(total, f"compare {name}") as bar, run.threads(max(c.config.hidden_size for c in chosen.values())):
        for key, c in chosen.items():
            runs, parameters = [], None
            for seed in args.seeds:
                bar.set_postfix(model=key, seed=seed)
                result, model = fit_model(lambda i, k, c=c: c.build(c.config, i, k), graph, c.config, seed, run.device,
                                          lambda _: bar.update(1))
                bar.update(c.config.epochs - result.last_epoch)  # epochs skipped by early stopping
                parameters = count_parameters(model)
                runs.append({"seed": seed, "test_acc": 100 * result.test_acc_best_val, "best_epoch": result.best_epoch,
                             "epochs": result.last_epoch, "seconds_per_epoch": result.seconds_per_epoch})
            rows.append({"model": key, "label": c.label, "parameters": parameters, "runs": runs,
                         "test_acc": mean_std([r["test_acc"] for r in runs]),
                         "seconds_per_epoch": mean_std([r["seconds_per_epoch"] for r in runs])})

    results = CompareResults(dataset=name, units={"test_acc": "%", "seconds_per_epoch": "s"}, config=run_config,
                             device=str(run.device), rows=rows)
    return run.finish(results, "compare.png", lambda path: plot_compare(rows, path, name), format_compare(results))


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
    save_figure(fig, path)
