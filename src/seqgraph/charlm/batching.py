"""Stateful batches for truncated backpropagation through time, as char-rnn and torch-rnn train.

The training text is cut into ``B`` contiguous streams of equal length; batch ``k`` of an epoch holds, for
every stream, the ``T`` characters that follow those of batch ``k - 1`` (and their targets, shifted by one),
so the trainer can carry each stream's hidden state from batch to batch, detached: the gradient is truncated
at batch boundaries (Williams & Peng 1990, "An Efficient Gradient-Based Algorithm for On-Line Training of
Recurrent Network Trajectories"), the state is not, and the model learns from context longer than T.

An epoch is the streams read once. Each epoch starts the streams at a new offset drawn from the batch
generator (seeded), so that window boundaries move from epoch to epoch; the first batch of an epoch is
``fresh``: its streams start from a zero state.

With ``N`` training characters and offset ``o`` in ``[0, min(T, N - 1 - B T)]``, stream ``b`` starts at
``o + b S`` with ``S = (N - 1 - o) // B`` and an epoch has ``S // T`` batches.
"""

import numpy as np
import torch

from ..errors import InputError


class StreamBatcher:
    """Consecutive windows of ``B`` contiguous streams over ``data``; ``next()`` gives ``(x, y, fresh)``.

    Args:
        data: the encoded training text, ``(N,)`` integers.
        batch_size: ``B``, streams.
        seq_len: ``T``, characters per window.
        generator: draws each epoch's offset (the trainer's batch generator, saved with its checkpoint).

    Shapes: ``x``, ``y`` ``(B, T)`` int64; ``fresh`` is true for the first batch of an epoch.
    """

    def __init__(self, data: np.ndarray, batch_size: int, seq_len: int, generator: torch.Generator):
        if len(data) - 1 < batch_size * seq_len:
            raise InputError(f"stateful batches need batch size × sequence length + 1 = {batch_size * seq_len + 1} "
                             f"training characters, the text has {len(data)}; use random batches or a smaller batch")
        self.data, self.batch_size, self.seq_len, self.generator = data, batch_size, seq_len, generator
        self.epoch = 0  # epochs begun
        self.offset = 0  # o of the current epoch
        self.position = 0  # batches of the current epoch already given; 0 also before the first epoch

    @property
    def stream_len(self) -> int:
        return (len(self.data) - 1 - self.offset) // self.batch_size  # S

    @property
    def batches_per_epoch(self) -> int:
        return self.stream_len // self.seq_len

    def starts(self) -> np.ndarray:
        """Where each stream's next window begins, ``(B,)``."""
        return self.offset + np.arange(self.batch_size) * self.stream_len + self.position * self.seq_len

    def next(self) -> tuple[torch.Tensor, torch.Tensor, bool]:
        fresh = self.epoch == 0 or self.position == self.batches_per_epoch
        if fresh:
            most = min(self.seq_len, len(self.data) - 1 - self.batch_size * self.seq_len)
            self.offset = int(torch.randint(most + 1, (1,), generator=self.generator))
            self.epoch, self.position = self.epoch + 1, 0
        index = self.starts()[:, None] + np.arange(self.seq_len + 1)  # (B, T + 1)
        window = torch.from_numpy(np.asarray(self.data[index], dtype=np.int64))  # (B, T + 1)
        self.position += 1
        return window[:, :-1], window[:, 1:], fresh  # (B, T), (B, T)

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "offset": self.offset, "position": self.position}

    def load_state_dict(self, state: dict) -> None:
        epoch, offset, position = state["epoch"], state["offset"], state["position"]
        most = min(self.seq_len, len(self.data) - 1 - self.batch_size * self.seq_len)  # as next() draws it
        if not (epoch >= 0 and 0 <= offset <= most and 0 <= position <= (len(self.data) - 1 - offset)
                // self.batch_size // self.seq_len):
            raise InputError(f"a stream position (epoch {epoch}, offset {offset}, batch {position}) outside this text")
        self.epoch, self.offset, self.position = epoch, offset, position
