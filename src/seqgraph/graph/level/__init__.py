"""Graph-level outputs (report §3.3): batches of graphs, readouts, graph classifiers and their cross-validation."""

from .batch import GraphBatch, GraphDataset, minibatches
from .models import DeepSets, GraphClassifier, StructureAgnostic, build_model
from .readout import Set2Set, max_readout, mean_readout, sum_readout
from .train import ClassifyConfig, cross_validate

__all__ = ["ClassifyConfig", "DeepSets", "GraphBatch", "GraphClassifier", "GraphDataset", "Set2Set",
           "StructureAgnostic", "build_model", "cross_validate", "max_readout", "mean_readout", "minibatches",
           "sum_readout"]
