r"""Training a forecaster under a benchmark protocol (:mod:`.protocols`), resumable and data-parallel.

:class:`ForecastTrainer` owns one run: the scaled series, the splits, the graph operators (built once), the model,
Adam and the learning-rate schedule, the epoch and optimiser-step counters and the history. Each epoch it trains on
the training windows in batches (in order or shuffled with a generator keyed by the seed and the epoch), then scores
the validation and test windows; the protocol's rule picks the reported epoch (:data:`SELECT`), whose weights are
kept. ``state_dict()`` is a checkpoint at an epoch boundary with every random state, so a resumed run continues
exactly as the uninterrupted one; nothing but the stopping point depends on ``config.epochs``, so a run resumed
with more epochs than it was started with ends exactly as one started with them.

Losses (``config.loss``), on the scaled values unless said otherwise:

- ``tgcn``: :math:`\frac12 \sum (\hat y - y)^2`, summed over the batch (T-GCN's code: ``tf.nn.l2_loss``);
- ``masked-mae``: :math:`\frac1n \sum |\hat y - y|` on de-normalised values over the :math:`n` targets that are not
  missing (DCRNN's ``masked_mae_loss``);
- ``mse``: the mean squared error (PyTorch Geometric Temporal's examples);

each plus :math:`\lambda \frac12 \sum_\theta \theta^2` over every weight and bias, :math:`\lambda` =
``config.weight_decay`` (T-GCN's 0.0015; 0 elsewhere unless asked).

Under torchrun every process takes its slice of each global batch (:mod:`seqgraph.distributed`); each loss is
scaled so that the gradient DistributedDataParallel averages is the global batch's.
"""

import copy
import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from ... import checkpoint, distributed
from ...errors import InputError, NonFiniteLossError
from ...outdir import continues
from ...seeding import rng_state, seed_everything, set_rng_state
from .data import TemporalSignal, batch
from .metrics import protocol_metrics
from .models import OPERATORS, build_model, build_operators, sampling_probability
from .operators import block_diagonal
from .protocols import PROTOCOLS, fit_scaler, make_splits

KIND = "graph-forecast"
LOSSES = ("tgcn", "masked-mae", "mse")
# the metric that chooses the reported epoch, by protocol: (split, metric, at), lower is better; None: the last epoch
SELECT = {"tgcn-paper": ("test", "rmse", "pooled"), "tgcn-honest": ("val", "rmse", "pooled"),
          "dcrnn": ("val", "mae", "mean"), "pygt": None}


@dataclass
class ForecastConfig:
    model: str = "dcrnn"
    protocol: str = "dcrnn"
    window: int = 12  # P, input steps
    horizon: int = 12  # H, steps ahead
    hidden_size: int = 64
    num_layers: int = 2
    K: int = 2  # DCRNN: diffusion steps; GConvGRU/LSTM: Chebyshev terms
    batch_size: int = 64  # windows per optimiser step; 0: all training windows in one batch
    epochs: int = 100
    lr: float = 0.01  # Adam
    eps: float = 1e-3  # Adam's epsilon (DCRNN's 1e-3; torch's default 1e-8)
    lr_milestones: tuple[int, ...] = (20, 30, 40, 50)  # epochs at which the learning rate is multiplied by lr_decay
    lr_decay: float = 0.1
    min_lr: float = 2e-6  # the schedule's floor
    loss: str = "masked-mae"
    weight_decay: float = 0.0  # λ of the L2 penalty λ ½ Σ θ² added to the loss
    max_norm: float | None = 5.0  # gradient clipping (None: none)
    patience: int | None = 50  # epochs without a better selection metric before stopping (None: never)
    cl_decay_steps: int = 2000  # DCRNN's scheduled sampling (0: always its own predictions)
    shuffle: bool = True  # reshuffle the training windows every epoch (else in order)
    drop_last: bool = False  # drop the last, shorter batch (T-GCN's code does)
    train_share: float = 0.2  # pygt protocol: the first windows for training


