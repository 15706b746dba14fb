"""Lesson 05 (DQN on CartPole): the hyperparameter panel (exercise stubs and solutions: test_exercises.py)."""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

from dqn_helpers import config, logs, training, widgets  # noqa: E402


# ---------------------------------------------------------------------------------- panel
def tiny_train_fn(calls: list):
    """train_fn for the panel: the real training loop with a tiny budget (a few hundred steps)."""

    def train_fn(cfg: config.DQNConfig) -> logs.TrainingLog:
        calls.append(cfg)
        cfg = cfg.replace(learning_starts=100, eval_every=250, eval_episodes=2, checkpoint_every=0)
        return training.train(cfg, progress=False).log

    return train_fn


def test_panel_trains_with_the_widget_values_and_overlays_each_run():
    torch.set_num_threads(1)
    calls: list = []
    panel = widgets.HyperparameterPanel(
        tiny_train_fn(calls), config.preset("cartpole", total_steps=500), threshold=475, hold=450
    )
    ax = panel.figure.axes[0]
    panel.learning_rate.value = 2e-3  # differs from the preset, so the run label names it
    panel.batch_size.value = 32
    panel.buffer_size.value = 1_000
    panel.target_update.value = 100
    panel.gamma.value = 0.95
    panel.epsilon_decay.value = 0.99
    panel.total_steps.value = 500
    assert (
        panel.epsilon_fraction.disabled
    )  # a per-episode decay makes the linear fraction irrelevant
    log = panel.run()
    cfg = calls[-1]
    assert (
        cfg.learning_rate,
        cfg.batch_size,
        cfg.buffer_size,
        cfg.target_update,
        cfg.gamma,
        cfg.epsilon_decay,
        cfg.total_steps,
    ) == (pytest.approx(2e-3), 32, 1_000, 100, 0.95, 0.99, 500)
    preset = config.preset("cartpole")
    # The preset's annealing ratio (learning_rate / lr_end) is kept when the learner moves the slider.
    assert cfg.lr_end == pytest.approx(preset.lr_end * 2e-3 / preset.learning_rate)
    assert len(panel.runs) == 1 and panel.runs[next(iter(panel.runs))] is log
    assert log.episodes and log.evals[-1]["step"] == 500
    lines_after_one = len(ax.get_lines())

    panel.learning_rate.value = 1e-4
    panel.epsilon_decay.value = 0.0  # back to the linear schedule
    second = panel.run()
    assert calls[-1].epsilon_decay is None and calls[-1].learning_rate == pytest.approx(1e-4)
    assert len(panel.runs) == 2 and second is not log
    assert len(ax.get_lines()) == lines_after_one + 1, (
        "the new eval curve is overlaid on the old one"
    )
    labels = list(panel.runs)
    assert labels[0].startswith("run 1:") and "lr=2e-03" in labels[0] and "batch=32" in labels[0]
    assert labels[1].startswith("run 2:") and "lr=1e-04" in labels[1]
    assert "run 2" in panel.table.value and "done" in panel.status.value

    panel.clear()
    assert panel.runs == {} and panel.table.value == ""


def test_panel_button_shows_a_training_failure_instead_of_raising():
    def diverging(cfg: config.DQNConfig) -> logs.TrainingLog:
        raise training.TrainingDivergedError("training diverged at step 900: loss=nan")

    panel = widgets.HyperparameterPanel(diverging, config.preset("cartpole", total_steps=500))
    panel.learning_rate.value = 0.1
    panel._on_train()  # what the Train button calls: a callback has nowhere to raise to
    assert panel.runs == {}
    assert "Not trained" in panel.status.value and "diverged at step 900" in panel.status.value
    assert not panel.train_button.disabled
    with pytest.raises(TypeError, match="DQNConfig"):
        widgets.HyperparameterPanel(diverging, {"learning_rate": 1e-3})


def test_panel_values_snapped_by_the_browser_are_the_preset_values():
    """A slider snaps to its step when displayed (3e-3 -> 10**-2.5, 0.99 -> 0.9900000000000001):
    pressing Train untouched must train the preset, labelled as such."""
    base = config.preset("cartpole", total_steps=500)
    panel = widgets.HyperparameterPanel(lambda cfg: None, base)
    panel.learning_rate.value = 10**-2.5  # what the frontend sends back for 3e-3
    panel.gamma.value = 0.9900000000000001
    panel.epsilon_fraction.value = base.epsilon_fraction + 1e-12
    cfg = panel.config()
    assert (cfg.learning_rate, cfg.gamma, cfg.epsilon_fraction) == (
        base.learning_rate,
        base.gamma,
        base.epsilon_fraction,
    )
    assert panel.label(cfg) == "run 1: base values"
    panel.add_run("reference run", logs.TrainingLog())  # the lesson's reference, trained elsewhere
    assert panel.label(cfg) == "run 1: base values", "the learner's first press is still run 1"
    panel.learning_rate.value = 10**-2.3  # one step further is a real change
    assert panel.config().learning_rate == pytest.approx(10**-2.3)


