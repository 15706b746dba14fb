"""Build the course site: every lesson notebook executed, then rendered to a static HTML page.

    .venv/bin/python notebooks/_site/build_site.py            # full mode (the curves a learner studies)
    DQN_FAST=1 .venv/bin/python notebooks/_site/build_site.py  # fast mode (what CI builds)
    make site / make site-fast                                 # the same, through the Makefile

Open build/site/index.html in a browser (or serve it: python -m http.server -d build/site).

How it works
- The lessons are ``notebooks/[0-9][0-9]_*.ipynb``, in name order; nothing in the pages is typed by hand.
- Each notebook is executed (nbclient, working directory notebooks/, the course's kernel) and the
  executed copy is cached in build/site-cache/<mode>/. The cache key hashes the cells' sources and tags,
  the sources of dqn_helpers/ and the files in checkpoints/, so only a notebook whose key
  changed runs again. Full and fast mode have separate caches.
- A cell that raises fails the build (with the lesson's name); stderr output is listed as a warning.
- Pages are rendered with nbconvert's JupyterLab template (notebooks/_site/templates/dqn_page.html.j2):
  a sidebar with the lessons in order, previous/next links, markdown images embedded, links to other
  lessons pointed at their pages, and cells tagged ``solution-*`` or ``hide-input`` collapsed into a
  <details> element.
- MathJax 3, require.js and the ipywidgets HTML manager are served from build/site/_static/, unpacked
  from their npm packages (``npm pack``, pinned below, cached in build/site-cache/vendor/); no page loads
  anything from a CDN. Without npm the math stays as TeX source and the widget panels are replaced by a
  note, and the build says so.

Why not Jupyter Book 2 / MyST: its HTML build downloads the site template (book-theme) from the MyST API
and GitHub at build time; that theme is published on no package registry, so the build fails wherever
only the package registries can be reached (as in this project's CI).
"""

from __future__ import annotations

import argparse
import hashlib
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TEMPLATES = HERE / "templates"
CACHE_FORMAT = 1  # bump to invalidate every cached execution

# npm packages served with the site: (package, version, files or folders to copy, folder in the site).
# The widget manager goes where a CDN would have it (its fonts are fetched relative to the page).
VENDOR = {
    "mathjax": ("mathjax", "3.2.2", ["es5/tex-svg-full.js"], "_static/mathjax"),
    "require_js": ("requirejs", "2.3.8", ["require.js"], "_static/requirejs"),
    "widget_renderer": (
        "@jupyter-widgets/html-manager",
        "1.0.15",
        ["dist"],
        "@jupyter-widgets/html-manager",
    ),
}
VENDOR_ENTRY = {  # the file a page loads, relative to the site's root
    "mathjax": "_static/mathjax/es5/tex-svg-full.js",
    "require_js": "_static/requirejs/require.js",
    "widget_renderer": "@jupyter-widgets/html-manager/dist/embed-amd.js",
}
FONT_SUFFIXES = (".woff", ".woff2", ".ttf", ".eot", ".svg")
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@dataclass
class Lesson:
    path: Path
    title: str
    summary: str
    page: str  # file name of its page in the site

    @property
    def stem(self) -> str:
        return self.path.stem


@dataclass
class BuildReport:
    pages: list[str] = field(default_factory=list)
    executed: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


class BuildError(RuntimeError):
    pass


# --------------------------------------------------------------------------------------------- lessons
def find_lessons(notebook_dir: Path) -> list[Path]:
    return sorted(notebook_dir.glob("[0-9][0-9]_*.ipynb"))


def describe(path: Path) -> Lesson:
    nb = nbformat.read(path, as_version=4)
    title, summary = path.stem, ""
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        lines = cell.source.splitlines()
        heading = next((ln for ln in lines if ln.startswith("# ")), None)
        if heading is None:
            continue
        title = heading[2:].strip()
        after = lines[lines.index(heading) + 1 :]
        paragraph: list[str] = []
        for ln in after:
            if not ln.strip():
                if paragraph:
                    break
                continue
            if ln.lstrip().startswith(("#", "|", "```", "<", "!", "[!")):  # not a badge or a table
                if paragraph:
                    break
                continue
            paragraph.append(ln.strip())
        summary = " ".join(paragraph)
        break
    return Lesson(path=path, title=title, summary=summary, page=f"{path.stem}.html")


def course_title(readme: Path) -> str:
    if readme.exists():
        for ln in readme.read_text(encoding="utf-8").splitlines():
            if ln.startswith("# "):
                return ln[2:].strip()
    return "Course"


