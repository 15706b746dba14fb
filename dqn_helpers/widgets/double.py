"""Lesson 07's panel: the upward bias of the max over noisy estimates, and the double estimate beside it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure

from dqn_helpers.widgets._base import FloatSlider, IntSlider, Panel, PanelError, slider_style

__all__ = ["MaxBias", "max_bias", "DoubleEstimatePanel"]


@dataclass
class MaxBias:
    """What ``max_bias`` measured. Introduced in lesson 07."""

    n_actions: int
    noise: float
    single: np.ndarray  # max_a Q_A(a) per trial: the DQN target's estimate of max_a Q(a) = 0
    double: np.ndarray  # Q_B(argmax_a Q_A(a)) per trial: the Double DQN estimate
    bias_by_actions: np.ndarray  # mean single estimate for 1..n_actions actions (same noise)

    @property
    def single_bias(self) -> float:
        return float(self.single.mean())

    @property
    def double_bias(self) -> float:
        return float(self.double.mean())


def max_bias(n_actions: int, noise: float, *, trials: int = 4_000, seed: int = 0) -> MaxBias:
    """Every action is worth 0; two independent noisy estimates Q_A, Q_B ~ N(0, noise²) per action.

    The max of Q_A estimates max_a Q(a) = 0 with an upward bias; Q_B at Q_A's argmax does not.
    Introduced in lesson 07.
    """
    if not (isinstance(n_actions, int | np.integer) and 1 <= n_actions <= 1_000):
        raise PanelError(
            f"the number of actions must be a whole number in 1..1000, got {n_actions!r}."
        )
    if not (np.isfinite(noise) and noise >= 0):
        raise PanelError(f"the noise must be a standard deviation >= 0, got {noise!r}.")
    if not 1 <= trials <= 1_000_000:
        raise PanelError(f"trials must be in 1..1,000,000, got {trials!r}.")
    rng = np.random.default_rng(seed)
    q_a = noise * rng.standard_normal((trials, n_actions))
    q_b = noise * rng.standard_normal((trials, n_actions))
    single = q_a.max(axis=1)
    double = q_b[np.arange(trials), q_a.argmax(axis=1)]
    running_max = np.maximum.accumulate(q_a, axis=1)  # max over the first k actions, k = 1..n
    return MaxBias(int(n_actions), float(noise), single, double, running_max.mean(axis=0))


class DoubleEstimatePanel(Panel):
    """Sliders for the number of actions and the noise; the histograms of both estimates, live.

    Introduced in lesson 07.
    """

    def __init__(self, *, n_actions: int = 10, noise: float = 1.0, trials: int = 4_000) -> None:
        style = slider_style()
        self.n_actions = IntSlider(value=n_actions, min=1, max=100, description="actions", **style)
        self.noise = FloatSlider(
            value=noise, min=0.0, max=3.0, step=0.1, description="noise σ", **style
        )
        self.trials = trials
        super().__init__([self.n_actions, self.noise])

    def compute(self) -> MaxBias:
        return max_bias(int(self.n_actions.value), float(self.noise.value), trials=self.trials)

    def draw(self, r: MaxBias) -> Figure:
        fig = Figure(figsize=(11, 3.8), layout="constrained")
        ax_h, ax_n = fig.subplots(1, 2)
        spread = max(r.noise, 1e-3) * 4
        bins = np.linspace(-spread, spread + r.single_bias, 50)
        ax_h.hist(r.single, bins=bins, alpha=0.6, label=f"max_a Q_A: mean {r.single_bias:+.2f}")
        ax_h.hist(
            r.double, bins=bins, alpha=0.6, label=f"Q_B(argmax Q_A): mean {r.double_bias:+.2f}"
        )
        ax_h.axvline(0.0, color="black", lw=1, ls="--", label="true max_a Q = 0")
        ax_h.set(
            xlabel="estimate of max_a Q(a)",
            ylabel="trials",
            title=f"{r.n_actions} actions, noise σ = {r.noise:g}",
        )
        ax_h.legend(fontsize=8)
        k = np.arange(1, r.n_actions + 1)
        ax_n.plot(k, r.bias_by_actions, marker=".", label="bias of the max")
        ax_n.axhline(0.0, color="black", lw=1, ls="--", label="double estimate (unbiased)")
        ax_n.set(
            xlabel="number of actions",
            ylabel="mean estimate − true value",
            title="the bias grows with the number of actions",
        )
        ax_n.legend(fontsize=8)
        return fig

    def report(self, r: MaxBias) -> str:
        return (
            f"bias of the max {r.single_bias:+.3f}, of the double estimate {r.double_bias:+.3f} "
            f"({len(r.single):,} trials)"
        )
