"""Mean ± sample standard deviation over seeds, and the one way it is written."""

import statistics
from collections.abc import Iterable


def mean_std(values: Iterable[float]) -> dict:
    """Mean and sample standard deviation (0 for one value, both None for none)."""
    values = list(values)
    if not values:
        return {"mean": None, "std": None}
    return {"mean": statistics.mean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0}


def pm(stats: dict, digits: int = 1, runs: int | None = None) -> str:
    """'mean ± std', or the mean alone when there was one run (its std says nothing)."""
    mean = f"{stats['mean']:.{digits}f}"
    return mean if runs == 1 else f"{mean} ± {stats['std']:.{digits}f}"


def termination(stats: dict, runs: int) -> str:
    """Termination steps over ``runs`` seeds: 'not reached', '41 ± 6', or '41 ± 6 (2/3 seeds)' when some never
    stopped (``stats`` has the mean and std over those that did and their number, ``reached``)."""
    if not stats["reached"]:
        return "not reached"
    partial = f" ({stats['reached']}/{runs} seeds)" if stats["reached"] < runs else ""
    return pm(stats, 0, stats["reached"]) + partial
