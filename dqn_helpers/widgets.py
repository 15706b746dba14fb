"""ipywidgets panels: sliders over pure functions, so a learner can change a value and watch the effect.

Each panel keeps its widgets as attributes and exposes ``run()`` (what the button does), so
tests can set ``panel.some_slider.value = ...`` and call ``panel.run()`` without a browser.
Each lesson owns one section below.
"""

from __future__ import annotations

import math

import ipywidgets as widgets

from dqn_helpers import logs

__all__ = ["TabularQPanel", "TargetUpdatePanel", "HyperparameterPanel"]

# ---------------------------------------------------------------- lesson 01 (tabular Q-learning)


class TabularQPanel:
    """Sliders for α, γ, ε decay, slippery ice, map and episodes over a tabular Q-learning function.

    Moving a value (or pressing Train) calls ``train_fn(map_name=, is_slippery=, episodes=, alpha=, gamma=,
    epsilon_decay=, seeds=)``, which returns a dict with "q_table" (one seed's final table), "desc" (the map),
    "episodes" (x values) and "success" ((n_seeds, n_points) greedy success rates), optionally "optimum";
    the panel redraws the Q-table and the success curve. Introduced in lesson 01.
    """

    _DECAYS = (0.9, 0.95, 0.99, 0.995, 0.998, 0.999, 0.9995, 0.9998)

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
        self.train_fn = train_fn
        self.result: dict | None = None  # what the last run returned
        self.n_runs = 0  # how many times the panel has trained
        self.figure: object | None = None  # the last drawn matplotlib Figure
        style = {"style": {"description_width": "110px"}, "layout": widgets.Layout(width="360px")}
        self.map_name = widgets.ToggleButtons(
            options=["4x4", "8x8"],
            value=map_name,
            description="map",
            style={"description_width": "110px", "button_width": "60px"},
        )
        self.is_slippery = widgets.Checkbox(
            value=is_slippery, description="slippery ice", indent=False
        )
        self.episodes = widgets.IntSlider(
            value=episodes,
            min=100,
            max=20_000,
            step=100,
            description="episodes",
            continuous_update=False,
            **style,
        )
        self.alpha = widgets.FloatSlider(
            value=alpha,
            min=0.01,
            max=1.0,
            step=0.01,
            description="step size α",
            continuous_update=False,
            **style,
        )
        self.gamma = widgets.FloatSlider(
            value=gamma,
            min=0.5,
            max=1.0,
            step=0.005,
            readout_format=".3f",
            description="discount γ",
            continuous_update=False,
            **style,
        )
        self.epsilon_decay = widgets.SelectionSlider(
            options=list(self._DECAYS),
            value=epsilon_decay,
            description="ε decay / ep.",
            continuous_update=False,
            **style,
        )
        self.seeds = widgets.IntSlider(
            value=seeds, min=1, max=5, description="seeds", continuous_update=False, **style
        )
        self.auto = widgets.Checkbox(
            value=auto, description="retrain when a value changes", indent=False
        )
        self.train_button = widgets.Button(description="Train", button_style="primary", icon="play")
        self.status = widgets.HTML("Press <b>Train</b> (or move a slider) to train and draw.")
        self.image = widgets.Image(format="png")
        self.train_button.on_click(lambda _button: self._safe_run())
        for w in (
            self.map_name,
            self.is_slippery,
            self.episodes,
            self.alpha,
            self.gamma,
            self.epsilon_decay,
            self.seeds,
        ):
            w.observe(self._on_change, names="value")
        self.widget = widgets.VBox(
            [
                widgets.HBox(
                    [
                        widgets.VBox([self.map_name, self.is_slippery, self.seeds, self.auto]),
                        widgets.VBox([self.alpha, self.gamma, self.epsilon_decay, self.episodes]),
                    ]
                ),
                widgets.HBox([self.train_button, self.status]),
                self.image,
            ]
        )

    def _repr_mimebundle_(self, **kwargs: object) -> object:
        return self.widget._repr_mimebundle_(**kwargs)

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

    def run(self) -> dict:
        """Retrain with the current values, redraw, and return what ``train_fn`` returned."""
        import io
        import time

        import numpy as np
        from matplotlib.figure import Figure

        from dqn_helpers import plotting

        kwargs = self.values()
        self.status.value = "training …"
        start = time.perf_counter()
        result = self.train_fn(**kwargs)
        missing = {"q_table", "desc", "episodes", "success"} - set(
            result if isinstance(result, dict) else ()
        )
        if missing:
            raise TypeError(
                f"train_fn must return a dict with q_table, desc, episodes and success; "
                f"missing {sorted(missing)} in {type(result).__name__}."
            )
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
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=80)
        self.image.value = buffer.getvalue()
        self.figure, self.result = fig, result
        self.n_runs += 1
        final = float(np.asarray(result["success"], dtype=float)[..., -1].mean())
        self.status.value = (
            f"run {self.n_runs}: {time.perf_counter() - start:.1f} s, final greedy success "
            f"{final:.2f} (mean of {kwargs['seeds']} seed{'s' * (kwargs['seeds'] > 1)})"
        )
        return result

    def _safe_run(self) -> None:
        import html

        try:
            self.run()
        except Exception as exc:  # noqa: BLE001 - a widget callback has nowhere to raise: show it instead
            self.status.value = f"<b style='color:#b00'>Not trained:</b> {html.escape(str(exc))}"

    def _on_change(self, _change: dict) -> None:
        if self.auto.value:
            self._safe_run()


