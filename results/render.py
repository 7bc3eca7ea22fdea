"""Render the tables of README.md and of the manual (docs/**/*.md) from the committed results files, so that no
page can drift from the evidence.

Each table stands between ``<!-- table: NAME -->`` and ``<!-- /table -->``; ``TABLES[NAME]`` renders it from the
files it reads, and the line under it gives the command that wrote them. The seqgraph command lines come from the
builders that ``seqgraph reproduce`` runs (``toy_argv``, ``graph_train_argv`` ... in
``seqgraph.commands.reproduce``), so a table cannot name a command the library does not have.

    python results/render.py          # rewrite the tables in README.md and docs/
    python results/render.py --check  # exit 1 if a table differs from what the results say (the test suite runs it)
"""

import argparse
import dataclasses
import json
import re
import sys
from pathlib import Path

from seqgraph.commands.reproduce.experiment import command_line
from seqgraph.commands.reproduce.part1 import gradients_argv, toy_argv
from seqgraph.commands.reproduce.part2 import text_complete_argv, text_sample_argv, text_train_argv
from seqgraph.commands.reproduce.part3 import classify_argv, compare_argv, depth_argv, graph_train_argv, linkpred_argv
from seqgraph.graph.level.train import ClassifyConfig
from seqgraph.stats import pm

ROOT = Path(__file__).resolve().parent.parent
MARKED = re.compile(r"(<!-- table: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /table -->)", re.DOTALL)
# the pages whose tables are rendered: the front page and every Markdown page of the manual
PAGES = ("README.md", "docs/**/*.md")
GENERATED = ("docs/_build", "docs/generated", "docs/auto_tutorials")  # written by the docs build, never by hand


@dataclasses.dataclass
class Table:
    """A Markdown table and the line under it that says where its numbers come from."""

    header: list[str]
    rows: list[list]
    footer: str

    def __str__(self) -> str:
        lines = [_row(self.header), "|" + "---|" * len(self.header)] + [_row(row) for row in self.rows]
        return "\n".join(lines) + "\n\n" + self.footer


def _row(cells: list) -> str:
    return "| " + " | ".join(map(str, cells)) + " |"


def _load(relpath: str, root: Path) -> dict:
    return json.loads((root / relpath).read_text())


def _code(text: str) -> str:
    """``text`` in backticks, newlines as ↵ (a table cell holds one line)."""
    return "`" + text.replace("\n", "↵").replace("`", "'") + "`"


def _run(argv: list[str], out: str | None = None, one_thread: bool = True) -> str:
    """A seqgraph command line in backticks, as the footer of a table."""
    return _code(command_line(argv, out, one_thread))


# --- Part 1: memory tasks ---------------------------------------------------------------------------------------

MEMORY = "results/memory/{}/results.json"


def _toy(name: str, root: Path) -> dict:
    return _load(MEMORY.format(name), root)


def _toy_command(name: str, r: dict, *flags: str) -> str:
    c = r["config"]
    return _run(toy_argv(c["task"], c["model"], c["lengths"], *flags), f"results/memory/{name}")


def _steps(r: dict, rule: str) -> str:
    """Mean termination steps of ``rule`` per length, as ``31 / 92 / 204``."""
    return " / ".join(f"{a['termination_step'][rule]['mean']:.0f}" for _, a in sorted(r["aggregate"].items(),
                                                                                       key=lambda kv: int(kv[0])))


def termination(root: Path) -> Table:
    rows = []
    for name, label in (("lstm", "LSTM"), ("bilstm", "biLSTM")):
        r = _toy(name, root)
        for length, a in sorted(r["aggregate"].items(), key=lambda kv: int(kv[0])):
            steps = a["termination_step"]
            worst = min(run["eval_accuracy"] for run in r["runs"] if run["length"] == int(length))
            rows.append([label, length, pm(steps["default"], 0), pm(steps["literal"], 0),
                         a["report_termination_step"], f"{worst:.4f}"])
    return Table(["model", "input_length", "default rule", "literal rule", "report", "eval accuracy (min over seeds)"],
                 rows, ", ".join(_toy_command(name, _toy(name, root)) for name in ("lstm", "bilstm")))


