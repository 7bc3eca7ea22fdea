import math

import pytest
import torch

from seqgraph.commands.graph.depth import self_weight_demo
from seqgraph.commands.graph.example import a_hat, report_graph
from seqgraph.graph.conv.gcn import GCNConv, SelfGCNConv
from seqgraph.graph.data import to_undirected
from seqgraph.graph.node.depth import DeepGCN, mean_pairwise_distance


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_self_weight_keeps_apart_the_nodes_a_plain_gcn_collapses(seed):
    demo = self_weight_demo(seed)
    assert not torch.allclose(demo["x"][0], demo["x"][1])
    torch.testing.assert_close(demo["gcn"][0], demo["gcn"][1])  # same closed neighbourhood {0, 1, 2}
    assert (demo["self_weighted"][0] - demo["self_weighted"][1]).abs().max() > 1e-3


def test_self_gcn_conv_equals_dense_reference():
    graph = report_graph()
    x = torch.randn(6, 4, dtype=torch.float64)
    layer = SelfGCNConv(4, 3).double()
    torch.nn.init.normal_(layer.conv.bias)
    w, w_self, b = layer.conv.lin.weight, layer.lin_self.weight, layer.conv.bias
    expected = a_hat(graph) @ x @ w.t() + x @ w_self.t() + b  # Â X W + X W_self + b
    torch.testing.assert_close(layer(x, graph.edge_index), expected)
    assert str(layer) == "SelfGCNConv(4, 3)"


def test_self_gcn_conv_without_self_weight_is_a_gcn_layer():
    graph = report_graph()
    x = torch.randn(6, 4)
    layer, plain = SelfGCNConv(4, 3), GCNConv(4, 3)
    plain.load_state_dict(layer.conv.state_dict())
    torch.nn.init.zeros_(layer.lin_self.weight)
    torch.testing.assert_close(layer(x, graph.edge_index), plain(x, graph.edge_index))


@pytest.mark.parametrize("variant", ["plain", "self", "residual"])
@pytest.mark.parametrize("num_layers", [1, 2, 5])
def test_deep_gcn_shapes(variant, num_layers):
    graph = report_graph()
    model = DeepGCN(4, 8, 3, num_layers, variant).eval()
    assert model(torch.randn(6, 4), graph.edge_index).shape == (6, 3)
    assert len(model.convs) == num_layers


def test_residual_layers_add_their_input():
    graph = report_graph()
    model = DeepGCN(4, 8, 3, 3, "residual", dropout=0.0).eval()
    x = torch.randn(6, 4)
    with torch.no_grad():
        h1 = model.convs[0](x, graph.edge_index).relu()
        h2 = model.convs[1](h1, graph.edge_index).relu() + h1  # H(2) = ReLU(Â H(1) W) + H(1)
        torch.testing.assert_close(model(x, graph.edge_index), model.convs[2](h2, graph.edge_index))
    with pytest.raises(ValueError, match="variant"):
        DeepGCN(4, 8, 3, 2, "dense")


def test_mean_pairwise_distance():
    assert mean_pairwise_distance(torch.tensor([[1.0, 2.0], [2.0, 4.0], [0.5, 1.0]])) == pytest.approx(0.0, abs=1e-7)
    assert mean_pairwise_distance(torch.eye(2)) == pytest.approx(math.sqrt(2))
    h = torch.randn(7, 3)
    u = h / h.norm(dim=1, keepdim=True)
    brute = sum(float((u[i] - u[j]).norm()) for i in range(7) for j in range(7) if i != j) / 42
    assert mean_pairwise_distance(h) == pytest.approx(brute, rel=1e-6)


def test_repeated_gcn_propagation_smooths_out_every_difference():
    # a connected, non-bipartite graph: Â^L X tends to rows proportional to sqrt(D̃_ii), one direction
    edge_index = to_undirected(torch.tensor([[0, 1, 2, 3, 4, 0], [1, 2, 3, 4, 5, 2]]), 6)
    conv = GCNConv(3, 3, bias=False).double()
    with torch.no_grad():
        conv.lin.weight.copy_(torch.eye(3))
        h = torch.rand(6, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
        before = mean_pairwise_distance(h)
        for _ in range(200):
            h = conv(h, edge_index)
    assert before > 0.1 and mean_pairwise_distance(h) < 1e-6
