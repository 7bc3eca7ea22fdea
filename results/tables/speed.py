"""The speed tables of the recurrent cells, the text model and the graph kernels (`python benchmarks/NAME.py` writes
benchmarks/results/NAME.json)."""

from pathlib import Path

from .common import Table, load


def recurrent_speed(root: Path) -> Table:
    r = load("benchmarks/results/recurrent.json", root)
    by_threads = {run["threads"]: run for run in r["runs"]}
    rows = []
    for key, name in (("rnn", "vanilla RNN"), ("gru", "GRU"), ("lstm", "LSTM"), ("bilstm", "BiLSTM"),
                      ("peeplstm", "peephole LSTM")):
        ratios = [by_threads[t]["ratios"][key]["median"] for t in (1, 2)]
        counterpart, _, note = r["counterparts"][key].removeprefix("torch.").partition(" (")
        rows.append([name, *(f"**{x:.2f}**" if x <= 1 else f"{x:.2f}" for x in ratios),
                     f"`{counterpart}`" + (f" ({note}" if note else "")])
    loads = sorted({f"{run['load_average_before'][0]:.0f}" for run in r["runs"]})
    return Table(["layer", "1 thread", "2 threads", "counterpart"], rows,
                 f"`python benchmarks/recurrent.py` (load average {'-'.join(loads)})")


def lstm_layer(root: Path) -> Table:
    r = load("benchmarks/results/recurrent.json", root)
    names = (("ours", "our LSTM (C++ loops)"),
             ("ours, Python loops", "our LSTM, Python loops (`SEQGRAPH_FUSED=python`)"),
             ("torch.nn.LSTM", "`nn.LSTM` (oneDNN's RNN kernel)"),
             ("products only", "our LSTM's matrix products alone"))

    def times(run: dict, key: str) -> str:
        alone = run["lstm_layer_alone"][key]
        return f"{alone['forward_ms']:.2f} / {alone['backward_ms']:.2f}"

    def floor(run: dict) -> str:
        f = run["lstm_floor"]
        return (f"{f['products_ms'] + f['forward_sigmoids_ms']:.2f} forward + backward, "
                f"**{f['floor_over_torch']:.2f}** of `nn.LSTM`'s {f['torch_ms']:.2f}")
    rows = [[label, *(times(run, key) for run in r["runs"])] for key, label in names]
    rows.append(["the products + the forward's sigmoids alone (a lower bound for our loops)",
                 *(floor(run) for run in r["runs"])])
    return Table(["LSTM layer, forward / backward ms", *(f"{run['threads']} thread(s)" for run in r["runs"])], rows,
                 "`python benchmarks/recurrent.py` (the same run as the table above)")


def weight_packing(root: Path) -> Table:
    r = load("benchmarks/results/recurrent.json", root)
    rows = [[name, str(run["threads"]), f"{t['packed_ms']:.2f}", f"{t['plain_ms']:.2f}",
             f"{t['packed_over_plain']:.3f}", "yes" if t["packs_at_this_length"] else "no"]
            for run in r["runs"] for name, t in run["weight_packing"].items()]
    return Table(["LSTM layer, forward + backward", "threads", "packed weights, ms", "plain weights, ms",
                  "packed / plain", "packed by default"], rows, "`python benchmarks/recurrent.py` (the same run)")


def weight_gradients(root: Path) -> Table:
    r = load("benchmarks/results/recurrent.json", root)
    rows = [[name, f"{t['rows']:,}", str(run["threads"]), f"{t['copy_ms']:.2f}", f"{t['transposed_ms']:.2f}",
             f"{t['transposed_over_copy']:.3f}", "copy" if t["copies_at_this_size"] else "transposed"]
            for run in r["runs"] for name, t in run["weight_gradients"].items()]
    return Table(["weight gradient of", "rows (steps × batch)", "threads", "inputs copied transposed, ms",
                  "gradients read transposed, ms", "transposed / copy", "by default"], rows,
                 "`python benchmarks/recurrent.py` (the same run)")


def threads_products(root: Path) -> Table:
    r = load("benchmarks/results/threads.json", root)
    cores = r["cores"]
    rows = [[" × ".join(map(str, p["size"])), f"{p['multiply_adds']:.1e}",
             *(f"{p[f'{load}_{t}_threads_us']:,.0f}" for load in ("idle", "busy") for t in (1, cores))]
            for p in r["products"]]
    return Table(["product (m × k × n)", "multiply-adds", "idle, 1 thread, µs", f"idle, {cores} threads, µs",
                  "busy, 1 thread, µs", f"busy, {cores} threads, µs"], rows,
                 f"`python benchmarks/threads.py` (busy: one `python -c \"while True: pass\"` beside; load average "
                 f"{r['load_average_before'][0]:.1f} before)")


