"""Every panel of dqn_helpers.widgets in JupyterLab (headless Chromium), from one small notebook built here.

Running each lesson would take many minutes; the panels are what the browser adds, so a notebook of one
cell per panel (small settings, the same classes the lessons use) is run once, then each panel is played
with as a learner would: drag a slider, click a toggle or press Train, and wait until its figure and its
status line change (and the status shows a new run, not an error). A bad combination (a batch larger than
the buffer) must show its message in the status line, and no cell may show an error. Lessons 01 and 05 are played in test_lessons.py.
Screenshots: build/browser-artifacts/panels-*.png.
"""

from __future__ import annotations

import re
import time

import browserlab as L
import nbformat
import pytest

pytestmark = pytest.mark.browser

NAME = "course_panels.ipynb"
CHECKPOINT = L.ROOT / "checkpoints" / "pong_pretrained.pt"

# (marker in the cell, the cell's code); each cell builds one panel, runs its default once and shows it
CELLS = [
    ("GeneralisationPanel(", "p02 = widgets.GeneralisationPanel()\np02.run()\np02"),
    (
        "ReplayPanel(",
        "p03 = widgets.ReplayPanel(buffer_size=300, batch_size=32, stream_steps=600)\np03.run()\np03",
    ),
    ("TargetUpdatePanel(", None),  # lesson 04's panel needs the lesson's run function: see below
    ("PreprocessingPanel(", "p06 = widgets.PreprocessingPanel()\np06.run()\np06"),
    ("DoubleEstimatePanel(", "p07 = widgets.DoubleEstimatePanel()\np07.run()\np07"),
    ("DuelingPanel(", "p08 = widgets.DuelingPanel()\np08.run()\np08"),
    ("CliffwalkPanel(", "p09 = widgets.CliffwalkPanel(replays=2_000)\np09.run()\np09"),
    (
        "PongGamePanel(",
        "from dqn_helpers import checkpoints\n\n"
        f"agent, cfg = checkpoints.load_agent({str(CHECKPOINT)!r}, device='cpu')\n"
        "p10 = widgets.PongGamePanel(widgets.record_game(agent, cfg.env_id, cfg.frame_stack, 60))\n"
        "p10.run()\np10",
    ),
    (
        "BreakItPanel(",
        "p11 = widgets.BreakItPanel(failure='learning_starts past the budget', steps=1_000)\np11.run()\np11",
    ),
]
# lesson 04's panel over a small run function of the same shape as the lesson's (drift of a target)
TARGET = '''\
import numpy as np


def drift(target_update, tau):
    """Target and prediction of one value under a hard and a soft update, for 40 updates."""
    updates, prediction = np.arange(1, 41), 1 - np.exp(-np.arange(1, 41) / 10)
    hard = np.array([prediction[(u // target_update) * target_update - 1] if u >= target_update else 0.0 for u in updates])
    soft, t = [], 0.0
    for p in prediction:
        t = tau * p + (1 - tau) * t
        soft.append(t)
    return {"updates": updates, "drift": {f"hard, C = {target_update}": {"target": hard, "prediction": prediction},
                                          f"soft, τ = {tau:g}": {"target": np.array(soft), "prediction": prediction}}}


p04 = widgets.TargetUpdatePanel(drift, target_update=10, tau=0.05)
p04.run()
p04'''


def _cells() -> list[str]:
    return ["from dqn_helpers import widgets"] + [code if code else TARGET for _, code in CELLS]


@pytest.fixture(scope="module")
def panels_lab(lab):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in _cells()])
    nb.metadata["kernelspec"] = {
        "name": L.KERNEL,
        "display_name": "DQN Course (.venv)",
        "language": "python",
    }
    nbformat.write(nb, lab.root_dir / NAME)
    return lab


def _status(snapshot: dict) -> str:
    return " | ".join(t for t in snapshot["html"] if "run " in t or "Not " in t)


def _last_run(snapshot: dict) -> int:
    """The number of the last run the status line reports (0 when none)."""
    found = re.findall(r"\brun (\d+):", _status(snapshot))
    return max(map(int, found), default=0)


def _play(panel, action, *, timeout: float = 90, expect: str | None = None) -> dict:
    """Do ``action`` on ``panel``; wait until the figure and the status change and report a new run
    (or, with ``expect``, until the status line shows that message)."""
    before = L.snapshot(panel)
    assert before["images"], "the panel shows no figure before it is played with"
    assert _last_run(before) >= 1, f"no run in the status line: {before['html']}"
    action(panel)
    if expect is not None:  # a refusal: only the status changes, to the message
        return L.wait_for_change(
            panel, before, ("html",), timeout, done=lambda s: expect in _status(s)
        )
    after = L.wait_for_change(
        panel, before, ("images", "html"), timeout, done=lambda s: _last_run(s) > _last_run(before)
    )
    assert "Not " not in _status(after), _status(after)
    return after


def _drag(label: str, fraction: float):
    def action(panel):
        moved = L.slider(panel, label)
        old = L.readout(moved)
        assert L.drag_slider(moved, fraction) != old, f"dragging {label!r} did not change its value"

    return action


def _click(name: str):
    return lambda panel: panel.get_by_role("button", name=name).first.click()


PLAYS = {
    "GeneralisationPanel(": [_drag("bins per number", 0.8)],
    "ReplayPanel(": [_drag("batch size", 0.5)],
    "TargetUpdatePanel(": [_drag("soft: τ", 0.9)],
    "PreprocessingPanel(": [_drag("frame skip", 0.1)],
    "DoubleEstimatePanel(": [_drag("actions", 0.9)],
    "DuelingPanel(": [_click("none")],
    "CliffwalkPanel(": [_drag("n-step n", 0.5)],
    "PongGamePanel(": [_drag("step", 0.7)],
    "BreakItPanel(": [_drag("seed", 0.5), _click("Train")],
}


def test_every_panel_redraws_in_the_browser(page, panels_lab):
    start = time.monotonic()
    L.open_notebook(page, panels_lab, NAME)
    state = L.run_all(page, timeout=400)
    L.shot(page, "panels-after-run-all")
    L.assert_no_errors(state)
    assert L.assert_widgets_render(page, expect_at_least=len(CELLS)) >= len(CELLS)
    print(f"{NAME}: Run All {time.monotonic() - start:.0f} s")
    for marker, plays in PLAYS.items():
        t0 = time.monotonic()
        panel = L.find_panel(page, marker)
        for play in plays:
            if play.__qualname__.startswith("_drag") and marker == "BreakItPanel(":
                play(panel)  # the Train-only panel: moving a slider does not run it
                continue
            after = _play(panel, play, timeout=120)
        L.shot(panel, f"panels-{marker.rstrip('(')}")
        print(f"{marker:<22} redrew in {time.monotonic() - t0:.1f} s: {_status(after)[:150]}")
    # a bad combination: a buffer smaller than the batch is refused in the status line, no traceback
    panel = L.find_panel(page, "ReplayPanel(")
    after = _play(panel, _drag("buffer size", 0.0), expect="larger than the buffer")
    L.shot(panel, "panels-replay-refused")
    assert "Traceback" not in _status(after) and "Not run" in _status(after), _status(after)
    L.assert_no_errors(L.notebook_state(page))
    print(f"all panels: {time.monotonic() - start:.0f} s")
