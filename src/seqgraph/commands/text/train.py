"""`seqgraph text train`: train the character model on a corpus; checkpoints, curves, samples.md, results.json."""

import shutil
import signal
import sys
import time
from pathlib import Path
from typing import TypedDict

from ... import checkpoint, distributed
from ...atomic import atomic_open
from ...charlm.data import cache_corpus, check_length, load_corpus, resolve
from ...charlm.model import CELLS
from ...charlm.train import BATCHING, KIND, PRESETS, Trainer, preset_values, split_config
from ...errors import InputError
from ...outdir import write_json
from ...stats import smooth
from ..common import (
    MAX_LAYERS,
    MAX_SIZE,
    StopRequest,
    add_data_dir_option,
    add_device_option,
    add_json_option,
    add_out_options,
    bounded_int,
    learning_rate,
    naming,
    on_torchrun,
    open_fraction,
    positive_float,
    positive_int,
    prepare_out,
    print_json,
    probability,
    pyplot,
    save_figure,
    seed_value,
)
from ..training_io import TrainingIO
from .common import BEST, LAST, checkpoint_path

SAMPLES = "samples.md"  # the samples of every round, for reading

SMOOTHING = 0.9  # of the per-step training curve


class TextResults(TypedDict):
    """``results.json`` of ``text train``."""

    config: dict  # Trainer.config_dict: model and training settings, corpus name and sha256
    corpus: dict  # path, characters, vocab_size, boilerplate_stripped, train_/val_/test_characters
    steps: int
    # validation and test: loss, bits, acc left to right (one pass, state carried); window_loss, window_bits
    # per window of seq_len from a zero state
    final_val: dict | None  # + step, best
    best_val: dict | None  # + step
    test: dict | None  # the test split, scored once at the end with best.pt (+ step: best.pt's); None if none
    final_train_loss: float  # mean over the last 100 steps
    clip_fraction: float
    wall_time_s: float
    chars_per_s: float | None
    samples: list[dict]  # per sample round: step, greedy, long
    interrupted: int  # the signal that stopped the run, 0 if it finished


# flag, config key, type (or choices), help: each overrides the preset's value when given
HYPERPARAMETERS = (
    ("--steps", "steps", positive_int, "optimiser updates"),
    ("--batch", "batch_size", bounded_int(MAX_SIZE), "windows per update; under torchrun the global batch, split "
     "equally across the processes"),
    ("--seq-len", "seq_len", bounded_int(MAX_SIZE), "T, characters per training window (and validation window)"),
    ("--hidden", "hidden_size", bounded_int(MAX_SIZE), "units of each LSTM layer"),
    ("--embedding", "embedding_dim", bounded_int(MAX_SIZE), "character embedding size"),
    ("--layers", "num_layers", bounded_int(MAX_LAYERS), f"recurrent layers, at most {MAX_LAYERS}"),
    ("--dropout", "dropout", probability, "dropout on each LSTM layer's output during training"),
    ("--lr", "lr", learning_rate, "Adam's learning rate"),
    ("--schedule", "schedule", ("step", "cosine"),
     "learning-rate schedule: step (see --lr-decay) or cosine (to 0 at the end)"),
    ("--lr-decay", "lr_decay", positive_float, "step schedule: multiply the learning rate by this every "
     "--lr-decay-every steps (the assignment: 0.96 every 5000)"),
    ("--lr-decay-every", "lr_decay_every", positive_int, "step schedule: steps between decays"),
    ("--max-norm", "max_norm", positive_float, "clip the gradient to this global L2 norm"),
    ("--val-fraction", "val_fraction", open_fraction, "the part of the text before the test split held out for "
     "validation, in (0, 1)"),
    ("--test-fraction", "test_fraction", probability, "the last part of the text, scored once at the end with the "
     "best validation checkpoint, in [0, 1) (0: no test split)"),
    ("--batching", "batching", BATCHING, "stateful: the text cut into --batch contiguous streams, each batch "
     "continuing them with the hidden state carried over (detached); random: windows drawn anywhere, each from a "
     "zero state"),
    ("--cell", "cell", CELLS, "recurrent layers: torch-lstm (torch.nn.LSTM) or seqgraph's own lstm, gru, rnn"),
    ("--eval-every", "eval_every", positive_int, "steps between validation losses"),
    ("--seed", "seed", seed_value, "seed of the initialisation, the batches and dropout"),
)


