"""The built course site (``make site`` / ``make site-fast`` -> build/site/) in headless Chromium.

Every page is served over HTTP from build/site/ and loaded: no JavaScript error, no missing file, every
image decoded, each lesson page with its figures, the math typeset (where the lesson has math), videos
playable, every local link pointing at a file that exists. Screenshots: build/browser-artifacts/site-*.png.
Skipped, saying so, when build/site/ has not been built.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlparse

import browserlab as L
import pytest

pytestmark = pytest.mark.browser

SITE = Path(os.environ.get("DQN_SITE_DIR", L.ROOT / "build" / "site"))  # where `make site` writes
NOTEBOOKS = L.ROOT / "notebooks"


def _pages() -> list[str]:
    if not (SITE / "index.html").is_file():
        return []
    return ["index.html", *sorted(p.name for p in SITE.glob("[0-9][0-9]_*.html"))]


def _has_math(stem: str) -> bool:
    path = NOTEBOOKS / f"{stem}.ipynb"
    if not path.is_file():
        return False
    cells = json.loads(path.read_text())["cells"]
    return any("$" in "".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site_url() -> Iterator[str]:
    if not _pages():
        pytest.skip(
            f"no built site at {SITE}/index.html: run `make site-fast` (or `make site`) first"
        )
    handler = functools.partial(_QuietHandler, directory=str(SITE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_the_site_has_the_lessons_in_order():
    pages = _pages()
    if not pages:
        pytest.skip(f"no built site at {SITE}/index.html: run `make site-fast` first")
    lessons = sorted(p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    built = [Path(p).stem for p in pages[1:]]
    missing, extra = sorted(set(lessons) - set(built)), sorted(set(built) - set(lessons))
    assert not missing and not extra, (
        f"{SITE} is stale (pages missing: {missing}, pages of no lesson: {extra}): rebuild it with "
        "`make site-fast` (or `make site`)"
    )
    index = (SITE / "index.html").read_text()
    positions = [index.find(f'href="{name}.html"') for name in lessons]
    assert -1 not in positions and positions == sorted(positions), (
        "the index links every lesson, in order"
    )


@pytest.mark.parametrize("name", _pages() or ["index.html"])
def test_each_page_renders_with_its_figures(page, site_url, name):
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(f"JavaScript error: {e}"))
    page.on(
        "response",
        lambda r: (
            problems.append(f"HTTP {r.status}: {r.url}")
            if r.url.startswith(site_url) and r.status >= 400
            else None
        ),
    )
    page.on(
        "requestfailed",
        lambda r: (
            problems.append(f"failed: {r.url} ({r.failure})")
            if r.url.startswith(site_url)
            else None
        ),
    )
    page.goto(f"{site_url}/{name}", wait_until="load")
    page.wait_for_load_state("networkidle")

    images = page.evaluate(
        "() => [...document.images].map((i) => ({src: i.src.slice(0, 80), ok: i.complete && i.naturalWidth > 0}))"
    )
    broken = [i["src"] for i in images if not i["ok"]]
    assert not broken, f"{name}: images that did not load: {broken}"
    stem = Path(name).stem
    if stem != "index":
        figures = page.locator(".jp-OutputArea-output img, .jp-RenderedImage img").count()
        assert figures >= 1, f"{name}: no figure in the page's outputs"
        if _has_math(stem) and page.evaluate("() => Boolean(window.MathJax)"):
            page.wait_for_function(
                "() => !window.MathJax.startup || !window.MathJax.startup.promise ||"
                " document.querySelectorAll('mjx-container').length > 0",
                timeout=20_000,
            )
            assert page.locator("mjx-container").count() > 0, f"{name}: the math is not typeset"
        videos = page.evaluate(
            "() => [...document.querySelectorAll('video')].map((v) => ({src: (v.currentSrc || '').slice(0, 40),"
            " error: v.error ? v.error.code : null}))"
        )
        assert all(v["src"] and v["error"] is None for v in videos), (
            f"{name}: videos that do not play: {videos}"
        )

    hrefs = page.evaluate("() => [...document.querySelectorAll('a[href]')].map((a) => a.href)")
    for href in hrefs:
        url = urlparse(href)
        if href.startswith(site_url) and url.path not in ("", "/"):
            target = SITE / unquote(url.path).lstrip("/")
            if not target.exists():
                problems.append(f"link to a missing page: {url.path}")
    L.shot(page, f"site-{stem}")
    assert not problems, f"{name}:\n" + "\n".join(sorted(set(problems)))
