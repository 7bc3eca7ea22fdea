"""Throughput of the character model trained by 1 and N data-parallel processes (torch.distributed, DDP).

Each setting is launched with torchrun (``python -m torch.distributed.run --standalone``). Every process
builds the model of --preset on a synthetic corpus, takes --warmup steps of ``Trainer.train_step``, then
times --steps steps between barriers. The global batch is the preset's: N processes each train on B / N of
its rows, so chars/s = steps * B * T / seconds compares like with like. On the CPU (gloo) each process
runs --threads intra-op threads (default 1: on a shared, loaded machine two OpenMP threads per process
thrash); with CUDA (nccl) each process takes one GPU. Settings alternate for --rounds rounds, so that load
from other processes hits them alike; the median counts.

On a 2-core CPU this proves the mechanism, not a speed-up worth having: two processes simply occupy both
cores, each works on half the batch, and the all-reduce is extra work. On a GPU machine run it with
``--procs 1 2 4 8 --preset report`` (one process per GPU).

    python benchmarks/distributed.py [--procs 1 2] [--preset quick] [--threads 1] [--steps 4] [--rounds 3]

Writes benchmarks/results/distributed.json (or --out).
"""

import argparse
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
from text import synthetic_corpus

from seqgraph import distributed
from seqgraph.charlm.train import PRESETS, Trainer, preset_values, split_config


def worker(args) -> None:
    """One rank under torchrun: time train_step and, on rank 0, write the timing to ``args.worker``."""
    cuda = torch.cuda.is_available()
    if not cuda:
        torch.set_num_threads(args.threads)
    device = distributed.setup(torch.device("cuda" if cuda else "cpu"))
    corpus = synthetic_corpus()
    model_config, config = split_config(preset_values(args.preset, {"steps": args.warmup + args.steps}),
                                        len(corpus.vocab))
    trainer = Trainer(model_config, config, corpus, device)
    for _ in range(args.warmup):
        trainer.train_step()
    distributed.barrier()
    start = time.perf_counter()
    for _ in range(args.steps):
        trainer.train_step()  # its .item() calls wait for the device
    distributed.barrier()
    seconds = time.perf_counter() - start
    if distributed.is_main():
        Path(args.worker).write_text(json.dumps({
            "seconds": seconds, "chars_per_s": args.steps * config.batch_size * config.seq_len / seconds,
            "device": str(device), "backend": torch.distributed.get_backend() if distributed.is_distributed()
            else None, "threads_per_process": None if cuda else args.threads}))
    distributed.cleanup()


def launch(procs: int, args, path: Path) -> dict:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={procs}",
               __file__, "--worker", str(path), "--preset", args.preset, "--steps", str(args.steps),
               "--warmup", str(args.warmup), "--threads", str(args.threads)]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}  # set, so torchrun does not warn that it sets it
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env)
    return json.loads(path.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--procs", type=int, nargs="+", default=[1, 2], help="process counts (default: 1 2)")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="quick", help="model and batch (default: quick)")
    parser.add_argument("--steps", type=int, default=4, help="timed steps per run (default: 4)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps first (default: 1)")
    parser.add_argument("--threads", type=int, default=1, help="threads per process on the CPU (default: 1)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each setting, alternating (default: 3)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "distributed.json"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # set when torchrun starts this file as a rank
    args = parser.parse_args()
    if args.worker:
        return worker(args)

    preset = PRESETS[args.preset]
    load_start = os.getloadavg()
    runs = {procs: [] for procs in args.procs}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            for procs in args.procs:
                runs[procs].append(launch(procs, args, Path(tmp) / f"{procs}.json"))
                print(f"{procs} processes: {runs[procs][-1]['chars_per_s']:.0f} chars/s", file=sys.stderr)
    base = statistics.median(r["chars_per_s"] for r in runs[args.procs[0]])
    results = {
        "machine": {"cpu": platform.machine(), "cpus": os.cpu_count(), "torch": torch.__version__,
                    "cuda_devices": torch.cuda.device_count(), "load_avg_start": load_start,
                    "load_avg_end": os.getloadavg()},
        "preset": args.preset, "global_batch": preset["batch_size"], "seq_len": preset["seq_len"],
        "hidden": preset["hidden_size"], "steps": args.steps, "warmup": args.warmup, "rounds": args.rounds,
        "caveat": "on a 2-core CPU shared with other jobs this proves the mechanism (same data, same result), "
                  "not a speed-up worth having: 2 processes just occupy both cores",
        "threads_per_process": args.threads,
        "runs": {str(procs): {
            "device": r[0]["device"], "backend": r[0]["backend"],
            "chars_per_s": statistics.median(x["chars_per_s"] for x in r),
            "chars_per_s_each_round": [x["chars_per_s"] for x in r],
            "speedup": statistics.median(x["chars_per_s"] for x in r) / base,
        } for procs, r in runs.items()},
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results["runs"], indent=2))


if __name__ == "__main__":
    main()
