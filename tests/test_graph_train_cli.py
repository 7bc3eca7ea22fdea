import json
import shutil

import pytest

from seqgraph.cli import main

SPEC_A_TILDE = [[1, 1, 0, 0, 1, 0], [1, 1, 0, 1, 0, 0], [0, 0, 1, 1, 0, 0],
                [0, 1, 1, 1, 0, 1], [1, 0, 0, 0, 1, 0], [0, 0, 0, 1, 0, 1]]










def test_train_command_on_a_folder_of_cora_files(shared_data, tmp_path, capsys):
    folder = tmp_path / "data"
    shutil.copytree(shared_data / "planetoid" / "cora", folder, copy_function=shutil.copyfile)
    folder.chmod(0o755)  # the mirror is read-only
    out = tmp_path / "run"
    argv = ["graph", "train", "--dataset", str(folder), "--model", "gat", "--seeds", "0", "1", "--epochs", "4",
            "--hidden", "4", "--heads", "2", "--out", str(out), "--device", "cpu"]
    assert main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["headline"] == "test_acc_best_val" and results["published"] == "83.0 ± 0.7"
    assert [r["seed"] for r in results["runs"]] == [0, 1] and all(r["last_epoch"] == 4 for r in results["runs"])
    assert 0 <= results["test_acc_best_val"]["mean"] <= 100 and results["test_acc_last"]["std"] >= 0
    assert results["config"]["heads"] == 2 and results["config"]["lr"] == 0.005  # flags and paper defaults
    history = json.loads((out / "history.json").read_text())
    assert len(history["0"]) == 4 and history["0"][0]["train_loss"] > history["0"][-1]["train_loss"]
    assert (out / "curves.png").stat().st_size > 0
    assert "published" in capsys.readouterr().out


def test_train_command_gcn_from_data_directory(shared_data, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["graph", "train", "--seeds", "0", "--epochs", "3", "--out", str(out), "--json",
                 "--data-dir", str(shared_data)]) == 0
    results = json.loads(capsys.readouterr().out)
    assert results["model"] == "gcn" and results["dataset"] == "cora" and results["num_nodes"] == 2708
    assert results["config"]["hidden_size"] == 16 and results["config"]["patience"] is None


@pytest.mark.parametrize("argv, message", [
    (["--dataset", "imagenet"], "unknown dataset 'imagenet'"),
    (["--dropout", "1.5"], "--dropout"),
    (["--model", "mlp"], "--model"),
])
def test_train_command_bad_input_exits_2(tmp_path, capsys, argv, message):
    code = None
    try:
        code = main(["graph", "train", "--out", str(tmp_path / "run"), *argv])
    except SystemExit as e:  # argparse errors
        code = e.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
