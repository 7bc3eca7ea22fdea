import json

import pytest

from seqgraph.cli import Parser
from seqgraph.commands import graph as graph_apps
from seqgraph.errors import InputError


def run(argv):
    parser = Parser(prog="seqgraph graph")
    graph_apps.add_subcommands(parser.add_subparsers(parser_class=Parser))
    args = parser.parse_args(argv)
    return args.func(args)








def test_depth_command(shared_data, tmp_path, capsys):
    out = tmp_path / "depth"
    argv = ["depth", "--layers", "1", "3", "--variants", "plain", "self", "--seeds", "0", "--epochs", "2",
            "--hidden", "8", "--out", str(out), "--device", "cpu", "--data-dir", str(shared_data), "--json"]
    assert run(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    results = json.loads((out / "results.json").read_text())
    assert printed == results
    assert [(r["variant"], r["layers"]) for r in results["rows"]] == [("plain", 1), ("plain", 3), ("self", 1),
                                                                        ("self", 3)]
    assert all(0 <= r["distance"]["mean"] <= 2 and 0 <= r["test_acc"]["mean"] <= 100 for r in results["rows"])
    demo = results["same_neighbourhood"]
    assert demo["gcn"][0] == pytest.approx(demo["gcn"][1]) and demo["self_weighted"][0] != demo["self_weighted"][1]
    assert (out / "depth.png").stat().st_size > 0


def test_compare_command(shared_data, tmp_path, capsys):
    out = tmp_path / "compare"
    argv = ["compare", "--models", "gcn", "sage-mean", "seq-dfs", "--seeds", "0", "1", "--epochs", "2",
            "--out", str(out), "--device", "cpu", "--data-dir", str(shared_data)]
    assert run(argv) == 0
    results = json.loads((out / "results.json").read_text())
    assert [r["model"] for r in results["rows"]] == ["gcn", "sage-mean", "seq-dfs"]
    gcn = results["rows"][0]
    assert gcn["parameters"] == 1433 * 16 + 16 + 16 * 7 + 7  # two GCN layers with biases
    assert all(len(r["runs"]) == 2 and r["seconds_per_epoch"]["mean"] > 0 for r in results["rows"])
    assert results["config"]["models"]["gcn"]["epochs"] == 2
    assert "LSTM on DFS order" in capsys.readouterr().out and (out / "compare.png").stat().st_size > 0
    # the same folder refuses another experiment
    with pytest.raises(InputError, match="another experiment"):
        run([arg if arg != "2" else "3" for arg in argv])  # --epochs 3
