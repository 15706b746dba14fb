"""What training builds from a config: ``make_buffer`` (lesson 05) and ``StreamBuffers`` (lesson 10).

``make_buffer`` picks the buffer a config asks for (frames or vectors, uniform or prioritized,
n-step); ``StreamBuffers`` keeps one buffer per environment of a vector env and samples them as one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from dqn_helpers.buffers import _checks
from dqn_helpers.buffers.frames import FrameReplayBuffer
from dqn_helpers.buffers.prioritized import PrioritizedReplayBuffer, PrioritizedSampler
from dqn_helpers.buffers.replay import ReplayBuffer

__all__ = ["StreamBuffers", "make_buffer"]


class StreamBuffers:
    """One replay buffer per environment of a vector env, sampled as one (lesson 10, num_envs > 1).

    ``training.train`` uses it when ``config.num_envs > 1``.

    Each buffer holds one sequential stream (n-step windows and frame stacks never mix envs). A
    batch takes an equal share from every buffer: uniform over all transitions, since the envs
    step in lockstep and the buffers fill equally. With PER, priorities are per buffer.
    """

    def __init__(self, parts: list[Any]) -> None:
        self.parts = parts
        self.sizes: list[int] = []

    def __len__(self) -> int:
        return min(len(b) for b in self.parts) * len(self.parts)

    def sample(self, batch_size: int) -> Any:
        n = len(self.parts)
        self.sizes = [batch_size // n + (i < batch_size % n) for i in range(n)]
        batches = [b.sample(k) for b, k in zip(self.parts, self.sizes) if k > 0]
        return type(batches[0])(*(torch.cat(field) for field in zip(*batches)))

    def update_priorities(self, indices: torch.Tensor, td_errors: torch.Tensor) -> None:
        sizes = [k for k in self.sizes if k > 0]
        for b, idx, td in zip(self.parts, indices.split(sizes), td_errors.split(sizes)):
            b.update_priorities(idx, td)

    @property
    def beta(self) -> float:
        return self.parts[0].beta

    @beta.setter
    def beta(self, value: float) -> None:
        for b in self.parts:
            b.beta = value

    def state_dict(self) -> None:
        """Not stored: a run with several envs refills its buffers on resume."""
        return None


def make_buffer(
    capacity: int,
    obs_shape: Sequence[int] | int,
    obs_dtype: Any = np.float32,
    *,
    frames: bool = False,
    prioritized: bool = False,
    alpha: float = 0.6,
    beta: float = 0.4,
    n_step: int = 1,
    gamma: float = 0.99,
    device: str | torch.device = "cpu",
    seed: int | None = None,
) -> ReplayBuffer | FrameReplayBuffer:
    """The buffer a config asks for: frames or vectors, uniform or prioritized. Used by training."""
    if frames:
        shape = _checks.check_shape("obs_shape", obs_shape)
        if np.dtype(obs_dtype) != np.uint8 or len(shape) < 2:
            raise ValueError(
                "frames=True needs stacked uint8 frames, obs_shape like (4, 84, 84) and "
                f"obs_dtype=np.uint8; got obs_shape={shape}, obs_dtype={np.dtype(obs_dtype)}. "
                "Use frames=False for vector observations."
            )
        return FrameReplayBuffer(
            capacity,
            frame_shape=shape[1:],
            stack=shape[0],
            device=device,
            seed=seed,
            n_step=n_step,
            gamma=gamma,
            prioritized=prioritized,
            alpha=alpha,
            beta=beta,
        )
    PrioritizedSampler(1, alpha, beta, 1e-6)  # validate alpha and beta in every case
    if prioritized:
        return PrioritizedReplayBuffer(
            capacity, obs_shape, obs_dtype, alpha, beta, device, seed, n_step, gamma
        )
    return ReplayBuffer(capacity, obs_shape, obs_dtype, device, seed, n_step, gamma)
