"""Drive JupyterLab in headless Chromium: start the server as ``make lab`` does, run a notebook, check it.

The checks are plain functions that raise ``AssertionError`` with a readable message, so the lesson tests
and the test of the test (``test_broken_widgets.py``) use the very same code.

- ``Lab``: a JupyterLab server on its own port and token, on a copy of the notebooks, stopped at the end.
- ``open_notebook`` / ``run_all``: open a notebook in the page and run every cell (Run > Run All Cells).
- ``assert_no_errors`` / ``assert_widgets_render``: no error output; every widget output is a real widget.
- ``find_panel`` / ``drag_slider`` / ``wait_for_change``: locate a cell's widget panel and play with it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # the venv's bin/ (the tests run with .venv/bin/python)
KERNEL = "python3"  # the kernel `make env` installs into .venv (Makefile: KERNEL)
KERNEL_PATH = (
    BIN.parent / "share" / "jupyter"
)  # first on JUPYTER_PATH, as in make lab (Makefile: KERNEL_PATH)
ARTIFACTS = ROOT / "build" / "browser-artifacts"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Flags that keep Chromium off the network and quiet on a closed CI machine.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# What a widget looks like when the front end could not render it: its Python text repr.
TEXT_REPR = re.compile(
    r"^\s*(HBox|VBox|Box|interactive|IntSlider|FloatSlider|FloatLogSlider|Button|Output|Image|HTML|"
    r"Dropdown|Checkbox|ToggleButtons|SelectionSlider)\(",
    re.M,
)
# What JupyterLab/ipywidgets print when a widget view failed.
WIDGET_ERRORS = (
    "Error displaying widget",
    "Failed to load model class",
    "Failed to load view class",
    "Click to show javascript error",
)

# JupyterLab settings for the test: every cell in the DOM (no virtual scrolling), no news pop-up.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here (None when they can)."""
    if not Path(CHROMIUM).is_file():
        return f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium; or set CHROMIUM=path)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "Playwright's Python client is not installed (pip install -c requirements/constraints.txt playwright)"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """JupyterLab on ``root_dir`` with the flags of ``make lab`` (own port and token, in the background).

    ``env`` is added to the server's environment, which the kernels inherit (``DQN_FAST=1`` goes there).
    """

    def __init__(self, root_dir: Path, work_dir: Path, env: dict[str, str] | None = None) -> None:
        self.root_dir, self.work_dir = Path(root_dir), Path(work_dir)
        self.port, self.token = free_port(), secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = ARTIFACTS / "jupyterlab.log"
        self.extra_env = dict(env or {})
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 90) -> Lab:
        settings = self.work_dir / "lab-settings"
        for name, value in LAB_SETTINGS.items():
            (settings / name).parent.mkdir(parents=True, exist_ok=True)
            (settings / name).write_text(json.dumps(value))
        env = {
            **os.environ,
            "JUPYTERLAB_SETTINGS_DIR": str(settings),
            "JUPYTERLAB_WORKSPACES_DIR": str(self.work_dir / "lab-workspaces"),
            "JUPYTER_RUNTIME_DIR": str(self.work_dir / "jupyter-runtime"),
            "JUPYTER_PATH": str(
                KERNEL_PATH
            ),  # as make lab: .venv's python3 kernel wins over a user's own
            **self.extra_env,
        }
        env.pop("MPLBACKEND", None)  # the kernel must use the inline backend, as a learner's does
        command = self.command()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("w")
        self.process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"JupyterLab exited ({self.process.returncode}):\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=2):
                    return self
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"JupyterLab did not answer within {timeout:.0f} s:\n{self.log_tail()}")

    def command(self) -> list[str]:
        """The command of `make lab` (Makefile, target lab), plus the test's own port, token and root."""
        command = [
            str(BIN / "jupyter"),
            "lab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.root_dir={self.root_dir}",
            f"--MappingKernelManager.default_kernel_name={KERNEL}",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: run commands, read the models
        ]
        if os.geteuid() == 0:
            command.append("--allow-root")
        return command

    def stop(self) -> None:
        """Stop the server and its kernels (their process group), politely first."""
        if self.process is None or self.process.poll() is not None:
            return
        for sig, wait in ((signal.SIGINT, 10), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.process.pid, sig)
                # one ^C makes jupyter ask "Shutdown this Jupyter server (y/[n])?": send a second
                if sig == signal.SIGINT:
                    time.sleep(0.2)
                    os.killpg(self.process.pid, sig)
                self.process.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue
            except ProcessLookupError:
                return

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text().splitlines()[-n:])
        except OSError:
            return "(no log)"

    def notebook_url(self, path: str) -> str:
        return f"{self.url}/lab/tree/{path}?token={self.token}"


