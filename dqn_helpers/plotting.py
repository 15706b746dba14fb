"""Plots for the course: learning curves with seed bands, Q-tables, training dashboards.

Functions take arrays or a ``training.TrainingLog``-like object (anything with ``.episodes`` /
``.evals`` rows) and return a matplotlib Figure. Nothing global is changed on import.
Each lesson owns one section below.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

__all__ = ["plt", "np", "Figure", "Sequence"]

# ---------------------------------------------------------------- shared (several lessons)


def moving_average(values: Sequence[float] | np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over the last ``window`` points (shorter at the start), same length as ``values``.

    Introduced in lesson 01; works on 1-D arrays or along the last axis of 2-D (seeds, points) arrays.
    """
    if not isinstance(window, int | np.integer) or window < 1:
        raise ValueError(f"window must be an integer >= 1, got {window!r}. Use 1 for no smoothing.")
    arr = np.asarray(values, dtype=float)
    if arr.ndim not in (1, 2):
        raise ValueError(f"values must be 1-D or 2-D (seeds, points), got shape {arr.shape}.")
    csum = np.cumsum(arr, axis=-1)
    out = np.empty_like(arr)
    n = arr.shape[-1]
    idx = np.arange(n)
    lo = idx - window  # index of the cumulative sum to subtract (-1 means none)
    counts = np.minimum(idx + 1, window)
    prev = np.where(lo >= 0, np.take(csum, np.clip(lo, 0, None), axis=-1), 0.0)
    out[...] = (csum - prev) / counts
    return out


def plot_curves_with_band(
    x: Sequence[float] | np.ndarray,
    curves: Sequence[Sequence[float]] | np.ndarray,
    label: str,
    ax: plt.Axes | None = None,
    *,
    band: str = "std",
    smooth: int = 1,
    color: str | None = None,
    clip: tuple[float, float] | None = None,
) -> Figure:
    """Plot the mean over seeds of ``curves`` (shape (n_seeds, len(x))) with a shaded band; return the Figure.

    ``band``: "std" (mean ± one standard deviation), "minmax" (lowest to highest seed) or "sem"
    (± standard error). ``smooth`` > 1 applies a trailing moving average to each seed first;
    ``clip`` limits the band (e.g. (0, 1) for success rates). Draws on ``ax`` if given.
    Introduced in lesson 01; reused by every lesson that compares runs over seeds.
    """
    data = np.asarray(curves, dtype=float)
    if data.ndim == 1:
        data = data[None, :]
    if data.ndim != 2:
        raise ValueError(f"curves must be 2-D (n_seeds, n_points), got shape {data.shape}.")
    xs = np.asarray(x, dtype=float)
    if xs.shape != (data.shape[1],):
        raise ValueError(
            f"x has shape {xs.shape} but curves have {data.shape[1]} points per seed; "
            "pass one x value per point (e.g. np.arange(n_points))."
        )
    if band not in ("std", "minmax", "sem"):
        raise ValueError(f"band must be 'std', 'minmax' or 'sem', got {band!r}.")
    if smooth > 1:
        data = moving_average(data, smooth)
    mean = np.nanmean(data, axis=0)
    if band == "minmax":
        low, high = np.nanmin(data, axis=0), np.nanmax(data, axis=0)
    else:
        spread = np.nanstd(data, axis=0)
        if band == "sem":
            spread = spread / np.sqrt(max(data.shape[0], 1))
        low, high = mean - spread, mean + spread
    if clip is not None:
        low, high = np.clip(low, *clip), np.clip(high, *clip)
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 4))
    else:
        fig = ax.figure
    n = data.shape[0]
    name = {"std": "± 1 std", "minmax": "min–max", "sem": "± 1 s.e."}[band]
    (line,) = ax.plot(xs, mean, color=color, label=f"{label} (mean of {n} seed{'s' * (n != 1)})")
    ax.fill_between(xs, low, high, color=line.get_color(), alpha=0.2, linewidth=0,
                    label=f"{label} {name}" if n > 1 else None)
    ax.grid(alpha=0.3)
    return fig


# ---------------------------------------------------------------- lesson 01 (tabular Q-learning)

# ---------------------------------------------------------------- lesson 02 (Q-networks)

# ---------------------------------------------------------------- lesson 03 (experience replay)

# ---------------------------------------------------------------- lesson 04 (target networks)

# ---------------------------------------------------------------- lessons 05/07 (training dashboards)

# ---------------------------------------------------------------- lesson 06 (Atari preprocessing)
