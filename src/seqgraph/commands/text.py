"""`seqgraph text`: train a character-level LSTM on a book, then sample, complete prompts and evaluate.

Temperatures follow the common convention softmax(logits / T). The assignment writes softmax(τ·x̃): its τ
is an inverse temperature, T = 1/τ (τ = 2 sharpens like T = 0.5).
"""

import argparse
import signal
import sys
import time
from pathlib import Path

import torch
from tqdm import tqdm

from .. import checkpoint, distributed, outdir
from ..charlm.data import (
    check_length,
    decode,
    encode,
    load_corpus,
    read_text,
    resolve,
    unknown_chars,
)
from ..charlm.train import (
    KIND,
    PRESETS,
    RESUME_KEYS,
    Trainer,
    evaluate,
    load_model,
    preset_values,
    split_config,
)
from ..errors import InputError
from .common import (
    StopRequest,
    add_data_dir_option,
    add_device_option,
    add_json_option,
    learning_rate,
    nonnegative_float,
    nonnegative_int,
    positive_float,
    positive_int,
    print_json,
    probability,
    pyplot,
    resolve_device,
)

LAST, BEST = "checkpoint.pt", "best.pt"
REPORT_PROMPTS = ("The heart of democracy", "Liberty", "People of the Union", "Equality", "Slavery", "America",
                  "North America")
TEMPERATURE_HELP = ("T in softmax(logits / T): below 1 sharpens, above 1 flattens, 0 is greedy. The "
                    "assignment's softmax(τ·x̃) has the inverse, T = 1/τ")


def register(subparsers) -> None:
    text = subparsers.add_parser(
        "text", help="character-level LSTM language model: train, sample, complete, eval",
        description="Train a 2-layer LSTM on any UTF-8 book (SPEC Part 2), then let it write, complete "
        "prompts, or measure its loss in nats and bits per character.")
    commands = text.add_subparsers(dest="text_command", metavar="COMMAND")
    commands.required = True
    _register_train(commands)
    _register_sample(commands)
    _register_complete(commands)
    _register_eval(commands)


# ---------------------------------------------------------------------------------------------- train

