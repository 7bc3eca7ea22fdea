"""Output directories: one experiment per folder, never silently overwritten.

Each run writes ``run.json`` (what ran: the command and its configuration) first. A folder whose
``run.json`` names another command or configuration is refused unless ``force`` is set, so that
one experiment's results never overwrite another's by accident. A folder that holds nothing but
``run.json`` (a run that stopped on bad input before writing anything) is taken over.
"""

import json
import os
import tempfile
from pathlib import Path

from .errors import InputError

RUN_FILE = "run.json"


def prepare(out: str | os.PathLike, command: str, config: dict, force: bool = False) -> Path:
    """Create ``out`` for ``command`` with ``config``; refuse a folder that holds another experiment."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} exists and is not a folder")
    previous = out / RUN_FILE
    if previous.exists() and not force and any(p.name != RUN_FILE for p in out.iterdir()):
        try:
            old = json.loads(previous.read_text())
        except (OSError, ValueError):
            old = None
        if not isinstance(old, dict) or old.get("command") != command or old.get("config") != _jsonable(config):
            raise InputError(
                f"{out} holds the results of another experiment ({previous}); choose another --out or pass --force"
            )
    elif not previous.exists() and out.is_dir() and (out / "results.json").exists() and not force:
        raise InputError(f"{out} already holds results.json from an unknown run; choose another --out or pass --force")
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / RUN_FILE, {"command": command, "config": config})
    return out


def write_json(path: str | os.PathLike, obj) -> None:
    """Write JSON atomically (temporary file and rename), with sorted keys for stable diffs."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w") as f:
        json.dump(_jsonable(obj), f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


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