INIT_VARIANTS = (  # results folder, table row, the flags that made it
    ("lstm", "ours: Kaiming-normal matrices, embedding N(0, 1), NLL on log-softmax", ""),
    ("init-torch", "torch.nn defaults (uniform ±1/√H) instead of Kaiming", "--init torch"),
    ("init-kaiming-xw", "Kaiming with the fans of (in, out) matrices used as `x @ W`", "--init kaiming-xw"),
    ("embedding-init-kaiming", "Kaiming-normal embedding too (std 0.25 instead of 1)", "--embedding-init kaiming"),
    ("loss-softmax-twice", "cross-entropy applied to probabilities (softmax twice)", "--loss softmax-twice"),
    ("embedding-8", "embedding 8", "--embedding 8"),
    ("embedding-128", "embedding 128", "--embedding 128"),
)


def init_variants(root: Path) -> Table:
    rows = []
    for name, label, flags in INIT_VARIANTS:
        r = _toy(name, root)
        rows.append([label, _steps(r, "literal"), _steps(r, "default"), f"`{flags}`" if flags else "the defaults"])
    report = _toy("lstm", root)["aggregate"]
    rows.append(["report", " / ".join(str(report[k]["report_termination_step"]) for k in ("6", "11", "16")), "", ""])
    return Table(["variant", "literal-rule steps", "default-rule steps", "flags"], rows,
                 _toy_command("<variant>", _toy("lstm", root), "FLAGS"))


SANITY = (  # results folder (length 6 of the LSTM run for the first), the check
    ("lstm", "LSTM, random combinations T=6"),
    ("gru-6", "GRU, random combinations T=6"),
    ("bilstm-5", "biLSTM, random combinations T=5"),
    ("peeplstm-6", "peephole LSTM, random combinations T=6"),
    ("baumsweet-6", "LSTM, Baum–Sweet L=6 (Table 2: batch 256, hidden 256, lr 1e-4)"),
    ("palindrome-10", "LSTM, binary palindrome L=10 (Table 2)"),
)


def sanity(root: Path) -> Table:
    rows = []
    for name, label in SANITY:
        r = _toy(name, root)
        length = str(r["config"]["lengths"][0])
        a = r["aggregate"][length]
        accuracies = [run["eval_accuracy"] for run in r["runs"] if run["length"] == int(length)]
        low, high = f"{min(accuracies):.4f}", f"{max(accuracies):.4f}"
        steps = a["termination_step"]
        rows.append([label, ", ".join(map(str, a["seeds"])),
                     f"{steps['default']['mean']:.0f} / {steps['literal']['mean']:.0f}",
                     low if low == high else f"{low} – {high}"])
    return Table(["check", "seeds", "mean termination step (default / literal)", "eval accuracy"], rows,
                 ", ".join(_toy_command(name, _toy(name, root)) for name, _ in SANITY[1:])
                 + " (the first row: length 6 of the LSTM run above)")


def gradient_flow(root: Path) -> Table:
    r = _load("results/gradients/results.json", root)
    c = r["config"]
    curves = {f"{c['model']} {k}": v for k, v in r["model_curves"].items()}
    curves.update({f"rnn radius {k}": v for k, v in r["rnn_sweep"].items()})
    rows = [[name, f"{norms[0] / norms[-1]:.1e}", f"{r['per_step_factor'][name]:.2f}"]
            for name, norms in curves.items()]
    argv = gradients_argv(c["model"], "--length", str(c["length"]), "--trained-steps", str(c["trained_steps"]))
    return Table(["curve", "‖∂L/∂h(1)‖ / ‖∂L/∂h(T)‖", "factor per step back"], rows,
                 f"{_run(argv, 'results/gradients')} (the fresh RNN's spectral radius before rescaling: "
                 f"{r['rnn_initial_spectral_radius']:.2f})")


# --- Part 2: text -----------------------------------------------------------------------------------------------

def text_quick(root: Path) -> Table:
    r = _load("results/text-quick/results.json", root)
    v, t = r["final_val"], r["test"]
    minutes, seconds = divmod(round(r["wall_time_s"]), 60)
    row = [r["steps"], f"**{v['loss']:.4f} nats/char** ({v['bits']:.3f} bits)", f"{v['window_loss']:.4f}",
           f"{t['loss']:.4f} ({t['bits']:.3f} bits)", f"{100 * v['acc']:.1f}%", f"{minutes} min {seconds:02d} s",
           f"{r['chars_per_s']:,.0f}"]
    argv = text_train_argv(r["config"]["corpus"], "--preset", "quick")
    return Table(["steps", "validation, left to right", "per window", "test (best.pt)", "validation accuracy",
                  "wall time", "chars/s"], [row],
                 f"{_run(argv, 'results/text-quick')} (checkpoints, curves and samples are not committed)")


