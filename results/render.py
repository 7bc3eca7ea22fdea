"""Render the README's tables from the committed results files, so the page cannot drift from the evidence.

Each table in README.md stands between ``<!-- table: NAME -->`` and ``<!-- /table -->``; ``TABLES[NAME]`` renders
it from the files named in its first line, which also gives the command that wrote them.

    python results/render.py          # rewrite the tables in README.md
    python results/render.py --check  # exit 1 if a table differs from what the results say (the test suite runs it)
"""

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARKED = re.compile(r"(<!-- table: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /table -->)", re.DOTALL)


def _load(relpath: str, root: Path) -> dict:
    return json.loads((root / relpath).read_text())


def _pm(stats: dict, digits: int = 1) -> str:
    return f"{stats['mean']:.{digits}f} ± {stats['std']:.{digits}f}"


def graph_classify(root: Path) -> str:
    published = {("MUTAG", "gin"): "GIN paper 89.4 ± 5.6", ("MUTAG", "baseline"): "–",
                 ("PROTEINS", "gin"): "Errica 73.3 ± 4.0; GIN paper 76.2 ± 2.8",
                 ("PROTEINS", "baseline"): "Errica 75.8 ± 3.7"}
    lines = ["| dataset | model | hold-out epoch (Errica et al.) | best mean epoch (GIN protocol) | published | "
             "wall time |", "|---|---|---|---|---|---|"]
    for run in ("mutag-gin", "mutag-baseline", "proteins-gin", "proteins-baseline"):
        r = _load(f"results/graph-classify/{run}/results.json", root)
        label = "GIN-0" if r["model"] == "gin" else r["model"]
        gin = r["gin_paper"]
        lines.append(f"| {r['dataset']} | {label} | {_pm(r['holdout'])} | {_pm(gin)} (epoch {gin['epoch']}) | "
                     f"{published[r['dataset'], r['model']]} | {r['seconds']:.0f} s |")
    lines.append("\n`seqgraph graph classify --dataset {mutag|proteins} --model {gin|baseline} --folds 10 --out "
                 "results/graph-classify/<dataset>-<model>` (one thread)")
    return "\n".join(lines)


def recurrent_speed(root: Path) -> str:
    r = _load("benchmarks/results/recurrent.json", root)
    by_threads = {run["threads"]: run for run in r["runs"]}
    lines = ["| layer | 1 thread | 2 threads | counterpart |", "|---|---|---|---|"]
    for key, name in (("rnn", "vanilla RNN"), ("gru", "GRU"), ("lstm", "LSTM"), ("bilstm", "BiLSTM"),
                      ("peeplstm", "peephole LSTM")):
        ratios = [by_threads[t]["ratios"][key]["median"] for t in (1, 2)]
        cells = [f"**{x:.2f}**" if x <= 1 else f"{x:.2f}" for x in ratios]
        counterpart, _, note = r["counterparts"][key].removeprefix("torch.").partition(" (")
        lines.append(f"| {name} | {cells[0]} | {cells[1]} | `{counterpart}`" + (f" ({note}" if note else "") + " |")
    loads = [f"{run['load_average_before'][0]:.0f}" for run in r["runs"]]
    lines.append(f"\n`python benchmarks/recurrent.py` (load average {'-'.join(sorted(set(loads)))})")
    return "\n".join(lines)


TABLES = {"graph-classify": graph_classify, "recurrent-speed": recurrent_speed}


def render(readme: str, root: Path = ROOT) -> str:
    """``readme`` with every marked table rendered from the results under ``root``."""
    def table(match: re.Match) -> str:
        name = match["name"]
        if name not in TABLES:
            raise KeyError(f"README.md marks a table {name!r} that results/render.py does not know")
        return f"{match[1]}\n{TABLES[name](root)}\n\n{match[4]}"
    return MARKED.sub(table, readme)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if README.md differs from the rendering")
    args = parser.parse_args()
    readme = (ROOT / "README.md").read_text()
    rendered = render(readme)
    if args.check:
        if rendered != readme:
            print("README.md's tables differ from the committed results: run python results/render.py",
                  file=sys.stderr)
            return 1
        return 0
    (ROOT / "README.md").write_text(rendered)
    return 0


if __name__ == "__main__":
    sys.exit(main())
