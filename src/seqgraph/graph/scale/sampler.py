r"""Neighbour sampling over a CSR adjacency: the per-layer blocks of mini-batch GNN training.

Hamilton, Ying & Leskovec, "Inductive Representation Learning on Large Graphs" (NIPS 2017),
https://arxiv.org/abs/1706.02216, Algorithm 2: for the seed nodes :math:`B^0` of a batch and fan-outs
:math:`k_1 \dots k_L`,

.. math::
    B^h = B^{h-1} \cup \bigcup_{i \in B^{h-1}} N_{k_h}(i), \qquad h = 1 \dots L,

where :math:`N_k(i)` is a uniform sample of :math:`\min(k, |N(i)|)` of node ``i``'s in-neighbours without
replacement (fan-out -1: all of them). Hop ``h`` gives the bipartite block whose edges ``j -> i`` run from
:math:`B^h` to :math:`B^{h-1}`; the model's first layer uses the outermost block (hop ``L``) and its last
layer the seeds' own block (hop 1), as PyG's ``num_neighbors``: ``fanouts[0]`` is the seeds' fan-out.

Every target is sampled afresh at every hop (a seed's neighbours at hop 2 are drawn independently of hop 1).

Draws: Floyd's algorithm (Bentley & Floyd, "Programming Pearls: A Sample of Brilliance", CACM 1987) picks
``k`` of ``d`` positions uniformly without replacement in ``k`` steps, each a uniform draw; here the steps
run for all nodes at once (a loop over ``k``, never over nodes). The random numbers are a hash of
``(key, hop, node, step)`` instead of a generator's stream, so a node's sample does not depend on which
other nodes share its batch: a global batch split across processes samples exactly what one process
samples for it. The same ``key`` gives the same blocks.
"""

from dataclasses import dataclass

import torch
from torch import Tensor

from ...errors import InputError
from ..sparse import CSR

MAX_NODES = 2**31 - 1  # node ids are hashed as 32-bit words
_MASK = 0xFFFFFFFF


@dataclass
class Blocks:
    """The sampled computation graph of a batch.

    ``nodes`` holds global ids: the first ``sizes[h]`` of them are :math:`B^h` (``sizes[0]``: the seeds, in
    their given order). ``edges[h - 1]`` ``(2, E_h)`` are hop ``h``'s edges in local ids (positions in
    ``nodes``): sources ``< sizes[h]``, targets ``< sizes[h - 1]``.
    """

    nodes: Tensor
    sizes: list[int]
    edges: list[Tensor]

    @property
    def num_hops(self) -> int:
        return len(self.edges)


def hash32(x):
    """A 32-bit integer hash (``lowbias32``, C. Wellons' hash-prospector) of ints or int64 tensors in
    ``[0, 2^32)``; every product stays below 2^49, so int64 arithmetic never overflows."""
    x = x ^ (x >> 16)
    x = _mul32(x, 0x7FEB352D)
    x = x ^ (x >> 15)
    x = _mul32(x, 0x846CA68B)
    return x ^ (x >> 16)


def _mul32(x, c: int):
    return (x * (c & 0xFFFF) + (((x * (c >> 16)) & 0xFFFF) << 16)) & _MASK


def mix(*words: int) -> int:
    """One 32-bit key from several integers (a seed, an epoch, a step ...)."""
    key = 0x2545F491
    for w in words:
        key = hash32(key ^ (hash32(w & _MASK) + (w >> 32 & _MASK)) & _MASK)
    return key


def _uniform_below(node_keys: Tensor, step: int, bound: Tensor) -> Tensor:
    """An integer uniform in ``[0, bound)`` per node, a function of its key ``hash32(node ^ key)`` and ``step``."""
    h = hash32(node_keys ^ hash32(step))  # (n,) in [0, 2^32)
    return (h * bound) >> 32  # bound < 2^31: the product fits in int64


def check_nodes(nodes: Tensor, num_nodes: int, what: str = "seed nodes") -> Tensor:
    """``nodes`` as int64 after checking they are a 1-D integer tensor of ids in ``[0, num_nodes)``."""
    if not isinstance(nodes, Tensor) or nodes.dim() != 1 or nodes.dtype.is_floating_point or nodes.dtype == torch.bool:
        raise InputError(f"{what} must be a 1-D integer tensor, got {getattr(nodes, 'dtype', type(nodes))} "
                         f"{tuple(getattr(nodes, 'shape', ()))}")
    if nodes.numel() and (int(nodes.min()) < 0 or int(nodes.max()) >= num_nodes):
        bad = int(nodes.min()) if int(nodes.min()) < 0 else int(nodes.max())
        raise InputError(f"{what} include node {bad}, outside the graph's {num_nodes} nodes [0, {num_nodes})")
    return nodes.long()


