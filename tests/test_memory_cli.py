import json
import math
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from seqgraph import checkpoint
from seqgraph.cli import main
from seqgraph.memory.train import ToyTrainer

TINY = ["toy", "--task", "randomcomb", "--model", "lstm", "--hidden", "16", "--batch", "32", "--lr", "0.01",
        "--eval-batches", "2", "--eval-batch-size", "32"]


def toy(out, *extra):
    return main([*TINY, "--out", str(out), *extra])


def test_toy_writes_results_plots_logs_and_checkpoints(tmp_path, capsys):
    assert toy(tmp_path, "--length", "3", "4", "--seeds", "1", "2", "--max-steps", "12") == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert [(r["length"], r["seed"]) for r in results["runs"]] == [(3, 1), (3, 2), (4, 1), (4, 2)]
    run = results["runs"][0]
    assert set(run["termination_step"]) == {"default", "literal"}
    assert 0 <= run["eval_accuracy"] <= 1 and run["final_loss"] > 0
    assert results["stop_rule"] == "default" and results["config"]["lengths"] == [3, 4]
    assert set(results["aggregate"]) == {"3", "4"}
    for name in ("accuracy.png", "loss.png", "checkpoints/length4-seed2.pt"):
        assert (tmp_path / name).stat().st_size > 0
    assert any((tmp_path / "tensorboard" / "length3-seed1").iterdir())
    assert "term(literal)" in capsys.readouterr().out


def test_same_command_twice_gives_identical_results(tmp_path):
    for out in ("a", "b"):
        assert toy(tmp_path / out, "--length", "4", "--seeds", "3", "--max-steps", "12", "--stop-rule", "literal") == 0
    a, b = ((tmp_path / out / "results.json").read_text() for out in ("a", "b"))
    assert a == b


def exit_code(argv):
    try:
        return main(argv)
    except SystemExit as e:  # argparse errors
        return e.code


