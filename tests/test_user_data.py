"""Nothing of the user's is overwritten or lost, crafted data cannot crash the process, bad input exits 2.

Each test here reproduced a defect of the command line before it was fixed (issue 19).
"""

import errno
import os
import pathlib
import pickle
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import scipy.sparse
import torch

from seqgraph import checkpoint
from seqgraph.cli import main
from seqgraph.datadir import data_dir

from .conftest import missing_mirror
from .test_reliability import TEXT, TEXT_TINY, TOY_CKPT, TOY_RUN, exit_code, interrupt, snapshot

TEXT_SHORT_RUN = [*TEXT_TINY, "--steps", "6", "--eval-every", "3", "--checkpoint-every", "2"]
TOY_SHORT = ["toy", "--task", "randomcomb", "--hidden", "8", "--batch", "16", "--eval-batches", "1",
             "--eval-batch-size", "16", "--length", "4", "--seeds", "1", "--max-steps", "4"]


@pytest.fixture
def book(tmp_path):
    path = tmp_path / "book.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


def one_line_error(capsys, *needles):
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


# ---------------------------------------------------------------------------- 1. a folder of the user's

@pytest.mark.parametrize("command", ["text", "toy"])
def test_an_ordinary_folder_given_as_out_is_refused_and_left_as_it_was(tmp_path, book, capsys, command):
    mine = tmp_path / "d"
    mine.mkdir()
    for name in ("samples.md", "checkpoint.pt", "accuracy.png", "loss.png"):
        (mine / name).write_text("mine")
    before = snapshot(mine)
    argv = (["text", "train", "--corpus", str(book), *TEXT_SHORT_RUN] if command == "text" else TOY_SHORT)
    assert exit_code([*argv, "--out", str(mine)]) == 2
    one_line_error(capsys, "--out", "--force")
    assert snapshot(mine) == before
    # an empty folder is fine
    empty = tmp_path / "empty"
    empty.mkdir()
    assert exit_code([*argv, "--out", str(empty)]) == 0


def test_a_run_refused_for_a_short_corpus_writes_nothing_and_the_corrected_retry_runs(tmp_path, book, capsys):
    short = tmp_path / "short.txt"
    short.write_text("tiny text\n", encoding="utf-8")
    out = tmp_path / "run"
    out.mkdir()
    assert exit_code(["text", "train", "--corpus", str(short), *TEXT_SHORT_RUN, "--out", str(out)]) == 2
    one_line_error(capsys, "--seq-len")
    assert snapshot(out) == {}  # no run.json, no corpus cache
    assert exit_code(["text", "train", "--corpus", str(book), *TEXT_SHORT_RUN, "--out", str(out)]) == 0


# -------------------------------------------------------------------- 2. crafted Planetoid pickles

def crafted_planetoid(tmp_path, matrix) -> list[str]:
    """A copy of Cora under another name (no checksum pinned) whose ``x`` is ``matrix``."""
    cora, folder = data_dir() / "planetoid" / "cora", tmp_path / "data"
    if not cora.is_dir():
        missing_mirror()
    folder.mkdir()
    for p in cora.iterdir():
        shutil.copyfile(p, folder / p.name.replace("ind.cora.", "ind.evil."))
    (folder / "ind.evil.x").write_bytes(pickle.dumps(matrix, protocol=4))  # 2 would need _codecs, refused anyway
    return ["graph", "train", "--dataset", str(folder), "--seeds", "0", "--epochs", "1", "--out", str(tmp_path / "o")]


def forged_indices():
    m = scipy.sparse.csr_matrix(np.eye(8, 5, dtype=np.float32))
    m.indices[2] = 10**8  # toarray() would write 400 MB past the buffer
    return m


def forged_shape():
    m = scipy.sparse.csr_matrix(np.eye(8, 5, dtype=np.float32))
    m._shape = (10**7, 10**7)  # a dense copy would need 400 TB
    return m


def forged_indptr():
    m = scipy.sparse.csr_matrix(np.eye(8, 5, dtype=np.float32))
    m.indptr[3] = 7  # not monotone
    return m


