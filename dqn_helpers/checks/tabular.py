"""Checkers of lesson 01 (tabular Q-learning)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dqn_helpers.checks._core import (
    _number,
    checker,
    expect,
    fail,
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
    """Exercise 1.2: ``fn(q_table, s, a, r, s_next, terminated, alpha, gamma)`` updates Q[s, a] in place
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
    """Exercise 1.3: ``fn(q_values, epsilon, rng) -> int`` explores with probability epsilon and breaks
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


# ------------------------------------------------------- value iteration (exercise 1.1)


def _reference_value_iteration(
    p: np.ndarray, r: np.ndarray, terminal: np.ndarray, gamma: float, tol: float = 1e-12
) -> np.ndarray:
    """Q* by repeating the Bellman optimality backup until it stops changing (used to judge the learner's)."""
    q = np.zeros(r.shape)
    for _ in range(100_000):
        new = r + gamma * p @ np.where(terminal, 0.0, q.max(axis=1))
        if np.abs(new - q).max() < tol:
            return new
        q = new
    return q


def _value_iteration_slips(
    p: np.ndarray, r: np.ndarray, terminal: np.ndarray, gamma: float
) -> dict[str, np.ndarray]:
    """What a common slip returns on an MDP, each with the hint that names it."""

    def iterate(backup: Callable[[np.ndarray], np.ndarray], sweeps: int = 20_000) -> np.ndarray:
        q = np.zeros(r.shape)
        for _ in range(sweeps):
            new = backup(q)
            if np.abs(new - q).max() < 1e-12:
                return new
            q = new
        return q

    alive = np.where(terminal, 0.0, 1.0)
    return {
        "the backup takes the MAX over next actions, max_a' Q(s', a'), not the mean "
        "(the mean is the value of a random policy, not of the best one).": iterate(
            lambda q: r + gamma * p @ (alive * q.mean(axis=1))
        ),
        "after a terminal state there is no future: use (1 - terminal[s']) * max_a' Q(s', a'), "
        "so the value of a state where the episode ends is not added.": iterate(
            lambda q: r + gamma * p @ q.max(axis=1)
        ),
        "multiply the next state's value by gamma: Q(s, a) = r(s, a) + gamma * sum_s' p(s'|s, a) ...": (
            iterate(lambda q: r + p @ (alive * q.max(axis=1)), sweeps=200)
        ),
        "one sweep is not enough: repeat the backup until Q stops changing (max |Q_new - Q| < tol); "
        "the fixed point is Q*.": r + gamma * p @ (alive * np.zeros(r.shape[0])),
        "the backup is an EXPECTATION over next states, sum_s' p(s'|s, a) * ..., not the best next "
        "state (the agent does not choose where it slips).": iterate(
            lambda q: r + gamma * np.where(p > 0, alive * q.max(axis=1), -np.inf).max(axis=2)
        ),
    }


def _random_mdp(
    rng: np.random.Generator, n_states: int, n_actions: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A small random MDP: sparse random transitions, rewards in [-1, 1], about a quarter of the states terminal
    (their own rows are random too, so bootstrapping past a terminal state changes the answer)."""
    p = rng.random((n_states, n_actions, n_states)) * (
        rng.random((n_states, n_actions, n_states)) < 0.5
    )
    p[..., 0] += 1e-3  # no empty row
    p /= p.sum(axis=2, keepdims=True)
    r = rng.uniform(-1, 1, size=(n_states, n_actions))
    terminal = rng.random(n_states) < 0.25
    terminal[-1] = True
    return p, r, terminal


def _expect_q_star(
    q: np.ndarray, p: np.ndarray, r: np.ndarray, terminal: np.ndarray, gamma: float, hint: str
) -> None:
    """Pass if ``q`` is the MDP's Q*; else fail naming the slip it matches, or with ``hint``."""
    if np.allclose(q, _reference_value_iteration(p, r, terminal, gamma), atol=1e-5):
        return
    for slip, slipped in _value_iteration_slips(p, r, terminal, gamma).items():
        expect(not np.allclose(q, slipped, atol=1e-5), slip)
    fail(hint)


@checker
def check_value_iteration(fn: Callable[..., Any]) -> str:
    """Exercise 1.1: ``fn(p, r, terminal, gamma, tol) -> q``, the Q* of a finite MDP (p[s, a, s'] transition
    probabilities, r[s, a] expected rewards, terminal[s'] where episodes end), by value iteration or any
    method that reaches the fixed point of the Bellman optimality equation. Introduced in lesson 01."""
    # A hand case: 0 -> 1 -> 2 (the goal, terminal); action 1 moves on, action 0 stays; reward 1 on reaching 2.
    p = np.zeros((3, 2, 3))
    p[0, 0, 0] = p[0, 1, 1] = p[1, 0, 1] = p[1, 1, 2] = p[2, :, 2] = 1.0
    r = np.array([[0.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    terminal = np.array([False, False, True])
    inputs = [x.copy() for x in (p, r, terminal)]
    q = fn(p, r, terminal, 0.9, 1e-10)
    expect(
        all(np.array_equal(a, b) for a, b in zip((p, r, terminal), inputs)),
        "your function changed p, r or terminal: work on a new array for Q (e.g. q = np.zeros(r.shape)).",
    )
    q = np.asarray(q, dtype=float)
    expect(
        q.shape == (3, 2),
        f"return Q as an array of shape (n_states, n_actions) = (3, 2), one value per state and action; got "
        f"shape {q.shape}"
        + (" (that is V(s) = max_a Q(s, a): return Q itself)." if q.shape == (3,) else "."),
    )
    _expect_q_star(
        q,
        p,
        r,
        terminal,
        0.9,
        "in the chain 0 -> 1 -> 2 (reward 1 on reaching the terminal state 2, gamma = 0.9) Q* is "
        "[[0.81, 0.9], [0.9, 1.0], [0, 0]]: Q*(1, go) = 1, Q*(1, stay) = 0.9 * 1, Q*(0, go) = 0.9 * 1, "
        f"Q*(0, stay) = 0.9 * 0.9; got {np.round(q, 4).tolist()}.",
    )
    rng = np.random.default_rng(0)
    for _ in range(20):
        n_states, n_actions = int(rng.integers(2, 9)), int(rng.integers(1, 5))
        p, r, terminal = _random_mdp(rng, n_states, n_actions)
        gamma = float(rng.choice([0.5, 0.9, 0.99]))
        q = np.asarray(fn(p.copy(), r.copy(), terminal.copy(), gamma, 1e-10), dtype=float)
        expect(
            q.shape == r.shape,
            f"a random MDP with {n_states} states and {n_actions} actions: Q should have shape {r.shape}, "
            f"got {q.shape}. Use the sizes of p and r.",
        )
        residual = np.abs(r + gamma * p @ np.where(terminal, 0.0, q.max(axis=1)) - q).max()
        _expect_q_star(
            q,
            p,
            r,
            terminal,
            gamma,
            f"on a random MDP ({n_states} states, {n_actions} actions, gamma = {gamma}) one more backup "
            f"would change your Q by {residual:.3g} (0 at the fixed point). Repeat Q(s, a) = r[s, a] + "
            "gamma * sum_s' p[s, a, s'] * (1 - terminal[s']) * max_a' Q(s', a') until the largest change "
            "is below tol.",
        )
    return (
        "value_iteration reaches Q* on the hand-computed chain and on 20 random MDPs: its answer satisfies the "
        "Bellman optimality equation."
    )
