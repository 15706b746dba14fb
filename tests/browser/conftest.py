"""Fixtures of the browser tests (run them with ``make test-browser``; plain ``pytest tests/`` skips this folder).

- ``lab``: one JupyterLab for the whole session, started as ``make lab`` does, on a copy of the lessons in
  build/browser-work/notebooks (running them never changes the checkout), kernels in fast mode (DQN_FAST=1).
- ``browser``: headless Chromium (the system's, driven by Playwright; nothing is downloaded).
- ``page``: a fresh 1400x1000 tab; console errors are written next to the screenshots.

Everything the tests save lies in build/browser-artifacts/ (screenshots, the server log, console logs).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import browserlab as L
import pytest

LESSONS = ["00_setup.ipynb", "01_tabular_q_learning.ipynb", "05_dqn_cartpole.ipynb"]
WORK = L.ROOT / "build" / "browser-work"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    why = L.chromium_missing()
    if why:
        for item in items:
            if "tests/browser/" in item.nodeid.replace("\\", "/"):
                item.add_marker(pytest.mark.skip(reason=why))


@pytest.fixture(scope="session")
def lab() -> Iterator[L.Lab]:
    shutil.rmtree(WORK, ignore_errors=True)
    shutil.rmtree(L.ARTIFACTS, ignore_errors=True)
    root = L.copy_notebooks(LESSONS, WORK / "notebooks")
    server = L.Lab(root, WORK, env={"DQN_FAST": "1"}).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=L.CHROMIUM, headless=True, args=L.CHROMIUM_ARGS
        )  # Playwright gives it a fresh, temporary --user-data-dir
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    console: list[str] = []
    tab.on(
        "console", lambda m: console.append(f"{m.type}: {m.text}") if m.type == "error" else None
    )
    tab.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
    tab.on("requestfailed", lambda r: console.append(f"request failed: {r.url} ({r.failure})"))
    try:
        yield tab
    finally:
        name = request.node.name.replace("/", "_").replace("[", "-").replace("]", "")
        if console:
            L.ARTIFACTS.mkdir(parents=True, exist_ok=True)
            (L.ARTIFACTS / f"{name}.console.txt").write_text("\n".join(console) + "\n")
        failed = getattr(request.node, "rep_call", None)
        if failed is not None and failed.failed:
            L.shot(tab, f"{name}-FAILED")
        context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    report = yield
    if report.when == "call":
        item.rep_call = report  # the page fixture screenshots failed tests
    return report
