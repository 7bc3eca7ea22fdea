"""`seqgraph graph ...`: graph neural networks (the report's Part 3), one module (or package) per sub-command.

Each module in ``SUBCOMMANDS`` has ``register(sub)``, which adds its parser to ``sub`` with
``set_defaults(func=...)``; a new sub-command is a new module added to that list.
"""

import importlib

SUBCOMMANDS = ("train", "example", "linkpred", "depth", "compare", "classify", "generate", "forecast")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "graph", help="graph neural networks: node classification (full batch or mini-batch), link prediction, "
        "depth, RNN-vs-GNN comparison, graph classification, large synthetic graphs, forecasting on graphs with "
        "recurrent graph models, the report's worked example",
        description="Graph neural networks written from their equations: GCN, GAT, GraphSAGE and GIN layers, trained "
        "on node, link and graph-level tasks, on one machine or data-parallel under torchrun.")
    sub = parser.add_subparsers(dest="graph_command", metavar="SUBCOMMAND")
    sub.required = True
    add_subcommands(sub)


def add_subcommands(sub) -> None:
    """Add every sub-command's parser to ``sub``."""
    for name in SUBCOMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
