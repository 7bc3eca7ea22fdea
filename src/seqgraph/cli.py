"""The ``seqgraph`` command: one sub-command group per module of :mod:`seqgraph.commands`.

Exit codes: 0 success, 1 some ``reproduce`` experiment failed, 2 bad input or a refusal of the system (a
permission, a full disk; one line on stderr, no traceback),
3 non-finite loss, 130 interrupted (Ctrl-C), 141 output pipe closed by its reader, 143 stopped by SIGTERM.
"""

import argparse
import errno
import importlib
import os
import signal
import sys
import warnings

from . import __version__, outdir, threads
from .allocator import keep_freed_memory
from .datadir import UnverifiedData
from .errors import InputError, NonFiniteLossError

# Each module defines ``register(subparsers)``, which adds its parser(s) with ``func`` set.
COMMAND_MODULES = (
    "memory.params",
    "text",
    "graph",
    "memory.toy",
    "memory.gradients",
    "reproduce",
)


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (no usage dump) and exit with code 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> Parser:
    parser = Parser(
        prog="seqgraph",
        description="Recurrent and graph neural networks written from their equations, "
        "proven on reproducible experiments.",
    )
    parser.add_argument("--version", action="version", version=f"seqgraph {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(f"seqgraph.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    keep_freed_memory()
    warnings.showwarning = _one_line_warning
    locks = outdir.held()  # reproduce runs commands in-process: each releases only the folders it locked
    try:
        with threads.requested(getattr(args, "threads", None)):  # else each command's work decides (threads.py)
            return args.func(args) or 0
    except InputError as e:
        print(f"seqgraph {args.command}: error: {e}", file=sys.stderr)
        return 2
    except NonFiniteLossError as e:
        print(f"seqgraph {args.command}: error: {e}", file=sys.stderr)
        return 3
    except KeyboardInterrupt as e:
        print(f"seqgraph {args.command}: {getattr(e, 'message', 'interrupted')}", file=sys.stderr)
        return 128 + getattr(e, "signum", signal.SIGINT)
    except BrokenPipeError:
        # the reader of our output left (`seqgraph ... | head`): silence the flush at exit, as a shell tool would
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE
    except OSError as e:  # the system refused: a permission, a full disk, a folder that went away
        where = f": {e.filename}" if e.filename else ""
        kept = ("; every file written before is kept whole (writes are atomic)" if e.errno == errno.ENOSPC else "")
        print(f"seqgraph {args.command}: error: {e.strerror or e}{where}{kept}", file=sys.stderr)
        return 2
    except MemoryError:
        print(f"seqgraph {args.command}: error: out of memory; choose smaller sizes", file=sys.stderr)
        return 2
    finally:
        outdir.release(locks)


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """seqgraph's own warnings (:class:`~seqgraph.datadir.UnverifiedData`) as one line; others as Python shows them."""
    if issubclass(category, UnverifiedData):
        print(f"seqgraph: warning: {message}", file=sys.stderr)
    else:
        _show_warning(message, category, filename, lineno, file, line)


_show_warning = warnings.showwarning

if __name__ == "__main__":
    sys.exit(main())
