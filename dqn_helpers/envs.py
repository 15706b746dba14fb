"""One factory for every environment the course trains on: classic control and Atari.

Introduced in lesson 05. The one "is this Atari?" decision of the package is
``atari.is_atari_id``: ``ALE/...`` ids (e.g. ``ALE/Pong-v5``) get the lesson 06 wrappers
(84×84 grayscale, 4 frames stacked, rewards clipped for training). Legacy ids such as
``PongNoFrameskip-v4`` are refused with a pointer to their ``ALE/...-v5`` name, since the
wrappers are built and tested on v5. Every other Gymnasium id is made with ``gymnasium.make``.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from dqn_helpers import atari
from dqn_helpers.config import DQNConfig, check_env_id_form

__all__ = ["check_env_id", "env_state", "make_env", "make_env_for", "restore_env_state"]


def check_env_id(env_id: str) -> None:
    """ValueError unless ``env_id`` is a plain id that Gymnasium has registered; imports nothing new.

    Introduced in lesson 05. The one check for every env id, typed or read from a file (a checkpoint,
    config.json): the form first (``"evilmod:CartPole-v1"`` would make gymnasium import
    ``evilmod``), then legacy Atari names, then the registry. ``ALE/...`` ids need ale-py
    (``atari.require_atari`` registers them).
    """
    check_env_id_form(env_id)
    legacy = atari.legacy_atari_hint(env_id)
    if legacy is not None:
        raise ValueError(legacy)
    if atari.is_atari_id(env_id):
        atari.require_atari()
    if env_id not in gym.registry:
        stem = env_id.split("-")[0].lower()
        close = [k for k in gym.registry if k.lower().startswith(stem)][:5]
        hint = f" Did you mean one of {close}?" if close else " Examples: CartPole-v1, ALE/Pong-v5."
        raise ValueError(f"unknown or unavailable environment {env_id!r}: no such id.{hint}")


def make_env(
    env_id: str, *, seed: int | None = None, render_mode: str | None = None, **atari_kwargs: Any
) -> gym.Env:
    """A Gymnasium env with a Discrete action space; ``ALE/...`` ids get the lesson 06 wrappers.

    Introduced in lesson 05. ``seed`` seeds the action space (pass it to the first ``reset`` too);
    ``atari_kwargs`` (frame_stack, clip_rewards, ...) go to ``atari.make_atari_env``. The id is
    checked by ``check_env_id`` first; an env with other action or observation spaces than DQN
    reads (Pendulum's Box actions, FrozenLake's integer states) or a missing dependency (Box2D)
    raises ValueError.
    """
    check_env_id(env_id)  # before gymnasium.make, which would import "module:" prefixes
    if atari.is_atari_id(env_id):
        env = atari.make_atari_env(env_id, seed=seed, render_mode=render_mode, **atari_kwargs)
    else:
        if atari_kwargs:
            raise ValueError(
                f"{sorted(atari_kwargs)} only apply to Atari ids ('ALE/...'), not {env_id!r}."
            )
        try:
            env = gym.make(env_id, render_mode=render_mode)
        except gym.error.DependencyNotInstalled as exc:  # e.g. Box2D for LunarLander
            raise ValueError(f"{env_id} cannot be made here: {exc}") from exc
        except gym.error.Error as exc:
            raise ValueError(
                f"unknown or unavailable environment {env_id!r}: {exc}. Examples: 'CartPole-v1', "
                "'Acrobot-v1', 'ALE/Pong-v5'."
            ) from exc
    space = env.action_space
    if not isinstance(space, gym.spaces.Discrete):
        env.close()
        raise ValueError(
            f"{env_id} has action space {space}, but DQN needs a Discrete action space (it picks "
            "argmax_a Q(s, a) over a finite set of actions). Use a discrete env or discretize it."
        )
    if isinstance(env.observation_space, gym.spaces.Discrete):
        env.close()
        raise ValueError(
            f"{env_id} has a Discrete observation space ({env.observation_space}): each state is "
            "a single integer, which a Q-network cannot read as it is. One-hot encode it into a "
            "vector (gymnasium.wrappers.TransformObservation), or learn a Q-table (lesson 01)."
        )
    if seed is not None:
        space.seed(seed)
    return env


def make_env_for(config: DQNConfig, seed: int | None = None, *, for_eval: bool = False) -> gym.Env:
    """The env a config trains on; ``for_eval`` keeps Atari's real (unclipped) game score."""
    if atari.is_atari_id(config.env_id):
        kwargs: dict[str, Any] = {"frame_stack": config.frame_stack}
        if for_eval:
            kwargs["clip_rewards"] = False
        return make_env(config.env_id, seed=seed, **kwargs)
    return make_env(config.env_id, seed=seed)


# ------------------------------------------------------------------ exact resume (lesson 05)
# What an env holds besides its simulation state: rebuilt by make_env, never stored.
_NOT_STATE = {
    "env",
    "_saved_kwargs",
    "_action_space",
    "_observation_space",
    "_metadata",
    "_cached_spec",
    "action_space",
    "observation_space",
    "spec",
    "metadata",
    "render_mode",
    "screen",
    "clock",
}


_GENERATOR = "__generator__"  # a numpy Generator, stored as its bit generator's state


def _plain(value: Any) -> bool:
    if value is None or isinstance(value, (bool, int, float, str, np.generic)):
        return True
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "biuf"
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def _levels(env: gym.Env) -> list[Any]:
    levels = [env]
    while isinstance(levels[-1], gym.Wrapper):
        levels.append(levels[-1].env)
    return levels


def env_state(env: gym.Env) -> list[dict[str, Any]] | None:
    """An env's state as plain data (numbers and arrays), for an exact resume; None if it has more.

    Introduced in lesson 05. Classic-control envs (CartPole, Acrobot, MountainCar) hold only
    numbers, arrays and a random generator, wrappers included, so the episode in progress can be
    stored in a checkpoint without pickling the env (loading a pickle can run code). An env that
    holds anything else (a physics engine, an emulator) gives None: the run resumes with new
    episodes instead.
    """
    state = []
    for level in _levels(env):
        fields: dict[str, Any] = {}
        for name, value in vars(level).items():
            if name in _NOT_STATE:
                continue
            if isinstance(value, np.random.Generator):
                fields[name] = {_GENERATOR: value.bit_generator.state}
            elif _plain(value):
                fields[name] = value
            else:
                return None
        state.append({"type": type(level).__name__, "fields": fields})
    return state


def restore_env_state(env: gym.Env, state: list[dict[str, Any]]) -> None:
    """Put a state from ``env_state`` into a freshly made env of the same id (ValueError if not)."""
    levels = _levels(env)
    if [type(level).__name__ for level in levels] != [s["type"] for s in state]:
        raise ValueError(
            "the stored env state is for wrappers "
            f"{[s['type'] for s in state]}, this env has {[type(lv).__name__ for lv in levels]}."
        )
    for level, saved in zip(levels, state):
        for name, value in saved["fields"].items():
            if isinstance(value, dict) and set(value) == {_GENERATOR}:
                bit_state = value[_GENERATOR]
                bits = getattr(np.random, bit_state["bit_generator"])()  # e.g. PCG64
                bits.state = bit_state
                value = np.random.Generator(bits)
            elif isinstance(value, np.ndarray):
                value = value.copy()
            setattr(level, name, value)