def copy_notebooks(names: list[str], dest: Path, src: Path = ROOT / "notebooks") -> Path:
    """Copy the lessons to ``dest`` so that running them never touches the checkout's notebooks."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for name in names:
        shutil.copy2(src / name, dest / name)
    return dest


# ------------------------------------------------------------------------------------------- page

_NOTEBOOK_JS = """
(name) => {
  const app = window.jupyterapp;
  if (!app) return {ready: false, why: 'window.jupyterapp missing'};
  const nb = app.shell.currentWidget;
  if (!nb || !nb.context || !nb.context.path.endsWith(name) || !nb.content) return {ready: false, why: 'notebook not open'};
  const kernel = nb.sessionContext.session && nb.sessionContext.session.kernel;
  return {ready: Boolean(nb.context.isReady && kernel && kernel.status === 'idle'),
          why: kernel ? 'kernel ' + kernel.status : 'no kernel yet',
          kernel: kernel ? nb.sessionContext.kernelDisplayName : null};
}
"""

_STATE_JS = """
() => {
  const nb = window.jupyterapp.shell.currentWidget;
  const kernel = nb.sessionContext.session && nb.sessionContext.session.kernel;
  const cells = nb.content.widgets.map((cell, index) => {
    const model = cell.model;
    if (model.type !== 'code') return null;
    const prompt = cell.node.querySelector('.jp-InputPrompt');
    return {index, count: model.executionCount,
            running: Boolean(prompt && prompt.textContent.includes('*')),
            source: model.sharedModel.getSource().slice(0, 120),
            outputs: model.outputs.toJSON()};
  }).filter(Boolean);
  return {status: kernel ? kernel.status : 'none', cells};
}
"""


@dataclass
class RunState:
    status: str
    cells: list[dict[str, Any]]

    def errors(self) -> list[str]:
        found = []
        for cell in self.cells:
            for out in cell["outputs"]:
                if out.get("output_type") == "error":
                    found.append(
                        f"cell {cell['index']} ({cell['source'].splitlines()[0] if cell['source'] else ''!r}): "
                        f"{out.get('ename')}: {out.get('evalue')}"
                    )
        return found

    def not_run(self) -> list[int]:
        return [c["index"] for c in self.cells if c["count"] is None or c["running"]]


def open_notebook(page: Any, lab: Lab, name: str, timeout: float = 90) -> str:
    """Open ``name`` in JupyterLab and wait until its kernel is idle; return the kernel's display name."""
    page.goto(lab.notebook_url(name))
    deadline, state = time.monotonic() + timeout, {}
    while time.monotonic() < deadline:
        try:
            state = page.evaluate(_NOTEBOOK_JS, name)
        except Exception as exc:  # noqa: BLE001 - the page may still be loading
            state = {"ready": False, "why": str(exc)}
        if state.get("ready"):
            return state["kernel"]
        time.sleep(0.5)
    raise AssertionError(
        f"{name}: notebook/kernel not ready after {timeout:.0f} s ({state.get('why')})"
    )


def notebook_state(page: Any) -> RunState:
    return RunState(**page.evaluate(_STATE_JS))


