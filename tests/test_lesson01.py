"""Lesson 01 (tabular Q-learning): exercises, the notebook's own training code, the panel and its plots."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.text import Annotation  # noqa: E402
from nbutils import cell_source, load, run_cells  # noqa: E402  (tests/ is on sys.path under pytest)

from dqn_helpers import checks, plotting, widgets  # noqa: E402

NB = load("01_tabular_q_learning")
EXERCISES = ("1.1", "1.2", "1.3")
LESSON_CODE = (
    "make-env",
    "mdp-arrays",
    "train-loop",
    "success-probability",
    "optimal-policy-success",
    "run-experiment",
    "policy-value",
)


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
    run_cells(NB, f"solution-{number}", namespace=namespace)


@pytest.fixture(scope="module")
def lesson() -> dict:
    """The notebook's setup, exercises (stubs, so the solutions run) and training functions, in fast mode."""
    namespace = run_cells(NB, "parameters")
    for number in EXERCISES:
        run_exercise(number, namespace)
    return run_cells(NB, *LESSON_CODE, namespace=namespace)


# ---------------------------------------------------------------- exercise checkers (stub and solution: test_exercises.py)


def test_update_checker_names_the_terminal_mistake(capsys):
    def no_terminal_case(q, s, a, r, s_next, terminated, alpha, gamma):
        td_error = r + gamma * q[s_next].max() - q[s, a]
        q[s, a] += alpha * td_error
        return td_error

    assert checks.check_q_learning_update(no_terminal_case) is False
    assert "terminated" in capsys.readouterr().out


def test_epsilon_checker_catches_argmax_ties_and_global_rng(capsys):
    def first_argmax(q, epsilon, rng):
        return int(rng.integers(len(q))) if rng.random() < epsilon else int(np.argmax(q))

    def global_rng(q, epsilon, rng):
        if np.random.random() < epsilon:
            return int(np.random.randint(len(q)))
        return int(np.random.choice(np.flatnonzero(q == q.max())))

    assert checks.check_epsilon_greedy(first_argmax) is False
    assert "tie" in capsys.readouterr().out
    assert checks.check_epsilon_greedy(global_rng) is False
    assert "rng" in capsys.readouterr().out


def test_value_iteration_checker_names_the_slips(capsys):
    def mean_backup(p, r, terminal, gamma, tol=1e-10):
        q = np.zeros(r.shape)
        for _ in range(2000):
            q = r + gamma * p @ np.where(terminal, 0.0, q.mean(axis=1))
        return q

    def one_sweep(p, r, terminal, gamma, tol=1e-10):
        return r.copy()

    def past_terminal(p, r, terminal, gamma, tol=1e-10):
        q = np.zeros(r.shape)
        for _ in range(5000):
            q = r + gamma * p @ q.max(axis=1)
        return q

    for wrong, words in (
        (mean_backup, "MAX"),
        (one_sweep, "one sweep"),
        (past_terminal, "terminal"),
    ):
        assert checks.check_value_iteration(wrong) is False
        assert words in capsys.readouterr().out


# ---------------------------------------------------------------- the learner's code is what runs

GAUSS_SEIDEL = """
def value_iteration(p, r, terminal, gamma, tol=1e-10):
    q = np.zeros(r.shape)  # in place, one (s, a) at a time: a correct variant, not the solution's code
    while True:
        change = 0.0
        for s in range(r.shape[0]):
            for a in range(r.shape[1]):
                new = r[s, a] + gamma * sum(p[s, a, t] * (0.0 if terminal[t] else q[t].max()) for t in range(r.shape[0]))
                change, q[s, a] = max(change, abs(new - q[s, a])), new
        if change < tol:
            return q
"""

EPSILON_GREEDY_BY_PERMUTATION = """
def epsilon_greedy(q_values, epsilon, rng):
    if rng.uniform() < epsilon:
        return int(rng.permutation(len(q_values))[0])  # another way to draw a uniform action
    order = rng.permutation(len(q_values))  # shuffle, then the first maximum: ties broken at random
    return int(order[np.argmax(q_values[order])])
"""


