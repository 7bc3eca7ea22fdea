"""Render the README's tables from the committed results files, so the page cannot drift from the evidence.

Each table in README.md stands between ``<!-- table: NAME -->`` and ``<!-- /table -->``; ``TABLES[NAME]`` renders
it from the files named in its first line, which also gives the command that wrote them.

    python results/render.py          # rewrite the tables in README.md
    python results/render.py --check  # exit 1 if a table differs from what the results say (the test suite runs it)
"""

import argparse
import dataclasses
import json
import re
import sys
from pathlib import Path

from seqgraph.graph.level.train import ClassifyConfig

ROOT = Path(__file__).resolve().parent.parent
MARKED = re.compile(r"(<!-- table: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /table -->)", re.DOTALL)


def _load(relpath: str, root: Path) -> dict:
    return json.loads((root / relpath).read_text())


def _pm(stats: dict, digits: int = 1) -> str:
    return f"{stats['mean']:.{digits}f} ± {stats['std']:.{digits}f}"


# Every model run on each dataset, then Errica et al.'s structure-agnostic baseline for it: the molecular-fingerprint
# MLP for chemical graphs, DeepSets for ENZYMES and social graphs
CLASSIFY_RUNS = ["mutag-gin", "mutag-gin-eps", "mutag-gcn", "mutag-gin-set2set", "mutag-baseline",
                 "proteins-gin", "proteins-gin-eps", "proteins-gcn", "proteins-gin-set2set", "proteins-baseline",
                 "enzymes-gin", "enzymes-gin-eps", "enzymes-gcn", "enzymes-gin-set2set", "enzymes-deepsets",
                 "nci1-gin", "nci1-gin-mean", "nci1-gin-eps", "nci1-gin-eps-mean", "nci1-gcn",
                 "nci1-baseline",
                 "imdb-binary-gin", "imdb-binary-gin-eps", "imdb-binary-gcn", "imdb-binary-gin-set2set",
                 "imdb-binary-deepsets"]
CLASSIFY_MODELS = {"gin": "GIN-0", "gin-eps": "GIN-ε", "gcn": "GCN", "gin-set2set": "GIN, Set2Set readouts"}
# the settings a row names where they differ from the defaults, and how
CLASSIFY_SETTINGS = {"readout": "{} readout".format, "hidden_size": "hidden {}".format, "batch_size": "batch {}".format,
                     "lr": "lr {}".format, "dropout": "dropout {}".format, "epochs": "{} epochs".format,
                     "lr_decay": lambda d: "constant lr" if d == 1 else f"lr decay ×{d}"}


def graph_classify(root: Path) -> str:
    lines = ["| dataset | model | hold-out epoch (Errica et al.) | best mean epoch (GIN protocol) | published | "
             "wall time |", "|---|---|---|---|---|---|"]
    defaults = dataclasses.asdict(ClassifyConfig())
    for run in CLASSIFY_RUNS:
        r = _load(f"results/graph-classify/{run}/results.json", root)
        label = ", ".join([CLASSIFY_MODELS.get(r["model"], r["model"])]
                          + [form(r["config"][key]) for key, form in CLASSIFY_SETTINGS.items()
                             if r["config"].get(key, defaults[key]) != defaults[key]])
        holdout, gin = r["holdout"], r["gin_paper"]
        published = "; ".join(f"{who} {p}" for who, p in (("Errica", holdout["published"]),
                                                            ("GIN paper", gin["published"])) if p) or "–"
        lines.append(f"| {r['dataset']} | {label} | {_pm(holdout)} | {_pm(gin)} (epoch {gin['epoch']}) | "
                     f"{published} | {r['seconds']:.0f} s |")
    lines.append("\n`OMP_NUM_THREADS=1 seqgraph graph classify --dataset DATASET --model MODEL "
                 "--folds 10 --out results/graph-classify/<dataset>-<model>`, with the flags of the settings a row "
                 "names (`--readout`, `--hidden`, `--batch-size`, `--lr`, `--dropout`, `--epochs`, `--lr-decay 1` "
                 "for a constant learning rate) and `-<readout>` after the folder's name for a readout other than sum")
    return "\n".join(lines)


