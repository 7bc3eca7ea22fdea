"""Data parallelism: 2 gloo processes with global batch B train the same parameters as 1 process with batch B.

The two ranks are launched as torchrun launches them (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT in the
environment) and run the real commands in sequence, so that the processes start once. The gradient is clipped
hard (--max-norm 0.01 clips every step): clipping a rank's own gradient before averaging would break the match.
"""

import contextlib
import io
import json
import os
import socket
import subprocess
import sys

import pytest
import torch
import torch.multiprocessing as mp

from seqgraph import checkpoint, distributed
from seqgraph.cli import main
from seqgraph.errors import InputError

TEXT = "the people of the union govern the states, and the states govern the towns.\n" * 40
TEXT_ARGS = ["text", "train", "--batch", "8", "--seq-len", "10", "--hidden", "16", "--embedding", "8", "--seed", "3",
             "--lr", "0.01", "--max-norm", "0.01", "--eval-every", "3", "--checkpoint-every", "2"]
TOY_ARGS = ["toy", "--task", "randomcomb", "--length", "3", "--seeds", "1", "--hidden", "16", "--batch", "16",
            "--lr", "0.05", "--max-norm", "0.01", "--max-steps", "6", "--eval-batches", "2", "--eval-batch-size", "8"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rank_main(rank: int, ports: list[int], argvs: list[list[str]], report: str) -> None:
    """One rank: each command in its own process group, with its exit code and stderr recorded."""
    torch.set_num_threads(1)
    os.environ.update(WORLD_SIZE="2", RANK=str(rank), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1")
    runs = []
    for port, argv in zip(ports, argvs, strict=True):
        os.environ["MASTER_PORT"] = str(port)
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(argv)
        runs.append({"code": code, "stderr": err.getvalue()})
    with open(f"{report}.{rank}.json", "w") as f:
        json.dump(runs, f)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The same commands with 1 process (here) and 2 processes (spawned), in folders one/ and two/."""
    root = tmp_path_factory.mktemp("ddp")
    corpus = root / "book.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    text = [*TEXT_ARGS, "--corpus", str(corpus)]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    assert main([*text, "--steps", "6", "--out", str(root / "one" / "text")]) == 0
    assert main([*TOY_ARGS, "--out", str(root / "one" / "toy")]) == 0
    torch.set_num_threads(threads)
    argvs = [
        [*text, "--steps", "4", "--out", str(root / "two" / "text")],
        [*text, "--steps", "6", "--resume", str(root / "two" / "text")],  # resumed with the same world size
        [*TOY_ARGS, "--out", str(root / "two" / "toy")],
        [*text, "--steps", "2", "--batch", "5", "--out", str(root / "two" / "odd")],
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
    assert [r["code"] for rank in reports for r in rank[:2]] == [0, 0, 0, 0]
    assert reports[1][0]["stderr"] == ""  # no progress bar, no messages off rank 0
    one, two = (checkpoint.load(root / d / "text" / "checkpoint.pt") for d in ("one", "two"))
    assert one["world_size"] == 1 and two["world_size"] == 2 and two["step"] == one["step"] == 6
    assert_same_parameters(one["model"], two["model"])
    results = [json.loads((root / d / "text" / "results.json").read_text()) for d in ("one", "two")]
    assert results[0]["clip_fraction"] == results[1]["clip_fraction"] == 1.0  # clipping acted at every step
    # the logged loss and accuracy are the global batch's, not rank 0's half
    for a, b in zip(results[0]["samples"], results[1]["samples"], strict=True):
        assert a["step"] == b["step"]
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


def test_global_batch_not_divisible_by_world_size_exits_2_on_every_rank(runs):
    _, reports = runs
    for rank in reports:
        assert rank[3]["code"] == 2
        lines = rank[3]["stderr"].splitlines()
        assert len(lines) == 1 and "global batch" in lines[0] and "multiple of 2" in lines[0]


def test_resume_with_another_world_size_is_refused(runs, capsys):
    root, _ = runs
    argv = [*TEXT_ARGS, "--corpus", str(root / "book.txt"), "--steps", "8", "--resume", str(root / "two" / "text")]
    assert main(argv) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "2 processes" in err[0] and "1" in err[0]


def test_one_process_is_not_distributed():
    model = torch.nn.Linear(3, 2)
    assert distributed.wrap(model) is model
    assert (distributed.rank(), distributed.world_size(), distributed.is_main()) == (0, 1, True)
    assert distributed.shard(5) == slice(0, 5)
    assert distributed.gather("x") == ["x"] and not distributed.any_rank(False)
    with pytest.raises(InputError, match="boom"):
        distributed.main_first(lambda: (_ for _ in ()).throw(InputError("boom")))


@pytest.mark.skipif(not os.environ.get("FULL_TEST"), reason="starts torchrun (slow); FULL_TEST=1 runs it")
def test_torchrun_launches_two_ranks(tmp_path):
    corpus = tmp_path / "book.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           "-m", "seqgraph", *TEXT_ARGS, "--corpus", str(corpus), "--steps", "2",
                           "--out", str(tmp_path / "out")],
                          env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert checkpoint.load(tmp_path / "out" / "checkpoint.pt")["world_size"] == 2