def register(commands) -> None:
    p = commands.add_parser(
        "train", help="train on a corpus; writes checkpoints, curves, samples.md and results.json to --out",
        description="Train embedding → LSTM → linear on a book (teacher forcing, truncated backpropagation through "
        "time on contiguous streams by default), with the text split into training, validation and test parts; "
        "validation and test are scored left to right in one pass. Presets: 'quick' is the best validation loss we "
        "reached in about 10 minutes of a 2-core CPU; 'report' is the report's configuration (batch 256, "
        "1500 steps, hidden 1024, embedding 256, Adam 5e-4, T = 30, clipping at global norm 5). Every "
        "hyperparameter flag overrides the preset. Checkpoints are written atomically every "
        "--checkpoint-every steps, at the end, and on Ctrl-C / SIGTERM; --resume DIR continues exactly "
        "where the run stopped (run the same command again with --resume).")
    p.add_argument("--corpus", default="democracy",
                   help="democracy, grimm (books of the data directory) or the path of a UTF-8 text file "
                   "(default: democracy)")
    p.add_argument("--preset", choices=sorted(PRESETS), default="quick", help="starting configuration (default: quick)")
    for flag, key, kind, text in HYPERPARAMETERS:
        how = {"choices": kind} if isinstance(kind, tuple) else {"type": kind}
        p.add_argument(flag, dest=key, help=text + " (default: the preset's)", **how)
    p.add_argument("--checkpoint-every", type=positive_int, default=100,
                   help="steps between checkpoints (default: 100)")
    p.add_argument("--keep-boilerplate", action="store_true",
                   help="keep Project Gutenberg's header and licence (stripped by default)")
    p.add_argument("--init-from", metavar="CHECKPOINT",
                   help="fine-tune: start from the weights of this trained model (a checkpoint file or training "
                   "folder; same sizes and cell), with a new optimiser")
    p.add_argument("--extend-vocab", action="store_true",
                   help="with --init-from: add the corpus's characters that the model lacks to its vocabulary "
                   "(new embedding and output rows initialised as at the start) instead of refusing them")
    p.add_argument("--resume", metavar="DIR",
                   help="continue the run whose checkpoint.pt is in DIR (give the same flags as the first run); "
                   "--out defaults to DIR")
    p.add_argument("--dry-run", action="store_true",
                   help="build everything and run one training step, write nothing")
    add_out_options(p, "folder for checkpoints, curves.png, samples.md, TensorBoard events (tb/) and results.json "
                    "(required unless --resume)", required=False)
    add_device_option(p)
    add_data_dir_option(p)
    add_json_option(p)
    p.set_defaults(func=on_torchrun(run_train))


def run_train(args, device) -> int:
    values = preset_values(args.preset, {key: getattr(args, key) for _, key, _, _ in HYPERPARAMETERS
                                         if getattr(args, key) is not None})
    run_config = {**values, "corpus": args.corpus, "keep_boilerplate": args.keep_boilerplate}
    out = args.out or args.resume
    if out is None and not args.dry_run:
        raise InputError("--out DIR is required (or --resume DIR)")
    distributed.shard(values["batch_size"])  # a global batch that does not split equally is refused before writing
    corpus_path = resolve(args.corpus, args.data_dir)
    # Every input is checked before anything is written: the corpus (encoded in memory for now), the sizes, and
    # when resuming the checkpoint against this run (configuration and corpus: Trainer.load_state_dict).
    trainer = _trainer(args, values, corpus_path, device)
    if args.resume:
        path = Path(args.resume) / LAST
        # on the CPU: random states must stay CPU tensors; the weights and Adam's state follow the model's device
        trainer.load_state_dict(checkpoint.load(path), str(path))
    if args.dry_run:
        return _dry_run(trainer, args)
    out = Path(out)
    # resuming into its own folder rewrites run.json, which may differ in settings like --eval-every
    same_folder = args.resume is not None and out.resolve() == Path(args.resume).resolve()
    if distributed.is_main():
        prepare_out(args, "text train", run_config, out=out, force=args.force or same_folder, only_check=True)
    if not args.resume and not args.force:
        _refuse_unfinished(out)
    distributed.main_first(
        lambda: prepare_out(args, "text train", run_config, out=out, force=args.force or same_folder), others=False)
    if args.resume and not same_folder and distributed.is_main():
        _carry_over(Path(args.resume), out)
    # rank 0 writes the corpus cache, the other processes map it
    trainer.corpus = distributed.main_first(lambda: cache_corpus(trainer.corpus, out))
    results = _train(trainer, out, args.checkpoint_every, corpus_path)
    if not distributed.is_main():  # rank 0 reports for all
        return 128 + results["interrupted"] if results["interrupted"] else 0
    if args.json:
        print_json(results)
    else:
        val, best = results["final_val"], results["best_val"]  # None when stopped before the first validation
        scores = (f"validation loss {val['loss']:.4f} nats/char ({val['bits']:.4f} bits/char); best "
                  f"{best['loss']:.4f} at step {best['step']}" if val else "no validation yet")
        test = results["test"]
        scores += f"; test {test['loss']:.4f} nats/char ({test['bits']:.4f} bits/char)" if test else ""
        print(f"step {trainer.step}: {scores}; results in {out}")
    if results["interrupted"]:
        print(f"seqgraph text train: stopped at step {trainer.step} of {trainer.config.steps}; checkpoint saved, "
              f"continue with --resume {out}", file=sys.stderr)
        return 128 + results["interrupted"]
    return 0