def graph_classify_speed(root: Path) -> str:
    r = _load("benchmarks/results/graph_classify.json", root)
    lines = ["| dataset | ours, s/epoch | PyG, s/epoch | ratio | floor: PyG's dense kernels / its epoch | "
             "ours in dense kernels / PyG's epoch | batching, ours / PyG | PyG's batching / its epoch | "
             "linear layers' GEMM rate / a square GEMM's |", "|---|---|---|---|---|---|---|---|---|"]
    for name, e in r["epoch"].items():
        ours_dense = e["profile"]["ours"]["dense_s"] / e["pyg"]["epoch_s"]
        lines.append(f"| {name.upper()} | {e['ours']['epoch_s']:.3f} | {e['pyg']['epoch_s']:.3f} | "
                     f"**{e['epoch_ratio']:.2f}×** | {e['floor_ratio']:.2f} | {ours_dense:.2f} | "
                     f"{e['batching_ratio']:.2f} | {e['pyg']['batching_share']:.2f} | "
                     f"{e['gemm']['linear_share_of_square']:.2f} |")
    loads = r["load_average_before"]
    lines.append(f"\n`python benchmarks/graph_classify.py --rounds {r['config']['rounds']}` (one thread, median of "
                 f"alternating rounds, load average {loads[0]:.1f} before)")
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


def cora(root: Path) -> str:
    sources = {"gcn": "Kipf & Welling 2017", "gat": "Veličković et al. 2018"}
    lines = ["| model | ours, best-validation epoch (headline) | ours, last epoch | published |", "|---|---|---|---|"]
    for model in ("gcn", "gat"):
        r = _load(f"results/graph-{model}/results.json", root)
        lines.append(f"| {model.upper()} | {_pm(r['test_acc_best_val'])} | {_pm(r['test_acc_last'])} | "
                     f"{r['published']} ({sources[model]}) |")
    lines.append("\n`OMP_NUM_THREADS=1 seqgraph graph train --dataset cora --model {gcn|gat} --out "
                 "results/graph-<model>`")
    return "\n".join(lines)


def linkpred(root: Path) -> str:
    lines = ["| model | best validation epoch: AUC | AP | last epoch: AUC | AP | Kipf & Welling 2016: AUC | AP |",
             "|---|---|---|---|---|---|---|"]
    for model in ("gae", "vgae"):
        r = _load(f"results/linkpred-{model}/results.json", root)
        scores = " | ".join(_pm(r[key]) for key in ("test_auc_best_val", "test_ap_best_val", "test_auc_last",
                                                     "test_ap_last"))
        lines.append(f"| {model.upper()} | {scores} | {r['published']['auc']} | {r['published']['ap']} |")
    lines.append("\n`OMP_NUM_THREADS=1 seqgraph graph linkpred --dataset cora --model {gae|vgae} --out "
                 "results/linkpred-<model>`")
    return "\n".join(lines)


def depth(root: Path) -> str:
    r = _load("results/graph-depth/results.json", root)
    variants = {"plain": "plain", "self": "self-weighted", "residual": "residual"}
    rows = {(row["variant"], row["layers"]): row for row in r["rows"]}
    lines = ["| layers | " + " | ".join(f"{v} acc %" for v in variants.values()) + " | "
             + " | ".join(f"{v} dist." for v in variants.values()) + " |", "|---" * 7 + "|"]
    for layers in r["config"]["layers"]:
        cells = [_pm(rows[v, layers]["test_acc"]) for v in variants]
        cells += [f"{rows[v, layers]['distance']['mean']:.2f}" for v in variants]
        lines.append(f"| {layers} | " + " | ".join(cells) + " |")
    lines.append("\n`OMP_NUM_THREADS=1 seqgraph graph depth --dataset cora --out results/graph-depth`")
    return "\n".join(lines)


def compare(root: Path) -> str:
    r = _load("results/graph-compare/results.json", root)
    lines = ["| model | test acc % | parameters | ms / epoch |", "|---|---|---|---|"]
    for row in r["rows"]:
        lines.append(f"| {row['label']} | {_pm(row['test_acc'])} | {row['parameters']:,} | "
                     f"{1000 * row['seconds_per_epoch']['mean']:.0f} |")
    lines.append(f"\n`OMP_NUM_THREADS=1 seqgraph graph compare --dataset cora --seeds "
                 f"{' '.join(map(str, r['config']['seeds']))} --out results/graph-compare` (times under the load of "
                 "other runs sharing the 2 cores)")
    return "\n".join(lines)


