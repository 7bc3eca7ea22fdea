"""Throughput of the character model: our trainer vs a bare loop, and our sampler vs stepping nn.LSTM.

1. Training, for the ``quick`` and ``report`` model sizes: characters per second of ``Trainer.train_step``
   (windows drawn from the encoded corpus, loss, accuracy, clipping, Adam, schedule) vs a bare loop over the
   same embedding → nn.LSTM → linear model (random batches, loss, backward, clipping, Adam). The two take one
   step in turn, in rounds, so that load from other processes hits both alike; the median step counts.
   Target: ours >= 0.9x the bare loop.
   Then, inside the same trainer at the ``quick`` size (stateful batches): seqgraph's own LSTM layers
   (``--cell lstm``) vs ``torch.nn.LSTM`` (``--cell torch-lstm``), in turn. Target (issue 17): >= 0.9x.
2. Sampling at the ``report`` size (hidden 1024), batch 1, greedy: ``CharLM.generate`` (state carried, one
   addmm per layer) vs calling the model's ``nn.LSTM`` on one character per call with default settings (oneDNN
   re-lays out the weights on every call), vs the same loop with oneDNN disabled (for reference), vs re-running
   the whole prefix for every character. Targets: >= 6x the default loop, >= 20x re-running the prefix for 300
   characters, and linear in length: 4000 characters in <= 2.2x the time of 2000.

The corpus is random text over 80 characters: throughput does not depend on what the characters say.

    python benchmarks/text.py [--threads N] [--quick-steps 20] [--report-steps 4] [--cell-steps 12] [--rounds 3]
                              [--parts training cells sampling] [--out FILE]

Writes benchmarks/results/text.json (or --out).
"""

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from seqgraph.allocator import keep_freed_memory
from seqgraph.charlm.data import Corpus
from seqgraph.charlm.model import CharLM
from seqgraph.charlm.train import Trainer, preset_values, split_config

VOCAB = "".join(chr(c) for c in range(32, 112))  # 80 characters


def synthetic_corpus(n: int = 1_000_000) -> Corpus:
    data = np.random.default_rng(0).integers(0, len(VOCAB), n).astype(np.uint8)
    return Corpus(data, VOCAB, 0.05, "synthetic")


def bare_step(model: CharLM, optimizer: torch.optim.Optimizer, batch: int, seq_len: int, max_norm: float) -> None:
    x = torch.randint(len(VOCAB), (batch, seq_len))
    y = torch.randint(len(VOCAB), (batch, seq_len))
    h, _ = model.lstm(model.embedding(x))
    loss = F.cross_entropy(model.head(h).flatten(0, 1), y.flatten())
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    optimizer.step()


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def training(preset: str, steps: int) -> dict:
    model_config, config = split_config(preset_values(preset, {}), len(VOCAB))
    trainer = Trainer(model_config, config, synthetic_corpus())
    bare = CharLM(model_config)
    optimizer = torch.optim.Adam(bare.parameters(), lr=config.lr)
    steps_of = {
        "ours": trainer.train_step,
        "bare": lambda: bare_step(bare, optimizer, config.batch_size, config.seq_len, config.max_norm),
    }
    times = {"ours": [], "bare": []}
    for round_ in range(steps + 1):  # the first round warms up both; who goes first alternates
        for name in sorted(steps_of, reverse=round_ % 2 == 1):
            t = timed(steps_of[name])
            if round_:
                times[name].append(t)
    chars = config.batch_size * config.seq_len
    result = {"hidden": model_config.hidden_size, "embedding": model_config.embedding_dim,
              "batch": config.batch_size, "seq_len": config.seq_len, "steps": steps,
              "ours_chars_per_s": chars / statistics.median(times["ours"]),
              "bare_chars_per_s": chars / statistics.median(times["bare"])}
    result["ratio"] = result["ours_chars_per_s"] / result["bare_chars_per_s"]
    return result


def cells(preset: str, steps: int) -> dict:
    """Training throughput of the trainer with our LSTM layers vs nn.LSTM, one step each in turn."""
    trainers = {}
    for cell in ("torch-lstm", "lstm"):
        model_config, config = split_config(preset_values(preset, {"cell": cell}), len(VOCAB))
        trainers[cell] = Trainer(model_config, config, synthetic_corpus())
    times = {cell: [] for cell in trainers}
    for round_ in range(steps + 1):  # the first round warms up both; who goes first alternates
        for cell in sorted(trainers, reverse=round_ % 2 == 1):
            t = timed(trainers[cell].train_step)
            if round_:
                times[cell].append(t)
    chars = config.batch_size * config.seq_len
    result = {"hidden": model_config.hidden_size, "batch": config.batch_size, "seq_len": config.seq_len,
              "batching": config.batching, "steps": steps,
              **{f"{cell}_chars_per_s": chars / statistics.median(t) for cell, t in times.items()}}
    result["ratio_lstm_vs_torch_lstm"] = result["lstm_chars_per_s"] / result["torch-lstm_chars_per_s"]
    return result