class ForecastTrainer:
    """One forecasting run of ``config`` on ``signal`` from ``seed``."""

    def __init__(self, signal: TemporalSignal, config: ForecastConfig, seed: int, device: torch.device | str = "cpu"):
        if config.protocol not in PROTOCOLS:
            raise InputError(f"unknown protocol {config.protocol!r}; choose one of {', '.join(PROTOCOLS)}")
        if config.loss not in LOSSES:
            raise InputError(f"unknown loss {config.loss!r}; choose one of {', '.join(LOSSES)}")
        signal.check_windows(config.window, config.horizon)
        self.signal, self.config, self.seed, self.device = signal, config, seed, torch.device(device)
        self.splits = make_splits(config.protocol, signal, config.window, config.horizon, config.train_share)
        self.scaler = fit_scaler(config.protocol, signal, self.splits, config.window)
        scaled = self.scaler(signal.values.double()).float()
        self.values = scaled.to(self.device)  # (T, N)
        self.raw = signal.values.to(self.device)  # (T, N), for the de-normalised loss and metrics
        self.features = signal.features(scaled).to(self.device)  # (T, N, F)
        kind = OPERATORS.get(config.model)
        if signal.graphs is None:
            self.operators = _to(build_operators(kind, signal.edge_index, signal.edge_weight, signal.num_nodes),
                                 self.device)
            self.daily = None
        else:  # a graph per step: each window uses the one of its first step
            self.operators = None
            self.daily = [_to(build_operators(kind, e, w, signal.num_nodes), self.device) for e, w in signal.graphs]
        self.uses_graph = kind is not None
        seed_everything(seed)
        self.model = build_model(config.model, signal.num_features, config.window, config.horizon,
                                 config.hidden_size, config.num_layers, config.K).to(self.device)
        self.trainable = any(True for _ in self.model.parameters())
        self.ddp = distributed.wrap(self.model) if self.trainable else self.model
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr, eps=config.eps) \
            if self.trainable else None
        self.epoch, self.step = 0, 0
        self.history: list[dict] = []
        self.best_epoch, self.best_state = 0, copy.deepcopy(self.model.state_dict())

    # --- one batch ------------------------------------------------------------------------------------------------

    def _operators(self, starts: Tensor):
        if self.daily is None or not self.uses_graph:
            return self.operators
        days = [self.daily[int(s)] for s in starts]
        if isinstance(days[0], tuple):  # DCRNN's two walks
            return tuple(block_diagonal([d[i] for d in days]) for i in range(2))
        return block_diagonal(days)

    def forward(self, starts: Tensor, train: bool) -> tuple[Tensor, Tensor]:
        """Predictions and targets ``(B, H, N)`` (scaled) of the windows ``starts``."""
        x, y = batch(self.features, self.values, starts.to(self.device), self.config.window, self.config.horizon)
        probability = sampling_probability(self.step, self.config.cl_decay_steps) if train else 0.0
        model = self.ddp if train else self.model
        return model(x, self._operators(starts), targets=y, truth_probability=probability), y

    def target_steps(self, starts: Tensor) -> Tensor:
        """The time steps of the targets of the windows ``starts``, ``(B, H)``."""
        return starts.to(self.device)[:, None] + self.config.window + torch.arange(self.config.horizon,
                                                                                   device=self.device)

    def loss(self, pred: Tensor, starts: Tensor) -> tuple[Tensor, float]:
        """This process's loss (scaled for DDP's average) and the global batch's loss as a number."""
        config, world = self.config, distributed.world_size()
        steps = self.target_steps(starts)
        if config.loss == "masked-mae":
            true = self.raw[steps]  # (B, H, N)
            error = (self.scaler.inverse(pred) - true).abs()
            valid = (true != 0) if self.signal.missing_zeros else torch.ones_like(true, dtype=torch.bool)
            total, count = (error * valid).sum(), valid.sum()
        else:
            squared = (pred - self.values[steps]).square()
            total, count = squared.sum(), torch.tensor(squared.numel(), device=self.device)
        total_sum, count_sum = distributed.sum_over_ranks(torch.stack([total.detach().double(), count.double()]))
        # λ ½ Σ θ² over every parameter (T-GCN's regulariser; 0 unless the configuration asks for it)
        penalty = config.weight_decay * 0.5 * sum(p.square().sum() for p in self.model.parameters())
        if config.loss == "tgcn":  # ½ Σ e², summed: no division by the count
            return 0.5 * total * world + penalty, float(0.5 * total_sum + penalty.detach())
        normaliser = max(float(count_sum), 1.0)
        return total * world / normaliser + penalty, float(total_sum) / normaliser + float(penalty.detach())

    # --- one epoch ------------------------------------------------------------------------------------------------

    def batches(self) -> list[Tensor]:
        """The training windows of this epoch, cut into global batches."""
        config, starts = self.config, self.splits.train
        if config.shuffle:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            starts = starts[torch.randperm(starts.numel(), generator=generator)]
        size = config.batch_size or starts.numel()
        cut = [starts[i:i + size] for i in range(0, starts.numel(), size)]
        return cut[:-1] if config.drop_last and len(cut) > 1 and cut[-1].numel() < size else cut

    def train_epoch(self) -> float:
        """One pass over the training windows; returns the mean of the batches' losses."""
        self.model.train()
        losses = []
        for global_batch in self.batches():
            local = global_batch[distributed.part(global_batch.numel())]
            pred, _ = self.forward(local, train=True)
            loss, value = self.loss(pred, local)
            if not math.isfinite(value):
                raise NonFiniteLossError(self.epoch + 1, value)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if self.config.max_norm is not None:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.max_norm)
            self.optimizer.step()
            self.step += 1
            losses.append(value)
        return sum(losses) / max(len(losses), 1)

    @torch.no_grad()
    def predict(self, starts: Tensor, batch_size: int = 256) -> tuple[Tensor, Tensor]:
        """De-normalised predictions and targets ``(S, H, N)`` of the windows ``starts``, in eval mode."""
        self.model.eval()
        preds, trues = [], []
        for i in range(0, starts.numel(), batch_size):
            part = starts[i:i + batch_size]
            pred, _ = self.forward(part, train=False)
            preds.append(self.scaler.inverse(pred.double()).float().cpu())
            trues.append(self.raw[self.target_steps(part)].cpu())
        return torch.cat(preds), torch.cat(trues)

    def evaluate(self, split: str) -> dict:
        pred, true = self.predict(getattr(self.splits, split))
        return protocol_metrics(self.config.protocol, pred, true, self.signal.missing_zeros)

    @property
    def scored(self) -> list[str]:
        """The splits evaluated after every epoch (those that hold windows)."""
        return [split for split in ("val", "test") if getattr(self.splits, split).numel()]

    def _score(self, record: dict) -> float | None:
        rule = SELECT[self.config.protocol]
        if rule is None:
            return None
        split, metric, at = rule
        return record[split][at][metric]

    def run(self, on_epoch: Callable[[dict], None] | None = None, stop: Callable[[], bool] = lambda: False) -> bool:
        """Train to ``config.epochs`` (none for a model without parameters) or early stopping; returns whether
        ``stop()`` (asked after every epoch, a collective under torchrun) ended it early."""
        while not self.finished:
            start = time.perf_counter()
            loss = self.train_epoch() if self.trainable else 0.0
            self.epoch += 1
            if self.optimizer is not None:
                self._schedule()
            record = {"epoch": self.epoch, "train_loss": loss, "seconds": time.perf_counter() - start,
                      **{split: self.evaluate(split) for split in self.scored}}
            self.history.append(record)
            if self._is_best(record):
                self.best_epoch, self.best_state = self.epoch, copy.deepcopy(self.model.state_dict())
            if on_epoch is not None:
                on_epoch(record)
            if not self.finished and stop():
                return True
        return False

    def _schedule(self) -> None:
        """DCRNN's step decay with a floor, set at the start of the next epoch."""
        config = self.config
        decays = sum(1 for m in config.lr_milestones if m <= self.epoch)
        for group in self.optimizer.param_groups:
            group["lr"] = max(config.min_lr, config.lr * config.lr_decay ** decays) if config.lr_milestones \
                else config.lr

    def _is_best(self, record: dict) -> bool:
        score = self._score(record)
        if score is None:
            return True  # the last epoch
        best = self._score(self.history[self.best_epoch - 1]) if self.best_epoch else math.inf
        return score < best

    @property
    def finished(self) -> bool:
        """Every epoch run (one evaluation for a model without parameters), or the patience spent."""
        if not self.trainable:
            return self.epoch >= 1
        patience = self.config.patience
        return self.epoch >= self.config.epochs or (patience is not None and self.epoch - self.best_epoch >= patience
                                                    and self.best_epoch > 0)

    # --- checkpoints ----------------------------------------------------------------------------------------------

    def state_dict(self) -> dict:
        """The checkpoint; a collective under torchrun (it gathers every rank's random state): call it on all."""
        return {"kind": KIND, "config": dataclasses.asdict(self.config), "seed": self.seed, "epoch": self.epoch,
                "step": self.step, "finished": self.finished, "world_size": distributed.world_size(),
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict() if self.optimizer is not None else {},
                "history": self.history, "best_epoch": self.best_epoch, "best_state": self.best_state,
                "rng": distributed.gather(rng_state())}

    def load_state_dict(self, ckpt: dict, path: str = "checkpoint") -> None:
        """Continue from ``ckpt``. One of another run, or whose entries lack the structure this run writes (the same
        keys, weights of the same shapes, Adam's moments shaped like their parameters, a history of this run's
        records: :mod:`seqgraph.checkpoint`), is refused naming what differs, before anything is restored. A
        checkpoint of this run configured for fewer epochs continues to this run's."""
        checkpoint.check_kind(ckpt, KIND, path)
        if ckpt.get("seed") != self.seed or not continues(ckpt.get("config"), dataclasses.asdict(self.config),
                                                          longer=("epochs",)):
            raise InputError(f"{path} is not a checkpoint of this forecasting run (its seed or settings differ)")
        weights = self.model.state_dict()
        checkpoint.check_like(ckpt, {"kind": KIND, "config": None, "seed": 0, "epoch": 0, "step": 0, "finished": False,
                                     "world_size": 0, "model": weights, "optimizer": None, "history": [],
                                     "best_epoch": 0, "best_state": weights, "rng": []}, path)
        distributed.check_world_size(ckpt["world_size"], path)
        epoch, best, history = ckpt["epoch"], ckpt["best_epoch"], ckpt["history"]
        last = self.config.epochs if self.trainable else 1
        if not (0 <= epoch <= last and len(history) == epoch and (0 < best <= epoch or best == epoch == 0)
                and ckpt["step"] >= 0):
            raise InputError(f"{path}: epoch {epoch}, best epoch {best}, step {ckpt['step']} and {len(history)} "
                             f"records are not those of a run of {last} epoch(s)")
        checkpoint.check_records(history, path, "history", self._record_like())
        if [record["epoch"] for record in history] != list(range(1, epoch + 1)):
            raise InputError(f"{path}: the history's epochs are not 1..{epoch}")
        if self.optimizer is not None:
            checkpoint.load_adam(self.optimizer, ckpt["optimizer"], path)
        with checkpoint.complete(path):
            self.model.load_state_dict(ckpt["model"])
            set_rng_state(ckpt["rng"][distributed.rank()])
        self.epoch, self.step, self.history = epoch, ckpt["step"], list(history)
        self.best_epoch, self.best_state = best, ckpt["best_state"]

    def _record_like(self) -> dict:
        """A history record of this run, its numbers made up: the structure a checkpoint's records must have."""
        shape = (1, self.config.horizon, self.signal.num_nodes)
        metrics = protocol_metrics(self.config.protocol, torch.zeros(shape), torch.ones(shape),
                                   self.signal.missing_zeros)
        return {"epoch": 0, "train_loss": 0.0, "seconds": 0.0, **dict.fromkeys(self.scored, metrics)}

    def result(self) -> dict:
        """The reported epoch's numbers (see :data:`SELECT`) and the run's timing."""
        best = self.history[self.best_epoch - 1]
        seconds = [r["seconds"] for r in self.history]
        return {"seed": self.seed, "epoch": self.best_epoch, "epochs_run": self.epoch,
                **{split: best[split] for split in ("val", "test") if split in best},
                "seconds_per_epoch": sum(seconds) / max(len(seconds), 1)}


def _to(operators, device: torch.device):
    if operators is None:
        return None
    return tuple(op.to(device) for op in operators) if isinstance(operators, tuple) else operators.to(device)
