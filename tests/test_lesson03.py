"""Lesson 03 (experience replay): exercises, the notebook's own learner, and its plots."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from nbutils import load, run_cells, run_solution  # noqa: E402  (tests/ is on sys.path under pytest)

from dqn_helpers import checks, plotting  # noqa: E402

NB = load("03_experience_replay")
LEARNER = (
    "parameters",
    "policies",
    "collect",
    "stream",
    "forget-returns",
    "forget-fit",
    "learner-act",
    "learner-eval",
    "learner-update",
    "learner-batch",
    "learner-run",
)


@pytest.fixture(scope="module")
def lesson() -> dict:
    """The notebook's setup, data and learner, executed in fast mode."""
    ns = run_cells(NB, *LEARNER[:-1])
    run_solution(NB, "3.1", ns)  # learner-run stores in the exercise's ReplayBuffer
    return run_cells(NB, LEARNER[-1], namespace=ns)


# ---------------------------------------------------------------- exercise checkers (stub and solution: test_exercises.py)


def _solved_buffer() -> type:
    return run_solution(NB, "3.1")["ReplayBuffer"]


def test_buffer_checker_names_common_mistakes(capsys):
    solved = _solved_buffer()

    class NeverOverwrites(solved):
        def add(self, *transition):
            if self.size < self.capacity:
                super().add(*transition)

    class MixesRows(solved):
        def sample(self, batch_size):
            arrays = (self.obs, self.actions, self.rewards, self.next_obs, self.terminated)
            return tuple(
                torch.as_tensor(a[self.rng.integers(0, self.size, batch_size)]) for a in arrays
            )

    class SamplesEmptySlots(solved):
        def sample(self, batch_size):
            idx = self.rng.integers(0, self.capacity, size=batch_size)
            arrays = (self.obs, self.actions, self.rewards, self.next_obs, self.terminated)
            return tuple(torch.as_tensor(a[idx]) for a in arrays)

    class GlobalRandom(solved):
        def sample(self, batch_size):
            idx = np.random.randint(0, self.size, size=batch_size)
            arrays = (self.obs, self.actions, self.rewards, self.next_obs, self.terminated)
            return tuple(torch.as_tensor(a[idx]) for a in arrays)

    for broken, words in [
        (NeverOverwrites, "overwritten"),
        (MixesRows, "ONE array of indices"),
        (SamplesEmptySlots, "filled part only"),
        (GlobalRandom, "self.rng"),
    ]:
        assert checks.check_replay_buffer(broken) is False, broken.__name__
        assert words in capsys.readouterr().out, broken.__name__


def test_solution_buffer_is_a_ring():
    buffer = _solved_buffer()(4, (2,), seed=0)
    for k in range(6):
        buffer.add(np.full(2, k), k % 2, float(k), np.full(2, k + 1), False)
    assert len(buffer) == 4 and buffer.position == 2
    assert buffer.rewards.tolist() == [4.0, 5.0, 2.0, 3.0]  # t=4, 5 overwrote slots 0, 1


def test_autocorrelation_checker_catches_the_lag_zero_slice(capsys):
    def empty_at_lag_zero(x, lag):
        return float(np.corrcoef(x[:-lag], x[lag:])[0, 1])

    assert checks.check_autocorrelation(empty_at_lag_zero) is False
    assert "x[:-0] is EMPTY" in capsys.readouterr().out


# ---------------------------------------------------------------- the forgetting measurement


def test_returns_to_go_restart_at_every_episode(lesson):
    rewards, episodes = np.ones(6), np.array([0, 0, 0, 1, 1, 2])
    got = lesson["returns_to_go"](rewards, episodes, 0.5)
    np.testing.assert_allclose(got, [1.75, 1.5, 1.0, 1.5, 1.0, 1.0])


def test_fit_returns_records_the_old_slice_error(lesson):
    config = lesson["config"]
    config.demo_steps, saved = (
        300,
        config.demo_steps,
    )  # the first 300 transitions of the stream are enough
    try:
        in_order, random = (
            lesson["fit_returns"](order, seed=0) for order in ("in order", "random")
        )
    finally:
        config.demo_steps = saved
    assert (
        in_order.shape == random.shape == (5,)
    )  # one error per 50 transitions seen, from 100 to 300
    assert np.all(np.isfinite(in_order)) and not np.allclose(in_order, random)


# ---------------------------------------------------------------- the notebook's learner


