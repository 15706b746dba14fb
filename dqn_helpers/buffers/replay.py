"""The replay buffer of lesson 03: a circular store of transitions, sampled uniformly at random.

``Batch`` is what ``sample`` hands to the update. The same class takes n-step returns
(``n_step > 1``, lesson 09) and stores the transitions of ``PrioritizedReplayBuffer``. The argument
checks live in ``_checks``; ``sample``, ``get``, the device hand-over and ``state_dict``, shared
with the other buffers, in ``_base``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import torch

from dqn_helpers.buffers import _checks
from dqn_helpers.buffers._base import _BufferBase, gather

__all__ = ["Batch", "ReplayBuffer"]


class Batch(NamedTuple):
    """A minibatch of transitions as tensors on the buffer's device. Introduced in lesson 03."""

    obs: torch.Tensor  # (B, *obs_shape), dtype as stored (float32 vectors, uint8 frames)
    actions: torch.Tensor  # (B,) int64
    rewards: torch.Tensor  # (B,) float32, n-step: discounted sum of the m <= n rewards
    next_obs: torch.Tensor  # (B, *obs_shape), n-step: the observation m steps later
    terminated: torch.Tensor  # (B,) float32, 1.0 if the episode terminated within those m steps
    indices: torch.Tensor  # (B,) int64 storage positions (for update_priorities)
    weights: torch.Tensor  # (B,) float32 importance weights (ones for uniform sampling)
    discounts: torch.Tensor  # (B,) float32 gamma**m to apply to the bootstrap value


class ReplayBuffer(_BufferBase):
    """Circular buffer of transitions in preallocated numpy arrays. Introduced in lesson 03.

    ``add`` writes one step at the oldest slot once the buffer is full; ``sample(batch_size)``
    draws slots uniformly with replacement and returns them as a ``Batch``.
    """

    def __init__(
        self,
        capacity: int,
        obs_shape: Sequence[int] | int,
        obs_dtype: Any = np.float32,
        device: str | torch.device = "cpu",
        seed: int | None = None,
        n_step: int = 1,
        gamma: float = 0.99,
    ) -> None:
        self._init_common(capacity, device, seed, n_step, gamma)  # also the rng and the sampler
        self.obs_shape = _checks.check_shape("obs_shape", obs_shape)
        self.obs_dtype = _checks.check_obs_dtype(obs_dtype)
        cap = self._capacity
        self._obs = np.zeros((cap, *self.obs_shape), dtype=self.obs_dtype)
        self._next_obs = np.zeros((cap, *self.obs_shape), dtype=self.obs_dtype)
        self._actions = np.zeros(cap, dtype=np.int64)
        self._rewards = np.zeros(cap, dtype=np.float32)
        self._terminated = np.zeros(cap, dtype=np.float32)
        self._discounts = np.zeros(cap, dtype=np.float32)  # gamma**m: gamma for one-step returns
        self._pos = 0  # next slot to write: the oldest transition once the buffer is full
        self._size = 0
        self._last_next_obs: np.ndarray | None = None  # n-step: the stream must be sequential

    def __len__(self) -> int:
        return self._size

    # add(obs, action, reward, next_obs, terminated, truncated=False), in _base, checks the step
    def _add(self, step: _checks.Step) -> None:
        """Store one environment step (n-step: store the windows it completes)."""
        if self.n_step == 1:
            self._store(step.obs, step.action, step.reward, step.next_obs, step.terminated, 1)
            return
        # n-step returns (lesson 09): this step completes the windows of up to n earlier steps
        self._nstep.check_continues(np.array_equal(step.obs, self._last_next_obs))
        done = step.terminated or step.truncated
        self._last_next_obs = None if done else step.next_obs.copy()
        for first_obs, first_action, ret, m in self._nstep.push(
            step.obs.copy(), step.action, step.reward, done
        ):
            self._store(first_obs, first_action, ret, step.next_obs, step.terminated, m)

    def _store(
        self,
        obs: np.ndarray,
        action: int,
        ret: float,
        next_obs: np.ndarray,
        terminated: bool,
        m: int,
    ) -> None:
        i = self._pos
        self._obs[i] = obs
        self._next_obs[i] = next_obs
        self._actions[i] = action
        self._rewards[i] = ret
        self._terminated[i] = float(terminated)
        self._discounts[i] = self.gamma**m
        self._sampler.on_add(i)
        self._pos = (i + 1) % self._capacity
        self._size = min(self._size + 1, self._capacity)

    # sample(batch_size) (in _base): the sampler draws slots idx, uniformly here, then
    def _collect(self, idx: np.ndarray, weights: np.ndarray) -> Batch:
        """The transitions at slots ``idx`` as a Batch (on the buffer's device)."""
        batch = Batch(
            gather(self._obs, idx),
            torch.from_numpy(self._actions[idx]),
            torch.from_numpy(self._rewards[idx]),
            gather(self._next_obs, idx),
            torch.from_numpy(self._terminated[idx]),
            torch.from_numpy(idx),
            torch.from_numpy(weights),
            torch.from_numpy(self._discounts[idx]),
        )
        return self._on_device(batch)

    # ------------------------------------------------------ storage, as _base saves and restores it
    def _filled(self) -> int:
        return self._size

    def _arrays(self) -> dict[str, np.ndarray]:
        return {
            "obs": self._obs,
            "next_obs": self._next_obs,
            "actions": self._actions,
            "rewards": self._rewards,
            "terminated": self._terminated,
            "discounts": self._discounts,
        }

    def _position_state(self) -> dict[str, Any]:
        last = self._last_next_obs
        return {
            "pos": self._pos,
            "size": self._size,
            "nstep": self._nstep.state_dict(torch.from_numpy),
            "last_next_obs": None if last is None else torch.from_numpy(last),
        }

    def _load_position(self, state: dict[str, Any]) -> None:
        self._pos, self._size = int(state["pos"]), int(state["size"])
        self._nstep.load_state_dict(state["nstep"], lambda t: _checks.to_numpy(t).copy())
        last = state["last_next_obs"]
        self._last_next_obs = None if last is None else _checks.to_numpy(last).copy()
