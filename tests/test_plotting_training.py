"""Lesson 05 dashboards: plot_training, LivePlot, plot_runs_overlay, eval_curves, eval_table (synthetic logs)."""

from __future__ import annotations

from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from IPython.core.displaypub import DisplayPublisher  # noqa: E402
from IPython.core.interactiveshell import InteractiveShell  # noqa: E402
from traitlets.config import Config  # noqa: E402

from dqn_helpers import logs, plotting  # noqa: E402


def fake_log(n_episodes: int = 30, eval_every: int = 1000, evals=None, learning_starts: int = 200):
    """A TrainingLog-shaped object: episode rows (loss None before learning starts) and eval rows."""
    episodes, step = [], 0
    for i in range(n_episodes):
        step += 20 + 3 * i
        learning = step >= learning_starts
        episodes.append(
            {
                "step": step,
                "episode": i,
                "episode_return": float(20 + 3 * i),
                "episode_length": 20 + 3 * i,
                "loss": 1.0 / (i + 1) if learning else None,
                "mean_max_q": 0.5 * i if learning else None,
                "td_error": 0.1,
                "grad_norm": 1.0,
                "epsilon": max(0.05, 1 - i / 20),
                "learning_rate": 1e-3,
                "time": 0.1 * i,
            }
        )
    if evals is None:
        evals = [
            (s, 10.0 * k, 2.0) for k, s in enumerate(range(eval_every, step + 1, eval_every), 1)
        ]
    eval_rows = [
        {"step": s, "mean_return": m, "std_return": sd, "episodes": 5} for s, m, sd in evals
    ]
    return SimpleNamespace(episodes=episodes, evals=eval_rows)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_plot_training_draws_the_four_panels_against_env_steps():
    log = fake_log()
    fig = plotting.plot_training(log, threshold=475)
    ax_ret, ax_loss, ax_q, ax_eps = fig.axes
    assert [ax.get_ylabel() for ax in fig.axes] == [
        "episode return",
        "TD loss (mean per episode)",
        "mean max-Q of the batch",
        "ε (exploration)",
    ]
    # raw returns + moving average; eval curve on the eval steps; the dashed target line
    raw, smooth, evals, target = ax_ret.get_lines()
    np.testing.assert_array_equal(raw.get_xdata(), [r["step"] for r in log.episodes])
    assert smooth.get_ydata()[0] == 20.0 and smooth.get_ydata()[2] == pytest.approx(
        (20 + 23 + 26) / 3
    )
    np.testing.assert_array_equal(evals.get_xdata(), [r["step"] for r in log.evals])
    np.testing.assert_array_equal(evals.get_ydata(), [r["mean_return"] for r in log.evals])
    assert tuple(target.get_ydata()) == (475, 475)
    assert len(ax_ret.collections) == 1  # the ± std band
    # loss is NaN before learning starts: those episodes are skipped, so the line starts at the
    # first episode with an update (and joins across gaps); drawn on a log scale
    (loss_line,) = ax_loss.get_lines()
    finite = [r for r in log.episodes if r["loss"] is not None]
    assert len(finite) < len(log.episodes)
    np.testing.assert_array_equal(loss_line.get_xdata(), [r["step"] for r in finite])
    assert loss_line.get_ydata()[-1] == pytest.approx(1 / 30)
    assert ax_loss.get_yscale() == "log"
    np.testing.assert_allclose(
        ax_eps.get_lines()[0].get_ydata(), [r["epsilon"] for r in log.episodes]
    )
    assert ax_eps.get_xlabel() == "environment step"


def test_sparse_updates_draw_a_line_not_isolated_dots():
    """Updates in bursts leave most episodes without a loss: the line must still join the others."""
    log = fake_log()
    for i, row in enumerate(log.episodes):
        if i % 2:
            row["loss"] = row["mean_max_q"] = float("nan")
    _, ax_loss, ax_q, _ = plotting.plot_training(log).axes
    for ax in (ax_loss, ax_q):
        (line,) = ax.get_lines()
        y = line.get_ydata()
        assert len(y) >= 2 and np.all(np.isfinite(y)), "NaN between points would break the line"


