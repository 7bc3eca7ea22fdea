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

from .charlm.train import PRESETS as TEXT_PRESETS
from .stats import pm, termination

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
    profiles: tuple[str, ...] = PROFILES  # the profiles that run it


def _by_profile(profile: str, smoke, quick, full):
    return {"smoke": smoke, "quick": quick, "full": full}[profile]


def _verdict(ok: bool) -> str:
    return "**matches the report**" if ok else "**does NOT match the report**"


# ---- Part 1 ---------------------------------------------------------------------------------------
def _render_params(results: dict, folder: Path, profile: str) -> list[tuple]:
    return [
        ("p", f"LSTM classifier with N_in = {results['input_dim']}, N_h = {results['hidden']}, "
         f"N_out = {results['classes']}: the report's formula 4(N_h·N_in + N_h·N_h + N_h) + N_out·N_h + N_out gives "
         f"{results['formula']:,}; the instantiated model has {results['without_embedding']:,} parameters besides "
         f"its embedding ({results['embedding']:,}): {_verdict(results['matches_formula'])}."),
    ]


def _gradients(model: str) -> Callable[[str, Path], list[str]]:
    def argv(profile: str, root: Path) -> list[str]:
        size = _by_profile(profile, ["--length", "8", "--hidden", "16", "--batch", "16", "--trained-steps", "5"],
                           ["--trained-steps", "300"], ["--trained-steps", "300"])
        return ["gradients", "--model", model, *size]
    return argv


def _render_gradients(results: dict, folder: Path, profile: str) -> list[tuple]:
    factors = results["per_step_factor"]
    config = results["config"]
    return [
        ("p", f"‖∂L(T)/∂h(t)‖ for t = 1..{config['length']}, hidden {config['hidden']}, batch {config['batch']}, "
         f"model trained {config['trained_steps']} steps for the 'trained' curve. The report argues the gradient "
         "vanishes (or explodes) geometrically with the distance from T; the mean factor per step back:"),
        ("table", ["curve", "factor per step"], [[name, f"{value:.3f}"] for name, value in factors.items()]),
        ("p", "Vanishing in every vanilla-RNN curve (factor < 1, smaller for smaller spectral radius): "
         + _verdict(all(v < 1 for k, v in factors.items() if "radius" in k)) + "."),
        ("img", folder / "gradient_flow.png", f"Gradient norm per time step, {config['model']} and the RNN sweep"),
    ]


def _toy(task: str, model: str, lengths: dict, seeds: dict | None = None) -> Callable[[str, Path], list[str]]:
    def argv(profile: str, root: Path) -> list[str]:
        seeds_for = (seeds or {}).get(profile, ["1", "2", "3"])
        smoke = ["--max-steps", "20", "--eval-batches", "2", "--hidden", "16"] if profile == "smoke" else []
        return ["toy", "--task", task, "--model", model, "--length", *lengths[profile], "--seeds", *seeds_for, *smoke]
    return argv


def _render_toy(results: dict, folder: Path, profile: str) -> list[tuple]:
    config = results["config"]
    rows, ok, reported = [], True, False
    for length, agg in sorted(results["aggregate"].items(), key=lambda item: int(item[0])):
        term = agg["termination_step"]
        acc = agg["eval_accuracy"]
        ok &= acc["mean"] >= 0.995
        reported |= agg["report_termination_step"] is not None
        runs = len(agg["seeds"])
        rows.append([length, termination(term["default"], runs), termination(term["literal"], runs),
                     agg["report_termination_step"] or "–", pm(acc, 4, runs)])
    keys = ("task", "model", "hidden_size", "batch_size", "lr", "max_norm", "max_steps")
    embedding = config["embedding_dim"] or f"{config['hidden_size'] // 4} (hidden / 4)"
    return [
        ("p", "Configuration: " + ", ".join(f"{k} {config[k]}" for k in keys) + f", embedding {embedding}"
         + f"; seeds {', '.join(map(str, sorted({r['seed'] for r in results['runs']})))}; stop rule "
         f"'{results['stop_rule']}' (10 consecutive training batches above 99.5%; 'literal' is the report's first "
         "batch above 99.5%, recorded in the same runs)."),
        ("table", ["length", "termination step, default rule", "literal rule", "report", "eval accuracy (200×128)"],
         rows),
        ("p", f"Evaluation accuracy ≥ 0.995 at every length (the report: 1.00 at two decimals): {_verdict(ok)}"
         + (" (smoke profile: 20 steps only, not expected to match)." if profile == "smoke" else ".")
         + (" Termination steps differ from the report's; the README explains why (embedding and loss details "
            "the report does not give)." if reported else "")),
        ("img", folder / "accuracy.png", "Training accuracy against step, one line per seed, thick: mean"),
        ("img", folder / "loss.png", "Training loss against step"),
    ]


