"""Issue 8 through the command line: real processes stopped and resumed, non-finite losses, bad input, determinism.

Covered elsewhere and not repeated here: SIGKILL of a real `text train` (and SIGTERM) in test_text_cli.py, SIGKILL
of a real `toy` process, an in-process SIGTERM and the same toy command twice in test_memory_cli.py,
empty/missing/undecodable/short corpora, unknown prompt characters, corrupt `--checkpoint` files and invalid numbers
of `text` in test_text_cli.py, property tests of the task generators in test_memory_tasks.py and of the graph code in
test_graph_fuzz.py.
"""

import json
import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch

from seqgraph import checkpoint
from seqgraph.cli import main
from seqgraph.datadir import data_dir

from .conftest import missing_mirror

TEXT = "the people of the union govern the states, and the states govern the towns.\n" * 40
TEXT_TINY = ["--batch", "4", "--seq-len", "10", "--hidden", "16", "--embedding", "8", "--seed", "5"]
# dropout draws from the global torch generator, the cosine schedule has state, eval and samples fall mid-run
TEXT_RUN = [*TEXT_TINY, "--dropout", "0.1", "--steps", "100", "--eval-every", "25", "--checkpoint-every", "5"]
TOY_RUN = ["toy", "--task", "randomcomb", "--model", "lstm", "--hidden", "16", "--batch", "32", "--lr", "0.01",
           "--eval-batches", "2", "--eval-batch-size", "32", "--length", "5", "--seeds", "1", "--max-steps", "150",
           "--checkpoint-every", "5", "--stop-rule", "literal", "--run-to-max"]
TOY_CKPT = "checkpoints/length5-seed1.pt"



def exit_code(argv) -> int:
    try:
        return main(argv)
    except SystemExit as e:  # argparse errors
        return e.code


