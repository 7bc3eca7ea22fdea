"""`seqgraph text train`: train the character model on a corpus; checkpoints, curves, samples.md, results.json."""

import shutil
import sys
import time
from pathlib import Path

from ... import checkpoint, distributed, threads
from ...atomic import atomic_open
from ...charlm.data import cache_corpus, check_length, load_corpus, resolve
from ...charlm.finetune import check_sizes
from ...charlm.model import CELLS
from ...charlm.train import BATCHING, KIND, PRESETS, Trainer, preset_values, split_config
from ...errors import InputError
from ...outdir import write_json
from ..flags import (
    MAX_LAYERS,
    MAX_SIZE,
    bounded_int,
    learning_rate,
    naming,
    open_fraction,
    positive_float,
    positive_int,
    probability,
    seed_value,
)
from ..options import (
    add_data_dir_option,
    add_device_option,
    add_json_option,
    add_out_options,
    add_threads_option,
    on_torchrun,
)
from ..output import prepare_out, print_json
from ..training_io import StopRequest, TrainingIO, refuse_restart
from .common import BEST, LAST, checkpoint_path
from .outputs import SAMPLES, TextResults, plot_curves, summarise, write_samples

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
    add_threads_option(p)
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
        refuse_restart(out, [("", out / LAST)], _progress, resume_hint=f"--resume {out}")
    distributed.main_first(
        lambda: prepare_out(args, "text train", run_config, out=out, force=args.force or same_folder), others=False)
    if args.resume and not same_folder and distributed.is_main():
        _carry_over(Path(args.resume), out)
    # rank 0 writes the corpus cache, the other processes map it
    trainer.corpus = distributed.main_first(lambda: cache_corpus(trainer.corpus, out))
    with threads.for_work(threads.recurrent_work(values["batch_size"], values["hidden_size"])):
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
    init, vocab = None, None
    if args.init_from:
        path = checkpoint_path(args.init_from)
        init = checkpoint.load(path)
        with naming("--init-from"):
            check_sizes(init, values, str(path))  # kind, sizes and weights, before its vocabulary is used
        vocab = init["vocab"]
    corpus = load_corpus(corpus_path, values["val_fraction"], args.keep_boilerplate,
                         test_fraction=values["test_fraction"], vocab=vocab, extend_vocab=args.extend_vocab)
    with naming(f"--seq-len {values['seq_len']}"):
        check_length(corpus, values["seq_len"])
    model_config, config = split_config(values, len(corpus.vocab))
    return Trainer(model_config, config, corpus, device, corpus_name=args.corpus, init_from=init,
                   init_from_name=args.init_from)


def _progress(ckpt: dict) -> tuple[str, bool] | None:
    """How far a checkpoint of ``text train`` got (see :func:`~seqgraph.commands.training_io.refuse_restart`)."""
    step, steps = ckpt.get("step"), ckpt.get("config", {}).get("steps")
    if ckpt.get("kind") != KIND or not isinstance(step, int) or not isinstance(steps, int):
        return None
    return f"step {step} of {steps}", step >= steps


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


def _train(trainer: Trainer, out: Path, checkpoint_every: int, corpus_path: Path) -> TextResults:
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
                    write_samples(out / SAMPLES, trainer.history["samples"], config.steps)
            if log["val"] and log["val"]["best"]:
                io.save(trainer.state_dict(resumable=False), out / BEST)
            if step % checkpoint_every == 0 or step == config.steps:
                io.save(trainer.state_dict(), out / LAST)
        if trainer.step < config.steps:  # stopped by a signal
            io.save(trainer.state_dict(), out / LAST)
    seconds = time.perf_counter() - start
    results = summarise(trainer, corpus_path, seconds, (trainer.step - first_step) * chars_per_step)
    if io.main and trainer.step == config.steps and (out / BEST).is_file():
        with checkpoint.complete(out / BEST):  # once, with the best validation weights
            results["test"] = trainer.test(checkpoint.load(out / BEST))
    results["interrupted"] = io.signum if trainer.step < config.steps else 0
    if io.main:
        plot_curves(out / "curves.png", trainer.history)
        write_json(out / "results.json", results)
    return results
