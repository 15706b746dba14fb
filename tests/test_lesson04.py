"""Lesson 04 (target networks): exercises, the drift demonstration, the learner (loss × target) and the C / τ
slider panel."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from nbutils import load, run_cells, run_solution  # noqa: E402  (tests/ is on sys.path under pytest)

from dqn_helpers import checks, losses, plotting, widgets  # noqa: E402

NB = load("04_target_networks")
LESSON_CODE = (
    "parameters",
    "drift-collect",
    "drift-data",
    "drift-run",
    "drift-step",
    "drift-record",
    "learner-record",
    "learner-make",
    "learner-eval",
    "learner-evaluate",
    "learner-run",
    "loss-probe",
    "panel-run",
)


@pytest.fixture(scope="module")
def lesson() -> dict:
    """The notebook's setup, drift demonstration, learner and panel function, in fast mode (smaller still)."""
    ns = run_cells(NB, "parameters")
    ns["config"].drift_updates = 40  # keep the panel tests quick; the code path is the same
    ns["config"].panel_steps = 600
    run_cells(NB, *LESSON_CODE[1:8], namespace=ns)
    run_solution(NB, "4.3", ns)  # the course's dqn_step, as if the learner's had not passed
    return run_cells(NB, *LESSON_CODE[8:], namespace=ns)


# ---------------------------------------------------------------- exercise checkers (stub and solution: test_exercises.py)


def test_checkers_name_common_mistakes(capsys):
    def rebinds(target_network, online_network):
        target_network = online_network  # noqa: F841 - the mistake under test

    def shares_tensors(target_network, online_network):
        for t, o in zip(target_network.parameters(), online_network.parameters()):
            t.data = o.data

    def swapped(target_network, online_network, tau):
        with torch.no_grad():
            for t, o in zip(target_network.parameters(), online_network.parameters()):
                t.copy_((1 - tau) * o + tau * t)

    cases = [
        (checks.check_hard_update, rebinds, "rebinds a local name"),
        (checks.check_hard_update, shares_tensors, "SHARES"),
        (checks.check_soft_update, swapped, "swapped τ and 1 − τ"),
    ]
    for checker, broken, words in cases:
        assert checker(broken) is False, broken.__name__
        assert words in capsys.readouterr().out, broken.__name__


def _solved_step():
    return run_solution(NB, "4.3")["dqn_step"]


def test_inner_step_checker_names_common_mistakes(capsys):
    solved = _solved_step()

    def stores_truncated(learner, step):
        env_step = learner.env.step

        def step_with_cut(action):
            obs, r, terminated, truncated, info = env_step(action)
            return obs, r, terminated or truncated, truncated, info

        learner.env.step = step_with_cut  # the mistake: a time-limit cut stored as terminal
        try:
            solved(learner, step)
        finally:
            learner.env.step = env_step

    def never_syncs(learner, step):
        target = learner.target
        learner.target = "none" if target == "none" else "never"
        try:
            solved(learner, step)
        finally:
            learner.target = target

    def starts_late(learner, step):
        starts = learner.learning_starts
        learner.learning_starts = starts + 1
        try:
            solved(learner, step)
        finally:
            learner.learning_starts = starts

    for broken, words in [
        (stores_truncated, "store `terminated` only"),
        (never_syncs, "never moved"),
        (starts_late, "one step late"),
        (lambda learner, step: None, "store exactly one transition per step"),
    ]:
        assert checks.check_dqn_step(broken) is False
        assert words in capsys.readouterr().out


def test_inner_step_that_calls_the_lessons_train_step_passes(lesson, capsys):
    """The exercise says calling section 1's train_step is just as right: the checker agrees."""
    train_step = lesson["train_step"]

    def with_train_step(learner, step):
        eps = learner.epsilon(step)
        if learner.rng.random() < eps:
            action = int(learner.rng.integers(2))
        else:
            with torch.no_grad():
                action = int(learner.q_network(torch.as_tensor(learner.obs)).argmax())
        next_obs, reward, terminated, truncated, _ = learner.env.step(action)
        learner.buffer.add(learner.obs, action, reward, next_obs, terminated)
        learner.obs = learner.env.reset()[0] if terminated or truncated else next_obs
        if step >= learner.learning_starts:
            bootstrap = learner.q_network if learner.target == "none" else learner.target_network
            batch = learner.buffer.sample(learner.batch_size)
            train_step(learner.q_network, bootstrap, learner.optimizer, batch, learner.loss_fn)
            if learner.target == "hard" and step % learner.target_update == 0:
                losses.hard_update(learner.target_network, learner.q_network)
            elif learner.target == "soft":
                losses.soft_update(learner.target_network, learner.q_network, learner.tau)

    assert checks.check_dqn_step(with_train_step) is True, capsys.readouterr().out


