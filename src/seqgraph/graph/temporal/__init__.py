"""Sequences on graphs (report §3.4, combined): recurrent networks whose products are graph convolutions, forecasting
a signal on the nodes of a fixed graph (traffic speeds, epidemic counts) under each benchmark's published protocol.

Reads bottom-up: :mod:`.operators` (the graph matrices), :mod:`~seqgraph.graph.temporal.conv` (diffusion and
Chebyshev convolutions), :mod:`.cells` (DCGRU, GConvGRU, GConvLSTM, T-GCN), :mod:`.models` (DCRNN and the
forecasters, the baselines), :mod:`.data`, :mod:`.protocols`, :mod:`~seqgraph.graph.temporal.metrics`,
:mod:`~seqgraph.graph.temporal.train` and :mod:`.presets`.
"""

from .cells import DCGRUCell, GConvGRUCell, GConvLSTMCell, TGCNCell, TGCNCodeCell
from .conv import ChebConv, DiffusionConv
from .data import TemporalSignal
from .models import DCRNN, Forecaster, NodeGRU, WindowGCN, build_model
from .presets import default_config
from .train import ForecastConfig, ForecastTrainer

__all__ = ["DCGRUCell", "DCRNN", "ChebConv", "DiffusionConv", "ForecastConfig", "ForecastTrainer", "Forecaster",
           "GConvGRUCell", "GConvLSTMCell", "NodeGRU", "TGCNCell", "TGCNCodeCell", "TemporalSignal", "WindowGCN",
           "build_model", "default_config"]
