r"""Sequence classifiers of the report's Part 1: embedding -> recurrent layer -> linear -> log-softmax.

The classifier reads integer symbols ``(B, T)``, embeds them (``nn.Embedding``), runs a recurrent layer of
:mod:`seqgraph.recurrent` and predicts one label per sequence from the last hidden state,

.. math::
    p = W_{ph} h(T) + b_p, \qquad \log \hat y = \log \mathrm{softmax}(p)

(eq. (2), (10)-(11), (33)-(34), (40)-(41) of :doc:`/equations`); the BiLSTM uses $H = [h_{fwd}(T); h_{bwd}(1)]$
instead of $h(T)$ (:ref:`eq. (14)-(28) <eq-bilstm>`). It returns log-probabilities, for ``nll_loss``.
"""

import math

import torch
from torch import nn

from ..errors import InputError
from ..recurrent import GRU, LSTM, RNN, BiLSTM, PeepholeLSTM

_LAYERS = {"rnn": RNN, "lstm": LSTM, "bilstm": BiLSTM, "gru": GRU, "peeplstm": PeepholeLSTM}
CLASSIFIERS = tuple(_LAYERS)  # ("rnn", "lstm", "bilstm", "gru", "peeplstm")
# how the recurrent layer's matrices start (the report does not say; the manual's memory tasks page,
# "Why the steps differ")
INITIALISATIONS = {
    "kaiming": "Kaiming-normal matrices, zero biases (the assignment's Table 2; the cells' own initialisation)",
    "torch": "torch.nn's: every weight and bias uniform in ±1/√H",
    "kaiming-xw": "Kaiming-normal with the fans of (in, out) matrices used as x @ W: std √(2 / rows of our W)",
}
EMBEDDING_INITIALISATIONS = {
    "normal": "N(0, 1), nn.Embedding's",
    "kaiming": "Kaiming-normal: std √(2 / embedding size), 0.25 for 32",
}


def lstm_param_count(input_dim: int, hidden: int, classes: int) -> int:
    """The LSTM classifier's parameter count without the embedding (report, section 1.2.2):
    four gates with an input matrix, a recurrent matrix and a bias each, and the output layer,
    $4(N_h N_{in} + N_h N_h + N_h) + N_{out} N_h + N_{out}$."""
    return 4 * (hidden * input_dim + hidden * hidden + hidden) + classes * hidden + classes


class SequenceClassifier(nn.Module):
    r"""Embedding, a batch-first recurrent layer and a linear head with log-softmax.

    Args:
        rnn: the recurrent layer, any module with ``input_size``, ``hidden_size`` and ``bidirectional``
            that maps ``(B, T, input_size)`` to ``(outputs, state)`` batch-first, outputs holding
            $[h_{fwd}(t); h_{bwd}(t)]$ when bidirectional: a layer of :mod:`seqgraph.recurrent`, or a
            ``torch.nn.LSTM(..., batch_first=True)``.
        num_symbols: the vocabulary size; inputs are integers in ``[0, num_symbols)``.
        num_classes: $N_{out}$, the number of labels.

    The embedding dimension is ``rnn.input_size``. The head's weight $W_{ph}$ is Kaiming-normal and its
    bias $b_p$ zero (the assignment's :ref:`Table 2 <table-2>`); the embedding keeps ``nn.Embedding``'s N(0, 1)
    initialisation.
    ``reset_parameters`` leaves ``rnn`` alone: it initialised itself, or holds weights loaded on purpose.

    Shapes: ``x`` ``(B, T)`` integers -> log-probabilities ``(B, num_classes)``.
    """

    def __init__(self, rnn: nn.Module, num_symbols: int, num_classes: int):
        super().__init__()
        for name, value in (("num_symbols", num_symbols), ("num_classes", num_classes)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"{type(self).__name__}: {name} must be a positive integer, got {value!r}")
        self.embedding = nn.Embedding(num_symbols, rnn.input_size)
        self.rnn = rnn
        self.head = nn.Linear(rnn.hidden_size * (2 if rnn.bidirectional else 1), num_classes)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.embedding.reset_parameters()
        nn.init.kaiming_normal_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        outputs, _ = self.rnn(self.embedding(x))  # (B, T, H) or (B, T, 2H)
        if self.rnn.bidirectional:
            # eq. 28: H = [h_fwd(T); h_bwd(1)], the backward direction ends at position 1
            H = self.rnn.hidden_size
            h = torch.cat((outputs[:, -1, :H], outputs[:, 0, H:]), -1)  # (B, 2H)
        else:
            h = outputs[:, -1]  # h(T), (B, H)
        # p = W_ph h + b_p, then log softmax
        return torch.log_softmax(self.head(h), -1)  # (B, C)

    def _check(self, x) -> None:
        name = type(self).__name__
        if not isinstance(x, torch.Tensor) or x.dtype not in (torch.int64, torch.int32):
            raise InputError(f"{name}: expected integer symbols (torch.long), got {getattr(x, 'dtype', type(x))}")
        if x.dim() != 2:
            raise InputError(f"{name}: expected symbols of shape (B, T), got {tuple(x.shape)}")
        if x.shape[0] == 0 or x.shape[1] == 0:
            raise InputError(f"{name}: got an empty batch of shape {tuple(x.shape)}; need B >= 1 and T >= 1")
        low, high = torch.aminmax(x)
        if low < 0 or high >= self.embedding.num_embeddings:
            raise InputError(f"{name}: symbols must lie in [0, {self.embedding.num_embeddings}), "
                             f"got values in [{int(low)}, {int(high)}]")


def build_classifier(model: str, num_symbols: int, num_classes: int, hidden_size: int,
                     embedding_dim: int | None = None, init: str = "kaiming",
                     embedding_init: str = "normal") -> SequenceClassifier:
    """A :class:`SequenceClassifier` with the recurrent layer named ``model`` (one of :data:`CLASSIFIERS`).

    ``embedding_dim`` defaults to ``hidden_size // 4`` (at least 1), the report's choice (32 for hidden 128).
    ``init`` and ``embedding_init`` (keys of :data:`INITIALISATIONS` and :data:`EMBEDDING_INITIALISATIONS`)
    re-draw the recurrent layer's parameters and the embedding after construction; the defaults leave them, and
    the random stream, as built.
    """
    if model not in _LAYERS:
        raise InputError(f"build_classifier: unknown model {model!r}; expected one of {', '.join(CLASSIFIERS)}")
    for name, value, known in (("init", init, INITIALISATIONS), ("embedding_init", embedding_init,
                                                                 EMBEDDING_INITIALISATIONS)):
        if value not in known:
            raise InputError(f"build_classifier: unknown {name} {value!r}; expected one of {', '.join(known)}")
    if embedding_dim is None:
        embedding_dim = max(1, hidden_size // 4)
    classifier = SequenceClassifier(_LAYERS[model](embedding_dim, hidden_size), num_symbols, num_classes)
    with torch.no_grad():
        for p in classifier.rnn.parameters():
            if init == "torch":
                nn.init.uniform_(p, -1 / math.sqrt(hidden_size), 1 / math.sqrt(hidden_size))
            elif init == "kaiming-xw" and p.dim() == 2:
                nn.init.kaiming_normal_(p.t())  # fan_in of W^T (in, rows): the rows of our (rows, in) matrix
        if embedding_init == "kaiming":
            nn.init.kaiming_normal_(classifier.embedding.weight)
    return classifier
