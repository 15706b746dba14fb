"""The CartPole bar: our `cartpole` preset vs Stable-Baselines3 DQN (RL-Zoo hyperparameters).

For each seed, both agents are evaluated the same way: 20 greedy episodes on a separate env every
2,500 env steps (and at the end). Printed per seed: steps until the greedy mean first reaches 475,
the last evaluation, wall and CPU time, and the wall-time ratio.

The bar (from the course issue): at least 4 of 5 seeds reach >= 475 within 30,000 steps AND their
last evaluation is still >= 450; wall time per run <= SB3's.

    .venv/bin/python benchmarks/bench_cartpole.py --seeds 0 1 2 3 4
    .venv/bin/python benchmarks/bench_cartpole.py --seeds 5 6 7 8 9 --no-sb3

SB3 is optional (`pip install stable-baselines3`); without it the script says so and, as a floor
for SB3's time on this machine, times SB3's 25,000 gradient updates alone, re-created op for op
(batch 64, 256-256 MLP, Huber loss, clipping at 10, PyTorch's default Adam).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dqn_helpers import config, training

EVAL_EVERY, EVAL_EPISODES, EVAL_SEED = 2_500, 20, 100_000
SB3_STEPS = 50_000
SB3_ZOO = dict(  # rl-baselines3-zoo hyperparams/dqn.yml, CartPole-v1
    learning_rate=2.3e-3,
    batch_size=64,
    buffer_size=100_000,
    learning_starts=1_000,
    gamma=0.99,
    target_update_interval=10,
    train_freq=256,
    gradient_steps=128,
    exploration_fraction=0.16,
    exploration_final_eps=0.04,
    policy_kwargs=dict(net_arch=[256, 256]),
)


def first_at_least(evals: list[tuple[int, float]], threshold: float) -> int | None:
    return next((step for step, mean in evals if mean >= threshold), None)


def run_ours(seed: int, steps: int) -> dict[str, Any]:
    cfg = config.preset(
        "cartpole", seed=seed, total_steps=steps, eval_every=EVAL_EVERY, eval_episodes=EVAL_EPISODES
    )
    wall, cpu = time.perf_counter(), time.process_time()
    result = training.train(cfg, progress=False)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    evals = [(int(r["step"]), float(r["mean_return"])) for r in result.log.evals]
    return {"evals": evals, "wall": wall, "cpu": cpu}


def run_sb3(seed: int, steps: int) -> dict[str, Any]:
    import gymnasium as gym
    from stable_baselines3 import DQN
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.evaluation import evaluate_policy

    evals: list[tuple[int, float]] = []
    eval_env = gym.make("CartPole-v1")
    eval_time = [0.0]

    class EveryN(BaseCallback):
        def _on_step(self) -> bool:
            if self.num_timesteps % EVAL_EVERY == 0:
                t = time.perf_counter()
                eval_env.reset(seed=EVAL_SEED)
                mean, _ = evaluate_policy(
                    self.model, eval_env, n_eval_episodes=EVAL_EPISODES, deterministic=True
                )
                evals.append((self.num_timesteps, float(mean)))
                eval_time[0] += time.perf_counter() - t
            return True

    model = DQN("MlpPolicy", "CartPole-v1", seed=seed, verbose=0, device="cpu", **SB3_ZOO)
    wall, cpu = time.perf_counter(), time.process_time()
    model.learn(total_timesteps=steps, callback=EveryN())
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"evals": evals, "wall": wall, "cpu": cpu, "eval_wall": eval_time[0]}


def sb3_update_floor(updates: int = 25_000) -> float:
    """Seconds for SB3's CartPole gradient updates alone, re-created op for op (no env, no eval)."""

    def mlp() -> nn.Module:
        return nn.Sequential(
            nn.Linear(4, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 2)
        )

    q_net, q_target = mlp(), mlp()
    q_target.load_state_dict(q_net.state_dict())
    optimizer = torch.optim.Adam(q_net.parameters(), lr=2.3e-3)
    rng = np.random.default_rng(0)
    obs = torch.as_tensor(rng.normal(size=(4096, 4)), dtype=torch.float32)
    start = time.perf_counter()
    for i in range(updates):
        idx = torch.as_tensor(rng.integers(0, 4096, 64))
        o, no = obs[idx], obs[(idx + 1) % 4096]
        actions = idx % 2
        with torch.no_grad():
            next_q = q_target(no).max(dim=1).values
            target = 1.0 + 0.99 * next_q
        q = q_net(o).gather(1, actions[:, None]).squeeze(1)
        loss = F.smooth_l1_loss(q, target)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(q_net.parameters(), 10.0)
        optimizer.step()
        if i % 128 == 0:
            q_target.load_state_dict(q_net.state_dict())
    return time.perf_counter() - start


