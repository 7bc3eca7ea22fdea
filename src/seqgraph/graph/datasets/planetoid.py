"""The Planetoid citation graphs (Cora, Citeseer, Pubmed) from their raw ``ind.<name>.*`` files.

Yang, Cohen & Salakhutdinov, "Revisiting Semi-Supervised Learning with Graph Embeddings" (ICML 2016),
https://arxiv.org/abs/1603.08861; files from github.com/kimiyoung/planetoid (see ``seqgraph.datadir``).

The eight files of a dataset ``<name>``:

- ``x``, ``y``: features and one-hot labels of the labelled training nodes (140 on Cora);
- ``allx``, ``ally``: the same for every node that is not a test node (training ones first);
- ``tx``, ``ty``: the test nodes, in the order of ``test.index``;
- ``graph``: ``{node: [neighbours]}``; ``test.index``: the test nodes' ids, one per line.

The public split (as in Kipf & Welling's and PyG's code): train = the first ``len(y)`` nodes,
validation = the next 500, test = ``test.index`` (1000). Features are row-normalised (each row divided
by its sum, all-zero rows stay zero: Kipf's ``preprocess_features``; on binary features such as
Cora's this equals PyG's ``NormalizeFeatures``). Edges: self-loops removed, duplicates merged, sorted
by (target, source), exactly as PyG's ``read_planetoid_data``.

Citeseer has test ids with gaps (isolated nodes that have no ``tx`` row). As in Kipf's and PyG's code,
the test block is widened to the full id range with zero features and label 0 for the missing nodes,
which belong to no split. Here that is done whenever the test ids have gaps, whatever the name.

The ``x``/``y``/``graph`` files are Python 2 pickles. Unpickling can run arbitrary code, so they are read
with :class:`RestrictedUnpickler`, which admits only the classes these files are made of.
"""

import collections
import os
import pickle
import re
from pathlib import Path

import numpy as np
import scipy.sparse
import torch

from ...datadir import fetch, verify
from ...errors import InputError, require_regular_file
from ..data import Graph, coalesce, remove_self_loops

NAMES = ("cora", "citeseer", "pubmed")  # the datasets of the pinned repository
SUFFIXES = ("x", "y", "tx", "ty", "allx", "ally", "graph", "test.index")
NUM_VAL = 500

_NUMPY_RECONSTRUCT = np.zeros(1).__reduce__()[0]  # numpy's ``_reconstruct``, wherever this numpy keeps it
NUMPY_ARRAYS = {
    # numpy arrays: ndarray.__reduce__ gives (_reconstruct, (ndarray, shape, dtype)) and a state with the bytes
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _NUMPY_RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _NUMPY_RECONSTRUCT,
}
_ALLOWED = {
    **NUMPY_ARRAYS,
    # scipy CSR matrices (x, tx, allx) under the module names old and new scipy pickle them with
    ("scipy.sparse.csr", "csr_matrix"): scipy.sparse.csr_matrix,
    ("scipy.sparse._csr", "csr_matrix"): scipy.sparse.csr_matrix,
    # graph: defaultdict(list), pickled by Python 2 (``__builtin__``) or 3
    ("collections", "defaultdict"): collections.defaultdict,
    ("__builtin__", "list"): list,
    ("builtins", "list"): list,
}


