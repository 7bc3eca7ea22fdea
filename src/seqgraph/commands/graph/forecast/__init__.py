"""`seqgraph graph forecast`: recurrent graph models forecasting a signal on a fixed graph, under each benchmark's
published protocol (report §3.4: RNNs and GNNs combined).

The dataset fixes the protocol and the training schedule (its paper's, :mod:`seqgraph.graph.temporal.presets`), the
model its architecture; every value is a flag. One run per seed, each resumable from its checkpoint; data-parallel
over windows under torchrun. Writes DIR/results.json, DIR/history.json, DIR/curves.png and DIR/predictions.png.
"""

import dataclasses
import sys
from pathlib import Path

from .... import checkpoint, distributed, threads
from ....graph.datasets.signals import SIGNALS, load_signal
from ....graph.temporal.models import MODELS
from ....graph.temporal.presets import default_config
from ....graph.temporal.protocols import PROTOCOLS
from ....graph.temporal.train import KIND, ForecastTrainer
from ....outdir import write_json
from ...flags import (
    MAX_LAYERS,
    MAX_SIZE,
    Distinct,
    bounded_int,
    learning_rate,
    nonnegative_float,
    nonnegative_int,
    open_fraction,
    positive_int,
    seed_value,
)
from ...options import add_run_options, resolve_device
from ...output import prepare_out, print_json
from ...training_io import StopRequest, TrainingIO, refuse_restart
from .report import ForecastResults, format_table, headline, plot_curves, plot_predictions, published

PROTOCOL_LABELS = {"tgcn-paper": "T-GCN paper's protocol (epoch of the lowest test RMSE: optimistic)",
                   "tgcn-honest": "honest protocol (validation picks the epoch, scale from training)",
                   "dcrnn": "DCRNN's protocol (validation picks the epoch)",
                   "pygt": "PyTorch Geometric Temporal's protocol (last epoch)"}
# flag dest -> ForecastConfig field, for the flags that override the dataset's and the model's configuration
OVERRIDES = {"protocol": "protocol", "window": "window", "horizon": "horizon", "hidden": "hidden_size",
             "layers": "num_layers", "K": "K", "batch_size": "batch_size", "epochs": "epochs", "lr": "lr",
             "weight_decay": "weight_decay", "max_norm": "max_norm", "patience": "patience",
             "cl_decay_steps": "cl_decay_steps", "train_share": "train_share", "lr_milestones": "lr_milestones",
             "lr_decay": "lr_decay"}


