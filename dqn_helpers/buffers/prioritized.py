"""Prioritized replay (lesson 09): a sum tree, and sampling P(i) ~ p_i^alpha.

``SumTree`` finds the transition where the running sum of priorities passes a random value, in
O(log n) for a whole batch at once. ``PrioritizedSampler`` draws a stratified batch from it with
importance weights and turns TD errors into priorities; ``PrioritizedReplayBuffer`` is the lesson 03
``ReplayBuffer`` with this sampler, and ``FrameReplayBuffer(prioritized=True)`` uses it for frames.
n-step returns, the other half of lesson 09, are in ``nstep``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from dqn_helpers.buffers import _checks
from dqn_helpers.buffers._base import Slots
from dqn_helpers.buffers.replay import ReplayBuffer

__all__ = ["PrioritizedReplayBuffer", "PrioritizedSampler", "SumTree"]


class SumTree:
    """Binary tree whose leaves hold priorities and whose inner nodes hold sums of their children.

    Proportional sampling in O(log n), vectorised over a batch. Introduced in lesson 09.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = _checks.check_capacity(capacity)
        self._n_leaves = 1 << (self.capacity - 1).bit_length()  # power of two >= capacity
        self._depth = self._n_leaves.bit_length() - 1
        self._tree = np.zeros(2 * self._n_leaves, dtype=np.float64)  # root at 1, leaves at the end

    def __len__(self) -> int:
        return self.capacity

    @property
    def total(self) -> float:
        """Sum of all priorities."""
        return float(self._tree[1])

    @property
    def nbytes(self) -> int:
        """Bytes held by the tree array."""
        return int(self._tree.nbytes)

    @property
    def priorities(self) -> np.ndarray:
        """A copy of the leaf priorities, shape (capacity,)."""
        return self._tree[self._n_leaves : self._n_leaves + self.capacity].copy()

    def _leaf_positions(self, indices: Any) -> np.ndarray:
        idx = np.asarray(_checks.to_numpy(indices), dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < 0 or idx.max() >= self.capacity):
            raise IndexError(
                f"SumTree indices must be in [0, {self.capacity - 1}], got values from "
                f"{idx.min()} to {idx.max()}."
            )
        return idx + self._n_leaves

    def get(self, indices: Any) -> np.ndarray:
        """Priorities stored at `indices`."""
        return self._tree[self._leaf_positions(indices)]

    def update(self, indices: Any, priorities: Any) -> None:
        """Set the priorities at `indices` (array or scalar) and refresh the sums above them."""
        pos = self._leaf_positions(indices)
        values = np.broadcast_to(
            np.asarray(_checks.to_numpy(priorities), dtype=np.float64), pos.shape
        )
        if values.size and (not np.isfinite(values).all() or values.min() < 0):
            raise ValueError(
                "priorities must be finite and >= 0, got values from "
                f"{values.min()} to {values.max()}."
            )
        if pos.size == 0:
            return
        if pos.size == 1:  # one leaf (every add): a plain walk up beats array operations
            node = int(pos[0])
            self._tree[node] = values[0]
            tree = self._tree
            while node > 1:
                node //= 2
                tree[node] = tree[2 * node] + tree[2 * node + 1]
            return
        tree = self._tree
        tree[pos] = values
        nodes = pos
        for _ in range(self._depth):  # recompute (not add deltas): no drift, empty stays 0.0
            nodes = nodes >> 1  # repeated parents just get the same sum twice
            left = nodes << 1
            tree[nodes] = tree[left] + tree[left + 1]

    def find(self, values: Any) -> np.ndarray:
        """Leaf index for each value in [0, total): the leaf where the running sum passes it.

        Never returns a leaf of priority 0, even when rounding puts a value at `total`.
        """
        if self.total <= 0.0:
            raise ValueError("cannot sample from a SumTree whose total priority is 0.")
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        node = self._descend(values, careful=False)
        stray = self._tree[node] <= 0.0  # rounding near a boundary can end on an empty leaf
        if stray.any():
            node[stray] = self._descend(values[stray], careful=True)
        return node - self._n_leaves

    def _descend(self, values: np.ndarray, careful: bool) -> np.ndarray:
        tree, v = self._tree, values.copy()
        node = np.ones(v.shape, dtype=np.int64)
        left_sum = np.empty_like(v)
        for _ in range(self._depth):
            node <<= 1  # left child
            tree.take(node, out=left_sum)
            if careful:  # only step into a subtree that holds some priority
                go_right = (left_sum <= 0.0) | ((tree[node + 1] > 0.0) & (v >= left_sum))
            else:
                go_right = v >= left_sum
            v -= left_sum * go_right
            node += go_right
        return node

    def state_dict(self) -> dict[str, Any]:
        """Leaf priorities as a tensor (inner sums are rebuilt on load)."""
        return {"capacity": self.capacity, "priorities": torch.from_numpy(self.priorities)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore leaves saved by `state_dict` and rebuild the sums."""
        if int(state["capacity"]) != self.capacity:
            raise ValueError(
                f"SumTree state has capacity {state['capacity']}, this tree has {self.capacity}."
            )
        self._tree[:] = 0.0
        self.update(np.arange(self.capacity), _checks.to_numpy(state["priorities"]))


class PrioritizedSampler:
    """Proportional prioritized sampling, P(i) ~ p_i**alpha (lesson 09)."""

    prioritized = True

    def __init__(self, capacity: int, alpha: float, beta: float, eps: float) -> None:
        self.alpha = _checks.check_unit(
            "alpha",
            alpha,
            "alpha=0 is uniform sampling, 1 is fully greedy on |TD error|; 0.6 is usual.",
        )
        self.beta = beta
        if isinstance(eps, bool) or not isinstance(eps, (int, float, np.floating)) or not eps > 0:
            raise ValueError(f"eps must be a small positive number such as 1e-6, got {eps!r}.")
        self.eps = float(eps)
        self.tree = SumTree(capacity)
        self.max_priority = 1.0  # new transitions get the largest priority seen so far

    @property
    def beta(self) -> float:
        return self._beta

    @beta.setter
    def beta(self, value: float) -> None:
        self._beta = _checks.check_unit(
            "beta", value, "Anneal beta from about 0.4 to 1.0 over training."
        )

    def on_add(self, slots: Any) -> None:
        self.tree.update(slots, self.max_priority**self.alpha)

    def on_remove(self, slots: Any) -> None:
        self.tree.update(slots, 0.0)

    def sample(
        self, rng: np.random.Generator, batch_size: int, slots: Slots
    ) -> tuple[np.ndarray, np.ndarray]:
        total = self.tree.total
        # stratified: one draw in each of batch_size equal segments of [0, total)
        values = (np.arange(batch_size) + rng.random(batch_size)) * (total / batch_size)
        idx = self.tree.find(values)
        probs = self.tree.get(idx) / total
        weights = (slots.n_valid * probs) ** (-self._beta)
        weights /= weights.max()  # normalised by the batch's largest weight: they only scale down
        return idx, weights.astype(np.float32)

    def update(self, slots: np.ndarray, td_errors: np.ndarray) -> None:
        priorities = np.abs(td_errors) + self.eps
        self.max_priority = max(self.max_priority, float(priorities.max()))
        self.tree.update(slots, priorities**self.alpha)

    def nbytes(self) -> int:
        return self.tree.nbytes

    def state_dict(self) -> dict[str, Any]:
        return {
            "alpha": self.alpha,
            "beta": self._beta,
            "eps": self.eps,
            "max_priority": self.max_priority,
            "tree": self.tree.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if float(state["alpha"]) != self.alpha:
            raise ValueError(
                f"saved buffer used alpha={state['alpha']}, this one has alpha={self.alpha}; "
                "stored priorities are p**alpha, so build the buffer with the same alpha."
            )
        self.beta = float(state["beta"])
        self.eps = float(state["eps"])
        self.max_priority = float(state["max_priority"])
        self.tree.load_state_dict(state["tree"])


class PrioritizedReplayBuffer(ReplayBuffer):
    """Replay buffer sampling P(i) ~ p_i**alpha with importance weights. Lesson 09."""

    def __init__(
        self,
        capacity: int,
        obs_shape: Sequence[int] | int,
        obs_dtype: Any = np.float32,
        alpha: float = 0.6,
        beta: float = 0.4,
        device: str | torch.device = "cpu",
        seed: int | None = None,
        n_step: int = 1,
        gamma: float = 0.99,
        eps: float = 1e-6,
    ) -> None:
        super().__init__(capacity, obs_shape, obs_dtype, device, seed, n_step, gamma)
        self._sampler = PrioritizedSampler(self._capacity, alpha, beta, eps)