# ---------------------------------------------------------------- lesson 04 (target networks)


class TargetUpdatePanel:
    """Sliders for the hard-update period C and the soft-update rate τ over ``run_fn(target_update, tau)``.

    ``run_fn`` returns a dict with "updates" (x values), "drift" ({label: {"target", "prediction"}}, one entry per
    update rule), optional "bound", "steps" and "curves" ({label: (n_seeds, n_points) greedy returns}). Moving a
    slider (or pressing Train) re-runs it and redraws; every result is kept in ``results``. Introduced in lesson 04.
    """

    _PERIODS = (1, 5, 10, 25, 50, 100, 200, 500, 1000, 2000, 5000)

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
        self.results: list[
            dict
        ] = []  # what every run returned, oldest first, with its C and τ added
        self.figure: object | None = None  # the last drawn matplotlib Figure
        style = {"style": {"description_width": "140px"}, "layout": widgets.Layout(width="420px")}
        self.target_update = widgets.SelectionSlider(
            options=list(self._PERIODS),
            value=target_update,
            description="hard: copy every C",
            continuous_update=False,
            **style,
        )
        self.tau = widgets.FloatLogSlider(
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
        self.auto = widgets.Checkbox(
            value=auto, description="retrain when a slider moves", indent=False
        )
        self.train_button = widgets.Button(description="Train", button_style="primary", icon="play")
        self.status = widgets.HTML("Press <b>Train</b> (or move a slider) to run and draw.")
        self.image = widgets.Image(format="png")
        self.train_button.on_click(lambda _button: self._safe_run())
        for w in (self.target_update, self.tau):
            w.observe(self._on_change, names="value")
        self.widget = widgets.VBox(
            [
                widgets.HBox(
                    [widgets.VBox([self.target_update, self.tau]), widgets.VBox([self.auto])]
                ),
                widgets.HBox([self.train_button, self.status]),
                self.image,
            ]
        )

    def _repr_mimebundle_(self, **kwargs: object) -> object:
        return self.widget._repr_mimebundle_(**kwargs)

    def run(self) -> dict:
        """Run ``run_fn`` with the sliders' C and τ, redraw, and return (and keep) its result."""
        import io
        import time

        import numpy as np
        from matplotlib.figure import Figure

        from dqn_helpers import plotting

        target_update, tau = int(self.target_update.value), float(self.tau.value)
        self.status.value = f"running with C = {target_update}, τ = {tau:.3g} …"
        start = time.perf_counter()
        result = self.run_fn(target_update, tau)
        missing = {"updates", "drift"} - set(result if isinstance(result, dict) else ())
        if missing:
            raise TypeError(
                f"run_fn must return a dict with 'updates' and 'drift' (and optionally 'steps' and "
                f"'curves'); missing {sorted(missing)} in {type(result).__name__}."
            )
        curves = result.get("curves") or {}
        fig = Figure(figsize=(5 * (len(result["drift"]) + bool(curves)), 3.8), layout="constrained")
        axes = fig.subplots(1, len(result["drift"]) + bool(curves), squeeze=False)[0]
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
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=80)
        self.image.value = buffer.getvalue()
        self.figure = fig
        self.results.append({**result, "target_update": target_update, "tau": tau})
        final = ", ".join(
            f"{label}: {float(np.asarray(r, dtype=float)[..., -1].mean()):.0f}"
            for label, r in curves.items()
        )
        self.status.value = f"run {len(self.results)}: {time.perf_counter() - start:.1f} s" + (
            f"; last greedy return {final}" if final else ""
        )
        return result

    def _safe_run(self) -> None:
        import html

        try:
            self.run()
        except Exception as exc:  # noqa: BLE001 - a widget callback has nowhere to raise: show it instead
            self.status.value = f"<b style='color:#b00'>Not run:</b> {html.escape(str(exc))}"

    def _on_change(self, _change: dict) -> None:
        if self.auto.value:
            self._safe_run()


