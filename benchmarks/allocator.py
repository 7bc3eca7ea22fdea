"""What keeping freed memory in the process (seqgraph.allocator.keep_freed_memory, set by the command line) is worth.

Each workload runs in a fresh process with glibc's default malloc settings and in one with keep_freed_memory(),
in turn for --rounds rounds (who goes first alternates); the median over rounds counts:

- steps:  a step that allocates six 16 MiB tensors and one of 1 MiB (its activations, say) and frees them:
          page faults per step (steady state);
- cells:  the character model's training step at the quick size, with our LSTM (--cell lstm) and with
          torch.nn.LSTM (--cell torch-lstm), one step each in turn (benchmarks/text.py's comparison): chars/s.

    OMP_NUM_THREADS=1 python benchmarks/allocator.py [--rounds 3] [--steps 8] [--out FILE]

Writes benchmarks/results/allocator.json (or --out).
"""

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
from pathlib import Path

import torch

from seqgraph.allocator import keep_freed_memory

WORKLOADS = ("steps", "cells")


def faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def step() -> float:
    """The activations of a step: six 16 MiB tensors and one of 1 MiB, freed together at its end."""
    held = [torch.ones(n) for n in (4 << 20,) * 6 + (1 << 18,)]
    return sum(float(t[-1]) for t in held)


def steps() -> dict:
    for _ in range(20):  # past glibc's own adjustment of its thresholds
        step()
    before = faults()
    for _ in range(20):
        step()
    return {"page_faults_per_step": (faults() - before) / 20}


def cells(n: int) -> dict:
    sys.path.insert(0, str(Path(__file__).parent))
    from text import cells as compare_cells  # benchmarks/text.py

    result = compare_cells("quick", n)
    return {k: result[k] for k in ("lstm_chars_per_s", "torch-lstm_chars_per_s", "ratio_lstm_vs_torch_lstm")}


def child(args) -> None:
    torch.set_num_threads(1)
    kept = keep_freed_memory() if args.keep else False
    result = {"steps": steps, "cells": lambda: cells(args.steps)}[args.child]()
    print(json.dumps({"kept": kept, **result}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each workload in each setting (default: 3)")
    parser.add_argument("--steps", type=int, default=8, help="timed training steps of the cells workload (default: 8)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "allocator.json"))
    parser.add_argument("--child", choices=WORKLOADS, help=argparse.SUPPRESS)
    parser.add_argument("--keep", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    results = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__,
                           "load_avg_start": os.getloadavg()}, "rounds": args.rounds}
    for workload in WORKLOADS:
        runs = {"glibc_default": [], "keep_freed_memory": []}
        for round_ in range(args.rounds):
            for keep in ((0, 1) if round_ % 2 == 0 else (1, 0)):
                out = subprocess.run([sys.executable, __file__, "--child", workload, "--keep", str(keep),
                                      "--steps", str(args.steps)], check=True, capture_output=True, text=True)
                runs["keep_freed_memory" if keep else "glibc_default"].append(json.loads(out.stdout.splitlines()[-1]))
        results[workload] = {setting: {key: statistics.median(r[key] for r in rs) for key in rs[0] if key != "kept"}
                             for setting, rs in runs.items()}
        results[workload]["kept"] = all(r["kept"] for r in runs["keep_freed_memory"])
        print(workload, json.dumps(results[workload]), flush=True)
    results["machine"]["load_avg_end"] = os.getloadavg()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
