"""Our neighbour sampler and mini-batch GraphSAGE epoch against PyG's NeighborLoader, on Amazon-Photo and an R-MAT
graph of 1M nodes / 10M edges, one thread, alternating ours and PyG's in every round.

- Sampling, no model, on --batches batches of seed nodes (a seeded shuffle of all nodes, cut into full batches;
  Amazon-Photo at batch 64 and 1024, R-MAT at 1024): seqgraph's sampler (``sample_blocks`` over the store's CSR, as
  ``MiniBatchTrainer.train_epoch`` calls it) against PyG's ``NeighborLoader`` iterating the same batches. Beside
  that headline, two like-for-like pairs: our sampler plus the gathering of the batch's features and the seeds'
  labels (what the loader yields) against the loader, and our sampler against PyG's sampler alone
  (``NeighborSampler.sample_from_nodes``, which is ``torch_sparse.neighbor_sample``).
- A training epoch of GraphSAGE-mean (2 layers, --hidden 64, dropout 0.5 before each layer, ReLU between, Adam lr
  0.01 and weight decay 5e-4, mean cross-entropy over the seed nodes): ``MiniBatchTrainer.train_epoch`` against
  ``NeighborLoader`` + two ``torch_geometric.nn.SAGEConv`` with the same settings, fed the seed nodes in the order
  our epoch draws them (checked batch by batch before timing). The epochs run over the graph's training split at
  the first batch size (Amazon-Photo: Shchur's 160 nodes, batch 64, 3 steps; R-MAT: its 10,000 training nodes,
  batch 1024, 10 steps), as many whole epochs per round as make at least --steps steps.

Each round times ours, then PyG's, for every pair; the results hold every round's seconds, the ratio ours / PyG's
per round, their medians and the load average after each round. After the rounds, one round's epochs of each side
run again phase by phase (sampling, feature gathering, forward, backward, Adam), with each step's two dropout calls
repeated alone on tensors of the same shapes, and ``torch.profiler`` lists the operators of our sampler and of our
epoch (not PyG's: torch-sparse draws each random number with a one-element ``torch::randint``, tens of thousands
of calls per batch, which the profiler would record one by one for minutes).

The same fan-outs in the same order (``--fanouts 25 10``: 25 neighbours of each seed, 10 of each node at the next
hop; PyG's ``num_neighbors=[25, 10]``), without replacement on both sides (PyG's default), the same graph (PyG
receives our CSR's edges sorted by target, ``is_sorted=True``, so it samples the same in-neighbour lists) and the
same features in memory. What differs, unavoidably:

- Draws: ours hash (seed, step, hop, node); torch-sparse 0.6.18's Floyd's algorithm draws every number as a
  one-element ``torch::randint`` (torch's global generator), so the two pick different neighbours (as many).
- Hop 2: ours samples afresh every node reached so far (the seeds again too), PyG only the nodes new at hop 1,
  so ours draws slightly more edges (both counts are recorded).
- Relabelling: ours with ``torch.unique`` per hop, torch-sparse with a C++ hash map as it samples.
- The model: torch-sparse returns no per-hop counts, so PyG's SAGEConv cannot trim the subgraph per layer: both
  layers run on every sampled node and edge, where ours runs layer 1 on hop 2's block and layer 2 on the seeds'.
  PyG's SAGEConv averages the input features and then applies its linear map; ours maps, then averages.

PyG's NeighborLoader needs pyg-lib or torch-sparse. Neither has wheels for torch 2.13, but torch-sparse 0.6.18 builds
from source (about 26 minutes on 2 cores), into a virtual environment of its own, and the graph is generated if
--folder lacks it:

    python -m venv /work/bench/venv && /work/bench/venv/bin/pip install torch==2.13.0 torch_geometric==2.8.1
    MAX_JOBS=2 /work/bench/venv/bin/pip install --no-build-isolation torch-scatter==2.1.2 torch-sparse==0.6.18
    /work/bench/venv/bin/pip install -e .
    SEQGRAPH_DATA=/work/shared/data OMP_NUM_THREADS=1 /work/bench/venv/bin/python benchmarks/neighbor_loader.py \\
        --folder /tmp/rmat-1m --rounds 7

Writes benchmarks/results/neighbor_loader.json.
"""

