"""Files that are replaced whole or not at all.

Every file seqgraph writes into an output folder (checkpoints, ``results.json``, ``run.json``, the corpus cache,
``samples.md``) or into the data directory (downloads, a TU archive's members, each once its checksum matched) is
written to a temporary file in the same folder, flushed to disk, renamed over the old one and
the folder entry flushed too: a crash, a full disk or ``kill -9`` leaves the old file or the new one, never half
of one. The temporary files are named ``.<name>.<random>`` so that they never look like results. A file gets the
permissions that ``open()`` would give it, 0o666 less the umask (``tempfile.mkstemp`` alone would leave every result
readable by its owner only, whatever the umask says).
"""

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def replacing(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write; if the block succeeds, it becomes ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
    finally:
        os.close(fd)
    try:
        yield Path(tmp)
        _fsync(tmp, os.O_RDONLY)
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(e, OSError) and e.filename in (None, tmp):  # a write or a flush (a full disk): name the file
            raise OSError(e.errno, e.strerror, str(path)) from e
        raise
    _fsync(path.parent, os.O_RDONLY)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", **kwargs) -> Iterator:
    """``open(path, mode)`` for writing, through :func:`replacing`."""
    with replacing(path) as tmp, open(tmp, mode, **kwargs) as f:
        yield f


def _fsync(path: str | os.PathLike, flags: int) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it: put it back at once
    os.umask(mask)
    return mask
