"""`seqgraph graph train` in full batch: GCN or GAT node classification on a Planetoid graph, once per seed."""

import dataclasses
import functools
from pathlib import Path
from typing import TypedDict

from ....errors import InputError
from ....graph.node.models import build_model
from ....graph.node.train import default_config, fit
from ....outdir import write_json
from ....stats import mean_std, pm
from ...plots import pyplot, save_figure
from ..common import GraphRun

# Test accuracy (%) on the Planetoid public splits: Kipf & Welling 2017, Table 2; Veličković et al. 2018, Table 3.
PUBLISHED = {
    "gcn": {"cora": "81.5", "citeseer": "70.3", "pubmed": "79.0"},
    "gat": {"cora": "83.0 ± 0.7", "citeseer": "72.5 ± 0.7", "pubmed": "79.0 ± 0.3"},
}
HEADLINE = "test_acc_best_val"
# flag dest -> NodeTrainConfig field, for the flags that override the paper's configuration
OVERRIDES = {"epochs": "epochs", "patience": "patience", "lr": "lr", "weight_decay": "weight_decay",
             "hidden": "hidden_size", "heads": "heads", "output_heads": "output_heads", "dropout": "dropout"}


class NodeClassificationResults(TypedDict):
    """``results.json`` of ``graph train`` (accuracies in %)."""

    dataset: str
    model: str
    headline: str  # the key of the headline accuracy
    units: str
    published: str | None
    runs: list[dict]  # per seed: seed, best_epoch, val_acc_best, test_acc_best_val, last_epoch, test_acc_last, ...
    test_acc_best_val: dict  # mean and std over seeds
    test_acc_last: dict
    config: dict
    device: str
    num_nodes: int
    num_edges: int


def run(args) -> int:
    """The full-batch run of ``graph train`` (see the package's parser for the flags)."""
    if args.model == "sage" or args.resume or args.fanout or args.layers != 2:
        raise InputError("--model sage, --fanout, --layers and --resume belong to mini-batch mode (full-batch "
                         "models have 2 layers): give --batch-size")
    run = GraphRun.load(args)
    graph, name = run.graph, run.name
    overrides = {field: getattr(args, flag) for flag, field in OVERRIDES.items() if getattr(args, flag) is not None}
    if overrides.get("patience") == 0:
        overrides["patience"] = None
    config = dataclasses.replace(default_config(args.model, name), **overrides)
    run_config = {"dataset": args.dataset, "seeds": args.seeds, **dataclasses.asdict(config)}
    out = run.prepare("graph train", run_config, [functools.partial(build_model, config)])

    runs = []
    with run.progress(len(args.seeds) * config.epochs, f"{config.model} {name}") as bar, \
            run.threads(config.hidden_size * config.heads):
        for seed in args.seeds:
            def on_epoch(record, seed=seed):
                bar.update(1)
                bar.set_postfix(seed=seed, val=f"{100 * record['val_acc']:.1f}", test=f"{100 * record['test_acc']:.1f}")
            result = fit(graph, config, seed, run.device, on_epoch)
            bar.update(config.epochs - result.last_epoch)  # epochs skipped by early stopping
            runs.append(result)

    results = summarise(runs, name, config, run_config, str(run.device), graph)
    write_json(out / "history.json", {str(r.seed): r.history for r in runs})
    title = f"{config.model.upper()} on {name}"
    return run.finish(results, "curves.png", lambda path: plot_curves(runs, path, title), format_table(results))


def summarise(runs, name: str, config, run_config: dict, device: str, graph) -> NodeClassificationResults:
    """Per-seed and mean ± std (sample std over seeds) test accuracies in %, and the published number."""
    per_seed = [{"seed": r.seed, "best_epoch": r.best_epoch, "val_acc_best": 100 * r.val_acc_best,
                 "test_acc_best_val": 100 * r.test_acc_best_val, "last_epoch": r.last_epoch,
                 "test_acc_last": 100 * r.test_acc_last, "seconds_per_epoch": r.seconds_per_epoch} for r in runs]
    return NodeClassificationResults(
        dataset=name, model=config.model, headline=HEADLINE, units="accuracy in %",
        published=PUBLISHED[config.model].get(name), runs=per_seed,
        test_acc_best_val=mean_std(run["test_acc_best_val"] for run in per_seed),
        test_acc_last=mean_std(run["test_acc_last"] for run in per_seed),
        config=run_config, device=device, num_nodes=graph.num_nodes, num_edges=graph.num_edges)


def format_table(results: NodeClassificationResults) -> str:
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
    save_figure(fig, path)
