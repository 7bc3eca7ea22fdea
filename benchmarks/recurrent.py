"""Training-step time of each recurrent classifier vs the same classifier with its torch counterpart inside.

One step = forward, NLL loss, backward and an Adam update; batch 128 of 15 random symbols (16 of them),
embedding 32, hidden 128, 16 classes (random combinations, Table 2). The counterparts are batch-first
``torch.nn`` layers with the same sizes:

    lstm      torch.nn.LSTM
    gru       torch.nn.GRU (reset gate after the recurrent product, ours before: same cost)
    bilstm    torch.nn.LSTM(bidirectional=True)
    rnn       torch.nn.RNN(nonlinearity="tanh")
    peeplstm  torch.nn.LSTM: torch has no peephole LSTM (ours reads c(t-1) through 3 matrices, no h feedback)

Every model takes one step in turn, in rounds, so that load from other processes hits them alike; after
warm-up the median step time counts, and the ratio is ours / the counterpart's. Each step is also timed by
phase (forward with the loss, backward, Adam), so that a missed target shows where the time goes, and the LSTM
layer alone is timed beside the matrix products its loop makes and beside itself with the Python loops (see
``lstm_bound``, and ``lstm_floor`` for the least it could take); the BiLSTM's one loop is timed beside the same
weights run as two LSTM layers (``bilstm_one_loop``), an LSTM layer with and without its weights laid out for
oneDNN (``packing``: where ``kernels.PACK_MIN_STEPS`` comes from), and a weight gradient through both of its
products at several sizes (``weight_gradients``: where ``kernels.COPY_MAX_ROWS`` comes from). Our layers run their
loops in C++ where ``seqgraph.fused`` built them (the results record ``seqgraph.fused.backend()`` and how many
threads the C++ loops share a batch between; ``SEQGRAPH_FUSED=python`` measures the Python loops instead). Freed
memory stays in the process, as the command line keeps it (``seqgraph.allocator.keep_freed_memory``;
``--glibc-malloc`` measures with glibc's default settings, under which every pass of our layers takes some of its
buffers' pages back with page faults).
Targets (issues 18 and 27): every ratio <= 1.0, the LSTM's <= 0.9, at 1 and at 2 threads.

    python benchmarks/recurrent.py [--steps 60] [--warmup 10] [--threads 1 2]

Prints a table per thread count and writes benchmarks/results/recurrent.json with the load average before
and after each thread count: on a shared machine, threads waiting for a busy core dominate 2-thread times.
"""

import argparse
import contextlib
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from seqgraph import fused
from seqgraph.allocator import keep_freed_memory
from seqgraph.fused import kernels, native
from seqgraph.fused.kernels import linear, weight_gradient
from seqgraph.memory.classifier import CLASSIFIERS, build_classifier
from seqgraph.recurrent import LSTM, BiLSTM

SYMBOLS, CLASSES, BATCH, STEPS_T, EMBEDDING, HIDDEN = 16, 16, 128, 15, 32, 128
COUNTERPARTS = {
    "lstm": ("torch.nn.LSTM", lambda: nn.LSTM(EMBEDDING, HIDDEN, batch_first=True)),
    "gru": ("torch.nn.GRU", lambda: nn.GRU(EMBEDDING, HIDDEN, batch_first=True)),
    "bilstm": ("torch.nn.LSTM(bidirectional=True)",
               lambda: nn.LSTM(EMBEDDING, HIDDEN, batch_first=True, bidirectional=True)),
    "rnn": ("torch.nn.RNN(tanh)", lambda: nn.RNN(EMBEDDING, HIDDEN, batch_first=True, nonlinearity="tanh")),
    "peeplstm": ("torch.nn.LSTM (no torch peephole LSTM)", lambda: nn.LSTM(EMBEDDING, HIDDEN, batch_first=True)),
}
PHASES = ("forward", "backward", "adam")


