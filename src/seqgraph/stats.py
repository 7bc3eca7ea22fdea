"""Mean ± sample standard deviation over seeds and the one way it is written; the smoothing of every curve."""

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


def smooth(values: list[float], weight: float) -> list[float]:
    r"""TensorBoard's smoothing of a curve: an exponential moving average, debiased.

    :math:`m_t = w\,m_{t-1} + (1 - w)\,v_t` from :math:`m_0 = 0`, shown as :math:`m_t / (1 - w^t)`, so the first
    points are averages of the values so far instead of being pulled towards 0 (or towards the first value,
    as an EMA started at :math:`v_1` would be). ``weight`` is TensorBoard's smoothing slider.
    """
    out, average = [], 0.0
    for t, v in enumerate(values, 1):
        average = weight * average + (1 - weight) * v
        out.append(average / (1 - weight**t))
    return out
