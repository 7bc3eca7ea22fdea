"""What `seqgraph reproduce` runs: the report's experiments as a list, one folder each.

Each :class:`Experiment` is a seqgraph command line per profile and a renderer that turns the
command's ``results.json`` (and figures) in its folder into report blocks (see :mod:`seqgraph.report`).
Commands that write a folder get ``--out``, ``--force`` and ``--device``; the others
(``json_stdout``) get ``--json`` and their output is stored as ``results.json``. The command module
runs them in order, skipping those whose results are already there, so an interrupted run resumes.

Profiles: ``smoke`` (seconds, tiny configurations, for the test suite), ``quick`` (≤ 15 minutes on a
2-core CPU, smaller text model and fewer seeds where needed, said on the page) and ``full`` (the
report's exact configurations).
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

PROFILES = ("smoke", "quick", "full")
PART1 = "Part 1 — recurrent networks on memory tasks"
PART2 = "Part 2 — a character-level LSTM that writes text"
PART3 = "Part 3 — graph neural networks"


@dataclass(frozen=True)
class Experiment:
    name: str  # folder under the output directory
    part: str  # section heading it belongs to
    title: str
    argv: Callable[[str, Path], list[str]]  # (profile, output root) -> seqgraph command line
    render: Callable[[dict, Path, str], list[tuple]]  # (results, folder, profile) -> blocks
    json_stdout: bool = False  # the command prints its results with --json instead of writing --out
    reads_data: bool = False  # the command takes --data-dir


def _by_profile(profile: str, smoke, quick, full):
    return {"smoke": smoke, "quick": quick, "full": full}[profile]


def _verdict(ok: bool) -> str:
    return "matches the report" if ok else "does NOT match the report"


# ---- Part 3 ---------------------------------------------------------------------------------------
# Ã of the report's 6-node example, as printed in the report (SPEC Part 3).
REPORT_A_TILDE = [[1, 1, 0, 0, 1, 0], [1, 1, 0, 1, 0, 0], [0, 0, 1, 1, 0, 0],
                  [0, 1, 1, 1, 0, 1], [1, 0, 0, 0, 1, 0], [0, 0, 0, 1, 0, 1]]


def _render_example(results: dict, folder: Path, profile: str) -> list[tuple]:
    nodes = results["nodes"]
    a_tilde = [[int(v) for v in row] for row in results["a_tilde"]]
    hops = results["E_first_reached_after"]
    same = results["same_neighbourhood"]
    collapsed = _rows_equal(same["gcn"][0], same["gcn"][1])
    kept_apart = not _rows_equal(same["gcn_self_weight_2"][0], same["gcn_self_weight_2"][1])
    return [
        ("p", f"Edges {', '.join(results['edges'])}. Ã = A + I below; the report's matrix: "
         f"{_verdict(a_tilde == REPORT_A_TILDE)}."),
        ("table", [""] + nodes, [[n] + row for n, row in zip(nodes, a_tilde, strict=True)]),
        ("p", f"A one-hot signal on C first reaches E after {hops} GCN updates (report: 4, path C–D–B–A–E): "
         f"{_verdict(hops == 4)}."),
        ("p", "§3.1: nodes 0 and 1 have the same closed neighbourhood. Plain GCN outputs: "
         f"{_fmt_row(same['gcn'][0])} and {_fmt_row(same['gcn'][1])} — "
         f"{'identical, as the report argues' if collapsed else 'different (unexpected)'}. With the self-connection "
         f"weighted 2 (Ã = A + 2I): {_fmt_row(same['gcn_self_weight_2'][0])} and "
         f"{_fmt_row(same['gcn_self_weight_2'][1])} — {'kept apart' if kept_apart else 'still equal (unexpected)'}."),
    ]


def _rows_equal(a, b, tol=1e-9) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


def _fmt_row(row) -> str:
    return "[" + ", ".join(f"{v:.3f}" for v in row) + "]"


def _graph_train(model: str) -> Callable[[str, Path], list[str]]:
    def argv(profile: str, root: Path) -> list[str]:
        seeds = _by_profile(profile, ["0"], [str(s) for s in range(3 if model == "gat" else 10)],
                            [str(s) for s in range(10)])
        extra = _by_profile(profile, ["--epochs", "5"], [], [])
        return ["graph", "train", "--dataset", "cora", "--model", model, "--seeds", *seeds, *extra]
    return argv


def _render_graph_train(results: dict, folder: Path, profile: str) -> list[tuple]:
    best, last = results["test_acc_best_val"], results["test_acc_last"]
    config = results["config"]
    published = results["published"]
    target = float(published.split()[0])
    n = len(results["runs"])
    blocks = [
        ("p", f"{results['model'].upper()} on {results['dataset']} (public split), {n} seed(s); config: "
         + ", ".join(f"{k} {config[k]}" for k in ("hidden", "dropout", "lr", "weight_decay", "epochs")
                     if k in config) + "."),
        ("table", ["", "test accuracy % (mean ± std)"],
         [["ours, best-validation epoch (headline)", f"{best['mean']:.1f} ± {best['std']:.1f}"],
          ["ours, last epoch", f"{last['mean']:.1f} ± {last['std']:.1f}"],
          ["published", published]]),
        ("p", f"Within 1 point of the published {target}: {_verdict(best['mean'] >= target - 1.0)}"
         + (" (smoke profile: a few epochs only, not expected to match)." if profile == "smoke" else ".")),
    ]
    if (folder / "curves.png").exists():
        blocks.append(("img", folder / "curves.png", f"{results['model'].upper()} training and validation curves"))
    return blocks


EXPERIMENTS: list[Experiment] = [
    Experiment("graph-example", PART3, "The report's 6-node example",
               lambda profile, root: ["graph", "example"], _render_example, json_stdout=True),
    Experiment("graph-gcn", PART3, "GCN node classification on Cora", _graph_train("gcn"), _render_graph_train,
               reads_data=True),
    Experiment("graph-gat", PART3, "GAT node classification on Cora", _graph_train("gat"), _render_graph_train,
               reads_data=True),
]
