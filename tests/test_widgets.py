"""The panels of dqn_helpers.widgets: the pure function each wraps, and the panel's run, redraw and errors.

Exact or hand-checkable values where they exist; the browser tests (tests/browser/test_panels.py) play with
the same panels in JupyterLab.
"""

from __future__ import annotations

import numpy as np
import pytest

from dqn_helpers import widgets
from dqn_helpers.widgets import (
    atari as w_atari,
)
from dqn_helpers.widgets import (
    double,
    dueling,
    failures,
    prioritized,
    qnetworks,
    replay,
)
from dqn_helpers.widgets import pong as w_pong
from dqn_helpers.widgets._base import FloatLogSlider, FloatSlider, IntSlider

# ---------------------------------------------------------------- the base


class Squares(widgets.Panel):
    """A minimal panel: n -> the squares 0..n-1 (fails for n = 3)."""

    def __init__(self) -> None:
        self.n = IntSlider(value=4, min=1, max=10, description="n")
        super().__init__([self.n])

    def compute(self):
        if self.n.value == 3:
            raise widgets.PanelError("n = 3 is not allowed")
        if self.n.value == 7:
            raise RuntimeError("internal")
        return np.arange(self.n.value) ** 2

    def draw(self, result):
        from matplotlib.figure import Figure

        fig = Figure(figsize=(2, 2))
        fig.subplots().plot(result)
        return fig

    def report(self, result):
        return f"sum {int(result.sum())}"


def test_base_runs_redraws_and_reports_errors_in_the_status_line():
    panel = Squares()
    assert panel.n_runs == 0 and panel.image.value == b""
    panel.n.value = 5  # auto: a change runs
    assert (
        panel.n_runs == 1 and "sum 30" in panel.status.value and panel.image.value[:4] == b"\x89PNG"
    )
    first = panel.image.value
    panel.n.value = 3
    assert panel.n_runs == 1 and "Not run:" in panel.status.value and "n = 3" in panel.status.value
    assert panel.image.value == first  # the last good figure stays
    panel.n.value = 7  # an unexpected error is named by its type
    assert "RuntimeError: internal" in panel.status.value
    panel.auto.value = False
    panel.n.value = 2
    assert panel.n_runs == 1
    panel.train_button.click()
    assert panel.n_runs == 2 and "run 2" in panel.status.value and "sum 1" in panel.status.value
    with pytest.raises(widgets.PanelError):
        panel.n.value = 3
        panel.run()  # run() itself raises (for tests); the buttons use safe_run()


def test_a_value_snapped_by_the_front_end_does_not_run_again():
    panel = Squares()
    x = FloatSlider(value=0.05, min=0.0, max=1.0, step=0.01, description="x")
    panel.controls.append(x)
    x.observe(panel._on_change, names="value")
    x.value = 0.05000000000000001  # what the browser sends back after snapping to the step
    assert panel.n_runs == 0
    x.value = 0.06  # a real move
    assert panel.n_runs == 1


def test_sliders_widen_instead_of_clamping_and_say_so():
    lr = FloatLogSlider(value=1e-3, base=10, min=-5, max=-1, description="learning rate")
    lr.value = 1e-8
    assert lr.value == 1e-8 and lr.min <= -8 and "1e-08" in lr.note
    gamma = FloatSlider(value=0.99, min=0.8, max=0.999, description="discount γ")
    gamma.value = 0.5
    assert gamma.value == 0.5 and gamma.min == 0.5 and "outside" in gamma.note
    steps = IntSlider(value=5, min=1, max=10, description="steps")
    steps.value = 50
    assert steps.value == 50 and steps.max == 50
    within = FloatSlider(value=0.5, min=0.0, max=1.0, description="x")
    within.value = 0.7
    assert within.note is None  # no note inside the range, nor at construction
    with pytest.raises(Exception, match="log scale"):
        lr.value = 0.0


