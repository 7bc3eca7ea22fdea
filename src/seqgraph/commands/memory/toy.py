"""`seqgraph toy`: train recurrent classifiers on the synthetic memory tasks with the report's protocol."""

import dataclasses
from pathlib import Path
from typing import TypedDict

from ... import checkpoint, distributed, outdir, threads
from ...errors import Interrupted
from ...memory.classifier import CLASSIFIERS, EMBEDDING_INITIALISATIONS, INITIALISATIONS
from ...memory.tasks import make_task
from ...memory.train import KIND, LOSSES, PRESETS, STOP_RULES, ToyConfig, ToyTrainer, aggregate, check_memory
from ...stats import pm, smooth, termination
from ..flags import (
    MAX_LENGTH,
    MAX_SIZE,
    Distinct,
    bounded_int,
    learning_rate,
    naming,
    positive_float,
    positive_int,
    seed_value,
)
from ..options import add_device_option, add_json_option, add_out_options, add_threads_option, on_torchrun
from ..output import prepare_out, print_json
from ..plots import pyplot, save_figure
from ..training_io import StopRequest, TrainingIO, refuse_restart

SMOOTHING = 0.6  # TensorBoard's default, which the report's figures used


class ToyResults(TypedDict):
    """``results.json`` of ``toy``."""

    config: dict  # the experiment: ToyConfig's fields but length and seed, plus lengths, seeds, device
    stop_rule: str
    stop_rules: dict  # rule -> its description
    runs: list[dict]  # ToyTrainer.summary() per (length, seed)
    aggregate: dict  # length -> termination steps and evaluation accuracy over seeds (memory.train.aggregate)
    processes: int


def register(sub) -> None:
    presets = "; ".join(
        f"{task}: lr {p['lr']:g}, batch {p['batch_size']}, hidden {p['hidden_size']}, max steps {p['max_steps']}, "
        f"lengths {' '.join(map(str, p['lengths']))}" for task, p in PRESETS.items())
    p = sub.add_parser(
        "toy",
        help="train on random combinations, binary palindromes or Baum–Sweet until the stop rule fires",
        description="Train a recurrent classifier on a synthetic memory task with the protocol of the report: "
        "Adam on fresh batches, gradient clipping, training until the stop rule fires (the termination step) or "
        "--max-steps, then evaluation on --eval-batches fresh batches. Runs every --length with every seed and "
        "writes DIR/results.json (termination steps under both rules, evaluation accuracy, final loss; mean and "
        "std over seeds), TensorBoard logs, accuracy.png and loss.png, and a checkpoint per run (resume with "
        f"--resume). Defaults follow the assignment's Table 2 ({presets}; Adam, max norm 10, Kaiming normal).",
    )
    p.add_argument("--task", choices=tuple(PRESETS), default="randomcomb", help="the task (default: randomcomb)")
    p.add_argument("--model", choices=CLASSIFIERS, default="lstm", help="the recurrent classifier (default: lstm)")
    p.add_argument("--length", type=bounded_int(MAX_LENGTH), nargs="+", action=Distinct,
                   help="one or more lengths: the report's input_length N for randomcomb (N-1 input steps, N "
                   "classes), the integer length L for palindrome (4L+2 digits) and baumsweet (4L bits) "
                   "(default: Table 2's lengths of the task)")
    p.add_argument("--seeds", type=seed_value, nargs="+", action=Distinct, default=[1, 2, 3],
                   help="seeds, one run each (default: 1 2 3)")
    p.add_argument("--stop-rule", choices=tuple(STOP_RULES), default="default",
                   help="; ".join(f"{k}: {v}" for k, v in STOP_RULES.items()).replace("%", "%%")
                   + " (default: default; both termination steps are recorded: the literal rule fires first)")
    p.add_argument("--run-to-max", action="store_true",
                   help="keep training to --max-steps after the stop rule fired (its step and evaluation are "
                   "still recorded)")
    p.add_argument("--lr", type=learning_rate, help="Adam learning rate (default: Table 2)")
    p.add_argument("--batch", type=bounded_int(MAX_SIZE),
                   help="training batch size; under torchrun the global batch, split equally across the processes "
                   "(default: Table 2)")
    p.add_argument("--hidden", type=bounded_int(MAX_SIZE), help="hidden size (default: Table 2)")
    p.add_argument("--embedding", type=bounded_int(MAX_SIZE),
                   help="embedding size (default: hidden / 4, as the report)")
    p.add_argument("--init", choices=tuple(INITIALISATIONS), default="kaiming",
                   help="; ".join(f"{k}: {v}" for k, v in INITIALISATIONS.items())
                   + " (default: kaiming; the others are the README's initialisation variants)")
    p.add_argument("--embedding-init", choices=tuple(EMBEDDING_INITIALISATIONS), default="normal",
                   help="; ".join(f"{k}: {v}" for k, v in EMBEDDING_INITIALISATIONS.items()) + " (default: normal)")
    p.add_argument("--loss", choices=tuple(LOSSES), default="nll",
                   help="; ".join(f"{k}: {v}" for k, v in LOSSES.items()) + " (default: nll)")
    p.add_argument("--max-steps", type=positive_int, help="training steps at most (default: Table 2)")
    p.add_argument("--max-norm", type=positive_float, help="gradient clipping max norm (default: 10)")
    p.add_argument("--eval-batches", type=positive_int, default=200,
                   help="evaluation batches at termination (default: 200)")
    p.add_argument("--eval-batch-size", type=bounded_int(MAX_SIZE), default=128,
                   help=f"evaluation batch size, at most {MAX_SIZE:,} (default: 128)")
    p.add_argument("--checkpoint-every", type=positive_int, default=100,
                   help="write a checkpoint every this many steps, and at the end (default: 100)")
    p.add_argument("--resume", action="store_true",
                   help="continue the runs whose checkpoints are in --out (finished ones are not rerun)")
    add_out_options(p, "folder for results.json, plots, TensorBoard logs, checkpoints")
    add_device_option(p)
    add_json_option(p)
    add_threads_option(p)
    p.set_defaults(func=on_torchrun(run))


