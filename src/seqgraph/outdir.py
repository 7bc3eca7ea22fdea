"""Output directories: one experiment per folder, never silently overwritten.

Each run writes ``run.json`` (what ran: the command and its configuration) first. A folder whose
``run.json`` names another command or configuration is refused unless ``force`` is set, so that
one experiment's results never overwrite another's by accident. A folder that holds nothing but
``run.json`` (a run that stopped on bad input before writing anything) is taken over.
"""

import json
import os
from pathlib import Path

from .atomic import atomic_open
from .errors import InputError

RUN_FILE = "run.json"


class FolderTaken(InputError):
    """The output folder holds the results of another experiment."""


def prepare(out: str | os.PathLike, command: str, config: dict, force: bool = False) -> Path:
    """Create ``out`` for ``command`` with ``config``; refuse (:class:`FolderTaken`) a folder of another experiment."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} exists and is not a folder")
    previous = out / RUN_FILE
    if previous.exists() and not force and any(p.name != RUN_FILE for p in out.iterdir()):
        try:
            old = json.loads(previous.read_text())
        except (OSError, ValueError):
            old = None
        if not isinstance(old, dict) or old.get("command") != command or old.get("config") != _jsonable(config):
            raise FolderTaken(f"{out} holds the results of another experiment ({previous})")
    elif not previous.exists() and out.is_dir() and (out / "results.json").exists() and not force:
        raise FolderTaken(f"{out} already holds results.json from an unknown run")
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / RUN_FILE, {"command": command, "config": config})
    return out


def write_json(path: str | os.PathLike, obj) -> None:
    """Write JSON atomically (:mod:`seqgraph.atomic`), with sorted keys for stable diffs."""
    with atomic_open(path, "w") as f:
        json.dump(_jsonable(obj), f, indent=2, sort_keys=True)
        f.write("\n")


def _jsonable(obj):
    """Round-trip through JSON so tuples, paths and numpy scalars compare as they are stored."""
    return json.loads(json.dumps(obj, default=_default))


def _default(o):
    if isinstance(o, os.PathLike):
        return os.fspath(o)
    if hasattr(o, "item"):
        return o.item()
    if hasattr(o, "tolist"):
        return o.tolist()
    raise TypeError(f"{type(o).__name__} is not JSON serialisable")
