import itertools

import pytest
import torch
from scipy.stats import chisquare

from seqgraph.errors import InputError
from seqgraph.graph.data import Graph, coalesce
from seqgraph.graph.scale.sampler import append_new, sample_blocks, sample_neighbours
from seqgraph.graph.scale.storage import GraphStore
from seqgraph.graph.sparse import CSR

NUM_NODES = 60


@pytest.fixture(scope="module")
def graph():
    """A random multigraph-free graph with degrees from 0 to ~20 (node 0 gets many in-edges)."""
    g = torch.Generator().manual_seed(0)
    edge_index = torch.randint(NUM_NODES, (2, 400), generator=g)
    hub = torch.stack([torch.arange(1, 40), torch.zeros(39, dtype=torch.long)])
    edge_index = coalesce(torch.cat([edge_index, hub], dim=1), NUM_NODES)
    edge_index = edge_index[:, edge_index[0] != edge_index[1]]
    return edge_index, CSR.from_edge_index(edge_index, NUM_NODES)


def edge_set(edge_index):
    return set(map(tuple, edge_index.t().tolist()))


def test_csr_holds_the_in_neighbours_and_a_graph_store_drops_self_loops():
    edge_index = torch.tensor([[1, 2, 0, 3, 3], [0, 0, 1, 3, 2]])  # 3 -> 3 is a self-loop
    assert CSR.from_edge_index(edge_index, 5).indptr.tolist() == [0, 2, 3, 4, 5, 5]  # kept as given
    graph = Graph(edge_index, 5, x=torch.zeros(5, 1), y=torch.zeros(5, dtype=torch.long),
                  train_mask=torch.ones(5, dtype=torch.bool), val_mask=torch.zeros(5, dtype=torch.bool),
                  test_mask=torch.zeros(5, dtype=torch.bool))
    csr = GraphStore.from_graph(graph).csr
    assert csr.indptr.tolist() == [0, 2, 3, 4, 4, 4] and csr.degree().tolist() == [2, 1, 1, 0, 0]
    assert sorted(csr.indices[:2].tolist()) == [1, 2] and csr.indices[2:].tolist() == [0, 3]
    assert edge_set(csr.edge_index()) == edge_set(edge_index) - {(3, 3)}


@pytest.mark.parametrize("fanout", [1, 3, 7, -1])
def test_sampled_edges_exist_are_distinct_and_number_min_k_degree(graph, fanout):
    edge_index, csr = graph
    nodes = torch.arange(NUM_NODES)
    src, dst = sample_neighbours(csr, nodes, fanout, key=5)
    edges = list(zip(src.tolist(), nodes[dst].tolist(), strict=True))
    assert set(edges) <= edge_set(edge_index)  # every sampled edge exists
    assert len(set(edges)) == len(edges)  # no neighbour twice for one node
    deg = csr.degree()
    expected = deg if fanout == -1 else deg.clamp(max=fanout)
    assert torch.equal(torch.bincount(dst, minlength=NUM_NODES), expected)
    assert int(deg.max()) > 7  # some node really is subsampled


def test_sampling_is_uniform_chi_squared():
    # 3000 targets share the same 6 in-neighbours (nodes 0-5); 2 are drawn for each, independently (their keys
    # differ): each of the 15 pairs has probability 1/15
    draws = 3000
    targets = torch.arange(6, 6 + draws)
    edge_index = torch.stack([torch.arange(6).repeat(draws), targets.repeat_interleave(6)])
    src, dst = sample_neighbours(CSR.from_edge_index(edge_index, 6 + draws), targets, 2, key=7)
    pairs = {pair: 0 for pair in itertools.combinations(range(6), 2)}
    for pair in src.view(draws, 2).sort(dim=1).values.tolist():
        pairs[tuple(pair)] += 1
    assert torch.equal(dst, torch.arange(draws).repeat_interleave(2))
    counts = list(pairs.values())
    assert sum(counts) == draws
    assert chisquare(counts).pvalue > 1e-3
    # and a non-uniform sampler fails it: one pair drawn twice as often
    assert chisquare([2 * counts[0], *counts[1:]]).pvalue < 1e-3


def test_same_key_same_blocks_other_key_other_blocks(graph):
    _, csr = graph
    seeds = torch.tensor([0, 5, 9, 17])
    a, b, c = (sample_blocks(csr, seeds, [3, 2], key=k) for k in (1, 1, 2))
    assert torch.equal(a.nodes, b.nodes) and all(torch.equal(x, y) for x, y in zip(a.edges, b.edges, strict=True))
    assert not torch.equal(a.edges[0], c.edges[0]) or not torch.equal(a.nodes, c.nodes)


def test_blocks_are_nested_hops_with_local_ids(graph):
    edge_index, csr = graph
    seeds = torch.tensor([0, 5, 9, 17])
    blocks = sample_blocks(csr, seeds, [4, 3], key=3)
    assert blocks.sizes[0] == 4 and torch.equal(blocks.nodes[:4], seeds)
    assert blocks.sizes == sorted(blocks.sizes) and blocks.sizes[-1] == blocks.nodes.numel()
    assert torch.unique(blocks.nodes).numel() == blocks.nodes.numel()
    for hop, edges in enumerate(blocks.edges, start=1):
        src, dst = edges
        assert int(src.max()) < blocks.sizes[hop] and int(dst.max()) < blocks.sizes[hop - 1]
        assert edge_set(blocks.nodes[edges]) <= edge_set(edge_index)
        assert torch.equal(torch.bincount(dst, minlength=blocks.sizes[hop - 1]),
                           csr.degree()[blocks.nodes[: blocks.sizes[hop - 1]]].clamp(max=[4, 3][hop - 1]))


def test_a_node_samples_the_same_neighbours_whatever_its_batch(graph):
    # what makes a global batch split over processes sample what one process samples
    _, csr = graph
    whole = sample_blocks(csr, torch.tensor([0, 5, 9, 17]), [4, 3], key=8)
    half = sample_blocks(csr, torch.tensor([9, 17]), [4, 3], key=8)

    def neighbourhoods(blocks, hop):
        src, dst = blocks.nodes[blocks.edges[hop - 1]]
        return {int(i): sorted(src[dst == i].tolist()) for i in dst.unique()}

    for hop in (1, 2):
        mine, all_ = neighbourhoods(half, hop), neighbourhoods(whole, hop)
        assert mine and all(all_[i] == mine[i] for i in mine)


def test_append_new_keeps_existing_positions_and_first_appearance_order():
    nodes, local = append_new(torch.tensor([7, 3]), torch.tensor([3, 9, 1, 9, 7]))
    assert nodes.tolist() == [7, 3, 9, 1] and local.tolist() == [1, 2, 3, 2, 0]


def test_bad_input(graph):
    _, csr = graph
    with pytest.raises(InputError, match="outside the graph's 60 nodes"):
        sample_blocks(csr, torch.tensor([0, 60]), [2])
    with pytest.raises(InputError, match="node -1"):
        sample_blocks(csr, torch.tensor([-1]), [2])
    with pytest.raises(InputError, match="fan-outs must be positive or -1"):
        sample_blocks(csr, torch.tensor([0]), [2, 0])
    with pytest.raises(InputError, match="distinct"):
        sample_blocks(csr, torch.tensor([1, 1]), [2])
    with pytest.raises(InputError, match="1-D integer"):
        sample_blocks(csr, torch.tensor([0.5]), [2])
