"""Lesson 01's panel: tabular Q-learning on FrozenLake, with α, γ, ε decay, the map and the episodes."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from dqn_helpers import plotting
from dqn_helpers.widgets._base import FloatSlider, IntSlider, Panel, slider_style

__all__ = ["TabularQPanel"]


class TabularQPanel(Panel):
    """Sliders for α, γ, ε decay, slippery ice, map and episodes over a tabular Q-learning function.

    Moving a value (or pressing Train) calls ``train_fn(map_name=, is_slippery=, episodes=, alpha=, gamma=,
    epsilon_decay=, seeds=)``, which returns a dict with "q_table" (one seed's final table), "desc" (the map),
    "episodes" (x values) and "success" ((n_seeds, n_points) greedy success rates), optionally "optimum";
    the panel redraws the Q-table and the success curve. Introduced in lesson 01.
    """

    _DECAYS = (0.9, 0.95, 0.99, 0.995, 0.998, 0.999, 0.9995, 0.9998)
    intro = "Press <b>Train</b> (or move a slider) to train and draw."
    failed = "Not trained"

    def __init__(
        self,
        train_fn: object,
        *,
        map_name: str = "4x4",
        is_slippery: bool = True,
        episodes: int = 1000,
        alpha: float = 0.1,
        gamma: float = 0.99,
        epsilon_decay: float = 0.995,
        seeds: int = 3,
        auto: bool = True,
    ) -> None:
        if not callable(train_fn):
            raise TypeError(
                f"train_fn must be a function (map_name=..., ...) -> dict, got {type(train_fn).__name__}."
            )
        if epsilon_decay not in self._DECAYS:
            raise ValueError(f"epsilon_decay must be one of {self._DECAYS}, got {epsilon_decay!r}.")
        if not 0 < alpha <= 1:
            raise ValueError(f"alpha (the step size) must be in (0, 1], got {alpha!r}.")
        if not 0 <= gamma <= 1:
            raise ValueError(f"gamma (the discount) must be in [0, 1], got {gamma!r}.")
        if not (isinstance(episodes, int) and episodes >= 1):
            raise ValueError(f"episodes must be a whole number >= 1, got {episodes!r}.")
        self.train_fn = train_fn
        style = slider_style("360px", "110px")
        self.map_name = widgets.ToggleButtons(
            options=["4x4", "8x8"],
            value=map_name,
            description="map",
            style={"description_width": "110px", "button_width": "60px"},
        )
        self.is_slippery = widgets.Checkbox(
            value=is_slippery, description="slippery ice", indent=False
        )
        self.seeds = IntSlider(value=seeds, min=1, max=5, description="seeds", **style)
        self.alpha = FloatSlider(
            value=alpha, min=0.01, max=1.0, step=0.01, description="step size α", **style
        )
        self.gamma = FloatSlider(
            value=gamma,
            min=0.5,
            max=1.0,
            step=0.005,
            readout_format=".3f",
            description="discount γ",
            **style,
        )
        self.epsilon_decay = widgets.SelectionSlider(
            options=list(self._DECAYS), value=epsilon_decay, description="ε decay / ep.", **style
        )
        self.episodes = IntSlider(
            value=episodes, min=100, max=20_000, step=100, description="episodes", **style
        )
        for w in (self.seeds, self.alpha, self.gamma, self.epsilon_decay, self.episodes):
            w.continuous_update = False
        super().__init__(
            [
                self.map_name,
                self.is_slippery,
                self.seeds,
                self.alpha,
                self.gamma,
                self.epsilon_decay,
                self.episodes,
            ],
            auto=auto,
        )

    def values(self) -> dict:
        """The keyword arguments ``train_fn`` gets, read from the widgets."""
        return {
            "map_name": self.map_name.value,
            "is_slippery": bool(self.is_slippery.value),
            "episodes": int(self.episodes.value),
            "alpha": float(self.alpha.value),
            "gamma": float(self.gamma.value),
            "epsilon_decay": float(self.epsilon_decay.value),
            "seeds": int(self.seeds.value),
        }

    def compute(self) -> dict:
        kwargs = self.values()
        if not 0 <= kwargs["gamma"] <= 1:
            raise ValueError(f"γ must be in [0, 1], got {kwargs['gamma']:g}.")
        if not 0 < kwargs["alpha"] <= 1:
            raise ValueError(f"α must be in (0, 1], got {kwargs['alpha']:g}.")
        result = self.train_fn(**kwargs)
        missing = {"q_table", "desc", "episodes", "success"} - set(
            result if isinstance(result, dict) else ()
        )
        if missing:
            raise TypeError(
                f"train_fn must return a dict with q_table, desc, episodes and success; "
                f"missing {sorted(missing)} in {type(result).__name__}."
            )
        self._kwargs = kwargs
        return result

    def draw(self, result: dict) -> Figure:
        kwargs = self._kwargs
        fig = Figure(figsize=(11, 4.2), layout="constrained")
        ax_q, ax_s = fig.subplots(1, 2, width_ratios=[1, 1.3])
        plotting.plot_q_table(
            result["q_table"], result["desc"], ax=ax_q, title="seed 0: greedy policy over max-Q"
        )
        plotting.plot_curves_with_band(
            result["episodes"], result["success"], "greedy policy", ax=ax_s, clip=(0.0, 1.0)
        )
        if result.get("optimum") is not None:
            ax_s.axhline(result["optimum"], color="black", ls="--", lw=1, label="best possible")
        ax_s.set(
            xlabel="training episode",
            ylabel="success rate",
            ylim=(-0.02, 1.02),
            title=f"{kwargs['map_name']}, {'slippery' if kwargs['is_slippery'] else 'not slippery'}, "
            f"α={kwargs['alpha']:g}, γ={kwargs['gamma']:g}, ε×{kwargs['epsilon_decay']:g}",
        )
        ax_s.legend(loc="lower right", fontsize=8)
        return fig

    def report(self, result: Any) -> str:
        seeds = self._kwargs["seeds"]
        final = float(np.asarray(result["success"], dtype=float)[..., -1].mean())
        return f"final greedy success {final:.2f} (mean of {seeds} seed{'s' * (seeds > 1)})"
