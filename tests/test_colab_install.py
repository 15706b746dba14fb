"""The Colab path: every notebook's first cell installs the course into a Python that lacks it.

On Colab (or any fresh kernel) the first code cell of each lesson runs ``pip install git+<repository>``
when ``dqn_helpers`` cannot be found. This test runs those cells, as written in the notebooks, in a fresh
virtual environment, with the repository URL replaced by a copy of this checkout (its tracked and
not-ignored files: what a clone would hold), then imports everything the lessons import.

The fresh environment sees, read-only, only the distributions the course declares it needs (the
``dependencies`` of pyproject.toml and what they require, taken from .venv; plus pip and setuptools to
build), like Colab which has torch and numpy preinstalled; pip runs offline, so a dependency that the
package does not declare, or declares under a wrong name, makes the install or the imports fail.
It fails as well when the cell looks for the wrong module (it would reinstall on every run), when the
package does not ship ``dqn_helpers``, or when the cell no longer installs from the repository URL.
"""

from __future__ import annotations

import ast
import importlib.metadata as md
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import tomllib
from packaging.requirements import Requirement

from dqn_helpers import colab

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
TOOLS = ("pip", "setuptools")  # what a Python has to build and install a package from source


def first_code_cell(path: Path) -> str:
    cells = json.loads(path.read_text())["cells"]
    return "".join(next(c for c in cells if c["cell_type"] == "code")["source"])


def declared_closure() -> set[str]:
    """Normalised names of pyproject.toml's runtime dependencies and everything they require (no extras)."""

    def norm(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    env = {"extra": ""}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    todo = [Requirement(r) for r in project["dependencies"]]
    todo = [r for r in todo if r.marker is None or r.marker.evaluate(env)]
    seen: set[str] = set()
    while todo:
        req = todo.pop()
        name = norm(req.name)
        if name in seen:
            continue
        seen.add(name)
        wanted_extras = req.extras
        for sub in md.requires(req.name) or []:
            r = Requirement(sub)
            if r.marker is None or any(
                r.marker.evaluate({"extra": e}) for e in ("", *wanted_extras)
            ):
                todo.append(r)
    return seen


def overlay(dest: Path, names: set[str]) -> Path:
    """A folder of symlinks to the top-level files of those distributions in this interpreter's site-packages."""
    site = Path(sysconfig.get_paths()["purelib"])
    dest.mkdir()
    linked = set()
    for dist in md.distributions(path=[str(site)]):
        name = re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower()
        if name not in names:
            continue
        for file in dist.files or []:
            top = Path(file).parts[0]
            if top in ("..", "__pycache__") or top.endswith(".pth") or top in linked:
                continue
            if (site / top).exists():
                (dest / top).symlink_to(site / top)
                linked.add(top)
    return dest


def checkout_copy(dest: Path) -> Path:
    """The checkout's tracked and not-ignored files (what `git clone` of the working tree would give)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for rel in filter(None, listed.split("\0")):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


def lesson_imports() -> str:
    """Every top-level import statement of every lesson's code cells (magics and shell lines dropped)."""
    lines: list[str] = []
    for path in NOTEBOOKS:
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] != "code":
                continue
            src = "\n".join(
                line
                for line in "".join(cell["source"]).splitlines()
                if not line.lstrip().startswith(("%", "!"))
            )
            # top level only: an `import google.colab` under `if ON_COLAB:` is not for everyone
            for node in ast.parse(src).body:
                if isinstance(node, ast.Import | ast.ImportFrom) and not getattr(node, "level", 0):
                    lines.append(ast.unparse(node))
    return "\n".join(dict.fromkeys(lines))


def test_every_notebook_starts_with_an_install_cell_that_targets_the_repository():
    for path in NOTEBOOKS:
        cell = first_code_cell(path)
        assert cell.count(f'"{colab.PIP_TARGET}"') == 1, (
            f"{path.name}: the install cell does not pip install {colab.PIP_TARGET}"
        )
        assert 'find_spec("dqn_helpers")' in cell, (
            f"{path.name}: the install cell does not look for dqn_helpers"
        )


def test_the_install_cells_install_the_course_into_a_fresh_environment(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    fresh_site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    names = declared_closure() | set(TOOLS)
    assert {"torch", "gymnasium", "ipywidgets"} <= names, names  # the closure really was read
    deps = overlay(tmp_path / "preinstalled", names)
    Path(fresh_site, "preinstalled.pth").write_text(f"{deps}\n")
    source = checkout_copy(tmp_path / "dqn-course")

    cells = {path.name: first_code_cell(path) for path in NOTEBOOKS}
    local = {name: cell.replace(colab.PIP_TARGET, str(source)) for name, cell in cells.items()}
    assert all(str(source) in cell for cell in local.values())
    # Run the first notebook's cell (it must install), then every notebook's cell again (each must find the
    # course and not call pip), then the lessons' imports; pip is watched by wrapping subprocess.run.
    first = next(iter(local))
    script = textwrap.dedent(
        f"""
        import json, subprocess, sys
        import importlib.util
        assert importlib.util.find_spec("dqn_helpers") is None, "the fresh environment already has dqn_helpers"
        calls = []
        real_run = subprocess.run
        def watched_run(args, *a, **k):
            calls.append(list(map(str, args)))
            return real_run(args, *a, **k)
        subprocess.run = watched_run
        cells = json.loads({json.dumps(json.dumps(local))})
        exec(compile(cells[{first!r}], "install cell of {first}", "exec"), {{}})
        assert len(calls) == 1 and calls[0][1:4] == ["-m", "pip", "install"], calls
        for name, cell in cells.items():
            calls.clear()
            exec(compile(cell, "install cell of " + name, "exec"), {{}})
            assert not calls, name + ": the course is installed, yet the cell ran " + str(calls)
        subprocess.run = real_run
        """
    )
    script += lesson_imports() + textwrap.dedent(
        """
        import importlib.metadata, dqn_helpers
        print("installed", importlib.metadata.version("dqn-course"), "at", dqn_helpers.__file__)
        """
    )
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PIP_", "VIRTUAL_ENV"))
    }
    env.update(
        PIP_NO_INDEX="1",  # offline: every dependency must come from the declared, preinstalled set
        PIP_NO_BUILD_ISOLATION="0",  # build with the preinstalled setuptools (pip's inverted switch)
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_CACHE_DIR="1",
        SDL_VIDEODRIVER="dummy",
        MPLBACKEND="Agg",
    )
    run = subprocess.run(
        [str(python), "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, f"stdout:\n{run.stdout[-3000:]}\nstderr:\n{run.stderr[-3000:]}"
    installed = run.stdout.strip().splitlines()[-1]
    assert installed.startswith("installed "), installed
    assert fresh_site in installed, (
        f"dqn_helpers was not imported from the fresh environment: {installed}"
    )
