r"""Link prediction with graph auto-encoders: the edge split, GAE and VGAE (scored by :mod:`.metrics`).

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

Training minimises the binary cross-entropy of :math:`\sigma(z_u^T z_v)` over the training edges plus every
node paired with itself (Kipf's code reconstructs :math:`A_{train} + I`), and over as many non-edges, the two
means added. Inputs are the raw 0/1 features (:func:`raw_scale`), as in Kipf's code.

The split (:func:`split_edges`) cannot leak: it works on undirected pairs ``u < v``, so both directions of an
edge land in the same split; the encoder sees the training edges only. Validation and test negatives are
pairs that are no edge of the whole graph, never self-loops, distinct from each other, one per positive.
Fresh training negatives are drawn every epoch (:func:`sample_negatives`) among the pairs that are neither
training edges nor held out: every held-out pair (positive and negative alike, so excluding them reveals no
label) stays unseen by training.
"""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import InputError, NonFiniteLossError
from ..resources import check_graph_model_fits
from ..seeding import seed_everything
from .data import Graph, remove_self_loops, to_csr, to_undirected
from .layers import GCNConv
from .metrics import average_precision, roc_auc

AUTOENCODERS = ("gae", "vgae")
# Kipf & Welling 2016, Table 1 (Cora): test AUC and AP in %
PUBLISHED = {"gae": {"auc": 91.0, "ap": 92.0}, "vgae": {"auc": 91.4, "ap": 92.6}}


@dataclass
class EdgeSplit:
    """Undirected pairs ``(2, M)`` with ``u < v`` per split, and the message-passing graph of training edges.

    ``train_edge_index`` holds both directions of ``train_pos`` (what the encoder sees).
    """

    num_nodes: int
    train_pos: Tensor
    val_pos: Tensor
    val_neg: Tensor
    test_pos: Tensor
    test_neg: Tensor

    @property
    def train_edge_index(self) -> Tensor:
        return torch.cat([self.train_pos, self.train_pos.flip(0)], dim=1)  # (2, 2 M_train)

    def held_out(self) -> Tensor:
        """Every validation and test pair, positive or negative, ``(2, M)``."""
        return torch.cat([self.val_pos, self.val_neg, self.test_pos, self.test_neg], dim=1)


def undirected_pairs(edge_index: Tensor, num_nodes: int) -> Tensor:
    """Each undirected edge once as ``(u, v)`` with ``u < v``, sorted; self-loops dropped. ``(2, M)``."""
    edges = to_undirected(remove_self_loops(edge_index), num_nodes)
    return edges[:, edges[0] < edges[1]]


def pair_keys(pairs: Tensor, num_nodes: int) -> Tensor:
    """A unique integer per unordered pair: ``min * N + max``. ``(2, M) -> (M,)``."""
    return pairs.min(0).values * num_nodes + pairs.max(0).values