def register(sub) -> None:
    p = sub.add_parser(
        "forecast", help="forecast traffic or epidemics with DCRNN, GConvGRU/LSTM, T-GCN and baselines",
        description="Train a recurrent graph model to forecast the next steps of a signal on the nodes of a graph "
        "(the report's §3.4: recurrent networks whose products are graph convolutions), under the published protocol "
        "of the dataset's benchmark, once per seed: Los-loop with T-GCN's (80/20 split, 12 steps in, --horizon "
        "3/6/9/12 out, the epoch of lowest test RMSE, labelled optimistic; --protocol tgcn-honest for the honest "
        "version), METR-LA and PEMS-BAY with DCRNN's (12 -> 12, 70/10/20 by sample, masked MAE, MAE/RMSE/MAPE at "
        "steps 3, 6, 12), chickenpox, PedalMe and England COVID with PyTorch Geometric Temporal's (lags as the window, "
        "one step ahead, MSE). Every hyperparameter defaults to its paper's value (T-GCN: 5000 epochs; DCRNN: 100) "
        "and has a flag. Writes DIR/results.json (every metric at every step, validation and test), "
        "DIR/history.json, DIR/curves.png, DIR/predictions.png and a checkpoint per seed (--resume).")
    p.add_argument("--dataset", default="los-loop",
                   help=f"{', '.join(SIGNALS)} (gvar:NODESxSTEPS: a generated series of that size), a folder holding "
                   "signal.csv (a header row of node ids, a row per step) and adjacency.csv (N x N weights), or a "
                   "METR-LA-layout .h5 file beside its sensor-graph .pkl (default: los-loop)")
    p.add_argument("--model", choices=MODELS,
                   help="the forecaster (default: tgcn on los-loop, dcrnn elsewhere)")
    p.add_argument("--protocol", choices=PROTOCOLS, help="the benchmark protocol (default: the dataset's)")
    p.add_argument("--seeds", type=seed_value, nargs="+", action=Distinct, default=[0],
                   help="seeds, one run each (default: 0)")
    p.add_argument("--window", type=bounded_int(MAX_SIZE), help="input steps P (default: the dataset's: 12; lags 4 "
                   "or 8 for PyTorch Geometric Temporal's)")
    p.add_argument("--horizon", type=bounded_int(MAX_SIZE), help="steps ahead H (default: 3 on los-loop, 12 on "
                   "DCRNN's datasets, 1 on PyTorch Geometric Temporal's)")
    p.add_argument("--hidden", type=bounded_int(MAX_SIZE), help="units per layer (default: 64; 32 on the epidemics)")
    p.add_argument("--layers", type=bounded_int(MAX_LAYERS), help="recurrent layers (default: 2 DCRNN, 1 others)")
    p.add_argument("--K", type=bounded_int(MAX_LAYERS), help="DCRNN's diffusion steps (default: 2) or GConvGRU/LSTM's "
                   "Chebyshev terms (default: 3)")
    p.add_argument("--batch-size", type=nonnegative_int, help="windows per step, 0 for all (default: the dataset's)")
    p.add_argument("--epochs", type=positive_int, help="epochs at most (default: the dataset's paper's)")
    p.add_argument("--lr", type=learning_rate, help="Adam learning rate (default: the dataset's paper's)")
    p.add_argument("--lr-milestones", type=positive_int, nargs="*", metavar="EPOCH", help="epochs after which the "
                   "learning rate is multiplied by --lr-decay, none for a constant rate (default: 20 30 40 50 "
                   "under DCRNN's protocol, none otherwise)")
    p.add_argument("--lr-decay", type=open_fraction, help="the factor of each --lr-milestones epoch (default: 0.1)")
    p.add_argument("--weight-decay", type=nonnegative_float, help="λ of the L2 penalty λ ½ Σθ² added to the loss "
                   "(default: T-GCN's 0.0015 on los-loop; 0.01, 0.003, 0.03 on chickenpox, pedalme, england-covid, "
                   "chosen on their training windows; 0 otherwise)")
    p.add_argument("--max-norm", type=nonnegative_float, help="gradient clipping norm, 0 for none (default: 5 DCRNN)")
    p.add_argument("--patience", type=nonnegative_int, help="epochs without a better selection metric before "
                   "stopping, 0 for never (default: 50 DCRNN's protocol, never otherwise)")
    p.add_argument("--cl-decay-steps", type=nonnegative_int, help="DCRNN's scheduled sampling k: the truth is fed "
                   "with probability k / (k + exp(step / k)), one half at step k ln k; 0 never (default: 2000, "
                   "DCRNN's for METR-LA's 375 steps an epoch; lower it for shorter epochs, e.g. 100 on los-loop)")
    p.add_argument("--train-share", type=open_fraction, help="PyTorch Geometric Temporal's protocol: the share of "
                   "the windows for training (default: 0.2 chickenpox, 0.8 pedalme and england-covid)")
    p.add_argument("--missing-zeros", action="store_true",
                   help="in your own data, a 0 is a missing reading, masked out of the loss and the metrics "
                   "(METR-LA and PEMS-BAY always)")
    p.add_argument("--resume", action="store_true", help="continue the run stopped in --out from its checkpoints; "
                   "with a larger --epochs or more --seeds after its own, train a finished run on to them (as if "
                   "started with them)")
    add_run_options(p)
    p.set_defaults(func=run)


def run(args) -> int:
    with distributed.session(resolve_device(args.device)) as device:
        return _run(args, device)


def _config(args, key: str | None):
    overrides = {field: getattr(args, flag) for flag, field in OVERRIDES.items() if getattr(args, flag) is not None}
    for field in ("max_norm", "patience"):  # 0: none
        if overrides.get(field) == 0:
            overrides[field] = None
    if "lr_milestones" in overrides:
        overrides["lr_milestones"] = tuple(overrides["lr_milestones"])
    return default_config(key, args.model, **overrides)


def _checkpoint_path(out: Path, seed: int) -> Path:
    return out / f"checkpoint-seed{seed}.pt"


def _progress(ckpt: dict) -> tuple[str, bool] | None:
    """How far a checkpoint of ``graph forecast`` got (see :func:`~seqgraph.commands.training_io.refuse_restart`)."""
    epoch, epochs = ckpt.get("epoch"), ckpt.get("config", {}).get("epochs")
    if ckpt.get("kind") != KIND or not isinstance(epoch, int) or not isinstance(epochs, int):
        return None
    return f"epoch {epoch} of {epochs}", bool(ckpt.get("finished"))


