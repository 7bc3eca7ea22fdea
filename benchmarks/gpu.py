"""One prepared GPU run: device tests, the report's text model, torchrun with nccl and timings, in at most 8 minutes.

Made for a GPU machine held for a few minutes, with no network (``benchmarks/gpu.sh`` says how to call it there).
Each step runs in processes of its own under its own time budget; a step that fails or runs out of time is recorded
as such and the next one starts anyway, so that one call brings back everything that worked:

    tests             pytest tests/test_device.py with SEQGRAPH_TEST_DEVICE=<device>: every layer on the device
                      against itself on the CPU and against its torch / PyG / PyTorch Geometric Temporal counterpart
    text              seqgraph text train --preset report (1500 steps, hidden 1024, embedding 256, batch 256) on the
                      default corpus, then seqgraph text sample: validation and test scores, samples, wall time
    torchrun          torchrun --standalone --nproc_per_node=<every GPU> -m seqgraph text train ...: a short real
                      training run under DistributedDataParallel, nccl on CUDA (gloo on the CPU)
    timing-recurrent  benchmarks/recurrent.py's classifiers (ours / torch.nn's layer, cuDNN on CUDA) and the LSTM
                      layer alone at the report's size, ours against nn.LSTM
    timing-graph      benchmarks/graph.py's Cora models (ours / PyG's GCN and GAT) and one random graph's
                      forward and backward through GCN, GAT and GIN layers, ours against PyG's
    timing-temporal   benchmarks/forecast.py's DCRNN training step, ours against PyTorch Geometric Temporal's cell
                      (skipped, with the reason recorded, where that package is not installed)

Every timing synchronises the device before and after each timed call, and the models take turns, so that a slow
spell hits them alike; TF32 is off, so that ours and cuDNN compute in the same float32.

    python benchmarks/gpu.py [--device cuda] [--quick] [--out benchmarks/results/gpu] [--only STEP ...]

``--quick`` runs every step at a tiny size (about a minute on a 2-core CPU: the test suite runs it with
``--device cpu``). The text corpus and Cora come from the data directory (``--data-dir``, else ``$SEQGRAPH_DATA``).
Writes ``OUT/<step>.json`` (status ``ok``, ``failed``, ``timeout`` or ``skipped``, wall time and budget, the
environment: device name, torch, CUDA and cuDNN versions) and ``OUT/summary.json`` and ``OUT/summary.md``; the
working files (logs, checkpoints) go to a temporary folder, or ``--work``. Exits 1 if a step failed or timed out.
"""

import argparse
import dataclasses
import importlib.metadata
import importlib.util
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
TOTAL_S = 460  # the whole run: with a last process's GRACE_S, inside the 8 minutes it is given
# seconds per step (they add up to less than TOTAL_S: the run itself takes a few too)
BUDGETS = {"tests": 90, "text": 190, "torchrun": 55, "timing-recurrent": 35, "timing-graph": 35, "timing-temporal": 45}
MIN_STEP_S = 5  # a step with less time left than this is skipped
SAMPLE_S = 25  # of the text step's budget, kept for sampling after the training
GRACE_S = 15  # after SIGTERM (the trainers checkpoint and stop on it) before SIGKILL
TAIL = 3000  # characters of a process's output kept in the step's record


@dataclasses.dataclass
class Run:
    """What every step needs: the device, the size, where to write, the clock."""

    device: torch.device
    quick: bool
    out: Path
    work: Path
    deadline: float  # time.monotonic() by which the whole run ends
    environment: dict  # the machine and the versions, in every record
    process_env: dict  # the environment variables of every process a step starts

    def seconds_left(self) -> float:
        return self.deadline - time.monotonic()


# --- processes ----------------------------------------------------------------------------------------------------


