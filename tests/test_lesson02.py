"""Lesson 02 (Q-networks): exercises, the notebook's table and naive online learner, and the slice plot."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from nbutils import cell_source, load, run_cells  # noqa: E402  (tests/ is on sys.path under pytest)

from dqn_helpers import checks, plotting  # noqa: E402

NB = load("02_q_networks")
EXERCISES = ("2.1", "2.2", "2.3", "2.4")
LESSON_CODE = (
    "epsilon-greedy",
    "greedy-returns",
    "train-tabular",
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


def checker_cell(number: str) -> str:
    """The source of the code cell right after exercise ``number``'s stub: ``ok_N_k = checks.check_...(...)``."""
    cells = NB["cells"]
    stub = next(i for i, c in enumerate(cells) if f"stub-{number}" in c["metadata"].get("tags", []))
    return "".join(next(c for c in cells[stub + 1 :] if c["cell_type"] == "code")["source"])


def run_exercise(number: str, namespace: dict, yours: str | None = None) -> None:
    """Exercise ``number`` as a learner runs it: the stub (or the source ``yours``), its checker cell, then the
    solution cell, which keeps the learner's function if it passed."""
    exec(yours or cell_source(NB, f"stub-{number}"), namespace)
    exec(checker_cell(number), namespace)
    _run(f"solution-{number}", namespace=namespace)


@pytest.fixture(scope="module")
def lesson() -> dict:
    """The notebook's setup, exercises (stubs, so the solutions run) and training functions, in fast mode."""
    namespace = _run("parameters")
    for number in EXERCISES:
        run_exercise(number, namespace)
    return _run(*LESSON_CODE, namespace=namespace)


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
    for activation in (torch.nn.Tanh, torch.nn.Sigmoid):  # the exercise asks for ReLU

        def other(obs_dim, n_actions, hidden=128, activation=activation):
            return torch.nn.Sequential(
                torch.nn.Linear(obs_dim, hidden),
                activation(),
                torch.nn.Linear(hidden, hidden),
                activation(),
                torch.nn.Linear(hidden, n_actions),
            )

        assert checks.check_q_network(other) is False
        assert activation.__name__ in capsys.readouterr().out

    class FunctionalTanh(torch.nn.Module):  # no activation module to find: judged by its smoothness
        def __init__(self, obs_dim, n_actions, hidden=128):
            super().__init__()
            self.a, self.b = torch.nn.Linear(obs_dim, hidden), torch.nn.Linear(hidden, hidden)
            self.c = torch.nn.Linear(hidden, n_actions)

        def forward(self, x):
            return self.c(torch.tanh(self.b(torch.tanh(self.a(x)))))

    assert checks.check_q_network(FunctionalTanh) is False
    assert "ReLU" in capsys.readouterr().out
    assert checks.check_td_target(target_with_gradient) is False
    assert "no_grad" in capsys.readouterr().out


def test_q_of_actions_checker_names_the_slips(capsys):
    def gathered(q, a):
        return q.gather(1, a.unsqueeze(1)).squeeze(1)

    slips = {
        "squeeze(1)": lambda q, a: q.gather(1, a.unsqueeze(1)),
        "EVERY row": lambda q, a: q[:, a],
        "MAX": lambda q, a: q.max(dim=1).values,
        "no gradient": lambda q, a: gathered(q, a).detach(),
    }
    for words, wrong in slips.items():
        assert checks.check_q_of_actions(wrong) is False
        assert words in capsys.readouterr().out
    assert (
        checks.check_q_of_actions(lambda q, a: q[torch.arange(len(a)), a]) is True
    )  # indexing is fine too


# ---------------------------------------------------------------- the learner's code is what runs

FUNCTIONAL_NETWORK = """
class MyQNetwork(nn.Module):  # a correct answer unlike the solution: torch.relu in forward, no nn.Sequential
    def __init__(self, obs_dim, n_actions, hidden):
        super().__init__()
        self.hidden1, self.hidden2 = nn.Linear(obs_dim, hidden), nn.Linear(hidden, hidden)
        self.out = nn.Linear(hidden, n_actions)

    def forward(self, x):
        return self.out(torch.relu(self.hidden2(torch.relu(self.hidden1(x)))))


def make_q_network(obs_dim, n_actions, hidden=128):
    return MyQNetwork(obs_dim, n_actions, hidden)
"""

INDEXING_Q_OF_ACTIONS = """
def q_of_actions(q_values, actions):
    return q_values[torch.arange(len(actions)), actions]
"""


def test_a_correct_answer_unlike_the_solution_is_what_the_experiments_run(capsys):
    namespace = _run("parameters")
    run_exercise("2.1", namespace)
    run_exercise("2.2", namespace, yours=INDEXING_Q_OF_ACTIONS)
    run_exercise("2.3", namespace, yours=FUNCTIONAL_NETWORK)
    run_exercise("2.4", namespace)
    printed = capsys.readouterr().out
    assert "Using your make_q_network" in printed and "Using your q_of_actions" in printed
    assert checks.whose(namespace["make_q_network"]) == "yours"
    assert checks.whose(namespace["td_target"]) == "the course's solution"
    _run(*LESSON_CODE, namespace=namespace)
    net, rows, _ = namespace["train_naive"](
        2, seed=0
    )  # the experiment's learner, built from the learner's code
    assert type(net).__name__ == "MyQNetwork" and rows.shape == (2, 3)


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
