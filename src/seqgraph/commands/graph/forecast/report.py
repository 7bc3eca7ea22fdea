"""What `graph forecast` reports: the published numbers it is compared with, the summary over seeds, the printed
table and the two figures (learning curves, and forecasts against the truth for a few sensors over a test day)."""

import statistics
from pathlib import Path
from typing import TypedDict

import torch

from ....stats import pm
from ...plots import pyplot, save_figure

# What the papers and libraries published, under their protocols (de-normalised units):
# - T-GCN, Los-loop, 15 minutes: the authors' saved test predictions at their reported epoch (lehaifeng/T-GCN,
#   out/tgcn_los_lr0.001_batch64_unit64_seq12_pre3_epoch5000/test_result.csv), which are the paper's T-GCN row;
# - DCRNN, METR-LA and PEMS-BAY at 15/30/60 minutes: the table of liyaguang/DCRNN's README (after the fix of
#   commit 2e4b8c8, better than the paper's Table 2), MAPE in %;
# - PyTorch Geometric Temporal's documentation: the chickenpox example (DCRNN, K = 1, 32 filters) prints MSE 0.7418.
PUBLISHED = {
    ("los-loop", "tgcn", 3): {"rmse": 5.1264, "mae": 3.1802, "accuracy": 0.9127, "r2": 0.8634, "var": 0.8634,
                              "source": "T-GCN (Zhao et al. 2019), the authors' saved predictions"},
    ("metr-la", "dcrnn"): {3: {"mae": 2.67, "rmse": 5.17, "mape": 6.84}, 6: {"mae": 3.08, "rmse": 6.30, "mape": 8.38},
                           12: {"mae": 3.56, "rmse": 7.52, "mape": 10.30}, "source": "liyaguang/DCRNN README"},
    ("pems-bay", "dcrnn"): {3: {"mae": 1.31, "rmse": 2.76, "mape": 2.74}, 6: {"mae": 1.66, "rmse": 3.78, "mape": 3.76},
                            12: {"mae": 1.98, "rmse": 4.62, "mape": 4.74}, "source": "liyaguang/DCRNN README"},
    ("chickenpox", "dcrnn"): {"mse": 0.7418, "source": "PyTorch Geometric Temporal's documentation (its code gives "
                                                       "1.02-1.03 here)"},
}
DCRNN_STEPS = (3, 6, 12)


class ForecastResults(TypedDict):
    """``results.json`` of ``graph forecast`` (de-normalised units; MAPE in %)."""

    dataset: str
    model: str
    protocol: str
    protocol_label: str
    units: str
    runs: list[dict]  # per seed: seed, epoch (the reported one), epochs_run, val and test metrics, seconds_per_epoch
    headline: dict  # mean ± std over seeds of the protocol's numbers (see headline())
    published: dict | None
    noise_mse: float | None  # the generator's best possible one-step MSE
    windows: dict  # train, val, test window counts
    nodes: int
    steps: int
    edges: int
    scaler: dict
    parameters: int
    config: dict
    device: str
    processes: int  # 15, 30 and 60 minutes ahead
TGCN_NUMBERS = ("rmse", "mae", "accuracy", "r2", "var")


def _stats(values: list[float]) -> dict:
    return {"mean": statistics.mean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0}


def headline(protocol: str, horizon: int, runs: list[dict]) -> dict:
    """Mean ± std over the seeds of the protocol's numbers on the test windows at the reported epoch."""
    tests = [r["test"] for r in runs]
    if protocol.startswith("tgcn"):
        return {at: {name: _stats([t[at][name] for t in tests]) for name in TGCN_NUMBERS} for at in ("pooled", "step")}
    if protocol == "pygt":
        return {"mse": _stats([t["mean"]["mse"] for t in tests])}
    steps = [s for s in DCRNN_STEPS if s <= horizon] or [horizon]
    return {str(s): {name: _stats([t[name][s - 1] * (100 if name == "mape" else 1) for t in tests])
                     for name in ("mae", "rmse", "mape", "mse")} for s in steps}


def published(dataset: str | None, model: str, horizon: int) -> dict | None:
    return PUBLISHED.get((dataset, model, horizon)) or PUBLISHED.get((dataset, model))


