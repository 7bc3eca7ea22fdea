r"""Data-parallel training on PyTorch's own engine: torch.distributed and DistributedDataParallel.

``torchrun --nproc_per_node=N -m seqgraph ...`` starts N processes and gives each ``RANK``, ``WORLD_SIZE``
and ``LOCAL_RANK``; :func:`setup` joins them into a process group (``nccl`` when training on CUDA, one GPU
per process, ``gloo`` on the CPU). Without torchrun every function here is a no-op for one process.

Global batch semantics: every rank draws the same seeded global batch of :math:`B` examples and trains
on its own slice of :math:`b = B / W` rows (:func:`shard`), so the data a run sees does not depend on
the world size :math:`W`. DistributedDataParallel all-reduces the gradients during ``backward()`` and
divides them by :math:`W`. With equal slices and a loss that is the mean over the slice, that average is
the gradient of the global batch's mean loss, as one process with batch :math:`B` computes it:

.. math::
    \frac{1}{W} \sum_{r=1}^{W} \nabla \frac{1}{b} \sum_{i \in S_r} \ell_i
    = \nabla \frac{1}{B} \sum_{i=1}^{B} \ell_i

``backward()`` returns only once the all-reduce is done, so clipping by global norm afterwards sees
the averaged gradient, the same on every rank and the same as in one process; the optimisers then take
the same step everywhere and the replicas stay equal. The results agree with one process to
floating-point rounding (the sums are taken in another order), not bitwise.
"""

import gc
import os
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from .errors import InputError

T = TypeVar("T")


def setup(device: torch.device) -> torch.device:
    """Join torchrun's process group when launched by it; return the device this process computes on.

    On CUDA each process takes the GPU of its ``LOCAL_RANK``.
    """
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ or dist.is_initialized():
        return device
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device


def cleanup() -> None:
    """Leave the process group (a no-op when there is none), and free it now.

    DistributedDataParallel sits in reference cycles and keeps the process group alive after
    ``destroy_process_group``, so without a collection here the group is freed at interpreter shutdown, where
    a gloo worker thread that still holds a tensor cannot take the GIL and the process aborts (SIGABRT).
    Call it once the objects that trained are unreachable (:func:`session` does, around a function's work).
    """
    if dist.is_initialized():
        dist.destroy_process_group()
        gc.collect()


@contextmanager
def session(device: torch.device) -> Iterator[torch.device]:
    """:func:`setup` on the way in, :func:`cleanup` on the way out, whatever happens in between. An error on the
    way lets go of the local variables of the frames it passed through before :func:`cleanup`, so that the
    objects that trained are freed with the process group rather than at interpreter shutdown (the traceback's
    lines are kept)."""
    try:
        yield setup(device)
    except BaseException as error:
        traceback.clear_frames(error.__traceback__)
        raise
    finally:
        cleanup()


def is_distributed() -> bool:
    return dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    """Rank 0: the process that logs, plots and writes files."""
    return rank() == 0


def shard(batch_size: int) -> slice:
    """The rows of a global batch of ``batch_size`` that this rank trains on."""
    size = world_size()
    if batch_size % size:
        raise InputError(f"the batch of {batch_size} is the global batch, split equally across the {size} "
                         f"processes: make it a multiple of {size}")
    local = batch_size // size
    return slice(rank() * local, (rank() + 1) * local)


def part(size: int) -> slice:
    """This rank's contiguous part of a global batch of ``size`` rows, for a batch that need not split equally (the
    last, shorter batch of an epoch): parts of ``ceil(size / W)`` rows, the last ones shorter or empty."""
    local = -(-size // world_size())
    start = min(size, rank() * local)
    return slice(start, min(size, start + local))


def check_world_size(saved: int, path) -> None:
    """Refuse to resume a checkpoint written by another number of processes.

    The summation order of the all-reduce and each rank's random state (dropout) depend on it, so only
    the same number continues a run exactly.
    """
    if saved != world_size():
        raise InputError(f"{path} was written by a run of {saved} process{'es' * (saved != 1)}; resume it with "
                         f"the same number (torchrun --nproc_per_node={saved}), not {world_size()}")


def wrap(model: torch.nn.Module) -> torch.nn.Module:
    """The model in DistributedDataParallel (which copies rank 0's parameters to every rank); itself alone.

    Keep the unwrapped model for ``state_dict()``, evaluation and sampling: checkpoints then hold no
    ``module.`` prefixes.
    """
    if not is_distributed():
        return model
    device = next(model.parameters()).device
    return DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)


def sum_over_ranks(tensor: torch.Tensor) -> torch.Tensor:
    """The element-wise sum of ``tensor`` over all ranks (a detached copy; ``tensor`` itself alone)."""
    if not is_distributed():
        return tensor
    total = tensor.detach().clone()
    dist.all_reduce(total)
    return total


def any_rank(flag: bool) -> bool:
    """Whether ``flag`` is true on some rank, so that all ranks take the same decision (e.g. to stop)."""
    if not is_distributed():
        return flag
    return bool(sum_over_ranks(torch.tensor([float(flag)], device=_collective_device())).item())


def gather(obj: T) -> list[T]:
    """``obj`` of every rank, in rank order, on every rank (``[obj]`` for one process)."""
    if not is_distributed():
        return [obj]
    out = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def main_first(fn: Callable[[], T], others: bool = True) -> T | None:
    """Call ``fn`` on rank 0, then (if ``others``) on the other ranks; ``None`` on ranks that did not call it.

    Rank 0 creates what the others then read (an output folder, a cache). An InputError on rank 0 is
    raised on every rank, so that all of them exit alike instead of waiting for a rank that is gone.
    """
    if not is_distributed():
        return fn()
    result, error = None, [None]
    if is_main():
        try:
            result = fn()
        except InputError as e:
            error = [str(e)]
    dist.broadcast_object_list(error, src=0)
    if error[0] is not None:
        raise InputError(error[0])
    if others and not is_main():
        result = fn()
    return result


def _collective_device() -> torch.device:
    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")
