"""`seqgraph gradients`: how far back the loss's gradient reaches, ‖∂L(T)/∂h(t)‖ for t = 1..T."""

import dataclasses
from typing import TypedDict

import numpy as np

from ... import outdir, threads
from ...memory.gradients import classifier_gradient_norms, set_spectral_radius, spectral_radius
from ...memory.train import ToyConfig, ToyTrainer
from ..flags import MAX_LENGTH, MAX_SIZE, Distinct, bounded_float, bounded_int, nonnegative_int, seed_value
from ..options import add_device_option, add_json_option, add_out_options, add_threads_option, resolve_device
from ..output import prepare_out, print_json
from ..plots import pyplot, save_figure

UNIDIRECTIONAL = ("rnn", "lstm", "gru")  # the peephole LSTM does not feed h(t) back
MAX_RADIUS = 1e6  # rescaling W_hh to near float32's 3.4e38 gave NaN norms; the sweep's interest lies near 1


class GradientResults(TypedDict):
    """``results.json`` of ``gradients``."""

    config: dict
    t: list[int]  # time steps 1..T
    model_curves: dict  # "fresh" / "trained N steps" -> ‖∂L(T)/∂h(t)‖ per t
    rnn_initial_spectral_radius: float
    rnn_sweep: dict  # spectral radius -> ‖∂L(T)/∂h(t)‖ per t
    per_step_factor: dict  # curve -> mean factor per step back in time


def register(sub) -> None:
    p = sub.add_parser(
        "gradients",
        help="plot the gradient norm ‖∂L(T)/∂h(t)‖ against t, and a sweep of the RNN's spectral radius",
        description="Measure the gradient flow of report §1.1 on random combinations with T input steps: "
        "‖∂L(T)/∂h(t)‖ for t = 1..T, averaged over a batch, for --model freshly initialised (and after "
        "--trained-steps steps of the Table 2 protocol), and for a freshly initialised vanilla RNN whose W_hh is "
        "rescaled to each spectral radius of --radii. Writes DIR/results.json and DIR/gradient_flow.png (log scale).",
    )
    p.add_argument("--model", choices=UNIDIRECTIONAL, default="rnn", help="the recurrent classifier (default: rnn)")
    p.add_argument("--length", type=bounded_int(MAX_LENGTH), default=30,
                   help="T, the number of input steps (default: 30)")
    p.add_argument("--trained-steps", type=nonnegative_int, default=0,
                   help="also measure after this many training steps (default: 0, fresh model only)")
    p.add_argument("--radii", type=bounded_float(MAX_RADIUS), nargs="+", action=Distinct,
                   default=[0.5, 0.9, 1.0, 1.1, 1.5],
                   help=f"spectral radii of the RNN's W_hh to sweep, at most {MAX_RADIUS:g} "
                   "(default: 0.5 0.9 1.0 1.1 1.5)")
    p.add_argument("--hidden", type=bounded_int(MAX_SIZE), default=128, help="hidden size (default: 128)")
    p.add_argument("--batch", type=bounded_int(MAX_SIZE), default=128,
                   help="batch size of the measurement (default: 128)")
    p.add_argument("--seed", type=seed_value, default=1, help="seed of weights and batches (default: 1)")
    add_out_options(p, "folder for results.json and gradient_flow.png")
    add_device_option(p)
    add_json_option(p)
    add_threads_option(p)
    p.set_defaults(func=run)


def run(args) -> int:
    device = resolve_device(args.device)
    # Random combinations with N = T + 1 numbers has T input steps; Table 2's lr and batch for training. The
    # evaluation a termination rule triggers while training is not used here: keep it to one batch.
    config = ToyConfig.preset("randomcomb", length=args.length + 1, model=args.model, seed=args.seed,
                              hidden_size=args.hidden, eval_batches=1)
    experiment = {"model": args.model, "length": args.length, "trained_steps": args.trained_steps,
                  "radii": args.radii, "hidden_size": args.hidden, "batch": args.batch, "seed": args.seed,
                  "device": device.type}
    trainer = ToyTrainer(config, device)  # checks the sizes before anything is written
    out = prepare_out(args, "gradients", experiment)
    with threads.for_work(threads.recurrent_work(args.batch, args.hidden)):
        curves, sweep, initial_radius = _measure(args, trainer, config, device)

    named = {f"{args.model} {name}": v for name, v in curves.items()} | {f"rnn radius {r}": v for r, v in sweep.items()}
    results = GradientResults(
        config=experiment, t=list(range(1, args.length + 1)), model_curves=curves,
        rnn_initial_spectral_radius=initial_radius, rnn_sweep=sweep,
        # geometric mean of ‖∂L/∂h(t-1)‖ / ‖∂L/∂h(t)‖, the factor per step back in time
        per_step_factor={name: (v[0] / v[-1]) ** (1 / max(len(v) - 1, 1)) for name, v in named.items()})
    outdir.write_json(out / "results.json", results)
    _plot(out / "gradient_flow.png", results, args.model)
    if args.json:
        print_json(results)
    else:
        print(f"‖∂L(T)/∂h(t)‖, T = {args.length}: ‖at h(1)‖ / ‖at h(T)‖ and its per-step factor")
        for name, norms in named.items():
            print(f"  {name:<32} {norms[0] / norms[-1]:10.3e} {results['per_step_factor'][name]:8.4f}")
        print(f"fresh RNN's W_hh spectral radius before rescaling: {initial_radius:.3f}")
    return 0


def _measure(args, trainer: ToyTrainer, config: ToyConfig, device) -> tuple[dict, dict, float]:
    """The gradient norms of the model (fresh, then trained) and of the RNN at each spectral radius."""
    x, y = trainer.task.batch(args.batch, np.random.default_rng([args.seed, 2]))
    x, y = x.to(device), y.to(device)
    curves = {"fresh": classifier_gradient_norms(trainer.model, x, y).tolist()}
    if args.trained_steps:
        for _ in range(args.trained_steps):
            trainer.train_step()
        curves[f"trained {args.trained_steps} steps"] = classifier_gradient_norms(trainer.model, x, y).tolist()

    rnn = ToyTrainer(dataclasses.replace(config, model="rnn"), device).model
    initial_radius = spectral_radius(rnn.rnn.cell.weight_hh)
    sweep = {}
    for radius in args.radii:
        set_spectral_radius(rnn.rnn.cell.weight_hh, radius)
        sweep[f"{radius:g}"] = classifier_gradient_norms(rnn, x, y).tolist()
    return curves, sweep, initial_radius


def _plot(path, results: dict, model: str) -> None:
    plt = pyplot()

    t = results["t"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for name, norms in results["model_curves"].items():
        axes[0].plot(t, norms, marker=".", label=f"{model}, {name}")
    for radius, norms in results["rnn_sweep"].items():
        axes[1].plot(t, norms, marker=".", label=f"spectral radius {radius}")
    axes[0].set_title(f"{model}")
    axes[1].set_title(f"vanilla RNN, W_hh rescaled (initially {results['rnn_initial_spectral_radius']:.2f})")
    for ax in axes:
        ax.set_yscale("log")
        ax.set_xlabel("t")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    axes[0].set_ylabel("‖∂L(T)/∂h(t)‖ (batch mean)")
    save_figure(fig, path)
