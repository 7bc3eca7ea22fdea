"""Mini-batch GraphSAGE on a synthetic R-MAT graph that full-batch training cannot hold in memory.

Phases, each in its own process(es) so that each reports its own peak resident memory (ru_maxrss, which counts
the pages of the memory-mapped files that the process touched):

1. generate  the graph (seqgraph.graph.datasets.synthetic.generate_rmat) into --folder, unless it is there;
2. train     one epoch of GraphSAGE-mean over the training nodes with 1 process, then with 2 (torchrun, gloo),
             alternating for --rounds rounds: seed nodes per second (median epoch); the 1-process runs also time
             sampling / feature gathering / compute on --probe batches, and measure in the same process the memory
             bandwidth (STREAM-style copy of a 512 MiB tensor into one allocated beforehand, bytes read + written)
             and the feature-gathering bandwidth (x.index_select on the batches' nodes from the memory-mapped
             features, bytes read + written, page cache warm; as training does it, into new memory, and into
             memory allocated beforehand as the copy);
3. infer     exact layer-wise inference over every node with the trained model (1 process): time, peak memory
             and accuracy.

    OMP_NUM_THREADS=1 python benchmarks/graph_scale.py --nodes 10000000 --edges 100000000 --folder /tmp/rmat-10m

``--propagate`` instead times GCN's sparse product A h two ways, alternating, on a uniform random graph of --nodes
and --edges with --features columns: a gather of the messages + ``index_add_`` (GCNConv's former kernel) and
sorting the edges into CSR + ``torch.sparse.mm`` (its kernel now, seqgraph.graph.sparse.propagate).

``--gather-bound`` instead asks how close any arrangement of the feature gather comes to the copy bandwidth, on
the graph in --folder and the probe's batches (batch size --batch-size and 3x): ``index_select`` of the batches'
rows in the sampler's order (as training gathers them) and sorted by id, from the memory-mapped file and from a
copy in anonymous memory with transparent huge pages (``madvise(MADV_HUGEPAGE)``), on 1 and 2 threads, each
against the copy bandwidth on as many threads; medians of 5 rounds (each round's share kept), with the huge-page
mappings in effect (``/proc/self/smaps_rollup``: ``FilePmdMapped``, ``AnonHugePages``).

Writes benchmarks/results/graph_scale.json (one entry per graph size, kept across runs).
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

from seqgraph import distributed
from seqgraph.allocator import keep_freed_memory
from seqgraph.graph.datasets.synthetic import generate_rmat
from seqgraph.graph.scale.layerwise import layerwise_inference
from seqgraph.graph.scale.sampler import mix, sample_blocks
from seqgraph.graph.scale.storage import open_store
from seqgraph.graph.scale.train import MiniBatchTrainer, minibatch_config
from seqgraph.graph.sparse import propagate

GIB = 1 << 30


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GIB  # ru_maxrss is in KiB on Linux


def config(args):
    return minibatch_config("sage", hidden_size=args.hidden, epochs=1, batch_size=args.batch_size,
                            fanouts=tuple(args.fanouts), eval_every=0, dropout=0.5)


def copy_bandwidth(size: int = 512 << 20, repeats: int = 5) -> float:
    """GB/s of a tensor copy, counting the bytes read and written (STREAM's convention for Copy)."""
    src = torch.ones(size // 4)
    dst = torch.empty_like(src)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        dst.copy_(src)
        times.append(time.perf_counter() - start)
    return 2 * size / min(times) / 1e9


def probe_seeds(store, batch_size: int, batches: int) -> list[torch.Tensor]:
    """The seed nodes of the probed batches: a fixed shuffle of the training nodes, cut into ``batches`` batches (the
    sampler's key for batch ``step`` is ``mix(99, step)``)."""
    order = torch.randperm(store.train_idx.numel(), generator=torch.Generator().manual_seed(1))
    return [store.train_idx[order[step * batch_size: (step + 1) * batch_size]] for step in range(batches)]


def probe(trainer: MiniBatchTrainer, batches: int) -> dict:
    """Time sampling, feature gathering and the training step apart on the first ``batches`` batches."""
    store, cfg = trainer.store, trainer.config
    parts = {"sample": 0.0, "gather": 0.0, "step": 0.0}
    gathered, into_buffer = 0, 0.0
    buffer = torch.empty(0)
    for step, seeds in enumerate(probe_seeds(store, cfg.batch_size, batches)):
        t0 = time.perf_counter()
        blocks = sample_blocks(store.csr, seeds, cfg.fanouts, mix(99, step))
        t1 = time.perf_counter()
        x = store.x.index_select(0, blocks.nodes)
        t2 = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(trainer.model(x, blocks), store.y[seeds])
        trainer.optimizer.zero_grad()
        loss.backward()
        t3 = time.perf_counter()
        parts["sample"] += t1 - t0
        parts["gather"] += t2 - t1
        parts["step"] += t3 - t2
        gathered += x.numel() * x.element_size()
        # the same rows into memory allocated beforehand, as the copy bandwidth is measured
        if buffer.numel() < x.numel():
            buffer = torch.zeros(x.shape)
        t4 = time.perf_counter()
        torch.index_select(store.x, 0, blocks.nodes, out=buffer[: x.size(0)])
        into_buffer += time.perf_counter() - t4
    total = sum(parts.values())
    return {"batches": batches, **{f"{k}_fraction": v / total for k, v in parts.items()},
            "gather_gb_per_s": 2 * gathered / parts["gather"] / 1e9,
            "gather_into_buffer_gb_per_s": 2 * gathered / into_buffer / 1e9, "gathered_gib": gathered / GIB}


def child_train(args) -> None:
    torch.set_num_threads(1)
    kept = keep_freed_memory()  # as the command line does
    with distributed.session(torch.device("cpu")):
        store = open_store(args.folder)
        trainer = MiniBatchTrainer(store, config(args), seed=0)
        distributed.barrier()
        start = time.perf_counter()
        loss = trainer.train_epoch()
        seconds = time.perf_counter() - start
        out = {"processes": distributed.world_size(), "keep_freed_memory": kept, "seeds": store.train_idx.numel(),
               "seconds": seconds,
               "seed_nodes_per_s": store.train_idx.numel() / seconds, "train_loss": loss}
        out["peak_rss_gib"] = peak_rss_gib()  # before the probes' own allocations
        if distributed.world_size() == 1:
            torch.save(trainer.model.state_dict(), Path(args.folder) / "model.pt")
            out["probe"] = probe(trainer, args.probe)
            out["copy_gb_per_s"] = copy_bandwidth()
            out["gather_fraction_of_copy_bandwidth"] = out["probe"]["gather_gb_per_s"] / out["copy_gb_per_s"]
            out["gather_into_buffer_fraction_of_copy_bandwidth"] = \
                out["probe"]["gather_into_buffer_gb_per_s"] / out["copy_gb_per_s"]
        for rank_out in distributed.gather(out):
            if distributed.is_main():
                print(json.dumps(rank_out), flush=True)


def child_infer(args) -> None:
    torch.set_num_threads(1)
    keep_freed_memory()
    store = open_store(args.folder)
    trainer = MiniBatchTrainer(store, config(args), seed=0)
    trainer.model.load_state_dict(torch.load(Path(args.folder) / "model.pt", weights_only=True))
    start = time.perf_counter()
    out = layerwise_inference(trainer.model, store.csr, store.x, args.chunk_nodes, args.chunk_edges)
    seconds = time.perf_counter() - start
    accuracy = {name: float((out[idx].argmax(1) == store.y[idx]).float().mean())
                for name, idx in (("train", store.train_idx), ("test", store.test_idx))}
    print(json.dumps({"seconds": seconds, "nodes_per_s": store.num_nodes / seconds, "accuracy": accuracy,
                      "peak_rss_gib": peak_rss_gib()}), flush=True)


def child_generate(args) -> None:
    start = time.perf_counter()
    generate_rmat(args.folder, args.nodes, args.edges, num_features=args.features, seed=0)
    stats = json.dumps({"seconds": time.perf_counter() - start, "peak_rss_gib": peak_rss_gib()})
    (Path(args.folder) / "generate.json").write_text(stats + "\n")
    print(stats, flush=True)


def compare_propagate(args, rounds: int = 3) -> dict:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    edge_index = torch.randint(args.nodes, (2, args.edges))
    src, dst = edge_index
    h = torch.randn(args.nodes, args.features)
    kernels = {"gather_index_add": lambda: torch.zeros_like(h).index_add_(0, dst, h.index_select(0, src)),
               "csr_sort_and_spmm": lambda: propagate(h, edge_index)}
    torch.testing.assert_close(kernels["gather_index_add"](), kernels["csr_sort_and_spmm"](), rtol=1e-4, atol=1e-4)
    times = {name: [] for name in kernels}
    for _ in range(rounds):
        for name, kernel in kernels.items():
            start = time.perf_counter()
            kernel()
            times[name].append(time.perf_counter() - start)
    result = {name: statistics.median(t) for name, t in times.items()}
    result["ratio_csr_over_gather"] = result["csr_sort_and_spmm"] / result["gather_index_add"]
    print(result, flush=True)
    return {"nodes": args.nodes, "edges": args.edges, "features": args.features, "rounds": rounds,
            "median_seconds": result}


def huge_page_kib() -> dict:
    """The process's memory mapped with 2 MiB pages, KiB (a file's page cache, anonymous memory)."""
    rows = dict(line.split(":") for line in Path("/proc/self/smaps_rollup").read_text().splitlines()[1:])
    return {key: int(rows[key].split()[0]) for key in ("FilePmdMapped", "AnonHugePages")}


def gather_bound(args, rounds: int = 5) -> dict:
    import ctypes

    store = open_store(args.folder, check_values=False)
    mapped = store.x
    in_memory = torch.empty(mapped.shape, dtype=mapped.dtype)  # not yet touched: the advice applies to every page
    start = in_memory.data_ptr() & ~4095
    advised = ctypes.CDLL(None).madvise(ctypes.c_void_p(start), ctypes.c_size_t(
        in_memory.data_ptr() + in_memory.numel() * in_memory.element_size() - start), 14) == 0  # MADV_HUGEPAGE
    in_memory.copy_(mapped)  # also brings the whole file into the page cache
    result = {"madvise_hugepage": advised, "huge_page_kib": huge_page_kib(), "batches": {}}
    for batch_size in (args.batch_size, 3 * args.batch_size):
        nodes = [sample_blocks(store.csr, seeds, args.fanouts, mix(99, step)).nodes
                 for step, seeds in enumerate(probe_seeds(store, batch_size, args.probe))]
        orders = {"sampler": nodes, "sorted": [n.sort().values for n in nodes]}
        moved = 2 * sum(n.numel() for n in nodes) * mapped.size(1) * mapped.element_size()  # read + written
        shares = {}
        for _ in range(rounds):
            for threads in (1, 2):
                torch.set_num_threads(threads)
                copy = copy_bandwidth()
                for source, x in (("mapped", mapped), ("in_memory_huge_pages", in_memory)):
                    for name, ids in orders.items():
                        begin = time.perf_counter()
                        for n in ids:
                            x.index_select(0, n)
                        share = moved / (time.perf_counter() - begin) / 1e9 / copy
                        shares.setdefault(f"{threads}_threads/{source}/{name}", []).append(share)
        result["batches"][str(batch_size)] = {
            "rows_per_batch": sum(n.numel() for n in nodes) / len(nodes),
            "share_of_copy_bandwidth": {key: statistics.median(v) for key, v in shares.items()},
            "share_of_copy_bandwidth_rounds": shares}
        print(batch_size, result["batches"][str(batch_size)], flush=True)
    return result


def run_child(args, phase: str, processes: int = 1) -> list[dict]:
    own = [__file__, "--child", phase, "--folder", args.folder, "--fanouts", *map(str, args.fanouts),
           *(f"--{name.replace('_', '-')}={getattr(args, name)}" for name in
             ("nodes", "edges", "features", "hidden", "batch_size", "probe", "chunk_nodes", "chunk_edges"))]
    command = ([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}", *own]
               if processes > 1 else [sys.executable, *own])
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{phase} ({processes} processes) failed: {done.stderr[-3000:]}")
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    print(f"{phase} x{processes} ({time.perf_counter() - start:.0f} s): {rows}", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=1_000_000)
    parser.add_argument("--edges", type=int, default=10_000_000)
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--fanouts", type=int, nargs="+", default=[25, 10])
    parser.add_argument("--probe", type=int, default=20, help="batches timed part by part")
    parser.add_argument("--chunk-nodes", type=int, default=65536)
    parser.add_argument("--chunk-edges", type=int, default=1 << 21)
    parser.add_argument("--folder", help="where the generated graph is (or goes)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating 1- and 2-process epochs (default: 3)")
    parser.add_argument("--skip-infer", action="store_true", help="keep the inference result already in --out")
    parser.add_argument("--propagate", action="store_true", help="compare the two kernels of A h instead")
    parser.add_argument("--gather-bound", action="store_true", help="time every arrangement of the gather instead")
    parser.add_argument("--child", choices=["generate", "train", "infer"], help=argparse.SUPPRESS)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "graph_scale.json"))
    args = parser.parse_args()
    if not args.folder and not args.propagate:
        parser.error("--folder is required")
    if args.propagate or args.gather_bound:
        out = Path(args.out)
        results = json.loads(out.read_text()) if out.exists() else {}
        if args.propagate:
            results["propagate"] = compare_propagate(args)
        else:
            results["gather_bound"] = {"graph": f"{args.nodes}:{args.edges}", "load_avg_start": os.getloadavg(),
                                       **gather_bound(args), "load_avg_end": os.getloadavg()}
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2) + "\n")
        return
    if args.child:
        {"generate": child_generate, "train": child_train, "infer": child_infer}[args.child](args)
        return
    result = {"nodes": args.nodes, "edges": args.edges, "features": args.features, "hidden": args.hidden,
              "batch_size": args.batch_size, "fanouts": args.fanouts,
              "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__,
                          "load_avg_start": os.getloadavg()}}
    if not (Path(args.folder) / "generate.json").exists():
        run_child(args, "generate")
    result["generate"] = json.loads((Path(args.folder) / "generate.json").read_text())
    # epochs with 1 and 2 processes alternate, so that the load of other programs hits both alike
    rounds = [(run_child(args, "train")[0], run_child(args, "train", 2)) for _ in range(args.rounds)]
    result["train_1"] = [one for one, _ in rounds]
    result["train_2"] = [two for _, two in rounds]
    epochs_1 = [one["seconds"] for one in result["train_1"]]
    epochs_2 = [max(r["seconds"] for r in two) for two in result["train_2"]]  # the slowest rank ends the epoch
    seeds = result["train_1"][0]["seeds"]
    result["seed_nodes_per_s"] = {"1": seeds / statistics.median(epochs_1), "2": seeds / statistics.median(epochs_2)}
    result["speedup_2_vs_1"] = statistics.median(epochs_1) / statistics.median(epochs_2)
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.exists() else {}
    previous = results.get(f"{args.nodes}:{args.edges}", {})
    result["infer"] = previous["infer"] if args.skip_infer and "infer" in previous else run_child(args, "infer")[0]
    # full-batch GraphSAGE would gather one (E, hidden) float32 message tensor per layer at least
    result["full_batch_message_tensor_gib"] = args.edges * args.hidden * 4 / GIB
    result["machine"]["load_avg_end"] = os.getloadavg()
    results[f"{args.nodes}:{args.edges}"] = result
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
