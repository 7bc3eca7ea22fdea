"""Fine-tuning from a trained model (--init-from): weights carried over, vocabulary checked or extended."""

from dataclasses import replace

import pytest
import torch

from seqgraph.charlm.data import load_corpus
from seqgraph.charlm.model import CharLMConfig
from seqgraph.charlm.train import TextTrainConfig, Trainer
from seqgraph.errors import InputError

SOURCE = "the people of the union govern the states, and the states govern the towns. " * 30
TARGET = "the towns of the states govern the people, and the people govern the union. " * 30
CONFIG = TextTrainConfig(steps=30, batch_size=8, seq_len=16, lr=1e-2, eval_every=30, seed=1, batching="random",
                         test_fraction=0.0)


def corpus_of(tmp_path, name, text, **kwargs):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return load_corpus(path, val_fraction=0.1, **kwargs)


def trainer(corpus, init=None, **overrides):
    model = CharLMConfig(len(corpus.vocab), embedding_dim=8, hidden_size=32, num_layers=1)
    return Trainer(model, replace(CONFIG, **overrides), corpus, init_from=init, init_from_name="pre.pt")


def run(t):
    for _ in t.run():
        pass
    return t


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    source = corpus_of(tmp_path_factory.mktemp("source"), "source.txt", SOURCE)
    return run(trainer(source, steps=80)).state_dict(resumable=False)


@pytest.mark.slow
def test_fine_tuning_beats_the_same_steps_from_scratch(pretrained, tmp_path):
    target = corpus_of(tmp_path, "target.txt", TARGET, vocab=pretrained["vocab"])
    tuned = run(trainer(target, pretrained))
    scratch = run(trainer(target))
    assert tuned.history["val"][-1]["loss"] < scratch.history["val"][-1]["loss"] - 0.3
    assert tuned.config_dict["init_from"] == "pre.pt" and tuned.step == scratch.step == 30


def test_a_character_outside_the_vocabulary_is_refused_or_added(pretrained, tmp_path):
    text = "Kings kept the people of the union. " * 30  # K and k are new
    with pytest.raises(InputError, match=r"2 character\(s\) outside the model's vocabulary: 'K' 'k'"):
        corpus_of(tmp_path, "new.txt", text, vocab=pretrained["vocab"])
    corpus = corpus_of(tmp_path, "new.txt", text, vocab=pretrained["vocab"], extend_vocab=True)
    assert corpus.vocab == "".join(sorted(set(pretrained["vocab"]) | {"K", "k"}))
    tuned, fresh = trainer(corpus, pretrained), trainer(corpus)  # same seed: fresh holds the initial rows
    old = pretrained["model"]
    for c in corpus.vocab:
        row, source = corpus.vocab.index(c), (tuned.model, fresh.model)[c in "Kk"]
        old_row = pretrained["vocab"].index(c) if c not in "Kk" else None
        expected = (source.embedding.weight[row], source.head.weight[row], source.head.bias[row]) if c in "Kk" else (
            old["embedding.weight"][old_row], old["head.weight"][old_row], old["head.bias"][old_row])
        got = (tuned.model.embedding.weight[row], tuned.model.head.weight[row], tuned.model.head.bias[row])
        assert all(torch.equal(a, b) for a, b in zip(got, expected, strict=True)), c
    assert torch.equal(tuned.model.lstm.weight_hh_l0, old["lstm.weight_hh_l0"])


def test_a_checkpoint_of_another_size_or_cell_is_refused(pretrained, tmp_path):
    target = corpus_of(tmp_path, "target.txt", TARGET, vocab=pretrained["vocab"])
    model = CharLMConfig(len(target.vocab), embedding_dim=8, hidden_size=16, num_layers=1)
    with pytest.raises(InputError, match="hidden_size: 32 in checkpoint vs 16 now"):
        Trainer(model, CONFIG, target, init_from=pretrained, init_from_name="pre.pt")
    with pytest.raises(InputError, match="cell: 'torch-lstm' in checkpoint vs 'gru' now"):
        Trainer(replace(model, hidden_size=32, cell="gru"), CONFIG, target, init_from=pretrained)
