"""`seqgraph text`: train a character-level LSTM on a book, then sample, complete prompts and evaluate.

One module per sub-command, each with ``register(sub)``. Temperatures follow the common convention
softmax(logits / T). The assignment writes softmax(τ·x̃): its τ is an inverse temperature, T = 1/τ (τ = 2 sharpens
like T = 0.5).
"""

import importlib

SUBCOMMANDS = ("train", "sample", "complete", "eval")


def register(subparsers) -> None:
    text = subparsers.add_parser(
        "text", help="character-level LSTM language model: train, sample, complete, eval",
        description="Train a 2-layer LSTM (torch.nn.LSTM, or seqgraph's own LSTM, GRU or RNN layers) on any UTF-8 "
        "book (the report's Part 2), or fine-tune a trained one on another, then let it write, complete prompts, or "
        "measure its loss in nats and bits per character.")
    commands = text.add_subparsers(dest="text_command", metavar="COMMAND")
    commands.required = True
    for name in SUBCOMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(commands)