def text_samples(root: Path) -> Table:
    r = _load("results/text-quick/results.json", root)
    rounds = len(r["samples"])
    rows = [[f"{s['step']} ({i}/{rounds})", " · ".join(_code(g) for g in s["greedy"][:3])]
            for i, s in enumerate(r["samples"], 1)]
    return Table(["step", "greedy samples (30 characters)"], rows,
                 f"200 greedy characters at {rounds}/{rounds}: {_code(r['samples'][-1]['long'][:120] + '…')} "
                 "(`samples.md` of the run above)")


def batching(root: Path) -> Table:
    rows = []
    for seed in (0, 1):
        runs = [_load(f"results/text-batching-{mode}-seed{seed}/results.json", root) for mode in ("stateful", "random")]
        rows.append([seed] + [f"{r[split]['loss']:.3f}" for split in ("final_val", "test") for r in runs])
    argv = text_train_argv("democracy", "--preset", "quick", "--steps", "400", "--eval-every", "400", "--batching",
                           "stateful|random", "--seed", "S")
    return Table(["seed", "validation: stateful", "random", "test: stateful", "random"], rows,
                 f"{_run(argv, 'results/text-batching-<mode>-seed<S>', one_thread=False)} (nats/char, left to right)")


def finetune(root: Path) -> Table:
    rows = []
    for name, label in (("finetune-grimm", "300 quick steps on grimm"),
                        ("finetune-democracy", "then 100 on democracy (`--init-from` the grimm run, `--extend-vocab`)"),
                        ("scratch-democracy", "100 on democracy from scratch")):
        rows.append([label, f"{_load(f'results/text-{name}/results.json', root)['final_val']['loss']:.3f}"])
    argv = text_train_argv("grimm", "--preset", "quick", "--steps", "300")
    return Table(["run", "validation, nats/char"], rows,
                 f"{_run(argv, 'results/text-finetune-grimm', one_thread=False)}, then `--corpus democracy --steps 100 "
                 "--init-from results/text-finetune-grimm --extend-vocab` and without `--init-from`")


TEMPERATURES = ("0.5", "1", "2")


def temperature(root: Path) -> Table:
    rows = []
    for t in TEMPERATURES:
        r = _load(f"results/text-quick/sample-T{t}.json", root)
        rows.append([t, f"{1 / float(t):g}", _code(r["samples"][0])])
    argv = text_sample_argv("results/text-quick", "--temperature", "T", "--seed", "1", "--length", "79", "--json")
    line = command_line(argv) + " > results/text-quick/sample-T<T>.json"
    return Table(["our T", "report's τ", "sample"], rows,
                 f"{_code(line)} (T = {', '.join(TEMPERATURES)}; the checkpoint is not committed)")


def completions(root: Path) -> str:
    lines = ["```"] + [f"{c['prompt']}|{c['completion']}".replace("\n", "↵")
                       for c in _load("results/text-quick/complete.json", root)] + ["```"]
    line = command_line(text_complete_argv("results/text-quick", "--json")) + " > results/text-quick/complete.json"
    return "\n".join(lines) + "\n\n" + _code(line)


# --- Part 3: graphs ---------------------------------------------------------------------------------------------

def cora(root: Path) -> Table:
    sources = {"gcn": "Kipf & Welling 2017", "gat": "Veličković et al. 2018"}
    rows = []
    for model in ("gcn", "gat"):
        r = _load(f"results/graph-{model}/results.json", root)
        rows.append([model.upper(), pm(r["test_acc_best_val"]), pm(r["test_acc_last"]),
                     f"{r['published']} ({sources[model]})"])
    return Table(["model", "ours, best-validation epoch (headline)", "ours, last epoch", "published"], rows,
                 _run(graph_train_argv("cora", "{gcn|gat}"), "results/graph-<model>"))


