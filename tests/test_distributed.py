"""Data parallelism: 2 gloo processes with global batch B train the same parameters as 1 process with batch B.

The two ranks are launched as torchrun launches them (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT in the
environment) and run the real commands in sequence, so that the processes start once. The gradient is clipped
hard (--max-norm 0.01 clips every step): clipping a rank's own gradient before averaging would break the match.
The 2-process text run is stopped by a SIGTERM to rank 1 alone after step 3 and resumed: both ranks must stop
after the same step, rank 0 must write the checkpoint, and the resumed run must still match. The memory task and
mini-batch graph training are stopped the same way and resumed, and must end bitwise where an uninterrupted
2-process run ends.
"""

import contextlib
import gc
import io
import json
import os
import signal
import socket
import subprocess
import sys
import weakref
from unittest import mock

import pytest
import torch
import torch.multiprocessing as mp

from seqgraph import checkpoint, distributed
from seqgraph.charlm.train import Trainer
from seqgraph.cli import main
from seqgraph.errors import InputError
from seqgraph.graph.scale.train import MiniBatchTrainer
from seqgraph.memory.train import ToyTrainer

TEXT = "the people of the union govern the states, and the states govern the towns.\n" * 40
TEXT_ARGS = ["text", "train", "--batch", "8", "--seq-len", "10", "--hidden", "16", "--embedding", "8", "--seed", "3",
             "--lr", "0.01", "--max-norm", "0.01", "--eval-every", "3", "--checkpoint-every", "2"]
MINIBATCH_ARGS = ["graph", "train", "--model", "sage", "--batch-size", "16", "--fanout", "4", "4", "--hidden", "8",
                  "--epochs", "3", "--seeds", "0", "1"]
TOY_ARGS = ["toy", "--task", "randomcomb", "--length", "3", "--seeds", "1", "--hidden", "16", "--batch", "16",
            "--lr", "0.05", "--max-norm", "0.01", "--max-steps", "6", "--eval-batches", "2", "--eval-batch-size", "8"]

pytestmark = pytest.mark.slow  # every test starts processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sigterm_rank_1_after(cls, method: str, counter: str, value: int):
    """``cls.method`` (a training step or epoch) that sends SIGTERM to rank 1's own process once ``counter`` (the
    trainer's step or epoch) reaches ``value``."""
    original = getattr(cls, method)

    def patched(self):
        out = original(self)
        if getattr(self, counter) == value and distributed.rank() == 1:
            os.kill(os.getpid(), signal.SIGTERM)
        return out
    return mock.patch.object(cls, method, patched)


# the commands of the spawned ranks that are stopped by a SIGTERM to rank 1 alone, by their index in ``argvs``
INTERRUPTED = {0: (Trainer, "train_step", "step", 3), 4: (ToyTrainer, "train_step", "step", 3),
               6: (MiniBatchTrainer, "train_epoch", "epoch", 1)}


