"""Amazon-Photo, the co-purchase graph of Shchur et al., "Pitfalls of Graph Neural Network Evaluation"
(NeurIPS 2018 R2L workshop), https://arxiv.org/abs/1811.05868, with their random-split protocol.

Nodes are products (7650), edges join products often bought together, features are bag-of-words of the
reviews (745, binary; row-normalised here as the Planetoid loader does), labels the product category (8). The file
``npz/amazon_electronics_photo.npz`` (github.com/shchur/gnn-benchmark, pinned in :mod:`seqgraph.datadir`)
holds the adjacency and the features as CSR arrays and loads with ``allow_pickle=False``. Its adjacency is
not symmetric: it is symmetrised, its self-loop dropped and repeated edges merged (238,162 directed edges).

Split (Shchur et al. §3): for every class, 20 random nodes for training, 30 for validation, the rest for
testing, drawn with ``numpy.random.default_rng(split_seed)``; a different seed is a different split.
"""

import os

import numpy as np
import torch

from ...datadir import fetch
from ...errors import InputError
from ..data import Graph, remove_self_loops, to_undirected

RELPATH = "npz/amazon_electronics_photo.npz"
TRAIN_PER_CLASS, VAL_PER_CLASS = 20, 30


def load_amazon_photo(root: str | os.PathLike | None = None, split_seed: int = 0) -> Graph:
    """Amazon-Photo from the data directory (fetched if missing) with the split of ``split_seed``."""
    return read_amazon(fetch(RELPATH, root), split_seed)


def _coo(npz, prefix: str, path) -> tuple[torch.Tensor, torch.Tensor, tuple[int, int]]:
    """``(index (2, nnz), values (nnz,), shape)`` of the CSR arrays ``<prefix>_data/_indices/_indptr/_shape``."""
    try:
        data, indices, indptr, shape = (npz[f"{prefix}_{part}"] for part in ("data", "indices", "indptr", "shape"))
    except KeyError as e:
        raise InputError(f"{path} lacks the array {e}: not a gnn-benchmark .npz file") from None
    rows, cols = int(shape[0]), int(shape[1])
    if indptr.shape != (rows + 1,) or indices.shape != data.shape or int(indptr[-1]) != data.size:
        raise InputError(f"{path}: the {prefix} CSR arrays do not fit together")
    if data.size and (int(indices.min()) < 0 or int(indices.max()) >= cols):
        raise InputError(f"{path}: {prefix}_indices holds columns outside [0, {cols})")
    row = torch.repeat_interleave(torch.arange(rows), torch.from_numpy(np.diff(indptr).astype(np.int64)))
    return torch.stack([row, torch.from_numpy(indices.astype(np.int64))]), torch.from_numpy(data.astype(np.float32)), \
        (rows, cols)


def read_amazon(path: str | os.PathLike, split_seed: int = 0) -> Graph:
    """Read a gnn-benchmark ``.npz`` (adjacency, attributes, labels) and draw Shchur's split."""
    try:
        npz = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise InputError(f"{path} is not a readable .npz file: {e}") from None
    with npz:
        adjacency, _, (num_nodes, columns) = _coo(npz, "adj", path)
        index, values, shape = _coo(npz, "attr", path)
        x = torch.zeros(shape).index_put_(tuple(index), values, accumulate=True)
        x = x / x.sum(dim=1, keepdim=True).clamp(min=1)  # row-normalised; an all-zero row stays zero
        if "labels" not in npz.files:
            raise InputError(f"{path} lacks the array 'labels': not a gnn-benchmark .npz file")
        y = torch.from_numpy(npz["labels"].astype(np.int64))
    if columns != num_nodes or x.size(0) != num_nodes or y.shape != (num_nodes,):
        raise InputError(f"{path}: adjacency {(num_nodes, columns)}, attributes {tuple(x.shape)} and labels "
                         f"{tuple(y.shape)} disagree on the number of nodes")
    # row i of the adjacency lists the nodes i links to: edges i -> j, made undirected
    edge_index = to_undirected(remove_self_loops(adjacency), num_nodes)
    return Graph(edge_index, num_nodes, x, y, *random_split(y, split_seed))


def random_split(y: torch.Tensor, seed: int, train_per_class: int = TRAIN_PER_CLASS,
                 val_per_class: int = VAL_PER_CLASS) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Train/val/test masks: per class ``train_per_class`` and ``val_per_class`` random nodes, the rest test."""
    labels = y.numpy()
    rng = np.random.default_rng(seed)
    masks = [torch.zeros(y.numel(), dtype=torch.bool) for _ in range(3)]
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        if members.size < train_per_class + val_per_class:
            raise InputError(f"class {c} has {members.size} nodes, fewer than the {train_per_class} + "
                             f"{val_per_class} the split takes")
        cuts = np.split(members, [train_per_class, train_per_class + val_per_class])
        for mask, part in zip(masks, cuts, strict=True):
            mask[torch.from_numpy(part)] = True
    return masks[0], masks[1], masks[2]
