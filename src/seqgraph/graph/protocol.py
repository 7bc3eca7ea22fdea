"""The node-classification protocol of :mod:`seqgraph.graph.train` for any model ``model(x, edge_index)``.

:func:`fit_model` builds the model from a seed and trains it as :func:`seqgraph.graph.train.fit` trains GCN
and GAT (full-batch Adam, evaluation every epoch, test accuracy at the best validation epoch, optional early
stopping), so the depth experiment and the comparison of GCN, GAT, GraphSAGE and the sequence LSTM measure
every model the same way.
"""

import math
import time
from collections.abc import Callable

import torch
from torch import nn

from ..checkpoint import seed_everything
from ..errors import InputError, NonFiniteLossError
from .data import Graph
from .train import RunResult, TrainConfig, test, to_csr, train


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def fit_model(build: Callable[[int, int], nn.Module], graph: Graph, config: TrainConfig, seed: int,
              device: torch.device | str = "cpu",
              on_epoch: Callable[[dict], None] | None = None) -> tuple[RunResult, nn.Module]:
    """Seed, build ``build(in_channels, num_classes)``, train on ``graph``'s split with ``config``'s ``lr``,
    ``weight_decay``, ``epochs`` and ``patience``; returns the result and the trained model.

    A model with ``param_groups(weight_decay)`` chooses where the weight decay goes (GCN: first layer only);
    otherwise it applies to every parameter.
    """
    for name in ("x", "y", "train_mask", "val_mask", "test_mask"):
        if getattr(graph, name) is None:
            raise InputError(f"node classification needs graph.{name}")
    seed_everything(seed)
    graph = graph.to(device)
    x = to_csr(graph.x.float())  # bag-of-words features: a few % non-zero
    model = build(graph.x.size(1), int(graph.y.max()) + 1).to(device)
    groups = (model.param_groups(config.weight_decay) if hasattr(model, "param_groups")
              else [{"params": model.parameters(), "weight_decay": config.weight_decay}])
    optimizer = torch.optim.Adam(groups, lr=config.lr)

    history: list[dict] = []
    best = None
    best_acc, best_loss, waited = -math.inf, math.inf, 0
    start = time.perf_counter()
    for epoch in range(1, config.epochs + 1):
        loss = train(model, optimizer, x, graph)
        if not math.isfinite(loss):
            raise NonFiniteLossError(epoch, loss)
        record = {"epoch": epoch, "train_loss": loss, **test(model, x, graph)}
        history.append(record)
        if on_epoch is not None:
            on_epoch(record)
        if best is None or (record["val_acc"], -record["val_loss"]) > (best["val_acc"], -best["val_loss"]):
            best = record
        # patience counts epochs in which neither the validation accuracy nor the loss reached its best
        if record["val_acc"] >= best_acc or record["val_loss"] <= best_loss:
            best_acc, best_loss, waited = max(best_acc, record["val_acc"]), min(best_loss, record["val_loss"]), 0
        else:
            waited += 1
            if config.patience is not None and waited >= config.patience:
                break
    last = history[-1]
    result = RunResult(seed=seed, best_epoch=best["epoch"], test_acc_best_val=best["test_acc"],
                       val_acc_best=best["val_acc"], last_epoch=last["epoch"], test_acc_last=last["test_acc"],
                       seconds_per_epoch=(time.perf_counter() - start) / len(history), history=history)
    return result, model
