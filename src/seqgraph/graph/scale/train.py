r"""Mini-batch node classification on neighbour-sampled blocks, data-parallel under torchrun.

Each epoch shuffles the training nodes (seeded by the run's seed and the epoch) and cuts them into global
batches of ``batch_size`` seed nodes. Every process takes its contiguous slice of each global batch
(:mod:`seqgraph.distributed`; the last, shorter batch is split as evenly as it goes), samples its blocks
(:func:`~seqgraph.graph.scale.sampler.sample_blocks`, keyed by seed, epoch and step), gathers the rows of the
features it needs and takes a step of Adam through DistributedDataParallel. The loss of a rank is its sum
of cross-entropies times :math:`W / B` for a global batch of :math:`B` nodes on :math:`W` ranks, so the
gradient that DDP averages is the one of the global batch's mean loss,

.. math::
    \frac{1}{W} \sum_{r=1}^{W} \nabla \frac{W}{B} \sum_{i \in S_r} \ell_i = \nabla \frac{1}{B} \sum_{i=1}^{B} \ell_i,

whatever the split. A node's sampled neighbourhood does not depend on the batch it is in, so without
dropout W processes train the parameters of one process, to rounding. (Dropout masks are each rank's own.)

Evaluation is exact layer-wise inference (:func:`~seqgraph.graph.scale.layerwise.layerwise_inference`) over every
node; the headline is the test accuracy at the best validation epoch, as in :mod:`seqgraph.graph.node.train`.
:class:`MiniBatchTrainer` owns its state: ``state_dict()`` is a checkpoint at an epoch boundary (with every
rank's random state, which draws the dropout masks), and a run resumed from it continues exactly as the
uninterrupted run.
"""

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ... import checkpoint, distributed
from ...errors import InputError, NonFiniteLossError
from ...resources import check_graph_model_fits
from ...seeding import rng_state, seed_everything, set_rng_state
from ..node.models import KINDS, LayerStack
from ..node.train import RunResult, default_config
from .layerwise import layerwise_inference
from .sampler import check_fanouts, check_nodes, mix, sample_blocks
from .storage import GraphStore, check_splits

KIND = "graph-minibatch"
HISTORY_RECORD = {"epoch": 0, "train_loss": 0.0, "seconds": 0.0}  # an epoch's record; + metrics when evaluated


@dataclass
class MiniBatchConfig:
    model: str = "sage"  # gcn | sage | gat
    hidden_size: int = 64  # hidden features (per head for GAT)
    num_layers: int = 2
    heads: int = 1  # GAT's hidden heads, concatenated
    output_heads: int = 1  # GAT's output heads, averaged
    dropout: float = 0.5
    lr: float = 0.01  # Adam
    weight_decay: float = 5e-4  # GCN: first layer only
    epochs: int = 200
    patience: int | None = None  # early stopping window, in evaluations (None: train all epochs)
    batch_size: int = 64  # B, seed nodes per global batch
    fanouts: tuple[int, ...] = (25, 10)  # neighbours per target at hop 1 (the seeds), 2, ...; -1: all
    eval_every: int = 1  # epochs between evaluations (0: after the last epoch only)
    chunk_nodes: int = 16384  # layer-wise inference: targets per chunk
    chunk_edges: int = 1 << 20  # ... and their incoming edges per chunk


def minibatch_config(model: str, **overrides) -> MiniBatchConfig:
    """The full-batch papers' hyperparameters (:func:`~seqgraph.graph.node.train.default_config`) for GCN and GAT;
    GraphSAGE-mean with 64 hidden features; then ``overrides``."""
    if model not in KINDS:
        raise InputError(f"unknown model {model!r}; choose one of {', '.join(KINDS)}")
    values = {}
    if model in ("gcn", "gat"):
        values = {k: v for k, v in dataclasses.asdict(default_config(model)).items()
                  if k in {f.name for f in dataclasses.fields(MiniBatchConfig)}}
    return MiniBatchConfig(**{**values, "model": model, **overrides})


def build_model(config: MiniBatchConfig, in_channels: int, num_classes: int) -> LayerStack:
    return LayerStack(config.model, in_channels, config.hidden_size, num_classes, config.num_layers, config.dropout,
                      config.heads, config.output_heads)


