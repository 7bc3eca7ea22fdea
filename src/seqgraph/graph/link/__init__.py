"""Link prediction: the edge split, graph auto-encoders (GAE, VGAE), their training and ranking metrics."""

from .autoencoder import GAE, recommend
from .metrics import average_precision, roc_auc
from .split import EdgeSplit, split_edges
from .train import LinkPredConfig, LinkPredResult, fit_linkpred

__all__ = ["GAE", "EdgeSplit", "LinkPredConfig", "LinkPredResult", "average_precision", "fit_linkpred", "recommend",
           "roc_auc", "split_edges"]