# ----------------------------------------------------------------------------------------------- cache
def _hash_files(h: hashlib._Hash, files: Sequence[Path], base: Path) -> None:
    for f in sorted(files):
        h.update(str(f.relative_to(base)).encode())
        h.update(hashlib.sha256(f.read_bytes()).digest())


def environment_key(root: Path) -> str:
    """What every lesson's execution depends on besides its own cells: dqn_helpers' sources and the
    shipped checkpoints (images are embedded when a page is rendered, which happens on every build)."""
    h = hashlib.sha256()
    files: list[Path] = []
    for folder, pattern in (("dqn_helpers", "*.py"), ("checkpoints", "*")):
        if (root / folder).is_dir():
            files += [
                p
                for p in (root / folder).rglob(pattern)
                if p.is_file() and "__pycache__" not in p.parts
            ]
    _hash_files(h, files, root)
    return h.hexdigest()


def notebook_key(path: Path, fast: bool, env_key: str) -> str:
    """Changes when a cell's source, type or tags change (not when outputs or other metadata do)."""
    nb = nbformat.read(path, as_version=4)
    cells = [(c.cell_type, c.source, sorted(c.metadata.get("tags", []))) for c in nb.cells]
    blob = json.dumps([CACHE_FORMAT, "fast" if fast else "full", env_key, cells], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


# ------------------------------------------------------------------------------------------- execution
def pick_kernel() -> str:
    """The course's kernel: python3 as the notebooks name it, resolved to this Python's environment.

    `make env` installs it into .venv (``ipykernel install --sys-prefix --name python3``); putting this
    environment's Jupyter folder first on JUPYTER_PATH (as `make lab` does) makes it win over a python3
    kernelspec of the user's own (~/.local/share/jupyter), so the pages run on the course's packages.
    """
    ours = str(Path(sys.prefix) / "share" / "jupyter")
    paths = [p for p in os.environ.get("JUPYTER_PATH", "").split(os.pathsep) if p and p != ours]
    os.environ["JUPYTER_PATH"] = os.pathsep.join([ours, *paths])
    return "python3"


def execute(path: Path, fast: bool, timeout: int | None, kernel_name: str) -> nbformat.NotebookNode:
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from traitlets.config import Config

    nb = nbformat.read(path, as_version=4)
    saved = {k: os.environ.get(k) for k in ("DQN_FAST", "MPLBACKEND")}
    if fast:
        os.environ["DQN_FAST"] = "1"
    else:
        os.environ.pop("DQN_FAST", None)
    # the kernel's inline backend must draw the figures into the page (make test sets Agg)
    os.environ.pop("MPLBACKEND", None)
    ipc_dir = tempfile.TemporaryDirectory(prefix="dqn-site-kernel-")
    try:
        # IPC sockets where the OS has them (in a private folder, by absolute path, as the
        # kernel runs in the notebook's folder): the kernel then has no cause to log its
        # "running over TCP without encryption" warning into the build's output
        sockets = {}
        if os.name != "nt":
            sockets = {"transport": "ipc", "ip": str(Path(ipc_dir.name) / "kernel")}
        client = NotebookClient(
            nb,
            config=Config({"KernelManager": sockets}),
            timeout=timeout,
            kernel_name=kernel_name,
            resources={"metadata": {"path": str(path.parent)}},
            store_widget_state=True,
            allow_errors=False,
        )
        client.execute()
    except CellExecutionError as exc:
        raise BuildError(f"{path.name}: a cell raised an error\n{exc}") from exc
    finally:
        ipc_dir.cleanup()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return nb


def executed_notebook(
    path: Path,
    cache_dir: Path,
    fast: bool,
    env_key: str,
    report: BuildReport,
    *,
    run: bool,
    timeout: int | None,
    kernel_name: str,
    log: Callable[[str], None],
    render_only: bool = False,
) -> nbformat.NotebookNode:
    mode_dir = cache_dir / ("fast" if fast else "full")
    mode_dir.mkdir(parents=True, exist_ok=True)
    cached, key_file = mode_dir / path.name, mode_dir / f"{path.stem}.key"
    key = notebook_key(path, fast, env_key)
    if not run:
        return nbformat.read(path, as_version=4)
    if cached.exists() and key_file.exists() and key_file.read_text().strip() == key:
        report.cached.append(path.name)
        log(f">> {path.name}: unchanged, outputs from the cache")
        return nbformat.read(cached, as_version=4)
    if render_only:
        if not cached.exists():
            raise BuildError(
                f"{path.name}: --render-only, but it was never executed into {mode_dir}"
            )
        report.cached.append(path.name)
        report.warnings.append(
            f"{path.name}: rendered from an out-of-date execution (--render-only)"
        )
        return nbformat.read(cached, as_version=4)
    log(f">> {path.name}: executing ({'fast' if fast else 'full'} mode)")
    start = time.perf_counter()
    nb = execute(path, fast, timeout, kernel_name)
    report.seconds[path.name] = round(time.perf_counter() - start, 1)
    report.executed.append(path.name)
    log(f"   done in {report.seconds[path.name]:.1f} s")
    key_file.unlink(missing_ok=True)
    nbformat.write(nb, cached)
    key_file.write_text(key + "\n")
    return nb


def check_outputs(nb: nbformat.NotebookNode, name: str, report: BuildReport) -> None:
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                raise BuildError(
                    f"{name}: cell {i} shows an error: {out.get('ename')}: {out.get('evalue')}"
                )
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                text = "".join(out.get("text", "")).strip()
                report.warnings.append(f"{name}: cell {i} wrote to stderr: {text[:300]}")


# ------------------------------------------------------------------------------------------ vendoring
def vendor_static(cache_dir: Path, site_dir: Path, log: Callable[[str], None]) -> dict[str, str]:
    """Unpack the pinned npm packages into the site; returns {name: path in the site} of those that
    could be had (none where npm is missing or cannot reach its registry)."""
    found: dict[str, str] = {}
    vendor_dir = cache_dir / "vendor"
    vendor_dir.mkdir(parents=True, exist_ok=True)
    npm = shutil.which("npm")
    for name, (package, version, members, dest) in VENDOR.items():
        tarball = vendor_dir / (package.lstrip("@").replace("/", "-") + f"-{version}.tgz")
        if not tarball.exists() and npm:
            proc = subprocess.run(
                [
                    npm,
                    "pack",
                    f"{package}@{version}",
                    "--silent",
                    "--pack-destination",
                    str(vendor_dir),
                ],
                capture_output=True,
                text=True,
                timeout=300,
            )
            if proc.returncode != 0:
                log(f"   npm pack {package}@{version} failed: {proc.stderr.strip()[:300]}")
        if not tarball.exists():
            continue
        target = site_dir / dest
        shutil.rmtree(target, ignore_errors=True)
        with tarfile.open(tarball) as tar:
            for member in tar.getmembers():
                rel = member.name.removeprefix("package/")
                if not member.isfile() or rel.endswith(".map"):
                    continue
                if not any(rel == m or rel.startswith(m.rstrip("/") + "/") for m in members):
                    continue
                out = target / rel
                out.parent.mkdir(parents=True, exist_ok=True)
                src = tar.extractfile(member)
                assert src is not None
                out.write_bytes(src.read())
        if (site_dir / VENDOR_ENTRY[name]).exists():
            found[name] = VENDOR_ENTRY[name]
    if "widget_renderer" in found:  # its font-awesome files are also looked up one folder up
        dist = site_dir / Path(VENDOR_ENTRY["widget_renderer"]).parent
        for font in dist.iterdir():
            if font.suffix in FONT_SUFFIXES:
                shutil.copy2(font, dist.parents[1] / font.name)
    return found


# ------------------------------------------------------------------------------------------- rendering
SITE_CSS = """
body.dqn-page { margin: 0; }
.dqn-sidebar { position: fixed; top: 0; left: 0; bottom: 0; width: 17rem; overflow-y: auto;
  padding: 1rem; box-sizing: border-box; background: #f6f7f9; border-right: 1px solid #dde;
  font-family: system-ui, sans-serif; font-size: 0.9rem; }
.dqn-sidebar .dqn-home { display: block; font-weight: 600; margin-bottom: 0.8rem; color: #222;
  text-decoration: none; }
.dqn-sidebar ol { list-style: none; padding: 0; margin: 0; }
.dqn-sidebar li { margin: 0.15rem 0; }
.dqn-sidebar li a { display: block; padding: 0.3rem 0.5rem; border-radius: 4px; color: #234;
  text-decoration: none; }
.dqn-sidebar li a:hover { background: #e8ebf0; }
.dqn-sidebar li.dqn-current a { background: #dfe7f5; font-weight: 600; }
.dqn-mode { color: #667; font-size: 0.8rem; margin-top: 1rem; }
body.dqn-page > main { margin-left: 17rem; padding: 1rem 2rem 3rem; max-width: 62rem; }
.dqn-prevnext { display: flex; justify-content: space-between; margin-top: 3rem; padding-top: 1rem;
  border-top: 1px solid #dde; font-family: system-ui, sans-serif; }
.dqn-prevnext .dqn-next { margin-left: auto; }
details.dqn-collapsed > summary { cursor: pointer; font-family: system-ui, sans-serif;
  font-size: 0.9rem; color: #345; padding: 0.3rem 0;
  margin-left: calc(var(--jp-cell-prompt-width, 64px) + 1.2rem); }
.dqn-static-note { font-style: italic; color: #556; }
.dqn-index { font-family: system-ui, sans-serif; max-width: 50rem; margin: 2rem auto; padding: 0 1rem; }
.dqn-index li { margin: 0.8rem 0; }
.dqn-index li p { margin: 0.2rem 0 0; color: #445; }
@media (max-width: 60rem) { .dqn-sidebar { position: static; width: auto; border-right: 0; }
  body.dqn-page > main { margin-left: 0; } }
"""


def collapse_label(tags: Sequence[str]) -> str | None:
    for tag in tags:
        if tag.startswith("solution-"):
            return f"Solution {tag.removeprefix('solution-')} (click to show)"
    if "hide-input" in tags:
        return "Code (click to show)"
    return None


def prepare(nb: nbformat.NotebookNode, widgets: bool) -> nbformat.NotebookNode:
    # a copy: the cached notebook stays as executed
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    for cell in nb.cells:
        label = collapse_label(cell.metadata.get("tags", []))
        if label:
            cell.metadata["dqn_collapse"] = label
        if not widgets:
            for out in cell.get("outputs", []):
                data = out.get("data", {})
                if WIDGET_VIEW in data:
                    del data[WIDGET_VIEW]
                    data["text/html"] = (
                        '<p class="dqn-static-note">(An interactive panel: run this lesson in '
                        "JupyterLab to use it.)</p>"
                    )
    if not widgets:
        nb.metadata.pop("widgets", None)
    return nb


_LESSON_LINK = re.compile(r'href="(?:\./)?([0-9][0-9]_[^"/#]*)\.ipynb(#[^"]*)?"')
_REMOTE_IMG = re.compile(r'<img\b[^>]*\bsrc="https?://[^"]*"[^>]*>')
_ALT = re.compile(r'\balt="([^"]*)"')


def _remote_image_to_text(m: re.Match[str]) -> str:
    """The site works offline: a remote image (the Colab badge) becomes its alt text."""
    alt = _ALT.search(m.group(0))
    return html.escape(html.unescape(alt.group(1))) if alt and alt.group(1) else ""


def render_page(
    nb: nbformat.NotebookNode,
    lesson: Lesson,
    lessons: Sequence[Lesson],
    course: str,
    static: dict[str, str],
    mode: str,
) -> str:
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="lab",
        extra_template_paths=[str(TEMPLATES)],
        template_file="dqn_page.html.j2",
        embed_images=True,
        exclude_anchor_links=False,
    )
    if "widget_renderer" in static:
        exporter.widget_renderer_url = static["widget_renderer"]
    i = lessons.index(lesson)

    def link(other: Lesson) -> dict[str, object]:
        return {"href": other.page, "title": other.title, "current": other is lesson}

    resources = {
        "metadata": {"path": str(lesson.path.parent), "name": lesson.stem},
        "dqn": {
            "course": course,
            "title": lesson.title,
            "pages": [link(x) for x in lessons],
            "prev": link(lessons[i - 1]) if i > 0 else None,
            "next": link(lessons[i + 1]) if i + 1 < len(lessons) else None,
            "mathjax": static.get("mathjax", ""),
            "require_js": static.get("require_js", ""),
            "widget_renderer": "widget_renderer" in static,
            "static": "_static",
            "mode": mode,
        },
    }
    body, _ = exporter.from_notebook_node(
        prepare(nb, "widget_renderer" in static), resources=resources
    )
    body = _LESSON_LINK.sub(lambda m: f'href="{m.group(1)}.html{m.group(2) or ""}"', body)
    return _REMOTE_IMG.sub(_remote_image_to_text, body)