REPORT_LENGTHS = {"smoke": ["4"], "quick": ["6", "11", "16"], "full": ["6", "11", "16"]}
ONE_SEED = {"smoke": ["1"], "quick": ["1"], "full": ["1", "2", "3"]}


# ---- Part 2 ---------------------------------------------------------------------------------------
TEXT_TRAIN = "text-train"
REPORT_TAUS = ("0.5", "1", "2")  # the report's inverse temperatures: softmax(τ·x̃)


def _text_train(profile: str, root: Path) -> list[str]:
    config = _by_profile(
        profile,
        # smoke: seconds; quick: the quick preset cut to ~4 minutes of a 2-core CPU; full: the report's own
        ["--preset", "quick", "--steps", "30", "--hidden", "32", "--embedding", "16", "--batch", "8",
         "--seq-len", "32", "--eval-every", "15"],
        ["--preset", "quick", "--steps", "600", "--eval-every", "100"],
        ["--preset", "report"])
    return ["text", "train", "--corpus", "democracy", *config]


def _render_text_train(results: dict, folder: Path, profile: str) -> list[tuple]:
    config, corpus, best = results["config"], results["corpus"], results["best_val"]
    keys = ("hidden_size", "embedding_dim", "num_layers", "batch_size", "seq_len", "steps", "lr", "max_norm")
    blocks = [
        ("p", "Configuration: " + ", ".join(f"{k} {config[k]}" for k in keys)
         + f". Corpus: Democracy in America, {corpus['characters']:,} characters after stripping "
         f"{corpus['boilerplate_stripped']:,} of Project Gutenberg header and licence, vocabulary "
         f"{corpus['vocab_size']}; the last {corpus['val_characters']:,} characters are held out for validation "
         f"(the report had no validation set). Throughput {results['chars_per_s']:,.0f} characters/s."),
        ("p", "The report's configuration: " + ", ".join(f"{k} {TEXT_PRESETS['report'][k]}" for k in keys)
         + (": this run uses it." if all(config[k] == TEXT_PRESETS["report"][k] for k in keys) else
            f"; this run is smaller, to fit the {profile} profile (`--profile full` runs the report's).")
         + " The report gives no loss on held-out text, so there is no number to match; compare its samples "
         "and completions with those below."),
        ("p", f"Best validation loss {best['loss']:.3f} nats/char = {best['bits']:.3f} bits/char "
         f"(accuracy {best['acc']:.3f}) at step {best['step']}."),
        ("img", folder / "curves.png", "Training and validation loss and accuracy"),
    ]
    for record in results["samples"]:
        blocks.append(("p", f"Greedy samples at step {record['step']} of {config['steps']} "
                       "(5 of length 30 from different start characters, one of length 200):"))
        blocks.append(("pre", "\n".join(record["greedy"]) + "\n\n" + record["long"]))
    return blocks


def _text_sample(tau: str) -> Callable[[str, Path], list[str]]:
    def argv(profile: str, root: Path) -> list[str]:
        return ["text", "sample", "--checkpoint", str(root / TEXT_TRAIN), "--inverse-temperature", tau,
                "--num", "3", "--length", "120", "--seed", "0"]
    return argv


def _render_text_sample(results: dict, folder: Path, profile: str) -> list[tuple]:
    t = results["temperature"]
    return [("p", f"Sampled with softmax(logits / T), T = {t:g}, i.e. the report's inverse temperature "
             f"τ = 1/T = {1 / t:g} (the report writes softmax(τ·x̃)); 3 samples of 120 characters:"),
            ("pre", "\n\n".join(results["samples"]))]


