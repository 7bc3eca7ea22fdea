"""Parameter initialisations shared by the graph layers."""

import math

from torch import Tensor, nn


def glorot_(weight: Tensor) -> None:
    """Uniform in ±sqrt(6 / (fan_in + fan_out)) over the last two dimensions, as PyG's ``inits.glorot``."""
    bound = math.sqrt(6.0 / (weight.size(-2) + weight.size(-1)))
    nn.init.uniform_(weight, -bound, bound)