def test_plot_training_redraws_into_a_given_figure_and_handles_an_empty_log():
    fig = plotting.plot_training(fake_log())
    same = plotting.plot_training(SimpleNamespace(episodes=[], evals=[]), fig=fig)
    assert same is fig and len(fig.axes) == 4  # cleared, not stacked on top of the old axes
    assert "waiting" in fig.axes[0].texts[0].get_text()


def _as_training_log(fake) -> logs.TrainingLog:
    return logs.TrainingLog(fake.episodes, fake.evals)


def _drawn(fig) -> list[tuple]:
    """Every line of a figure as (x data, y data), to compare two drawings of the same log."""
    return [
        (tuple(line.get_xdata()), tuple(np.nan_to_num(line.get_ydata(), nan=-1.0)))
        for ax in fig.axes
        for line in ax.get_lines()
    ]


def test_plot_training_takes_a_train_result_or_a_run_folder(tmp_path):
    log = _as_training_log(fake_log())
    expected = _drawn(plotting.plot_training(log))
    assert _drawn(plotting.plot_training(SimpleNamespace(agent=None, log=log))) == expected
    log.to_csv(tmp_path)
    assert _drawn(plotting.plot_training(tmp_path)) == expected
    assert _drawn(plotting.plot_training(str(tmp_path))) == expected


@pytest.mark.parametrize("wrong", [42, {"episodes": []}, SimpleNamespace(agent=None, log=[])])
def test_plot_functions_reject_what_is_not_a_log(wrong):
    with pytest.raises(TypeError, match="result.log"):
        plotting.plot_training(wrong)
    with pytest.raises(TypeError, match=r"runs\['a'\]"):
        plotting.plot_runs_overlay({"a": wrong})
    with pytest.raises(TypeError, match=r"runs\['a'\]"):
        plotting.eval_table({"a": wrong})
    with pytest.raises(TypeError, match="TrainingLog"):
        plotting.eval_curves([wrong])


def test_runs_overlay_eval_curves_and_eval_table_read_run_folders(tmp_path):
    a = _as_training_log(fake_log(evals=[(1000, 10.0, 1.0), (2000, 480.0, 2.0)]))
    b = _as_training_log(fake_log(evals=[(1000, 11.0, 0.0), (2000, 21.0, 0.0)]))
    a.to_csv(tmp_path / "a")
    b.to_csv(tmp_path / "b")
    fig = plotting.plot_runs_overlay({"a": tmp_path / "a", "b": str(tmp_path / "b")})
    np.testing.assert_array_equal(fig.axes[0].get_lines()[0].get_ydata(), [10.0, 480.0])
    steps, curves = plotting.eval_curves([tmp_path / "a", b])
    np.testing.assert_array_equal(steps, [1000, 2000])
    np.testing.assert_array_equal(curves, [[10, 480], [11, 21]])
    rows = plotting.eval_table({"a": tmp_path / "a"})
    assert rows[0]["steps_to_threshold"] == 2000 and rows[0]["passed"]


def test_short_runs_get_a_marker_on_each_point_so_one_point_shows():
    one = fake_log(n_episodes=1, evals=[], learning_starts=0)
    fig = plotting.plot_training(one)
    _raw, smooth = fig.axes[0].get_lines()
    assert smooth.get_marker() == "o" and len(smooth.get_xdata()) == 1
    for ax in fig.axes[1:]:  # loss, mean max-Q, epsilon: one point each
        assert ax.get_lines()[0].get_marker() == "o"
    overlay = plotting.plot_runs_overlay({"tiny": one}).axes[0].get_lines()[0]
    assert overlay.get_label() == "tiny (training return)" and overlay.get_marker() == "o"
    # a long series stays a plain line
    long_fig = plotting.plot_training(fake_log(n_episodes=40, learning_starts=0))
    assert long_fig.axes[0].get_lines()[1].get_marker() in ("None", "", None)
    assert long_fig.axes[1].get_lines()[0].get_marker() in ("None", "", None)
    # a loss with a single finite value among NaNs (learning started at the last episode) still shows
    late = fake_log(n_episodes=30, learning_starts=10**6)
    late.episodes[-1]["loss"] = 0.5
    assert plotting.plot_training(late).axes[1].get_lines()[0].get_marker() == "o"