class RefusedGlobal(pickle.UnpicklingError):
    """A pickle asked for a class or function outside the allow-list."""


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the globals of ``allowed`` (Planetoid's numpy and scipy classes unless
    given) and refuses every other one; ``what`` names the files it reads in the refusal."""

    def __init__(self, file, *, allowed: dict = _ALLOWED, what: str = "Planetoid files", **kwargs):
        super().__init__(file, **kwargs)
        self.allowed, self.what = allowed, what

    def find_class(self, module: str, name: str):
        try:
            return self.allowed[module, name]
        except KeyError:
            raise RefusedGlobal(
                f"refusing to load {module}.{name}: only the numpy/scipy classes of {self.what} are allowed"
            ) from None


def load_planetoid(name: str, root: str | os.PathLike | None = None) -> Graph:
    """Load ``planetoid/<name>/ind.<name>.*`` from the data directory, fetching missing files."""
    name = _check_name(name)
    paths = {s: fetch(f"planetoid/{name}/ind.{name}.{s}", root) for s in SUFFIXES}
    return _read(paths)


def planetoid_name(folder: str | os.PathLike) -> str:
    """The ``<name>`` of the one dataset whose ``ind.<name>.test.index`` is in ``folder``."""
    folder = Path(folder)
    names = sorted(p.name[len("ind."):-len(".test.index")] for p in folder.glob("ind.*.test.index"))
    if len(names) != 1:
        raise InputError(f"{folder} must hold the files of exactly one Planetoid dataset "
                         f"(ind.<name>.test.index; found: {', '.join(names) or 'none'})")
    return _check_name(names[0])


def read_planetoid(folder: str | os.PathLike, name: str | None = None) -> Graph:
    """Load ``ind.<name>.*`` from ``folder``; ``name`` may be left out when the folder holds one dataset."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder")
    name = _check_name(name) if name is not None else planetoid_name(folder)
    paths = {s: folder / f"ind.{name}.{s}" for s in SUFFIXES}
    for path in paths.values():
        if os.path.lexists(path):
            require_regular_file(path)  # a folder, a FIFO, a link to nowhere: said as such, not as missing
    missing = [p.name for p in paths.values() if not p.is_file()]
    if missing:
        raise InputError(f"{folder} lacks {', '.join(missing)}")
    for s, path in paths.items():
        verify(path, f"planetoid/{name}/ind.{name}.{s}")  # the files the data directory knows must match
    return _read(paths)


def _check_name(name: str) -> str:
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]*", name.lower()):
        raise InputError(f"{name!r} is not a Planetoid dataset name")
    return name.lower()


def _read(paths: dict[str, Path]) -> Graph:
    x, tx, allx = (_features(paths[s]) for s in ("x", "tx", "allx"))
    y, ty, ally = (_labels(paths[s]) for s in ("y", "ty", "ally"))
    graph = _unpickle(paths["graph"])
    test_index = _test_index(paths["test.index"])
    if not isinstance(graph, dict):
        raise InputError(f"{paths['graph']} must hold a dict of adjacency lists, got {type(graph).__name__}")
    for a, b, what in ((x, y, "x/y"), (tx, ty, "tx/ty"), (allx, ally, "allx/ally")):
        if a.shape[0] != b.shape[0]:
            raise InputError(f"{what} hold {a.shape[0]} and {b.shape[0]} rows; they must match")
    if not (x.shape[1] == tx.shape[1] == allx.shape[1]) or not (y.shape[1] == ty.shape[1] == ally.shape[1]):
        raise InputError("x, tx and allx (and y, ty, ally) must have the same number of columns")
    if not len(test_index) or len(test_index) != tx.shape[0] or len(set(test_index.tolist())) != len(test_index):
        raise InputError(f"test.index must list {tx.shape[0]} distinct node ids (one per row of tx)")

    # Row k of tx is node test_index[k]. The test block spans the ids from the first to the last test id;
    # ids in between without a row (Citeseer's isolated nodes) get zero features and label 0.
    first, last = int(test_index.min()), int(test_index.max())
    if first != allx.shape[0]:
        raise InputError(f"the test ids must start right after allx's {allx.shape[0]} rows, not at {first}")
    tx_full = np.zeros((last - first + 1, tx.shape[1]), dtype=np.float32)
    ty_full = np.zeros((last - first + 1, ty.shape[1]), dtype=np.int64)
    tx_full[test_index - first], ty_full[test_index - first] = tx, ty
    features = np.concatenate([allx, tx_full])
    onehot = np.concatenate([ally, ty_full])
    num_nodes = features.shape[0]

    rowsum = features.sum(axis=1, keepdims=True)
    features = np.divide(features, rowsum, out=np.zeros_like(features), where=rowsum != 0)
    masks = [np.zeros(num_nodes, dtype=bool) for _ in range(3)]
    masks[0][: y.shape[0]] = True
    masks[1][y.shape[0]: y.shape[0] + NUM_VAL] = True
    masks[2][test_index] = True
    return Graph(
        _edge_index(graph, num_nodes, paths["graph"]), num_nodes,
        x=torch.from_numpy(features), y=torch.from_numpy(onehot.argmax(axis=1)),
        train_mask=torch.from_numpy(masks[0]), val_mask=torch.from_numpy(masks[1]),
        test_mask=torch.from_numpy(masks[2]),
    )


