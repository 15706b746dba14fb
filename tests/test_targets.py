"""Tests for dqn_helpers.targets (hard and soft target updates) and dqn_helpers.bounds."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from dqn_helpers import bounds, losses, targets


def _net(fill: float | None = None) -> torch.nn.Module:
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2))
    if fill is not None:
        with torch.no_grad():
            for p in net.parameters():
                p.fill_(fill)
            net[1].running_mean.fill_(fill)
    return net


def test_hard_update_copies_exactly_and_stays_independent():
    online, target = _net(), _net()
    targets.hard_update(target, online)
    for t, o in zip(target.state_dict().values(), online.state_dict().values()):
        assert torch.equal(t, o)
    with torch.no_grad():
        online[0].weight.add_(1.0)
    assert not torch.equal(target[0].weight, online[0].weight)


def test_soft_update_by_hand():
    online, target = _net(5.0), _net(1.0)
    targets.soft_update(target, online, tau=0.25)
    for p in target.parameters():
        torch.testing.assert_close(p, torch.full_like(p, 0.75 * 1.0 + 0.25 * 5.0))
    torch.testing.assert_close(target[1].running_mean, torch.full((4,), 5.0))  # buffers copied
    targets.soft_update(target, online, tau=1.0)
    for t, o in zip(target.parameters(), online.parameters()):
        assert torch.equal(t, o)


def test_soft_update_matches_a_naive_reference_on_random_weights():
    torch.manual_seed(2)
    online, target = _net(), _net()
    expected = [0.99 * t + 0.01 * o for t, o in zip(target.parameters(), online.parameters())]
    targets.soft_update(target, online, tau=0.01)
    for t, e in zip(target.parameters(), expected):
        torch.testing.assert_close(t, e)


@pytest.mark.parametrize("tau", [0.0, -0.1, 1.5, True])
def test_soft_update_rejects_bad_tau(tau):
    with pytest.raises(ValueError, match=r"tau must be in \(0, 1\]"):
        targets.soft_update(_net(), _net(), tau=tau)


def test_updates_reject_different_architectures():
    other = torch.nn.Sequential(
        torch.nn.Linear(3, 5), torch.nn.BatchNorm1d(5), torch.nn.Linear(5, 2)
    )
    with pytest.raises(ValueError, match="same architecture"):
        targets.hard_update(other, _net())
    with pytest.raises(ValueError, match="same architecture"):
        targets.soft_update(copy.deepcopy(other), _net(), tau=0.5)


def test_q_value_bound_by_hand():
    assert bounds.q_value_bound(1.0, 0.99) == pytest.approx(100.0)  # CartPole: +1 a step
    assert bounds.q_value_bound(2.0, 0.5) == pytest.approx(4.0)
    assert bounds.q_value_bound(1.0, 1.0) == math.inf  # undiscounted: no finite bound


def test_the_moved_names_are_still_importable_from_losses():
    """Notebooks and older code import these from losses; they are the same objects."""
    assert losses.hard_update is targets.hard_update
    assert losses.soft_update is targets.soft_update
    assert losses.q_value_bound is bounds.q_value_bound
    assert losses.Q_BOUND_FACTOR == bounds.Q_BOUND_FACTOR
