"""Our GCN/GAT vs PyTorch Geometric's, in the same run.

1. Cora: median seconds per training epoch (one full-batch Adam step) and per evaluation pass, for the models
   of PyG's examples/gcn.py and gat.py (dense row-normalised features, ``F.dropout`` on them, ``GCNConv(cached=True)``)
   and ours (seqgraph.graph.node.train: the same models, with features kept sparse and dropout on their non-zeros).
   Measurements alternate between the two in rounds, so load from other processes hits both alike.
2. Random graphs (uniform random directed edges) with 64 features: forward + backward of a 2-layer GCN
   (64 -> 64 -> 64, ReLU, loss = sum of the outputs), normalisation recomputed each pass (``cached=False``) in both.
   Each (implementation, size) runs in its own subprocess, which reports the median time and its peak memory:
   the growth of ru_maxrss (peak resident set) over the level reached once the inputs were built.

    python benchmarks/graph.py [--threads 1] [--sizes 100000:1000000 1000000:10000000]

Writes benchmarks/results/graph.json. Targets: Cora epoch time ratio ours/PyG <= 0.5 (stretch 0.2); random graphs
time ratio <= 1.0 and peak memory <= 1.2x PyG's.
"""

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
import torch_geometric
from torch import nn
from torch_geometric import nn as pyg_nn

from seqgraph.datadir import data_dir
from seqgraph.graph.conv.gcn import GCNConv
from seqgraph.graph.data import to_csr
from seqgraph.graph.datasets.planetoid import load_planetoid
from seqgraph.graph.node.models import LayerStack
from seqgraph.graph.node.train import test as evaluate
from seqgraph.graph.node.train import train as train_step

FEATURES = 64


class PygGCN(nn.Module):
    """PyG examples/gcn.py."""

    def __init__(self, in_channels, hidden, out_channels):
        super().__init__()
        self.conv1 = pyg_nn.GCNConv(in_channels, hidden, cached=True)
        self.conv2 = pyg_nn.GCNConv(hidden, out_channels, cached=True)

    def forward(self, x, edge_index):
        x = F.dropout(x, p=0.5, training=self.training)
        x = self.conv1(x, edge_index).relu()
        x = F.dropout(x, p=0.5, training=self.training)
        return self.conv2(x, edge_index)

    def param_groups(self, weight_decay):
        return [{"params": self.conv1.parameters(), "weight_decay": weight_decay},
                {"params": self.conv2.parameters(), "weight_decay": 0.0}]


class PygGAT(nn.Module):
    """PyG examples/gat.py."""

    def __init__(self, in_channels, hidden, out_channels, heads):
        super().__init__()
        self.conv1 = pyg_nn.GATConv(in_channels, hidden, heads, dropout=0.6)
        self.conv2 = pyg_nn.GATConv(hidden * heads, out_channels, heads=1, concat=False, dropout=0.6)

    def forward(self, x, edge_index):
        x = F.dropout(x, p=0.6, training=self.training)
        x = F.elu(self.conv1(x, edge_index))
        x = F.dropout(x, p=0.6, training=self.training)
        return self.conv2(x, edge_index)

    def param_groups(self, weight_decay):
        return [{"params": self.parameters(), "weight_decay": weight_decay}]


def median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def cora_epochs(rounds: int, steps: int) -> dict:
    graph = load_planetoid("cora", data_dir())
    classes = int(graph.y.max()) + 1
    models = {
        "gcn": {"ours": (LayerStack("gcn", 1433, 16, classes, dropout=0.5, cached=True), 0.01),
                "pyg": (PygGCN(1433, 16, classes), 0.01)},
        "gat": {"ours": (LayerStack("gat", 1433, 8, classes, dropout=0.6, heads=8), 0.005),
                "pyg": (PygGAT(1433, 8, classes, 8), 0.005)},
    }
    inputs = {"ours": to_csr(graph.x), "pyg": graph.x}
    results = {}
    for name, pair in models.items():
        samples = {impl: {"train": [], "eval": []} for impl in pair}
        optimizers = {impl: torch.optim.Adam(m.param_groups(5e-4), lr=lr) for impl, (m, lr) in pair.items()}
        for impl, (model, _) in pair.items():  # warm-up: first calls build caches and load kernels
            for _ in range(3):
                train_step(model, optimizers[impl], inputs[impl], graph)
        for _ in range(rounds):
            for impl, (model, _) in pair.items():
                x, opt = inputs[impl], optimizers[impl]
                samples[impl]["train"].append(median_seconds(lambda m=model, x=x, o=opt: train_step(m, o, x, graph),
                                                             steps))
                samples[impl]["eval"].append(median_seconds(lambda m=model, x=x: evaluate(m, x, graph), steps))
        result = {impl: {f"{kind}_ms": 1e3 * statistics.median(s[kind]) for kind in ("train", "eval")}
                  for impl, s in samples.items()}
        result["train_ratio"] = result["ours"]["train_ms"] / result["pyg"]["train_ms"]
        result["eval_ratio"] = result["ours"]["eval_ms"] / result["pyg"]["eval_ms"]
        results[name] = result
        print(f"cora {name}: ours {result['ours']['train_ms']:.1f} ms/epoch, PyG {result['pyg']['train_ms']:.1f} "
              f"ms/epoch, ratio {result['train_ratio']:.3f} (eval ratio {result['eval_ratio']:.3f})", flush=True)
    return results


