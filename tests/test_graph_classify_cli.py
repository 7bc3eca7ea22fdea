import json

import pytest

from seqgraph.cli import main
from seqgraph.commands.graph.classify import format_table

from .test_graph_datasets_tu import tu_root  # noqa: F401 (a fixture)


def classify(argv: list[str]) -> int:
    return main(["graph", "classify", *argv])


def test_classify_command_on_mutag_writes_results_folds_and_curves(tu_root, tmp_path, capsys):  # noqa: F811
    out = tmp_path / "run"
    argv = ["--dataset", "mutag", "--folds", "2", "--epochs", "3", "--hidden", "16", "--data-dir", str(tu_root),
            "--out", str(out), "--json"]
    assert classify(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    results = json.loads((out / "results.json").read_text())
    assert printed == results
    assert results["label_mapping"] == {"0": -1, "1": 1} and results["graphs"] == 188
    assert results["config"]["epochs"] == 3 and results["config"]["hidden_size"] == 16
    for protocol in ("holdout", "gin_paper"):
        assert len(results[protocol]["per_fold"]) == 2 and 0 <= results[protocol]["mean"] <= 100
    assert results["gin_paper"]["published"] == "89.4 ± 5.6"
    folds = json.loads((out / "folds.json").read_text())["folds"]
    assert sorted(i for f in folds for i in f["test"]) == list(range(188))
    assert (out / "curves.png").stat().st_size > 0
    history = json.loads((out / "history.json").read_text())
    assert [len(h) for h in history.values()] == [3, 3]
    # the printed table names both protocols and the published number
    table = format_table(results)
    assert "GIN paper" in table and "Errica et al. 2020" in table and "89.4 ± 5.6" in table


def test_classify_command_bad_input_exits_2_with_one_line(tmp_path, capsys):
    # a folder without TU files
    assert classify(["--dataset", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert "must hold exactly one <NAME>_graph_indicator.txt" in capsys.readouterr().err
    (tmp_path / "X_graph_indicator.txt").write_text("1\n1\n")
    (tmp_path / "X_graph_labels.txt").write_text("1\n")
    (tmp_path / "X_A.txt").write_text("1, 2\n2, one\n")
    assert classify(["--dataset", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "X_A.txt line 2: 'one' is not an integer" in err
    assert not (tmp_path / "out").exists()  # bad input is found before --out is claimed
    with pytest.raises(SystemExit) as exit_info:
        classify(["--model", "gat", "--out", str(tmp_path / "out")])
    assert exit_info.value.code == 2


def test_classify_command_refuses_bad_folds_before_claiming_out(tu_root, tmp_path, capsys):  # noqa: F811
    for folds in ("1", "189"):  # MUTAG has 188 graphs
        assert classify(["--dataset", "mutag", "--data-dir", str(tu_root), "--folds", folds,
                         "--out", str(tmp_path / "out")]) == 2
        captured = capsys.readouterr()
        assert captured.err == f"seqgraph graph: error: folds must be between 2 and the number of graphs (188), " \
                               f"got {folds}\n" and "epoch" not in captured.out  # no progress bar started
        assert not (tmp_path / "out").exists()


def test_classify_readout_flag_reaches_the_model_and_refuses_the_baselines(tu_root, tmp_path, capsys):  # noqa: F811
    argv = ["--dataset", "mutag", "--data-dir", str(tu_root), "--folds", "2", "--epochs", "1", "--hidden", "8"]
    assert classify([*argv, "--readout", "mean", "--out", str(tmp_path / "mean")]) == 0
    assert json.loads((tmp_path / "mean" / "results.json").read_text())["config"]["readout"] == "mean"
    capsys.readouterr()
    assert classify([*argv, "--model", "deepsets", "--readout", "max", "--out", str(tmp_path / "deepsets")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "readout 'max' applies to gin, gin-eps, gcn" in err
    assert not (tmp_path / "deepsets").exists()
