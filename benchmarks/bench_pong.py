"""Pong throughput in one run: the raw environment, ale-py's vector env, and our training loop.

Run:  .venv/bin/python benchmarks/bench_pong.py --threads 1           (~5 min on 2 idle cores)
      .venv/bin/python benchmarks/bench_pong.py --threads 1 --quick   (~2 min; the figures quoted in lesson 10)

Prints figures only; nothing is asserted. "Agent steps" are env.step calls (4 Atari frames each).
Every rate is given twice: per second of wall time, and per second of this process's CPU time
(all its threads together). On an idle machine with one busy thread the two agree; on a shared,
loaded machine the wall-time rate drops while the CPU-time rate stays put.

Sections:
  (a) raw env: atari.make_atari_env with random actions, one process;
  (b) ale_py.vector_env.AtariVectorEnv (C++ threads, the same preprocessing), if available;
  (c) training.train with the pong preset: agent steps/s with an update every train_freq steps,
      measured after learning_starts, and its fraction of (a); then the parts that explain it:
      one update (sample + learn) of batch 32 and one batch-1 action forward pass;
  (d) the update and action costs with 1 torch thread and with one per core;
  (e) the update cost of the preset with each extension switched on or off (why the preset
      leaves Double DQN and the dueling head off on a CPU);
  (f) the update's numeric format: fp32, channels-last fp32, bfloat16 autocast with and without
      channels-last weights (the preset's ``precision="bf16"``), and torch.compile; then the whole
      loop's agent steps/s in fp32 and in the preset's precision. ``--precision`` runs (f) alone.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from typing import Any

import ale_py
import gymnasium as gym
import numpy as np
import torch

from dqn_helpers import atari, buffers, config, envs, training
from dqn_helpers.agents import DQNAgent


def clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def rates(n: int, start: tuple[float, float]) -> tuple[float, float]:
    """(per wall second, per CPU second) for ``n`` events since ``start``."""
    wall, cpu = time.perf_counter() - start[0], time.process_time() - start[1]
    return n / wall, n / max(cpu, 1e-9)


Transition = tuple[np.ndarray, int, float, np.ndarray, bool, bool]


def raw_env_speed(steps: int, seed: int = 0) -> tuple[float, float, list[Transition]]:
    """(a) Agent steps/s of make_atari_env with random actions; also returns the transitions seen."""
    env = atari.make_atari_env("ALE/Pong-v5", seed=seed)
    obs, _ = env.reset(seed=seed)
    env.action_space.seed(seed)
    actions = [int(env.action_space.sample()) for _ in range(steps)]
    transitions = []
    start = clock()
    for a in actions:
        next_obs, reward, terminated, truncated, _ = env.step(a)
        transitions.append((obs, a, float(reward), next_obs, terminated, truncated))
        obs = next_obs
        if terminated or truncated:
            obs, _ = env.reset()
    wall_rate, cpu_rate = rates(steps, start)
    env.close()
    return wall_rate, cpu_rate, transitions


def vector_env_speed(num_envs: int, num_threads: int, steps: int) -> tuple[float, float] | None:
    """(b) Agent steps/s (summed over envs) of ale-py's C++ vector env; None if it is missing."""
    try:
        from ale_py.vector_env import AtariVectorEnv
    except ImportError:
        return None
    envs = AtariVectorEnv("pong", num_envs, num_threads=num_threads, repeat_action_probability=0.25)
    envs.reset(seed=0)
    rng = np.random.default_rng(0)
    iterations = max(1, steps // num_envs)
    actions = rng.integers(0, envs.single_action_space.n, size=(iterations, num_envs))
    start = clock()
    for a in actions:
        envs.step(a)
    result = rates(iterations * num_envs, start)
    envs.close()
    return result


class StepClock(gym.Wrapper):
    """Records the wall and CPU clocks at every env.step call of the training loop."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def step(self, action: Any) -> Any:
        self.wall.append(time.perf_counter())
        self.cpu.append(time.process_time())
        return self.env.step(action)


def training_speed(
    learning_starts: int, measured: int, seed: int = 0, **overrides: Any
) -> tuple[float, float, int]:
    """(c) Agent steps/s of training.train (pong preset) over ``measured`` steps after learning_starts."""
    cfg = config.preset(
        "pong",
        **overrides,
        seed=seed,
        total_steps=learning_starts + measured,
        learning_starts=learning_starts,
        eval_every=0,
        checkpoint_every=0,
        device="cpu",
    )
    env = StepClock(envs.make_env(cfg.env_id, seed=seed, frame_stack=cfg.frame_stack))
    result = training.train(cfg, env=env, progress=False)
    first, last = learning_starts, len(env.wall) - 1  # step index learning_starts .. the last step
    n = last - first
    wall_rate = n / (env.wall[last] - env.wall[first])
    cpu_rate = n / max(env.cpu[last] - env.cpu[first], 1e-9)
    return wall_rate, cpu_rate, result.agent.updates


def median_ms(fn: Any, calls: int, warmup: int = 3) -> tuple[float, float]:
    """Median (wall ms, CPU ms) of ``calls`` calls of ``fn`` after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(calls):
        w, c = clock()
        fn()
        wall.append((time.perf_counter() - w) * 1e3)
        cpu.append((time.process_time() - c) * 1e3)
    return statistics.median(wall), statistics.median(cpu)


def learn(agent: DQNAgent, buf: Any, batch_size: int) -> None:
    """One update as the training loop does it: sample, learn, and (PER) new priorities."""
    batch = buf.sample(batch_size)
    metrics = agent.learn(batch)
    if buf.prioritized:
        buf.update_priorities(batch.indices, metrics["td_errors"])


def update_and_act_cost(
    transitions: list[Transition], calls: int, variant: str = "", **overrides: Any
) -> dict[str, tuple[float, float]]:
    """Median cost of one sample, one update (sample + learn, batch 32), one action and one add.

    ``overrides`` change the pong preset (e.g. ``double=True``) for section (e); ``variant`` is one
    of section (f)'s formats that no config field gives: "channels_last" (fp32 weights in
    channels-last order), "bf16_contiguous" (bf16 autocast, usual weight order), "compile"
    (torch.compile of both networks, fp32).
    """
    cfg = config.preset("pong", device="cpu", **overrides)
    agent = DQNAgent(cfg, (4, 84, 84), 6, device="cpu")
    if variant == "channels_last":
        agent.online = agent.online.to(memory_format=torch.channels_last)
        agent.target = agent.target.to(memory_format=torch.channels_last)
    elif variant == "bf16_contiguous":
        agent.online = agent.online.to(memory_format=torch.contiguous_format)
        agent.target = agent.target.to(memory_format=torch.contiguous_format)
    elif variant == "compile":
        agent.online = torch.compile(agent.online)
        agent.target = torch.compile(agent.target)
    buf = buffers.FrameReplayBuffer(
        cfg.buffer_size, seed=0, n_step=cfg.n_step, gamma=cfg.gamma, prioritized=cfg.prioritized
    )
    for transition in transitions[: -calls * 5 - 1]:
        buf.add(*transition)
    rest = iter(transitions[-calls * 5 - 1 :])  # consecutive transitions, for timing add
    obs = transitions[-1][3]
    return {
        "sample": median_ms(lambda: buf.sample(cfg.batch_size), calls),
        "update": median_ms(lambda: learn(agent, buf, cfg.batch_size), calls),
        "act": median_ms(lambda: agent.act(obs, 0.0), calls * 5),
        "add": median_ms(lambda: buf.add(*next(rest)), calls * 5 - 4, warmup=2),
    }


def precision_section(transitions: list[Transition], calls: int, steps: tuple[int, int]) -> None:
    """(f) The update in each numeric format, then the whole loop in fp32 and in the preset's."""
    from dqn_helpers import device as device_lib

    print(
        f"(f) the update's numeric format (this CPU has bfloat16 support: "
        f"{device_lib.cpu_supports_bf16()}), wall ms | CPU ms per update (sample + learn):"
    )
    base = None
    for label, variant, precision in (
        ("fp32", "", "fp32"),
        ("fp32, channels-last weights", "channels_last", "fp32"),
        ("bf16 autocast", "bf16_contiguous", "bf16"),
        ("bf16 autocast, channels-last (preset)", "", "bf16"),
        ("torch.compile, fp32", "compile", "fp32"),
    ):
        try:
            cost = update_and_act_cost(transitions, calls, variant=variant, precision=precision)
        except (
            Exception
        ) as exc:  # torch.compile needs a working C++ toolchain; say why it is missing
            print(f"    {label:40s} not measured: {type(exc).__name__}: {str(exc)[:80]}")
            continue
        base = base or cost["update"]
        print(
            f"    {label:40s} {cost['update'][0]:7.1f} | {cost['update'][1]:7.1f}"
            f"  ({cost['update'][1] / base[1]:5.0%} of fp32's CPU time)"
        )
    for precision in ("fp32", "bf16"):
        wall, cpu, updates = training_speed(*steps, precision=precision)
        print(
            f"    whole loop, precision={precision}: {wall:7.1f} | {cpu:7.1f} agent steps/s "
            f"({updates} updates)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--precision", action="store_true", help="section (f) alone (numeric formats, ~3 min)"
    )
    parser.add_argument("--quick", action="store_true", help="fewer steps (a ~1-2 min run)")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's)"
    )
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    atari.require_atari()
    ale_py.ALEInterface.setLoggerMode(ale_py.LoggerMode.Error)  # no emulator banner in the figures
    env_steps = 3_000 if args.quick else 10_000
    learning_starts, measured = (1_000, 2_000) if args.quick else (2_000, 6_000)
    calls = 20 if args.quick else 60
    if args.precision:
        print(
            f"torch {torch.__version__} with {torch.get_num_threads()} threads; "
            f"load average {os.getloadavg()[0]:.1f}; rates: per wall second | per CPU second"
        )
        transitions = raw_env_speed(env_steps)[2]
        precision_section(transitions, calls, (learning_starts, measured))
        return

    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"torch {torch.__version__} with {torch.get_num_threads()} threads; ale-py {ale_py.__version__}; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print("rates: per wall second | per CPU second of this process (all threads)\n")

    env_wall, env_cpu, transitions = raw_env_speed(env_steps)
    print(
        f"(a) raw env, make_atari_env(ALE/Pong-v5), random actions, 1 process, {env_steps:,} steps:"
    )
    print(f"    {env_wall:8,.0f} | {env_cpu:8,.0f} agent steps/s")

    for num_envs, threads in ((8, 2), (8, 1)):
        vec = vector_env_speed(num_envs, threads, env_steps * 2)
        if vec is None:
            print("(b) ale_py.vector_env.AtariVectorEnv not available in this ale-py")
            break
        print(
            f"(b) ale_py AtariVectorEnv, {num_envs} envs on {threads} thread(s) (same preprocessing):"
        )
        print(f"    {vec[0]:8,.0f} | {vec[1]:8,.0f} agent steps/s")

    cfg = config.preset("pong")
    train_wall, train_cpu, updates = training_speed(learning_starts, measured)
    print(
        f"(c) training.train, pong preset (update every {cfg.train_freq} steps, batch {cfg.batch_size}, "
        f"{'Double, ' if cfg.double else ''}{'Dueling, ' if cfg.dueling else ''}"
        f"{'PER, ' if cfg.prioritized else ''}{cfg.n_step}-step), steps {learning_starts:,}..{learning_starts + measured:,} "
        f"({updates} updates):"
    )
    print(f"    {train_wall:8,.1f} | {train_cpu:8,.1f} agent steps/s with updates")
    print(
        f"    = {train_wall / env_wall:.1%} of the raw env speed (a) in wall time, "
        f"{train_cpu / env_cpu:.1%} in CPU time"
    )

    parts = update_and_act_cost(transitions, calls)
    print("    where the time goes (median of repeated calls, wall ms | CPU ms):")
    for name, label in (
        ("update", f"one update: sample + learn, batch {cfg.batch_size}"),
        ("sample", "  of which the buffer sample"),
        ("act", "one batch-1 action (forward pass)"),
        ("add", "one buffer add"),
    ):
        print(f"      {label:38s} {parts[name][0]:7.2f} | {parts[name][1]:7.2f}")
    predicted = []
    for k, env_rate in ((0, env_wall), (1, env_cpu)):
        per_step = (
            1e3 / env_rate + parts["act"][k] + parts["add"][k] + parts["update"][k] / cfg.train_freq
        )
        predicted.append(1e3 / per_step)
    print(
        f"    sum of the parts per agent step (env + act + add + update/{cfg.train_freq}) predicts "
        f"{predicted[0]:,.1f} | {predicted[1]:,.1f} steps/s; measured {train_wall:,.1f} | {train_cpu:,.1f}: "
        f"the loop's own overhead is {1 - train_cpu / predicted[1]:.0%} of its CPU time"
    )
    hours = 1_000_000 / train_wall / 3600
    print(f"    1,000,000 agent steps (the pong preset's budget) at this speed: {hours:.1f} hours")

    chosen = torch.get_num_threads()
    print(
        "(d) torch CPU threads (an oversubscribed machine punishes intra-op threads), wall ms | CPU ms:"
    )
    for threads in sorted({1, os.cpu_count() or 1}):
        torch.set_num_threads(threads)
        cost = update_and_act_cost(transitions, max(5, calls // 2))
        print(
            f"    {threads} thread(s): update {cost['update'][0]:7.1f} | {cost['update'][1]:7.1f}   "
            f"action {cost['act'][0]:6.2f} | {cost['act'][1]:6.2f}"
        )
    torch.set_num_threads(chosen)

    print(
        "(e) what each extension costs per update on this device (wall ms | CPU ms; the preset is "
        f"{cfg.n_step}-step{', PER' if cfg.prioritized else ''}{', Double' if cfg.double else ''}"
        f"{', Dueling' if cfg.dueling else ''}):"
    )
    base = None
    for label, overrides in (
        ("the pong preset", {}),
        ("+ Double DQN", {"double": True}),
        ("+ dueling head", {"dueling": True}),
        ("+ Double + dueling", {"double": True, "dueling": True}),
        ("without prioritized replay", {"prioritized": False}),
        ("1-step targets", {"n_step": 1}),
    ):
        cost = update_and_act_cost(transitions, max(5, calls // 2), **overrides)["update"]
        base = base or cost
        print(
            f"    {label:28s} update {cost[0]:7.1f} | {cost[1]:7.1f}  ({cost[1] / base[1]:5.0%} of the preset's)"
        )
    precision_section(transitions, max(5, calls // 2), (learning_starts, measured))


if __name__ == "__main__":
    main()
