"""Checkpoints that survive crashes and load without running code.

A checkpoint is a plain dict of tensors and Python primitives, written atomically (temporary file
in the same folder, fsync, rename, fsync of the folder): a reader sees the old file or the new
one, never half of one. It is read with ``torch.load(weights_only=True)`` only, which refuses
anything but tensors and primitives. A resumable trainer's ``state_dict()`` is its checkpoint, random
states included (:mod:`seqgraph.seeding`); its ``load_state_dict()`` checks it with :func:`check_compatible`.
"""

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import torch

from .atomic import atomic_open
from .errors import InputError


def save_atomic(obj: dict, path: str | os.PathLike) -> None:
    """Write ``obj`` with torch.save to ``path`` atomically (:mod:`seqgraph.atomic`)."""
    with atomic_open(path, "wb") as f:
        torch.save(obj, f)


def _starts_as_zip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == b"PK\x03\x04"


def load(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Load a checkpoint safely; a missing, corrupt or truncated file raises InputError."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no checkpoint at {path}")
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises many types for a damaged zip or a refused global
        # one line: torch's messages can span several, and for a file that is no zip at all name only an opcode
        reason = (" ".join(str(e).split())[:300] if _starts_as_zip(path)  # a truncated zip: torch's reason
                  else "not a zip archive, the format torch.save writes")
        raise InputError(f"{path} is not a readable seqgraph checkpoint (corrupt or truncated?): {reason}") from e
    if not isinstance(obj, dict):
        raise InputError(f"{path} is not a seqgraph checkpoint (holds a {type(obj).__name__}, not a dict)")
    return obj


@contextlib.contextmanager
def complete(path: str | os.PathLike) -> Iterator[None]:
    """While a trainer restores its state: a key that is missing or a tensor of the wrong shape or type (a checkpoint
    edited or written by other code) raises InputError in one line instead of a traceback."""
    try:
        yield
    except (KeyError, IndexError, TypeError, ValueError, RuntimeError) as e:
        if isinstance(e, InputError):
            raise
        reason = " ".join(str(e).split())[:300]
        what = f"lacks {reason}" if isinstance(e, KeyError) else f"does not fit this run: {reason}"
        raise InputError(f"{path} {what}") from e


def check_compatible(ckpt: dict, kind: str, config: dict, keys: tuple[str, ...], path: str | os.PathLike) -> None:
    """Refuse a checkpoint written by another kind of run or a config that differs in ``keys``."""
    if ckpt.get("kind") != kind:
        raise InputError(f"{path} is a {ckpt.get('kind')!r} checkpoint, not a {kind!r} one")
    saved = ckpt.get("config", {})
    diff = [k for k in keys if saved.get(k) != config.get(k)]
    if diff:
        pairs = ", ".join(f"{k}: {saved.get(k)!r} in checkpoint vs {config.get(k)!r} now" for k in diff)
        raise InputError(f"{path} was written with another configuration ({pairs})")
