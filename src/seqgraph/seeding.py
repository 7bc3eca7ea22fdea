"""Seeds and random states: one seed makes a run, the saved states make a resumed run continue exactly.

Every trainer seeds through :func:`seed_everything` before it builds its model, so the initial weights
depend on the seed alone. The global random states of Python, numpy and torch travel in checkpoints
(:func:`rng_state`, :func:`set_rng_state`), so that a resumed run draws exactly the numbers an uninterrupted
one would have drawn. Streams that must not depend on anything else (training batches, evaluation batches,
samples) use generators of their own, seeded from the run's seed.
"""

import random

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch from one integer."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict:
    """The global random states of Python, numpy and torch (CPU and CUDA), as tensors and primitives."""
    state = {
        "python": random.getstate(),
        "numpy": _numpy_state_to_dict(np.random.get_state()),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore what :func:`rng_state` captured."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    np.random.set_state(_numpy_state_from_dict(state["numpy"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _numpy_state_to_dict(state: tuple) -> dict:
    # numpy's legacy state holds an ndarray, which weights_only loading refuses: store a tensor.
    name, keys, pos, has_gauss, cached = state
    return {"name": name, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": pos,
            "has_gauss": has_gauss, "cached": cached}


def _numpy_state_from_dict(d: dict) -> tuple:
    return d["name"], d["keys"].numpy().astype(np.uint32), d["pos"], d["has_gauss"], d["cached"]
