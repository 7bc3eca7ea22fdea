"""Property tests of the Planetoid loader and the GCN normalisation on arbitrary edge lists.

The task generators' properties (labels always correct, fixed shapes, any seed) are in test_memory_tasks.py; Â against
its float64 definition and PyG's gcn_norm on any multigraph in test_graph_data.py.
"""

import collections
import pickle
import tempfile
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seqgraph.errors import InputError
from seqgraph.graph.data import Graph, coalesce, normalized_adjacency, remove_self_loops
from seqgraph.graph.datasets.planetoid import read_planetoid


@st.composite
def edge_lists(draw, max_nodes=12, max_edges=40):
    """(N, [(j, i), ...]) with ids in [0, N): self-loops, duplicates and isolated nodes all occur."""
    n = draw(st.integers(2, max_nodes))
    return n, draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=max_edges))


def a_hat(graph: Graph) -> torch.Tensor:
    edges, weight = normalized_adjacency(graph.edge_index, graph.num_nodes, dtype=torch.float64)
    shape = (graph.num_nodes, graph.num_nodes)
    return torch.sparse_coo_tensor(edges.flip(0), weight, shape, check_invariants=True).to_dense()


def assert_well_formed(graph: Graph):
    """Â = D̃^-1/2 Ã D̃^-1/2 of an undirected graph: finite, symmetric, spectrum in [-1, 1], isolated nodes e_i."""
    a = a_hat(graph)
    assert torch.isfinite(a).all()
    assert torch.equal(a, a.T)
    eigenvalues = torch.linalg.eigvalsh(a)
    assert eigenvalues.min() >= -1 - 1e-12 and eigenvalues.max() <= 1 + 1e-12
    isolated = torch.ones(graph.num_nodes, dtype=torch.bool)
    isolated[remove_self_loops(graph.edge_index).flatten()] = False
    assert torch.equal(a[isolated], torch.eye(graph.num_nodes, dtype=torch.float64)[isolated])


def write_planetoid(folder: Path, n: int, adjacency: dict):
    """The eight ind.fuzz.* files of an n-node graph: node 0 trains, node n-1 is the test node."""
    def feats(rows):
        return scipy.sparse.csr_matrix(np.ones((rows, 3), dtype=np.float32))

    def onehot(rows):
        return np.eye(2, dtype=np.int64)[np.arange(rows) % 2]

    items = {"x": feats(1), "y": onehot(1), "allx": feats(n - 1), "ally": onehot(n - 1), "tx": feats(1),
             "ty": onehot(1), "graph": adjacency}
    for suffix, obj in items.items():
        (folder / f"ind.fuzz.{suffix}").write_bytes(pickle.dumps(obj, protocol=4))
    (folder / "ind.fuzz.test.index").write_text(f"{n - 1}\n")


@settings(max_examples=30, deadline=None)
@given(edge_lists())
def test_planetoid_adjacency_lists_of_any_undirected_graph_give_a_well_formed_a_hat(graph):
    n, pairs = graph
    adjacency = collections.defaultdict(list)  # as in the files: each edge in both nodes' lists
    for j, i in pairs:
        adjacency[j].append(i)
        adjacency[i].append(j)
    with tempfile.TemporaryDirectory() as folder:
        write_planetoid(Path(folder), n, adjacency)
        loaded = read_planetoid(folder)
    expected = torch.tensor([[j for j, _ in pairs] + [i for _, i in pairs],
                             [i for _, i in pairs] + [j for j, _ in pairs]], dtype=torch.long).view(2, -1)
    assert torch.equal(loaded.edge_index, coalesce(remove_self_loops(expected), n))  # simple graph, no self-loops
    assert loaded.num_nodes == n and torch.isfinite(loaded.x).all()
    assert_well_formed(loaded)


@settings(max_examples=40, deadline=None)
@given(edge_lists())
def test_any_edge_list_made_undirected_gives_a_well_formed_a_hat(graph):
    n, pairs = graph
    edge_index = torch.tensor(pairs, dtype=torch.long).view(-1, 2).t()
    assert_well_formed(Graph(edge_index, n).symmetrise())


@settings(max_examples=20, deadline=None)
@given(edge_lists(), st.integers(0, 5))
def test_planetoid_node_ids_outside_the_graph_are_refused(graph, beyond):
    n, pairs = graph
    adjacency = collections.defaultdict(list, {0: [n + beyond]})
    for j, i in pairs:
        adjacency[j].append(i)
    with tempfile.TemporaryDirectory() as folder:
        write_planetoid(Path(folder), n, adjacency)
        with pytest.raises(InputError, match="outside"):
            read_planetoid(folder)