def test_hyperparameter_panel_keeps_a_tiny_learning_rate_and_gamma_and_says_so():
    from dqn_helpers import config, logs

    base = config.preset("cartpole", total_steps=500, learning_rate=1e-8, lr_end=None, gamma=0.5)
    seen = []
    panel = widgets.HyperparameterPanel(lambda cfg: seen.append(cfg) or logs.TrainingLog(), base)
    assert (
        panel.config().learning_rate == 1e-8 and panel.config().gamma == 0.5
    )  # no clamp to 1e-5 / 0.8
    panel.gamma.value = 0.3  # below the slider: widened, kept, and said in the status line
    panel.safe_run()
    assert seen and seen[-1].gamma == pytest.approx(0.3)
    assert "widened" in panel.status.value
    panel.gamma.value = 1.5  # not a discount: DQNConfig's message, in the status line
    panel.safe_run()
    assert "Not trained" in panel.status.value and "gamma" in panel.status.value


def test_tabular_panel_refuses_an_invalid_gamma_and_keeps_a_small_valid_one():
    fn = lambda **kw: None  # noqa: E731 - never called
    with pytest.raises(ValueError, match="gamma"):
        widgets.TabularQPanel(fn, gamma=1.5)
    panel = widgets.TabularQPanel(fn, gamma=0.3, auto=False)
    assert panel.values()["gamma"] == 0.3


# ---------------------------------------------------------------- lesson 02


def test_one_update_moves_one_bin_of_the_table_and_the_whole_network():
    r = qnetworks.one_update_reach(5, 0.1, angle0=0.05)
    moved = r.table_change != 0
    assert np.allclose(r.table_change[moved], 0.1)  # 0 + 0.1 × (1 − 0)
    bin_width = 2 * qnetworks.ANGLE_LIMIT / 5
    inside = r.angles[moved]
    assert inside.max() - inside.min() <= bin_width + 1e-9 and inside.min() <= 0.05 <= inside.max()
    assert r.moved(r.table_change) < 0.25 and r.moved(r.network_change) > 0.5
    assert (
        qnetworks.one_update_reach(40, 0.1).moved(qnetworks.one_update_reach(40, 0.1).table_change)
        < 0.05
    )
    with pytest.raises(widgets.PanelError, match="learning rate"):
        qnetworks.one_update_reach(5, 2.0)


def test_generalisation_panel_redraws_when_the_bins_change():
    panel = widgets.GeneralisationPanel()
    panel.run()
    image = panel.image.value
    panel.n_bins.value = 20
    assert panel.n_runs == 2 and panel.image.value != image and panel.result.n_bins == 20


# ---------------------------------------------------------------- lesson 03


def test_random_stream_returns_are_the_discounted_rewards_to_the_episode_end():
    s = replay.random_stream(200, gamma=0.9, seed=1)
    ends = np.flatnonzero(np.diff(s.episode)) + 1  # first step of each new episode
    last = ends[0] - 1  # the last step of episode 0 ends it: its return is its reward
    assert s.returns[last] == pytest.approx(1.0)
    assert s.returns[last - 1] == pytest.approx(1.0 + 0.9)
    assert np.allclose(s.returns[:last], 1.0 + 0.9 * s.returns[1 : last + 1])


def test_recent_minibatches_come_from_one_episode_far_more_often_than_replayed_ones():
    r = replay.replay_against_recent(1_000, 32, stream_steps=1_200, update_every=8)
    assert r.same_episode["most recent"] > 3 * r.same_episode["uniform replay"]
    recent = np.sort(r.last_batch["most recent"])
    assert np.array_equal(recent, np.arange(recent[0], recent[0] + 32))  # consecutive
    assert all(np.isfinite(e).all() for e in r.errors.values())


def test_replay_panel_says_when_the_batch_is_larger_than_the_buffer():
    panel = widgets.ReplayPanel(buffer_size=500, stream_steps=600)
    panel.batch_size.value = 200
    panel.buffer_size.value = 100
    assert panel.n_runs == 1  # the batch of 200 in a buffer of 1,000 ran; 200 in 100 did not
    assert "larger than the buffer" in panel.status.value and "Traceback" not in panel.status.value


# ---------------------------------------------------------------- lesson 06


