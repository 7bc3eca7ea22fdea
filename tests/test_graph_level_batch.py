import pytest
import torch

from seqgraph.errors import InputError
from seqgraph.graph.data import Graph
from seqgraph.graph.level.batch import GraphBatch, GraphDataset, minibatches
from seqgraph.graph.level.readout import sum_readout
from seqgraph.graph.sparse import propagate


def random_dataset(sizes=(3, 1, 5, 4, 2, 6), features=3, seed=0) -> GraphDataset:
    """Graphs of the given sizes with random undirected edges and features, labels alternating 0/1."""
    g = torch.Generator().manual_seed(seed)
    graphs = []
    for n in sizes:
        edges = torch.randint(0, n, (2, 2 * n), generator=g)
        graphs.append(Graph(torch.cat([edges, edges.flip(0)], 1), n, x=torch.randn(n, features, generator=g)))
    return GraphDataset.from_graphs(graphs, [i % 2 for i in range(len(sizes))])


def test_graph_batch_equals_pyg_batch_from_data_list():
    from torch_geometric.data import Batch, Data

    dataset = random_dataset()
    index = [4, 0, 2, 2, 5, 1]  # any order, repeats allowed
    ours = dataset.batch(index)
    graphs = [dataset.graph(i) for i in index]
    theirs = Batch.from_data_list([Data(x=g.x, edge_index=g.edge_index) for g in graphs])
    assert torch.equal(ours.graph.x, theirs.x)
    assert torch.equal(ours.graph.edge_index, theirs.edge_index)
    assert torch.equal(ours.batch, theirs.batch)
    assert ours.num_graphs == theirs.num_graphs == len(index)
    assert ours.y.tolist() == [dataset.y[i].item() for i in index]
    # the CSR forms hold the same edges: A[i, j] = 1 for j -> i, and its transpose
    dense = torch.zeros(ours.graph.num_nodes, ours.graph.num_nodes)
    dense.index_put_((theirs.edge_index[1], theirs.edge_index[0]), torch.ones(theirs.num_edges), accumulate=True)
    assert torch.equal(ours.adjacency.by_target.matrix(torch.float32).to_dense(), dense)
    assert torch.equal(ours.adjacency.transpose.by_target.matrix(torch.float32).to_dense(), dense.t())


def test_graph_batch_round_trips_through_a_pyg_batch():
    from torch_geometric.data import Batch, Data
    from torch_geometric.nn import global_add_pool

    dataset = random_dataset()
    index = [3, 1, 1, 5]
    ours = dataset.batch(index)
    theirs = ours.to_pyg()
    graphs = [dataset.graph(i) for i in index]
    expected = Batch.from_data_list([Data(x=g.x, edge_index=g.edge_index, y=dataset.y[i:i + 1])
                                     for g, i in zip(graphs, index, strict=True)])
    for key in ("x", "edge_index", "batch", "ptr", "y"):
        assert torch.equal(theirs[key], expected[key]), key
    assert [d.num_nodes for d in theirs.to_data_list()] == [g.num_nodes for g in graphs]
    back = GraphBatch.from_pyg(theirs)
    assert back.num_graphs == ours.num_graphs and torch.equal(back.y, ours.y)
    assert torch.equal(back.graph.x, ours.graph.x) and torch.equal(back.batch, ours.batch)
    assert torch.equal(back.graph.edge_index, ours.graph.edge_index)
    # the batch vector means the same to both: PyG's sum pooling and ours agree, and so do the neighbour sums
    torch.testing.assert_close(sum_readout(back.graph.x, back.batch, back.num_graphs),
                               global_add_pool(theirs.x, theirs.batch))
    torch.testing.assert_close(propagate(back.graph.x, back.adjacency), propagate(ours.graph.x, ours.adjacency))


def test_graph_dataset_round_trips_its_graphs():
    dataset = random_dataset()
    assert len(dataset) == 6 and dataset.num_features == 3 and dataset.num_classes == 2
    assert dataset.num_nodes.tolist() == [3, 1, 5, 4, 2, 6]
    again = GraphDataset.from_graphs([dataset.graph(i) for i in range(len(dataset))], dataset.y)
    for name in ("x", "edge_index", "node_ptr", "edge_ptr", "y"):
        assert torch.equal(getattr(again, name), getattr(dataset, name))


def test_graph_dataset_rejects_edges_outside_their_graph():
    dataset = random_dataset()
    edge_index = dataset.edge_index.clone()
    edge_index[0, 0] = 3  # graph 0 has nodes 0..2
    with pytest.raises(InputError, match="outside its own graph"):
        GraphDataset(dataset.x, edge_index, dataset.node_ptr, dataset.edge_ptr, dataset.y)
    with pytest.raises(InputError, match="no graphs"):
        GraphDataset.from_graphs([], [])


def test_minibatches_cover_every_graph_once_and_repeat_with_the_seed():
    dataset = random_dataset(sizes=tuple(range(1, 12)))
    index = torch.tensor([0, 2, 3, 5, 7, 8, 10])

    def order(seed):
        batches = list(minibatches(dataset, index, 3, torch.Generator().manual_seed(seed)))
        assert [b.num_graphs for b in batches] == [3, 3, 1]
        # each batch's nodes are its graphs' nodes: identify graphs by their size (all sizes differ)
        sizes = torch.cat([torch.bincount(b.batch, minlength=b.num_graphs) for b in batches])
        return (sizes - 1).tolist()

    first = order(0)
    assert sorted(first) == index.tolist()
    assert order(0) == first and order(1) != first
    unshuffled = list(minibatches(dataset, index, 10, shuffle=False))
    assert torch.equal(unshuffled[0].y, dataset.y[index])
