"""Checkpoints that survive crashes and load without running code.

A checkpoint is a plain dict of tensors and Python primitives, written atomically (temporary file
in the same folder, fsync, rename, fsync of the folder): a reader sees the old file or the new
one, never half of one. It is read with ``torch.load(weights_only=True)`` only, which refuses
anything but tensors and primitives. The random-number state of torch, numpy and Python travels
with it, so that a resumed run draws exactly the numbers an uninterrupted one would have drawn.
"""

import os
import random
import tempfile
from pathlib import Path

import numpy as np
import torch

from .errors import InputError


def save_atomic(obj: dict, path: str | os.PathLike) -> None:
    """Write ``obj`` with torch.save to ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def load(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Load a checkpoint safely; a missing, corrupt or truncated file raises InputError."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no checkpoint at {path}")
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises many types for a damaged zip or a refused global
        reason = " ".join(str(e).split())[:300]  # one line: torch's messages can span several
        raise InputError(f"{path} is not a readable seqgraph checkpoint (corrupt or truncated?): {reason}") from e
    if not isinstance(obj, dict):
        raise InputError(f"{path} is not a seqgraph checkpoint (holds a {type(obj).__name__}, not a dict)")
    return obj


def check_compatible(ckpt: dict, kind: str, config: dict, keys: tuple[str, ...], path: str | os.PathLike) -> None:
    """Refuse a checkpoint written by another kind of run or a config that differs in ``keys``."""
    if ckpt.get("kind") != kind:
        raise InputError(f"{path} is a {ckpt.get('kind')!r} checkpoint, not a {kind!r} one")
    saved = ckpt.get("config", {})
    diff = [k for k in keys if saved.get(k) != config.get(k)]
    if diff:
        pairs = ", ".join(f"{k}: {saved.get(k)!r} in checkpoint vs {config.get(k)!r} now" for k in diff)
        raise InputError(f"{path} was written with another configuration ({pairs})")


def rng_state() -> dict:
    """The global random states of Python, numpy and torch (CPU and CUDA)."""
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


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch from one integer."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _numpy_state_to_dict(state: tuple) -> dict:
    # numpy's legacy state holds an ndarray, which weights_only loading refuses: store a tensor.
    name, keys, pos, has_gauss, cached = state
    return {"name": name, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": pos,
            "has_gauss": has_gauss, "cached": cached}


def _numpy_state_from_dict(d: dict) -> tuple:
    return d["name"], d["keys"].numpy().astype(np.uint32), d["pos"], d["has_gauss"], d["cached"]
