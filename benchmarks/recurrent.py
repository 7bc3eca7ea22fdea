"""Step time of our recurrent classifiers vs the same classifier with torch.nn.LSTM inside.

One step = forward, NLL loss, backward and an Adam update; batch 128 of 15 random symbols (16 of them),
embedding 32, hidden 128, 16 classes (random combinations, Table 2). Every model takes one step in turn, in
rounds, so that load from other processes hits them alike; after warm-up, the median of the step times
counts (wall clock, and the process's CPU time beside it). Target: our LSTM <= 1.3x nn.LSTM (stretch 1.1x).

    python benchmarks/recurrent.py [--steps 60] [--warmup 10] [--threads 1 2]

Prints a table per thread count and writes benchmarks/results/recurrent.json, with the load average: on a
shared machine, threads waiting for a busy core can dominate the multi-threaded times.
"""

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from seqgraph.memory.classifier import CLASSIFIERS, build_classifier

SYMBOLS, CLASSES, BATCH, STEPS_T, EMBEDDING, HIDDEN = 16, 16, 128, 15, 32, 128
REFERENCE = "torch.nn.LSTM"


def make_models() -> dict[str, nn.Module]:
    models = {REFERENCE: build_classifier("lstm", SYMBOLS, CLASSES, HIDDEN, EMBEDDING)}
    models[REFERENCE].rnn = nn.LSTM(EMBEDDING, HIDDEN, batch_first=True)  # the fused library kernel
    models.update({name: build_classifier(name, SYMBOLS, CLASSES, HIDDEN, EMBEDDING) for name in CLASSIFIERS})
    return models


def measure(models: dict[str, nn.Module], steps: int, warmup: int) -> dict[str, dict]:
    x = torch.randint(SYMBOLS, (BATCH, STEPS_T))
    y = torch.randint(CLASSES, (BATCH,))
    optimizers = {name: torch.optim.Adam(m.parameters(), lr=1e-3) for name, m in models.items()}
    wall = {name: [] for name in models}
    cpu = {name: [] for name in models}
    for _ in range(warmup + steps):
        for name, model in models.items():
            start_wall, start_cpu = time.perf_counter(), time.process_time()
            loss = F.nll_loss(model(x), y)
            optimizers[name].zero_grad(set_to_none=True)
            loss.backward()
            optimizers[name].step()
            wall[name].append(time.perf_counter() - start_wall)
            cpu[name].append(time.process_time() - start_cpu)
    results = {}
    for name in models:
        w, c = [1e3 * s for s in wall[name][warmup:]], [1e3 * s for s in cpu[name][warmup:]]
        quartiles = statistics.quantiles(w, n=4)
        results[name] = {"median_ms": statistics.median(w), "p25_ms": quartiles[0], "p75_ms": quartiles[2],
                         "cpu_median_ms": statistics.median(c)}
    reference = results[REFERENCE]
    for row in results.values():
        row["ratio"] = row["median_ms"] / reference["median_ms"]
        row["cpu_ratio"] = row["cpu_median_ms"] / reference["cpu_median_ms"]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60, help="timed steps per model (default: 60)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps per model first (default: 10)")
    parser.add_argument("--threads", type=int, nargs="+", default=sorted({1, torch.get_num_threads()}),
                        help="torch thread counts to measure, one run each (default: 1 and torch's choice)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "recurrent.json",
                        help="where to write the results (default: benchmarks/results/recurrent.json)")
    args = parser.parse_args()
    runs = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        torch.manual_seed(0)
        results = measure(make_models(), args.steps, args.warmup)
        runs.append({"threads": threads, "lstm_ratio": results["lstm"]["ratio"], "results": results})
        print(f"forward + backward + Adam, batch {BATCH}, T={STEPS_T}, embedding {EMBEDDING}, hidden {HIDDEN}, "
              f"{SYMBOLS} symbols; median of {args.steps} steps, {threads} thread(s)")
        print(f"{'model':<15}{'ms/step':>9}{'p25-p75':>15}{'ratio':>8}{'cpu ms':>9}{'cpu ratio':>11}")
        for name, row in results.items():
            spread = f"{row['p25_ms']:.1f}-{row['p75_ms']:.1f}"
            print(f"{name:<15}{row['median_ms']:>9.2f}{spread:>15}{row['ratio']:>8.2f}"
                  f"{row['cpu_median_ms']:>9.2f}{row['cpu_ratio']:>11.2f}")
        print(f"our LSTM / torch.nn.LSTM: {results['lstm']['ratio']:.2f}x (target <= 1.3, stretch <= 1.1)\n")
    record = {
        "what": "forward+backward+Adam step of the sequence classifier; ratio = median step time / torch.nn.LSTM's",
        "config": {"batch": BATCH, "T": STEPS_T, "embedding": EMBEDDING, "hidden": HIDDEN, "symbols": SYMBOLS,
                   "classes": CLASSES, "steps": args.steps, "warmup": args.warmup},
        "torch": torch.__version__, "cpu_count": os.cpu_count(), "load_average": os.getloadavg(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(), "mkldnn": torch.backends.mkldnn.enabled,
        "platform": platform.platform(), "processor": platform.processor(), "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
