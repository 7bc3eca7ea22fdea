import json
import shutil

import pytest
import torch

from seqgraph.cli import main
from seqgraph.commands.graph import example

SPEC_A_TILDE = [[1, 1, 0, 0, 1, 0], [1, 1, 0, 1, 0, 0], [0, 0, 1, 1, 0, 0],
                [0, 1, 1, 1, 0, 1], [1, 0, 0, 0, 1, 0], [0, 0, 0, 1, 0, 1]]


def test_example_signal_from_c_reaches_e_after_exactly_four_updates():
    graph = example.report_graph()
    assert example.a_tilde(graph).tolist() == SPEC_A_TILDE
    signals = example.spread_signal(graph, "C", 4)
    e = example.NODES.index("E")
    assert [float(h[e]) for h in signals[:4]] == [0.0] * 4 and signals[4][e] > 0
    assert example.first_arrival(graph, "C", "E") == 4
    # each update reaches exactly one hop further: C, then D, then B and F, then A
    reached = [{example.NODES[i] for i in h.nonzero().view(-1).tolist()} for h in signals]
    assert reached == [{"C"}, {"C", "D"}, {"B", "C", "D", "F"}, {"A", "B", "C", "D", "F"}, set(example.NODES)]


def test_example_a_hat_is_the_symmetric_normalisation():
    a_tilde, a_hat = example.a_tilde(example.report_graph()), example.a_hat(example.report_graph())
    d = a_tilde.sum(1).rsqrt()
    torch.testing.assert_close(a_hat, d[:, None] * a_tilde * d[None, :])


def test_same_closed_neighbourhood_collapses_unless_self_loops_are_reweighted():
    demo = example.same_neighbourhood_demo(seed=3)
    assert not torch.allclose(demo["x"][0], demo["x"][1])
    torch.testing.assert_close(demo["gcn"][0], demo["gcn"][1])
    assert not torch.allclose(demo["gcn_self_weight_2"][0], demo["gcn_self_weight_2"][1])


def test_example_command(capsys):
    assert main(["graph", "example", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["a_tilde"] == SPEC_A_TILDE and out["E_first_reached_after"] == 4
    assert main(["graph", "example"]) == 0
    assert "E first receives C's signal after 4 updates" in capsys.readouterr().out


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
