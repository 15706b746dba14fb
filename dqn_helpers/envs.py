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

from dqn_helpers import atari
from dqn_helpers.config import DQNConfig

__all__ = ["make_env", "make_env_for"]


def make_env(
    env_id: str, *, seed: int | None = None, render_mode: str | None = None, **atari_kwargs: Any
) -> gym.Env:
    """A Gymnasium env with a Discrete action space; ``ALE/...`` ids get the lesson 06 wrappers.

    Introduced in lesson 05. ``seed`` seeds the action space (pass it to the first ``reset`` too);
    ``atari_kwargs`` (frame_stack, clip_rewards, ...) go to ``atari.make_atari_env``.
    """
    if not isinstance(env_id, str) or not env_id:
        raise ValueError(f"env_id must be a Gymnasium id such as 'CartPole-v1', got {env_id!r}.")
    legacy = atari.legacy_atari_hint(env_id)
    if legacy is not None:
        raise ValueError(legacy)
    if atari.is_atari_id(env_id):
        env = atari.make_atari_env(env_id, seed=seed, render_mode=render_mode, **atari_kwargs)
    else:
        if atari_kwargs:
            raise ValueError(
                f"{sorted(atari_kwargs)} only apply to Atari ids ('ALE/...'), not {env_id!r}."
            )
        try:
            env = gym.make(env_id, render_mode=render_mode)
        except gym.error.Error as exc:
            raise ValueError(
                f"unknown or unavailable environment {env_id!r}: {exc}. Examples: 'CartPole-v1', "
                "'Acrobot-v1', 'LunarLander-v3', 'ALE/Pong-v5'."
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