# ---------------------------------------------------------------- lesson 05 (DQN on CartPole)


def _in_ipython() -> bool:
    """True inside IPython/Jupyter (where output areas exist), False in plain Python and tests."""
    from IPython import get_ipython

    return get_ipython() is not None


def _options_with(value: float, choices: list[float]) -> list[float]:
    """``choices`` plus ``value`` (so the base config's own value is always selectable), sorted."""
    return sorted({*choices, value})


class HyperparameterPanel:
    """The lesson's hyperparameter table as widgets; "Train" runs ``train_fn(config)`` and overlays its curve.

    ``train_fn(config)`` returns a TrainingLog (or a TrainResult, or a run folder); every run is kept in ``runs``
    ``{label: log}`` and drawn on one figure so you can compare. Introduced in lesson 05.
    """

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
        from matplotlib.figure import Figure

        self.train_fn, self.base_config, self.threshold = train_fn, base_config, threshold
        self.hold = (
            threshold if hold is None else hold
        )  # a run "passes" if its last eval is still >= hold
        self.runs: dict[str, object] = {}
        self.configs: dict[str, object] = {}
        self._make_value_widgets(base_config, max_steps)
        self.epsilon_decay.observe(self._sync_epsilon_widgets, names="value")
        self.train_button = widgets.Button(description="Train", button_style="primary", icon="play")
        self.clear_button = widgets.Button(description="Clear runs", icon="trash")
        self.train_button.on_click(self._on_train)
        self.clear_button.on_click(lambda _: self.clear())
        self.status = widgets.HTML(
            "Set the values, then press <b>Train</b>; each run is added to the plot."
        )
        self.plot_output, self.log_output = widgets.Output(), widgets.Output()
        self.table = widgets.HTML()
        self.figure = Figure(figsize=(8, 4.2), layout="constrained")
        self.figure.subplots()
        left = [self.learning_rate, self.batch_size, self.buffer_size, self.target_update]
        right = [self.gamma, self.epsilon_decay, self.epsilon_fraction, self.total_steps]
        self.widget = widgets.VBox(
            [
                widgets.HBox([widgets.VBox(left), widgets.VBox(right)]),
                widgets.HBox([self.train_button, self.clear_button]),
                self.status,
                self.plot_output,
                self.table,
                self.log_output,
            ]
        )

    def _repr_mimebundle_(self, **kwargs: object) -> object:
        return self.widget._repr_mimebundle_(**kwargs)

    def _make_value_widgets(self, b: object, max_steps: int) -> None:
        """One widget per hyperparameter of the lesson's table, set to the base config's values."""
        common = {"style": {"description_width": "170px"}, "layout": widgets.Layout(width="430px")}
        self.learning_rate = widgets.FloatLogSlider(
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
            options=_options_with(b.batch_size, [16, 32, 64, 128, 256]),
            value=b.batch_size,
            description="batch size",
            **common,
        )
        self.buffer_size = widgets.Dropdown(
            options=_options_with(b.buffer_size, [500, 1_000, 5_000, 10_000, 50_000, 100_000]),
            value=b.buffer_size,
            description="replay buffer size",
            **common,
        )
        periods = (
            _options_with(b.target_update, [1, 10, 100, 500, 1_000, 5_000])
            if b.target_update
            else [1, 10, 100, 500, 1_000, 5_000]
        )
        self.target_update = widgets.Dropdown(
            options=[(f"soft: τ={b.tau:g} after each update", 0)]
            + [
                (f"hard copy every {c:,} steps" if c > 1 else "hard copy every step", c)
                for c in periods
                if c
            ],
            value=b.target_update,
            description="target update (C)",
            **common,
        )
        self.gamma = widgets.FloatSlider(
            value=b.gamma,
            min=0.8,
            max=0.999,
            step=0.001,
            readout_format=".3f",
            description="discount γ",
            **common,
        )
        decays = (
            [0.99, 0.995, 0.999]
            if b.epsilon_decay is None
            else _options_with(b.epsilon_decay, [0.99, 0.995, 0.999])
        )
        self.epsilon_decay = widgets.Dropdown(
            options=[("linear (see the fraction below)", 0.0)]
            + [(f"×{d:g} per episode", d) for d in decays],
            value=b.epsilon_decay or 0.0,
            description="ε decay",
            **common,
        )
        self.epsilon_fraction = widgets.FloatSlider(
            value=b.epsilon_fraction,
            min=0.05,
            max=1.0,
            step=0.05,
            readout_format=".2f",
            description="ε linear over fraction",
            disabled=b.epsilon_decay is not None,
            **common,
        )
        self.total_steps = widgets.IntSlider(
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
        import html
        import time

        config = self.config()
        label = self.label(config)
        self.status.value = f"Training <b>{html.escape(label)}</b> …"
        self.train_button.disabled = True
        start = time.perf_counter()
        try:
            with self.log_output:
                if _in_ipython():
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
        self.redraw()
        best = max((row["mean_return"] for row in log.evals), default=float("nan"))
        self.status.value = (
            f"<b>{html.escape(label)}</b> done in {time.perf_counter() - start:.0f} s; "
            f"best greedy evaluation {best:.1f}."
        )
        return log

    def _on_train(self, _button: object = None) -> None:
        import html

        try:
            self.run()
        except Exception as exc:  # noqa: BLE001 - shown in the panel: a button callback has nowhere to raise
            self.status.value = f"<b style='color:#b00'>Not trained:</b> {html.escape(str(exc))}"

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
        import html

        from dqn_helpers import plotting

        ax = self.figure.axes[0]
        ax.clear()
        plotting.plot_runs_overlay(self.runs, ax=ax, threshold=self.threshold)
        if self.runs and self.threshold is not None:
            rows = plotting.eval_table(self.runs, threshold=self.threshold, hold=self.hold)
            text = plotting.format_eval_table(rows, threshold=self.threshold, hold=self.hold)
            self.table.value = "<pre>" + html.escape(text) + "</pre>"
        else:
            self.table.value = ""
        if _in_ipython():
            from IPython.display import clear_output, display

            with self.plot_output:
                clear_output(wait=True)
                if self.runs:
                    display(plotting.figure_to_image(self.figure))
