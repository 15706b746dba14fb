"""The base of every panel: controls, a Train button, a status line, one figure; a run that never raises.

Introduced in lesson 01 (the first panel). A panel subclass says what it computes (``compute``), how it draws
the result (``draw``, a matplotlib Figure) and what the status line reports (``report``); the base builds the
layout, retrains when a control changes (``auto``), renders the figure with ``plotting.figure_to_image``
and turns any error into a message in the status line, so a widget callback never shows a traceback.

The sliders here never clamp in silence: a value set from Python outside a slider's range widens the range
to it, and the next run says so in the status line (the value itself is then checked by the computation).
"""

from __future__ import annotations

import contextlib
import html
import math
import time
from collections.abc import Iterator, Sequence
from typing import Any

import ipywidgets as widgets
import torch
from matplotlib.figure import Figure
from traitlets import Bool, TraitError, validate

from dqn_helpers import plotting

__all__ = [
    "Panel",
    "PanelError",
    "FloatSlider",
    "FloatLogSlider",
    "IntSlider",
    "in_ipython",
    "one_torch_thread",
    "options_with",
]

STYLE = {"description_width": "130px"}
LAYOUT_WIDTH = "400px"


class PanelError(ValueError):
    """A bad combination of values (e.g. a batch larger than the buffer): shown in the status line."""


def in_ipython() -> bool:
    """True inside IPython/Jupyter (where output areas exist), False in plain Python and tests."""
    from IPython import get_ipython

    return get_ipython() is not None


def options_with(value: float, choices: Sequence[float]) -> list[float]:
    """``choices`` plus ``value`` (so a given value is always selectable), sorted."""
    return sorted({*choices, value})


@contextlib.contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run tiny networks on one torch thread (several threads only contend), then restore the setting."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# ---------------------------------------------------------------- sliders that widen instead of clamping


# the panels' sliders run when the mouse is released, not at every value the handle passes while dragged
def _run_on_release() -> Bool:
    return Bool(False, help="Update the value while dragging.").tag(sync=True)


class _Widening:
    """Mixin: a value outside [min, max] widens the range to it and leaves a note, instead of clamping."""

    note: str | None = None

    def _say_widened(self, value: float) -> None:
        self.note = (
            f"{self.description} = {value:g} lies outside the slider's usual range; the slider was "
            f"widened to reach it (the run below uses exactly {value:g})."
        )

    def _widen_to(self, value: Any) -> Any:
        """Stretch [min, max] to include ``value`` (and say so); returns ``value`` unchanged."""
        if value < self.min:
            self.min = value
            self._say_widened(value)
        elif value > self.max:
            self.max = value
            self._say_widened(value)
        return value

    def _exponent(self, value: float) -> float:
        return value  # a log slider's range is in exponents (FloatLogSlider overrides)

    @validate("min")
    def _validate_min(self, proposal: dict) -> float:
        """A new minimum above the value stops at the value (ipywidgets would move the value up)."""
        low = proposal["value"]
        if low > self.max:
            raise TraitError(f"{self.description}: setting min > max")
        at = self._exponent(self.value)
        if low > at:
            self._say_widened(self.value)
            return type(low)(math.floor(at)) if isinstance(low, int) else at
        return low

    @validate("max")
    def _validate_max(self, proposal: dict) -> float:
        """A new maximum below the value stops at the value (ipywidgets would move the value down)."""
        high = proposal["value"]
        if high < self.min:
            raise TraitError(f"{self.description}: setting max < min")
        at = self._exponent(self.value)
        if high < at:
            self._say_widened(self.value)
            return type(high)(math.ceil(at)) if isinstance(high, int) else at
        return high


class FloatSlider(_Widening, widgets.FloatSlider):
    """``ipywidgets.FloatSlider`` that widens its range to a value set from Python (never clamps)."""

    continuous_update = _run_on_release()

    @validate("value")
    def _validate_value(self, proposal: dict) -> float:
        value = float(proposal["value"])
        if not math.isfinite(value):
            raise TraitError(f"{self.description} must be a finite number, got {value!r}.")
        return self._widen_to(value)


class IntSlider(_Widening, widgets.IntSlider):
    """``ipywidgets.IntSlider`` that widens its range to a value set from Python (never clamps)."""

    continuous_update = _run_on_release()

    @validate("value")
    def _validate_value(self, proposal: dict) -> int:
        return self._widen_to(int(proposal["value"]))


class FloatLogSlider(_Widening, widgets.FloatLogSlider):
    """``ipywidgets.FloatLogSlider`` that widens its exponent range to a value set from Python."""

    continuous_update = _run_on_release()

    def _exponent(self, value: float) -> float:
        return math.log(value, self.base) if value > 0 else -math.inf

    @validate("value")
    def _validate_value(self, proposal: dict) -> float:
        value = float(proposal["value"])
        if not (math.isfinite(value) and value > 0):
            raise TraitError(
                f"{self.description} is on a log scale: it must be a number > 0, got {value!r}."
            )
        exponent = self._exponent(value)
        if exponent < self.min - 1e-12:
            self.min = math.floor(exponent)
            self._say_widened(value)
        elif exponent > self.max + 1e-12:
            self.max = math.ceil(exponent)
            self._say_widened(value)
        return value