import argparse
import json
import math
import os
import platform
import statistics
import time
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
import torch_geometric
import torch_sparse
from torch import nn
from torch_geometric.data import Data
from torch_geometric.loader import NeighborLoader
from torch_geometric.nn import SAGEConv
from torch_geometric.sampler import NeighborSampler, NodeSamplerInput

from seqgraph.datadir import data_dir
from seqgraph.graph.datasets.amazon import load_amazon_photo
from seqgraph.graph.datasets.synthetic import generate_rmat
from seqgraph.graph.scale import train as scale_train
from seqgraph.graph.scale.sampler import mix, sample_blocks
from seqgraph.graph.scale.storage import GraphStore, open_store
from seqgraph.graph.scale.train import MiniBatchTrainer, minibatch_config

PHASES = ("sample", "gather", "forward", "backward", "adam")
warnings.filterwarnings("ignore", message=".*pyg-lib.*")  # "without pyg-lib is deprecated": it is the point here


class PygSAGE(nn.Module):
    """LayerStack("sage")'s network from PyG's SAGEConv: dropout before each layer, ReLU between them."""

    def __init__(self, in_channels: int, hidden: int, out_channels: int, dropout: float):
        super().__init__()
        self.dropout = dropout
        self.convs = nn.ModuleList([SAGEConv(in_channels, hidden), SAGEConv(hidden, out_channels)])

    def forward(self, x, edge_index):
        for index, conv in enumerate(self.convs):
            x = conv(F.dropout(x, self.dropout, self.training), edge_index)
            x = x.relu() if index < len(self.convs) - 1 else x
        return x


class Bench:
    """One graph on both sides: our store and trainer, PyG's Data, sampler and model."""

    def __init__(self, store: GraphStore, args, batch_size: int):
        self.store, self.fanouts = store, args.fanouts
        self.config = minibatch_config("sage", hidden_size=args.hidden, batch_size=batch_size,
                                       fanouts=tuple(args.fanouts), eval_every=0)
        self.trainer = MiniBatchTrainer(store, self.config, seed=0)
        csr = store.csr
        target = torch.repeat_interleave(torch.arange(csr.num_nodes), csr.indptr[1:] - csr.indptr[:-1])
        self.data = Data(x=store.x, y=store.y, edge_index=torch.stack([csr.indices.long(), target]),
                         num_nodes=csr.num_nodes)
        self.sampler = NeighborSampler(self.data, list(args.fanouts), is_sorted=True)  # the CSC, built once
        self.model = PygSAGE(store.x.size(1), args.hidden, store.num_classes, self.config.dropout)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=self.config.lr,
                                          weight_decay=self.config.weight_decay)

    def loader(self, seeds: torch.Tensor, batch_size: int) -> NeighborLoader:
        return NeighborLoader(self.data, list(self.fanouts), input_nodes=seeds, batch_size=batch_size, shuffle=False,
                              neighbor_sampler=self.sampler)

    def epoch_order(self, ahead: int = 0) -> torch.Tensor:
        """The seed nodes of our trainer's epoch ``ahead`` epochs after its next, in the order of
        MiniBatchTrainer.train_epoch's shuffle."""
        generator = torch.Generator().manual_seed(mix(self.trainer.seed, self.trainer.epoch + ahead))
        return self.store.train_idx[torch.randperm(self.store.train_idx.numel(), generator=generator)]

    # sampling, no model, over the same batches
    def ours_sampler(self, batches):
        for step, seeds in enumerate(batches):
            sample_blocks(self.store.csr, seeds, self.fanouts, mix(0, step))

    def ours_sampler_gather(self, batches):
        for step, seeds in enumerate(batches):
            blocks = sample_blocks(self.store.csr, seeds, self.fanouts, mix(0, step))
            self.store.x.index_select(0, blocks.nodes), self.store.y[seeds]  # what the loader's batches hold

    def pyg_loader(self, batches):
        for _ in self.loader(torch.cat(batches), batches[0].numel()):
            pass

    def pyg_sampler(self, batches):
        for seeds in batches:
            self.sampler.sample_from_nodes(NodeSamplerInput(input_id=None, node=seeds))

    # whole epochs
    def ours_epochs(self, epochs: int):
        for _ in range(epochs):
            self.trainer.train_epoch()

    def pyg_epochs(self, orders: list[torch.Tensor]):
        self.model.train()
        for order in orders:
            for batch in self.loader(order, self.config.batch_size):
                self.pyg_step(batch)

    def pyg_step(self, batch):
        out = self.model(batch.x, batch.edge_index)[: batch.batch_size]
        loss = F.cross_entropy(out, batch.y[: batch.batch_size])
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()


