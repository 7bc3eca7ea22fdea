r"""Scoring a text: the standard left-to-right loss, and the per-window loss of training's windows.

The loss is the cross-entropy of predicting every character of ``data`` but the first from those before it
(:ref:`eq. (42)-(43) <eq-loss>`), in nats per character; bits per character are nats / ln 2.

- :func:`stream_score`, the standard figure of character-level language modelling (as char-rnn and the
  literature report it): the text read left to right in one pass, the state carried from window to window.
  The window only bounds memory; the result is that of one unbroken pass over the whole text.
- :func:`window_score`: the text cut into consecutive windows of the training length ``T``, each read from a
  zero state as random-window training sees them. It is higher: the first characters of every window are
  predicted with little context.
"""

import math

import numpy as np
import torch
import torch.nn.functional as F

from .. import threads
from .model import CharLM

STREAM_WINDOW = 1024  # characters per forward call of the left-to-right pass (memory only)


def _totals(model: CharLM, x: torch.Tensor, y: torch.Tensor, state=None):
    logits, state = model(x, state)  # (b, T, V)
    loss = F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="sum").item()
    return loss, (logits.argmax(-1) == y).sum().item(), state


def _result(total_loss: float, total_correct: int, n: int) -> dict:
    loss = total_loss / n
    return {"loss": loss, "bits": loss / math.log(2), "acc": total_correct / n}


def _window(data: np.ndarray, starts: np.ndarray, length: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    index = starts[:, None] + np.arange(length + 1)  # (b, T + 1)
    window = torch.from_numpy(np.asarray(data[index], dtype=np.int64)).to(device)
    return window[:, :-1], window[:, 1:]


@torch.no_grad()
def stream_score(model: CharLM, data: np.ndarray, window: int = STREAM_WINDOW) -> dict:
    """Loss, bits and accuracy over ``data`` read left to right in one pass, the state carried across windows."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    n = len(data) - 1  # targets
    total_loss, total_correct, state = 0.0, 0, None
    with threads.for_work(threads.recurrent_work(1, model.config.hidden_size)):  # one row: small products
        for start in range(0, n, window):
            x, y = _window(data, np.array([start]), min(window, n - start), device)  # (1, T)
            loss, correct, state = _totals(model, x, y, state)
            total_loss, total_correct = total_loss + loss, total_correct + correct
    model.train(was_training)
    return _result(total_loss, total_correct, n)


@torch.no_grad()
def window_score(model: CharLM, data: np.ndarray, seq_len: int, batch_size: int = 256) -> dict:
    """Loss, bits and accuracy over consecutive windows of ``seq_len`` inputs, each from a zero state.

    Every character but the first is a target exactly once (the last window may be shorter).
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    n = len(data) - 1  # targets
    total_loss, total_correct = 0.0, 0
    starts = np.arange(0, n, seq_len)
    full, tail = starts[: n // seq_len], starts[n // seq_len:]
    chunks = [(full[i: i + batch_size], seq_len) for i in range(0, len(full), batch_size)]
    with threads.for_work(threads.recurrent_work(min(batch_size, len(full) or 1), model.config.hidden_size)):
        for chunk_starts, length in chunks + [(tail, n - n // seq_len * seq_len)]:
            if len(chunk_starts) == 0 or length == 0:
                continue
            loss, correct, _ = _totals(model, *_window(data, chunk_starts, length, device))
            total_loss, total_correct = total_loss + loss, total_correct + correct
    model.train(was_training)
    return _result(total_loss, total_correct, n)


def score(model: CharLM, data: np.ndarray, seq_len: int) -> dict:
    """Both figures: ``loss``, ``bits``, ``acc`` left to right, and ``window_loss``, ``window_bits`` per window."""
    windows = window_score(model, data, seq_len)
    return {**stream_score(model, data), "window_loss": windows["loss"], "window_bits": windows["bits"]}