def _fraction(text: str) -> float:
    value = probability(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be in (0, 1), got 0")
    return value


# flag, config key, type (or choices), help: each overrides the preset's value when given
HYPERPARAMETERS = (
    ("--steps", "steps", positive_int, "optimiser updates"),
    ("--batch", "batch_size", positive_int, "windows per update; under torchrun the global batch, split equally "
     "across the processes"),
    ("--seq-len", "seq_len", positive_int, "T, characters per training window (and validation window)"),
    ("--hidden", "hidden_size", positive_int, "units of each LSTM layer"),
    ("--embedding", "embedding_dim", positive_int, "character embedding size"),
    ("--layers", "num_layers", positive_int, "LSTM layers"),
    ("--dropout", "dropout", probability, "dropout on each LSTM layer's output during training"),
    ("--lr", "lr", learning_rate, "Adam's learning rate"),
    ("--schedule", "schedule", ("step", "cosine"),
     "learning-rate schedule: step (see --lr-decay) or cosine (to 0 at the end)"),
    ("--lr-decay", "lr_decay", positive_float, "step schedule: multiply the learning rate by this every "
     "--lr-decay-every steps (the assignment: 0.96 every 5000)"),
    ("--lr-decay-every", "lr_decay_every", positive_int, "step schedule: steps between decays"),
    ("--max-norm", "max_norm", positive_float, "clip the gradient to this global L2 norm"),
    ("--val-fraction", "val_fraction", _fraction, "the last part of the text held out for validation, in (0, 1)"),
    ("--eval-every", "eval_every", positive_int, "steps between validation losses"),
    ("--seed", "seed", nonnegative_int, "seed of the initialisation, the batches and dropout"),
)


def _register_train(commands) -> None:
    p = commands.add_parser(
        "train", help="train on a corpus; writes checkpoints, curves, samples.md and results.json to --out",
        description="Train embedding → LSTM → linear on random windows of a book (teacher forcing), with "
        "the last part of the text held out for validation. Presets: 'quick' is the best validation loss we "
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
    p.add_argument("--resume", metavar="DIR",
                   help="continue the run whose checkpoint.pt is in DIR (give the same flags as the first run); "
                   "--out defaults to DIR")
    p.add_argument("--dry-run", action="store_true",
                   help="build everything and run one training step, write nothing")
    p.add_argument("--out", help="folder for checkpoints, curves.png, samples.md, TensorBoard events (tb/) "
                   "and results.json (required unless --resume)")
    p.add_argument("--force", action="store_true", help="write into --out even if it holds another experiment")
    add_device_option(p)
    add_data_dir_option(p)
    add_json_option(p)
    p.set_defaults(func=run_train)


def run_train(args) -> int:
    with distributed.session(resolve_device(args.device)) as device:  # torchrun's processes join here
        return _run_train(args, device)


def _run_train(args, device) -> int:
    values = preset_values(args.preset, {key: getattr(args, key) for _, key, _, _ in HYPERPARAMETERS
                                         if getattr(args, key) is not None})
    run_config = {**values, "corpus": args.corpus, "keep_boilerplate": args.keep_boilerplate}
    out = args.out or args.resume
    if out is None and not args.dry_run:
        raise InputError("--out DIR is required (or --resume DIR)")
    distributed.shard(values["batch_size"])  # a global batch that does not split equally is refused before writing
    ckpt = None
    if args.resume:
        path = Path(args.resume) / LAST
        # on the CPU: random states must stay CPU tensors; the weights and Adam's state follow the model's device
        ckpt = checkpoint.load(path)
        # the corpus (its sha256 and vocabulary size) is compared once loaded
        keys = tuple(k for k in RESUME_KEYS if k not in ("corpus_sha256", "vocab_size"))
        checkpoint.check_compatible(ckpt, KIND, run_config, keys, path)
    if not args.dry_run:
        # resuming into its own folder rewrites run.json, which may differ in settings like --eval-every
        same_folder = args.resume is not None and Path(out).resolve() == Path(args.resume).resolve()
        out = Path(out)
        distributed.main_first(lambda: outdir.prepare(out, "text train", run_config, force=args.force or same_folder),
                               others=False)
    corpus_path = resolve(args.corpus, args.data_dir)
    corpus = distributed.main_first(  # rank 0 writes the cache, then the others read it
        lambda: load_corpus(corpus_path, values["val_fraction"], args.keep_boilerplate,
                            cache_dir=None if args.dry_run else out))
    check_length(corpus, values["seq_len"])
    model_config, config = split_config(values, len(corpus.vocab))
    trainer = Trainer(model_config, config, corpus, device, corpus_name=args.corpus)
    if args.dry_run:
        return _dry_run(trainer, args)
    if ckpt is not None:
        trainer.load_state_dict(ckpt, str(Path(args.resume) / LAST))
    results = _train(trainer, out, args.checkpoint_every, corpus_path)
    if not distributed.is_main():  # rank 0 reports for all
        return 128 + results["interrupted"] if results["interrupted"] else 0
    if args.json:
        print_json(results)
    else:
        val, best = results["final_val"], results["best_val"]  # None when stopped before the first validation
        scores = (f"validation loss {val['loss']:.4f} nats/char ({val['bits']:.4f} bits/char); best "
                  f"{best['loss']:.4f} at step {best['step']}" if val else "no validation yet")
        print(f"step {trainer.step}: {scores}; results in {out}")
    if results["interrupted"]:
        print(f"seqgraph text train: stopped at step {trainer.step} of {config.steps}; checkpoint saved, "
              f"continue with --resume {out}", file=sys.stderr)
        return 128 + results["interrupted"]
    return 0


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


def _train(trainer: Trainer, out: Path, checkpoint_every: int, corpus_path: Path) -> dict:
    """The training loop's I/O: progress bar, TensorBoard, checkpoints, samples.md, curves and results."""
    from torch.utils.tensorboard import SummaryWriter  # slow to import; only training needs it

    config = trainer.config
    main = distributed.is_main()  # alone logs, plots and writes; every rank computes
    writer = SummaryWriter(str(out / "tb"), purge_step=trainer.step + 1 if trainer.step else None) if main else None
    bar = tqdm(total=config.steps, initial=trainer.step, desc="text train", unit="step", file=sys.stderr,
               disable=not main)
    start, first_step = time.perf_counter(), trainer.step
    chars_per_step = config.batch_size * config.seq_len

    def save(state: dict, name: str) -> None:  # every rank builds the state: it gathers their random states
        if main:
            checkpoint.save_atomic(state, out / name)

    with StopRequest() as stop:
        try:
            # all ranks stop after the same step
            for log in trainer.run(stop=lambda: distributed.any_rank(stop.signum is not None)):
                train, step = log["train"], trainer.step
                speed = (step - first_step) * chars_per_step / (time.perf_counter() - start)
                bar.set_postfix(loss=f"{train['loss']:.3f}", acc=f"{train['acc']:.3f}", chars_s=f"{speed:.0f}")
                bar.update()
                if main:
                    for key in ("loss", "acc", "grad_norm", "lr"):
                        writer.add_scalar(f"train/{key}", train[key], step)
                    if log["val"]:
                        for key in ("loss", "bits", "acc"):
                            writer.add_scalar(f"val/{key}", log["val"][key], step)
                    if log["samples"]:
                        writer.add_text("samples", "\n\n".join(log["samples"]["greedy"]), step)
                        _write_samples(out / "samples.md", trainer.history["samples"], config.steps)
                if log["val"] and log["val"]["best"]:
                    save(trainer.state_dict(resumable=False), BEST)
                if step % checkpoint_every == 0 or step == config.steps:
                    save(trainer.state_dict(), LAST)
            if trainer.step < config.steps:  # stopped by a signal
                save(trainer.state_dict(), LAST)
        finally:
            bar.close()
            if main:
                writer.close()
    seconds = time.perf_counter() - start
    results = _results(trainer, corpus_path, seconds, (trainer.step - first_step) * chars_per_step)
    # a rank that got no signal itself stopped with the others: it reports a SIGTERM
    results["interrupted"] = int(stop.signum or signal.SIGTERM) if trainer.step < config.steps else 0
    if main:
        _plot(out / "curves.png", trainer.history)
        outdir.write_json(out / "results.json", results)
    return results


def _results(trainer: Trainer, corpus_path: Path, seconds: float, chars: int) -> dict:
    history, corpus = trainer.history, trainer.corpus
    vals = history["val"]
    best = min(vals, key=lambda v: v["loss"]) if vals else None
    last = history["train"][-100:]
    return {
        "config": trainer.config_dict,
        "corpus": {"path": str(corpus_path), "characters": len(corpus.data), "vocab_size": len(corpus.vocab),
                   "boilerplate_stripped": corpus.stripped, "train_characters": corpus.n_train,
                   "val_characters": len(corpus.val)},
        "steps": trainer.step,
        "final_val": vals[-1] if vals else None,
        "best_val": {"loss": best["loss"], "bits": best["bits"], "acc": best["acc"], "step": best["step"]}
        if best else None,
        "final_train_loss": sum(t["loss"] for t in last) / max(1, len(last)),
        "clip_fraction": sum(t["clipped"] for t in history["train"]) / max(1, len(history["train"])),
        "wall_time_s": seconds,  # of this session (a resumed run counts from the resume)
        "chars_per_s": chars / seconds if seconds > 0 else None,
        "samples": history["samples"],
    }


def _write_samples(path: Path, samples: list[dict], steps: int) -> None:
    lines = ["# Samples during training", "",
             "Greedy (argmax) continuations of random start characters; ↵ marks a newline.", ""]
    for k, record in enumerate(samples, 1):
        lines += [f"## Step {record['step']} of {steps} ({k}/3)", "", "```"]
        lines += [s.replace("\n", "↵") for s in record["greedy"]]
        lines += ["```", "", "200 characters:", "", "```", record["long"], "```", ""]
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text("\n".join(lines), encoding="utf-8")
    tmp.replace(path)


def _plot(path: Path, history: dict) -> None:
    plt = pyplot()

    train, val = history["train"], history["val"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, key, label in ((axes[0], "loss", "loss (nats/char)"), (axes[1], "acc", "accuracy")):
        steps = [t["step"] for t in train]
        values = [t[key] for t in train]
        ax.plot(steps, values, alpha=0.3, color="C0", label="train (per step)")
        ax.plot(steps, _smooth(values), color="C0", label="train (smoothed)")
        ax.plot([v["step"] for v in val], [v[key] for v in val], "o-", color="C1", label="validation")
        ax.set_xlabel("step")
        ax.set_ylabel(label)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _smooth(values: list[float], weight: float = 0.9) -> list[float]:
    """TensorBoard's exponential moving average, debiased."""
    out, avg = [], 0.0
    for i, v in enumerate(values, 1):
        avg = weight * avg + (1 - weight) * v
        out.append(avg / (1 - weight**i))
    return out


# --------------------------------------------------------------------------------------------- sample

def _add_checkpoint_option(p) -> None:
    p.add_argument("--checkpoint", required=True, metavar="DIR",
                   help="a training folder (its best.pt, else checkpoint.pt) or a checkpoint file")


def _load(arg: str, device_name: str):
    device = resolve_device(device_name)
    path = Path(arg)
    if path.is_dir():
        path = next((path / name for name in (BEST, LAST) if (path / name).is_file()), path / BEST)
    ckpt = checkpoint.load(path, map_location=device)
    model, vocab = load_model(ckpt, str(path), device)
    return model, vocab, ckpt, device


def _clean_prompt(prompt: str, vocab: str, skip_unknown: bool) -> str:
    unknown = unknown_chars(prompt, vocab)
    if not unknown:
        return prompt
    listed = " ".join(repr(c) for c in unknown)
    if not skip_unknown:
        raise InputError(f"the prompt has characters that are not in the model's vocabulary: {listed} "
                         "(use --skip-unknown to drop them)")
    print(f"warning: dropped characters not in the vocabulary: {listed}", file=sys.stderr)
    return "".join(c for c in prompt if c not in unknown)


def _register_sample(commands) -> None:
    p = commands.add_parser(
        "sample", help="generate text from a trained model",
        description="Generate --num samples as one batch. The prompt (or a random start character) is fed "
        "once to warm the LSTM state, which is then carried from character to character. " + TEMPERATURE_HELP
        + ": --inverse-temperature 2 equals --temperature 0.5.")
    _add_checkpoint_option(p)
    p.add_argument("--prompt", default="", help="text to continue (default: a random start character per sample)")
    p.add_argument("--length", type=positive_int, default=200, help="characters to generate (default: 200)")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--temperature", type=nonnegative_float, default=1.0, help=TEMPERATURE_HELP + " (default: 1)")
    how.add_argument("--inverse-temperature", type=positive_float, metavar="TAU",
                     help="the assignment's τ in softmax(τ·x̃); the same as --temperature 1/τ")
    how.add_argument("--greedy", action="store_true", help="always the most likely character (temperature 0)")
    p.add_argument("--top-k", type=positive_int, help="draw only among the K most likely characters")
    p.add_argument("--num", type=positive_int, default=1, help="samples, generated as one batch (default: 1)")
    p.add_argument("--seed", type=nonnegative_int, default=0, help="seed of the draws (default: 0)")
    p.add_argument("--skip-unknown", action="store_true",
                   help="drop prompt characters missing from the vocabulary (with a warning) instead of failing")
    add_device_option(p)
    add_json_option(p)
    p.set_defaults(func=run_sample)


def run_sample(args) -> int:
    model, vocab, _, device = _load(args.checkpoint, args.device)
    prompt = _clean_prompt(args.prompt, vocab, args.skip_unknown)
    temperature = 0.0 if args.greedy else (1 / args.inverse_temperature if args.inverse_temperature
                                           else args.temperature)
    generator = torch.Generator(device).manual_seed(args.seed)
    if prompt:
        x = torch.from_numpy(encode(prompt, vocab).astype("int64")).to(device).repeat(args.num, 1)  # (N, P)
    else:
        x = torch.randint(len(vocab), (args.num, 1), generator=generator, device=device)  # (N, 1)
    out = model.generate(x, args.length, temperature, args.top_k, generator)  # (N, length)
    samples = [decode(row_x, vocab) + decode(row, vocab) for row_x, row in zip(x.tolist(), out.tolist(), strict=True)]
    if args.json:
        print_json({"temperature": temperature, "top_k": args.top_k, "seed": args.seed, "prompt": prompt,
                    "samples": samples})
    else:
        print("\n\n".join(samples))
    return 0


# ------------------------------------------------------------------------------------------- complete

def _register_complete(commands) -> None:
    p = commands.add_parser(
        "complete", help="greedy completion of prompts (the report's experiment)",
        description="Feed each prompt, then continue it greedily. Without prompts, the report's: "
        + ", ".join(f'"{s}"' for s in REPORT_PROMPTS) + ".")
    _add_checkpoint_option(p)
    p.add_argument("prompts", nargs="*", metavar="PROMPT", help="texts to complete (default: the report's)")
    p.add_argument("--length", type=positive_int, default=30, help="characters added to each (default: 30)")
    p.add_argument("--skip-unknown", action="store_true",
                   help="drop prompt characters missing from the vocabulary (with a warning) instead of failing")
    add_device_option(p)
    add_json_option(p)
    p.set_defaults(func=run_complete)


def run_complete(args) -> int:
    model, vocab, _, device = _load(args.checkpoint, args.device)
    prompts = [_clean_prompt(p, vocab, args.skip_unknown) for p in args.prompts or REPORT_PROMPTS]
    if not all(prompts):
        raise InputError("a prompt is empty")
    completions = []
    for prompt in prompts:  # prompts differ in length, so one at a time
        x = torch.from_numpy(encode(prompt, vocab).astype("int64")).to(device)[None]  # (1, P)
        completions.append(decode(model.generate(x, args.length, temperature=0)[0].tolist(), vocab))
    if args.json:
        print_json([{"prompt": p, "completion": c} for p, c in zip(prompts, completions, strict=True)])
    else:
        for p, c in zip(prompts, completions, strict=True):
            print(f"{p}|{c}".replace("\n", "↵"))
    return 0


# ----------------------------------------------------------------------------------------------- eval

def _register_eval(commands) -> None:
    p = commands.add_parser(
        "eval", help="loss in nats/char and bits/char on the validation split or a file",
        description="The cross-entropy of predicting each character from the ones before it in its window "
        "(windows of the training sequence length, each from a zero state, as in training). Without --corpus: "
        "the validation split of the corpus the model was trained on.")
    _add_checkpoint_option(p)
    p.add_argument("--corpus", help="a UTF-8 text file to score instead (whole file)")
    add_data_dir_option(p)
    add_device_option(p)
    add_json_option(p)
    p.set_defaults(func=run_eval)


def run_eval(args) -> int:
    model, vocab, ckpt, _ = _load(args.checkpoint, args.device)
    config = ckpt["config"]
    if args.corpus:
        text, _ = read_text(args.corpus, config["keep_boilerplate"])
        if len(text) < 2:
            raise InputError(f"{args.corpus} has fewer than 2 characters to score")
        data, source = encode(text, vocab), args.corpus
    else:
        corpus = load_corpus(resolve(config["corpus"], args.data_dir), config["val_fraction"],
                             config["keep_boilerplate"])
        if corpus.sha256 != config["corpus_sha256"]:
            raise InputError(f"the corpus {config['corpus']} is not the file the model was trained on "
                             "(its sha256 differs); pass --corpus to score a file")
        data, source = corpus.val, f"{config['corpus']} (validation split)"
    result = {"corpus": source, "characters": len(data), "step": ckpt["step"],
              **evaluate(model, data, config["seq_len"])}
    if args.json:
        print_json(result)
    else:
        print(f"{source}: {result['loss']:.4f} nats/char, {result['bits']:.4f} bits/char, "
              f"accuracy {result['acc']:.4f} ({len(data)} characters, step {ckpt['step']})")
    return 0

