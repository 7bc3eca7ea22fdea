"""The tables of sequences on graphs: `seqgraph graph forecast` under each benchmark's protocol, and its speed."""

import shlex
from pathlib import Path

from seqgraph.commands.graph.forecast import report
from seqgraph.commands.reproduce.sequences import EPIDEMIC_MODELS, forecast_argv
from seqgraph.graph.temporal.train import ForecastConfig
from seqgraph.stats import pm

from .common import Table, load, run

FORECAST = "results/forecast/{}/results.json"
LABELS = {"last": "last value", "average": "window mean (historical average)", "gcn": "GCN, no recurrence",
          "gru": "GRU, blind to the graph", "tgcn": "T-GCN, the paper's equations",
          "tgcn-code": "T-GCN, the authors' code", "gconv-gru": "GConvGRU", "gconv-lstm": "GConvLSTM", "dcrnn": "DCRNN"}
TGCN_NUMBERS = ("rmse", "mae", "accuracy", "r2", "var")
LOS_LOOP_15 = ("last", "average", "gcn", "gru", "tgcn", "tgcn-code", "gconv-gru", "gconv-lstm", "dcrnn")
# the rows of other settings, by the suffix of their folder (los-loop-<model>-h3-<suffix>), in the table's order
LOS_LOOP_VARIANTS = {"long": ("gconv-gru",),  # more epochs for the model nearest the published row
                     "sampled": ("dcrnn",),  # scheduled sampling that reaches the model's own predictions in the run
                     "decay": ("dcrnn",),  # and DCRNN's own learning-rate schedule
                     "honest": ("gconv-gru",)}  # the honest protocol, for the model nearest the published row
LOS_LOOP_LR = 0.01  # ten times the paper's, for the epochs this CPU allows
EPIDEMICS = ("chickenpox", "pedalme", "england-covid")


def _runs(r: dict) -> int:
    """The runs whose spread a table shows: the seeds of a trained model, one for a model without parameters (its
    seeds give the same numbers)."""
    return len(r["runs"]) if r["parameters"] else 1


def _epochs(r: dict) -> str:
    """The epochs trained and, in parentheses, the reported one of each seed (only for trained models)."""
    if not r["parameters"]:
        return "–"
    return f"{r['config']['epochs']} ({', '.join(str(run['epoch']) for run in r['runs'])})"


def _present(root: Path, names) -> tuple[list[str], list[str]]:
    """The run folders of ``names`` that hold results, and those that do not (said under the table)."""
    have = [name for name in names if (root / FORECAST.format(name)).is_file()]
    return have, [name for name in names if name not in have]


def _not_run(missing: list[str]) -> str:
    return f"; not run on this CPU's budget: {', '.join(missing)}" if missing else ""


