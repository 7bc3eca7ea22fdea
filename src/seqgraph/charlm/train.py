r"""Training the character model: teacher forcing on stateful or random windows, validation, samples, checkpoints.

The loss of a window is the cross-entropy averaged over its T steps (:ref:`eq. (42)-(43) <eq-loss>`):

.. math::
    L_t = -\log \hat y_t[x_{t+1}] \quad (42), \qquad L = \frac{1}{T} \sum_{t=1}^{T} L_t \quad (43)

averaged over the batch too. Batches are ``stateful`` (:mod:`.batching`: B contiguous streams read in
consecutive windows, the hidden state carried from batch to batch, detached, as char-rnn) or ``random``
(windows drawn anywhere, each from a zero state). Validation is the left-to-right score of :mod:`.evaluate`
(the per-window figure beside it); at the end :meth:`Trainer.test` scores the test split once.

:class:`Trainer` owns everything a run needs to continue exactly where it
stopped: model, Adam, the learning-rate schedule, the step, the global random states, the generator
that draws the batches, the stream positions and the carried state, the best validation loss and the log.
``state_dict()`` is the checkpoint (a plain dict); ``load_state_dict()`` of it and further steps give bitwise
the parameters that an uninterrupted run of the same seed reaches on CPU. Files are the caller's business.

Under torchrun (:mod:`seqgraph.distributed`) every rank draws the same global batch of ``batch_size``
windows and trains on its slice through DistributedDataParallel; the logged loss and accuracy are the
global batch's. Each rank has its own random state (dropout masks), seeded ``seed + rank``; the
checkpoint holds all of them and the world size.
"""

import math
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F

from .. import checkpoint, distributed
from ..errors import InputError
from ..resources import check_fits, parameter_count
from ..seeding import rng_state, seed_everything, set_rng_state
from ..training import guarded_step
from .batching import StreamBatcher
from .data import Corpus, decode, sample_windows
from .evaluate import score
from .finetune import KIND, check_sizes, check_weights, checkpoint_config, transplant
from .model import CharLM, CharLMConfig

BATCHING = ("stateful", "random")
SAMPLE_STARTS = 5  # greedy samples from different start characters at 1/3, 2/3 and 3/3 of training
SAMPLE_LENGTH = 30
LONG_SAMPLE_LENGTH = 200


@dataclass
class TextTrainConfig:
    steps: int = 1500  # optimiser updates
    batch_size: int = 256  # B, windows per update
    seq_len: int = 30  # T, characters per window
    lr: float = 5e-4  # Adam's learning rate
    schedule: str = "step"  # "step": times lr_decay every lr_decay_every steps; "cosine": cosine to 0 at the end
    lr_decay: float = 1.0  # the step schedule's factor (1: constant; the assignment: 0.96 every 5000 steps)
    lr_decay_every: int = 5000
    max_norm: float = 5.0  # clip the gradient to this global L2 norm
    val_fraction: float = 0.05  # the part of the text before the test split, never trained on
    test_fraction: float = 0.05  # the last part of the text, scored once at the end (0: none)
    batching: str = "stateful"  # "stateful": contiguous streams, state carried; "random": windows from zero states
    eval_every: int = 100  # steps between validation losses (and at the last step)
    seed: int = 0


# Model and training sizes per preset; every value can be overridden.
PRESETS = {
    "quick": dict(hidden_size=256, embedding_dim=64, num_layers=2, dropout=0.0, steps=2000, batch_size=32,
                  seq_len=128, lr=3e-3, schedule="cosine", lr_decay=1.0, lr_decay_every=5000, max_norm=5.0,
                  eval_every=250),
    # The report's configuration (batch 256, 1500 steps, hidden 1024, embedding 256, Adam 5e-4, T = 30,
    # clipping at global norm 5, the assignment's max norm).
    "report": dict(hidden_size=1024, embedding_dim=256, num_layers=2, dropout=0.0, steps=1500, batch_size=256,
                   seq_len=30, lr=5e-4, schedule="step", lr_decay=1.0, lr_decay_every=5000, max_norm=5.0,
                   eval_every=100),
}

