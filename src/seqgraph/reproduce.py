"""What `seqgraph reproduce` runs: the report's experiments as a list, one folder each.

Each :class:`Experiment` knows the command line that produces its results (a seqgraph command run
in-process with ``--out`` set to its folder) for each profile, and how to turn that folder's
``results.json`` and figures into report blocks (see :mod:`seqgraph.report`). The command module
runs them in order, skipping those whose results are already there, so an interrupted run resumes.

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
    argv: Callable[[str], list[str]]  # profile -> seqgraph command line, without --out
    render: Callable[[dict, Path, str], list[tuple]]  # (results, folder, profile) -> blocks


EXPERIMENTS: list[Experiment] = []
