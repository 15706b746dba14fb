"""bf16 against fp32 on the same Pong data: loss and mean max-Q over the first updates, side by side.

Run:  .venv/bin/python benchmarks/compare_precision.py [--updates 2000]   (~5 min on 2 idle cores)

Two agents of the ``pong`` preset with the same initial weights, one with ``precision="fp32"`` and
one with ``precision="bf16"``, learn in lockstep from the SAME minibatches of one replay buffer of
real Pong transitions (random play, 3-step returns, prioritized sampling driven by the fp32 agent's
TD errors), with a target copy every 250 updates as the preset does. Printed every 250 updates: each
agent's mean loss and mean max-Q over the last 250 updates, and the largest |Q| difference of the
two networks on a fixed held-out batch. Nothing is asserted; the figures go into the issue note.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from dqn_helpers import atari, buffers, config
from dqn_helpers.agents import DQNAgent


def collect(steps: int, seed: int = 0) -> list[tuple]:
    env = atari.make_atari_env("ALE/Pong-v5", seed=seed)
    obs, _ = env.reset(seed=seed)
    env.action_space.seed(seed)
    out = []
    for _ in range(steps):
        a = int(env.action_space.sample())
        nxt, r, term, trunc, _ = env.step(a)
        out.append((obs, a, float(r), nxt, term, trunc))
        obs = nxt if not (term or trunc) else env.reset()[0]
    env.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=2_000)
    parser.add_argument("--transitions", type=int, default=20_000)
    args = parser.parse_args()
    atari.require_atari()
    cfg = config.preset("pong", device="cpu")
    agents = {p: DQNAgent(cfg.replace(precision=p), (4, 84, 84), 6) for p in ("fp32", "bf16")}
    agents["bf16"].online.load_state_dict(agents["fp32"].online.state_dict())
    agents["bf16"].update_target()
    print(f"bf16 in effect: {agents['bf16'].precision}; torch threads {torch.get_num_threads()}")
    buf = buffers.FrameReplayBuffer(
        cfg.buffer_size, seed=0, n_step=cfg.n_step, gamma=cfg.gamma, prioritized=True
    )
    data = collect(args.transitions)
    for t in data[:-64]:
        buf.add(*t)
    held_out = torch.as_tensor(np.stack([t[0] for t in data[-64:]]))
    sync = cfg.target_update // cfg.train_freq
    hist: dict[str, dict[str, list[float]]] = {p: {"loss": [], "q": []} for p in agents}
    seconds = dict.fromkeys(agents, 0.0)
    print(
        f"{'updates':>8} | {'loss fp32':>10} {'loss bf16':>10} | {'maxQ fp32':>10} {'maxQ bf16':>10} | max |dQ| held-out"
    )
    for u in range(1, args.updates + 1):
        batch = buf.sample(cfg.batch_size)
        for p, agent in agents.items():
            start = time.process_time()
            m = agent.learn(batch)
            seconds[p] += time.process_time() - start
            hist[p]["loss"].append(m["loss"])
            hist[p]["q"].append(m["mean_max_q"])
            if p == "fp32":
                buf.update_priorities(batch.indices, m["td_errors"])
        if u % sync == 0:
            for agent in agents.values():
                agent.update_target()
            with torch.no_grad():
                dq = (agents["fp32"].online(held_out) - agents["bf16"].online(held_out)).abs().max()
            w = slice(u - sync, u)
            print(
                f"{u:8d} | {np.mean(hist['fp32']['loss'][w]):10.5f} {np.mean(hist['bf16']['loss'][w]):10.5f} | "
                f"{np.mean(hist['fp32']['q'][w]):10.4f} {np.mean(hist['bf16']['q'][w]):10.4f} | {float(dq):.4f}"
            )
    for p in agents:
        print(f"CPU time per update, {p}: {1e3 * seconds[p] / args.updates:.1f} ms")


if __name__ == "__main__":
    main()
