import json

import pytest

from seqgraph.cli import Parser
from seqgraph.commands import graph as graph_apps
from seqgraph.commands.graph.linkpred import recommendations
from seqgraph.errors import InputError
from seqgraph.graph.link.split import pair_keys


def run(argv):
    parser = Parser(prog="seqgraph graph")
    graph_apps.add_subcommands(parser.add_subparsers(parser_class=Parser))
    args = parser.parse_args(argv)
    return args.func(args)


def test_linkpred_command_with_recommendations(shared_data, tmp_path, capsys):
    out = tmp_path / "lp"
    argv = ["linkpred", "--model", "vgae", "--seeds", "0", "1", "--epochs", "3", "--hidden", "8", "--latent", "4",
            "--recommend", "7", "--top", "5", "--out", str(out), "--device", "cpu", "--data-dir", str(shared_data)]
    assert run(argv) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["published"] == {"auc": 91.4, "ap": 92.6} and [r["seed"] for r in results["runs"]] == [0, 1]
    assert results["split"] == {"train_edges": 4488, "val_edges": 263, "test_edges": 527}  # 5278 Cora edges
    assert 0 <= results["test_auc_best_val"]["mean"] <= 100 and results["test_ap_last"]["std"] >= 0
    links = results["recommendations"]["links"]
    assert len(links) == 5 and all(link["node"] != 7 for link in links)
    assert (out / "curves.png").stat().st_size > 0
    assert "most likely missing links of node 7" in capsys.readouterr().out


def test_linkpred_recommendations_skip_training_neighbours(shared_data):
    from seqgraph.graph.datasets.planetoid import load_planetoid
    from seqgraph.graph.link.train import LinkPredConfig, fit_linkpred

    graph = load_planetoid("cora", shared_data)
    _, z, split = fit_linkpred(graph, LinkPredConfig(epochs=2), seed=0)
    node = int(split.train_pos[0, 0])
    links = recommendations(z, split, node, 50)["links"]
    neighbours = set(split.train_edge_index[1, split.train_edge_index[0] == node].tolist())
    assert neighbours and not neighbours & {link["node"] for link in links}
    held_out = {name: set(pair_keys(pairs, 2708).tolist()) for name, pairs in (("val", split.val_pos),
                                                                                 ("test", split.test_pos))}
    for link in links:
        key = min(node, link["node"]) * 2708 + max(node, link["node"])
        assert link["held_out_edge"] == next((name for name, keys in held_out.items() if key in keys), None)


def test_linkpred_rejects_a_node_outside_the_graph(shared_data, tmp_path):
    with pytest.raises(InputError, match="--recommend 5000"):
        run(["linkpred", "--recommend", "5000", "--out", str(tmp_path), "--data-dir", str(shared_data)])
    with pytest.raises(SystemExit) as error:
        run(["linkpred", "--top", "0", "--out", str(tmp_path)])
    assert error.value.code == 2
    with pytest.raises(InputError, match="--top is the number of links --recommend NODE lists"):
        run(["linkpred", "--top", "5", "--out", str(tmp_path / "top"), "--data-dir", str(shared_data)])
    assert not (tmp_path / "top").exists()




