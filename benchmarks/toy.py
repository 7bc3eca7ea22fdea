"""Training throughput on random combinations (input_length 16, Table 2): our LSTM vs torch.nn.LSTM.

Both models run the same training step (fresh batch, forward, NLL, backward, clipping to norm 10, Adam):
embedding 32 -> LSTM 128 -> linear to 16 classes, batch 128, 15 time steps. Measurements alternate between
the two models in rounds, so that load from other processes hits both alike; the median round counts.
Also times batch generation alone, for every task at its Table 2 batch size.

    python benchmarks/toy.py [--rounds 7] [--steps 40] [--threads N]

Writes benchmarks/results/toy.json. Target: ours >= 0.8 of nn.LSTM's examples/s; batches < 10% of a step.
"""

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from seqgraph.memory.classifier import build_classifier
from seqgraph.memory.tasks import make_task
from seqgraph.memory.train import PRESETS

LENGTH, HIDDEN, EMBEDDING, BATCH = 16, 128, 32, 128


class TorchLSTMClassifier(nn.Module):
    """The reference: the same classifier with torch.nn.LSTM (fused kernels) as its recurrent layer."""

    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(LENGTH, EMBEDDING)
        self.rnn = nn.LSTM(EMBEDDING, HIDDEN, batch_first=True)
        self.head = nn.Linear(HIDDEN, LENGTH)

    def forward(self, x):
        _, (h, _) = self.rnn(self.embedding(x))  # h: (1, B, H)
        return F.log_softmax(self.head(h[0]), dim=-1)  # (B, C)


def train_steps(model, optimizer, task, rng, steps: int) -> float:
    """Seconds for ``steps`` full training steps, batch generation included."""
    start = time.perf_counter()
    for _ in range(steps):
        x, y = task.batch(BATCH, rng)
        loss = F.nll_loss(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        optimizer.step()
    return time.perf_counter() - start


def batch_seconds(task, batch_size: int, rng, repeats: int = 200) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        task.batch(batch_size, rng)
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="alternating measurement rounds (default: 7)")
    parser.add_argument("--steps", type=int, default=40, help="training steps per round and model (default: 40)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(),
                        help="torch intra-op threads (default: torch's default)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "toy.json"), help="result file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    task = make_task("randomcomb", LENGTH)
    models = {"ours": build_classifier("lstm", LENGTH, LENGTH, HIDDEN, EMBEDDING),
              "torch.nn.LSTM": TorchLSTMClassifier()}
    optimizers = {name: torch.optim.Adam(m.parameters(), lr=1e-3) for name, m in models.items()}
    rng = np.random.default_rng(0)
    for name in models:  # warm-up
        train_steps(models[name], optimizers[name], task, rng, 10)
    seconds = {name: [] for name in models}
    for _ in range(args.rounds):
        for name in models:
            seconds[name].append(train_steps(models[name], optimizers[name], task, rng, args.steps))
    step_s = {name: statistics.median(s) / args.steps for name, s in seconds.items()}
    throughput = {name: BATCH / s for name, s in step_s.items()}

    batch_s = {name: batch_seconds(make_task(name, p["lengths"][-1]), p["batch_size"], rng)
               for name, p in PRESETS.items()}
    results = {
        "config": {"task": "randomcomb", "length": LENGTH, "batch": BATCH, "hidden": HIDDEN, "embedding": EMBEDDING,
                   "rounds": args.rounds, "steps_per_round": args.steps},
        "examples_per_second": throughput,
        "ratio_ours_to_torch": throughput["ours"] / throughput["torch.nn.LSTM"],
        "step_ms": {name: 1e3 * s for name, s in step_s.items()},
        "batch_ms_at_table2_batch_and_longest_length": {name: 1e3 * s for name, s in batch_s.items()},
        "randomcomb_batch_fraction_of_our_step": batch_s["randomcomb"] / step_s["ours"],
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "machine": platform.processor() or platform.machine(),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(json.dumps(results, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
