"""Node-classification graphs as ``.npy`` files that are memory-mapped, so graphs larger than memory train.

A folder holds one array per file:

==============  ==================  ========================================================
file            dtype               shape
==============  ==================  ========================================================
indptr.npy      int64               ``(N + 1,)``: CSR over in-edges (:class:`~seqgraph.graph.sparse.CSR`)
indices.npy     int32 or int64      ``(E,)``: the source of every edge, grouped by target
x.npy           float32             ``(N, F)``: node features
y.npy           int64               ``(N,)``: class labels in ``[0, C)``
train_idx.npy   int64               ``(n,)`` node ids, and likewise val_idx.npy, test_idx.npy
==============  ==================  ========================================================

:func:`open_store` maps them (``np.load(mmap_mode="r")``): a batch reads only the rows it gathers, and the
operating system keeps resident only the pages in use. Every file's dtype and shape is checked against the
others on opening, and the CSR's and the splits' values in bounded chunks.
"""

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ...errors import InputError, require_regular_file
from ...resources import check_allocation
from ..data import Graph, remove_self_loops
from ..sparse import CSR

SPLITS = ("train_idx", "val_idx", "test_idx")
_CHUNK = 1 << 24  # elements per pass when checking values


@dataclass
class GraphStore:
    """A graph for mini-batch training: CSR adjacency, features, labels and the three splits as node ids."""

    csr: CSR
    x: Tensor
    y: Tensor
    train_idx: Tensor
    val_idx: Tensor
    test_idx: Tensor

    @property
    def num_nodes(self) -> int:
        return self.csr.num_nodes

    @property
    def num_classes(self) -> int:
        return int(self.y.max()) + 1

    @classmethod
    def from_graph(cls, graph: Graph) -> "GraphStore":
        """From an in-memory :class:`Graph` with features, labels and masks (dense float32 features)."""
        for name in ("x", "y", "train_mask", "val_mask", "test_mask"):
            if getattr(graph, name) is None:
                raise InputError(f"node classification needs graph.{name}")
        x = graph.x.to_dense() if graph.x.layout != torch.strided else graph.x
        return cls(CSR.from_edge_index(remove_self_loops(graph.edge_index), graph.num_nodes), x.float(), graph.y.long(),
                   *(getattr(graph, f"{name}_mask").nonzero().squeeze(1) for name in ("train", "val", "test")))

    def arrays(self) -> dict[str, Tensor]:
        return {"indptr": self.csr.indptr, "indices": self.csr.indices, "x": self.x, "y": self.y,
                **{name: getattr(self, name) for name in SPLITS}}


