"""A character-level language model: embedding → stacked ``nn.LSTM`` → linear (SPEC Part 2).

Batch-first throughout: inputs ``(B, T)`` of character indices, logits ``(B, T, V)``, and the state
``(h, c)`` of ``nn.LSTM``, each ``(L, B, H)``.
"""

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError

State = tuple[torch.Tensor, torch.Tensor]


@dataclass
class CharLMConfig:
    vocab_size: int  # V, characters in the vocabulary
    embedding_dim: int = 256  # E
    hidden_size: int = 1024  # H, units of each LSTM layer
    num_layers: int = 2  # L
    dropout: float = 0.0  # on the output of every LSTM layer during training (0: none)


class CharLM(nn.Module):
    r"""Embedding, ``num_layers`` LSTM layers (torch.nn.LSTM) and a linear read-out to the vocabulary.

    .. math::
        e_t = E[x_t], \quad h^{(l)}_t, c^{(l)}_t = \mathrm{LSTM}^{(l)}(h^{(l-1)}_t, (h^{(l)}_{t-1}, c^{(l)}_{t-1})),
        \quad p_t = W_{ph} h^{(L)}_t + b_p, \quad \hat y_t = \mathrm{softmax}(p_t)

    with the LSTM equations (4–11) of SPEC Part 1 inside ``nn.LSTM`` (fused gate order i, f, g, o).

    Args:
        config: sizes (:class:`CharLMConfig`).

    Shapes:
        x ``(B, T)`` int64 → logits ``(B, T, V)``, state ``(h, c)`` each ``(L, B, H)``.
    """

    def __init__(self, config: CharLMConfig):
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_dim)
        self.lstm = nn.LSTM(config.embedding_dim, config.hidden_size, config.num_layers,
                            batch_first=True, dropout=config.dropout if config.num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(config.dropout)  # nn.LSTM drops between layers only; this drops the last
        self.head = nn.Linear(config.hidden_size, config.vocab_size)

    def forward(self, x: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        e = self.embedding(x)  # (B, T, E)
        h, state = self.lstm(e, state)  # (B, T, H); the fused sequence kernel, all T steps in one call
        return self.head(self.dropout(h)), state  # (B, T, V)

    def stepper(self) -> Callable[[torch.Tensor, State], tuple[torch.Tensor, State]]:
        """A function ``(x (B,), (h, c)) -> (logits (B, V), (h, c))`` that runs one time step, for generation.

        It computes what ``self.lstm`` computes (eval mode) from the same weights, laid out once for
        reading row by row. Why not call ``self.lstm`` on one character at a time: on CPU each call hands
        the weights to oneDNN, which re-lays them out on every call, about ten times slower than reading
        them once per character at hidden size 1024. One character costs one read of the weights, so
        the speed is bound by memory bandwidth; layer 0 only ever sees embedding rows, so its input product
        is looked up in a (V, 4H) table instead of reading W_ih of layer 0.
        """
        lstm = self.lstm
        weight_ih = [getattr(lstm, f"weight_ih_l{l}") for l in range(lstm.num_layers)]  # (4H, I)
        weight_hh_t = [getattr(lstm, f"weight_hh_l{l}").t().contiguous() for l in range(lstm.num_layers)]  # (H, 4H)
        bias = [getattr(lstm, f"bias_ih_l{l}") + getattr(lstm, f"bias_hh_l{l}") for l in range(lstm.num_layers)]
        table = torch.addmm(bias[0], self.embedding.weight, weight_ih[0].t())  # (V, 4H): E W_ih^T + b of layer 0
        weight_ih_t = [None] + [w.t().contiguous() for w in weight_ih[1:]]  # (H, 4H) above layer 0

        def step(x: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
            h0, c0 = state
            hs, cs = [], []
            for l in range(len(weight_hh_t)):
                x_part = table[x] if l == 0 else torch.addmm(bias[l], hs[-1], weight_ih_t[l])  # (B, 4H)
                # pre-activations of i, f, g, o (eq. 4–7): x W_ih^T + b_ih + b_hh + h W_hh^T, nn.LSTM's order
                i, f, g, o = torch.addmm(x_part, h0[l], weight_hh_t[l]).chunk(4, 1)  # (B, H) each
                # c(t) = g ⊙ i + c(t-1) ⊙ f   (eq. 8)
                c = g.tanh() * i.sigmoid() + c0[l] * f.sigmoid()
                # h(t) = tanh(c(t)) ⊙ o   (eq. 9)
                hs.append(c.tanh() * o.sigmoid())
                cs.append(c)
            return self.head(hs[-1]), (torch.stack(hs), torch.stack(cs))  # (B, V)

        return step

    @torch.no_grad()
    def generate(self, prompt: torch.Tensor, length: int, temperature: float = 1.0, top_k: int | None = None,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Continue each row of ``prompt`` (B, P) by ``length`` characters; returns (B, length) indices.

        The prompt runs once through the fused LSTM to warm the state; after that the state (h, c) is
        carried from character to character and the prefix is never re-run. Each character is drawn from
        softmax(logits / temperature), restricted to the ``top_k`` most likely when given; temperature 0
        is greedy (argmax). The assignment's softmax(τ·x̃) is this with temperature = 1/τ.
        """
        if temperature < 0:
            raise InputError(f"CharLM.generate: temperature must be >= 0, got {temperature}")
        was_training = self.training
        self.eval()
        logits, state = self(prompt)
        logits = logits[:, -1]  # (B, V)
        step = self.stepper()
        out = []
        for t in range(length):
            x = pick(logits, temperature, top_k, generator)  # (B,)
            out.append(x)
            if t + 1 < length:
                logits, state = step(x, state)
        self.train(was_training)
        return torch.stack(out, 1) if out else prompt.new_zeros(len(prompt), 0)


def pick(logits: torch.Tensor, temperature: float, top_k: int | None = None,
         generator: torch.Generator | None = None) -> torch.Tensor:
    """One index per row of ``logits`` (B, V): argmax at temperature 0, else a draw from softmax(logits / T)."""
    if temperature == 0:
        return logits.argmax(-1)
    logits = logits / temperature
    if top_k is not None and top_k < logits.size(-1):
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]  # (B, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = F.softmax(logits, dim=-1)  # (B, V)
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)