def run_command(command: list, timeout: float, log: Path, env: dict | None = None) -> dict:
    """Run ``command`` in the repository's root with its stdout in ``log.out`` and its stderr in ``log.err``, for at
    most ``timeout`` seconds: then SIGTERM to its process group (a trainer checkpoints and stops; torchrun passes it
    to its workers) and SIGKILL after ``GRACE_S``. Returns the exit code, whether it timed out, its wall time and the
    ends of both outputs."""
    start = time.monotonic()
    stdout, stderr = log.with_suffix(".out"), log.with_suffix(".err")
    with open(stdout, "w") as out, open(stderr, "w") as err:
        process = subprocess.Popen([str(c) for c in command], cwd=ROOT, env=env, stdout=out, stderr=err,
                                   start_new_session=True)
        try:
            process.wait(timeout=max(timeout, 0.1))
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out = True
            signal_group(process, signal.SIGTERM)
            try:
                process.wait(timeout=GRACE_S)
            except subprocess.TimeoutExpired:
                signal_group(process, signal.SIGKILL)
                process.wait()
    return {"command": " ".join(str(c) for c in command), "returncode": process.returncode, "timed_out": timed_out,
            "seconds": time.monotonic() - start, "stdout_tail": stdout.read_text(errors="replace")[-TAIL:],
            "stderr_tail": stderr.read_text(errors="replace")[-TAIL:]}


def signal_group(process: subprocess.Popen, signal_number: int) -> None:
    """Send ``signal_number`` to the process group that ``process`` leads (it and whatever it started), unless it
    has ended in the meantime."""
    try:
        os.killpg(process.pid, signal_number)
    except ProcessLookupError:
        pass


def status_of(*finished: dict) -> str:
    """``timeout`` if a process ran out of time, ``failed`` if one exited non-zero, else ``ok``."""
    if any(f["timed_out"] for f in finished):
        return "timeout"
    return "failed" if any(f["returncode"] != 0 for f in finished) else "ok"


def python(*arguments) -> list:
    """A command of this interpreter (the one holding torch)."""
    return [sys.executable, *arguments]


# --- the steps ----------------------------------------------------------------------------------------------------


def step_tests(run: Run, budget: float) -> dict:
    """pytest tests/test_device.py on the device; the counts and every failure's and skip's message."""
    report = run.work / "tests.xml"
    finished = run_command(python("-m", "pytest", "tests/test_device.py", "-p", "no:cacheprovider", "-rfEs",
                                  f"--junitxml={report}"), budget, run.work / "tests",
                           {**run.process_env, "SEQGRAPH_TEST_DEVICE": str(run.device)})
    counts, problems = junit(report) if report.exists() else ({}, [])
    ran = sum(counts.values())
    status = status_of(finished) if ran else "failed"  # no test collected: an import failed
    headline = ", ".join(f"{n} {outcome}" for outcome, n in counts.items() if n) or "no test ran"
    return {"status": status, "headline": headline, "counts": counts, "not_passed": problems, "process": finished}


def junit(path: Path) -> tuple[dict, list]:
    """The outcome counts of a pytest JUnit XML report, and the test and message of each that did not pass."""
    counts = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    problems = []
    for case in ElementTree.parse(path).iter("testcase"):
        outcome = next((child for child in case if child.tag in ("failure", "error", "skipped")), None)
        key = {"failure": "failed", "error": "errors", "skipped": "skipped"}.get(getattr(outcome, "tag", None),
                                                                                "passed")
        counts[key] += 1
        if outcome is not None:
            problems.append({"test": f"{case.get('classname')}::{case.get('name')}", "outcome": key,
                             "message": (outcome.get("message") or outcome.text or "")[:500]})
    return counts, problems


# the report's configuration is the preset; --quick shrinks it to seconds
TEXT_QUICK = ["--steps", "3", "--hidden", "16", "--embedding", "8", "--batch", "4", "--seq-len", "10",
              "--eval-every", "2"]


