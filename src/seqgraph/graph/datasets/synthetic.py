r"""Large synthetic node-classification graphs: R-MAT edges with planted classes, written straight to the
memory-mapped format of :mod:`seqgraph.graph.scale.storage`.

R-MAT (Chakrabarti, Zhan & Faloutsos, "R-MAT: A Recursive Model for Graph Mining", SDM 2004), the
generator of the Graph500 benchmark: with :math:`s` levels, each edge picks one quadrant of the adjacency
matrix per level, with probabilities :math:`(a, b, c, d)`, which fixes one bit of its source and one of its
target. Graph500's :math:`(0.57, 0.19, 0.19, 0.05)` gives the skewed, heavy-tailed degrees of real graphs.

Planted classes: the nodes fall into :math:`C` classes of :math:`S = \lceil N / C \rceil` consecutive R-MAT
ids. An edge first draws its source's class uniformly and keeps it for its target with probability :math:`h`
(the homophily; otherwise another class, uniformly), then its ids inside the two classes by R-MAT over
:math:`s = \lceil \log_2 S \rceil` levels: a stochastic block model whose blocks are R-MAT graphs. Features
are the class's mean (a random Gaussian vector times ``signal``) plus standard Gaussian noise, so a node's
own features say something about its class and its neighbours' say more.

Ids are relabelled by a random permutation (as Graph500 does, so that the hubs are not the first nodes). Each
R-MAT pair ``(u, v)`` is stored in both directions; self-loops and pairs outside ``[0, N)`` are redrawn;
repeated pairs stay (a multigraph, read as such by the layers). The CSR is built in two passes over the
same seeded stream of pairs (count, then place), each in chunks, so memory is a few arrays of ``N`` plus one
chunk, whatever the number of edges.
"""

import math
import os
from pathlib import Path

import numpy as np

from ...errors import InputError
from ...resources import check_allocation, check_disk
from ..scale.sampler import MAX_NODES
from ..scale.storage import SPLITS

GRAPH500 = (0.57, 0.19, 0.19)  # a, b, c; d = 1 - a - b - c
_CHUNK = 1 << 22  # pairs per chunk
DEFAULT_SPLIT = (0.01, 0.005, 0.01)  # of the nodes: training, validation, test


def _pairs(rng: np.random.Generator, size: int, class_size: int, num_classes: int, homophily: float) -> tuple:
    """``size`` pairs of R-MAT ids: planted classes, then R-MAT inside them (ids may reach past ``N``)."""
    src_class = rng.integers(num_classes, size=size)
    other = (src_class + rng.integers(1, num_classes, size=size)) % num_classes
    dst_class = np.where(rng.random(size, dtype=np.float32) < homophily, src_class, other)
    src, dst = src_class * class_size, dst_class * class_size
    a, b, c = GRAPH500
    scale = max(1, math.ceil(math.log2(class_size)))
    low_src, low_dst = np.zeros(size, dtype=np.int64), np.zeros(size, dtype=np.int64)
    for level in range(scale):
        r = rng.random(size, dtype=np.float32)
        bit = np.int64(1) << (scale - 1 - level)
        low_src |= np.where(r >= a + b, bit, 0)  # quadrants c and d: the lower half of the rows
        low_dst |= np.where(((r >= a) & (r < a + b)) | (r >= a + b + c), bit, 0)  # quadrants b and d
    inside = (low_src < class_size) & (low_dst < class_size)
    return np.where(inside, src + low_src, -1), np.where(inside, dst + low_dst, -1)


