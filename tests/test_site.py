"""The course site's generator (notebooks/_site/build_site.py, `make site`) on two tiny notebooks.

Builds into a temporary folder: pages in order with the sidebar and previous/next links, solutions
collapsed, markdown images and plots embedded, links between lessons pointed at pages, nothing loaded
from the network, failing cells failing the build, and the execution cache (only changed notebooks run
again). The real lessons are built by `make site-fast` (CI) and `make site` (full mode).
"""

from __future__ import annotations

import base64
import importlib.util
import re
import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
# a 1x1 PNG
DOT_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def _load_builder():
    spec = importlib.util.spec_from_file_location(
        "build_site", ROOT / "notebooks" / "_site" / "build_site.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_site"] = module
    saved, sys.dont_write_bytecode = sys.dont_write_bytecode, True  # no __pycache__ in notebooks/
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = saved
    return module


site = _load_builder()


def _write(path: Path, cells: list) -> Path:
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)
    return path


def _solution(source: str, number: str):
    cell = new_code_cell(source)
    cell.metadata["tags"] = [f"solution-{number}", "hide-input"]
    return cell


def _make_course(root: Path) -> Path:
    (root / "notebooks").mkdir(parents=True)
    (root / "images").mkdir()
    (root / "dqn_helpers").mkdir()
    (root / "dqn_helpers" / "mod.py").write_text("X = 1\n")
    (root / "images" / "dot.png").write_bytes(DOT_PNG)
    (root / "README.md").write_text("# Tiny Course\n\nText.\n")
    _write(
        root / "notebooks" / "01_first.ipynb",
        [
            new_markdown_cell(
                "# Lesson 01 — First steps\n\nThe first lesson, with $x^2$.\n\n![a dot](../images/dot.png)"
            ),
            new_code_cell("def answer():\n    raise NotImplementedError  # STUB-MARK"),
            _solution("def answer():\n    return 40 + 2  # SOLUTION-MARK", "1.1"),
            new_code_cell("print('the answer is', answer())"),
            new_code_cell(
                "import matplotlib.pyplot as plt\nplt.plot([0, 1], [1, 0], marker='o')\nplt.show()"
            ),
            new_markdown_cell("**Next:** [Lesson 02](02_second.ipynb)"),
        ],
    )
    _write(
        root / "notebooks" / "02_second.ipynb",
        [new_markdown_cell("# Lesson 02 — Second\n\nThe second."), new_code_cell("print(6 * 7)")],
    )
    return root


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    """The tiny course, built once: (course root, site folder, report)."""
    root = _make_course(tmp_path_factory.mktemp("tiny") / "course")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MPLBACKEND", "Agg")  # as `make test` sets it: the pages must still get the plots
        report, _ = _build(root, root / "build" / "site")
    return root, root / "build" / "site", report


def _build(root: Path, out: Path, **kw):
    logs: list[str] = []
    report = site.build_site(
        site.find_lessons(root / "notebooks"),
        out,
        root / "build" / "site-cache",
        fast=True,
        vendor=False,
        root=root,
        log=logs.append,
        **kw,
    )
    return report, logs


def _rel_links(page: str) -> dict[str, str]:
    """{rel: href} of the page's <a rel=...> links (attributes in any order)."""
    links = {}
    for tag in re.findall(r"<a\b[^>]*>", page):
        rel, href = re.search(r'rel="([^"]*)"', tag), re.search(r'href="([^"]*)"', tag)
        if rel and href:
            links[rel.group(1)] = href.group(1)
    return links


def test_pages_navigation_solutions_and_images(built) -> None:
    _, out, report = built
    assert report.pages == ["index.html", "01_first.html", "02_second.html"]
    assert report.executed == ["01_first.ipynb", "02_second.ipynb"]

    index = (out / "index.html").read_text()
    assert "Tiny Course" in index
    assert index.index('href="01_first.html"') < index.index('href="02_second.html"')
    assert "First steps" in index and "The first lesson" in index

    first = (out / "01_first.html").read_text()
    second = (out / "02_second.html").read_text()
    # sidebar: every lesson, the current one marked; previous/next links
    for page in (first, second):
        assert 'href="01_first.html"' in page and 'href="02_second.html"' in page
        assert 'href="index.html"' in page
    assert re.search(r'class="dqn-current"[^>]*><a href="01_first.html"', first)
    assert _rel_links(first) == {"next": "02_second.html"}
    assert _rel_links(second) == {"prev": "01_first.html"}
    # the lesson link in the markdown points at the page
    assert "02_second.ipynb" not in first
    # the solution is collapsed, the stub is not
    details = re.findall(r'<details class="dqn-collapsed">(.*?)</details>', first, flags=re.S)
    assert len(details) == 1
    assert "Solution 1.1" in details[0] and "SOLUTION-MARK" in details[0]
    assert "STUB-MARK" in first and "STUB-MARK" not in details[0]
    # outputs of the execution, the markdown image and the plot embedded
    assert "the answer is 42" in first and "42" in second
    assert first.count("data:image/png;base64,") >= 2
    # nothing from the network
    assert not re.search(r'<(script|img|link)\b[^>]*(src|href)="https?://', first + second + index)
    assert (out / "_static" / "site.css").exists()