# ------------------------------------------------------------------- the cartpole-dqn preset
def _rows(log: logs.TrainingLog) -> list[list[float]]:
    """The log's rows without wall time, NaN made comparable."""
    return [
        [-1e300 if v != v else v for k, v in sorted(row.items()) if k != "time"]
        for row in log.episodes + log.evals
    ]


def _short_dqn(**overrides) -> config.DQNConfig:
    """The lesson's preset on a budget of seconds: bursts of 128 updates at steps 512, 768, ..."""
    budget = dict(total_steps=1_300, learning_starts=500, eval_every=650, eval_episodes=2)
    return config.preset("cartpole-dqn", checkpoint_every=0, **{**budget, **overrides})


def test_with_update_bursts_a_target_copy_every_step_gives_the_same_run_as_every_10():
    """Section 3's claim: θ changes only inside a burst, so any C between bursts means one copy per burst."""
    torch.set_num_threads(1)
    every_10 = training.train(_short_dqn(), progress=False).log
    every_step = training.train(_short_dqn(target_update=1), progress=False).log
    assert _rows(every_step) == _rows(every_10)
    with warnings.catch_warnings():  # without a target network the Q-values run away (and warn)
        warnings.simplefilter("ignore", UserWarning)
        no_target = training.train(_short_dqn(target_update=0, tau=1.0), progress=False).log
    assert _rows(no_target) != _rows(every_10), "θ⁻ = θ after every update is a different run"


def test_run_seeds_builds_each_training_env_with_env_fn():
    """Section 6 trains through a wrapper: run_seeds(env_fn=...) in workers, same numbers as train(env=...)."""
    import gymnasium as gym

    from dqn_helpers import envs

    # defined in the test, so the workers receive it by value, as they do from a notebook
    class NoReward(gym.Wrapper):
        def step(self, action):
            obs, _, terminated, truncated, info = self.env.step(action)
            return obs, 0.0, terminated, truncated, info

    def env_fn(cfg: config.DQNConfig) -> gym.Env:
        return NoReward(envs.make_env_for(cfg, cfg.seed))

    cfg = _short_dqn(total_steps=800, eval_every=400)
    parallel = training.run_seeds(cfg, [0, 1], n_jobs=2, progress=False, env_fn=env_fn)
    assert all(row["episode_return"] == 0.0 for log in parallel for row in log.episodes)
    assert all(row["mean_return"] > 0 for log in parallel for row in log.evals), (
        "evals use the real env"
    )
    torch.set_num_threads(1)
    direct = training.train(
        cfg.replace(seed=1), env=env_fn(cfg.replace(seed=1)), progress=False
    ).log
    assert _rows(parallel[1]) == _rows(direct)


def test_panel_default_run_of_the_lesson_is_cheap_and_draws_a_curve():
    """Lesson 05's panel in fast mode: the cartpole-dqn preset on 1,000 steps, evaluated every 250."""
    torch.set_num_threads(1)
    base = config.preset(
        "cartpole-dqn", total_steps=1_000, learning_starts=500, eval_every=250, eval_episodes=3
    )
    panel = widgets.HyperparameterPanel(
        lambda cfg: training.train(cfg.replace(checkpoint_every=0), progress=False).log,
        base,
        threshold=475,
        hold=450,
    )
    log = panel.run()
    assert panel.configs[next(iter(panel.runs))] == base, "untouched widgets train the preset"
    assert next(iter(panel.runs)) == "run 1: base values"
    assert [row["step"] for row in log.evals] == [250, 500, 750, 1_000], "four points: a line"
    assert len(panel.figure.axes[0].get_lines()[0].get_xdata()) == 4


# ---------------------------------------------------------------------------------- exercise 5.3: your loop runs
def test_a_correct_loop_that_differs_from_the_solution_is_the_one_section_10_trains(capsys):
    """A learner's loop that draws its random actions another way (env.action_space.sample, python's random)
    passes the checker, survives the solution cell, and is the loop section 10 trains."""
    from nbutils import load, run_cells, run_solution
    from test_check_dqn_loop import CORRECT

    nb = load("05_dqn_cartpole")
    ns = run_cells(nb, "parameters")
    run_solution(nb, "5.1", ns)  # dqn_loss (the course's, as if the learner's had not passed)
    other_random_numbers = CORRECT["env.action_space.sample and python's random"]
    calls = []

    def dqn_loop(*args, **kwargs):  # the learner's function: delegates, and counts its calls
        calls.append(args[4].total_steps)
        return other_random_numbers(*args, **kwargs)

    ns["dqn_loop"] = dqn_loop
    checker_call = "ok_5_3 = checks.check_dqn_loop(dqn_loop, fast=True)"
    exec(checker_call, ns)
    assert ns["ok_5_3"] is True, capsys.readouterr().out
    run_cells(nb, "solution-5.3", namespace=ns)
    assert ns["dqn_loop"] is dqn_loop and ns["checks"].whose(ns["dqn_loop"]) == "yours"
    run_cells(nb, "lesson-run", namespace=ns)
    calls.clear()
    ns["config"].loop_steps = 300
    run = ns["lesson_run"](0, "your dqn_loop")
    assert calls == [300], "section 10 trains the learner's loop"
    assert len(run["episodes"]) >= 1 and 8 <= run["greedy"] <= 500
