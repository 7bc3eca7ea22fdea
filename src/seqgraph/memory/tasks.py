"""Synthetic memory tasks of the report (its Part 1), generated on the fly.

There is no fixed dataset: every call to ``batch(batch_size, generator)`` draws a fresh batch from a
``numpy.random.Generator``, so training accuracy is measured on unseen examples and a run is fully
determined by its seed (the generator's state is saved in checkpoints). Each batch is produced with
whole-array numpy operations, never a Python loop over examples, so that generating data costs a
small fraction of a training step.

Every task exposes ``num_symbols`` (the embedding's vocabulary), ``num_classes``, ``seq_len`` (input
time steps ``T``) and ``batch``, which returns ``x`` of shape ``(B, T)`` and ``y`` of shape ``(B,)``,
both ``torch.long`` on the CPU.

- :class:`RandomCombinations` (``length`` N): a random permutation of 0..N-1; the input is its first
  N-1 numbers, the label the missing last one (N classes). ``0,1,2,3,4,6,7,8,9 -> 5``.
- :class:`BinaryPalindrome` (``length`` L): ceil(L/2) random digits 0..8 in binary, concatenated,
  reversed with probability 1/2, mirrored and left-padded; the last digit is the label.
- :class:`BaumSweet` (``length`` L): an integer in [10, 10^L] in binary, left-padded to 4L; label 1
  when it has no block of consecutive zeros of odd length (``3234 = 110010100010 -> 0``,
  ``124 = 1111100 -> 1``).

Binary tasks share one alphabet: ``PAD = 0`` (its own symbol, as in the assignment's code), bit 0
is symbol 1 and bit 1 is symbol 2.
"""

import math

import numpy as np
import torch

from ..errors import InputError

PAD, ZERO, ONE = 0, 1, 2  # symbols of the binary tasks

# Width of the binary numeral of 0..8 ("0" is one digit, "1000" four).
_DIGIT_WIDTH = np.array([1, 1, 2, 2, 3, 3, 3, 3, 4])


