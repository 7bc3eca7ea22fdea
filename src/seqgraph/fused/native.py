r"""The compiled time loops (``loops.cpp``): built on first use, cached, and the Python loops where they cannot be.

Each function of :mod:`seqgraph.fused` runs its loop over time either in Python, one torch operation after
another on the whole batch, or in one call of ``loops.cpp`` per sequence, which does the same operations in the
same order row by row and gives the same numbers bit for bit (the tests check it). The C++ loop saves, at every
step, Python, a dispatch and a pass over memory per operation (about ten of them), and with two threads the
meeting of the threads around each operation: each thread runs a block of the batch's rows through all steps
(torch's OpenMP threads, so ``loops.cpp`` is compiled with ``-fopenmp``; :func:`loop_threads` says how many).

:func:`backend` says which one runs: ``"native"`` or ``"python"``. The Python loops run where

- the environment variable ``SEQGRAPH_FUSED`` is ``python`` (any other value leaves the choice to this module);
- the extension cannot be built or loaded (no C++ compiler, a broken toolchain, a read-only cache): one
  warning, then the Python loops for the rest of the process (a compiler without OpenMP builds the loops to run on
  one thread, after a warning that says so);
- the tensors are not float32 or float64 on the CPU (:func:`runs`).

Nothing is built when seqgraph is imported: the first loop builds the extension with
``torch.utils.cpp_extension`` (about 12 s of one core; g++ and ninja) into ``TORCH_EXTENSIONS_DIR`` (by default
``~/.cache/torch_extensions``) under a name that holds a hash of the source, the flags and torch's version, and
every later process loads that file (milliseconds). Each build runs in its own temporary folder and is moved into
place when complete, so processes that start at once never wait on each other's lock, and one killed while
building leaves nothing half-written behind. A changed ``loops.cpp`` builds under a new name; the old files stay
in the cache (about 250 KB each) until it is cleared.
"""

import contextlib
import hashlib
import os
import shutil
import tempfile
import threading
import warnings
from pathlib import Path

import torch

ENVIRONMENT = "SEQGRAPH_FUSED"
SOURCE = Path(__file__).with_name("loops.cpp")

# torch's elementwise kernels run the vectorised code of the CPU's capability; the loops are compiled for the same
# one, so that they compute with the same instructions (Sleef's exp of that width among them)
_CAPABILITY_FLAGS = {
    "AVX512": ["-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mfma", "-DCPU_CAPABILITY_AVX512"],
    "AVX2": ["-mavx2", "-mfma", "-DCPU_CAPABILITY_AVX2"],
}

# what a compiler says when it cannot build with OpenMP (the command lines it echoes hold "-fopenmp" anyway): clang
# without the flag, a missing header, a missing runtime library
_NO_OPENMP = ("unsupported option '-fopenmp'", "omp.h", "-lgomp", "-lomp")

_loaded: bool | None = None  # None until the first call of available()
_first_call = threading.Lock()  # threads starting at once build and load the library once


def available() -> bool:
    """Whether the compiled loops are loaded, building them on the first call (see the module docstring)."""
    global _loaded
    with _first_call:
        if _loaded is None:
            _loaded = os.environ.get(ENVIRONMENT, "").lower() != "python" and _load()
    return _loaded


def backend() -> str:
    """``"native"`` where the loops of float32 and float64 CPU tensors run compiled, ``"python"`` where not."""
    return "native" if available() else "python"


def runs(x: torch.Tensor) -> bool:
    """Whether the loop over ``x`` runs compiled: float32 or float64 on the CPU, and :func:`available`."""
    return x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64) and available()


@contextlib.contextmanager
def python_loops():
    """Run the Python loops inside the ``with`` block whatever :func:`backend` says: to compare the two."""
    global _loaded
    saved, _loaded = available(), False
    try:
        yield
    finally:
        _loaded = saved


def loop_threads() -> int:
    """How many threads a compiled loop shares its batch between now: ``torch.get_num_threads()``, as long as the
    loops were built with OpenMP (without it ``at::parallel_for`` runs them on one thread, silently)."""
    return ops().loop_threads(torch.get_num_threads())


def ops():
    """The compiled loops, ``torch.ops.seqgraph_fused``; only after :func:`available` returned True."""
    return torch.ops.seqgraph_fused


def _load() -> bool:
    try:
        try:
            _load_or_build(openmp=True)
        except Exception as e:  # a compiler without OpenMP (Apple's clang, for one): the loops on one thread
            if not any(sign in str(e) for sign in _NO_OPENMP):
                raise
            warnings.warn("seqgraph.fused: the C++ loops run on one thread, the compiler has no OpenMP", RuntimeWarning,
                          stacklevel=4)
            _load_or_build(openmp=False)
        return True
    except Exception as e:  # no compiler, a failed compile or link, an unwritable cache: the Python loops instead
        reason = (str(e).strip().splitlines() or [""])[0][:300]
        warnings.warn(f"seqgraph.fused: running the Python loops, the C++ loops did not build "
                      f"({type(e).__name__}: {reason}); SEQGRAPH_FUSED=python skips the attempt", RuntimeWarning,
                      stacklevel=4)  # the autograd function that asked first
        return False


def _load_or_build(openmp: bool) -> None:
    """Load the compiled loops from the cache, building them there first if it does not hold them; ``openmp``:
    with torch's OpenMP threads (:func:`loop_threads`)."""
    from torch.utils import cpp_extension  # imports setuptools: only where a build may be needed

    capability = torch.backends.cpu.get_cpu_capability()
    openmp_flags = ["-fopenmp"] if openmp else []  # compiling and linking
    flags = ["-O3", "-ffp-contract=off", *openmp_flags,
             f"-DCPU_CAPABILITY={capability if capability in _CAPABILITY_FLAGS else 'DEFAULT'}",
             *_CAPABILITY_FLAGS.get(capability, [])]
    key = hashlib.sha256(b"\0".join([SOURCE.read_bytes(), torch.__version__.encode(), *map(str.encode, flags)]))
    name = f"seqgraph_fused_{key.hexdigest()[:16]}"
    root = Path(os.environ.get("TORCH_EXTENSIONS_DIR") or cpp_extension.get_default_build_root()) / "seqgraph_fused"
    library = root / f"{name}{cpp_extension.LIB_EXT}"
    if library.exists():
        torch.ops.load_library(library)
        return
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root) as build:
        # torch names the library after the build; the source goes along under that name
        source = Path(build) / f"{name}.cpp"
        shutil.copyfile(SOURCE, source)
        with _ninja_on_path():
            cpp_extension.load(name, [str(source)], extra_cflags=flags, extra_ldflags=openmp_flags,
                               build_directory=build, is_python_module=False)
        os.replace(Path(build) / library.name, library)  # loaded already; in place for the next process


@contextlib.contextmanager
def _ninja_on_path():
    """The ``ninja`` package's binary first on ``PATH`` while building: a virtual environment used without
    activating it has it installed but not on ``PATH``, where torch looks for it."""
    try:
        import ninja
    except ImportError:  # a system ninja may still be on PATH
        yield
        return
    saved = os.environ.get("PATH", "")
    os.environ["PATH"] = ninja.BIN_DIR + os.pathsep + saved
    try:
        yield
    finally:
        os.environ["PATH"] = saved
