import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch_geometric.data import Data
from torch_geometric.nn.conv.gcn_conv import gcn_norm as pyg_gcn_norm
from torch_geometric.utils import coalesce as pyg_coalesce
from torch_geometric.utils import to_undirected as pyg_to_undirected

from seqgraph.errors import InputError
from seqgraph.graph.data import (
    Graph,
    add_self_loops,
    coalesce,
    degree,
    normalized_adjacency,
    remove_self_loops,
    to_undirected,
)


@st.composite
def edge_lists(draw, max_nodes=8, max_edges=30):
    """Random directed multigraphs: duplicate edges, self-loops and isolated nodes all occur."""
    n = draw(st.integers(1, max_nodes))
    pairs = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=max_edges))
    return torch.tensor(pairs, dtype=torch.long).view(-1, 2).t(), n


def dense_a_hat(edge_index, n, self_loop_weight=1.0):
    """Â from its definition in float64: A[i, j] counts the edges j -> i (i != j); Ã = A + wI; D̃^-1/2 Ã D̃^-1/2."""
    src, dst = remove_self_loops(edge_index)
    a = torch.sparse_coo_tensor(torch.stack([dst, src]), torch.ones(src.numel(), dtype=torch.float64),
                                (n, n), check_invariants=True).to_dense()  # duplicates add up
    a_tilde = a + self_loop_weight * torch.eye(n, dtype=torch.float64)
    d = a_tilde.sum(dim=1).pow(-0.5)
    return d[:, None] * a_tilde * d[None, :]


def to_dense(edge_index, weight, n):
    return torch.sparse_coo_tensor(edge_index.flip(0), weight, (n, n), check_invariants=True).to_dense()


@settings(max_examples=60, deadline=None)
@given(edge_lists(), st.sampled_from([1.0, 2.0]))
def test_normalized_adjacency_matches_dense_float64(graph, w):
    edge_index, n = graph
    edges, weight = normalized_adjacency(edge_index, n, w, dtype=torch.float64)
    assert edges.size(1) == weight.numel() == remove_self_loops(edge_index).size(1) + n
    torch.testing.assert_close(to_dense(edges, weight, n), dense_a_hat(edge_index, n, w), rtol=0, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(edge_lists())
def test_normalized_adjacency_equals_pyg_gcn_norm(graph):
    # Duplicates are counted as in PyG's gcn_norm, so the two agree on any edge list, coalesced or not.
    edge_index, n = graph
    for edges in (edge_index, coalesce(edge_index, n)):
        ours = to_dense(*normalized_adjacency(edges, n, dtype=torch.float64), n)
        ref = to_dense(*pyg_gcn_norm(edges, None, n, add_self_loops=True, dtype=torch.float64), n)
        torch.testing.assert_close(ours, ref, rtol=0, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(edge_lists())
def test_coalesce_and_to_undirected_equal_pyg(graph):
    edge_index, n = graph
    assert torch.equal(coalesce(edge_index, n), pyg_coalesce(edge_index, num_nodes=n, sort_by_row=False))
    undirected = to_undirected(edge_index, n)
    assert torch.equal(coalesce(undirected, n), undirected)
    assert torch.equal(coalesce(undirected, n), coalesce(pyg_to_undirected(edge_index, num_nodes=n), n))


def test_coalesced_graph_gives_the_simple_graph_normalisation():
    edge_index = torch.tensor([[0, 0, 1, 1, 2], [1, 1, 0, 2, 1]])  # 0 -> 1 twice
    simple = coalesce(edge_index, 3)
    assert simple.tolist() == [[1, 0, 2, 1], [0, 1, 1, 2]]
    a_hat = to_dense(*normalized_adjacency(simple, 3, dtype=torch.float64), 3)
    a_tilde = torch.tensor([[1, 1, 0], [1, 1, 1], [0, 1, 1]], dtype=torch.float64)
    d = a_tilde.sum(1).rsqrt()
    torch.testing.assert_close(a_hat, d[:, None] * a_tilde * d[None, :])


def test_self_loops_and_degree():
    edge_index = torch.tensor([[0, 1, 1, 2], [1, 1, 2, 0]])
    assert remove_self_loops(edge_index).tolist() == [[0, 1, 2], [1, 2, 0]]
    with_loops = add_self_loops(edge_index, 4)  # node 3 is isolated; node 1's existing loop is not doubled
    assert with_loops.tolist() == [[0, 1, 2, 0, 1, 2, 3], [1, 2, 0, 0, 1, 2, 3]]
    assert degree(with_loops[1], 4).tolist() == torch.bincount(with_loops[1], minlength=4).float().tolist()
    graph = Graph(edge_index, 4)
    assert graph.add_self_loops().degree().tolist() == [2, 2, 2, 1]
    assert graph.remove_self_loops().num_edges == 3
    assert graph.symmetrise().edge_index.tolist() == [[1, 2, 0, 1, 2, 0, 1], [0, 0, 1, 1, 1, 2, 2]]


def test_graph_from_pyg_data():
    data = Data(x=torch.randn(3, 2), edge_index=torch.tensor([[0, 1], [1, 2]]), y=torch.tensor([0, 1, 0]),
                train_mask=torch.tensor([True, False, False]))
    graph = Graph.from_pyg(data)
    assert graph.num_nodes == 3 and graph.num_edges == 2
    assert torch.equal(graph.x, data.x) and torch.equal(graph.train_mask, data.train_mask) and graph.val_mask is None
    back = graph.to_pyg()
    assert isinstance(back, Data) and back.num_nodes == 3 and "val_mask" not in back
    for key in ("x", "edge_index", "y", "train_mask"):
        assert torch.equal(back[key], data[key])


@pytest.mark.parametrize("edge_index, match", [
    (torch.tensor([[0, 1], [1, 3]]), "refers to node 3, but the graph has 3 nodes"),
    (torch.tensor([[0, -1], [1, 2]]), "negative node id"),
    (torch.tensor([0, 1, 2]), r"shape \(2, E\)"),
    (torch.tensor([[0, 1], [1, 2], [2, 0]]), r"shape \(2, E\)"),
    (torch.tensor([[0.0, 1.0], [1.0, 2.0]]), "integers"),
])
def test_graph_rejects_bad_edge_index(edge_index, match):
    with pytest.raises(InputError, match=match):
        Graph(edge_index, 3)


@pytest.mark.parametrize("field, value, match", [
    ("x", torch.randn(4, 2), r"x must have shape \(num_nodes=3, F\)"),
    ("y", torch.tensor([0, 1]), r"y must have shape \(num_nodes=3,\)"),
    ("y", torch.tensor([0.0, 1.0, 0.0]), "integer class labels"),
    ("train_mask", torch.tensor([1, 0, 0]), "train_mask must be a bool tensor of shape"),
    ("test_mask", torch.tensor([True, False]), "test_mask must be a bool tensor of shape"),
])
def test_graph_rejects_mismatched_node_data(field, value, match):
    with pytest.raises(InputError, match=match):
        Graph(torch.tensor([[0, 1], [1, 2]]), 3, **{field: value})


def test_empty_graph():
    graph = Graph(torch.zeros(2, 0, dtype=torch.long), 0, x=torch.zeros(0, 5))
    assert graph.symmetrise().num_edges == 0 and graph.add_self_loops().num_edges == 0
    edges, weight = graph.normalized_adjacency()
    assert edges.shape == (2, 0) and weight.shape == (0,)
