"""Graph datasets: each loader reads its public format from the data directory or a folder, checks it and
returns :class:`~seqgraph.graph.data.Graph` objects. :func:`load_dataset` resolves a node-classification
dataset given by name or folder."""

from pathlib import Path

from ...errors import InputError
from ..data import Graph
from ..scale.storage import is_store
from .planetoid import NAMES, load_planetoid, planetoid_name, read_planetoid


def load_dataset(spec: str, data_dir: str | None = None) -> tuple[Graph, str]:
    """A Planetoid name from the data directory, or a folder of ``ind.<name>.*`` files: (graph, name)."""
    if Path(spec).is_dir():
        if is_store(spec):  # seqgraph's memory-mapped layout (graph generate, ogbn-*)
            raise InputError(f"{spec} holds a memory-mapped graph (.npy files): `graph train --batch-size` "
                             "(mini-batch mode) trains on it")
        name = planetoid_name(spec)
        return read_planetoid(spec, name), name
    if spec.lower() in NAMES:
        return load_planetoid(spec, data_dir), spec.lower()
    raise InputError(f"unknown dataset {spec!r}: choose {', '.join(NAMES)} or a folder holding ind.<name>.* files")