def snapshot(folder):
    """Every file under ``folder`` and its bytes (None when the folder does not exist)."""
    if not folder.exists():
        return None
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def interrupt(argv, first_checkpoint, sig):
    """Run ``seqgraph argv`` in a real process, send ``sig`` once ``first_checkpoint`` exists; its exit code."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "seqgraph", *argv], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not first_checkpoint.exists():  # training runs and the handlers are installed
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    proc.send_signal(sig)
    return proc.wait(timeout=120)


def assert_same_parameters(a: dict, b: dict):
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), [k for k in a if not torch.equal(a[k], b[k])]


# ------------------------------------------------------------------------------- signals and exact resume

@pytest.mark.slow
def test_text_ctrl_c_saves_where_it_stopped_and_resumes_bitwise(tmp_path):
    corpus = tmp_path / "book.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    args = ["text", "train", "--corpus", str(corpus), *TEXT_RUN]
    assert main([*args, "--out", str(tmp_path / "straight")]) == 0

    cut = tmp_path / "cut"
    assert interrupt([*args, "--out", str(cut)], cut / "checkpoint.pt", signal.SIGINT) == 130
    ckpt, results = checkpoint.load(cut / "checkpoint.pt"), json.loads((cut / "results.json").read_text())
    assert results["interrupted"] == signal.SIGINT and 5 <= ckpt["step"] < 100
    assert ckpt["step"] == results["steps"] == len(ckpt["history"]["train"])  # saved at the step it reached

    assert main([*args, "--resume", str(cut)]) == 0
    straight = checkpoint.load(tmp_path / "straight" / "checkpoint.pt")
    resumed = checkpoint.load(cut / "checkpoint.pt")
    assert_same_parameters(resumed["model"], straight["model"])
    assert resumed["optimizer"]["state"][0]["step"] == straight["optimizer"]["state"][0]["step"] == 100
    # the log survives the interruption: curves, samples and best validation cover the whole run
    a, b = (json.loads((d / "results.json").read_text()) for d in (tmp_path / "straight", cut))
    for key in ("steps", "final_val", "best_val", "final_train_loss", "clip_fraction", "samples"):
        assert a[key] == b[key], key


@pytest.mark.slow
def test_toy_ctrl_c_saves_where_it_stopped_and_resumes_bitwise(tmp_path):
    assert main([*TOY_RUN, "--out", str(tmp_path / "straight")]) == 0

    cut = tmp_path / "cut"
    assert interrupt([*TOY_RUN, "--out", str(cut)], cut / TOY_CKPT, signal.SIGINT) == 130
    state = checkpoint.load(cut / TOY_CKPT)["trainer"]
    assert 5 <= state["step"] < 150 and state["step"] == len(state["history"]["loss"])
    assert not (cut / "results.json").exists()

    assert main([*TOY_RUN, "--out", str(cut), "--resume"]) == 0
    expected = checkpoint.load(tmp_path / "straight" / TOY_CKPT)["trainer"]["model"]
    assert_same_parameters(checkpoint.load(cut / TOY_CKPT)["trainer"]["model"], expected)
    assert (cut / "results.json").read_text() == (tmp_path / "straight" / "results.json").read_text()


# --------------------------------------------------------------------------------------- non-finite loss

def blow_up_weights_after_each_update(monkeypatch):
    """Every Adam update ends by scaling the weights by 1e37: still finite, but the next forward pass overflows."""
    update = torch.optim.Adam.step

    def step(self, *args, **kwargs):
        result = update(self, *args, **kwargs)
        with torch.no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    p.mul_(1e37)
        return result
    monkeypatch.setattr(torch.optim.Adam, "step", step)


@pytest.mark.parametrize("command", ["text", "toy"])
def test_non_finite_loss_exits_3_naming_the_step_and_keeps_the_last_checkpoint(tmp_path, capsys, monkeypatch,
                                                                               command):
    if command == "text":
        corpus = tmp_path / "book.txt"
        corpus.write_text(TEXT, encoding="utf-8")
        argv, ckpt = ["text", "train", "--corpus", str(corpus), *TEXT_TINY, "--steps", "20"], "checkpoint.pt"
    else:
        argv, ckpt = TOY_RUN, TOY_CKPT
    blow_up_weights_after_each_update(monkeypatch)
    out = tmp_path / "out"
    assert main([*argv, "--checkpoint-every", "1", "--out", str(out)]) == 3
    last_line = capsys.readouterr().err.split("\n")[-2]  # after the progress bar
    stopped = re.search(r"loss became (inf|nan) at step (\d+); stopped, the last good checkpoint is kept", last_line)
    assert stopped and int(stopped[2]) >= 2, last_line
    saved = checkpoint.load(out / ckpt)
    assert (saved["step"] if command == "text" else saved["trainer"]["step"]) == int(stopped[2]) - 1
    assert not (out / "results.json").exists()


# --------------------------------------------------------------------------------------------- bad input

@pytest.fixture(scope="module")
def text_folder(tmp_path_factory):
    """A finished tiny `text train --corpus book.txt --out run` in a folder (paths relative to it)."""
    root = tmp_path_factory.mktemp("text")
    (root / "book.txt").write_text(TEXT, encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        assert main(["text", "train", "--corpus", "book.txt", *TEXT_TINY, "--steps", "2", "--out", "run"]) == 0
    return root


def text_rerun(corpus: bytes, damage=None):
    """The same `text train` again, into the finished run, after the corpus (and maybe the checkpoint) changed."""
    def setup(tmp_path, text_folder):
        shutil.copytree(text_folder / "run", tmp_path / "run")
        (tmp_path / "book.txt").write_bytes(corpus)
        if damage:
            damage(tmp_path / "run" / "checkpoint.pt")
        argv = ["text", "train", "--corpus", "book.txt", *TEXT_TINY, "--steps", "2", "--out", "run"]
        return argv + (["--resume", "run"] if damage else []), tmp_path / "run"
    return setup


def truncate(path):
    path.write_bytes(path.read_bytes()[:300])


class Payload:
    """Unpickling this would create a file."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return os.mknod, (self.path,)


