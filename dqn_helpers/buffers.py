"""Experience replay: uniform, prioritized (sum tree), Atari frame storage and n-step returns.

Introduced in lesson 03 (uniform replay); frame storage in lesson 06; prioritized replay and
n-step returns in lesson 09. Storage is preallocated numpy on the CPU; `sample`
hands batches over as torch tensors on the buffer's `device`.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import torch

__all__ = [
    "Batch",
    "FrameReplayBuffer",
    "PrioritizedReplayBuffer",
    "ReplayBuffer",
    "StreamBuffers",
    "SumTree",
    "make_buffer",
]

_STATE_VERSION = 1


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


# ----------------------------------------------------------------------------------------------
# validation helpers (every message says what is wrong, the value got, and what is allowed)
# ----------------------------------------------------------------------------------------------


def _check_int(name: str, value: Any, minimum: int, hint: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__}).{hint}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}.{hint}")
    return int(value)


def _check_capacity(capacity: Any) -> int:
    return _check_int(
        "capacity",
        capacity,
        1,
        " It is the number of transitions the buffer keeps; typical values are 10_000 for "
        "CartPole and 100_000 for Pong.",
    )


def _check_unit(name: str, value: Any, hint: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number in [0, 1], got {value!r}.")
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value}. {hint}")
    return value


def _check_gamma(gamma: Any) -> float:
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float, np.integer, np.floating)):
        raise TypeError(f"gamma must be a number in (0, 1], got {gamma!r}.")
    gamma = float(gamma)
    if not 0.0 < gamma <= 1.0:
        raise ValueError(f"gamma must be in (0, 1], got {gamma}. Typical values are 0.95-0.99.")
    return gamma


def _check_n_step(n_step: Any) -> int:
    return _check_int(
        "n_step", n_step, 1, " Use n_step=1 for plain one-step TD targets; 3 is a common choice."
    )


def _check_shape(name: str, shape: Any) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (int(shape),)
    if not isinstance(shape, (tuple, list, torch.Size)) or not all(
        isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 1 for d in shape
    ):
        raise ValueError(
            f"{name} must be a tuple of positive integers such as (4,) or (84, 84), got {shape!r}."
        )
    return tuple(int(d) for d in shape)


def _check_device(device: Any) -> torch.device:
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device must be 'cpu', 'cuda', 'cuda:0', 'mps' or a torch.device, got {device!r}."
        ) from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device {device!r} asked for CUDA, but no CUDA GPU is available here. Use "
            "device='cpu', or dqn_helpers.device.pick_device() to choose automatically."
        )
    return dev


def _make_rng(seed: Any) -> np.random.Generator:
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise TypeError(f"seed must be None or a non-negative integer, got {seed!r}.")
    if seed is not None and seed < 0:
        raise ValueError(f"seed must be None or a non-negative integer, got {seed}.")
    return np.random.Generator(np.random.PCG64(seed))


def _as_obs(
    name: str, x: Any, shape: tuple[int, ...], dtype: np.dtype, dtype_hint: str | None = None
) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    arr = np.asarray(x)
    if arr.shape != shape:
        raise ValueError(
            f"{name} has shape {arr.shape}, but this buffer stores observations of shape {shape}. "
            "Build the buffer with the environment's observation_space.shape."
        )
    if arr.dtype != dtype:
        arr = _cast_obs(name, arr, dtype, dtype_hint)
    if dtype.kind == "f" and not _all_finite(arr):  # integer storage holds no NaN: no check
        raise ValueError(
            f"{name} contains NaN or inf: stored, it would poison every update that samples it. "
            "Check the environment (or the observation wrapper) that produced it."
        )
    return arr


def _all_finite(arr: np.ndarray) -> bool:
    """No NaN or inf in ``arr``, cheap enough to check on every add."""
    if arr.size <= 64:  # small vectors (CartPole's 4 numbers): a Python loop beats numpy's overhead
        return all(map(math.isfinite, arr.ravel().tolist()))
    return bool(np.isfinite(arr).all())


def _cast_obs(name: str, arr: np.ndarray, dtype: np.dtype, dtype_hint: str | None) -> np.ndarray:
    if np.issubdtype(dtype, np.integer) and np.issubdtype(arr.dtype, np.integer):
        info = np.iinfo(dtype)
        if arr.size and (arr.min() < info.min or arr.max() > info.max):
            raise ValueError(
                f"{name} has values in [{arr.min()}, {arr.max()}], outside the {dtype} range "
                f"[{info.min}, {info.max}] of this buffer's storage."
            )
        return arr.astype(dtype)
    if not np.can_cast(arr.dtype, dtype, casting="same_kind"):
        hint = dtype_hint or (
            f"Pass {dtype} observations, or build the buffer with obs_dtype=np.{arr.dtype}."
        )
        raise TypeError(
            f"{name} has dtype {arr.dtype}, which cannot be stored as {dtype} without losing "
            f"information. {hint}"
        )
    with np.errstate(over="ignore"):  # a value too large for dtype becomes inf, refused by _as_obs
        return arr.astype(dtype)


# FrameReplayBuffer has no obs_dtype: it stores uint8 frames, one byte per pixel.
_FRAME_DTYPE_HINT = (
    "FrameReplayBuffer stores uint8 frames (0-255), as atari.make_atari_env produces them: "
    "pass the env's observations as they are, not converted or scaled to floats."
)


def _as_action(action: Any) -> int:
    if isinstance(action, (int, np.integer)) and not isinstance(action, bool) and action >= 0:
        return int(action)  # the common case, kept cheap
    if isinstance(action, torch.Tensor):
        action = action.detach().cpu().numpy()
    arr = np.asarray(action)
    if arr.ndim != 0 or arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(
            f"action must be a single integer (a discrete action index), got {action!r}. "
            "DQN buffers store discrete actions only."
        )
    if arr < 0:
        raise ValueError(f"action must be a non-negative action index, got {int(arr)}.")
    return int(arr)


def _as_reward(reward: Any) -> float:
    try:
        value = float(reward)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"reward must be a number, got {reward!r}.") from exc
    if not np.isfinite(value):
        raise ValueError(f"reward must be a finite number, got {value}.")
    return value


def _as_flag(name: str, flag: Any) -> bool:
    if isinstance(flag, (bool, np.bool_)):  # the common case, kept cheap
        return bool(flag)
    arr = np.asarray(flag.detach().cpu() if isinstance(flag, torch.Tensor) else flag)
    if arr.ndim != 0 or not (arr.dtype == np.bool_ or np.issubdtype(arr.dtype, np.integer)):
        raise TypeError(f"{name} must be a bool, got {flag!r}.")
    if arr not in (0, 1):
        raise ValueError(f"{name} must be True/False (or 0/1), got {arr.item()}.")
    return bool(arr)


def _gather(storage: np.ndarray, index: np.ndarray, pin: bool = False) -> torch.Tensor:
    """Rows of `storage` at `index` (any shape) copied into a new contiguous tensor.

    Big batches (Atari stacks) go through torch.index_select on a zero-copy view: as fast as numpy
    fancy indexing, and it never paid the page faults that numpy's fresh multi-MB results did.
    `pin=True` writes the rows straight into page-locked memory (one copy before a CUDA upload).
    """
    row_shape = storage.shape[1:]
    if pin:
        source = torch.from_numpy(storage)
        out = torch.empty((index.size, *row_shape), dtype=source.dtype, pin_memory=True)
        torch.index_select(source, 0, torch.from_numpy(index.reshape(-1)), out=out)
        return out.view(*index.shape, *row_shape)
    if storage[:1].nbytes * index.size < 1 << 16:  # small rows: numpy has less per-call overhead
        return torch.from_numpy(storage[index])
    rows = torch.from_numpy(storage).index_select(0, torch.from_numpy(index.reshape(-1)))
    return rows.view(*index.shape, *row_shape)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """Exact equality of two arrays of the same shape and dtype: one memcmp, no bool array."""
    return a.tobytes() == b.tobytes()


def _to_numpy(x: Any) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


# ----------------------------------------------------------------------------------------------
# n-step returns
# ----------------------------------------------------------------------------------------------


class _NStepWindows:
    """Open n-step windows of the current episode (lesson 09: n-step returns).

    Each pending step is (key, action, reward); `key` is whatever the buffer needs to find
    that step's observation (a copy of it, or a frame position).
    """

    def __init__(self, n_step: int, gamma: float) -> None:
        self.n_step = n_step
        self.gamma = gamma
        self.pending: deque[tuple[Any, int, float]] = deque()

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


# ----------------------------------------------------------------------------------------------
# sum tree and the two samplers (uniform, prioritized) shared by every buffer
# ----------------------------------------------------------------------------------------------


class SumTree:
    """Binary tree whose leaves hold priorities and whose inner nodes hold sums of their children.

    Proportional sampling in O(log n), vectorised over a batch. Introduced in the extensions
    lesson on prioritized replay.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = _check_capacity(capacity)
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
        idx = np.asarray(_to_numpy(indices), dtype=np.int64).reshape(-1)
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
        values = np.broadcast_to(np.asarray(_to_numpy(priorities), dtype=np.float64), pos.shape)
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
        self.update(np.arange(self.capacity), _to_numpy(state["priorities"]))


