"""Issue 26 through the command line: sizes hidden in data files, full disks, crafted checkpoints, files that are not
what their name says, values that overflow later, refusals that left traces, work proportional to a flag, misleading
messages. Each test failed before its fix (the number in its name is the issue's item)."""

import errno
import json
import os
import resource
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest
import torch

from seqgraph import checkpoint
from seqgraph.cli import main
from seqgraph.graph.scale import sampler
from seqgraph.graph.scale.train import MiniBatchTrainer

from .test_graph_datasets_tu import write_tu
from .test_reliability import TEXT, TEXT_TINY, exit_code, snapshot
from .test_user_data import TOY_SHORT, one_line_error

TEXT_ARGS = [*TEXT_TINY, "--steps", "4", "--eval-every", "2", "--checkpoint-every", "2"]
MINIBATCH = ["graph", "train", "--model", "sage", "--batch-size", "8", "--fanout", "4", "3", "--hidden", "8",
             "--epochs", "2", "--seeds", "0"]
# a TU dataset of 4 two-node graphs, its node labels and attributes one per node
TU = dict(A=["1, 2", "2, 1", "3, 4", "4, 3", "5, 6", "6, 5", "7, 8", "8, 7"], graph_indicator=[1, 1, 2, 2, 3, 3, 4, 4],
          graph_labels=[1, 2, 1, 2], node_labels=[1, 2, 1, 2, 1, 2, 1, 2])
CLASSIFY = ["graph", "classify", "--folds", "2", "--epochs", "1", "--hidden", "4", "--batch-size", "2",
            "--holdout", "0"]


@pytest.fixture
def book(tmp_path):
    path = tmp_path / "book.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A small generated graph (`graph generate`), copied by the tests that change it."""
    out = tmp_path_factory.mktemp("store") / "graph"
    assert main(["graph", "generate", "--nodes", "1000", "--edges", "8000", "--features", "4", "--classes", "3",
                 "--out", str(out)]) == 0
    return out


def copy_store(store, tmp_path):
    return shutil.copytree(store, tmp_path / "graph", ignore=shutil.ignore_patterns(".seqgraph.lock", "run.json"))


def tu_folder(tmp_path, **change):
    return write_tu(tmp_path / "tu", **{k: v for k, v in {**TU, **change}.items() if v is not None})


