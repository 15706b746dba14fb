"""The DQN training loop as the learner writes it in lesson 05 (exercise 5.3): one readable function.

Introduced in lesson 05; the capstone (lesson 10) calls the same function with a Nature CNN and a frame
(or prioritized, n-step) buffer. ``training.train`` is the course's full loop (evaluations, logging,
checkpoints); this one is the algorithm and nothing else, CleanRL-sized.

The contract: ``dqn_loop(env, q_network, target_network, buffer, config, loss_fn, seed)`` trains
``q_network`` in place for ``config.total_steps`` environment steps and returns ``(step, return)`` of each
finished episode. It reads these fields of ``config`` (a ``DQNConfig`` has them all): ``total_steps``,
``learning_rate``, ``batch_size``, ``learning_starts``, ``train_freq``, ``gradient_steps``,
``target_update``, ``gamma``, ``epsilon_start``, ``epsilon_end``, ``epsilon_fraction``, ``epsilon_decay``
(per-episode decay when set, else linear over ``epsilon_fraction`` of the steps) and ``max_grad_norm``. It
stores ``buffer.add(obs, action, reward, next_obs, terminated, truncated)`` (the target bootstraps on
``terminated`` only; ``truncated`` tells a buffer that looks across steps, like lesson 10's n-step memory,
that the stream of steps breaks there: exercise 10.6) and passes every
``buffer.sample(batch_size)`` unchanged to ``loss_fn(q_network, target_network, batch, gamma)``, which
returns the scalar loss. Everything a special buffer adds (importance ``weights``, n-step ``discounts``,
``indices`` for ``update_priorities``) is therefore the loss's business, not the loop's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch


def dqn_loop(
    env: Any,
    q_network: torch.nn.Module,
    target_network: torch.nn.Module,
    buffer: Any,
    config: Any,
    loss_fn: Callable[..., torch.Tensor],
    seed: int = 0,
) -> list[tuple[int, float]]:
    """Train ``q_network`` by DQN for ``config.total_steps`` env steps; (step, return) of each episode."""
    rng = np.random.default_rng(seed)
    device = next(q_network.parameters()).device
    optimizer = torch.optim.Adam(q_network.parameters(), lr=config.learning_rate)
    target_network.load_state_dict(q_network.state_dict())  # Step 0: θ⁻ ← θ
    obs, _ = env.reset(seed=seed)
    episodes: list[tuple[int, float]] = []
    episode_return = 0.0
    for step in range(config.total_steps):
        # Step 1: ε-greedy, ε from the schedule (per episode if config.epsilon_decay, else linear in steps)
        if config.epsilon_decay:
            epsilon = max(
                config.epsilon_end, config.epsilon_start * config.epsilon_decay ** len(episodes)
            )
        else:
            progress = min(step / max(1, int(config.epsilon_fraction * config.total_steps)), 1.0)
            epsilon = config.epsilon_start + progress * (config.epsilon_end - config.epsilon_start)
        if rng.random() < epsilon:
            action = int(rng.integers(env.action_space.n))
        else:
            with torch.no_grad():
                action = int(q_network(torch.as_tensor(obs, device=device).unsqueeze(0)).argmax())
        next_obs, reward, terminated, truncated, _ = env.step(action)
        # Step 2: store the transition; the target bootstraps unless terminated (a time limit is not an end
        # of the task), and truncated tells an n-step buffer that the next obs starts a new episode
        buffer.add(obs, action, reward, next_obs, terminated, truncated)
        episode_return += float(reward)
        obs = next_obs
        if terminated or truncated:
            episodes.append((step + 1, episode_return))
            obs, _ = env.reset()
            episode_return = 0.0
        steps_done = step + 1
        # Steps 3-4: every train_freq steps from learning_starts on, minibatch updates on the TD error
        if steps_done >= config.learning_starts and steps_done % config.train_freq == 0:
            for _ in range(config.gradient_steps):
                batch = buffer.sample(config.batch_size)
                loss = loss_fn(q_network, target_network, batch, config.gamma)
                optimizer.zero_grad()
                loss.backward()
                if config.max_grad_norm:
                    torch.nn.utils.clip_grad_norm_(q_network.parameters(), config.max_grad_norm)
                optimizer.step()
        # Step 5: every target_update steps, θ⁻ ← θ
        if steps_done % config.target_update == 0:
            target_network.load_state_dict(q_network.state_dict())
    return episodes