def _trainer(args, values: dict, corpus_path: Path, device) -> Trainer:
    """The trainer of this command line, on the corpus encoded in memory (nothing is written)."""
    if args.extend_vocab and not args.init_from:
        raise InputError("--extend-vocab needs --init-from CHECKPOINT")
    if args.init_from and args.resume:
        raise InputError("--init-from starts a new run from a checkpoint's weights and --resume continues a run: "
                         "give one of them")
    init = checkpoint.load(checkpoint_path(args.init_from)) if args.init_from else None
    vocab = init["vocab"] if init else None
    corpus = load_corpus(corpus_path, values["val_fraction"], args.keep_boilerplate,
                         test_fraction=values["test_fraction"], vocab=vocab, extend_vocab=args.extend_vocab)
    with naming(f"--seq-len {values['seq_len']}"):
        check_length(corpus, values["seq_len"])
    model_config, config = split_config(values, len(corpus.vocab))
    return Trainer(model_config, config, corpus, device, corpus_name=args.corpus, init_from=init,
                   init_from_name=args.init_from)


def _refuse_unfinished(out: Path) -> None:
    """Starting afresh in a folder whose checkpoint is an unfinished run would throw that progress away."""
    try:
        ckpt = checkpoint.load(out / LAST)
    except InputError:
        return  # no checkpoint, or one that cannot be resumed anyway
    step, steps = ckpt.get("step"), ckpt.get("config", {}).get("steps")
    if ckpt.get("kind") == KIND and isinstance(step, int) and isinstance(steps, int) and step < steps:
        raise InputError(f"--out {out} holds an unfinished run (step {step} of {steps}): add --resume {out} to "
                         "continue it, or --force to start over")


def _dry_run(trainer: Trainer, args) -> int:
    log = trainer.train_step()
    if not distributed.is_main():
        return 0
    info = {"config": trainer.config_dict, "parameters": sum(p.numel() for p in trainer.model.parameters()),
            "vocab_size": len(trainer.corpus.vocab), "train_chars": trainer.corpus.n_train,
            "val_chars": len(trainer.corpus.val), "first_step": log}
    if args.json:
        print_json(info)
    else:
        print(f"dry run: {info['parameters']} parameters, vocabulary {info['vocab_size']}, "
              f"{info['train_chars']} training / {info['val_chars']} validation characters; "
              f"first step loss {log['loss']:.4f}")
    return 0


def _carry_over(run: Path, out: Path) -> None:
    """A run resumed into another folder continues there: its checkpoints and samples come along, so that the new
    folder is a whole run even before (or without) its next checkpoint, best validation or sample round."""
    for name in (LAST, BEST, SAMPLES):
        if (run / name).is_file():
            with open(run / name, "rb") as source, atomic_open(out / name, "wb") as copy:
                shutil.copyfileobj(source, copy)


