"""The named record of one DQN update's metrics, and the names derived from it.

Introduced in lesson 05: ``DQNAgent.learn`` returns an ``UpdateMetrics``. The training log's update
columns, the divergence check, the checkpoint's saved sums and the diagnostics all read their
names from here, so a new metric is added in one place.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch

__all__ = ["UpdateMetrics", "LOGGED", "MetricSums"]


class UpdateMetrics(NamedTuple):
    """What one gradient step reports (Steps 3–4 of the algorithm). Introduced in lesson 05."""

    loss: float  # the loss before the step
    mean_max_q: float  # mean over the batch of max_a Q(s, a; θ)
    td_error: float  # mean |δ| = mean |y − Q(s, a; θ)|
    grad_norm: float  # the gradient's norm before clipping
    td_errors: torch.Tensor  # per-sample |δ| (prioritized replay turns them into priorities)

    def __getitem__(self, key: Any) -> Any:  # metrics["loss"] reads as metrics.loss
        return getattr(self, key) if isinstance(key, str) else tuple.__getitem__(self, key)

    def diverged(self) -> bool:
        """True when a logged metric is NaN or infinite: the update blew up."""
        return not all(math.isfinite(getattr(self, name)) for name in LOGGED)


#: The metrics the training log keeps (one column each, the mean over an episode's updates).
LOGGED: tuple[str, ...] = tuple(f for f in UpdateMetrics._fields if f != "td_errors")


class MetricSums:
    """The logged metrics summed over one episode's gradient steps (logged as their means)."""

    def __init__(self, sums: dict[str, float] | None = None, count: int = 0) -> None:
        self.sums = {name: float((sums or {}).get(name, 0.0)) for name in LOGGED}
        self.count = int(count)

    def add(self, m: UpdateMetrics) -> None:
        for name in LOGGED:
            self.sums[name] += getattr(m, name)
        self.count += 1

    def means(self) -> dict[str, float]:
        k = self.count
        return {name: s / k if k else math.nan for name, s in self.sums.items()}

    def state(self) -> dict[str, Any]:
        """The sums by name, for an exact resume (``MetricSums(**state)`` restores them)."""
        return {"sums": dict(self.sums), "count": self.count}