# ---------------------------------------------------------------- the drift demonstration


def _moves(trace: dict) -> int:
    """At how many updates the recorded TD target changed."""
    return int(np.count_nonzero(np.abs(np.diff(trace["target"], axis=0)).sum(axis=1)))


def test_frozen_target_moves_only_when_refreshed(lesson):
    frozen = lesson["drift_run"]("frozen", 40, sync_every=10)
    moving = lesson["drift_run"]("none", 40)
    assert frozen["target"].shape == frozen["prediction"].shape == (40, 3)
    assert _moves(frozen) <= 4  # refreshed at updates 10, 20, 30, 40
    assert _moves(moving) == 39  # without a copy, every update moves the target
    assert not np.allclose(frozen["prediction"], moving["prediction"])


def test_copy_every_step_is_the_same_as_no_target_network(lesson):
    moving = lesson["drift_run"]("none", 25)
    for same in (
        lesson["drift_run"]("frozen", 25, sync_every=1),
        lesson["drift_run"]("soft", 25, tau=1.0),
    ):
        np.testing.assert_allclose(same["target"], moving["target"], rtol=1e-5)
        np.testing.assert_allclose(same["prediction"], moving["prediction"], rtol=1e-5)


def test_soft_target_lags_behind(lesson):
    soft = lesson["drift_run"]("soft", 40, tau=0.05)
    moving = lesson["drift_run"]("none", 40)
    assert _moves(soft) == 39  # a soft target moves a little at every update...
    assert (
        np.abs(np.diff(soft["target"], axis=0)).mean()
        < np.abs(np.diff(moving["target"], axis=0)).mean()
    )


