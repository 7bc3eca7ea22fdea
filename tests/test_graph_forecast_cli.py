"""`seqgraph graph forecast` as a user runs it: each shipped dataset at tiny sizes, a graph model beating the GRU that
cannot see the graph, exact resume, and bad input refused in one line."""

import json
import os
import signal

import pytest
import torch

from seqgraph import checkpoint
from seqgraph.cli import main
from seqgraph.graph.temporal.train import ForecastTrainer

from .test_reliability import exit_code

TINY = ["--hidden", "8", "--epochs", "2", "--seeds", "0"]


@pytest.mark.parametrize("dataset, model, extra", [
    ("los-loop", "tgcn", ["--batch-size", "512", "--window", "4", "--horizon", "2"]),
    ("los-loop", "dcrnn", ["--batch-size", "512", "--protocol", "tgcn-honest", "--horizon", "2", "--window", "3"]),
    ("los-loop", "tgcn-code", ["--batch-size", "512", "--window", "4", "--horizon", "2"]),
    ("chickenpox", "gconv-gru", []),
    ("pedalme", "gconv-lstm", []),
    ("england-covid", "dcrnn", []),
    ("gvar:12x400", "gru", ["--window", "4", "--horizon", "3"]),
    ("chickenpox", "last", []),
])
def test_forecast_on_every_shipped_dataset(shared_data, tmp_path, capsys, dataset, model, extra):
    out = tmp_path / "run"
    assert main(["graph", "forecast", "--dataset", dataset, "--model", model, *TINY, *extra, "--out", str(out),
                 "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert results == json.loads((out / "results.json").read_text())
    assert results["model"] == model and len(results["runs"]) == 1
    assert all((out / name).is_file() for name in ("history.json", "curves.png", "predictions.png"))
    test = results["runs"][0]["test"]
    horizon = results["config"]["horizon"]
    assert len(test["mae"]) == horizon and all(v >= 0 for v in test["mae"])  # every metric at every step
    if results["protocol"].startswith("tgcn"):
        assert set(test["pooled"]) == {"rmse", "mae", "accuracy", "r2", "var"}


def test_a_graph_model_beats_the_gru_that_cannot_see_the_graph_on_the_generator(tmp_path, capsys):
    # x_t = tanh(0.5 x - 1.5 P x) + noise: a node's next value depends on its neighbours'; noise floor MSE 0.01
    mse = {}
    for model in ("gconv-gru", "gru"):
        assert main(["graph", "forecast", "--dataset", "gvar:20x1500", "--model", model, "--window", "4",
                     "--horizon", "1", "--hidden", "16", "--epochs", "8", "--batch-size", "32", "--patience", "0",
                     "--out", str(tmp_path / model), "--json"]) == 0
        results = json.loads(capsys.readouterr().out)
        mse[model] = results["headline"]["1"]["mse"]["mean"]
        assert results["noise_mse"] == pytest.approx(0.01)
    assert mse["gconv-gru"] < 1.1 * 0.01 < mse["gru"]


ARGV = ["graph", "forecast", "--dataset", "chickenpox", "--model", "dcrnn", "--hidden", "8", "--epochs", "3",
        "--seeds", "0", "1"]


def test_sigterm_stops_after_the_epoch_and_resume_ends_bitwise_as_the_whole_run(shared_data, tmp_path, monkeypatch,
                                                                               capsys):
    assert main([*ARGV, "--out", str(tmp_path / "whole")]) == 0
    train_epoch = ForecastTrainer.train_epoch

    def interrupted(self):
        loss = train_epoch(self)
        if self.epoch == 1:
            os.kill(os.getpid(), signal.SIGTERM)
        return loss

    monkeypatch.setattr(ForecastTrainer, "train_epoch", interrupted)
    argv = [*ARGV, "--out", str(tmp_path / "run")]
    assert main(argv) == 128 + signal.SIGTERM
    assert "stopped at epoch 2 of seed 0" in capsys.readouterr().err  # the epoch under way finishes
    assert not (tmp_path / "run" / "results.json").exists()
    assert exit_code(argv) == 2  # not restarted over the unfinished run
    assert "--resume" in capsys.readouterr().err
    monkeypatch.setattr(ForecastTrainer, "train_epoch", train_epoch)
    assert main([*argv, "--resume"]) == 0
    for seed in (0, 1):
        resumed, whole = (checkpoint.load(tmp_path / d / f"checkpoint-seed{seed}.pt") for d in ("run", "whole"))
        assert resumed["epoch"] == whole["epoch"] == 3
        for key, value in whole["model"].items():
            assert torch.equal(resumed["model"][key], value), key
    assert exit_code(argv) == 2  # a finished run is not replaced by accident either
    assert "--force to train it again" in capsys.readouterr().err  # or --resume with more --epochs


def test_resume_with_more_epochs_and_seeds_ends_bitwise_as_the_run_started_with_them(shared_data, tmp_path, capsys):
    argv = [*ARGV[:-1], "--out", str(tmp_path / "run")]  # seed 0, 3 epochs
    assert main(argv) == 0
    longer = [*ARGV, "--epochs", "5", "--out", str(tmp_path / "run"), "--resume"]  # seeds 0 1, the last --epochs
    assert main(longer) == 0
    assert main([*ARGV, "--epochs", "5", "--out", str(tmp_path / "whole")]) == 0
    for seed in (0, 1):
        resumed, whole = (checkpoint.load(tmp_path / d / f"checkpoint-seed{seed}.pt") for d in ("run", "whole"))
        assert resumed["epoch"] == whole["epoch"] == 5 and resumed["config"]["epochs"] == 5
        for key, value in whole["model"].items():
            assert torch.equal(resumed["model"][key], value), key
    results = [json.loads((tmp_path / d / "results.json").read_text()) for d in ("run", "whole")]
    assert [run["test"] for run in results[0]["runs"]] == [run["test"] for run in results[1]["runs"]]
    assert results[0]["headline"] == results[1]["headline"]
    assert json.loads((tmp_path / "run" / "run.json").read_text())["config"]["seeds"] == [0, 1]
    capsys.readouterr()
    for fewer in (["--epochs", "4"], ["--seeds", "1", "0"]):  # fewer epochs than it trained; seeds reordered
        assert exit_code([*longer, *fewer]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "holds a run of other settings" in err[0] and "with more --epochs" in err[0], err
    assert exit_code([*longer[:-1], "--epochs", "6"]) == 2  # more epochs without --resume: not overwritten
    assert "holds a run of fewer epochs or seeds: add --resume" in capsys.readouterr().err
    assert exit_code(longer[:-1]) == 2
    assert "finished at epoch 5 of 5: --resume with more --epochs or --seeds" in capsys.readouterr().err


@pytest.mark.parametrize("schedule, factor", [(["--lr-milestones", "1", "--lr-decay", "0.5"], 0.5),
                                              (["--lr-milestones"], 1.0)])  # none: a constant rate
def test_the_learning_rate_schedule_is_a_flag(tmp_path, schedule, factor):
    # the generator's default protocol is DCRNN's, whose rate falls tenfold at epochs 20, 30, 40 and 50
    argv = ["graph", "forecast", "--dataset", "gvar:12x300", "--model", "gru", "--hidden", "4", "--epochs", "2",
            "--lr", "0.01", *schedule, "--out", str(tmp_path / "run")]
    assert main(argv) == 0
    ckpt = checkpoint.load(tmp_path / "run" / "checkpoint-seed0.pt")
    assert ckpt["config"]["lr_milestones"] == tuple(int(e) for e in schedule[1:2])
    assert ckpt["optimizer"]["param_groups"][0]["lr"] == pytest.approx(0.01 * factor)


@pytest.mark.parametrize("argv, message", [
    (["--dataset", "nowhere"], "unknown dataset 'nowhere'"),
    (["--dataset", "chickenpox", "--horizon", "600"], "too few for a window of 4 inputs and 600 steps ahead"),
    (["--dataset", "gvar:3x2"], "too few for a window"),
    (["--dataset", "los-loop", "--model", "tgcn", "--train-share", "1.5"], "must be in (0, 1)"),
    (["--dataset", "chickenpox", "--lr-decay", "1.5"], "must be in (0, 1)"),
    (["--dataset", "chickenpox", "--lr-milestones", "0"], "must be a positive integer"),
])
def test_bad_input_exits_2_with_one_line(shared_data, tmp_path, capsys, argv, message):
    assert exit_code(["graph", "forecast", *argv, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not (tmp_path / "o").exists()
