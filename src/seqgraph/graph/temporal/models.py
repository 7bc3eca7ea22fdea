r"""Forecasters: from a window of ``P`` steps on every node to the next ``H`` steps of its value.

Every model maps inputs ``x`` ``(B, P, N, F)`` (scaled; feature 0 the value forecast) to ``(B, H, N)``, batched over
windows: each time step is one sparse product per graph filter for the whole batch, with the graph operators built
once (:mod:`.operators`). Inside, signals are node-major, ``(N, B, F)``, so that no product needs a copy.

- :class:`DCRNN` (Li et al. 2018, §2.3): a stacked :class:`~seqgraph.graph.temporal.cells.DCGRUCell` encoder
  reads the window; a decoder of the same depth starts from its states and emits one step at a time, fed the
  previous step's value: during training the true one with probability :math:`\epsilon_i = k / (k + \exp(i / k))`
  at optimiser step :math:`i` (scheduled sampling, the inverse-sigmoid decay of DCRNN's code), else its own
  prediction; at test time always its own.
- :class:`Forecaster`: a stacked graph-recurrent encoder (GConvGRU, GConvLSTM, T-GCN) whose last state gives every
  node's ``H`` values through one linear layer (T-GCN's read-out).
- :class:`NodeGRU`: a GRU shared by all nodes, blind to the graph (the GRU row of T-GCN's and DCRNN's tables).
- :class:`WindowGCN`: a two-layer GCN over the window's values as node features, without recurrence (T-GCN's GCN
  row).
- :class:`LastValue` and :class:`WindowAverage`: no parameters; the last input repeated, or the window's mean
  (T-GCN's historical average).
"""

import math

import torch
from torch import Tensor, nn

from ...errors import InputError
from ...recurrent import GRU
from .cells import CELLS, DCGRUCell
from .operators import gcn_operator, product, random_walks, scaled_laplacian

MODELS = ("dcrnn", "gconv-gru", "gconv-lstm", "tgcn", "tgcn-code", "gru", "gcn", "last", "average")
OPERATORS = {"dcrnn": "walks", "gconv-gru": "laplacian", "gconv-lstm": "laplacian", "tgcn": "gcn", "tgcn-code": "gcn",
             "gcn": "gcn"}


def build_operators(kind: str | None, edge_index: Tensor, weight: Tensor, num_nodes: int):
    """The operators a model of ``OPERATORS`` kind ``kind`` multiplies by (None: it uses no graph)."""
    if kind == "walks":
        return random_walks(edge_index, weight, num_nodes)
    if kind == "laplacian":
        return scaled_laplacian(edge_index, weight, num_nodes)
    if kind == "gcn":
        return gcn_operator(edge_index, weight, num_nodes)
    return None


def sampling_probability(step: int, decay_steps: int) -> float:
    """The probability of feeding the truth at optimiser step ``step``: :math:`k / (k + \\exp(i / k))`, DCRNN's
    inverse sigmoid decay (``cl_decay_steps`` = ``k``; 0: never, always the model's own predictions)."""
    if decay_steps <= 0:
        return 0.0
    exponent = step / decay_steps
    return decay_steps / (decay_steps + math.exp(exponent)) if exponent < 700 else 0.0


class Encoder(nn.Module):
    """``num_layers`` graph-recurrent cells of one kind, each reading the outputs of the one below."""

    def __init__(self, cell: type, input_size: int, hidden_size: int, num_layers: int, **cell_options):
        super().__init__()
        self.cells = nn.ModuleList(cell(input_size if layer == 0 else hidden_size, hidden_size, **cell_options)
                                   for layer in range(num_layers))

    def forward(self, x: Tensor, operators) -> list:
        """The final state of every layer after reading the node-major ``x`` ``(N, B, P, F)``."""
        states = []
        for cell in self.cells:
            terms = cell.project_input(x, operators)  # every step's input terms at once   (N, B, P, gates H)
            state = cell.zero_state(x[:, :, 0])
            outputs = []
            # unbind: backward assembles the steps' gradients once (a slice per step would zero-fill the whole
            # (N, B, P, gates H) tensor for each step)
            for term in terms.unbind(2):
                state = cell.step(term, state, operators)
                outputs.append(state[0] if cell.has_cell_state else state)
            states.append(state)
            x = torch.stack(outputs, 2)  # (N, B, P, H)
        return states


def node_major(x: Tensor) -> Tensor:
    """A batch ``(B, P, N, F)`` as ``(N, B, P, F)``, contiguous (one copy per batch)."""
    return x.permute(2, 0, 1, 3).contiguous()


