"""How fast is our training loop? CartPole, one update of batch 64 per env step, 128-128 MLP.

Compares, in the same process and on the same settings, `dqn_helpers.training.train` with a
straightforward implementation of the lesson's pseudocode (a list buffer sampled with
`random.sample`, `torch.FloatTensor` conversions every step, MSE, Adam, hard target copies).
Prints env steps per second for both and the ratio (target: ours >= 2x).

    .venv/bin/python benchmarks/bench_training_loop.py [--steps 5000] [--repeats 5]
    .venv/bin/python benchmarks/bench_training_loop.py --pong --steps 2000 [--num-envs 4]

Where the time goes (2-core CPU, one thread, measured 2026-11-25): one update of the 4-128-128-2
MLP on a batch of 64 has four 64x128x128 matrix products (forward, target forward, two in the
backward pass) at ~20 us each; everything else is per-operation overhead. The lesson's loop spends
~1000 us per step, most of it in autograd, Optimizer.step's Python wrapper and per-step
numpy/tensor conversions. Ours writes the MLP's backward pass by hand and runs it in inference mode
(checked against autograd in tests/test_agents.py), calls the fused Adam kernel directly and
samples from preallocated arrays: ~460 us per step, of which ~345 us is the update and ~25 us the
action; what is left of the update is ~40 small tensor operations at 2-10 us each. The naive
loop's speed varies more than ours from run to run (910-1100 steps/s here), so the script
interleaves the two and prints the ratio of every repeat.

With --pong it measures instead the agent steps/s of Pong training with the `pong` preset
(Nature CNN; on CPU expect the network to be the bound, ~150-180 steps/s on 2 idle cores).
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
    q_network = nn.Sequential(
        nn.Linear(4, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, 2)
    )
    target_network = nn.Sequential(
        nn.Linear(4, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, 2)
    )
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
        total_steps=steps,
        learning_rate=LR,
        batch_size=BATCH,
        buffer_size=10_000,
        learning_starts=BATCH,
        train_freq=1,
        gradient_steps=1,
        target_update=TARGET_EVERY,
        gamma=GAMMA,
        epsilon_fraction=0.3,
        hidden=(HIDDEN, HIDDEN),
        loss="mse",
        max_grad_norm=None,
        eval_every=0,
        checkpoint_every=0,
        seed=seed,
        device="cpu",
    )
    start = time.perf_counter()
    training.train(cfg, progress=False)
    return steps / (time.perf_counter() - start)


def pong_throughput(steps: int, num_envs: int) -> None:
    """Agent steps/s of the `pong` preset: collection only, then with an update every 4 steps."""

    def run(total: int, learning_starts: int) -> tuple[float, float]:
        cfg = config.preset(
            "pong",
            total_steps=total,
            learning_starts=learning_starts,
            eval_every=0,
            checkpoint_every=0,
            buffer_size=20_000,
            num_envs=num_envs,
        )
        wall, cpu = time.perf_counter(), time.process_time()
        training.train(cfg, progress=False)
        return time.perf_counter() - wall, time.process_time() - cpu

    run(50, 10**6)  # warm-up: ALE, imports, first optimizer
    w0, c0 = run(1_000, 10**6)
    w1, c1 = run(1_000 + steps, 1_000)
    print(
        f"Pong (pong preset, {num_envs} env(s), torch threads {torch.get_num_threads()}, "
        f"device {config.preset('pong').device}):"
    )
    print(
        f"  collection only (greedy forward + env + buffer): {1_000 / w0:6.0f} steps/s "
        f"({1_000 / c0:.0f} per CPU-second of this process)"
    )
    print(
        f"  training (one batch-32 update every 4 steps):    {steps / (w1 - w0):6.0f} steps/s "
        f"({steps / max(c1 - c0, 1e-9):.0f} per CPU-second of this process)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--pong",
        action="store_true",
        help="instead: agent steps/s of Pong training with the pong preset",
    )
    parser.add_argument("--num-envs", type=int, default=1, help="with --pong: vector envs")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.pong:
        pong_throughput(args.steps, args.num_envs)
        return
    our_loop(300)  # warm-up: imports, first optimizer, allocator
    naive_loop(300)
    ours, naive = [], []
    for r in range(args.repeats):  # interleaved, so machine load hits both alike
        naive.append(naive_loop(args.steps, seed=r))
        ours.append(our_loop(args.steps, seed=r))
    print(
        f"CartPole, 1 update of batch {BATCH} per env step, MLP {HIDDEN}-{HIDDEN}, "
        f"{args.steps} steps x {args.repeats}, torch threads {args.threads}"
    )
    print(
        f"  lesson pseudocode (list buffer, FloatTensor per step): {np.median(naive):7.0f} steps/s"
    )
    print(f"  dqn_helpers.training.train:                           {np.median(ours):7.0f} steps/s")
    ratios = [o / n for o, n in zip(ours, naive)]
    print(
        f"  speed-up: {np.median(ours) / np.median(naive):.2f}x (target >= 2x); per repeat "
        + ", ".join(f"{r:.2f}x" for r in ratios)
    )


if __name__ == "__main__":
    main()
