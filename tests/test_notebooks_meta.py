"""Every lesson notebook follows the course skeleton (see STYLE.md) and the README lists it.

Checked per notebook: the first code cell is the Colab install cell, a `parameters` cell sets FAST
from DQN_FAST and defines a Config dataclass, Objectives and Summary are there, no outputs, the python3
kernelspec, exercise stubs have hidden solutions, and no `import *` or sys.path tricks.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import check_clean_notebooks
import pytest

from dqn_helpers import colab

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
FAST_LINE = 'FAST = os.environ.get("DQN_FAST") == "1"'


def _cells(path: Path, kind: str | None = None) -> list[dict]:
    cells = json.loads(path.read_text())["cells"]
    return [c for c in cells if kind is None or c["cell_type"] == kind]


def _src(cell: dict) -> str:
    return "".join(cell["source"])


def _tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def test_the_setup_notebook_exists():
    assert [p.name for p in NOTEBOOKS][:1] == ["00_setup.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_first_code_cell_is_the_colab_install_cell(path):
    first = _src(_cells(path, "code")[0])
    assert first == colab.INSTALL_CELL, (
        f"{path.name}: the first code cell must be dqn_helpers.colab.INSTALL_CELL verbatim; "
        "run `python -m dqn_helpers.colab notebooks/` to rewrite it"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameters_cell_sets_fast_and_a_config_dataclass(path):
    setup = [c for c in _cells(path, "code") if "parameters" in _tags(c)]
    assert len(setup) == 1, (
        f"{path.name}: expected one code cell tagged 'parameters', found {len(setup)}"
    )
    src = _src(setup[0])
    lines = [
        line.split("  #")[0].rstrip() for line in src.splitlines()
    ]  # a trailing comment is fine
    assert FAST_LINE in lines, f"{path.name}: the setup cell must contain `{FAST_LINE}`"
    assert re.search(r"^@dataclass(\(.*\))?\nclass Config\b", src, re.M), (
        f"{path.name}: the setup cell must define `@dataclass class Config`"
    )
    assert re.search(r"^config = Config\(", src, re.M), (
        f"{path.name}: the setup cell must build `config = Config()`"
    )
    code_cells = _cells(path, "code")
    assert code_cells.index(setup[0]) == 1, (
        f"{path.name}: the setup cell must follow the install cell"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_objectives_summary_and_title(path):
    markdown = [_src(c) for c in _cells(path, "markdown")]
    assert markdown and markdown[0].startswith("# "), (
        f"{path.name}: start with a markdown '# Title'"
    )
    assert any(re.search(r"^(#+ |\*\*)Objectives", m, re.M) for m in markdown), (
        f"{path.name}: no Objectives"
    )
    assert any(re.search(r"^#+ .*Summary", m, re.M) for m in markdown), (
        f"{path.name}: no '## Summary'"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs_and_with_the_course_kernel(path):
    stored = check_clean_notebooks.stored_text(path)  # as git stores it: outputs of a run are fine
    metadata = json.loads(stored)["metadata"]
    # python3: the name Colab runs; make lab resolves it to .venv's kernel (test_foundation)
    assert metadata.get("kernelspec") == {
        "display_name": "DQN Course (.venv)",
        "language": "python",
        "name": "python3",
    }, f"{path.name}: kernelspec {metadata.get('kernelspec')}"
    # what JupyterLab adds on save (version, lexer ...) is stripped: opening a lesson changes nothing
    assert metadata.get("language_info") == {"name": "python"}, f"{path.name}: {metadata}"
    dirty = check_clean_notebooks.dirty_cells(stored)
    assert not dirty, f"{path.name}: cells {dirty} are stored with outputs (run make strip)"


def test_outputs_of_a_run_neither_show_in_git_nor_fail_the_check(tmp_path: Path) -> None:
    """A learner who ran a lesson: with the nbstripout filter `make env` installs, `git diff` shows
    no change and the clean check passes; a notebook committed with outputs is still caught. (git
    status still lists the file until the next `git add`: git compares file sizes before filters.)"""
    nbstripout = Path(sys.executable).with_name("nbstripout")
    if not nbstripout.exists():
        pytest.skip("nbstripout is not installed in this environment")

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=tmp_path, check=True, capture_output=True, text=True
        ).stdout

    git("init", "-q")
    git("config", "user.email", "t@example.com")
    git("config", "user.name", "t")
    subprocess.run([str(nbstripout), "--install"], cwd=tmp_path, check=True)
    makefile = (ROOT / "Makefile").read_text()
    keys = re.search(r"^STRIP_KEYS := (.*?[^\\])$", makefile, re.M | re.S).group(1)
    git("config", "filter.nbstripout.extrakeys", " ".join(keys.replace("\\\n", " ").split()))
    clean = json.loads(NOTEBOOKS[0].read_text())
    (tmp_path / "00.ipynb").write_text(json.dumps(clean, indent=1))
    git("add", "00.ipynb")
    git("commit", "-q", "-m", "clean")
    ran = json.loads(json.dumps(clean))
    code = next(c for c in ran["cells"] if c["cell_type"] == "code")
    code["execution_count"] = 1
    code["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["hello\n"]}]
    ran["metadata"]["language_info"] = {  # what JupyterLab writes on save
        "codemirror_mode": {"name": "ipython", "version": 3},
        "file_extension": ".py",
        "mimetype": "text/x-python",
        "name": "python",
        "nbconvert_exporter": "python",
        "pygments_lexer": "ipython3",
        "version": "3.11.7",
    }
    (tmp_path / "00.ipynb").write_text(json.dumps(ran, indent=1))
    assert git("diff") == "", "outputs and saved metadata alone must not show as a change"
    assert check_clean_notebooks.main([str(tmp_path / "00.ipynb")]) == 0
    subprocess.run([str(nbstripout), "--uninstall"], cwd=tmp_path, check=True)
    git("add", "00.ipynb")  # without the filter, the outputs are staged ...
    assert check_clean_notebooks.main([str(tmp_path / "00.ipynb")]) == 1  # ... and caught


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_stub_has_a_hidden_solution(path):
    cells = _cells(path, "code")
    stubs = {t.removeprefix("stub-") for c in cells for t in _tags(c) if t.startswith("stub-")}
    solutions = {
        t.removeprefix("solution-"): c for c in cells for t in _tags(c) if t.startswith("solution-")
    }
    assert stubs == set(solutions), (
        f"{path.name}: stubs {sorted(stubs)} and solutions {sorted(solutions)} must match one to one"
    )
    for key, cell in solutions.items():
        assert re.fullmatch(r"\d+\.\d+", key), (
            f"{path.name}: exercise tag 'solution-{key}' is not N.k"
        )
        assert "hide-input" in _tags(cell), (
            f"{path.name}: solution-{key} needs the 'hide-input' tag"
        )
        hidden = cell.get("metadata", {}).get("jupyter", {}).get("source_hidden")
        assert hidden is True, (
            f"{path.name}: solution-{key} needs metadata.jupyter.source_hidden = true"
        )
    positions = {t: i for i, c in enumerate(cells) for t in _tags(c)}
    for key in stubs:
        assert positions[f"stub-{key}"] < positions[f"solution-{key}"], (
            f"{path.name}: solution {key} before its stub"
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_star_imports_and_no_sys_path_tricks(path):
    for i, cell in enumerate(_cells(path, "code")):
        src = _src(cell)
        assert not re.search(r"^\s*from\s+\S+\s+import\s+\*", src, re.M), (
            f"{path.name} code cell {i}: import *"
        )
        assert "sys.path" not in src, (
            f"{path.name} code cell {i}: manipulates sys.path (import the package)"
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_scratch_folder_a_notebook_makes_is_removed_by_it(path):
    """A run of a lesson leaves nothing in /tmp: each `x = ...mkdtemp(...)` meets a `shutil.rmtree(x)`."""
    src = "\n".join(_src(c) for c in _cells(path, "code"))
    made = set(re.findall(r"(\w+)(?:: \w+)? = (?:Path\()?tempfile\.mkdtemp\(", src))
    removed = set(re.findall(r"shutil\.rmtree\((\w+)\)", src))
    assert made <= removed, f"{path.name}: scratch folders never removed: {sorted(made - removed)}"


# ----------------------------------------------------------------------------- README


def _readme_lesson_rows() -> dict[str, str]:
    """Notebook file name -> its row in the README's lesson table."""
    rows = {}
    for line in (ROOT / "README.md").read_text().splitlines():
        if line.startswith("|"):
            for name in re.findall(r"\(notebooks/(\d\d_\w+\.ipynb)\)", line):
                rows[name] = line
    return rows


def test_readme_lesson_table_lists_every_notebook_with_its_colab_badge():
    rows = _readme_lesson_rows()
    missing = [p.name for p in NOTEBOOKS if p.name not in rows]
    assert not missing, f"README.md's lesson table does not list {missing}"
    for name, row in rows.items():
        assert f"]({colab.colab_url(name)})" in row, (
            f"README row for {name} lacks its Colab badge link"
        )


def test_readme_links_only_to_notebooks_that_exist():
    present = {p.name for p in NOTEBOOKS}
    dangling = sorted(set(_readme_lesson_rows()) - present)
    assert not dangling, f"README.md links to notebooks that do not exist: {dangling}"


def test_readme_colab_badges_all_use_the_one_repository_url():
    text = (ROOT / "README.md").read_text()
    urls = re.findall(r"\]\((https://colab\.research\.google\.com/github/[^)]+)\)", text)
    assert urls, "README.md has no Colab badges"
    names = [u.rsplit("/", 1)[-1] for u in urls]
    assert urls == [colab.colab_url(n) for n in names], (
        "a Colab link does not come from colab.colab_url()"
    )