def threads_commands(root: Path) -> Table:
    r = load("benchmarks/results/threads.json", root)
    s, cores = r["reproduce_smoke"], r["cores"]
    m = s["median_seconds"]
    rows = [["threads chosen for the work (the default)", f"{m['idle_rule']:.1f}", f"{m['busy_rule']:.1f}",
             f"**{s['busy_over_idle_rule']:.2f}**"],
            [f"`--threads {cores}` (every core, torch's default)", f"{m['idle_every_core']:.1f}",
             f"{m['busy_every_core']:.1f}", f"{s['busy_over_idle_every_core']:.2f}"]]
    return Table(["`seqgraph reproduce --profile smoke`", "idle, s", "beside a busy process, s", "busy / idle"], rows,
                 f"`python benchmarks/threads.py` (medians of {len(s['seconds']['idle_rule'])} rounds)")


def toy_speed(root: Path) -> Table:
    r = load("benchmarks/results/toy.json", root)
    ours, torch_ = r["results"]["ours"], r["results"]["torch.nn.LSTM"]
    share = r["loop_cpu_fraction_of_trainer_step"]
    batch = r["batch_ms_at_table2_batch_and_longest_length"]
    rows = [["examples/s (training steps of the trainer)", f"{ours['examples_per_second']:,.0f}",
             f"{torch_['examples_per_second']:,.0f}", f"**{r['throughput_ratio_ours_to_torch']:.2f}**"],
            ["bare step (forward, loss, backward, clipping, Adam), ms", f"{ours['bare_step_ms']:.1f}",
             f"{torch_['bare_step_ms']:.1f}", f"{r['bare_step_ratio_ours_to_torch']:.2f}"],
            ["the loop around it, ms of CPU time per step (its share of the step)",
             f"{ours['loop_cpu_ms']:.2f} ({100 * share['ours']:.1f}%)",
             f"{torch_['loop_cpu_ms']:.2f} ({100 * share['torch.nn.LSTM']:.1f}%)", ""]]
    return Table(["measurement", "our LSTM", "`nn.LSTM`", "ours / torch's"], rows,
                 f"`python benchmarks/toy.py` ({r['threads']} thread, load average "
                 f"{r['load_average_before'][0]:.1f} before; drawing a batch of Table 2's size at the task's longest "
                 "length: " + ", ".join(f"{task} {ms:.2f} ms" for task, ms in batch.items()) + ")")


def text_cells(root: Path) -> Table:
    r = load("benchmarks/results/text_cells.json", root)
    c, m = r["training"]["cells_quick"], r["machine"]
    return Table(["model (quick size)", "`--cell torch-lstm` (`nn.LSTM`), chars/s", "`--cell lstm` (ours), chars/s",
                  "ours / `nn.LSTM`"],
                 [[f"hidden {c['hidden']}, batch {c['batch']} × {c['seq_len']}, {c['steps']} steps each",
                   f"{c['torch-lstm_chars_per_s']:,.0f}", f"{c['lstm_chars_per_s']:,.0f}",
                   f"{c['ratio_lstm_vs_torch_lstm']:.2f}"]],
                 f"`python benchmarks/text.py --threads {m['threads']} --parts cells --out "
                 f"benchmarks/results/text_cells.json` (load average {m['load_avg_start'][0]:.1f} at the start)")


def propagate(root: Path) -> Table:
    r = load("benchmarks/results/graph_scale.json", root)["propagate"]
    t = r["median_seconds"]
    return Table(["graph", "gather + `index_add_`", "CSR sparse-dense product", "ratio"],
                 [[f"{r['nodes']:,} nodes / {r['edges']:,} edges, {r['features']} features",
                   f"{t['gather_index_add']:.1f} s", f"{t['csr_sort_and_spmm']:.1f} s",
                   f"{t['ratio_csr_over_gather']:.2f}"]],
                 f"`python benchmarks/graph_scale.py --propagate` (median of {r['rounds']} alternating rounds)")


