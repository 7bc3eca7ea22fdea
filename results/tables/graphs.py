"""The tables of Part 3: graphs and graph-level outputs."""

import dataclasses
from pathlib import Path

from seqgraph.commands.reproduce.part3 import classify_argv, compare_argv, depth_argv, graph_train_argv, linkpred_argv
from seqgraph.graph.level.train import ClassifyConfig
from seqgraph.stats import pm

from .common import Table, load, run


def cora(root: Path) -> Table:
    sources = {"gcn": "Kipf & Welling 2017", "gat": "Veličković et al. 2018"}
    rows = []
    for model in ("gcn", "gat"):
        r = load(f"results/graph-{model}/results.json", root)
        rows.append([model.upper(), pm(r["test_acc_best_val"]), pm(r["test_acc_last"]),
                     f"{r['published']} ({sources[model]})"])
    return Table(["model", "ours, best-validation epoch (headline)", "ours, last epoch", "published"], rows,
                 run(graph_train_argv("cora", "{gcn|gat}"), "results/graph-<model>"))


def linkpred(root: Path) -> Table:
    rows = []
    for model in ("gae", "vgae"):
        r = load(f"results/linkpred-{model}/results.json", root)
        rows.append([model.upper(), *(pm(r[key]) for key in ("test_auc_best_val", "test_ap_best_val", "test_auc_last",
                                                                "test_ap_last")),
                     r["published"]["auc"], r["published"]["ap"]])
    return Table(["model", "best validation epoch: AUC", "AP", "last epoch: AUC", "AP", "Kipf & Welling 2016: AUC",
                  "AP"], rows, run(linkpred_argv("cora", "{gae|vgae}"), "results/linkpred-<model>"))


def depth(root: Path) -> Table:
    r = load("results/graph-depth/results.json", root)
    variants = {"plain": "plain", "self": "self-weighted", "residual": "residual"}
    by = {(row["variant"], row["layers"]): row for row in r["rows"]}
    rows = [[layers, *(pm(by[v, layers]["test_acc"]) for v in variants),
             *(f"{by[v, layers]['distance']['mean']:.2f}" for v in variants)] for layers in r["config"]["layers"]]
    return Table(["layers", *(f"{v} acc %" for v in variants.values()), *(f"{v} dist." for v in variants.values())],
                 rows, run(depth_argv("cora"), "results/graph-depth"))


def compare(root: Path) -> Table:
    r = load("results/graph-compare/results.json", root)
    rows = [[row["label"], pm(row["test_acc"]), f"{row['parameters']:,}",
             f"{1000 * row['seconds_per_epoch']['mean']:.0f}"] for row in r["rows"]]
    argv = compare_argv("cora", "--seeds", *map(str, r["config"]["seeds"]))
    return Table(["model", "test acc %", "parameters", "ms / epoch"], rows,
                 f"{run(argv, 'results/graph-compare')} (times under the load of other runs sharing the 2 cores)")


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
    for name in runs:
        r = load(f"results/graph-classify/{name}/results.json", root)
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
                 f"{run(argv, 'results/graph-classify/<dataset>-<model>')}, with the flags of the settings a row "
                 "names (`--readout`, `--hidden`, `--batch-size`, `--lr`, `--dropout`, `--epochs`, `--lr-decay 1` "
                 "for a constant learning rate) and `-<readout>` after the folder's name for a readout other than sum")


def graph_classify(root: Path) -> Table:
    return _classify_table(CLASSIFY_RUNS, root)


def graph_classify_gin0(root: Path) -> Table:
    return _classify_table(CLASSIFY_GIN0, root)


TABLES = {"cora": cora, "linkpred": linkpred, "depth": depth, "compare": compare, "graph-classify": graph_classify,
          "graph-classify-gin0": graph_classify_gin0}
