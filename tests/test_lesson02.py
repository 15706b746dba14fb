"""Lesson 02 (Q-networks): exercises, the notebook's table and naive online learner, and the slice plot."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from nbutils import load, run_cells  # noqa: E402  (tests/ is on sys.path under pytest)

from dqn_helpers import checks, plotting  # noqa: E402

NB = load("02_q_networks")
LESSON_CODE = (
    "parameters",
    "solution-2.1",
    "epsilon-greedy",
    "greedy-returns",
    "train-tabular",
    "solution-2.2",
    "solution-2.3",
    "online-update",
    "discounted-returns",
    "train-naive",
)


def _run(*tags: str, namespace: dict | None = None) -> dict:
    """Run notebook cells without leaking the notebook's torch.set_num_threads(1) into other tests."""
    threads = torch.get_num_threads()
    try:
        return run_cells(NB, *tags, namespace=namespace)
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def lesson() -> dict:
    """The notebook's setup, solutions and training functions, executed in fast mode."""
    return _run(*LESSON_CODE)


# ---------------------------------------------------------------- exercise checkers (stub and solution: test_exercises.py)


def test_checkers_name_the_typical_mistakes(capsys):
    def reversed_digits(obs, low, high, n_bins):
        bins = np.clip(
            np.floor((np.asarray(obs) - low) / (high - low) * n_bins), 0, n_bins - 1
        ).astype(int)
        return int(np.ravel_multi_index(tuple(bins[::-1]), (n_bins,) * len(bins)))

    def no_relu(obs_dim, n_actions, hidden=128):
        return torch.nn.Sequential(
            torch.nn.Linear(obs_dim, hidden),
            torch.nn.Linear(hidden, hidden),
            torch.nn.Linear(hidden, n_actions),
        )

    def target_with_gradient(q_network, reward, next_obs, terminated, gamma):
        return reward + gamma * (1.0 - float(terminated)) * q_network(next_obs).max()

    assert checks.check_discretize(reversed_digits) is False
    assert "reverse order" in capsys.readouterr().out
    assert checks.check_q_network(no_relu) is False
    assert "ReLU" in capsys.readouterr().out
    assert checks.check_td_target(target_with_gradient) is False
    assert "no_grad" in capsys.readouterr().out


# ---------------------------------------------------------------- the notebook's learners


def test_table_changes_only_rows_it_visits(lesson):
    run = lesson["train_tabular"](30, seed=0)
    q_table, visits, returns = run["q_table"], run["visits"], run["returns"]
    assert q_table.shape == (10_000, 2) and returns.shape == (30,)
    assert run["observations"].shape == (visits.sum(), 4)  # every state the run stood in
    assert run["greedy"].shape == (30 // lesson["config"].eval_every,)
    assert visits.sum() == returns.sum()  # one visit per step, and CartPole pays 1 per step
    assert np.all(q_table[visits == 0] == 0)  # a table learns nothing about states it never visits
    assert np.any(q_table[visits > 0] != 0)
    assert (visits > 0).sum() < 1_000


def test_td_target_and_online_update_on_one_transition(lesson):
    torch.manual_seed(0)
    net = lesson["make_q_network"](4, 2, 16)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.05)
    obs, next_obs = (
        np.array([0.1, 0.0, 0.02, 0.1], np.float32),
        np.array([0.1, 0.1, 0.03, 0.2], np.float32),
    )
    with torch.no_grad():
        expected = 1.0 + 0.99 * net(torch.as_tensor(next_obs)).max().item()
    assert np.isclose(
        float(lesson["td_target"](net, 1.0, torch.as_tensor(next_obs), False, 0.99)), expected
    )
    # repeated updates on a terminal transition drive Q(s, a) to r, and leave the other action's value behind
    for _ in range(300):
        q_before = lesson["online_update"](net, optimizer, obs, 1, 1.0, next_obs, True)
    with torch.no_grad():
        q_after = net(torch.as_tensor(obs))[1].item()
    assert abs(q_after - 1.0) < 1e-3 and abs(q_before - 1.0) < 1e-2


def test_naive_learner_logs_one_row_per_episode(lesson):
    config, saved = lesson["config"], lesson["config"].eval_every
    config.eval_every = 2
    try:
        net, rows, greedy = lesson["train_naive"](4, seed=1)
    finally:
        config.eval_every = saved
    assert rows.shape == (4, 3) and isinstance(net, torch.nn.Module)
    assert greedy.shape == (2,) and np.all(greedy >= 8)  # greedy returns after episodes 2 and 4
    assert np.all(rows[:, 0] >= 8)  # returns are episode lengths
    gamma = lesson["config"].gamma
    assert np.all(
        rows[:, 2] <= (1 - gamma ** rows[:, 0]) / (1 - gamma) + 1e-9
    )  # mean G_t below G_0
    assert np.all(np.isfinite(rows))


def test_discounted_returns_match_naive_sum(lesson):
    rng = np.random.default_rng(0)
    for length in (1, 5, 40):
        rewards = rng.normal(size=length).tolist()
        naive = [sum(0.9**k * r for k, r in enumerate(rewards[t:])) for t in range(length)]
        np.testing.assert_allclose(lesson["discounted_returns"](rewards, 0.9), naive)


# ---------------------------------------------------------------- the slice plot


def test_plot_state_slice_greys_unknown_cells():
    xs, ys = np.linspace(-1, 1, 5), np.linspace(0, 2, 3)
    values = np.arange(15.0).reshape(3, 5)
    unknown = values > 10
    fig = plotting.plot_state_slice(xs, ys, values, unknown=unknown, title="t")
    mesh = fig.axes[0].collections[0]
    assert int(np.ma.count_masked(mesh.get_array())) == int(unknown.sum())
    plt.close(fig)
    with pytest.raises(ValueError, match=r"\(3, 5\)"):
        plotting.plot_state_slice(xs, ys, values.T)
    with pytest.raises(ValueError, match="unknown"):
        plotting.plot_state_slice(xs, ys, values, unknown=unknown[:2])
