r"""A graph vector-autoregressive signal whose best forecast is known: a benchmark at any size, without files.

Sensors are placed uniformly in the unit square and linked to their nearest neighbours with DCRNN's Gaussian kernel,
:math:`W_{ij} = \exp(-d_{ij}^2 / \sigma^2)` (entries below 0.1 dropped, :math:`\sigma` the mean distance to the
second-nearest sensor), symmetrised; every sensor is linked to itself with weight 1, as in DCRNN's graphs. With
:math:`P = D^{-1} W` the random walk,

.. math::
    x_t = \tanh(\theta_0 x_{t-1} + \theta_1 P x_{t-1} + \theta_2 P^2 x_{t-1}) + \epsilon_t, \qquad
    \epsilon_t \sim N(0, s^2 I),

so the best one-step forecast is the :math:`\tanh` term and its mean squared error, the noise floor, is
:math:`s^2`. The defaults, :math:`\theta = (0.5, -1.5, 0)` and :math:`s = 0.1`, make a node's next value depend on
its neighbours' last values more than on its own history: a forecaster blind to the graph stays well above the
floor (a linear autoregression on each node's own last 12 values: about 1.4 times it), the last value far above it
(about 13 times).
"""

import numpy as np
import scipy.sparse
import torch
from scipy.spatial import cKDTree

from ...errors import InputError
from ...resources import check_allocation
from ..temporal.data import TemporalSignal

THETA = (0.5, -1.5, 0.0)
NOISE = 0.1
NEIGHBOURS = 8  # candidates per sensor before the kernel's cut-off


def sensor_graph(num_nodes: int, rng: np.random.Generator) -> scipy.sparse.csr_matrix:
    """The symmetric Gaussian-kernel weights of sensors placed at random (see the module docstring)."""
    positions = rng.random((num_nodes, 2))
    k = min(NEIGHBOURS, num_nodes - 1)
    distance, index = cKDTree(positions).query(positions, k=k + 1)  # itself first, at distance 0: weight 1
    sigma = distance[:, min(2, k)].mean()
    rows = np.repeat(np.arange(num_nodes), k + 1)
    weight = np.exp(-((distance / sigma) ** 2)).ravel()
    keep = weight >= 0.1
    w = scipy.sparse.coo_matrix((weight[keep], (rows[keep], index.ravel()[keep])), (num_nodes, num_nodes))
    return w.maximum(w.T).tocsr()


def generate_gvar(num_nodes: int = 207, num_steps: int = 34272, theta: tuple[float, ...] = THETA,
                  noise: float = NOISE, seed: int = 0) -> TemporalSignal:
    """The signal of the module docstring (``num_steps x num_nodes``), its graph and its noise floor."""
    if num_nodes < 2 or num_steps < 2 or noise <= 0:
        raise InputError(f"the generator needs at least 2 nodes and 2 steps and a positive noise, got {num_nodes}, "
                         f"{num_steps} and {noise}")
    check_allocation("the generated series", num_nodes * num_steps * 4)  # float32
    rng = np.random.default_rng(seed)
    w = sensor_graph(num_nodes, rng)
    walk = scipy.sparse.diags(1.0 / np.asarray(w.sum(1)).ravel()) @ w  # P = D^-1 W
    values = np.empty((num_steps, num_nodes), dtype=np.float32)
    x = rng.standard_normal(num_nodes) * noise
    for t in range(num_steps):
        values[t] = x
        px = walk @ x
        x = np.tanh(theta[0] * x + theta[1] * px + (theta[2] * (walk @ px) if len(theta) > 2 else 0.0)) \
            + rng.standard_normal(num_nodes) * noise
    coo = w.tocoo()
    edge_index = torch.from_numpy(np.stack([coo.row, coo.col]).astype(np.int64))
    return TemporalSignal(torch.from_numpy(values), edge_index, torch.from_numpy(coo.data).float(),
                          f"gvar-{num_nodes}x{num_steps}", step_minutes=5.0, noise_mse=noise**2)
