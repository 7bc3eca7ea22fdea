"""The graph operators and convolutions of the recurrent graph models against dense float64 references written from
their equations (values and gradients), and PyG's ChebConv with copied weights."""

import pytest
import torch

from seqgraph.graph.temporal.conv import ChebConv, DiffusionConv
from seqgraph.graph.temporal.operators import block_diagonal, gcn_operator, product, random_walks, scaled_laplacian

N = 7


def weighted_graph(seed=0, n=N, e=18, symmetric=False):
    """Random weighted directed edges i -> j without repeats (a self-loop or two included)."""
    g = torch.Generator().manual_seed(seed)
    pairs = torch.unique(torch.randint(n, (2, e), generator=g), dim=1)
    if symmetric:
        pairs = torch.unique(torch.cat([pairs, pairs.flip(0)], 1), dim=1)
    weight = torch.rand(pairs.size(1), generator=g, dtype=torch.float64) + 0.1
    if symmetric:  # the same weight both ways
        dense = torch.zeros(n, n, dtype=torch.float64).index_put_((pairs[0], pairs[1]), weight)
        weight = torch.maximum(dense, dense.t())[pairs[0], pairs[1]]
    return pairs, weight


def dense(edge_index, weight, n=N):
    """W with W[i, j] the weight of the edge i -> j."""
    return torch.zeros(n, n, dtype=torch.float64).index_put_((edge_index[0], edge_index[1]), weight, accumulate=True)


def as_dense(operator, n=N):
    """The operator's matrix M, read back by multiplying it with the identity."""
    return product(operator, torch.eye(n, dtype=torch.float64)[:, None, :]).squeeze(1)


def inverse(v):
    return torch.where(v > 0, 1 / v, torch.zeros_like(v))


def test_random_walks_are_d_out_inverse_w_and_d_in_inverse_w_transposed():
    edge_index, weight = weighted_graph()
    w = dense(edge_index, weight)
    forward, reverse = random_walks(edge_index, weight, N)
    torch.testing.assert_close(as_dense(forward), inverse(w.sum(1))[:, None] * w)  # D_O^-1 W
    torch.testing.assert_close(as_dense(reverse), inverse(w.sum(0))[:, None] * w.t())  # D_I^-1 W^T
    rows = as_dense(forward).sum(1)
    assert torch.allclose(rows[w.sum(1) > 0], torch.ones(1, dtype=torch.float64))  # a random walk: rows sum to 1


def test_scaled_laplacian_and_gcn_operator_match_their_dense_formulas():
    edge_index, weight = weighted_graph(symmetric=True)
    w = dense(edge_index, weight)
    no_loops = w - torch.diag(torch.diag(w))
    d = inverse(no_loops.sum(1)).sqrt()
    # L = I - D^-1/2 W D^-1/2, λmax = 2: L̂ = 2L/λmax - I = -D^-1/2 W D^-1/2
    torch.testing.assert_close(as_dense(scaled_laplacian(edge_index, weight, N)), -(d[:, None] * no_loops * d))
    a_tilde = no_loops + torch.eye(N, dtype=torch.float64)
    d_tilde = a_tilde.sum(1).rsqrt()
    torch.testing.assert_close(as_dense(gcn_operator(edge_index, weight, N)), d_tilde[:, None] * a_tilde * d_tilde)


def test_one_product_for_a_batch_and_for_graphs_per_sample():
    edge_index, weight = weighted_graph()
    forward, _ = random_walks(edge_index, weight, N)
    m = as_dense(forward)
    x = torch.randn(N, 5, 3, 2, dtype=torch.float64)  # (N, B, T, F), node-major
    torch.testing.assert_close(product(forward, x), torch.einsum("ij,jbtf->ibtf", m, x))
    # a graph per sample: the block-diagonal operator applies each sample's own matrix
    graphs = [random_walks(*weighted_graph(seed), N)[0] for seed in range(5)]
    expected = torch.stack([as_dense(g) @ x[:, b].reshape(N, -1) for b, g in enumerate(graphs)], 1)
    torch.testing.assert_close(product(block_diagonal(graphs), x), expected.view(x.shape))


def diffusion_reference(x, walks, weight, bias, K):
    """Li et al. (2018) eq. (2): Σ_k (θ_k,1 P_f^k + θ_k,2 P_b^k) X, the k = 0 copies merged, dense in float64."""
    copies = [x]
    for walk in walks:
        power = x
        for _ in range(K):
            power = torch.einsum("ij,jbf->ibf", walk, power)
            copies.append(power)
    return torch.cat(copies, -1) @ weight.t() + bias