def make_models() -> dict[str, nn.Module]:
    """Ours under its name, the counterpart under ``torch:<name>``; both the same classifier around the layer."""
    models = {}
    for name in CLASSIFIERS:
        models[name] = build_classifier(name, SYMBOLS, CLASSES, HIDDEN, EMBEDDING)
        reference = build_classifier(name, SYMBOLS, CLASSES, HIDDEN, EMBEDDING)
        reference.rnn = COUNTERPARTS[name][1]()
        models[f"torch:{name}"] = reference
    return models


def measure(models: dict[str, nn.Module], steps: int, warmup: int) -> dict[str, dict]:
    x = torch.randint(SYMBOLS, (BATCH, STEPS_T))
    y = torch.randint(CLASSES, (BATCH,))
    optimizers = {name: torch.optim.Adam(m.parameters(), lr=1e-3) for name, m in models.items()}
    times = {name: {phase: [] for phase in ("step", "cpu", *PHASES)} for name in models}
    for _ in range(warmup + steps):
        for name, model in models.items():
            cpu0, t0 = time.process_time(), time.perf_counter()
            loss = F.nll_loss(model(x), y)
            t1 = time.perf_counter()
            optimizers[name].zero_grad(set_to_none=True)
            loss.backward()
            t2 = time.perf_counter()
            optimizers[name].step()
            t3, cpu3 = time.perf_counter(), time.process_time()
            for phase, seconds in zip(("step", "cpu", *PHASES), (t3 - t0, cpu3 - cpu0, t1 - t0, t2 - t1, t3 - t2),
                                      strict=True):
                times[name][phase].append(1e3 * seconds)
    results = {}
    for name, phases in times.items():
        step = phases["step"][warmup:]
        quartiles = statistics.quantiles(step, n=4)
        results[name] = {"median_ms": statistics.median(step), "p25_ms": quartiles[0], "p75_ms": quartiles[2]}
        results[name] |= {f"{phase}_ms": statistics.median(phases[phase][warmup:]) for phase in ("cpu", *PHASES)}
    return results


def ratios(results: dict[str, dict]) -> dict[str, dict]:
    """Ours / counterpart, for the whole step (wall clock and process CPU time) and each phase (wall clock)."""
    return {name: {key.removesuffix("_ms"): results[name][key] / results[f"torch:{name}"][key]
                   for key in ("median_ms", "cpu_ms", *(f"{p}_ms" for p in PHASES))} for name in CLASSIFIERS}


def lstm_bound(steps: int, warmup: int) -> dict[str, dict]:
    """The LSTM layer alone (forward; backward of a loss on h(T)), ours (with the backend's loops, and with the
    Python loops) and nn.LSTM's, beside the matrix products our fused loop makes, timed alone with the same calls
    and shapes: the input projection and T recurrent products forward; T - 1 recurrent products, the input
    gradient and the weight gradient backward. Where the products alone take about as long as nn.LSTM's whole
    pass, the gate arithmetic and the work around the products decide the gap."""
    T, B, I, H = STEPS_T, BATCH, EMBEDDING, HIDDEN
    x = torch.randn(B, T, I, requires_grad=True)
    ours = LSTM(I, H)
    layers = {"ours": ours, "ours, Python loops": ours, "torch.nn.LSTM": nn.LSTM(I, H, batch_first=True)}
    x_flat, d_flat, inputs = torch.randn(T * B, I), torch.randn(T, B, 4 * H), torch.randn(T, B, I + H)
    weight_ih, weight_hh, h, d = torch.randn(4 * H, I), torch.randn(4 * H, H), torch.randn(B, H), torch.randn(B, 4 * H)

    def products_forward():
        linear(x_flat, weight_ih)
        for _ in range(T):
            linear(h, weight_hh)

    def products_backward():
        for _ in range(T - 1):
            linear(d, weight_hh.t())
        linear(d_flat, weight_ih.t())
        weight_gradient(d_flat, inputs)

    times = {name: {"forward": [], "backward": []} for name in (*layers, "products only")}
    for _ in range(warmup + steps):
        for name, layer in layers.items():
            with native.python_loops() if name == "ours, Python loops" else contextlib.nullcontext():
                start = time.perf_counter()
                outputs, _ = layer(x)
                middle = time.perf_counter()
                outputs[:, -1].sum().backward()
            times[name]["forward"].append(1e3 * (middle - start))
            times[name]["backward"].append(1e3 * (time.perf_counter() - middle))
        for phase, run in (("forward", products_forward), ("backward", products_backward)):
            start = time.perf_counter()
            run()
            times["products only"][phase].append(1e3 * (time.perf_counter() - start))
    return {name: {f"{phase}_ms": statistics.median(values[warmup:]) for phase, values in phases.items()}
            for name, phases in times.items()}


