"""What a `text train` folder holds besides its checkpoints: results.json, samples.md and curves.png."""

from pathlib import Path
from typing import TypedDict

from ...atomic import atomic_open
from ...charlm.train import Trainer
from ...stats import smooth
from ..plots import pyplot, save_figure

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


def summarise(trainer: Trainer, corpus_path: Path, seconds: float, chars: int) -> TextResults:
    """``results.json`` of a run that trained ``chars`` characters in ``seconds`` (this session's)."""
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


def write_samples(path: Path, samples: list[dict], steps: int) -> None:
    lines = ["# Samples during training", "",
             "Greedy (argmax) continuations of random start characters; ↵ marks a newline.", ""]
    for k, record in enumerate(samples, 1):
        lines += [f"## Step {record['step']} of {steps} ({k}/3)", "", "```"]
        lines += [s.replace("\n", "↵") for s in record["greedy"]]
        lines += ["```", "", "200 characters:", "", "```", record["long"], "```", ""]
    with atomic_open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))


def plot_curves(path: Path, history: dict) -> None:
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