def forecast_los_loop(root: Path) -> Table:
    names, missing = _present(root, [f"los-loop-{model}-h3" for model in LOS_LOOP_15]
                              + [f"los-loop-{model}-h3-{suffix}" for suffix, models in LOS_LOOP_VARIANTS.items()
                                 for model in models])
    rows = []
    for name in names:
        r = load(FORECAST.format(name), root)
        config = r["config"]
        settings = f", gradient norm clipped at {config['max_norm']:g}" if config["max_norm"] else ""
        if r["parameters"] and config["lr"] != LOS_LOOP_LR:
            settings += f", learning rate {config['lr']:g}"
        if r["model"] == "dcrnn" and config["cl_decay_steps"] != ForecastConfig.cl_decay_steps:
            settings += f", scheduled sampling k = {config['cl_decay_steps']}"
        if config["lr_milestones"]:
            settings += (f", the rate × {config['lr_decay']:g} after epochs "
                         f"{', '.join(str(m) for m in config['lr_milestones'])}")
        # the honest rows add the horizon's own step: pooling all steps up to it flatters the 15-minute figure
        scopes = ([("pooled", ", honest protocol (validation picks the epoch)"),
                   ("step", ", honest protocol, the third step alone")] if name.endswith("honest")
                  else [("pooled", ", trained longer" if name.endswith("long") else "")])
        for scope, label in scopes:
            rows.append([LABELS[r["model"]] + settings + label,
                         *(pm(r["headline"][scope][k], 4, _runs(r)) for k in TGCN_NUMBERS), _epochs(r),
                         _seconds(_seconds_per_epoch(r)) if r["parameters"] else "–"])
    published = report.published("los-loop", "tgcn", 3)
    rows.append([f"T-GCN, published: {published['source']}", *(str(published[k]) for k in TGCN_NUMBERS),
                 "5000 (4809)", ""])
    return Table(["15 minutes ahead (3 steps), pooled", "RMSE", "MAE", "accuracy", "R²", "explained variance",
                  "epochs (reported)", "s / epoch"], rows,
                 f"{run(forecast_argv('los-loop', 'MODEL', '--horizon', '3'), 'results/forecast/los-loop-<model>-h3')}"
                 f", with `--lr {LOS_LOOP_LR:g}` (or the rate a row names), `--max-norm`, `--cl-decay-steps` and "
                 "`--lr-milestones` as a row names them and the epochs of the epochs column for the models that "
                 "train; `--protocol tgcn-honest` for the honest rows (folders "
                 f"{', '.join(f'`-h3-{suffix}`' for suffix in LOS_LOOP_VARIANTS)} for the rows so named)"
                 f"{_not_run(missing)}")


HORIZONS = (3, 6, 9, 12)  # 15, 30, 45, 60 minutes of 5-minute steps
LOS_LOOP_BY_HORIZON = ("last", "average", "gconv-gru")


def forecast_los_loop_horizons(root: Path) -> Table:
    names, missing = _present(root, [f"los-loop-{model}-h{h}" for h in HORIZONS for model in LOS_LOOP_BY_HORIZON])
    rows = []
    for name in names:
        r = load(FORECAST.format(name), root)
        runs, horizon = _runs(r), r["config"]["horizon"]
        rows.append([f"{5 * horizon} ({horizon})", LABELS[r["model"]],
                     *(pm(r["headline"]["pooled"][k], 4, runs) for k in ("rmse", "mae", "accuracy", "r2")),
                     pm(r["headline"]["step"]["rmse"], 4, runs), _epochs(r)])
    return Table(["minutes ahead (steps)", "model", "RMSE, pooled", "MAE, pooled", "accuracy, pooled", "R², pooled",
                  "RMSE, the last step alone", "epochs (reported)"], rows,
                 run(forecast_argv("los-loop", "MODEL", "--horizon", "H", "--seeds", "0", "1", "2", "3", "4"),
                     "results/forecast/los-loop-<model>-h<H>")
                 + f", with `--lr {LOS_LOOP_LR:g}` and the epochs of the epochs column for GConvGRU, and `--seeds 0` "
                 f"beyond 15 minutes{_not_run(missing)}")


GVAR = ("last", "gru", "dcrnn")
GVAR_FLAGS = ("--horizon", "1", "--hidden", "32", "--layers", "1", "--epochs", "8", "--seeds", "0", "1", "2", "3", "4")


def forecast_gvar(root: Path) -> Table:
    names, missing = _present(root, [f"gvar-{model}-h1" for model in GVAR])
    rows = []
    for name in names:
        r = load(FORECAST.format(name), root)
        mse = r["headline"]["1"]["mse"]
        rows.append([LABELS[r["model"]], pm(mse, 4, _runs(r)), f"{mse['mean'] / r['noise_mse']:.3f}",
                     _epochs(r)])
    return Table(["207 sensors x 4,000 steps, one step ahead", "test MSE", "/ noise floor", "epochs (reported)"],
                 rows, run(forecast_argv("gvar:207x4000", "MODEL", *GVAR_FLAGS), "results/forecast/gvar-<model>-h1",
                           one_thread=False) + f" (noise floor: MSE 0.0100; DCRNN's protocol){_not_run(missing)}")