# ---------------------------------------------------------------- the panel


class Panel:
    """Controls over one computation, a Train button, a status line and a figure.

    Subclasses set ``self.controls`` (the widgets whose change retrains, in layout order) and implement
    ``compute() -> result``, ``draw(result) -> Figure`` and ``report(result) -> str``. ``run()`` does all
    three and returns the result (errors raise: use it in tests); the button and the observers call
    ``safe_run()``, which shows errors in the status line instead. Every result is kept in ``results``.
    """

    intro = "Press <b>Train</b> (or move a slider) to run and draw."
    failed = "Not run"  # the status line's first words when a run fails
    button_label = "Train"

    def __init__(
        self,
        controls: Sequence[widgets.Widget],
        *,
        auto: bool | None = True,
        columns: int = 2,
        extra: Sequence[widgets.Widget] = (),
    ) -> None:
        self.controls = list(controls)
        self.results: list[Any] = []  # what every run returned, oldest first
        self.figure: Figure | None = None  # the last drawn figure
        # auto=None: no checkbox (a panel whose run is too long to start on every change)
        self.auto = widgets.Checkbox(
            value=bool(auto), description="retrain when a value changes", indent=False
        )
        self.train_button = widgets.Button(
            description=self.button_label, button_style="primary", icon="play"
        )
        self.status = widgets.HTML(self.intro)
        self.image = widgets.Image(format="png")
        self.train_button.on_click(lambda _button: self.safe_run())
        for control in self.controls:
            control.observe(self._on_change, names="value")
        per_column = max(1, math.ceil(len(self.controls) / columns))
        column_boxes = [
            widgets.VBox(self.controls[i : i + per_column])
            for i in range(0, len(self.controls), per_column)
        ]
        self.widget = widgets.VBox(
            [
                widgets.HBox(column_boxes),
                widgets.HBox(
                    [self.train_button, *extra, *([self.auto] if auto is not None else [])]
                ),
                self.status,
                self.image,
            ]
        )

    # --- what a subclass says
    def compute(self) -> Any:
        raise NotImplementedError

    def draw(self, result: Any) -> Figure:
        raise NotImplementedError

    def report(self, result: Any) -> str:
        return ""

    # --- what the base does
    @property
    def n_runs(self) -> int:
        """How many runs succeeded."""
        return len(self.results)

    @property
    def result(self) -> Any:
        """What the last successful run returned (None before the first)."""
        return self.results[-1] if self.results else None

    def _repr_mimebundle_(self, **kwargs: object) -> object:
        return self.widget._repr_mimebundle_(**kwargs)

    def show(self, fig: Figure) -> None:
        """Render ``fig`` into the panel's image, through ``plotting.figure_to_image``."""
        self.image.value = plotting.figure_to_image(fig).data
        self.figure = fig

    def _notes(self) -> str:
        notes = []
        for control in self.controls:
            note = getattr(control, "note", None)
            if note:
                notes.append(note)
                control.note = None
        return "".join(f"<br><i>{html.escape(n)}</i>" for n in notes)

    def run(self) -> Any:
        """Compute with the current values, redraw, report; return the result (errors raise)."""
        notes = self._notes()
        self.status.value = "running …"
        start = time.perf_counter()
        with one_torch_thread():  # the panels' networks are tiny: more threads only contend
            result = self.compute()
        self.show(self.draw(result))
        self.results.append(result)
        seconds = time.perf_counter() - start
        text = self.report(result)
        self.status.value = (
            f"run {self.n_runs}: {seconds:.1f} s" + (f"; {text}" if text else "") + notes
        )
        return result

    def safe_run(self) -> Any:
        """``run()``, with any error shown in the status line instead of raised; None when it failed."""
        try:
            return self.run()
        except Exception as exc:  # noqa: BLE001 - a widget callback has nowhere to raise: show it
            kind = "" if isinstance(exc, (ValueError, TypeError)) else f"{type(exc).__name__}: "
            self.status.value = (
                f"<b style='color:#b00'>{self.failed}:</b> {html.escape(kind + str(exc))}"
            )
            return None

    _safe_run = safe_run  # the name the first panels used

    def _on_change(self, change: dict) -> None:
        old, new = change.get("old"), change.get("new")
        if (
            isinstance(old, float)
            and isinstance(new, float)
            and math.isclose(old, new, rel_tol=1e-9)
        ):
            return  # the front end snapped the value to its slider's step (0.05 -> 0.05000000000000001)
        if self.auto.value:
            self.safe_run()


def slider_style(width: str = LAYOUT_WIDTH, label_width: str = "130px") -> dict[str, Any]:
    """Keyword arguments that give a control the panels' label width and total width."""
    return {"style": {"description_width": label_width}, "layout": widgets.Layout(width=width)}
