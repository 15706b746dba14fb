"""Tests for dqn_helpers.schedules: values by hand and validation."""

from __future__ import annotations

import pytest

from dqn_helpers.schedules import ExponentialSchedule, LinearSchedule


def test_linear_schedule_values():
    schedule = LinearSchedule(1.0, 0.1, 10)
    values = [schedule(step) for step in (0, 5, 10, 11, 1_000)]
    assert values == pytest.approx([1.0, 0.55, 0.1, 0.1, 0.1])


def test_linear_schedule_can_go_up_for_per_beta():
    beta = LinearSchedule(0.4, 1.0, 100)
    assert beta(50) == pytest.approx(0.7)
    assert beta(200) == 1.0


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        ((1.0, 0.1, 0), ValueError, "duration must be a positive integer"),
        ((1.0, 0.1, 2.5), ValueError, "duration must be a positive integer"),
        ((1.0, float("nan"), 10), ValueError, "end must be a finite number"),
        (("1", 0.1, 10), TypeError, "start must be a number"),
    ],
)
def test_linear_schedule_validation(args, error, match):
    with pytest.raises(error, match=match):
        LinearSchedule(*args)
    with pytest.raises(ValueError, match="step must be >= 0"):
        LinearSchedule(1.0, 0.1, 10)(-1)


def test_exponential_schedule_values():
    epsilon = ExponentialSchedule(1.0, 0.01, 0.995)
    assert epsilon(0) == 1.0
    assert epsilon(1) == pytest.approx(0.995)
    assert epsilon(2) == pytest.approx(0.990025)
    assert epsilon(10_000) == 0.01
    # 0.995**n falls below 0.01 first at n = ceil(ln 0.01 / ln 0.995) = 919
    assert epsilon.episodes_to_reach_end() == 919
    assert epsilon(918) > 0.01 and epsilon(919) == 0.01


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((1.0, 0.01, 0.0), r"decay must be in \(0, 1\], got 0.0"),
        ((1.0, 0.01, 1.2), r"decay must be in \(0, 1\]"),
        ((0.1, 0.5, 0.99), "only goes down"),
        ((1.0, -0.1, 0.99), "end must be >= 0"),
    ],
)
def test_exponential_schedule_validation(args, match):
    with pytest.raises(ValueError, match=match):
        ExponentialSchedule(*args)


def test_exponential_schedule_that_never_ends():
    with pytest.raises(ValueError, match="never reaches"):
        ExponentialSchedule(1.0, 0.0, 0.99).episodes_to_reach_end()