def check_fanouts(fanouts, num_layers: int | None = None) -> list[int]:
    """Fan-outs as a list of ints, each positive or -1 (all neighbours); one per layer if ``num_layers``."""
    fanouts = [int(k) for k in fanouts]
    if not fanouts or any(k == 0 or k < -1 for k in fanouts):
        raise InputError(f"fan-outs must be positive or -1 (all neighbours), at least one, got {fanouts}")
    if num_layers is not None and len(fanouts) != num_layers:
        raise InputError(f"{len(fanouts)} fan-outs {fanouts} for a model of {num_layers} layers: give one per layer")
    return fanouts


def sample_neighbours(csr: CSR, nodes: Tensor, fanout: int, key: int = 0) -> tuple[Tensor, Tensor]:
    """``min(fanout, degree)`` in-neighbours of each of ``nodes`` (global ids), uniform without replacement;
    ``fanout = -1`` takes all.

    Returns the sampled edges as ``(src, dst)``: ``src`` global ids of the sources, ``dst`` positions in
    ``nodes`` of the targets, grouped by target.
    """
    start = csr.indptr[nodes]
    deg = csr.indptr[nodes + 1] - start  # (n,)
    full = deg <= fanout if fanout >= 0 else torch.ones_like(deg, dtype=torch.bool)
    # nodes with at most `fanout` neighbours keep them all: the positions 0..deg-1 of each
    counts = torch.where(full, deg, 0)
    dst_all = torch.repeat_interleave(torch.arange(nodes.numel()), counts)
    pos_all = torch.arange(dst_all.numel()) - (counts.cumsum(0) - counts)[dst_all]
    # the others: Floyd's algorithm, k = fanout steps; step s draws t uniform in [0, j], j = d - k + s,
    # and takes t unless it is already taken, else j (always new)
    part = (~full).nonzero().squeeze(1)
    d = deg[part]  # (P,)
    node_keys = hash32(nodes[part] ^ key)
    # k steps only where some node has more than k neighbours: a fan-out above every degree costs nothing
    chosen = d.new_empty(part.numel(), max(fanout, 0) if part.numel() else 0)  # (P, k)
    for s in range(chosen.size(1)):
        j = d - fanout + s
        t = _uniform_below(node_keys, s, j + 1)
        taken = (chosen[:, :s] == t[:, None]).any(dim=1)
        chosen[:, s] = torch.where(taken, j, t)
    dst = torch.cat([dst_all, part.repeat_interleave(chosen.size(1))])
    pos = torch.cat([pos_all, chosen.flatten()])
    return csr.indices[start[dst] + pos].long(), dst


def append_new(nodes: Tensor, candidates: Tensor) -> tuple[Tensor, Tensor]:
    """``nodes`` (distinct ids) extended by the ``candidates`` not yet in it, in order of first appearance,
    and the position of every candidate in the result."""
    both = torch.cat([nodes, candidates])
    unique, inverse = torch.unique(both, return_inverse=True)
    first = torch.full((unique.numel(),), both.numel()).scatter_reduce_(0, inverse, torch.arange(both.numel()), "amin")
    order = first.argsort()  # the existing nodes keep their positions 0..len(nodes)-1
    rank = torch.empty_like(order)
    rank[order] = torch.arange(order.numel())
    return unique[order], rank[inverse[nodes.numel():]]


def sample_blocks(csr: CSR, seeds: Tensor, fanouts, key: int = 0) -> Blocks:
    """The blocks of hops ``1 .. len(fanouts)`` around ``seeds`` (distinct global ids); ``fanouts[h - 1]``
    neighbours per target at hop ``h`` (see the module docstring)."""
    if csr.num_nodes > MAX_NODES:
        raise InputError(f"the sampler handles at most {MAX_NODES} nodes, the graph has {csr.num_nodes}")
    fanouts = check_fanouts(fanouts)
    nodes = check_nodes(seeds, csr.num_nodes)
    if torch.unique(nodes).numel() != nodes.numel():
        raise InputError("seed nodes must be distinct")
    sizes, edges = [nodes.numel()], []
    for hop, fanout in enumerate(fanouts, start=1):
        src, dst = sample_neighbours(csr, nodes, fanout, mix(key, hop))
        nodes, src_local = append_new(nodes, src)
        sizes.append(nodes.numel())
        edges.append(torch.stack([src_local, dst]))
    return Blocks(nodes, sizes, edges)