def text_quick(root: Path) -> str:
    r = _load("results/text-quick/results.json", root)
    lines = ["| steps | validation, left to right | per window | test (best.pt) | validation accuracy | wall time | "
             "chars/s |", "|---|---|---|---|---|---|---|"]
    v, t = r["final_val"], r["test"]
    minutes, seconds = divmod(round(r["wall_time_s"]), 60)
    lines.append(f"| {r['steps']} | **{v['loss']:.4f} nats/char** ({v['bits']:.3f} bits) | {v['window_loss']:.4f} | "
                 f"{t['loss']:.4f} ({t['bits']:.3f} bits) | {100 * v['acc']:.1f}% | {minutes} min {seconds:02d} s | "
                 f"{r['chars_per_s']:,.0f} |")
    lines.append(f"\n`OMP_NUM_THREADS=1 seqgraph text train --corpus {r['config']['corpus']} --preset quick --out "
                 "results/text-quick` (checkpoints, curves and samples are not committed)")
    return "\n".join(lines)


def graph_speed(root: Path) -> str:
    r = _load("benchmarks/results/graph.json", root)
    lines = ["| measurement | ours | PyG | ratio (ours/PyG) |", "|---|---|---|---|"]
    for model, e in r["cora_epoch"].items():
        lines.append(f"| Cora {model.upper()} training epoch | {e['ours']['train_ms']:.1f} ms | "
                     f"{e['pyg']['train_ms']:.0f} ms | {e['train_ratio']:.2f} |")
    for i, e in enumerate(r["random_graph_gcn_forward_backward"]):
        what = (f"2-layer GCN fwd+bwd, {e['nodes']:,} nodes / {e['edges']:,} edges, {e['features']} features"
                if i == 0 else f"same, {e['nodes']:,} nodes / {e['edges']:,} edges")
        lines.append(f"| {what} | {e['ours']['seconds']:.1f} s, {e['ours']['peak_mib']:.0f} MiB peak | "
                     f"{e['pyg']['seconds']:.1f} s, {e['pyg']['peak_mib']:.0f} MiB | time {e['time_ratio']:.2f}, "
                     f"memory {e['memory_ratio']:.2f} |")
    loads = r["machine"]["load_avg_start"][0], r["machine"]["load_avg_end"][0]
    lines.append(f"\n`python benchmarks/graph.py` (1 thread each, in the same run; load average {loads[0]:.1f} at the "
                 f"start, {loads[1]:.1f} at the end)")
    return "\n".join(lines)


def distributed(root: Path) -> str:
    r = _load("benchmarks/results/distributed.json", root)
    lines = ["| processes | chars/s (rounds) | vs 1 process |", "|---|---|---|"]
    for procs, run in r["runs"].items():
        rounds = ", ".join(f"{x:,.0f}" for x in run["chars_per_s_each_round"])
        lines.append(f"| {procs} | {run['chars_per_s']:,.0f} ({rounds}) | {run['speedup']:.2f} |")
    loads = r["machine"]["load_avg_start"][0], r["machine"]["load_avg_end"][0]
    lines.append(f"\n`python benchmarks/distributed.py` (median of {r['rounds']} alternating rounds, one thread per "
                 f"process, load average {min(loads):.1f}-{max(loads):.1f})")
    return "\n".join(lines)


def minibatch(root: Path) -> str:
    names = {"cora": "Cora", "photo": "Amazon-Photo"}
    models = {"gcn": "GCN", "sage": "GraphSAGE-mean"}
    lines = ["| dataset | model | seeds | full-batch | mini-batch | difference |", "|---|---|---|---|---|---|"]
    for path in ("benchmarks/results/graph_minibatch.json", "benchmarks/results/graph_minibatch_photo.json"):
        for dataset, rows in _load(path, root).items():
            if dataset == "settings":
                continue
            for model, row in rows.items():
                full, mini = row["full_batch"], row["mini_batch"]
                pm = [f"{100 * x['mean']:.1f} ± {100 * x['std']:.1f}" for x in (full, mini)]
                label = f"GCN (hidden {row['config']['hidden']})" if model == "gcn" else models[model]
                lines.append(f"| {names[dataset]} | {label} | {full['n']} | {pm[0]} | {pm[1]} | "
                             f"{row['difference_points']:+.2f} |")
    lines.append("\n`OMP_NUM_THREADS=1 python benchmarks/graph_minibatch.py --datasets cora|photo --models gcn sage "
                 "--seeds N [--out benchmarks/results/graph_minibatch_photo.json]`")
    return "\n".join(lines)