class RecordingPublisher(DisplayPublisher):
    """Records what a notebook front end would receive: new outputs vs in-place updates."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[tuple[dict, bool]] = []

    def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kwargs):
        self.messages.append(((transient or {}).copy(), update))


@pytest.fixture
def shell():
    settings = Config()
    settings.HistoryManager.enabled = False  # no history database written by the tests
    ip = InteractiveShell.instance(config=settings)
    ip.display_pub = RecordingPublisher()
    yield ip
    InteractiveShell.clear_instance()


def test_liveplot_displays_once_then_updates_in_place(shell):
    live = plotting.LivePlot(every_s=0.0, threshold=475, max_draw_share=1.0)
    log = fake_log(n_episodes=5)
    for event in ("episode", "episode", "eval", "end"):
        live(event, log, None)
    messages = shell.display_pub.messages
    new = [m for m in messages if not m[1]]
    assert len(new) == 1, "LivePlot must create exactly one output area"
    assert len(messages) == 4 and all(update for _, update in messages[1:])
    ids = {transient["display_id"] for transient, _ in messages}
    assert len(ids) == 1  # every update targets that one output
    assert live.redraws == 4 and len(live.figure.axes) == 4
    assert plt.get_fignums() == []  # no pyplot figure left to be shown again after the cell


def test_liveplot_throttles_redraws_but_always_draws_the_end(shell):
    live = plotting.LivePlot(every_s=3600)
    log = fake_log(n_episodes=3)
    for _ in range(50):
        live("episode", log, None)
    live("eval", log, None)
    assert live.redraws == 1
    live("end", log, None)
    assert live.redraws == 2 and len(shell.display_pub.messages) == 2


def test_liveplot_limits_the_share_of_time_spent_drawing(shell):
    live = plotting.LivePlot(every_s=0.0)  # no fixed interval: only the 20% drawing budget applies
    log = fake_log(n_episodes=3)
    live("episode", log, None)
    live("episode", log, None)  # right after a draw that took > 0 s: skipped
    assert live.redraws == 1
    with pytest.raises(ValueError, match="max_draw_share"):
        plotting.LivePlot(max_draw_share=0)


def test_liveplot_outside_ipython_prints_nothing_and_keeps_the_final_figure(capsys):
    assert not InteractiveShell.initialized()
    live = plotting.LivePlot(every_s=0.0)
    log = fake_log(n_episodes=4)
    live("episode", log, None)
    assert live.figure.axes == []  # nothing drawn during training
    live("end", log, None)
    assert capsys.readouterr().out == ""
    assert len(live.figure.axes) == 4 and live.redraws == 0
    with pytest.raises(ValueError, match="event must be one of"):
        live("step", log, None)
    with pytest.raises(ValueError, match="every_s"):
        plotting.LivePlot(every_s=-1)


def test_runs_overlay_draws_one_curve_per_run_and_falls_back_to_training_returns():
    runs = {
        "lr=1e-3": fake_log(),
        "lr=1e-2": fake_log(evals=[(1000, 50.0, 5.0), (2000, 20.0, 1.0)]),
        "tiny": fake_log(n_episodes=3, evals=[]),
    }
    fig = plotting.plot_runs_overlay(runs, threshold=475)
    ax = fig.axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels[:3] == ["lr=1e-3", "lr=1e-2", "tiny (training return)"]
    np.testing.assert_array_equal(ax.get_lines()[1].get_ydata(), [50.0, 20.0])
    assert len(ax.collections) == 2  # a band per run that has evaluations
    # drawing into an existing axes adds to it (this is how the panel overlays a new run)
    plotting.plot_runs_overlay({"another": fake_log()}, ax=ax)
    assert len(ax.get_lines()) == 5
    with pytest.raises(TypeError, match="dict"):
        plotting.plot_runs_overlay([fake_log()])


def test_eval_curves_align_runs_on_common_steps():
    a = fake_log(evals=[(1000, 10.0, 0), (2000, 20.0, 0), (3000, 30.0, 0)])
    b = fake_log(evals=[(1000, 11.0, 0), (2000, 21.0, 0)])
    steps, curves = plotting.eval_curves([a, b])
    np.testing.assert_array_equal(steps, [1000, 2000])
    np.testing.assert_array_equal(curves, [[10, 20], [11, 21]])
    with pytest.raises(ValueError, match="share no evaluation step"):
        plotting.eval_curves([a, fake_log(evals=[(1500, 1.0, 0)])])


def test_eval_table_finds_first_step_at_threshold_and_the_pass_rule():
    runs = {
        "seed 0": fake_log(
            evals=[(5000, 200.0, 0), (10000, 480.0, 0), (15000, 500.0, 0), (30000, 460.0, 0)]
        ),
        "seed 1": fake_log(
            evals=[(5000, 300.0, 0), (10000, 475.0, 0), (30000, 120.0, 0)]
        ),  # collapsed
        "seed 2": fake_log(evals=[(5000, 100.0, 0), (30000, 470.0, 0)]),  # never reached 475
    }
    rows = plotting.eval_table(runs)
    assert [
        (r["steps_to_threshold"], r["best_eval"], r["last_eval"], r["passed"]) for r in rows
    ] == [(10000, 500.0, 460.0, True), (10000, 475.0, 120.0, False), (None, 470.0, 470.0, False)]
    text = plotting.format_eval_table(rows)
    assert "never" in text and "10,000" in text
    assert text.splitlines()[-1].startswith("1 of 3 runs")


def test_eval_table_takes_other_bars_and_its_defaults_are_cartpoles_registered_threshold():
    import gymnasium as gym

    assert plotting.CARTPOLE_THRESHOLD == gym.spec("CartPole-v1").reward_threshold
    pong_like = {"run": fake_log(evals=[(1000, -20.0, 0), (2000, 19.0, 0), (3000, 16.0, 0)])}
    (row,) = plotting.eval_table(pong_like, threshold=18.0, hold=15.0)
    assert row["steps_to_threshold"] == 2000 and row["passed"]
    (row,) = plotting.eval_table(pong_like, threshold=18.0, hold=17.0)
    assert not row["passed"]  # reached 18, but ended at 16
    text = plotting.format_eval_table([row], threshold=18.0, hold=17.0)
    assert "steps to 18" in text and text.splitlines()[-1] == (
        "0 of 1 runs reached 18 and ended at ≥ 17."
    )


@pytest.mark.parametrize("module_name", ["plotting", "widgets"])
def test_all_lists_exactly_the_public_functions_and_classes(module_name):
    import importlib
    import inspect

    module = importlib.import_module(f"dqn_helpers.{module_name}")
    defined = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isfunction(value) or inspect.isclass(value))
        and (
            value.__module__ == module.__name__
            or value.__module__.startswith(module.__name__ + ".")
        )
    }  # a package (widgets) re-exports what its modules define
    assert set(module.__all__) == defined


def test_plot_diagnostics_one_run_without_gamma_draws_no_bound():
    log = fake_log()
    fig = plotting.plot_diagnostics(log)
    ax_ret, ax_q, ax_loss, ax_grad, ax_eps, notes = fig.axes
    assert [ax.get_ylabel() for ax in fig.axes[:5]] == [
        "episode return",
        "value",
        "TD loss (mean per episode)",
        "gradient norm (before clipping)",
        "ε (exploration)",
    ]
    smoothed, evals = ax_ret.get_lines()  # training return (smoothed) and the greedy evaluations
    np.testing.assert_array_equal(evals.get_ydata(), [r["mean_return"] for r in log.evals])
    (q_line,) = ax_q.get_lines()  # no realised return without γ, no bound without r_max
    assert np.all(np.isfinite(q_line.get_ydata())) and q_line.get_ydata()[-1] == pytest.approx(14.5)
    assert len(q_line.get_xdata()) == sum(r["mean_max_q"] is not None for r in log.episodes)
    assert ax_loss.get_yscale() == "log" and ax_grad.get_yscale() == "log"
    assert ax_eps.get_xlabel() == "environment step" and ax_grad.get_xlabel() == "environment step"
    assert not notes.axison and "no findings" in notes.texts[0].get_text()
    assert smoothed.get_marker() in ("None", "", None)  # 30 points: a plain line


def test_plot_diagnostics_several_runs_with_the_bound_one_colour_each():
    healthy = fake_log()
    collapsed = fake_log(
        evals=[
            (400, 50.0, 1.0),
            (800, 500.0, 1.0),
            (1200, 480.0, 1.0),
            (1600, 60.0, 1.0),
            (1900, 40.0, 1.0),
        ]
    )
    tiny = fake_log(n_episodes=5, learning_starts=0, evals=[])
    fig = plotting.plot_diagnostics(
        [healthy, collapsed, tiny], gamma=0.99, reward_max=1.0, labels=["ok", "collapsed", "tiny"]
    )
    ax_ret, ax_q, ax_loss, ax_grad, ax_eps, notes = fig.axes
    colours = [line.get_color() for line in ax_eps.get_lines()]
    assert colours == ["C0", "C1", "C2"]
    q_lines = ax_q.get_lines()  # per run: mean max-Q and the realised discounted return; the bound
    assert len(q_lines) == 3 * 2 + 1
    assert tuple(q_lines[-1].get_ydata()) == pytest.approx((100.0, 100.0))  # 1 / (1 - 0.99)
    assert [line.get_linestyle() for line in q_lines[:2]] == ["-", "--"]
    first_len = healthy.episodes[0]["episode_length"]
    assert q_lines[1].get_ydata()[0] == pytest.approx((1 - 0.99**first_len) / 0.01)
    # the collapse is marked on the return panel in its run's colour, and listed
    marks = [line for line in ax_ret.get_lines() if tuple(line.get_xdata()) == (1600, 1600)]
    assert len(marks) == 1 and marks[0].get_color() == "C1"
    assert "collapsed: return_collapse at step 1,600" in notes.texts[0].get_text()
    legend = [t.get_text() for t in notes.get_legend().get_texts()]
    assert legend[:3] == ["ok", "collapsed", "tiny"] and any("r_max/(1-γ)" in t for t in legend)
    assert ax_eps.get_lines()[2].get_marker() == "o"  # 5 points: markers so that each shows


def test_plot_diagnostics_takes_folders_and_dicts_and_rejects_bad_labels(tmp_path):
    _as_training_log(fake_log()).to_csv(tmp_path / "a")
    runaway = fake_log()
    for i, row in enumerate(runaway.episodes):
        row["mean_max_q"] = 10.0**i if row["mean_max_q"] is not None else None
    fig = plotting.plot_diagnostics(
        {"folder": tmp_path / "a", "runaway": runaway}, gamma=0.99, reward_max=1.0
    )
    ax_q = fig.axes[1]
    assert ax_q.get_yscale() == "symlog" and ax_q.get_ylabel() == "value (symlog)"
    assert "runaway: q_above_bound" in fig.axes[5].texts[0].get_text()
    with pytest.raises(ValueError, match="labels"):
        plotting.plot_diagnostics([fake_log(), fake_log()], labels=["only one"])
    with pytest.raises(ValueError, match="empty"):
        plotting.plot_diagnostics([])
    with pytest.raises(TypeError, match="TrainingLog"):
        plotting.plot_diagnostics([42])


def test_moving_average_skips_a_nan_instead_of_spreading_it():
    values = np.array([1.0, np.nan, 3.0, 5.0, 7.0])
    got = plotting.moving_average(values, 2)
    np.testing.assert_allclose(got, [1.0, 1.0, 3.0, 4.0, 6.0])  # by hand: windows of finite points
    assert np.isnan(plotting.moving_average(np.array([np.nan, np.nan, 2.0]), 2)[:2]).all()
    np.testing.assert_allclose(plotting.moving_average(np.arange(6.0), 3), [0, 0.5, 1, 2, 3, 4])
