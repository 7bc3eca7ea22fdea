"""Semi-supervised node classification with GCN and GAT, following PyG's examples/gcn.py and gat.py.

One run: seed everything, build the model, then each epoch one full-batch ``train()`` step on the training
nodes and one ``test()`` pass in eval mode giving train/val/test accuracy and the validation loss. The
headline is the test accuracy at the best validation epoch (highest validation accuracy, ties broken by
the lower validation loss); the test accuracy at the last epoch is kept beside it.

Early stopping (GAT, as Veličković et al.'s code): training stops once ``patience`` epochs pass in which
the validation accuracy never reached its best and the validation loss never reached its lowest.
"""

import dataclasses
import functools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...errors import InputError, NonFiniteLossError
from ...resources import check_graph_model_fits
from ...seeding import seed_everything
from ..data import Graph, to_csr
from .models import NODE_MODELS, build_model


@dataclass
class NodeTrainConfig:
    model: str = "gcn"  # gcn | gat
    hidden_size: int = 16  # hidden features (per head for GAT)
    heads: int = 1  # attention heads of GAT's first layer (unused by GCN)
    output_heads: int = 1  # attention heads of GAT's output layer, averaged (unused by GCN)
    dropout: float = 0.5  # on the input and hidden features; GAT also on the attention coefficients
    lr: float = 0.01  # Adam
    weight_decay: float = 5e-4  # L2 penalty: GCN's first layer only (Kipf & Welling), all of GAT
    epochs: int = 200  # at most
    patience: int | None = None  # early stopping window (None: train all epochs)


def default_config(model: str, dataset: str = "cora") -> NodeTrainConfig:
    """The papers' configurations: Kipf & Welling 2017 (GCN), Veličković et al. 2018 (GAT; Pubmed differs)."""
    if model == "gcn":
        return NodeTrainConfig()
    if model == "gat":
        config = NodeTrainConfig(model="gat", hidden_size=8, heads=8, dropout=0.6, lr=0.005, epochs=1000, patience=100)
        if dataset == "pubmed":
            config = dataclasses.replace(config, output_heads=8, lr=0.01, weight_decay=1e-3)
        return config
    raise InputError(f"unknown model {model!r}; choose one of {', '.join(NODE_MODELS)}")


def train(model: nn.Module, optimizer: torch.optim.Optimizer, x: Tensor, graph: Graph) -> float:
    """One full-batch step on the training nodes; returns the training loss."""
    model.train()
    optimizer.zero_grad()
    out = model(x, graph.edge_index)  # (N, classes)
    loss = F.cross_entropy(out[graph.train_mask], graph.y[graph.train_mask])
    loss.backward()
    optimizer.step()
    return float(loss.detach())


@torch.no_grad()
def test(model: nn.Module, x: Tensor, graph: Graph) -> dict[str, float]:
    """Train/val/test accuracy (all in eval mode) and the validation loss."""
    model.eval()
    out = model(x, graph.edge_index)  # (N, classes)
    pred = out.argmax(dim=-1)
    metrics = {f"{split}_acc": int((pred[mask] == graph.y[mask]).sum()) / max(int(mask.sum()), 1)
               for split, mask in (("train", graph.train_mask), ("val", graph.val_mask), ("test", graph.test_mask))}
    metrics["val_loss"] = float(F.cross_entropy(out[graph.val_mask], graph.y[graph.val_mask]))
    return metrics


@dataclass
class RunResult:
    seed: int
    best_epoch: int  # 1-based
    test_acc_best_val: float  # headline
    val_acc_best: float
    last_epoch: int
    test_acc_last: float
    seconds_per_epoch: float
    history: list[dict]  # per epoch: epoch, train_loss, val_loss, train_acc, val_acc, test_acc


def fit(graph: Graph, config: NodeTrainConfig, seed: int, device: torch.device | str = "cpu",
        on_epoch: Callable[[dict], None] | None = None) -> RunResult:
    """Train the GCN or GAT of ``config`` from ``seed`` on ``graph``'s public split (see :func:`fit_model`)."""
    return fit_model(functools.partial(build_model, config), graph, config, seed, device, on_epoch)[0]


def check_training_fits(build: Callable[[int, int], nn.Module], graph: Graph) -> None:
    """Refuse the model ``build(in_channels, num_classes)`` if its full-batch training on ``graph`` would not fit in
    memory (:func:`~seqgraph.resources.check_graph_model_fits`)."""
    num_classes = int(graph.y.max()) + 1 if graph.y is not None else 1
    check_graph_model_fits("this model", lambda: build(graph.x.size(1), num_classes), graph.num_nodes,
                           graph.edge_index.size(1))


def fit_model(build: Callable[[int, int], nn.Module], graph: Graph, config: NodeTrainConfig, seed: int,
              device: torch.device | str = "cpu",
              on_epoch: Callable[[dict], None] | None = None) -> tuple[RunResult, nn.Module]:
    """Seed, build ``build(in_channels, num_classes)``, train on ``graph``'s split with ``config``'s ``lr``,
    ``weight_decay``, ``epochs`` and ``patience``; returns the result and the trained model.

    Any model ``model(x, edge_index)`` trains the same way (full-batch Adam, evaluation every epoch, test
    accuracy at the best validation epoch, optional early stopping), so GCN, GAT, GraphSAGE and the sequence
    LSTM are measured alike. A model with ``param_groups(weight_decay)`` chooses where the weight decay goes
    (GCN: first layer only); otherwise it applies to every parameter.
    """
    for name in ("x", "y", "train_mask", "val_mask", "test_mask"):
        if getattr(graph, name) is None:
            raise InputError(f"node classification needs graph.{name}")
    check_training_fits(build, graph)
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
            raise NonFiniteLossError(epoch, loss, checkpointed=False)  # graph training keeps no checkpoints
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


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
