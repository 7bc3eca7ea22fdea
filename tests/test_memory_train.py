import dataclasses
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seqgraph import checkpoint
from seqgraph.errors import InputError, NonFiniteLossError
from seqgraph.memory.train import WINDOW, ToyConfig, ToyTrainer, aggregate, rule_fires

TINY = ToyConfig(task="randomcomb", length=4, model="lstm", hidden_size=16, batch_size=32, lr=1e-2, max_steps=40,
                 eval_batches=2, eval_batch_size=32)


def test_preset_is_table_2_with_overrides():
    config = ToyConfig.preset("baumsweet", length=6, lr=None, hidden_size=64)
    assert (config.lr, config.max_steps, config.batch_size, config.hidden_size, config.max_norm) == (
        1e-4, 3000, 256, 64, 10.0)
    assert ToyConfig.preset("randomcomb").lr == 1e-3


def test_training_lowers_the_loss():
    trainer = ToyTrainer(dataclasses.replace(TINY, stop_rule="literal", run_to_max=True))
    trainer.run()
    loss = trainer.history["loss"]
    assert len(loss) == 40
    assert sum(loss[-10:]) < 0.7 * sum(loss[:10])


def test_rules_on_known_sequences():
    assert rule_fires("literal", [1.0]) and not rule_fires("literal", [127 / 128])
    assert not rule_fires("default", [1.0] * (WINDOW - 1))
    assert rule_fires("default", [0.5] + [1.0] * WINDOW)
    assert rule_fires("default", [255 / 256] * WINDOW)  # 99.6%: one error per batch of 256 passes
    assert not rule_fires("default", [1.0] * (WINDOW - 1) + [127 / 128] + [1.0] * (WINDOW - 1))


@settings(max_examples=200, deadline=None)
@given(errors=st.lists(st.integers(0, 3), min_size=1, max_size=40), batch=st.sampled_from([128, 256]))
def test_literal_rule_fires_no_later_than_default(errors, batch):
    accuracies = [1 - e / batch for e in errors]
    first = {rule: next((t for t in range(1, len(accuracies) + 1) if rule_fires(rule, accuracies[:t])), math.inf)
             for rule in ("default", "literal")}
    assert first["literal"] <= first["default"]


def test_stops_when_the_rule_fires_and_evaluates():
    trainer = ToyTrainer(dataclasses.replace(TINY, length=3, max_steps=300))
    summary = trainer.run()
    steps = summary["termination_step"]
    assert steps["default"] == summary["steps"] < 300
    assert steps["literal"] <= steps["default"]
    assert summary["eval_accuracy"] >= 0.99
    assert summary["eval_accuracy_at_termination"]["default"] == summary["eval_accuracy"]
    assert 0 <= summary["clipped_fraction"] <= 1 and summary["max_grad_norm"] > 0


def test_resume_from_a_checkpoint_is_bitwise_exact(tmp_path):
    config = dataclasses.replace(TINY, max_steps=25, max_norm=0.5)  # small max norm: clipping acts too
    uninterrupted = ToyTrainer(config)
    expected = uninterrupted.run()

    first = ToyTrainer(config)
    for _ in range(11):
        first.train_step()
    checkpoint.save_atomic({"trainer": first.state_dict()}, tmp_path / "ckpt.pt")
    resumed = ToyTrainer(config)
    resumed.load_state_dict(checkpoint.load(tmp_path / "ckpt.pt")["trainer"])
    assert resumed.run() == expected
    assert resumed.history == uninterrupted.history
    for (name, a), b in zip(uninterrupted.model.state_dict().items(), resumed.model.state_dict().values(),
                            strict=True):
        assert torch.equal(a, b), name


def test_non_finite_loss_raises_before_updating():
    trainer = ToyTrainer(TINY)
    with torch.no_grad():
        trainer.model.head.bias.fill_(float("nan"))
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    with pytest.raises(NonFiniteLossError, match="step 1"):
        trainer.train_step()
    for k, v in trainer.model.state_dict().items():
        assert torch.equal(v, before[k]) or torch.isnan(v).all()


def test_non_finite_gradient_with_a_finite_loss_raises_before_updating():
    trainer = ToyTrainer(TINY)
    trainer.model.head.weight.register_hook(lambda grad: grad * float("inf"))
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    with pytest.raises(NonFiniteLossError, match="gradient norm became (inf|nan) at step 1"):
        trainer.train_step()
    for k, v in trainer.model.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_aggregate_mean_and_sample_std():
    runs = [{"length": 6, "seed": s, "termination_step": {"default": d, "literal": l}, "eval_accuracy": 1.0}
            for s, d, l in [(1, 100, 80), (2, 120, 90), (3, None, 70)]]
    agg = aggregate(runs, "randomcomb", "lstm")["6"]
    assert agg["termination_step"]["default"] == {"mean": 110, "std": pytest.approx(math.sqrt(200)), "reached": 2}
    assert agg["termination_step"]["literal"]["mean"] == 80
    assert agg["report_termination_step"] == 86


def test_softmax_twice_trains_on_the_cross_entropy_of_the_probabilities():
    config = dataclasses.replace(TINY, loss="softmax-twice", max_steps=1)
    trainer = ToyTrainer(config)
    x, y = trainer.task.batch(config.batch_size, np.random.default_rng([config.seed, 0]))  # the first batch
    with torch.no_grad():
        p = trainer.model(x).double().exp()  # the model's probabilities
        expected = -(p.softmax(-1).log()[torch.arange(len(y)), y]).mean().item()
    assert trainer.train_step().loss == pytest.approx(expected, rel=1e-5)
    assert expected > math.log(len(p[0])) - 0.5  # the probabilities' softmax is nearly flat: a weak signal


def test_unknown_loss_is_an_input_error():
    with pytest.raises(InputError, match="unknown loss"):
        ToyTrainer(dataclasses.replace(TINY, loss="mse"))