def save_store(store: GraphStore, folder: str | os.PathLike) -> None:
    """Write ``store`` as the ``.npy`` files of :func:`open_store`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in store.arrays().items():
        np.save(folder / f"{name}.npy", array.numpy())


def _map(folder: Path, name: str) -> np.ndarray:
    path = require_regular_file(folder / f"{name}.npy", f": a graph folder holds {', '.join(FILES)}")
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except EOFError:  # numpy's word for an empty file
        raise InputError(f"{path} is empty, not a .npy array") from None
    except (ValueError, OSError) as e:  # a pickle, a damaged header, a header promising more than the file holds
        raise InputError(f"{path} is not a plain .npy array: {e}") from None
    if not isinstance(array, np.ndarray):
        array.close()
        raise InputError(f"{path} is a .npz archive of {len(array.files)} arrays, not a .npy array")
    return array


def _expect(array: np.ndarray, path: str, dtypes: tuple, shape: tuple) -> None:
    """Raise InputError unless the dtype is one of ``dtypes`` and the shape matches (None: any length)."""
    if array.dtype not in [np.dtype(d) for d in dtypes]:
        raise InputError(f"{path} has dtype {array.dtype}, expected {' or '.join(map(str, dtypes))}")
    if array.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, array.shape, strict=True)):
        expected = ", ".join("any" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "")
        expected = f"({expected})"
        raise InputError(f"{path} has shape {array.shape}, expected {expected}")


def _in_range(array: np.ndarray, high: int | None, path: str) -> None:
    """Raise InputError unless every value is in ``[0, high)`` (``high = None``: non-negative)."""
    for lo in range(0, array.size, _CHUNK):
        part = array[lo: lo + _CHUNK]
        if part.size and (part.min() < 0 or (high is not None and part.max() >= high)):
            raise InputError(f"{path} holds values outside [0, {'∞' if high is None else high})")


def check_splits(splits: dict[str, np.ndarray]) -> None:
    """Refuse an empty split (training would have nothing to learn from, or report an accuracy over no nodes), a node
    listed twice in one (it would count twice) or a node in two (a test accuracy partly on training nodes);
    ``splits`` maps the name to show (a file) to the node ids of training, validation and test, in this order."""
    seen = {}
    for name, index in splits.items():
        if index.size == 0:
            raise InputError(f"{name} is empty: mini-batch training needs training, validation and test nodes")
        unique = np.unique(index)
        if unique.size != index.size:
            repeated = unique[np.flatnonzero(np.bincount(np.searchsorted(unique, index)) > 1)[0]]
            raise InputError(f"{name} lists node {repeated} more than once")
        for other, nodes in seen.items():
            both = np.intersect1d(nodes, unique, assume_unique=True)
            if both.size:
                raise InputError(f"{name} and {other} share {both.size} node(s), {both[0]} the first: the splits "
                                 "must be disjoint")
        seen[name] = unique


FILES = ("indptr.npy", "indices.npy", "x.npy", "y.npy", *(f"{name}.npy" for name in SPLITS))


def is_store(folder: str | os.PathLike) -> bool:
    """Whether ``folder`` is laid out as a memory-mapped graph (it holds ``indptr.npy``), whole or not."""
    return (Path(folder) / "indptr.npy").exists()


def open_store(folder: str | os.PathLike, check_values: bool = True) -> GraphStore:
    """Memory-map the graph in ``folder`` (see the module docstring), checking dtypes, shapes and values."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder")
    arrays = {name: _map(folder, name) for name in ("indptr", "indices", "x", "y", *SPLITS)}
    path = {name: str(folder / f"{name}.npy") for name in arrays}
    _expect(arrays["indptr"], path["indptr"], ("int64",), (None,))
    num_nodes = arrays["indptr"].shape[0] - 1
    if num_nodes < 0:
        raise InputError(f"{path['indptr']} is empty: it needs N + 1 entries")
    _expect(arrays["indices"], path["indices"], ("int32", "int64"), (None,))
    _expect(arrays["x"], path["x"], ("float32",), (num_nodes, None))
    _expect(arrays["y"], path["y"], ("int64",), (num_nodes,))
    for name in SPLITS:
        _expect(arrays[name], path[name], ("int64",), (None,))
    indptr = arrays["indptr"]
    if indptr[0] != 0 or indptr[-1] != arrays["indices"].shape[0]:
        raise InputError(f"{path['indptr']} must run from 0 to the {arrays['indices'].shape[0]} entries of "
                         f"indices.npy, got {indptr[0]} to {indptr[-1]}")
    if check_values:
        if (np.diff(indptr) < 0).any():
            raise InputError(f"{path['indptr']} decreases somewhere: not a CSR row pointer")
        for name in ("indices", "y", *SPLITS):
            _in_range(arrays[name], None if name == "y" else num_nodes, path[name])
        check_splits({path[name]: arrays[name] for name in SPLITS})
        # the labels fix the number of classes; evaluation holds a float32 score per node and class
        classes = int(arrays["y"].max()) + 1 if num_nodes else 0
        check_allocation(f"{path['y']}: its largest label, {classes - 1:,}, makes {classes:,} classes, and their "
                         f"scores for the {num_nodes:,} nodes", 4 * num_nodes * classes)
    with warnings.catch_warnings():  # read-only maps: torch warns that writing would fail, and nothing writes
        warnings.filterwarnings("ignore", "The given NumPy array is not writable", UserWarning)
        tensors = {name: torch.from_numpy(array) for name, array in arrays.items()}
    return GraphStore(CSR(tensors["indptr"], tensors["indices"]), tensors["x"], tensors["y"],
                      *(tensors[name] for name in SPLITS))
