"""`seqgraph params`: the report's LSTM parameter-count formula beside the instantiated model's count."""

from typing import TypedDict

import torch

from ...memory.classifier import CLASSIFIERS, build_classifier, lstm_param_count
from ..flags import bounded_int
from ..options import add_json_option
from ..output import print_json


class ParamsResults(TypedDict):
    """What ``params --json`` prints."""

    model: str
    input_dim: int  # N_in
    hidden: int  # N_h
    classes: int  # N_out
    symbols: int
    formula: int | None  # the report's count (LSTM only)
    recurrent: int
    head: int
    without_embedding: int
    embedding: int
    total: int
    matches_formula: bool | None


SIZE = bounded_int(10**6)  # every count then fits in int64 (4 * 10**12 * ...)


def register(sub) -> None:
    p = sub.add_parser(
        "params",
        help="count a classifier's parameters and compare with the report's LSTM formula",
        description="Build the sequence classifier --model and count its parameters: recurrent layer, "
        "output layer and embedding separately. For the LSTM the count without the embedding is "
        "compared with the report's formula 4(N_h*N_in + N_h*N_h + N_h) + N_out*N_h + N_out "
        "(section 1.2.2), where N_in = --input-dim, N_h = --hidden, N_out = --classes; the formula "
        "applies to the LSTM only.",
    )
    p.add_argument("--model", choices=CLASSIFIERS, default="lstm", help="the recurrent layer (default: lstm)")
    p.add_argument("--input-dim", type=SIZE, required=True,
                   help="N_in, the size of the recurrent layer's input (the embedding dimension)")
    p.add_argument("--hidden", type=SIZE, required=True, help="N_h, the hidden size")
    p.add_argument("--classes", type=SIZE, required=True, help="N_out, the number of classes")
    p.add_argument("--symbols", type=SIZE, default=None,
                   help="vocabulary size of the embedding (default: --classes, as in random combinations)")
    add_json_option(p)
    p.set_defaults(func=run)


def run(args) -> int:
    symbols = args.symbols or args.classes
    with torch.device("meta"):  # counted, never allocated: any size the parser lets through is answered at once
        model = build_classifier(args.model, symbols, args.classes, args.hidden, embedding_dim=args.input_dim)
    counts = {name: sum(p.numel() for p in getattr(model, name).parameters()) for name in ("rnn", "head")}
    without_embedding = counts["rnn"] + counts["head"]
    formula = lstm_param_count(args.input_dim, args.hidden, args.classes) if args.model == "lstm" else None
    result = ParamsResults(
        model=args.model, input_dim=args.input_dim, hidden=args.hidden, classes=args.classes, symbols=symbols,
        formula=formula, recurrent=counts["rnn"], head=counts["head"], without_embedding=without_embedding,
        embedding=model.embedding.weight.numel(), total=without_embedding + model.embedding.weight.numel(),
        matches_formula=None if formula is None else formula == without_embedding)
    if args.json:
        print_json(result)
        return 0
    print(f"{args.model}: N_in={args.input_dim}, N_h={args.hidden}, N_out={args.classes}, symbols={symbols}")
    if formula is None:
        print("  report formula                   n/a (it counts the LSTM only)")
    else:
        print(f"  report formula                   {formula:>12,}  "
              "4(N_h*N_in + N_h*N_h + N_h) + N_out*N_h + N_out")
    print(f"  model without embedding          {without_embedding:>12,}"
          + ("" if formula is None else ("  matches" if result["matches_formula"] else "  DIFFERS")))
    print(f"    recurrent layer                {counts['rnn']:>12,}")
    print(f"    output layer                   {counts['head']:>12,}")
    print(f"  embedding ({symbols} x {args.input_dim})".ljust(35) + f"{result['embedding']:>12,}")
    print(f"  total                            {result['total']:>12,}")
    return 0