def check_run(store: GraphStore, config: MiniBatchConfig) -> None:
    """Everything :class:`MiniBatchTrainer` refuses, decided before anything is built (a command calls it before it
    writes): fan-outs, a batch that splits over the processes, the splits (node ids of the graph; none empty, no node
    twice: :func:`~seqgraph.graph.scale.storage.check_splits`) and the memory (:func:`check_fits`)."""
    check_fanouts(config.fanouts, config.num_layers)
    if config.batch_size <= 0:
        raise InputError(f"batch size must be positive, got {config.batch_size}")
    distributed.shard(config.batch_size)  # the global batch must split equally over the processes
    splits = {f"the {name} split": getattr(store, f"{split}_idx")
              for name, split in (("training", "train"), ("validation", "val"), ("test", "test"))}
    check_splits({name: check_nodes(index, store.num_nodes, name).numpy() for name, index in splits.items()})
    check_fits(store, config)


def check_fits(store: GraphStore, config: MiniBatchConfig) -> None:
    """Refuse ``config``'s model if a training step would not fit in memory: the blocks of one global batch hold at
    most the batch times the product of the fan-outs so far, per hop, in nodes and in edges; the output layer has a
    row per class, as many as the largest label says."""
    frontier = nodes = min(config.batch_size, store.num_nodes)
    edges = 0
    for fanout in config.fanouts:
        reached = store.csr.num_edges if fanout == -1 else frontier * fanout
        edges += min(reached, store.csr.num_edges)
        frontier = min(reached, store.num_nodes)
        nodes += frontier
    classes = store.num_classes
    check_graph_model_fits(f"this {config.model.upper()} for {classes:,} classes",
                           lambda: build_model(config, store.x.size(1), classes), min(nodes, store.num_nodes), edges)