def _code(text: str) -> str:
    """``text`` in a table cell: newlines as ↵, in backticks."""
    return "`" + text.replace("\n", "↵").replace("`", "'") + "`"


def text_samples(root: Path) -> str:
    r = _load("results/text-quick/results.json", root)
    rounds = len(r["samples"])
    lines = ["| step | greedy samples (30 characters) |", "|---|---|"]
    for i, s in enumerate(r["samples"], 1):
        lines.append(f"| {s['step']} ({i}/{rounds}) | " + " · ".join(_code(g) for g in s["greedy"][:3]) + " |")
    lines.append(f"\n200 greedy characters at {rounds}/{rounds}: {_code(r['samples'][-1]['long'][:120] + '…')} "
                 "(`samples.md` of the run above)")
    return "\n".join(lines)


def batching(root: Path) -> str:
    lines = ["| seed | validation: stateful | random | test: stateful | random |", "|---|---|---|---|---|"]
    for seed in (0, 1):
        runs = [_load(f"results/text-batching-{mode}-seed{seed}/results.json", root) for mode in ("stateful", "random")]
        lines.append(f"| {seed} | " + " | ".join(f"{r[split]['loss']:.3f}" for split in ("final_val", "test")
                                                  for r in runs) + " |")
    lines.append("\n`seqgraph text train --corpus democracy --preset quick --steps 400 --eval-every 400 --batching "
                 "stateful|random --seed S --out results/text-batching-<mode>-seed<S>` (nats/char, left to right)")
    return "\n".join(lines)


def finetune(root: Path) -> str:
    lines = ["| run | validation, nats/char |", "|---|---|"]
    for name, label in (("finetune-grimm", "300 quick steps on grimm"),
                        ("finetune-democracy", "then 100 on democracy (`--init-from` the grimm run, `--extend-vocab`)"),
                        ("scratch-democracy", "100 on democracy from scratch")):
        r = _load(f"results/text-{name}/results.json", root)
        lines.append(f"| {label} | {r['final_val']['loss']:.3f} |")
    lines.append("\n`seqgraph text train --corpus grimm --preset quick --steps 300 --out results/text-finetune-grimm`, "
                 "then `--corpus democracy --steps 100 --init-from results/text-finetune-grimm --extend-vocab` and "
                 "without `--init-from`")
    return "\n".join(lines)


TEMPERATURES = ("0.5", "1", "2")


def temperature(root: Path) -> str:
    lines = ["| our T | report's τ | sample |", "|---|---|---|"]
    for t in TEMPERATURES:
        r = _load(f"results/text-quick/sample-T{t}.json", root)
        lines.append(f"| {t} | {1 / float(t):g} | {_code(r['samples'][0])} |")
    lines.append(f"\n`seqgraph text sample --checkpoint results/text-quick --temperature T --seed 1 --length 79 "
                 f"--json > results/text-quick/sample-T<T>.json` (T = {', '.join(TEMPERATURES)}; the checkpoint is "
                 "not committed)")
    return "\n".join(lines)


def completions(root: Path) -> str:
    lines = ["```"] + [f"{c['prompt']}|{c['completion']}".replace("\n", "↵")
                       for c in _load("results/text-quick/complete.json", root)] + ["```"]
    lines.append("\n`seqgraph text complete --checkpoint results/text-quick --json > results/text-quick/complete.json`")
    return "\n".join(lines)


