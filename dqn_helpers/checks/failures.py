"""Checkers of lesson 11 (failure modes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dqn_helpers.checks._core import (
    _is_number,
    _on_error,
    checker,
    expect,
)


@checker
def check_first_impossible_q(fn: Callable[..., Any]) -> str:
    """Exercise 11.1: ``fn(mean_max_q, reward_max, gamma)`` -> the index of the first episode whose
    mean max-Q is above r_max/(1 − γ), or None; NaN entries (no update) are skipped. Lesson 11."""
    cases = [
        ("values that stay below 100", [1.0, 50.0, 99.0], 1.0, 0.99, None),
        ("the third episode passes 100", [1.0, 50.0, 150.0, 80.0], 1.0, 0.99, 2),
        ("exactly the bound (γ 0.5: 2) is possible, not above it", [2.0, 2.0], 1.0, 0.5, None),
        ("NaN rows before learning", [float("nan"), float("nan"), 30.0, 120.0], 1.0, 0.99, 3),
        ("r_max 2, γ 0.9: the bound is 20", [5.0, 19.0, 21.0], 2.0, 0.9, 2),
        ("r_max 1, γ 0.5: the bound is 2", [1.5, 2.5], 1.0, 0.5, 1),
        ("γ = 1: no finite bound", [1e6, 1e9], 1.0, 1.0, None),
        ("an empty log", [], 1.0, 0.99, None),
    ]
    for what, q, r_max, gamma, want in cases:
        call = f"fn({q}, reward_max={r_max:g}, gamma={gamma:g})"
        for kind, values in (("a list", list(q)), ("a NumPy array", np.array(q, dtype=float))):
            with _on_error(f"{call} with {kind} ({what}): {{error}}"):
                out = fn(values, r_max, gamma)
            slip = (
                " Compare with the bound r_max / (1 − γ), not with r_max."
                if out is not None and out == next((i for i, v in enumerate(q) if v > r_max), None)
                else " Return the position in the list (counting from 0), not the value."
                if want is not None and out == q[want]
                else ""
            )
            if want is None:
                expect(out is None, f"{call} ({what}) should be None, got {out!r}.{slip}")
                continue
            expect(
                out is not None and _is_number(out) and int(out) == want,
                f"{call} ({what}) should be {want}, got {out!r}.{slip}",
            )
    return (
        "first_impossible_q right: a state can be worth at most r_max / (1 − γ) (100 for CartPole "
        "at γ = 0.99), so a mean max-Q above it is a fact about the network, not about the task."
    )


@checker
def check_collapse_detector(fn: Callable[..., Any]) -> str:
    """Exercise 11.2: ``fn(eval_returns, keep=0.5)`` -> True when the greedy evaluations learned (the
    best is at least twice the first) and the last two are below first + keep·(best − first). Lesson 11."""
    cases = [
        ("learned and held", [10, 200, 500, 480, 490], 0.5, False),
        ("learned, then fell and stayed down", [10, 200, 500, 100, 90], 0.5, True),
        ("fell once, then recovered", [10, 500, 100, 400], 0.5, False),
        ("only the last one fell", [10, 500, 480, 100], 0.5, False),
        ("never learned (best < 2 × first)", [100, 150, 120, 20, 10], 0.5, False),
        ("the best is the last evaluation", [10, 100, 300, 500], 0.5, False),
        ("keep = 0.9: the line is at 451", [10, 500, 460, 450, 440], 0.9, True),
        ("keep = 0.9, still above 451", [10, 500, 460, 470, 455], 0.9, False),
        ("too short to judge", [10, 500], 0.5, False),
        ("no evaluations", [], 0.5, False),
    ]
    for what, evals, keep, want in cases:
        call = f"fn({evals}, keep={keep:g})"
        for kind, values in (("a list", list(evals)), ("a NumPy array", np.array(evals, float))):
            with _on_error(f"{call} with {kind} ({what}): {{error}}"):
                out = fn(values, keep)
            expect(
                isinstance(out, bool | np.bool_),
                f"{call}: return True or False, got {out!r} ({type(out).__name__}).",
            )
            hint = {
                "fell once, then recovered": " A run that came back is not collapsed: both of the "
                "last two evaluations must be below the line.",
                "only the last one fell": " One low evaluation can be bad luck: ask for the last two.",
                "never learned (best < 2 × first)": " A run that never learned cannot forget: "
                "require best >= 2 × first.",
                "the best is the last evaluation": " The fall must come after the best.",
            }.get(what, " The line is first + keep × (best − first).")
            expect(bool(out) == want, f"{call} ({what}) should be {want}, got {out}.{hint}")
    return (
        "collapse detector right: a run collapsed when it learned (best ≥ 2 × first) and its last "
        "two evaluations sit below first + keep·(best − first); diagnose's return_collapse is the same "
        "rule, measured from the first episodes' return."
    )
