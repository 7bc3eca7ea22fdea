r"""Link prediction with graph auto-encoders (:mod:`.autoencoder`) on the edge split of :mod:`.split`, scored by
:mod:`~seqgraph.graph.link.metrics`.

Training minimises the binary cross-entropy of :math:`\sigma(z_u^T z_v)` over the training edges plus every
node paired with itself (Kipf's code reconstructs :math:`A_{train} + I`), and over as many non-edges, the two
means added. Inputs are the raw 0/1 features (:func:`~seqgraph.graph.link.autoencoder.raw_scale`), as in Kipf's
code.
"""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from ...errors import InputError, NonFiniteLossError
from ...resources import check_graph_model_fits
from ...seeding import seed_everything
from ..data import Graph, to_csr
from .autoencoder import GAE, decode, embed, raw_scale
from .metrics import average_precision, roc_auc
from .split import EdgeSplit, pair_keys, sample_negatives, split_edges

AUTOENCODERS = ("gae", "vgae")
# Kipf & Welling 2016, Table 1 (Cora): test AUC and AP in %
PUBLISHED = {"gae": {"auc": 91.0, "ap": 92.0}, "vgae": {"auc": 91.4, "ap": 92.6}}


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
