"""The exercise checkers as a whole: their public API, their report format, that they never raise into a
notebook whatever the learner's code does, and that they leave the learner's global RNG states alone.

Each checker's own hints are tested in its lesson's test file; stub and solution in test_exercises.py.
"""

from __future__ import annotations

import inspect
import random
import re

import numpy as np
import pytest
import torch
from nbutils import NOTEBOOKS, find_exercises

from dqn_helpers import checks

CHECKERS = [name for name in checks.__all__ if name.startswith("check_")]
# Arguments a checker takes after the learner's function: real-looking Atari screens for preprocess_frame.
EXTRA_ARGS = {"check_preprocess_frame": ([np.zeros((210, 160, 3), np.uint8)],)}
HINT = "❌ Not yet. Hint: "


def _call(name: str, learner_code) -> bool:
    return getattr(checks, name)(learner_code, *EXTRA_ARGS.get(name, ()))


# ---------------------------------------------------------------- the public API


def test_all_lists_the_checkers_and_the_helpers_to_write_one():
    assert all(hasattr(checks, name) for name in checks.__all__)
    assert {n for n in dir(checks) if n.startswith("check_")} == set(CHECKERS)
    assert {"checker", "expect", "fail"} <= set(checks.__all__)
    assert not {"np", "report"} & set(checks.__all__)
    used = {
        m for p in NOTEBOOKS.glob("*.ipynb") for m in re.findall(r"\bchecks\.(\w+)", p.read_text())
    }
    assert used and used <= set(checks.__all__), used - set(checks.__all__)


def test_every_checker_is_the_checker_of_a_notebook_exercise():
    """So test_exercises.py runs each one on a stub and a solution (and checks the RNG states there)."""
    called = {
        e.checker_call.split("(")[0].removeprefix("checks.")
        for e in find_exercises()
        if e.checker_call
    }
    assert called == set(CHECKERS)


@pytest.mark.parametrize("name", CHECKERS)
def test_checkers_keep_their_signature_and_docstring(name):
    fn = getattr(checks, name)
    signature = inspect.signature(fn)
    expected = {
        "check_replay_buffer": ["cls"],
        "check_preprocess_frame": ["fn", "frames"],
        "check_dqn_loop": ["fn", "fast"],  # fast: skip the learning run (fast mode)
    }.get(name, ["fn"])
    assert list(signature.parameters) == expected
    assert signature.return_annotation == "bool"
    assert fn.__name__ == name and "exercise" in fn.__doc__.lower()


# ---------------------------------------------------------------- never raises, always reports


@pytest.mark.parametrize("name", CHECKERS)
def test_an_exception_in_the_learners_code_is_a_failure_naming_it(name, run_checker):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    passed, printed = run_checker(_call, name, broken)
    assert passed is False
    assert (
        printed.startswith(HINT) and "RuntimeError: boom" in printed and printed.count("\n") == 1
    ), printed


@pytest.mark.parametrize(
    "odd",
    [None, "oops", float("nan"), (1, 2, 3), np.ones(3), torch.ones(7)],
    ids=["None", "str", "nan", "tuple", "array", "tensor"],
)
@pytest.mark.parametrize("name", CHECKERS)
def test_whatever_the_learners_code_returns_the_checker_reports_instead_of_raising(
    name, odd, run_checker
):
    passed, printed = run_checker(_call, name, lambda *args, **kwargs: odd)
    assert passed is False
    assert printed.startswith(HINT) and len(printed) > len(HINT) + 10, printed


@pytest.mark.parametrize("name", CHECKERS)
def test_learner_code_that_draws_from_the_global_rngs_leaves_them_as_they_were(
    name, run_checker, global_rng_state
):
    def draws_everywhere(*args, **kwargs):
        (
            random.random(),
            np.random.random(),
            torch.rand(1),
        )  # the learner's business, not the checker's
        return None

    before = global_rng_state()
    passed, _ = run_checker(_call, name, draws_everywhere)
    assert passed is False
    after = global_rng_state()
    assert [k for k in before if after[k] != before[k]] == []


def test_a_stub_that_still_raises_not_implemented_gets_the_stub_hint(run_checker):
    def stub(*args):
        raise NotImplementedError("write the linear schedule")

    passed, printed = run_checker(checks.check_linear_epsilon, stub)
    assert passed is False
    assert (
        printed
        == HINT
        + "the function still raises NotImplementedError: replace the stub's body with your code.\n"
    )


# ---------------------------------------------------------------- writing a checker


@checks.checker
def check_positive(x: float) -> str:
    """A toy checker: x must be a positive number."""
    checks.expect(x == x, "x is NaN.")
    if x == 0:
        checks.fail("x is zero: make it positive.")
    checks.expect(x > 0, f"x = {x} is negative: make it positive.")
    return f"{x} is positive."


@pytest.mark.parametrize(
    ("x", "passed", "line"),
    [
        (2, True, "✅ 2 is positive."),
        (-1, False, HINT + "x = -1 is negative: make it positive."),
        (0, False, HINT + "x is zero: make it positive."),
        (float("nan"), False, HINT + "x is NaN."),
    ],
)
def test_checker_turns_expectations_into_one_printed_line_and_a_bool(x, passed, line, run_checker):
    returned, printed = run_checker(check_positive, x)
    assert returned is passed and printed == line + "\n"


def test_checker_reports_an_exception_with_its_type_message_and_line(run_checker):
    passed, printed = run_checker(check_positive, "three")
    assert passed is False
    assert printed.startswith(HINT + "your code raised TypeError: '>' not supported"), printed
    assert "(at: " in printed


def test_checker_keeps_the_name_docstring_and_parameters():
    assert check_positive.__name__ == "check_positive" and "toy checker" in check_positive.__doc__
    signature = inspect.signature(check_positive)
    assert list(signature.parameters) == ["x"] and signature.return_annotation == "bool"
    assert check_positive(1) is True


def test_use_passing_keeps_the_learners_function_when_it_passed(capsys):
    def yours(x):
        return x + 1

    def solution(x):
        return x + 1

    assert checks.use_passing(yours, solution, passed=True) is yours
    assert checks.whose(yours) == "yours"
    assert "Using your yours" in capsys.readouterr().out
    assert checks.use_passing(yours, solution, passed=False) is solution
    assert checks.whose(solution) == "the course's solution"
    assert "course's solution" in capsys.readouterr().out
    assert checks.whose(print).startswith("unknown")