def linkpred(root: Path) -> Table:
    rows = []
    for model in ("gae", "vgae"):
        r = _load(f"results/linkpred-{model}/results.json", root)
        rows.append([model.upper(), *(pm(r[key]) for key in ("test_auc_best_val", "test_ap_best_val", "test_auc_last",
                                                                "test_ap_last")),
                     r["published"]["auc"], r["published"]["ap"]])
    return Table(["model", "best validation epoch: AUC", "AP", "last epoch: AUC", "AP", "Kipf & Welling 2016: AUC",
                  "AP"], rows, _run(linkpred_argv("cora", "{gae|vgae}"), "results/linkpred-<model>"))


def depth(root: Path) -> Table:
    r = _load("results/graph-depth/results.json", root)
    variants = {"plain": "plain", "self": "self-weighted", "residual": "residual"}
    by = {(row["variant"], row["layers"]): row for row in r["rows"]}
    rows = [[layers, *(pm(by[v, layers]["test_acc"]) for v in variants),
             *(f"{by[v, layers]['distance']['mean']:.2f}" for v in variants)] for layers in r["config"]["layers"]]
    return Table(["layers", *(f"{v} acc %" for v in variants.values()), *(f"{v} dist." for v in variants.values())],
                 rows, _run(depth_argv("cora"), "results/graph-depth"))


def compare(root: Path) -> Table:
    r = _load("results/graph-compare/results.json", root)
    rows = [[row["label"], pm(row["test_acc"]), f"{row['parameters']:,}",
             f"{1000 * row['seconds_per_epoch']['mean']:.0f}"] for row in r["rows"]]
    argv = compare_argv("cora", "--seeds", *map(str, r["config"]["seeds"]))
    return Table(["model", "test acc %", "parameters", "ms / epoch"], rows,
                 f"{_run(argv, 'results/graph-compare')} (times under the load of other runs sharing the 2 cores)")


# --- graph level ------------------------------------------------------------------------------------------------

# Every model run on each dataset, then Errica et al.'s structure-agnostic baseline for it: the molecular-fingerprint
# MLP for chemical graphs, DeepSets for ENZYMES and social graphs
CLASSIFY_RUNS = ["mutag-gin", "mutag-gin-eps", "mutag-gcn", "mutag-gin-set2set", "mutag-baseline",
                 "proteins-gin", "proteins-gin-eps", "proteins-gcn", "proteins-gin-set2set", "proteins-baseline",
                 "enzymes-gin", "enzymes-gin-eps", "enzymes-gcn", "enzymes-gin-set2set", "enzymes-deepsets",
                 "nci1-gin", "nci1-gin-mean", "nci1-gin-eps", "nci1-gin-eps-mean", "nci1-gcn",
                 "nci1-baseline",
                 "imdb-binary-gin", "imdb-binary-gin-eps", "imdb-binary-gcn", "imdb-binary-gin-set2set",
                 "imdb-binary-deepsets"]
# the front page's: GIN-0 on every dataset, and on NCI1 with the settings that reach the published figure too
CLASSIFY_GIN0 = ["mutag-gin", "proteins-gin", "enzymes-gin", "nci1-gin", "nci1-gin-mean", "imdb-binary-gin"]
CLASSIFY_MODELS = {"gin": "GIN-0", "gin-eps": "GIN-ε", "gcn": "GCN", "gin-set2set": "GIN, Set2Set readouts"}
# the settings a row names where they differ from the defaults, and how
CLASSIFY_SETTINGS = {"readout": "{} readout".format, "hidden_size": "hidden {}".format, "batch_size": "batch {}".format,
                     "lr": "lr {}".format, "dropout": "dropout {}".format, "epochs": "{} epochs".format,
                     "lr_decay": lambda d: "constant lr" if d == 1 else f"lr decay ×{d}"}


