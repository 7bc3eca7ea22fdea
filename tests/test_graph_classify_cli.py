import json

import pytest

from seqgraph.cli import Parser
from seqgraph.commands.graph_classify import format_table, register_classify
from seqgraph.errors import InputError
from tests.test_tu import tu_root  # noqa: F401 (a fixture)


def classify(argv: list[str]) -> int:
    """``seqgraph graph classify ARGV``, through the command's own parser."""
    parser = Parser(prog="seqgraph graph")
    register_classify(parser.add_subparsers(dest="graph_command"))
    args = parser.parse_args(["classify", *argv])
    return args.func(args)


def test_classify_command_on_mutag_writes_results_folds_and_curves(tu_root, tmp_path, capsys):  # noqa: F811
    out = tmp_path / "run"
    argv = ["--dataset", "mutag", "--folds", "2", "--epochs", "3", "--hidden", "16", "--data-dir", str(tu_root),
            "--out", str(out), "--json"]
    assert classify(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    results = json.loads((out / "results.json").read_text())
    assert printed == results
    assert results["label_mapping"] == {"0": -1, "1": 1} and results["graphs"] == 188
    assert results["config"]["epochs"] == 3 and results["config"]["hidden"] == 16
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


def test_classify_command_bad_dataset_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="must hold exactly one <NAME>_graph_indicator.txt"):
        classify(["--dataset", str(tmp_path), "--out", str(tmp_path / "out")])  # a folder without TU files
    (tmp_path / "X_graph_indicator.txt").write_text("1\n1\n")
    with pytest.raises(InputError, match="X_graph_labels.txt is missing"):
        classify(["--dataset", str(tmp_path), "--out", str(tmp_path / "out")])
