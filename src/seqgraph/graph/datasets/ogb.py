"""Node-property graphs in the Open Graph Benchmark's raw layout (Hu et al., "Open Graph Benchmark: Datasets for
Machine Learning on Graphs", NeurIPS 2020, https://arxiv.org/abs/2005.00687), e.g. ogbn-arxiv.

The archive (ogbn-arxiv: :data:`ARXIV_URL`, 81 MB; it cannot be fetched on every machine, so the loader reads a
folder that a user unpacked) holds gzipped CSV text, parsed as text (no pickle)::

    raw/num-node-list.csv.gz   N (one line)
    raw/edge.csv.gz            one edge per line: source,target (0-based)
    raw/node-feat.csv.gz       N lines of F comma-separated floats
    raw/node-label.csv.gz      N lines, one integer class each
    split/<split>/train.csv.gz, valid.csv.gz, test.csv.gz   node ids, one per line

OGB's protocol for ogbn-arxiv: the ``time`` split (train: papers until 2017, validation: 2018, test: since
2019) and the citation edges made undirected (as OGB's GNN baselines do), which ``undirected`` controls.
"""

import gzip
import os
from pathlib import Path

import numpy as np
import torch

from ...errors import InputError
from ..data import Graph, coalesce, remove_self_loops, to_undirected

ARXIV_URL = "http://snap.stanford.edu/ogb/data/nodeproppred/arxiv.zip"


def _read(path: Path, dtype, columns: int | None = None) -> np.ndarray:
    """A gzipped CSV file of numbers: ``(rows,)`` when ``columns`` is None, else ``(rows, columns)``."""
    if not path.is_file():
        raise InputError(f"{path} is missing: not an OGB node-property folder")
    try:
        with gzip.open(path, "rt") as f:
            array = np.loadtxt(f, delimiter=",", dtype=dtype, ndmin=2 if columns is not None else 1)
    except (OSError, ValueError, EOFError) as e:
        raise InputError(f"{path} is not gzipped comma-separated numbers: {e}") from None
    if columns is not None and array.shape[1] != columns and columns != -1:
        raise InputError(f"{path} has {array.shape[1]} columns per line, expected {columns}")
    return array


def read_ogb_node(folder: str | os.PathLike, split: str = "time", undirected: bool = True) -> Graph:
    """Read an unpacked OGB node-property dataset (see the module docstring) as a :class:`Graph` with masks."""
    folder = Path(folder)
    num_nodes = _read(folder / "raw" / "num-node-list.csv.gz", np.int64)
    if num_nodes.shape != (1,) or num_nodes[0] <= 0:
        raise InputError(f"{folder / 'raw' / 'num-node-list.csv.gz'} must hold one positive node count "
                         f"(a single graph), got {num_nodes.tolist()}")
    n = int(num_nodes[0])
    edges = _read(folder / "raw" / "edge.csv.gz", np.int64, columns=2)
    x = _read(folder / "raw" / "node-feat.csv.gz", np.float32, columns=-1)
    y = _read(folder / "raw" / "node-label.csv.gz", np.int64)
    if x.shape[0] != n or y.shape != (n,):
        raise InputError(f"{folder}: {n} nodes, but {x.shape[0]} feature rows and {y.shape[0]} labels")
    edge_index = torch.from_numpy(edges.T.copy())
    if edge_index.numel() and (int(edge_index.min()) < 0 or int(edge_index.max()) >= n):
        raise InputError(f"{folder / 'raw' / 'edge.csv.gz'} refers to nodes outside [0, {n})")
    edge_index = remove_self_loops(edge_index)
    edge_index = to_undirected(edge_index, n) if undirected else coalesce(edge_index, n)
    masks = []
    for part in ("train", "valid", "test"):
        ids = _read(folder / "split" / split / f"{part}.csv.gz", np.int64)
        if ids.size and (ids.min() < 0 or ids.max() >= n):
            raise InputError(f"{folder / 'split' / split / f'{part}.csv.gz'} holds node ids outside [0, {n})")
        mask = torch.zeros(n, dtype=torch.bool)
        mask[torch.from_numpy(ids)] = True
        masks.append(mask)
    return Graph(edge_index, n, torch.from_numpy(x), torch.from_numpy(y), *masks)
