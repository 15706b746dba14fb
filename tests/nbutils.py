"""Helpers for tests that reach into notebooks: find cells by tag and run them in a namespace.

Exercise convention (every lesson): a ``### Exercise N.k`` heading, the stub cell tagged ``stub-<N.k>``,
then the cell calling its checker (``ok_N_k = checks.check_x(...)``), a ``#### Solution`` heading and the
solution cell ``solution-<N.k>`` (plus ``hide-input``), which defines the reference under another name and
ends with ``x = checks.use_passing(x, x_solution, ok_N_k)``, so that the experiments after the exercise run
the learner's function when it passed; the setup cell is tagged ``parameters``. ``find_exercises`` reads
them all.
"""

from __future__ import annotations

import ast
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def load(name: str) -> dict[str, Any]:
    """The notebook ``notebooks/<name>`` as a dict (``name`` may omit ``.ipynb``)."""
    path = NOTEBOOKS / (name if name.endswith(".ipynb") else name + ".ipynb")
    return json.loads(path.read_text())


def cell_source(nb: dict[str, Any], tag: str) -> str:
    """The source of the one code cell carrying ``tag``; fails loudly if there is not exactly one."""
    found = [c for c in nb["cells"] if tag in c.get("metadata", {}).get("tags", [])]
    assert len(found) == 1, f"expected exactly one cell tagged {tag!r}, found {len(found)}"
    return "".join(found[0]["source"])


def run_cells(
    nb: dict[str, Any], *tags: str, namespace: dict[str, Any] | None = None, fast: bool = True
) -> dict[str, Any]:
    """Execute the cells with these tags, in order, in one namespace (fast mode by default)."""
    ns: dict[str, Any] = {} if namespace is None else namespace
    old = os.environ.get("DQN_FAST")
    os.environ["DQN_FAST"] = "1" if fast else "0"
    try:
        for tag in tags:
            src = "\n".join(
                line
                for line in cell_source(nb, tag).splitlines()
                if not line.lstrip().startswith(("%", "!"))
            )
            exec(compile(src, f"<{tag}>", "exec"), ns)
    finally:
        if old is None:
            os.environ.pop("DQN_FAST", None)
        else:
            os.environ["DQN_FAST"] = old
    return ns


# ---------------------------------------------------------------- exercises (STYLE.md, "A notebook", item 5)

EXERCISE_HEADING = re.compile(r"^###\s+Exercise\s+(\d+\.\d+)\b", re.M)
SOLUTION_HEADING = re.compile(r"^####\s+Solution\b", re.M)


@dataclass(frozen=True)
class Exercise:
    """One exercise of a notebook, as the notebook marks it.

    ``checker_call`` is the source of the ``checks.check_*(...)`` call in the cell right after the stub
    (e.g. ``"checks.check_td_target(td_target)"``) and ``passed_name`` the name that cell assigns its
    result to (``"ok_2_3"``), if any; ``stub_names`` are the functions and classes the stub defines and
    ``use_passing`` the ``(yours, solution, passed)`` names of the solution cell's last statement
    ``yours = checks.use_passing(yours, solution, passed)``, if it has one. ``problems`` lists what the
    notebook lacks (a heading, a stub, a checker call, a solution), empty when the exercise is complete.
    """

    notebook: str  # file name, e.g. "02_q_networks.ipynb"
    number: str  # "N.k"
    checker_call: str | None
    problems: tuple[str, ...]
    passed_name: str | None = None
    stub_names: tuple[str, ...] = ()
    use_passing: tuple[str, str, str] | None = None

    def __str__(self) -> str:
        return f"{self.notebook.removesuffix('.ipynb')}-{self.number}"


def _checker_calls(src: str) -> list[str]:
    """The ``checks.check_*(...)`` calls in a cell's source, as source text."""
    try:
        tree = ast.parse(
            "\n".join(line for line in src.splitlines() if not line.lstrip().startswith(("%", "!")))
        )
    except SyntaxError:
        return []
    return [
        ast.unparse(node)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "checks"
        and node.func.attr.startswith("check_")
    ]


def _parse(src: str) -> ast.Module | None:
    try:
        return ast.parse(
            "\n".join(line for line in src.splitlines() if not line.lstrip().startswith(("%", "!")))
        )
    except SyntaxError:
        return None


def _passed_name(src: str) -> str | None:
    """``ok_2_3`` in a checker cell ``ok_2_3 = checks.check_x(...)`` (None when the result is not kept)."""
    tree = _parse(src)
    for node in tree.body if tree else []:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and _checker_calls(ast.unparse(node.value))
        ):
            return node.targets[0].id
    return None


def _defined_names(src: str) -> tuple[str, ...]:
    tree = _parse(src)
    return tuple(
        node.name
        for node in (tree.body if tree else [])
        if isinstance(node, ast.FunctionDef | ast.ClassDef)
    )


