"""A character-level language model: embedding → stacked recurrent layers → linear (the report's Part 2).

Batch-first throughout: inputs ``(B, T)`` of character indices, logits ``(B, T, V)``, and a state that is a
tuple of ``(L, B, H)`` tensors: ``(h, c)`` for the LSTMs, ``(h,)`` for the GRU and the vanilla RNN.
The recurrent layers are ``torch.nn.LSTM`` (``cell="torch-lstm"``) or seqgraph's own
:class:`~seqgraph.recurrent.LSTM`, :class:`~seqgraph.recurrent.GRU` and :class:`~seqgraph.recurrent.RNN`
stacked here (``cell="lstm" | "gru" | "rnn"``).
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .. import recurrent
from ..errors import InputError

State = tuple[torch.Tensor, ...]
CELLS = ("torch-lstm", "lstm", "gru", "rnn")
_OUR_LAYERS = {"lstm": recurrent.LSTM, "gru": recurrent.GRU, "rnn": recurrent.RNN}


@dataclass
class CharLMConfig:
    vocab_size: int  # V, characters in the vocabulary
    embedding_dim: int = 256  # E
    hidden_size: int = 1024  # H, units of each recurrent layer
    num_layers: int = 2  # L
    dropout: float = 0.0  # on the output of every recurrent layer during training (0: none)
    cell: str = "torch-lstm"  # one of CELLS


class CharLM(nn.Module):
    r"""Embedding, ``num_layers`` recurrent layers and a linear read-out to the vocabulary.

    .. math::
        e_t = E[x_t], \quad h^{(l)}_t, c^{(l)}_t = \mathrm{LSTM}^{(l)}(h^{(l-1)}_t, (h^{(l)}_{t-1}, c^{(l)}_{t-1})),
        \quad p_t = W_{ph} h^{(L)}_t + b_p, \quad \hat y_t = \mathrm{softmax}(p_t)

    with the LSTM of :ref:`eq. (4)-(9) <eq-lstm>` (gate order i, f, g, o), inside ``nn.LSTM`` for
    ``cell="torch-lstm"`` and in :class:`seqgraph.recurrent.LSTM` for ``cell="lstm"``; ``"gru"``
    (:ref:`eq. (29)-(32) <eq-gru>`) and ``"rnn"`` (:ref:`eq. (1) <eq-rnn>`) carry ``h`` alone. Dropout acts on
    every layer's output during training.

    Args:
        config: sizes and the cell (:class:`CharLMConfig`).

    Shapes:
        x ``(B, T)`` int64 → logits ``(B, T, V)``, state: ``(h, c)`` each ``(L, B, H)`` (LSTMs) or ``(h,)``.
    """

    def __init__(self, config: CharLMConfig):
        super().__init__()
        if config.cell not in CELLS:
            raise InputError(f"CharLM: unknown cell {config.cell!r} (one of {', '.join(CELLS)})")
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_dim)
        if config.cell == "torch-lstm":
            self.lstm = nn.LSTM(config.embedding_dim, config.hidden_size, config.num_layers,
                                batch_first=True, dropout=config.dropout if config.num_layers > 1 else 0.0)
        else:
            sizes = [config.embedding_dim] + [config.hidden_size] * (config.num_layers - 1)
            self.layers = nn.ModuleList(_OUR_LAYERS[config.cell](n, config.hidden_size) for n in sizes)
        self.dropout = nn.Dropout(config.dropout)  # nn.LSTM drops between layers only; this drops the last
        self.head = nn.Linear(config.hidden_size, config.vocab_size)

    @property
    def has_cell_state(self) -> bool:
        return self.config.cell in ("torch-lstm", "lstm")

    def forward(self, x: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        h = self.embedding(x)  # (B, T, E)
        if self.config.cell == "torch-lstm":
            h, state = self.lstm(h, state)  # (B, T, H); the fused sequence kernel, all T steps in one call
            return self.head(self.dropout(h)), state  # (B, T, V)
        finals = []
        for l, layer in enumerate(self.layers):
            layer_state = None if state is None else tuple(part[l] for part in state)
            h, final = layer(h, layer_state if self.has_cell_state or layer_state is None else layer_state[0])
            finals.append(final if self.has_cell_state else (final,))
            h = self.dropout(h)  # (B, T, H)
        return self.head(h), tuple(torch.stack(parts) for parts in zip(*finals, strict=True))  # (B, T, V)

    def _lstm_weights(self) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """Per layer ``(weight_ih (4H, I), weight_hh (4H, H), bias (4H))``, gate order i, f, g, o."""
        if self.config.cell == "torch-lstm":
            lstm = self.lstm
            return [(getattr(lstm, f"weight_ih_l{l}"), getattr(lstm, f"weight_hh_l{l}"),
                     getattr(lstm, f"bias_ih_l{l}") + getattr(lstm, f"bias_hh_l{l}")) for l in range(lstm.num_layers)]
        return [(layer.cell.weight_ih, layer.cell.weight_hh, layer.cell.bias) for layer in self.layers]

    def stepper(self) -> Callable[[torch.Tensor, State], tuple[torch.Tensor, State]]:
        """A function ``(x (B,), state) -> (logits (B, V), state)`` that runs one time step, for generation.

        For the LSTMs it computes what the layers compute (eval mode) from the same weights, laid out once for
        reading row by row. Why not call ``nn.LSTM`` on one character at a time: on CPU each call hands
        the weights to oneDNN, which re-lays them out on every call, about ten times slower than reading
        them once per character at hidden size 1024. One character costs one read of the weights, so
        the speed is bound by memory bandwidth; layer 0 only ever sees embedding rows, so its input product
        is looked up in a (V, 4H) table instead of reading W_ih of layer 0. The GRU and the RNN step their cells.
        """
        if not self.has_cell_state:
            return self._cell_stepper()
        weights = self._lstm_weights()
        weight_hh_t = [w_hh.t().contiguous() for _, w_hh, _ in weights]  # (H, 4H)
        bias = [b for _, _, b in weights]
        table = torch.addmm(bias[0], self.embedding.weight, weights[0][0].t())  # (V, 4H): E W_ih^T + b of layer 0
        weight_ih_t = [None] + [w_ih.t().contiguous() for w_ih, _, _ in weights[1:]]  # (H, 4H) above layer 0

        def step(x: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
            h0, c0 = state
            hs, cs = [], []
            for l in range(len(weight_hh_t)):
                x_part = table[x] if l == 0 else torch.addmm(bias[l], hs[-1], weight_ih_t[l])  # (B, 4H)
                # pre-activations of i, f, g, o (eq. 4–7): x W_ih^T + b + h W_hh^T, nn.LSTM's order
                i, f, g, o = torch.addmm(x_part, h0[l], weight_hh_t[l]).chunk(4, 1)  # (B, H) each
                # c(t) = g ⊙ i + c(t-1) ⊙ f   (eq. 8)
                c = g.tanh() * i.sigmoid() + c0[l] * f.sigmoid()
                # h(t) = tanh(c(t)) ⊙ o   (eq. 9)
                hs.append(c.tanh() * o.sigmoid())
                cs.append(c)
            return self.head(hs[-1]), (torch.stack(hs), torch.stack(cs))  # (B, V)

        return step

    def _cell_stepper(self) -> Callable[[torch.Tensor, State], tuple[torch.Tensor, State]]:
        def step(x: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
            h = self.embedding(x)  # (B, E)
            hs = []
            for l, layer in enumerate(self.layers):
                h = layer.cell(h, state[0][l])  # (B, H)
                hs.append(h)
            return self.head(h), (torch.stack(hs),)

        return step

    @torch.no_grad()
    def stream(self, prompt: torch.Tensor, length: int, temperature: float = 1.0, top_k: int | None = None,
               top_p: float | None = None, generator: torch.Generator | None = None) -> Iterator[torch.Tensor]:
        """Continue each row of ``prompt`` (B, P) by ``length`` characters, yielding each step's (B,) indices.

        The prompt runs once through the layers to warm the state; after that the state is carried from
        character to character and the prefix is never re-run. Each character is drawn by :func:`pick`.
        The model is in eval mode while the generator runs.
        """
        if temperature < 0:
            raise InputError(f"CharLM.generate: temperature must be >= 0, got {temperature}")
        was_training = self.training
        self.eval()
        try:
            logits, state = self(prompt)
            logits = logits[:, -1]  # (B, V)
            step = self.stepper()
            for t in range(length):
                x = pick(logits, temperature, top_k, top_p, generator)  # (B,)
                yield x
                if t + 1 < length:
                    logits, state = step(x, state)
        finally:
            self.train(was_training)

    def generate(self, prompt: torch.Tensor, length: int, temperature: float = 1.0, top_k: int | None = None,
                 generator: torch.Generator | None = None, top_p: float | None = None) -> torch.Tensor:
        """:meth:`stream` collected: (B, length) indices. Temperature 0 is greedy (argmax); the assignment's
        softmax(τ·x̃) is temperature = 1/τ."""
        out = list(self.stream(prompt, length, temperature, top_k, top_p, generator))
        return torch.stack(out, 1) if out else prompt.new_zeros(len(prompt), 0)


def pick(logits: torch.Tensor, temperature: float, top_k: int | None = None, top_p: float | None = None,
         generator: torch.Generator | None = None) -> torch.Tensor:
    """One index per row of ``logits`` (B, V): argmax at temperature 0, else a draw from softmax(logits / T).

    ``top_k`` keeps the K most likely characters; ``top_p`` (nucleus sampling, Holtzman et al. 2020, "The
    Curious Case of Neural Text Degeneration", arXiv:1904.09751) keeps the smallest set of most likely
    characters whose probabilities (after the temperature) sum to at least p. Both may be given.
    """
    if temperature == 0:
        return logits.argmax(-1)
    if top_p is not None and not 0 < top_p <= 1:
        raise InputError(f"pick: top_p must be in (0, 1], got {top_p}")
    logits = logits / temperature
    if top_k is not None and top_k < logits.size(-1):
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]  # (B, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = F.softmax(logits, dim=-1)  # (B, V)
    if top_p is not None and top_p < 1:
        sorted_probs, order = probs.sort(-1, descending=True)  # (B, V)
        # a character stays when the mass of those more likely than it is still below p: the first always does
        drop = sorted_probs.cumsum(-1) - sorted_probs >= top_p
        probs = probs.scatter(-1, order, sorted_probs.masked_fill(drop, 0.0))
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)
