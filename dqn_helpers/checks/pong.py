"""Checkers of lesson 10 (the capstone: your DQN plays Pong)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from dqn_helpers.checks._core import (
    _is_number,
    _on_error,
    checker,
    expect,
    fail,
)


def _close(a: float, b: float, rel: float = 1e-9) -> bool:
    return abs(a - b) <= rel * max(1.0, abs(b))


def _hours_slip(hours: float, want_hours: float, frames: int, speed: float) -> str:
    """What a wrong number of hours most likely is, and how to fix it."""
    slips = {
        "that is minutes: divide by 3600 seconds per hour, not 60.": want_hours * 60,
        "that is seconds: divide by 3600 to get hours.": want_hours * 3600,
        "the speed is in agent steps per second: divide the agent steps by it, not the frames.": frames
        / speed
        / 3600,
    }
    return next(
        (hint for hint, value in slips.items() if _close(hours, value, 1e-6)),
        "hours = agent_steps / steps_per_second / 3600.",
    )


@checker
def check_training_budget(fn: Callable[..., Any]) -> str:
    """Exercise 10.6 (a warm-up): ``fn(frames, frame_skip, steps_per_second) -> (agent_steps, hours)``, with
    ``agent_steps = frames // frame_skip`` and ``hours = agent_steps / steps_per_second / 3600``.
    Introduced in lesson 10."""
    cases = [  # (frames, frame_skip, steps/s): papers count frames, the loop counts agent steps
        (4_000_000, 4, 400.0),
        (10_000_000, 4, 490.0),
        (200_000_000, 4, 150.0),
        (40_000, 1, 1_000.0),
        (10, 4, 0.5),
    ]
    for frames, skip, speed in cases:
        out = fn(frames, skip, speed)
        expect(
            isinstance(out, tuple | list) and len(out) == 2,
            f"return a pair (agent_steps, hours), got {out!r}.",
        )
        steps, hours = out
        want_steps = frames // skip
        want_hours = want_steps / speed / 3600
        call = f"training_budget({frames:_}, {skip}, {speed:g})"
        expect(
            isinstance(steps, int | np.integer) and not isinstance(steps, bool),
            f"{call}: agent_steps must be an int (a count of env.step calls), got {type(steps).__name__} "
            f"{steps!r}. Use floor division //.",
        )
        slip = (
            "that is the number of frames: each agent step plays frame_skip frames, so divide."
            if steps == frames
            else "divide by frame_skip, do not multiply: one agent step covers frame_skip frames."
            if steps == frames * skip
            else "agent_steps = frames // frame_skip."
        )
        expect(
            steps == want_steps,
            f"{call}: agent_steps should be {want_steps:,}, got {steps!r}. {slip}",
        )
        expect(
            isinstance(hours, int | float | np.floating) and not isinstance(hours, bool),
            f"{call}: hours must be a number, got {type(hours).__name__}.",
        )
        expect(
            _close(float(hours), want_hours),
            f"{call}: hours should be {want_hours:.6g}, got {hours!r}. "
            + _hours_slip(float(hours), want_hours, frames, speed),
        )
    return "budget arithmetic right: e.g. 10M frames = 2.5M agent steps = 1.42 h at 490 steps/s."


def _reference_n_step_target(
    rewards: Sequence[float], terminated: Sequence[bool], bootstrap: float, gamma: float, n: int
) -> float:
    """The n-step target done right: discounted rewards up to the first terminal, bootstrap only if none."""
    target = 0.0
    for k in range(n):
        target += gamma**k * float(rewards[k])
        if terminated[k]:
            return target
    return target + gamma**n * bootstrap


def _n_step_slips(
    rewards: Sequence[float], terminated: Sequence[bool], bootstrap: float, gamma: float, n: int
) -> dict[str, float]:
    """What a window's target becomes after each common slip, keyed by the hint that fixes it."""
    r = [float(x) for x in rewards[:n]]
    ends = [k for k in range(n) if terminated[k]]
    m = ends[0] + 1 if ends else n  # rewards that belong to this episode
    boot = 0.0 if ends else gamma**n * bootstrap
    return {
        "a terminal inside the window ends the episode: there is no s_{t+n} to bootstrap from, so add "
        "γⁿ·V(s_{t+n}) only when no step of the window terminated.": sum(
            gamma**k * r[k] for k in range(m)
        )
        + gamma**n * bootstrap,
        "stop summing at the first terminal: the rewards after it belong to the next episode.": sum(
            gamma**k * r[k] for k in range(n)
        )
        + boot,
        "the reward of the step that terminates counts: sum up to AND including the first terminal.": sum(
            gamma**k * r[k] for k in range(m - 1 if ends else n)
        )
        + boot,
        "the bootstrap value is n steps ahead of s_t: multiply it by γⁿ, not γⁿ⁻¹.": sum(
            gamma**k * r[k] for k in range(m)
        )
        + (0.0 if ends else gamma ** (n - 1) * bootstrap),
        "discount the k-th reward of the window by γᵏ: r_t + γ·r_{t+1} + γ²·r_{t+2} + …": sum(r[:m])
        + boot,
        "the first reward is not discounted (γ⁰ = 1): r_t + γ·r_{t+1} + …, then γⁿ·V.": sum(
            gamma ** (k + 1) * r[k] for k in range(m)
        )
        + boot,
        "with no terminal in the window, add γⁿ·V(s_{t+n}), the value of the state the window ends in.": sum(
            gamma**k * r[k] for k in range(m)
        ),
    }


