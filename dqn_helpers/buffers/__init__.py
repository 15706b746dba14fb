"""Experience replay, one module per lesson. Import the package: ``from dqn_helpers import buffers``.

- ``replay``: ``Batch`` and the uniform ``ReplayBuffer`` (lesson 03);
- ``frames``: ``FrameReplayBuffer``, Atari frame stacks with each frame stored once (lesson 06);
- ``prioritized``: ``SumTree`` and ``PrioritizedReplayBuffer`` (lesson 09);
- ``nstep``: the n-step return windows every buffer uses when ``n_step > 1`` (lesson 09);
- ``factory``: ``make_buffer``, the buffer a config asks for, and ``StreamBuffers``, one buffer per
  env of a vector env (lessons 05 and 10).

The sampling path, device hand-over and ``state_dict`` every buffer shares are in ``_base``, the
argument checks in ``_checks``. Storage is preallocated numpy on the CPU; ``sample`` hands batches
over as torch tensors on the buffer's ``device``.
"""

from dqn_helpers.buffers.factory import StreamBuffers, make_buffer
from dqn_helpers.buffers.frames import FrameReplayBuffer
from dqn_helpers.buffers.prioritized import PrioritizedReplayBuffer, SumTree
from dqn_helpers.buffers.replay import Batch, ReplayBuffer

__all__ = [
    "Batch",
    "FrameReplayBuffer",
    "PrioritizedReplayBuffer",
    "ReplayBuffer",
    "StreamBuffers",
    "SumTree",
    "make_buffer",
]
