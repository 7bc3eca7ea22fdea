"""Fine-tuning: start a training run from the weights of a trained character model (as nanoGPT's ``init_from``).

The new run has its own optimiser and schedule; only the weights come over. The model sizes and the cell must be
those of the checkpoint. The corpus is encoded with the checkpoint's vocabulary; with ``extend_vocab`` the
vocabulary grows by the corpus's new characters (:func:`seqgraph.charlm.data.load_corpus`), and so do the
embedding and the output layer: the rows of the new characters keep the fresh initialisation of a model at its
first step, the others are the trained ones, moved to their characters' places in the sorted vocabulary.
"""

import torch

from .. import checkpoint
from .model import CharLM

KIND = "charlm"
SIZE_KEYS = ("embedding_dim", "hidden_size", "num_layers", "cell")
# what checkpoints written before these settings existed were trained with
LEGACY = {"cell": "torch-lstm", "batching": "random", "test_fraction": 0.0}
_PER_CHARACTER = ("embedding.weight", "head.weight", "head.bias")  # one row per vocabulary character


def checkpoint_config(ckpt: dict) -> dict:
    """The flat configuration of a checkpoint, with the settings that older checkpoints lack filled in."""
    return {**LEGACY, **ckpt.get("config", {})}


def check_sizes(ckpt: dict, config: dict, path: str) -> None:
    """Refuse (InputError, one line) a checkpoint of another kind, model size or cell than ``config``."""
    checkpoint.check_compatible({**ckpt, "config": checkpoint_config(ckpt)}, KIND, config, SIZE_KEYS, path)


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
