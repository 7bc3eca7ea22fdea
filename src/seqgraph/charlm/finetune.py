"""Fine-tuning: start a training run from the weights of a trained character model (as nanoGPT's ``init_from``).

The new run has its own optimiser and schedule; only the weights come over. The model sizes and the cell must be
those of the checkpoint. The corpus is encoded with the checkpoint's vocabulary; with ``extend_vocab`` the
vocabulary grows by the corpus's new characters (:func:`seqgraph.charlm.data.load_corpus`), and so do the
embedding and the output layer: the rows of the new characters keep the fresh initialisation of a model at its
first step, the others are the trained ones, moved to their characters' places in the sorted vocabulary.
"""

from dataclasses import fields

import torch

from .. import checkpoint
from .model import CharLM, CharLMConfig

KIND = "charlm"
SIZE_KEYS = ("embedding_dim", "hidden_size", "num_layers", "cell")
# what checkpoints written before these settings existed were trained with
LEGACY = {"cell": "torch-lstm", "batching": "random", "test_fraction": 0.0}
_PER_CHARACTER = ("embedding.weight", "head.weight", "head.bias")  # one row per vocabulary character


def checkpoint_config(ckpt: dict) -> dict:
    """The flat configuration of a checkpoint, with the settings that older checkpoints lack filled in."""
    config = ckpt.get("config")
    return {**LEGACY, **(config if isinstance(config, dict) else {})}


def check_weights(ckpt: dict, path: str) -> CharLMConfig:
    """The model configuration of a checkpoint whose weights fit it: its kind, its vocabulary and the name, shape and
    dtype of every weight against the model its configuration describes (built on the meta device, which allocates
    nothing), else InputError naming what is wrong."""
    checkpoint.check_kind(ckpt, KIND, path)
    checkpoint.check_like(ckpt, {"config": {}, "vocab": "", "model": {}, "step": 0}, path, extra=True)
    config = checkpoint_config(ckpt)
    with checkpoint.complete(path), torch.device("meta"):
        model_config = CharLMConfig(**{**{f.name: config[f.name] for f in fields(CharLMConfig) if f.name in config},
                                       "vocab_size": len(ckpt["vocab"])})
        reference = CharLM(model_config).state_dict()
    checkpoint.check_like(ckpt["model"], reference, path, "model")
    return model_config


def check_sizes(ckpt: dict, config: dict, path: str) -> None:
    """Refuse (InputError, one line) a checkpoint of another kind, model size or cell than ``config``, or whose
    weights do not fit its own model (:func:`check_weights`)."""
    checkpoint.check_compatible({**ckpt, "config": checkpoint_config(ckpt)}, KIND, config, SIZE_KEYS, path)
    check_weights(ckpt, path)


@torch.no_grad()
def transplant(model: CharLM, weights: dict, vocab: str, new_vocab: str) -> None:
    """Copy ``weights`` (a state dict over ``vocab``) into ``model``, built over ``new_vocab`` ⊇ ``vocab``."""
    rows = torch.tensor([new_vocab.index(c) for c in vocab])  # where each old character sits now
    own = model.state_dict()  # shares storage with the parameters
    for key, value in weights.items():
        if key in _PER_CHARACTER:
            own[key][rows] = value.to(own[key])
        else:
            own[key].copy_(value)
