"""The tables of Part 2: the character model."""

from pathlib import Path

from seqgraph.commands.reproduce.experiment import command_line
from seqgraph.commands.reproduce.part2 import text_complete_argv, text_sample_argv, text_train_argv

from .common import Table, code, load, run


def text_quick(root: Path) -> Table:
    r = load("results/text-quick/results.json", root)
    v, t = r["final_val"], r["test"]
    minutes, seconds = divmod(round(r["wall_time_s"]), 60)
    row = [r["steps"], f"**{v['loss']:.4f} nats/char** ({v['bits']:.3f} bits)", f"{v['window_loss']:.4f}",
           f"{t['loss']:.4f} ({t['bits']:.3f} bits)", f"{100 * v['acc']:.1f}%", f"{minutes} min {seconds:02d} s",
           f"{r['chars_per_s']:,.0f}"]
    argv = text_train_argv(r["config"]["corpus"], "--preset", "quick")
    return Table(["steps", "validation, left to right", "per window", "test (best.pt)", "validation accuracy",
                  "wall time", "chars/s"], [row],
                 f"{run(argv, 'results/text-quick')} (checkpoints, curves and samples are not committed)")


def text_samples(root: Path) -> Table:
    r = load("results/text-quick/results.json", root)
    rounds = len(r["samples"])
    rows = [[f"{s['step']} ({i}/{rounds})", " · ".join(code(g) for g in s["greedy"][:3])]
            for i, s in enumerate(r["samples"], 1)]
    return Table(["step", "greedy samples (30 characters)"], rows,
                 f"200 greedy characters at {rounds}/{rounds}: {code(r['samples'][-1]['long'][:120] + '…')} "
                 "(`samples.md` of the run above)")


def batching(root: Path) -> Table:
    rows = []
    for seed in (0, 1):
        runs = [load(f"results/text-batching-{mode}-seed{seed}/results.json", root) for mode in ("stateful", "random")]
        rows.append([seed] + [f"{r[split]['loss']:.3f}" for split in ("final_val", "test") for r in runs])
    argv = text_train_argv("democracy", "--preset", "quick", "--steps", "400", "--eval-every", "400", "--batching",
                           "stateful|random", "--seed", "S")
    return Table(["seed", "validation: stateful", "random", "test: stateful", "random"], rows,
                 f"{run(argv, 'results/text-batching-<mode>-seed<S>', one_thread=False)} (nats/char, left to right)")


def finetune(root: Path) -> Table:
    rows = []
    for name, label in (("finetune-grimm", "300 quick steps on grimm"),
                        ("finetune-democracy", "then 100 on democracy (`--init-from` the grimm run, `--extend-vocab`)"),
                        ("scratch-democracy", "100 on democracy from scratch")):
        rows.append([label, f"{load(f'results/text-{name}/results.json', root)['final_val']['loss']:.3f}"])
    argv = text_train_argv("grimm", "--preset", "quick", "--steps", "300")
    return Table(["run", "validation, nats/char"], rows,
                 f"{run(argv, 'results/text-finetune-grimm', one_thread=False)}, then `--corpus democracy --steps 100 "
                 "--init-from results/text-finetune-grimm --extend-vocab` and without `--init-from`")


TEMPERATURES = ("0.5", "1", "2")


def temperature(root: Path) -> Table:
    rows = []
    for t in TEMPERATURES:
        r = load(f"results/text-quick/sample-T{t}.json", root)
        rows.append([t, f"{1 / float(t):g}", code(r["samples"][0])])
    argv = text_sample_argv("results/text-quick", "--temperature", "T", "--seed", "1", "--length", "79", "--json")
    line = command_line(argv) + " > results/text-quick/sample-T<T>.json"
    return Table(["our T", "report's τ", "sample"], rows,
                 f"{code(line)} (T = {', '.join(TEMPERATURES)}; the checkpoint is not committed)")


def completions(root: Path) -> str:
    lines = ["```"] + [f"{c['prompt']}|{c['completion']}".replace("\n", "↵")
                       for c in load("results/text-quick/complete.json", root)] + ["```"]
    line = command_line(text_complete_argv("results/text-quick", "--json")) + " > results/text-quick/complete.json"
    return "\n".join(lines) + "\n\n" + code(line)


TABLES = {"text-quick": text_quick, "text-samples": text_samples, "batching": batching, "finetune": finetune,
          "temperature": temperature, "completions": completions}
