"""Checkpoints that survive crashes and load without running code.

A checkpoint is a plain dict of tensors and Python primitives, written atomically (temporary file
in the same folder, fsync, rename, fsync of the folder): a reader sees the old file or the new
one, never half of one. It is read with ``torch.load(weights_only=True)`` only, which refuses
anything but tensors and primitives. A resumable trainer's ``state_dict()`` is its checkpoint, random
states included (:mod:`seqgraph.seeding`); its ``load_state_dict()`` checks it before restoring anything: the kind of
run and its settings (:func:`check_compatible`), then its structure against the state the trainer itself would write
(:func:`check_like`: the same keys, tensors of the same shapes, values of the same types), Adam's moments against
their parameters (:func:`load_adam`), all in the one-line error path (:func:`complete`). A checkpoint edited by hand,
written by another version or by another kind of run is refused naming what is wrong, before a step is taken.
"""

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import torch

from .atomic import atomic_open
from .errors import InputError, require_regular_file


def save_atomic(obj: dict, path: str | os.PathLike) -> None:
    """Write ``obj`` with torch.save to ``path`` atomically (:mod:`seqgraph.atomic`). A full disk is an OSError
    naming ``path``, as for any other file (torch's zip writer reports it as a RuntimeError)."""
    try:
        with atomic_open(path, "wb") as f:
            torch.save(obj, f)
    except RuntimeError as e:
        if not isinstance(e.__context__, OSError):
            raise
        raise OSError(e.__context__.errno, e.__context__.strerror, str(path)) from e


def _starts_as_zip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == b"PK\x03\x04"