def _run(args, device) -> int:
    signal, key = load_signal(args.dataset, args.data_dir, args.missing_zeros)
    config = _config(args, key)
    run_config = {"dataset": args.dataset, "seeds": args.seeds, **dataclasses.asdict(config)}
    first = ForecastTrainer(signal, config, args.seeds[0], device)  # every input checked before --out is touched
    out = Path(args.out)
    longer = ("epochs", "seeds")  # resumed with more --epochs or --seeds, a run trains them
    if distributed.is_main():
        prepare_out(args, "graph forecast", run_config, resume=args.resume, only_check=True, longer=longer)
    if not args.resume and not args.force:
        refuse_restart(out, [(f" of seed {seed}", _checkpoint_path(out, seed)) for seed in args.seeds], _progress,
                       finished_hint="--resume with more --epochs or --seeds to train it on, --force to train it "
                       "again")
    distributed.main_first(lambda: prepare_out(args, "graph forecast", run_config, resume=args.resume, longer=longer),
                           others=False)
    trainers = []
    # the threads of the work (seqgraph.threads): a step's product over the batch's windows at every node
    rows = (config.batch_size or first.splits.train.numel()) * signal.num_nodes
    with StopRequest() as stop, threads.for_work(threads.recurrent_work(rows, config.hidden_size)):
        for seed in args.seeds:
            trainer = first if seed == args.seeds[0] else ForecastTrainer(signal, config, seed, device)
            path = _checkpoint_path(out, seed)
            if args.resume and path.exists():
                with checkpoint.complete(path):
                    trainer.load_state_dict(checkpoint.load(path), str(path))
            total = config.epochs if trainer.trainable else 1
            with TrainingIO(None, total, min(trainer.epoch, total), f"{config.model} {signal.name} seed {seed}",
                            stop, unit="epoch") as io:
                def on_epoch(record, trainer=trainer, io=io, path=path):
                    io.save(trainer.state_dict(), path)  # every rank builds it: it gathers their random states
                    io.step(loss=f"{record['train_loss']:.4g}")

                if trainer.run(on_epoch, stop=io.stopping):  # every process stops after the same epoch
                    if io.main:
                        print(f"seqgraph graph forecast: stopped at epoch {trainer.epoch} of seed {seed}; checkpoint "
                              f"saved, continue with --resume --out {out}", file=sys.stderr)
                    return 128 + io.signum
            trainers.append(trainer)
    if not distributed.is_main():
        return 0
    return _finish(args, out, signal, key, config, run_config, trainers, device)


def _finish(args, out: Path, signal, key, config, run_config: dict, trainers: list, device) -> int:
    runs = [t.result() for t in trainers]
    results = ForecastResults(**{
        "dataset": signal.name, "model": config.model, "protocol": config.protocol,
        "protocol_label": PROTOCOL_LABELS[config.protocol], "units": "de-normalised values; MAPE in %",
        "runs": runs, "headline": headline(config.protocol, config.horizon, runs),
        "published": published(key, config.model, config.horizon), "noise_mse": signal.noise_mse,
        "windows": trainers[0].splits.sizes(), "nodes": signal.num_nodes, "steps": signal.num_steps,
        "edges": int(signal.edge_index.size(1)), "scaler": dataclasses.asdict(trainers[0].scaler),
        "parameters": sum(p.numel() for p in trainers[0].model.parameters()), "config": run_config,
        "device": str(device), "processes": distributed.world_size()})
    write_json(out / "results.json", results)
    write_json(out / "history.json", {str(t.seed): t.history for t in trainers})
    title = f"{config.model} on {signal.name}"
    plot_curves({t.seed: t.history for t in trainers}, out / "curves.png", config.protocol, title)
    best = trainers[0]
    best.model.load_state_dict(best.best_state)
    pred, true = best.predict(best.splits.test)
    per_day = int(round(1440 / signal.step_minutes)) if signal.step_minutes else 100
    step = min(config.horizon, 3)
    plot_predictions(pred, true, step, out / "predictions.png",
                     f"{title}: test forecasts {step} step(s) ahead (seed {best.seed})", per_day)
    if args.json:
        print_json(results)
    else:
        print(format_table(results))
        print(f"wrote {out / 'results.json'}, {out / 'curves.png'}, {out / 'predictions.png'}")
    return 0

