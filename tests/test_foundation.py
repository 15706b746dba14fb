"""The course's foundation: dependency files agree, imports are headless and side-effect free,
`make test` runs its stages in order, a dirty or broken notebook is caught, and nothing is reinstalled
when nothing changed."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _normalise(requirement: str) -> str:
    """The PEP 503 name of a requirement line: 'gymnasium[classic-control]>=1.0' -> 'gymnasium'."""
    name = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    assert name, f"cannot read a package name from {requirement!r}"
    return re.sub(r"[-_.]+", "-", name.group(1)).lower()


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _pyproject_names(*extras: str) -> set[str]:
    project = _pyproject()["project"]
    lines = list(project["dependencies"])
    for extra in extras:
        lines += project["optional-dependencies"][extra]
    return {_normalise(line) for line in lines}


def parse_environment_yml(text: str) -> tuple[list[str], list[str]]:
    """(conda dependencies, pip dependencies) of a simple environment.yml, without PyYAML.

    Understands exactly the structure we use: a top-level ``dependencies:`` list whose items are
    strings or one ``- pip:`` item holding a nested list. Comments and blank lines are ignored.
    """
    conda: list[str] = []
    pip: list[str] = []
    section = None  # None, "deps" or "pip"
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        item = line.strip()
        if indent == 0:
            section = "deps" if item == "dependencies:" else None
        elif section in ("deps", "pip") and item == "- pip:":
            section = "pip"
        elif section == "pip" and item.startswith("- ") and indent > 4:
            pip.append(item[2:].strip())
        elif section in ("deps", "pip") and item.startswith("- "):
            section = "deps"
            conda.append(item[2:].strip())
    return conda, pip


# ----------------------------------------------------------------------------- dependency files


def test_environment_yml_parser_agrees_with_pyyaml():
    yaml = pytest.importorskip("yaml", reason="PyYAML not installed: the hand parser is used alone")
    text = (ROOT / "environment.yml").read_text()
    doc = yaml.safe_load(text)
    conda = [d for d in doc["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in doc["dependencies"] if isinstance(d, dict))
    assert parse_environment_yml(text) == (conda, pip)


def test_environment_yml_names_the_same_packages_as_pyproject():
    text = (ROOT / "environment.yml").read_text()
    assert re.search(r"^name: dqn-course$", text, re.M), "the conda env must be called dqn-course"
    conda, pip = parse_environment_yml(text)
    assert "python=3.11" in conda and "pip" in conda, (
        f"conda part should be python=3.11 + pip, got {conda}"
    )
    assert "-e ." in pip, "environment.yml must install the course package itself (pip: - -e .)"
    yml_names = {_normalise(p) for p in pip if not p.startswith("-")}
    py_names = _pyproject_names("lab", "dev")
    assert yml_names == py_names, (
        f"environment.yml and pyproject.toml (core + lab + dev) drifted apart: "
        f"only in environment.yml {sorted(yml_names - py_names)}, "
        f"only in pyproject.toml {sorted(py_names - yml_names)}"
    )


def test_constraints_pin_every_dependency_and_cpu_torch():
    pins = {}
    for line in (ROOT / "requirements" / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, sep, version = line.partition("==")
            assert sep, f"constraints.txt line is not an exact pin: {line!r}"
            pins[_normalise(name)] = version.strip()
    assert pins.get("torch") == "2.13.0", f"torch must be pinned to 2.13.0, got {pins.get('torch')}"
    extras = _pyproject()["project"]["optional-dependencies"]
    missing = sorted(_pyproject_names(*extras) - pins.keys())
    assert not missing, (
        f"pyproject dependencies not pinned in requirements/constraints.txt: {missing}"
    )


# ----------------------------------------------------------------------------- imports


def _run_python(
    code: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=timeout,
    )


def test_opencv_ale_torch_work_without_display_or_gpu():
    env = {
        k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "MPLBACKEND")
    }
    env["CUDA_VISIBLE_DEVICES"] = ""
    proc = _run_python(
        """
        import ale_py, cv2, gymnasium as gym, torch
        import matplotlib.pyplot as plt
        assert not torch.cuda.is_available()
        gym.register_envs(ale_py)
        env = gym.make("ALE/Pong-v5", render_mode="rgb_array")
        env.reset(seed=0)
        frame = env.render()
        gray = cv2.resize(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), (84, 84), interpolation=cv2.INTER_AREA)
        fig = plt.figure(); plt.imshow(gray); fig.canvas.draw()
        print("OK", frame.shape, gray.shape, plt.get_backend().lower())
    """,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert "OK (210, 160, 3) (84, 84) agg" in proc.stdout


def test_package_init_imports_nothing_heavy():
    proc = _run_python("""
        import sys
        import dqn_helpers
        heavy = {"torch", "numpy", "matplotlib", "gymnasium", "cv2", "ale_py", "ipywidgets", "IPython", "tqdm"}
        print(sorted(heavy & set(sys.modules)))
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]", f"`import dqn_helpers` pulled in {proc.stdout.strip()}"