def sample_negatives(num: int, num_nodes: int, forbidden: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """``num`` distinct unordered pairs ``(u, v)``, ``u < v``, uniformly among those whose key is not in
    ``forbidden`` (see :func:`pair_keys`). ``(2, num)``.

    Rejection sampling: Cora has 3.7 million pairs and 5,278 edges, so almost every draw is accepted.
    """
    forbidden = torch.unique(forbidden)
    available = num_nodes * (num_nodes - 1) // 2 - forbidden.numel()
    if num > available:
        raise InputError(f"asked for {num} negative pairs, but only {available} pairs are free")
    chosen = forbidden.new_empty(0)
    while chosen.numel() < num:
        need = num - chosen.numel()
        u, v = torch.randint(num_nodes, (2, 2 * need + 16), generator=generator)
        keep = u != v  # no self-loops
        keys = torch.minimum(u, v)[keep] * num_nodes + torch.maximum(u, v)[keep]
        keys = keys[~torch.isin(keys, forbidden) & ~torch.isin(keys, chosen)].unique()
        # unique() sorts: shuffle before taking a prefix, or small node ids would be favoured
        keys = keys[torch.randperm(keys.numel(), generator=generator)[:need]]
        chosen = torch.cat([chosen, keys])
    return torch.stack([chosen // num_nodes, chosen % num_nodes])


def split_edges(graph: Graph, val_fraction: float = 0.05, test_fraction: float = 0.10,
                seed: int = 0) -> EdgeSplit:
    """Hold out ``floor(fraction * M)`` of the ``M`` undirected edges for validation and test (Kipf's 5/10 %),
    with as many negative pairs each; seeded by ``seed``.
    """
    if not (0 <= val_fraction and 0 <= test_fraction and val_fraction + test_fraction < 1):
        raise InputError(f"validation and test fractions must be >= 0 and sum to less than 1, "
                         f"got {val_fraction} and {test_fraction}")
    n = graph.num_nodes
    pairs = undirected_pairs(graph.edge_index, n)  # (2, M)
    m = pairs.size(1)
    num_val, num_test = math.floor(val_fraction * m), math.floor(test_fraction * m)
    if num_val + num_test >= m:
        raise InputError(f"the graph has {m} edges: too few to hold out {num_val} + {num_test}")
    generator = torch.Generator().manual_seed(seed)
    pairs = pairs[:, torch.randperm(m, generator=generator)]
    val_pos, test_pos, train_pos = pairs.split([num_val, num_test, m - num_val - num_test], dim=1)
    # negatives: no edge of the whole graph (any split), distinct across val and test
    negatives = sample_negatives(num_val + num_test, n, pair_keys(pairs, n), generator)
    val_neg, test_neg = negatives.split([num_val, num_test], dim=1)
    return EdgeSplit(n, train_pos, val_pos, val_neg, test_pos, test_neg)


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


@dataclass
class LinkPredConfig:
    model: str = "gae"  # gae | vgae
    hidden_size: int = 32  # first GCN layer (Kipf & Welling 2016)
    latent: int = 16  # size of z
    lr: float = 0.01  # Adam
    epochs: int = 200
    val_fraction: float = 0.05
    test_fraction: float = 0.10


@dataclass
class LinkPredResult:
    seed: int
    best_epoch: int  # the highest validation AUC (ties: AP), 1-based
    val_auc_best: float
    test_auc_best_val: float  # headline: test AUC and AP at best_epoch
    test_ap_best_val: float
    test_auc_last: float  # at the last epoch (Kipf & Welling report these)
    test_ap_last: float
    seconds_per_epoch: float  # training step and evaluation
    history: list[dict]  # per epoch: epoch, loss, val_auc, val_ap, test_auc, test_ap


def evaluate(z: Tensor, pos: Tensor, neg: Tensor) -> tuple[float, float]:
    """AUC and AP of the decoder's scores on positive and negative pairs."""
    scores = torch.cat([decode(z, pos), decode(z, neg)])
    labels = torch.cat([torch.ones(pos.size(1), dtype=torch.bool), torch.zeros(neg.size(1), dtype=torch.bool)])
    return roc_auc(scores, labels), average_precision(scores, labels)


def build_autoencoder(config: LinkPredConfig, in_channels: int, num_classes: int = 0) -> "GAE":
    """The (V)GAE of ``config`` (``num_classes``, unused, lets it be built like a node classifier)."""
    return GAE(in_channels, config.hidden_size, config.latent, variational=config.model == "vgae")


def fit_linkpred(graph: Graph, config: LinkPredConfig, seed: int, device: torch.device | str = "cpu",
                 on_epoch: Callable[[dict], None] | None = None) -> tuple[LinkPredResult, Tensor, EdgeSplit]:
    """Split ``graph``'s edges with ``seed``, train a (V)GAE on the training edges with Adam and fresh negatives
    each epoch, and score the held-out pairs after every epoch. The headline is the test AUC and AP at the epoch
    of highest validation AUC (as the node classifiers report test accuracy at the best validation epoch); the
    last epoch's, which the paper reports, are kept beside it. Returns the result, the last epoch's embeddings
    Z ``(N, latent)`` (μ for the VGAE) and the split.
    """
    if config.model not in AUTOENCODERS:
        raise InputError(f"unknown model {config.model!r}; choose one of {', '.join(AUTOENCODERS)}")
    if graph.x is None:
        raise InputError("link prediction needs node features graph.x")
    check_graph_model_fits(f"this {config.model.upper()}", lambda: build_autoencoder(config, graph.x.size(1)),
                           graph.num_nodes, graph.edge_index.size(1))
    seed_everything(seed)
    split = split_edges(graph, config.val_fraction, config.test_fraction, seed)
    n = graph.num_nodes
    # training negatives avoid the training edges and every held-out pair
    forbidden = pair_keys(torch.cat([split.train_pos, split.held_out()], dim=1), n)
    x = to_csr(raw_scale(graph.x.float())).to(device)
    edge_index = split.train_edge_index.to(device)
    model = build_autoencoder(config, x.size(1)).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    # positives: the training edges and, as in Kipf's code (target A_train + I), every node paired with itself
    pos = torch.cat([split.train_pos, torch.arange(n).expand(2, n)], dim=1).to(device)
    num_neg = split.train_pos.size(1)
    scored = {"val": (split.val_pos.to(device), split.val_neg.to(device)),
              "test": (split.test_pos.to(device), split.test_neg.to(device))}
    history = []
    start = time.perf_counter()
    for epoch in range(1, config.epochs + 1):
        model.train()
        optimizer.zero_grad()
        z = model(x, edge_index)  # (N, D)
        neg = sample_negatives(num_neg, n, forbidden).to(device)  # fresh every epoch, one per training edge
        pos_logits, neg_logits = decode(z, pos), decode(z, neg)  # (M,) each
        # -log σ(z_u^T z_v) over edges plus -log(1 - σ(z_u^T z_v)) over non-edges, each averaged (PyG's recon_loss)
        loss = (F.binary_cross_entropy_with_logits(pos_logits, torch.ones_like(pos_logits))
                + F.binary_cross_entropy_with_logits(neg_logits, torch.zeros_like(neg_logits)))
        if model.variational:
            loss = loss + model.kl
        loss.backward()
        optimizer.step()
        loss = float(loss.detach())
        if not math.isfinite(loss):
            raise NonFiniteLossError(epoch, loss, checkpointed=False)
        z = embed(model, x, edge_index)  # (N, latent)
        record = {"epoch": epoch, "loss": loss}
        for name, (pos_pairs, neg_pairs) in scored.items():
            record[f"{name}_auc"], record[f"{name}_ap"] = evaluate(z, pos_pairs, neg_pairs)
        history.append(record)
        if on_epoch is not None:
            on_epoch(record)
    seconds = (time.perf_counter() - start) / config.epochs
    last, best = history[-1], max(history, key=lambda r: (r["val_auc"], r["val_ap"]))
    result = LinkPredResult(seed, best["epoch"], best["val_auc"], best["test_auc"], best["test_ap"], last["test_auc"],
                            last["test_ap"], seconds, history)
    return result, z, split


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