def step_text(run: Run, budget: float) -> dict:
    """Train the report's configuration through the CLI, then sample three continuations from its best weights."""
    folder = run.work / "text"
    train = run_command(python("-m", "seqgraph", "text", "train", "--preset", "report",
                               *(TEXT_QUICK if run.quick else []), "--device", run.device.type, "--out", folder),
                        budget - SAMPLE_S, run.work / "text-train", run.process_env)
    results_file = folder / "results.json"
    if not results_file.exists():
        return {"status": status_of(train), "headline": "training wrote no results", "train": train}
    results = json.loads(results_file.read_text())
    sample = run_command(python("-m", "seqgraph", "text", "sample", "--checkpoint", folder, "--num", "3",
                                "--length", "300", "--seed", "0", "--device", run.device.type, "--json"),
                         min(SAMPLE_S, run.seconds_left()), run.work / "text-sample", run.process_env)
    samples = json.loads((run.work / "text-sample.out").read_text()) if sample["returncode"] == 0 else None
    best, test = results["best_val"], results.get("test") or {}
    headline = (f"best validation {best['bits']:.3f} bits/char (loss {best['loss']:.3f}) at step {best['step']} "
                f"of {results['steps']}, test {test.get('bits', float('nan')):.3f} bits/char; "
                f"training {results['wall_time_s']:.0f} s, {results['chars_per_s']:.0f} chars/s")
    status = status_of(train, sample)
    if status == "ok" and results["steps"] != results["config"]["steps"]:
        status = "failed"
    return {"status": status, "headline": headline, "best_validation": best, "final_validation": results["final_val"],
            "test": test, "steps": results["steps"], "wall_time_s": results["wall_time_s"],
            "chars_per_s": results["chars_per_s"], "config": results["config"],
            "samples": None if samples is None else samples["samples"],
            "samples_during_training": results["samples"][-1:], "train": train, "sample": sample}


def step_torchrun(run: Run, budget: float) -> dict:
    """The smallest real training under torchrun: one process per GPU, each on its slice of the global batch,
    DistributedDataParallel over nccl (seqgraph.distributed chooses it for CUDA; gloo on the CPU). With NCCL_DEBUG=INFO
    NCCL reports its communicator in the log, which is counted as the evidence that it ran."""
    cuda = run.device.type == "cuda"
    processes = torch.cuda.device_count() if cuda else 1
    steps = 3 if run.quick else 20
    folder = run.work / "torchrun"
    size = ["--seq-len", "10", "--hidden", "16", "--embedding", "8"] if run.quick else \
        ["--seq-len", "64", "--hidden", "128", "--embedding", "32"]
    # single-node: the loopback interface is all the processes need, and all a machine without a network has
    env = {"NCCL_SOCKET_IFNAME": "lo", "GLOO_SOCKET_IFNAME": "lo", **run.process_env, "NCCL_DEBUG": "INFO",
           "OMP_NUM_THREADS": "1"}
    finished = run_command(python("-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
                                  "-m", "seqgraph", "text", "train", "--preset", "quick", "--steps", str(steps),
                                  "--batch", str(4 * processes), *size, "--eval-every", str(steps),
                                  "--device", run.device.type, "--out", folder), budget, run.work / "torchrun", env)
    results_file = folder / "results.json"
    results = json.loads(results_file.read_text()) if results_file.exists() else None
    nccl_lines = sum((run.work / f"torchrun.{stream}").read_text(errors="replace").count("NCCL INFO")
                     for stream in ("out", "err"))
    backend = "nccl" if cuda else "gloo"
    status = status_of(finished)
    if status == "ok" and (results is None or results["steps"] != steps):
        status = "failed"
    headline = f"{processes} process{'es' * (processes > 1)} over {backend}"
    if results is not None:
        headline += (f", {results['steps']} steps in {results['wall_time_s']:.1f} s, validation "
                     f"{results['best_val']['bits']:.3f} bits/char")
    if cuda:
        headline += f", {nccl_lines} NCCL INFO lines in its log"
    return {"status": status, "headline": headline, "processes": processes, "backend": backend,
            "nccl_info_lines": nccl_lines if cuda else None, "results": results, "process": finished}


def timing_step(name: str) -> Callable[[Run, float], dict]:
    """A step that runs the timing ``name`` (of ``TIMINGS``) in a process of its own and returns what it wrote."""
    def step(run: Run, budget: float) -> dict:
        result = run.work / f"{name}.json"
        finished = run_command(python(__file__, "--child", name, "--device", str(run.device),
                                      *(["--quick"] if run.quick else []), "--out", result),
                               budget, run.work / name, run.process_env)
        if finished["returncode"] == 0 and result.exists():
            return {**json.loads(result.read_text()), "process": finished}
        return {"status": status_of(finished), "headline": (finished["stderr_tail"].strip().splitlines() or [""])[-1],
                "process": finished}
    return step


STEPS = {"tests": step_tests, "text": step_text, "torchrun": step_torchrun,
         **{name: timing_step(name) for name in ("timing-recurrent", "timing-graph", "timing-temporal")}}