def run_all(page: Any, timeout: float = 300) -> RunState:
    """Run > Run All Cells, then wait until every code cell ran (or one failed and the run stopped)."""
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    deadline, idle_since = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        time.sleep(1)
        state = notebook_state(page)
        busy = state.status != "idle" or any(c["running"] for c in state.cells)
        if busy:
            idle_since = None
            continue
        if not state.not_run() or state.errors():
            return state
        idle_since = idle_since or time.monotonic()
        if time.monotonic() - idle_since > 5:  # idle, yet cells left unrun: the run stopped
            return state
    state = notebook_state(page)
    raise AssertionError(
        f"Run All did not finish within {timeout:.0f} s: cells still waiting {state.not_run()}"
    )


def assert_no_errors(state: RunState) -> None:
    """No cell shows an error output, and every code cell has run."""
    assert not state.errors(), "cells show errors:\n" + "\n".join(state.errors())
    assert not state.not_run(), f"cells that never ran: {state.not_run()}"


_WIDGET_CELLS_JS = """
() => window.jupyterapp.shell.currentWidget.content.widgets.map((cell, index) => {
  if (cell.model.type !== 'code') return null;
  const outputs = cell.model.outputs.toJSON();
  const views = outputs.filter(o => o.data && o.data['application/vnd.jupyter.widget-view+json']).length;
  const area = cell.node.querySelector('.jp-OutputArea');
  return {index, views,
          rendered: area ? area.querySelectorAll('.jp-OutputArea-output > .jupyter-widgets:not(:has(.jupyter-widgets-error-widget))').length : 0,
          errors: area ? area.querySelectorAll('.jupyter-widgets-error-widget').length : 0,
          text: area ? area.innerText : ''};
}).filter(Boolean)
"""


def assert_widgets_render(page: Any, expect_at_least: int = 1) -> int:
    """Every widget output is drawn as a widget (not its text repr, not an error box); return how many."""
    cells = page.evaluate(_WIDGET_CELLS_JS)
    problems, total = [], 0
    for cell in cells:
        text = cell["text"]
        if TEXT_REPR.search(text):
            problems.append(
                f"cell {cell['index']} shows a widget as text: {TEXT_REPR.search(text).group(0)}…"
            )
        for message in WIDGET_ERRORS:
            if message in text:
                problems.append(f"cell {cell['index']}: {message!r}")
        if cell["errors"]:
            problems.append(f"cell {cell['index']}: {cell['errors']} widget error view(s)")
        if cell["views"] and cell["rendered"] < cell["views"]:
            problems.append(
                f"cell {cell['index']}: {cell['views']} widget output(s), {cell['rendered']} rendered"
            )
        total += cell["rendered"]
    assert not problems, "widgets did not render:\n" + "\n".join(problems)
    assert total >= expect_at_least, (
        f"expected at least {expect_at_least} rendered widget(s), found {total}"
    )
    return total


def find_panel(page: Any, marker: str) -> Any:
    """The output area of the one code cell whose source contains ``marker`` (a Playwright locator)."""
    index = page.evaluate(
        """(marker) => {
          const cells = window.jupyterapp.shell.currentWidget.content.widgets;
          const hits = cells.map((c, i) => [c, i]).filter(([c]) => c.model.type === 'code' &&
                                                          c.model.sharedModel.getSource().includes(marker));
          if (hits.length !== 1) return -hits.length - 1;
          hits[0][0].node.setAttribute('data-browser-test', 'panel');
          return hits[0][1];
        }""",
        marker,
    )
    assert index >= 0, f"expected one code cell containing {marker!r}, found {-index - 1}"
    others = page.locator("[data-browser-test=panel]")
    if others.count() > 1:  # a previous marker in this page
        page.evaluate(
            "(i) => document.querySelectorAll('[data-browser-test=panel]').forEach((n) => {"
            " if (n !== window.jupyterapp.shell.currentWidget.content.widgets[i].node)"
            " n.removeAttribute('data-browser-test'); })",
            index,
        )
    panel = page.locator("[data-browser-test=panel] .jp-OutputArea").first
    panel.scroll_into_view_if_needed()
    return panel