# The report's completions (§2.4, its fully trained hidden-1024 model), as printed there.
REPORT_COMPLETIONS = {
    "The heart of democracy": " is not always be added to the sa", "Liberty": " is the most powerful influence o",
    "People of the Union": " is a serious and mo", "Equality": " of the people are not always",
    "Slavery": " is a mere difficult to discus", "America": " is the most powerful influence o",
    "North America": " the power of the Unio",
}


def _render_text_complete(results: list, folder: Path, profile: str) -> list[tuple]:
    return [("p", "Each of the report's prompts is fed once to warm the LSTM state, then continued greedily for 30 "
             "characters (the state is carried, the prefix never re-run), beside the report's completions:"),
            ("table", ["prompt", "ours", "report"],
             [[r["prompt"], r["completion"], REPORT_COMPLETIONS.get(r["prompt"], "–")] for r in results])]


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
         [["ours, best-validation epoch (headline)", pm(best, 1, n)],
          ["ours, last epoch", pm(last, 1, n)],
          ["published", published]]),
        ("p", f"Within 1 point of the published {target}: {_verdict(best['mean'] >= target - 1.0)}"
         + (" (smoke profile: a few epochs only, not expected to match)." if profile == "smoke" else ".")),
    ]
    if (folder / "curves.png").exists():
        blocks.append(("img", folder / "curves.png", f"{results['model'].upper()} training and validation curves"))
    return blocks


def _linkpred(model: str) -> Callable[[str, Path], list[str]]:
    def argv(profile: str, root: Path) -> list[str]:
        seeds = _by_profile(profile, ["0"], [str(s) for s in range(3)], [str(s) for s in range(10)])
        extra = _by_profile(profile, ["--epochs", "5"], [], [])
        return ["graph", "linkpred", "--dataset", "cora", "--model", model, "--seeds", *seeds, *extra]
    return argv


def _render_linkpred(results: dict, folder: Path, profile: str) -> list[tuple]:
    published = results["published"]
    n = len(results["runs"])
    rows = [[f"ours, {when}", pm(results[f"test_auc_{key}"], 1, n), pm(results[f"test_ap_{key}"], 1, n)]
            for key, when in (("best_val", "best-validation epoch"), ("last", "last epoch (the paper's protocol)"))]
    rows.append(["published (Kipf & Welling 2016)", f"{published['auc']}", f"{published['ap']}"])
    ok = (results["test_auc_last"]["mean"] >= published["auc"] - 1
          and results["test_ap_last"]["mean"] >= published["ap"] - 1)
    split = results["split"]
    blocks = [
        ("p", f"{results['model'].upper()} on Cora, {n} seed(s); edges split "
         f"{split['train_edges']}/{split['val_edges']}/{split['test_edges']} (train/val/test, both directions of "
         "an edge in the same split, negatives disjoint from every positive)."),
        ("table", ["", "test AUC %", "test AP %"], rows),
        ("p", f"Within 1 point of the published AUC and AP: {_verdict(ok)}"
         + (" (smoke profile: 5 epochs only, not expected to match)." if profile == "smoke" else ".")),
    ]
    if (folder / "curves.png").exists():
        blocks.append(("img", folder / "curves.png", f"{results['model'].upper()} training curves"))
    return blocks


def _compare(profile: str, root: Path) -> list[str]:
    # quick: the sequence LSTMs take ~1 s an epoch on a CPU core, so one seed, 100 epochs, BFS only
    extra = _by_profile(profile, ["--seeds", "0", "--epochs", "3"],
                        ["--seeds", "0", "--epochs", "100", "--models", "gcn", "gat", "sage-mean", "sage-lstm",
                         "seq-bfs"],
                        ["--seeds", "0", "1", "2", "3", "4"])
    return ["graph", "compare", "--dataset", "cora", *extra]


def _render_compare(results: dict, folder: Path, profile: str) -> list[tuple]:
    rows = [[r["label"], pm(r["test_acc"], 1, len(r["runs"])), f"{r['parameters']:,}",
             f"{1000 * r['seconds_per_epoch']['mean']:.1f}"] for r in results["rows"]]
    blocks = [("p", f"Node classification on Cora's public split with every model and the same seeds "
               f"({len(results['rows'][0]['runs'])} here); test accuracy at the best validation epoch. The report "
               "(§3.4) discusses graphs as sequences for an RNN and an LSTM aggregating a node's neighbours "
               "(GraphSAGE); this measures both against GCN and GAT."),
              ("table", ["model", "test accuracy %", "parameters", "ms per epoch"], rows)]
    if profile == "quick":
        blocks.append(("p", "Quick profile: one seed, at most 100 epochs per model (GAT is cut short), the DFS "
                       "variant left out; the full profile runs 5 seeds and every model with its own epochs."))
    if (folder / "compare.png").exists():
        blocks.append(("img", folder / "compare.png", "Test accuracy by model"))
    return blocks