def _seconds(seconds: float) -> str:
    return f"{seconds:.0f}" if seconds >= 10 else f"{seconds:.1f}"


def _seconds_per_epoch(r: dict) -> float:
    return sum(run["seconds_per_epoch"] for run in r["runs"]) / len(r["runs"])


def forecast_epidemics(root: Path) -> Table:
    rows, missing = [], []
    for model in EPIDEMIC_MODELS:
        cells = []
        for dataset in EPIDEMICS:
            name = f"{dataset}-{model}"
            if not (root / FORECAST.format(name)).is_file():
                cells.append("–")
                missing.append(name)
                continue
            r = load(FORECAST.format(name), root)
            cells.append(pm(r["headline"]["mse"], 3, _runs(r)))
        rows.append([LABELS[model], *cells])
    reference = report.published("chickenpox", "dcrnn", 1)
    rows.append([f"DCRNN, published: {reference['source']}", str(reference["mse"]), "–", "–"])
    return Table(["model", "chickenpox", "PedalMe", "England COVID"], rows,
                 run(forecast_argv("DATASET", "MODEL", "--seeds", "0", "1", "2", "3", "4"),
                     "results/forecast/<dataset>-<model>")
                 + f" (test MSE in the loaders' standardised units, mean ± std over 5 seeds){_not_run(missing)}")


def _step(measured: dict) -> str:
    if "seconds_per_step" in measured:
        return (f"{measured['seconds_per_step']:,.1f} s a step, {measured['seconds_per_epoch'] / 3600:,.1f} h an epoch "
                f"of {measured['steps_per_epoch']} steps (peak {measured['peak_mib'] / 1024:.1f} GiB)")
    return f"unfinished after {measured['unfinished_after_s']:,.0f} s"


def forecast_speed(root: Path) -> Table:
    r = load("benchmarks/results/forecast.json", root)
    rows = []
    if "chickenpox" in r:
        c = r["chickenpox"]
        rows.append(["chickenpox, a training epoch of `DCRNN(4, 32, 1)` (103 snapshots)",
                     f"{1000 * c['ours']['seconds_per_epoch']:.2f} ms",
                     f"{1000 * c['pygt']['seconds_per_epoch']:.1f} ms",
                     f"**{c['time_ratio']:.3f}**", "–"])
    for size, e in r.get("epoch", {}).items():
        rows.append([f"DCRNN training step, 12 → 12, batch 64, {size}'s size (generator)",
                     *map(_step, (e["ours"], e["pygt"])),
                     *(f"**{e[k]:.3f}**" if k in e else "–" for k in ("time_ratio", "memory_ratio"))])
    settings = r["settings"]
    return Table(["measurement", "ours", "PyTorch Geometric Temporal", "time, ours / theirs",
                  "peak memory, ours / theirs"], rows,
                 f"{_benchmark_command(settings)} ({settings['threads']} thread, load average "
                 f"{settings['load_avg_start'][0]:.1f} at the start)")


def _benchmark_command(settings: dict) -> str:
    return f"`OMP_NUM_THREADS=1 python benchmarks/forecast.py {shlex.join(settings['argv'])}`"


def forecast_memory(root: Path) -> Table:
    r = load("benchmarks/results/forecast.json", root)
    rows = [[f"{m['steps']:,}", f"{m['windows']:,}", f"{m['series_mib']:,.0f}", f"{m['peak_mib']:,.0f}"]
            for m in r.get("memory", [])]
    return Table(["series steps (207 sensors)", "windows", "series, its scaled copy and features, MiB",
                  "peak of the process, MiB"], rows,
                 f"{_benchmark_command(r['settings'])} (DCRNN: data, model and two training steps, each size in a "
                 "fresh process)")


TABLES = {"forecast-los-loop": forecast_los_loop, "forecast-los-loop-horizons": forecast_los_loop_horizons,
          "forecast-epidemics": forecast_epidemics,
          "forecast-gvar": forecast_gvar, "forecast-speed": forecast_speed, "forecast-memory": forecast_memory}
