"""The report's training protocol for the synthetic tasks (the assignment's :ref:`Table 2 <table-2>` and
the termination rule).

One :class:`ToyTrainer` trains one classifier of :mod:`seqgraph.memory.classifier` on one task of
:mod:`seqgraph.memory.tasks` with one seed: Adam on fresh batches, cross-entropy on the log-probabilities,
the gradient clipped to a global norm of ``max_norm`` (the norm before clipping is logged, and
whether clipping acted), until the stop rule fires or ``max_steps``. When a rule fires the model is
evaluated on ``eval_batches`` fresh batches of ``eval_batch_size`` (200 x 128 in the report).

Termination rules (both watch every run; ``stop_rule`` picks the one that ends it):

- ``literal``: the report's "training accuracy higher than 99.5%" on the current batch. For a batch
  of 128 that means a perfect batch, which a model of true accuracy 98% scores by luck with
  probability 0.98^128 = 7.5%, so the step it gives is noisy and early.
- ``default``: the literal rule holds for ``WINDOW`` = 10 consecutive batches. Batches are fresh, so
  training accuracy is accuracy on unseen examples; 10 perfect batches of 128 in a row are 1280
  consecutive correct answers, which a model of true accuracy 99.5% gives with probability
  0.995^1280 = 0.16%, so the rule fires once the model is well above 99.5%, and the 200 x 128
  evaluation then confirms it. (A window *mean* of 99.5% fired at models that evaluated at 99.3%.)
  The literal rule has fired by then, so one run with the default rule records both steps.

Everything a run depends on is in :class:`ToyConfig` and the trainer's ``state_dict()``, which is the
checkpoint (model, optimizer, step, history, the numpy generator that draws the batches, the global random
states, the result once finished), so a run restored from a checkpoint continues exactly as an uninterrupted
one would (bitwise on the CPU); ``load_state_dict()`` refuses a checkpoint of another configuration.

Under torchrun (:mod:`seqgraph.distributed`) every rank draws the same global batch of ``batch_size`` and
trains on its slice; the logged loss and accuracy are the global batch's (summed over ranks), so the stop
rules fire at the same step on every rank. Every rank evaluates the same batches with the same weights.
"""

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .. import checkpoint, distributed
from ..errors import InputError
from ..resources import check_fits, parameter_count
from ..seeding import rng_state, seed_everything, set_rng_state
from ..stats import mean_std
from ..training import guarded_step
from .classifier import build_classifier
from .tasks import make_task

KIND = "toy"

# Assignment Table 2 (all: Adam, max norm 10, Kaiming normal), and the lengths it lists (the report ran
# random combinations with input_length 6, 11, 16).
PRESETS = {
    "baumsweet": {"lr": 1e-4, "max_steps": 3000, "batch_size": 256, "hidden_size": 256, "lengths": (4, 5, 6)},
    "randomcomb": {"lr": 1e-3, "max_steps": 2000, "batch_size": 128, "hidden_size": 128, "lengths": (6, 11, 16)},
    "palindrome": {"lr": 1e-4, "max_steps": 3000, "batch_size": 256, "hidden_size": 256, "lengths": (10, 20)},
}

# The report's mean termination steps over seeds 1, 2, 3 (random combinations, embedding 32, hidden 128).
REPORT_TERMINATION_STEPS = {
    ("randomcomb", "lstm"): {6: 86, 11: 204, 16: 375},
    ("randomcomb", "bilstm"): {6: 76, 11: 119, 16: 266},
}

THRESHOLD = 0.995
WINDOW = 10
STOP_RULES = {
    "default": f"training accuracy > {THRESHOLD:.1%} on each of the last {WINDOW} batches",
    "literal": f"training accuracy of one batch > {THRESHOLD:.1%} (the report's rule)",
}

LOSSES = {
    "nll": "the negative log-likelihood of the log-softmax outputs (eq. 42-43 of the manual's Equations page)",
    "softmax-twice": "cross-entropy applied to the probabilities, so softmax is taken twice (a common slip)",
}