@pytest.mark.parametrize("loss", ["mse", "huber", "huber_terminals_squared"])
@pytest.mark.parametrize("target", ["none", "hard", "soft"])
def test_a_short_run_trains_and_evaluates(lesson, target, loss):
    config = lesson["config"]
    evals = lesson["run"](target, seed=2, total_steps=600, loss=loss)
    assert evals.shape == (600 // config.eval_every, 4)  # return, max-Q, terminal share, their pull
    assert np.all(np.isfinite(evals))
    assert np.all((evals[:, 2] > 0) & (evals[:, 2] < 0.5)) and np.all(
        (evals[:, 3] > 0) & (evals[:, 3] <= 1)
    )


def test_the_probe_loss_is_huber_except_on_terminal_targets(lesson):
    probe = lesson["huber_terminals_squared"]
    q, y = torch.tensor([5.0, 5.0, 1.2]), torch.tensor([1.0, 2.0, 1.0])  # 1.0: terminal (y = r)
    per = torch.tensor([0.5 * 16.0, 3.0 - 0.5, 0.5 * 0.04])
    assert torch.allclose(probe(q, y), per.mean())


def test_terminal_pull_matches_the_losses_gradients(lesson):
    learner = lesson["make_learner"]("hard", seed=0, loss="mse")
    for step in range(1, 200):
        lesson["dqn_step"](learner, step)
    share, pull = lesson["terminal_pull"](learner)
    stored = learner.buffer.get(np.arange(len(learner.buffer)))
    assert share == pytest.approx(float(stored.terminated.mean()))
    with torch.no_grad():  # by hand: the squared error pulls each transition by 2|δ|
        q = learner.q_network(stored.obs).gather(1, stored.actions[:, None])[:, 0]
        next_q = learner.target_network(stored.next_obs).max(dim=1).values
        delta = (stored.rewards + 0.99 * (1 - stored.terminated) * next_q - q).abs()
    assert pull == pytest.approx(
        float(delta[stored.terminated.bool()].sum() / delta.sum()), rel=1e-4
    )
    learner.loss_fn = torch.nn.functional.smooth_l1_loss
    with (
        torch.no_grad()
    ):  # Q(s, a) = 1000 everywhere, θ⁻ = 0: every |δ| > 1, so Huber pulls each equally
        for p in learner.q_network.parameters():
            p.zero_()
        learner.q_network.head.bias.fill_(1_000.0)
        for p in learner.target_network.parameters():
            p.zero_()
    share, pull = lesson["terminal_pull"](learner)
    assert pull == pytest.approx(share, rel=1e-4)


# ---------------------------------------------------------------- the C / τ slider panel


def test_panel_retrains_when_a_slider_moves_and_on_train(lesson):
    panel = widgets.TargetUpdatePanel(lesson["panel_run"], target_update=500, tau=0.005)
    assert panel.results == [] and panel.image.value == b""
    panel.target_update.value = 10  # moving a slider retrains (auto is on)
    assert len(panel.results) == 1 and panel.results[0]["target_update"] == 10
    first_image = panel.image.value
    assert len(first_image) > 1000
    drift = panel.results[0]["drift"]
    assert list(drift) == ["hard, C = 10", "soft, τ = 0.005"]
    assert _moves(drift["hard, C = 10"]) <= 4  # 40 updates, refreshed every 10
    panel.tau.value = 1.0
    assert len(panel.results) == 2 and panel.results[1]["tau"] == pytest.approx(1.0)
    assert "soft, τ = 1" in panel.results[1]["drift"]
    assert panel.image.value != first_image
    panel.auto.value = False
    panel.target_update.value = 100  # no retraining while auto is off ...
    assert len(panel.results) == 2
    panel.train_button.click()  # ... until Train is pressed
    assert len(panel.results) == 3 and panel.results[2]["target_update"] == 100
    assert set(panel.results[2]["curves"]) == {"hard, C = 100", "soft, τ = 1"}
    assert "run 3" in panel.status.value
    plt.close("all")


def test_panel_reports_bad_run_functions():
    with pytest.raises(TypeError, match="function"):
        widgets.TargetUpdatePanel("not callable")
    with pytest.raises(ValueError, match="target_update must be one of"):
        widgets.TargetUpdatePanel(lambda c, t: {}, target_update=7)
    panel = widgets.TargetUpdatePanel(lambda c, t: {"drift": {}}, auto=False)
    with pytest.raises(TypeError, match="updates"):
        panel.run()
    panel.train_button.click()  # from the button the error is shown, not raised
    assert "Not run" in panel.status.value


def test_plot_target_drift_draws_bound_only_when_reached():
    updates = np.arange(1, 6)
    low = {"target": np.ones(5), "prediction": np.zeros(5)}
    high = {"target": np.full(5, 80.0), "prediction": np.full(5, 70.0)}
    fig = plotting.plot_target_drift(updates, {"low": low, "high": high}, bound=100.0)
    low_ax, high_ax = fig.axes
    assert len(high_ax.lines) == 3 and len(low_ax.lines) == 2  # y, Q (+ the bound where it fits)
    with pytest.raises(ValueError, match="missing"):
        plotting.plot_target_drift(updates, {"x": {"target": np.ones(5)}})
    plt.close("all")


# ---------------------------------------------------------------- check_dqn_step judges behaviour
from dqn_helpers.checks import target as target_checks  # noqa: E402

_NAMED = {  # each slip of the reference and words its hint must contain
    "truncated": "store `terminated` only",
    "late": "one step late",
    "theta": "y uses learner.target_network",
    "theta_minus": "bootstraps from learner.q_network itself",
    "bootstrap_terminal": "(1 − terminated)",
    "mse": "learner.loss_fn was not called",
    "sync_every_step": "only when step % learner.target_update == 0",
    "no_sync": "never moved",
}


@pytest.mark.parametrize("slip", _NAMED)
def test_inner_step_checker_fails_each_slip_with_its_name(slip, capsys):
    import functools

    broken = functools.partial(target_checks._reference_dqn_step, slip=slip)
    assert checks.check_dqn_step(broken) is False
    assert _NAMED[slip] in capsys.readouterr().out


def test_inner_step_checker_accepts_other_random_numbers_and_learning_before_storing(capsys):
    """Correct steps that differ from the reference: random actions from env.action_space.sample() and
    python's random, and the update made before the new transition is stored."""
    import functools
    import random

    def other_random_numbers(learner, step):
        explore = random.random() < learner.epsilon(step)
        action = int(learner.env.action_space.sample()) if explore else None
        rng = learner.rng

        class Fixed:  # hands the reference the action chosen here
            def random(self):
                return 0.0 if explore else 1.0

            def integers(self, n):
                return action

        learner.rng = Fixed()
        try:
            target_checks._reference_dqn_step(learner, step)
        finally:
            learner.rng = rng

    learn_first = functools.partial(target_checks._reference_dqn_step, slip="learn_first")
    for step_fn in (other_random_numbers, learn_first):
        assert checks.check_dqn_step(step_fn) is True, capsys.readouterr().out
