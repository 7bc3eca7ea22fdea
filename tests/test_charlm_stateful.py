"""Stateful batches (truncated BPTT), the left-to-right score, the test split and resuming a stateful run."""

import math
from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from seqgraph import checkpoint
from seqgraph.charlm.batching import StreamBatcher
from seqgraph.charlm.data import load_corpus
from seqgraph.charlm.evaluate import score, stream_score
from seqgraph.charlm.model import CharLM, CharLMConfig
from seqgraph.charlm.train import TextTrainConfig, Trainer
from seqgraph.errors import InputError

TEXT = "the people of the union govern the states, and the states govern the towns. " * 40


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text(TEXT, encoding="utf-8")
    return load_corpus(path, val_fraction=0.1, test_fraction=0.1)


def make_trainer(corpus, dropout=0.1, **overrides):
    model = CharLMConfig(len(corpus.vocab), embedding_dim=8, hidden_size=16, num_layers=2, dropout=dropout)
    config = TextTrainConfig(steps=12, batch_size=4, seq_len=10, lr=3e-3, eval_every=4, seed=7, batching="stateful")
    return Trainer(model, replace(config, **overrides), corpus)


def test_consecutive_batches_continue_every_stream():
    data = np.arange(1000)  # character i is i: a window shows where it was read
    batcher = StreamBatcher(data, batch_size=4, seq_len=10, generator=torch.Generator().manual_seed(0))
    epochs = []
    previous = None
    for _ in range(60):  # about 2.5 epochs of 24 batches
        x, y, fresh = batcher.next()
        assert torch.equal(y[:, :-1], x[:, 1:]) and torch.equal(y[:, -1], x[:, -1] + 1)  # targets: shifted by one
        assert torch.equal(x, x[:, :1] + torch.arange(10))  # each row a contiguous run of the text
        if fresh:
            epochs.append(x[:, 0].clone())
            starts = x[:, 0]
            assert 0 <= starts[0] <= 10  # the epoch's offset
            stream = int(starts[1] - starts[0])  # equal, disjoint streams covering the text
            assert torch.equal(starts, starts[0] + stream * torch.arange(4)) and 4 * stream <= 999 - int(starts[0])
        else:
            assert torch.equal(x[:, 0], previous[:, -1] + 1)  # continues where the last batch ended, every stream
            assert int(y.max()) < 1000
        previous = x
    assert len(epochs) == 3 and len({int(e[0]) for e in epochs}) > 1  # offsets are re-drawn per epoch


def test_stream_batches_need_enough_text():
    with pytest.raises(InputError, match="stateful batches need"):
        StreamBatcher(np.arange(40), batch_size=4, seq_len=10, generator=torch.Generator())


def test_the_carried_state_is_detached(corpus):
    trainer = make_trainer(corpus, dropout=0.0)
    trainer.train_step()
    carried = trainer.carried
    assert all(s.grad_fn is None and not s.requires_grad for s in carried)
    assert carried[0].shape == (2, 4, 16) and carried[0].abs().sum() > 0
    # the gradient of the next batch is the same as from a constant copy of the state: backward stops at the batch
    x, y, fresh = trainer.batcher.next()
    assert not fresh
    params = list(trainer.model.parameters())
    grads = [torch.autograd.grad(F.cross_entropy(trainer.model(x, state)[0].flatten(0, 1), y.flatten()), params)
             for state in (carried, tuple(s.clone() for s in carried))]
    assert all(torch.equal(a, b) for a, b in zip(*grads, strict=True))


@pytest.mark.parametrize("window", [1, 7, 64, 10_000])
def test_left_to_right_score_equals_one_unbroken_pass(window):
    torch.manual_seed(0)
    model = CharLM(CharLMConfig(9, embedding_dim=5, hidden_size=8, num_layers=2)).double()
    data = np.random.default_rng(1).integers(0, 9, 300)
    x, y = torch.from_numpy(data[None, :-1]), torch.from_numpy(data[1:])
    with torch.no_grad():
        logits = model(x)[0][0]  # the whole text in one call
    reference = F.cross_entropy(logits, y).item()
    result = stream_score(model, data, window)
    assert math.isclose(result["loss"], reference, rel_tol=1e-12)
    assert result["acc"] == (logits.argmax(-1) == y).double().mean().item()


def test_per_window_score_is_higher_and_both_are_reported():
    torch.manual_seed(0)
    model = CharLM(CharLMConfig(3, embedding_dim=4, hidden_size=8, num_layers=1))
    data = np.tile([0, 1, 2, 2, 1], 80)  # predictable only with context
    optimizer = torch.optim.Adam(model.parameters(), 0.05)
    for _ in range(60):
        optimizer.zero_grad()
        x, y = torch.from_numpy(data[None, :-1]), torch.from_numpy(data[None, 1:])
        F.cross_entropy(model(x)[0][0], y[0]).backward()
        optimizer.step()
    result = score(model, data, seq_len=2)
    assert result["window_loss"] > result["loss"] + 0.05
    assert math.isclose(result["window_bits"], result["window_loss"] / math.log(2))


def test_train_validation_and_test_splits_are_contiguous(corpus):
    n = len(corpus.data)
    assert (len(corpus.train), len(corpus.val), len(corpus.test)) == (n - 2 * round(n * 0.1), round(n * 0.1),
                                                                     round(n * 0.1))
    assert np.array_equal(np.concatenate([corpus.train, corpus.val, corpus.test]), corpus.data)


def test_test_score_uses_the_given_weights(corpus):
    trainer = make_trainer(corpus, steps=4)
    best = trainer.state_dict(resumable=False)
    best["model"] = {key: value.clone() for key, value in best["model"].items()}  # the weights before training
    for _ in trainer.run():
        pass
    test = trainer.test(best)
    scratch = CharLM(trainer.model_config)
    scratch.load_state_dict(best["model"])
    assert test["loss"] == stream_score(scratch, corpus.test)["loss"] != trainer.test()["loss"]
    assert test["step"] == 0


@pytest.mark.parametrize("batching", ["stateful", "random"])
def test_exact_resume_keeps_the_streams_and_the_carried_state(corpus, tmp_path, batching):
    # 16 streams of about 150 characters: an epoch is 15 batches, and the run goes past its end
    straight = make_trainer(corpus, batching=batching, steps=20, batch_size=16)
    for _ in straight.run():
        pass
    first = make_trainer(corpus, batching=batching, steps=20, batch_size=16)
    for _ in first.run(stop=lambda: first.step == 17):
        pass
    checkpoint.save_atomic(first.state_dict(), tmp_path / "checkpoint.pt")
    ckpt = checkpoint.load(tmp_path / "checkpoint.pt")
    if batching == "stateful":
        assert ckpt["batcher"] == {**ckpt["batcher"], "epoch": 2, "position": 2}
        assert ckpt["carried"][0][0].shape == (2, 16, 16)
    torch.manual_seed(999)  # as if another process
    resumed = make_trainer(corpus, batching=batching, steps=20, batch_size=16)
    resumed.load_state_dict(ckpt)
    for _ in resumed.run():
        pass
    assert all(torch.equal(a, b) for a, b in zip(straight.model.parameters(), resumed.model.parameters(), strict=True))
    assert resumed.history == straight.history
