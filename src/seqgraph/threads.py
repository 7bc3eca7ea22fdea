r"""How many threads torch computes with, decided here for each phase of work.

torch runs every operation on all the cores by default. That pays for large products, but a phase made of many
small operations (a recurrent step on a small batch, a sampled mini-batch, a small graph) spends much of each
operation where the threads meet, and when another process keeps one of the cores busy every meeting waits for a
descheduled thread (``benchmarks/threads.py`` measures products of each size and whole commands, idle and beside
a busy process; the manual's page on benchmarks gives the tables).

The rule:

- a user who sets ``--threads N`` (on any command: :func:`requested`, around the whole command), or
  ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS`` in the environment, decides for every phase;
- otherwise each command declares, around its work, the size of its typical product in multiply-adds
  (:func:`for_work` with :func:`recurrent_work` or :func:`graph_work`), which runs on one thread below
  :data:`SMALL` and on every core from there on; a phase inside a command whose products are of another size (the
  left-to-right evaluation of a character model, one character at a time) declares its own.

The choice depends on the command's sizes only, never on the machine's load, so the same command gives the same
numbers on the same machine.
"""

import contextlib
import os

import torch

# Multiply-adds of a phase's typical product from which every core is used: below it a second thread gained little
# on an idle 2-core machine and lost beside a busy process; above it, it gained up to 2.5 times idle
# (benchmarks/threads.py; the manual's benchmarks page renders its table).
SMALL = 3 * 10**7
ENVIRONMENT = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")

_cores = torch.get_num_threads()  # torch's default: the machine's physical cores, or the environment's choice
_chosen: int | None = None  # --threads, once the command line has read it


@contextlib.contextmanager
def requested(count: int | None):
    """The command line's ``--threads``: ``count`` threads for every phase inside the ``with`` block (the
    commands that ``seqgraph reproduce`` runs included); None changes nothing."""
    global _chosen
    if count is None:
        yield
        return
    saved, before = _chosen, torch.get_num_threads()
    _chosen = count
    torch.set_num_threads(count)
    try:
        yield
    finally:
        _chosen = saved
        torch.set_num_threads(before)


def user_choice() -> int | None:
    """The threads the user asked for (``--threads``, else the environment), or None where the work decides."""
    if _chosen is not None:
        return _chosen
    return _cores if any(os.environ.get(name, "").strip() for name in ENVIRONMENT) else None


def count(multiply_adds: int) -> int:
    """The threads a phase whose typical product takes ``multiply_adds`` runs on."""
    chosen = user_choice()
    if chosen is not None:
        return chosen
    return 1 if multiply_adds < SMALL else _cores


@contextlib.contextmanager
def for_work(multiply_adds: int):
    """Run the ``with`` block on :func:`count` threads, then give back the number it found."""
    before = torch.get_num_threads()
    torch.set_num_threads(count(multiply_adds))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def recurrent_work(batch: int, hidden: int) -> int:
    """The multiply-adds of one step's recurrent product, ``(batch, hidden) @ (hidden, 4 hidden)`` (an LSTM's; the
    GRU's and the RNN's are smaller, which the rule's margin covers)."""
    return batch * hidden * 4 * hidden


def graph_work(nodes: int, features: int, hidden: int) -> int:
    """The multiply-adds of a graph layer's feature product, ``(nodes, features) @ (features, hidden)``."""
    return nodes * features * hidden