@pytest.mark.parametrize("forge", [forged_indices, forged_shape, forged_indptr])
def test_a_crafted_planetoid_matrix_is_refused_in_one_line(tmp_path, forge):
    argv = crafted_planetoid(tmp_path, forge())
    # a real process: the defect was a segmentation fault, which would take pytest down with it
    proc = subprocess.run([sys.executable, "-m", "seqgraph", *argv], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "ind.evil.x" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------ 3. progress is never thrown away

@pytest.mark.slow
def test_text_rerun_without_resume_refuses_instead_of_starting_over(tmp_path, book, capsys):
    args = ["text", "train", "--corpus", str(book), *TEXT_TINY, "--steps", "400", "--checkpoint-every", "5",
            "--out", str(tmp_path / "run")]
    assert interrupt(args, tmp_path / "run" / "checkpoint.pt", signal.SIGTERM) == 143
    saved = checkpoint.load(tmp_path / "run" / "checkpoint.pt")["step"]
    before = snapshot(tmp_path / "run")
    assert exit_code(args) == 2
    one_line_error(capsys, "--resume", "--force", f"step {saved}")
    assert snapshot(tmp_path / "run") == before


@pytest.mark.slow
def test_toy_rerun_without_resume_refuses_instead_of_starting_over(tmp_path, capsys):
    out = tmp_path / "run"
    argv = [*TOY_RUN, "--out", str(out)]
    assert interrupt(argv, out / TOY_CKPT, signal.SIGTERM) == 143
    before = snapshot(out)
    assert exit_code(argv) == 2
    one_line_error(capsys, "--resume", "--force")
    assert snapshot(out) == before


# ------------------------------------------------------------------------ 4. one run per folder

@pytest.mark.slow
def test_a_second_run_into_the_same_folder_exits_2_naming_the_first(tmp_path, book):
    out = tmp_path / "run"
    argv = ["text", "train", "--corpus", str(book), *TEXT_TINY, "--steps", "100000", "--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    first = subprocess.Popen([sys.executable, "-m", "seqgraph", *argv], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not (out / "run.json").exists():
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
        second = subprocess.run([sys.executable, "-m", "seqgraph", *argv], env=env, capture_output=True, text=True,
                                timeout=120)
        assert second.returncode == 2 and f"process {first.pid}" in second.stderr, second.stderr
        assert second.stderr.count("\n") == 1
    finally:
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=120) == 143


# ----------------------------------------------------------- 5. one line instead of a traceback

def trained_text(tmp_path, book) -> tuple[list[str], object]:
    out = tmp_path / "run"
    args = ["text", "train", "--corpus", str(book), *TEXT_SHORT_RUN]
    assert main([*args, "--out", str(out)]) == 0
    return args, out


@pytest.mark.parametrize("damage", ["missing key", "wrong shape"])
def test_a_checkpoint_with_missing_keys_or_wrong_shapes_is_refused(tmp_path, book, capsys, damage):
    args, out = trained_text(tmp_path, book)
    ckpt = checkpoint.load(out / "checkpoint.pt")
    if damage == "missing key":
        del ckpt["optimizer"]
    else:
        ckpt["model"]["head.weight"] = torch.zeros(3, 3)
    checkpoint.save_atomic(ckpt, out / "checkpoint.pt")
    capsys.readouterr()
    assert exit_code([*args, "--resume", str(out)]) == 2
    one_line_error(capsys, "checkpoint.pt")


def test_an_unwritable_out_and_a_full_disk_exit_2_in_one_line(tmp_path, book, capsys, monkeypatch):
    # the suite runs as root, which permissions do not stop: the operating system's refusal is simulated
    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "ro"))
    with monkeypatch.context() as m:
        m.setattr("seqgraph.atomic.tempfile.mkstemp", refuse)
        assert exit_code(["text", "train", "--corpus", str(book), *TEXT_SHORT_RUN, "--out", str(tmp_path / "ro")]) == 2
    one_line_error(capsys, "Permission denied")

    args, out = trained_text(tmp_path, book)
    before = (out / "checkpoint.pt").read_bytes()

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(torch, "save", full)
    capsys.readouterr()
    assert exit_code([*args, "--out", str(out), "--force"]) == 2  # the run starts over and cannot save
    one_line_error(capsys, "No space left on device", "kept")
    assert (out / "checkpoint.pt").read_bytes() == before


