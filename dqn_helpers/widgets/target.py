"""Lesson 04's panel: the hard-update period C and the soft-update rate τ of the target network."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from dqn_helpers import plotting
from dqn_helpers.widgets._base import FloatLogSlider, Panel, slider_style

__all__ = ["TargetUpdatePanel"]


class TargetUpdatePanel(Panel):
    """Sliders for the hard-update period C and the soft-update rate τ over ``run_fn(target_update, tau)``.

    ``run_fn`` returns a dict with "updates" (x values), "drift" ({label: {"target", "prediction"}}, one entry per
    update rule), optional "bound", "steps" and "curves" ({label: (n_seeds, n_points) greedy returns}). Moving a
    slider (or pressing Train) re-runs it and redraws; every result is kept in ``results`` with its C and τ.
    Introduced in lesson 04.
    """

    _PERIODS = (1, 5, 10, 25, 50, 100, 200, 500, 1000, 2000, 5000)
    intro = "Press <b>Train</b> (or move a slider) to run and draw."

    def __init__(
        self, run_fn: object, *, target_update: int = 500, tau: float = 0.005, auto: bool = True
    ) -> None:
        if not callable(run_fn):
            raise TypeError(
                f"run_fn must be a function (target_update, tau) -> dict, got {type(run_fn).__name__}."
            )
        if target_update not in self._PERIODS:
            raise ValueError(
                f"target_update must be one of {self._PERIODS}, got {target_update!r}."
            )
        if not 1e-3 <= tau <= 1.0:
            raise ValueError(
                f"tau must be in [0.001, 1], got {tau!r}. Typical soft-update values are 0.005-0.01."
            )
        self.run_fn = run_fn
        style = slider_style("420px", "140px")
        self.target_update = widgets.SelectionSlider(
            options=list(self._PERIODS),
            value=target_update,
            description="hard: copy every C",
            continuous_update=False,
            **style,
        )
        self.tau = FloatLogSlider(
            value=tau,
            base=10,
            min=-3,
            max=0,
            step=0.1,
            readout_format=".3f",
            description="soft: τ",
            continuous_update=False,
            **style,
        )
        super().__init__([self.target_update, self.tau], auto=auto, columns=1)

    def compute(self) -> dict:
        target_update, tau = int(self.target_update.value), float(self.tau.value)
        if not 0 < tau <= 1:
            raise ValueError(
                f"τ must be in (0, 1] (1 = a full copy after each update), got {tau:g}."
            )
        result = self.run_fn(target_update, tau)
        missing = {"updates", "drift"} - set(result if isinstance(result, dict) else ())
        if missing:
            raise TypeError(
                f"run_fn must return a dict with 'updates' and 'drift' (and optionally 'steps' and "
                f"'curves'); missing {sorted(missing)} in {type(result).__name__}."
            )
        return {**result, "target_update": target_update, "tau": tau}

    def draw(self, result: dict) -> Figure:
        curves = result.get("curves") or {}
        n = len(result["drift"]) + bool(curves)
        fig = Figure(figsize=(5 * n, 3.8), layout="constrained")
        axes = fig.subplots(1, n, squeeze=False)[0]
        plotting.plot_target_drift(
            result["updates"],
            result["drift"],
            bound=result.get("bound"),
            axes=list(axes[: len(result["drift"])]),
        )
        if curves:
            for label, returns in curves.items():
                plotting.plot_curves_with_band(result["steps"], returns, label, ax=axes[-1])
            axes[-1].set(
                xlabel="environment steps",
                ylabel="greedy return",
                ylim=(0, 510),
                title="one short CartPole run each",
            )
            axes[-1].legend(loc="upper left", fontsize=7)
        return fig

    def report(self, result: Any) -> str:
        final = ", ".join(
            f"{label}: {float(np.asarray(r, dtype=float)[..., -1].mean()):.0f}"
            for label, r in (result.get("curves") or {}).items()
        )
        return f"last greedy return {final}" if final else ""