def test_a_correct_answer_unlike_the_solution_is_what_the_experiments_run(capsys):
    namespace = run_cells(NB, "parameters")
    run_exercise("1.1", namespace, yours=GAUSS_SEIDEL)
    run_exercise("1.2", namespace)  # the stub: the solution runs
    run_exercise("1.3", namespace, yours=EPSILON_GREEDY_BY_PERMUTATION)
    printed = capsys.readouterr().out
    assert "Using your value_iteration" in printed and "Using your epsilon_greedy" in printed
    assert "Using the course's solution for q_learning_update" in printed
    assert checks.whose(namespace["value_iteration"]) == "yours"
    assert checks.whose(namespace["epsilon_greedy"]) == "yours"
    assert checks.whose(namespace["q_learning_update"]) == "the course's solution"
    assert (
        "permutation" in namespace["epsilon_greedy"].__code__.co_names
    )  # the learner's, not the solution
    run_cells(NB, *LESSON_CODE, namespace=namespace)
    result = namespace["run_experiment"](
        "4x4", False, 300, 0.5, 0.99, 0.99, 1
    )  # trains with the learner's code
    assert result["success"][0, -1] == 1.0 and result["gamma_optimum"] == 1.0


# ---------------------------------------------------------------- the MDP, Q* and the yardsticks


def test_mdp_arrays_hold_frozen_lakes_rules(lesson):
    for slippery, chance in ((False, 1.0), (True, 1 / 3)):
        p, r, terminal = lesson["mdp_arrays"](lesson["make_env"]("4x4", slippery))
        assert p.shape == (16, 4, 16) and np.allclose(p.sum(axis=2), 1.0)
        assert np.isclose(r[14, 2], chance) and np.isclose(
            p[14, 2, 15], chance
        )  # right from 14 reaches G
        assert np.flatnonzero(terminal).tolist() == [
            5,
            7,
            11,
            12,
            15,
        ]  # the four holes and the goal


def test_value_iteration_gives_hand_values_and_the_yardsticks(lesson):
    p, r, terminal = lesson["mdp_arrays"](lesson["make_env"]("4x4", False))
    q_star = lesson["value_iteration"](p, r, terminal, 0.99)
    assert np.isclose(q_star[0].max(), 0.99**5) and np.isclose(
        q_star[14, 2], 1.0
    )  # 6 steps; one step
    assert np.isclose(
        q_star[14, 1], 0.99 * 1.0
    )  # down from 14 bumps the wall and stays: one step later
    slippery_8x8 = lesson["make_env"]("8x8", True)
    best, stationary = (
        lesson["success_probability"](slippery_8x8),
        lesson["optimal_policy_success"](slippery_8x8, 0.99),
    )
    assert abs(best - 0.9132) < 1e-3 and abs(stationary - 0.8630) < 1e-3


def test_policy_value_matches_iterative_policy_evaluation(lesson):
    p, r, terminal = lesson["mdp_arrays"](lesson["make_env"]("8x8", True))
    policy = np.random.default_rng(0).integers(0, 4, size=64)
    states = np.arange(64)
    v = np.zeros(64)
    for _ in range(
        1000
    ):  # V <- r_pi + gamma P_pi (1 - terminal) V, repeated: iteration, not a linear solve
        v = r[states, policy] + 0.9 * p[states, policy] @ np.where(terminal, 0.0, v)
    np.testing.assert_allclose(lesson["policy_value"](p, r, terminal, policy, 0.9), v, atol=1e-10)


# ---------------------------------------------------------------- the notebook's training code


def test_q_learning_solves_deterministic_4x4(lesson):
    result = lesson["run_experiment"]("4x4", False, 300, 0.5, 0.99, 0.99, 2)
    assert result["optimum"] == 1.0
    assert np.all(result["success"][:, -1] == 1.0)  # both seeds reach G every time
    assert result["q_table"][0].max() <= 0.99**5 + 1e-12  # from below, never past the true value