def _use_passing(src: str) -> tuple[str, str, str] | None:
    """The names of a solution cell's last statement ``x = checks.use_passing(x, x_solution, ok_N_k)``."""
    tree = _parse(src)
    if not tree or not tree.body:
        return None
    last = tree.body[-1]
    if not (
        isinstance(last, ast.Assign)
        and len(last.targets) == 1
        and isinstance(last.targets[0], ast.Name)
        and isinstance(last.value, ast.Call)
        and ast.unparse(last.value.func) == "checks.use_passing"
        and len(last.value.args) == 3
        and all(isinstance(a, ast.Name) for a in last.value.args)
    ):
        return None
    yours, solution, passed = (a.id for a in last.value.args)  # type: ignore[attr-defined]
    if last.targets[0].id != yours:
        return None
    return yours, solution, passed


def _exercise(name: str, cells: list[dict[str, Any]], number: str) -> Exercise:
    """Check the cells of exercise ``number`` in order: heading, stub, checker call, #### Solution, solution."""

    def tagged(tag: str) -> list[int]:
        return [i for i, c in enumerate(cells) if tag in c.get("metadata", {}).get("tags", [])]

    problems: list[str] = []
    headings = [
        i
        for i, c in enumerate(cells)
        if c["cell_type"] == "markdown" and number in EXERCISE_HEADING.findall("".join(c["source"]))
    ]
    stubs, solutions = tagged(f"stub-{number}"), tagged(f"solution-{number}")
    if len(headings) != 1:
        problems.append(
            f"expected one markdown heading '### Exercise {number} — ...', found {len(headings)}"
        )
    if len(stubs) != 1 or cells[stubs[0]]["cell_type"] != "code":
        problems.append(f"expected one code cell tagged 'stub-{number}', found {len(stubs)}")
    if len(solutions) != 1 or cells[solutions[0]]["cell_type"] != "code":
        problems.append(
            f"expected one code cell tagged 'solution-{number}', found {len(solutions)}"
        )
    if problems:
        return Exercise(name, number, None, tuple(problems))
    heading, stub, solution = headings[0], stubs[0], solutions[0]
    after_stub = next(
        (i for i in range(stub + 1, len(cells)) if cells[i]["cell_type"] == "code"), None
    )
    calls = _checker_calls("".join(cells[after_stub]["source"])) if after_stub is not None else []
    if len(calls) != 1:
        problems.append(
            f"the code cell after 'stub-{number}' must call one checker, checks.check_*(...); "
            f"it calls {len(calls)}"
        )
    if not heading < stub < (after_stub or stub) < solution:
        problems.append("the cells must come in the order: heading, stub, checker call, solution")
    if not any(
        c["cell_type"] == "markdown" and SOLUTION_HEADING.search("".join(c["source"]))
        for c in cells[(after_stub or stub) + 1 : solution]
    ):
        problems.append(
            f"a '#### Solution' heading must come before the cell tagged 'solution-{number}'"
        )
    checker_src = "".join(cells[after_stub]["source"]) if after_stub is not None else ""
    return Exercise(
        name,
        number,
        calls[0] if len(calls) == 1 else None,
        tuple(problems),
        passed_name=_passed_name(checker_src),
        stub_names=_defined_names("".join(cells[stub]["source"])),
        use_passing=_use_passing("".join(cells[solution]["source"])),
    )


def find_exercises(notebooks: Path = NOTEBOOKS) -> list[Exercise]:
    """Every exercise of every lesson notebook, found by its heading and by its ``stub-``/``solution-`` tags
    (so an exercise missing any of its parts is found too, with its ``problems``)."""
    found = []
    for path in sorted(notebooks.glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        numbers = {
            n
            for c in cells
            if c["cell_type"] == "markdown"
            for n in EXERCISE_HEADING.findall("".join(c["source"]))
        }
        numbers |= {
            t.split("-", 1)[1]
            for c in cells
            for t in c.get("metadata", {}).get("tags", [])
            if t.startswith(("stub-", "solution-"))
        }
        in_order = sorted(
            numbers, key=lambda n: [part.zfill(4) for part in n.split(".")]
        )  # 1.2 before 1.10
        found += [_exercise(path.name, cells, n) for n in in_order]
    return found


def run_solution(
    nb: dict[str, Any], number: str, namespace: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Run exercise ``number``'s stub, then its solution cell as if the stub had failed its checker (the
    checker cell's ``ok_N_k`` set to False), so the namespace holds the course's solution under the stub's
    name. Runs the ``parameters`` cell first when no namespace is given."""
    ns = run_cells(nb, "parameters") if namespace is None else namespace
    cells = nb["cells"]
    stub = next(
        i for i, c in enumerate(cells) if f"stub-{number}" in c.get("metadata", {}).get("tags", [])
    )
    checker_cell = next(c for c in cells[stub + 1 :] if c["cell_type"] == "code")
    run_cells(nb, f"stub-{number}", namespace=ns)
    passed = _passed_name("".join(checker_cell["source"]))
    if passed:
        ns[passed] = False
    return run_cells(nb, f"solution-{number}", namespace=ns)