def load(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Load a checkpoint safely; a missing, corrupt or truncated file raises InputError."""
    path = Path(path)
    require_regular_file(path, what="checkpoint")
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
    except (KeyError, IndexError, TypeError, ValueError, RuntimeError, AttributeError, ArithmeticError) as e:
        if isinstance(e, InputError):  # a library's own check: say which file
            if str(path) in str(e):
                raise
            raise InputError(f"{path}: {e}") from e
        reason = " ".join(str(e).split())[:300]
        what = f"lacks {reason}" if isinstance(e, KeyError) else f"does not fit this run: {reason}"
        raise InputError(f"{path} {what}") from e


def check_compatible(ckpt: dict, kind: str, config: dict, keys: tuple[str, ...], path: str | os.PathLike) -> None:
    """Refuse a checkpoint written by another kind of run or a config that differs in ``keys``."""
    check_kind(ckpt, kind, path)
    saved = ckpt.get("config", {})
    if not isinstance(saved, dict):
        raise InputError(f"{path} holds no configuration (its 'config' is a {type(saved).__name__})")
    diff = [k for k in keys if saved.get(k) != config.get(k)]
    if diff:
        pairs = ", ".join(f"{k}: {saved.get(k)!r} in checkpoint vs {config.get(k)!r} now" for k in diff)
        raise InputError(f"{path} was written with another configuration ({pairs})")


def check_kind(ckpt: dict, kind: str, path: str | os.PathLike) -> None:
    """Refuse a checkpoint of another kind of run (a graph checkpoint given to a text command, say)."""
    if ckpt.get("kind") != kind:
        raise InputError(f"{path} is a {ckpt.get('kind')!r} checkpoint, not a {kind!r} one")


def check_like(value, reference, path: str | os.PathLike, where: str = "", extra: bool = False) -> None:
    """Refuse ``value``, a checkpoint or a part of one, unless it has the structure of ``reference``, the state that
    this run itself writes: dicts with the same keys (``extra``: others allowed, at the top only), tensors of the
    same shape and dtype, lists and tuples of the same length, numbers, strings and flags of the same type.

    An empty list or dict in ``reference`` (a log, Adam's moments before the first step) only fixes the type, and
    None (what a run fills in later) anything: their readers check them. The error names the entry, as
    ``model['head.bias']``.
    """
    name = where or "the checkpoint"
    if reference is None:
        return
    if isinstance(reference, dict):
        if not isinstance(value, dict):
            raise InputError(f"{path}: {name} is a {type(value).__name__}, not a dict")
        if not reference:
            return
        missing = [k for k in reference if k not in value]
        unknown = [] if extra else [k for k in value if k not in reference]
        if missing or unknown:
            what = "; ".join(part for part in (f"lacks {', '.join(map(repr, missing))}" if missing else "",
                                               f"holds {', '.join(map(repr, unknown[:5]))}, which this run does "
                                               "not write" if unknown else "") if part)
            raise InputError(f"{path}: {name} {what}")
        for key, ref in reference.items():
            check_like(value[key], ref, path, f"{where}[{key!r}]" if where else str(key))
    elif isinstance(reference, torch.Tensor):
        if not isinstance(value, torch.Tensor):
            raise InputError(f"{path}: {name} is a {type(value).__name__}, not a tensor")
        if value.shape != reference.shape or value.dtype != reference.dtype:
            raise InputError(f"{path}: {name} is a {value.dtype} tensor of shape {tuple(value.shape)}, this run's "
                             f"is a {reference.dtype} tensor of shape {tuple(reference.shape)}")
    elif isinstance(reference, (list, tuple)):
        if not isinstance(value, (list, tuple)) or (reference and len(value) != len(reference)):
            size = f" of {len(value)}" if isinstance(value, (list, tuple)) else ""
            raise InputError(f"{path}: {name} is a {type(value).__name__}{size}, not a list of {len(reference)}")
        for i, (item, ref) in enumerate(zip(value, reference, strict=True) if reference else ()):
            check_like(item, ref, path, f"{name}[{i}]")
    elif not _same_type(value, reference):
        raise InputError(f"{path}: {name} is a {type(value).__name__}, not a {type(reference).__name__}")


def _same_type(value, reference) -> bool:
    if isinstance(reference, bool) or isinstance(value, bool):
        return type(value) is type(reference)
    if isinstance(reference, float):
        return isinstance(value, (int, float))  # an int where a float goes (a loss of 0, say) is one
    return isinstance(value, type(reference))


def check_shared(value, reference: dict, path: str | os.PathLike, where: str, required: tuple[str, ...]) -> None:
    """:func:`check_like` for the settings of a torch object (an optimizer's group, a schedule): another version of
    torch may add or drop some, so only the keys both hold must agree, and ``required`` must be there."""
    check_like(value, {}, path, where)
    check_like(value, {k: v for k, v in reference.items() if k in value or k in required}, path, where, extra=True)


ADAM_MOMENTS = ("exp_avg", "exp_avg_sq")


def load_adam(optimizer: torch.optim.Adam, state: dict, path: str | os.PathLike) -> None:
    """``optimizer.load_state_dict(state)``, refusing moments that are not shaped like their parameters: torch
    checks only how many parameters there are, and a wrong shape would fail in the next step. The settings of each
    group need only be those both hold (another version of torch may add some)."""
    groups = optimizer.state_dict()["param_groups"]
    check_like(state, {"state": {}, "param_groups": [None] * len(groups)}, path, "optimizer")
    for i, (saved, group) in enumerate(zip(state["param_groups"], groups, strict=True)):
        check_shared(saved, group, path, f"optimizer['param_groups'][{i}]", required=("params", "lr"))
    with complete(path):
        optimizer.load_state_dict(state)
    params = [p for group in optimizer.param_groups for p in group["params"]]
    for i, p in enumerate(params):
        moments = optimizer.state.get(p)
        if not moments:
            continue
        step = moments.get("step")
        if set(moments) != {"step", *ADAM_MOMENTS} or not isinstance(step, torch.Tensor) or step.dim() or any(
                not isinstance(moments[k], torch.Tensor) or moments[k].shape != p.shape for k in ADAM_MOMENTS):
            shapes = {k: tuple(v.shape) if isinstance(v, torch.Tensor) else type(v).__name__
                      for k, v in moments.items()}
            raise InputError(f"{path}: Adam's state of parameter {i} {tuple(p.shape)} does not fit it: {shapes}")


def check_records(records, path: str | os.PathLike, where: str, *kinds: dict) -> None:
    """Refuse a log that is not a list of records like those this run writes: each a dict with the keys of one of
    ``kinds`` and values of their types (a plot or a summary would fail on it later)."""
    check_like(records, [], path, where)
    for i, record in enumerate(records):
        like = next((kind for kind in kinds if isinstance(record, dict) and record.keys() == kind.keys()), kinds[0])
        check_like(record, like, path, f"{where}[{i}]")
