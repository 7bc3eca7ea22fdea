import math

import pytest
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

from seqgraph.errors import InputError
from seqgraph.graph.data import Graph, to_undirected
from seqgraph.graph.link.autoencoder import GAE, recommend
from seqgraph.graph.link.split import pair_keys, sample_negatives, split_edges, undirected_pairs
from seqgraph.graph.link.train import LinkPredConfig, average_precision, fit_linkpred, roc_auc


def block_graph(num_nodes=120, blocks=4, p_in=0.25, p_out=0.01, seed=0) -> Graph:
    """A stochastic block model whose features are a noisy one-hot of the block: links are predictable."""
    g = torch.Generator().manual_seed(seed)
    block = torch.arange(num_nodes) % blocks
    same = block[:, None] == block[None, :]
    upper = torch.rand(num_nodes, num_nodes, generator=g) < torch.where(same, p_in, p_out)
    upper = torch.triu(upper, diagonal=1)
    edge_index = to_undirected(upper.nonzero().t(), num_nodes)
    x = torch.nn.functional.one_hot(block, blocks).float() + 0.3 * torch.rand(num_nodes, blocks, generator=g)
    return Graph(edge_index, num_nodes, x=x)


def keys(pairs, n):
    return set(pair_keys(pairs, n).tolist())


def test_split_keeps_both_directions_together_and_covers_every_edge():
    graph = block_graph()
    n = graph.num_nodes
    split = split_edges(graph, seed=1)
    m = undirected_pairs(graph.edge_index, n).size(1)
    assert (split.val_pos.size(1), split.test_pos.size(1)) == (math.floor(0.05 * m), math.floor(0.10 * m))
    train, val, test = keys(split.train_pos, n), keys(split.val_pos, n), keys(split.test_pos, n)
    assert len(train) + len(val) + len(test) == m  # no pair twice
    assert train | val | test == keys(graph.edge_index, n)
    # the encoder's graph holds both directions of each training edge and nothing held out, either way round
    message_passing = set(map(tuple, split.train_edge_index.t().tolist()))
    assert all((v, u) in message_passing for u, v in message_passing)
    assert keys(split.train_edge_index, n) == train
    for pairs in (split.train_pos, split.val_pos, split.test_pos, split.val_neg, split.test_neg):
        assert bool((pairs[0] < pairs[1]).all())  # canonical u < v: one entry per undirected pair


def test_negatives_are_disjoint_from_every_positive_balanced_and_not_self_loops():
    graph = block_graph()
    n = graph.num_nodes
    split = split_edges(graph, seed=2)
    positives = keys(graph.edge_index, n)
    val_neg, test_neg = keys(split.val_neg, n), keys(split.test_neg, n)
    assert len(val_neg) == split.val_neg.size(1) == split.val_pos.size(1)  # 1:1 and no duplicates
    assert len(test_neg) == split.test_neg.size(1) == split.test_pos.size(1)
    assert not (val_neg | test_neg) & positives and not val_neg & test_neg
    for pairs in (split.val_neg, split.test_neg):
        assert bool((pairs[0] != pairs[1]).all())


def test_split_is_seeded():
    graph = block_graph()
    a, b, c = split_edges(graph, seed=3), split_edges(graph, seed=3), split_edges(graph, seed=4)
    assert torch.equal(a.test_pos, b.test_pos) and torch.equal(a.test_neg, b.test_neg)
    assert not torch.equal(a.test_pos, c.test_pos)


def test_sample_negatives_avoids_forbidden_pairs_exhaustively():
    n = 6
    everything = torch.combinations(torch.arange(n)).t()  # (2, 15), u < v
    free = everything[:, [0, 7, 14]]
    forbidden = pair_keys(everything[:, [i for i in range(15) if i not in (0, 7, 14)]], n)
    got = sample_negatives(3, n, forbidden, torch.Generator().manual_seed(0))
    assert keys(got, n) == keys(free, n)
    with pytest.raises(InputError, match="only 3 pairs are free"):
        sample_negatives(4, n, forbidden)


@pytest.mark.parametrize("trial", range(6))
def test_auc_and_ap_equal_sklearn_with_and_without_ties(trial):
    g = torch.Generator().manual_seed(trial)
    size = 50 + 37 * trial
    labels = torch.rand(size, generator=g) < 0.3 + 0.1 * trial
    # even trials: few distinct scores, so many ties within and across classes
    scores = torch.randint(0, 4, (size,), generator=g).float() if trial % 2 == 0 else torch.randn(size, generator=g)
    assert roc_auc(scores, labels) == pytest.approx(roc_auc_score(labels.numpy(), scores.numpy()), abs=1e-12)
    assert average_precision(scores, labels) == pytest.approx(
        average_precision_score(labels.numpy(), scores.numpy()), abs=1e-12)


def test_auc_extremes_and_errors():
    labels = torch.tensor([1, 1, 0, 0])
    assert roc_auc(torch.tensor([0.9, 0.8, 0.1, 0.2]), labels) == 1.0
    assert roc_auc(torch.tensor([0.5, 0.5, 0.5, 0.5]), labels) == 0.5
    assert average_precision(torch.tensor([0.9, 0.8, 0.1, 0.2]), labels) == 1.0
    with pytest.raises(InputError, match="both positive and negative"):
        roc_auc(torch.rand(3), torch.ones(3))
    with pytest.raises(InputError, match="3 scores for 2 labels"):
        average_precision(torch.rand(3), torch.ones(2))


@pytest.mark.parametrize("model", ["gae", "vgae"])
def test_short_training_predicts_held_out_links(model):
    config = LinkPredConfig(model=model, hidden_size=16, latent=8, epochs=60)
    result, z, split = fit_linkpred(block_graph(), config, seed=0)
    assert result.test_auc_last > 0.75 and result.test_ap_last > 0.75  # chance is 0.5
    best = result.history[result.best_epoch - 1]
    assert best["val_auc"] == max(h["val_auc"] for h in result.history) and best["test_auc"] == result.test_auc_best_val
    assert z.shape == (120, 8) and len(result.history) == 60


def test_vgae_samples_while_training_and_returns_the_mean_in_eval():
    graph = block_graph()
    model = GAE(4, 8, 4, variational=True)
    model.train()
    a, b = model(graph.x, graph.edge_index), model(graph.x, graph.edge_index)
    assert not torch.equal(a, b) and model.kl is not None and model.kl.item() >= 0
    model.eval()
    assert torch.equal(model(graph.x, graph.edge_index), model(graph.x, graph.edge_index))


def test_recommend_excludes_existing_edges_and_the_node_itself():
    n, node = 7, 2
    edge_index = to_undirected(torch.tensor([[2, 2, 0], [3, 5, 1]]), n)
    z = torch.randn(n, 3, generator=torch.Generator().manual_seed(0))
    nodes, probabilities = recommend(z, edge_index, node, 10)
    assert sorted(nodes.tolist()) == [0, 1, 4, 6]  # k capped at the 4 candidates
    candidates = torch.tensor([0, 1, 4, 6])
    expected = candidates[(z[candidates] @ z[node]).argsort(descending=True)]
    assert torch.equal(nodes, expected)
    assert bool((probabilities[:-1] >= probabilities[1:]).all())
    assert bool(((0 < probabilities) & (probabilities < 1)).all())
    with pytest.raises(InputError, match="not in the graph"):
        recommend(z, edge_index, 7, 1)
