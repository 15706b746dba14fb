"""Tests for dqn_helpers.losses: TD targets by hand, Huber vs MSE, clipping (target updates: test_targets)."""

from __future__ import annotations

import pytest
import torch

from dqn_helpers import losses

REWARDS = torch.tensor([1.0, 0.0, -1.0])
NEXT_Q = torch.tensor([[1.0, 2.0], [3.0, 0.5], [4.0, 4.0]])
TERMINATED = torch.tensor([0.0, 1.0, 0.0])


def test_td_targets_by_hand():
    # row 0: 1 + 0.9 * 2; row 1: terminal, no bootstrap; row 2: -1 + 0.9 * 4
    targets = losses.td_targets(REWARDS, NEXT_Q, TERMINATED, gamma=0.9)
    torch.testing.assert_close(targets, torch.tensor([2.8, 0.0, 2.6]))


def test_td_targets_with_per_transition_discounts_for_n_step():
    discounts = torch.tensor([0.9, 0.81, 0.729])  # gamma**m for m = 1, 2, 3
    targets = losses.td_targets(REWARDS, NEXT_Q, TERMINATED, gamma=discounts)
    torch.testing.assert_close(targets, torch.tensor([1.0 + 0.9 * 2.0, 0.0, -1.0 + 0.729 * 4.0]))


def test_td_targets_accept_bool_terminated_and_gamma_edge_cases():
    targets = losses.td_targets(REWARDS, NEXT_Q, TERMINATED.bool(), gamma=0.9)
    torch.testing.assert_close(targets, torch.tensor([2.8, 0.0, 2.6]))
    torch.testing.assert_close(losses.td_targets(REWARDS, NEXT_Q, TERMINATED, 0.0), REWARDS)
    torch.testing.assert_close(
        losses.td_targets(REWARDS, NEXT_Q, TERMINATED, 1), torch.tensor([3.0, 0.0, 3.0])
    )


def test_targets_keep_the_rewards_dtype_with_float64_discounts():
    discounts = torch.tensor([0.9, 0.81, 0.729], dtype=torch.float64)
    assert losses.td_targets(REWARDS, NEXT_Q, TERMINATED, discounts).dtype == torch.float32


def test_targets_carry_no_gradient_into_the_target_network():
    next_q = NEXT_Q.clone().requires_grad_(True)
    targets = losses.td_targets(REWARDS, next_q, TERMINATED, 0.9)
    assert not targets.requires_grad
    double = losses.double_dqn_targets(REWARDS, next_q, next_q * 2, TERMINATED, 0.9)
    assert not double.requires_grad


def test_double_dqn_targets_by_hand():
    rewards = torch.tensor([1.0, 2.0, 3.0])
    next_q_online = torch.tensor([[0.1, 0.2], [5.0, 1.0], [3.0, -1.0]])  # argmax: 1, 0, 0
    next_q_target = torch.tensor([[10.0, 20.0], [30.0, 40.0], [50.0, 60.0]])
    terminated = torch.tensor([0.0, 0.0, 1.0])
    double = losses.double_dqn_targets(rewards, next_q_online, next_q_target, terminated, 0.5)
    torch.testing.assert_close(double, torch.tensor([1 + 0.5 * 20, 2 + 0.5 * 30, 3.0]))
    # Plain DQN takes the target's own max, 40 in row 1: the overestimation Double DQN avoids.
    plain = losses.td_targets(rewards, next_q_target, terminated, 0.5)
    torch.testing.assert_close(plain, torch.tensor([11.0, 22.0, 3.0]))


def test_double_dqn_equals_td_when_both_networks_agree():
    torch.manual_seed(0)
    q = torch.randn(32, 6)
    rewards, terminated = torch.randn(32), (torch.rand(32) < 0.2).float()
    torch.testing.assert_close(
        losses.double_dqn_targets(rewards, q, q, terminated, 0.99),
        losses.td_targets(rewards, q, terminated, 0.99),
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"rewards": REWARDS[:, None]}, ValueError, r"rewards must have shape \(batch,\).*squeeze"),
        ({"terminated": TERMINATED[:2]}, ValueError, "terminated must have the same shape"),
        ({"next_q_target": NEXT_Q[:2]}, ValueError, r"next_q_target must have shape \(batch=3"),
        ({"gamma": 1.5}, ValueError, r"gamma must be in \[0, 1\], got 1.5"),
        ({"gamma": torch.ones(2)}, ValueError, r"gamma tensor .* shape \(3,\), got \(2,\)"),
        ({"gamma": "0.9"}, TypeError, "gamma must be a float"),
    ],
)
def test_td_targets_validation(kwargs, error, match):
    args = {"rewards": REWARDS, "next_q_target": NEXT_Q, "terminated": TERMINATED, "gamma": 0.9}
    args.update(kwargs)
    with pytest.raises(error, match=match):
        losses.td_targets(**args)