def test_success_probability_matches_monte_carlo(lesson):
    env = lesson["make_env"]("4x4", True)
    policy = np.random.default_rng(3).integers(0, 4, size=16)
    policy[[0, 4, 8, 9, 10, 14]] = [
        1,
        1,
        2,
        1,
        1,
        2,
    ]  # roughly towards the goal, so success is not rare
    exact = lesson["success_probability"](env, policy)
    wins = []
    env.reset(seed=0)
    for _ in range(3000):
        s, _ = env.reset()
        done, r = False, 0.0
        while not done:
            s, r, terminated, truncated, _ = env.step(int(policy[s]))
            done = terminated or truncated
        wins.append(r)
    assert 0.02 < exact < 0.98
    assert abs(np.mean(wins) - exact) < 4 * np.sqrt(exact * (1 - exact) / 3000)
    assert abs(lesson["success_probability"](env) - 0.7442) < 1e-3  # best possible on slippery 4x4


# ---------------------------------------------------------------- the widget panel


def test_panel_retrains_when_a_value_changes(lesson):
    panel = widgets.TabularQPanel(lesson["run_experiment"], episodes=200, seeds=1)
    first = panel.run()
    image = panel.image.value
    assert panel.n_runs == 1 and first["success"].shape[0] == 1 and len(image) > 1000
    panel.is_slippery.value = False  # auto-retrain: the observer trains again
    assert panel.n_runs == 2
    assert panel.result is not first and panel.result["optimum"] == 1.0 != first["optimum"]
    assert panel.image.value != image
    panel.seeds.value = 2
    assert panel.n_runs == 3 and panel.result["success"].shape[0] == 2
    panel.auto.value = False
    panel.map_name.value = "8x8"
    assert panel.n_runs == 3  # no retraining without auto
    panel.episodes.value = 100
    result = panel.run()
    assert (
        panel.n_runs == 4 and result["q_table"].shape == (64, 4) and "run 4" in panel.status.value
    )


def test_panel_shows_errors_in_status_instead_of_raising():
    def broken(**kwargs):
        raise RuntimeError("boom")

    panel = widgets.TabularQPanel(broken)
    panel.alpha.value = 0.5  # triggers a run through the observer
    assert "boom" in panel.status.value and panel.n_runs == 0
    with pytest.raises(TypeError, match="callable|function"):
        widgets.TabularQPanel("not a function")


# ---------------------------------------------------------------- plots used by the lesson


def test_plot_q_table_arrows_only_where_there_is_a_preference():
    desc = ["SFFF", "FHFH", "FFFH", "HFFG"]
    fig = plotting.plot_q_table(np.zeros((16, 4)), desc)
    assert len(fig.axes[0].texts) == 16  # the tile letters, and no arrow anywhere
    plt.close(fig)
    q = np.random.default_rng(0).random((16, 4))
    fig = plotting.plot_q_table(q, desc)
    arrows = [t for t in fig.axes[0].texts if isinstance(t, Annotation)]
    assert len(arrows) == 16 - 4 - 1  # no arrow on the 4 holes and the goal
    plt.close(fig)
    with pytest.raises(ValueError, match=r"\(16, 4\)"):
        plotting.plot_q_table(np.zeros((15, 4)), desc)
    with pytest.raises(ValueError, match="S, F, H, G"):
        plotting.plot_q_table(np.zeros((16, 4)), ["SFFX", "FHFH", "FFFH", "HFFG"])


def test_curves_with_band_draws_mean_and_band():
    rng = np.random.default_rng(1)
    curves = rng.random((5, 30))
    fig = plotting.plot_curves_with_band(np.arange(30), curves, "runs", band="minmax")
    line = fig.axes[0].lines[0]
    np.testing.assert_allclose(line.get_ydata(), curves.mean(axis=0))
    band = fig.axes[0].collections[0].get_paths()[0].vertices[:, 1]
    assert np.isclose(band.min(), curves.min()) and np.isclose(band.max(), curves.max())
    plt.close(fig)
    with pytest.raises(ValueError, match="x has shape"):
        plotting.plot_curves_with_band(np.arange(29), curves, "runs")


def test_moving_average_matches_naive_reference():
    values = np.random.default_rng(2).normal(size=(3, 40))
    for window in (1, 4, 40, 100):
        naive = np.array(
            [[row[max(0, i - window + 1) : i + 1].mean() for i in range(40)] for row in values]
        )
        np.testing.assert_allclose(plotting.moving_average(values, window), naive)
    with pytest.raises(ValueError, match="window"):
        plotting.moving_average(values[0], 0)