def test_an_unreadable_corpus_and_odd_data_directories_exit_2(tmp_path, book, capsys, monkeypatch):
    read_bytes = pathlib.Path.read_bytes

    def unreadable(path):
        if path == book:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return read_bytes(path)
    with monkeypatch.context() as m:
        m.setattr(pathlib.Path, "read_bytes", unreadable)
        assert exit_code(["text", "train", "--corpus", str(book), *TEXT_SHORT_RUN, "--out", str(tmp_path / "a")]) == 2
    one_line_error(capsys, "Permission denied")

    a_file = tmp_path / "not-a-folder"
    a_file.write_text("x")
    monkeypatch.setenv("SEQGRAPH_DATA", str(a_file))
    assert exit_code(["text", "train", "--corpus", "democracy", *TEXT_SHORT_RUN, "--out", str(tmp_path / "b")]) == 2
    one_line_error(capsys, "SEQGRAPH_DATA", "not a folder")

    root = tmp_path / "data"
    (root / "books" / "book_EN_democracy_in_the_US.txt").mkdir(parents=True)
    monkeypatch.setenv("SEQGRAPH_DATA", str(root))
    assert exit_code(["text", "train", "--corpus", "democracy", *TEXT_SHORT_RUN, "--out", str(tmp_path / "c")]) == 2
    one_line_error(capsys, "not a regular file")


@pytest.mark.parametrize("argv, message", [
    (["text", "train", "--hidden", "200000"], "memory"),
    (["text", "train", "--batch", "1000000", "--seq-len", "100"], "memory"),
    (["toy", "--hidden", "300000"], "memory"),
    (["text", "train", "--seed", str(2**40)], "--seed"),
    (["toy", "--seeds", str(2**40)], "--seeds"),
    (["toy", "--seeds", "1", "1"], "--seeds"),
    (["toy", "--length", "6", "6"], "--length"),
    (["text", "sample", "--checkpoint", "x", "--temperature", "1e-30"], "--temperature"),
    (["text", "sample", "--checkpoint", "x", "--inverse-temperature", "1e30"], "--inverse-temperature"),
    (["text", "train", "--val-fraction", "1.5"], "(0, 1)"),
    (["text", "train", "--val-fraction", "0"], "(0, 1)"),
])
def test_numbers_outside_their_range_exit_2_before_anything_is_allocated(tmp_path, book, capsys, argv, message):
    if argv[:2] == ["text", "train"]:
        argv = [*argv, "--corpus", str(book)]
    assert exit_code([*argv, "--out", str(tmp_path / "o")] if argv[1] != "sample" else argv) == 2
    one_line_error(capsys, message)
    assert not (tmp_path / "o").exists()


def test_a_learning_rate_that_decays_to_infinity_is_a_non_finite_run(tmp_path, book, capsys):
    argv = ["text", "train", "--corpus", str(book), *TEXT_TINY, "--steps", "60", "--schedule", "step",
            "--lr-decay", "1e30", "--lr-decay-every", "1", "--out", str(tmp_path / "o")]
    assert exit_code(argv) == 3
    one_line_error(capsys, "learning rate became")


def test_a_tampered_corpus_cache_is_rebuilt(tmp_path, book):
    args, out = trained_text(tmp_path, book)
    cache = next(out.glob("corpus-*.npy"))
    codes = np.load(cache)
    codes[:50] = 250  # beyond the vocabulary
    np.save(cache, codes)
    assert exit_code([*args, "--resume", str(out)]) == 0
    assert np.load(cache).max() < 250


# -------------------------------------------------------------------------------------- 6. smaller

def test_resume_with_another_corpus_changes_nothing_in_the_folder(tmp_path, book, capsys):
    args, out = trained_text(tmp_path, book)
    other = tmp_path / "other.txt"
    other.write_text(TEXT.upper(), encoding="utf-8")
    before = snapshot(out)
    assert exit_code(["text", "train", "--corpus", str(other), *TEXT_SHORT_RUN, "--resume", str(out)]) == 2
    one_line_error(capsys, "corpus")
    assert snapshot(out) == before


def test_stale_temporary_checkpoints_are_removed(tmp_path, book):
    args, out = trained_text(tmp_path, book)
    stale = out / ".checkpoint.pt.k2j4h1x9"
    stale.write_bytes(b"half a checkpoint")
    assert exit_code([*args, "--resume", str(out)]) == 0
    assert not stale.exists()


def test_a_non_finite_graph_loss_mentions_no_checkpoint(shared_data, tmp_path, capsys, monkeypatch):
    cross_entropy = torch.nn.functional.cross_entropy
    monkeypatch.setattr(torch.nn.functional, "cross_entropy", lambda *a, **k: cross_entropy(*a, **k) * float("nan"))
    assert exit_code(["graph", "train", "--seeds", "0", "--epochs", "2", "--data-dir", str(shared_data),
                      "--out", str(tmp_path / "o")]) == 3
    line = one_line_error(capsys, "became nan")
    assert "checkpoint" not in line