def format_table(results: dict) -> str:
    """The headline numbers, one line per measure, beside the published ones."""
    head, n, protocol = results["headline"], len(results["runs"]), results["protocol"]
    lines = [f"{results['model']} on {results['dataset']}, {results['protocol_label']}, test windows, mean ± std "
             f"over {n} seed(s):"]
    reference = results.get("published") or {}
    if protocol.startswith("tgcn"):
        for at, label in (("pooled", f"steps 1-{results['config']['horizon']} pooled"),
                          ("step", f"step {results['config']['horizon']} alone")):
            cells = "  ".join(f"{name} {pm(head[at][name], 4, n)}" for name in TGCN_NUMBERS)
            lines.append(f"  {label:<18} {cells}")
        if reference:
            lines.append("  published          " + "  ".join(f"{k} {reference[k]}" for k in TGCN_NUMBERS)
                         + f"  ({reference['source']})")
    elif protocol == "pygt":
        lines.append(f"  MSE {pm(head['mse'], 4, n)}" + (f"   published {reference['mse']} ({reference['source']})"
                                                         if reference else ""))
    else:
        for step, numbers in head.items():
            ref = reference.get(int(step)) if reference else None
            lines.append(f"  step {step:>2}: MAE {pm(numbers['mae'], 2, n)}  RMSE {pm(numbers['rmse'], 2, n)}  "
                         f"MAPE {pm(numbers['mape'], 2, n)} %" + (f"   published MAE {ref['mae']} RMSE {ref['rmse']} "
                                                                  f"MAPE {ref['mape']} %" if ref else ""))
        if results.get("noise_mse") is not None:
            first = head.get("1", head[next(iter(head))])
            lines.append(f"  noise floor MSE {results['noise_mse']:.4f}; step {next(iter(head))} MSE "
                         f"{pm(first['mse'], 4, n)}")
    return "\n".join(lines)


def plot_curves(histories: dict[int, list[dict]], path: Path, protocol: str, title: str) -> None:
    """Training loss, and the selection metric on the validation and test windows, per epoch and seed."""
    plt = pyplot()
    metric, at = ("rmse", "pooled") if protocol.startswith("tgcn") else ("mse" if protocol == "pygt" else "mae",
                                                                         "mean")
    fig, (ax_loss, ax_metric) = plt.subplots(1, 2, figsize=(11, 4))
    for i, history in enumerate(histories.values()):
        epochs = [r["epoch"] for r in history]
        ax_loss.plot(epochs, [r["train_loss"] for r in history], color="C0", lw=0.8, alpha=0.6,
                     label="training loss" if i == 0 else None)
        for split, colour in (("val", "C1"), ("test", "C2")):
            if split in history[0]:
                ax_metric.plot(epochs, [r[split][at][metric] for r in history], color=colour, lw=0.8, alpha=0.6,
                               label=f"{split} {metric.upper()}" if i == 0 else None)
    ax_loss.set(xlabel="epoch", ylabel="loss", title=f"{title}: training loss", yscale="log")
    ax_metric.set(xlabel="epoch", ylabel=metric.upper(), title=f"{title}: {metric.upper()} ({at})")
    for ax in (ax_loss, ax_metric):
        ax.legend()
    save_figure(fig, path)


def plot_predictions(pred: torch.Tensor, true: torch.Tensor, step: int, path: Path, title: str, per_day: int,
                     sensors: int = 3) -> None:
    """The forecast ``step`` steps ahead against the truth over the first ``per_day`` test windows (a day), for
    the ``sensors`` most variable sensors; ``pred``, ``true`` ``(S, H, N)``."""
    plt = pyplot()
    span = min(per_day, pred.size(0))
    chosen = true[:span, step - 1].std(0).argsort(descending=True)[:sensors].tolist()
    fig, axes = plt.subplots(len(chosen), 1, figsize=(10, 2.4 * len(chosen)), sharex=True, squeeze=False)
    for ax, node in zip(axes[:, 0], chosen, strict=True):
        ax.plot(true[:span, step - 1, node].numpy(), color="black", lw=1, label="truth")
        ax.plot(pred[:span, step - 1, node].numpy(), color="C3", lw=1, label=f"forecast {step} step(s) ahead")
        ax.set(ylabel=f"node {node}")
    axes[0, 0].set_title(title)
    axes[0, 0].legend(loc="upper right")
    axes[-1, 0].set_xlabel("test window (time step)")
    save_figure(fig, path)