def test_batches_differ_only_in_where_they_come_from(lesson):
    from collections import deque

    from dqn_helpers import buffers

    stream, config = lesson["stream"], lesson["config"]
    buffer, recent = buffers.ReplayBuffer(500, (4,), seed=0), deque(maxlen=config.batch_size)
    for t in range(200):  # inside the first episode (it lasts ~290 steps)
        transition = (
            stream["obs"][t],
            int(stream["actions"][t]),
            float(stream["rewards"][t]),
            stream["next_obs"][t],
            bool(stream["terminated"][t]),
        )
        buffer.add(*transition)
        recent.append(transition)
    online = lesson["next_batch"]("online", buffer, recent)
    newest = lesson["next_batch"]("recent", buffer, recent)
    replay = lesson["next_batch"]("replay", buffer, recent)
    assert [tuple(t.shape) for t in online] == [(1, 4), (1,), (1,), (1, 4), (1,)]
    for batch in (newest, replay):
        assert [tuple(t.shape) for t in batch] == [(64, 4), (64,), (64,), (64, 4), (64,)]
        assert [t.dtype for t in batch] == [t.dtype for t in replay]
    assert torch.equal(online[0][0], torch.as_tensor(stream["obs"][199]))  # the newest transition
    assert torch.equal(
        newest[0], torch.as_tensor(stream["obs"][136:200])
    )  # the newest 64, in order
    assert torch.equal(
        newest[0][1:], newest[3][:-1]
    )  # consecutive: each next_obs is the following obs
    assert not torch.equal(replay[0][1:], replay[3][:-1])  # random: not a chain


def test_td_step_moves_q_towards_the_target(lesson):
    torch.manual_seed(0)
    from dqn_helpers import networks

    q_network = networks.QNetwork(4, 2, hidden=(16,))
    optimizer = torch.optim.SGD(q_network.parameters(), lr=0.05)
    obs, actions = torch.randn(8, 4), torch.randint(0, 2, (8,))
    rewards, terminated = torch.ones(8), torch.ones(8)  # terminal: the target is exactly r = 1
    losses = [
        lesson["td_step"](q_network, optimizer, obs, actions, rewards, obs, terminated)
        for _ in range(50)
    ]
    assert losses[-1] < 0.1 * losses[0]
    q_taken = q_network(obs).gather(1, actions[:, None])[:, 0]
    assert torch.allclose(q_taken, torch.ones(8), atol=0.2)


@pytest.mark.parametrize("mode", ["online", "recent", "replay"])
def test_a_short_run_trains_and_evaluates(lesson, mode):
    evals = lesson["run"](mode, seed=1)
    config = lesson["config"]
    assert evals.shape == (config.total_steps // config.eval_every, 2)
    assert np.all(np.isfinite(evals))
    assert np.all(evals[:, 0] >= 8) and np.all(
        evals[:, 0] <= 500
    )  # CartPole returns lie in [8, 500]


def test_greedy_return_is_reproducible(lesson):
    from dqn_helpers import networks

    torch.manual_seed(3)
    q_network = networks.QNetwork(4, 2, hidden=(8,))
    first = lesson["greedy_return"](q_network, 3, seed=5)
    assert first == lesson["greedy_return"](q_network, 3, seed=5)


# ---------------------------------------------------------------- lesson 03 plots


def test_plots_return_figures_and_reject_bad_input():
    rng = np.random.default_rng(0)
    values, episodes = np.cumsum(rng.normal(size=200)), np.repeat(np.arange(4), 50)
    figures = [
        plotting.plot_consecutive_vs_random(values, episodes, "x"),
        plotting.plot_buffer_filling(
            [("a", np.array([0, 0, 1, -1])), ("b", np.array([2, 0, 1, 1]))], np.array([0, 3])
        ),
        plotting.plot_minibatch_coverage(
            rng.normal(size=(100, 4)), {"random": rng.normal(size=(10, 4))}
        ),
        plotting.plot_autocorrelation(np.arange(3), {"s": np.ones((2, 3))}, ["u", "v"]),
    ]
    assert all(isinstance(f, plt.Figure) for f in figures)
    buffer_ax = figures[1].axes[0]
    assert "minibatch of 2" in buffer_ax.get_title(loc="left")
    plt.close("all")
    with pytest.raises(ValueError, match="same length"):
        plotting.plot_consecutive_vs_random(values, episodes[:10], "x")
    with pytest.raises(ValueError, match="variables, lags"):
        plotting.plot_autocorrelation(np.arange(3), {"s": np.ones((3, 3))}, ["u", "v"])
    with pytest.raises(ValueError, match="at least one"):
        plotting.plot_buffer_filling([])