def gradient_flow(root: Path) -> str:
    r = _load("results/gradients/results.json", root)
    c = r["config"]
    curves = {f"{c['model']} {k}": v for k, v in r["model_curves"].items()}
    curves.update({f"rnn radius {k}": v for k, v in r["rnn_sweep"].items()})
    lines = ["| curve | ‖∂L/∂h(1)‖ / ‖∂L/∂h(T)‖ | factor per step back |", "|---|---|---|"]
    for name, norms in curves.items():
        lines.append(f"| {name} | {norms[0] / norms[-1]:.1e} | {r['per_step_factor'][name]:.2f} |")
    lines.append(f"\n`OMP_NUM_THREADS=1 seqgraph gradients --model {c['model']} --length {c['length']} --trained-steps "
                 f"{c['trained_steps']} --out results/gradients` (the fresh RNN's spectral radius before rescaling: "
                 f"{r['rnn_initial_spectral_radius']:.2f})")
    return "\n".join(lines)


MEMORY = "results/memory/{}/results.json"
TOY = ("OMP_NUM_THREADS=1 seqgraph toy --task {task} --model {model} --length {lengths}{flags} "
       "--out results/memory/{name}")


def _toy(name: str, root: Path) -> dict:
    return _load(MEMORY.format(name), root)


def _steps(r: dict, rule: str) -> str:
    """Mean termination steps of ``rule`` per length, as ``31 / 92 / 204``."""
    return " / ".join(f"{a['termination_step'][rule]['mean']:.0f}" for _, a in sorted(r["aggregate"].items(),
                                                                                       key=lambda kv: int(kv[0])))


def _command(name: str, r: dict, flags: str = "") -> str:
    c = r["config"]
    return TOY.format(task=c["task"], model=c["model"], lengths=" ".join(map(str, c["lengths"])), flags=flags,
                      name=name)


def termination(root: Path) -> str:
    lines = ["| model | input_length | default rule | literal rule | report | eval accuracy (min over seeds) |",
             "|---|---|---|---|---|---|"]
    for name, label in (("lstm", "LSTM"), ("bilstm", "biLSTM")):
        r = _toy(name, root)
        for length, a in sorted(r["aggregate"].items(), key=lambda kv: int(kv[0])):
            steps = a["termination_step"]
            worst = min(run["eval_accuracy"] for run in r["runs"] if run["length"] == int(length))
            lines.append(f"| {label} | {length} | {_pm(steps['default'], 0)} | {_pm(steps['literal'], 0)} | "
                         f"{a['report_termination_step']} | {worst:.4f} |")
    lines.append("\n`" + "`, `".join(_command(name, _toy(name, root)) for name in ("lstm", "bilstm")) + "`")
    return "\n".join(lines)


INIT_VARIANTS = (  # results folder, table row, the flags that made it
    ("lstm", "ours: Kaiming-normal matrices, embedding N(0, 1), NLL on log-softmax", ""),
    ("init-torch", "torch.nn defaults (uniform ±1/√H) instead of Kaiming", "--init torch"),
    ("init-kaiming-xw", "Kaiming with the fans of (in, out) matrices used as `x @ W`", "--init kaiming-xw"),
    ("embedding-init-kaiming", "Kaiming-normal embedding too (std 0.25 instead of 1)", "--embedding-init kaiming"),
    ("loss-softmax-twice", "cross-entropy applied to probabilities (softmax twice)", "--loss softmax-twice"),
    ("embedding-8", "embedding 8", "--embedding 8"),
    ("embedding-128", "embedding 128", "--embedding 128"),
)


def init_variants(root: Path) -> str:
    lines = ["| variant | literal-rule steps | default-rule steps | flags |", "|---|---|---|---|"]
    for name, label, flags in INIT_VARIANTS:
        r = _toy(name, root)
        lines.append(f"| {label} | {_steps(r, 'literal')} | {_steps(r, 'default')} | "
                     f"{f'`{flags}`' if flags else 'the defaults'} |")
    report = _toy("lstm", root)["aggregate"]
    lines.append(f"| report | {' / '.join(str(report[k]['report_termination_step']) for k in ('6', '11', '16'))} "
                 "| | |")
    lines.append(f"\n`{_command('<variant>', _toy('lstm', root), ' FLAGS')}`")
    return "\n".join(lines)


SANITY = (  # results folder (length 6 of the LSTM run for the first), the check
    ("lstm", "LSTM, random combinations T=6"),
    ("gru-6", "GRU, random combinations T=6"),
    ("bilstm-5", "biLSTM, random combinations T=5"),
    ("peeplstm-6", "peephole LSTM, random combinations T=6"),
    ("baumsweet-6", "LSTM, Baum–Sweet L=6 (Table 2: batch 256, hidden 256, lr 1e-4)"),
    ("palindrome-10", "LSTM, binary palindrome L=10 (Table 2)"),
)


