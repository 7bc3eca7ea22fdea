r"""Graph readouts: one vector per graph from its nodes' vectors (report §3.3, graph-level outputs).

A batch is a disjoint union of graphs with ``batch`` ``(N,)`` giving each node's graph
(:mod:`seqgraph.graph.level.batch`), so a readout is a segment reduction over ``batch``: for graph ``b``,

.. math::
    h_b^{sum} = \sum_{v:\,batch_v = b} h_v, \qquad h_b^{mean} = \frac{h_b^{sum}}{|\{v: batch_v = b\}|}, \qquad
    h_b^{max} = \max_{v:\,batch_v = b} h_v \ \text{(per feature)}

A graph without nodes reads out as zeros. :class:`Set2Set` is the learned readout of Vinyals et al. (2016).
"""

import torch
from torch import Tensor, nn

from ...cells import LSTMCell
from ...errors import InputError


def sum_readout(h: Tensor, batch: Tensor, num_graphs: int) -> Tensor:
    """``(N, F) -> (B, F)``: the sum of each graph's node vectors."""
    return h.new_zeros(num_graphs, h.size(1)).index_add_(0, batch, h)


def mean_readout(h: Tensor, batch: Tensor, num_graphs: int) -> Tensor:
    """``(N, F) -> (B, F)``: the mean of each graph's node vectors."""
    count = torch.bincount(batch, minlength=num_graphs).clamp_(min=1).to(h.dtype)  # (B,)
    return sum_readout(h, batch, num_graphs) / count[:, None]


def max_readout(h: Tensor, batch: Tensor, num_graphs: int) -> Tensor:
    """``(N, F) -> (B, F)``: the feature-wise maximum over each graph's nodes (ties share the gradient)."""
    index = batch[:, None].expand_as(h)
    return h.new_zeros(num_graphs, h.size(1)).scatter_reduce_(0, index, h, "amax", include_self=False)


READOUTS = {"sum": sum_readout, "mean": mean_readout, "max": max_readout}


def segment_softmax(e: Tensor, batch: Tensor, num_graphs: int) -> Tensor:
    """Softmax of the scores ``e`` ``(N,)`` over the nodes of each graph."""
    e_max = e.new_full((num_graphs,), float("-inf")).scatter_reduce_(0, batch, e, "amax")  # (B,)
    p = torch.exp(e - e_max[batch])  # shifted by the graph's maximum, so exp never overflows   (N,)
    return p / p.new_zeros(num_graphs).index_add_(0, batch, p)[batch]


class Set2Set(nn.Module):
    r"""The Set2Set readout of Vinyals, Bengio & Kudlur, "Order Matters: Sequence to sequence for sets"
    (ICLR 2016), https://arxiv.org/abs/1511.06391, §4.2 ("process" block), over each graph's nodes.

    An LSTM without input reads the set ``{m_i}`` (the node vectors of one graph) ``T`` times by content-based
    attention; its query starts at zero and the result is order-invariant:

    .. math::
        q_t &= \mathrm{LSTM}(q^*_{t-1})                       \qquad (3) \\
        e_{i,t} &= m_i \cdot q_t                              \qquad (4) \\
        a_{i,t} &= \frac{\exp(e_{i,t})}{\sum_j \exp(e_{j,t})}  \qquad (5) \\
        r_t &= \sum_i a_{i,t} m_i                             \qquad (6) \\
        q^*_t &= [q_t, r_t]                                   \qquad (7)

    with :math:`q^*_0 = 0` and the LSTM state :math:`(h_0, c_0) = 0`; the output is :math:`q^*_T`. As in
    Gilmer et al. (2017) and PyG's ``Set2Set``, the LSTM's input is :math:`q^*_{t-1}` (size 2F) and its hidden
    state, :math:`q_t`, has the size F of the node vectors. The LSTM is seqgraph's own
    :class:`~seqgraph.cells.LSTMCell` (:ref:`eq. (4)-(9) <eq-lstm>`), so this is a recurrent network reading a
    graph: the report's §3.4 combination of an RNN and a GNN, at graph level.

    Args:
        in_channels: F, the size of the node vectors :math:`m_i`.
        processing_steps: T, the number of attention reads.

    Shapes: ``x`` ``(N, F)``, ``batch`` ``(N,)`` -> ``(B, 2F)``.
    """

    def __init__(self, in_channels: int, processing_steps: int = 3):
        super().__init__()
        if in_channels <= 0 or processing_steps <= 0:
            raise InputError(f"Set2Set needs positive in_channels and processing_steps, "
                             f"got {in_channels}, {processing_steps}")
        self.in_channels = in_channels
        self.processing_steps = processing_steps
        self.lstm = LSTMCell(2 * in_channels, in_channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.lstm.reset_parameters()

    def forward(self, x: Tensor, batch: Tensor, num_graphs: int) -> Tensor:
        q_star = x.new_zeros(num_graphs, 2 * self.in_channels)  # q*_0 = 0   (B, 2F)
        state = self.lstm.zero_state(q_star)
        for _ in range(self.processing_steps):
            # (3)
            state = self.lstm(q_star, state)
            q = state[0]  # (B, F)
            # (4)
            e = (x * q[batch]).sum(-1)  # (N,)
            # (5)
            a = segment_softmax(e, batch, num_graphs)  # (N,)
            # (6)
            r = sum_readout(a[:, None] * x, batch, num_graphs)  # (B, F)
            # (7)
            q_star = torch.cat([q, r], dim=-1)  # (B, 2F)
        return q_star

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.in_channels}, processing_steps={self.processing_steps})"
