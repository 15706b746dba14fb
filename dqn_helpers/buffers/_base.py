"""What every replay buffer shares: the one sampling path, uniform draws, the device hand-over, state.

Private to ``dqn_helpers.buffers``. A buffer class supplies its storage (``_arrays``, ``_filled``,
``_collect``, ``add``); this base draws the indices (``sample``), looks inside (``get``), moves
batches to the device, updates priorities and saves / restores the whole buffer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, TypeVar

import numpy as np
import torch

from dqn_helpers.buffers import _checks
from dqn_helpers.buffers.nstep import NStepWindows

if TYPE_CHECKING:
    from dqn_helpers.buffers.replay import Batch

_STATE_VERSION = 1
_T = TypeVar("_T", bound=tuple)


class Slots(NamedTuple):
    """What a sampler needs to know of the storage."""

    filled: int  # slots written so far: indices are drawn from range(filled)
    valid: np.ndarray | None  # which of them hold a transition (None: all of them)
    n_valid: int  # how many transitions are stored


class Sampler(Protocol):
    """Chooses which stored transitions a batch holds, and their importance weights."""

    prioritized: bool

    def sample(
        self, rng: np.random.Generator, batch_size: int, slots: Slots
    ) -> tuple[np.ndarray, np.ndarray]: ...

    def on_add(self, slots: Any) -> None: ...

    def on_remove(self, slots: Any) -> None: ...

    def nbytes(self) -> int: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class UniformSampler:
    """Uniform sampling with replacement over the filled slots (lesson 03)."""

    prioritized = False

    def sample(
        self, rng: np.random.Generator, batch_size: int, slots: Slots
    ) -> tuple[np.ndarray, np.ndarray]:
        filled, valid = slots.filled, slots.valid
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

    def on_add(self, slots: Any) -> None:
        pass

    def on_remove(self, slots: Any) -> None:
        pass

    def nbytes(self) -> int:
        return 0

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


def gather(storage: np.ndarray, index: np.ndarray, pin: bool = False) -> torch.Tensor:
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


class _BufferBase:
    """The sampling front end, device hand-over, priorities and state shared by every buffer."""

    obs_shape: tuple[int, ...]
    obs_dtype: np.dtype

    def _init_common(self, capacity: Any, device: Any, seed: Any, n_step: Any, gamma: Any) -> None:
        self._capacity = _checks.check_capacity(capacity)
        self.device = _checks.check_device(device)
        self.n_step = _checks.check_n_step(n_step)
        self.gamma = _checks.check_gamma(gamma)
        self._rng = _checks.make_rng(seed)
        self._nstep = NStepWindows(self.n_step, self.gamma)
        self._sampler: Sampler = UniformSampler()

    # --- what a buffer class supplies ---------------------------------------------------------
    def __len__(self) -> int:
        raise NotImplementedError

    def _add(self, step: _checks.Step) -> None:
        """Store one checked environment step (called by ``add``)."""
        raise NotImplementedError

    def _filled(self) -> int:
        """Slots written so far (the range indices are drawn from)."""
        raise NotImplementedError

    def _valid_mask(self) -> np.ndarray | None:
        """Which slots hold a transition, or None when every filled slot does."""
        return None

    def _arrays(self) -> dict[str, np.ndarray]:
        """The preallocated storage, filled from slot 0 (saved up to ``_filled()``)."""
        raise NotImplementedError

    def _collect(self, idx: np.ndarray, weights: np.ndarray) -> Batch:
        """The transitions at slots ``idx`` as a Batch on the device."""
        raise NotImplementedError

    def _position_state(self) -> dict[str, Any]:
        """Write position, counters and open n-step windows, for ``state_dict``."""
        raise NotImplementedError

    def _load_position(self, state: dict[str, Any]) -> None:
        raise NotImplementedError

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

    def _per(self, what: str) -> Any:
        if not self._sampler.prioritized:
            raise AttributeError(
                f"{type(self).__name__} samples uniformly, so it has no {what}. Use "
                "PrioritizedReplayBuffer, FrameReplayBuffer(prioritized=True) or "
                "make_buffer(..., prioritized=True)."
            )
        return self._sampler

    @property
    def nbytes(self) -> int:
        """Real bytes of the preallocated storage (arrays and sum tree)."""
        return sum(int(a.nbytes) for a in self._arrays().values()) + self._sampler.nbytes()

    def __repr__(self) -> str:
        extra = f", alpha={self.alpha}, beta={self.beta}" if self.prioritized else ""
        return (
            f"{type(self).__name__}(capacity={self.capacity}, len={len(self)}, "
            f"obs_shape={self.obs_shape}, obs_dtype={np.dtype(self.obs_dtype).name}, "
            f"n_step={self.n_step}, gamma={self.gamma}{extra}, device='{self.device}')"
        )

    # --- adding and sampling -------------------------------------------------------------------
    _dtype_hint: str | None = None  # how to fix observations of a dtype the storage cannot hold

    def add(
        self,
        obs: Any,
        action: Any,
        reward: Any,
        next_obs: Any,
        terminated: Any,
        truncated: Any = False,
    ) -> None:
        """Store one environment step; a bad argument raises a clear error and stores nothing."""
        self._add(
            _checks.check_step(
                obs,
                action,
                reward,
                next_obs,
                terminated,
                truncated,
                self.obs_shape,
                self.obs_dtype,
                self._dtype_hint,
            )  # fmt: skip
        )

    def sample(self, batch_size: int) -> Batch:
        """Draw `batch_size` transitions (with replacement) as a Batch on `device`."""
        batch_size = _checks.check_batch_size(batch_size, len(self))
        slots = Slots(self._filled(), self._valid_mask(), len(self))
        idx, weights = self._sampler.sample(self._rng, batch_size, slots)
        return self._collect(idx, weights)

    def get(self, indices: Any) -> Batch:
        """The transitions stored at positions `indices` (e.g. a batch's `indices`), weights 1.

        For looking inside the buffer (lesson 03); a position holding no transition raises IndexError.
        """
        idx = np.array(_checks.to_numpy(indices), dtype=np.int64).reshape(-1)  # a copy: ours
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

    def _on_device(self, batch: _T) -> _T:
        """``batch`` with every tensor on the buffer's device (a CPU batch is returned as it is)."""
        if self.device.type == "cpu":
            return batch
        return type(batch)(*(self._to_device(t) for t in batch))

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
        idx = _checks.to_numpy(indices).reshape(-1)
        td = _checks.to_numpy(td_errors).astype(np.float64).reshape(-1)
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
    def _settings(self) -> dict[str, Any]:
        return {
            "kind": type(self).__name__,
            "capacity": self.capacity,
            "obs_shape": list(self.obs_shape),
            "obs_dtype": np.dtype(self.obs_dtype).name,
            "n_step": self.n_step,
            "gamma": self.gamma,
            "prioritized": self.prioritized,
        }

    def state_dict(self) -> dict[str, Any]:
        """Settings, stored arrays, write position, rng, sampler and open n-step windows.

        The stored arrays are tensors sharing memory with the buffer (no copy): save them before
        adding more.
        """
        filled = self._filled()
        return {
            **self._settings(),
            "version": _STATE_VERSION,
            "rng": self._rng.bit_generator.state,
            "sampler": self._sampler.state_dict(),
            "storage": {k: torch.from_numpy(a[:filled]) for k, a in self._arrays().items()},
            **self._position_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state made by `state_dict` (a buffer built with the same settings)."""
        self._check_state(state)
        for key, array in self._arrays().items():
            saved = _checks.to_numpy(state["storage"][key])
            array[:] = 0
            array[: len(saved)] = saved
        self._load_position(state)
        self._rng.bit_generator.state = state["rng"]
        self._sampler.load_state_dict(state["sampler"])

    def _check_state(self, state: dict[str, Any]) -> None:
        if not isinstance(state, dict) or "kind" not in state:
            raise ValueError(
                "not a buffer state_dict: expected a dict made by buffer.state_dict()."
            )
        if state.get("version") != _STATE_VERSION:
            raise ValueError(
                f"buffer state has format version {state.get('version')}, this code reads "
                f"version {_STATE_VERSION}."
            )
        for key, value in self._settings().items():
            got = list(state[key]) if key == "obs_shape" else state.get(key)
            if got != value:
                raise ValueError(
                    f"cannot load this buffer state: it has {key}={got!r} but this buffer has "
                    f"{key}={value!r}. Build the buffer with the same settings as the saved one."
                )