def test_double_dqn_targets_validation():
    with pytest.raises(ValueError, match="same shape"):
        losses.double_dqn_targets(REWARDS, NEXT_Q, torch.zeros(3, 3), TERMINATED, 0.9)


PRED = torch.zeros(4)
TARGET = torch.tensor([0.5, -2.0, 3.0, 0.0])
WEIGHTS = torch.tensor([1.0, 0.5, 0.0, 2.0])


def test_huber_and_mse_by_hand():
    # errors 0.5, -2, 3, 0 -> huber(delta=1): 0.125, 1.5, 2.5, 0; mse: 0.25, 4, 9, 0
    assert losses.huber_loss(PRED, TARGET).item() == pytest.approx((0.125 + 1.5 + 2.5) / 4)
    assert losses.mse_loss(PRED, TARGET).item() == pytest.approx((0.25 + 4 + 9) / 4)
    # delta=2: 0.125, 2 (still quadratic), 2 * (3 - 1) = 4, 0
    assert losses.huber_loss(PRED, TARGET, delta=2.0).item() == pytest.approx((0.125 + 2 + 4) / 4)


def test_weighted_losses_by_hand():
    assert losses.huber_loss(PRED, TARGET, WEIGHTS).item() == pytest.approx((0.125 + 0.75) / 4)
    assert losses.mse_loss(PRED, TARGET, WEIGHTS).item() == pytest.approx((0.25 + 2.0) / 4)
    ones = torch.ones(4)
    assert losses.mse_loss(PRED, TARGET, ones).item() == pytest.approx(
        losses.mse_loss(PRED, TARGET).item()
    )


def test_huber_gradient_is_bounded_and_target_gets_none():
    pred = PRED.clone().requires_grad_(True)
    target = TARGET.clone().requires_grad_(True)
    losses.huber_loss(pred, target).backward()
    # d/dpred: error inside delta -> (pred - target)/B, outside -> sign * delta / B
    torch.testing.assert_close(pred.grad, torch.tensor([-0.5, 1.0, -1.0, 0.0]) / 4)
    assert target.grad is None


def test_huber_matches_a_naive_reference_on_random_data():
    torch.manual_seed(1)
    pred, target, weights = torch.randn(100) * 3, torch.randn(100) * 3, torch.rand(100)
    error = (pred - target).abs()
    naive = torch.where(error <= 1.0, 0.5 * error**2, error - 0.5)
    torch.testing.assert_close(losses.huber_loss(pred, target, weights), (weights * naive).mean())


def test_loss_shape_errors():
    with pytest.raises(ValueError, match=r"pred \(4, 1\) and target \(4,\).*squeeze"):
        losses.huber_loss(PRED[:, None], TARGET)
    with pytest.raises(ValueError, match="weights must have the same shape"):
        losses.mse_loss(PRED, TARGET, torch.ones(3))
    with pytest.raises(ValueError, match="delta must be > 0"):
        losses.huber_loss(PRED, TARGET, delta=0.0)


def _params_with_grads(*grads):
    params = [torch.nn.Parameter(torch.zeros(len(g))) for g in grads]
    for p, g in zip(params, grads):
        p.grad = torch.tensor(g)
    return params


def test_clip_gradients_returns_the_norm_before_clipping_and_clips():
    params = _params_with_grads([3.0], [4.0])  # global norm 5
    assert losses.clip_gradients(params, max_norm=1.0) == pytest.approx(5.0)
    torch.testing.assert_close(torch.cat([p.grad for p in params]), torch.tensor([0.6, 0.8]))
    assert losses.clip_gradients(params, max_norm=1.0) == pytest.approx(1.0, rel=1e-5)


def test_clip_gradients_leaves_small_gradients_and_can_only_measure():
    params = _params_with_grads([3.0, 4.0])
    assert losses.clip_gradients(iter(params), max_norm=10.0) == pytest.approx(5.0)
    torch.testing.assert_close(params[0].grad, torch.tensor([3.0, 4.0]))
    assert losses.clip_gradients(params, max_norm=None) == pytest.approx(5.0)
    assert losses.clip_gradients([torch.nn.Parameter(torch.zeros(2))], 1.0) == 0.0
    with pytest.raises(ValueError, match="max_norm must be a positive number"):
        losses.clip_gradients(params, max_norm=0)
