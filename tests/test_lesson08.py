"""Lesson 08 (the dueling head): the checker's hints, and the notebook's own code (the sum head, the
identifiability fit, the streams read-out and the does-the-action-matter probe). Stub and solution of
exercise 8.1: test_exercises.py."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from nbutils import load, run_cells  # noqa: E402  (tests/ is on sys.path under pytest)
from torch import nn  # noqa: E402

from dqn_helpers import agents, checks, networks  # noqa: E402
from dqn_helpers import config as dqn_config  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

NB = load("08_dueling_dqn")


@pytest.fixture(scope="module")
def lesson() -> dict:
    """The notebook's setup, sum head, fit and stream helpers, in fast mode."""
    return run_cells(NB, "parameters", "sum-head", "fit-head", "streams-helpers", "probe-helper")


# ---------------------------------------------------------------- exercise checker


class _Head(nn.Module):
    """A dueling head whose combination of the streams is ``combine(value, advantage)``."""

    combine = staticmethod(lambda v, a: v + a - a.mean(dim=1, keepdim=True))

    def __init__(self, in_features: int, n_actions: int, hidden: int) -> None:
        super().__init__()
        self.value = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, 1))
        self.advantage = nn.Sequential(
            nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, n_actions)
        )

    def streams(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.value(features), self.advantage(features)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return type(self).combine(*self.streams(features))


def _head_combining(combine) -> type:
    return type("Slip", (_Head,), {"combine": staticmethod(combine)})


def test_the_right_head_and_the_packages_head_pass(run_checker):
    for head in (_Head, networks.DuelingHead):
        passed, printed = run_checker(checks.check_dueling_head, head)
        assert passed is True and printed.startswith("✅"), printed


@pytest.mark.parametrize(
    ("combine", "hint"),
    [
        (lambda v, a: v + a, "no unique split"),
        (lambda v, a: v + a - a.max(dim=1, keepdim=True).values, "subtracted the max"),
        (lambda v, a: v + a - a.mean(dim=0, keepdim=True), "over the batch (dim=0)"),
        (lambda v, a: v + a - a.mean(), "over the whole batch"),
        (lambda v, a: v + a - a.mean(dim=1), "keepdim=True"),
        (lambda v, a: a - a.mean(dim=1, keepdim=True), "V is missing"),
        (
            lambda v, a: v.detach() + a - a.mean(dim=1, keepdim=True),
            "no gradient reached self.value",
        ),
        (lambda v, a: v + (a - a.mean(dim=1, keepdim=True)).detach(), "self.advantage"),
    ],
    ids=[
        "no-mean",
        "max",
        "batch-mean",
        "global-mean",
        "no-keepdim",
        "no-value",
        "v-detached",
        "a-detached",
    ],
)
def test_checker_names_the_slip(combine, hint, run_checker):
    passed, printed = run_checker(checks.check_dueling_head, _head_combining(combine))
    assert passed is False and printed.startswith("❌ Not yet. Hint: ")
    assert hint in printed, printed


def test_checker_wants_the_streams_layout_and_the_arguments(run_checker):
    class OneLayerStreams(_Head):
        def __init__(self, in_features, n_actions, hidden):
            nn.Module.__init__(self)
            self.value = nn.Linear(in_features, 1)
            self.advantage = nn.Linear(in_features, n_actions)

    class FixedSizes(_Head):
        def __init__(self, in_features, n_actions, hidden):
            super().__init__(8, 3, 16)

    class NoStreams(nn.Module):
        def __init__(self, in_features, n_actions, hidden):
            super().__init__()
            self.net = nn.Linear(in_features, n_actions)

    for head, hint in (
        (OneLayerStreams, "356 parameters"),
        (FixedSizes, "use the arguments"),
        (NoStreams, "self.value and self.advantage"),
    ):
        passed, printed = run_checker(checks.check_dueling_head, head)
        assert passed is False and hint in printed, printed


# ---------------------------------------------------------------- the notebook's code


def test_sum_head_is_not_identifiable_and_the_fit_reads_v(lesson):
    head = lesson["SumHead"](in_features=8, n_actions=3, hidden=16)
    x = torch.randn(4, 8)
    with torch.no_grad():
        value, advantage = head.streams(x)
        assert torch.allclose(head(x), value + advantage)
    lesson["config"].fit_steps = 100
    v, q, err = lesson["fit"](networks.DuelingHead, start=30.0, seed=0)
    assert v == pytest.approx(q, abs=1e-4) and err > 0
    v_sum, q_sum, _ = lesson["fit"](lesson["SumHead"], start=30.0, seed=0)
    assert abs(v_sum - q_sum) > 2.0, "the sum head's V is not the mean Q-value"


class _Controller:
    """A hand-made CartPole policy as a stand-in for an agent: push the way the pole leans and turns."""

    def __init__(self, always: int | None = None) -> None:
        self.always = always

    def q_values(self, obs: np.ndarray) -> np.ndarray:
        obs = np.atleast_2d(obs)
        right = (
            obs[:, 2] + 0.5 * obs[:, 3] > 0
            if self.always is None
            else np.full(len(obs), self.always == 1)
        )
        return np.stack([~right, right], axis=1).astype(float)

    def greedy(self, obs: np.ndarray) -> int:
        return int(self.q_values(obs)[0].argmax())


def test_probe_counts_the_steps_before_the_fall_from_a_copy_of_each_state(lesson):
    steps_survived = lesson["steps_survived"]
    upright = np.zeros(4, dtype=np.float32)
    falling_right = np.array([0.0, 0.0, 0.15, 1.5], dtype=np.float32)  # tilted and turning right
    states = np.stack([upright, falling_right])
    before = states.copy()
    good = steps_survived(_Controller(), states, first_action=1, horizon=100)
    assert good[0] == 100, "a pole-balancing policy keeps the upright pole up"
    left_always = steps_survived(_Controller(always=0), states, first_action=0, horizon=100)
    assert (left_always < 100).all() and left_always[1] < left_always[0], (
        "always left: it falls, sooner when tilted"
    )
    wrong, right = (steps_survived(_Controller(), states[1:], a, horizon=100)[0] for a in (0, 1))
    assert wrong <= right, "pushing away from the fall cannot help"
    assert np.array_equal(states, before), "the probe works on copies"


def test_episode_and_streams_of_a_dueling_agent(lesson):
    agent = agents.DQNAgent(
        dqn_config.preset("cartpole-dqn", dueling=True, hidden=(32, 32)),
        obs_shape=(4,),
        n_actions=2,
    )
    states = lesson["play_episode"](_Controller(), epsilon=0.0, seed=3)
    assert states.shape[1:] == (4,) and len(states) > 100, (
        "the hand-made controller balances a while"
    )
    value, advantage = lesson["streams_of"](agent, states)
    assert value.shape == (len(states),) and advantage.shape == (len(states), 2)
    q_values = agent.q_values(states)
    assert np.allclose(value, q_values.mean(axis=1), atol=1e-5)
    assert np.allclose(advantage, q_values - q_values.mean(axis=1, keepdims=True), atol=1e-5)
