"""Output directories: one experiment per folder, never silently overwritten, one run at a time.

Each run writes ``run.json`` (what ran: the command and its configuration) first. A folder is used only when it
is empty, when it holds nothing but ``run.json`` (a run that stopped on bad input before writing anything), or
when its ``run.json`` names the same command and configuration (or, for a run that continues, one whose settings
named in ``longer``, such as its epochs or seeds, were fewer: :func:`continues`); anything else, a folder of the
user's own files included, is refused unless ``force`` is set. :func:`check` decides without writing, so a command
checks every input before :func:`prepare` writes. While the run lasts it holds an exclusive lock (``fcntl.flock``) on
``.seqgraph.lock`` in the folder, which names its process id: a second run into the same folder is refused, not
interleaved. Temporary files that a killed run left behind (:mod:`seqgraph.atomic`) are removed once the lock is
held.
"""

import contextlib
import fcntl
import json
import os
import re
from pathlib import Path

from .atomic import atomic_open
from .errors import InputError

RUN_FILE = "run.json"
LOCK_FILE = ".seqgraph.lock"
_TEMPORARY = re.compile(r"^\..+\.[a-z0-9_]{8}$")  # tempfile.mkstemp's name for an atomic write under way
_held: dict[Path, int] = {}  # folder -> file descriptor of its lock, for the locks this process holds, in order


class FolderTaken(InputError):
    """The output folder holds another experiment's results (``recorded``: its ``run.json``), or files seqgraph
    did not write (``recorded`` None)."""

    def __init__(self, message: str, recorded: dict | None = None):
        super().__init__(message)
        self.recorded = recorded


def check(out: str | os.PathLike, command: str, config: dict, force: bool = False,
          longer: tuple[str, ...] = ()) -> Path:
    """Raise unless ``out`` may receive a run of ``command`` with ``config`` (see the module docstring)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} exists and is not a folder")
    if (out / LOCK_FILE).exists() and out.resolve() not in _held:
        os.close(_take_lock(out))  # refused if another process holds it
    if force or not out.exists():
        return out
    entries = [p.name for p in out.iterdir() if p.name != LOCK_FILE and not _TEMPORARY.match(p.name)]
    if not entries or entries == [RUN_FILE]:
        return out
    if RUN_FILE not in entries:
        shown = ", ".join(sorted(entries)[:3]) + (", ..." if len(entries) > 3 else "")
        raise FolderTaken(f"{out} holds files of an unknown run ({shown}), not written by seqgraph")
    try:
        old = json.loads((out / RUN_FILE).read_text())
    except (OSError, ValueError):
        old = None
    if not isinstance(old, dict) or old.get("command") != command or not continues(old.get("config"), config, longer):
        raise FolderTaken(f"{out} holds the results of another experiment ({out / RUN_FILE})",
                          old if isinstance(old, dict) else None)
    return out


def continues(old, new: dict, longer: tuple[str, ...] = ()) -> bool:
    """Whether a run of configuration ``new`` is the one of ``old`` or its continuation: the same settings, except
    that those named in ``longer`` may have grown, an integer count to a larger one (a run of 20 epochs is the first
    20 of one of 40) or a list by entries at its end (seeds 0 1 are the first two runs of seeds 0 1 2)."""
    if not isinstance(old, dict):
        return False
    old, new = _jsonable(old), _jsonable(new)
    if old.keys() != new.keys():
        return False
    return all(old[key] == value or (key in longer and _grown(old[key], value)) for key, value in new.items())


def _grown(old, new) -> bool:
    if type(old) is type(new) is int:
        return old < new
    return isinstance(old, list) and isinstance(new, list) and new[:len(old)] == old


def prepare(out: str | os.PathLike, command: str, config: dict, force: bool = False,
            longer: tuple[str, ...] = ()) -> Path:
    """:func:`check`, then create ``out``, lock it for this process and write ``run.json`` (the new counts of a run
    that continues for longer)."""
    out = check(out, command, config, force, longer)
    out.mkdir(parents=True, exist_ok=True)
    lock(out)
    for stale in out.rglob(".*"):
        if stale.is_file() and _TEMPORARY.match(stale.name):
            stale.unlink()
    write_json(out / RUN_FILE, {"command": command, "config": config})
    return out


def lock(out: Path) -> None:
    """Take the folder's lock until :func:`release` (another process is refused, naming the holder; this one may
    run into the folder again, as ``reproduce`` and the tests do)."""
    if out.resolve() in _held:
        return
    fd = _take_lock(out)
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    _held[out.resolve()] = fd


def _take_lock(out: Path) -> int:
    fd = os.open(out / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise InputError(f"{out} is in use by another seqgraph run (process {holder})") from None
    return fd


def held() -> int:
    """How many folder locks this process holds (a command releases those it took: :func:`release`)."""
    return len(_held)


def release(keep: int = 0) -> None:
    """Release the locks taken after the first ``keep``."""
    for folder in list(_held)[keep:]:
        with contextlib.suppress(OSError):
            os.close(_held.pop(folder))  # closing the descriptor drops the flock


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