def run(args, device) -> int:
    lengths = args.length or list(PRESETS[args.task]["lengths"])
    for length in lengths:
        with naming(f"--length {length}"):
            make_task(args.task, length)
    base = ToyConfig.preset(args.task, model=args.model, lr=args.lr, batch_size=args.batch, hidden_size=args.hidden,
                            embedding_dim=args.embedding, max_steps=args.max_steps, max_norm=args.max_norm,
                            stop_rule=args.stop_rule, run_to_max=args.run_to_max, eval_batches=args.eval_batches,
                            eval_batch_size=args.eval_batch_size, init=args.init,
                            embedding_init=args.embedding_init, loss=args.loss)
    experiment = {k: v for k, v in dataclasses.asdict(base).items() if k not in ("length", "seed")}
    experiment.update(lengths=lengths, seeds=args.seeds, device=device.type)
    distributed.shard(base.batch_size)  # a global batch that does not split equally is refused before any writing
    out = Path(args.out)
    for length in lengths:
        check_memory(dataclasses.replace(base, length=length))
    if distributed.is_main():
        prepare_out(args, "toy", experiment, only_check=True)
    if not args.resume and not args.force:
        refuse_restart(out, [(f" length {length}, seed {seed}", _checkpoint_path(out, length, seed))
                             for length in lengths for seed in args.seeds], _progress)
    distributed.main_first(lambda: prepare_out(args, "toy", experiment, resume=args.resume), others=False)

    summaries, histories = [], {}
    with StopRequest() as stop, threads.for_work(threads.recurrent_work(base.batch_size, base.hidden_size)):
        for length in lengths:
            for seed in args.seeds:
                config = dataclasses.replace(base, length=length, seed=seed)
                trainer, summary = _train(config, out, device, args.resume, args.checkpoint_every, stop)
                summaries.append(summary)
                histories[length, seed] = trainer.history

    if not distributed.is_main():  # rank 0 writes and prints for all
        return 0
    results = ToyResults(config=experiment, stop_rule=args.stop_rule, stop_rules=STOP_RULES, runs=summaries,
                         aggregate=aggregate(summaries, args.task, args.model), processes=distributed.world_size())
    outdir.write_json(out / "results.json", results)
    _plot(out, histories, f"{args.task}, {args.model}")
    if args.json:
        print_json(results)
    else:
        _print_table(results)
    return 0


def _checkpoint_path(out: Path, length: int, seed: int) -> Path:
    return out / "checkpoints" / f"length{length}-seed{seed}.pt"


def _progress(ckpt: dict) -> tuple[str, bool] | None:
    """How far a checkpoint of ``toy`` got (see :func:`~seqgraph.commands.training_io.refuse_restart`)."""
    step = ckpt.get("trainer", {}).get("step") if isinstance(ckpt.get("trainer"), dict) else None
    if ckpt.get("kind") != KIND or not isinstance(step, int):
        return None
    return f"step {step}", ckpt.get("summary") is not None


