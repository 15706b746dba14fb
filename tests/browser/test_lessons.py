"""Lessons 00, 01 and 05 as a learner meets them: JupyterLab in headless Chromium, Run All in fast mode.

Each test opens the lesson, runs every cell, checks that no cell shows an error and that every widget is
drawn as a widget (not as "HBox(children=…)"), then moves a slider (and presses Train) and waits for the
plot (and the run table) to change. Screenshots: build/browser-artifacts/<lesson>-*.png.
"""

from __future__ import annotations

import re
import time

import browserlab as L
import pytest

pytestmark = pytest.mark.browser


def test_the_server_is_started_as_make_lab_starts_it(lab):
    recipe = (L.ROOT / "Makefile").read_text().split("\nlab:", 1)[1].split("\n\n", 1)[0]
    flags = re.findall(r"(--[\w.-]+)(?:=(\S+))?", recipe.replace("$(KERNEL)", L.KERNEL))
    ours = lab.command()
    for flag, value in flags:
        if flag == "--ServerApp.root_dir":  # ours is the copy of the lessons
            assert any(arg.startswith(flag + "=") for arg in ours)
        elif flag != "--allow-root" or "--allow-root" in ours:
            assert (f"{flag}={value}" if value else flag) in ours, (
                f"make lab uses {flag}, the test does not"
            )


def _open_and_run(page, lab, name: str, timeout: float = 300) -> L.RunState:
    start = time.monotonic()
    kernel = L.open_notebook(page, lab, name)
    state = L.run_all(page, timeout=timeout)
    print(
        f"{name}: kernel {kernel!r}, Run All {time.monotonic() - start:.0f} s, {len(state.cells)} code cells"
    )
    L.shot(page, f"{name[:2]}-after-run-all")
    assert kernel == "DQN Course (.venv)", f"{name} runs on {kernel!r}, not the course's kernel"
    L.assert_no_errors(state)
    return state


def test_lesson00_runs_and_its_sliders_redraw(page, lab):
    _open_and_run(page, lab, "00_setup.ipynb", timeout=240)
    assert L.assert_widgets_render(page, expect_at_least=2) >= 2  # the two interact() sliders
    panel = L.find_panel(page, "widgets.interact(show_pong_frame")
    L.shot(panel, "00-pong-slider-before")
    before = L.snapshot(panel)
    step = L.slider(panel, "step")
    assert L.readout(step) == "0"
    moved = L.drag_slider(step, 0.6)
    assert moved != "0", "dragging the slider did not change its value"
    after = L.wait_for_change(panel, before, ("images",), timeout=30)
    L.shot(panel, "00-pong-slider-after")
    assert after["images"] != before["images"]


def test_lesson01_runs_and_its_panel_retrains(page, lab):
    _open_and_run(page, lab, "01_tabular_q_learning.ipynb", timeout=300)
    L.assert_widgets_render(page)
    panel = L.find_panel(page, "widgets.TabularQPanel(")
    L.shot(panel, "01-panel-before")
    before = L.snapshot(panel)
    assert any("run 1:" in t for t in before["html"]), before["html"]
    alpha = L.slider(panel, "step size α")
    old = L.readout(alpha)
    assert L.drag_slider(alpha, 0.5) != old, "dragging α did not change its value"
    # the panel retrains when a value changes: a new Q-table and curve, and "run 2" in its status
    after = L.wait_for_change(
        panel,
        before,
        ("images", "html"),
        timeout=90,
        done=lambda s: any("run 2:" in t for t in s["html"]),
    )
    panel.get_by_role("button", name="Train").click()
    L.wait_for_change(
        panel, after, ("html",), timeout=90, done=lambda s: any("run 3:" in t for t in s["html"])
    )
    L.shot(panel, "01-panel-after")


def test_lesson05_runs_and_train_adds_a_run(page, lab):
    _open_and_run(page, lab, "05_dqn_cartpole.ipynb", timeout=540)
    L.assert_widgets_render(page)
    panel = L.find_panel(page, "widgets.HyperparameterPanel(")
    L.shot(panel, "05-panel-before")
    before = L.snapshot(panel)
    assert before["tables"] and "reference" in before["tables"][0], before["tables"]
    runs_before = len(re.findall(r"^run \d+", before["tables"][0], re.M))
    before, after = L.check_train_updates(
        panel,
        "learning rate",
        0.25,
        timeout=150,
        done=lambda s: any("done in" in t for t in s["html"]) and "lr=" in s["tables"][0],
    )
    L.shot(panel, "05-panel-after")
    table = after["tables"][0]
    assert len(re.findall(r"^run \d+", table, re.M)) == runs_before + 1, table
    assert "lr=" in table, f"the new run is not labelled with the moved learning rate:\n{table}"