@checker
def check_n_step_return(fn: Callable[..., Any]) -> str:
    """Exercise 10.7 (a warm-up): ``fn(rewards, terminated, bootstrap_value, gamma, n)`` is the n-step TD target of one
    window: Σ γᵏ r_{t+k} up to the first terminal, plus γⁿ·V(s_{t+n}) only if no step terminated.
    Introduced in lesson 10."""
    cases = [  # (what the window shows, rewards, terminated, V(s_{t+n}), gamma, n, target by hand)
        ("no terminal", [1.0, 0.0, 2.0], [False, False, False], 10.0, 0.9, 3, 9.91),
        ("a terminal at position 0", [1.0, 5.0, 5.0], [True, False, False], 10.0, 0.9, 3, 1.0),
        ("a terminal at position 1", [1.0, -1.0, 5.0], [False, True, False], 10.0, 0.9, 3, 0.1),
        ("a terminal at position 2", [0.0, 0.0, 1.0], [False, False, True], 10.0, 0.9, 3, 0.81),
        ("γ = 1, no terminal", [0.0, 0.0, 1.0], [False, False, False], 2.0, 1.0, 3, 3.0),
        ("γ = 1, terminal at position 1", [1.0, 1.0, 1.0], [False, True, False], 5.0, 1.0, 3, 2.0),
        ("n = 1, the plain DQN target", [0.5], [False], 4.0, 0.9, 1, 4.1),
    ]
    for what, rewards, terminated, boot, gamma, n, want in cases:
        call = f"n_step_target({rewards}, {terminated}, {boot:g}, {gamma:g}, {n})"
        with _on_error(f"{call} ({what}): {{error}}"):
            out = fn(list(rewards), list(terminated), boot, gamma, n)
        expect(_is_number(out), f"{call} ({what}): return one number, got {out!r}.")
        got = float(out)
        if abs(got - want) <= 1e-6:
            continue
        slips = _n_step_slips(rewards, terminated, boot, gamma, n)
        hint = next(
            (
                h
                for h, value in slips.items()
                if abs(value - want) > 1e-9 and abs(got - value) <= 1e-6
            ),
            "target = Σ_{k<m} γᵏ·r_{t+k}, where m stops at the first terminal (inclusive), plus "
            "γⁿ·V(s_{t+n}) only when no step terminated.",
        )
        fail(f"{call} ({what}) should be {want:g}, got {got:.6g}: {hint}")
    rng = np.random.default_rng(72)
    for _ in range(30):
        n = int(rng.integers(1, 6))
        rewards = rng.choice([-1.0, 0.0, 0.0, 1.0], size=n)
        terminated = rng.random(n) < 0.2
        boot, gamma = float(rng.normal(0.0, 2.0)), float(rng.uniform(0.5, 1.0))
        want = _reference_n_step_target(rewards, terminated, boot, gamma, n)
        with _on_error(f"with NumPy arrays of length {n}, {{error}}"):
            out = fn(rewards.copy(), terminated.copy(), boot, gamma, n)
        expect(
            _is_number(out) and abs(float(out) - want) <= 1e-6,
            f"a random window (rewards {rewards.tolist()}, terminated {terminated.tolist()}, V {boot:.3g}, "
            f"γ {gamma:.3g}, n {n}) should give {want:.6g}, got {out!r}. Check that it works on NumPy "
            "arrays and uses every argument.",
        )
    return (
        "n_step_target right: γᵏ-discounted rewards up to the first terminal, and γⁿ·V(s_{t+n}) only "
        "when none came (e.g. [1, 0, 2], no terminal, V = 10, γ = 0.9: 1 + 0.81·2 + 0.729·10 = 9.91)."
    )


def _pair_of_numbers(out: Any) -> tuple[float, float] | None:
    """``(float(a), float(b))`` for a pair ``out = (a, b)`` of numbers, else None."""
    return (float(out[0]), float(out[1])) if _is_number(out[0]) and _is_number(out[1]) else None


@checker
def check_points_tally(fn: Callable[..., Any]) -> str:
    """Exercise 10.8 (a warm-up): ``fn(rewards) -> (points_won, points_lost)`` from a Pong episode's raw rewards
    (+1 a point for the agent, -1 a point for the opponent, 0 otherwise). Introduced in lesson 10."""
    rng = np.random.default_rng(7)
    game = np.zeros(900)
    game[rng.choice(900, size=26, replace=False)] = [1.0] * 21 + [-1.0] * 5
    cases = [
        ([0.0, 0.0, -1.0, 0.0, 1.0, -1.0], (1, 2)),
        ([], (0, 0)),
        ([0.0] * 50, (0, 0)),
        ([-1.0] * 21, (0, 21)),
        (game, (21, 5)),
        (list(game.astype(int)), (21, 5)),
    ]
    for rewards, want in cases:
        shown = f"{len(rewards)} rewards" if len(rewards) > 8 else repr(list(rewards))
        with _on_error(f"{{error}} (input: {shown})"):
            out = fn(rewards)
        expect(
            isinstance(out, tuple | list) and len(out) == 2,
            f"return a pair (points_won, points_lost), got {out!r} for {shown}.",
        )
        got = _pair_of_numbers(out)
        expect(got is not None, f"points must be numbers, got {out!r} for {shown}.")
        slip = (
            "count the points lost as a positive number (how many the opponent scored)."
            if got == (want[0], -want[1])
            else "won and lost are swapped: +1 is a point for the agent."
            if got == (want[1], want[0])
            else "zeros are frames without a point: count only the +1 and -1 rewards."
            if len(rewards) and sum(got) == len(rewards)
            else "won = number of rewards > 0, lost = number of rewards < 0."
        )
        expect(got == want, f"for {shown} expected {want}, got {tuple(out)}. {slip}")
    return "points tally right: the score is won − lost, and a game ends when one side reaches 21."