@pytest.fixture(scope="module")
def raw_screens():
    return w_atari.record_raw_frames(40, warmup=120)


def test_network_view_stacks_the_right_screens(raw_screens):
    v = w_atari.network_view(
        raw_screens, 39, interpolation="area", frame_skip=4, max_pool=False, stack=4
    )
    assert v.stack.shape == (4, 84, 84) and v.raw_index == [27, 31, 35, 39] and v.span_frames == 13
    from dqn_helpers import atari

    assert np.array_equal(v.stack[-1], atari.preprocess_frame(raw_screens[39]))  # the package's own
    pooled = w_atari.network_view(
        raw_screens, 39, interpolation="area", frame_skip=4, max_pool=True, stack=4
    )
    expected = atari.preprocess_frame(atari.max_pool_last_two(raw_screens[38], raw_screens[39]))
    assert np.array_equal(pooled.stack[-1], expected)
    with pytest.raises(widgets.PanelError, match="recording holds screens"):
        w_atari.network_view(
            raw_screens, 5, interpolation="area", frame_skip=4, max_pool=True, stack=4
        )


def test_preprocessing_panel_redraws_and_reports_the_span(raw_screens):
    panel = widgets.PreprocessingPanel(raw_screens)
    panel.run()
    panel.frame_skip.value = 2
    assert panel.n_runs == 2 and "spans 7 screens" in panel.status.value
    panel.stack.value = 8
    panel.frame_skip.value = 8
    assert "Not run" in panel.status.value and "move the moment later" in panel.status.value


# ---------------------------------------------------------------- lesson 07


def test_max_bias_matches_the_expected_maximum_of_normals():
    r = double.max_bias(2, 1.0, trials=200_000, seed=3)
    assert r.single_bias == pytest.approx(1 / np.sqrt(np.pi), abs=0.01)  # E[max of 2 N(0,1)]
    assert abs(r.double_bias) < 0.01
    assert np.all(np.diff(double.max_bias(10, 1.0).bias_by_actions) > 0)
    assert double.max_bias(10, 0.0).single_bias == 0.0
    with pytest.raises(widgets.PanelError, match="noise"):
        double.max_bias(3, -1.0)


def test_double_panel_follows_its_sliders():
    panel = widgets.DoubleEstimatePanel()
    panel.run()
    bias10 = panel.result.single_bias
    panel.n_actions.value = 2
    assert panel.result.single_bias < bias10 and "bias of the max" in panel.status.value


# ---------------------------------------------------------------- lesson 08


def test_dueling_mean_and_max_identify_v_and_none_does_not():
    mean = dueling.fit_dueling("mean", steps=600)
    assert mean.q_error < 1e-3 and mean.value_error < 1e-3
    # what the head outputs as Q is the table; V is its mean over actions
    assert np.allclose(mean.value, mean.q_true.mean(axis=1), atol=1e-3)
    none = dueling.fit_dueling("none", steps=600)
    assert none.q_error < 1e-2 and none.value_error > 1.0  # Q is right, V is not the state's value
    mx = dueling.fit_dueling("max", steps=3_000)
    assert mx.value_error < 0.1 and np.allclose(mx.value, mx.q_true.max(axis=1), atol=0.1)
    with pytest.raises(widgets.PanelError, match="aggregation"):
        dueling.fit_dueling("sum")


def test_dueling_panel_redraws_per_aggregation():
    panel = widgets.DuelingPanel()
    panel.run()
    image = panel.image.value
    panel.aggregation.value = "none"
    assert panel.image.value != image and "aggregation none" in panel.status.value


# ---------------------------------------------------------------- lesson 09


def test_cliffwalk_memory_is_the_random_policys_proportions():
    m = prioritized.cliffwalk_memory(8, 1)
    assert len(m["s"]) == 2 * (2**8 - 1) and m["r"].sum() == 1.0
    assert np.sum(m["s"] == 0) == 2 * 2**7 and np.sum(m["s"] == 7) == 2
    three = prioritized.cliffwalk_memory(4, 3, gamma=0.5)
    start = (
        (three["s"] == 1) & (three["a"] == 1) & (three["r"] > 0)
    )  # right from 1, then right, right: pays
    assert np.allclose(three["r"][start], 0.25) and np.all(three["done"][start] == 1.0)


