"""The tables of Part 1: the memory tasks."""

from pathlib import Path

from seqgraph.commands.reproduce.part1 import gradients_argv, toy_argv
from seqgraph.stats import pm

from .common import Table, load, run

MEMORY = "results/memory/{}/results.json"


def _toy(name: str, root: Path) -> dict:
    return load(MEMORY.format(name), root)


def _toy_command(name: str, r: dict, *flags: str) -> str:
    c = r["config"]
    return run(toy_argv(c["task"], c["model"], c["lengths"], *flags), f"results/memory/{name}")


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
    r = load("results/gradients/results.json", root)
    c = r["config"]
    curves = {f"{c['model']} {k}": v for k, v in r["model_curves"].items()}
    curves.update({f"rnn radius {k}": v for k, v in r["rnn_sweep"].items()})
    rows = [[name, f"{norms[0] / norms[-1]:.1e}", f"{r['per_step_factor'][name]:.2f}"]
            for name, norms in curves.items()]
    argv = gradients_argv(c["model"], "--length", str(c["length"]), "--trained-steps", str(c["trained_steps"]))
    return Table(["curve", "‖∂L/∂h(1)‖ / ‖∂L/∂h(T)‖", "factor per step back"], rows,
                 f"{run(argv, 'results/gradients')} (the fresh RNN's spectral radius before rescaling: "
                 f"{r['rnn_initial_spectral_radius']:.2f})")


TABLES = {"termination": termination, "init-variants": init_variants, "sanity": sanity, "gradient-flow": gradient_flow}