class _UniformSampler:
    """Uniform sampling with replacement over the valid slots (lesson 03)."""

    prioritized = False

    def on_add(self, slots: Any) -> None:
        pass

    def on_remove(self, slots: Any) -> None:
        pass

    def sample(
        self,
        rng: np.random.Generator,
        batch_size: int,
        filled: int,
        valid: np.ndarray | None,
        n_valid: int,
    ) -> tuple[np.ndarray, np.ndarray]:
        idx = rng.integers(0, filled, size=batch_size)
        if valid is not None and not valid[idx].all():  # frame storage has a few slots that
            bad = ~valid[idx]  # hold no transition (episode ends, overwritten): redraw those
            for _ in range(32):
                if not bad.any():
                    break
                idx[bad] = rng.integers(0, filled, size=int(bad.sum()))
                bad = ~valid[idx]
            if bad.any():
                idx[bad] = rng.choice(np.flatnonzero(valid[:filled]), size=int(bad.sum()))
        return idx, np.ones(batch_size, dtype=np.float32)

    def nbytes(self) -> int:
        return 0

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


class _PrioritizedSampler:
    """Proportional prioritized sampling, P(i) ~ p_i**alpha (lesson 09)."""

    prioritized = True

    def __init__(self, capacity: int, alpha: float, beta: float, eps: float) -> None:
        self.alpha = _check_unit(
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
        self._beta = _check_unit("beta", value, "Anneal beta from about 0.4 to 1.0 over training.")

    def on_add(self, slots: Any) -> None:
        self.tree.update(slots, self.max_priority**self.alpha)

    def on_remove(self, slots: Any) -> None:
        self.tree.update(slots, 0.0)

    def sample(
        self,
        rng: np.random.Generator,
        batch_size: int,
        filled: int,
        valid: np.ndarray | None,
        n_valid: int,
    ) -> tuple[np.ndarray, np.ndarray]:
        total = self.tree.total
        # stratified: one draw in each of batch_size equal segments of [0, total)
        values = (np.arange(batch_size) + rng.random(batch_size)) * (total / batch_size)
        idx = self.tree.find(values)
        probs = self.tree.get(idx) / total
        weights = (n_valid * probs) ** (-self._beta)
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


# ----------------------------------------------------------------------------------------------
# common buffer machinery
# ----------------------------------------------------------------------------------------------


class _BufferBase:
    """What every buffer shares: device hand-over, sampling front end, n-step, priorities, state."""

    obs_shape: tuple[int, ...]
    obs_dtype: np.dtype

    def _init_common(
        self,
        capacity: Any,
        device: Any,
        seed: Any,
        n_step: Any,
        gamma: Any,
        sampler: _UniformSampler | _PrioritizedSampler | None = None,
    ) -> None:
        self._capacity = _check_capacity(capacity)
        self.device = _check_device(device)
        self.n_step = _check_n_step(n_step)
        self.gamma = _check_gamma(gamma)
        self._rng = _make_rng(seed)
        self._nstep = _NStepWindows(self.n_step, self.gamma)
        self._sampler = sampler if sampler is not None else _UniformSampler()

    # --- properties ---------------------------------------------------------------------------
    @property
    def capacity(self) -> int:
        """Maximum number of stored transitions (frames for FrameReplayBuffer)."""
        return self._capacity

    @property
    def prioritized(self) -> bool:
        """True when sampling is proportional to priorities (PER)."""
        return self._sampler.prioritized

    @property
    def alpha(self) -> float:
        """Priority exponent (prioritized buffers only)."""
        return self._per("alpha").alpha

    @property
    def beta(self) -> float:
        """Importance-sampling exponent; set it to anneal towards 1 (prioritized buffers only)."""
        return self._per("beta").beta

    @beta.setter
    def beta(self, value: float) -> None:
        self._per("beta").beta = value

    def _per(self, what: str) -> _PrioritizedSampler:
        if not isinstance(self._sampler, _PrioritizedSampler):
            raise AttributeError(
                f"{type(self).__name__} samples uniformly, so it has no {what}. Use "
                "PrioritizedReplayBuffer, FrameReplayBuffer(prioritized=True) or "
                "make_buffer(..., prioritized=True)."
            )
        return self._sampler

    def __len__(self) -> int:
        raise NotImplementedError

    @property
    def nbytes(self) -> int:
        """Real bytes of the preallocated storage (arrays and sum tree)."""
        return sum(int(a.nbytes) for a in self._arrays().values()) + self._sampler.nbytes()

    def _arrays(self) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def __repr__(self) -> str:
        extra = f", alpha={self.alpha}, beta={self.beta}" if self.prioritized else ""
        return (
            f"{type(self).__name__}(capacity={self.capacity}, len={len(self)}, "
            f"obs_shape={self.obs_shape}, obs_dtype={np.dtype(self.obs_dtype).name}, "
            f"n_step={self.n_step}, gamma={self.gamma}{extra}, device='{self.device}')"
        )

    # --- sampling -----------------------------------------------------------------------------
    def sample(self, batch_size: int) -> Batch:
        """Draw `batch_size` transitions (with replacement) as a Batch on `device`."""
        batch_size = _check_int("batch_size", batch_size, 1)
        if batch_size > len(self):
            raise ValueError(
                f"batch_size={batch_size} is larger than the {len(self)} transitions stored. "
                "Wait until len(buffer) >= batch_size (learning_starts) before sampling."
            )
        idx, weights = self._sampler.sample(
            self._rng, batch_size, self._filled(), self._valid_mask(), len(self)
        )
        return self._collect(idx, weights)

    def _filled(self) -> int:
        raise NotImplementedError

    def _valid_mask(self) -> np.ndarray | None:
        return None

    def get(self, indices: Any) -> Batch:
        """The transitions stored at positions `indices` (e.g. a batch's `indices`), weights 1.

        For looking inside the buffer (lesson 03); a position holding no transition raises IndexError.
        """
        idx = np.array(_to_numpy(indices), dtype=np.int64).reshape(-1)  # a copy: the batch owns it
        valid = self._valid_mask()
        if idx.size and (
            idx.min() < 0
            or idx.max() >= self._filled()
            or (valid is not None and not valid[idx].all())
        ):
            raise IndexError(
                f"indices must be positions in [0, {self._filled() - 1}] that hold a stored "
                "transition."
            )
        return self._collect(idx, np.ones(idx.size, dtype=np.float32))

    def _collect(self, idx: np.ndarray, weights: np.ndarray) -> Batch:
        raise NotImplementedError

    def _batch(
        self, idx: np.ndarray, weights: np.ndarray, *fields: np.ndarray | torch.Tensor
    ) -> Batch:
        """Batch(obs, actions, rewards, next_obs, terminated, indices, weights, discounts).

        Tensors already on `device` are kept as they are; the rest are moved there.
        """
        obs, actions, rewards, next_obs, terminated, discounts = (
            f if isinstance(f, torch.Tensor) else torch.from_numpy(f) for f in fields
        )
        batch = Batch(
            obs,
            actions,
            rewards,
            next_obs,
            terminated,
            torch.from_numpy(idx),
            torch.from_numpy(weights),
            discounts,
        )
        if self.device.type == "cpu":
            return batch
        return Batch(*(self._to_device(t) for t in batch))

    def _to_device(self, tensor: torch.Tensor) -> torch.Tensor:
        """`tensor` on the buffer's device; CUDA uploads go through pinned memory, asynchronously."""
        if tensor.device.type == self.device.type:  # cpu, or already moved by the caller
            return tensor
        if self.device.type == "cuda":  # pinned host memory lets the copies overlap with compute
            if not tensor.is_pinned():
                tensor = tensor.pin_memory()
            return tensor.to(self.device, non_blocking=True)
        return tensor.to(self.device)

    # --- priorities ---------------------------------------------------------------------------
    def update_priorities(self, indices: Any, td_errors: Any) -> None:
        """Set priority |td_error| + eps for the sampled `indices` (prioritized buffers only)."""
        sampler = self._per("update_priorities")
        idx = _to_numpy(indices).reshape(-1)
        td = _to_numpy(td_errors).astype(np.float64).reshape(-1)
        if idx.shape != td.shape:
            raise ValueError(
                f"indices and td_errors must have the same length, got {idx.size} and {td.size}. "
                "Pass batch.indices and the per-sample TD errors of that batch."
            )
        if not np.issubdtype(idx.dtype, np.integer):
            raise TypeError(f"indices must be integers (batch.indices), got dtype {idx.dtype}.")
        if not np.isfinite(td).all():
            raise ValueError("td_errors contain NaN or inf; the loss has probably diverged.")
        if idx.size and (idx.min() < 0 or idx.max() >= self._filled()):
            raise ValueError(
                f"indices must be stored positions in [0, {self._filled() - 1}], got values from "
                f"{idx.min()} to {idx.max()}. Pass batch.indices from this buffer's sample()."
            )
        valid = self._valid_mask()
        if valid is not None:  # a slot overwritten since it was sampled must stay at priority 0
            keep = valid[idx]
            idx, td = idx[keep], td[keep]
        if idx.size:
            sampler.update(idx.astype(np.int64), td)

    # --- state --------------------------------------------------------------------------------
    def _common_state(self) -> dict[str, Any]:
        return {
            "kind": type(self).__name__,
            "version": _STATE_VERSION,
            "capacity": self.capacity,
            "obs_shape": list(self.obs_shape),
            "obs_dtype": np.dtype(self.obs_dtype).name,
            "n_step": self.n_step,
            "gamma": self.gamma,
            "prioritized": self.prioritized,
            "rng": self._rng.bit_generator.state,
            "sampler": self._sampler.state_dict(),
        }

    def _check_state(self, state: dict[str, Any]) -> None:
        if not isinstance(state, dict) or "kind" not in state:
            raise ValueError(
                "not a buffer state_dict: expected a dict made by buffer.state_dict()."
            )
        mine = {
            "kind": type(self).__name__,
            "capacity": self.capacity,
            "obs_shape": list(self.obs_shape),
            "obs_dtype": np.dtype(self.obs_dtype).name,
            "n_step": self.n_step,
            "gamma": self.gamma,
            "prioritized": self.prioritized,
        }
        if state.get("version") != _STATE_VERSION:
            raise ValueError(
                f"buffer state has format version {state.get('version')}, this code reads "
                f"version {_STATE_VERSION}."
            )
        for key, value in mine.items():
            got = list(state[key]) if key == "obs_shape" else state.get(key)
            if got != value:
                raise ValueError(
                    f"cannot load this buffer state: it has {key}={got!r} but this buffer has "
                    f"{key}={value!r}. Build the buffer with the same settings as the saved one."
                )

    def _load_common(self, state: dict[str, Any]) -> None:
        self._rng.bit_generator.state = state["rng"]
        self._sampler.load_state_dict(state["sampler"])


def _put(dst: np.ndarray, src: Any) -> None:
    """Copy a saved prefix back into preallocated storage."""
    src = _to_numpy(src)
    dst[: len(src)] = src


# ----------------------------------------------------------------------------------------------
# vector observations
# ----------------------------------------------------------------------------------------------


class ReplayBuffer(_BufferBase):
    """Circular buffer of transitions in preallocated numpy arrays. Introduced in lesson 03."""

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
        self._init_common(capacity, device, seed, n_step, gamma)
        self.obs_shape = _check_shape("obs_shape", obs_shape)
        try:
            self.obs_dtype = np.dtype(obs_dtype)
        except TypeError as exc:
            raise TypeError(
                f"obs_dtype must be a numpy dtype such as np.float32, got {obs_dtype!r}."
            ) from exc
        cap = self._capacity
        self._obs = np.zeros((cap, *self.obs_shape), dtype=self.obs_dtype)
        self._next_obs = np.zeros((cap, *self.obs_shape), dtype=self.obs_dtype)
        self._actions = np.zeros(cap, dtype=np.int64)
        self._rewards = np.zeros(cap, dtype=np.float32)
        self._terminated = np.zeros(cap, dtype=np.float32)
        self._discounts = np.zeros(cap, dtype=np.float32)
        self._pos = 0  # next slot to write
        self._size = 0
        self._last_next_obs: np.ndarray | None = None  # to check the n-step stream is sequential

    def __len__(self) -> int:
        return self._size

    def _filled(self) -> int:
        return self._size

    def sample(self, batch_size: int) -> Batch:
        """Draw `batch_size` transitions (with replacement) as a Batch on `device`."""
        if (
            type(batch_size) is int
            and 0 < batch_size <= self._size  # (a bool goes the long way)
            and type(self._sampler) is _UniformSampler
            and self.device.type == "cpu"
        ):
            # the common case in one call (a training step samples once per env step): the same
            # random draw and the same tensors as the general path below, fewer layers around them
            idx = self._rng.integers(0, self._size, size=batch_size)
            return Batch(
                _gather(self._obs, idx),
                torch.from_numpy(self._actions[idx]),
                torch.from_numpy(self._rewards[idx]),
                _gather(self._next_obs, idx),
                torch.from_numpy(self._terminated[idx]),
                torch.from_numpy(idx),
                torch.from_numpy(np.ones(batch_size, dtype=np.float32)),
                torch.from_numpy(self._discounts[idx]),
            )
        return super().sample(batch_size)

    def _arrays(self) -> dict[str, np.ndarray]:
        return {
            "obs": self._obs,
            "next_obs": self._next_obs,
            "actions": self._actions,
            "rewards": self._rewards,
            "terminated": self._terminated,
            "discounts": self._discounts,
        }

    def add(
        self,
        obs: Any,
        action: Any,
        reward: Any,
        next_obs: Any,
        terminated: Any,
        truncated: Any = False,
    ) -> None:
        """Store one environment step (n-step: store the windows it completes)."""
        obs = _as_obs("obs", obs, self.obs_shape, self.obs_dtype)
        next_obs = _as_obs("next_obs", next_obs, self.obs_shape, self.obs_dtype)
        action, reward = _as_action(action), _as_reward(reward)
        terminated, truncated = _as_flag("terminated", terminated), _as_flag("truncated", truncated)
        if self.n_step == 1:
            self._store(obs, action, reward, next_obs, terminated, 1)
            return
        if self._nstep.pending and not np.array_equal(obs, self._last_next_obs):
            raise ValueError(
                "obs is not the previous step's next_obs, but that step was neither terminated "
                "nor truncated. n-step returns need one sequential stream of steps: pass "
                "terminated=True or truncated=True at the end of every episode."
            )
        done = terminated or truncated
        self._last_next_obs = None if done else next_obs.copy()
        for first_obs, first_action, ret, m in self._nstep.push(obs.copy(), action, reward, done):
            self._store(first_obs, first_action, ret, next_obs, terminated, m)

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

    def _collect(self, idx: np.ndarray, weights: np.ndarray) -> Batch:
        return self._batch(
            idx,
            weights,
            _gather(self._obs, idx),
            self._actions[idx],
            self._rewards[idx],
            _gather(self._next_obs, idx),
            self._terminated[idx],
            self._discounts[idx],
        )

    def state_dict(self) -> dict[str, Any]:
        """Position, size, rng state, pending n-step windows and the stored arrays (as tensors).

        The tensors share memory with the buffer (no copy): save them before adding more.
        """
        filled = self._size
        state = self._common_state()
        state.update(
            pos=self._pos,
            size=self._size,
            storage={k: torch.from_numpy(a[:filled]) for k, a in self._arrays().items()},
            nstep=self._nstep.state_dict(lambda o: torch.from_numpy(o)),
            last_next_obs=None
            if self._last_next_obs is None
            else torch.from_numpy(self._last_next_obs),
        )
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state made by `state_dict` (same capacity, shapes, n_step and gamma)."""
        self._check_state(state)
        for key, array in self._arrays().items():
            array[:] = 0
            _put(array, state["storage"][key])
        self._pos, self._size = int(state["pos"]), int(state["size"])
        self._nstep.load_state_dict(state["nstep"], lambda t: _to_numpy(t).copy())
        last = state["last_next_obs"]
        self._last_next_obs = None if last is None else _to_numpy(last).copy()
        self._load_common(state)


class PrioritizedReplayBuffer(ReplayBuffer):
    """Replay buffer sampling P(i) ~ p_i**alpha with importance weights. Extensions lesson (PER)."""

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
        self._sampler = _PrioritizedSampler(self._capacity, alpha, beta, eps)


# ----------------------------------------------------------------------------------------------
# Atari frames
# ----------------------------------------------------------------------------------------------


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
        self.stack = _check_int("stack", stack, 1, " Atari DQN stacks 4 frames.")
        if self.stack > 255:
            raise ValueError(f"stack must be at most 255 frames, got {self.stack}.")
        self.frame_shape = _check_shape("frame_shape", frame_shape)
        if self._capacity < self.stack + self.n_step:
            raise ValueError(
                f"capacity must be at least stack + n_step = {self.stack + self.n_step} frames for "
                f"FrameReplayBuffer, got {self._capacity}."
            )
        if not isinstance(prioritized, (bool, np.bool_)):
            raise TypeError(f"prioritized must be True or False, got {prioritized!r}.")
        per = _PrioritizedSampler(self._capacity if prioritized else 1, alpha, beta, eps)
        if prioritized:  # same sampler code as PrioritizedReplayBuffer, one slot per frame
            self._sampler = per
        self.obs_shape = (self.stack, *self.frame_shape)
        self.obs_dtype = np.dtype(np.uint8)
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
            "last_next": self._last_next,
        }

    def add(
        self,
        obs: Any,
        action: Any,
        reward: Any,
        next_obs: Any,
        terminated: Any,
        truncated: Any = False,
    ) -> None:
        """Store one step of stacked uint8 observations (stack, H, W), newest frame last."""
        obs = _as_obs("obs", obs, self.obs_shape, self.obs_dtype, _FRAME_DTYPE_HINT)
        next_obs = _as_obs("next_obs", next_obs, self.obs_shape, self.obs_dtype, _FRAME_DTYPE_HINT)
        action, reward = _as_action(action), _as_reward(reward)
        terminated, truncated = _as_flag("terminated", terminated), _as_flag("truncated", truncated)
        if not _same(next_obs[:-1], obs[1:]):
            raise ValueError(
                "next_obs must be obs shifted by one frame (next_obs[:-1] == obs[1:]), as a "
                "frame-stacking wrapper emits it, newest frame last. These two stacks differ in "
                "their shared frames: are they from consecutive steps of one frame-stacked env?"
            )
        continues = self._episode_open and _same(obs, self._last_next)
        if not continues and self._nstep.pending:
            raise ValueError(
                "obs is not the previous step's next_obs, but that step was neither terminated "
                "nor truncated. n-step returns need one sequential stream of steps: pass "
                "terminated=True or truncated=True at the end of every episode."
            )
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
            window = _gather(self._frames, slots, pin=self.device.type == "cuda")
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
            stacks = self._to_device(_gather(self._frames, slots, pin=self.device.type == "cuda"))
            obs, next_obs = stacks[0], stacks[1]  # (B, stack, H, W) each
        return self._batch(
            idx,
            weights,
            obs,
            self._actions[idx],
            self._rewards[idx],
            next_obs,
            self._terminated[idx],
            self._discount_table[steps],
        )

    def state_dict(self) -> dict[str, Any]:
        """Frames, bookkeeping, rng state and pending n-step windows (tensors share memory)."""
        filled = self._filled()
        state = self._common_state()
        arrays = self._arrays()
        last_next = arrays.pop("last_next")
        state.update(
            written=self._written,
            n_valid=self._n_valid,
            episode_open=self._episode_open,
            storage={k: torch.from_numpy(a[:filled]) for k, a in arrays.items()},
            last_next=torch.from_numpy(last_next),
            nstep=self._nstep.state_dict(),
        )
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state made by `state_dict` (same capacity, stack, frame shape and n-step)."""
        self._check_state(state)
        arrays = self._arrays()
        self._last_next[...] = _to_numpy(state["last_next"])
        arrays.pop("last_next")
        for key, array in arrays.items():
            array[:] = 0
            _put(array, state["storage"][key])
        self._written, self._n_valid = int(state["written"]), int(state["n_valid"])
        self._episode_open = bool(state["episode_open"])
        self._nstep.load_state_dict(state["nstep"], int)
        self._load_common(state)


# ----------------------------------------------------------------------------------------------
# factory
# ----------------------------------------------------------------------------------------------


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
        shape = _check_shape("obs_shape", obs_shape)
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
    _PrioritizedSampler(1, alpha, beta, 1e-6)  # validate alpha and beta in every case
    if prioritized:
        return PrioritizedReplayBuffer(
            capacity, obs_shape, obs_dtype, alpha, beta, device, seed, n_step, gamma
        )
    return ReplayBuffer(capacity, obs_shape, obs_dtype, device, seed, n_step, gamma)
