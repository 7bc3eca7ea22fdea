"""Memory-task training throughput: the trainer's loop with our LSTM vs the same loop with torch.nn.LSTM.

Random combinations with input_length 16 at Table 2's settings (batch 128, hidden 128, embedding 32, Adam 1e-3,
clipping to norm 10). Two measurements, each alternating between the two models step by step so that load
from other processes hits both alike, medians after warm-up:

1. the trainer: ``ToyTrainer.train_step``, the whole loop (fresh batch, forward, loss, accuracy, the stop
   rules' bookkeeping, backward, clipping, Adam, history), with ``model.rnn`` ours or a batch-first
   ``nn.LSTM`` of the same size in the same classifier;
2. the bare step on the same model: forward, loss, backward, clipping, Adam on a fixed batch.

The trainer's step minus the bare step (paired, in process CPU time) is what the loop around the model
costs; it is the same code for both models, so the throughput ratio is decided by the layer. Also times
batch generation alone, for every task at its Table 2 batch size. Target (issues 18 and 27): ours >= 1.0x
nn.LSTM's examples per second. Our LSTM runs its loops in C++ where ``seqgraph.fused`` built them (recorded as
``fused_backend``; ``SEQGRAPH_FUSED=python`` measures the Python loops). Freed memory stays in the process, as
the command line keeps it (``seqgraph.allocator.keep_freed_memory``, recorded).

    python benchmarks/toy.py [--steps 60] [--warmup 10] [--threads 1]

Writes benchmarks/results/toy.json with the load average before and after.
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
from torch import nn

from seqgraph import fused
from seqgraph.allocator import keep_freed_memory
from seqgraph.memory.tasks import make_task
from seqgraph.memory.train import PRESETS, ToyConfig, ToyTrainer

LENGTH = 16


def make_trainers() -> dict[str, ToyTrainer]:
    """Two trainers of the same run, one with ``nn.LSTM`` swapped into the classifier (with its own Adam)."""
    config = ToyConfig.preset("randomcomb", length=LENGTH, max_steps=10**9)
    trainers = {"ours": ToyTrainer(config), "torch.nn.LSTM": ToyTrainer(config)}
    reference = trainers["torch.nn.LSTM"]
    rnn = reference.model.rnn
    reference.model.rnn = nn.LSTM(rnn.input_size, rnn.hidden_size, batch_first=True)
    reference.ddp_model = reference.model  # not distributed here
    reference.optimizer = torch.optim.Adam(reference.model.parameters(), lr=config.lr)
    return trainers


def bare_step(trainer: ToyTrainer, x: torch.Tensor, y: torch.Tensor) -> None:
    loss = F.nll_loss(trainer.model(x), y)
    trainer.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(trainer.model.parameters(), trainer.config.max_norm)
    trainer.optimizer.step()


def measure(trainers: dict[str, ToyTrainer], steps: int, warmup: int) -> dict[str, dict]:
    """Medians of the wall-clock and process-CPU times of both steps; the loop's cost is the median of the paired
    differences of the CPU times (one thread: less disturbed by other processes than the wall clock)."""
    x, y = trainers["ours"].task.batch(trainers["ours"].config.batch_size, np.random.default_rng(0))
    times = {name: {kind: [] for kind in ("trainer", "bare", "trainer_cpu", "bare_cpu")} for name in trainers}
    for _ in range(warmup + steps):
        for name, trainer in trainers.items():
            clocks = [(time.perf_counter(), time.process_time())]
            trainer.train_step()
            clocks.append((time.perf_counter(), time.process_time()))
            bare_step(trainer, x, y)
            clocks.append((time.perf_counter(), time.process_time()))
            for kind, start, end in zip(("trainer", "bare"), clocks[:-1], clocks[1:], strict=True):
                times[name][kind].append(1e3 * (end[0] - start[0]))
                times[name][f"{kind}_cpu"].append(1e3 * (end[1] - start[1]))
    results = {}
    for name, kinds in times.items():
        row = {f"{kind}_step_ms": statistics.median(values[warmup:]) for kind, values in kinds.items()}
        row["loop_cpu_ms"] = statistics.median(a - b for a, b in zip(kinds["trainer_cpu"][warmup:],
                                                                      kinds["bare_cpu"][warmup:], strict=True))
        row["examples_per_second"] = trainers[name].config.batch_size / (row["trainer_step_ms"] / 1e3)
        results[name] = row
    return results


def batch_ms(task_name: str, preset: dict, rng: np.random.Generator, repeats: int = 200) -> float:
    task = make_task(task_name, preset["lengths"][-1])
    start = time.perf_counter()
    for _ in range(repeats):
        task.batch(preset["batch_size"], rng)
    return 1e3 * (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60, help="timed steps per model (default: 60)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps per model first (default: 10)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default: 1)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "toy.json",
                        help="where to write the results (default: benchmarks/results/toy.json)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    kept = keep_freed_memory()  # as the command line does for `seqgraph memory`
    load_before = os.getloadavg()
    results = measure(make_trainers(), args.steps, args.warmup)
    load_after = os.getloadavg()
    ours, reference = results["ours"], results["torch.nn.LSTM"]
    rng = np.random.default_rng(0)
    record = {
        "what": "ToyTrainer.train_step on random combinations, input_length 16 (Table 2), with our LSTM vs "
                "torch.nn.LSTM in the same classifier and trainer; bare step = forward, loss, backward, "
                "clipping, Adam on a fixed batch; loop = trainer step - bare step (paired, CPU time)",
        "config": {"task": "randomcomb", "length": LENGTH, "batch": 128, "hidden": 128, "embedding": 32,
                   "steps": args.steps, "warmup": args.warmup},
        "results": results,
        "throughput_ratio_ours_to_torch": ours["examples_per_second"] / reference["examples_per_second"],
        "bare_step_ratio_ours_to_torch": ours["bare_step_ms"] / reference["bare_step_ms"],
        "loop_cpu_fraction_of_trainer_step": {name: r["loop_cpu_ms"] / r["trainer_cpu_step_ms"]
                                              for name, r in results.items()},
        "batch_ms_at_table2_batch_and_longest_length": {name: batch_ms(name, p, rng) for name, p in PRESETS.items()},
        "fused_backend": fused.backend(), "keep_freed_memory": kept,
        "threads": torch.get_num_threads(), "load_average_before": load_before, "load_average_after": load_after,
        "torch": torch.__version__, "cpu_count": os.cpu_count(), "platform": platform.platform(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
