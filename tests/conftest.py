import os

import pytest
import torch

from seqgraph.datadir import data_dir

# Two cores are shared by the whole suite; more threads only add contention.
torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture
def shared_data():
    """The data directory with the public mirror, or skip (CI has it beside the repo)."""
    root = data_dir()
    if not (root / "books").is_dir():
        pytest.skip("data mirror not found: set SEQGRAPH_DATA (the Makefile does)")
    return root