def planetoid(change):
    """`graph train` on a copy of the Cora files, changed by ``change(folder)``; --out is a fresh folder."""
    def setup(tmp_path, text_folder):
        cora, folder = data_dir() / "planetoid" / "cora", tmp_path / "data"
        if not cora.is_dir():
            missing_mirror()
        shutil.copytree(cora, folder, copy_function=shutil.copyfile)
        folder.chmod(0o755)  # the mirror is read-only
        change(folder)
        return ["graph", "train", "--dataset", str(folder), "--seeds", "0", "--epochs", "2",
                "--out", str(tmp_path / "out")], tmp_path / "out"
    return setup


def evil(folder):
    """Rename the dataset (so no checksum is known) and replace its graph with a pickle that runs code."""
    for p in folder.iterdir():
        p.rename(folder / p.name.replace("ind.cora.", "ind.evil."))
    (folder / "ind.evil.graph").write_bytes(pickle.dumps(Payload(folder.parent / "pwned"), protocol=2))


def other_experiment(tmp_path, text_folder):
    argv, out = planetoid(lambda folder: None)(tmp_path, text_folder)
    out.mkdir()
    (out / "run.json").write_text(json.dumps({"command": "toy", "config": {"lengths": [5]}}))
    (out / "results.json").write_text("{}")
    return argv, out


def parse_error(argv):
    return lambda tmp_path, text_folder: ([*argv, "--out", str(tmp_path / "out")], tmp_path / "out")


BAD_INPUT = {
    "non-UTF-8 corpus": (text_rerun("Liberté, égalité\n".encode("latin-1") * 20), "not UTF-8"),
    "binary corpus": (text_rerun(b"\x00\x01\x02\x03 ELF" * 50), "binary"),
    "truncated checkpoint": (text_rerun(TEXT.encode(), damage=truncate), "corrupt or truncated"),
    "Planetoid file missing": (planetoid(lambda f: (f / "ind.cora.tx").unlink()), "lacks ind.cora.tx"),
    "Planetoid wrong checksum": (planetoid(lambda f: (f / "ind.cora.y").write_bytes(
        (f / "ind.cora.y").read_bytes()[:-1] + b"\x00")), "wrong sha256"),
    "Planetoid pickle with code": (planetoid(evil), "refusing to load posix.mknod"),
    "--out of another experiment": (other_experiment, "another experiment"),
    "toy negative steps": (parse_error(["toy", "--max-steps", "-3"]), "--max-steps"),
    "toy length 1": (parse_error(["toy", "--length", "1"]), "--length 1"),
    "graph 0 epochs": (parse_error(["graph", "train", "--epochs", "0"]), "--epochs"),
    "text batch 0": (parse_error(["text", "train", "--batch", "0"]), "--batch"),
    "graph infinite lr": (parse_error(["graph", "train", "--lr", "inf"]), "finite"),
    "text absurd lr": (parse_error(["text", "train", "--lr", "1e38"]), "--lr: must be at most 10"),
    "text temperature < 0": (parse_error(["text", "sample", "--checkpoint", "x", "--temperature", "-0.5"]),
                             "--temperature"),
}


@pytest.mark.parametrize("setup, message", BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_bad_input_exits_2_with_one_line_and_overwrites_nothing(tmp_path, capsys, monkeypatch, text_folder, setup,
                                                               message):
    monkeypatch.chdir(tmp_path)
    argv, out = setup(tmp_path, text_folder)
    before = snapshot(out)
    assert exit_code(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err, err
    assert snapshot(out) == before
    assert not (tmp_path / "pwned").exists()


# ------------------------------------------------------------------------------------------- determinism

@pytest.mark.parametrize("model", ["gcn", "gat"])
def test_graph_run_twice_gives_identical_results(shared_data, tmp_path, model):
    for out in ("a", "b"):
        assert main(["graph", "train", "--model", model, "--seeds", "0", "1", "--epochs", "3", "--hidden", "8",
                     "--data-dir", str(shared_data), "--device", "cpu", "--out", str(tmp_path / out)]) == 0
    a, b = (json.loads((tmp_path / out / "results.json").read_text()) for out in ("a", "b"))
    for results in (a, b):
        for run in results["runs"]:
            del run["seconds_per_epoch"]  # the one timing
    assert a == b
    assert (tmp_path / "a" / "history.json").read_text() == (tmp_path / "b" / "history.json").read_text()
