"""Exceptions that the command line turns into exit codes.

Library code raises :class:`InputError` (a ``ValueError``) for anything a user can fix by
changing an argument or a file; the CLI prints its message on one line and exits with 2.
:class:`NonFiniteLossError` stops training; the CLI exits with 3 and the last good checkpoint stays.
:class:`Interrupted` (a ``KeyboardInterrupt``) says which signal stopped training: exit 130 (SIGINT) or 143 (SIGTERM).
"""

import errno
import os
import stat
from pathlib import Path


class Interrupted(KeyboardInterrupt):
    """Training stopped by a signal after saving its checkpoint. Exit code 128 + the signal's number; ``message``
    (say, how to resume) is printed in place of "interrupted"."""

    def __init__(self, signum: int, message: str = "interrupted"):
        super().__init__(signum)
        self.signum = signum
        self.message = message


class InputError(ValueError):
    """Bad user input: a file, a flag or a value. Exit code 2."""


def require_regular_file(path: Path, missing: str = "", what: str = "") -> Path:
    """``path`` if it is a regular file (or a link to one), else InputError saying what it is instead: missing
    (followed by ``missing``), a link to nothing or a loop of links, a folder, a FIFO, a device or a socket (a FIFO
    or a device would be read for ever). ``what`` names the file's role ("checkpoint") in front of its path."""
    name = f"{what} {path}" if what else str(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if os.path.islink(path):
            raise InputError(f"{name} is a symbolic link to {os.readlink(path)}, which is missing") from None
        raise InputError(f"{name} is missing{missing}") from None
    except OSError as e:
        reason = "is a loop of symbolic links" if e.errno == errno.ELOOP else f"cannot be opened: {e.strerror}"
        raise InputError(f"{name} {reason}") from None
    if not stat.S_ISREG(mode):
        raise InputError(f"{name} is not a regular file: it is {_KINDS.get(stat.S_IFMT(mode), 'something else')}")
    return path


_KINDS = {stat.S_IFDIR: "a folder", stat.S_IFIFO: "a FIFO (named pipe)", stat.S_IFCHR: "a character device",
          stat.S_IFBLK: "a block device", stat.S_IFSOCK: "a socket"}


class NonFiniteLossError(RuntimeError):
    """The training loss (or the gradient norm, ``quantity="gradient norm"``) became NaN or infinite. Exit code 3."""

    def __init__(self, step: int, value: float, quantity: str = "loss", checkpointed: bool = True):
        kept = ", the last good checkpoint is kept" if checkpointed else ""
        super().__init__(f"{quantity} became {value} at step {step}; stopped{kept}")
        self.step = step
        self.value = value
