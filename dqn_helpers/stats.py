"""Confidence intervals over seeds: the mean (or the interquartile mean) with a bootstrap interval.

Introduced in lesson 11 (the failure gallery compares broken and fixed arms over seeds); any lesson
that compares runs over seeds can use it. A handful of seeds is a small sample: an interval says
which claims the seeds support. ``bootstrap_ci(values)`` gives an ``Interval`` for one arm,
``difference_ci(a, b)`` one for the difference between two arms, and ``plot_intervals`` draws
several side by side. The bootstrap is the percentile bootstrap: resample the seeds with
replacement, recompute the statistic, and keep the middle ``confidence`` of the results. It uses
``scipy.stats.bootstrap`` when SciPy is installed and the same method in NumPy otherwise; both are
seeded, so a notebook prints the same interval every run.

Read an interval honestly: with 3 seeds the percentile interval of the mean can be no wider than
the range of the seeds, and it is often close to it; it says "the seeds agree", not "the
population does". Claim an ordering only when an interval of the difference excludes 0.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Interval", "iqm", "bootstrap_ci", "difference_ci", "plot_intervals"]

#: The statistics ``bootstrap_ci`` knows by name.
STATISTICS = ("mean", "iqm")


@dataclass(frozen=True)
class Interval:
    """A statistic of some seeds (``estimate``) with its bootstrap interval [``low``, ``high``].

    ``confidence`` is the interval's level (0.95: 95 %), ``n`` the number of values (seeds) and
    ``statistic`` its name. Introduced in lesson 11.
    """

    estimate: float
    low: float
    high: float
    confidence: float
    n: int
    statistic: str

    def above(self, value: float) -> bool:
        """True when the whole interval lies above ``value``: the seeds support "more than value"."""
        return self.low > value

    def below(self, value: float) -> bool:
        """True when the whole interval lies below ``value``: the seeds support "less than value"."""
        return self.high < value

    def __str__(self) -> str:
        return (
            f"{self.statistic} {self.estimate:.4g} "
            f"[{self.confidence:.0%} CI {self.low:.4g}, {self.high:.4g}] over {self.n} seeds"
        )


def iqm(values: Sequence[float] | np.ndarray) -> float:
    """The interquartile mean: the mean of the middle half of the values (sorted, a quarter cut
    from each end, fractional weights at the cuts), robust to one odd seed. Introduced in lesson 11.

    For 4 values it is the mean of the middle two; for 3, the mean of 0.25·x₁ + x₂ + 0.25·x₃ over 1.5.
    """
    x = np.sort(np.asarray(values, dtype=np.float64).ravel())
    n = len(x)
    if n == 0:
        raise ValueError("iqm needs at least one value.")
    # each value covers [i, i+1) of [0, n); keep the part of it inside [n/4, 3n/4)
    edges = np.arange(n + 1, dtype=np.float64)
    weights = np.clip(np.minimum(edges[1:], 0.75 * n) - np.maximum(edges[:-1], 0.25 * n), 0.0, None)
    return float(np.sum(weights * x) / np.sum(weights))


def _statistic(statistic: str | Callable[[np.ndarray], float]) -> tuple[str, Callable]:
    if callable(statistic):
        return getattr(statistic, "__name__", "statistic"), statistic
    if statistic == "mean":
        return "mean", lambda x: float(np.mean(x))
    if statistic == "iqm":
        return "iqm", iqm
    raise ValueError(
        f"statistic must be one of {STATISTICS} or a function of one array, got {statistic!r}."
    )


def _as_values(values: Any, what: str) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64).ravel()
    if len(x) == 0:
        raise ValueError(f"{what} is empty: pass one number per seed.")
    if not np.all(np.isfinite(x)):
        raise ValueError(
            f"{what} holds NaN or infinite values ({x.tolist()}): drop or replace them first "
            "(a diverged run's value is a finding, not a number to average)."
        )
    return x


def _check_settings(confidence: float, n_resamples: int) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), e.g. 0.95; got {confidence!r}.")
    if int(n_resamples) < 100:
        raise ValueError(
            f"n_resamples must be at least 100 (10,000 is usual); got {n_resamples!r}."
        )


def _have_scipy() -> bool:
    return importlib.util.find_spec("scipy") is not None


def _percentile_interval(
    samples: Sequence[np.ndarray],
    fn: Callable[..., float],
    confidence: float,
    n_resamples: int,
    seed: int,
    use_scipy: bool | None,
) -> tuple[float, float]:
    """Percentile bootstrap of ``fn(*samples)``, each sample resampled on its own."""
    if all(np.all(s == s[0]) for s in samples):
        value = float(fn(*samples))
        return value, value  # nothing varies: every resample gives the same value
    if use_scipy is None:
        use_scipy = _have_scipy()
    if use_scipy:
        from scipy import stats as scipy_stats  # optional: only when installed

        res = scipy_stats.bootstrap(
            tuple(samples),
            lambda *xs, axis=-1: _vectorised(fn, xs, axis),
            n_resamples=int(n_resamples),
            confidence_level=confidence,
            method="percentile",
            random_state=np.random.default_rng(seed),
            vectorized=True,
        )
        return float(res.confidence_interval.low), float(res.confidence_interval.high)
    rng = np.random.default_rng(seed)
    draws = [rng.integers(0, len(s), size=(int(n_resamples), len(s))) for s in samples]
    stats = np.array(
        [fn(*(s[d[k]] for s, d in zip(samples, draws))) for k in range(int(n_resamples))]
    )
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(stats, [tail, 1.0 - tail])
    return float(low), float(high)


def _vectorised(fn: Callable[..., float], xs: tuple[np.ndarray, ...], axis: int) -> np.ndarray:
    """Apply ``fn`` to each resample that scipy stacks along the leading axes."""
    moved = [np.moveaxis(x, axis, -1) for x in xs]
    shape = moved[0].shape[:-1]
    out = np.empty(shape)
    for index in np.ndindex(shape):
        out[index] = fn(*(m[index] for m in moved))
    return out


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    statistic: str | Callable[[np.ndarray], float] = "mean",
    *,
    confidence: float = 0.95,
    n_resamples: int = 10_000,
    seed: int = 0,
    use_scipy: bool | None = None,
) -> Interval:
    """The ``statistic`` ("mean", "iqm" or a function of one array) of ``values`` (one per seed)
    with its percentile-bootstrap interval at ``confidence``. Introduced in lesson 11.

    ``seed`` makes the interval reproducible; ``use_scipy`` None uses SciPy when it is installed
    (False forces the NumPy bootstrap, True requires SciPy). One value gives a zero-width interval:
    with one seed there is nothing to resample, so do not read it as certainty.
    """
    name, fn = _statistic(statistic)
    x = _as_values(values, "values")
    _check_settings(confidence, n_resamples)
    low, high = _percentile_interval([x], fn, confidence, n_resamples, seed, use_scipy)
    return Interval(float(fn(x)), low, high, confidence, len(x), name)


def difference_ci(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    statistic: str | Callable[[np.ndarray], float] = "mean",
    *,
    confidence: float = 0.95,
    n_resamples: int = 10_000,
    seed: int = 0,
    use_scipy: bool | None = None,
) -> Interval:
    """``statistic(a) − statistic(b)`` with a percentile-bootstrap interval, resampling the seeds
    of ``a`` and of ``b`` independently (two arms trained on their own). Introduced in lesson 11.

    ``result.above(0)`` is the claim "a is higher than b" at this confidence; ``below(0)`` "lower".
    """
    name, fn = _statistic(statistic)
    xa, xb = _as_values(a, "a"), _as_values(b, "b")
    _check_settings(confidence, n_resamples)
    diff = lambda u, v: fn(u) - fn(v)  # noqa: E731
    low, high = _percentile_interval([xa, xb], diff, confidence, n_resamples, seed, use_scipy)
    return Interval(float(diff(xa, xb)), low, high, confidence, min(len(xa), len(xb)), f"Δ {name}")


def plot_intervals(
    intervals: Mapping[str, Interval],
    ax: Any = None,
    *,
    xlabel: str = "",
    title: str = "",
    reference: float | None = None,
) -> Any:
    """One row per label: the estimate as a dot and its interval as a bar (rliable's picture);
    ``reference`` draws a dashed vertical line (0 for differences, a threshold for a claim).
    Returns the axes. Introduced in lesson 11.
    """
    import matplotlib.pyplot as plt  # only when a figure is asked for

    if not intervals:
        raise ValueError("plot_intervals needs at least one interval: {label: Interval}.")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 0.5 + 0.45 * len(intervals)))
    labels = list(intervals)
    for row, label in enumerate(labels):
        ci = intervals[label]
        ax.plot([ci.low, ci.high], [row, row], color=f"C{row}", linewidth=4, alpha=0.5)
        ax.plot([ci.estimate], [row], "o", color=f"C{row}")
    if reference is not None and math.isfinite(reference):
        ax.axvline(reference, color="0.4", linestyle="--", linewidth=1)
    first = next(iter(intervals.values()))
    ax.set_yticks(range(len(labels)), labels)
    ax.set_ylim(len(labels) - 0.5, -0.5)
    ax.set(xlabel=xlabel or f"{first.statistic} with its {first.confidence:.0%} bootstrap interval")
    if title:
        ax.set_title(title)
    return ax