def _train(config: ToyConfig, out: Path, device, resume: bool, every: int,
           stop: StopRequest) -> tuple[ToyTrainer, dict]:
    """One run, resumed from its checkpoint when asked; checkpoints every ``every`` steps and at the end."""
    name = f"length{config.length}-seed{config.seed}"
    path = _checkpoint_path(out, config.length, config.seed)
    trainer = ToyTrainer(config, device)
    if resume and path.exists():
        # on the CPU: random states must stay CPU tensors; the weights and Adam's state follow the model's device
        trainer.load_state_dict(checkpoint.load(path), str(path))
    if trainer.result is not None:  # finished before
        return trainer, trainer.result

    with TrainingIO(out / "tensorboard" / name, config.max_steps, trainer.step,
                    f"{config.task} {config.model} {name}", stop) as io:
        def on_step(record):
            io.scalars("train", {"loss": record.loss, "accuracy": record.accuracy,
                                 "grad_norm_before_clipping": record.grad_norm, "clipped": float(record.clipped)},
                       record.step)
            for rule in record.fired:
                io.scalars("eval", {f"accuracy_at_{rule}_termination": trainer.evaluation[rule][0]}, record.step)
            io.step(loss=f"{record.loss:.4f}", acc=f"{record.accuracy:.3f}")
            stopping = io.stopping()
            if record.step % every == 0 or stopping:
                io.save(trainer.state_dict(), path)
            if stopping:
                raise Interrupted(io.signum, f"stopped at step {trainer.step} of {name}; checkpoint saved, continue "
                                             f"with --resume --out {out}")

        summary = trainer.run(on_step)
        io.save(trainer.state_dict(), path)
    return trainer, summary


def _plot(out: Path, histories: dict, title: str) -> None:
    """accuracy.png and loss.png: one thin line per seed, a thick one for the mean, a colour per length."""
    plt = pyplot()

    lengths = sorted({length for length, _ in histories})
    for metric in ("accuracy", "loss"):
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for i, length in enumerate(lengths):
            runs = [h[metric] for (n, _), h in histories.items() if n == length and h[metric]]
            if not runs:
                continue
            for values in runs:
                ax.plot(range(1, len(values) + 1), smooth(values, SMOOTHING), color=f"C{i}", alpha=0.35, lw=0.8)
            common = min(map(len, runs))  # the mean while every seed is still training
            mean = [sum(v[t] for v in runs) / len(runs) for t in range(common)]
            ax.plot(range(1, common + 1), smooth(mean, SMOOTHING), color=f"C{i}", lw=2,
                    label=f"length {length}" + (f" (mean of {len(runs)} seeds)" if len(runs) > 1 else ""))
        ax.set(xlabel="step", ylabel=f"training {metric} (TensorBoard smoothing {SMOOTHING})", title=title)
        if metric == "loss":
            ax.set_yscale("log")
        ax.legend()
        ax.grid(alpha=0.3)
        save_figure(fig, out / f"{metric}.png")


def _print_table(results: dict) -> None:
    config = results["config"]
    print(f"{config['task']}, {config['model']}: stop rule {results['stop_rule']} "
          f"({STOP_RULES[results['stop_rule']]})")
    print(f"{'length':>6} {'seed':>5} {'steps':>6} {'term(default)':>13} {'term(literal)':>13} {'eval acc':>9} "
          f"{'final loss':>10}")
    for r in results["runs"]:
        steps = r["termination_step"]
        print(f"{r['length']:>6} {r['seed']:>5} {r['steps']:>6} {_fmt(steps['default']):>13} "
              f"{_fmt(steps['literal']):>13} {r['eval_accuracy']:>9.4f} {r['final_loss']:>10.4f}")
    print(f"{'length':>6} {'mean term(default)':>18} {'mean term(literal)':>18} {'report':>6} {'eval acc':>17}")
    for length, a in results["aggregate"].items():
        steps = [termination(a["termination_step"][rule], len(a["seeds"])) for rule in ("default", "literal")]
        print(f"{length:>6} {steps[0]:>18} {steps[1]:>18} {_fmt(a['report_termination_step']):>6} "
              f"{pm(a['eval_accuracy'], 4, len(a['seeds'])):>17}")


def _fmt(value) -> str:
    return "-" if value is None else str(value)