EXPERIMENTS: list[Experiment] = [
    Experiment("params", PART1, "Parameter count of the LSTM (report §1.2.2)",
               lambda profile, root: ["params", "--model", "lstm", "--input-dim", "32", "--hidden", "128",
                                      "--classes", "10"], _render_params, json_stdout=True),
    Experiment("gradients-rnn", PART1, "Gradient flow: vanilla RNN (report §1.1)", _gradients("rnn"),
               _render_gradients),
    Experiment("gradients-lstm", PART1, "Gradient flow: LSTM", _gradients("lstm"), _render_gradients),
    Experiment("toy-lstm", PART1, "LSTM on random combinations (report Figs 1–2)",
               _toy("randomcomb", "lstm", REPORT_LENGTHS), _render_toy),
    Experiment("toy-bilstm", PART1, "Bidirectional LSTM on random combinations (report Figs 3–4)",
               _toy("randomcomb", "bilstm", REPORT_LENGTHS), _render_toy),
    Experiment("sanity-gru", PART1, "Sanity check: GRU, random combinations T=6",
               _toy("randomcomb", "gru", {"smoke": ["4"], "quick": ["6"], "full": ["6"]}, ONE_SEED), _render_toy),
    Experiment("sanity-peeplstm", PART1, "Sanity check: peephole LSTM, random combinations T=6",
               _toy("randomcomb", "peeplstm", {"smoke": ["4"], "quick": ["6"], "full": ["6"]}, ONE_SEED),
               _render_toy),
    Experiment("sanity-bilstm", PART1, "Sanity check: biLSTM, random combinations T=5",
               _toy("randomcomb", "bilstm", {"smoke": ["4"], "quick": ["5"], "full": ["5"]}, ONE_SEED), _render_toy),
    Experiment("sanity-palindrome", PART1, "Sanity check: LSTM, binary palindrome L=10",
               _toy("palindrome", "lstm", {"smoke": ["2"], "quick": ["10"], "full": ["10"]}, ONE_SEED), _render_toy),
    Experiment("sanity-baumsweet", PART1, "Sanity check: LSTM, Baum–Sweet L=6 (full profile only: ~7 min on CPU)",
               _toy("baumsweet", "lstm", {"full": ["6"]}, ONE_SEED), _render_toy, profiles=("full",)),
    Experiment(TEXT_TRAIN, PART2, "Training on Democracy in America", _text_train, _render_text_train,
               reads_data=True),
    *(Experiment(f"text-tau-{tau}", PART2, f"Sampling at the report's τ = {tau}", _text_sample(tau),
                 _render_text_sample, json_stdout=True) for tau in REPORT_TAUS),
    Experiment("text-complete", PART2, "Completing the report's prompts",
               lambda profile, root: ["text", "complete", "--checkpoint", str(root / TEXT_TRAIN)],
               _render_text_complete, json_stdout=True),
    Experiment("graph-example", PART3, "The report's 6-node example",
               lambda profile, root: ["graph", "example"], _render_example, json_stdout=True),
    Experiment("graph-gcn", PART3, "GCN node classification on Cora", _graph_train("gcn"), _render_graph_train,
               reads_data=True),
    Experiment("graph-gat", PART3, "GAT node classification on Cora", _graph_train("gat"), _render_graph_train,
               reads_data=True),
    Experiment("linkpred-gae", PART3, "Link prediction on Cora: graph auto-encoder", _linkpred("gae"),
               _render_linkpred, reads_data=True),
    Experiment("linkpred-vgae", PART3, "Link prediction on Cora: variational graph auto-encoder", _linkpred("vgae"),
               _render_linkpred, reads_data=True),
    Experiment("graph-compare", PART3, "Recurrent and graph models compared on Cora", _compare, _render_compare,
               reads_data=True),
]
