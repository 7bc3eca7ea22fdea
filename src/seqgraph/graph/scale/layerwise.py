r"""GCN, GraphSAGE-mean and GAT as stacks of layers that run on sampled blocks, on the whole graph, or one
layer at a time over every node: exact layer-wise inference.

Mini-batch training (:mod:`seqgraph.graph.scale.train`) runs the model on the blocks of
:func:`~seqgraph.graph.scale.sampler.sample_blocks`: layer ``l`` of ``L`` maps the features of the nodes
:math:`B^{L-l}` to those of :math:`B^{L-l-1}` along hop ``L - l``'s edges. The layers are the existing ones
(GCNConv, SAGEConv, GATConv) applied to the block's sources, of which the targets are the first rows.

Layer-wise inference (Hamilton et al. 2017, Appendix A; DGL's and PyG's "inference over the full graph")
computes :math:`H^{(l+1)}` for every node from :math:`H^{(l)}` with full neighbourhoods, in chunks of
consecutive target nodes bounded in number and in incoming edges, so memory stays bounded whatever the
graph's size and the accuracy is the model's, not a sampled estimate. With all neighbours present each
layer computes what it computes on the whole graph, so the result equals the full-batch forward pass.
"""

import torch
from torch import Tensor

from ...errors import InputError
from ..node.models import LayerStack
from ..sparse import CSR
from .sampler import append_new, sample_neighbours


def chunks(indptr: Tensor, max_nodes: int, max_edges: int) -> list[tuple[int, int]]:
    """Ranges ``[lo, hi)`` of consecutive nodes covering ``[0, N)``, each of at most ``max_nodes`` nodes and
    ``max_edges`` incoming edges (a single node with more edges is a range of its own)."""
    if max_nodes <= 0 or max_edges <= 0:
        raise InputError(f"chunk sizes must be positive, got {max_nodes} nodes and {max_edges} edges")
    num_nodes, ranges, lo = indptr.numel() - 1, [], 0
    while lo < num_nodes:
        by_edges = int(torch.searchsorted(indptr, indptr[lo] + max_edges, right=True)) - 1
        hi = max(lo + 1, min(lo + max_nodes, by_edges, num_nodes))
        ranges.append((lo, hi))
        lo = hi
    return ranges


@torch.no_grad()
def layerwise_inference(model: LayerStack, csr: CSR, x: Tensor, max_nodes: int = 16384,
                        max_edges: int = 1 << 20) -> Tensor:
    """The model's output for every node ``(N, C)``, one layer at a time with full neighbourhoods (eval mode).

    ``x`` ``(N, F)`` may be a memory-mapped array's tensor: each chunk reads only the rows it needs. Peak
    memory: one layer's output ``(N, F')`` plus a chunk's ``max_nodes + max_edges`` gathered rows.
    """
    model.eval()
    if x.dim() != 2 or x.size(0) != csr.num_nodes:
        raise InputError(f"features must have shape (num_nodes={csr.num_nodes}, F), got {tuple(x.shape)}")
    deg = csr.degree()
    ranges = chunks(csr.indptr, max_nodes, max_edges)
    param = next(model.parameters())
    for index in range(model.num_layers):
        out = None
        for lo, hi in ranges:
            targets = torch.arange(lo, hi)
            src, dst = sample_neighbours(csr, targets, -1)  # every in-neighbour
            nodes, src_local = append_new(targets, src)  # the targets first, then their new neighbours
            h = x.index_select(0, nodes).to(param.device, param.dtype)
            h = model.layer(index, h, torch.stack([src_local, dst]).to(param.device), deg[nodes].to(param.device))
            if out is None:
                out = h.new_empty(csr.num_nodes, h.size(1))
            out[lo:hi] = h[: hi - lo]
        x = out
    return x