class DCRNN(nn.Module):
    """The diffusion convolutional recurrent network: encoder and decoder of ``num_layers`` DCGRU cells each, a
    per-node linear projection of the decoder's top state to the value (without bias, as DCRNN's code).

    Args:
        input_size: features per node of the window (2 for speed and time of day). hidden_size, num_layers, K: of
        the cells. horizon: ``H``.
    """

    def __init__(self, input_size: int, hidden_size: int = 64, num_layers: int = 2, K: int = 2, horizon: int = 12):
        super().__init__()
        self.horizon = horizon
        self.encoder = Encoder(DCGRUCell, input_size, hidden_size, num_layers, K=K)
        self.decoder = nn.ModuleList(DCGRUCell(1 if layer == 0 else hidden_size, hidden_size, K)
                                     for layer in range(num_layers))
        self.projection = nn.Linear(hidden_size, 1, bias=False)

    def forward(self, x: Tensor, walks, targets: Tensor | None = None, truth_probability: float = 0.0) -> Tensor:
        """``targets`` ``(B, H, N)`` (scaled) are fed back with ``truth_probability`` (one draw per decoder step and
        batch, from torch's global generator, as DCRNN's code draws once per step)."""
        states = self.encoder(node_major(x), walks)
        value = x.new_zeros(x.size(2), x.size(0), 1)  # the GO symbol   (N, B, 1)
        outputs = []
        for t in range(self.horizon):
            h = value
            for layer, cell in enumerate(self.decoder):
                states[layer] = cell(h, states[layer], walks)
                h = states[layer]
            value = self.projection(h)  # (N, B, 1)
            outputs.append(value[..., 0])
            if targets is not None and truth_probability > 0 and float(torch.rand(())) < truth_probability:
                value = targets[:, t].t()[..., None]  # the true value of this step   (N, B, 1)
        return torch.stack(outputs, 0).permute(2, 0, 1)  # (B, H, N)


class Forecaster(nn.Module):
    """A graph-recurrent encoder (``cell`` of :data:`~seqgraph.graph.temporal.cells.CELLS`) and a linear read-out of
    the top layer's last state to every node's ``H`` values."""

    def __init__(self, cell: str, input_size: int, hidden_size: int, num_layers: int, horizon: int, **cell_options):
        super().__init__()
        self.encoder = Encoder(CELLS[cell], input_size, hidden_size, num_layers, **cell_options)
        self.head = nn.Linear(hidden_size, horizon)

    def forward(self, x: Tensor, operators, **_) -> Tensor:
        state = self.encoder(node_major(x), operators)[-1]
        h = state[0] if isinstance(state, tuple) else state  # (N, B, hidden)
        return self.head(h).permute(1, 2, 0)  # (B, H, N)


class NodeGRU(nn.Module):
    """seqgraph's GRU (eq. 29-32) run on each node's window alone, shared by all nodes; a linear read-out."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int, horizon: int):
        super().__init__()
        self.layers = nn.ModuleList(GRU(input_size if layer == 0 else hidden_size, hidden_size)
                                    for layer in range(num_layers))
        self.head = nn.Linear(hidden_size, horizon)

    def forward(self, x: Tensor, operators=None, **_) -> Tensor:
        B, P, N, F = x.shape
        h = x.permute(0, 2, 1, 3).reshape(B * N, P, F)  # every node's window a sequence of its own
        for layer in self.layers:
            h, last = layer(h)
        return self.head(last).view(B, N, -1).transpose(1, 2)  # (B, H, N)


class WindowGCN(nn.Module):
    """Two GCN layers over the window as node features: :math:`\\hat A\\, \\mathrm{ReLU}(\\hat A X W_0) W_1`, with
    ``X`` ``(N, P F)``."""

    def __init__(self, input_size: int, window: int, hidden_size: int, horizon: int):
        super().__init__()
        self.lin0 = nn.Linear(window * input_size, hidden_size)
        self.lin1 = nn.Linear(hidden_size, horizon)

    def forward(self, x: Tensor, a_hat, **_) -> Tensor:
        h = node_major(x).flatten(2)  # (N, B, P F)
        h = torch.relu(self.lin0(product(a_hat, h)))
        return self.lin1(product(a_hat, h)).permute(1, 2, 0)  # (B, H, N)


class LastValue(nn.Module):
    """The last observed value, for every step ahead."""

    def __init__(self, horizon: int):
        super().__init__()
        self.horizon = horizon

    def forward(self, x: Tensor, operators=None, **_) -> Tensor:
        return x[:, -1:, :, 0].expand(-1, self.horizon, -1)


class WindowAverage(LastValue):
    """The mean of the window, for every step ahead (T-GCN's historical average)."""

    def forward(self, x: Tensor, operators=None, **_) -> Tensor:
        return x[..., 0].mean(1, keepdim=True).expand(-1, self.horizon, -1)


def build_model(name: str, input_size: int, window: int, horizon: int, hidden_size: int, num_layers: int,
                K: int) -> nn.Module:
    """The forecaster ``name`` of :data:`MODELS`; ``K``: DCRNN's diffusion steps or the Chebyshev terms."""
    if name == "dcrnn":
        return DCRNN(input_size, hidden_size, num_layers, K, horizon)
    if name in ("gconv-gru", "gconv-lstm"):
        return Forecaster(name, input_size, hidden_size, num_layers, horizon, K=K)
    if name in ("tgcn", "tgcn-code"):
        return Forecaster(name, input_size, hidden_size, num_layers, horizon)
    if name == "gru":
        return NodeGRU(input_size, hidden_size, num_layers, horizon)
    if name == "gcn":
        return WindowGCN(input_size, window, hidden_size, horizon)
    if name == "last":
        return LastValue(horizon)
    if name == "average":
        return WindowAverage(horizon)
    raise InputError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