def _edge_chunks(seed: int, num_nodes: int, num_edges: int, num_classes: int, homophily: float,
                 relabel: np.ndarray):
    """The directed edges ``(src, dst)`` in chunks: the same seeded stream every time it is called."""
    rng = np.random.default_rng([seed, 1])
    class_size = -(-num_nodes // num_classes)
    pairs_left = num_edges // 2
    while pairs_left:
        u, v = _pairs(rng, min(_CHUNK, 2 * pairs_left + 1024), class_size, num_classes, homophily)
        keep = (u >= 0) & (v >= 0) & (u < num_nodes) & (v < num_nodes) & (u != v)
        u, v = relabel[u[keep][:pairs_left]], relabel[v[keep][:pairs_left]]
        pairs_left -= u.size
        yield np.concatenate([u, v]), np.concatenate([v, u])


def split_sizes(num_nodes: int, split: tuple) -> list[int]:
    """Nodes drawn for training, validation and test at the fractions ``split``."""
    return [int(f * num_nodes) for f in split]


# numpy's standard normal draws (a ziggurat whose tail takes -log of a double above 2^-53) stay below this
MAX_NORMAL = 14.0


def check_settings(folder: str | os.PathLike, num_nodes: int, num_edges: int, num_features: int, num_classes: int,
                   homophily: float, split: tuple = DEFAULT_SPLIT, signal: float = 0.3) -> None:
    """Refuse settings that :func:`generate_rmat` cannot honour, whose features would not be finite in float32 (the
    precision they are written and trained in), or whose files or arrays would exceed the disk or the memory, before
    anything is written."""
    # a feature is a class mean, signal times a standard normal draw, plus a standard normal draw
    largest = float(np.finfo(np.float32).max) / MAX_NORMAL - 1
    if not signal <= largest:
        raise InputError(f"the features would exceed float32's range: the signal is at most {largest:.3g}, "
                         f"got {signal:g}")
    if num_nodes < 2 or num_edges < 2 or num_edges % 2:
        raise InputError(f"need at least 2 nodes and a positive even number of edges, got {num_nodes}, {num_edges}")
    if num_nodes > MAX_NODES:
        raise InputError(f"at most {MAX_NODES:,} nodes, got {num_nodes:,}")
    if not 2 <= num_classes <= num_nodes // 2:
        raise InputError(f"the number of classes must be in [2, num_nodes / 2], got {num_classes}")
    if num_features <= 0 or not 0 < homophily <= 1 or len(split) != 3 or min(split) <= 0 or sum(split) > 1:
        raise InputError(f"bad generator settings: features {num_features}, homophily {homophily}, split {split}")
    sizes = split_sizes(num_nodes, split)
    if min(sizes) == 0:  # training would report an accuracy over no nodes
        raise InputError(f"{num_nodes:,} nodes leave {sizes[0]} training, {sizes[1]} validation and {sizes[2]} test "
                         f"nodes at the split {split}: give at least {math.ceil(1 / min(split)):,} nodes")
    what = f"a graph of {num_nodes:,} nodes, {num_edges:,} edges and {num_features:,} features"
    check_allocation(what, 4 * 8 * num_nodes + 8 * 8 * _CHUNK)  # relabelling, labels, degrees, splits; one chunk
    check_disk(what, 8 * (num_nodes + 1) + 4 * num_edges + 4 * num_nodes * num_features + 16 * num_nodes, folder)


def generate_rmat(folder: str | os.PathLike, num_nodes: int, num_edges: int, num_features: int = 64,
                  num_classes: int = 8, homophily: float = 0.9, signal: float = 0.3, split: tuple = DEFAULT_SPLIT,
                  seed: int = 0) -> None:
    """Write an R-MAT graph with planted classes to ``folder`` (see the module docstring).

    Args:
        num_nodes: :math:`N`. num_edges: directed edges stored (even: every pair both ways).
        num_features: :math:`F`. num_classes: :math:`C`.
        homophily: :math:`h`, the probability that an edge joins two nodes of the same class.
        signal: length scale of the class means relative to the unit noise.
        split: fractions of the nodes drawn for training, validation and test.
    """
    check_settings(folder, num_nodes, num_edges, num_features, num_classes, homophily, split, signal)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, 0])
    relabel = rng.permutation(num_nodes)  # R-MAT id -> node id
    y = np.empty(num_nodes, dtype=np.int64)
    y[relabel] = np.arange(num_nodes) // -(-num_nodes // num_classes)  # classes of consecutive R-MAT ids
    np.save(folder / "y.npy", y)
    args = (seed, num_nodes, num_edges, num_classes, homophily, relabel)

    counts = np.zeros(num_nodes, dtype=np.int64)  # pass 1: in-degrees
    for _, dst in _edge_chunks(*args):
        counts += np.bincount(dst, minlength=num_nodes)
    indptr = np.lib.format.open_memmap(folder / "indptr.npy", "w+", np.int64, (num_nodes + 1,))
    indptr[0] = 0
    np.cumsum(counts, out=indptr[1:])
    indices = np.lib.format.open_memmap(folder / "indices.npy", "w+", np.int32, (num_edges,))
    fill = np.array(indptr[:-1])  # pass 2: the next free slot of every node
    for src, dst in _edge_chunks(*args):
        order = np.argsort(dst, kind="stable")
        src, dst = src[order], dst[order]
        rank = np.arange(dst.size) - np.searchsorted(dst, dst)  # position among this chunk's edges of dst
        indices[fill[dst] + rank] = src
        nodes, per_node = np.unique(dst, return_counts=True)
        fill[nodes] += per_node
    indices.flush()
    indptr.flush()
    del indices, indptr

    means = rng.standard_normal((num_classes, num_features)).astype(np.float32) * signal
    x = np.lib.format.open_memmap(folder / "x.npy", "w+", np.float32, (num_nodes, num_features))
    for lo in range(0, num_nodes, _CHUNK):
        hi = min(num_nodes, lo + _CHUNK)
        x[lo:hi] = means[y[lo:hi]] + rng.standard_normal((hi - lo, num_features), dtype=np.float32)
    x.flush()
    del x
    sizes = split_sizes(num_nodes, split)
    chosen = rng.choice(num_nodes, size=sum(sizes), replace=False)
    for name, part in zip(SPLITS, np.split(chosen, np.cumsum(sizes)[:-1]), strict=True):
        np.save(folder / f"{name}.npy", np.sort(part).astype(np.int64))
