"""Graph commands refuse sizes that could not be trained or written here, in one line, before touching --out."""

import pytest

from seqgraph import resources
from seqgraph.errors import InputError

from .test_reliability import exit_code

HUGE = "1048576"  # MAX_SIZE: accepted by the parser, refused by the memory check on any graph
TOO_BIG = [
    ["graph", "train", "--hidden", HUGE],
    ["graph", "train", "--model", "gat", "--hidden", "64", "--heads", "100000"],
    ["graph", "train", "--batch-size", "64", "--fanout", HUGE, HUGE, "--hidden", HUGE],
    ["graph", "depth", "--hidden", HUGE, "--layers", "2", "64"],
    ["graph", "compare", "--models", "gcn", "gat", "--epochs", "1"],  # fits: the control case
    ["graph", "linkpred", "--latent", HUGE, "--hidden", HUGE],
    ["graph", "classify", "--hidden", HUGE],
]


@pytest.mark.parametrize("argv", TOO_BIG, ids=lambda argv: " ".join(argv[1:3]))
def test_too_large_models_are_refused_before_out_is_created(argv, shared_data, tmp_path, capsys):
    out = tmp_path / "out"
    fits = argv[1] == "compare"
    code = exit_code([*argv, "--seeds", "0", "--out", str(out), "--device", "cpu", "--data-dir", str(shared_data)]
                     if argv[1] != "classify" else [*argv, "--folds", "2", "--epochs", "1", "--out", str(out),
                                                    "--device", "cpu", "--data-dir", str(shared_data)])
    err = capsys.readouterr().err
    if fits:
        assert code == 0 and (out / "results.json").exists()
        return
    assert code == 2 and not out.exists(), err
    assert err.count("\n") == 1 and "GiB of memory" in err and "more than this machine's" in err


@pytest.mark.parametrize("flag, value", [("--fanout", "0"), ("--fanout", "1048577"), ("--layers", "65"),
                                         ("--batch-size", "1048577"), ("--hidden", "1048577"), ("--heads", "0")])
def test_graph_train_sizes_are_bounded_by_the_parser(flag, value, tmp_path, capsys):
    argv = ["graph", "train", "--batch-size", "8", flag, value, "--out", str(tmp_path / "out")]
    assert exit_code(argv) == 2 and not (tmp_path / "out").exists()
    err = capsys.readouterr().err
    assert f"argument {flag}" in err and err.count("\n") == 1


def test_generate_refuses_files_larger_than_the_free_disk(tmp_path, capsys):
    out = tmp_path / "big"
    code = exit_code(["graph", "generate", "--nodes", "1000", "--edges", str(2 * 10**13), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and not out.exists() and "GiB of disk" in err and str(tmp_path) in err


def test_generate_refuses_more_nodes_than_memory_holds(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(resources, "physical_memory", lambda: 2**28)
    out = tmp_path / "big"
    assert exit_code(["graph", "generate", "--nodes", "10000000", "--edges", "20", "--out", str(out)]) == 2
    assert "GiB of memory" in capsys.readouterr().err and not out.exists()


def test_the_estimate_grows_with_the_graph_and_the_width():
    from seqgraph.graph.conv.gcn import GCNConv

    def need(nodes, edges, width):
        try:
            resources.check_graph_model_fits("m", lambda: GCNConv(width, width), nodes, edges)
        except InputError as e:
            return e
        return None

    gib = resources.physical_memory()
    assert need(10**4, 10**5, 64) is None  # Cora-sized: about 100 MB
    assert need(gib // (16 * 64), 0, 64) is not None  # 4 numbers of 4 bytes per node and unit: the whole memory
