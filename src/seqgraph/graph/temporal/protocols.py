r"""The benchmark protocols: how a series is split into windows, scaled, trained on and scored.

Each protocol is the one of the paper whose numbers it is compared with, read from its authors' code; every detail
is named where it is implemented and tested on hand-made arrays.

- ``tgcn-paper`` (Zhao et al. 2019, lehaifeng/T-GCN): the series divided by its maximum (**test part included**);
  split chronologically 80/20 **into parts**, windows built inside each part (a part of ``L`` steps gives
  ``L - P - H`` windows: the authors' loop stops one window short); loss
  :math:`\frac12 \sum (\hat y - y)^2 + \lambda \frac12 \sum \theta^2`, summed over the batch, :math:`\lambda =
  0.0015` over every weight and bias; batches in order, the last partial batch dropped; metrics pooled over all
  steps up to the horizon (:func:`~seqgraph.graph.temporal.metrics.tgcn_errors`); the reported epoch is **the one
  with the lowest test RMSE**. There is no validation set, so the test set chooses the epoch: optimistic, labelled so.
- ``tgcn-honest``: the same model and loss, but a validation part carved from the training part (70/10/20 of the
  steps, the test part unchanged), the maximum of the training part alone, the epoch chosen by validation RMSE, and
  the metrics also at the horizon step itself.
- ``dcrnn`` (Li et al. 2018, liyaguang/DCRNN ``generate_training_data.py`` and ``lib/``): windows over the whole
  series, split **by sample index** 70/10/20 (test ``round(0.2 S)``, train ``round(0.7 S)``, validation the rest:
  23,974 / 3,425 / 6,850 on METR-LA); one scalar mean and standard deviation of the training inputs, **zeros
  included** (every step counted as often as training windows hold it); masked MAE on de-normalised values as the
  loss; MAE, RMSE and MAPE at each horizon step with zeros masked; the epoch of the lowest validation loss.
- ``pygt`` (PyTorch Geometric Temporal's documented examples): lags as the window, one step ahead, the first
  ``train`` share of the windows for training and the rest for testing; the values as its loader gives them
  (already standardised); mean squared error, the whole training set as one batch per epoch; the last epoch.
"""

from dataclasses import dataclass

import torch
from torch import Tensor

from ...errors import InputError
from .data import TemporalSignal

PROTOCOLS = ("tgcn-paper", "tgcn-honest", "dcrnn", "pygt")


@dataclass(frozen=True)
class Splits:
    """Window start indices of each split (``val`` may be empty)."""

    train: Tensor
    val: Tensor
    test: Tensor

    def sizes(self) -> dict[str, int]:
        return {name: getattr(self, name).numel() for name in ("train", "val", "test")}


def part_windows(lo: int, hi: int, window: int, horizon: int) -> Tensor:
    """T-GCN's windows inside the part ``[lo, hi)``: ``hi - lo - P - H`` of them, none crossing the part's end
    (the authors' ``range(len(part) - seq_len - pre_len)``, one fewer than would fit)."""
    return torch.arange(lo, max(lo, hi - window - horizon))


def split_parts(num_steps: int, window: int, horizon: int, train: float, val: float) -> Splits:
    """Chronological parts ``[0, train T)``, ``[train T, (train + val) T)``, the rest, windows inside each."""
    a, b = int(num_steps * train), int(num_steps * (train + val))
    return Splits(part_windows(0, a, window, horizon), part_windows(a, b, window, horizon),
                  part_windows(b, num_steps, window, horizon))


def split_samples(num_windows: int, train: float, test: float) -> Splits:
    """DCRNN's split of the windows ``0 .. S - 1`` by index: ``round(train S)`` first, ``round(test S)`` last, the
    validation windows between (PyTorch Geometric Temporal's ``temporal_signal_split`` is ``int(train S)`` with
    ``test = 1 - train``; :func:`split_first` does that)."""
    n_test, n_train = round(test * num_windows), round(train * num_windows)
    index = torch.arange(num_windows)
    return Splits(index[:n_train], index[n_train:num_windows - n_test], index[num_windows - n_test:])


def split_first(num_windows: int, train: float, val: float = 0.0) -> Splits:
    """The first ``int(train S)`` windows for training (PyTorch Geometric Temporal), the last ``int(val S)`` of
    those held out for validation when ``val > 0``, the rest for testing."""
    n_train = int(train * num_windows)
    n_val = int(val * num_windows)
    index = torch.arange(num_windows)
    return Splits(index[:n_train - n_val], index[n_train - n_val:n_train], index[n_train:])


def input_step_counts(starts: Tensor, window: int, num_steps: int) -> Tensor:
    """How many of the windows starting at ``starts`` hold each step among their inputs ``(T,)``: the weight of a
    step in statistics taken over the stacked inputs, as DCRNN's scaler is."""
    counts = torch.zeros(num_steps + 1)
    counts.index_add_(0, starts, torch.ones(starts.numel()))
    counts.index_add_(0, starts + window, -torch.ones(starts.numel()))
    return counts.cumsum(0)[:num_steps]


@dataclass(frozen=True)
class Scaler:
    """``scaled = (x - shift) / scale``; ``inverse`` undoes it."""

    shift: float
    scale: float

    def __call__(self, x: Tensor) -> Tensor:
        return (x - self.shift) / self.scale

    def inverse(self, x: Tensor) -> Tensor:
        return x * self.scale + self.shift


def fit_scaler(protocol: str, signal: TemporalSignal, splits: Splits, window: int) -> Scaler:
    """The scaler of ``protocol`` (see the module docstring), from the steps it is allowed to see."""
    values = signal.values.double()
    if protocol == "tgcn-paper":
        return Scaler(0.0, float(values.max()))  # the whole series: the test part included, as the authors do
    if protocol == "tgcn-honest":
        last = int(splits.train.max()) + window if splits.train.numel() else 1
        return Scaler(0.0, float(values[:last].max()))  # the training part's steps only
    if protocol == "dcrnn":
        weight = input_step_counts(splits.train, window, signal.num_steps).double()  # (T,)
        total = weight.sum() * signal.num_nodes
        mean = float((values * weight[:, None]).sum() / total)  # zeros (missing readings) included
        std = float(((values - mean).square() * weight[:, None]).sum().div(total).sqrt())
        return Scaler(mean, std if std > 0 else 1.0)
    return Scaler(0.0, 1.0)  # pygt: the loader's values as they are


def make_splits(protocol: str, signal: TemporalSignal, window: int, horizon: int, train_share: float) -> Splits:
    """The windows of each split under ``protocol``; ``train_share`` is PyTorch Geometric Temporal's ratio."""
    if protocol == "tgcn-paper":
        splits = split_parts(signal.num_steps, window, horizon, 0.8, 0.0)
    elif protocol == "tgcn-honest":
        splits = split_parts(signal.num_steps, window, horizon, 0.7, 0.1)
    elif protocol == "dcrnn":
        splits = split_samples(signal.count_windows(signal.num_steps, window, horizon), 0.7, 0.2)
    elif protocol == "pygt":
        splits = split_first(signal.count_windows(signal.num_steps, window, horizon), train_share)
    else:
        raise InputError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    for name, size in splits.sizes().items():
        if size == 0 and (name != "val" or protocol in ("tgcn-honest", "dcrnn")):
            raise InputError(f"{signal.name} ({signal.num_steps} steps) leaves no {name} windows of {window} inputs "
                             f"and {horizon} steps ahead under the {protocol} protocol")
    return splits
