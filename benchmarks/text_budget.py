"""The character model for a fixed wall-clock budget: train a preset until the budget is spent, then score.

The issue-17 targets: on Democracy in America, a validation loss (scored left to right, one pass, state
carried) of <= 1.40 nats/char after about 2 minutes of training (the time nanoGPT's CPU configuration takes
here), and <= 1.10 after 10 minutes, on an otherwise idle 2-core CPU. Run it on a quiet machine: the load
average at start and end is recorded so that a figure from a busy one is recognised as such.

How it runs: a few calibration steps (not counted) give the time per step; the run's ``steps`` is set so that
the schedule (cosine for the quick preset) ends at the budget; training stops at the budget or at ``steps``,
whichever comes first; then the validation split is scored left to right and per window. The split is
seqgraph's with ``--test-fraction 0`` by default: the last 5% of the stripped text is the validation split,
as in the nanoGPT comparison below.

    python benchmarks/text_budget.py --budget 120 [--preset quick] [--set cell=torch-lstm batching=stateful ...]

Writes benchmarks/results/text_budget-<budget>s.json (or --out).

nanoGPT beside it (its README's CPU configuration), from a nanoGPT checkout, after writing the same stripped
text's first 95% / last 5% as train.bin / val.bin in data/democracy_char (as data/shakespeare_char/prepare.py
does for Shakespeare: character vocabulary, uint16 codes):

    time python train.py config/train_shakespeare_char.py --dataset=democracy_char --device=cpu --compile=False \\
        --eval_iters=20 --log_interval=1 --block_size=64 --batch_size=12 --n_layer=4 --n_head=4 --n_embd=128 \\
        --max_iters=2000 --lr_decay_iters=2000 --dropout=0.0

Its "val loss" is the mean over eval_iters random windows of 64 characters (a per-window figure, each window
from no context); compare it with this script's window_loss, and our left-to-right loss with the standard one.
"""

import argparse
import json
import os
import time
from pathlib import Path

import torch

from seqgraph.allocator import keep_freed_memory
from seqgraph.charlm.data import load_corpus, resolve
from seqgraph.charlm.evaluate import score
from seqgraph.charlm.train import PRESETS, Trainer, preset_values, split_config

CALIBRATION_STEPS = 5


def parse_setting(text: str) -> tuple[str, object]:
    key, _, value = text.partition("=")
    for kind in (int, float):
        try:
            return key, kind(value)
        except ValueError:
            pass
    return key, value


def build(values: dict, corpus, corpus_name: str) -> Trainer:
    model_config, config = split_config(values, len(corpus.vocab))
    return Trainer(model_config, config, corpus, corpus_name=corpus_name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=float, default=120, help="seconds of training (default: 120)")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="quick")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="override preset values")
    parser.add_argument("--corpus", default="democracy",
                        help="democracy, grimm or a text file's path, recorded in the results as given")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch intra-op threads")
    parser.add_argument("--out", type=Path, help="results file (default: benchmarks/results/text_budget-<B>s.json)")
    args = parser.parse_args()
    kept = keep_freed_memory()  # as the command line does
    torch.set_num_threads(args.threads)
    values = preset_values(args.preset, {"test_fraction": 0.0, **dict(map(parse_setting, args.set))})
    corpus = load_corpus(resolve(args.corpus), values["val_fraction"], test_fraction=values["test_fraction"])
    load_start = os.getloadavg()

    calibration = build(values, corpus, args.corpus)
    calibration.train_step()  # warm-up
    start = time.perf_counter()
    for _ in range(CALIBRATION_STEPS):
        calibration.train_step()
    per_step = (time.perf_counter() - start) / CALIBRATION_STEPS
    values["steps"] = max(1, int(args.budget / per_step))  # the schedule ends at the budget

    trainer = build(values, corpus, args.corpus)
    start = time.perf_counter()
    last = None
    while trainer.step < values["steps"] and time.perf_counter() - start < args.budget:
        last = trainer.train_step()
    train_s = time.perf_counter() - start
    val = score(trainer.model, corpus.val, values["seq_len"])
    results = {
        "budget_s": args.budget, "train_s": train_s, "score_s": time.perf_counter() - start - train_s,
        "steps_planned": values["steps"], "steps_done": trainer.step,
        "chars_per_s": trainer.step * values["batch_size"] * values["seq_len"] / train_s,
        "val": val, "last_train_loss": last["loss"] if last else None,
        "config": trainer.config_dict, "threads": args.threads, "torch": torch.__version__,
        "load_avg_start": load_start, "load_avg_end": os.getloadavg(), "cpus": os.cpu_count(),
        "keep_freed_memory": kept,
    }
    out = args.out or Path(__file__).parent / "results" / f"text_budget-{args.budget:g}s.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps({k: results[k] for k in ("train_s", "steps_done", "val", "load_avg_start", "load_avg_end")},
                     indent=2))


if __name__ == "__main__":
    main()
