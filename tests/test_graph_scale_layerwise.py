import pytest
import torch
import torch_geometric.nn as pyg_nn

from seqgraph.errors import InputError
from seqgraph.graph.data import to_undirected
from seqgraph.graph.node.models import LayerStack
from seqgraph.graph.scale.layerwise import chunks, layerwise_inference
from seqgraph.graph.scale.sampler import sample_blocks
from seqgraph.graph.sparse import CSR

NUM_NODES, FEATURES, CLASSES = 300, 12, 4


@pytest.fixture(scope="module")
def graph():
    g = torch.Generator().manual_seed(0)
    edge_index = to_undirected(torch.randint(NUM_NODES, (2, 1200), generator=g), NUM_NODES)
    edge_index = edge_index[:, edge_index[0] != edge_index[1]]
    x = torch.randn(NUM_NODES, FEATURES, generator=g)
    return edge_index, x, CSR.from_edge_index(edge_index, NUM_NODES)


def reference(kind):
    """Our two-layer stack with random weights, and the same model made of PyG's layers with those weights copied in
    (the ReLU or ELU between them; dropout is off in eval mode)."""
    torch.manual_seed(0)
    stack = LayerStack(kind, FEATURES, 8, CLASSES, heads=3, output_heads=2)
    with torch.no_grad():  # biases are zero at init: make them count
        for p in stack.parameters():
            p.normal_()
    if kind == "gcn":
        layers = [pyg_nn.GCNConv(FEATURES, 8), pyg_nn.GCNConv(8, CLASSES)]
    elif kind == "gat":
        layers = [pyg_nn.GATConv(FEATURES, 8, heads=3), pyg_nn.GATConv(24, CLASSES, heads=2, concat=False)]
    else:
        layers = [pyg_nn.SAGEConv(FEATURES, 8), pyg_nn.SAGEConv(8, CLASSES)]
    for ours, theirs in zip(stack.convs, layers, strict=True):
        # Ensure same weights and bias (PyG's SAGEConv: lin_l takes the neighbours, with the bias; lin_r the node)
        if kind == "sage":
            theirs.load_state_dict({"lin_l.weight": ours.lin_neigh.weight, "lin_l.bias": ours.bias,
                                    "lin_r.weight": ours.lin_self.weight})
        else:
            theirs.load_state_dict(ours.state_dict())
    activation = torch.nn.functional.elu if kind == "gat" else torch.relu

    def model(x, edge_index):
        return layers[1](activation(layers[0](x, edge_index)), edge_index)

    for layer in layers:
        layer.double()
    return stack.double().eval(), model


@pytest.mark.parametrize("kind", ["gcn", "sage", "gat"])
def test_layerwise_inference_equals_the_full_batch_forward(graph, kind):
    edge_index, x, csr = graph
    stack, model = reference(kind)
    expected = model(x.double(), edge_index)
    torch.testing.assert_close(stack(x.double(), edge_index), expected, rtol=0, atol=1e-10)
    out = layerwise_inference(stack, csr, x, max_nodes=37, max_edges=90)  # many chunks
    assert len(chunks(csr.indptr, 37, 90)) > 10
    assert out.dtype == torch.float64
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-5)
    # in float32, as used
    out32 = layerwise_inference(stack.float(), csr, x, max_nodes=37, max_edges=90)
    torch.testing.assert_close(out32, stack(x, edge_index), rtol=0, atol=1e-5)


@pytest.mark.parametrize("kind", ["gcn", "sage", "gat"])
def test_blocks_with_all_neighbours_give_the_full_batch_output_of_the_seeds(graph, kind):
    edge_index, x, csr = graph
    stack, model = reference(kind)
    seeds = torch.tensor([3, 50, 7, 299])
    blocks = sample_blocks(csr, seeds, [-1, -1])
    out = stack(x[blocks.nodes].double(), blocks, csr.degree()[blocks.nodes])
    torch.testing.assert_close(out, model(x.double(), edge_index)[seeds], rtol=0, atol=1e-10)


def test_gcn_block_scales_the_sampled_sum_to_the_degree():
    # node 0 has 4 in-neighbours with equal features: the sum over 2 of them, scaled by 4/2, is the full sum
    stack = LayerStack("gcn", 2, 2, 2, num_layers=1).double().eval()
    x = torch.tensor([[1.0, 2.0]] + [[0.5, -1.0]] * 4, dtype=torch.float64)
    full = torch.tensor([[1, 2, 3, 4], [0, 0, 0, 0]])
    deg = CSR.from_edge_index(full, 5).degree()
    sampled = torch.tensor([[1, 3], [0, 0]])
    torch.testing.assert_close(stack(x, sampled, deg)[0], stack(x, full)[0])


def test_chunks_cover_every_node_within_bounds():
    indptr = torch.tensor([0, 5, 5, 6, 30, 31, 32])
    ranges = chunks(indptr, 2, 6)
    assert ranges == [(0, 2), (2, 3), (3, 4), (4, 6)]  # node 3 alone has 24 edges
    with pytest.raises(InputError, match="chunk sizes must be positive"):
        chunks(indptr, 0, 6)


def test_bad_input(graph):
    _, x, csr = graph
    with pytest.raises(InputError, match="unknown model"):
        LayerStack("mlp", 2, 2, 2)
    stack = LayerStack("sage", FEATURES, 8, CLASSES)
    with pytest.raises(InputError, match="1 sampled hops for a model of 2 layers"):
        stack(x, sample_blocks(csr, torch.tensor([0]), [2]))
    with pytest.raises(InputError, match=r"features must have shape \(num_nodes=300, F\)"):
        layerwise_inference(stack, csr, x[:10])