def _classify_table(runs: list[str], root: Path) -> Table:
    defaults = dataclasses.asdict(ClassifyConfig())
    rows = []
    for run in runs:
        r = _load(f"results/graph-classify/{run}/results.json", root)
        label = ", ".join([CLASSIFY_MODELS.get(r["model"], r["model"])]
                          + [form(r["config"][key]) for key, form in CLASSIFY_SETTINGS.items()
                             if r["config"].get(key, defaults[key]) != defaults[key]])
        holdout, gin = r["holdout"], r["gin_paper"]
        published = "; ".join(f"{who} {p}" for who, p in (("Errica", holdout["published"]),
                                                            ("GIN paper", gin["published"])) if p) or "–"
        rows.append([r["dataset"], label, pm(holdout), f"{pm(gin)} (epoch {gin['epoch']})", published,
                     f"{r['seconds']:.0f} s"])
    argv = classify_argv("DATASET", "MODEL", "--folds", "10")
    return Table(["dataset", "model", "hold-out epoch (Errica et al.)", "best mean epoch (GIN protocol)", "published",
                  "wall time"], rows,
                 f"{_run(argv, 'results/graph-classify/<dataset>-<model>')}, with the flags of the settings a row "
                 "names (`--readout`, `--hidden`, `--batch-size`, `--lr`, `--dropout`, `--epochs`, `--lr-decay 1` "
                 "for a constant learning rate) and `-<readout>` after the folder's name for a readout other than sum")


def graph_classify(root: Path) -> Table:
    return _classify_table(CLASSIFY_RUNS, root)


def graph_classify_gin0(root: Path) -> Table:
    return _classify_table(CLASSIFY_GIN0, root)


# --- benchmarks: `python benchmarks/NAME.py` writes benchmarks/results/NAME.json ------------------------------------

def recurrent_speed(root: Path) -> Table:
    r = _load("benchmarks/results/recurrent.json", root)
    by_threads = {run["threads"]: run for run in r["runs"]}
    rows = []
    for key, name in (("rnn", "vanilla RNN"), ("gru", "GRU"), ("lstm", "LSTM"), ("bilstm", "BiLSTM"),
                      ("peeplstm", "peephole LSTM")):
        ratios = [by_threads[t]["ratios"][key]["median"] for t in (1, 2)]
        counterpart, _, note = r["counterparts"][key].removeprefix("torch.").partition(" (")
        rows.append([name, *(f"**{x:.2f}**" if x <= 1 else f"{x:.2f}" for x in ratios),
                     f"`{counterpart}`" + (f" ({note}" if note else "")])
    loads = sorted({f"{run['load_average_before'][0]:.0f}" for run in r["runs"]})
    return Table(["layer", "1 thread", "2 threads", "counterpart"], rows,
                 f"`python benchmarks/recurrent.py` (load average {'-'.join(loads)})")


def toy_speed(root: Path) -> Table:
    r = _load("benchmarks/results/toy.json", root)
    ours, torch_ = r["results"]["ours"], r["results"]["torch.nn.LSTM"]
    share = r["loop_cpu_fraction_of_trainer_step"]
    batch = r["batch_ms_at_table2_batch_and_longest_length"]
    rows = [["examples/s (training steps of the trainer)", f"{ours['examples_per_second']:,.0f}",
             f"{torch_['examples_per_second']:,.0f}", f"**{r['throughput_ratio_ours_to_torch']:.2f}**"],
            ["bare step (forward, loss, backward, clipping, Adam), ms", f"{ours['bare_step_ms']:.1f}",
             f"{torch_['bare_step_ms']:.1f}", f"{r['bare_step_ratio_ours_to_torch']:.2f}"],
            ["the loop around it, ms of CPU time per step (its share of the step)",
             f"{ours['loop_cpu_ms']:.2f} ({100 * share['ours']:.1f}%)",
             f"{torch_['loop_cpu_ms']:.2f} ({100 * share['torch.nn.LSTM']:.1f}%)", ""]]
    return Table(["measurement", "our LSTM", "`nn.LSTM`", "ours / torch's"], rows,
                 f"`python benchmarks/toy.py` ({r['threads']} thread, load average "
                 f"{r['load_average_before'][0]:.1f} before; drawing a batch of Table 2's size at the task's longest "
                 "length: " + ", ".join(f"{task} {ms:.2f} ms" for task, ms in batch.items()) + ")")


def text_cells(root: Path) -> Table:
    r = _load("benchmarks/results/text_cells.json", root)
    c, m = r["training"]["cells_quick"], r["machine"]
    return Table(["model (quick size)", "`--cell torch-lstm` (`nn.LSTM`), chars/s", "`--cell lstm` (ours), chars/s",
                  "ours / `nn.LSTM`"],
                 [[f"hidden {c['hidden']}, batch {c['batch']} × {c['seq_len']}, {c['steps']} steps each",
                   f"{c['torch-lstm_chars_per_s']:,.0f}", f"{c['lstm_chars_per_s']:,.0f}",
                   f"{c['ratio_lstm_vs_torch_lstm']:.2f}"]],
                 f"`python benchmarks/text.py --threads {m['threads']} --parts cells --out "
                 f"benchmarks/results/text_cells.json` (load average {m['load_avg_start'][0]:.1f} at the start)")