def _unpickle(path: Path):
    with open(path, "rb") as f:
        try:
            return RestrictedUnpickler(f, encoding="latin1").load()  # Python 2 pickles
        except RefusedGlobal as e:
            raise InputError(f"{path}: {e}") from None
        except Exception as e:  # malformed data fails in many ways; none of them may escape as a traceback
            raise InputError(f"{path} is not a readable Planetoid pickle: {e}") from None


MAX_DENSE = 2**30  # numbers in one dense feature matrix (4 GiB of float32): Pubmed's allx has 9.4 million


def _features(path: Path) -> np.ndarray:
    m = _unpickle(path)
    if scipy.sparse.issparse(m):
        m = _checked_csr(m, path).toarray()
    if not isinstance(m, np.ndarray) or m.ndim != 2 or not np.issubdtype(m.dtype, np.number):
        raise InputError(f"{path} must hold a 2-D numeric matrix")
    return m.astype(np.float32)


def _checked_csr(m, path: Path):
    """``m`` if its arrays describe a CSR matrix that scipy can expand safely, else InputError.

    Unpickling sets a matrix's arrays without any check, and scipy's C code trusts them: an index past the number
    of columns writes out of bounds (a crash), a forged shape asks for terabytes. Every invariant of the format
    is checked here, before scipy touches the arrays.
    """
    def refuse(why: str):
        raise InputError(f"{path} holds a malformed sparse matrix: {why}")
    shape = getattr(m, "_shape", None)
    if (not isinstance(m, scipy.sparse.csr_matrix) or not isinstance(shape, tuple) or len(shape) != 2
            or not all(isinstance(n, (int, np.integer)) and n >= 0 for n in shape)):
        refuse(f"shape {shape!r}")
    rows, cols = (int(n) for n in shape)
    if rows * cols > MAX_DENSE:
        refuse(f"{rows} x {cols} is larger than {MAX_DENSE:,} numbers")
    indptr, indices, data = (getattr(m, name, None) for name in ("indptr", "indices", "data"))
    for name, a in (("indptr", indptr), ("indices", indices)):
        if not isinstance(a, np.ndarray) or a.ndim != 1 or not np.issubdtype(a.dtype, np.integer):
            refuse(f"{name} is not a 1-D integer array")
    if not isinstance(data, np.ndarray) or data.ndim != 1 or not np.issubdtype(data.dtype, np.number):
        refuse("data is not a 1-D numeric array")
    if len(indptr) != rows + 1 or indptr[0] != 0 or np.any(np.diff(indptr) < 0):
        refuse(f"indptr must rise from 0 in {rows + 1} entries")
    if indptr[-1] != len(indices) or len(indices) != len(data):
        refuse(f"indptr ends at {indptr[-1]} for {len(indices)} indices and {len(data)} values")
    if len(indices) and (indices.min() < 0 or indices.max() >= cols):
        refuse(f"column indices must lie in 0..{cols - 1}")
    return m


def _labels(path: Path) -> np.ndarray:
    return _features(path).astype(np.int64)


def _test_index(path: Path) -> np.ndarray:
    try:
        return np.array([int(line) for line in path.read_text().split()], dtype=np.int64)
    except ValueError as e:
        raise InputError(f"{path} must hold one node id per line: {e}") from None


def _edge_index(graph: dict, num_nodes: int, path: Path) -> torch.Tensor:
    try:
        src = [int(i) for i, neighbours in graph.items() for _ in neighbours]
        dst = [int(j) for neighbours in graph.values() for j in neighbours]
    except (TypeError, ValueError) as e:
        raise InputError(f"{path} must map node ids to lists of node ids: {e}") from None
    edge_index = torch.tensor([src, dst], dtype=torch.long).view(2, -1)
    if edge_index.numel() and (int(edge_index.min()) < 0 or int(edge_index.max()) >= num_nodes):
        raise InputError(f"{path} refers to nodes outside 0..{num_nodes - 1}")
    return coalesce(remove_self_loops(edge_index), num_nodes)
