"""The options every experiment command shares (--out, --force, --device, --data-dir, --json, --threads) and what
--device resolves to, also under torchrun."""

import argparse
from collections.abc import Callable

import torch

from .. import distributed
from ..errors import InputError
from .flags import bounded_int

MAX_THREADS = 1024


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """--out, --force, --device, --data-dir, --json, --threads: the options every experiment command has."""
    add_out_options(parser, "folder for results.json, checkpoints and plots")
    add_device_option(parser)
    add_data_dir_option(parser)
    add_json_option(parser)
    add_threads_option(parser)


def add_threads_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=bounded_int(MAX_THREADS),
                        help="torch threads for all the work (default: OMP_NUM_THREADS if set, else one thread for "
                        "small work and every core for large products)")


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


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda was asked for, but no CUDA device is available")
    return torch.device(name)


def on_torchrun(run: Callable[[argparse.Namespace, torch.device], int]) -> Callable[[argparse.Namespace], int]:
    """A command ``run(args, device)`` that joins torchrun's process group (when launched by it) around its work."""
    def command(args: argparse.Namespace) -> int:
        with distributed.session(resolve_device(args.device)) as device:
            return run(args, device)
    return command