def lstm_product_flops(T: int, B: int, I: int, H: int) -> int:
    """The floating-point operations (2 per multiply-add) of an LSTM layer's matrix products, forward and backward
    from h(0) = 0 with the input's gradient: the input and the recurrent products forward; backward the T - 1
    recurrent products, the input's gradient and the weight gradient over [x(t), h(t-1)]."""
    return 2 * 4 * H * (T * B * (I + H) + (T - 1) * B * H + T * B * I + T * B * (I + H))


def lstm_floor(alone: dict[str, dict], steps: int, warmup: int) -> dict[str, float]:
    """What the LSTM layer cannot go below while its products are oneDNN's and its sigmoid torch's: the products
    alone (from ``alone``, :func:`lstm_bound`'s run) plus the forward's sigmoids alone, torch's ``sigmoid`` over
    each step's (B, 4H) gates and over its (B, H) cells (tanh = 2 sigmoid(2x) - 1), into buffers allocated
    once; the backward's gate arithmetic has no transcendental function and is left out, so this is a lower
    bound. Beside it the products' rate and that of one large product through the same call (``kernels.linear``,
    1024 x 1024 x 1024), so that the floor's products are seen to run at about the core's rate."""
    T, B, I, H = STEPS_T, BATCH, EMBEDDING, HIDDEN
    gates, cells = torch.randn(B, 4 * H), torch.randn(B, H)
    gates_out, cells_out = torch.empty_like(gates), torch.empty_like(cells)
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    sigmoids, large = [], []
    for _ in range(warmup + steps):
        start = time.perf_counter()
        for _ in range(T):
            torch.sigmoid(gates, out=gates_out)
            torch.sigmoid(cells, out=cells_out)
        sigmoids.append(1e3 * (time.perf_counter() - start))
        start = time.perf_counter()
        linear(a, b)
        large.append(time.perf_counter() - start)
    products = alone["products only"]["forward_ms"] + alone["products only"]["backward_ms"]
    torch_ms = alone["torch.nn.LSTM"]["forward_ms"] + alone["torch.nn.LSTM"]["backward_ms"]
    sigmoid_ms = statistics.median(sigmoids[warmup:])
    flops = lstm_product_flops(T, B, I, H)
    return {"products_ms": products, "forward_sigmoids_ms": sigmoid_ms, "torch_ms": torch_ms,
            "floor_over_torch": (products + sigmoid_ms) / torch_ms,
            "products_gflops": flops / products / 1e6, "large_product_gflops": 2 * 1024**3 / statistics.median(
                large[warmup:]) / 1e9}


PACKING_LAYERS = {"this benchmark's LSTM (batch 128, T = 15, hidden 128)": (BATCH, STEPS_T, EMBEDDING, HIDDEN),
                  "the quick character model's LSTM (batch 32, T = 128, hidden 256)": (32, 128, 64, 256)}


def packing(steps: int, warmup: int) -> dict[str, dict]:
    """Forward and backward of an LSTM layer with its recurrent weights laid out for oneDNN once per pass
    (``kernels.pack``) and with the plain weights, alternating: whether packing pays at that length, which
    ``kernels.PACK_MIN_STEPS`` decides: packing costs about one product per weight (two: forward and backward)
    and saves a few percent of each step's product."""
    return {name: _packed_and_plain(*shape, steps, warmup) for name, shape in PACKING_LAYERS.items()}