def test_importing_every_submodule_has_no_side_effects():
    proc = _run_python("""
        import importlib, json, pkgutil, random, sys
        import numpy as np, torch, matplotlib
        import matplotlib.pyplot, gymnasium, cv2, ale_py, ipywidgets, tqdm.auto  # third-party noise first
        random.seed(7); np.random.seed(7); torch.manual_seed(7)
        before = (random.getstate(), np.random.get_state()[1].tolist(), torch.random.get_rng_state().tolist())
        rc = {k: repr(v) for k, v in matplotlib.rcParams.items()}
        figs = matplotlib.pyplot.get_fignums()
        sys.stdout.flush(); sys.stderr.flush()
        print("---IMPORTS---", flush=True); print("---IMPORTS---", file=sys.stderr, flush=True)
        import dqn_helpers
        names = sorted(m.name for m in pkgutil.iter_modules(dqn_helpers.__path__))
        for name in names:
            importlib.import_module(f"dqn_helpers.{name}")
        sys.stdout.flush(); sys.stderr.flush()
        after = (random.getstate(), np.random.get_state()[1].tolist(), torch.random.get_rng_state().tolist())
        changed_rc = sorted(k for k, v in matplotlib.rcParams.items() if rc.get(k) != repr(v))
        print(json.dumps({"modules": names, "rng_same": [a == b for a, b in zip(before, after)],
                          "rc": changed_rc, "figs": matplotlib.pyplot.get_fignums() == figs}))
    """)
    assert proc.returncode == 0, proc.stderr
    printed = proc.stdout.split("---IMPORTS---\n", 1)[1].splitlines()
    assert len(printed) == 1, f"importing dqn_helpers printed: {printed[:-1]}"
    stderr = proc.stderr.split("---IMPORTS---\n", 1)[1]
    assert stderr == "", f"importing dqn_helpers wrote to stderr: {stderr}"
    result = json.loads(printed[0])
    assert "colab" in result["modules"], result["modules"]
    assert result["rng_same"] == [True, True, True], (
        "import changed the (python, numpy, torch) RNG state"
    )
    assert result["rc"] == [], f"import changed matplotlib rcParams: {result['rc']}"
    assert result["figs"], "import opened a matplotlib figure"


# ----------------------------------------------------------------------------- make test / CI


def _recipe(target: str) -> list[str]:
    lines = (ROOT / "Makefile").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{target}:"))
    body = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        body.append(line.strip())
    return [lines[start]] + body


def test_make_test_sets_up_env_then_runs_its_stages_in_order():
    recipe = _recipe("test")
    assert "$(STAMP)" in recipe[0], f"`make test` must depend on the environment stamp: {recipe[0]}"
    text = "\n".join(recipe[1:])
    stages = [
        "check_clean_notebooks.py",
        "ruff check",
        "pytest tests/",
        "--nbval-lax",
        "build_site.py --fast",  # the site in fast mode: every page executes and renders
        "browserlab.py",  # then the browser tests (when Chromium is there), which load that site
    ]
    positions = [text.find(s) for s in stages]
    assert -1 not in positions, (
        f"missing stage(s): {[s for s, p in zip(stages, positions) if p < 0]}"
    )
    assert positions == sorted(positions), f"stages out of order: {dict(zip(stages, positions))}"
    assert "DQN_FAST=1" in text, "notebooks must run in fast mode under make test"


def test_ci_runs_exactly_make_test():
    """.ci/run may install what the tests need (Chromium), then runs the README's test command."""
    commands = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    assert commands[-1] == "exec make test", f".ci/run must end by calling `make test`: {commands}"
    others = " ".join(c for c in commands[:-1] if not c.startswith("echo"))
    for runner in ("pytest", "make ", "nbval", "ruff"):
        assert runner not in others, f".ci/run runs {runner!r} besides `make test`"