def rank_main(rank: int, ports: list[int], argvs: list[list[str]], report: str) -> None:
    """One rank: each command in its own process group, with its exit code and stderr recorded; those of
    ``INTERRUPTED`` are stopped part-way by a SIGTERM to rank 1."""
    torch.set_num_threads(1)
    os.environ.update(WORLD_SIZE="2", RANK=str(rank), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1")
    runs = []
    for i, (port, argv) in enumerate(zip(ports, argvs, strict=True)):
        os.environ["MASTER_PORT"] = str(port)
        err = io.StringIO()
        interrupt = sigterm_rank_1_after(*INTERRUPTED[i]) if i in INTERRUPTED else contextlib.nullcontext()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()), interrupt:
            code = main(argv)
        out = argv[argv.index("--out") + 1] if "--out" in argv else None
        files = sorted(os.listdir(out)) if out and os.path.isdir(out) else []
        runs.append({"code": code, "stderr": err.getvalue(), "files": files})
    with open(f"{report}.{rank}.json", "w") as f:
        json.dump(runs, f)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The same commands with 1 process (here) and 2 processes (spawned), in folders one/ and two/."""
    root = tmp_path_factory.mktemp("ddp")
    corpus = root / "book.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    text = [*TEXT_ARGS, "--corpus", str(corpus)]
    graph = root / "graph"
    assert main(["graph", "generate", "--nodes", "600", "--edges", "4000", "--features", "8", "--out", str(graph)]) == 0
    minibatch = [*MINIBATCH_ARGS, "--dataset", str(graph)]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    assert main([*text, "--steps", "6", "--out", str(root / "one" / "text")]) == 0
    assert main([*TOY_ARGS, "--out", str(root / "one" / "toy")]) == 0
    torch.set_num_threads(threads)
    argvs = [
        [*text, "--steps", "6", "--out", str(root / "two" / "text")],  # stopped after step 3
        [*text, "--steps", "6", "--resume", str(root / "two" / "text")],  # resumed with the same world size
        [*TOY_ARGS, "--out", str(root / "two" / "toy")],
        [*text, "--steps", "2", "--batch", "5", "--out", str(root / "two" / "odd")],
        [*TOY_ARGS, "--out", str(root / "two" / "toy-stopped")],  # stopped after step 3
        [*TOY_ARGS, "--resume", "--out", str(root / "two" / "toy-stopped")],
        [*minibatch, "--out", str(root / "two" / "graph-stopped")],  # stopped after epoch 1 of seed 0
        [*minibatch, "--resume", "--out", str(root / "two" / "graph-stopped")],
        [*minibatch, "--out", str(root / "two" / "graph")],
    ]
    mp.spawn(rank_main, ([free_port() for _ in argvs], argvs, str(root / "report")), nprocs=2)
    reports = [json.loads((root / f"report.{rank}.json").read_text()) for rank in (0, 1)]
    return root, reports


def assert_same_parameters(a: dict, b: dict, atol: float = 1e-5) -> None:
    assert a.keys() == b.keys() and not any(k.startswith("module.") for k in a)
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=atol, msg=k)


def test_text_two_processes_match_one_process_with_the_global_batch(runs):
    root, reports = runs
    assert [rank[0]["code"] for rank in reports] == [128 + signal.SIGTERM] * 2  # rank 0 stopped with rank 1
    assert "stopped at step 3 of 6" in reports[0][0]["stderr"]
    assert [rank[1]["code"] for rank in reports] == [0, 0] and reports[1][1]["stderr"] == ""  # rank 0 alone talks
    one, two = (checkpoint.load(root / d / "text" / "checkpoint.pt") for d in ("one", "two"))
    assert one["world_size"] == 1 and two["world_size"] == 2 and two["step"] == one["step"] == 6
    assert_same_parameters(one["model"], two["model"])
    # the logged accuracy is the global batch's (correct predictions summed over ranks), not rank 0's half
    assert [t["acc"] for t in one["history"]["train"]] == [t["acc"] for t in two["history"]["train"]]
    results = [json.loads((root / d / "text" / "results.json").read_text()) for d in ("one", "two")]
    assert results[0]["clip_fraction"] == results[1]["clip_fraction"] == 1.0  # clipping acted at every step
    assert results[1]["final_train_loss"] == pytest.approx(results[0]["final_train_loss"], abs=1e-5)
    assert results[1]["final_val"]["loss"] == pytest.approx(results[0]["final_val"]["loss"], abs=1e-5)


def test_toy_two_processes_match_one_process(runs):
    root, reports = runs
    assert [rank[2]["code"] for rank in reports] == [0, 0] and reports[1][2]["stderr"] == ""
    one, two = (checkpoint.load(root / d / "toy" / "checkpoints" / "length3-seed1.pt") for d in ("one", "two"))
    assert_same_parameters(one["trainer"]["model"], two["trainer"]["model"])
    for a, b in zip(*(json.loads((root / d / "toy" / "results.json").read_text())["runs"] for d in ("one", "two")),
                    strict=True):
        assert a["termination_step"] == b["termination_step"] and a["steps"] == b["steps"]
        assert a["final_accuracy"] == b["final_accuracy"]  # accuracy of the global batch: counts are all-reduced
        assert a["eval_accuracy"] == b["eval_accuracy"]


def assert_stopped_together_and_resumed(reports, stopped: int, where: str) -> None:
    """Command ``stopped`` (SIGTERM to rank 1 alone) ended on both ranks with 143, rank 0 printing the resume hint
    once and rank 1 nothing; the resumed command ``stopped + 1`` finished on both."""
    assert [rank[stopped]["code"] for rank in reports] == [128 + signal.SIGTERM] * 2
    assert where in reports[0][stopped]["stderr"] and "--resume" in reports[0][stopped]["stderr"]
    assert "Traceback" not in reports[0][stopped]["stderr"] + reports[1][stopped]["stderr"]
    assert [rank[stopped + 1]["code"] for rank in reports] == [0, 0]


def test_toy_stopped_on_one_process_stops_on_both_and_resumes_bitwise(runs):
    root, reports = runs
    assert_stopped_together_and_resumed(reports, 4, "")
    assert "results.json" not in reports[0][4]["files"]
    resumed, whole = (checkpoint.load(root / "two" / d / "checkpoints" / "length3-seed1.pt")
                      for d in ("toy-stopped", "toy"))
    assert resumed["trainer"]["step"] == whole["trainer"]["step"]
    for key, value in whole["trainer"]["model"].items():
        assert torch.equal(resumed["trainer"]["model"][key], value), key


def test_minibatch_stopped_on_one_process_stops_on_both_and_resumes_bitwise(runs):
    root, reports = runs
    assert_stopped_together_and_resumed(reports, 6, "stopped at epoch 1 of seed 0")
    assert "results.json" not in reports[0][6]["files"]  # nothing claims a finished run
    assert "checkpoint-seed1.pt" not in reports[0][6]["files"]  # no process went on to the next seed
    assert [rank[8]["code"] for rank in reports] == [0, 0]
    for seed in (0, 1):
        resumed, whole = (checkpoint.load(root / "two" / d / f"checkpoint-seed{seed}.pt")
                          for d in ("graph-stopped", "graph"))
        assert resumed["epoch"] == whole["epoch"] == 3 and resumed["world_size"] == 2
        for key, value in whole["model"].items():
            assert torch.equal(resumed["model"][key], value), (seed, key)
    stopped = json.loads((root / "two" / "graph-stopped" / "results.json").read_text())
    assert stopped["test_acc_best_val"] == json.loads((root / "two" / "graph" / "results.json").read_text())[
        "test_acc_best_val"]


def test_global_batch_not_divisible_by_world_size_exits_2_on_every_rank(runs):
    _, reports = runs
    for rank in reports:
        assert rank[3]["code"] == 2
        lines = rank[3]["stderr"].splitlines()
        assert len(lines) == 1 and "global batch" in lines[0] and "multiple of 2" in lines[0]


def test_resume_with_another_world_size_is_refused(runs, capsys):
    root, _ = runs
    argv = [*TEXT_ARGS, "--corpus", str(root / "book.txt"), "--steps", "6", "--resume", str(root / "two" / "text")]
    assert main(argv) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "written by a run of 2 processes" in err[0] and "not 1" in err[0]


def test_one_process_is_not_distributed():
    model = torch.nn.Linear(3, 2)
    assert distributed.wrap(model) is model
    assert (distributed.rank(), distributed.world_size(), distributed.is_main()) == (0, 1, True)
    assert distributed.shard(5) == slice(0, 5)
    assert distributed.gather("x") == ["x"] and distributed.any_rank(True) and not distributed.any_rank(False)
    assert distributed.main_first(lambda: 7) == 7


def test_torchrun_launches_two_ranks(tmp_path):
    corpus = tmp_path / "book.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           "-m", "seqgraph", *TEXT_ARGS, "--corpus", str(corpus), "--steps", "2",
                           "--out", str(tmp_path / "out")],
                          env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert checkpoint.load(tmp_path / "out" / "checkpoint.pt")["world_size"] == 2


def test_leaving_the_session_frees_the_wrappers_that_hold_the_process_group(monkeypatch):
    # DistributedDataParallel sits in reference cycles; freed only at interpreter shutdown, its gloo process group
    # aborted rank 1 of a CI run (SIGABRT). Automatic collection is off here, so only the session's own frees it.
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", str(free_port()))

    def train() -> weakref.ref:
        model = distributed.wrap(torch.nn.Linear(3, 2))
        assert isinstance(model, torch.nn.parallel.DistributedDataParallel)
        model(torch.randn(4, 3)).sum().backward()
        return weakref.ref(model)

    gc.disable()
    try:
        with distributed.session(torch.device("cpu")):
            wrapper = train()
    finally:
        gc.enable()
    assert wrapper() is None
    assert not distributed.is_distributed()


def test_an_error_inside_the_session_frees_the_wrappers_too(monkeypatch):
    # an error's traceback holds the frames that trained, and with them the wrapper, while the session ends: a
    # command that failed inside torchrun could abort at exit (134) instead of exiting 2
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", str(free_port()))
    refs = []

    def train() -> None:
        model = distributed.wrap(torch.nn.Linear(3, 2))
        model(torch.randn(4, 3)).sum().backward()
        refs.append(weakref.ref(model))
        raise InputError("a bad batch")

    alive_at_cleanup = []
    cleanup = distributed.cleanup
    monkeypatch.setattr(distributed, "cleanup", lambda: (cleanup(), alive_at_cleanup.append(refs[0]() is not None)))
    gc.disable()
    try:
        with pytest.raises(InputError, match="a bad batch"), distributed.session(torch.device("cpu")):
            train()
    finally:
        gc.enable()
    assert alive_at_cleanup == [False]
    assert not distributed.is_distributed()
