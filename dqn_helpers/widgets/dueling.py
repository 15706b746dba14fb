"""Lesson 08's panel: what V and A learn under each aggregation of the dueling head (mean, max, none)."""

from __future__ import annotations

from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib.figure import Figure

from dqn_helpers.widgets._base import IntSlider, Panel, PanelError, one_torch_thread, slider_style

__all__ = ["AGGREGATIONS", "DuelingFit", "fit_dueling", "DuelingPanel"]

AGGREGATIONS = ("mean", "max", "none")


def toy_q_values(n_states: int = 6, n_actions: int = 3) -> np.ndarray:
    """A fixed table of Q-values: state values 0, 1, 2, ... with action offsets that sum to zero."""
    values = np.arange(n_states, dtype=float)
    offsets = np.linspace(-1.0, 1.0, n_actions) * (1 + 0.3 * np.cos(np.arange(n_states)))[:, None]
    return values[:, None] + offsets


@dataclass
class DuelingFit:
    """What ``fit_dueling`` learned. Introduced in lesson 08."""

    aggregation: str
    q_true: np.ndarray  # (states, actions) the table fitted
    value: np.ndarray  # the learned V(s)
    advantage: np.ndarray  # the learned A(s, a)
    q_fit: np.ndarray  # V + A − aggregation(A)
    loss: np.ndarray  # mean squared error per step

    @property
    def q_error(self) -> float:
        return float(np.abs(self.q_fit - self.q_true).max())

    @property
    def value_target(self) -> np.ndarray:
        """What V should be under this aggregation: mean_a Q, max_a Q (none: not defined, mean shown)."""
        return self.q_true.max(axis=1) if self.aggregation == "max" else self.q_true.mean(axis=1)

    @property
    def value_error(self) -> float:
        return float(np.abs(self.value - self.value_target).max())


@one_torch_thread()
def fit_dueling(
    aggregation: str, *, steps: int = 400, seed: int = 0, lr: float = 0.1
) -> DuelingFit:
    """Fit Q(s, a) = V(s) + A(s, a) − agg_a A(s, a) to a fixed table by gradient descent (Adam).

    V and A are free parameters (one per state, one per state and action), started at random with
    ``seed``. With "none" nothing ties V to the state's value: Q is fitted, V is wherever it started.
    Introduced in lesson 08.
    """
    if aggregation not in AGGREGATIONS:
        raise PanelError(f"aggregation must be one of {AGGREGATIONS}, got {aggregation!r}.")
    if not 1 <= steps <= 100_000:
        raise PanelError(f"steps must be in 1..100,000, got {steps!r}.")
    q_true = toy_q_values()
    generator = torch.Generator().manual_seed(seed)
    value = torch.nn.Parameter(3 * torch.randn(q_true.shape[0], generator=generator))
    advantage = torch.nn.Parameter(3 * torch.randn(*q_true.shape, generator=generator))
    optimizer = torch.optim.Adam([value, advantage], lr=lr)
    target = torch.as_tensor(q_true, dtype=torch.float32)

    def q_of() -> torch.Tensor:
        if aggregation == "mean":
            return value[:, None] + advantage - advantage.mean(dim=1, keepdim=True)
        if aggregation == "max":
            return value[:, None] + advantage - advantage.max(dim=1, keepdim=True).values
        return value[:, None] + advantage

    losses = []
    for _ in range(steps):
        loss = ((q_of() - target) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    with torch.no_grad():
        return DuelingFit(
            aggregation,
            q_true,
            value.numpy().copy(),
            advantage.numpy().copy(),
            q_of().numpy().copy(),
            np.array(losses),
        )


class DuelingPanel(Panel):
    """The aggregation (mean, max, none), the steps and the starting point; V and A as they were learned.

    Introduced in lesson 08.
    """

    def __init__(self, *, aggregation: str = "mean", steps: int = 400, seed: int = 0) -> None:
        style = slider_style()
        self.aggregation = widgets.ToggleButtons(
            options=list(AGGREGATIONS),
            value=aggregation,
            description="aggregation",
            style={"description_width": "130px", "button_width": "70px"},
        )
        self.steps = IntSlider(
            value=steps, min=10, max=3_000, step=10, description="Adam steps", **style
        )
        self.seed = IntSlider(value=seed, min=0, max=20, description="start (seed)", **style)
        super().__init__([self.aggregation, self.steps, self.seed])

    def compute(self) -> DuelingFit:
        return fit_dueling(
            self.aggregation.value, steps=int(self.steps.value), seed=int(self.seed.value)
        )

    def draw(self, r: DuelingFit) -> Figure:
        fig = Figure(figsize=(11, 3.8), layout="constrained")
        ax_v, ax_a = fig.subplots(1, 2)
        states = np.arange(len(r.value))
        ax_v.bar(
            states - 0.2,
            r.value_target,
            width=0.4,
            color="lightgray",
            label="max_a Q(s,a)" if r.aggregation == "max" else "mean_a Q(s,a)",
        )
        ax_v.bar(states + 0.2, r.value, width=0.4, color="tab:blue", label="learned V(s)")
        ax_v.set(xlabel="state", ylabel="value", title=f"V with aggregation '{r.aggregation}'")
        ax_v.legend(fontsize=8)
        for a in range(r.advantage.shape[1]):
            ax_a.plot(states, r.advantage[:, a], marker="o", label=f"A(s, a{a})")
        ax_a.axhline(0.0, color="black", lw=0.8)
        ax_a.set(
            xlabel="state",
            ylabel="advantage",
            title=f"learned A; Q fitted to within {r.q_error:.2g}",
        )
        ax_a.legend(fontsize=8)
        return fig

    def report(self, r: DuelingFit) -> str:
        return (
            f"aggregation {r.aggregation}: Q error {r.q_error:.3f}, "
            f"V off the state's value by up to {r.value_error:.3f}"
        )
