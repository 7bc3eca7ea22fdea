import pytest
import torch

from seqgraph.graph.conv.gin import GINConv
from seqgraph.graph.datasets.tu import load_tu
from seqgraph.graph.level.models import MODELS, GraphClassifier, build_model, mlp
from seqgraph.graph.level.train import ClassifyConfig, cross_validate, stratified_folds, stratified_holdout, summarise
from seqgraph.graph.sparse import Adjacency

from .test_graph_datasets_tu import tu_root  # noqa: F401 (a fixture)
from .test_graph_level_batch import random_dataset

edge_index = torch.tensor([[0, 0, 0, 1, 2, 3, 3, 4], [1, 2, 3, 0, 0, 0, 4, 3]])


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("train_eps", [False, True])
def test_gin_conv_matches_pyg_with_gradients(train_eps, sparse):
    from torch_geometric.nn import GINConv as PygGINConv

    torch.manual_seed(0)
    net = mlp(6, 8, 5)  # one MLP shared by both layers: same weights
    ours = GINConv(net, eps=0.3, train_eps=train_eps)
    theirs = PygGINConv(net, eps=0.3, train_eps=train_eps)
    x = torch.randn(5, 6, requires_grad=True)
    edges = Adjacency(edge_index, 5) if sparse else edge_index
    out, expected = ours(x, edges), theirs(x, edge_index)
    assert out.shape == (5, 5)
    assert torch.allclose(out, expected, atol=1e-5)
    weight = torch.randn(5, 5)
    params = [x, *net.parameters()] + ([ours.eps] if train_eps else [])
    grads = torch.autograd.grad((out * weight).sum(), params)
    expected_params = [x, *net.parameters()] + ([theirs.eps] if train_eps else [])
    expected_grads = torch.autograd.grad((expected * weight).sum(), expected_params)
    for g, e in zip(grads, expected_grads, strict=True):
        assert torch.allclose(g, e, atol=1e-5)
    assert isinstance(ours.eps, torch.nn.Parameter) == train_eps


@pytest.mark.parametrize("name", MODELS)
def test_graph_classifier_shapes_and_permutation_invariance(name):
    torch.manual_seed(0)
    dataset = random_dataset()
    model = build_model(name, dataset.num_features, 3, hidden_channels=8, num_layers=3).eval()
    b = dataset.batch([0, 1, 2, 3])
    out = model(b.graph.x, b.graph.edge_index, b.batch, b.num_graphs)
    assert out.shape == (4, 3)
    # relabelling the nodes of the union changes nothing
    perm = torch.randperm(b.graph.num_nodes)
    inverse = torch.argsort(perm)
    out2 = model(b.graph.x[perm], inverse[b.graph.edge_index], b.batch[perm], b.num_graphs)
    assert torch.allclose(out, out2, atol=1e-5)


def test_graph_classifier_width_and_repr():
    model = GraphClassifier(7, 2, hidden_channels=16, num_layers=5)
    assert len(model.convs) == 4  # five layers counting the input layer
    assert model.lin.in_features == 7 + 4 * 16  # eq. (4.2): every layer's readout, concatenated
    assert str(model.convs[0]).startswith("GINConv(nn=Sequential(")
    with pytest.raises(ValueError, match="readout"):
        GraphClassifier(7, 2, readout="median")
    b = random_dataset().batch([0, 1])
    for conv in ("gin", "gcn"):  # one layer: the input layer's readout alone
        assert GraphClassifier(3, 2, num_layers=1, conv=conv)(b.graph.x, b.adjacency, b.batch, 2).shape == (2, 2)