def render_index(lessons: Sequence[Lesson], course: str, mode: str, static: dict[str, str]) -> str:
    from nbconvert.filters.markdown import markdown2html

    items = "\n".join(
        f'<li><a href="{x.page}">{html.escape(x.title)}</a>{markdown2html(x.summary) if x.summary else ""}</li>'
        for x in lessons
    )
    items = _LESSON_LINK.sub(lambda m: f'href="{m.group(1)}.html{m.group(2) or ""}"', items)
    items = _REMOTE_IMG.sub(_remote_image_to_text, items)
    mathjax = (
        "<script>window.MathJax = {tex: {inlineMath: [['$', '$']], processEscapes: true}};</script>"
        f'<script id="MathJax-script" async src="{static["mathjax"]}"></script>'
        if "mathjax" in static
        else ""
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(course)}</title><link rel="stylesheet" href="_static/site.css">{mathjax}</head>
<body><main class="dqn-index">
<h1>{html.escape(course)}</h1>
<p>The lessons, executed ({mode} mode), in order:</p>
<ol class="dqn-lessons">
{items}
</ol>
</main></body></html>
"""


# ------------------------------------------------------------------------------------------------ build
def build_site(
    notebooks: Sequence[Path],
    out_dir: Path,
    cache_dir: Path,
    *,
    fast: bool,
    run: bool = True,
    vendor: bool = True,
    timeout: int | None = None,
    kernel_name: str | None = None,
    render_only: bool = False,
    root: Path = ROOT,
    log: Callable[[str], None] = print,
) -> BuildReport:
    """Execute (or take from the cache) and render ``notebooks`` into ``out_dir``; returns what it did.
    ``run=False`` renders the notebooks as they are (for tests of the page generator);
    ``render_only=True`` takes each notebook's last cached execution even if it is out of date."""
    report = BuildReport()
    mode = "fast" if fast else "full"
    lessons = [describe(p) for p in sorted(notebooks, key=lambda p: p.name)]
    if not lessons:
        raise BuildError("no notebooks to build")
    course = course_title(root / "README.md")
    env_key = environment_key(root)
    kernel = kernel_name or pick_kernel()

    static_dir = out_dir / "_static"
    static_dir.mkdir(parents=True, exist_ok=True)
    (static_dir / "site.css").write_text(SITE_CSS, encoding="utf-8")
    static = vendor_static(cache_dir, out_dir, log) if vendor else {}
    for name in VENDOR:
        if name not in static:
            what = {
                "mathjax": "math is shown as TeX source",
                "require_js": "widgets are not rendered",
                "widget_renderer": "widget panels are replaced by a note",
            }[name]
            report.warnings.append(f"{VENDOR[name][0]} not available: {what}")
    if "require_js" not in static:
        static.pop("widget_renderer", None)

    for lesson in lessons:
        nb = executed_notebook(
            lesson.path, cache_dir, fast, env_key, report,
            run=run, timeout=timeout, kernel_name=kernel, log=log, render_only=render_only,
        )  # fmt: skip
        check_outputs(nb, lesson.path.name, report)
        (out_dir / lesson.page).write_text(
            render_page(nb, lesson, lessons, course, static, mode), encoding="utf-8"
        )
        report.pages.append(lesson.page)
    (out_dir / "index.html").write_text(
        render_index(lessons, course, mode, static), encoding="utf-8"
    )
    report.pages.insert(0, "index.html")
    (out_dir / "_build.json").write_text(
        json.dumps({"mode": mode, **report.__dict__}, indent=1) + "\n", encoding="utf-8"
    )
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "notebooks", nargs="*", type=Path, help="default: notebooks/[0-9][0-9]_*.ipynb"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "site")
    parser.add_argument("--cache", type=Path, default=ROOT / "build" / "site-cache")
    parser.add_argument(
        "--fast",
        action="store_true",
        default=os.environ.get("DQN_FAST", "") not in ("", "0"),
        help="fast mode (default: on when DQN_FAST is set)",
    )
    parser.add_argument(
        "--timeout", type=int, default=None, help="seconds per cell (default: none)"
    )
    parser.add_argument(
        "--kernel", default=None, help="kernel name (default: python3 from this environment)"
    )
    parser.add_argument(
        "--no-vendor", action="store_true", help="do not fetch MathJax/widgets with npm"
    )
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="re-render the pages from the cached executions, even out-of-date ones (no kernel)",
    )
    parser.add_argument(
        "--strict", action="store_true", help="fail when a page shows stderr output (warnings)"
    )
    args = parser.parse_args(argv)

    start = time.perf_counter()
    notebooks = args.notebooks or find_lessons(ROOT / "notebooks")
    try:
        report = build_site(
            notebooks, args.out, args.cache, fast=args.fast, vendor=not args.no_vendor,
            timeout=args.timeout, kernel_name=args.kernel, render_only=args.render_only,
        )  # fmt: skip
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for w in report.warnings:
        print(f"warning: {w}")
    stderr_pages = [w for w in report.warnings if "wrote to stderr" in w]
    if args.strict and stderr_pages:
        print(f"error: --strict: {len(stderr_pages)} cells show stderr output", file=sys.stderr)
        return 1
    print(
        f">> site built in {time.perf_counter() - start:.0f} s: {len(report.pages)} pages "
        f"({len(report.executed)} executed, {len(report.cached)} from the cache) -> {args.out / 'index.html'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