class MiniBatchTrainer:
    """One mini-batch run: model, Adam, epoch counter, evaluations and the best one so far."""

    def __init__(self, store: GraphStore, config: MiniBatchConfig, seed: int, device: torch.device | str = "cpu"):
        check_run(store, config)
        self.store, self.config, self.seed, self.device = store, config, seed, torch.device(device)
        seed_everything(seed)
        self.model = build_model(config, store.x.size(1), store.num_classes).to(self.device)
        self.ddp = distributed.wrap(self.model)
        torch.manual_seed(seed + distributed.rank())  # each rank its own dropout masks
        self.optimizer = torch.optim.Adam(self.model.param_groups(config.weight_decay), lr=config.lr)
        self.degree = store.csr.degree()
        self.epoch = 0
        self.history: list[dict] = []

    def train_epoch(self) -> float:
        """One pass over the training nodes; returns the mean training loss over all of them."""
        config, store = self.config, self.store
        self.model.train()
        order = torch.randperm(store.train_idx.numel(), generator=torch.Generator().manual_seed(
            mix(self.seed, self.epoch)))
        total = torch.zeros(())
        for step, start in enumerate(range(0, order.numel(), config.batch_size)):
            batch = store.train_idx[order[start: start + config.batch_size]]
            seeds = batch[distributed.part(batch.numel())]
            blocks = sample_blocks(store.csr, seeds, config.fanouts, mix(self.seed, self.epoch, step))
            x = store.x.index_select(0, blocks.nodes).to(self.device, torch.float32)
            out = self.ddp(x, blocks, self.degree[blocks.nodes].to(self.device))  # (b, C)
            loss = F.cross_entropy(out, store.y[seeds].to(self.device), reduction="sum")
            self.optimizer.zero_grad()
            (loss * (distributed.world_size() / batch.numel())).backward()  # DDP averages: the global mean
            self.optimizer.step()
            total += loss.detach().cpu()
        self.epoch += 1
        return float(distributed.sum_over_ranks(total)) / store.train_idx.numel()

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Train/val/test accuracy and validation loss from exact layer-wise inference over every node."""
        out = layerwise_inference(self.model, self.store.csr, self.store.x, self.config.chunk_nodes,
                                  self.config.chunk_edges)
        metrics = {}
        for split in ("train", "val", "test"):
            index = getattr(self.store, f"{split}_idx")
            pred = out[index].argmax(dim=-1).cpu()
            metrics[f"{split}_acc"] = int((pred == self.store.y[index]).sum()) / max(index.numel(), 1)
        val = self.store.val_idx
        metrics["val_loss"] = float(F.cross_entropy(out[val], self.store.y[val].to(out.device))) if val.numel() else 0.0
        return metrics

    def state_dict(self) -> dict:
        """The checkpoint; a collective under torchrun (it gathers every rank's random state): call it on all."""
        return {"kind": KIND, "config": dataclasses.asdict(self.config), "seed": self.seed, "epoch": self.epoch,
                "finished": self.finished, "world_size": distributed.world_size(), "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(), "history": self.history,
                "rng": distributed.gather(rng_state())}  # every rank's: its dropout masks

    def load_state_dict(self, ckpt: dict, path: str = "checkpoint") -> None:
        """Continue from ``ckpt``: a checkpoint of this run (kind, seed, settings) shaped as :meth:`state_dict`
        writes it (:mod:`seqgraph.checkpoint`), else InputError naming what differs."""
        if ckpt.get("kind") != KIND or ckpt.get("seed") != self.seed or \
                ckpt.get("config") != dataclasses.asdict(self.config):
            raise InputError(f"{path} is not a checkpoint of this mini-batch run (model, seed or settings differ)")
        checkpoint.check_like(ckpt, {**self.state_dict(), "config": None, "optimizer": None, "rng": None}, path)
        distributed.check_world_size(ckpt["world_size"], path)
        if not 0 <= ckpt["epoch"] <= self.config.epochs:
            raise InputError(f"{path}: epoch {ckpt['epoch']} is outside 0..{self.config.epochs}")
        checkpoint.check_records(ckpt["history"], path, "history", HISTORY_RECORD,
                                 {**HISTORY_RECORD, **dict.fromkeys(("train_acc", "val_acc", "test_acc", "val_loss"),
                                                                    0.0)})
        checkpoint.load_adam(self.optimizer, ckpt["optimizer"], path)
        with checkpoint.complete(path):
            self.model.load_state_dict(ckpt["model"])
            set_rng_state(ckpt["rng"][distributed.rank()])
        self.epoch, self.history = ckpt["epoch"], list(ckpt["history"])

    @property
    def finished(self) -> bool:
        """Whether training is over: every epoch run, or early stopping's patience spent."""
        return self.epoch >= self.config.epochs or self._patience_spent()

    def run(self, on_epoch: Callable[[dict], None] | None = None, stop: Callable[[], bool] = lambda: False) -> bool:
        """Train until ``config.epochs`` or early stopping; evaluate every ``eval_every`` epochs and at the end.
        Returns whether ``stop()`` ended it early.

        ``stop()`` is asked after every epoch, on every process (under torchrun it must be a collective that gives
        all of them the same answer, as :meth:`~seqgraph.commands.training_io.TrainingIO.stopping` does).
        """
        config = self.config
        while not self.finished:
            start = time.perf_counter()
            loss = self.train_epoch()
            if not math.isfinite(loss):
                raise NonFiniteLossError(self.epoch, loss)
            record = {"epoch": self.epoch, "train_loss": loss, "seconds": time.perf_counter() - start}
            if (config.eval_every and self.epoch % config.eval_every == 0) or self.epoch == config.epochs:
                record.update(self.evaluate())
            self.history.append(record)
            if on_epoch is not None:
                on_epoch(record)
            if stop():
                return True
        return False

    def _patience_spent(self) -> bool:
        evaluated = [r for r in self.history if "val_acc" in r]
        if self.config.patience is None or not evaluated:
            return False
        best = max(range(len(evaluated)), key=lambda i: (evaluated[i]["val_acc"], -evaluated[i]["val_loss"], -i))
        return len(evaluated) - 1 - best >= self.config.patience

    def result(self) -> RunResult:
        """The run's summary: test accuracy at the best validation evaluation (ties: lower validation loss)."""
        evaluated = [r for r in self.history if "val_acc" in r]
        if not evaluated:
            evaluated = [{"epoch": self.epoch, **self.evaluate()}]
        best = max(evaluated, key=lambda r: (r["val_acc"], -r["val_loss"], -r["epoch"]))
        seconds = [r["seconds"] for r in self.history if "seconds" in r]
        return RunResult(seed=self.seed, best_epoch=best["epoch"], test_acc_best_val=best["test_acc"],
                         val_acc_best=best["val_acc"], last_epoch=evaluated[-1]["epoch"],
                         test_acc_last=evaluated[-1]["test_acc"],
                         seconds_per_epoch=sum(seconds) / max(len(seconds), 1), history=self.history)


def fit_minibatch(store: GraphStore, config: MiniBatchConfig, seed: int, device: torch.device | str = "cpu",
                  on_epoch: Callable[[dict], None] | None = None) -> tuple[RunResult, LayerStack]:
    """Train from ``seed`` on ``store`` to the end; returns the result and the trained model."""
    trainer = MiniBatchTrainer(store, config, seed, device)
    trainer.run(on_epoch)
    return trainer.result(), trainer.model