@pytest.mark.parametrize("extra, message", [
    (["--length", "1"], "length"),
    (["--batch", "0"], "positive integer"),
    (["--task", "parity"], "invalid choice"),
    (["--lr", "-1"], "positive number"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, extra, message):
    assert exit_code([*TINY, "--out", str(tmp_path), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "results.json").exists()


@pytest.mark.parametrize("command", ["toy", "gradients"])
def test_help(capsys, command):
    assert exit_code([command, "--help"]) == 0
    assert "--out" in capsys.readouterr().out


def test_other_experiments_and_bad_checkpoints_are_refused(tmp_path, capsys):
    assert toy(tmp_path, "--length", "3", "--seeds", "1", "--max-steps", "5") == 0
    before = (tmp_path / "results.json").read_text()
    assert toy(tmp_path, "--length", "3", "--seeds", "1", "--max-steps", "6") == 2
    assert "another experiment" in capsys.readouterr().err
    assert (tmp_path / "results.json").read_text() == before
    # --resume continues this run only, --force or not: forcing would rewrite run.json for the old checkpoints
    assert toy(tmp_path, "--length", "3", "--seeds", "1", "--max-steps", "6", "--force", "--resume") == 2
    assert "holds a run of other settings" in capsys.readouterr().err
    assert json.loads((tmp_path / "run.json").read_text())["config"]["max_steps"] == 5
    (tmp_path / "checkpoints" / "length3-seed1.pt").write_bytes(b"PK\x03\x04 truncated")
    assert toy(tmp_path, "--length", "3", "--seeds", "1", "--max-steps", "5", "--force", "--resume") == 2
    assert "corrupt or truncated" in capsys.readouterr().err


def test_resume_refuses_a_folder_without_a_run(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    for out in ("missing", "empty"):  # it would have started a fresh run
        assert toy(tmp_path / out, "--length", "3", "--seeds", "1", "--max-steps", "5", "--resume") == 2
        assert capsys.readouterr().err.strip().endswith(f"--resume: {tmp_path / out} holds no run to continue")
    assert not (tmp_path / "missing").exists() and not any((tmp_path / "empty").iterdir())


@pytest.mark.slow
def test_interrupted_runs_resume_bitwise_exactly(tmp_path, monkeypatch):
    args = ["--length", "5", "--seeds", "1", "--max-steps", "200", "--checkpoint-every", "5", "--stop-rule", "literal",
            "--run-to-max"]
    assert toy(tmp_path / "straight", *args) == 0
    ckpt = "checkpoints/length5-seed1.pt"

    # SIGTERM: the step under way finishes, a checkpoint is written at that step, exit code 143 (128 + 15)
    train_step = ToyTrainer.train_step

    def train_step_then_sigterm(trainer):
        record = train_step(trainer)
        if record.step == 7:
            os.kill(os.getpid(), signal.SIGTERM)
        return record

    monkeypatch.setattr(ToyTrainer, "train_step", train_step_then_sigterm)
    assert toy(tmp_path / "terminated", *args) == 143
    monkeypatch.undo()
    assert checkpoint.load(tmp_path / "terminated" / ckpt)["trainer"]["step"] == 7

    # SIGKILL of a real process: nothing is saved at the end, the last periodic checkpoint stays
    env = {**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())}
    proc = subprocess.Popen([sys.executable, "-m", "seqgraph", *TINY, "--out", str(tmp_path / "killed"), *args],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not (tmp_path / "killed" / ckpt).exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    step = checkpoint.load(tmp_path / "killed" / ckpt)["trainer"]["step"]
    assert 0 < step < 200 and step % 5 == 0

    expected = checkpoint.load(tmp_path / "straight" / ckpt)["trainer"]["model"]
    for out in ("terminated", "killed"):
        assert toy(tmp_path / out, *args, "--resume") == 0
        resumed = checkpoint.load(tmp_path / out / ckpt)["trainer"]["model"]
        assert all(torch.equal(value, resumed[name]) for name, value in expected.items()), out
        assert (tmp_path / out / "results.json").read_text() == (tmp_path / "straight" / "results.json").read_text()


def test_resume_skips_finished_runs(tmp_path):
    assert toy(tmp_path, "--length", "3", "--seeds", "1", "--max-steps", "10") == 0
    before = (tmp_path / "results.json").read_text()
    mtime = (tmp_path / "checkpoints" / "length3-seed1.pt").stat().st_mtime_ns
    assert toy(tmp_path, "--length", "3", "--seeds", "1", "--max-steps", "10", "--resume") == 0
    assert (tmp_path / "results.json").read_text() == before
    assert (tmp_path / "checkpoints" / "length3-seed1.pt").stat().st_mtime_ns == mtime


def test_gradients_command(tmp_path):
    args = ["gradients", "--model", "lstm", "--length", "6", "--hidden", "8", "--batch", "4", "--trained-steps", "3",
            "--radii", "0.5", "1.5", "--out", str(tmp_path)]
    assert main(args) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert list(results["model_curves"]) == ["fresh", "trained 3 steps"]
    assert set(results["rnn_sweep"]) == {"0.5", "1.5"} and len(results["rnn_sweep"]["0.5"]) == 6
    assert (tmp_path / "gradient_flow.png").stat().st_size > 0
    # a smaller recurrent matrix lets less gradient through to h(1)
    assert results["rnn_sweep"]["0.5"][0] / results["rnn_sweep"]["0.5"][-1] < (
        results["rnn_sweep"]["1.5"][0] / results["rnn_sweep"]["1.5"][-1])


def test_gradients_refuses_radii_that_overflow_float32(tmp_path, capsys):
    # --radii 1e300 scaled W_hh past float32 and wrote NaN norms to results.json (which is not JSON then)
    with pytest.raises(SystemExit) as info:
        main(["gradients", "--radii", "1", "1e300", "--out", str(tmp_path / "g")])
    assert info.value.code == 2 and "argument --radii: must be at most 1e+06, got 1e300" in capsys.readouterr().err
    assert not (tmp_path / "g").exists()
    # the largest radius allowed, over a long sequence: tanh saturates, the norms stay finite
    assert main(["gradients", "--length", "250", "--hidden", "4", "--batch", "2", "--radii", "1e6",
                 "--out", str(tmp_path / "g")]) == 0
    results = json.loads((tmp_path / "g" / "results.json").read_text())
    assert all(math.isfinite(v) for v in results["rnn_sweep"]["1e+06"])
