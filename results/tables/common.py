"""What every table renderer shares: the table, the results files it reads and the command line under it."""

import dataclasses
import json
from pathlib import Path

from seqgraph.commands.reproduce.experiment import command_line


@dataclasses.dataclass
class Table:
    """A Markdown table and the line under it that says where its numbers come from."""

    header: list[str]
    rows: list[list]
    footer: str

    def __str__(self) -> str:
        lines = [row(self.header), "|" + "---|" * len(self.header)] + [row(cells) for cells in self.rows]
        return "\n".join(lines) + "\n\n" + self.footer


def row(cells: list) -> str:
    return "| " + " | ".join(map(str, cells)) + " |"


def load(relpath: str, root: Path) -> dict:
    return json.loads((root / relpath).read_text())


def code(text: str) -> str:
    """``text`` in backticks, newlines as ↵ (a table cell holds one line)."""
    return "`" + text.replace("\n", "↵").replace("`", "'") + "`"


def run(argv: list[str], out: str | None = None, one_thread: bool = True) -> str:
    """A seqgraph command line in backticks, as the footer of a table."""
    return code(command_line(argv, out, one_thread))
