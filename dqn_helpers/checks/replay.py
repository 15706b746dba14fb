"""Checkers of lesson 03 (experience replay)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dqn_helpers.checks._core import (
    _is_number,
    _number,
    _on_error,
    checker,
    expect,
)


def _add_numbered(buffer: Any, numbers: range) -> None:
    """Add transition k with obs = [k, k, k], action k % 2, reward k, next_obs = k + 1, terminated k % 3 == 2."""
    for k in numbers:
        obs = np.full(3, k, dtype=np.float32)
        buffer.add(obs, k % 2, float(k), obs + 1.0, k % 3 == 2)


def _sample_fields(buffer: Any, batch_size: int) -> list[np.ndarray]:
    """Sample once and return the five fields as numpy arrays; fail with a hint if they are not right."""
    import torch

    out = buffer.sample(batch_size)
    expect(
        isinstance(out, tuple | list) and len(out) >= 5,
        f"sample must return a tuple (obs, actions, rewards, next_obs, terminated), got {type(out).__name__}"
        + (f" of length {len(out)}." if isinstance(out, tuple | list) else "."),
    )
    names = ("obs", "actions", "rewards", "next_obs", "terminated")
    shapes = ((batch_size, 3), (batch_size,), (batch_size,), (batch_size, 3), (batch_size,))
    dtypes = (torch.float32, torch.int64, torch.float32, torch.float32, torch.float32)
    for name, field, shape, dtype in zip(names, out[:5], shapes, dtypes):
        expect(
            isinstance(field, torch.Tensor),
            f"{name} came back as {type(field).__name__}; return torch tensors "
            "(torch.as_tensor(self.obs[indices]) and so on), ready for the network.",
        )
        expect(
            tuple(field.shape) == shape,
            f"with batch_size={batch_size} and obs_shape=(3,), {name} should have shape {shape}, got "
            f"{tuple(field.shape)}. Index every array with the same batch of indices: self.obs[indices].",
        )
        expect(
            field.dtype == dtype,
            f"{name} should be {dtype}, got {field.dtype}: the network wants float32 inputs and gather() "
            "wants int64 actions (check the dtypes of the storage arrays).",
        )
    return [f.detach().cpu().numpy() for f in out[:5]]


def _expect_len(buffer: Any, *, adds: int, want: int, hint: str) -> None:
    """After ``adds`` adds to a buffer of capacity 5, ``len(buffer)`` is ``want`` (else ``hint``)."""
    size = len(buffer)
    expect(
        size == want,
        f"after {adds} adds to a buffer of capacity 5, len(buffer) should be {want}, got {size}. "
        + hint,
    )


@checker
def check_replay_buffer(cls: Callable[..., Any]) -> str:
    """Exercise 3.1: a circular buffer ``cls(capacity, obs_shape, seed)`` with add, __len__ and a uniform
    random ``sample(batch_size)`` returning (obs, actions, rewards, next_obs, terminated) tensors.
    Introduced in lesson 03."""
    buffer = cls(5, (3,), seed=0)
    _add_numbered(buffer, range(1, 4))
    _expect_len(
        buffer, adds=3, want=3, hint="Grow self.size by one in add (but never past capacity)."
    )
    early = {reward for _ in range(30) for reward in _sample_fields(buffer, 2)[2].tolist()}
    expect(
        early <= {1.0, 2.0, 3.0},
        f"only 3 of 5 slots are filled, yet samples held rewards {sorted(early)}: "
        "draw indices from the filled part only, "
        "rng.integers(0, len(self), size=batch_size), never from empty slots.",
    )
    _add_numbered(buffer, range(4, 9))
    _expect_len(
        buffer,
        adds=8,
        want=5,
        hint="Cap the size (min(size + 1, capacity)) and wrap the write position with % capacity.",
    )
    seen: list[float] = []
    for _ in range(200):
        obs, actions, rewards, next_obs, terminated = _sample_fields(buffer, 4)
        expect(
            np.all(obs == rewards[:, None])
            and np.all(next_obs == rewards[:, None] + 1)
            and np.all(actions == rewards.astype(int) % 2)
            and np.all(terminated == (rewards.astype(int) % 3 == 2)),
            "the fields of a sampled row come from different transitions (e.g. the obs of one and the "
            "reward of another). Draw ONE array of indices and use it for all five arrays.",
        )
        seen += rewards.tolist()
    kept = {4.0, 5.0, 6.0, 7.0, 8.0}
    old = sorted(set(seen) - kept)
    expect(
        not old,
        f"transitions {old} should have been overwritten: with capacity 5 only the 5 newest (4..8) "
        "remain. Write at self.position and advance it with (position + 1) % capacity.",
    )
    expect(
        set(seen) == kept,
        f"800 draws from a full buffer never returned transitions "
        f"{sorted(kept - set(seen))}: sample uniformly over all {len(kept)} slots.",
    )
    counts = [seen.count(k) for k in sorted(kept)]
    expect(
        min(counts)
        >= 100,  # 800 uniform draws over 5 slots: 160 each, below 100 is far outside chance
        f"800 draws should hit each of the 5 slots about 160 times, got {counts}: sample the indices "
        "uniformly at random.",
    )
    draws = []
    for _ in range(2):
        twin = cls(50, (3,), seed=123)
        _add_numbered(twin, range(1, 51))
        draws.append(_sample_fields(twin, 16)[2].tolist())
    expect(
        draws[0] == draws[1],
        "two buffers built with the same seed sampled different transitions: use "
        "self.rng (np.random.default_rng(seed)) for the indices, not np.random or random.",
    )
    expect(
        draws[0] != sorted(draws[0]) and len(set(draws[0])) >= 8,
        f"a sample of 16 from 50 transitions came out as {draws[0]}: that is not a random minibatch (sorted "
        "or repeated). Draw independent random indices.",
    )
    return (
        "ReplayBuffer wraps at capacity, samples uniformly from the filled slots, keeps each transition's "
        "fields together and is reproducible from its seed."
    )


def _reference_autocorrelation(x: np.ndarray, lag: int) -> float:
    """Pearson correlation between x[t] and x[t + lag] (1.0 at lag 0)."""
    x = np.asarray(x, dtype=float)
    return float(np.corrcoef(x[: len(x) - lag], x[lag:])[0, 1])


@checker
def check_autocorrelation(fn: Callable[..., Any]) -> str:
    """Exercise 3.2: ``fn(x, lag) -> float``, the correlation between ``x[t]`` and ``x[t + lag]``.
    Introduced in lesson 03."""
    ramp = np.arange(20, dtype=float)
    alternating = np.array([1.0, -1.0] * 10)
    cases = [
        (
            ramp,
            1,
            1.0,
            "a straight line x = 0, 1, 2, ... is perfectly correlated with itself one step later",
        ),
        (alternating, 1, -1.0, "x = 1, -1, 1, -1, ... one step later is exactly the opposite: -1"),
        (alternating, 2, 1.0, "x = 1, -1, 1, -1, ... two steps later is the same series again: +1"),
        (
            ramp,
            0,
            1.0,
            "lag 0 compares x with itself: 1. Careful: x[:-0] is EMPTY in Python; "
            "slice with x[:len(x) - lag]",
        ),
    ]
    for x, lag, want, why in cases:
        with _on_error(f"lag 0: {why}. ({{error}})" if lag == 0 else "{error}"):
            got = fn(x.copy(), lag)
        expect(_is_number(got), f"return one float, got {got!r}.")
        value = float(got)
        expect(
            np.isfinite(value) and abs(value - want) <= 1e-6,
            f"lag {lag} on {np.round(x[:6], 1).tolist()}... should give {want}, got {value:.4g}: {why}.",
        )
    rng = np.random.default_rng(3)
    for _trial in range(5):
        noise = rng.normal(size=400)
        series = np.empty_like(noise)
        series[0] = noise[0]
        for t in range(1, len(noise)):  # AR(1): strongly correlated like CartPole states
            series[t] = 0.9 * series[t - 1] + noise[t]
        series = series * rng.uniform(0.1, 10) + rng.normal() * 5
        lag = int(rng.integers(1, 30))
        want = _reference_autocorrelation(series, lag)
        value = _number(fn(series.copy(), lag))
        expect(
            abs(value - want) <= 1e-6,
            f"on a random correlated series (400 points, lag {lag}) the correlation between x[:T - lag] and "
            f"x[lag:] is {want:.5f}, got {value:.5f}. Use the Pearson correlation of the two shifted slices, "
            "e.g. np.corrcoef(a, b)[0, 1] (each slice centred on its own mean).",
        )
    return "autocorrelation matches the hand cases (ramp, alternating, lag 0) and 5 random correlated series."