def propagate(root: Path) -> Table:
    r = _load("benchmarks/results/graph_scale.json", root)["propagate"]
    t = r["median_seconds"]
    return Table(["graph", "gather + `index_add_`", "CSR sparse-dense product", "ratio"],
                 [[f"{r['nodes']:,} nodes / {r['edges']:,} edges, {r['features']} features",
                   f"{t['gather_index_add']:.1f} s", f"{t['csr_sort_and_spmm']:.1f} s",
                   f"{t['ratio_csr_over_gather']:.2f}"]],
                 f"`python benchmarks/graph_scale.py --propagate` (median of {r['rounds']} alternating rounds)")


def allocator(root: Path) -> Table:
    r = _load("benchmarks/results/allocator.json", root)
    default, kept = r["steps"]["glibc_default"], r["steps"]["keep_freed_memory"]
    cells = r["cells"]
    rows = [["page faults per step, mean of 20 (six 16 MiB tensors and one of 1 MiB)",
             f"{default['page_faults_per_step']:,.0f}", f"{kept['page_faults_per_step']:,.0f}"]]
    for key, name in (("lstm_chars_per_s", "char model, our LSTM, chars/s"),
                      ("torch-lstm_chars_per_s", "char model, `nn.LSTM`, chars/s")):
        rows.append([name, f"{cells['glibc_default'][key]:,.0f}", f"{cells['keep_freed_memory'][key]:,.0f}"])
    rows.append(["our LSTM / `nn.LSTM`", *(f"{cells[k]['ratio_lstm_vs_torch_lstm']:.2f}"
                                             for k in ("glibc_default", "keep_freed_memory"))])
    return Table(["workload", "glibc's default", "freed memory kept"], rows,
                 f"`OMP_NUM_THREADS=1 python benchmarks/allocator.py --rounds {r['rounds']}` (medians over rounds, "
                 f"load average {r['machine']['load_avg_start'][0]:.1f} at the start)")


def text_budget(root: Path) -> Table:
    rows = []
    for budget in (120, 600):
        r = _load(f"benchmarks/results/text_budget-{budget}s.json", root)
        val = r["val"]
        rows.append([f"{budget} s ({r['threads']} threads)", f"{r['steps_done']:,} of {r['steps_planned']:,}",
                     f"{r['chars_per_s']:,.0f}", f"**{val['loss']:.3f} nats/char** ({val['bits']:.3f} bits)",
                     f"{val['window_loss']:.3f}", f"{r['load_avg_start'][0]:.1f}, {r['load_avg_end'][0]:.1f}"])
    return Table(["budget", "steps done of planned", "chars/s", "validation, left to right", "per window",
                  "load average (start, end)"], rows,
                 "`python benchmarks/text_budget.py --budget 120|600` (the quick preset; its cosine schedule is "
                 "planned from a few timed steps to end at the budget, and training stops at the budget)")


def graph_speed(root: Path) -> Table:
    r = _load("benchmarks/results/graph.json", root)
    rows = [[f"Cora {model.upper()} training epoch", f"{e['ours']['train_ms']:.1f} ms",
             f"{e['pyg']['train_ms']:.0f} ms", f"{e['train_ratio']:.2f}"] for model, e in r["cora_epoch"].items()]
    for i, e in enumerate(r["random_graph_gcn_forward_backward"]):
        what = (f"2-layer GCN fwd+bwd, {e['nodes']:,} nodes / {e['edges']:,} edges, {e['features']} features"
                if i == 0 else f"same, {e['nodes']:,} nodes / {e['edges']:,} edges")
        rows.append([what, f"{e['ours']['seconds']:.1f} s, {e['ours']['peak_mib']:.0f} MiB peak",
                     f"{e['pyg']['seconds']:.1f} s, {e['pyg']['peak_mib']:.0f} MiB",
                     f"time {e['time_ratio']:.2f}, memory {e['memory_ratio']:.2f}"])
    loads = r["machine"]["load_avg_start"][0], r["machine"]["load_avg_end"][0]
    return Table(["measurement", "ours", "PyG", "ratio (ours/PyG)"], rows,
                 f"`python benchmarks/graph.py` (1 thread each, in the same run; load average {loads[0]:.1f} at the "
                 f"start, {loads[1]:.1f} at the end)")


