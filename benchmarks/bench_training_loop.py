"""How fast is our training loop? CartPole, one update of batch 64 per env step, 128-128 MLP.

Compares, in the same process and on the same settings, `dqn_helpers.training.train` with a
straightforward implementation of the lesson's pseudocode (a list buffer sampled with
`random.sample`, `torch.FloatTensor` conversions every step, MSE, Adam, hard target copies).
Prints env steps per second for both and the ratio (target: ours >= 2x).

    .venv/bin/python benchmarks/bench_training_loop.py [--steps 5000] [--repeats 2]
"""

from __future__ import annotations

import argparse
import random
import time

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dqn_helpers import config, training

BATCH, HIDDEN, LR, GAMMA, TARGET_EVERY = 64, 128, 1e-3, 0.99, 500


def naive_loop(steps: int, seed: int = 0) -> float:
    """The lesson's pseudocode, written plainly. Returns env steps per second."""
    random.seed(seed)
    torch.manual_seed(seed)
    env = gym.make("CartPole-v1")
    q_network = nn.Sequential(nn.Linear(4, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, HIDDEN), nn.ReLU(),
                              nn.Linear(HIDDEN, 2))
    target_network = nn.Sequential(nn.Linear(4, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, HIDDEN),
                                   nn.ReLU(), nn.Linear(HIDDEN, 2))
    target_network.load_state_dict(q_network.state_dict())
    optimizer = torch.optim.Adam(q_network.parameters(), lr=LR)
    buffer: list[tuple] = []
    state, _ = env.reset(seed=seed)
    epsilon = 1.0
    start = time.perf_counter()
    for t in range(steps):
        if random.random() < epsilon:
            action = env.action_space.sample()
        else:
            with torch.no_grad():
                action = q_network(torch.FloatTensor(state).unsqueeze(0)).argmax().item()
        next_state, reward, terminated, truncated, _ = env.step(action)
        buffer.append((state, action, reward, next_state, terminated))
        if len(buffer) > 10_000:
            buffer.pop(0)
        state = next_state
        if terminated or truncated:
            state, _ = env.reset()
        if len(buffer) >= BATCH:
            batch = random.sample(buffer, BATCH)
            states, actions, rewards, next_states, dones = zip(*batch)
            states = torch.FloatTensor(np.array(states))
            actions = torch.LongTensor(actions)
            rewards = torch.FloatTensor(rewards)
            next_states = torch.FloatTensor(np.array(next_states))
            dones = torch.FloatTensor(dones)
            current_q = q_network(states).gather(1, actions.unsqueeze(1)).squeeze(1)
            with torch.no_grad():
                target_q = rewards + (1 - dones) * GAMMA * target_network(next_states).max(1)[0]
            loss = F.mse_loss(current_q, target_q)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        if t % TARGET_EVERY == 0:
            target_network.load_state_dict(q_network.state_dict())
        epsilon = max(0.01, 1.0 - t / (0.3 * steps))
    return steps / (time.perf_counter() - start)


def our_loop(steps: int, seed: int = 0) -> float:
    """dqn_helpers.training.train with the same settings (no evaluation, no files)."""
    cfg = config.DQNConfig(
        total_steps=steps, learning_rate=LR, batch_size=BATCH, buffer_size=10_000,
        learning_starts=BATCH, train_freq=1, gradient_steps=1, target_update=TARGET_EVERY,
        gamma=GAMMA, epsilon_fraction=0.3, hidden=(HIDDEN, HIDDEN), loss="mse",
        max_grad_norm=None, eval_every=0, checkpoint_every=0, seed=seed, device="cpu",
    )
    start = time.perf_counter()
    training.train(cfg, progress=False)
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    our_loop(300)  # warm-up: imports, first optimizer, allocator
    naive_loop(300)
    ours, naive = [], []
    for r in range(args.repeats):  # interleaved, so machine load hits both alike
        naive.append(naive_loop(args.steps, seed=r))
        ours.append(our_loop(args.steps, seed=r))
    print(f"CartPole, 1 update of batch {BATCH} per env step, MLP {HIDDEN}-{HIDDEN}, "
          f"{args.steps} steps x {args.repeats}, torch threads {args.threads}")
    print(f"  lesson pseudocode (list buffer, FloatTensor per step): {np.median(naive):7.0f} steps/s")
    print(f"  dqn_helpers.training.train:                           {np.median(ours):7.0f} steps/s")
    print(f"  speed-up: {np.median(ours) / np.median(naive):.2f}x (target >= 2x)")


if __name__ == "__main__":
    main()