def seed_batches(num_nodes: int, batch_size: int, count: int) -> list[torch.Tensor]:
    """``count`` batches of distinct seed nodes: seeded shuffles of all nodes, each cut into full batches."""
    generator, batches = torch.Generator().manual_seed(1), []
    while len(batches) < count:
        order = torch.randperm(num_nodes, generator=generator)
        batches += list(order[: order.numel() // batch_size * batch_size].split(batch_size))
    return batches[:count]


def check_same_seeds(bench: Bench) -> None:
    """Run one epoch of ours, recording the seeds it samples, and check the loader yields the same batches."""
    order, seen = bench.epoch_order(), []

    def recording(csr, seeds, fanouts, key):
        seen.append(seeds.clone())
        return sample_blocks(csr, seeds, fanouts, key)
    scale_train.sample_blocks = recording
    try:
        bench.trainer.train_epoch()
    finally:
        scale_train.sample_blocks = sample_blocks
    theirs = [batch.n_id[: batch.batch_size] for batch in bench.loader(order, bench.config.batch_size)]
    assert len(seen) == len(theirs) and all(torch.equal(a, b) for a, b in zip(seen, theirs, strict=True))


def sampled_sizes(bench: Bench, batches) -> dict:
    """Mean nodes and edges per batch that each sampler returns."""
    ours = [sample_blocks(bench.store.csr, seeds, bench.fanouts, mix(0, step)) for step, seeds in enumerate(batches)]
    theirs = [bench.sampler.sample_from_nodes(NodeSamplerInput(input_id=None, node=seeds)) for seeds in batches]
    return {"ours": {"nodes": statistics.mean(b.nodes.numel() for b in ours),
                     "edges": statistics.mean(sum(e.size(1) for e in b.edges) for b in ours)},
            "pyg": {"nodes": statistics.mean(o.node.numel() for o in theirs),
                    "edges": statistics.mean(o.row.numel() for o in theirs)}}


def clock(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def phases(bench: Bench, orders: list[torch.Tensor]) -> dict:
    """Seconds per phase of the epochs of ``orders`` on each side, the steps written out (ours as
    MiniBatchTrainer.train_epoch), and the seconds their dropout calls take when repeated alone on tensors of the same
    shapes (part of forward)."""
    store, config, trainer, parts = bench.store, bench.config, bench.trainer, {"ours": {}, "pyg": {}}

    def add(side, seconds):
        for name, value in zip(PHASES, seconds, strict=True):
            parts[side][name] = parts[side].get(name, 0.0) + value

    def masks(side, x, hidden_rows):
        """The step's two dropout calls again, alone: on the input features and on the hidden rows layer 2 reads."""
        start = time.perf_counter()
        F.dropout(x, config.dropout, True), F.dropout(x.new_ones(hidden_rows, config.hidden_size), config.dropout, True)
        dropout[side] += time.perf_counter() - start
    dropout = {"ours": 0.0, "pyg": 0.0}
    trainer.model.train()
    for epoch, order in enumerate(orders):
        for step, seeds in enumerate(order.split(config.batch_size)):
            t0 = time.perf_counter()
            blocks = sample_blocks(store.csr, seeds, config.fanouts, mix(trainer.seed, epoch, step))
            t1 = time.perf_counter()
            x, y, deg = store.x.index_select(0, blocks.nodes), store.y[seeds], trainer.degree[blocks.nodes]
            t2 = time.perf_counter()
            loss = F.cross_entropy(trainer.model(x, blocks, deg), y, reduction="sum") / seeds.numel()
            t3 = time.perf_counter()
            trainer.optimizer.zero_grad()
            loss.backward()
            t4 = time.perf_counter()
            trainer.optimizer.step()
            t5 = time.perf_counter()
            add("ours", (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4))
            masks("ours", x, blocks.sizes[1])
    bench.model.train()
    for order in orders:
        loader = bench.loader(order, config.batch_size)
        for index in torch.arange(order.numel()).split(config.batch_size):
            t0 = time.perf_counter()
            out = loader.node_sampler.sample_from_nodes(loader.input_data[index])  # the loader's collate_fn ...
            t1 = time.perf_counter()
            batch = loader.filter_fn(out)  # ... and its filter_fn, as iterating the loader calls them
            t2 = time.perf_counter()
            out = bench.model(batch.x, batch.edge_index)[: batch.batch_size]
            loss = F.cross_entropy(out, batch.y[: batch.batch_size])
            t3 = time.perf_counter()
            bench.optimizer.zero_grad()
            loss.backward()
            t4 = time.perf_counter()
            bench.optimizer.step()
            t5 = time.perf_counter()
            add("pyg", (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4))
            masks("pyg", batch.x, batch.num_nodes)
    return {side: {**p, "total": sum(p.values()), "dropout_alone": dropout[side]} for side, p in parts.items()}


def op_profile(fn, *args, top: int = 10) -> dict:
    """``fn(*args)`` under torch.profiler: its operator calls and the ``top`` operators by self CPU time, each with
    its share of the total (the profiler's own cost per call inflates code that makes many small calls)."""
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        fn(*args)
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events)
    return {"operator_calls": sum(e.count for e in events if e.key.startswith(("aten::", "torch_sparse::"))),
            "top": [{"op": e.key, "calls": e.count, "self_share": e.self_cpu_time_total / total} for e in events[:top]]}


def summary(ours: list[float], pyg: list[float]) -> dict:
    ratios = [a / b for a, b in zip(ours, pyg, strict=True)]
    return {"ours": ours, "pyg": pyg, "ratio_rounds": ratios, "ratio_median": statistics.median(ratios),
            "median_seconds": {"ours": statistics.median(ours), "pyg": statistics.median(pyg)}}


def load_store(name: str, args) -> GraphStore:
    if name == "photo":
        return GraphStore.from_graph(load_amazon_photo(data_dir(), split_seed=0))
    if not (Path(args.folder) / "x.npy").exists():
        generate_rmat(args.folder, args.nodes, args.edges, seed=0)
    return open_store(args.folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--graphs", nargs="+", default=["photo", "rmat"], choices=["photo", "rmat"])
    parser.add_argument("--folder", default="/tmp/rmat-1m", help="the R-MAT graph (generated there if absent)")
    parser.add_argument("--nodes", type=int, default=1_000_000, help="R-MAT nodes, if generated")
    parser.add_argument("--edges", type=int, default=10_000_000, help="R-MAT edges, if generated")
    parser.add_argument("--photo-batch-sizes", type=int, nargs="+", default=[64, 1024],
                        help="sampling; the epoch runs at the first")
    parser.add_argument("--rmat-batch-sizes", type=int, nargs="+", default=[1024],
                        help="sampling; the epoch runs at the first")
    parser.add_argument("--fanouts", type=int, nargs="+", default=[25, 10])
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--batches", type=int, default=30, help="sampling batches per round")
    parser.add_argument("--steps", type=int, default=30, help="at least this many training steps per round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "neighbor_loader.json"))
    args = parser.parse_args()
    if args.rounds < 1 or args.batches < 1 or args.steps < 1:
        parser.error("--rounds, --batches and --steps have to be at least 1")
    torch.set_num_threads(args.threads)
    result = {"settings": {**{k: v for k, v in vars(args).items() if k != "out"}, "model": "GraphSAGE-mean",
                           "targets": {"sampling": 0.25, "epoch": 0.5}},
              "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__,
                          "torch_geometric": torch_geometric.__version__, "torch_sparse": torch_sparse.__version__,
                          "load_avg_start": os.getloadavg()}, "graphs": {}}
    benches = {}
    for name in args.graphs:
        store = load_store(name, args)
        sizes = args.photo_batch_sizes if name == "photo" else args.rmat_batch_sizes
        bench = Bench(store, args, sizes[0])
        check_same_seeds(bench)
        steps_per_epoch = math.ceil(store.train_idx.numel() / sizes[0])
        batches = {b: seed_batches(store.num_nodes, b, args.batches) for b in sizes}
        benches[name] = bench, batches, math.ceil(args.steps / steps_per_epoch)
        result["graphs"][name] = {"nodes": store.num_nodes, "edges": store.csr.num_edges, "features": store.x.size(1),
                                  "classes": store.num_classes, "train_nodes": store.train_idx.numel(),
                                  "epoch_batch_size": sizes[0], "steps_per_epoch": steps_per_epoch,
                                  "epochs_per_round": benches[name][2],
                                  "sampled_per_batch": {str(b): sampled_sizes(bench, s) for b, s in batches.items()}}
        for s in batches.values():  # warm up every path once (page cache, allocator, lazy imports)
            for fn in (bench.ours_sampler, bench.pyg_loader, bench.ours_sampler_gather, bench.pyg_sampler):
                fn(s[:3])
        bench.pyg_epochs([bench.epoch_order()])
    times = {}
    loads = []
    for round_ in range(args.rounds):
        for name, (bench, batches, epochs) in benches.items():
            for b, s in batches.items():
                for fn in (bench.ours_sampler, bench.pyg_loader, bench.ours_sampler_gather, bench.pyg_sampler):
                    times.setdefault((name, str(b), fn.__name__), []).append(clock(fn, s))
            orders = [bench.epoch_order(ahead) for ahead in range(epochs)]  # the seeds of ours' epochs to come
            times.setdefault((name, "epoch", "ours"), []).append(clock(bench.ours_epochs, epochs))
            times.setdefault((name, "epoch", "pyg"), []).append(clock(bench.pyg_epochs, orders))
        loads.append(os.getloadavg())
        print(f"round {round_ + 1}: load {loads[-1][0]:.1f}; " + ", ".join(
            f"{'/'.join(k)} {v[-1]:.3f}" for k, v in times.items()), flush=True)
    for name, (bench, batches, epochs) in benches.items():
        g = result["graphs"][name]
        g["sampling"] = {b: {"sampler_vs_loader": summary(times[name, b, "ours_sampler"], times[name, b, "pyg_loader"]),
                             "sampler_gather_vs_loader": summary(times[name, b, "ours_sampler_gather"],
                                                                 times[name, b, "pyg_loader"]),
                             "sampler_vs_sampler": summary(times[name, b, "ours_sampler"],
                                                           times[name, b, "pyg_sampler"])}
                         for b in map(str, batches)}
        g["epoch"] = summary(times[name, "epoch", "ours"], times[name, "epoch", "pyg"])
        targets = result["settings"]["targets"]
        g["targets_met"] = {"epoch": g["epoch"]["ratio_median"] <= targets["epoch"],
                            **{f"sampling/{b}/{key}": pair["ratio_median"] <= targets["sampling"]
                               for b, pairs in g["sampling"].items() for key, pair in pairs.items()}}
        g["phases"] = phases(bench, [bench.epoch_order(ahead) for ahead in range(epochs)])
        # ours only: torch-sparse makes a call per random draw, which the profiler would record one by one
        g["profile"] = {"sampling": {b: op_profile(bench.ours_sampler, s) for b, s in batches.items()},
                        "epoch": op_profile(bench.ours_epochs, 1)}
    result["load_avg_rounds"] = loads
    result["machine"]["load_avg_end"] = os.getloadavg()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
