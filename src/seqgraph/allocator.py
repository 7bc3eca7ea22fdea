"""Keep freed memory in the process, so that a training loop does not page-fault its buffers in every step.

PyTorch's CPU tensors come from the C library's ``malloc``. glibc serves a request of at least its mmap threshold
with a fresh ``mmap`` and unmaps it when it is freed; it starts at 128 KiB and rises to the size of the largest
such block freed so far (up to 32 MiB), and its trim threshold follows at twice that: once more than the trim
threshold lies free at the top of the heap, glibc gives it back to the system (``mallopt(3)``). A training step
that frees more than twice its largest buffer at once (the gates of a recurrent layer over all its steps, their
gradients, a batch's gathered features) therefore returns its memory at the end of every step, and the next
step takes every page back with a page fault on first touch; on a virtual machine that costs more than writing
the page. Measured on this project's 2-core machine (``benchmarks/allocator.py``, ``benchmarks/results/
allocator.json``): a step that allocates six 16 MiB tensors and one of 1 MiB and frees them takes 24,544 page
faults (96 MiB) in every step that follows a trim, and how many steps do depends on the heap's layout; with the
settings below, none. The character model with our LSTM trained about 10% faster, with ``torch.nn.LSTM`` about as
fast.

:func:`keep_freed_memory` sets the mmap threshold to glibc's largest (32 MiB), so that blocks below it come from
the heap and stay there when freed, and the trim threshold to 1 GiB, so that freed heap memory is kept for the
next step. Blocks of 32 MiB or more are still mapped and unmapped each time. Memory a process has freed stays
counted in its resident size, up to 1 GiB more than it holds; its peak is unchanged. PyTorch's performance
guide reaches for the same effect by swapping in jemalloc or tcmalloc.

Called once by the command line (:func:`seqgraph.cli.main`); a no-op where the C library is not glibc.
"""

import ctypes
import ctypes.util
import functools

M_TRIM_THRESHOLD = -1  # mallopt's parameter numbers, from glibc's <malloc.h>
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20  # the largest glibc accepts on 64-bit systems (HEAP_MAX_SIZE / 2)
TRIM_THRESHOLD = 1 << 30


@functools.cache
def keep_freed_memory() -> bool:
    """Set glibc's mmap and trim thresholds (see the module docstring); False where there is no glibc
    ``mallopt`` or it refused either setting."""
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError, TypeError):  # not glibc (musl has no mallopt), or no C library found
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    accepted = [mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD), mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)]
    return all(accepted)
