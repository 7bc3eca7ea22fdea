import json

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






