"""The I/O around a training loop, shared by ``text train`` and ``toy``: a progress bar, TensorBoard scalars and
checkpoints written by rank 0, and stopping on Ctrl-C or SIGTERM after the step under way.

Every torchrun process asks :meth:`TrainingIO.stopping` after each step; it is true on all of them as soon as one
got a signal, so they stop after the same step and the checkpoint written then is consistent.
"""

from pathlib import Path

from .. import checkpoint, distributed
from .common import Progress, StopRequest


class TrainingIO:
    """Progress bar and TensorBoard writer (rank 0 only) for one training run; use it as a context manager.

    Args:
        log_dir: TensorBoard's folder for the run.
        total: steps of the whole run; ``initial``: steps already done (a resumed run), whose later events an
            interrupted run may have logged and which are dropped (TensorBoard's ``purge_step``).
        desc: the progress bar's label.
        stop: the signal handler of the command (installed by the caller for as long as it trains).
    """

    def __init__(self, log_dir: Path, total: int, initial: int, desc: str, stop: StopRequest):
        from torch.utils.tensorboard import SummaryWriter  # slow to import; only training needs it

        self.main = distributed.is_main()  # alone logs and writes; every rank computes
        self.stop = stop
        self.writer = SummaryWriter(str(log_dir), purge_step=initial + 1 if initial else None) if self.main else None
        self.bar = Progress(total=total, initial=initial, desc=desc, unit="step", disable=not self.main)

    def __enter__(self) -> "TrainingIO":
        return self

    def __exit__(self, *exc) -> None:
        self.bar.close()
        if self.main:
            self.writer.close()

    def step(self, **postfix: str) -> None:
        """One step done: advance the bar and show ``postfix``."""
        self.bar.update()
        self.bar.set_postfix(postfix, refresh=False)

    def scalars(self, prefix: str, values: dict, step: int) -> None:
        for key, value in values.items():
            if self.main:
                self.writer.add_scalar(f"{prefix}/{key}", value, step)

    def text(self, tag: str, text: str, step: int) -> None:
        if self.main:
            self.writer.add_text(tag, text, step)

    def stopping(self) -> bool:
        """Whether any process got Ctrl-C or SIGTERM (a collective: every rank must ask after every step)."""
        return distributed.any_rank(self.stop.signum is not None)

    def save(self, state: dict, path: Path) -> None:
        """Write a checkpoint (rank 0; every rank builds ``state``, which may gather their random states)."""
        if self.main:
            checkpoint.save_atomic(state, path)