def test_cache_runs_only_changed_notebooks(built, tmp_path: Path) -> None:
    course = tmp_path / "course"
    shutil.copytree(built[0], course)  # with its build/site-cache/
    out = tmp_path / "site"
    report, logs = _build(course, out)
    assert report.executed == [] and report.cached == ["01_first.ipynb", "02_second.ipynb"]
    assert any("from the cache" in line for line in logs)

    # outputs saved into a notebook (a learner ran it) do not invalidate the cache; a source change does
    nb = nbformat.read(course / "notebooks" / "01_first.ipynb", as_version=4)
    nb.cells[3].outputs = [nbformat.v4.new_output("stream", name="stdout", text="stale\n")]
    nbformat.write(nb, course / "notebooks" / "01_first.ipynb")
    nb = nbformat.read(course / "notebooks" / "02_second.ipynb", as_version=4)
    nb.cells[1].source = "print(6 * 9)"
    nbformat.write(nb, course / "notebooks" / "02_second.ipynb")
    report, _ = _build(course, out)
    assert report.executed == ["02_second.ipynb"] and report.cached == ["01_first.ipynb"]
    assert "54" in (out / "02_second.html").read_text()
    assert "stale" not in (out / "01_first.html").read_text()

    # a change to dqn_helpers' sources runs every lesson again
    (course / "dqn_helpers" / "mod.py").write_text("X = 2\n")
    assert site.environment_key(course) != ""
    keys = {p.name: p.read_text() for p in (course / "build" / "site-cache" / "fast").glob("*.key")}
    assert site.notebook_key(
        course / "notebooks" / "01_first.ipynb", True, site.environment_key(course)
    ) != (keys["01_first.key"].strip())


def test_a_failing_cell_fails_the_build(tmp_path: Path) -> None:
    (tmp_path / "notebooks").mkdir()
    broken = _write(tmp_path / "notebooks" / "03_broken.ipynb", [new_code_cell("1 / 0")])
    with pytest.raises(site.BuildError, match=r"03_broken\.ipynb(.|\n)*ZeroDivisionError"):
        site.build_site(
            [broken], tmp_path / "site", tmp_path / "cache", fast=True, vendor=False, root=tmp_path,
            log=lambda _: None,
        )  # fmt: skip


def test_collapse_labels() -> None:
    assert site.collapse_label(["solution-2.3", "hide-input"]) == "Solution 2.3 (click to show)"
    assert site.collapse_label(["hide-input"]) == "Code (click to show)"
    assert site.collapse_label(["stub-2.3"]) is None


def test_real_lessons_are_found_in_order() -> None:
    lessons = site.find_lessons(ROOT / "notebooks")
    names = [p.name for p in lessons]
    assert names == sorted(names) and names[0].startswith("00_")
    titles = [site.describe(p).title for p in lessons]
    assert all(t.startswith("Lesson ") for t in titles), titles


def test_widget_views_become_a_note_without_the_widget_manager() -> None:
    cell = new_code_cell("panel")
    view = {"model_id": "abc", "version_major": 2, "version_minor": 0}
    cell.outputs = [
        nbformat.v4.new_output(
            "display_data", data={site.WIDGET_VIEW: view, "text/plain": "HBox(children=...)"}
        )
    ]
    nb = new_notebook(cells=[cell])
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    without = site.prepare(nb, widgets=False)
    data = without.cells[0].outputs[0].data
    assert site.WIDGET_VIEW not in data and "JupyterLab" in data["text/html"]
    assert "widgets" not in without.metadata
    kept = site.prepare(nb, widgets=True)
    assert kept.cells[0].outputs[0].data[site.WIDGET_VIEW] == view and "widgets" in kept.metadata
    assert site.WIDGET_VIEW in nb.cells[0].outputs[0].data, (
        "prepare must not change the cached notebook"
    )


def test_strict_fails_on_a_cell_that_writes_to_stderr(tmp_path: Path, capsys) -> None:
    """`make test` builds with --strict: a warning printed on a page fails it (and says which cell)."""
    (tmp_path / "notebooks").mkdir()
    noisy = _write(
        tmp_path / "notebooks" / "04_noisy.ipynb",
        [
            new_markdown_cell("# Lesson 04 — Noisy"),
            new_code_cell("import numpy as np\nnp.mean([])"),
        ],
    )
    args = [str(noisy), "--out", str(tmp_path / "site"), "--cache", str(tmp_path / "cache")]
    assert site.main([*args, "--fast", "--no-vendor"]) == 0, "without --strict: a warning only"
    assert "04_noisy.ipynb: cell 1 wrote to stderr" in capsys.readouterr().out
    assert site.main([*args, "--fast", "--no-vendor", "--strict"]) == 1
    assert "--strict: 1 cells show stderr output" in capsys.readouterr().err


def test_executing_a_page_logs_nothing_from_the_kernel(tmp_path: Path, capfd) -> None:
    """The build's output stays readable: the kernel (which inherits our stderr) has nothing to warn
    about, e.g. ipykernel's "running over TCP without encryption" (the build uses IPC sockets)."""
    page = _write(tmp_path / "05_quiet.ipynb", [new_code_cell("print(6 * 7)")])
    nb = site.execute(page, True, 60, site.pick_kernel())
    assert nb.cells[0].outputs[0].text == "42\n"
    err = capfd.readouterr().err
    assert "WARNING" not in err and "without encryption" not in err, err
