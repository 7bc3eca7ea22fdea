import pytest
import torch
import torch.nn.functional as F
from torch_geometric.nn import SAGEConv as PyGSAGEConv

from seqgraph.graph.conv.sage import SAGEConv, sample_neighbours
from seqgraph.graph.data import to_undirected
from seqgraph.graph.node.models import LayerStack
from seqgraph.recurrent import LSTM, last_states

from .helpers import training_losses

# node 4 has no neighbours; node 0 has four
EDGE_INDEX = to_undirected(torch.tensor([[0, 0, 0, 0, 1, 2], [1, 2, 3, 5, 2, 3]]), 6)


def neighbours_of(i):
    return sorted(EDGE_INDEX[0, EDGE_INDEX[1] == i].tolist())


@pytest.mark.parametrize("aggr", ["mean", "lstm"])
def test_sage_conv_shapes_and_repr(aggr):
    conv = SAGEConv(8, 4, aggr)
    assert conv(torch.randn(6, 8), EDGE_INDEX).shape == (6, 4)
    assert str(conv) == f"SAGEConv(8, 4, aggr='{aggr}')"
    assert conv(torch.randn(0, 8), torch.empty(2, 0, dtype=torch.long)).shape == (0, 4)
    with pytest.raises(ValueError, match="SAGEConv aggr"):
        SAGEConv(8, 4, "max")


def test_mean_aggregator_equals_dense_reference_and_pyg():
    conv = SAGEConv(5, 3, "mean").double()
    torch.nn.init.normal_(conv.bias)
    x = torch.randn(6, 5, dtype=torch.float64)
    a = torch.zeros(6, 6, dtype=torch.float64)
    a[EDGE_INDEX[1], EDGE_INDEX[0]] = 1.0
    mean = a / a.sum(1, keepdim=True).clamp(min=1)  # D^-1 A; the isolated node's row stays 0
    expected = x @ conv.lin_self.weight.t() + mean @ x @ conv.lin_neigh.weight.t() + conv.bias
    torch.testing.assert_close(conv(x, EDGE_INDEX), expected)
    # Ensure same weights and bias: PyG's lin_l takes the neighbours (with the bias), lin_r the node itself
    pyg = PyGSAGEConv(5, 3, aggr="mean").double()
    with torch.no_grad():
        pyg.lin_l.weight.copy_(conv.lin_neigh.weight)
        pyg.lin_l.bias.copy_(conv.bias)
        pyg.lin_r.weight.copy_(conv.lin_self.weight)
    torch.testing.assert_close(conv(x, EDGE_INDEX), pyg(x, EDGE_INDEX))


def test_sample_neighbours_draws_distinct_true_neighbours_in_random_order():
    index, lengths = sample_neighbours(EDGE_INDEX, 6, num_samples=3, generator=torch.Generator().manual_seed(0))
    assert index.shape == (6, 3)
    assert lengths.tolist() == [min(len(neighbours_of(i)), 3) for i in range(6)]
    for i in range(6):
        row = index[i, : lengths[i]].tolist()
        assert len(set(row)) == len(row) and set(row) <= set(neighbours_of(i))
        assert bool((index[i, lengths[i]:] == -1).all())
    orders = {tuple(sample_neighbours(EDGE_INDEX, 6, 10)[0][0].tolist()) for _ in range(30)}
    assert len(orders) > 1 and all(sorted(o) == neighbours_of(0) for o in orders)


def test_lstm_aggregator_reads_each_node_to_its_own_length():
    # Ensure same weights: our LSTM holds those of torch.nn.LSTM, which runs every sequence alone
    reference = torch.nn.LSTM(4, 5, batch_first=True).double()
    lstm = LSTM.from_torch(reference).double()
    h = torch.randn(7, 4, dtype=torch.float64)
    index = torch.tensor([[3, 1, 4, 0, 6], [2, -1, -1, -1, -1], [-1, -1, -1, -1, -1], [5, 6, -1, -1, -1],
                          [0, 1, 2, 3, -1]])
    lengths = (index >= 0).sum(1)
    out = last_states(lstm, h, index, lengths)
    for b in range(5):
        if lengths[b] == 0:
            assert bool((out[b] == 0).all())
        else:
            _, (h_n, _) = reference(h[index[b, : lengths[b]]][None])
            torch.testing.assert_close(out[b], h_n[0, 0])
    # more padding changes nothing
    padded = torch.cat([index, torch.full((5, 4), -1)], dim=1)
    torch.testing.assert_close(last_states(lstm, h, padded, lengths), out)


def test_lstm_sage_conv_output_does_not_depend_on_padding_width():
    conv = SAGEConv(4, 3, "lstm", num_samples=8).double()
    x = torch.randn(6, 4, dtype=torch.float64)
    torch.manual_seed(0)
    index, lengths = sample_neighbours(EDGE_INDEX, 6, 8)
    u = x @ conv.lin_proj.weight.t()
    a = last_states(conv.lstm, u, index, lengths)
    b = last_states(conv.lstm, u, torch.cat([index, torch.full((6, 3), -1)], dim=1), lengths)
    torch.testing.assert_close(a, b)
    assert bool((a[4] == 0).all())  # no neighbours: h_N(i) = 0
    torch.manual_seed(0)  # the same sample inside forward
    expected = x @ conv.lin_self.weight.t() + a @ conv.lin_neigh.weight.t() + conv.bias
    torch.testing.assert_close(conv(x, EDGE_INDEX), expected)


@pytest.mark.parametrize("aggr", ["mean", "lstm"])
def test_graphsage_trains(aggr):
    torch.manual_seed(0)
    y = torch.tensor([0, 0, 1, 1, 0, 1])
    x = F.one_hot(y, 2).float() + 0.1 * torch.randn(6, 2)
    model = LayerStack("sage", 2, 8, 2, dropout=0.0, aggr=aggr)
    losses = training_losses(model, x, EDGE_INDEX, y)
    assert losses[-1] < 0.5 * losses[0]
