"""An experiment of `seqgraph reproduce`: a command line per profile and a renderer of its results.

Each :class:`Experiment` is a seqgraph command line per profile and a renderer that turns the
command's ``results.json`` (and figures) in its folder into report blocks (see :mod:`.page`).
Commands that write a folder get ``--out``, ``--force`` and ``--device``; the others
(``json_stdout``) get ``--json`` and their output is stored as ``results.json``. The command module
runs them in order, skipping those whose results are already there, so an interrupted run resumes.

The command lines come from one builder per command (``toy_argv`` in :mod:`.part1` and the like), which
``results/render.py`` also uses for the command under each table of the manual, through :func:`command_line`.

Profiles: ``smoke`` (seconds, tiny configurations, for the test suite), ``quick`` (≤ 15 minutes on a
2-core CPU, smaller text model and fewer seeds where needed, said on the page) and ``full`` (the
report's exact configurations).
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

PROFILES = ("smoke", "quick", "full")


@dataclass(frozen=True)
class Experiment:
    name: str  # folder under the output directory
    part: str  # section heading it belongs to
    title: str
    argv: Callable[[str, Path], list[str]]  # (profile, output root) -> seqgraph command line
    # (results, folder, profile) -> blocks; the annotation of ``results`` (the command's TypedDict) says which
    # keys the renderer reads, and they are checked before it runs
    render: Callable[[dict, Path, str], list[tuple]]
    json_stdout: bool = False  # the command prints its results with --json instead of writing --out
    reads_data: bool = False  # the command takes --data-dir
    profiles: tuple[str, ...] = PROFILES  # the profiles that run it


def command_line(argv: list[str], out: str | None = None, one_thread: bool = False) -> str:
    """``argv`` as the shell line that runs it: ``seqgraph ARGV [--out OUT]``, after ``OMP_NUM_THREADS=1`` if
    ``one_thread``."""
    line = " ".join(["seqgraph", *argv, *(["--out", out] if out else [])])
    return f"OMP_NUM_THREADS=1 {line}" if one_thread else line


def by_profile(profile: str, smoke, quick, full):
    return {"smoke": smoke, "quick": quick, "full": full}[profile]


def verdict(ok: bool) -> str:
    return "**matches the report**" if ok else "**does NOT match the report**"
