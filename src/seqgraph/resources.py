"""Whether a configuration fits in this machine's memory, decided before anything is allocated.

A model is built once on PyTorch's ``meta`` device, which allocates nothing, to count its parameters. Training
with Adam keeps four float32 copies of them (weights, gradients, two moments); the activations a training step
keeps for backward are the caller's estimate. A configuration that needs more than the machine's physical memory
is refused with the estimate, instead of failing inside an allocation (or being killed by the operating system). The
same holds for the arrays a data file implies (a TU dataset's one-hot labels, a graph's edges): their size is known
after a cheap pass over the file and checked with :func:`check_allocation` before they are made.
"""

import os
import resource
import shutil
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from .errors import InputError

BYTES_PER_PARAMETER = 4 * 4  # float32 weights, gradients and Adam's two moments


def physical_memory() -> int:
    """Bytes of memory this process may use: the machine's, or less where a limit is set (a container's or
    ``systemd-run -p MemoryMax``'s cgroup, ``ulimit -v``), which the operating system enforces by killing the
    process or failing an allocation."""
    return min(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"), *_limits())


def _limits() -> list[int]:
    limits = []
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):  # cgroup v2, v1
        try:
            limits.append(int(Path(path).read_text()))
        except (OSError, ValueError):  # no such cgroup, or "max"
            pass
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:  # address space: what this process maps already counts against it
        try:
            mapped = int(Path("/proc/self/statm").read_text().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            mapped = 0
        limits.append(soft - mapped)
    return limits


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
                         f"{activations:,} activations per step), more than {_memory(have)}")


def check_disk(what: str, need: int, folder: str | os.PathLike) -> None:
    """Refuse ``what`` if its ``need`` bytes would not fit on the disk of ``folder`` (or of its nearest existing
    parent), before anything is written."""
    path = Path(folder).absolute()
    while not path.exists():
        path = path.parent
    free = shutil.disk_usage(path).free
    if need > free:
        raise InputError(f"{what} needs about {need / 2**30:,.1f} GiB of disk, more than the {free / 2**30:,.1f} GiB "
                         f"free under {path}")


def check_allocation(what: str, need: int) -> None:
    """Refuse ``what`` if its ``need`` bytes of arrays exceed the memory (:func:`physical_memory`)."""
    have = physical_memory()
    if need > have:
        raise InputError(f"{what} needs about {need / 2**30:,.1f} GiB of memory, more than {_memory(have)}")


def check_graph_model_fits(what: str, build: Callable[[], nn.Module], num_nodes: int, num_edges: int) -> None:
    """:func:`check_fits` for a graph network trained on ``num_nodes`` nodes and ``num_edges`` edges at once.

    Its activations are estimated from the model built on ``meta``: for every weight matrix, a few numbers of its
    larger side per node and per edge (a layer's output per node; GAT's messages per edge and head).
    """
    with torch.device("meta"):
        parameters = list(build().parameters())
    widths = sum(max(p.shape) for p in parameters if p.dim() >= 2)
    check_fits(what, sum(p.numel() for p in parameters), 4 * (num_nodes + num_edges) * widths)


def _memory(have: int) -> str:
    machine = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return f"this machine's {have / 2**30:,.1f} GiB" + (" (the limit set for this process)" if have < machine else "")