def _train(trainer: Trainer, out: Path, checkpoint_every: int, corpus_path: Path) -> "TextResults":
    """The training loop's I/O: progress bar, TensorBoard, checkpoints, samples.md, curves and results."""
    config = trainer.config
    start, first_step = time.perf_counter(), trainer.step
    chars_per_step = config.batch_size * config.seq_len
    with StopRequest() as stop, TrainingIO(out / "tb", config.steps, trainer.step, "text train", stop) as io:
        for log in trainer.run(stop=io.stopping):  # all ranks stop after the same step
            train, step = log["train"], trainer.step
            speed = (step - first_step) * chars_per_step / (time.perf_counter() - start)
            io.step(loss=f"{train['loss']:.3f}", acc=f"{train['acc']:.3f}", chars_s=f"{speed:.0f}")
            io.scalars("train", {key: train[key] for key in ("loss", "acc", "grad_norm", "lr")}, step)
            if log["val"]:
                io.scalars("val", {key: log["val"][key] for key in ("loss", "bits", "acc")}, step)
            if log["samples"]:
                io.text("samples", "\n\n".join(log["samples"]["greedy"]), step)
                if io.main:
                    _write_samples(out / SAMPLES, trainer.history["samples"], config.steps)
            if log["val"] and log["val"]["best"]:
                io.save(trainer.state_dict(resumable=False), out / BEST)
            if step % checkpoint_every == 0 or step == config.steps:
                io.save(trainer.state_dict(), out / LAST)
        if trainer.step < config.steps:  # stopped by a signal
            io.save(trainer.state_dict(), out / LAST)
    seconds = time.perf_counter() - start
    results = _results(trainer, corpus_path, seconds, (trainer.step - first_step) * chars_per_step)
    if io.main and trainer.step == config.steps and (out / BEST).is_file():
        results["test"] = trainer.test(checkpoint.load(out / BEST))  # once, with the best validation weights
    # a rank that got no signal itself stopped with the others: it reports a SIGTERM
    results["interrupted"] = int(stop.signum or signal.SIGTERM) if trainer.step < config.steps else 0
    if io.main:
        _plot(out / "curves.png", trainer.history)
        write_json(out / "results.json", results)
    return results


def _results(trainer: Trainer, corpus_path: Path, seconds: float, chars: int) -> "TextResults":
    history, corpus = trainer.history, trainer.corpus
    vals = history["val"]
    best = min(vals, key=lambda v: v["loss"]) if vals else None
    last = history["train"][-100:]
    return TextResults(
        config=trainer.config_dict,
        corpus={"path": str(corpus_path), "characters": len(corpus.data), "vocab_size": len(corpus.vocab),
                "boilerplate_stripped": corpus.stripped, "train_characters": corpus.n_train,
                "val_characters": len(corpus.val), "test_characters": corpus.n_test},
        steps=trainer.step,
        final_val=vals[-1] if vals else None,
        best_val={key: best[key] for key in ("loss", "bits", "acc", "window_loss", "window_bits", "step")}
        if best else None,
        test=None,
        final_train_loss=sum(t["loss"] for t in last) / max(1, len(last)),
        clip_fraction=sum(t["clipped"] for t in history["train"]) / max(1, len(history["train"])),
        wall_time_s=seconds,  # of this session (a resumed run counts from the resume)
        chars_per_s=chars / seconds if seconds > 0 else None,
        samples=history["samples"],
        interrupted=0)


def _write_samples(path: Path, samples: list[dict], steps: int) -> None:
    lines = ["# Samples during training", "",
             "Greedy (argmax) continuations of random start characters; ↵ marks a newline.", ""]
    for k, record in enumerate(samples, 1):
        lines += [f"## Step {record['step']} of {steps} ({k}/3)", "", "```"]
        lines += [s.replace("\n", "↵") for s in record["greedy"]]
        lines += ["```", "", "200 characters:", "", "```", record["long"], "```", ""]
    with atomic_open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))


def _plot(path: Path, history: dict) -> None:
    plt = pyplot()

    train, val = history["train"], history["val"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, key, label in ((axes[0], "loss", "loss (nats/char)"), (axes[1], "acc", "accuracy")):
        steps = [t["step"] for t in train]
        values = [t[key] for t in train]
        ax.plot(steps, values, alpha=0.3, color="C0", label="train (per step)")
        ax.plot(steps, smooth(values, SMOOTHING), color="C0", label=f"train (TensorBoard smoothing {SMOOTHING})")
        ax.plot([v["step"] for v in val], [v[key] for v in val], "o-", color="C1", label="validation")
        ax.set_xlabel("step")
        ax.set_ylabel(label)
        ax.legend()
    save_figure(fig, path)