def test_prioritized_replay_learns_the_chain_faster_and_n_step_brings_a_bias():
    uniform = prioritized.cliffwalk_replay(8, alpha=0.0, beta=0.0, replays=10_000)
    greedy = prioritized.cliffwalk_replay(8, alpha=1.0, beta=0.0, replays=10_000)
    assert greedy.to_learn is not None and uniform.to_learn is not None
    assert greedy.to_learn < uniform.to_learn
    biased = prioritized.cliffwalk_replay(8, alpha=1.0, beta=0.0, n_step=3, replays=10_000)
    assert (
        biased.to_learn is None and biased.error[-1] > 0.1
    )  # off-policy n-step targets of random play
    with pytest.raises(widgets.PanelError, match="β"):
        prioritized.cliffwalk_replay(8, alpha=1.0, beta=2.0)


def test_cliffwalk_panel_compares_with_uniform_replay():
    panel = widgets.CliffwalkPanel(replays=2_000)
    panel.run()
    panel.n_step.value = 2
    assert (
        panel.n_runs == 2 and "uniform, n=1" in panel.status.value and "n=2" in panel.status.value
    )


# ---------------------------------------------------------------- lesson 10


class FakeAgent:
    """Q(s, ·) from the mean pixel of the newest frame: enough to check the recording, no network."""

    def q_values(self, obs):
        m = float(np.asarray(obs)[-1].mean()) / 255
        return np.array([m, 2 * m, -m, 0.5, m * m, 0.0])


def test_record_game_keeps_every_steps_q_values():
    g = w_pong.record_game(FakeAgent(), "ALE/Pong-v5", 4, 20)
    assert len(g.frames) == len(g.q_values) == len(g.rewards) == 20
    assert g.q_values.shape == (20, 6) and g.action_names[:2] == ["NOOP", "FIRE"]
    assert np.array_equal(g.values, g.q_values.max(axis=1)) and np.array_equal(
        g.actions, g.q_values.argmax(axis=1)
    )
    panel = widgets.PongGamePanel(g)
    panel.run()
    panel.step.value = 10
    assert panel.n_runs == 2 and "step 10" in panel.status.value
    panel.step.value = 25  # past the game: widened, then a message
    assert "steps 0..19" in panel.status.value


# ---------------------------------------------------------------- lesson 11


def test_learning_starts_past_the_budget_is_diagnosed_and_its_fix_is_not():
    broken = failures.train_failure("learning_starts past the budget", broken=True, steps=1_000)
    assert "flat_returns" in broken.symptoms
    assert np.all(np.isnan(broken.log.column("loss")))  # not one update
    with pytest.raises(widgets.PanelError, match="failure"):
        failures.train_failure("no such failure", broken=True)


@pytest.mark.parametrize("failure", list(failures.FAILURES))
def test_each_failure_of_the_panel_shows_its_finding_at_the_default_budget(failure):
    """The panel's default 2,000 steps: diagnose names the failure in the broken run, not in its fix."""
    shows = failures.FAILURES[failure]["shows"]
    broken = failures.train_failure(failure, broken=True, steps=2_000, seed=0)
    fixed = failures.train_failure(failure, broken=False, steps=2_000, seed=0)
    assert shows <= broken.symptoms and not shows & fixed.symptoms, (
        broken.symptoms,
        fixed.symptoms,
    )


def test_break_it_panel_trains_broken_and_fixed_and_lists_findings():
    panel = widgets.BreakItPanel(failure="learning_starts past the budget", steps=1_000)
    runs = panel.run()
    assert [r.label.split(":")[0] for r in runs] == ["broken", "fixed"]
    assert (
        "flat_returns" in panel.status.value and "broken: learning_starts" in panel.findings.value
    )
    panel.steps.value = 100  # below the slider: widened, then refused with a message
    panel.train_button.click()
    assert "Not trained" in panel.status.value and "500..100,000" in panel.status.value
