r"""The graph isomorphism layer (GIN), whose neighbour sum is the sparse product of :mod:`seqgraph.graph.sparse`."""

import torch
from torch import Tensor, nn

from ..sparse import Adjacency, propagate


class GINConv(nn.Module):
    r"""The graph isomorphism layer of Xu, Hu, Leskovec & Jegelka, "How Powerful are Graph Neural Networks?"
    (ICLR 2019), https://arxiv.org/abs/1810.00826, :ref:`eq. (4.1) <eq-gin>`:

    .. math::
        h_v^{(k)} = \mathrm{MLP}^{(k)}\Big((1 + \epsilon^{(k)}) \cdot h_v^{(k-1)} + \sum_{u \in N(v)} h_u^{(k-1)}\Big)
        \qquad (4.1)

    The sum over neighbours is injective on multisets (Lemma 5), which makes GIN as powerful as the
    Weisfeiler-Lehman test (Theorem 3). GIN-0 fixes :math:`\epsilon = 0`; GIN-ε learns it (``train_eps``).
    PyG's names: ``nn`` is the MLP, ``eps`` the parameter or buffer :math:`\epsilon`.

    Args:
        nn: the MLP :math:`\mathrm{MLP}^{(k)}`, ``(N, F) -> (N, F')``.
        eps: the initial (or fixed) :math:`\epsilon`.
        train_eps: learn :math:`\epsilon` (GIN-ε) instead of keeping it fixed (GIN-0 when ``eps=0``).

    Shapes: ``x`` ``(N, F)``, ``edge_index`` ``(2, E)`` (row 0 source u, row 1 target v) or a
    :class:`~seqgraph.graph.sparse.Adjacency` (its sorted form, built once per batch) -> ``(N, F')``.
    """

    def __init__(self, nn: nn.Module, eps: float = 0.0, train_eps: bool = False):
        super().__init__()
        self.nn = nn
        self.initial_eps = eps
        if train_eps:
            self.eps = torch.nn.Parameter(torch.empty(1))
        else:
            self.register_buffer("eps", torch.empty(1))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for module in self.nn.modules():
            if module is not self.nn and hasattr(module, "reset_parameters"):
                module.reset_parameters()
        self.eps.data.fill_(self.initial_eps)

    def forward(self, x: Tensor, edge_index: Tensor | Adjacency) -> Tensor:
        neighbours = propagate(x, edge_index)  # Σ_{u ∈ N(v)} h_u   (N, F)
        # (4.1)
        return self.nn((1 + self.eps) * x + neighbours)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(nn={self.nn})"