# --- the timings, each in a process of its own (--child NAME) -----------------------------------------------------


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def alternating_ms(functions: dict[str, Callable[[], object]], device: torch.device, repeats: int,
                   warmup: int) -> dict[str, float]:
    """The median milliseconds of each function, called in turn for ``warmup`` untimed and ``repeats`` timed rounds
    (a slow spell of the machine then hits them alike), with the device synchronised before and after each call:
    CUDA runs asynchronously, and without that a timer measures the launches."""
    times = {name: [] for name in functions}
    for round_ in range(warmup + repeats):
        for name, function in functions.items():
            synchronize(device)
            start = time.perf_counter()
            function()
            synchronize(device)
            if round_ >= warmup:
                times[name].append(1e3 * (time.perf_counter() - start))
    return {name: statistics.median(values) for name, values in times.items()}


def time_recurrent(device: torch.device, quick: bool) -> dict:
    """benchmarks/recurrent.py's training step of each classifier, ours against the same classifier with its
    torch.nn counterpart inside (cuDNN's on CUDA), and the LSTM layer alone at the report's size (batch 256, T = 30,
    input 256, hidden 1024), forward and backward, ours against nn.LSTM."""
    import recurrent  # benchmarks/recurrent.py, beside this file
    from torch import nn
    from torch.nn import functional as F

    from seqgraph import fused
    from seqgraph.recurrent import LSTM

    repeats, warmup = (3, 1) if quick else (20, 5)
    torch.manual_seed(0)
    models = {name: model.to(device) for name, model in recurrent.make_models().items()}
    x = torch.randint(recurrent.SYMBOLS, (recurrent.BATCH, recurrent.STEPS_T), device=device)
    y = torch.randint(recurrent.CLASSES, (recurrent.BATCH,), device=device)

    def train_step(model, optimizer):
        def step():
            optimizer.zero_grad(set_to_none=True)
            F.nll_loss(model(x), y).backward()
            optimizer.step()
        return step

    ms = alternating_ms({name: train_step(model, torch.optim.Adam(model.parameters(), lr=1e-3))
                         for name, model in models.items()}, device, repeats, warmup)
    classifiers = {name: {"ours_ms": ms[name], "torch_ms": ms[f"torch:{name}"], "ratio": ms[name] / ms[f"torch:{name}"],
                          "counterpart": recurrent.COUNTERPARTS[name][0]} for name in recurrent.CLASSIFIERS}
    B, T, I, H = (8, 5, 16, 32) if quick else (256, 30, 256, 1024)
    layers = {"ours": LSTM(I, H).to(device), "torch.nn.LSTM": nn.LSTM(I, H, batch_first=True).to(device)}
    inputs = torch.randn(B, T, I, device=device, requires_grad=True)

    def forward_backward(layer):
        def step():
            outputs, _ = layer(inputs)
            outputs.sum().backward()
        return step

    alone = alternating_ms({name: forward_backward(layer) for name, layer in layers.items()}, device, repeats, warmup)
    ratio = alone["ours"] / alone["torch.nn.LSTM"]
    return {"status": "ok",
            "headline": f"LSTM layer {B}x{T}x{I}->{H} forward+backward: ours {alone['ours']:.2f} ms, nn.LSTM "
                        f"{alone['torch.nn.LSTM']:.2f} ms (ratio {ratio:.2f}); classifier step ratios "
                        + ", ".join(f"{name} {r['ratio']:.2f}" for name, r in classifiers.items()),
            "classifier_step": classifiers,
            "classifier_config": {"batch": recurrent.BATCH, "T": recurrent.STEPS_T, "embedding": recurrent.EMBEDDING,
                                  "hidden": recurrent.HIDDEN},
            "lstm_layer_forward_backward_ms": alone, "lstm_layer_ratio": ratio,
            "lstm_layer_config": {"batch": B, "T": T, "input": I, "hidden": H},
            "our_loops": fused.backend() if device.type == "cpu" else "python (the C++ loops are CPU-only)",
            "repeats": repeats, "warmup": warmup}