# A record of each log of the history, as the trainer writes it: per step, per validation, per sample round.
HISTORY_RECORDS = {
    "train": {"step": 0, "loss": 0.0, "acc": 0.0, "grad_norm": 0.0, "clipped": False, "lr": 0.0},
    "val": {"loss": 0.0, "bits": 0.0, "acc": 0.0, "window_loss": 0.0, "window_bits": 0.0, "step": 0, "best": False},
    "samples": {"step": 0, "greedy": [], "long": ""},
}

# Training settings that a resumed run must share with its checkpoint for the exact continuation.
RESUME_KEYS = tuple(f.name for f in fields(CharLMConfig)) + tuple(
    f.name for f in fields(TextTrainConfig) if f.name != "eval_every") + ("corpus_sha256", "keep_boilerplate")


def preset_values(preset: str, overrides: dict) -> dict:
    """One flat dict of every setting: the dataclasses' defaults, then the preset, then ``overrides``."""
    defaults = {f.name: f.default for f in (*fields(CharLMConfig), *fields(TextTrainConfig)) if f.name != "vocab_size"}
    return {**defaults, **PRESETS[preset], **overrides}


def split_config(values: dict, vocab_size: int) -> tuple[CharLMConfig, TextTrainConfig]:
    """Build both configurations from one flat dict (a preset with overrides, or a checkpoint's config)."""
    model = {f.name: values[f.name] for f in fields(CharLMConfig) if f.name in values}
    train = {f.name: values[f.name] for f in fields(TextTrainConfig) if f.name in values}
    return CharLMConfig(**{**model, "vocab_size": vocab_size}), TextTrainConfig(**train)


def cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Eq. 42–43: -log ŷ_t[y_t] averaged over all T steps and the batch. logits (B, T, V), y (B, T)."""
    return F.cross_entropy(logits.flatten(0, 1), y.flatten())


class Trainer:
    """One training run of :class:`CharLM` on a :class:`Corpus`; ``run()`` yields one log per step."""

    def __init__(self, model_config: CharLMConfig, config: TextTrainConfig, corpus: Corpus,
                 device: str | torch.device = "cpu", corpus_name: str = "", init_from: dict | None = None,
                 init_from_name: str = ""):
        """``init_from``: a checkpoint (loaded) whose weights the model starts from (fine-tuning), with the
        same sizes and cell; ``corpus`` must then be encoded with its vocabulary, or a superset of it."""
        if config.batching not in BATCHING:
            raise InputError(f"TextTrainConfig: unknown batching {config.batching!r} (stateful or random)")
        m = model_config  # a step keeps about 8 numbers per unit of every layer, plus the logits and their gradient
        check_fits("this character model", parameter_count(lambda: CharLM(m)),
                   config.batch_size * config.seq_len * (m.embedding_dim + 8 * m.num_layers * m.hidden_size
                                                         + 3 * m.vocab_size))
        seed_everything(config.seed + distributed.rank())  # own dropout masks; DDP copies rank 0's weights
        self.model_config, self.config, self.corpus, self.device = model_config, config, corpus, device
        self.corpus_name, self.init_from = corpus_name, init_from_name or None
        self.model = CharLM(model_config).to(device)
        if init_from is not None:
            check_sizes(init_from, self.config_dict, init_from_name or "checkpoint")
            transplant(self.model, init_from["model"], init_from["vocab"], corpus.vocab)
        self.ddp_model = distributed.wrap(self.model)  # the model itself when not distributed
        self.shard = distributed.shard(config.batch_size)  # this rank's rows of every global batch
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr)
        self.scheduler = _scheduler(self.optimizer, config)
        self.generator = torch.Generator().manual_seed(config.seed)  # draws the training windows
        self.batcher = (StreamBatcher(corpus.train, config.batch_size, config.seq_len, self.generator)
                        if config.batching == "stateful" else None)
        self.carried = None  # stateful: this rank's state after the last batch, detached
        self.step = 0
        self.best_val_loss = math.inf
        # the log: one row per step, per validation and per sample round, so that plots and results
        # of a resumed run cover the whole run
        self.history = {"train": [], "val": [], "samples": []}

    @property
    def config_dict(self) -> dict:
        """Everything that defines the run, flat: model and training settings and the corpus."""
        return {**asdict(self.model_config), **asdict(self.config), "corpus": self.corpus_name,
                "corpus_sha256": self.corpus.sha256, "keep_boilerplate": self.corpus.keep_boilerplate,
                "init_from": self.init_from}

    def train_step(self) -> dict:
        """One update on a fresh batch; returns loss, accuracy, pre-clip gradient norm, clipped, lr."""
        self.model.train()
        # every rank draws the same global batch and trains on its rows
        if self.batcher is None:
            x, y = sample_windows(self.corpus.train, self.config.batch_size, self.config.seq_len, self.generator)
            state = None
        else:
            x, y, fresh = self.batcher.next()
            state = None if fresh else self.carried  # a new epoch moves the streams: start from zero
        x, y = x[self.shard].to(self.device), y[self.shard].to(self.device)  # (b, T), (b, T)
        logits, state = self.ddp_model(x, state)  # (b, T, V)
        if self.batcher is not None:
            # truncated BPTT: the next batch starts from this state, but backward stops here
            self.carried = tuple(s.detach() for s in state)
        loss = cross_entropy(logits, y)
        lr = self.optimizer.param_groups[0]["lr"]
        # the global batch's loss and correct predictions, the same on every rank
        stats = guarded_step(self.model, self.optimizer, loss, (logits.argmax(-1) == y).sum(), self.config.max_norm,
                             self.step + 1)
        self.scheduler.step()
        self.step += 1
        acc = stats.correct / (self.config.batch_size * self.config.seq_len)
        return {"step": self.step, "loss": stats.loss, "acc": acc, "grad_norm": stats.grad_norm,
                "clipped": stats.grad_norm > self.config.max_norm, "lr": lr}

    def run(self, stop: Callable[[], bool] = lambda: False) -> Iterator[dict]:
        """Train to ``config.steps``, yielding per step {"train": ..., "val": ... or None, "samples": ... or None}.

        ``stop()`` is asked before every step (a signal handler sets it); the caller saves a checkpoint
        whenever it likes between two yields.
        """
        sample_steps = {max(1, round(self.config.steps * k / 3)) for k in (1, 2, 3)}
        while self.step < self.config.steps and not stop():
            log = {"train": self.train_step(), "val": None, "samples": None}
            self.history["train"].append(log["train"])
            if self.step % self.config.eval_every == 0 or self.step == self.config.steps:
                log["val"] = self.validate()
            if self.step in sample_steps:
                log["samples"] = self.samples()
            yield log

    def validate(self) -> dict:
        """The validation split scored left to right (``loss``, ``bits``, ``acc``) and per window."""
        val = score(self.model, self.corpus.val, self.config.seq_len)
        val["step"] = self.step
        val["best"] = val["loss"] < self.best_val_loss
        self.best_val_loss = min(self.best_val_loss, val["loss"])
        self.history["val"].append(val)
        return val

    def test(self, best: dict | None = None) -> dict | None:
        """The test split scored once, with the weights ``best`` (the best validation checkpoint's) if given;
        None without a test split."""
        if not self.corpus.n_test:
            return None
        model = self.model
        if best is not None:
            model = CharLM(self.model_config).to(self.device)
            model.load_state_dict(best["model"])
        return {**score(model, self.corpus.test, self.config.seq_len), "step": best["step"] if best else self.step}

    def samples(self) -> dict:
        """Greedy samples from different random start characters: 5 of length 30 and one of 200.

        The start characters come from a generator seeded by (seed, step), not from the training
        random state, so sampling never changes the course of training.
        """
        vocab = self.corpus.vocab
        g = torch.Generator().manual_seed(self.config.seed * 1_000_003 + self.step)
        starts = torch.randperm(len(vocab), generator=g)[: SAMPLE_STARTS + 1].to(self.device)  # (6,)
        short = self.model.generate(starts[:SAMPLE_STARTS, None], SAMPLE_LENGTH - 1, temperature=0)
        long = self.model.generate(starts[-1:, None], LONG_SAMPLE_LENGTH - 1, temperature=0)
        record = {
            "step": self.step,
            "greedy": [decode([s, *row], vocab)
                       for s, row in zip(starts[:SAMPLE_STARTS].tolist(), short.tolist(), strict=True)],
            "long": decode([starts[-1].item(), *long[0].tolist()], vocab),
        }
        self.history["samples"].append(record)
        return record

    def state_dict(self, resumable: bool = True) -> dict:
        """The checkpoint: plain tensors and Python values only (loadable with weights_only=True).

        ``resumable=False`` leaves out what only training needs (optimiser, schedule, random states,
        log): enough to sample and evaluate, a third of the size with Adam's moments gone. Under torchrun
        every rank calls ``state_dict()`` (a resumable one gathers every rank's random state).
        """
        model = {
            "kind": KIND,
            "config": self.config_dict,
            "vocab": self.corpus.vocab,
            "model": self.model.state_dict(),
            "step": self.step,
            "best_val_loss": self.best_val_loss,
        }
        if not resumable:
            return model
        return {
            **model,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "history": self.history,
            "rng": distributed.gather(rng_state()),  # one per rank
            "world_size": distributed.world_size(),
            "batch_generator": self.generator.get_state(),
            "batcher": self.batcher.state_dict() if self.batcher else None,
            "carried": distributed.gather([s.cpu() for s in self.carried] if self.carried else None),  # per rank
        }

    def load_state_dict(self, ckpt: dict, path: str = "checkpoint") -> None:
        """Continue from ``ckpt``; a checkpoint of another model, configuration or corpus, or one not shaped as
        :meth:`state_dict` writes it (:mod:`seqgraph.checkpoint`), is refused naming what differs."""
        checkpoint.check_compatible({**ckpt, "config": checkpoint_config(ckpt)}, KIND, self.config_dict, RESUME_KEYS,
                                    path)
        if ckpt.get("vocab") != self.corpus.vocab:
            raise InputError(f"{path} has another vocabulary than this corpus (fine-tuned? give the same --init-from "
                             "and --extend-vocab as the first run)")
        # None: what is checked below (the carried state, Adam's moments, the schedule's settings, which another
        # version of torch may name otherwise) or by set_rng_state (the random states)
        checkpoint.check_like(ckpt, {**self.state_dict(), "config": None, "carried": None, "optimizer": None,
                                     "scheduler": None, "rng": None}, path)
        checkpoint.check_shared(ckpt["scheduler"], self.scheduler.state_dict(), path, "scheduler", ("last_epoch",))
        distributed.check_world_size(ckpt["world_size"], path)
        if not 0 <= ckpt["step"] <= self.config.steps:
            raise InputError(f"{path}: step {ckpt['step']} is outside 0..{self.config.steps}")
        for log, record in HISTORY_RECORDS.items():
            checkpoint.check_records(ckpt["history"][log], path, f"history[{log!r}]", record)
        carried = ckpt["carried"]
        checkpoint.check_like(carried, [None] * distributed.world_size(), path, "carried")
        if carried[distributed.rank()] is not None:  # (h, c) or (h,), each (L, b, H)
            m, rows = self.model_config, len(range(self.config.batch_size)[self.shard])
            state = [torch.zeros(m.num_layers, rows, m.hidden_size)] * (2 if self.model.has_cell_state else 1)
            checkpoint.check_like(carried[distributed.rank()], state, path, f"carried[{distributed.rank()}]")
        checkpoint.load_adam(self.optimizer, ckpt["optimizer"], path)
        with checkpoint.complete(path):
            self.model.load_state_dict(ckpt["model"])
            self.scheduler.load_state_dict(ckpt["scheduler"])
            set_rng_state(ckpt["rng"][distributed.rank()])
            self.generator.set_state(ckpt["batch_generator"])
            if self.batcher is not None:
                self.batcher.load_state_dict(ckpt["batcher"])
        self.step, self.best_val_loss, self.history = ckpt["step"], ckpt["best_val_loss"], ckpt["history"]
        if carried[distributed.rank()] is not None:
            self.carried = tuple(s.to(self.device) for s in carried[distributed.rank()])


def _scheduler(optimizer: torch.optim.Optimizer, config: TextTrainConfig) -> torch.optim.lr_scheduler.LRScheduler:
    if config.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, config.lr_decay_every, config.lr_decay)
    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, config.steps)
    raise InputError(f"TextTrainConfig: unknown schedule {config.schedule!r} (step or cosine)")


def load_model(ckpt: dict, path: str = "checkpoint", device: str | torch.device = "cpu") -> tuple[CharLM, str]:
    """The model (in eval mode) and vocabulary of a checkpoint loaded with :func:`seqgraph.checkpoint.load`."""
    model = CharLM(check_weights(ckpt, path)).to(device)
    model.load_state_dict(ckpt["model"])
    return model.eval(), ckpt["vocab"]
