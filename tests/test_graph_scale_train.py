"""Mini-batch training on sampled blocks: it learns, resumes exactly, and 2 gloo processes train what 1 does."""

import dataclasses
import json
import os
import random
import socket

import pytest
import torch
import torch.multiprocessing as mp

from seqgraph import distributed
from seqgraph.errors import InputError
from seqgraph.graph.data import Graph, to_undirected
from seqgraph.graph.scale.storage import GraphStore, open_store, save_store
from seqgraph.graph.scale.train import MiniBatchTrainer, fit_minibatch, minibatch_config

NUM_NODES, CLASSES = 150, 3


def planted_graph(seed: int = 0, train: int = 29) -> Graph:
    """Three classes; 80% of the edges inside a class; features = class mean + noise (a node alone is ambiguous)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(NUM_NODES) % CLASSES
    src = torch.randint(NUM_NODES, (600,), generator=g)
    same = torch.rand(600, generator=g) < 0.8
    other = torch.randint(NUM_NODES, (600,), generator=g)
    inside = (other - other % CLASSES) + y[src]  # a node of src's class near `other`
    dst = torch.where(same, inside.clamp(max=NUM_NODES - 1), other)
    edge_index = to_undirected(torch.stack([src, dst]), NUM_NODES)
    x = torch.nn.functional.one_hot(y, CLASSES).float() + 1.5 * torch.randn(NUM_NODES, CLASSES, generator=g)
    order = torch.randperm(NUM_NODES, generator=g)
    masks = [torch.zeros(NUM_NODES, dtype=torch.bool) for _ in range(3)]
    masks[0][order[:train]], masks[1][order[train: train + 30]], masks[2][order[train + 30:]] = True, True, True
    return Graph(edge_index, NUM_NODES, x, y, *masks)


@pytest.mark.parametrize("kind", ["gcn", "sage", "gat"])
def test_minibatch_training_learns(kind):
    store = GraphStore.from_graph(planted_graph())
    config = minibatch_config(kind, hidden_size=16, heads=2, epochs=25, batch_size=8, fanouts=(5, 5), dropout=0.1,
                              lr=0.02, patience=None)
    result, _ = fit_minibatch(store, config, seed=0)
    losses = [r["train_loss"] for r in result.history]
    assert losses[-1] < 0.7 * losses[0]
    assert result.test_acc_best_val > 0.6  # chance: 1/3; a node's own features alone give about 0.5


def test_resumed_run_equals_uninterrupted_run():
    store = GraphStore.from_graph(planted_graph())
    config = minibatch_config("sage", hidden_size=8, epochs=3, batch_size=8, fanouts=(4, 3), dropout=0.5)
    whole = MiniBatchTrainer(store, config, seed=1)
    whole.run()
    first = MiniBatchTrainer(store, config, seed=1)
    first.run(stop=lambda: first.epoch == 1)
    assert first.epoch == 1
    state = first.state_dict()  # taken at the epoch boundary: it holds the global random state of that moment
    resumed = MiniBatchTrainer(store, config, seed=1)
    torch.manual_seed(123)  # the checkpoint restores the random state that draws the dropout masks
    resumed.load_state_dict(state)
    resumed.run()
    def timeless(history):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in history]

    assert [r["epoch"] for r in resumed.history] == [1, 2, 3] and timeless(resumed.history) == timeless(whole.history)
    for key, value in whole.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
    with pytest.raises(InputError, match="not a checkpoint of this mini-batch run"):
        MiniBatchTrainer(store, config, seed=2).load_state_dict(state)


def test_bad_input():
    store = GraphStore.from_graph(planted_graph())
    with pytest.raises(InputError, match="2 fan-outs .* for a model of 3 layers"):
        MiniBatchTrainer(store, minibatch_config("sage", num_layers=3, fanouts=(5, 5)), seed=0)
    for size in (0, -4):
        with pytest.raises(InputError, match=f"batch size must be positive, got {size}"):
            MiniBatchTrainer(store, minibatch_config("sage", batch_size=size), seed=0)
    with pytest.raises(InputError, match="unknown model"):
        minibatch_config("mlp")
    bad = dataclasses.replace(store, train_idx=torch.tensor([0, NUM_NODES]))
    with pytest.raises(InputError, match="outside the graph's 150 nodes"):
        MiniBatchTrainer(bad, minibatch_config("sage", epochs=1), seed=0).run()


def test_the_part_of_one_process_is_the_whole_batch():
    assert distributed.part(7) == slice(0, 7)


# --- data parallelism ------------------------------------------------------------------------------------------

CONFIGS = {kind: minibatch_config(kind, hidden_size=8, heads=2, epochs=1, batch_size=8, fanouts=(4, 3), dropout=0.0,
                                  eval_every=0) for kind in ("gcn", "sage", "gat")}


def free_port() -> int:
    """A free port below Linux's ephemeral range (32768-60999). Ports that other test runs on this machine took
    with bind(0) and hold for later process groups come from that range; sharing one joins their group."""
    rng = random.Random()
    for _ in range(100):
        port = rng.randrange(20000, 32000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 20000-32000")


def rank_main(rank: int, port: int, folder: str) -> None:
    torch.set_num_threads(1)
    os.environ.update(WORLD_SIZE="2", RANK=str(rank), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    from seqgraph import distributed
    with distributed.session(torch.device("cpu")):
        for kind, config in CONFIGS.items():
            train_and_save(kind, config, rank, folder)  # returns: its trainer is unreachable when the session ends


def train_and_save(kind: str, config, rank: int, folder: str) -> None:
    from seqgraph import distributed
    trainer = MiniBatchTrainer(open_store(folder), config, seed=3)
    trainer.run()
    state = trainer.state_dict()  # a collective: every rank's random state
    if distributed.is_main():
        torch.save(state, f"{folder}/{kind}.pt")
    with open(f"{folder}/{kind}.{rank}.json", "w") as f:
        json.dump([r["train_loss"] for r in trainer.history], f)


@pytest.mark.slow
def test_two_gloo_processes_train_the_parameters_of_one(tmp_path):
    # 29 training nodes in global batches of 8: the last batch of 5 splits 3 / 2
    save_store(GraphStore.from_graph(planted_graph()), tmp_path)
    mp.spawn(rank_main, (free_port(), str(tmp_path)), nprocs=2)
    store = open_store(tmp_path)
    for kind, config in CONFIGS.items():
        one = MiniBatchTrainer(store, config, seed=3)
        one.run()
        two = torch.load(tmp_path / f"{kind}.pt", weights_only=True)
        assert two["world_size"] == 2
        for key, value in one.model.state_dict().items():
            torch.testing.assert_close(two["model"][key], value, rtol=0, atol=1e-5, msg=key)
        start = MiniBatchTrainer(store, config, seed=3).model.state_dict()
        assert all((start[key] - value).abs().max() > 1e-3 for key, value in one.model.state_dict().items())
        losses = [json.loads((tmp_path / f"{kind}.{rank}.json").read_text()) for rank in (0, 1)]
        assert losses[0] == losses[1]  # every rank logs the global batch's loss
        assert losses[0] == pytest.approx([r["train_loss"] for r in one.history], abs=1e-5)
