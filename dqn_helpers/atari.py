"""Atari environments the way DQN sees them: 84x84 grayscale, 4 frames skipped, 4 frames stacked.

Introduced in lesson 06. ``make_atari_env`` builds gymnasium's ``AtariPreprocessing`` (no-op starts,
frame skip with max-pooling of the last two frames, grayscale, 84x84 resize) and adds FIRE on reset,
sign-clipped rewards and a 4-frame stack, so observations are uint8 arrays of shape (4, 84, 84).
"""

from __future__ import annotations

import re
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium.wrappers import AtariPreprocessing, FrameStackObservation, TimeLimit

__all__ = [
    "AtariNotAvailableError",
    "ATARI_INSTALL_COMMAND",
    "FRAME_SIZE",
    "require_atari",
    "is_atari_id",
    "legacy_atari_hint",
    "preprocess_frame",
    "max_pool_last_two",
    "action_meanings",
    "FireResetEnv",
    "ClipReward",
    "make_atari_env",
]

ATARI_INSTALL_COMMAND = 'pip install "ale-py>=0.10"'
"""The one command that installs the Arcade Learning Environment, ROMs included (lesson 06)."""

FRAME_SIZE = 84
"""Side of the square preprocessed frame, as in the 2015 Nature paper (lesson 06)."""


class AtariNotAvailableError(ImportError):
    """Raised when the Arcade Learning Environment (``ale_py``) is missing. Introduced in lesson 06."""


def require_atari() -> Any:
    """Import ``ale_py`` and register its ``ALE/...`` environments with gymnasium; return the module.

    Introduced in lesson 06. Raises ``AtariNotAvailableError`` with the install command if it is missing.
    """
    try:
        import ale_py
    except ImportError as exc:
        raise AtariNotAvailableError(
            "Atari games need the Arcade Learning Environment, which is not installed "
            f"({exc}). Install it with:  {ATARI_INSTALL_COMMAND}  — the game ROMs (Pong included) "
            "ship inside ale-py since version 0.9, so there is no separate ROM download or licence "
            "step. In a notebook, run the install cell at the top, then restart the kernel."
        ) from exc
    gym.register_envs(ale_py)
    return ale_py


def is_atari_id(env_id: str) -> bool:
    """True for the Atari ids the course builds on, ``"ALE/<Game>-v5"`` (e.g. ``"ALE/Pong-v5"``).

    Introduced in lesson 06; the package's one rule for "is this Atari?". Legacy ids such as
    ``"PongNoFrameskip-v4"`` are not: see ``legacy_atari_hint``.
    """
    return isinstance(env_id, str) and env_id.startswith("ALE/")


# Gym's pre-v5 Atari names: Pong-v0, Pong-v4, PongNoFrameskip-v4, PongDeterministic-v4, ...
_LEGACY_ATARI = re.compile(r"^([A-Z][A-Za-z0-9]*?)(NoFrameskip|Deterministic)?-v[04]$")


def legacy_atari_hint(env_id: str) -> str | None:
    """For a legacy Atari id (``"PongNoFrameskip-v4"``, ``"Pong-v4"``): why it is refused and the v5 id.

    Introduced in lesson 06; ``None`` for every other id. A plain ``<Name>-v0``/``-v4`` id counts only
    when ale-py registers it, so classic-control ids such as ``"CartPole-v0"`` are left alone.
    """
    match = _LEGACY_ATARI.match(env_id) if isinstance(env_id, str) else None
    if match is None:
        return None
    game, suffix = match.groups()
    if not suffix:  # "Pong-v4" is Atari, "CartPole-v0" is not: ask the registry
        spec = gym.registry.get(env_id)
        if spec is None:
            try:
                require_atari()  # registers ale-py's ids, legacy ones included
            except AtariNotAvailableError:
                return None
            spec = gym.registry.get(env_id)
        if spec is None or "ale_py" not in str(spec.entry_point):
            return None
    return (
        f"{env_id!r} is a legacy Atari id; this course uses the v5 ids, on which its pipeline "
        f"(frame skip, max-pooling, no-op starts, frame stack) is built: use 'ALE/{game}-v5' "
        "(e.g. 'ALE/Pong-v5'), with sticky=0.0 for the deterministic games of the 2015 Nature paper."
    )


