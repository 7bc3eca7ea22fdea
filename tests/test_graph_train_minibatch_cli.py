"""`seqgraph graph generate` and the mini-batch mode of `seqgraph graph train`: outputs, bad input, resume."""

import os
import signal

import numpy as np
import pytest
import torch

from seqgraph import checkpoint
from seqgraph.cli import main
from seqgraph.graph.scale.train import MiniBatchTrainer

from .test_reliability import exit_code

TRAIN = ["graph", "train", "--model", "sage", "--batch-size", "8", "--fanout", "4", "3", "--hidden", "8",
         "--dropout", "0.5", "--epochs", "3", "--seeds", "0"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("rmat") / "graph"
    assert main(["graph", "generate", "--nodes", "2000", "--edges", "20000", "--features", "6", "--classes", "4",
                 "--out", str(out)]) == 0
    return out


def one_line_error(capsys, argv, *needles):
    assert exit_code(argv) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and all(n in err[0] for n in needles), err


def test_generate_writes_a_graph_that_trains(folder, tmp_path, capsys):
    assert sorted(p.name for p in folder.glob("*.npy")) == sorted(
        f"{n}.npy" for n in ("indptr", "indices", "x", "y", "train_idx", "val_idx", "test_idx"))
    assert main([*TRAIN, "--dataset", str(folder), "--out", str(tmp_path / "run"), "--json"]) == 0
    assert '"mode": "mini-batch"' in capsys.readouterr().out
    assert (tmp_path / "run" / "results.json").exists() and (tmp_path / "run" / "checkpoint-seed0.pt").exists()


def test_bad_input_exits_2_with_one_line(folder, tmp_path, capsys):
    base = [*TRAIN, "--dataset", str(folder), "--out", str(tmp_path / "x"), "--force"]
    one_line_error(capsys, [*base, "--batch-size", "0"], "argument --batch-size: must be a positive integer")
    one_line_error(capsys, [*base, "--batch-size", "-3"], "argument --batch-size: must be a positive integer")
    one_line_error(capsys, [*base, "--fanout", "5"], "--fanout 5", "for a model of 2 layers")
    one_line_error(capsys, [*base, "--layers", "3"], "--fanout 4 3", "for a model of 3 layers")
    one_line_error(capsys, ["graph", "train", "--model", "sage", "--out", str(tmp_path / "y")], "mini-batch mode")
    one_line_error(capsys, ["graph", "train", "--dataset", str(folder), "--out", str(tmp_path / "y")],
                   "holds a memory-mapped graph (.npy files): `graph train --batch-size` (mini-batch mode)")
    # flags the run would ignore (and run.json would record)
    one_line_error(capsys, ["graph", "train", "--layers", "3", "--out", str(tmp_path / "y")], "mini-batch mode")
    for flags in (["--heads", "4"], ["--output-heads", "3"]):
        one_line_error(capsys, ["graph", "train", "--model", "gcn", *flags, "--out", str(tmp_path / "y")],
                       "are GAT's: --model gcn has no attention heads")
        one_line_error(capsys, [*base, *flags], "are GAT's: --model sage has no attention heads")
    assert not (tmp_path / "y").exists()
    one_line_error(capsys, ["graph", "generate", "--nodes", "10", "--edges", "7", "--out", str(tmp_path / "z")],
                   "even number of edges")
    one_line_error(capsys, ["graph", "generate", "--nodes", "100", "--edges", "1000", "--out", str(tmp_path / "z")],
                   "100 nodes leave 1 training, 0 validation and 1 test nodes", "give at least 200 nodes")
    for homophily in ("0", "1.5"):  # the generator takes (0, 1]
        one_line_error(capsys, ["graph", "generate", "--homophily", homophily, "--out", str(tmp_path / "z")],
                       "argument --homophily: must be in (0, 1]")
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("indptr", "indices", "x", "y", "train_idx", "val_idx", "test_idx"):
        (bad / f"{name}.npy").write_bytes((folder / f"{name}.npy").read_bytes())
    np.save(bad / "x.npy", np.zeros((2000, 6), np.float64))
    one_line_error(capsys, [*TRAIN, "--dataset", str(bad), "--out", str(tmp_path / "w")], "dtype float64")
    np.save(bad / "x.npy", np.zeros((2000, 6), np.float32))
    np.save(bad / "train_idx.npy", np.array([5, 2000]))  # a seed node out of range
    one_line_error(capsys, [*TRAIN, "--dataset", str(bad), "--out", str(tmp_path / "w")], "train_idx.npy",
                   "outside [0, 2000)")


def test_sigterm_stops_after_the_epoch_and_resume_finishes_the_run(folder, tmp_path, monkeypatch, capsys):
    argv = [*TRAIN, "--dataset", str(folder), "--out", str(tmp_path / "run")]
    assert main([*TRAIN, "--dataset", str(folder), "--out", str(tmp_path / "whole")]) == 0
    train_epoch = MiniBatchTrainer.train_epoch

    def interrupted(self):
        loss = train_epoch(self)
        if self.epoch == 1:
            os.kill(os.getpid(), signal.SIGTERM)
        return loss

    monkeypatch.setattr(MiniBatchTrainer, "train_epoch", interrupted)
    assert main(argv) == 128 + signal.SIGTERM
    assert "stopped at epoch 1" in capsys.readouterr().err
    assert checkpoint.load(tmp_path / "run" / "checkpoint-seed0.pt")["epoch"] == 1
    monkeypatch.setattr(MiniBatchTrainer, "train_epoch", train_epoch)
    assert main([*argv, "--resume"]) == 0
    resumed, whole = (checkpoint.load(tmp_path / d / "checkpoint-seed0.pt") for d in ("run", "whole"))
    assert resumed["epoch"] == whole["epoch"] == 3
    for key, value in whole["model"].items():
        assert torch.equal(resumed["model"][key], value), key


def test_resume_refuses_a_folder_without_this_run(folder, tmp_path, capsys):
    argv = [*TRAIN, "--dataset", str(folder), "--epochs", "1", "--resume"]
    (tmp_path / "empty").mkdir()
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("mine")
    for out in ("missing", "empty", "foreign"):
        one_line_error(capsys, [*argv, "--out", str(tmp_path / out)], f"--resume: {tmp_path / out} holds no run")
    assert sorted(p.name for p in (tmp_path / "foreign").iterdir()) == ["notes.txt"]
    assert not any((tmp_path / "empty").iterdir())
    # a finished run of another configuration (a full-batch run, another fan-out) is not continued either
    assert main([*TRAIN, "--dataset", str(folder), "--epochs", "1", "--out", str(tmp_path / "other")]) == 0
    capsys.readouterr()
    one_line_error(capsys, [*argv, "--fanout", "2", "2", "--out", str(tmp_path / "other")],
                   "holds a run of other settings")
