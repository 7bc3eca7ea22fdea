"""The optimiser step every trainer takes, with the checks that keep a checkpoint worth resuming.

One step of :func:`guarded_step`: the global batch's loss and number of correct predictions (summed over the
torchrun processes, so every process sees the same numbers and stop rules fire everywhere at once), a check
that the loss is finite, ``backward()``, clipping to a global L2 norm, a check that the norm is finite, and the
update. A non-finite loss or gradient raises :class:`~seqgraph.errors.NonFiniteLossError` *before* the optimiser
writes it into the weights, so the last checkpoint and the weights in memory stay good.
"""

import math
from dataclasses import dataclass

import torch
from torch import nn

from . import distributed
from .errors import NonFiniteLossError


@dataclass
class StepStats:
    loss: float  # the global batch's mean loss
    correct: float  # correct predictions in the global batch
    grad_norm: float  # before clipping


def guarded_step(model: nn.Module, optimizer: torch.optim.Optimizer, loss: torch.Tensor, correct: torch.Tensor,
                 max_norm: float, step: int) -> StepStats:
    """Backward, clip to ``max_norm`` and update; ``step`` is the number of the step being taken (for messages).

    ``loss`` is this process's mean loss over its slice of the global batch, ``correct`` its count of correct
    predictions; ``model`` is the unwrapped module whose parameters are clipped.
    """
    loss_sum, correct_sum = distributed.sum_over_ranks(
        torch.stack([loss.detach().double(), correct.double()])).tolist()
    loss_value = loss_sum / distributed.world_size()
    if not math.isfinite(loss_value):
        raise NonFiniteLossError(step, loss_value)
    for group in optimizer.param_groups:  # a schedule can drive it past what the optimiser's float32 arithmetic holds
        if not abs(group["lr"]) <= torch.finfo(torch.float32).max:
            raise NonFiniteLossError(step, group["lr"], quantity="learning rate")
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm).item()
    if not math.isfinite(grad_norm):  # the optimiser would write it into the weights
        raise NonFiniteLossError(step, grad_norm, quantity="gradient norm")
    optimizer.step()
    return StepStats(loss_value, correct_sum, grad_norm)
