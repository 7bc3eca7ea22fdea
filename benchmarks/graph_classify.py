"""One GIN training epoch on PROTEINS and NCI1, batching included: ours vs PyTorch Geometric's, in the same run.

Both train the same network (GIN-0 of Xu et al. 2019 with its paper's defaults: 5 layers counting the input
layer, 2-layer MLPs with batch norm, hidden 64, a sum readout of every layer concatenated, dropout 0.5, Adam
lr 0.01) for one pass over the whole dataset in shuffled mini-batches of 128 graphs:

- ours: ``seqgraph.graph.level.batch.minibatches`` over the TU dataset from ``seqgraph.graph.datasets.tu`` (gathers
  over the concatenated arrays) and ``seqgraph.graph.level.models.GraphClassifier``;
- PyG: ``torch_geometric.loader.DataLoader`` over its ``TUDataset`` (collated graph by graph with
  ``Batch.from_data_list``) and the same network built from ``torch_geometric.nn.GINConv`` and ``global_add_pool``.

Epochs alternate between the two in rounds (ours, PyG, ours, PyG, ...), so load from other processes hits both
alike; the medians are reported. "batching" is the median time of one epoch's worth of batches alone (no model),
measured the same way, and its share of the epoch. The load average is recorded before and after. One more epoch
of each is profiled: the self time of the dense kernels (linear layers, batch norm, ReLU, Adam), which both run
alike, divided by PyG's epoch is the floor of the ratio (``floor_ratio``): the ratio no implementation of this
network reaches without faster dense kernels than torch's. Whether faster ones could exist: the rate (GFLOP/s) of
a linear layer's three products at a batch's size (forward, gradient of the input, gradient of the weight), as a
share of the rate of a large square product on the same thread (``gemm``).

    python benchmarks/graph_classify.py [--rounds 7] [--threads 1]

Writes benchmarks/results/graph_classify.json. Target: epoch time ratio ours/PyG <= 0.5.
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
import torch_geometric
from torch import nn
from torch_geometric import nn as pyg_nn
from torch_geometric.datasets import TUDataset
from torch_geometric.loader import DataLoader

from seqgraph.allocator import keep_freed_memory
from seqgraph.datadir import data_dir
from seqgraph.graph.datasets.tu import NAMES, load_tu
from seqgraph.graph.level.batch import minibatches
from seqgraph.graph.level.models import GraphClassifier, mlp

HIDDEN, LAYERS, BATCH = 64, 5, 128


class PygGIN(nn.Module):
    """The same GIN-0 from PyG's layers."""

    def __init__(self, in_channels, num_classes):
        super().__init__()
        widths = [in_channels] + [HIDDEN] * (LAYERS - 1)
        self.convs = nn.ModuleList(pyg_nn.GINConv(mlp(a, HIDDEN, b))
                                   for a, b in zip(widths[:-1], widths[1:], strict=True))
        self.norms = nn.ModuleList(nn.BatchNorm1d(b) for b in widths[1:])
        self.dropout = nn.Dropout(0.5)
        self.lin = nn.Linear(sum(widths), num_classes)

    def forward(self, x, edge_index, batch, num_graphs):
        pooled = [pyg_nn.global_add_pool(x, batch, num_graphs)]
        for conv, norm in zip(self.convs, self.norms, strict=True):
            x = norm(conv(x, edge_index)).relu()
            pooled.append(pyg_nn.global_add_pool(x, batch, num_graphs))
        return self.lin(self.dropout(torch.cat(pooled, dim=-1)))


def train_epoch(model, optimizer, batches) -> None:
    model.train()
    for x, edge_index, batch, num_graphs, y in batches:
        optimizer.zero_grad()
        F.cross_entropy(model(x, edge_index, batch, num_graphs), y).backward()
        optimizer.step()


def our_batches(dataset, generator):
    for b in minibatches(dataset, torch.arange(len(dataset)), BATCH, generator):
        yield b.graph.x, b.adjacency, b.batch, b.num_graphs, b.y


def pyg_batches(loader):
    for b in loader:
        yield b.x, b.edge_index, b.batch, b.num_graphs, b.y


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# torch's own kernels of the dense layers, batch norms, ReLUs and Adam: PyG's GINConv sums neighbours with
# index_select/scatter_add/gather, so in its profile "mm" is the linear layers' backward alone
DENSE = {"aten::addmm", "aten::mm", "aten::native_batch_norm", "aten::native_batch_norm_backward",
         "aten::threshold_backward", "aten::clamp_min"}


