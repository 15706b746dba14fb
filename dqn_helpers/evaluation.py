"""Greedy evaluation: play whole episodes with the learned policy on envs that do not train.

Introduced in lesson 05; the training loop calls it every ``eval_every`` steps and the
``python -m dqn_helpers.evaluate`` command line calls it on a saved agent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

__all__ = ["EpisodeResult", "evaluate", "evaluate_episodes"]


@dataclass
class EpisodeResult:
    """One evaluation episode: its return and length, and the points won and lost (Pong)."""

    ret: float = 0.0
    length: int = 0
    points_won: float = 0.0  # sum of the positive rewards
    points_lost: float = 0.0  # minus the sum of the negative rewards

    def add(self, reward: float) -> None:
        self.ret += reward
        self.length += 1
        if reward > 0:
            self.points_won += reward
        elif reward < 0:
            self.points_lost -= reward

    def as_row(self) -> dict[str, float]:
        return {
            "return": self.ret,
            "length": self.length,
            "points_won": self.points_won,
            "points_lost": self.points_lost,
        }


@dataclass
class _Playing:
    """An episode in progress on one of the evaluation envs."""

    env: gym.Env
    episode: int  # which of the requested episodes this is
    obs: Any
    result: EpisodeResult


def evaluate_episodes(
    agent: Any,
    env: gym.Env | Sequence[gym.Env],
    episodes: int,
    seed: int | None = None,
    epsilon: float = 0.0,
) -> list[dict[str, float]]:
    """Run ``episodes`` full episodes with the (near-)greedy policy; one dict per episode.

    Introduced in lesson 05. ``env`` may be a list of envs: they run side by side with one batched
    forward pass per step, each env playing a fixed share of the episodes (no bias towards short
    ones). Episode ``i`` is reset with ``seed + i`` when a seed is given. Rows hold ``return``,
    ``length``, ``points_won`` and ``points_lost``.
    """
    if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1:
        raise ValueError(f"episodes must be a positive int, got {episodes!r}.")
    envs = list(env) if isinstance(env, (list, tuple)) else [env]
    if not envs:
        raise ValueError("env must be an environment or a non-empty list of environments.")
    n_parallel = min(len(envs), episodes)

    def start(e: gym.Env, episode: int) -> _Playing:
        obs, _ = e.reset(seed=None if seed is None else seed + episode)
        return _Playing(e, episode, obs, EpisodeResult())

    results: dict[int, EpisodeResult] = {}
    playing = [start(envs[j], j) for j in range(n_parallel)]
    while playing:
        actions = agent.act_batch(np.stack([p.obs for p in playing]), epsilon)
        still_playing = []
        for p, action in zip(playing, actions):
            p.obs, reward, terminated, truncated, _ = p.env.step(int(action))
            p.result.add(float(reward))
            if not (terminated or truncated):
                still_playing.append(p)
                continue
            results[p.episode] = p.result
            if p.episode + n_parallel < episodes:  # this env plays its next share
                still_playing.append(start(p.env, p.episode + n_parallel))
        playing = still_playing
    return [results[i].as_row() for i in sorted(results)]


def evaluate(
    agent: Any,
    env: gym.Env | Sequence[gym.Env],
    episodes: int,
    seed: int | None = None,
    epsilon: float = 0.0,
) -> tuple[float, float, list[float]]:
    """Greedy evaluation: ``(mean return, std, per-episode returns)`` over ``episodes`` episodes.

    Introduced in lesson 05. Always on envs that do not train, never training returns.
    """
    rows = evaluate_episodes(agent, env, episodes, seed=seed, epsilon=epsilon)
    returns = [r["return"] for r in rows]
    return float(np.mean(returns)), float(np.std(returns)), returns


# ------------------------------------------------------------ predicted vs actual (lesson 07)
def discounted_returns(rewards: Sequence[float] | np.ndarray, gamma: float) -> np.ndarray:
    """``G_t = r_t + γ G_{t+1}`` for every step of one episode (``G`` after its last step is 0).

    Introduced in lesson 07: the Monte-Carlo return that the Q-values are measured against.
    """
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma}.")
    rewards = np.asarray(rewards, dtype=np.float64)
    returns = np.zeros_like(rewards)
    running = 0.0
    for t in range(len(rewards) - 1, -1, -1):
        running = rewards[t] + gamma * running
        returns[t] = running
    return returns


def predicted_and_actual_values(
    agent: Any, env: gym.Env, gamma: float, seed: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """One greedy episode: the agent's ``Q(s_t, a_t)`` at each step and the return ``G_t`` that followed.

    Introduced in lesson 07 (overestimation measured as van Hasselt et al. 2016 did). Both arrays
    have one entry per step. ``G_t`` stops where the episode stops: at a time limit it misses the
    rewards after it, so give ``env`` a longer limit than the states you compare.
    """
    obs, _ = env.reset(seed=seed)
    states, actions, rewards, done = [], [], [], False
    while not done:
        action = agent.greedy(obs)
        states.append(obs)
        actions.append(action)
        obs, reward, terminated, truncated, _ = env.step(action)
        rewards.append(float(reward))
        done = terminated or truncated
    q_values = agent.q_values(np.stack(states))  # one batched forward pass: (steps, n_actions)
    predicted = q_values[np.arange(len(actions)), actions].astype(np.float64)
    return predicted, discounted_returns(rewards, gamma)
