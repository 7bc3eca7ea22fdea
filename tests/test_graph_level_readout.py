import pytest
import torch

from seqgraph.cells import LSTMCell
from seqgraph.graph.level.readout import Set2Set, max_readout, mean_readout, sum_readout

# nodes of 4 graphs, unsorted on purpose; graph 2 has a single node
BATCH = torch.tensor([0, 1, 0, 3, 1, 1, 2, 0, 3, 3])


@pytest.mark.parametrize("ours, name", [(sum_readout, "global_add_pool"), (mean_readout, "global_mean_pool"),
                                        (max_readout, "global_max_pool")])
def test_readout_matches_pyg_pool_with_gradients(ours, name):
    import torch_geometric.nn

    theirs = getattr(torch_geometric.nn, name)
    x = torch.randn(BATCH.numel(), 5, requires_grad=True)
    weight = torch.randn(4, 5)  # a random upstream gradient
    out = ours(x, BATCH, 4)
    (grad,) = torch.autograd.grad((out * weight).sum(), x)
    expected = theirs(x, BATCH, 4)
    (expected_grad,) = torch.autograd.grad((expected * weight).sum(), x)
    assert out.shape == (4, 5)
    assert torch.allclose(out, expected, atol=1e-5)
    assert torch.allclose(grad, expected_grad, atol=1e-5)


def test_readout_of_a_graph_without_nodes_is_zero():
    x = torch.randn(3, 2)
    for readout in (sum_readout, mean_readout, max_readout):
        assert readout(x, torch.tensor([0, 0, 2]), 3)[1].tolist() == [0.0, 0.0]


def set2set_reference(x, batch, num_graphs, cell: LSTMCell, steps):
    """Set2Set in float64 straight from Vinyals et al.'s equations (3)-(7) and the LSTM's (SPEC 4-9), graph by graph."""
    W_x, W_h, b = (p.detach().double() for p in (cell.weight_ih, cell.weight_hh, cell.bias))
    H = cell.hidden_size
    outputs = []
    for g in range(num_graphs):
        m = x[batch == g].double()  # the set {m_i}
        q_star, h, c = torch.zeros(2 * H, dtype=torch.float64), torch.zeros(H, dtype=torch.float64), \
            torch.zeros(H, dtype=torch.float64)
        for _ in range(steps):
            z = W_x @ q_star + W_h @ h + b
            i, f, gg, o = torch.sigmoid(z[:H]), torch.sigmoid(z[H:2 * H]), torch.tanh(z[2 * H:3 * H]), \
                torch.sigmoid(z[3 * H:])
            c = gg * i + c * f
            h = torch.tanh(c) * o  # q_t (3)
            e = m @ h  # (4)
            a = torch.exp(e) / torch.exp(e).sum()  # (5)
            r = (a[:, None] * m).sum(0)  # (6)
            q_star = torch.cat([h, r])  # (7)
        outputs.append(q_star)
    return torch.stack(outputs)


def test_set2set_matches_float64_reference_and_pyg():
    from torch_geometric.nn.aggr import Set2Set as PygSet2Set

    torch.manual_seed(0)
    x = torch.randn(BATCH.numel(), 4)
    ours = Set2Set(4, processing_steps=3)
    torch.nn.init.normal_(ours.lstm.bias)  # non-zero biases, so that they are checked too
    out = ours(x, BATCH, 4)
    assert out.shape == (4, 8) and str(ours) == "Set2Set(4, processing_steps=3)"
    assert torch.allclose(out.double(), set2set_reference(x, BATCH, 4, ours.lstm, 3), atol=1e-5)

    theirs = PygSet2Set(4, processing_steps=3)
    ours.lstm = LSTMCell.from_torch(theirs.lstm)  # Ensure same weights and bias
    order = torch.argsort(BATCH, stable=True)  # PyG wants nodes sorted by graph
    assert torch.allclose(ours(x, BATCH, 4), theirs(x[order], BATCH[order], dim_size=4), atol=1e-5)


def test_set2set_is_invariant_to_node_order():
    x = torch.randn(BATCH.numel(), 3)
    readout = Set2Set(3, processing_steps=2)
    perm = torch.randperm(BATCH.numel())
    assert torch.allclose(readout(x, BATCH, 4), readout(x[perm], BATCH[perm], 4), atol=1e-6)


def test_deepsets_baseline_matches_its_equation_in_float64_and_ignores_edges():
    from seqgraph.graph.level.models import DeepSets

    torch.manual_seed(0)
    model = DeepSets(5, 3, hidden_channels=8).double()
    x = torch.randn(7, 5, dtype=torch.float64)
    batch = torch.tensor([0, 0, 0, 1, 1, 2, 2])
    W_v, b_v = model.node.weight, model.node.bias
    (W_1, b_1), (W_2, b_2) = ((m.weight, m.bias) for m in (model.mlp[0], model.mlp[2]))
    expected = []
    for g in range(3):  # h_G = Σ_v ReLU(W_v x_v + b_v), ŷ = W_2 ReLU(W_1 h_G + b_1) + b_2, one graph at a time
        h = sum(torch.relu(W_v @ x[v] + b_v) for v in range(7) if batch[v] == g)
        expected.append(W_2 @ torch.relu(W_1 @ h + b_1) + b_2)
    edges = torch.tensor([[0, 1], [1, 2]])
    torch.testing.assert_close(model(x, edges, batch, 3), torch.stack(expected), rtol=0, atol=1e-12)
    no_edges = torch.empty(2, 0, dtype=torch.long)
    torch.testing.assert_close(model(x, edges.flip(0), batch, 3), model(x, no_edges, batch, 3))
