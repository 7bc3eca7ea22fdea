"""The I/O around a training loop, shared by ``text train``, ``toy`` and mini-batch ``graph train``: a progress bar,
TensorBoard scalars and checkpoints written by rank 0, stopping on Ctrl-C or SIGTERM after the step under way, and
the refusal to start afresh over a run that a folder already holds.

Every torchrun process asks :meth:`TrainingIO.stopping` after each step (or epoch); it is true on all of them as soon
as one got a signal, so they stop after the same step, the checkpoint written then is consistent, and every process
exits with the resume hint (a process that got no signal itself reports SIGTERM).
"""

import signal
from collections.abc import Callable, Iterable
from pathlib import Path

from .. import checkpoint, distributed
from ..errors import InputError
from .progress import Progress


class StopRequest:
    """While training (``with StopRequest() as stop``), SIGINT (Ctrl-C) and SIGTERM only set ``stop.signum``: the
    loop finishes the step under way, writes a checkpoint and exits with 128 + the signal (130 or 143).
    Stopping between steps keeps the checkpoint consistent."""

    signum = None

    def __call__(self, signum, frame):
        self.signum = signum

    def __enter__(self):
        self.previous = {s: signal.signal(s, self) for s in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, *exc):
        for s, handler in self.previous.items():
            signal.signal(s, handler)


class TrainingIO:
    """Progress bar and TensorBoard writer (rank 0 only) for one training run; use it as a context manager.

    Args:
        log_dir: TensorBoard's folder for the run (None: no TensorBoard events).
        total: steps of the whole run; ``initial``: steps already done (a resumed run), whose later events an
            interrupted run may have logged and which are dropped (TensorBoard's ``purge_step``).
        desc: the progress bar's label; ``unit``: what a step is ("step", "epoch").
        stop: the signal handler of the command (installed by the caller for as long as it trains).
    """

    def __init__(self, log_dir: Path | None, total: int, initial: int, desc: str, stop: StopRequest,
                 unit: str = "step"):
        self.main = distributed.is_main()  # alone logs and writes; every rank computes
        self.stop = stop
        self.writer = None
        if self.main and log_dir is not None:
            from torch.utils.tensorboard import SummaryWriter  # slow to import; only training needs it

            self.writer = SummaryWriter(str(log_dir), purge_step=initial + 1 if initial else None)
        self.bar = Progress(total=total, initial=initial, desc=desc, unit=unit, disable=not self.main)

    def __enter__(self) -> "TrainingIO":
        return self

    def __exit__(self, *exc) -> None:
        self.bar.close()
        if self.writer is not None:
            self.writer.close()

    def step(self, **postfix: str) -> None:
        """One step done: advance the bar and show ``postfix``."""
        self.bar.update()
        self.bar.set_postfix(postfix, refresh=False)

    def scalars(self, prefix: str, values: dict, step: int) -> None:
        for key, value in values.items():
            if self.writer is not None:
                self.writer.add_scalar(f"{prefix}/{key}", value, step)

    def text(self, tag: str, text: str, step: int) -> None:
        if self.writer is not None:
            self.writer.add_text(tag, text, step)

    def stopping(self) -> bool:
        """Whether any process got Ctrl-C or SIGTERM (a collective: every rank must ask after every step)."""
        return distributed.any_rank(self.stop.signum is not None)

    @property
    def signum(self) -> int:
        """The signal that stopped training: this process's, or SIGTERM where another process got it."""
        return int(self.stop.signum or signal.SIGTERM)

    def save(self, state: dict, path: Path) -> None:
        """Write a checkpoint (rank 0; every rank builds ``state``, which may gather their random states)."""
        if self.main:
            checkpoint.save_atomic(state, path)


def refuse_restart(out: Path, runs: Iterable[tuple[str, Path]], progress: Callable[[dict], tuple[str, bool] | None],
                   resume_hint: str = "--resume", finished_hint: str = "--force to train it again") -> None:
    """Starting afresh over a run that ``out`` holds would throw it away: refuse, saying how far it got.

    ``runs`` are ``(label, checkpoint path)`` pairs (label: "" for a command with one run, else e.g. " seed 3");
    ``progress(ckpt)`` says how far a checkpoint of this command got and whether it finished, as ``("step 28 of
    30", False)``, or None for a checkpoint of another kind. An unfinished run is pointed to ``resume_hint``, a
    finished one to ``finished_hint``; a file that is no checkpoint is left to the command's other checks.
    """
    for label, path in runs:
        try:
            ckpt = checkpoint.load(path)
        except InputError:
            continue  # no checkpoint, or one that could not be resumed anyway
        state = progress(ckpt)
        if state is None:
            continue
        where, finished = state
        if finished:
            raise InputError(f"--out {out} holds a run{label} finished at {where}: {finished_hint}")
        raise InputError(f"--out {out} holds an unfinished run{label} ({where}): add {resume_hint} to continue it, "
                         "or --force to start over")
