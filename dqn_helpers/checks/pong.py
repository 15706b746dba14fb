"""Checkers of lesson 10 (the capstone: your DQN plays Pong)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from dqn_helpers.checks._core import (
    _is_number,
    _on_error,
    _seeded,
    checker,
    expect,
    fail,
)


def _close(a: float, b: float, rel: float = 1e-9) -> bool:
    return abs(a - b) <= rel * max(1.0, abs(b))


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
    """Exercise 10.7: ``fn(rewards, terminated, bootstrap_value, gamma, n)`` is the n-step TD target of one
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


@checker
def check_loop_streams(fn: Callable[..., Any]) -> str:
    """Exercise 10.6: ``fn`` is lesson 05's loop (exercise 5.3, its fast checks again) that also tells the
    buffer where an episode is cut: ``buffer.add(obs, action, reward, next_obs, terminated, truncated)``.
    Judged on CartPole cut at 10 steps, with lesson 09's n-step buffer. Introduced in lesson 10.
    """
    import copy

    import gymnasium as gym

    from dqn_helpers import buffers
    from dqn_helpers.checks._loop import SpyBuffer
    from dqn_helpers.checks.dqn import _loop_config, _mlp, check_dqn_loop

    check_dqn_loop.__wrapped__(
        fn, fast=True
    )  # lesson 05's mechanics; a failure there is reported as is
    cfg = _loop_config(
        total_steps=200, learning_starts=10_000
    )  # no updates: only the stream matters
    q_network = _seeded(lambda: _mlp(4, 8, 2), 0)
    adds: list[dict[str, Any]] = []
    n_step_buffer = buffers.ReplayBuffer(1_000, (4,), seed=0, n_step=3, gamma=0.99)  # lesson 09's
    buffer, cut = SpyBuffer(n_step_buffer, adds, batches=[]), []

    class Recorder(gym.Wrapper):
        def step(self, action: Any) -> Any:
            out = self.env.step(action)
            cut.append((bool(out[2]), bool(out[3])))
            return out

    env = Recorder(gym.make("CartPole-v1", max_episode_steps=10))
    try:
        fn(env, q_network, copy.deepcopy(q_network), buffer, cfg, None, 0)
    except ValueError as error:
        if "sequential" not in str(error) and "neither terminated nor truncated" not in str(error):
            raise
    stored = [(add["terminated"], add["truncated"]) for add in adds]
    expect(len(stored) > 0, "the loop stored nothing: call buffer.add once per env step (Step 2).")
    truncations = [i for i, (_, truncated) in enumerate(cut) if truncated]
    if any(truncated is None for _, truncated in stored):
        fail(
            "your loop calls buffer.add with five arguments, so an n-step buffer never hears that an episode was "
            "cut by its time limit, and glues the next game onto the old one's windows (it refuses: 'obs is not "
            "the previous step's next_obs'). Pass truncated as the sixth argument: buffer.add(obs, action, "
            "reward, next_obs, terminated, truncated)."
        )
    expect(
        len(stored) == len(cut),
        f"the loop stored {len(stored)} transitions in {len(cut)} env steps: call buffer.add once per step.",
    )
    for i, ((terminated, truncated), (real_terminated, real_truncated)) in enumerate(
        zip(stored, cut)
    ):
        expect(
            terminated == real_terminated,
            f"at step {i + 1} the stored terminated flag is {terminated}, env.step said {real_terminated}: the target "
            "bootstraps unless the episode really ended, so store env.step's terminated as it is.",
        )
        expect(
            truncated == real_truncated,
            f"at step {i + 1} the truncated flag passed to buffer.add is {truncated}, env.step said {real_truncated}: "
            "pass env.step's truncated as it is.",
        )
    return (
        f"your loop passes lesson 05's checks and tells the buffer where each episode ends: {len(truncations)} "
        "time-limit cuts reached lesson 09's n-step buffer as truncated, and every window stayed inside its episode."
    )
