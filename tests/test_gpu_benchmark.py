"""benchmarks/gpu.py, the prepared GPU run, at its tiny size on the CPU: every step runs and records its success; a step
that fails, runs out of time or has no time left is recorded as such, and the steps after it still run."""

import importlib.util
import json
import os
import subprocess
import sys
import time

import pytest
import torch

from .test_benchmarks import BENCHMARKS, benchmark

STEPS = ["tests", "text", "torchrun", "timing-recurrent", "timing-graph", "timing-temporal"]


@pytest.fixture(scope="module")
def gpu():
    return benchmark("gpu")


def record(out, name: str) -> dict:
    return json.loads((out / f"{name}.json").read_text())


@pytest.mark.slow
def test_the_quick_run_through_its_wrapper_records_every_step_as_a_success(shared_data, tmp_path):
    out = tmp_path / "gpu"
    done = subprocess.run(["bash", str(BENCHMARKS / "gpu.sh"), "--device", "cpu", "--quick", "--data-dir",
                           str(shared_data), "--out", str(out)], env={**os.environ, "PYTHON": sys.executable},
                          capture_output=True, text=True, timeout=480)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    # the 8 files a device call brings back: one record per step and the summaries
    assert sorted(p.name for p in out.iterdir()) == sorted([*(f"{name}.json" for name in STEPS), "summary.json",
                                                             "summary.md"])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["ok"] and list(summary["steps"]) == STEPS
    for name in STEPS:
        step = record(out, name)
        assert step["status"] == "ok", (name, step["headline"], step.get("process"))
        assert 0 < step["wall_s"] <= step["budget_s"] + 15
        assert step["environment"]["torch"] == torch.__version__ and step["environment"]["device"] == "cpu"
    tests = record(out, "tests")
    assert tests["counts"]["passed"] > 0 and tests["counts"]["failed"] == tests["counts"]["errors"] == 0
    text = record(out, "text")
    assert text["steps"] == 3 and text["best_validation"]["bits"] > 0 and len(text["samples"]) == 3
    assert all(len(sample) >= 300 for sample in text["samples"])
    torchrun = record(out, "torchrun")
    assert torchrun["backend"] == "gloo" and torchrun["results"]["steps"] == 3
    assert record(out, "timing-recurrent")["lstm_layer_ratio"] > 0
    assert set(record(out, "timing-graph")["random_graph_ms"]) == {"gcn", "gat", "gin"}
    assert record(out, "timing-temporal")["ratio"] > 0
    assert "| text | ok |" in (out / "summary.md").read_text()


@pytest.mark.slow
def test_a_failing_step_is_recorded_and_the_next_one_still_runs(gpu, tmp_path, monkeypatch):
    def broken(run, budget):
        raise RuntimeError("the text step broke")

    monkeypatch.setitem(gpu.STEPS, "text", broken)
    assert gpu.main(["--device", "cpu", "--quick", "--out", str(tmp_path), "--only", "text", "timing-recurrent"]) == 1
    text = record(tmp_path, "text")
    assert text["status"] == "failed" and text["headline"] == "RuntimeError: the text step broke"
    assert "in broken" in text["traceback"]
    assert record(tmp_path, "timing-recurrent")["status"] == "ok"
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert not summary["ok"] and {name: s["status"] for name, s in summary["steps"].items()} == {
        "text": "failed", "timing-recurrent": "ok"}


def test_a_process_past_its_budget_is_stopped_and_recorded_as_timed_out(gpu, tmp_path):
    start = time.monotonic()
    finished = gpu.run_command([sys.executable, "-c", "import time; print('started', flush=True); time.sleep(60)"],
                               3, tmp_path / "sleeper")
    assert finished["timed_out"] and time.monotonic() - start < 3 + gpu.GRACE_S
    assert "started" in finished["stdout_tail"] and gpu.status_of(finished) == "timeout"
    failed = gpu.run_command([sys.executable, "-c", "raise SystemExit(3)"], 60, tmp_path / "failing")
    assert gpu.status_of(failed) == "failed" and gpu.status_of(finished, failed) == "timeout"


def test_steps_without_time_left_are_skipped(gpu, tmp_path, monkeypatch):
    monkeypatch.setattr(gpu, "TOTAL_S", 0)
    assert gpu.main(["--device", "cpu", "--quick", "--out", str(tmp_path), "--only", "tests", "text"]) == 0
    for name in ("tests", "text"):
        assert record(tmp_path, name)["status"] == "skipped"
        assert record(tmp_path, name)["headline"] == "no time left of the run's 0 s"


def test_the_temporal_timing_is_skipped_without_pytorch_geometric_temporal(gpu, monkeypatch):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "torch_geometric_temporal" else find_spec(name, *args))
    result = gpu.time_temporal(torch.device("cpu"), quick=True)
    assert result["status"] == "skipped" and "not installed" in result["headline"]
