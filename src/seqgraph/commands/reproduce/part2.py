"""Part 2 of the report page: the character-level LSTM, its samples and completions."""

from collections.abc import Callable
from pathlib import Path

from ...charlm.train import PRESETS as TEXT_PRESETS
from ..text.outputs import TextResults
from ..text.sample import SampleResults
from .experiment import Experiment, by_profile

PART2 = "Part 2 — a character-level LSTM that writes text"
TEXT_TRAIN = "text-train"
REPORT_TAUS = ("0.5", "1", "2")  # the report's inverse temperatures: softmax(τ·x̃)


def text_train_argv(corpus: str, *flags: str) -> list[str]:
    """The command line of ``seqgraph text train`` on ``corpus``."""
    return ["text", "train", "--corpus", corpus, *flags]


def text_sample_argv(checkpoint: str, *flags: str) -> list[str]:
    """The command line of ``seqgraph text sample`` from the model in ``checkpoint``."""
    return ["text", "sample", "--checkpoint", checkpoint, *flags]


def text_complete_argv(checkpoint: str, *flags: str) -> list[str]:
    """The command line of ``seqgraph text complete``: the report's prompts, continued by the model in
    ``checkpoint``."""
    return ["text", "complete", "--checkpoint", checkpoint, *flags]


def _text_train(profile: str, root: Path) -> list[str]:
    config = by_profile(
        profile,
        # smoke: seconds; quick: the quick preset cut to ~4 minutes of a 2-core CPU; full: the report's own
        ["--preset", "quick", "--steps", "30", "--hidden", "32", "--embedding", "16", "--batch", "8",
         "--seq-len", "32", "--eval-every", "15"],
        ["--preset", "quick", "--steps", "600", "--eval-every", "100"],
        ["--preset", "report"])
    return text_train_argv("democracy", *config)


def _render_text_train(results: TextResults, folder: Path, profile: str) -> list[tuple]:
    config, corpus, best = results["config"], results["corpus"], results["best_val"]
    keys = ("hidden_size", "embedding_dim", "num_layers", "batch_size", "seq_len", "steps", "lr", "max_norm")
    blocks = [
        ("p", "Configuration: " + ", ".join(f"{k} {config[k]}" for k in keys)
         + f". Corpus: Democracy in America, {corpus['characters']:,} characters after stripping "
         f"{corpus['boilerplate_stripped']:,} of Project Gutenberg header and licence, vocabulary "
         f"{corpus['vocab_size']}; {corpus['val_characters']:,} characters are held out for validation and the "
         f"last {corpus.get('test_characters', 0):,} for the test (the report had neither). Batches: "
         f"{config.get('batching', 'random')}, layers: {config.get('cell', 'torch-lstm')}. Throughput "
         f"{results['chars_per_s']:,.0f} characters/s."),
        ("p", "The report's configuration: " + ", ".join(f"{k} {TEXT_PRESETS['report'][k]}" for k in keys)
         + (": this run uses it." if all(config[k] == TEXT_PRESETS["report"][k] for k in keys) else
            f"; this run is smaller, to fit the {profile} profile (`--profile full` runs the report's).")
         + " The report gives no loss on held-out text, so there is no number to match; compare its samples "
         "and completions with those below."),
        ("p", f"Best validation loss {best['loss']:.3f} nats/char = {best['bits']:.3f} bits/char "
         f"(accuracy {best['acc']:.3f}) at step {best['step']}, the text read left to right in one pass"
         + (f"; {best['window_loss']:.3f} nats/char per window of {config['seq_len']} characters from a zero state"
            if "window_loss" in best else "") + "."
         + (f" Test loss with that checkpoint, scored once at the end: {test['loss']:.3f} nats/char = "
            f"{test['bits']:.3f} bits/char." if (test := results.get("test")) else "")),
        ("img", folder / "curves.png", "Training and validation loss and accuracy"),
    ]
    for record in results["samples"]:
        blocks.append(("p", f"Greedy samples at step {record['step']} of {config['steps']} "
                       "(5 of length 30 from different start characters, one of length 200):"))
        blocks.append(("pre", "\n".join(record["greedy"]) + "\n\n" + record["long"]))
    return blocks


def _text_sample(tau: str) -> Callable[[str, Path], list[str]]:
    def argv(profile: str, root: Path) -> list[str]:
        return text_sample_argv(str(root / TEXT_TRAIN), "--inverse-temperature", tau, "--num", "3", "--length", "120",
                                "--seed", "0")
    return argv


def _render_text_sample(results: SampleResults, folder: Path, profile: str) -> list[tuple]:
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


EXPERIMENTS: list[Experiment] = [
    Experiment(TEXT_TRAIN, PART2, "Training on Democracy in America", _text_train, _render_text_train,
               reads_data=True),
    *(Experiment(f"text-tau-{tau}", PART2, f"Sampling at the report's τ = {tau}", _text_sample(tau),
                 _render_text_sample, json_stdout=True) for tau in REPORT_TAUS),
    Experiment("text-complete", PART2, "Completing the report's prompts",
               lambda profile, root: text_complete_argv(str(root / TEXT_TRAIN)),
               _render_text_complete, json_stdout=True),
]