def sanity(root: Path) -> str:
    lines = ["| check | seeds | mean termination step (default / literal) | eval accuracy |", "|---|---|---|---|"]
    for name, label in SANITY:
        r = _toy(name, root)
        length = str(r["config"]["lengths"][0])
        a = r["aggregate"][length]
        accuracies = [run["eval_accuracy"] for run in r["runs"] if run["length"] == int(length)]
        low, high = min(accuracies), max(accuracies)
        accuracy = f"{low:.4f}" if f"{low:.4f}" == f"{high:.4f}" else f"{low:.4f} – {high:.4f}"
        steps = a["termination_step"]
        lines.append(f"| {label} | {', '.join(map(str, a['seeds']))} | {steps['default']['mean']:.0f} / "
                     f"{steps['literal']['mean']:.0f} | {accuracy} |")
    lines.append("\n`" + "`, `".join(_command(name, _toy(name, root)) for name, _ in SANITY[1:]) + "` (the first row: "
                 "length 6 of the LSTM run above)")
    return "\n".join(lines)


def allocator(root: Path) -> str:
    r = _load("benchmarks/results/allocator.json", root)
    default, kept = r["steps"]["glibc_default"], r["steps"]["keep_freed_memory"]
    lines = ["| workload | glibc's default | freed memory kept |", "|---|---|---|",
             "| page faults per step, mean of 20 (six 16 MiB tensors and one of 1 MiB) | "
             f"{default['page_faults_per_step']:,.0f} | {kept['page_faults_per_step']:,.0f} |"]
    cells = r["cells"]
    for key, name in (("lstm_chars_per_s", "char model, our LSTM, chars/s"),
                      ("torch-lstm_chars_per_s", "char model, `nn.LSTM`, chars/s")):
        lines.append(f"| {name} | {cells['glibc_default'][key]:,.0f} | {cells['keep_freed_memory'][key]:,.0f} |")
    lines.append(f"| our LSTM / `nn.LSTM` | {cells['glibc_default']['ratio_lstm_vs_torch_lstm']:.2f} | "
                 f"{cells['keep_freed_memory']['ratio_lstm_vs_torch_lstm']:.2f} |")
    loads = r["machine"]["load_avg_start"]
    lines.append(f"\n`OMP_NUM_THREADS=1 python benchmarks/allocator.py --rounds {r['rounds']}` (medians over rounds, "
                 f"load average {loads[0]:.1f} at the start)")
    return "\n".join(lines)


def text_budget(root: Path) -> str:
    lines = ["| budget | steps done of planned | chars/s | validation, left to right | per window | "
             "load average (start, end) |",
             "|---|---|---|---|---|---|"]
    for budget in (120, 600):
        r = _load(f"benchmarks/results/text_budget-{budget}s.json", root)
        val = r["val"]
        lines.append(f"| {budget} s ({r['threads']} threads) | {r['steps_done']:,} of {r['steps_planned']:,} | "
                     f"{r['chars_per_s']:,.0f} | "
                     f"**{val['loss']:.3f} nats/char** ({val['bits']:.3f} bits) | {val['window_loss']:.3f} | "
                     f"{r['load_avg_start'][0]:.1f}, {r['load_avg_end'][0]:.1f} |")
    lines.append("\n`python benchmarks/text_budget.py --budget 120|600` (the quick preset; its cosine schedule is "
                 "planned from a few timed steps to end at the budget, and training stops at the budget)")
    return "\n".join(lines)


def _span(fractions: list[float], digits: int = 0) -> str:
    """The range of ``fractions`` in percent, ``low-high`` (one figure where they round alike)."""
    low, high = (f"{100 * x:.{digits}f}" for x in (min(fractions), max(fractions)))
    return low if low == high else f"{low}-{high}"


