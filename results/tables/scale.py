"""The tables of graphs at scale and out of one process: mini-batches, 10 million nodes, PyG's NeighborLoader,
data-parallel training (`python benchmarks/NAME.py` writes benchmarks/results/NAME.json)."""

from pathlib import Path

from .common import Table, load


def distributed(root: Path) -> Table:
    r = load("benchmarks/results/distributed.json", root)
    rows = [[procs, f"{run['chars_per_s']:,.0f} ({', '.join(f'{x:,.0f}' for x in run['chars_per_s_each_round'])})",
             f"{run['speedup']:.2f}"] for procs, run in r["runs"].items()]
    loads = r["machine"]["load_avg_start"][0], r["machine"]["load_avg_end"][0]
    return Table(["processes", "chars/s (rounds)", "vs 1 process"], rows,
                 f"`python benchmarks/distributed.py` (median of {r['rounds']} alternating rounds, one thread per "
                 f"process, load average {min(loads):.1f}-{max(loads):.1f})")


def minibatch(root: Path) -> Table:
    names = {"cora": "Cora", "photo": "Amazon-Photo"}
    rows = []
    for path in ("benchmarks/results/graph_minibatch.json", "benchmarks/results/graph_minibatch_photo.json"):
        for dataset, by_model in load(path, root).items():
            if dataset == "settings":
                continue
            for model, row in by_model.items():
                full, mini = row["full_batch"], row["mini_batch"]
                label = f"GCN (hidden {row['config']['hidden']})" if model == "gcn" else "GraphSAGE-mean"
                rows.append([names[dataset], label, full["n"],
                             *(f"{100 * x['mean']:.1f} ± {100 * x['std']:.1f}" for x in (full, mini)),
                             f"{row['difference_points']:+.2f}"])
    return Table(["dataset", "model", "seeds", "full-batch", "mini-batch", "difference"], rows,
                 "`OMP_NUM_THREADS=1 python benchmarks/graph_minibatch.py --datasets cora|photo --models gcn sage "
                 "--seeds N [--out benchmarks/results/graph_minibatch_photo.json]`")


def _span(fractions: list[float], digits: int = 0) -> str:
    """The range of ``fractions`` in percent, ``low-high`` (one figure where they round alike)."""
    low, high = (f"{100 * x:.{digits}f}" for x in (min(fractions), max(fractions)))
    return low if low == high else f"{low}-{high}"


def graph_scale(root: Path) -> Table:
    r = load("benchmarks/results/graph_scale.json", root)["10000000:100000000"]
    gen, infer, ones = r["generate"], r["infer"], r["train_1"]
    peak_1 = max(one["peak_rss_gib"] for one in ones)
    peak_2 = max(rank["peak_rss_gib"] for two in r["train_2"] for rank in two)
    gathers = [one["gather_fraction_of_copy_bandwidth"] for one in ones]
    shares = [one["probe"]["gather_fraction"] for one in ones]
    loads = r["machine"]["load_avg_start"], r["machine"]["load_avg_end"]
    rows = [["generate the graph (3.1 GB of `.npy`)", f"{gen['seconds']:.0f} s, peak {gen['peak_rss_gib']:.1f} GiB"],
            ["mini-batch epoch, 100k seed nodes, 1 process",
             f"{r['seed_nodes_per_s']['1']:,.0f} seed nodes/s, peak {peak_1:.1f} GiB"],
            ["the same epoch, 2 processes (gloo)", f"{r['seed_nodes_per_s']['2']:,.0f} seed nodes/s, peak "
             f"{peak_2:.1f} GiB each; {r['speedup_2_vs_1']:.2f}×"],
            ["exact layer-wise inference, all 10M nodes", f"{infer['seconds']:.0f} s, peak "
             f"{infer['peak_rss_gib']:.1f} GiB, test accuracy {100 * infer['accuracy']['test']:.1f}%"],
            ["feature gathering / copy bandwidth of the same process",
             f"{_span(gathers)}% (its share of a step: {_span(shares, 1)}%)"],
            ["full-batch GraphSAGE: one (E, 64) float32 message tensor",
             f"{r['full_batch_message_tensor_gib']:.1f} GiB"]]
    return Table(["step", "result"], rows,
                 f"`python benchmarks/graph_scale.py --nodes 10000000 --edges 100000000 --folder DIR` ({len(ones)} "
                 f"alternating rounds, medians; load average {loads[0][0]:.1f} at the start, {loads[1][0]:.1f} at the "
                 "end)")


def gather_bound(root: Path) -> Table:
    r = load("benchmarks/results/graph_scale.json", root)["gather_bound"]
    sizes = list(r["batches"])
    rows = []
    for order, label in (("sampler", "in the sampler's order (as training)"), ("sorted", "sorted by id")):
        for source, where in (("mapped", "the memory-mapped file"), ("in_memory_huge_pages", "anonymous, huge pages")):
            cells = []
            for b in sizes:
                for t in (1, 2):
                    key = f"{t}_threads/{source}/{order}"
                    rounds = r["batches"][b]["share_of_copy_bandwidth_rounds"][key]
                    cells.append(f"{100 * r['batches'][b]['share_of_copy_bandwidth'][key]:.0f}% ({_span(rounds)})")
            rows.append([label, where, *cells])
    huge = r["huge_page_kib"]
    return Table(["rows gathered", "from", *(f"batch {b}, {t} thread{'s' * (t > 1)}" for b in sizes for t in (1, 2))],
                 rows,
                 "`python benchmarks/graph_scale.py --gather-bound --nodes 10000000 --edges 100000000 --folder DIR`"
                 f" (share of the copy bandwidth on as many threads: median of {len(rounds)} rounds, their range in "
                 f"brackets; mapped with 2 MiB pages: {huge['FilePmdMapped'] / 2**20:.1f} GiB of the file, "
                 f"{huge['AnonHugePages'] / 2**20:.1f} GiB of the copy; load average {r['load_avg_start'][0]:.1f} "
                 "at the start)")


