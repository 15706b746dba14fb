"""Every exercise of every notebook: its stub fails its checker with a hint, its solution passes.

The exercises are read from the notebooks (``nbutils.find_exercises``, STYLE.md "A notebook" item 5): a
``### Exercise N.k`` heading, a code cell tagged ``stub-N.k``, the checker call in the next code cell, a
``#### Solution`` heading and a cell tagged ``solution-N.k``. A new exercise is therefore tested without
touching this file, and one that lacks any of these parts fails here with what is missing.

Each case runs the notebook's setup cell and the stub, then the notebook's own checker call (for example
``checks.check_preprocess_frame(preprocess_frame, screens)``); a name the call needs besides the stub's
(``screens``) comes from the last earlier cell of the notebook that defines it. Then the solution cell
runs and the same call must pass. Neither call may raise or change the global RNG states. The checker
cell keeps its verdict (``ok_N_k = checks.check_x(...)``), and the solution cell hands the experiments the
learner's function when that verdict is True (``x = checks.use_passing(x, x_solution, ok_N_k)``); the
second test holds every converted lesson to that pattern.
"""

from __future__ import annotations

import ast
import builtins
import json
import types
from collections.abc import Iterator
from typing import Any

import pytest
import torch
from nbutils import NOTEBOOKS, Exercise, find_exercises, load, run_cells  # tests/ is on sys.path

EXERCISES = find_exercises()


@pytest.fixture(autouse=True)
def _keep_torch_threads() -> Iterator[None]:
    """Setup cells call torch.set_num_threads(1); do not leak that into other tests."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def _code(src: str) -> str:
    """A cell's source without IPython magics and shell lines (as ``nbutils.run_cells`` runs it)."""
    return "\n".join(line for line in src.splitlines() if not line.lstrip().startswith(("%", "!")))


def _bound_names(src: str) -> set[str]:
    """The names a cell binds (assignments, loops, imports, def, class)."""
    names: set[str] = set()
    for node in ast.parse(_code(src)).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        else:
            for sub in ast.walk(node):
                if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                    names.add(sub.id)
    return names


def _provide_inputs(exercise: Exercise, namespace: dict[str, Any]) -> None:
    """Run, for each name the checker call needs and the namespace lacks, the last code cell before the stub
    that defines it (for example the cell recording real Pong ``screens``)."""
    nb = load(exercise.notebook)
    cells = nb["cells"]
    stub = next(
        i
        for i, c in enumerate(cells)
        if f"stub-{exercise.number}" in c.get("metadata", {}).get("tags", [])
    )
    needed = {n.id for n in ast.walk(ast.parse(exercise.checker_call)) if isinstance(n, ast.Name)}
    for name in sorted(needed - set(namespace) - set(dir(builtins))):
        source = next(
            (
                "".join(c["source"])
                for c in reversed(cells[:stub])
                if c["cell_type"] == "code" and name in _bound_names("".join(c["source"]))
            ),
            None,
        )
        assert source is not None, (
            f"{exercise}: the checker call {exercise.checker_call!r} needs {name!r}, which "
            "neither the setup cell, the stub nor an earlier cell defines"
        )
        exec(
            compile(_code(source), f"<{exercise.notebook}: cell defining {name}>", "exec"),
            namespace,
        )


@pytest.mark.parametrize("exercise", EXERCISES, ids=str)
def test_stub_fails_with_a_hint_and_solution_passes(exercise, run_checker, global_rng_state):
    assert not exercise.problems, f"{exercise.notebook}, exercise {exercise.number}: " + "; ".join(
        exercise.problems
    )
    nb = load(exercise.notebook)
    namespace = run_cells(nb, "parameters", f"stub-{exercise.number}")
    _provide_inputs(exercise, namespace)
    call = compile(exercise.checker_call, f"<{exercise} checker call>", "eval")

    for part, passes, prefix in (("stub", False, "❌ Not yet. Hint: "), ("solution", True, "✅ ")):
        if passes:
            run_cells(nb, f"solution-{exercise.number}", namespace=namespace)
        before = global_rng_state()
        returned, printed = run_checker(eval, call, namespace)
        if exercise.passed_name and not passes:
            namespace[exercise.passed_name] = returned  # what the checker cell keeps
        changed = [k for k, v in global_rng_state().items() if v != before[k]]
        assert returned is passes, (
            f"{exercise.checker_call} on the {part} returned {returned!r}:\n{printed}"
        )
        assert printed.startswith(prefix) and len(printed) > len(prefix) + 10, printed
        assert not changed, (
            f"{exercise.checker_call} on the {part} changed the global RNG state of {changed}"
        )


