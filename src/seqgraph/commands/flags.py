"""Argument types of the command-line flags: numbers within the bounds the library can honour, lists without repeats,
and :func:`naming`, which puts the flag in front of a library error about its value."""

import argparse
import contextlib
import math
from collections.abc import Iterator

from ..errors import InputError


def positive_int(text: str) -> int:
    value = _number(text, int)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


MAX_SIZE = 2**20  # of a layer or a batch: larger models are refused by the memory check, not by overflows


MAX_LENGTH = 10**5  # of a generated task sequence


MAX_LAYERS = 64


def bounded_int(limit: int):
    """A positive integer at most ``limit`` (a count whose product with others is allocated at once)."""
    def parse(text: str) -> int:
        value = positive_int(text)
        if value > limit:
            raise argparse.ArgumentTypeError(f"must be at most {limit:,}, got {text}")
        return value
    return parse


def fanout(text: str) -> int:
    """Neighbours sampled per node: 1 to ``MAX_SIZE``, or -1 for all of them."""
    value = _number(text, int)
    if value != -1 and not 0 < value <= MAX_SIZE:
        raise argparse.ArgumentTypeError(f"must be -1 (all neighbours) or from 1 to {MAX_SIZE:,}, got {text}")
    return value


def nonnegative_int(text: str) -> int:
    value = _number(text, int)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text}")
    return value


def positive_float(text: str) -> float:
    value = _number(text, float)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def nonnegative_float(text: str) -> float:
    value = _number(text, float)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative number, got {text}")
    return value


def bounded_float(limit: float):
    """A positive number at most ``limit``."""
    def parse(text: str) -> float:
        value = positive_float(text)
        if value > limit:
            raise argparse.ArgumentTypeError(f"must be at most {limit:g}, got {text}")
        return value
    return parse


MAX_LEARNING_RATE = 10.0


learning_rate = bounded_float(MAX_LEARNING_RATE)  # Adam overflows on absurd learning rates


MAX_SEED = 2**32 - 1  # numpy's global generator takes seeds below 2**32


def seed_value(text: str) -> int:
    """A seed every random generator accepts: 0 .. 2**32 - 1."""
    value = nonnegative_int(text)
    if value > MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_SEED}, got {text}")
    return value


def open_fraction(text: str) -> float:
    """A number strictly between 0 and 1."""
    value = _number(text, float)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1), got {text}")
    return value


class Distinct(argparse.Action):
    """``nargs="+"`` that refuses a value given twice (it would run twice and count twice in mean ± std)."""

    def __call__(self, parser, namespace, values, option_string=None):
        repeated = sorted({str(v) for v in values if values.count(v) > 1})
        if repeated:
            raise argparse.ArgumentError(self, f"lists {', '.join(repeated)} more than once")
        setattr(namespace, self.dest, values)


def probability(text: str) -> float:
    value = _number(text, float)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def share(text: str) -> float:
    """A proportion in (0, 1]: none is meaningless, all is allowed (unlike a dropout probability)."""
    value = _number(text, float)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return value


def _number(text: str, kind):
    try:
        value = kind(text)
    except ValueError:
        expected = "an integer" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


@contextlib.contextmanager
def naming(flag: str) -> Iterator[None]:
    """Prefix an :class:`InputError` raised inside with ``flag`` (say ``"--length 1"``), the input it is about: the
    library describes the value, the command names the flag."""
    try:
        yield
    except InputError as e:
        raise InputError(f"{flag}: {e}") from e
