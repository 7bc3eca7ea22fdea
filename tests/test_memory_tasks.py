import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seqgraph.memory.tasks import (
    ONE,
    PAD,
    ZERO,
    BaumSweet,
    BinaryPalindrome,
    RandomCombinations,
    baum_sweet_labels,
    binary_symbols,
    make_task,
    palindromes,
)

seeds = st.integers(0, 2**64 - 1)
batch_sizes = st.integers(1, 24)


# Slow references, one example at a time, written from the task definitions with Python strings.
def missing_number(inputs: list[int], n: int) -> int:
    (label,) = set(range(n)) - set(inputs)
    return label


def is_baum_sweet(number: int) -> int:
    return int(all(len(block) % 2 == 0 for block in bin(number)[2:].split("1")))


def palindrome_reference(digits: list[int], reverse: bool, width: int) -> list[int]:
    """The assignment's generator: binary numerals concatenated, maybe reversed, mirrored, padded."""
    word = "".join(bin(d)[2:] for d in digits)
    word = word[::-1] if reverse else word
    bits = [ZERO + int(c) for c in word + word[::-1]]
    return [PAD] * (width - len(bits)) + bits


def strip_padding(row: list[int]) -> list[int]:
    first = next(i for i, s in enumerate(row) if s != PAD)
    assert PAD not in row[first:], "padding only on the left"
    return row[first:]


def test_worked_examples_of_spec():
    assert missing_number([0, 1, 2, 3, 4, 6, 7, 8, 9], 10) == 5
    assert baum_sweet_labels(np.array([3234, 124])).tolist() == [0, 1]
    bits = [int(c) for c in "110010100010"]
    assert binary_symbols(np.array([3234]), 16).tolist() == [[PAD] * 4 + [ZERO + b for b in bits]]
    # 3 and 4 are "11" and "100": the palindrome of "11100" and of its reverse "00111"
    expected = [palindrome_reference([3, 4], reverse, 18) for reverse in (False, True)]
    assert palindromes(np.array([[3, 4], [3, 4]]), np.array([False, True])).tolist() == expected
    assert expected[0][-10:] == [ONE, ONE, ONE, ZERO, ZERO, ZERO, ZERO, ONE, ONE, ONE]


@settings(max_examples=40, deadline=None)
@given(seed=seeds, length=st.integers(2, 20), batch_size=batch_sizes)
def test_randomcomb_labels_and_shapes(seed, length, batch_size):
    task = RandomCombinations(length)
    x, y = task.batch(batch_size, np.random.default_rng(seed))
    assert x.shape == (batch_size, length - 1) and y.shape == (batch_size,)
    assert x.dtype == y.dtype == torch.long
    for row, label in zip(x.tolist(), y.tolist(), strict=True):
        assert len(set(row)) == length - 1
        assert label == missing_number(row, length)
    assert (task.num_symbols, task.num_classes, task.seq_len) == (length, length, length - 1)


@settings(max_examples=40, deadline=None)
@given(digits=st.lists(st.lists(st.integers(0, 8), min_size=3, max_size=3), min_size=1, max_size=8),
       reverse=st.data())
def test_palindromes_match_reference(digits, reverse):
    flags = reverse.draw(st.lists(st.booleans(), min_size=len(digits), max_size=len(digits)))
    got = palindromes(np.array(digits), np.array(flags))
    expected = [palindrome_reference(d, r, 8 * 3 + 2) for d, r in zip(digits, flags, strict=True)]
    assert got.tolist() == expected


@settings(max_examples=40, deadline=None)
@given(seed=seeds, length=st.integers(1, 21), batch_size=batch_sizes)
def test_palindrome_labels_and_shapes(seed, length, batch_size):
    task = BinaryPalindrome(length)
    x, y = task.batch(batch_size, np.random.default_rng(seed))
    assert x.shape == (batch_size, task.seq_len) and y.shape == (batch_size,)
    if length % 2 == 0:
        assert task.seq_len + 1 == 4 * length + 2
    for row, label in zip(x.tolist(), y.tolist(), strict=True):
        full = row + [label + ZERO]
        assert full[:2] == [PAD, PAD]
        word = strip_padding(full)
        assert word == word[::-1]
        assert label == word[0] - ZERO


@settings(max_examples=40, deadline=None)
@given(seed=seeds, length=st.integers(2, 9), batch_size=batch_sizes)
def test_baumsweet_labels_and_shapes(seed, length, batch_size):
    task = BaumSweet(length)
    x, y = task.batch(batch_size, np.random.default_rng(seed))
    assert x.shape == (batch_size, 4 * length) and y.shape == (batch_size,)
    for row, label in zip(x.tolist(), y.tolist(), strict=True):
        bits = strip_padding(row)
        assert bits[0] == ONE, "no leading zeros"
        number = int("".join(str(s - ZERO) for s in bits), 2)
        assert 10 <= number <= 10**length
        assert label == is_baum_sweet(number)


# Random 60-bit integers are almost never Baum–Sweet: also build numbers from the tokens "1" and "00".
baum_sweet_numbers = st.lists(st.sampled_from(["1", "00"]), max_size=29).map(lambda t: int("1" + "".join(t), 2))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.integers(1, 2**60), baum_sweet_numbers), min_size=1, max_size=16))
def test_baum_sweet_labels_match_reference(numbers):
    assert baum_sweet_labels(np.array(numbers)).tolist() == [is_baum_sweet(n) for n in numbers]


def test_baum_sweet_labels_exhaustive_small_integers():
    numbers = np.arange(1, 5000)
    assert baum_sweet_labels(numbers).tolist() == [is_baum_sweet(int(n)) for n in numbers]


def test_baumsweet_classes_balanced():
    rng = np.random.default_rng(0)
    labels = torch.cat([BaumSweet(4).batch(256, rng)[1] for _ in range(20)]).float()
    assert abs(labels.mean().item() - 0.5) < 0.03  # 5120 fair coins: 4.3 standard deviations


@pytest.mark.parametrize("name, length", [("randomcomb", 6), ("palindrome", 10), ("baumsweet", 6)])
def test_batches_depend_only_on_generator_state(name, length):
    task = make_task(name, length)
    a = task.batch(32, np.random.default_rng(7))
    b = task.batch(32, np.random.default_rng(7))
    c = task.batch(32, np.random.default_rng(8))
    assert all(torch.equal(u, v) for u, v in zip(a, b, strict=True))
    assert not torch.equal(a[0], c[0])


@pytest.mark.parametrize(
    "name, length", [("randomcomb", 1), ("palindrome", 0), ("baumsweet", 1), ("baumsweet", 13), ("parity", 5)]
)
def test_bad_arguments(name, length):
    with pytest.raises(ValueError, match="length|unknown task"):
        make_task(name, length)