def allocator(root: Path) -> Table:
    r = load("benchmarks/results/allocator.json", root)
    default, kept = r["steps"]["glibc_default"], r["steps"]["keep_freed_memory"]
    cells = r["cells"]
    rows = [["page faults per step, mean of 20 (six 16 MiB tensors and one of 1 MiB)",
             f"{default['page_faults_per_step']:,.0f}", f"{kept['page_faults_per_step']:,.0f}"]]
    for key, name in (("lstm_chars_per_s", "char model, our LSTM, chars/s"),
                      ("torch-lstm_chars_per_s", "char model, `nn.LSTM`, chars/s")):
        rows.append([name, f"{cells['glibc_default'][key]:,.0f}", f"{cells['keep_freed_memory'][key]:,.0f}"])
    rows.append(["our LSTM / `nn.LSTM`", *(f"{cells[k]['ratio_lstm_vs_torch_lstm']:.2f}"
                                             for k in ("glibc_default", "keep_freed_memory"))])
    return Table(["workload", "glibc's default", "freed memory kept"], rows,
                 f"`OMP_NUM_THREADS=1 python benchmarks/allocator.py --rounds {r['rounds']}` (medians over rounds, "
                 f"load average {r['machine']['load_avg_start'][0]:.1f} at the start)")


def text_budget(root: Path) -> Table:
    rows = []
    for budget in (120, 600):
        r = load(f"benchmarks/results/text_budget-{budget}s.json", root)
        val = r["val"]
        rows.append([f"{budget} s ({r['threads']} threads)", f"{r['steps_done']:,} of {r['steps_planned']:,}",
                     f"{r['chars_per_s']:,.0f}", f"**{val['loss']:.3f} nats/char** ({val['bits']:.3f} bits)",
                     f"{val['window_loss']:.3f}", f"{r['load_avg_start'][0]:.1f}, {r['load_avg_end'][0]:.1f}"])
    return Table(["budget", "steps done of planned", "chars/s", "validation, left to right", "per window",
                  "load average (start, end)"], rows,
                 "`python benchmarks/text_budget.py --budget 120|600` (the quick preset; its cosine schedule is "
                 "planned from a few timed steps to end at the budget, and training stops at the budget)")


def graph_speed(root: Path) -> Table:
    r = load("benchmarks/results/graph.json", root)
    rows = [[f"Cora {model.upper()} training epoch", f"{e['ours']['train_ms']:.1f} ms",
             f"{e['pyg']['train_ms']:.0f} ms", f"{e['train_ratio']:.2f}"] for model, e in r["cora_epoch"].items()]
    for i, e in enumerate(r["random_graph_gcn_forward_backward"]):
        what = (f"2-layer GCN fwd+bwd, {e['nodes']:,} nodes / {e['edges']:,} edges, {e['features']} features"
                if i == 0 else f"same, {e['nodes']:,} nodes / {e['edges']:,} edges")
        rows.append([what, f"{e['ours']['seconds']:.1f} s, {e['ours']['peak_mib']:.0f} MiB peak",
                     f"{e['pyg']['seconds']:.1f} s, {e['pyg']['peak_mib']:.0f} MiB",
                     f"time {e['time_ratio']:.2f}, memory {e['memory_ratio']:.2f}"])
    loads = r["machine"]["load_avg_start"][0], r["machine"]["load_avg_end"][0]
    return Table(["measurement", "ours", "PyG", "ratio (ours/PyG)"], rows,
                 f"`python benchmarks/graph.py` (1 thread each, in the same run; load average {loads[0]:.1f} at the "
                 f"start, {loads[1]:.1f} at the end)")


def graph_classify_speed(root: Path) -> Table:
    r = load("benchmarks/results/graph_classify.json", root)
    rows = [[name.upper(), f"{e['ours']['epoch_s']:.3f}", f"{e['pyg']['epoch_s']:.3f}", f"**{e['epoch_ratio']:.2f}×**",
             f"{e['floor_ratio']:.2f}", f"{e['profile']['ours']['dense_s'] / e['pyg']['epoch_s']:.2f}",
             f"{e['batching_ratio']:.2f}", f"{e['pyg']['batching_share']:.2f}",
             f"{e['gemm']['linear_share_of_square']:.2f}"] for name, e in r["epoch"].items()]
    return Table(["dataset", "ours, s/epoch", "PyG, s/epoch", "ratio", "floor: PyG's dense kernels / its epoch",
                  "ours in dense kernels / PyG's epoch", "batching, ours / PyG", "PyG's batching / its epoch",
                  "linear layers' GEMM rate / a square GEMM's"], rows,
                 f"`python benchmarks/graph_classify.py --rounds {r['config']['rounds']}` (one thread, median of "
                 f"alternating rounds, load average {r['load_average_before'][0]:.1f} before)")


TABLES = {"recurrent-speed": recurrent_speed, "lstm-layer": lstm_layer, "weight-packing": weight_packing,
          "weight-gradients": weight_gradients,
          "threads-products": threads_products, "threads-commands": threads_commands, "toy-speed": toy_speed,
          "text-cells": text_cells, "allocator": allocator, "text-budget": text_budget, "propagate": propagate,
          "graph-speed": graph_speed, "graph-classify-speed": graph_classify_speed}
