"""Replay for Atari (lesson 06): frame-stacked observations with each 84x84 frame stored once.

A stack of 4 frames shares 3 of them with the next stack; storing stacks would keep every frame
4 times (8 with next_obs). ``FrameReplayBuffer`` keeps one slot per frame and rebuilds the stacks
when it samples. It takes n-step returns and prioritized sampling too (lesson 09).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from dqn_helpers.buffers import _checks
from dqn_helpers.buffers._base import _BufferBase, gather
from dqn_helpers.buffers.prioritized import PrioritizedSampler
from dqn_helpers.buffers.replay import Batch

__all__ = ["FrameReplayBuffer"]


class FrameReplayBuffer(_BufferBase):
    """Replay for frame-stacked Atari observations that stores each frame once. Lesson 06.

    One slot per frame. Slot t holds the newest frame of some observation and, if a transition
    starts from that observation, its action/reward/flags. `back[t]` counts how many earlier frames
    of the same episode precede it (capped at stack-1): stacks are rebuilt by clamping to the
    episode's first stored frame, which reproduces FrameStackObservation's padding exactly and
    never mixes episodes. At an episode start the initial stack is stored without its repeated
    leading frames ("reset" padding costs no extra slot, "zero" padding one).
    """

    def __init__(
        self,
        capacity: int,
        frame_shape: Sequence[int] = (84, 84),
        stack: int = 4,
        device: str | torch.device = "cpu",
        seed: int | None = None,
        n_step: int = 1,
        gamma: float = 0.99,
        prioritized: bool = False,
        alpha: float = 0.6,
        beta: float = 0.4,
        eps: float = 1e-6,
    ) -> None:
        self._init_common(capacity, device, seed, n_step, gamma)
        self.stack = _checks.check_int("stack", stack, 1, " Atari DQN stacks 4 frames.")
        if self.stack > 255:
            raise ValueError(f"stack must be at most 255 frames, got {self.stack}.")
        self.frame_shape = _checks.check_shape("frame_shape", frame_shape)
        if self._capacity < self.stack + self.n_step:
            raise ValueError(
                f"capacity must be at least stack + n_step = {self.stack + self.n_step} frames for "
                f"FrameReplayBuffer, got {self._capacity}."
            )
        if not isinstance(prioritized, (bool, np.bool_)):
            raise TypeError(f"prioritized must be True or False, got {prioritized!r}.")
        per = PrioritizedSampler(self._capacity if prioritized else 1, alpha, beta, eps)
        if prioritized:  # same sampler code as PrioritizedReplayBuffer, one slot per frame
            self._sampler = per
        self.obs_shape = (self.stack, *self.frame_shape)
        self.obs_dtype = np.dtype(np.uint8)
        self._dtype_hint = _checks.FRAME_DTYPE_HINT
        cap = self._capacity
        self._frames = np.zeros((cap, *self.frame_shape), dtype=np.uint8)
        self._back = np.zeros(cap, dtype=np.uint8)  # earlier frames of the episode, capped
        self._valid = np.zeros(cap, dtype=bool)  # slot starts a stored transition
        self._actions = np.zeros(cap, dtype=np.int64)
        self._rewards = np.zeros(cap, dtype=np.float32)
        self._terminated = np.zeros(cap, dtype=np.float32)
        self._steps = np.zeros(cap, dtype=np.int32)  # m: next_obs's newest frame is m slots later
        self._last_next = np.zeros(self.obs_shape, dtype=np.uint8)  # to detect continuation
        self._written = 0  # frames written so far; frame a lives in slot a % capacity
        self._n_valid = 0
        self._episode_open = False
        self._frames_back = np.arange(self.stack - 1, -1, -1)  # oldest frame first
        # row b: how far each of the stack + n_step frames of a sampling window lies before the
        # window's newest frame, for a transition whose obs has b earlier frames in its episode
        window_back = np.arange(self.stack + self.n_step - 1, -1, -1)
        earlier = np.arange(self.stack)[:, None] + self.n_step
        self._window_offsets = np.minimum(window_back, earlier)  # (stack, stack + n_step)
        self._discount_table = (self.gamma ** np.arange(self.n_step + 1)).astype(np.float32)

    def __len__(self) -> int:
        return self._n_valid

    def _filled(self) -> int:
        return min(self._written, self._capacity)

    def _valid_mask(self) -> np.ndarray:
        return self._valid

    def _arrays(self) -> dict[str, np.ndarray]:
        return {
            "frames": self._frames,
            "back": self._back,
            "valid": self._valid,
            "actions": self._actions,
            "rewards": self._rewards,
            "terminated": self._terminated,
            "steps": self._steps,
        }

    @property
    def nbytes(self) -> int:
        """Real bytes of the preallocated storage (frames, bookkeeping and sum tree)."""
        return super().nbytes + int(self._last_next.nbytes)

    # add(obs, action, reward, next_obs, terminated, truncated=False), in _base, checks the step
    def _add(self, step: _checks.Step) -> None:
        """Store one step of stacked uint8 observations (stack, H, W), newest frame last."""
        obs, action, reward, next_obs, terminated, truncated = step
        if not _same(next_obs[:-1], obs[1:]):
            raise ValueError(
                "next_obs must be obs shifted by one frame (next_obs[:-1] == obs[1:]), as a "
                "frame-stacking wrapper emits it, newest frame last. These two stacks differ in "
                "their shared frames: are they from consecutive steps of one frame-stacked env?"
            )
        continues = self._episode_open and _same(obs, self._last_next)
        self._nstep.check_continues(continues)
        if not continues:  # new episode: store the initial stack without its repeated lead
            lead = 0
            while lead < self.stack - 1 and np.array_equal(obs[lead], obs[lead + 1]):
                lead += 1
            for k, frame in enumerate(obs[lead:]):
                self._write_frame(frame, min(k, self.stack - 1))
        t = self._written - 1  # frame number of obs's newest frame
        self._write_frame(
            next_obs[-1], min(int(self._back[t % self._capacity]) + 1, self.stack - 1)
        )
        done = terminated or truncated
        self._episode_open = not done
        self._last_next[...] = next_obs
        if self.n_step == 1:
            self._commit(t, action, reward, terminated, 1)
            return
        for first, first_action, ret, m in self._nstep.push(t, action, reward, done):
            self._commit(first, first_action, ret, terminated, m)

    def _write_frame(self, frame: np.ndarray, back: int) -> None:
        a, cap = self._written, self._capacity
        slot = a % cap
        if a >= cap:  # frame a - cap is overwritten: drop its transition and stacks that need it
            drop = [slot] if self._valid[slot] else []
            for k in range(1, self.stack):
                s = (a - cap + k) % cap
                if self._valid[s] and self._back[s] >= k:
                    drop.append(s)
            if drop:
                self._valid[drop] = False
                self._n_valid -= len(drop)
                self._sampler.on_remove(drop)
        self._frames[slot] = frame
        self._back[slot] = back
        self._written = a + 1

    def _commit(self, t: int, action: int, ret: float, terminated: bool, m: int) -> None:
        slot = t % self._capacity
        self._actions[slot] = action
        self._rewards[slot] = ret
        self._terminated[slot] = float(terminated)
        self._steps[slot] = m
        self._valid[slot] = True
        self._n_valid += 1
        self._sampler.on_add(slot)

    def _collect(self, idx: np.ndarray, weights: np.ndarray) -> Batch:
        """Rebuild the stacks of the transitions at slots `idx` with one vectorised frame gather.

        When every sampled transition spans m = n_step steps (always for n_step=1), obs and
        next_obs are the two ends of one window of stack + m consecutive frames: it is gathered
        once and both are views of it (obs = window[:, :stack], next_obs = window[:, m:]).
        """
        back = self._back[idx]
        steps = self._steps[idx]
        m = self.n_step
        if m == 1 or (steps == m).all():
            # window frame j sits min(stack+m-1-j, back+m) slots before next_obs's newest frame
            slots = (idx + m)[:, None] - self._window_offsets[back]
            slots %= self._capacity
            window = gather(self._frames, slots, pin=self.device.type == "cuda")
            window = self._to_device(window)  # one upload; the two views are cut on the device
            obs, next_obs = window[:, : self.stack], window[:, m:]
        else:  # a batch with a shortened episode-end window (m < n): two separate stacks
            back = back[:, None]
            slots = np.empty((2, idx.size, self.stack), dtype=np.int64)
            # frame k of a stack sits min(stack-1-k, back) slots before its newest frame
            np.subtract(idx[:, None], np.minimum(self._frames_back, back), out=slots[0])
            np.minimum(back + steps[:, None], self.stack - 1, out=slots[1])  # next_obs's back
            np.subtract(
                (idx + steps)[:, None], np.minimum(self._frames_back, slots[1]), out=slots[1]
            )
            slots %= self._capacity
            stacks = self._to_device(gather(self._frames, slots, pin=self.device.type == "cuda"))
            obs, next_obs = stacks[0], stacks[1]  # (B, stack, H, W) each
        batch = Batch(
            obs,
            torch.from_numpy(self._actions[idx]),
            torch.from_numpy(self._rewards[idx]),
            next_obs,
            torch.from_numpy(self._terminated[idx]),
            torch.from_numpy(idx),
            torch.from_numpy(weights),
            torch.from_numpy(self._discount_table[steps]),
        )
        return self._on_device(batch)

    def _position_state(self) -> dict[str, Any]:
        return {
            "written": self._written,
            "n_valid": self._n_valid,
            "episode_open": self._episode_open,
            "last_next": torch.from_numpy(self._last_next),
            "nstep": self._nstep.state_dict(),
        }

    def _load_position(self, state: dict[str, Any]) -> None:
        self._last_next[...] = _checks.to_numpy(state["last_next"])
        self._written, self._n_valid = int(state["written"]), int(state["n_valid"])
        self._episode_open = bool(state["episode_open"])
        self._nstep.load_state_dict(state["nstep"], int)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """Exact equality of two arrays of the same shape and dtype: one memcmp, no bool array."""
    return a.tobytes() == b.tobytes()
