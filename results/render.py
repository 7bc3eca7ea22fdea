"""Render the tables of README.md and of the manual (docs/**/*.md) from the committed results files, so that no
page can drift from the evidence.

Each table stands between ``<!-- table: NAME -->`` and ``<!-- /table -->``; the renderer of that name in
``results/tables/`` (a module per part of the study) makes it from the files it reads, and the line under it gives
the command that wrote them. The seqgraph command lines come from the
builders that ``seqgraph reproduce`` runs (``toy_argv``, ``graph_train_argv`` ... in
``seqgraph.commands.reproduce``), so a table cannot name a command the library does not have.

    python results/render.py          # rewrite the tables in README.md and docs/
    python results/render.py --check  # exit 1 if a table differs from what the results say (the test suite runs it)
"""

import argparse
import importlib.util
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARKED = re.compile(r"(<!-- table: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /table -->)", re.DOTALL)
# the pages whose tables are rendered: the front page and every Markdown page of the manual
PAGES = ("README.md", "docs/**/*.md")
GENERATED = ("docs/_build", "docs/generated", "docs/auto_tutorials")  # written by the docs build, never by hand


def tables() -> dict:
    """The renderers of results/tables/, by the name that marks a table in a page."""
    # loaded from its path under a name of its own: "tables" is also PyTables, which pandas may have imported
    name = "seqgraph_results_tables"
    if name not in sys.modules:
        package = ROOT / "results" / "tables"
        spec = importlib.util.spec_from_file_location(
            name, package / "__init__.py", submodule_search_locations=[str(package)])
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name].TABLES


def render(page: str, root: Path = ROOT) -> str:
    """``page`` with every marked table rendered from the results under ``root``."""
    renderers = tables()

    def table(match: re.Match) -> str:
        name = match["name"]
        if name not in renderers:
            raise KeyError(f"a page marks a table {name!r} that results/render.py does not know")
        return f"{match[1]}\n{renderers[name](root)}\n\n{match[4]}"
    return MARKED.sub(table, page)


def pages(root: Path = ROOT) -> list[Path]:
    """README.md and the manual's Markdown pages (not the docs build's output)."""
    found = [path for pattern in PAGES for path in sorted(root.glob(pattern))]
    return [path for path in found if not any(path.is_relative_to(root / g) for g in GENERATED)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a page differs from the rendering")
    args = parser.parse_args()
    stale = []
    for path in pages():
        text = path.read_text()
        rendered = render(text)
        if rendered != text:
            stale.append(path.relative_to(ROOT))
            if not args.check:
                path.write_text(rendered)
    if args.check and stale:
        print(f"{', '.join(map(str, stale))}: the tables differ from the committed results: run python "
              "results/render.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
