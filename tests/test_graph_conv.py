import pytest
import torch
import torch_geometric.nn as pyg_nn

from seqgraph.graph.conv.gat import GATConv
from seqgraph.graph.conv.gcn import GCNConv
from seqgraph.graph.data import coalesce, feature_dropout, remove_self_loops, to_csr
from seqgraph.graph.node.models import LayerStack

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def random_graph(seed, n=40, e=160, features=12, device="cpu"):
    """A random directed multigraph (duplicates and self-loops included) and random features."""
    g = torch.Generator().manual_seed(seed)
    edge_index = torch.randint(n, (2, e), generator=g)
    x = torch.randn(n, features, generator=g)
    return x.to(device), edge_index.to(device)


def randomise(module, seed):
    """Non-zero values everywhere (biases start at zero), so every parameter is exercised."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g))


def assert_same_outputs_and_gradients(ours, ref, x, run):
    """run(module, x) -> output; compares outputs, input gradients and parameter gradients by name."""
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    out1, out2 = run(ours, x1), run(ref, x2)
    torch.testing.assert_close(out1, out2, rtol=1e-5, atol=1e-5)
    grad_out = torch.randn_like(out1)
    out1.backward(grad_out)
    out2.backward(grad_out)
    torch.testing.assert_close(x1.grad, x2.grad, rtol=1e-5, atol=1e-5)
    ref_params = dict(ref.named_parameters())
    for name, p in ours.named_parameters():
        torch.testing.assert_close(p.grad, ref_params[name].grad, rtol=1e-5, atol=1e-5, msg=name)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("seed", range(3))
def test_gcn_conv_matches_pyg(seed, device):
    x, edge_index = random_graph(seed, device=device)
    ours = GCNConv(12, 7).to(device)
    randomise(ours, seed)
    ref = pyg_nn.GCNConv(12, 7).to(device)
    # Ensure same weights and bias:
    ref.load_state_dict(ours.state_dict())
    assert_same_outputs_and_gradients(ours, ref, x, lambda m, x: m(x, edge_index))


def test_gcn_conv_improved_matches_pyg_with_explicit_weights():
    # PyG 2.8 ignores improved=True (Ã = A + 2I) unless edge weights are given; with them the two agree.
    x, edge_index = random_graph(3)
    ours = GCNConv(12, 7, improved=True)
    randomise(ours, 3)
    ref = pyg_nn.GCNConv(12, 7, improved=True)
    ref.load_state_dict(ours.state_dict())
    edges = remove_self_loops(edge_index)
    ones = torch.ones(edges.size(1))
    assert_same_outputs_and_gradients(ours, ref, x, lambda m, x: m(x, edges, ones) if m is ref else m(x, edges))


def test_gcn_conv_matches_dense_formula():
    x, edge_index = random_graph(4, n=9, e=20)
    conv = GCNConv(12, 5).double()
    randomise(conv, 4)
    edge_index = torch.cat([edge_index, edge_index.flip(0)], dim=1)  # undirected, with duplicates
    src, dst = remove_self_loops(edge_index)
    a = torch.zeros(9, 9, dtype=torch.float64).index_put_((dst, src), torch.ones(src.numel(), dtype=torch.float64),
                                                          accumulate=True)
    a_tilde = a + torch.eye(9, dtype=torch.float64)
    d = a_tilde.sum(1).rsqrt()
    expected = (d[:, None] * a_tilde * d[None, :]) @ x.double() @ conv.lin.weight.t() + conv.bias
    torch.testing.assert_close(conv(x.double(), edge_index), expected)


def test_gcn_conv_sparse_features_and_cache():
    x, edge_index = random_graph(5)
    x = x * (torch.rand_like(x) < 0.2)
    conv = GCNConv(12, 7, cached=True)
    dense = conv(x, edge_index)
    torch.testing.assert_close(conv(to_csr(x), edge_index), dense)
    assert conv(x, edge_index[:, :3]).equal(dense)  # cached: the first graph's normalisation is kept
    conv.reset_parameters()
    assert conv._cache is None






@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("heads, concat", [(1, True), (3, True), (3, False)])
def test_gat_conv_matches_pyg(heads, concat, device):
    x, edge_index = random_graph(heads + concat, device=device)
    ours = GATConv(12, 5, heads=heads, concat=concat).to(device)
    randomise(ours, heads)
    ref = pyg_nn.GATConv(12, 5, heads=heads, concat=concat).to(device)
    ref.load_state_dict(ours.state_dict())
    assert_same_outputs_and_gradients(ours, ref, x, lambda m, x: m(x, edge_index))
    _, (edges, alpha) = ours(x, edge_index, return_attention_weights=True)
    ref_edges, ref_alpha = ref(x, edge_index, return_attention_weights=True)[1]
    assert torch.equal(edges, ref_edges)
    torch.testing.assert_close(alpha, ref_alpha, rtol=1e-5, atol=1e-6)


def test_gat_conv_matches_dense_masked_softmax():
    x, edge_index = random_graph(6, n=7, e=15)
    edge_index = coalesce(edge_index, 7)  # a repeated edge would be a second term of the softmax
    conv = GATConv(12, 4, heads=2).double()
    randomise(conv, 6)
    x = x.double()
    src, dst = remove_self_loops(edge_index)
    mask = torch.eye(7, dtype=torch.bool)
    mask[dst, src] = True  # mask[i, j]: j is a neighbour of i, or i itself
    h = (x @ conv.lin.weight.t()).view(7, 2, 4)  # (N, K, F')
    expected = []
    for k in range(2):
        # e[i, j] = LeakyReLU(a^T [W h_i || W h_j]) with a = [att_dst; att_src]
        e = (h[:, k] @ conv.att_dst[0, k])[:, None] + (h[:, k] @ conv.att_src[0, k])[None, :]
        e = torch.nn.functional.leaky_relu(e, 0.2).masked_fill(~mask, float("-inf"))
        expected.append(e.softmax(dim=1) @ h[:, k])
    expected = torch.cat(expected, dim=1) + conv.bias
    torch.testing.assert_close(conv(x, edge_index), expected)


def test_gat_attention_is_a_distribution_per_target():
    x, edge_index = random_graph(7)
    conv = GATConv(12, 5, heads=4, dropout=0.5)
    for training in (False, True):  # attention is returned before dropout
        conv.train(training)
        _, (edges, alpha) = conv(x, edge_index, return_attention_weights=True)
        assert alpha.shape == (edges.size(1), 4)
        assert ((alpha >= 0) & (alpha <= 1)).all()
        totals = torch.zeros(40, 4).index_add_(0, edges[1], alpha)
        torch.testing.assert_close(totals, torch.ones(40, 4))
    conv.eval()
    assert torch.equal(conv(x, edge_index), conv(x, edge_index))
    conv.train()
    assert not torch.equal(conv(x, edge_index), conv(x, edge_index))  # attention dropout is active


@pytest.mark.parametrize("conv, out_channels", [(GCNConv(16, 32), 32), (GATConv(16, 8, heads=3), 24),
                                                (GATConv(16, 8, heads=3, concat=False), 8)])
def test_empty_graph(conv, out_channels):
    out = conv(torch.randn(0, 16), torch.zeros(2, 0, dtype=torch.long))
    assert out.shape == (0, out_channels)


def test_repr_and_bad_arguments():
    assert str(GCNConv(16, 32)) == "GCNConv(16, 32)"
    assert str(GATConv(16, 32, heads=8)) == "GATConv(16, 32, heads=8)"
    with pytest.raises(ValueError, match="GCNConv"):
        GCNConv(0, 4)
    with pytest.raises(ValueError, match="GATConv"):
        GATConv(4, 4, heads=0)
    with pytest.raises(ValueError, match="GATConv dropout"):
        GATConv(4, 4, dropout=1.0)


def test_feature_dropout_on_sparse_features_drops_only_stored_entries():
    torch.manual_seed(0)
    x = torch.rand(200, 100) * (torch.rand(200, 100) < 0.05)
    sparse = to_csr(x)
    dropped = feature_dropout(sparse, 0.5, training=True).to_dense()
    kept = dropped != 0
    assert (x[kept] * 2 == dropped[kept]).all()  # kept entries are scaled by 1 / (1 - p)
    assert not dropped[x == 0].any()
    assert 0.45 < kept.sum() / (x != 0).sum() < 0.55
    assert feature_dropout(sparse, 0.5, training=False) is sparse


@pytest.mark.parametrize("model", [LayerStack("gcn", 12, 16, 3, dropout=0.5, cached=True),
                                   LayerStack("gat", 12, 4, 3, dropout=0.6, heads=2)])
def test_models_output_class_logits(model):
    x, edge_index = random_graph(8)
    assert model(to_csr(x), edge_index).shape == (40, 3)