def slider(panel: Any, label: str) -> Any:
    """The slider whose description is ``label`` inside ``panel``."""
    found = panel.locator(".widget-slider").filter(has=panel.page.get_by_text(label, exact=True))
    assert found.count() == 1, f"expected one slider labelled {label!r}, found {found.count()}"
    return found


def readout(slider_: Any) -> str:
    return slider_.locator(".widget-readout").inner_text().strip()


def drag_slider(slider_: Any, fraction: float) -> str:
    """Drag the slider's handle with the mouse to ``fraction`` (0..1) of its track; return the new readout."""
    page = slider_.page
    slider_.scroll_into_view_if_needed()
    handle, track = slider_.locator(".noUi-handle"), slider_.locator(".noUi-base")
    hb, tb = handle.bounding_box(), track.bounding_box()
    assert hb and tb, "the slider has no handle/track on screen (did it render as a widget?)"
    page.mouse.move(hb["x"] + hb["width"] / 2, hb["y"] + hb["height"] / 2)
    page.mouse.down()
    target_x = tb["x"] + fraction * tb["width"]
    page.mouse.move(target_x, hb["y"] + hb["height"] / 2, steps=8)
    page.mouse.up()
    return readout(slider_)


def snapshot(panel: Any) -> dict[str, Any]:
    """What a learner sees change in a panel: its images (hashed), its text blocks, its status lines."""
    images = panel.locator("img").evaluate_all("(imgs) => imgs.map((i) => i.src)")
    tables = panel.locator(".widget-html pre, .widget-htmlmath pre").all_inner_texts()
    html = panel.locator(".widget-html").all_inner_texts()
    return {
        "images": [hashlib.sha1(src.encode()).hexdigest()[:12] for src in images if src],
        "tables": tables,
        "html": html,
    }


def wait_for_change(
    panel: Any,
    before: dict[str, Any],
    what: tuple[str, ...],
    timeout: float,
    done: Callable[[dict[str, Any]], bool] | None = None,
) -> dict[str, Any]:
    """Wait until each key in ``what`` ("images", "tables", "html") of ``snapshot(panel)`` differs from
    ``before`` (and ``done(snapshot)`` holds, when given); return the new snapshot."""
    deadline, now = time.monotonic() + timeout, before
    while time.monotonic() < deadline:
        now = snapshot(panel)
        changed = all(now[k] != before[k] and now[k] for k in what)
        if changed and (done is None or done(now)):
            return now
        time.sleep(0.5)
    unchanged = [k for k in what if now[k] == before[k] or not now[k]]
    raise AssertionError(
        f"the panel did not update within {timeout:.0f} s: unchanged {unchanged or '(done() never held)'}; "
        f"status now {now['html'][:2]}"
    )


def check_train_updates(
    panel: Any,
    slider_label: str,
    fraction: float,
    timeout: float,
    done: Callable[[dict[str, Any]], bool] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Move the slider ``slider_label`` to ``fraction``, press Train, and wait until the panel's plot and its
    run table both change (and ``done`` holds); return the snapshots before and after."""
    before = snapshot(panel)
    assert before["images"], "the panel shows no plot before Train"
    assert before["tables"], "the panel shows no run table before Train"
    moved = slider(panel, slider_label)
    old = readout(moved)
    assert drag_slider(moved, fraction) != old, (
        f"dragging {slider_label!r} did not change its value"
    )
    panel.get_by_role("button", name="Train").click()
    return before, wait_for_change(panel, before, ("images", "tables"), timeout, done)


def shot(page_or_locator: Any, name: str) -> Path:
    """Save a screenshot under build/browser-artifacts/ and return its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    try:
        page_or_locator.screenshot(path=str(path), timeout=10_000)
    except Exception as exc:  # noqa: BLE001 - a screenshot must never hide the real failure
        print(f"screenshot {name} failed: {exc}")
    return path


# python tests/browser/browserlab.py: exit status 1, saying why, when the browser tests cannot run here
if __name__ == "__main__":
    reason = chromium_missing()
    print(reason or f"Chromium at {CHROMIUM}, Playwright installed")
    sys.exit(1 if reason else 0)
