"""What choosing threads for the work (seqgraph.threads) is worth, on an idle machine and beside a busy process.

- products: a product of each size on one thread and on every core, idle and beside one process that keeps a core
  busy (``python -c "while True: pass"``): where the rule's threshold (threads.SMALL) comes from;
- commands: ``seqgraph reproduce --profile smoke`` (every experiment of the report at a tiny size, in one
  process), timed with the rule and with ``--threads`` set to every core (torch's default before the rule), idle
  and beside the busy process, in turn for --rounds rounds; medians.

    python benchmarks/threads.py [--rounds 2] [--out FILE]

Needs the data directory (``SEQGRAPH_DATA``) for the smoke's datasets. Writes benchmarks/results/threads.json.
"""

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

SIZES = [(32, 64, 64), (64, 128, 128), (128, 128, 512), (256, 256, 1024), (2708, 1433, 16), (256, 512, 2048),
         (256, 1024, 4096)]


@contextlib.contextmanager
def busy(on: bool):
    """One process that keeps a core busy while the block runs (nothing when ``on`` is False)."""
    process = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if on else None
    try:
        time.sleep(1.0 if on else 0)
        yield
    finally:
        if process:
            process.kill()
            process.wait()


def product_time(m: int, k: int, n: int, threads: int) -> float:
    """Median microseconds of ``(m, k) @ (k, n)`` on ``threads`` threads."""
    torch.set_num_threads(threads)
    a, b = torch.randn(m, k), torch.randn(k, n)
    for _ in range(5):
        a @ b
    reps = max(5, min(1000, int(1e9 / (m * k * n))))
    times = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(reps):
            a @ b
        times.append((time.perf_counter() - start) / reps * 1e6)
    return statistics.median(times)


def products(cores: int) -> list[dict]:
    rows = []
    for m, k, n in SIZES:
        row = {"size": [m, k, n], "multiply_adds": m * k * n}
        for load in ("idle", "busy"):
            with busy(load == "busy"):
                for threads in (1, cores):
                    row[f"{load}_{threads}_threads_us"] = product_time(m, k, n, threads)
        rows.append(row)
        print(row, flush=True)
    return rows


def smoke(threads: int | None) -> float:
    """Seconds of the reproduce smoke in a fresh process and folder, with ``--threads threads`` (None: the rule)."""
    with tempfile.TemporaryDirectory() as out:
        argv = [sys.executable, "-m", "seqgraph", "reproduce", "--profile", "smoke", "--out", out]
        env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
        start = time.perf_counter()
        subprocess.run(argv + (["--threads", str(threads)] if threads else []), env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - start


def commands(cores: int, rounds: int) -> dict:
    seconds = {f"{load}_{policy}": [] for load in ("idle", "busy") for policy in ("rule", "every_core")}
    for r in range(rounds):
        for load in ("idle", "busy"):
            with busy(load == "busy"):
                order = ("rule", "every_core") if r % 2 == 0 else ("every_core", "rule")
                for policy in order:
                    seconds[f"{load}_{policy}"].append(smoke(None if policy == "rule" else cores))
        print({k: v[-1] for k, v in seconds.items()}, flush=True)
    medians = {k: statistics.median(v) for k, v in seconds.items()}
    return {"seconds": seconds, "median_seconds": medians,
            "busy_over_idle_rule": medians["busy_rule"] / medians["idle_rule"],
            "busy_over_idle_every_core": medians["busy_every_core"] / medians["idle_every_core"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2, help="rounds of the smoke runs (default: 2)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "threads.json"))
    args = parser.parse_args()
    cores = torch.get_num_threads()
    load = os.getloadavg()
    results = {"what": __doc__.split("\n\n")[0], "cores": cores, "load_average_before": load,
               "products": products(cores), "reproduce_smoke": commands(cores, args.rounds),
               "load_average_after": os.getloadavg(), "torch": torch.__version__, "platform": platform.platform()}
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results["reproduce_smoke"]["median_seconds"]), f"wrote {args.out}")


if __name__ == "__main__":
    main()
