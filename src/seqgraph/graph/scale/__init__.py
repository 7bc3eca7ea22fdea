"""Graphs at scale: neighbour sampling, memory-mapped graphs, exact layer-wise inference and mini-batch training
(data-parallel under torchrun)."""

from .layerwise import layerwise_inference
from .sampler import Blocks, sample_blocks
from .storage import GraphStore, open_store, save_store
from .train import MiniBatchConfig, MiniBatchTrainer, fit_minibatch

__all__ = ["Blocks", "GraphStore", "MiniBatchConfig", "MiniBatchTrainer", "fit_minibatch", "layerwise_inference",
           "open_store", "sample_blocks", "save_store"]