class RandomCombinations:
    """Random combinations: recall the one number of 0..N-1 missing from the input.

    Args:
        length: N, the report's ``input_length``; the input has ``N - 1`` steps and there are N classes.
    """

    name = "randomcomb"

    def __init__(self, length: int):
        if length < 2:
            raise InputError(f"RandomCombinations needs length >= 2, got {length}")
        self.length = length
        self.num_symbols = length
        self.num_classes = length
        self.seq_len = length - 1

    def batch(self, batch_size: int, generator: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        rows = np.tile(np.arange(self.length), (batch_size, 1))  # (B, N)
        perm = generator.permuted(rows, axis=1)  # (B, N), each row a permutation of 0..N-1
        return _tensors(perm[:, :-1], perm[:, -1])

    def __repr__(self) -> str:
        return f"RandomCombinations({self.length})"


class BinaryPalindrome:
    """Binary palindrome: predict the last digit of a left-padded binary palindrome.

    The assignment's sampler draws ceil(L/2) digits from 0..8, writes each in binary without leading
    zeros and concatenates them into a word ``w``; with probability 1/2 it reverses ``w`` ("to avoid
    only having 1's at the end and beginning"), then forms ``w + reverse(w)``, left-pads it to
    ``4L + 2`` and splits off the last digit as the label. The label is therefore the first bit of
    ``w``, which the network must carry across the whole palindrome. The word pair has at most
    ``8 ceil(L/2)`` digits: for even L (the report's 10 and 20) this is 4L and the padded length is
    4L + 2; for odd L the assignment's code would overflow 4L + 2 (it then skips the padding and the
    batch has ragged lengths), so we pad to ``8 ceil(L/2) + 2`` = 4L + 6 instead.

    Args:
        length: L; the palindrome mirrors ceil(L/2) random decimal digits, as in the assignment.
    """

    name = "palindrome"

    def __init__(self, length: int):
        if length < 1:
            raise InputError(f"BinaryPalindrome needs length >= 1, got {length}")
        self.length = length
        self.num_digits = math.ceil(length / 2)
        self.num_symbols = 3
        self.num_classes = 2
        self.seq_len = 8 * self.num_digits + 1  # 4L + 1 for even L; the label is the last of 4L + 2

    def batch(self, batch_size: int, generator: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        digits = generator.integers(0, 9, size=(batch_size, self.num_digits))  # (B, K)
        reverse = generator.random(batch_size) < 0.5  # (B,)
        seq = palindromes(digits, reverse)  # (B, 8K + 2)
        return _tensors(seq[:, :-1], seq[:, -1] - ZERO)

    def __repr__(self) -> str:
        return f"BinaryPalindrome({self.length})"


def palindromes(digits: np.ndarray, reverse: np.ndarray) -> np.ndarray:
    """Left-padded palindromes (symbols) of the digits ``(B, K)``, word reversed where ``reverse``.

    Returns an array of shape ``(B, 8K + 2)``: PAD, then ``w + reverse(w)`` in symbols ZERO/ONE.
    """
    batch, k = digits.shape
    bits = (digits[..., None] >> np.arange(3, -1, -1)) & 1  # (B, K, 4), most significant bit first
    used = np.arange(4) >= 4 - _DIGIT_WIDTH[digits][..., None]  # (B, K, 4): the digits of the numeral
    word = np.where(used, bits + ZERO, PAD).reshape(batch, 4 * k)  # (B, 4K), PAD between numerals
    word[reverse] = word[reverse, ::-1]  # reversing the padded row reverses the word
    word = _right_align(word)  # (B, 4K): PAD..., w
    pair = _right_align(np.concatenate([word, word[:, ::-1]], axis=1))  # (B, 8K): PAD..., w, reverse(w)
    return np.concatenate([np.full((batch, 2), PAD), pair], axis=1)  # (B, 8K + 2)


class BaumSweet:
    """Baum–Sweet: is there no block of consecutive zeros of odd length in the binary numeral?

    An integer is drawn uniformly from [10, 10^L] and written in binary, left-padded with PAD to 4L
    steps (10^L has at most 4L bits). Baum–Sweet numbers are rare (about 7% of [10, 10^4], 1.7% of
    [10, 10^6]); the assignment's sampler keeps every label-1 draw and a label-0 draw with
    probability 0.016724, which balances the classes only for L = 6 (82% label 1 for L = 4). We
    balance exactly for every L instead: each example's label is a fair coin and its integer is
    drawn uniformly among the integers of [10, 10^L] with that label, by rejection (whole pools of
    draws at once, first matching draws kept in order).

    Args:
        length: L, the number of decimal digits of the largest integer; 2 <= L <= 12 ([10, 10] holds
            no Baum–Sweet number; beyond 10^12 they are so rare that rejection costs more than a step).
    """

    name = "baumsweet"

    def __init__(self, length: int):
        if not 2 <= length <= 12:
            raise InputError(f"BaumSweet needs 2 <= length <= 12, got {length}")
        self.length = length
        self.num_symbols = 3
        self.num_classes = 2
        self.seq_len = 4 * length

    def batch(self, batch_size: int, generator: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        labels = generator.integers(0, 2, size=batch_size)  # (B,), the class of each example
        numbers = np.zeros(batch_size, dtype=np.int64)
        missing = np.ones(batch_size, dtype=bool)
        while missing.any():
            pool = generator.integers(10, 10**self.length, size=64 * batch_size, endpoint=True)
            pool_labels = baum_sweet_labels(pool)
            for label in (0, 1):
                want = np.flatnonzero(missing & (labels == label))
                have = pool[pool_labels == label][: len(want)]
                numbers[want[: len(have)]] = have
                missing[want[: len(have)]] = False
        return _tensors(binary_symbols(numbers, self.seq_len), labels)

    def __repr__(self) -> str:
        return f"BaumSweet({self.length})"


def binary_symbols(numbers: np.ndarray, width: int) -> np.ndarray:
    """Positive integers ``(B,)`` as left-padded binary numerals in symbols, shape ``(B, width)``."""
    bits = (numbers[:, None] >> np.arange(width - 1, -1, -1)) & 1  # (B, W), most significant first
    started = np.maximum.accumulate(bits, axis=1).astype(bool)  # (B, W): from the leading 1 on
    return np.where(started, bits + ZERO, PAD)


def baum_sweet_labels(numbers: np.ndarray) -> np.ndarray:
    """1 where a positive integer ``(B,)`` has no block of zeros of odd length in binary, else 0.

    Whole-word bit arithmetic, no loop over bits: ``zeros`` marks the 0 digits below the leading 1;
    each block of them has its lowest bit in ``start``; adding a block's start bit to ``zeros``
    carries through the block into the bit just above it, its ``end``. A block has even length iff
    start and end have the same parity, checked separately for blocks starting at even and odd bits.
    """
    n = numbers.astype(np.uint64)
    span = n.copy()  # every bit from the leading 1 down
    for shift in (1, 2, 4, 8, 16, 32):
        span |= span >> np.uint64(shift)
    zeros = span & ~n
    start = zeros & ~(zeros << np.uint64(1))
    ok = np.ones(len(n), dtype=bool)
    for parity in (_EVEN_BITS, ~_EVEN_BITS):
        end = (zeros + (start & parity)) & ~zeros  # one bit above each block that starts on `parity`
        ok &= (end & ~parity) == 0
    return ok.astype(np.int64)


_EVEN_BITS = np.uint64(0x5555_5555_5555_5555)  # bits 0, 2, 4, ...


def _right_align(symbols: np.ndarray) -> np.ndarray:
    """Move every PAD of each row to its front, keeping the order of the other symbols."""
    order = np.argsort(symbols != PAD, axis=1, kind="stable")
    return np.take_along_axis(symbols, order, axis=1)


def _tensors(x: np.ndarray, y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.int64)), torch.from_numpy(y.astype(np.int64))


TASKS = {task.name: task for task in (RandomCombinations, BinaryPalindrome, BaumSweet)}


def make_task(name: str, length: int):
    """The task called ``name`` (``randomcomb``, ``palindrome``, ``baumsweet``) with ``length``."""
    if name not in TASKS:
        raise InputError(f"unknown task {name!r}; choose from {', '.join(TASKS)}")
    return TASKS[name](length)