def child(impl: str, nodes: int, edges: int, repeats: int, threads: int) -> None:
    """One (implementation, size) measurement; prints JSON on stdout."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    edge_index = torch.randint(nodes, (2, edges))
    x = torch.randn(nodes, FEATURES)
    conv = GCNConv if impl == "ours" else pyg_nn.GCNConv
    conv1, conv2 = conv(FEATURES, FEATURES), conv(FEATURES, FEATURES)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux

    def step():
        conv2(conv1(x, edge_index).relu(), edge_index).sum().backward()

    seconds = median_seconds(step, repeats)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "peak_mib": (peak - base) / 1024, "baseline_mib": base / 1024}))


def random_graphs(sizes: list[tuple[int, int]], threads: int) -> list[dict]:
    results = []
    for nodes, edges in sizes:
        repeats = 5 if edges <= 2_000_000 else 3
        row = {"nodes": nodes, "edges": edges, "features": FEATURES, "repeats": repeats}
        for impl in ("ours", "pyg"):
            out = subprocess.run([sys.executable, __file__, "--child", impl, str(nodes), str(edges), str(repeats),
                                  "--threads", str(threads)], capture_output=True, text=True)
            if out.returncode != 0:
                raise RuntimeError(f"{impl} {nodes}/{edges} failed: {out.stderr[-2000:]}")
            row[impl] = json.loads(out.stdout.strip().splitlines()[-1])
        row["time_ratio"] = row["ours"]["seconds"] / row["pyg"]["seconds"]
        ours, pyg = row["ours"], row["pyg"]
        # a graph so small that neither grows the peak has no memory ratio
        row["memory_ratio"] = ours["peak_mib"] / pyg["peak_mib"] if pyg["peak_mib"] > 0 else None
        results.append(row)
        print(f"random graph {nodes} nodes / {edges} edges: ours {ours['seconds']:.2f} s, {ours['peak_mib']:.0f} MiB; "
              f"PyG {pyg['seconds']:.2f} s, {pyg['peak_mib']:.0f} MiB; time ratio {row['time_ratio']:.3f}, "
              f"memory ratio {row['memory_ratio']}", flush=True)
    return results


def size(text: str) -> tuple[int, int]:
    nodes, edges = text.split(":")
    return int(nodes), int(edges)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads for every measurement (default: 1)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds on Cora (default: 5)")
    parser.add_argument("--steps", type=int, default=20, help="epochs per round on Cora (default: 20)")
    parser.add_argument("--sizes", type=size, nargs="*", default=[(100_000, 1_000_000), (1_000_000, 10_000_000)],
                        help="random graphs as NODES:EDGES (default: 100000:1000000 1000000:10000000)")
    parser.add_argument("--child", nargs=4, metavar=("IMPL", "NODES", "EDGES", "REPEATS"), help=argparse.SUPPRESS)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "graph.json"))
    args = parser.parse_args()
    if args.child:
        impl, nodes, edges, repeats = args.child
        child(impl, int(nodes), int(edges), int(repeats), args.threads)
        return
    torch.set_num_threads(args.threads)
    results = {
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "threads": args.threads,
                    "torch": torch.__version__, "torch_geometric": torch_geometric.__version__,
                    "load_avg_start": os.getloadavg()},
        "cora_epoch": cora_epochs(args.rounds, args.steps),
        "random_graph_gcn_forward_backward": random_graphs(args.sizes, args.threads),
    }
    results["machine"]["load_avg_end"] = os.getloadavg()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
