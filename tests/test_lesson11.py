"""Lesson 11 (failure-mode gallery): the planted bugs do what the notebook says, the arms runner keeps
labels and seeds in order, the checkers name common mistakes (stubs and solutions: test_exercises.py)."""

from __future__ import annotations

import copy

import gymnasium as gym
import numpy as np
import pytest
import torch
from nbutils import load, run_cells  # tests/ is on sys.path under pytest

from dqn_helpers import agents, buffers, checks, config, diagnostics, losses

NB = load("11_failure_modes")


@pytest.fixture(scope="module")
def lesson() -> dict:
    """The notebook's setup, arms runner and planted bugs, in fast mode."""
    threads = torch.get_num_threads()
    try:
        return run_cells(NB, "parameters", "arms", "train-arms", "summary", "bugs")
    finally:
        torch.set_num_threads(threads)


def _batch(seed: int = 0) -> buffers.Batch:
    rng = np.random.default_rng(seed)
    buffer = buffers.ReplayBuffer(64, (4,), seed=seed)
    for i in range(64):
        obs, next_obs = rng.normal(size=4), rng.normal(size=4)
        buffer.add(obs, int(rng.integers(2)), 1.0, next_obs, i % 10 == 9, False)
    return buffer.sample(32)


def test_the_mask_bug_makes_every_td_target_the_reward(lesson):
    cfg = config.preset("cartpole-dqn", seed=3)
    agent = agents.DQNAgent(cfg, (4,), 2, device="cpu")
    right = copy.deepcopy(agent)
    batch = _batch()
    lesson["mask_bug"]("episode", None, agent)
    lesson["mask_bug"]("episode", None, agent)  # planting twice does not stack
    with torch.no_grad():
        q_taken = right.online(batch.obs).gather(1, batch.actions.unsqueeze(1)).squeeze(1)
        want = losses.huber_loss(q_taken, batch.rewards).item()  # y = r: no bootstrap at all
        healthy = right.learn(batch)["loss"]
    got = agent.learn(batch)["loss"]
    assert got == pytest.approx(want, rel=1e-5) and got != pytest.approx(healthy, rel=1e-3)


def test_the_zero_reward_cartpole_pays_nothing_but_keeps_the_dynamics(lesson):
    env = lesson["ZeroReward"](gym.make("CartPole-v1", max_episode_steps=3))
    env.reset(seed=0)
    steps = [env.step(a) for a in (0, 1, 0)]
    assert [s[1] for s in steps] == [0.0, 0.0, 0.0] and steps[-1][3]  # truncated at the limit
    env = lesson["zero_reward_cartpole"](config.preset("cartpole-dqn", seed=1))
    env.reset(seed=1)
    total, done = 0.0, False
    while not done:  # always push left: the pole falls
        _, r, terminated, truncated, _ = env.step(0)
        total, done = total + r, terminated or truncated
    assert total == 0.0 and terminated


def test_train_arms_keeps_labels_and_seeds_and_plants_the_bugs(lesson, capsys):
    lesson["config"].seeds, lesson["config"].n_jobs = (0, 1), 1
    cfg = lesson["plain_dqn"](600, learning_starts=100)
    runs = lesson["train_arms"](
        {
            "plain": dict(cfg=cfg),
            "zero": dict(cfg=cfg, env_fn=lesson["zero_reward_cartpole"]),
            "mask": dict(cfg=cfg, plant=lesson["mask_bug"]),
        }
    )
    assert list(runs) == ["plain", "zero", "mask"] and all(len(v) == 2 for v in runs.values())
    assert runs["plain"][0].episodes != runs["plain"][1].episodes  # two seeds, two runs
    assert all(np.all(log.column("episode_return") == 0) for log in runs["zero"])
    mask_q = np.nanmax(np.concatenate([log.column("mean_max_q") for log in runs["mask"]]))
    assert mask_q < 2.0  # y = r = 1: the values never grow past about one reward
    found = lesson["found"](runs)
    assert all("flat_returns" in names for names in found["zero"])
    lesson["summary"](runs)
    out = capsys.readouterr().out
    assert "zero" in out and "flat_returns" in out


def test_the_zero_reward_finding_on_a_real_run(lesson):
    lesson["config"].seeds, lesson["config"].n_jobs = (2,), 1
    cfg = lesson["plain_dqn"](800, learning_starts=100)
    arm = {"zero": dict(cfg=cfg, env_fn=lesson["zero_reward_cartpole"])}
    (log,) = lesson["train_arms"](arm)["zero"]
    (finding,) = [f for f in diagnostics.diagnose(log, gamma=0.99) if f.symptom == "flat_returns"]
    assert "returned exactly 0" in finding.evidence and "denser" in finding.fix


def test_checkers_name_common_mistakes(capsys):
    def against_r_max(mean_max_q, reward_max, gamma):
        return next((i for i, q in enumerate(mean_max_q) if q > reward_max), None)

    def returns_the_value(mean_max_q, reward_max, gamma):
        bound = reward_max / (1 - gamma) if gamma < 1 else float("inf")
        return next((q for q in mean_max_q if q > bound), None)

    def last_only(eval_returns, keep=0.5):
        e = np.asarray(eval_returns, float)
        return bool(len(e) >= 3 and e.max() >= 2 * e[0] and e[-1] < e[0] + keep * (e.max() - e[0]))

    def no_rise_needed(eval_returns, keep=0.5):
        e = np.asarray(eval_returns, float)
        return bool(len(e) >= 3 and np.all(e[-2:] < e[0] + keep * (e.max() - e[0])))

    cases = [
        (checks.check_first_impossible_q, against_r_max, "not with r_max"),
        (checks.check_first_impossible_q, returns_the_value, "not the value"),
        (checks.check_collapse_detector, last_only, "ask for the last two"),
        (checks.check_collapse_detector, no_rise_needed, "cannot forget"),
    ]
    for checker, broken, words in cases:
        assert checker(broken) is False, broken.__name__
        assert words in capsys.readouterr().out, broken.__name__