def test_folds_stratified_disjoint_covering_and_seeded():
    y = torch.tensor([0] * 23 + [1] * 11 + [2] * 6)[torch.randperm(40)]
    folds = stratified_folds(y, 10, seed=3)
    assert sorted(torch.cat(folds).tolist()) == list(range(40))  # disjoint and covering
    assert max(f.numel() for f in folds) - min(f.numel() for f in folds) <= 1
    for c in range(3):
        counts = [int((y[f] == c).sum()) for f in folds]
        assert max(counts) - min(counts) <= 1, c
    assert all(torch.equal(a, b) for a, b in zip(folds, stratified_folds(y, 10, seed=3), strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(folds, stratified_folds(y, 10, seed=4), strict=True))

    rest = torch.cat(folds[1:])
    train, held = stratified_holdout(rest, y, 0.1, seed=0)
    assert held.numel() == round(0.1 * rest.numel()) and set(train.tolist()) | set(held.tolist()) == set(rest.tolist())
    assert not set(train.tolist()) & set(held.tolist())
    assert int((y[held] == 0).sum()) == 2  # 21 or 20 of class 0 in 36 graphs: 2 of the 4 held out


def test_summarise_protocols():
    def run(accs, val):
        return [{"epoch": e + 1, "test_acc": a, "val_acc": v, "val_loss": 0.0}
                for e, (a, v) in enumerate(zip(accs, val, strict=True))]

    histories = [run([0.5, 0.9, 0.6], [0.7, 0.6, 0.8]), run([0.6, 0.7, 0.8], [0.9, 0.5, 0.5])]
    results = summarise(histories)
    # hold-out: fold 0 picks epoch 3 (val 0.8, test 0.6), fold 1 epoch 1 (val 0.9, test 0.6)
    assert [r["epoch"] for r in results["holdout"]["per_fold"]] == [3, 1]
    assert results["holdout"]["mean"] == pytest.approx(60.0)
    # GIN paper: mean test accuracy per epoch 0.55, 0.8, 0.7 -> epoch 2
    assert results["gin_paper"]["epoch"] == 2 and results["gin_paper"]["mean"] == pytest.approx(80.0)


@pytest.mark.slow
def test_gin_beats_the_structure_agnostic_baseline_on_mutag(tu_root):  # noqa: F811
    dataset = load_tu("mutag", tu_root)
    accuracy = {}
    for model in ("gin", "baseline"):
        config = ClassifyConfig(model=model, epochs=20, folds=5, batch_size=32, holdout=0)
        first = cross_validate(dataset, config)
        accuracy[model] = first["gin_paper"]["mean"]
        if model == "baseline":  # same seed, same numbers
            assert cross_validate(dataset, config)["gin_paper"] == first["gin_paper"]
    assert accuracy["gin"] > accuracy["baseline"] + 2, accuracy


@pytest.mark.parametrize("readout", ["sum", "mean", "max"])
def test_readout_choice_is_the_models_readout(readout):
    """The graph vector reads each layer out with the chosen reduction; two disjoint copies of a graph read out as
    one graph change only the sum (eval mode: batch norm uses its running statistics)."""
    torch.manual_seed(0)
    dataset = random_dataset()
    model = build_model("gin", dataset.num_features, 3, hidden_channels=8, num_layers=3, readout=readout).eval()
    h, batch = torch.randn(6, 4), torch.tensor([0, 0, 0, 1, 1, 1])
    expected = {"sum": h.view(2, 3, 4).sum(1), "mean": h.view(2, 3, 4).mean(1), "max": h.view(2, 3, 4).amax(1)}
    torch.testing.assert_close(model.read(1, h, batch, 2), expected[readout])
    one = dataset.batch([0])
    two = dataset.batch([0, 0])
    single = model(one.graph.x, one.adjacency, one.batch, 1)
    doubled = model(two.graph.x, two.adjacency, torch.zeros_like(two.batch), 1)
    assert torch.allclose(single, doubled, atol=1e-5) == (readout != "sum")


def test_build_model_refuses_a_readout_it_cannot_apply():
    with pytest.raises(ValueError, match="applies to gin, gin-eps, gcn"):
        build_model("baseline", 4, 2, readout="mean")
    with pytest.raises(ValueError, match="unknown model 'gat'"):
        build_model("gat", 4, 2, readout="mean")
    with pytest.raises(ValueError, match="unknown readout 'set2set'"):
        build_model("gin", 4, 2, readout="set2set")