def graph_classify_speed(root: Path) -> Table:
    r = _load("benchmarks/results/graph_classify.json", root)
    rows = [[name.upper(), f"{e['ours']['epoch_s']:.3f}", f"{e['pyg']['epoch_s']:.3f}", f"**{e['epoch_ratio']:.2f}×**",
             f"{e['floor_ratio']:.2f}", f"{e['profile']['ours']['dense_s'] / e['pyg']['epoch_s']:.2f}",
             f"{e['batching_ratio']:.2f}", f"{e['pyg']['batching_share']:.2f}",
             f"{e['gemm']['linear_share_of_square']:.2f}"] for name, e in r["epoch"].items()]
    return Table(["dataset", "ours, s/epoch", "PyG, s/epoch", "ratio", "floor: PyG's dense kernels / its epoch",
                  "ours in dense kernels / PyG's epoch", "batching, ours / PyG", "PyG's batching / its epoch",
                  "linear layers' GEMM rate / a square GEMM's"], rows,
                 f"`python benchmarks/graph_classify.py --rounds {r['config']['rounds']}` (one thread, median of "
                 f"alternating rounds, load average {r['load_average_before'][0]:.1f} before)")


def distributed(root: Path) -> Table:
    r = _load("benchmarks/results/distributed.json", root)
    rows = [[procs, f"{run['chars_per_s']:,.0f} ({', '.join(f'{x:,.0f}' for x in run['chars_per_s_each_round'])})",
             f"{run['speedup']:.2f}"] for procs, run in r["runs"].items()]
    loads = r["machine"]["load_avg_start"][0], r["machine"]["load_avg_end"][0]
    return Table(["processes", "chars/s (rounds)", "vs 1 process"], rows,
                 f"`python benchmarks/distributed.py` (median of {r['rounds']} alternating rounds, one thread per "
                 f"process, load average {min(loads):.1f}-{max(loads):.1f})")


def minibatch(root: Path) -> Table:
    names = {"cora": "Cora", "photo": "Amazon-Photo"}
    rows = []
    for path in ("benchmarks/results/graph_minibatch.json", "benchmarks/results/graph_minibatch_photo.json"):
        for dataset, by_model in _load(path, root).items():
            if dataset == "settings":
                continue
            for model, row in by_model.items():
                full, mini = row["full_batch"], row["mini_batch"]
                label = f"GCN (hidden {row['config']['hidden']})" if model == "gcn" else "GraphSAGE-mean"
                rows.append([names[dataset], label, full["n"],
                             *(f"{100 * x['mean']:.1f} ± {100 * x['std']:.1f}" for x in (full, mini)),
                             f"{row['difference_points']:+.2f}"])
    return Table(["dataset", "model", "seeds", "full-batch", "mini-batch", "difference"], rows,
                 "`OMP_NUM_THREADS=1 python benchmarks/graph_minibatch.py --datasets cora|photo --models gcn sage "
                 "--seeds N [--out benchmarks/results/graph_minibatch_photo.json]`")


def _span(fractions: list[float], digits: int = 0) -> str:
    """The range of ``fractions`` in percent, ``low-high`` (one figure where they round alike)."""
    low, high = (f"{100 * x:.{digits}f}" for x in (min(fractions), max(fractions)))
    return low if low == high else f"{low}-{high}"