def _neighbor_loader_graphs(r: dict) -> list:
    return [("Amazon-Photo" if name == "photo" else f"R-MAT, {g['nodes']:,} nodes / {g['edges']:,} edges", g)
            for name, g in r["graphs"].items()]


def _ratio(pair: dict, target: float, per: float, unit: str) -> str:
    """The median ratio ours / PyG's (bold where it meets ``target``), the rounds' range and both medians / ``per``."""
    x, t, rounds = pair["ratio_median"], pair["median_seconds"], pair["ratio_rounds"]
    digits = 0 if unit == "ms" else 2
    return (f"**{x:.2f}**" if x <= target else f"{x:.2f}") + f" ({min(rounds):.2f}-{max(rounds):.2f}; " \
        f"{t['ours'] / per:.{digits}f} / {t['pyg'] / per:.{digits}f} {unit})"


def neighbor_loader(root: Path) -> Table:
    r = load("benchmarks/results/neighbor_loader.json", root)
    s, targets = r["settings"], r["settings"]["targets"]
    rows = []
    for name, g in _neighbor_loader_graphs(r):
        for b, pairs in g["sampling"].items():
            drawn, profile = g["sampled_per_batch"][b], g["profile"]["sampling"][b]
            largest = ", ".join(f"`{op['op'].removeprefix('aten::')}` {100 * op['self_share']:.0f}%"
                                for op in profile["top"][:2])
            rows.append([name, b, f"{drawn['ours']['edges']:,.0f} / {drawn['pyg']['edges']:,.0f}",
                         *(_ratio(pairs[key], targets["sampling"], s["batches"] / 1e3, "ms") for key in
                           ("sampler_vs_loader", "sampler_gather_vs_loader", "sampler_vs_sampler")),
                         f"{profile['operator_calls'] / s['batches']:,.0f} ({largest})",
                         _ratio(g["epoch"], targets["epoch"], g["epochs_per_round"], "s")
                         if int(b) == g["epoch_batch_size"] else ""])
    loads = [x[0] for x in r["load_avg_rounds"]]
    m = r["machine"]
    return Table(["graph", "batch", "edges drawn per batch, ours / PyG's",
                  "sampling: our sampler / `NeighborLoader` (rounds; ms per batch)",
                  "our sampler and feature gathering / `NeighborLoader`", "our sampler / PyG's sampler alone",
                  "our sampler: operator calls per batch (the two largest)",
                  "training epoch: ours / PyG's (rounds; s per epoch)"], rows,
                 f"`OMP_NUM_THREADS=1 python benchmarks/neighbor_loader.py --folder DIR --rounds {s['rounds']}` "
                 f"(torch-sparse {m['torch_sparse']}, PyG {m['torch_geometric']}, {s['threads']} thread; medians of "
                 f"{s['rounds']} alternating rounds of {s['batches']} sampled batches and at least {s['steps']} "
                 f"training steps each; load average {m['load_avg_start'][0]:.1f} at the start, "
                 f"{min(loads):.1f}-{max(loads):.1f} over the rounds; bold: the target met, sampling ≤ "
                 f"{targets['sampling']}, epoch ≤ {targets['epoch']}; the operators' shares of the sampler's "
                 "profiled time)")

def neighbor_loader_phases(root: Path) -> Table:
    rows = []
    for name, g in _neighbor_loader_graphs(load("benchmarks/results/neighbor_loader.json", root)):
        steps = g["steps_per_epoch"] * g["epochs_per_round"]
        ms = {side: {**{k: 1e3 * v / steps for k, v in p.items()},
                     "less": 1e3 * (p["total"] - p["dropout_alone"]) / steps} for side, p in g["phases"].items()}
        keys = ("sample", "gather", "forward", "dropout_alone", "backward", "adam", "total", "less")
        for side, label in (("ours", "ours"), ("pyg", "PyG")):
            rows.append([f"{name}, batch {g['epoch_batch_size']}", label, *(f"{ms[side][k]:.1f}" for k in keys)])
        rows.append(["", "ours / PyG's", *(f"{ms['ours'][k] / ms['pyg'][k]:.2f}" for k in keys)])
    return Table(["graph", "epoch", "sampling", "feature gathering", "forward", "its dropout, alone", "backward",
                  "Adam", "step", "step less its dropout"], rows,
                 "ms per training step: one round's epochs again, phase by phase, after the timed rounds (dropout "
                 "alone: the step's two dropout calls repeated on tensors of the same shapes)")


TABLES = {"distributed": distributed, "minibatch": minibatch, "graph-scale": graph_scale, "gather-bound": gather_bound,
          "neighbor-loader": neighbor_loader, "neighbor-loader-phases": neighbor_loader_phases}