def preprocess_frame(frame_rgb: np.ndarray) -> np.ndarray:
    """One RGB screen (210, 160, 3) → grayscale, resized to 84x84 with area averaging, uint8.

    Introduced in lesson 06 as the reference for what ``make_atari_env`` does. Gymnasium's
    ``AtariPreprocessing`` takes ALE's own grayscale screen instead of converting RGB with OpenCV's
    weights (0.299 R + 0.587 G + 0.114 B); the two agree to within a gray level (tests/test_atari.py
    checks it on Pong), so a frame differs only by the max-pool over the last two skipped frames
    (see ``max_pool_last_two``).
    """
    import cv2

    frame = np.asarray(frame_rgb)
    if frame.dtype != np.uint8:
        raise TypeError(
            f"preprocess_frame expects a uint8 screen (values 0–255), got dtype {frame.dtype}. "
            "Pass env.render() of an env made with render_mode='rgb_array', or the raw observation."
        )
    if frame.ndim == 3 and frame.shape[2] == 3:
        gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    elif frame.ndim == 2:
        gray = frame  # already grayscale
    else:
        raise ValueError(
            f"preprocess_frame expects an RGB screen of shape (height, width, 3) or a grayscale "
            f"(height, width) one, got {frame.shape}. A stacked observation (4, 84, 84) is already "
            "preprocessed."
        )
    resized = cv2.resize(gray, (FRAME_SIZE, FRAME_SIZE), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(resized, dtype=np.uint8)


def max_pool_last_two(frame_a: np.ndarray, frame_b: np.ndarray) -> np.ndarray:
    """Pixel-wise maximum of two consecutive screens, so sprites drawn only on odd frames still show.

    Introduced in lesson 06 (``AtariPreprocessing`` does this on the last two of every 4 skipped frames).
    """
    a, b = np.asarray(frame_a), np.asarray(frame_b)
    if a.shape != b.shape:
        raise ValueError(f"both frames must have the same shape, got {a.shape} and {b.shape}.")
    return np.maximum(a, b)


def action_meanings(env: gym.Env) -> list[str]:
    """Names of the actions of an Atari env, e.g. Pong: NOOP, FIRE, RIGHT, LEFT, RIGHTFIRE, LEFTFIRE.

    Introduced in lesson 06.
    """
    unwrapped = env.unwrapped
    if not hasattr(unwrapped, "get_action_meanings"):
        raise TypeError(
            f"{type(unwrapped).__name__} is not an Atari env (no get_action_meanings); "
            "build one with make_atari_env."
        )
    return list(unwrapped.get_action_meanings())


class FireResetEnv(gym.Wrapper):
    """Press FIRE once after every reset, for games that wait for it to start (Breakout; harmless in Pong).

    Introduced in lesson 06. If the game ends during the FIRE step, the env is reset again.
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        meanings = action_meanings(env)
        if "FIRE" not in meanings:
            raise ValueError(
                f"FireResetEnv needs a FIRE action, but this game's actions are {meanings}. "
                "Use fire_reset=False for it."
            )
        self.fire_action = meanings.index("FIRE")

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        self.env.reset(seed=seed, options=options)
        obs, _, terminated, truncated, info = self.env.step(self.fire_action)
        if terminated or truncated:
            obs, info = self.env.reset(options=options)
        return obs, info


class ClipReward(gym.Wrapper):
    """Replace each reward by its sign (-1, 0 or +1) so one learning rate suits every game.

    Introduced in lesson 06. The unclipped reward is kept in ``info["raw_reward"]``.
    """

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        info["raw_reward"] = reward
        return obs, float(np.sign(reward)), terminated, truncated, info


def _check_int(name: str, value: int, low: int, allowed: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}. {allowed}")


def make_atari_env(
    env_id: str = "ALE/Pong-v5",
    *,
    seed: int | None = None,
    frame_skip: int = 4,
    frame_stack: int = 4,
    noop_max: int = 30,
    fire_reset: bool = True,
    clip_rewards: bool = True,
    terminal_on_life_loss: bool = False,
    sticky: float = 0.25,
    max_episode_steps: int | None = None,
    render_mode: str | None = None,
) -> gym.Env:
    """An Atari env as DQN sees it: observations uint8 (frame_stack, 84, 84), rewards clipped to their sign.

    Introduced in lesson 06. ``sticky`` is ALE's repeat_action_probability (v5 default 0.25);
    ``max_episode_steps`` counts agent steps (each = ``frame_skip`` frames); ``seed`` seeds the env
    (one ``reset(seed=seed)`` here) and its action space, so the same seed gives the same episodes.
    """
    legacy = legacy_atari_hint(env_id)
    if legacy is not None:
        raise ValueError(legacy)
    require_atari()
    if not is_atari_id(env_id):
        raise ValueError(
            f"make_atari_env needs an Atari id such as 'ALE/Pong-v5' or 'ALE/Breakout-v5', "
            f"got {env_id!r}. For other environments use gymnasium.make."
        )
    _check_int("frame_skip", frame_skip, 1, "DQN uses 4.")
    _check_int("frame_stack", frame_stack, 1, "DQN uses 4.")
    _check_int("noop_max", noop_max, 0, "DQN uses 30; 0 turns random no-op starts off.")
    if max_episode_steps is not None:
        _check_int("max_episode_steps", max_episode_steps, 1, "Use None for no extra limit.")
    if isinstance(sticky, bool) or not isinstance(sticky, int | float) or not 0.0 <= sticky <= 1.0:
        raise ValueError(
            f"sticky (repeat_action_probability) must be in [0, 1], got {sticky!r}. "
            "ALE v5 uses 0.25; 0.0 gives the deterministic games of the 2015 Nature paper."
        )

    # AtariPreprocessing reads ALE's screen itself, so the inner env's own observation is unused:
    # asking for grayscale makes ALE copy a third of the bytes (one channel instead of three) on
    # every frame. ALE is well tested, so gymnasium's passive env checker is skipped too. render()
    # still gives RGB.
    env = gym.make(
        env_id,
        frameskip=1,
        repeat_action_probability=float(sticky),
        obs_type="grayscale",
        render_mode=render_mode,
        disable_env_checker=True,
    )
    env = AtariPreprocessing(
        env,
        noop_max=noop_max,
        frame_skip=frame_skip,
        screen_size=FRAME_SIZE,
        terminal_on_life_loss=terminal_on_life_loss,
    )
    if fire_reset and "FIRE" in action_meanings(env):
        env = FireResetEnv(env)
    if clip_rewards:
        env = ClipReward(env)
    env = FrameStackObservation(env, stack_size=frame_stack)
    if max_episode_steps is not None:
        env = TimeLimit(env, max_episode_steps=max_episode_steps)
    if seed is not None:
        env.reset(seed=seed)
        env.action_space.seed(seed)
        env.observation_space.seed(seed)
    return env