def dense_seconds(model, optimizer, batches) -> dict:
    """Self CPU time of one profiled epoch in the dense kernels (:data:`DENSE` and Adam's ``_foreach`` ops), which
    any implementation of this network runs alike, and the twelve costliest operators' shares."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        train_epoch(model, optimizer, batches)
    events = [e for e in prof.key_averages() if e.key.startswith("aten::")]
    total = sum(e.self_cpu_time_total for e in events)
    dense = sum(e.self_cpu_time_total for e in events if e.key in DENSE or e.key.startswith("aten::_foreach"))
    top = sorted(events, key=lambda e: -e.self_cpu_time_total)[:12]
    return {"dense_s": dense / 1e6, "aten_self_s": total / 1e6,
            "top_shares": {e.key: round(e.self_cpu_time_total / total, 4) for e in top}}


def gemm_rates(rows: int, repeats: int = 50) -> dict:
    """GFLOP/s of the three products of a ``HIDDEN -> HIDDEN`` linear layer over ``rows`` nodes, and of a 1024 x 1024
    square product: the rate torch's GEMM reaches on this thread when the shape is no limit."""
    x, grad, weight = torch.randn(rows, HIDDEN), torch.randn(rows, HIDDEN), torch.randn(HIDDEN, HIDDEN)
    square = torch.randn(1024, 1024)
    products = {"forward": (lambda: x @ weight.t(), rows), "input_grad": (lambda: grad @ weight, rows),
                "weight_grad": (lambda: grad.t() @ x, rows), "square_1024": (lambda: square @ square, None)}
    rates = {}
    for name, (product, n) in products.items():
        flops = 2 * (n * HIDDEN * HIDDEN if n else 1024**3)
        product()
        rates[name] = flops / min(timed(product) for _ in range(repeats)) / 1e9
    layer = [rates[k] for k in ("forward", "input_grad", "weight_grad")]
    layer_rate = 3 / sum(1 / r for r in layer)  # the three products' combined rate
    return {"rows": rows, "gflops": rates, "linear_share_of_square": layer_rate / rates["square_1024"]}


def measure(name: str, rounds: int, workdir: Path) -> dict:
    ours_data = load_tu(name, data_dir())
    shutil.copytree(data_dir() / "tu" / NAMES[name], workdir / NAMES[name] / "raw")
    pyg_data = TUDataset(str(workdir), NAMES[name], use_node_attr=True)
    assert pyg_data.num_features == ours_data.num_features and len(pyg_data) == len(ours_data)
    torch.manual_seed(0)
    models = {"ours": GraphClassifier(ours_data.num_features, ours_data.num_classes, HIDDEN, LAYERS),
              "pyg": PygGIN(pyg_data.num_features, pyg_data.num_classes)}
    optimizers = {impl: torch.optim.Adam(m.parameters(), lr=0.01) for impl, m in models.items()}
    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)  # PyG's DataLoader shuffles with torch's global generator
    loader = DataLoader(pyg_data, batch_size=BATCH, shuffle=True)
    batches = {"ours": lambda: our_batches(ours_data, generator), "pyg": lambda: pyg_batches(loader)}
    for impl in models:  # warm-up
        train_epoch(models[impl], optimizers[impl], batches[impl]())
    samples = {impl: {"epoch": [], "batching": []} for impl in models}
    for _ in range(rounds):
        for impl in models:
            samples[impl]["epoch"].append(timed(lambda i=impl: train_epoch(models[i], optimizers[i], batches[i]())))
            samples[impl]["batching"].append(timed(lambda i=impl: [None for _ in batches[i]()]))
    result = {"graphs": len(ours_data), "batches_per_epoch": -(-len(ours_data) // BATCH),
              "profile": {impl: dense_seconds(models[impl], optimizers[impl], batches[impl]()) for impl in models}}
    for impl, s in samples.items():
        epoch, batching = statistics.median(s["epoch"]), statistics.median(s["batching"])
        result[impl] = {"epoch_s": epoch, "batching_s": batching, "batching_share": batching / epoch,
                        "epoch_samples_s": s["epoch"]}
    result["epoch_ratio"] = result["ours"]["epoch_s"] / result["pyg"]["epoch_s"]
    result["batching_ratio"] = result["ours"]["batching_s"] / result["pyg"]["batching_s"]
    # no implementation of this network gets below the dense kernels' time: the least epoch ratio possible
    result["floor_ratio"] = result["profile"]["pyg"]["dense_s"] / result["pyg"]["epoch_s"]
    # ... and torch's products run these shapes at (nearly) the rate they reach on any shape
    result["gemm"] = gemm_rates(ours_data.x.size(0) // result["batches_per_epoch"])
    ours, pyg = result["ours"], result["pyg"]
    print(f"{name}: ours {ours['epoch_s']:.3f} s/epoch (batching {100 * ours['batching_share']:.0f}%), "
          f"PyG {pyg['epoch_s']:.3f} s/epoch (batching {100 * pyg['batching_share']:.0f}%), "
          f"ratio {result['epoch_ratio']:.3f} (floor: PyG's dense kernels alone, {result['floor_ratio']:.2f}; "
          f"the linear layers' products at {100 * result['gemm']['linear_share_of_square']:.0f}% of a square "
          "product's rate)",
          flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7, help="alternating rounds per dataset (default: 7)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default: 1)")
    parser.add_argument("--datasets", nargs="+", default=["proteins", "nci1"], help="(default: proteins nci1)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "graph_classify.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    kept = keep_freed_memory()  # as the command line does; both implementations run in this process
    results = {"machine": {"platform": platform.platform(), "threads": args.threads, "torch": torch.__version__,
                           "torch_geometric": torch_geometric.__version__, "keep_freed_memory": kept},
               "config": {"hidden": HIDDEN, "layers": LAYERS, "batch_size": BATCH, "rounds": args.rounds},
               "load_average_before": os.getloadavg()}
    with tempfile.TemporaryDirectory() as workdir:
        results["epoch"] = {name: measure(name, args.rounds, Path(workdir)) for name in args.datasets}
    results["load_average_after"] = os.getloadavg()
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