@torch.no_grad()
def step_nn_lstm(model: CharLM, length: int) -> None:
    """Greedy, one character per call of the model's own nn.LSTM, the state passed back in."""
    x, state = torch.zeros(1, 1, dtype=torch.long), None
    for _ in range(length):
        h, state = model.lstm(model.embedding(x), state)
        x = model.head(h[:, -1]).argmax(-1, keepdim=True)


@torch.no_grad()
def rerun_prefix(model: CharLM, length: int) -> None:
    """Greedy, re-running the whole prefix through the fused LSTM for every new character."""
    seq = torch.zeros(1, 1, dtype=torch.long)
    for _ in range(length):
        seq = torch.cat([seq, model(seq)[0][:, -1].argmax(-1, keepdim=True)], 1)


def sampling(rounds: int) -> dict:
    model_config, _ = split_config(preset_values("report", {}), len(VOCAB))
    torch.manual_seed(0)
    model = CharLM(model_config).eval()
    prompt = torch.zeros(1, 1, dtype=torch.long)

    def ours(n):
        return timed(lambda: model.generate(prompt, n, temperature=0))

    def no_onednn(n):
        with torch.backends.mkldnn.flags(enabled=False):
            return timed(lambda: step_nn_lstm(model, n))

    ours(20)  # warm-up
    step_nn_lstm(model, 3)
    # chars/s of each way, measured in turn, `rounds` times: load from other processes hits all alike
    rates = {"ours": [], "nn_lstm_default": [], "nn_lstm_no_onednn": []}
    for _ in range(rounds):
        rates["ours"].append(300 / ours(300))
        rates["nn_lstm_default"].append(30 / timed(lambda: step_nn_lstm(model, 30)))
        rates["nn_lstm_no_onednn"].append(150 / no_onednn(150))
    result = {"hidden": model_config.hidden_size, "batch": 1, "rounds": rounds}
    result.update({f"{name}_chars_per_s": statistics.median(r) for name, r in rates.items()})
    result["ratio_vs_default"] = result["ours_chars_per_s"] / result["nn_lstm_default_chars_per_s"]
    result["ratio_vs_no_onednn"] = result["ours_chars_per_s"] / result["nn_lstm_no_onednn_chars_per_s"]
    rerun = timed(lambda: rerun_prefix(model, 300))
    result["rerun_prefix_300_s"] = rerun
    result["ours_300_s"] = statistics.median([ours(300) for _ in range(rounds)])
    result["ratio_vs_rerun_300"] = rerun / result["ours_300_s"]
    lengths = {2000: [], 4000: []}
    for _ in range(rounds):
        for n, times in lengths.items():
            times.append(ours(n))
    result["ours_2000_s"], result["ours_4000_s"] = (statistics.median(t) for t in lengths.values())
    result["length_ratio_4000_vs_2000"] = result["ours_4000_s"] / result["ours_2000_s"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch intra-op threads")
    parser.add_argument("--quick-steps", type=int, default=20, help="timed training steps, quick size (default: 20)")
    parser.add_argument("--report-steps", type=int, default=4, help="timed training steps, report size (default: 4)")
    parser.add_argument("--cell-steps", type=int, default=12, help="timed steps of the cell comparison (default: 12)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the sampling timings (default: 3)")
    parser.add_argument("--parts", nargs="+", choices=("training", "cells", "sampling"),
                        default=["training", "cells", "sampling"], help="what to measure (default: all)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "text.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    kept = keep_freed_memory()  # as the command line does
    results = {"machine": {"cpu": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
                           "threads": args.threads, "torch": torch.__version__, "load_avg_start": os.getloadavg(),
                           "keep_freed_memory": kept},
               "training": {}}
    targets = {}
    if "training" in args.parts:
        results["training"].update(quick=training("quick", args.quick_steps),
                                   report=training("report", args.report_steps))
        targets["training_quick >= 0.9"] = results["training"]["quick"]["ratio"] >= 0.9
        targets["training_report >= 0.9"] = results["training"]["report"]["ratio"] >= 0.9
    if "cells" in args.parts:
        results["training"]["cells_quick"] = cells("quick", args.cell_steps)
        targets["our lstm vs nn.LSTM (quick) >= 0.9"] = \
            results["training"]["cells_quick"]["ratio_lstm_vs_torch_lstm"] >= 0.9
    if "sampling" in args.parts:
        results["sampling"] = sampling(args.rounds)
        targets["sampling vs nn.LSTM default >= 6"] = results["sampling"]["ratio_vs_default"] >= 6
        targets["sampling vs rerun prefix (300) >= 20"] = results["sampling"]["ratio_vs_rerun_300"] >= 20
        targets["4000 chars <= 2.2x 2000 chars"] = results["sampling"]["length_ratio_4000_vs_2000"] <= 2.2
    results["machine"]["load_avg_end"] = os.getloadavg()
    results["targets_met"] = targets
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
