import pytest
import torch

from seqgraph.datadir import data_dir

# The suite's models are tiny: one thread is faster than two (no synchronisation) and is not slowed
# down by whatever else shares the cores.
torch.set_num_threads(1)


@pytest.fixture
def shared_data():
    """The data directory with the public mirror, or skip (CI has it beside the repo)."""
    root = data_dir()
    if not (root / "books").is_dir():
        pytest.skip("data mirror not found: set SEQGRAPH_DATA (the Makefile does)")
    return root