@pytest.mark.parametrize("K", [0, 1, 2, 3])
def test_diffusion_conv_is_eq_2_with_its_gradients(K):
    torch.manual_seed(K)
    edge_index, weight = weighted_graph(K)
    walks = random_walks(edge_index, weight, N)
    conv = DiffusionConv(3, 4, K).double()
    with torch.no_grad():
        conv.bias.normal_()
    x = torch.randn(N, 2, 3, dtype=torch.float64, requires_grad=True)
    out = conv(x, walks)
    expected = diffusion_reference(x, [as_dense(w) for w in walks], conv.weight, conv.bias, K)
    torch.testing.assert_close(out, expected)
    assert conv.weight.shape == (4, (2 * K + 1) * 3)
    grad = torch.randn_like(out)
    ours = torch.autograd.grad(out, (x, conv.weight, conv.bias), grad)
    theirs = torch.autograd.grad(expected, (x, conv.weight, conv.bias), grad)
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b)
    assert torch.autograd.gradcheck(lambda x: conv(x, walks), (x,))


@pytest.mark.parametrize("K", [1, 2, 3])
def test_diffusion_stack_trains_a_dcrnn_bit_for_bit_as_autograd_through_the_concatenated_copies(K, monkeypatch):
    """The stack written in place (DiffusionConv.stack) against torch.cat of the copies, the generic path, over
    three float32 training steps of a two-layer DCRNN, where each layer's input and state have other uses whose
    gradients are summed with the convolution's: every parameter and gradient equal, bit for bit."""
    from seqgraph.graph.datasets.gvar import generate_gvar
    from seqgraph.graph.temporal import ForecastTrainer, default_config
    from seqgraph.graph.temporal.conv import _GraphFilter

    def train():
        trainer = ForecastTrainer(generate_gvar(30, 300), default_config("gvar", "dcrnn", batch_size=8, K=K), seed=0)
        for starts in trainer.batches()[:3]:
            prediction, _ = trainer.forward(starts, train=True)
            loss, _ = trainer.loss(prediction, starts)
            trainer.optimizer.zero_grad()
            loss.backward()
            trainer.optimizer.step()
        return [t.clone() for p in trainer.model.parameters() for t in (p.detach(), p.grad)]

    in_place = train()
    monkeypatch.setattr(DiffusionConv, "stack", _GraphFilter.stack)
    concatenated = train()
    assert all(torch.equal(a, b) for a, b in zip(in_place, concatenated, strict=True))


@pytest.mark.parametrize("K", [1, 2, 4])
def test_cheb_conv_is_the_chebyshev_recursion_and_matches_pyg(K):
    from torch_geometric.nn import ChebConv as PygChebConv

    torch.manual_seed(K)
    edge_index, weight = weighted_graph(K, symmetric=True)
    laplacian = scaled_laplacian(edge_index, weight, N)
    conv = ChebConv(3, 4, K).double()
    with torch.no_grad():
        conv.bias.normal_()
    x = torch.randn(N, 1, 3, dtype=torch.float64, requires_grad=True)
    lhat = as_dense(laplacian)
    terms = [x[:, 0], lhat @ x[:, 0]]
    for _ in range(2, K):
        terms.append(2 * lhat @ terms[-1] - terms[-2])  # T_k = 2 L̂ T_k-1 - T_k-2
    expected = torch.cat(terms[:K], -1) @ conv.weight.t() + conv.bias
    torch.testing.assert_close(conv(x, laplacian)[:, 0], expected)
    # Ensure same weights and bias: PyG keeps Θ_k as lins[k].weight (F', F); ours is their column block k
    pyg = PygChebConv(3, 4, K).double()
    pyg.load_state_dict({"bias": conv.bias, **{f"lins.{k}.weight": conv.weight[:, 3 * k:3 * (k + 1)]
                                               for k in range(K)}})
    torch.testing.assert_close(conv(x, laplacian)[:, 0], pyg(x[:, 0], edge_index, weight))
    assert torch.autograd.gradcheck(lambda x: conv(x, laplacian), (x,))


def test_bad_sizes_are_refused():
    from seqgraph.errors import InputError

    with pytest.raises(InputError, match="K >= 0"):
        DiffusionConv(3, 4, K=-1)
    with pytest.raises(InputError, match="K >= 1"):
        ChebConv(3, 4, K=0)
    with pytest.raises(InputError, match="positive in_channels"):
        ChebConv(0, 4)
