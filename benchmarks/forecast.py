"""Recurrent graph models: seqgraph's batched DCRNN against PyTorch Geometric Temporal's cell, and memory against the
number of windows.

- ``--epoch``: a DCRNN training step (12 -> 12, 2 layers of 64 units, 2 diffusion steps, batch 64, masked MAE,
  Adam, clipping) at METR-LA's size (207 sensors) and PEMS-BAY's (325), on the graph autoregressive generator (the
  speed files cannot be had here): seqgraph's :class:`~seqgraph.graph.temporal.models.DCRNN` against the same
  encoder-decoder loop built from PyTorch Geometric Temporal's ``DCRNN`` cell (``K = 3``: the same two diffusion
  steps), a batch being the block-diagonal union of its 64 graphs (the batching its maintainers recommend). Seconds
  per step, and per epoch (steps x the benchmark's training windows / 64), and each one's peak memory, every
  measurement in a process of its own.
- ``--chickenpox``: a training epoch of PyTorch Geometric Temporal's documented chickenpox example (``DCRNN(4, 32,
  1)``, ReLU, linear; the 103 training snapshots one by one, one backward per epoch) against the same model run on
  all snapshots as one batch.
- ``--memory``: peak memory of a forecasting run (data, model, two training steps) against the series' length: the
  windows are gathered per batch, so only the series itself grows.

PyTorch Geometric Temporal 0.56.2 needs torch-sparse and torch-scatter, which have no wheels for torch 2.13; they
build from source (about 26 minutes on 2 cores), into a virtual environment of their own:

    python -m venv /tmp/pygt && /tmp/pygt/bin/pip install torch==2.13.0 torch_geometric==2.8.1
    MAX_JOBS=2 /tmp/pygt/bin/pip install --no-build-isolation torch-scatter==2.1.2 torch-sparse==0.6.18
    /tmp/pygt/bin/pip install --no-deps torch-geometric-temporal==0.56.2 && /tmp/pygt/bin/pip install -e . h5py
    OMP_NUM_THREADS=1 /tmp/pygt/bin/python benchmarks/forecast.py --epoch --chickenpox --memory --steps 1 --warmup 0 \
        --child-timeout 3600

PyTorch Geometric Temporal's DCRNN, whose diffusion convolution builds a dense N x N adjacency at every call, takes
about 9 minutes a step at METR-LA's size and 25 at PEMS-BAY's here, hence one timed step without a warm-up (the
whole run: about 40 minutes). ``--sizes`` chooses the ``--epoch`` sizes; ``--child-timeout S`` records a measurement
still running after S seconds as unfinished.

Writes benchmarks/results/forecast.json afresh (the sections of the flags given).
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

from seqgraph.graph.datasets.gvar import generate_gvar
from seqgraph.graph.temporal import ForecastTrainer, default_config
from seqgraph.graph.temporal.data import batch
from seqgraph.graph.temporal.models import build_operators

SIZES = {"metr-la": (207, 34272), "pems-bay": (325, 52116)}
RESULTS = Path(__file__).parent / "results" / "forecast.json"


class PygtDCRNN(torch.nn.Module):
    """seqgraph's DCRNN encoder-decoder loop with PyTorch Geometric Temporal's ``DCRNN`` cell in each layer."""

    def __init__(self, input_size: int, hidden: int = 64, layers: int = 2, K: int = 3, horizon: int = 12):
        super().__init__()
        from torch_geometric_temporal.nn.recurrent import DCRNN as Cell

        self.horizon = horizon
        self.encoder = torch.nn.ModuleList(Cell(input_size if i == 0 else hidden, hidden, K) for i in range(layers))
        self.decoder = torch.nn.ModuleList(Cell(1 if i == 0 else hidden, hidden, K) for i in range(layers))
        self.projection = torch.nn.Linear(hidden, 1, bias=False)

    def forward(self, x, graph, targets=None, truth_probability=0.0):
        edge_index, weight = graph  # the block-diagonal union of the batch's graphs
        B, P, N, F = x.shape
        states = [None] * len(self.encoder)
        for t in range(P):
            h = x[:, t].reshape(B * N, F)
            for i, cell in enumerate(self.encoder):
                states[i] = cell(h, edge_index, weight, states[i])
                h = states[i]
        value, outputs = x.new_zeros(B * N, 1), []
        for t in range(self.horizon):
            h = value
            for i, cell in enumerate(self.decoder):
                states[i] = cell(h, edge_index, weight, states[i])
                h = states[i]
            value = self.projection(h)
            outputs.append(value.view(B, N))
            if targets is not None and float(torch.rand(())) < truth_probability:
                value = targets[:, t].reshape(B * N, 1)
        return torch.stack(outputs, 1)


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_epoch(impl: str, size: str, steps: int, batch_size: int, warmup: int) -> dict:
    """Time ``steps`` DCRNN training steps (after ``warmup`` more) of ``impl`` at ``size``."""
    nodes, length = SIZES[size]
    signal = generate_gvar(nodes, length)
    config = default_config("gvar", "dcrnn", batch_size=batch_size)
    trainer = ForecastTrainer(signal, config, seed=0)  # ours; also the data, splits and scaler of theirs
    if impl == "pygt":
        torch.manual_seed(0)
        model = PygtDCRNN(signal.num_features)
        e, w = signal.edge_index, signal.edge_weight
        graph = (torch.cat([e + b * nodes for b in range(batch_size)], 1), w.repeat(batch_size))
        optimizer = torch.optim.Adam(model.parameters(), lr=0.01, eps=1e-3)

        def step(starts):
            x, y = batch(trainer.features, trainer.values, starts, 12, 12)
            pred = model(x, graph, y, 0.5)
            true = trainer.raw[trainer.target_steps(starts)]
            valid = true != 0
            loss = ((trainer.scaler.inverse(pred) - true).abs() * valid).sum() / valid.sum()
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
    else:
        def step(starts):
            pred, _ = trainer.forward(starts, train=True)
            loss, _ = trainer.loss(pred, starts)
            trainer.optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainer.model.parameters(), 5.0)
            trainer.optimizer.step()
    batches = trainer.batches()
    for b in batches[:warmup]:
        step(b)
    start = time.perf_counter()
    for b in batches[warmup:warmup + steps]:
        step(b)
    seconds = (time.perf_counter() - start) / steps
    return {"seconds_per_step": seconds, "steps_per_epoch": len(batches), "seconds_per_epoch": seconds * len(batches),
            "peak_mib": peak_mib(), "parameters": sum(p.numel() for p in (trainer.model if impl == "ours"
                                                                              else model).parameters())}


def child_chickenpox(impl: str, epochs: int) -> dict:
    """Epochs of PyTorch Geometric Temporal's documented chickenpox example (``pygt``) or of the same model on all
    training snapshots at once (``ours``)."""
    from seqgraph.datadir import data_dir
    from seqgraph.graph.datasets.pygt import load_pygt
    from seqgraph.graph.temporal.cells import DCGRUCell

    signal = load_pygt("chickenpox", data_dir())
    lags, train = 4, int(0.2 * (signal.num_steps - 4))
    x = torch.stack([signal.values[t:t + lags].t() for t in range(train)])  # (S, N, lags): its snapshots' features
    y = torch.stack([signal.values[t + lags] for t in range(train)])  # (S, N)
    torch.manual_seed(1)
    if impl == "pygt":
        from torch_geometric_temporal.nn.recurrent import DCRNN as Cell

        cell = Cell(lags, 32, 1)
        edge_index, weight = signal.edge_index, signal.edge_weight
    else:
        cell = DCGRUCell(lags, 32, K=0)  # DCRNN(K = 1) of PyTorch Geometric Temporal: the identity term alone
        walks = build_operators("walks", signal.edge_index, signal.edge_weight, signal.num_nodes)
    linear = torch.nn.Linear(32, 1)
    optimizer = torch.optim.Adam([*cell.parameters(), *linear.parameters()], lr=0.01)

    def epoch():
        if impl == "pygt":  # snapshot by snapshot, the loss summed, one backward per epoch (its documentation)
            cost = 0
            for t in range(train):
                h = cell(x[t], edge_index, weight)
                cost = cost + torch.mean((linear(torch.relu(h)).squeeze(-1) - y[t]) ** 2)
            cost = cost / train
        else:  # every snapshot in one batch: node-major (N, S, lags)
            h = cell(x.transpose(0, 1), None, walks)
            cost = torch.mean((linear(torch.relu(h)).squeeze(-1).t() - y) ** 2)
        cost.backward()
        optimizer.step()
        optimizer.zero_grad()

    epoch()
    start = time.perf_counter()
    for _ in range(epochs):
        epoch()
    return {"seconds_per_epoch": (time.perf_counter() - start) / epochs}


def child_memory(steps: int) -> dict:
    """Peak memory of a DCRNN run on a 207-sensor series of ``steps`` steps: data, model and two training steps."""
    signal = generate_gvar(207, steps)
    config = default_config("gvar", "dcrnn", epochs=1)
    trainer = ForecastTrainer(signal, config, seed=0)
    for starts in trainer.batches()[:2]:
        pred, _ = trainer.forward(starts, train=True)
        trainer.loss(pred, starts)[0].backward()
    return {"steps": steps, "windows": sum(trainer.splits.sizes().values()), "peak_mib": peak_mib(),
            "series_mib": signal.values.numel() * 4 * 3 / 2**20}  # the values, their scaled copy and features


def spawn(kind: str, timeout: float | None = None, **kwargs) -> dict:
    """Run one measurement in a fresh process (its peak memory is its own); one that runs past ``timeout`` seconds
    is recorded as such."""
    try:
        done = subprocess.run([sys.executable, __file__, "--child", json.dumps({"kind": kind, **kwargs})],
                              capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"unfinished_after_s": timeout}
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epoch", action="store_true")
    parser.add_argument("--chickenpox", action="store_true")
    parser.add_argument("--memory", action="store_true")
    parser.add_argument("--steps", type=int, default=3, help="timed training steps per measurement (--epoch)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed training steps before them (--epoch)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--sizes", nargs="+", choices=SIZES, default=list(SIZES), help="--epoch at these sizes")
    parser.add_argument("--child-timeout", type=float, default=None,
                        help="seconds after which an --epoch measurement is recorded as unfinished")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.child:
        spec = json.loads(args.child)
        kind = spec.pop("kind")
        print(json.dumps({"epoch": child_epoch, "chickenpox": child_chickenpox, "memory": child_memory}[kind](**spec)))
        return
    # a fresh file each run, so that its settings (the flags, for the tables' commands) are those of every section
    results = {"settings": {"threads": 1, "torch": torch.__version__, "load_avg_start": os.getloadavg(),
                            "argv": sys.argv[1:]}}
    if args.epoch:
        results["epoch"] = {}
        for size in args.sizes:
            row = {impl: spawn("epoch", args.child_timeout, impl=impl, size=size, steps=args.steps,
                               batch_size=args.batch_size, warmup=args.warmup) for impl in ("ours", "pygt")}
            if all("seconds_per_step" in row[impl] for impl in ("ours", "pygt")):
                row["time_ratio"] = row["ours"]["seconds_per_step"] / row["pygt"]["seconds_per_step"]
                row["memory_ratio"] = row["ours"]["peak_mib"] / row["pygt"]["peak_mib"]
            results["epoch"][size] = row
            print(size, json.dumps(row))
    if args.chickenpox:
        row = {impl: spawn("chickenpox", impl=impl, epochs=20) for impl in ("ours", "pygt")}
        row["time_ratio"] = row["ours"]["seconds_per_epoch"] / row["pygt"]["seconds_per_epoch"]
        results["chickenpox"] = row
        print("chickenpox", json.dumps(row))
    if args.memory:
        results["memory"] = [spawn("memory", steps=steps) for steps in (2000, 8000, 34272, 100000)]
        print("memory", json.dumps(results["memory"]))
    results["settings"]["load_avg_end"] = os.getloadavg()
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