@dataclass
class ToyConfig:
    task: str = "randomcomb"  # randomcomb, palindrome or baumsweet
    length: int = 6  # the report's input_length (random combinations) or integer length L
    model: str = "lstm"  # rnn, lstm, bilstm, gru or peeplstm
    seed: int = 1  # initialisation and batches
    lr: float = 1e-3  # Adam
    batch_size: int = 128
    hidden_size: int = 128
    embedding_dim: int | None = None  # None: hidden_size // 4, as the report
    max_steps: int = 2000
    max_norm: float = 10.0  # gradient clipping (global norm)
    stop_rule: str = "default"  # a key of STOP_RULES
    run_to_max: bool = False  # keep training to max_steps after the stop rule fired
    eval_batches: int = 200
    eval_batch_size: int = 128
    init: str = "kaiming"  # a key of classifier.INITIALISATIONS
    embedding_init: str = "normal"  # a key of classifier.EMBEDDING_INITIALISATIONS
    loss: str = "nll"  # a key of LOSSES

    @classmethod
    def preset(cls, task: str, **overrides) -> "ToyConfig":
        """Table 2's configuration for ``task``, with every override that is not None applied."""
        values = {k: v for k, v in PRESETS[task].items() if k != "lengths"}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(task=task, **values)


def check_memory(config: ToyConfig) -> None:
    """Refuse a configuration whose training would not fit in memory (:mod:`seqgraph.resources`)."""
    task = make_task(config.task, config.length)
    steps = task.batch(1, np.random.default_rng(0))[0].size(1)  # T
    parameters = parameter_count(lambda: build_classifier(config.model, task.num_symbols, task.num_classes,
                                                          config.hidden_size, config.embedding_dim))
    batch = max(config.batch_size, config.eval_batch_size)
    check_fits("this classifier", parameters, batch * steps * 10 * config.hidden_size)  # every step's gates, cell
    # and hidden states


def rule_fires(rule: str, accuracies: list[float]) -> bool:
    """Whether the termination rule ``rule`` holds after the training accuracies so far."""
    if rule == "literal":
        return accuracies[-1] > THRESHOLD
    return len(accuracies) >= WINDOW and min(accuracies[-WINDOW:]) > THRESHOLD


# What ToyTrainer.summary() holds, as a reference for checkpoints (None: a value that may be None)
SUMMARY = {"length": 0, "seed": 0, "stop_rule": "", "steps": 0, "termination_step": dict.fromkeys(STOP_RULES),
           "eval_accuracy_at_termination": dict.fromkeys(STOP_RULES), "eval_accuracy": 0.0, "eval_loss": 0.0,
           "final_loss": None, "final_accuracy": None, "clipped_fraction": 0.0, "max_grad_norm": None}


@dataclass
class StepRecord:
    step: int
    loss: float
    accuracy: float
    grad_norm: float  # before clipping
    clipped: bool
    fired: tuple[str, ...]  # the rules that fired at this step