def time_graph(device: torch.device, quick: bool) -> dict:
    """benchmarks/graph.py's Cora models (a full-batch training step and an evaluation pass), ours against PyG's,
    and the forward and backward of two GCN, GAT and GIN layers on a random graph with 64 features."""
    import graph  # benchmarks/graph.py, beside this file
    from torch_geometric import nn as pyg_nn

    from seqgraph.datadir import data_dir
    from seqgraph.graph.conv import GATConv, GCNConv, GINConv
    from seqgraph.graph.data import to_csr
    from seqgraph.graph.datasets.planetoid import load_planetoid
    from seqgraph.graph.level.models import mlp
    from seqgraph.graph.node.models import LayerStack
    from seqgraph.graph.node.train import test as evaluate
    from seqgraph.graph.node.train import train as train_step

    repeats, warmup = (3, 1) if quick else (20, 5)
    torch.manual_seed(0)
    cora = load_planetoid("cora", data_dir()).to(device)
    classes = int(cora.y.max()) + 1
    # graph.py's pairs: PyG's examples/gcn.py and gat.py, and ours with the features kept sparse
    pairs = {"gcn": (LayerStack("gcn", 1433, 16, classes, dropout=0.5, cached=True), graph.PygGCN(1433, 16, classes),
                     0.01),
             "gat": (LayerStack("gat", 1433, 8, classes, dropout=0.6, heads=8), graph.PygGAT(1433, 8, classes, 8),
                     0.005)}
    features = {"ours": to_csr(cora.x), "pyg": cora.x}
    functions = {}
    for name, (ours, theirs, lr) in pairs.items():
        for impl, model in (("ours", ours.to(device)), ("pyg", theirs.to(device))):
            optimizer = torch.optim.Adam(model.param_groups(5e-4), lr=lr)
            x = features[impl]
            functions[f"{name} {impl} train"] = lambda m=model, o=optimizer, x=x: train_step(m, o, x, cora)
            functions[f"{name} {impl} eval"] = lambda m=model, x=x: evaluate(m, x, cora)
    ms = alternating_ms(functions, device, repeats, warmup)
    cora_results = {name: {kind: {impl: ms[f"{name} {impl} {kind}"] for impl in ("ours", "pyg")}
                           for kind in ("train", "eval")} for name in pairs}
    for kinds in cora_results.values():
        for times in kinds.values():
            times["ratio"] = times["ours"] / times["pyg"]

    nodes, edges = (1000, 10_000) if quick else (100_000, 1_000_000)
    f = graph.FEATURES
    x = torch.randn(nodes, f, device=device)
    edge_index = torch.randint(nodes, (2, edges), device=device)
    layers = {"gcn": (lambda: GCNConv(f, f), lambda: pyg_nn.GCNConv(f, f)),
              "gat": (lambda: GATConv(f, f // 8, heads=8), lambda: pyg_nn.GATConv(f, f // 8, heads=8)),
              "gin": (lambda: GINConv(mlp(f, f, f)), lambda: pyg_nn.GINConv(mlp(f, f, f)))}
    def two_layers(build):
        first, second = build().to(device), build().to(device)

        def step():
            second(first(x, edge_index).relu(), edge_index).sum().backward()
        return step

    ms = alternating_ms({f"{name} {impl}": two_layers(build) for name, builds in layers.items()
                         for impl, build in zip(("ours", "pyg"), builds, strict=True)}, device, repeats, warmup)
    random_results = {name: {"ours_ms": ms[f"{name} ours"], "pyg_ms": ms[f"{name} pyg"],
                             "ratio": ms[f"{name} ours"] / ms[f"{name} pyg"]} for name in layers}
    return {"status": "ok",
            "headline": "Cora training step ours/PyG: " + ", ".join(
                f"{name} {r['train']['ratio']:.2f}" for name, r in cora_results.items())
                        + f"; 2 layers forward+backward on {nodes} nodes / {edges} edges: "
                        + ", ".join(f"{name} {r['ratio']:.2f}" for name, r in random_results.items()),
            "cora_ms": cora_results, "random_graph_ms": random_results,
            "random_graph": {"nodes": nodes, "edges": edges, "features": f}, "repeats": repeats, "warmup": warmup}


def time_temporal(device: torch.device, quick: bool) -> dict:
    """benchmarks/forecast.py's DCRNN training step (12 -> 12 steps, 2 layers of 64 units, 2 diffusion steps, masked
    MAE, Adam, clipping) at METR-LA's size on the graph autoregressive generator: ours against the same
    encoder-decoder loop of PyTorch Geometric Temporal's cells over the block-diagonal union of the batch's graphs.
    Both read the same windows, gathered on the host and moved to the device, and take the same loss."""
    if importlib.util.find_spec("torch_geometric_temporal") is None:
        return {"status": "skipped", "headline": "torch-geometric-temporal is not installed (gpu.sh --wheels "
                                                 "installs a carried wheel)"}
    import forecast  # benchmarks/forecast.py, beside this file

    sys.path.insert(0, str(ROOT))
    from seqgraph.graph.datasets.gvar import generate_gvar
    from seqgraph.graph.temporal import ForecastTrainer, default_config
    from seqgraph.graph.temporal.data import batch
    from tests.helpers import pyg_temporal

    pyg_temporal()  # imports it without torch-sparse and torch-scatter, which its DCRNN cell never calls
    repeats, warmup = (2, 1) if quick else (5, 2)
    nodes, length = (6, 200) if quick else forecast.SIZES["metr-la"]
    batch_size = 4 if quick else 64
    signal = generate_gvar(nodes, length)
    trainer = ForecastTrainer(signal, default_config("gvar", "dcrnn", batch_size=batch_size), seed=0, device=device)
    torch.manual_seed(0)
    theirs = forecast.PygtDCRNN(signal.num_features).to(device)
    edges = torch.cat([signal.edge_index + b * nodes for b in range(batch_size)], 1).to(device)
    union = (edges, signal.edge_weight.repeat(batch_size).to(device))
    features, values = trainer.features.cpu(), trainer.values.cpu()
    windows = trainer.batches()
    config = trainer.config

    def training_step(model, forward):
        optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, eps=config.eps)
        starts = iter(windows * (warmup + repeats))

        def step():
            window = next(starts)
            x, y = (t.to(device) for t in batch(features, values, window, config.window, config.horizon))
            true = trainer.raw[trainer.target_steps(window)]
            valid = true != 0
            loss = ((trainer.scaler.inverse(forward(x, y)) - true).abs() * valid).sum() / valid.sum()
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_norm)
            optimizer.step()
        return step

    ms = alternating_ms({
        "ours": training_step(trainer.model, lambda x, y: trainer.model(x, trainer.operators, targets=y,
                                                                        truth_probability=0.5)),
        "pygt": training_step(theirs, lambda x, y: theirs(x, union, y, 0.5))}, device, repeats, warmup)
    ratio = ms["ours"] / ms["pygt"]
    return {"status": "ok",
            "headline": f"DCRNN training step at {nodes} nodes, batch {batch_size}: ours {ms['ours']:.1f} ms, "
                        f"PyTorch Geometric Temporal {ms['pygt']:.1f} ms (ratio {ratio:.2f})",
            "step_ms": ms, "ratio": ratio, "steps_per_epoch": len(windows),
            "epoch_s": {impl: value * len(windows) / 1e3 for impl, value in ms.items()},
            "config": {"nodes": nodes, "series_steps": length, "batch": batch_size, "hidden": config.hidden_size,
                       "layers": config.num_layers, "K": config.K}, "repeats": repeats, "warmup": warmup}


