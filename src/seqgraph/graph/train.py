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
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..checkpoint import seed_everything
from ..errors import InputError, NonFiniteLossError
from .data import Graph
from .layers import GATConv, GCNConv

MODELS = ("gcn", "gat")


@dataclass
class TrainConfig:
    model: str = "gcn"  # gcn | gat
    hidden: int = 16  # hidden features (per head for GAT)
    heads: int = 1  # attention heads of GAT's first layer (unused by GCN)
    output_heads: int = 1  # attention heads of GAT's output layer, averaged (unused by GCN)
    dropout: float = 0.5  # on the input and hidden features; GAT also on the attention coefficients
    lr: float = 0.01  # Adam
    weight_decay: float = 5e-4  # L2 penalty: GCN's first layer only (Kipf & Welling), all of GAT
    epochs: int = 200  # at most
    patience: int | None = None  # early stopping window (None: train all epochs)


def default_config(model: str, dataset: str = "cora") -> TrainConfig:
    """The papers' configurations: Kipf & Welling 2017 (GCN), Veličković et al. 2018 (GAT; Pubmed differs)."""
    if model == "gcn":
        return TrainConfig()
    if model == "gat":
        config = TrainConfig(model="gat", hidden=8, heads=8, dropout=0.6, lr=0.005, epochs=1000, patience=100)
        if dataset == "pubmed":
            config = dataclasses.replace(config, output_heads=8, lr=0.01, weight_decay=1e-3)
        return config
    raise InputError(f"unknown model {model!r}; choose one of {', '.join(MODELS)}")


def feature_dropout(x: Tensor, p: float, training: bool) -> Tensor:
    """Dropout that, for a sparse CSR ``x``, drops only its stored entries (Kipf & Welling's sparse_dropout).

    Zeros stay zero under dropout anyway, so this is the same distribution as dense dropout at the cost of
    the non-zeros alone (1.3% of Cora's 2708 x 1433 features).
    """
    if x.layout != torch.sparse_csr:
        return F.dropout(x, p, training)
    if not training or p == 0:
        return x
    values = F.dropout(x.values(), p, training)
    return torch.sparse_csr_tensor(x.crow_indices(), x.col_indices(), values, x.shape, check_invariants=False)


def to_csr(x: Tensor) -> Tensor:
    with warnings.catch_warnings():  # torch calls its (well-tested) CSR support beta
        warnings.filterwarnings("ignore", "Sparse CSR tensor support is in beta", UserWarning)
        return x.to_sparse_csr()


class GCN(nn.Module):
    """Two GCN layers: dropout, GCNConv, ReLU, dropout, GCNConv -> class logits.

    The layers cache the normalisation: one model serves one fixed graph (transductive training).
    """

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int, dropout: float):
        super().__init__()
        self.dropout = dropout
        self.conv1 = GCNConv(in_channels, hidden_channels, cached=True)
        self.conv2 = GCNConv(hidden_channels, out_channels, cached=True)

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        x = feature_dropout(x, self.dropout, self.training)
        x = self.conv1(x, edge_index).relu()  # σ = ReLU   (eq. 44)
        x = F.dropout(x, self.dropout, self.training)
        return self.conv2(x, edge_index)

    def param_groups(self, weight_decay: float) -> list[dict]:
        # Kipf & Welling (and PyG's example) regularise the first layer only.
        return [{"params": self.conv1.parameters(), "weight_decay": weight_decay},
                {"params": self.conv2.parameters(), "weight_decay": 0.0}]


class GAT(nn.Module):
    """Two GAT layers: dropout, GATConv (``heads`` heads, concatenated), ELU, dropout, GATConv (averaged heads)."""

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int, heads: int, output_heads: int,
                 dropout: float):
        super().__init__()
        self.dropout = dropout
        self.conv1 = GATConv(in_channels, hidden_channels, heads=heads, dropout=dropout)
        self.conv2 = GATConv(hidden_channels * heads, out_channels, heads=output_heads, concat=False, dropout=dropout)

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        x = feature_dropout(x, self.dropout, self.training)
        x = F.elu(self.conv1(x, edge_index))
        x = F.dropout(x, self.dropout, self.training)
        return self.conv2(x, edge_index)

    def param_groups(self, weight_decay: float) -> list[dict]:
        return [{"params": self.parameters(), "weight_decay": weight_decay}]


def build_model(config: TrainConfig, in_channels: int, num_classes: int) -> nn.Module:
    if config.model == "gcn":
        return GCN(in_channels, config.hidden, num_classes, config.dropout)
    if config.model == "gat":
        return GAT(in_channels, config.hidden, num_classes, config.heads, config.output_heads, config.dropout)
    raise InputError(f"unknown model {config.model!r}; choose one of {', '.join(MODELS)}")


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


def fit(graph: Graph, config: TrainConfig, seed: int, device: torch.device | str = "cpu",
        on_epoch: Callable[[dict], None] | None = None) -> RunResult:
    """Train the GCN or GAT of ``config`` from ``seed`` on ``graph``'s public split (see :func:`fit_model`)."""
    return fit_model(functools.partial(build_model, config), graph, config, seed, device, on_epoch)[0]


def fit_model(build: Callable[[int, int], nn.Module], graph: Graph, config: TrainConfig, seed: int,
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


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