def test_make_lab_serves_the_notebooks_with_the_course_kernel():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^KERNEL\s*:=\s*python3$", makefile, re.M), "the name the notebooks store"
    assert re.search(r"^KERNEL_PATH\s*:=\s*\$\(CURDIR\)/\$\(VENV\)/share/jupyter$", makefile, re.M)
    recipe = _recipe("lab")
    assert "$(STAMP)" in recipe[0], "`make lab` must set up the environment first"
    text = " ".join(recipe[1:])
    for part in (
        "JUPYTER_PATH=$(KERNEL_PATH)",  # .venv's python3 kernel first, before a user's own python3
        "jupyter lab",
        "--ServerApp.root_dir=notebooks",
        "default_kernel_name=$(KERNEL)",
    ):
        assert part in text, f"`make lab` should run JupyterLab with {part}"
    env_recipe = "\n".join(_recipe("$(STAMP)"))
    assert "ipykernel install --sys-prefix --name $(KERNEL)" in env_recipe
    assert 'git config filter.nbstripout.extrakeys "$(STRIP_KEYS)"' in env_recipe


def test_this_venv_has_the_course_kernel_and_the_widget_extension():
    if (
        not (ROOT / ".venv" / ".installed").exists()
        or Path(sys.prefix).resolve() != (ROOT / ".venv").resolve()
    ):
        pytest.skip("not running in a .venv built by `make env`")
    share = Path(sys.prefix) / "share" / "jupyter"
    spec = json.loads((share / "kernels" / "python3" / "kernel.json").read_text())
    assert Path(spec["argv"][0]).resolve() == Path(sys.executable).resolve(), spec["argv"]
    assert spec["display_name"] == "DQN Course (.venv)"
    widgets = share / "labextensions" / "@jupyter-widgets" / "jupyterlab-manager" / "package.json"
    assert widgets.exists(), "JupyterLab's widget extension is missing: sliders would show as text"