def fmt_step(s: int | None) -> str:
    return f"{s:>7,}" if s is not None else "  never"


def main() -> None:
    parser = argparse.ArgumentParser(description="Our cartpole preset vs SB3 DQN (RL-Zoo).")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--steps", type=int, default=30_000, help="our env steps (the bar: 30,000)")
    parser.add_argument("--sb3-steps", type=int, default=SB3_STEPS)
    parser.add_argument("--no-sb3", action="store_true", help="skip SB3 even if installed")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads for both")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    have_sb3 = False
    if not args.no_sb3:
        try:
            import stable_baselines3  # noqa: F401

            have_sb3 = True
        except ImportError:
            print(
                "stable-baselines3 is not installed: SB3 runs skipped "
                "(pip install stable-baselines3 to compare side by side)."
            )
    print(
        f"greedy eval: {EVAL_EPISODES} episodes every {EVAL_EVERY:,} steps on a separate env; "
        f"torch threads {args.threads}"
    )
    head = f"{'seed':>4} | {'ours: 1st>=475':>14} {'last':>6} {'wall s':>7} {'cpu s':>6}"
    if have_sb3:
        head += f" | {'SB3: 1st>=475':>13} {'last':>6} {'wall s':>7} | {'wall ratio':>10}"
    print(head)
    passed, ours_walls, sb3_walls = 0, [], []
    for seed in args.seeds:
        ours = run_ours(seed, args.steps)
        first, last = first_at_least(ours["evals"], 475), ours["evals"][-1][1]
        ok = first is not None and first <= args.steps and last >= 450
        passed += ok
        ours_walls.append(ours["wall"])
        line = (
            f"{seed:>4} | {fmt_step(first):>14} {last:6.1f} {ours['wall']:7.1f} {ours['cpu']:6.1f}"
        )
        if have_sb3:
            sb3 = run_sb3(seed, args.sb3_steps)
            sb3_walls.append(sb3["wall"])
            line += (
                f" | {fmt_step(first_at_least(sb3['evals'], 475)):>13} "
                f"{sb3['evals'][-1][1]:6.1f} {sb3['wall']:7.1f} | "
                f"{ours['wall'] / sb3['wall']:10.2f}"
            )
        print(line + ("  PASS" if ok else "  fail"), flush=True)
    print(
        f"bar: {passed}/{len(args.seeds)} seeds reach >= 475 within {args.steps:,} steps and end "
        f">= 450 (need >= 4 of 5); median wall {np.median(ours_walls):.1f} s per run"
    )
    if have_sb3:
        print(
            f"median wall ratio ours/SB3: {np.median(ours_walls) / np.median(sb3_walls):.2f} "
            "(both timings include their evaluations)"
        )
    else:
        floor = sb3_update_floor()
        print(
            f"SB3 floor on this machine now: its 25,000 gradient updates alone take {floor:.1f} s "
            f"(ours, whole run incl. evals: median {np.median(ours_walls):.1f} s; ratio "
            f"{np.median(ours_walls) / floor:.2f}). SB3 measured idle here: ~31 s per 50k-step run."
        )


if __name__ == "__main__":
    main()
