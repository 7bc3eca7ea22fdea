"""Exceptions that the command line turns into exit codes.

Library code raises :class:`InputError` (a ``ValueError``) for anything a user can fix by
changing an argument or a file; the CLI prints its message on one line and exits with 2.
:class:`NonFiniteLossError` stops training; the CLI exits with 3 and the last good checkpoint stays.
"""


class InputError(ValueError):
    """Bad user input: a file, a flag or a value. Exit code 2."""


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite. Exit code 3."""

    def __init__(self, step: int, loss: float):
        super().__init__(f"loss became {loss} at step {step}; stopped, the last good checkpoint is kept")
        self.step = step
        self.loss = loss
