"""seqgraph: recurrent and graph neural networks written from their equations."""

__version__ = "0.1.0"
