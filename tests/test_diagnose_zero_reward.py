"""diagnose on lesson 11's zero-reward arms: CartPole with every reward 0 still learns from termination
(a terminal target is 0, the others bootstrap), so it is not ``flat_returns``; with the terminal mask
removed as well nothing is left to learn from, and it is."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from nbutils import load, run_cells  # tests/ is on sys.path under pytest

from dqn_helpers import diagnostics, logs

STEPS = 5_000  # a small budget: enough for the zero-reward arm's greedy play to learn (seeds 0, 1)


def _zero_log(eval_means: list[float]) -> logs.TrainingLog:
    """60 episodes of 20 steps that all returned 0, values near 0, and these greedy evaluations."""
    rows = []
    for i in range(60):
        learning = i >= 5
        rows.append(
            {
                "step": 20 * (i + 1),
                "episode": i + 1,
                "episode_return": 0.0,
                "episode_length": 20,
                "loss": 0.01 if learning else math.nan,
                "mean_max_q": 0.05 if learning else math.nan,
                "td_error": 0.01 if learning else math.nan,
                "grad_norm": 0.1 if learning else math.nan,
                "epsilon": max(0.05, 1 - i / 20),
                "learning_rate": 1e-3,
                "time": 0.01 * i,
            }
        )
    evals = [
        {
            "step": 1_200 * (j + 1) // len(eval_means),
            "mean_return": m,
            "std_return": 1.0,
            "episodes": 5,
        }
        for j, m in enumerate(eval_means)
    ]
    return logs.TrainingLog(rows, evals)


def _symptoms(log, **kwargs) -> set[str]:
    return {f.symptom for f in diagnostics.diagnose(log, gamma=0.99, reward_max=1.0, **kwargs)}


def test_zero_training_returns_with_greedy_evaluations_that_learned_are_not_flat():
    assert "flat_returns" not in _symptoms(_zero_log([9, 20, 60, 150, 130, 200]))
    # evaluations that did not learn (a lucky peak, then back to the start) are flat
    assert "flat_returns" in _symptoms(_zero_log([9, 25, 10, 9, 9, 10]))
    # the late median must reach twice the first: 9 -> 17 is not enough, 9 -> 18 is
    assert "flat_returns" in _symptoms(_zero_log([9, 17, 17, 17]))
    assert "flat_returns" not in _symptoms(_zero_log([9, 18, 18, 18]))
    # fewer than three evaluations, or none: the all-zero training returns decide
    assert "flat_returns" in _symptoms(_zero_log([9, 400]))
    assert "flat_returns" in _symptoms(_zero_log([]))


@pytest.fixture(scope="module")
def arms() -> dict[str, list]:
    """The notebook's zero-reward arm and its no-terminal twin, seeds 0 and 1, STEPS steps each."""
    threads = torch.get_num_threads()
    try:
        ns = run_cells(load("11_failure_modes"), "parameters", "arms", "train-arms", "bugs")
    finally:
        torch.set_num_threads(threads)
    ns["config"].seeds, ns["config"].n_jobs = (0, 1), 2
    cfg = ns["plain_dqn"](STEPS, learning_starts=500, eval_every=500, eval_episodes=5)
    zero = ns["zero_reward_cartpole"]
    return ns["train_arms"](
        {
            "rewards always 0": dict(cfg=cfg, env_fn=zero),
            "rewards always 0, no terminal": dict(
                cfg=cfg, env_fn=zero, plant=ns["no_terminal_bug"]
            ),
        }
    )


def test_diagnose_on_the_zero_reward_and_no_terminal_arms(arms):
    for label, runs in arms.items():
        for log in runs:  # no reward reached either arm
            assert np.all(log.column("episode_return") == 0), label
    learned = [
        np.median(log.column("mean_return", "evals")[-3:]) for log in arms["rewards always 0"]
    ]
    stayed = [
        np.median(log.column("mean_return", "evals")[-3:])
        for log in arms["rewards always 0, no terminal"]
    ]
    # termination alone taught the first arm to balance for longer; without it the greedy play stays short
    assert min(learned) > 50 > 20 > max(stayed), (learned, stayed)
    for log in arms["rewards always 0"]:
        assert "flat_returns" not in _symptoms(log), diagnostics.format_findings(
            diagnostics.diagnose(log)
        )
    for log in arms["rewards always 0, no terminal"]:
        (flat,) = [
            f
            for f in diagnostics.diagnose(log, gamma=0.99, reward_max=1.0)
            if f.symptom == "flat_returns"
        ]
        # what a flat 0 means, said precisely: the rewards summed to 0, the greedy play did not learn
        assert "returned exactly 0" in flat.evidence and "cancelled" in flat.evidence
        assert "greedy evaluations did not learn either" in flat.evidence
