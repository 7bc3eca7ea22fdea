"""Argument types and options shared by every command."""

import argparse
import contextlib
import json
import math
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
from tqdm import tqdm

from .. import distributed, outdir
from ..errors import InputError


def positive_int(text: str) -> int:
    value = _number(text, int)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


MAX_SIZE = 2**20  # of a layer or a batch: larger models are refused by the memory check, not by overflows
MAX_LENGTH = 10**5  # of a generated task sequence
MAX_LAYERS = 64


def bounded_int(limit: int):
    """A positive integer at most ``limit`` (a count whose product with others is allocated at once)."""
    def parse(text: str) -> int:
        value = positive_int(text)
        if value > limit:
            raise argparse.ArgumentTypeError(f"must be at most {limit:,}, got {text}")
        return value
    return parse


def fanout(text: str) -> int:
    """Neighbours sampled per node: 1 to ``MAX_SIZE``, or -1 for all of them."""
    value = _number(text, int)
    if value != -1 and not 0 < value <= MAX_SIZE:
        raise argparse.ArgumentTypeError(f"must be -1 (all neighbours) or from 1 to {MAX_SIZE:,}, got {text}")
    return value


def nonnegative_int(text: str) -> int:
    value = _number(text, int)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text}")
    return value


def positive_float(text: str) -> float:
    value = _number(text, float)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def nonnegative_float(text: str) -> float:
    value = _number(text, float)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative number, got {text}")
    return value


def bounded_float(limit: float):
    """A positive number at most ``limit``."""
    def parse(text: str) -> float:
        value = positive_float(text)
        if value > limit:
            raise argparse.ArgumentTypeError(f"must be at most {limit:g}, got {text}")
        return value
    return parse


MAX_LEARNING_RATE = 10.0
learning_rate = bounded_float(MAX_LEARNING_RATE)  # Adam overflows on absurd learning rates


MAX_SEED = 2**32 - 1  # numpy's global generator takes seeds below 2**32


def seed_value(text: str) -> int:
    """A seed every random generator accepts: 0 .. 2**32 - 1."""
    value = nonnegative_int(text)
    if value > MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_SEED}, got {text}")
    return value


def open_fraction(text: str) -> float:
    """A number strictly between 0 and 1."""
    value = _number(text, float)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1), got {text}")
    return value


class Distinct(argparse.Action):
    """``nargs="+"`` that refuses a value given twice (it would run twice and count twice in mean ± std)."""

    def __call__(self, parser, namespace, values, option_string=None):
        repeated = sorted({str(v) for v in values if values.count(v) > 1})
        if repeated:
            raise argparse.ArgumentError(self, f"lists {', '.join(repeated)} more than once")
        setattr(namespace, self.dest, values)


def probability(text: str) -> float:
    value = _number(text, float)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def share(text: str) -> float:
    """A proportion in (0, 1]: none is meaningless, all is allowed (unlike a dropout probability)."""
    value = _number(text, float)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return value


def _number(text: str, kind):
    try:
        value = kind(text)
    except ValueError:
        expected = "an integer" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """--out, --force, --device, --data-dir, --json: the options every experiment command has."""
    add_out_options(parser, "folder for results.json, checkpoints and plots")
    add_device_option(parser)
    add_data_dir_option(parser)
    add_json_option(parser)


def add_out_options(parser: argparse.ArgumentParser, help: str, required: bool = True) -> None:
    """--out FOLDER (``help`` says what goes there) and --force."""
    parser.add_argument("--out", required=required, help=help)
    parser.add_argument("--force", action="store_true",
                        help="write into --out even if it holds another experiment's results")


def add_device_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                        help="where to compute: auto picks cuda when available (default: auto)")


def add_data_dir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", default=None,
                        help="data directory (default: $SEQGRAPH_DATA, else ~/.cache/seqgraph)")


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the results as JSON on stdout")


def prepare_out(args, command: str, config: dict, out: str | None = None, force: bool | None = None,
                only_check: bool = False, resume: bool = False) -> Path:
    """:func:`seqgraph.outdir.prepare` (or with ``only_check`` :func:`seqgraph.outdir.check`, which writes nothing)
    for ``--out`` (or ``out``) and ``--force`` (or ``force``), its errors naming the flags. With ``resume`` the
    folder must hold a run (its ``run.json``) of this command and configuration, ``--force`` or not: forcing would
    rewrite ``run.json`` for checkpoints of other settings."""
    out = args.out if out is None else out
    force = args.force if force is None else force
    if resume:
        if not (Path(out) / outdir.RUN_FILE).is_file():
            raise InputError(f"--resume: {out} holds no run to continue")
        force = False
    try:
        return (outdir.check if only_check else outdir.prepare)(out, command, config, force)
    except outdir.FolderTaken as e:
        raise InputError(f"--out {e}; choose another --out or pass --force") from e
    except InputError as e:
        raise InputError(f"--out {e}") from e


@contextlib.contextmanager
def naming(flag: str) -> Iterator[None]:
    """Prefix an :class:`InputError` raised inside with ``flag`` (say ``"--length 1"``), the input it is about: the
    library describes the value, the command names the flag."""
    try:
        yield
    except InputError as e:
        raise InputError(f"{flag}: {e}") from e


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


def on_torchrun(run: Callable[[argparse.Namespace, torch.device], int]) -> Callable[[argparse.Namespace], int]:
    """A command ``run(args, device)`` that joins torchrun's process group (when launched by it) around its work."""
    def command(args: argparse.Namespace) -> int:
        with distributed.session(resolve_device(args.device)) as device:
            return run(args, device)
    return command


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda was asked for, but no CUDA device is available")
    return torch.device(name)


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend, imported when a command first plots (it is slow)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path) -> None:
    """Lay out ``fig``, write it to ``path`` (PNG, 120 dpi) and free it."""
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    pyplot().close(fig)


class Progress(tqdm):
    """A tqdm bar on stderr. On a terminal it redraws one line; in a log file or a pipe it writes a line per
    update instead, at most every ``LOG_INTERVAL`` seconds and at the end, so that the log reads top to bottom."""

    LOG_INTERVAL = 30.0

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("file", sys.stderr)
        self.to_log = not kwargs["file"].isatty()
        self._logged, self._closing = -math.inf, False  # set first: tqdm's __init__ already displays
        super().__init__(*args, **kwargs)

    def display(self, msg=None, pos=None):
        if not self.to_log:
            return super().display(msg, pos)
        now = time.monotonic()
        due = now - self._logged >= self.LOG_INTERVAL or self._closing
        line = self.__str__() if msg is None else msg
        if line and due:
            self.fp.write(line + "\n")
            self.fp.flush()
            self._logged = now
        return True

    def close(self):
        self._closing = True  # the final state is always written
        super().close()


def print_json(obj) -> None:
    json.dump(obj, sys.stdout, indent=2, sort_keys=True, default=str)
    sys.stdout.write("\n")
