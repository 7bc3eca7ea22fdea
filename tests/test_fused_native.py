"""How seqgraph.fused chooses its loops: the C++ ones, built once and cached, or the Python ones, which run where the
C++ ones cannot be built or are refused. (test_fused.py ties both to the cells, gradcheck and each other.)"""

import os
import subprocess
import sys

import pytest
import torch

from seqgraph import fused
from seqgraph.fused import native
from seqgraph.recurrent import LSTM

# a layer's forward pass in a fresh process, which prints the backend and whether seqgraph's import built anything
CHILD = """
import torch
from seqgraph import fused
from seqgraph.fused import native
from seqgraph.recurrent import LSTM
built_at_import = native._loaded is not None
torch.manual_seed(0)
outputs, _ = LSTM(3, 4)(torch.randn(2, 5, 3))
print(fused.backend(), built_at_import, outputs.sum().item())
"""


def child(**env):
    """Run CHILD with ``env`` added to the environment; its stdout's fields and its stderr."""
    proc = subprocess.run([sys.executable, "-c", CHILD], env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=300, check=True)
    backend, built_at_import, total = proc.stdout.split()
    return backend, built_at_import == "True", float(total), proc.stderr


def test_backend_says_which_loops_run():
    assert fused.backend() == ("native" if native.available() else "python")


@pytest.mark.skipif(not native.available(), reason="the C++ loops did not build here")
def test_the_compiled_loops_share_the_batch_between_threads(one_thread):
    # built without OpenMP, at::parallel_for would run every block on the calling thread, whatever torch's setting
    torch.set_num_threads(2)  # the one_thread fixture restores it
    assert native.loop_threads() == 2
    torch.set_num_threads(1)
    assert native.loop_threads() == 1


def test_a_compiler_without_openmp_builds_the_loops_for_one_thread(monkeypatch):
    built = []

    def build(openmp):  # Apple's clang without libomp refuses the flag
        built.append(openmp)
        if openmp:
            raise RuntimeError("Error building extension: clang: error: unsupported option '-fopenmp'")

    monkeypatch.setattr(native, "_loaded", None)
    monkeypatch.setattr(native, "_load_or_build", build)
    with pytest.warns(RuntimeWarning, match="run on one thread, the compiler has no OpenMP"):
        assert fused.backend() == "native"
    assert built == [True, False]


def test_a_failed_build_falls_back_to_the_python_loops_with_one_warning(monkeypatch):
    def no_compiler(openmp):
        raise RuntimeError("Error building extension: c++: not found")

    monkeypatch.setattr(native, "_loaded", None)
    monkeypatch.setattr(native, "_load_or_build", no_compiler)
    with pytest.warns(RuntimeWarning, match="running the Python loops.*c\\+\\+: not found"):
        assert fused.backend() == "python"
    x = torch.randn(2, 5, 3, requires_grad=True)
    outputs, _ = LSTM(3, 4)(x)  # no second warning: the first answer holds for the process
    outputs.sum().backward()
    assert x.grad.shape == x.shape


def test_a_broken_compiler_gives_the_python_loops_and_the_same_numbers(tmp_path):
    # an empty cache and a compiler that fails: the build fails, the Python loops run, nothing is left behind
    backend, built_at_import, total, stderr = child(CXX="/bin/false", TORCH_EXTENSIONS_DIR=str(tmp_path))
    assert backend == "python" and not built_at_import
    assert stderr.count("RuntimeWarning") == 1 and "running the Python loops" in stderr
    assert list((tmp_path / "seqgraph_fused").iterdir()) == []
    torch.manual_seed(0)
    outputs, _ = LSTM(3, 4)(torch.randn(2, 5, 3))  # here with this process's backend, C++ where it built
    assert outputs.sum().item() == total


def test_the_environment_variable_forces_the_python_loops():
    backend, built_at_import, _, stderr = child(SEQGRAPH_FUSED="python")
    assert backend == "python" and not built_at_import and "Warning" not in stderr


def test_the_built_loops_load_from_the_cache_without_a_compiler():
    if not native.available():
        pytest.skip("the C++ loops did not build")
    # this process built them or found them in the cache (TORCH_EXTENSIONS_DIR, inherited); a compiler that fails
    # would turn a second build into the Python loops
    backend, built_at_import, _, _ = child(CXX="/bin/false")
    assert backend == "native" and not built_at_import