TIMINGS = {"timing-recurrent": time_recurrent, "timing-graph": time_graph, "timing-temporal": time_temporal}


def child(name: str, device: torch.device, quick: bool, out: Path) -> None:
    """Run the timing ``name`` here, float32 without TF32 on both sides, and write its result to ``out``."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    out.write_text(json.dumps(TIMINGS[name](device, quick), indent=2) + "\n")


# --- the run ------------------------------------------------------------------------------------------------------


def environment(device: torch.device) -> dict:
    """The machine and the versions a result depends on."""
    info = {"device": str(device), "python": platform.python_version(), "torch": torch.__version__,
            "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version(), "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    if device.type == "cuda" and torch.cuda.is_available():
        info |= {"device_name": torch.cuda.get_device_name(device), "gpus": torch.cuda.device_count()}
    else:  # the CPU's model, as Linux names it
        cpuinfo = Path("/proc/cpuinfo")
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                 if line.startswith("model name")] if cpuinfo.exists() else []
        info["device_name"] = names[0] if names else platform.machine()
    for package in ("torch_geometric", "torch_geometric_temporal"):
        try:
            info[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            info[package] = None
    return info


def run_step(run: Run, name: str) -> dict:
    """One step under its budget (cut to the time the run has left); whatever it raises becomes its record."""
    budget = min(BUDGETS[name], run.seconds_left())
    record = {"step": name, "budget_s": BUDGETS[name], "quick": run.quick, "environment": run.environment}
    start = time.monotonic()
    if budget < MIN_STEP_S:
        record |= {"status": "skipped", "headline": f"no time left of the run's {TOTAL_S} s"}
    else:
        try:
            record |= STEPS[name](run, budget)
        except Exception as error:  # recorded; the next step runs
            record |= {"status": "failed", "headline": f"{type(error).__name__}: {error}",
                       "traceback": traceback.format_exc()[-TAIL:]}
    record["wall_s"] = time.monotonic() - start
    (run.out / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"{name}: {record['status']} in {record['wall_s']:.0f} s: {record['headline']}", flush=True)
    return record


def summarise(run: Run, records: list[dict], wall_s: float) -> bool:
    """Write summary.json and summary.md; whether every step that ran succeeded."""
    ok = all(r["status"] in ("ok", "skipped") for r in records)
    steps = {r["step"]: {key: r[key] for key in ("status", "wall_s", "budget_s", "headline")} for r in records}
    summary = {"ok": ok, "wall_s": wall_s, "quick": run.quick, "environment": run.environment, "steps": steps}
    (run.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    env = run.environment
    lines = [f"# A prepared GPU run on {env['device_name']} ({env['device']})", "",
             f"torch {env['torch']}, CUDA {env['cuda']}, cuDNN {env['cudnn']}, Python {env['python']}, PyG "
             f"{env['torch_geometric']}, PyTorch Geometric Temporal {env['torch_geometric_temporal']}; "
             f"{env['date']}; {wall_s:.0f} s in all{' (--quick)' if run.quick else ''}.", "",
             "| step | status | wall s | budget s | result |", "| --- | --- | ---: | ---: | --- |"]
    lines += [f"| {name} | {s['status']} | {s['wall_s']:.0f} | {s['budget_s']} | {s['headline']} |"
              for name, s in steps.items()]
    for record in records:
        for i, sample in enumerate(record.get("samples") or []):
            lines += ["", f"Sample {i + 1} of the text model:", "", *(f"> {line}" for line in sample.splitlines())]
    (run.out / "summary.md").write_text("\n".join(lines) + "\n")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    parser.add_argument("--quick", action="store_true", help="every step at a tiny size (seconds each)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "gpu",
                        help="where the records go (default: benchmarks/results/gpu)")
    parser.add_argument("--data-dir", type=Path, help="data directory (default: $SEQGRAPH_DATA)")
    parser.add_argument("--work", type=Path, help="folder for logs and checkpoints (default: a temporary one)")
    parser.add_argument("--only", nargs="+", choices=STEPS, help="these steps alone, in the usual order")
    parser.add_argument("--child", choices=TIMINGS, help=argparse.SUPPRESS)  # a timing, in its own process
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if args.child:
        child(args.child, device, args.quick, args.out)
        return 0
    start = time.monotonic()
    args.out.mkdir(parents=True, exist_ok=True)
    process_env = {**os.environ, "PYTHONUNBUFFERED": "1",
                   "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))}
    if args.data_dir:
        process_env["SEQGRAPH_DATA"] = str(args.data_dir.resolve())
    if device.type == "cpu":
        process_env.setdefault("OMP_NUM_THREADS", "1")  # tiny models: one thread is faster, and shares a loaded machine
    with tempfile.TemporaryDirectory(prefix="seqgraph-gpu-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        run = Run(device, args.quick, args.out, work, start + TOTAL_S, environment(device), process_env)
        records = [run_step(run, name) for name in STEPS if not args.only or name in args.only]
    ok = summarise(run, records, time.monotonic() - start)
    print(f"wrote {args.out}/: {len(records)} step records, summary.json, summary.md", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
