"""Lesson 11's panel: break it yourself. Pick a failure, train it and its fix on CartPole, read the dashboard."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib.figure import Figure

from dqn_helpers import config as dqn_config
from dqn_helpers import diagnostics, logs, plotting, training
from dqn_helpers.widgets._base import IntSlider, Panel, PanelError, slider_style

__all__ = ["FAILURES", "FailureRun", "train_failure", "BreakItPanel"]

GAMMA, REWARD_MAX = (
    0.99,
    1.0,
)  # CartPole: one reward per step, so no state is worth more than 1/(1 − γ)


def _mask_bug(event: str, log: Any, agent: Any) -> None:
    """Plant a wrong terminal mask before the first update: every sampled transition counts as terminal."""
    if not hasattr(agent, "learn_with_the_right_mask"):
        agent.learn_with_the_right_mask = agent.learn
        agent.learn = lambda batch: agent.learn_with_the_right_mask(
            batch._replace(terminated=torch.ones_like(batch.terminated))
        )


# name -> the change to lesson 05's cartpole-dqn preset (config fields, or a callback planted before the
# first update), its fix, and the symptoms `diagnose` names in the broken run and not in the fixed one at
# the panel's default budget (tests/test_widgets.py checks each on seed 0).
FAILURES: dict[str, dict[str, Any]] = {
    "no target network": {
        "changes": lambda steps: {"target_update": 0, "tau": 1.0},
        "fix": "a target network copied after each burst (the preset)",
        "shows": {"q_above_bound", "loss_blowup"},
    },
    "learning_starts past the budget": {
        "changes": lambda steps: {"learning_starts": steps + 1},
        "fix": "learning starts after 250 steps",
        "shows": {"flat_returns", "epsilon_before_learning"},
    },
    "ε at its floor before learning": {
        "changes": lambda steps: {"learning_starts": steps // 2, "epsilon_fraction": 0.05},
        "fix": "learning starts after 250 steps, ε decays over 16 % of the run",
        "shows": {"epsilon_before_learning"},
    },
    "wrong terminal mask": {
        "changes": lambda steps: {},
        "plant": _mask_bug,
        "fix": "the mask 1 − terminated",
        "shows": {"flat_returns"},
    },
    "learning rate far too small": {
        "changes": lambda steps: {"learning_rate": 1e-7},
        "fix": "the preset's learning rate 2.3e-3",
        "shows": {"flat_returns"},
    },
}


@dataclass
class FailureRun:
    """One short CartPole run: its log, what ``diagnose`` found, and whether it stopped on NaN."""

    label: str
    log: logs.TrainingLog
    findings: list[diagnostics.Finding]
    stopped: str | None = None  # the divergence message when training stopped on NaN
    symptoms: set[str] = field(default_factory=set)


def _config(steps: int, seed: int, changes: dict[str, Any]) -> dqn_config.DQNConfig:
    fields = dict(
        total_steps=steps,
        learning_starts=250,
        checkpoint_every=0,
        seed=seed,
        eval_every=max(500, steps // 10),
        eval_episodes=3,
        gamma=GAMMA,
    )
    return dqn_config.preset("cartpole-dqn", **{**fields, **changes})


def train_failure(failure: str, *, broken: bool, steps: int = 2_000, seed: int = 0) -> FailureRun:
    """Train lesson 05's ``cartpole-dqn`` preset for ``steps`` with ``failure`` planted (or fixed).

    A run that turns NaN stops (``training.TrainingDivergedError``); its log up to there is kept.
    Introduced in lesson 11.
    """
    if failure not in FAILURES:
        raise PanelError(f"failure must be one of {list(FAILURES)}, got {failure!r}.")
    if not (isinstance(steps, int | np.integer) and 500 <= steps <= 100_000):
        raise PanelError(f"steps must be a whole number in 500..100,000, got {steps!r}.")
    spec = FAILURES[failure]
    cfg = _config(steps, seed, spec["changes"](steps) if broken else {})
    kept: list[Any] = []

    def keep(event: str, log: Any, agent: Any) -> None:
        if not kept:
            kept.append(log)

    callbacks: list[Callable[..., None]] = [keep]
    if broken and "plant" in spec:
        callbacks.append(spec["plant"])
    stopped = None
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore"
        )  # the loop warns when Q passes the bound: the dashboard shows it
        try:
            log = training.train(cfg, callbacks=callbacks, progress=False).log
        except training.TrainingDivergedError as exc:
            stopped, log = str(exc), kept[0] if kept else logs.TrainingLog()
    label = f"broken: {failure}" if broken else f"fixed: {spec['fix']}"
    findings = diagnostics.diagnose(log, gamma=cfg.gamma, reward_max=REWARD_MAX)
    return FailureRun(label, log, findings, stopped, {f.symptom for f in findings})


class BreakItPanel(Panel):
    """Pick a failure, press Train: the broken run and (optionally) its fix, the dashboard, the findings.

    Introduced in lesson 11.
    """

    intro = "Pick a failure and press <b>Train</b>: two short CartPole runs, broken and fixed."
    failed = "Not trained"

    def __init__(
        self, *, failure: str = "no target network", steps: int = 2_000, seed: int = 0
    ) -> None:
        if failure not in FAILURES:
            raise ValueError(f"failure must be one of {list(FAILURES)}, got {failure!r}.")
        style = slider_style()
        self.failure = widgets.Dropdown(
            options=list(FAILURES), value=failure, description="failure", **style
        )
        self.with_fix = widgets.Checkbox(value=True, description="also train the fix", indent=False)
        self.steps = IntSlider(
            value=steps, min=500, max=30_000, step=500, description="env steps", **style
        )
        self.seed = IntSlider(value=seed, min=0, max=9, description="seed", **style)
        self.findings = widgets.HTML()
        super().__init__([self.failure, self.with_fix, self.steps, self.seed], auto=None)
        self.widget.children = (*self.widget.children, self.findings)

    def compute(self) -> list[FailureRun]:
        kwargs = dict(steps=int(self.steps.value), seed=int(self.seed.value))
        runs = [train_failure(self.failure.value, broken=True, **kwargs)]
        if self.with_fix.value:
            runs.append(train_failure(self.failure.value, broken=False, **kwargs))
        return runs

    def draw(self, runs: list[FailureRun]) -> Figure:
        drawable = [r for r in runs if len(r.log.episodes)]
        if not drawable:
            raise PanelError("no run lasted one episode: raise the env steps.")
        fig = plotting.plot_diagnostics(
            [r.log for r in drawable],
            gamma=GAMMA,
            reward_max=REWARD_MAX,
            labels=[r.label for r in drawable],
        )
        fig.set_size_inches(11, 6.5)
        return fig

    def report(self, runs: list[FailureRun]) -> str:
        import html

        blocks = []
        for r in runs:
            text = diagnostics.format_findings(r.findings, r.log)
            if r.stopped:
                text = f"stopped: {r.stopped}\n{text}"
            blocks.append(f"<b>{html.escape(r.label)}</b><pre>{html.escape(text)}</pre>")
        self.findings.value = "".join(blocks)
        expected = ", ".join(sorted(FAILURES[self.failure.value]["shows"]))
        return (
            "; ".join(f"{r.label}: {', '.join(sorted(r.symptoms)) or 'no findings'}" for r in runs)
            + f" (the lesson's finding for this failure: {expected})"
        )
