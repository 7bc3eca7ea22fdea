import math
from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from seqgraph import checkpoint
from seqgraph.charlm.data import load_corpus
from seqgraph.charlm.model import CharLM, CharLMConfig
from seqgraph.charlm.train import TextTrainConfig as TrainConfig
from seqgraph.charlm.train import Trainer, evaluate
from seqgraph.errors import InputError, NonFiniteLossError

TEXT = "the people of the union govern the states, and the states govern the towns. " * 40



@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text(TEXT, encoding="utf-8")
    return load_corpus(path, val_fraction=0.1)


def make_trainer(corpus, **overrides):
    model = CharLMConfig(len(corpus.vocab), embedding_dim=8, hidden_size=16, num_layers=2, dropout=0.1)
    config = replace(TrainConfig(steps=12, batch_size=4, seq_len=10, lr=3e-3, eval_every=4, seed=7), **overrides)
    return Trainer(model, config, corpus)


def run_all(trainer):
    return [log for log in trainer.run()]


def test_training_lowers_the_loss(corpus):
    trainer = make_trainer(corpus, steps=24, lr=2e-2, eval_every=8)
    run_all(trainer)
    val = trainer.history["val"]
    assert val[-1]["loss"] < val[0]["loss"] - 0.1 < math.log(len(corpus.vocab)) - 0.4
    assert math.isclose(val[-1]["bits"], val[-1]["loss"] / math.log(2))
    assert trainer.best_val_loss == min(v["loss"] for v in val)


def test_samples_at_thirds_of_training(corpus):
    trainer = make_trainer(corpus, steps=9)
    logs = run_all(trainer)
    assert [log["samples"]["step"] for log in logs if log["samples"]] == [3, 6, 9]
    record = trainer.history["samples"][-1]
    assert len(record["greedy"]) == 5 and all(len(s) == 30 for s in record["greedy"])
    assert len({s[0] for s in record["greedy"]}) == 5  # different start characters
    assert len(record["long"]) == 200 and set(record["long"]) <= set(corpus.vocab)
    assert [log["val"]["step"] for log in logs if log["val"]] == [4, 8, 9]


def test_exact_resume_is_bitwise_identical(corpus, tmp_path):
    straight = make_trainer(corpus)
    run_all(straight)

    first = make_trainer(corpus)
    for _ in first.run(stop=lambda: first.step == 5):
        pass
    checkpoint.save_atomic(first.state_dict(), tmp_path / "checkpoint.pt")

    torch.manual_seed(999)  # as if another process: other global random states, a new model
    np.random.seed(999)
    resumed = make_trainer(corpus)
    torch.rand(10)
    resumed.load_state_dict(checkpoint.load(tmp_path / "checkpoint.pt"))
    run_all(resumed)

    assert resumed.step == straight.step == 12
    for (name, a), b in zip(straight.model.named_parameters(), resumed.model.parameters(), strict=True):
        assert torch.equal(a, b), name
    assert resumed.history == straight.history


def test_validation_and_samples_do_not_change_training(corpus):
    # checkpoints are taken after them, so they must not consume the random state of training
    a = make_trainer(corpus, eval_every=1)
    run_all(a)
    b = make_trainer(corpus, eval_every=100)  # after a's run: both draw dropout masks from the global RNG
    run_all(b)
    assert all(torch.equal(p, q) for p, q in zip(a.model.parameters(), b.model.parameters(), strict=True))


def test_checkpoint_of_another_configuration_is_refused(corpus):
    trainer = make_trainer(corpus)
    state = trainer.state_dict()
    with pytest.raises(InputError, match="hidden_size"):
        Trainer(replace(trainer.model_config, hidden_size=32), trainer.config, corpus).load_state_dict(state)
    with pytest.raises(InputError, match="lr"):
        make_trainer(corpus, lr=1e-3).load_state_dict(state)
    with pytest.raises(InputError, match="not a 'charlm'"):
        trainer.load_state_dict({**state, "kind": "toy"})


def test_non_finite_loss_stops_with_the_step(corpus):
    trainer = make_trainer(corpus)
    next(trainer.run())
    with torch.no_grad():
        trainer.model.head.bias.fill_(float("nan"))
    with pytest.raises(NonFiniteLossError, match="step 2") as info:
        next(trainer.run())
    assert info.value.step == 2 and trainer.step == 1


def test_evaluate_scores_every_character_once():
    torch.manual_seed(0)
    model = CharLM(CharLMConfig(5, embedding_dim=3, hidden_size=4, num_layers=1)).eval()
    data = np.random.default_rng(0).integers(0, 5, 23)
    result = evaluate(model, data, seq_len=5, batch_size=2)
    # reference: windows [0:6], [5:11], [10:16], [15:21], [20:23], each from a zero state
    total = 0.0
    for s in range(0, 22, 5):
        w = torch.from_numpy(data[s: s + 6])
        total += F.cross_entropy(model(w[None, :-1])[0][0], w[1:], reduction="sum").item()
    assert math.isclose(result["loss"], total / 22, rel_tol=1e-6)