class ToyTrainer:
    """Train ``config.model`` on ``config.task`` with the report's protocol; see the module docstring.

    Args:
        config: the run; ``config.seed`` fixes the initial weights and every batch.
        device: where the model lives (batches are drawn on the CPU and moved).
    """

    def __init__(self, config: ToyConfig, device: str | torch.device = "cpu"):
        if config.stop_rule not in STOP_RULES:
            raise InputError(f"ToyTrainer: unknown stop rule {config.stop_rule!r}")
        self.config = config
        self.device = torch.device(device)
        self.task = make_task(config.task, config.length)
        check_memory(config)
        seed_everything(config.seed)  # the initial weights depend on the seed alone
        if config.loss not in LOSSES:
            raise InputError(f"ToyTrainer: unknown loss {config.loss!r}; expected one of {', '.join(LOSSES)}")
        self.model = build_classifier(config.model, self.task.num_symbols, self.task.num_classes,
                                      config.hidden_size, config.embedding_dim, config.init,
                                      config.embedding_init).to(self.device)
        self.ddp_model = distributed.wrap(self.model)  # the model itself when not distributed
        self.shard = distributed.shard(config.batch_size)  # this rank's rows of every global batch
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr)
        self.data = np.random.default_rng([config.seed, 0])  # the stream of training batches
        self.step = 0
        self.history = {"loss": [], "accuracy": [], "grad_norm": []}
        self.termination = dict.fromkeys(STOP_RULES)  # rule -> step at which it fired
        self.evaluation = dict.fromkeys(STOP_RULES)  # rule -> (accuracy, loss) of the model at that step
        self.result = None  # summary() once run() has finished

    @property
    def done(self) -> bool:
        stopped = self.termination[self.config.stop_rule] is not None and not self.config.run_to_max
        return stopped or self.step >= self.config.max_steps

    def train_step(self) -> StepRecord:
        """One Adam step on a fresh batch; raises NonFiniteLossError before updating on a bad loss or gradient."""
        x, y = self.task.batch(self.config.batch_size, self.data)  # every rank draws the same global batch
        x, y = x[self.shard].to(self.device), y[self.shard].to(self.device)  # (b, T), (b,)
        log_probs = self.ddp_model(x)  # (b, C)
        loss = F.nll_loss(log_probs, y) if self.config.loss == "nll" else F.cross_entropy(log_probs.exp(), y)
        # the global batch's numbers, equal on every rank, so the stop rule fires on all at once
        stats = guarded_step(self.model, self.optimizer, loss, (log_probs.argmax(-1) == y).sum(),
                             self.config.max_norm, self.step + 1)
        loss_value, accuracy, grad_norm = stats.loss, stats.correct / self.config.batch_size, stats.grad_norm
        self.step += 1
        for name, value in (("loss", loss_value), ("accuracy", accuracy), ("grad_norm", grad_norm)):
            self.history[name].append(value)
        fired = tuple(rule for rule in STOP_RULES
                      if self.termination[rule] is None and rule_fires(rule, self.history["accuracy"]))
        for rule in fired:
            self.termination[rule] = self.step
            self.evaluation[rule] = self.evaluate()
        return StepRecord(self.step, loss_value, accuracy, grad_norm, grad_norm > self.config.max_norm, fired)

    def run(self, callback: Callable[[StepRecord], None] | None = None) -> dict:
        """Train until :attr:`done`, calling ``callback`` after every step; return :meth:`summary`, which is kept
        as :attr:`result` (a finished run restored from its checkpoint returns it without training)."""
        if self.result is None:
            while not self.done:
                record = self.train_step()
                if callback is not None:
                    callback(record)
            self.result = self.summary()
        return self.result

    @torch.no_grad()
    def evaluate(self) -> tuple[float, float]:
        """Accuracy and mean loss on ``eval_batches`` fresh batches (the same ones at every call)."""
        generator = np.random.default_rng([self.config.seed, 1])  # never drawn from by training
        correct = loss = 0.0
        for _ in range(self.config.eval_batches):
            x, y = self.task.batch(self.config.eval_batch_size, generator)
            log_probs = self.model(x.to(self.device))
            y = y.to(self.device)
            correct += (log_probs.argmax(-1) == y).sum().item()
            loss += F.nll_loss(log_probs, y, reduction="sum").item()
        count = self.config.eval_batches * self.config.eval_batch_size
        return correct / count, loss / count

    def summary(self) -> dict:
        """The run's numbers for results.json (no timings, so that equal runs give equal files)."""
        final = self.evaluation[self.config.stop_rule]
        if final is None or self.termination[self.config.stop_rule] != self.step:
            final = self.evaluate()
        grad_norm = np.array(self.history["grad_norm"])
        return {
            "length": self.config.length,
            "seed": self.config.seed,
            "stop_rule": self.config.stop_rule,
            "steps": self.step,
            "termination_step": dict(self.termination),
            "eval_accuracy_at_termination": {r: e[0] if e else None for r, e in self.evaluation.items()},
            "eval_accuracy": final[0],
            "eval_loss": final[1],
            "final_loss": self.history["loss"][-1] if self.step else None,
            "final_accuracy": self.history["accuracy"][-1] if self.step else None,
            "clipped_fraction": float(np.mean(grad_norm > self.config.max_norm)) if self.step else 0.0,
            "max_grad_norm": float(grad_norm.max()) if self.step else None,
        }

    def state_dict(self) -> dict:
        """The checkpoint: everything needed to continue exactly, tensors and primitives only (safe to load).

        Its layout is the one seqgraph has always written (the run's state under ``"trainer"``), so that older
        checkpoints still resume.
        """
        return {
            "kind": KIND,
            "config": dataclasses.asdict(self.config),
            "trainer": {
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "step": self.step,
                "history": {k: torch.tensor(v, dtype=torch.float64) for k, v in self.history.items()},
                "termination": dict(self.termination),
                "evaluation": {r: list(e) if e else None for r, e in self.evaluation.items()},
                "data": self.data.bit_generator.state,
                "world_size": distributed.world_size(),
            },
            "rng": rng_state(),
            "summary": self.result,
        }

    def load_state_dict(self, ckpt: dict, path: str = "checkpoint") -> None:
        """Continue from ``ckpt``; a checkpoint of another kind, configuration or number of processes is refused."""
        config = dataclasses.asdict(self.config)
        checkpoint.check_compatible(ckpt, KIND, config, tuple(config), path)
        # the parts training fills in are checked below; the random states by numpy and set_rng_state
        reference = self.state_dict()
        checkpoint.check_like(ckpt, {**reference, "config": None, "rng": None, "summary": None, "trainer": {
            **reference["trainer"], "optimizer": None, "history": dict.fromkeys(self.history), "data": None,
            "termination": dict.fromkeys(STOP_RULES, None), "evaluation": dict.fromkeys(STOP_RULES, None)}}, path)
        state = ckpt["trainer"]
        distributed.check_world_size(state["world_size"], path)
        step = state["step"]
        if not 0 <= step <= self.config.max_steps:
            raise InputError(f"{path}: step {step} is outside 0..{self.config.max_steps}")
        for key in self.history:
            checkpoint.check_like(state["history"][key], torch.zeros(step, dtype=torch.float64), path,
                                  f"trainer['history'][{key!r}]")
        for rule in STOP_RULES:  # a rule that fired has a step of the run and the evaluation made then
            fired, evaluation = state["termination"][rule], state["evaluation"][rule]
            if (fired is None) != (evaluation is None) or fired is not None and not (
                    type(fired) is int and 0 < fired <= step):
                raise InputError(f"{path}: the {rule} rule's termination step {fired!r} is not one of the run's")
            if evaluation is not None:
                checkpoint.check_like(evaluation, [0.0, 0.0], path, f"trainer['evaluation'][{rule!r}]")
        if ckpt["summary"] is not None:
            checkpoint.check_like(ckpt["summary"], SUMMARY, path, "summary")
        checkpoint.load_adam(self.optimizer, state["optimizer"], path)
        with checkpoint.complete(path):
            self.model.load_state_dict(state["model"])
            self.data.bit_generator.state = state["data"]
            set_rng_state(ckpt["rng"])
        self.step = step
        self.history = {k: v.tolist() for k, v in state["history"].items()}
        self.termination = dict(state["termination"])
        self.evaluation = {r: tuple(e) if e else None for r, e in state["evaluation"].items()}
        self.result = ckpt["summary"]


def aggregate(summaries: list[dict], task: str, model: str) -> dict:
    """Per length: mean and sample std over seeds of the termination steps and eval accuracy."""
    by_length: dict[int, list[dict]] = {}
    for s in summaries:
        by_length.setdefault(s["length"], []).append(s)
    report = REPORT_TERMINATION_STEPS.get((task, model), {})
    out = {}
    for length, runs in sorted(by_length.items()):
        steps = {rule: [r["termination_step"][rule] for r in runs] for rule in STOP_RULES}
        out[str(length)] = {
            "seeds": [r["seed"] for r in runs],
            "termination_step": {rule: mean_std([s for s in v if s is not None]) | {
                "reached": sum(s is not None for s in v)} for rule, v in steps.items()},
            "eval_accuracy": mean_std([r["eval_accuracy"] for r in runs]),
            "report_termination_step": report.get(length),
        }
    return out

