"""Checkers of lesson 01 (tabular Q-learning)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dqn_helpers.checks._core import (
    _number,
    checker,
    expect,
)


def _reference_q_update(
    q: np.ndarray,
    s: int,
    a: int,
    r: float,
    s_next: int,
    terminated: bool,
    alpha: float,
    gamma: float,
) -> float:
    """The Q-learning update done right (used to judge the learner's version)."""
    target = r if terminated else r + gamma * q[s_next].max()
    td_error = target - q[s, a]
    q[s, a] += alpha * td_error
    return float(td_error)


_Q_UPDATE_SLIPS = {  # what Q[4, 2] becomes in the hand case after a common slip (right: 0.275)
    0.45: "you set Q[s, a] to the target: move it only a fraction alpha of the way, "
    "Q[s, a] += alpha * (target - Q[s, a]).",
    0.15125: "the target uses the MAX over next actions, max_a' Q(s', a'), not the mean.",
    0.185: "the target uses max_a' Q(s', a') (the best next action), not Q(s', a) for the action you just took.",
    0.3: "multiply the bootstrapped value by gamma: target = r + gamma * max_a' Q(s', a').",
}


@checker
def check_q_learning_update(fn: Callable[..., Any]) -> str:
    """Exercise 1.1: ``fn(q_table, s, a, r, s_next, terminated, alpha, gamma)`` updates Q[s, a] in place
    and returns the TD error. Introduced in lesson 01."""
    q = np.zeros((6, 4))
    q[5] = [0.0, 0.5, 0.3, 0.1]
    q[4, 2] = 0.1
    before = q.copy()
    out = fn(q, 4, 2, 0.0, 5, False, 0.5, 0.9)
    new = q[4, 2]
    expect(
        not np.isclose(new, 0.1),
        "Q[4, 2] did not change: update the table IN PLACE (q_table[s, a] += ...); do not copy it or only "
        "return a value."
        + (
            " (You returned the new value 0.275, so the maths is right.)"
            if np.isclose(_number(out), 0.275)
            else ""
        ),
    )
    for value, hint in _Q_UPDATE_SLIPS.items():
        expect(not np.isclose(new, value), f"{hint} (Q[4, 2] became {new:.5g}; expected 0.275.)")
    expect(
        np.isclose(new, 0.275),
        f"Q[4, 2] = 0.1, r = 0, alpha = 0.5, gamma = 0.9, Q[5] = [0, .5, .3, .1]: "
        f"target = 0 + 0.9 * 0.5 = 0.45, so Q[4, 2] should become 0.1 + 0.5 * "
        f"(0.45 - 0.1) = 0.275, got {new:.5g}.",
    )
    changed = np.argwhere(~np.isclose(q, before))
    expect(len(changed) == 1, f"only Q[s, a] may change, but entries {changed.tolist()} changed.")
    expect(
        np.isclose(_number(out), 0.35),
        f"return the TD error delta = target - Q(s, a) computed BEFORE the "
        f"update (here 0.45 - 0.1 = 0.35), got {out!r}.",
    )
    # a terminal transition: no bootstrap from s_next
    q = np.zeros((6, 4))
    q[0] = [0.8, 0.0, 0.0, 0.0]
    q[3, 0] = 0.2
    fn(q, 3, 0, 1.0, 0, True, 0.1, 0.99)
    expect(
        not np.isclose(q[3, 0], 0.2 + 0.1 * (1.0 + 0.99 * 0.8 - 0.2)),
        "when terminated is True there is no next state to bootstrap from: the target is just r "
        "(use max_a' Q(s', a') only if not terminated).",
    )
    expect(
        np.isclose(q[3, 0], 0.28),
        f"terminal case (r = 1, Q[3, 0] = 0.2, alpha = 0.1): target = 1, so "
        f"Q[3, 0] should become 0.2 + 0.1 * (1 - 0.2) = 0.28, got {q[3, 0]:.5g}.",
    )
    # random cases against the reference
    rng = np.random.default_rng(0)
    for _ in range(25):
        q = rng.normal(size=(8, 3))
        ref = q.copy()
        args = (
            int(rng.integers(8)),
            int(rng.integers(3)),
            float(rng.normal()),
            int(rng.integers(8)),
            bool(rng.random() < 0.3),
            float(rng.uniform(0.01, 1.0)),
            float(rng.uniform(0.5, 1.0)),
        )
        expected = _reference_q_update(ref, *args)
        out = fn(q, *args)
        expect(
            np.allclose(q, ref) and np.isclose(_number(out), expected),
            f"a random case (s, a, r, s', terminated, alpha, gamma) = {args} gave a different table or TD "
            "error than the reference. Check that you use every argument (negative rewards too).",
        )
    return (
        "q_learning_update matches the hand-computed values, the terminal case and 25 random cases."
    )


@checker
def check_epsilon_greedy(fn: Callable[..., Any]) -> str:
    """Exercise 1.2: ``fn(q_values, epsilon, rng) -> int`` explores with probability epsilon and breaks
    greedy ties at random, drawing all randomness from ``rng``. Introduced in lesson 01."""

    def draw(q: list[float], epsilon: float, n: int, seed: int = 0) -> list[Any]:
        rng = np.random.default_rng(seed)
        q_arr = np.asarray(q, dtype=float)
        return [fn(q_arr.copy(), epsilon, rng) for _ in range(n)]

    def frequencies(actions: list[Any]) -> np.ndarray:
        return np.bincount(np.asarray(actions, dtype=int), minlength=4) / len(actions)

    a = draw([0.1, 0.7, 0.3, 0.2], 0.0, 1)[0]
    expect(
        isinstance(a, int | np.integer) and not isinstance(a, bool),
        f"return one action as an int (e.g. int(np.argmax(...))), got {a!r} of type {type(a).__name__}.",
    )
    actions = draw([0.1, 0.7, 0.3, 0.2], 0.0, 200)
    expect(
        set(actions) == {1},
        f"with epsilon = 0 and Q = [0.1, 0.7, 0.3, 0.2] always pick action 1 (the "
        f"argmax); you picked {sorted(set(map(int, actions)))}.",
    )
    counts = frequencies(draw([0.5, 0.9, 0.9, 0.1], 0.0, 2000))
    expect(
        counts[0] + counts[3] == 0 and 0.4 < counts[1] < 0.6,
        f"with epsilon = 0 and a tie Q = [0.5, 0.9, 0.9, 0.1] pick action 1 or 2, each about half the time; "
        f"you picked them with frequencies {np.round(counts, 3).tolist()}. np.argmax always returns the "
        "FIRST best action, so a fresh all-zero Q-table would always go left: choose among "
        "np.flatnonzero(q == q.max()) with rng.choice.",
    )
    counts = frequencies(draw([0.0, 1.0, 0.0, 0.0], 1.0, 4000))
    expect(
        np.all(np.abs(counts - 0.25) <= 0.05),
        f"with epsilon = 1 every action should be equally likely (0.25 each), got "
        f"{np.round(counts, 3).tolist()}. Draw the random action uniformly from ALL actions.",
    )
    share = float(np.mean(np.asarray(draw([0.0, 0.0, 1.0, 0.0], 0.4, 4000)) == 2))
    expect(
        abs(share - 0.7) <= 0.05,
        f"with epsilon = 0.4 the greedy action should come out 0.6 + 0.4/4 = 0.7 of the time (the random "
        f"action can be the greedy one too), got {share:.3f}. Compare rng.random() < epsilon.",
    )
    first, second = (list(map(int, draw([0.2, 0.2, 0.1, 0.2], 0.5, 50, seed=7))) for _ in range(2))
    expect(
        first == second,
        "two runs with the same rng seed gave different actions: draw ALL randomness from "
        "the rng argument (rng.random(), rng.integers(), rng.choice()), not from np.random "
        "or random, so that a seed reproduces a run.",
    )
    return "epsilon_greedy explores with probability epsilon, breaks ties at random and is reproducible from its rng."
