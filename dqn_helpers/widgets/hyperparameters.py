"""Lesson 05's panel: the lesson's hyperparameter table as widgets; each Train adds a run to one plot."""

from __future__ import annotations

import html
import math
import time
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
from matplotlib.figure import Figure

from dqn_helpers import logs, plotting
from dqn_helpers.widgets._base import (
    FloatLogSlider,
    FloatSlider,
    IntSlider,
    Panel,
    in_ipython,
    options_with,
    slider_style,
)

__all__ = ["HyperparameterPanel"]


def _dropdown(
    first: tuple[str, float],
    value: float | None,
    choices: list[float],
    label: Callable[[float], str],
    **kwargs: Any,
) -> widgets.Dropdown:
    """A dropdown of ``first`` (the other mode, whose value is 0) then ``label(c)`` for each of
    ``choices`` and ``value`` (so the base config's value is always selectable), set to ``value``."""
    if value:
        choices = options_with(value, choices)
    options = [first] + [(label(c), c) for c in choices]
    return widgets.Dropdown(options=options, value=value or first[1], **kwargs)


class HyperparameterPanel(Panel):
    """The lesson's hyperparameter table as widgets; "Train" runs ``train_fn(config)`` and overlays its curve.

    ``train_fn(config)`` returns a TrainingLog (or a TrainResult, or a run folder); every run is kept in ``runs``
    ``{label: log}`` and drawn on one figure so you can compare. Introduced in lesson 05.
    """

    intro = "Set the values, then press <b>Train</b>; each run is added to the plot."
    failed = "Not trained"

    def __init__(
        self,
        train_fn: object,
        base_config: object,
        *,
        threshold: float | None = None,
        hold: float | None = None,
        max_steps: int = 100_000,
    ) -> None:
        if not callable(train_fn):
            raise TypeError(
                f"train_fn must be callable as train_fn(config) -> log, got {type(train_fn).__name__}."
            )
        if not (hasattr(base_config, "replace") and hasattr(base_config, "learning_rate")):
            raise TypeError(
                f"base_config must be a config.DQNConfig, got {type(base_config).__name__}."
            )
        self.train_fn, self.base_config, self.threshold = train_fn, base_config, threshold
        self.hold = threshold if hold is None else hold  # a run "passes" if its last eval >= hold
        self.runs: dict[str, object] = {}
        self.configs: dict[str, object] = {}
        self._make_value_widgets(base_config, max_steps)
        self.epsilon_decay.observe(self._sync_epsilon_widgets, names="value")
        self.clear_button = widgets.Button(description="Clear runs", icon="trash")
        self.clear_button.on_click(lambda _: self.clear())
        self.table = widgets.HTML()
        self.log_output = widgets.Output()
        super().__init__(
            [
                self.learning_rate,
                self.batch_size,
                self.buffer_size,
                self.target_update,
                self.gamma,
                self.epsilon_decay,
                self.epsilon_fraction,
                self.total_steps,
            ],
            auto=None,  # a training run per slider move would be too slow: Train only
            extra=[self.clear_button],
        )
        self.widget.children = (*self.widget.children, self.table, self.log_output)
        self.figure = Figure(figsize=(8, 4.2), layout="constrained")
        self.figure.subplots()

    def _make_value_widgets(self, b: object, max_steps: int) -> None:
        """One widget per hyperparameter of the lesson's table, set to the base config's values."""
        common = slider_style("430px", "170px")
        self.learning_rate = FloatLogSlider(
            value=b.learning_rate,
            base=10,
            min=-5,
            max=-1,
            step=0.1,
            readout_format=".1e",
            description="learning rate",
            **common,
        )
        self.batch_size = widgets.Dropdown(
            options=options_with(b.batch_size, [16, 32, 64, 128, 256]),
            value=b.batch_size,
            description="batch size",
            **common,
        )
        self.buffer_size = widgets.Dropdown(
            options=options_with(b.buffer_size, [500, 1_000, 5_000, 10_000, 50_000, 100_000]),
            value=b.buffer_size,
            description="replay buffer size",
            **common,
        )
        self.target_update = _dropdown(
            (f"soft: τ={b.tau:g} after each update", 0),
            b.target_update,
            [1, 10, 100, 500, 1_000, 5_000],
            lambda c: f"hard copy every {c:,} steps" if c > 1 else "hard copy every step",
            description="target update (C)",
            **common,
        )
        self.gamma = FloatSlider(
            value=b.gamma,
            min=0.8,
            max=0.999,
            step=0.001,
            readout_format=".3f",
            description="discount γ",
            **common,
        )
        self.epsilon_decay = _dropdown(
            ("linear (see the fraction below)", 0.0),
            b.epsilon_decay,
            [0.99, 0.995, 0.999],
            lambda d: f"×{d:g} per episode",
            description="ε decay",
            **common,
        )
        self.epsilon_fraction = FloatSlider(
            value=b.epsilon_fraction,
            min=0.05,
            max=1.0,
            step=0.05,
            readout_format=".2f",
            description="ε linear over fraction",
            disabled=b.epsilon_decay is not None,
            **common,
        )
        self.total_steps = IntSlider(
            value=b.total_steps,
            min=500,
            max=max(max_steps, b.total_steps),
            step=500,
            description="env steps",
            **common,
        )

    def _sync_epsilon_widgets(self, change: dict | None = None) -> None:
        self.epsilon_fraction.disabled = bool(self.epsilon_decay.value)

    def config(self) -> object:
        """The base config with the widgets' values (validated by DQNConfig).

        An annealed learning rate keeps the base's end/start ratio. Introduced in lesson 05.
        """
        b = self.base_config
        # A slider snaps its value to its step as soon as it is displayed (3e-3 becomes 10^-2.5,
        # 0.99 becomes 0.9900000000000001): a value within half a step of the base is the base.
        lr = float(self.learning_rate.value)
        if abs(math.log10(lr) - math.log10(b.learning_rate)) <= self.learning_rate.step / 2 + 1e-9:
            lr = b.learning_rate
        gamma = float(self.gamma.value)
        if abs(gamma - b.gamma) <= self.gamma.step / 2 + 1e-12:
            gamma = b.gamma
        fraction = float(self.epsilon_fraction.value)
        if abs(fraction - b.epsilon_fraction) <= self.epsilon_fraction.step / 2 + 1e-12:
            fraction = b.epsilon_fraction
        lr_end = None if b.lr_end is None else min(lr, b.lr_end * lr / b.learning_rate)
        return b.replace(
            learning_rate=lr,
            lr_end=lr_end,
            batch_size=int(self.batch_size.value),
            buffer_size=int(self.buffer_size.value),
            target_update=int(self.target_update.value),
            gamma=gamma,
            epsilon_decay=float(self.epsilon_decay.value) or None,
            epsilon_fraction=fraction,
            total_steps=int(self.total_steps.value),
        )

    def label(self, config: object) -> str:
        """A short name for a run: its number and what differs from the base config."""
        b = self.base_config
        names = (
            ("learning_rate", "lr", ".0e"),
            ("batch_size", "batch", "d"),
            ("buffer_size", "buffer", ","),
            ("target_update", "C", "d"),
            ("gamma", "γ", ".3g"),
            ("epsilon_decay", "ε×", "g"),
            ("epsilon_fraction", "ε-frac", ".2f"),
            ("total_steps", "steps", ","),
        )
        diffs = [
            f"{short}={format(getattr(config, name), fmt) if getattr(config, name) is not None else 'linear'}"
            for name, short, fmt in names
            if getattr(config, name) != getattr(b, name)
        ]
        # numbered among the panel's own runs: a reference added with add_run does not make yours "run 2"
        return f"run {len(self.configs) + 1}: " + (", ".join(diffs) if diffs else "base values")

    def run(self) -> object:
        """Train with the current values, add the run to ``runs`` and redraw the overlay; return its log."""
        notes = self._notes()
        config = self.config()
        label = self.label(config)
        self.status.value = f"Training <b>{html.escape(label)}</b> …"
        self.train_button.disabled = True
        start = time.perf_counter()
        try:
            with self.log_output:
                if in_ipython():
                    self.log_output.clear_output(wait=True)
                result = self.train_fn(config)
        finally:
            self.train_button.disabled = False
        try:
            log = logs.as_log(result)
        except TypeError:
            raise TypeError(
                f"train_fn must return a TrainingLog, a TrainResult or a run folder, "
                f"got {type(result).__name__}."
            ) from None
        self.runs[label], self.configs[label] = log, config
        self.results.append(log)
        self.redraw()
        best = max((row["mean_return"] for row in log.evals), default=float("nan"))
        self.status.value = (
            f"<b>{html.escape(label)}</b> done in {time.perf_counter() - start:.0f} s; "
            f"best greedy evaluation {best:.1f}." + notes
        )
        return log

    def _on_train(self, _button: object = None) -> None:
        self.safe_run()

    def add_run(self, label: str, log: object) -> None:
        """Add a run trained elsewhere (e.g. the lesson's reference run, or its run folder) to the comparison."""
        self.runs[str(label)] = logs.as_log(log)
        self.redraw()

    def clear(self) -> None:
        """Forget every run and redraw an empty plot."""
        self.runs.clear()
        self.configs.clear()
        self.redraw()

    def redraw(self) -> None:
        """Redraw the overlay of all runs (and their evaluation table when a threshold is set)."""
        ax = self.figure.axes[0]
        ax.clear()
        plotting.plot_runs_overlay(self.runs, ax=ax, threshold=self.threshold)
        if self.runs and self.threshold is not None:
            rows = plotting.eval_table(self.runs, threshold=self.threshold, hold=self.hold)
            text = plotting.format_eval_table(rows, threshold=self.threshold, hold=self.hold)
            self.table.value = "<pre>" + html.escape(text) + "</pre>"
        else:
            self.table.value = ""
        if self.runs:
            self.show(self.figure)
        else:
            self.image.value = b""
