"""n-step returns: the open windows of the current episode (lesson 09).

A buffer built with ``n_step > 1`` stores, for each step t, the discounted sum of the next
m <= n rewards ``r_t + γ r_{t+1} + ... + γ^{m-1} r_{t+m-1}`` and the observation m steps later;
m < n only where the episode ended first. ``NStepWindows`` holds the steps still waiting for their
n rewards and hands back each window as it completes.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from dqn_helpers.buffers import _checks

__all__ = ["NStepWindows"]


class NStepWindows:
    """Open n-step windows of the current episode (lesson 09: n-step returns).

    Each pending step is (key, action, reward); `key` is whatever the buffer needs to find
    that step's observation (a copy of it, or a frame position).
    """

    def __init__(self, n_step: int, gamma: float) -> None:
        self.n_step = n_step
        self.gamma = gamma
        self.pending: deque[tuple[Any, int, float]] = deque()

    def check_continues(self, continues: bool) -> None:
        """Refuse a step that does not follow the previous one while windows are still open."""
        if self.pending and not continues:
            raise _checks.not_sequential()

    def push(
        self, key: Any, action: int, reward: float, done: bool
    ) -> list[tuple[Any, int, float, int]]:
        """Add one step; return the finished windows as (key, action, n-step return, m)."""
        self.pending.append((key, action, reward))
        if done:  # flush every open window: m = n, n-1, ..., 1 steps
            steps = list(self.pending)
            self.pending.clear()
            return [self._window(steps[i:]) for i in range(len(steps))]
        if len(self.pending) == self.n_step:
            window = self._window(list(self.pending))
            self.pending.popleft()
            return [window]
        return []

    def _window(self, steps: list[tuple[Any, int, float]]) -> tuple[Any, int, float, int]:
        ret = sum(self.gamma**k * r for k, (_, _, r) in enumerate(steps))
        return steps[0][0], steps[0][1], ret, len(steps)

    def state_dict(self, key_to_state: Any = None) -> dict[str, Any]:
        keys = [key_to_state(k) if key_to_state else k for k, _, _ in self.pending]
        return {
            "keys": keys,
            "actions": [a for _, a, _ in self.pending],
            "rewards": [r for _, _, r in self.pending],
        }

    def load_state_dict(self, state: dict[str, Any], state_to_key: Any = None) -> None:
        self.pending = deque(
            (state_to_key(k) if state_to_key else k, int(a), float(r))
            for k, a, r in zip(state["keys"], state["actions"], state["rewards"], strict=True)
        )
