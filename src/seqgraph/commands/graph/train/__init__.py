"""`seqgraph graph train`: node classification, in full batch (:mod:`.full`, the papers' protocol) or in
mini-batches of neighbour-sampled blocks (:mod:`.minibatch`, selected by ``--batch-size``)."""

from ....errors import InputError
from ....graph.datasets import NAMES
from ....graph.node.models import NODE_MODELS
from ....graph.node.train import default_config
from ...flags import (
    MAX_SIZE,
    Distinct,
    bounded_int,
    learning_rate,
    nonnegative_float,
    nonnegative_int,
    positive_int,
    probability,
    seed_value,
)
from ...options import add_run_options
from . import full, minibatch


def register(sub) -> None:
    gcn, gat = default_config("gcn"), default_config("gat")
    p = sub.add_parser(
        "train", help="node classification on Cora, Citeseer, Pubmed or a folder of Planetoid files",
        description="Train GCN or GAT on a Planetoid citation graph with its public split (Cora: 140 training, "
        "500 validation, 1000 test nodes), once per seed. Each epoch is one full-batch Adam step followed by an "
        "evaluation in eval mode. Reports the test accuracy at the best validation epoch (headline: highest "
        "validation accuracy, ties broken by validation loss) and at the last epoch, mean ± std over seeds, "
        "beside the published numbers. Writes DIR/results.json, DIR/history.json and DIR/curves.png. "
        f"Defaults are the papers' configurations: GCN hidden {gcn.hidden_size}, dropout {gcn.dropout}, lr {gcn.lr}, "
        f"weight decay {gcn.weight_decay} on the first layer, {gcn.epochs} epochs; GAT {gat.heads} heads x "
        f"{gat.hidden_size} hidden, 1 output head, dropout {gat.dropout}, lr {gat.lr}, weight decay "
        f"{gat.weight_decay}, up to {gat.epochs} epochs with patience {gat.patience} (Pubmed: 8 output heads, "
        "lr 0.01, weight decay 0.001).")
    p.add_argument("--dataset", default="cora",
                   help=f"{', '.join(NAMES)} (from the data directory) or a folder holding ind.<name>.* files "
                   "(default: cora)")
    p.add_argument("--model", choices=(*NODE_MODELS, "sage"), default="gcn",
                   help="the network; sage (GraphSAGE-mean) in mini-batch mode only (default: gcn)")
    p.add_argument("--seeds", type=seed_value, nargs="+", action=Distinct, default=list(range(10)),
                   help="seeds, one run each (default: 0 1 ... 9)")
    p.add_argument("--epochs", type=positive_int, help="maximum number of epochs (default: 200 GCN, 1000 GAT)")
    p.add_argument("--patience", type=nonnegative_int,
                   help="stop after this many epochs without a new best validation accuracy or loss; "
                   "0 never stops early (default: none for GCN, 100 for GAT)")
    p.add_argument("--lr", type=learning_rate, help="Adam learning rate (default: the paper's)")
    p.add_argument("--weight-decay", type=nonnegative_float, help="L2 weight decay (default: the paper's)")
    p.add_argument("--hidden", type=bounded_int(MAX_SIZE),
                   help=f"hidden features, per head for GAT, at most {MAX_SIZE:,} (default: 16 GCN, 8 GAT)")
    p.add_argument("--heads", type=bounded_int(MAX_SIZE),
                   help=f"GAT attention heads of the first layer, at most {MAX_SIZE:,} (default: 8)")
    p.add_argument("--output-heads", type=bounded_int(MAX_SIZE),
                   help=f"GAT attention heads of the output layer, averaged, at most {MAX_SIZE:,} "
                   "(default: 1; Pubmed 8)")
    p.add_argument("--dropout", type=probability, help="dropout probability (default: 0.5 GCN, 0.6 GAT)")
    minibatch.add_options(p)
    add_run_options(p)
    p.set_defaults(func=run)



def run(args) -> int:
    if args.model != "gat" and (args.heads is not None or args.output_heads is not None):
        raise InputError(f"--heads and --output-heads are GAT's: --model {args.model} has no attention heads")
    return (full if args.batch_size is None else minibatch).run(args)