def graph_scale(root: Path) -> str:
    r = _load("benchmarks/results/graph_scale.json", root)["10000000:100000000"]
    gen, infer, ones = r["generate"], r["infer"], r["train_1"]
    peak_1 = max(one["peak_rss_gib"] for one in ones)
    peak_2 = max(rank["peak_rss_gib"] for two in r["train_2"] for rank in two)
    gathers = [one["gather_fraction_of_copy_bandwidth"] for one in ones]
    shares = [one["probe"]["gather_fraction"] for one in ones]
    loads = r["machine"]["load_avg_start"], r["machine"]["load_avg_end"]
    lines = ["| step | result |", "|---|---|",
             f"| generate the graph (3.1 GB of `.npy`) | {gen['seconds']:.0f} s, peak {gen['peak_rss_gib']:.1f} GiB |",
             f"| mini-batch epoch, 100k seed nodes, 1 process | {r['seed_nodes_per_s']['1']:,.0f} seed nodes/s, peak "
             f"{peak_1:.1f} GiB |",
             f"| the same epoch, 2 processes (gloo) | {r['seed_nodes_per_s']['2']:,.0f} seed nodes/s, peak "
             f"{peak_2:.1f} GiB each; {r['speedup_2_vs_1']:.2f}× |",
             f"| exact layer-wise inference, all 10M nodes | {infer['seconds']:.0f} s, peak "
             f"{infer['peak_rss_gib']:.1f} GiB, test accuracy {100 * infer['accuracy']['test']:.1f}% |",
             f"| feature gathering / copy bandwidth of the same process | {_span(gathers)}% (its share of a step: "
             f"{_span(shares, 1)}%) |",
             "| full-batch GraphSAGE: one (E, 64) float32 message tensor | "
             f"{r['full_batch_message_tensor_gib']:.1f} GiB |"]
    lines.append(f"\n`python benchmarks/graph_scale.py --nodes 10000000 --edges 100000000 --folder DIR` ({len(ones)} "
                 f"alternating rounds, medians; load average {loads[0][0]:.1f} at the start, {loads[1][0]:.1f} at the "
                 "end)")
    return "\n".join(lines)


def gather_bound(root: Path) -> str:
    r = _load("benchmarks/results/graph_scale.json", root)["gather_bound"]
    sizes = list(r["batches"])
    lines = ["| rows gathered | from | " + " | ".join(f"batch {b}, {t} thread{'s' * (t > 1)}" for b in sizes
                                                    for t in (1, 2)) + " |", "|---" * (2 + 2 * len(sizes)) + "|"]
    for order, label in (("sampler", "in the sampler's order (as training)"), ("sorted", "sorted by id")):
        for source, where in (("mapped", "the memory-mapped file"), ("in_memory_huge_pages", "anonymous, huge pages")):
            cells = []
            for b in sizes:
                for t in (1, 2):
                    key = f"{t}_threads/{source}/{order}"
                    rounds = r["batches"][b]["share_of_copy_bandwidth_rounds"][key]
                    cells.append(f"{100 * r['batches'][b]['share_of_copy_bandwidth'][key]:.0f}% ({_span(rounds)})")
            lines.append(f"| {label} | {where} | " + " | ".join(cells) + " |")
    huge = r["huge_page_kib"]
    lines.append("\n`python benchmarks/graph_scale.py --gather-bound --nodes 10000000 --edges 100000000 --folder DIR`"
                 f" (share of the copy bandwidth on as many threads: median of {len(rounds)} rounds, their range in "
                 f"brackets; mapped with 2 MiB pages: {huge['FilePmdMapped'] / 2**20:.1f} GiB of the file, "
                 f"{huge['AnonHugePages'] / 2**20:.1f} GiB of the copy; load average {r['load_avg_start'][0]:.1f} "
                 "at the start)")
    return "\n".join(lines)


TABLES = {"graph-classify": graph_classify, "allocator": allocator, "graph-scale": graph_scale,
          "gather-bound": gather_bound,
          "text-budget": text_budget,
          "graph-classify-speed": graph_classify_speed,
          "recurrent-speed": recurrent_speed, "cora": cora, "linkpred": linkpred, "termination": termination,
          "init-variants": init_variants, "sanity": sanity, "depth": depth, "compare": compare,
          "text-quick": text_quick, "graph-speed": graph_speed, "distributed": distributed, "minibatch": minibatch,
          "text-samples": text_samples, "gradient-flow": gradient_flow, "temperature": temperature,
          "completions": completions, "batching": batching, "finetune": finetune}


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