def _a_learners_copy(solution: Any) -> Any:
    """A distinct object that behaves like ``solution``: what a learner's correct answer looks like."""
    if isinstance(solution, type):
        return type(solution.__name__, (solution,), {})
    return types.FunctionType(
        solution.__code__,
        solution.__globals__,
        solution.__name__,
        solution.__defaults__,
        solution.__closure__,
    )


@pytest.mark.parametrize("exercise", EXERCISES, ids=str)
def test_the_experiments_run_the_learners_function_when_it_passed(exercise, capsys):
    """The solution cell ends with ``x = checks.use_passing(x, x_solution, ok_N_k)``: after a failed check the
    experiments get the course's solution, after a passed one the learner's own object, and ``whose`` says so."""
    assert exercise.passed_name, (
        f"{exercise}: the checker cell must keep its verdict: ok_{exercise.number.replace('.', '_')} = "
        f"{exercise.checker_call}"
    )
    assert exercise.use_passing, (
        f"{exercise}: the solution cell must end with `x = checks.use_passing(x, x_solution, "
        f"{exercise.passed_name})`, x the stub's function or class"
    )
    yours, solution, passed = exercise.use_passing
    assert yours in exercise.stub_names and solution != yours and passed == exercise.passed_name, (
        exercise.use_passing,
        exercise.stub_names,
        exercise.passed_name,
    )
    nb = load(exercise.notebook)
    namespace = run_cells(nb, "parameters", f"stub-{exercise.number}")
    stub = namespace[yours]
    namespace[passed] = False
    run_cells(nb, f"solution-{exercise.number}", namespace=namespace)
    reference = namespace[solution]
    assert namespace[yours] is reference and namespace[yours] is not stub
    assert namespace["checks"].whose(namespace[yours]) == "the course's solution"

    learners = _a_learners_copy(reference)
    namespace[yours], namespace[passed] = learners, True
    run_cells(nb, f"solution-{exercise.number}", namespace=namespace)
    assert namespace[yours] is learners, "a passing answer must be the one the experiments run"
    assert namespace["checks"].whose(namespace[yours]) == "yours"
    assert f"Using your {yours}" in capsys.readouterr().out


# ---------------------------------------------------------------- the discovery fails loudly


def test_the_notebooks_have_exercises():
    """A safety net for the discovery itself: the course had 18 exercises when this test was written."""
    assert len(EXERCISES) >= 18, [str(e) for e in EXERCISES]


def _without(
    nb: dict[str, Any], stub_source: str = "", tag: str = "", heading: str = ""
) -> dict[str, Any]:
    """A copy of the notebook with one part of an exercise broken: the checker call after ``stub_source``'s
    cell replaced, ``tag`` removed, or the markdown ``heading`` reworded."""
    nb = json.loads(json.dumps(nb))
    cells = nb["cells"]
    for i, cell in enumerate(cells):
        tags = cell.get("metadata", {}).get("tags", [])
        if tag in tags:
            tags.remove(tag)
        if stub_source and f"stub-{stub_source}" in tags:
            cells[i + 1]["source"] = ["print('the checker call is gone')"]
        if heading and cell["cell_type"] == "markdown":
            cell["source"] = ["".join(cell["source"]).replace(heading, "### An exercise")]
    return nb


@pytest.mark.parametrize(
    ("broken", "problem"),
    [
        ({"heading": "### Exercise 2.1"}, "heading '### Exercise 2.1"),
        ({"tag": "stub-2.2"}, "tagged 'stub-2.2'"),
        ({"stub_source": "2.3"}, "must call one checker"),
        ({"tag": "solution-2.3"}, "tagged 'solution-2.3'"),
    ],
)
def test_an_exercise_missing_a_part_is_found_with_the_problem(tmp_path, broken, problem):
    (tmp_path / "02_q_networks.ipynb").write_text(
        json.dumps(_without(load("02_q_networks"), **broken))
    )
    found = {e.number: e for e in find_exercises(tmp_path)}
    assert set(found) == {"2.1", "2.2", "2.3", "2.4"}
    faulty = [e for e in found.values() if e.problems]
    assert len(faulty) == 1 and problem in "; ".join(faulty[0].problems), faulty
    assert all(
        not e.problems for e in find_exercises(NOTEBOOKS) if e.notebook == "02_q_networks.ipynb"
    )
