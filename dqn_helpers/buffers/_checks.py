"""Argument checks shared by every buffer: each message says what is wrong, the value got, and the fix.

Private to ``dqn_helpers.buffers``; the buffers' modules read as the data structure, these read as
the error messages.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
import torch

# FrameReplayBuffer has no obs_dtype: it stores uint8 frames, one byte per pixel.
FRAME_DTYPE_HINT = (
    "FrameReplayBuffer stores uint8 frames (0-255), as atari.make_atari_env produces them: "
    "pass the env's observations as they are, not converted or scaled to floats."
)


def to_numpy(x: Any) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def check_int(name: str, value: Any, minimum: int, hint: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__}).{hint}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}.{hint}")
    return int(value)


def check_capacity(capacity: Any) -> int:
    return check_int(
        "capacity",
        capacity,
        1,
        " It is the number of transitions the buffer keeps; typical values are 10_000 for "
        "CartPole and 100_000 for Pong.",
    )


def check_unit(name: str, value: Any, hint: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number in [0, 1], got {value!r}.")
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value}. {hint}")
    return value


def check_gamma(gamma: Any) -> float:
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float, np.integer, np.floating)):
        raise TypeError(f"gamma must be a number in (0, 1], got {gamma!r}.")
    gamma = float(gamma)
    if not 0.0 < gamma <= 1.0:
        raise ValueError(f"gamma must be in (0, 1], got {gamma}. Typical values are 0.95-0.99.")
    return gamma


def check_n_step(n_step: Any) -> int:
    return check_int(
        "n_step", n_step, 1, " Use n_step=1 for plain one-step TD targets; 3 is a common choice."
    )


def check_shape(name: str, shape: Any) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (int(shape),)
    if not isinstance(shape, (tuple, list, torch.Size)) or not all(
        isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 1 for d in shape
    ):
        raise ValueError(
            f"{name} must be a tuple of positive integers such as (4,) or (84, 84), got {shape!r}."
        )
    return tuple(int(d) for d in shape)


def check_obs_dtype(obs_dtype: Any) -> np.dtype:
    try:
        return np.dtype(obs_dtype)
    except TypeError as exc:
        raise TypeError(
            f"obs_dtype must be a numpy dtype such as np.float32, got {obs_dtype!r}."
        ) from exc


def check_device(device: Any) -> torch.device:
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


def make_rng(seed: Any) -> np.random.Generator:
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise TypeError(f"seed must be None or a non-negative integer, got {seed!r}.")
    if seed is not None and seed < 0:
        raise ValueError(f"seed must be None or a non-negative integer, got {seed}.")
    return np.random.Generator(np.random.PCG64(seed))


def check_batch_size(batch_size: Any, stored: int) -> int:
    batch_size = check_int("batch_size", batch_size, 1)
    if batch_size > stored:
        raise ValueError(
            f"batch_size={batch_size} is larger than the {stored} transitions stored. "
            "Wait until len(buffer) >= batch_size (learning_starts) before sampling."
        )
    return batch_size


# ---------------------------------------------------------------------------- one env step


class Step(NamedTuple):
    """One environment step, checked and converted to the buffer's storage types."""

    obs: np.ndarray
    action: int
    reward: float
    next_obs: np.ndarray
    terminated: bool
    truncated: bool


def check_step(
    obs: Any,
    action: Any,
    reward: Any,
    next_obs: Any,
    terminated: Any,
    truncated: Any,
    shape: tuple[int, ...],
    dtype: np.dtype,
    dtype_hint: str | None = None,
) -> Step:
    """The arguments of ``buffer.add`` as a ``Step``, or a clear error before anything is stored."""
    obs = as_obs("obs", obs, shape, dtype, dtype_hint)
    next_obs = as_obs("next_obs", next_obs, shape, dtype, dtype_hint)
    action, reward = as_action(action), as_reward(reward)
    terminated, truncated = as_flag("terminated", terminated), as_flag("truncated", truncated)
    return Step(obs, action, reward, next_obs, terminated, truncated)


def not_sequential() -> ValueError:
    """The error of a step whose obs does not continue the previous, unfinished step."""
    return ValueError(
        "obs is not the previous step's next_obs, but that step was neither terminated "
        "nor truncated. n-step returns need one sequential stream of steps: pass "
        "terminated=True or truncated=True at the end of every episode."
    )


def as_obs(
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
    with np.errstate(over="ignore"):  # a value too large for dtype becomes inf, refused by as_obs
        return arr.astype(dtype)


def as_action(action: Any) -> int:
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


def as_reward(reward: Any) -> float:
    try:
        value = float(reward)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"reward must be a number, got {reward!r}.") from exc
    if not np.isfinite(value):
        raise ValueError(f"reward must be a finite number, got {value}.")
    return value


def as_flag(name: str, flag: Any) -> bool:
    if isinstance(flag, (bool, np.bool_)):  # the common case, kept cheap
        return bool(flag)
    arr = np.asarray(flag.detach().cpu() if isinstance(flag, torch.Tensor) else flag)
    if arr.ndim != 0 or not (arr.dtype == np.bool_ or np.issubdtype(arr.dtype, np.integer)):
        raise TypeError(f"{name} must be a bool, got {flag!r}.")
    if arr not in (0, 1):
        raise ValueError(f"{name} must be True/False (or 0/1), got {arr.item()}.")
    return bool(arr)
