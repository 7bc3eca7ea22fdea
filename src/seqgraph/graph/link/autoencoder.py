r"""Graph auto-encoders: GAE and VGAE, the inner-product decoder, and link recommendation from their embeddings.

Kipf & Welling, "Variational Graph Auto-Encoders" (NIPS 2016 Bayesian Deep Learning workshop),
https://arxiv.org/abs/1611.07308. A two-layer GCN encodes every node into :math:`z_i`; the decoder scores a
pair by the inner product, so the probability of an edge is

.. math::
    Z = \mathrm{GCN}(X, A_{train}) = \hat A \,\mathrm{ReLU}(\hat A X W_0) W_1, \qquad
    p(A_{ij} = 1 \mid z_i, z_j) = \sigma(z_i^T z_j)

The variational version (VGAE) has two output GCNs for the mean and the log standard deviation of a Gaussian
per node, samples :math:`z_i = \mu_i + \sigma_i \odot \epsilon` (reparameterisation, :math:`\epsilon \sim
N(0, I)`) while training, uses :math:`\mu` at evaluation, and adds :math:`\frac{1}{N} KL(q(Z|X,A) \,\|\, N(0, I))`
to the reconstruction loss, as Kipf's code does.
"""

import math

import torch
from torch import Tensor, nn

from ...errors import InputError
from ..conv.gcn import GCNConv


class GAE(nn.Module):
    """Graph auto-encoder: a two-layer GCN encoder (``hidden_channels`` then ``out_channels``) and the
    inner-product decoder (Kipf & Welling 2016). With ``variational=True`` it is the VGAE.

    The GCN layers cache their normalisation: one model serves one fixed (training) graph.

    Args:
        in_channels: :math:`F`, input features per node.
        hidden_channels: width of the first GCN layer (32 in the paper).
        out_channels: size of :math:`z_i` (16 in the paper).
        variational: two output GCNs for :math:`\\mu` and :math:`\\log\\sigma`, a sampled :math:`Z`.

    Shapes: ``x`` ``(N, F)`` dense or sparse CSR, ``edge_index`` ``(2, E)`` -> ``z`` ``(N, out_channels)``.
    """

    def __init__(self, in_channels: int, hidden_channels: int = 32, out_channels: int = 16,
                 variational: bool = False):
        super().__init__()
        self.variational = variational
        # no biases, as in Kipf's code
        self.conv1 = GCNConv(in_channels, hidden_channels, cached=True, bias=False)
        self.conv_mu = GCNConv(hidden_channels, out_channels, cached=True, bias=False)
        self.conv_logstd = GCNConv(hidden_channels, out_channels, cached=True, bias=False) if variational else None
        self.kl = None  # KL(q(Z|X,A) || N(0, I)) / N of the last training forward pass (VGAE)

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        h = self.conv1(x, edge_index).relu()  # ReLU(Â X W_0)   (N, hidden)
        mu = self.conv_mu(h, edge_index)  # Â h W_1   (N, D)
        if not self.variational or not self.training:
            return mu
        logstd = self.conv_logstd(h, edge_index).clamp(max=10)  # log σ, clamped as PyG so exp() stays finite
        # KL between N(μ, σ²) and N(0, 1), summed over dimensions, averaged over nodes, scaled by 1/N (Kipf's code)
        self.kl = -0.5 / mu.size(0) * (1 + 2 * logstd - mu**2 - logstd.exp() ** 2).sum(-1).mean()
        return mu + torch.randn_like(mu) * logstd.exp()  # z = μ + σ ⊙ ε   (N, D)


def decode(z: Tensor, pairs: Tensor) -> Tensor:
    """The logit z_u^T z_v of each pair ``(2, M) -> (M,)``; σ of it is p(A_uv = 1)."""
    return (z.index_select(0, pairs[0]) * z.index_select(0, pairs[1])).sum(-1)


def raw_scale(x: Tensor) -> Tensor:
    """Each row divided by its largest entry (zero rows stay zero).

    The Planetoid loader divides each row by its sum; this gives back the raw 0/1 bag-of-words of Cora and
    Citeseer, which Kipf's GAE code uses (on Cora: test AUC +1 point, AP +1.5 over the row-normalised input).
    """
    return x / x.amax(dim=1, keepdim=True).clamp(min=torch.finfo(x.dtype).tiny)


@torch.no_grad()
def embed(model: GAE, x: Tensor, edge_index: Tensor) -> Tensor:
    """Z in eval mode (μ for the VGAE)."""
    model.eval()
    return model(x, edge_index)


@torch.no_grad()
def recommend(z: Tensor, edge_index: Tensor, node: int, k: int) -> tuple[Tensor, Tensor]:
    """The ``k`` nodes most likely to be missing neighbours of ``node``: highest σ(z_node^T z_v) over every
    ``v`` that is neither ``node`` nor already linked to it in ``edge_index`` (either direction).

    Returns ``(nodes (k',), probabilities (k',))``, best first; ``k' = min(k, candidates)``.
    """
    n = z.size(0)
    if not 0 <= node < n:
        raise InputError(f"node {node} is not in the graph (0 .. {n - 1})")
    if k < 1:
        raise InputError(f"k must be positive, got {k}")
    scores = z @ z[node]  # z_node^T z_v for every v   (N,)
    linked = torch.cat([edge_index[1, edge_index[0] == node], edge_index[0, edge_index[1] == node]])
    scores[linked] = -math.inf
    scores[node] = -math.inf
    k = min(k, n - 1 - linked.unique().numel() + int((linked == node).any()))
    top = scores.topk(k)
    return top.indices, top.values.sigmoid()