def test_the_course_kernel_wins_over_a_python3_kernelspec_of_the_users_own(tmp_path):
    """A learner with a user-level python3 kernelspec (another Python) still gets .venv's kernel in
    `make lab`: its JUPYTER_PATH puts .venv's folder first. Without it, the user's kernel would win."""
    share = Path(sys.prefix) / "share" / "jupyter"
    if not (share / "kernels" / "python3" / "kernel.json").exists():
        pytest.skip("no python3 kernelspec in this environment (make env installs it)")
    home = tmp_path / "home"
    theirs = home / ".local" / "share" / "jupyter" / "kernels" / "python3"
    theirs.mkdir(parents=True)
    (theirs / "kernel.json").write_text(
        json.dumps(
            {
                "argv": ["/usr/bin/python3", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python 3 (someone else's)",
                "language": "python",
            }
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}
    env["HOME"] = str(home)

    def resolved(extra: dict[str, str]) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "jupyter", "kernelspec", "list", "--json"],
            env={**env, **extra},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return json.loads(out)["kernelspecs"]["python3"]["spec"]["display_name"]

    # jupyter_core prefers a venv's own folder by default; with that preference off (a setting some
    # learners have, and the default outside a venv) the user's kernel shadows the course's ...
    assert resolved({"JUPYTER_PREFER_ENV_PATH": "0"}) == "Python 3 (someone else's)"
    # ... unless JUPYTER_PATH names .venv's folder, as make lab does: then it wins either way
    for prefer in ("0", "1"):
        wins = {"JUPYTER_PATH": str(share), "JUPYTER_PREFER_ENV_PATH": prefer}
        assert resolved(wins) == "DQN Course (.venv)"


def _make_q_env(folder: Path) -> int:
    return subprocess.run(["make", "-q", "-C", str(folder), "env"], capture_output=True).returncode


@pytest.mark.skipif(shutil.which("make") is None, reason="GNU make not installed")
def test_env_is_not_rebuilt_unless_dependency_files_change(tmp_path):
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    (tmp_path / "requirements").mkdir()
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "requirements" / "constraints.txt").write_text("")
    (tmp_path / ".venv").mkdir()
    stamp = tmp_path / ".venv" / ".installed"
    stamp.write_text("")
    os.utime(tmp_path / "pyproject.toml", (1_000, 1_000))
    os.utime(tmp_path / "requirements" / "constraints.txt", (1_000, 1_000))
    os.utime(stamp, (2_000, 2_000))
    assert _make_q_env(tmp_path) == 0, (
        "env stamp newer than the dependency files, yet make wants to rebuild"
    )
    os.utime(tmp_path / "requirements" / "constraints.txt", (3_000, 3_000))
    assert _make_q_env(tmp_path) == 1, "constraints.txt changed but make would not reinstall"
    os.utime(stamp, (4_000, 4_000))
    os.utime(tmp_path / "pyproject.toml", (5_000, 5_000))
    assert _make_q_env(tmp_path) == 1, "pyproject.toml changed but make would not reinstall"


@pytest.mark.skipif(shutil.which("make") is None, reason="GNU make not installed")
def test_this_checkout_env_is_up_to_date():
    stamp = ROOT / ".venv" / ".installed"
    if not stamp.exists():
        pytest.skip("no .venv/.installed: this environment was not built by `make env`")
    deps = [ROOT / "pyproject.toml", ROOT / "requirements" / "constraints.txt"]
    if any(d.stat().st_mtime > stamp.stat().st_mtime for d in deps):
        pytest.skip(
            "dependency files changed since the last `make env`; the next make run reinstalls"
        )
    assert _make_q_env(ROOT) == 0


# ----------------------------------------------------------------------------- dirty / broken notebooks


def _notebook(*sources: str, outputs: list | None = None) -> dict:
    # ids "0", "1", ... are what nbstripout leaves, so the clean notebook is exactly a stripped one.
    cells = [
        {
            "cell_type": "code",
            "execution_count": None,
            "id": str(i),
            "metadata": {},
            "outputs": [],
            "source": src,
        }
        for i, src in enumerate(sources)
    ]
    if outputs is not None:
        cells[0]["outputs"] = outputs
        cells[0]["execution_count"] = 1
    return {
        "cells": cells,
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    }


def _nbstripout_verify(*paths: Path) -> int:
    return subprocess.run(
        [str(BIN / "nbstripout"), "--verify", *map(str, paths)], capture_output=True
    ).returncode


def test_nbstripout_passes_clean_notebooks_and_catches_one_with_outputs(tmp_path):
    assert NOTEBOOKS, "no notebooks found in notebooks/"
    clean = tmp_path / "clean.ipynb"
    clean.write_text(json.dumps(_notebook("x = 1")))
    dirty = tmp_path / "dirty.ipynb"
    stream = {"output_type": "stream", "name": "stdout", "text": "1\n"}
    dirty.write_text(json.dumps(_notebook("print(1)", outputs=[stream])))
    if _nbstripout_verify(clean, *NOTEBOOKS) != 0:
        dirty = [nb.name for nb in [clean, *NOTEBOOKS] if _nbstripout_verify(nb) != 0]
        pytest.fail(f"notebooks with outputs or unstripped metadata (run `make strip`): {dirty}")
    assert _nbstripout_verify(dirty) != 0, "a notebook with outputs passed nbstripout --verify"


def test_nbval_fails_on_a_raising_cell_and_passes_a_good_notebook(tmp_path):
    (tmp_path / "good.ipynb").write_text(json.dumps(_notebook("x = 2 + 2", "assert x == 4")))
    (tmp_path / "bad.ipynb").write_text(json.dumps(_notebook("x = 1", "raise ValueError('boom')")))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-v",
            "-p",
            "no:cacheprovider",
            "--nbval-lax",
            "--nbval-current-env",
            f"--rootdir={tmp_path}",
            "bad.ipynb",
            "good.ipynb",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode != 0, "nbval passed a notebook whose cell raises"
    found = re.findall(r"^(\w+)\S*::(Cell \d) (PASSED|FAILED)", proc.stdout, re.M)
    outcome = {(name, cell): result for name, cell, result in found}
    assert outcome == {
        ("bad", "Cell 0"): "PASSED",
        ("bad", "Cell 1"): "FAILED",
        ("good", "Cell 0"): "PASSED",
        ("good", "Cell 1"): "PASSED",
    }, proc.stdout
    assert "boom" in proc.stdout
    assert "1 failed, 3 passed" in proc.stdout, proc.stdout
