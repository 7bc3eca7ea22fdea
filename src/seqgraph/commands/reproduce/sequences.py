"""Part 3's section on sequences on graphs (report §3.4, combined): recurrent graph models forecasting traffic on
Los-loop under T-GCN's protocol and epidemics under PyTorch Geometric Temporal's, and DCRNN on the generator whose
best forecast is known."""

from collections.abc import Callable
from pathlib import Path

from ...stats import pm
from ..graph.forecast.report import TGCN_NUMBERS, ForecastResults
from .experiment import PROFILES, Experiment, by_profile

SEQUENCES = "Part 3 — sequences on graphs (report §3.4)"
LOS_LOOP_MODELS = ("tgcn", "dcrnn", "gconv-gru", "gconv-lstm", "gru", "gcn", "last", "average")
EPIDEMIC_MODELS = ("dcrnn", "gconv-gru", "gconv-lstm", "tgcn", "tgcn-code", "gru", "gcn", "last", "average")
# the full profile's epochs on Los-loop: T-GCN's 5000 take days of this CPU (benchmarks/results/forecast.json)
LOS_LOOP_FULL = ["--epochs", "200", "--seeds", "0", "1", "2"]
# DCRNN learns under T-GCN's training only with its own clipping, feeds its decoder its own predictions within the
# run only with a faster scheduled sampling than its paper's k = 2000, and settles with its own learning-rate decay
# (docs/forecast.md, the Los-loop table)
DCRNN_LOS_LOOP = ["--max-norm", "5", "--cl-decay-steps", "100", "--lr-milestones", "20", "30", "40", "50"]


def forecast_argv(dataset: str, model: str, *flags: str) -> list[str]:
    """The command line of ``seqgraph graph forecast``: ``model`` forecasting ``dataset``."""
    return ["graph", "forecast", "--dataset", dataset, "--model", model, *flags]


def _los_loop(model: str, horizon: int, protocol: str) -> Callable[[str, Path], list[str]]:
    def argv(profile: str, root: Path) -> list[str]:
        # smoke: seconds; quick: T-GCN 3 epochs and DCRNN (16 units) 1, about a minute each on a CPU core
        size = by_profile(profile, ["--epochs", "1", "--hidden", "4", "--window", "2", "--batch-size", "1024"],
                          ["--epochs", "3", "--batch-size", "256"] if model == "tgcn" else
                          ["--epochs", "1", "--hidden", "16", "--batch-size", "256"],
                          LOS_LOOP_FULL + DCRNN_LOS_LOOP if model == "dcrnn" else LOS_LOOP_FULL)
        return forecast_argv("los-loop", model, "--horizon", str(horizon), "--protocol", protocol, *size)
    return argv


def _epidemic(dataset: str, model: str) -> Callable[[str, Path], list[str]]:
    def argv(profile: str, root: Path) -> list[str]:
        size = by_profile(profile, ["--epochs", "2", "--hidden", "8"], [], ["--seeds", "0", "1", "2", "3", "4"])
        return forecast_argv(dataset, model, *size)
    return argv


def _generator(profile: str, root: Path) -> list[str]:
    size = by_profile(profile, ["--epochs", "1", "--hidden", "8"], [],
                      ["--epochs", "30", "--patience", "5", "--seeds", "0", "1", "2"])
    return forecast_argv("gvar:207x4000", "dcrnn", "--window", "12", "--horizon", "12", *size)


def _render(results: ForecastResults, folder: Path, profile: str) -> list[tuple]:
    head, n = results["headline"], len(results["runs"])
    config = results["config"]
    blocks = [("p", f"{results['model']} on {results['dataset']} ({results['nodes']} nodes, {results['steps']} "
               f"steps; windows {results['windows']['train']}/{results['windows']['val']}/"
               f"{results['windows']['test']}), {results['protocol_label']}, {config['epochs']} epochs at most, "
               f"{n} seed(s); test windows, mean ± std.")]
    reference = results["published"]
    if results["protocol"].startswith("tgcn"):
        rows = [[f"ours, steps 1-{config['horizon']} pooled", *(pm(head['pooled'][k], 4, n) for k in TGCN_NUMBERS)],
                [f"ours, step {config['horizon']} alone", *(pm(head['step'][k], 4, n) for k in TGCN_NUMBERS)]]
        if reference:
            rows.append([reference["source"], *(str(reference[k]) for k in TGCN_NUMBERS)])
        blocks.append(("table", ["", "RMSE", "MAE", "accuracy", "R²", "explained variance"], rows))
    elif results["protocol"] == "pygt":
        rows = [["ours", pm(head["mse"], 4, n)]] + ([[reference["source"], str(reference["mse"])]] if reference else [])
        blocks.append(("table", ["", "test MSE"], rows))
    else:
        rows = [[f"step {step}", pm(v["mae"], 3, n), pm(v["rmse"], 3, n), pm(v["mse"], 5, n)]
                for step, v in head.items()]
        blocks.append(("table", ["horizon", "MAE", "RMSE", "MSE"], rows))
        if results["noise_mse"] is not None:
            blocks.append(("p", f"The generator's noise floor (the best possible MSE): {results['noise_mse']:.4f}."))
    if profile != "full":
        blocks.append(("p", f"{profile.capitalize()} profile: {config['epochs']} epoch(s), briefly, to stay within "
                       "the profile's budget; the full profile trains every model longer, on more seeds."))
    blocks.append(("img", folder / "predictions.png", f"{results['model']} on {results['dataset']}: forecasts"))
    return blocks


def _experiments() -> list[Experiment]:
    quick = {"tgcn", "dcrnn"}  # the quick profile's models on Los-loop (with GConvGRU on chickenpox)
    los_loop = [Experiment(f"forecast-los-loop-{model}-h{h}-{protocol}", SEQUENCES,
                           f"{model} on Los-loop, {5 * h} minutes ahead, {protocol} protocol",
                           _los_loop(model, h, protocol), _render, reads_data=True,
                           profiles=(PROFILES if model == "tgcn" and h == 3 and protocol == "tgcn-paper" else
                                     ("quick", "full") if model in quick and h == 3 and protocol == "tgcn-paper"
                                     else ("full",)))
                for model in LOS_LOOP_MODELS for h in (3, 6, 9, 12) for protocol in ("tgcn-paper", "tgcn-honest")
                if h == 3 or model == "tgcn"]
    epidemics = [Experiment(f"forecast-{dataset}-{model}", SEQUENCES, f"{model} on {dataset}",
                            _epidemic(dataset, model), _render, reads_data=True,
                            profiles=("smoke", "quick", "full") if (dataset, model) == ("chickenpox", "gconv-gru")
                            else ("full",))
                 for dataset in ("chickenpox", "pedalme", "england-covid") for model in EPIDEMIC_MODELS]
    generator = Experiment("forecast-gvar-dcrnn", SEQUENCES, "DCRNN on the generator with a known noise floor",
                           _generator, _render, profiles=("full",))
    return [*los_loop, *epidemics, generator]


EXPERIMENTS: list[Experiment] = _experiments()
