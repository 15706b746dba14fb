"""What the loop checkers share (``check_dqn_step``, lesson 04; ``check_dqn_loop``, lesson 05;
``check_loop_streams``, lesson 10).

The checker hands the learner's code a ``SpyBuffer`` instead of the course ``ReplayBuffer``: it
stores and samples exactly as the buffer it wraps and notes what it was given and what it handed
out. ``expect_epsilon_followed`` judges the exploration of a run whose greedy action is rigged.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from dqn_helpers.checks._core import expect


class SpyBuffer:
    """Behaves as ``inner``; notes each stored transition in ``adds``, the last batch in ``batches``.

    Each entry of ``adds`` holds the observation, action, next observation, ``terminated`` flag and
    ``truncated`` flag (None when not passed) the learner passed (positionally or by name), and
    ``steps``: what ``clock()`` said at the time.
    """

    def __init__(
        self,
        inner: Any,
        adds: list[dict[str, Any]],
        batches: list[Any],
        clock: Callable[[], int] = lambda: 0,
    ) -> None:
        self._inner, self._adds, self._batches, self._clock = inner, adds, batches, clock
        self._signature = inspect.signature(inner.add)

    def add(self, *args: Any, **kwargs: Any) -> None:
        # the arguments by name, however they were passed (a wrong call raises TypeError here)
        given = self._signature.bind(*args, **kwargs).arguments
        self._adds.append(
            {
                "steps": self._clock(),
                "obs": np.array(given["obs"], dtype=np.float32, copy=True),
                "action": int(given["action"]),
                "next_obs": np.array(given["next_obs"], dtype=np.float32, copy=True),
                "terminated": bool(given["terminated"]),
                "truncated": None if "truncated" not in given else bool(given["truncated"]),
            }
        )
        self._inner.add(*args, **kwargs)

    def sample(self, batch_size: int) -> Any:
        self._batches[:] = [self._inner.sample(batch_size)]
        return self._batches[-1]

    def __len__(self) -> int:
        return len(self._inner)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def expect_epsilon_followed(
    played_one: np.ndarray,
    epsilon: np.ndarray,
    windows: int,
    hint: Callable[[int, int, float, float], str],
) -> None:
    """Action 1 played about ε/2 of the time in each of ``windows`` stretches of steps.

    For a run whose network always prefers action 0 (of 2): only a random action plays 1, so
    ``played_one[t]`` happens with probability ε_t / 2. Each stretch's share must lie within 5
    standard errors (+0.02) of its mean ε_t / 2; else ``hint(first, last, got, want)`` is shown,
    with the random-action rates ``got`` (measured) and ``want`` (the schedule's mean ε).
    """
    for window in np.array_split(np.arange(len(epsilon)), windows):
        got, mean = played_one[window].mean(), epsilon[window].mean() / 2
        sd = np.sqrt(max(mean * (1 - mean), 0.01) / len(window))
        expect(abs(got - mean) < 5 * sd + 0.02, hint(window[0], window[-1], 2 * got, 2 * mean))
