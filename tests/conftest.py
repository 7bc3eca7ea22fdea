import os
import subprocess

import pytest
import torch

from seqgraph.datadir import data_dir

from .helpers import TEXT


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: trains or launches processes for seconds to minutes; "
                            "`pytest -m \"not slow\"` leaves these out for a quick loop (make test runs everything)")


@pytest.fixture(autouse=True)
def one_thread():
    """The suite's models are tiny: one thread is faster than two (no synchronisation), is not slowed down by
    whatever else shares the cores, and matches the subprocesses the tests start with OMP_NUM_THREADS=1."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def shared_data():
    """The data directory with the public mirror (books and Cora), or skip (CI has it beside the repo)."""
    root = data_dir()
    if not ((root / "books").is_dir() and (root / "planetoid" / "cora").is_dir()):
        missing_mirror()
    return root


def missing_mirror():
    """Skip a test that needs the data mirror; on CI (which always has ../shared beside the clone) fail instead, so
    that a broken path cannot turn the data tests into silent skips."""
    missing_reference("data mirror not found: set SEQGRAPH_DATA (the Makefile does)")


def missing_reference(message: str):
    """Skip a test whose reference (data, a package the Makefile installs) is missing here; fail on CI."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory):
    """A tiny UTF-8 corpus on disk."""
    path = tmp_path_factory.mktemp("corpus") / "book.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


@pytest.fixture
def tiny_disk(tmp_path):
    """A 2 MB tmpfs, to fill a disk on purpose; it needs root (the test suite runs as root in CI), skipped elsewhere."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                                           capture_output=True).returncode != 0:
        pytest.skip("mounting a small tmpfs needs root (the test suite runs as root in CI)")
    yield mount
    subprocess.run(["umount", "--lazy", str(mount)], check=True)
