"""Whether a configuration fits in this machine's memory, decided before anything is allocated.

A model is built once on PyTorch's ``meta`` device, which allocates nothing, to count its parameters. Training
with Adam keeps four float32 copies of them (weights, gradients, two moments); the activations a training step
keeps for backward are the caller's estimate. A configuration that needs more than the machine's physical memory
is refused with the estimate, instead of failing inside an allocation (or being killed by the operating system).
"""

import os
from collections.abc import Callable

import torch
from torch import nn

from .errors import InputError

BYTES_PER_PARAMETER = 4 * 4  # float32 weights, gradients and Adam's two moments


def physical_memory() -> int:
    """Bytes of memory of this machine."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def parameter_count(build: Callable[[], nn.Module]) -> int:
    """The number of parameters of ``build()``, counted without allocating them."""
    with torch.device("meta"):
        return sum(p.numel() for p in build().parameters())


def check_fits(what: str, parameters: int, activations: int) -> None:
    """Refuse ``what`` if its ``parameters`` trained with Adam and ``activations`` float32 numbers need more than
    the machine's memory."""
    need = BYTES_PER_PARAMETER * parameters + 4 * activations
    have = physical_memory()
    if need > have:
        raise InputError(f"{what} needs about {need / 2**30:,.1f} GiB of memory to train ({parameters:,} parameters, "
                         f"{activations:,} activations per step), more than this machine's {have / 2**30:,.1f} GiB")
