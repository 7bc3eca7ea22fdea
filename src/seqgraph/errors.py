"""Exceptions that the command line turns into exit codes.

Library code raises :class:`InputError` (a ``ValueError``) for anything a user can fix by
changing an argument or a file; the CLI prints its message on one line and exits with 2.
:class:`NonFiniteLossError` stops training; the CLI exits with 3 and the last good checkpoint stays.
:class:`Interrupted` (a ``KeyboardInterrupt``) says which signal stopped training: exit 130 (SIGINT) or 143 (SIGTERM).
"""

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


def require_regular_file(path: Path, missing: str = "") -> Path:
    """``path`` if it is a regular file, else InputError: "not a regular file" (a FIFO or a device would be read
    for ever) or "missing" followed by ``missing``."""
    if not path.is_file():
        raise InputError(f"{path} is not a regular file" if path.exists() else f"{path} is missing{missing}")
    return path


class NonFiniteLossError(RuntimeError):
    """The training loss (or the gradient norm, ``quantity="gradient norm"``) became NaN or infinite. Exit code 3."""

    def __init__(self, step: int, value: float, quantity: str = "loss", checkpointed: bool = True):
        kept = ", the last good checkpoint is kept" if checkpointed else ""
        super().__init__(f"{quantity} became {value} at step {step}; stopped{kept}")
        self.step = step
        self.value = value