def seqgraph_limited(argv, headroom: int) -> subprocess.CompletedProcess:
    """``seqgraph argv`` in a process whose address space may grow by ``headroom`` bytes past what importing
    seqgraph takes (``ulimit -v``, as a user with a memory limit runs it)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    probe = "import seqgraph.cli, seqgraph.graph.datasets.tu; print(open('/proc/self/statm').read().split()[0])"
    base = int(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env,
                              check=True).stdout) * os.sysconf("SC_PAGE_SIZE")
    limit = base + headroom

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return subprocess.run([sys.executable, "-m", "seqgraph", *argv], capture_output=True, text=True, timeout=300,
                          env=env, preexec_fn=cap)


# --------------------------------------------------------------------------- 3. sizes hidden in data files

def test_3_a_tu_label_that_makes_gigabytes_of_one_hot_features_is_refused_naming_the_file(tmp_path):
    graphs = 26_000  # 52,000 nodes in 330 KB of files; one label of 30000 made 6.2 GB of features
    labels = ["1"] * (2 * graphs)
    labels[7] = "30000"
    folder = write_tu(tmp_path / "tu", A=[f"{2 * g + 1}, {2 * g + 2}" for g in range(graphs)],
                      graph_indicator=[g for g in range(1, graphs + 1) for _ in (0, 1)],
                      graph_labels=[g % 2 for g in range(graphs)], node_labels=labels)
    proc = seqgraph_limited([*CLASSIFY, "--dataset", str(folder), "--out", str(tmp_path / "out")], 2 * 2**30)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "TOY_node_labels.txt" in proc.stderr and "30,000 columns" in proc.stderr and "GiB" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_3_an_edge_file_larger_than_memory_allows_is_refused_before_it_is_parsed(tmp_path):
    nodes, edges = 1_000_000, 2_000_000  # 30 MB of edges (a 200 MB file peaked at 3.6 GB)
    folder = tmp_path / "tu"
    folder.mkdir()
    (folder / "BIG_graph_indicator.txt").write_text("1\n" * nodes)
    (folder / "BIG_graph_labels.txt").write_text("1\n")
    pairs = np.random.default_rng(0).integers(1, nodes + 1, size=(edges, 2)).tolist()
    (folder / "BIG_A.txt").write_text("".join(f"{u}, {v}\n" for u, v in pairs))
    proc = seqgraph_limited([*CLASSIFY, "--dataset", str(folder), "--out", str(tmp_path / "out")], 2**28)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "BIG_A.txt: 2,000,000 lines" in proc.stderr, proc.stderr
    assert not (tmp_path / "out").exists()


def test_3_a_store_label_of_a_billion_is_refused_naming_the_file_and_writing_nothing(store, tmp_path, capsys):
    graph = copy_store(store, tmp_path)
    y = np.load(graph / "y.npy")
    y[3] = 10**9
    np.save(graph / "y.npy", y)
    assert exit_code([*MINIBATCH, "--dataset", str(graph), "--out", str(tmp_path / "out")]) == 2
    one_line_error(capsys, "y.npy", "1,000,000,001 classes", "GiB")
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------------------ 4. a full disk

@pytest.mark.parametrize("command", ["text", "toy"])
def test_4_a_full_disk_during_a_checkpoint_exits_2_in_one_line_and_keeps_the_old_checkpoint(tiny_disk, book, capsys,
                                                                                           command):
    out = tiny_disk / "run"
    if command == "text":
        argv, ckpt = ["text", "train", "--corpus", str(book), *TEXT_TINY, "--hidden", "48", "--steps", "2",
                      "--out", str(out)], out / "checkpoint.pt"
    else:
        argv, ckpt = [*TOY_SHORT, "--hidden", "96", "--out", str(out)], out / "checkpoints" / "length4-seed1.pt"
    assert exit_code(argv) == 0
    before = ckpt.read_bytes()
    free = shutil.disk_usage(tiny_disk).free
    (tiny_disk / "filler").write_bytes(b"\0" * max(0, free - len(before) // 2))  # room for half a checkpoint
    capsys.readouterr()
    assert exit_code([*argv, "--force"]) == 2  # the run starts over and cannot write its checkpoint
    one_line_error(capsys, "No space left on device", ckpt.name, "kept whole")
    assert ckpt.read_bytes() == before
    assert checkpoint.load(ckpt)["kind"]


# --------------------------------------------------------------------------------- 5. crafted checkpoints

def trained_text(tmp_path, book):
    out = tmp_path / "run"
    assert main(["text", "train", "--corpus", str(book), *TEXT_ARGS, "--out", str(out)]) == 0
    return out


@pytest.fixture
def minibatch_run(store, tmp_path):
    out = tmp_path / "mb"
    assert main([*MINIBATCH, "--dataset", str(store), "--out", str(out)]) == 0
    return out


def edited(path, change):
    ckpt = checkpoint.load(path)
    change(ckpt)
    checkpoint.save_atomic(ckpt, path)


def test_5_init_from_a_graph_checkpoint_is_refused_by_its_kind(book, tmp_path, minibatch_run, capsys):
    argv = ["text", "train", "--corpus", str(book), *TEXT_ARGS, "--out", str(tmp_path / "ft"),
            "--init-from", str(minibatch_run / "checkpoint-seed0.pt")]
    assert exit_code(argv) == 2
    one_line_error(capsys, "--init-from", "'graph-minibatch' checkpoint, not a 'charlm' one")
    assert not (tmp_path / "ft").exists()


@pytest.mark.parametrize("damage, message", [
    (lambda c: c["model"].pop("head.bias"), "lacks 'head.bias'"),  # was left at its fresh initialisation
    (lambda c: c["model"].update({"head.weight": torch.zeros(3, 3)}), "model['head.weight'] is a torch.float32 "
                                                                      "tensor of shape (3, 3)"),
    (lambda c: c["model"].update({"extra.weight": torch.zeros(1)}), "'extra.weight', which this run does not write"),
    (lambda c: c.pop("model"), "lacks 'model'"),
    (lambda c: c.update(vocab=7), "vocab is a int, not a str"),
])
def test_5_init_from_a_checkpoint_whose_weights_do_not_fit_is_refused_naming_them(book, tmp_path, capsys, damage,
                                                                                  message):
    run = trained_text(tmp_path, book)
    edited(run / "checkpoint.pt", damage)
    capsys.readouterr()
    argv = ["text", "train", "--corpus", str(book), *TEXT_ARGS, "--out", str(tmp_path / "ft"),
            "--init-from", str(run / "checkpoint.pt")]
    assert exit_code(argv) == 2
    one_line_error(capsys, "checkpoint.pt", message)
    assert not (tmp_path / "ft").exists()


def wrong_moments(state):
    moments = state["state"][0]
    moments["exp_avg"] = moments["exp_avg"][:1]


@pytest.mark.parametrize("damage, message", [
    (lambda c: wrong_moments(c["optimizer"]), "Adam's state of parameter 0"),
    (lambda c: c["model"].pop(next(iter(c["model"]))), "model lacks"),
    (lambda c: c.update(history="abc"), "history is a str"),
    (lambda c: c.update(step=10**9), "step 1000000000 is outside"),
    (lambda c: c.update(carried=[[torch.zeros(3)]]), "carried[0]"),
])
def test_5_text_resume_from_a_damaged_checkpoint_is_refused_before_a_step(book, tmp_path, capsys, damage, message):
    run = trained_text(tmp_path, book)
    edited(run / "checkpoint.pt", damage)
    before = snapshot(run)
    capsys.readouterr()
    assert exit_code(["text", "train", "--corpus", str(book), *TEXT_ARGS, "--resume", str(run)]) == 2
    one_line_error(capsys, "checkpoint.pt", message)
    assert snapshot(run) == before


@pytest.mark.parametrize("damage, message", [
    (lambda c: c["model"].update({k: v[:1] for k, v in list(c["model"].items())[:1]}), "shape"),
    (lambda c: c.pop("history"), "lacks 'history'"),
    (lambda c: c["optimizer"]["state"][0].pop("exp_avg"), "Adam's state of parameter 0"),
    (lambda c: wrong_moments(c["optimizer"]), "Adam's state of parameter 0"),
    (lambda c: c.update(epoch="1"), "epoch is a str"),
    (lambda c: c.update(history=[{"epoch": 1}]), "history[0] lacks 'train_loss'"),
])
def test_5_minibatch_resume_from_a_damaged_checkpoint_is_refused(store, minibatch_run, capsys, damage, message):
    def unfinished_and_damaged(ckpt):  # stopped after its first epoch: resuming trains the second
        ckpt.update(epoch=1, finished=False, history=ckpt["history"][:1])
        damage(ckpt)
    edited(minibatch_run / "checkpoint-seed0.pt", unfinished_and_damaged)
    capsys.readouterr()
    assert exit_code([*MINIBATCH, "--dataset", str(store), "--out", str(minibatch_run), "--resume"]) == 2
    one_line_error(capsys, "checkpoint-seed0.pt", message)


def test_5_toy_resume_with_moments_of_the_wrong_shape_is_refused(tmp_path, capsys):
    out = tmp_path / "toy"
    assert main([*TOY_SHORT, "--out", str(out)]) == 0
    path = out / "checkpoints" / "length4-seed1.pt"
    edited(path, lambda c: (wrong_moments(c["trainer"]["optimizer"]), c.update(summary=None)))
    capsys.readouterr()
    assert exit_code([*TOY_SHORT, "--out", str(out), "--resume"]) == 2
    one_line_error(capsys, "length4-seed1.pt", "Adam's state of parameter 0")


# ---------------------------------------------------------------- 6. files that are not what their name says

def test_6_an_empty_npy_and_an_npz_named_npy_are_refused_naming_the_file(store, tmp_path, capsys):
    graph = copy_store(store, tmp_path)
    (graph / "x.npy").write_bytes(b"")
    assert exit_code([*MINIBATCH, "--dataset", str(graph), "--out", str(tmp_path / "out")]) == 2
    one_line_error(capsys, "x.npy is empty")
    np.savez(tmp_path / "y.npz", y=np.zeros(1000, dtype=np.int64))
    shutil.move(tmp_path / "y.npz", graph / "x.npy")
    assert exit_code([*MINIBATCH, "--dataset", str(graph), "--out", str(tmp_path / "out")]) == 2
    one_line_error(capsys, "x.npy is a .npz archive")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("change, message", [
    (dict(graph_labels=[1, 2, 1, 99999999999999999999]), "TOY_graph_labels.txt line 4: 99999999999999999999 is "
                                                           "outside the 64-bit integer range"),
    (dict(node_labels=[-2**63, 2**63 - 1, 1, 2, 1, 2, 1, 2]), "TOY_node_labels.txt: its labels"),  # an IndexError
    (dict(node_labels=[1, 2, 1, "١", 1, 2, 1, 2]), "TOY_node_labels.txt line 4: '١' is not an integer"),
    (dict(A=["1, 2", "2, 1", "3, 4", "4, 3", "5, 6", "6, 5", "7, 8", "8, 1_0"]), "TOY_A.txt line 8: '1_0' is not"),
])
def test_6_tu_integers_beyond_int64_or_not_ascii_decimal_are_refused_naming_file_and_line(tmp_path, capsys, change,
                                                                                          message):
    assert exit_code([*CLASSIFY, "--dataset", str(tu_folder(tmp_path, **change)),
                      "--out", str(tmp_path / "out")]) == 2
    one_line_error(capsys, message)
    assert not (tmp_path / "out").exists()


def test_6_a_damaged_cached_experiment_is_rerun_and_said_so(tmp_path, capsys):
    argv = ["reproduce", "--profile", "smoke", "--out", str(tmp_path / "report"), "--only", "params"]
    assert main(argv) == 0
    folder = tmp_path / "report" / "params"
    for damaged in ("results.json", "timing.json"):
        good = (folder / damaged).read_bytes()
        (folder / damaged).write_bytes(good[: len(good) // 2])
        capsys.readouterr()
        assert main([*argv, "--json"]) == 0
        captured = capsys.readouterr()
        assert f"[rerun] params: the cached results are damaged ({folder / damaged}" in captured.err
        assert json.loads(captured.out)["experiments"]["params"]["status"] == "ran"
        assert (folder / damaged).read_bytes() != good[: len(good) // 2]


# --------------------------------------------------------------------------------- 7. values that overflow

def test_7_a_tu_attribute_beyond_float32_is_refused_as_input(tmp_path, capsys):
    folder = tu_folder(tmp_path, node_attributes=["1", "2", "1e39", "4", "5", "6", "7", "8"])
    assert exit_code([*CLASSIFY, "--dataset", str(folder), "--out", str(tmp_path / "out")]) == 2
    one_line_error(capsys, "TOY_node_attributes.txt line 3: 1e39 is not a finite float32 number")
    assert not (tmp_path / "out").exists()


def test_7_a_non_finite_classify_loss_mentions_no_checkpoint(tmp_path, capsys, monkeypatch):
    cross_entropy = torch.nn.functional.cross_entropy
    monkeypatch.setattr(torch.nn.functional, "cross_entropy", lambda *a, **k: cross_entropy(*a, **k) * float("inf"))
    assert exit_code([*CLASSIFY, "--dataset", str(tu_folder(tmp_path)), "--out", str(tmp_path / "out")]) == 3
    line = one_line_error(capsys, "became")
    assert "checkpoint" not in line


def test_7_generate_refuses_a_signal_whose_features_overflow_float32(tmp_path, capsys):
    assert exit_code(["graph", "generate", "--nodes", "300", "--edges", "600", "--signal", "1e300",
                      "--out", str(tmp_path / "g")]) == 2
    one_line_error(capsys, "--signal", "float32")
    assert not (tmp_path / "g").exists()


# -------------------------------------------------------------- 8. and 10. splits refused before writing

def split_of(store, tmp_path, name, values):
    graph = copy_store(store, tmp_path)
    np.save(graph / f"{name}.npy", np.asarray(values, dtype=np.int64))
    return graph


@pytest.mark.parametrize("name, values, message", [
    ("train_idx", [], "train_idx.npy is empty"),
    ("train_idx", [5, 6, 5], "train_idx.npy lists node 5 more than once"),
    ("val_idx", [], "val_idx.npy is empty"),
    ("test_idx", [], "test_idx.npy is empty"),  # was reported as "test accuracy 0.0%"
    ("test_idx", "train", "share"),  # the test nodes are the training nodes
])
def test_8_10_bad_splits_are_refused_and_leave_out_as_it_was(store, tmp_path, capsys, name, values, message):
    values = np.load(store / "train_idx.npy") if values == "train" else values
    graph = split_of(store, tmp_path, name, values)
    out = tmp_path / "out"
    out.mkdir()
    assert exit_code([*MINIBATCH, "--dataset", str(graph), "--out", str(out)]) == 2
    one_line_error(capsys, message)
    assert not any(out.iterdir())  # no run.json, no lock file


# ---------------------------------------------------------------- 9. work proportional to a flag, not the data

def test_9_a_fanout_above_every_degree_draws_nothing_and_matches_all_neighbours(store, tmp_path, monkeypatch):
    def run(fanout, name):
        assert main([*MINIBATCH, "--fanout", fanout, fanout, "--epochs", "1", "--dataset", str(store),
                     "--out", str(tmp_path / name)]) == 0
        results = json.loads((tmp_path / name / "results.json").read_text())
        return [{k: v for k, v in r.items() if k != "seconds_per_epoch"} for r in results["runs"]]

    everything = run("-1", "all")
    draws = []
    uniform = sampler._uniform_below

    def counted(*args):
        draws.append(1)
        assert len(draws) < 100, "the sampler loops over the fan-out rather than the degrees"
        return uniform(*args)
    monkeypatch.setattr(sampler, "_uniform_below", counted)
    assert run("1048576", "huge") == everything and not draws


# --------------------------------------------------------------------------------- 10. what the thing is

def test_10_a_link_loop_and_a_fifo_are_named_as_such(tmp_path, book, capsys):
    folder = tu_folder(tmp_path)
    (folder / "TOY_node_labels.txt").unlink()
    os.symlink(folder / "TOY_node_labels.txt", folder / "TOY_node_labels.txt")  # a link to itself
    assert exit_code([*CLASSIFY, "--dataset", str(folder), "--out", str(tmp_path / "out")]) == 2
    one_line_error(capsys, "TOY_node_labels.txt is a loop of symbolic links")
    fifo = tmp_path / "fifo.txt"
    os.mkfifo(fifo)
    assert exit_code(["text", "train", "--corpus", str(fifo), *TEXT_ARGS, "--out", str(tmp_path / "o")]) == 2
    one_line_error(capsys, f"corpus {fifo} is not a regular file: it is a FIFO (named pipe)")
    assert exit_code(["text", "sample", "--checkpoint", str(fifo)]) == 2
    one_line_error(capsys, f"checkpoint {fifo} is not a regular file: it is a FIFO")


def test_10_tu_labels_of_a_million_name_the_file_instead_of_out_of_memory(tmp_path):
    graphs = 100
    folder = write_tu(tmp_path / "tu", A=[f"{2 * g + 1}, {2 * g + 2}" for g in range(graphs)],
                      graph_indicator=[g for g in range(1, graphs + 1) for _ in (0, 1)],
                      graph_labels=[g % 2 for g in range(graphs)], node_labels=[1] * (2 * graphs - 1) + [10**6])
    proc = seqgraph_limited([*CLASSIFY, "--dataset", str(folder), "--out", str(tmp_path / "out")], 2**30)
    assert proc.returncode == 2 and "TOY_node_labels.txt: its labels, 1 to 1000000" in proc.stderr, proc.stderr


# -------------------------------------------------------------------------------------- 11. decided notes

def test_11_results_follow_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        assert main(["graph", "generate", "--nodes", "300", "--edges", "600", "--features", "2",
                     "--out", str(tmp_path / "g")]) == 0
    finally:
        os.umask(old)
    assert (tmp_path / "g" / "run.json").stat().st_mode & 0o777 == 0o640  # was 0o600 whatever the umask


def test_11_a_prompt_longer_than_an_argument_may_be_is_read_from_a_file(tmp_path, book, capsys):
    run = trained_text(tmp_path, book)
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("the states " * 20_000)  # 220 KB: more than the kernel's 128 KB for one argument
    capsys.readouterr()
    assert main(["text", "sample", "--checkpoint", str(run), "--prompt-file", str(prompt), "--length", "5",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["samples"][0].startswith("the states " * 20_000)
    too_long = ["text", "sample", "--checkpoint", str(run), "--prompt", "x" * 200_000, "--length", "1"]
    with pytest.raises(OSError) as info:  # what the shell meets: the kernel refuses to start the process
        subprocess.run([sys.executable, "-m", "seqgraph", *too_long], capture_output=True)
    assert info.value.errno == errno.E2BIG


# ------------------------------------------------------------------------------------ 2. (regression tests)

def test_2_a_finished_text_run_is_not_trained_again_without_force(tmp_path, book, capsys):
    run = trained_text(tmp_path, book)
    before = snapshot(run)
    capsys.readouterr()
    assert exit_code(["text", "train", "--corpus", str(book), *TEXT_ARGS, "--out", str(run)]) == 2
    one_line_error(capsys, "finished at step 4 of 4: --force to train it again")
    assert snapshot(run) == before


def test_2_an_unfinished_or_finished_minibatch_run_is_not_started_over(store, tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    argv = [*MINIBATCH, "--dataset", str(store), "--out", str(out)]
    train_epoch = MiniBatchTrainer.train_epoch

    def stopped_after_one(self):
        loss = train_epoch(self)
        os.kill(os.getpid(), signal.SIGTERM)
        return loss
    with monkeypatch.context() as m:
        m.setattr(MiniBatchTrainer, "train_epoch", stopped_after_one)
        assert main(argv) == 128 + signal.SIGTERM
    for finished in (False, True):
        before = snapshot(out)
        capsys.readouterr()
        assert exit_code(argv) == 2
        if finished:
            one_line_error(capsys, "finished at epoch 2 of 2: --force to train it again")
        else:
            one_line_error(capsys, "unfinished run of seed 0 (epoch 1 of 2): add --resume")
        assert snapshot(out) == before
        assert main([*argv, "--resume"]) == 0