def _packed_and_plain(batch: int, length: int, inputs: int, hidden: int, steps: int, warmup: int) -> dict:
    layer, x = LSTM(inputs, hidden), torch.randn(batch, length, inputs, requires_grad=True)
    times = {"packed_ms": [], "plain_ms": []}
    saved = kernels.PACK_MIN_STEPS
    try:
        for _ in range(warmup + steps):
            for key, min_steps in (("packed_ms", 1), ("plain_ms", length + 1)):
                kernels.PACK_MIN_STEPS = min_steps
                start = time.perf_counter()
                outputs, _ = layer(x)
                outputs[:, -1].sum().backward()
                times[key].append(1e3 * (time.perf_counter() - start))
    finally:
        kernels.PACK_MIN_STEPS = saved
    row = {key: statistics.median(values[warmup:]) for key, values in times.items()}
    row["packed_over_plain"] = row["packed_ms"] / row["plain_ms"]
    row["packs_at_this_length"] = length >= saved
    return row


# (T, B, gate rows N, input columns K) of weight gradients: d (T, B, N) against the inputs (T, B, K)
WEIGHT_GRADIENTS = {"this benchmark's LSTM": (STEPS_T, BATCH, 4 * HIDDEN, EMBEDDING + HIDDEN),
                    "the quick character model's LSTM": (128, 32, 4 * 256, 64 + 256),
                    "the report's character model (batch 256, T = 30, hidden 1024)": (30, 256, 4 * 1024, 256 + 1024),
                    "graph forecast's GRU on Los-loop (12 steps, 64 windows x 207 sensors, 64 units)":
                        (12, 64 * 207, 2 * 64, 64)}


def weight_gradients(steps: int, warmup: int) -> dict[str, dict]:
    """``kernels.weight_gradient`` with the inputs copied transposed for oneDNN and with MKL's product reading the
    gate gradients transposed, alternating, at the sizes of ``WEIGHT_GRADIENTS``: where ``kernels.COPY_MAX_ROWS``
    comes from (the copy stays in the caches for small batches, not for large ones)."""
    results, saved = {}, kernels.COPY_MAX_ROWS
    try:
        for name, (T, B, N, K) in WEIGHT_GRADIENTS.items():
            d, x = torch.randn(T, B, N), torch.randn(T, B, K)
            times = {"copy_ms": [], "transposed_ms": []}
            for _ in range(warmup + steps):
                for key, limit in (("copy_ms", T * B), ("transposed_ms", 0)):
                    kernels.COPY_MAX_ROWS = limit
                    start = time.perf_counter()
                    kernels.weight_gradient(d, x)
                    times[key].append(1e3 * (time.perf_counter() - start))
            row = {key: statistics.median(values[warmup:]) for key, values in times.items()}
            row["transposed_over_copy"] = row["transposed_ms"] / row["copy_ms"]
            row["rows"], row["copies_at_this_size"] = T * B, T * B <= saved
            results[name] = row
    finally:
        kernels.COPY_MAX_ROWS = saved
    return results


