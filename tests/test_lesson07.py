"""Lesson 07 (Double DQN): the value probe's helpers and the Double DQN target checker's hints.

The exercise's stub and solution run in test_exercises.py.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from dqn_helpers import agents, checks, evaluation, losses
from dqn_helpers import config as dqn_config


# ------------------------------------------------------------------ evaluation.discounted_returns
def test_discounted_returns_follow_the_backward_recursion():
    rewards = [1.0, 0.0, 2.0, -1.0]
    got = evaluation.discounted_returns(rewards, gamma=0.5)
    # G_3 = -1, G_2 = 2 - 0.5, G_1 = 0 + 0.5 * 1.5, G_0 = 1 + 0.5 * 0.75
    np.testing.assert_allclose(got, [1.375, 0.75, 1.5, -1.0])
    assert got.dtype == np.float64 and got.shape == (4,)


def test_discounted_returns_edge_cases():
    assert evaluation.discounted_returns([], 0.99).shape == (0,)
    np.testing.assert_allclose(evaluation.discounted_returns([1.0] * 3, 1.0), [3.0, 2.0, 1.0])
    np.testing.assert_allclose(evaluation.discounted_returns([1.0] * 3, 0.0), [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="gamma"):
        evaluation.discounted_returns([1.0], 1.5)


# ----------------------------------------------------------- evaluation.predicted_and_actual_values
def test_predicted_and_actual_values_of_one_greedy_episode():
    torch.set_num_threads(1)
    agent = agents.DQNAgent(dqn_config.preset("cartpole-dqn"), obs_shape=(4,), n_actions=2)
    env = gym.make("CartPole-v1", max_episode_steps=1_000)
    predicted, actual = evaluation.predicted_and_actual_values(agent, env, 0.99, seed=3)
    assert predicted.shape == actual.shape and len(actual) >= 1
    # CartPole pays 1 per step: the return of step t is the geometric sum over the steps left
    left = np.arange(len(actual), 0, -1)
    np.testing.assert_allclose(actual, (1 - 0.99**left) / (1 - 0.99))
    # the prediction is Q(s_t, a_t) of the greedy action: the max of the Q-values at s_0
    obs, _ = env.reset(seed=3)
    assert predicted[0] == pytest.approx(float(agent.q_values(obs).max()), rel=1e-5)
    again, _ = evaluation.predicted_and_actual_values(agent, env, 0.99, seed=3)
    np.testing.assert_array_equal(predicted, again)  # the same seed replays the same episode


# ------------------------------------------------------------------ checks.check_double_dqn_target
def _reference(rewards, next_q_online, next_q_target, terminated, gamma):
    return losses.double_dqn_targets(rewards, next_q_online, next_q_target, terminated, gamma)


def _dqn_target(rewards, next_q_online, next_q_target, terminated, gamma):
    return losses.td_targets(rewards, next_q_target, terminated, gamma)


def _online_rates(rewards, next_q_online, next_q_target, terminated, gamma):
    return losses.td_targets(rewards, next_q_online, terminated, gamma)


def _swapped(rewards, next_q_online, next_q_target, terminated, gamma):
    return losses.double_dqn_targets(rewards, next_q_target, next_q_online, terminated, gamma)


def _bootstraps_terminal(rewards, next_q_online, next_q_target, terminated, gamma):
    return losses.double_dqn_targets(
        rewards, next_q_online, next_q_target, torch.zeros_like(terminated), gamma
    )


def _keeps_gradient(rewards, next_q_online, next_q_target, terminated, gamma):
    a = next_q_online.argmax(dim=1, keepdim=True)
    return rewards + gamma * (1 - terminated) * next_q_target.gather(1, a).squeeze(1)


def _unsqueezed(rewards, next_q_online, next_q_target, terminated, gamma):
    return _reference(rewards, next_q_online, next_q_target, terminated, gamma).unsqueeze(1)


def _hard_coded(rewards, next_q_online, next_q_target, terminated, gamma):
    return torch.tensor([2.0, 0.5, 2.5, -1.0])


def test_the_reference_passes(run_checker):
    passed, printed = run_checker(checks.check_double_dqn_target, _reference)
    assert passed and printed.startswith("✅")


@pytest.mark.parametrize(
    ("slip", "hint"),
    [
        (_dqn_target, "That is DQN's target"),
        (_online_rates, "both picked and rated"),
        (_swapped, "roles are swapped"),
        (_bootstraps_terminal, "terminal transition was bootstrapped"),
        (_keeps_gradient, "carry a gradient"),
        (_unsqueezed, ".squeeze(1)"),
        (_hard_coded, "random one"),
    ],
)
def test_each_slip_gets_its_hint(slip, hint, run_checker):
    passed, printed = run_checker(checks.check_double_dqn_target, slip)
    assert passed is False and printed.startswith("❌ Not yet. Hint: ")
    assert hint in printed, printed
