"""Node classification: the layer stacks, full-batch training, over-smoothing with depth, and graphs read as
sequences by an LSTM (report §3.4)."""

from .depth import DeepGCN, mean_pairwise_distance
from .models import LayerStack, build_model
from .sequence import NeighbourhoodLSTM, bfs_order, dfs_order
from .train import NodeTrainConfig, RunResult, default_config, fit, fit_model

__all__ = ["DeepGCN", "LayerStack", "NeighbourhoodLSTM", "NodeTrainConfig", "RunResult", "bfs_order", "build_model",
           "default_config", "dfs_order", "fit", "fit_model", "mean_pairwise_distance"]