def bilstm_one_loop(steps: int, warmup: int) -> dict[str, float]:
    """Forward and backward of our BiLSTM (both directions in one loop) beside the same weights run as two
    LSTM layers, one over the sequence and one over its reverse, alternating: what the shared loop buys."""
    x = torch.randn(BATCH, STEPS_T, EMBEDDING, requires_grad=True)
    bi = BiLSTM(EMBEDDING, HIDDEN)

    def two_layers():
        forward, _ = bi.forward_lstm(x)
        backward, _ = bi.backward_lstm(x.flip(1))
        return torch.cat((forward, backward.flip(1)), -1)

    times = {"one loop": [], "two LSTM layers": []}
    for _ in range(warmup + steps):
        for name, run in (("one loop", lambda: bi(x)[0]), ("two LSTM layers", two_layers)):
            start = time.perf_counter()
            run()[:, -1].sum().backward()
            times[name].append(1e3 * (time.perf_counter() - start))
    return {f"{name} ms": statistics.median(values[warmup:]) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60, help="timed steps per model (default: 60)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps per model first (default: 10)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2],
                        help="torch thread counts to measure, one run each (default: 1 2)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "recurrent.json",
                        help="where to write the results (default: benchmarks/results/recurrent.json)")
    parser.add_argument("--glibc-malloc", action="store_true",
                        help="keep glibc's default malloc settings instead of the command line's")
    args = parser.parse_args()
    kept = False if args.glibc_malloc else keep_freed_memory()
    runs = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        torch.manual_seed(0)
        load_before = os.getloadavg()
        results = measure(make_models(), args.steps, args.warmup)
        run = {"threads": threads, "loop_threads": native.loop_threads() if native.available() else None,
               "load_average_before": load_before, "load_average_after": os.getloadavg(),
               "ratios": ratios(results), "results": results}
        run["lstm_layer_alone"] = lstm_bound(args.steps, args.warmup)
        run["lstm_floor"] = lstm_floor(run["lstm_layer_alone"], args.steps, args.warmup)
        run["bilstm_forward_backward"] = bilstm_one_loop(args.steps, args.warmup)
        run["weight_packing"] = packing(args.steps, args.warmup)
        run["weight_gradients"] = weight_gradients(args.steps, args.warmup)
        runs.append(run)
        print(f"forward + backward + Adam, batch {BATCH}, T={STEPS_T}, embedding {EMBEDDING}, hidden {HIDDEN}; "
              f"median of {args.steps} steps, {threads} thread(s), {fused.backend()} loops on {run['loop_threads']}, "
              f"load average {load_before[0]:.2f} before, {run['load_average_after'][0]:.2f} after")
        print(f"{'layer':<10}{'ours ms':>9}{'torch ms':>10}{'ratio':>7}{'cpu ratio':>11}   by phase (fwd, bwd, adam)"
              f"   counterpart")
        for name in CLASSIFIERS:
            r = run["ratios"][name]
            print(f"{name:<10}{results[name]['median_ms']:>9.2f}{results[f'torch:{name}']['median_ms']:>10.2f}"
                  f"{r['median']:>7.2f}{r['cpu']:>11.2f}   {r['forward']:>5.2f} {r['backward']:>5.2f} {r['adam']:>5.2f}"
                  f"{'':>8}{COUNTERPARTS[name][0]}")
        print("LSTM layer alone, forward / backward ms: " + ", ".join(
            f"{name} {r['forward_ms']:.2f} / {r['backward_ms']:.2f}" for name, r in run["lstm_layer_alone"].items()))
        floor = run["lstm_floor"]
        print(f"LSTM floor: products {floor['products_ms']:.2f} ms ({floor['products_gflops']:.0f} GFLOP/s; a 1024^3 "
              f"product {floor['large_product_gflops']:.0f}) + forward sigmoids {floor['forward_sigmoids_ms']:.2f} ms "
              f"= {floor['floor_over_torch']:.2f} of nn.LSTM's {floor['torch_ms']:.2f} ms")
        print("BiLSTM forward + backward: " + ", ".join(
            f"{name} {ms:.2f}" for name, ms in run["bilstm_forward_backward"].items()))
        for name, r in run["weight_packing"].items():
            print(f"{name}, forward + backward ms, packed / plain weights: {r['packed_ms']:.2f} / "
                  f"{r['plain_ms']:.2f} ({r['packed_over_plain']:.3f})")
        for name, r in run["weight_gradients"].items():
            print(f"{name}, a weight gradient over {r['rows']} rows, transposed product / copy ms: "
                  f"{r['transposed_ms']:.2f} / {r['copy_ms']:.2f} ({r['transposed_over_copy']:.3f})")
        print()
    record = {
        "what": "forward+backward+Adam step of the sequence classifier; ratio = our median step time / the "
                "median step time of the same classifier with the torch counterpart as its recurrent layer",
        "counterparts": {name: label for name, (label, _) in COUNTERPARTS.items()},
        "fused_backend": fused.backend(), "keep_freed_memory": kept,
        "config": {"batch": BATCH, "T": STEPS_T, "embedding": EMBEDDING, "hidden": HIDDEN, "symbols": SYMBOLS,
                   "classes": CLASSES, "steps": args.steps, "warmup": args.warmup},
        "torch": torch.__version__, "cpu_count": os.cpu_count(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(), "mkldnn": torch.backends.mkldnn.enabled,
        "platform": platform.platform(), "processor": platform.processor(), "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