def graph_scale(root: Path) -> Table:
    r = _load("benchmarks/results/graph_scale.json", root)["10000000:100000000"]
    gen, infer, ones = r["generate"], r["infer"], r["train_1"]
    peak_1 = max(one["peak_rss_gib"] for one in ones)
    peak_2 = max(rank["peak_rss_gib"] for two in r["train_2"] for rank in two)
    gathers = [one["gather_fraction_of_copy_bandwidth"] for one in ones]
    shares = [one["probe"]["gather_fraction"] for one in ones]
    loads = r["machine"]["load_avg_start"], r["machine"]["load_avg_end"]
    rows = [["generate the graph (3.1 GB of `.npy`)", f"{gen['seconds']:.0f} s, peak {gen['peak_rss_gib']:.1f} GiB"],
            ["mini-batch epoch, 100k seed nodes, 1 process",
             f"{r['seed_nodes_per_s']['1']:,.0f} seed nodes/s, peak {peak_1:.1f} GiB"],
            ["the same epoch, 2 processes (gloo)", f"{r['seed_nodes_per_s']['2']:,.0f} seed nodes/s, peak "
             f"{peak_2:.1f} GiB each; {r['speedup_2_vs_1']:.2f}×"],
            ["exact layer-wise inference, all 10M nodes", f"{infer['seconds']:.0f} s, peak "
             f"{infer['peak_rss_gib']:.1f} GiB, test accuracy {100 * infer['accuracy']['test']:.1f}%"],
            ["feature gathering / copy bandwidth of the same process",
             f"{_span(gathers)}% (its share of a step: {_span(shares, 1)}%)"],
            ["full-batch GraphSAGE: one (E, 64) float32 message tensor",
             f"{r['full_batch_message_tensor_gib']:.1f} GiB"]]
    return Table(["step", "result"], rows,
                 f"`python benchmarks/graph_scale.py --nodes 10000000 --edges 100000000 --folder DIR` ({len(ones)} "
                 f"alternating rounds, medians; load average {loads[0][0]:.1f} at the start, {loads[1][0]:.1f} at the "
                 "end)")


def gather_bound(root: Path) -> Table:
    r = _load("benchmarks/results/graph_scale.json", root)["gather_bound"]
    sizes = list(r["batches"])
    rows = []
    for order, label in (("sampler", "in the sampler's order (as training)"), ("sorted", "sorted by id")):
        for source, where in (("mapped", "the memory-mapped file"), ("in_memory_huge_pages", "anonymous, huge pages")):
            cells = []
            for b in sizes:
                for t in (1, 2):
                    key = f"{t}_threads/{source}/{order}"
                    rounds = r["batches"][b]["share_of_copy_bandwidth_rounds"][key]
                    cells.append(f"{100 * r['batches'][b]['share_of_copy_bandwidth'][key]:.0f}% ({_span(rounds)})")
            rows.append([label, where, *cells])
    huge = r["huge_page_kib"]
    return Table(["rows gathered", "from", *(f"batch {b}, {t} thread{'s' * (t > 1)}" for b in sizes for t in (1, 2))],
                 rows,
                 "`python benchmarks/graph_scale.py --gather-bound --nodes 10000000 --edges 100000000 --folder DIR`"
                 f" (share of the copy bandwidth on as many threads: median of {len(rounds)} rounds, their range in "
                 f"brackets; mapped with 2 MiB pages: {huge['FilePmdMapped'] / 2**20:.1f} GiB of the file, "
                 f"{huge['AnonHugePages'] / 2**20:.1f} GiB of the copy; load average {r['load_avg_start'][0]:.1f} "
                 "at the start)")


TABLES = {"termination": termination, "init-variants": init_variants, "sanity": sanity,
          "gradient-flow": gradient_flow,
          "text-quick": text_quick, "text-samples": text_samples, "batching": batching, "finetune": finetune,
          "temperature": temperature, "completions": completions,
          "cora": cora, "linkpred": linkpred, "depth": depth, "compare": compare,
          "graph-classify": graph_classify, "graph-classify-gin0": graph_classify_gin0,
          "recurrent-speed": recurrent_speed, "toy-speed": toy_speed, "text-cells": text_cells, "allocator": allocator,
          "text-budget": text_budget, "propagate": propagate,
          "graph-speed": graph_speed, "graph-classify-speed": graph_classify_speed, "distributed": distributed,
          "minibatch": minibatch, "graph-scale": graph_scale, "gather-bound": gather_bound}


def render(page: str, root: Path = ROOT) -> str:
    """``page`` with every marked table rendered from the results under ``root``."""
    def table(match: re.Match) -> str:
        name = match["name"]
        if name not in TABLES:
            raise KeyError(f"a page marks a table {name!r} that results/render.py does not know")
        return f"{match[1]}\n{TABLES[name](root)}\n\n{match[4]}"
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
