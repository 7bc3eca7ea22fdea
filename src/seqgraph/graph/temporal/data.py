r"""A signal on the nodes of a fixed graph over time, and the forecasting windows over it.

A :class:`TemporalSignal` holds the series :math:`x_t \in \mathbb R^N`, ``t = 0 .. T-1`` (a speed or a count per
node and step), the graph, and what the dataset says about it: the time of day of every step (traffic, where
DCRNN feeds it to the model), whether a 0 is a missing reading (METR-LA, PEMS-BAY) or a real zero (cases,
deliveries), and, for a graph that changes every step (England's daily mobility), one graph per step.

A window starting at ``s`` is the input :math:`x_{s} .. x_{s+P-1}` and the target :math:`x_{s+P} .. x_{s+P+H-1}`.
Windows are never stored: a dataset is its ``(T, N, F)`` array and a list of start indices, and a batch gathers its
own windows from the array (:meth:`TemporalSignal.batch`), so memory stays that of the series whatever the number of
windows (PyTorch Geometric Temporal keeps every snapshot's features as a separate array).
"""

from dataclasses import dataclass

import torch
from torch import Tensor

from ...errors import InputError


@dataclass
class TemporalSignal:
    """A forecasting dataset: the series, its graph and how to read it.

    Args:
        values: ``(T, N)`` float32, the quantity forecast.
        edge_index: ``(2, E)`` edges ``i -> j`` (row 0 ``i``), ``edge_weight`` ``(E,)`` their :math:`W_{ij}`.
        name: the dataset's name (for results and plots).
        time_of_day: ``(T,)`` the fraction of the day at every step, when the dataset has timestamps; None if not.
        missing_zeros: a 0 in ``values`` is a missing reading, left in the inputs and masked out of losses and
            metrics (DCRNN's datasets), rather than a count of zero.
        graphs: one ``(edge_index, edge_weight)`` per step for a graph that changes over time (None: the fixed
            graph above). A window uses the graph of its first step, as PyTorch Geometric Temporal's loader does.
        step_minutes: the sampling interval in minutes (5 for traffic), for labels; None for daily or weekly data.
        noise_mse: for a generated series, the mean squared error of the best possible one-step forecast (the
            variance of its noise); None for measured data.
    """

    values: Tensor
    edge_index: Tensor
    edge_weight: Tensor
    name: str
    time_of_day: Tensor | None = None
    missing_zeros: bool = False
    graphs: list[tuple[Tensor, Tensor]] | None = None
    step_minutes: float | None = None
    noise_mse: float | None = None

    def __post_init__(self):
        if self.values.dim() != 2 or not self.values.is_floating_point():
            raise InputError(f"{self.name}: the series must be a float (T, N) array, got {tuple(self.values.shape)}")
        if not bool(torch.isfinite(self.values).all()):
            raise InputError(f"{self.name}: the series holds NaN or infinite values")
        if self.edge_index.numel() and (int(self.edge_index.min()) < 0 or int(self.edge_index.max()) >= self.num_nodes):
            raise InputError(f"{self.name}: the graph refers to a node outside the series' {self.num_nodes} nodes")
        if self.time_of_day is not None and self.time_of_day.shape != (self.num_steps,):
            raise InputError(f"{self.name}: time of day needs one value per step ({self.num_steps})")
        if self.graphs is not None and len(self.graphs) != self.num_steps:
            raise InputError(f"{self.name}: {len(self.graphs)} graphs for {self.num_steps} steps")

    @property
    def num_steps(self) -> int:
        return self.values.size(0)

    @property
    def num_nodes(self) -> int:
        return self.values.size(1)

    @property
    def num_features(self) -> int:
        """Input features per node and step: the value, and the time of day where the dataset has it."""
        return 1 if self.time_of_day is None else 2

    def features(self, scaled: Tensor) -> Tensor:
        """The model's input array ``(T, N, F)``: the scaled values and, where known, the time of day."""
        if self.time_of_day is None:
            return scaled[..., None]
        return torch.stack([scaled, self.time_of_day[:, None].expand_as(scaled)], dim=-1)

    def count_windows(self, length: int, window: int, horizon: int) -> int:
        """How many windows of ``window`` inputs and ``horizon`` targets fit in ``length`` steps."""
        return max(length - window - horizon + 1, 0)

    def check_windows(self, window: int, horizon: int) -> None:
        if window < 1 or horizon < 1:
            raise InputError(f"the window and the horizon need at least one step, got {window} and {horizon}")
        if self.count_windows(self.num_steps, window, horizon) == 0:
            raise InputError(f"{self.name} has {self.num_steps} steps: too few for a window of {window} inputs and "
                             f"{horizon} steps ahead")


def batch(features: Tensor, values: Tensor, starts: Tensor, window: int, horizon: int) -> tuple[Tensor, Tensor]:
    """The windows starting at ``starts`` ``(B,)``: inputs ``(B, P, N, F)`` from ``features`` ``(T, N, F)`` and
    targets ``(B, H, N)`` from ``values`` ``(T, N)``. Only these ``B`` windows are copied."""
    steps = starts[:, None] + torch.arange(window + horizon, device=starts.device)  # (B, P + H)
    return features[steps[:, :window]], values[steps[:, window:]]
