"""dqn_helpers.pong (lesson 10's plumbing): the speed probe's arithmetic, the run folder, the shipped
agent's logs (found, checked against the checkpoint, refused when they are another run's), and V(s)
along a greedy game, on fakes small enough to reason about by hand."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from dqn_helpers import checkpoints, plotting, pong
from dqn_helpers import config as dqn_config
from dqn_helpers.agents import DQNAgent
from dqn_helpers.logs import TrainingLog

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def fake_shipped_run(
    tmp_path: Path,
    *,
    step: int = 200,
    eval_steps: tuple[int, ...] = (100, 200, 300),
    with_logs: bool = True,
    logged_config: dqn_config.DQNConfig | None = None,
) -> Path:
    """A tiny shipped agent ``tmp_path/agent.pt`` (a CartPole network saved at ``step``) and, with
    ``with_logs``, its run's log.csv, eval.csv and config.json in ``tmp_path/agent/`` (the layout
    ``pong.shipped_log`` reads). ``logged_config`` puts another config in config.json."""
    cfg = dqn_config.preset("cartpole", total_steps=300, device="cpu")
    agent = DQNAgent(cfg, (4,), 2, device="cpu")
    ckpt = checkpoints.save_checkpoint(
        tmp_path / "agent.pt", agent=agent, config=cfg, step=step, episode=3
    )
    if with_logs:
        episodes = [
            {
                "step": s,
                "episode": i,
                "episode_return": 10.0 * (i + 1),
                "episode_length": 50,
                "loss": 0.1,
                "mean_max_q": 1.0 + i,
                "epsilon": max(0.01, 1 - s / 100),
            }
            for i, s in enumerate(range(50, 301, 50))
        ]
        evals = [
            {"step": s, "mean_return": s / 2, "std_return": 1.0, "episodes": 5} for s in eval_steps
        ]
        folder = pong.shipped_log_dir(ckpt)
        TrainingLog(episodes, evals).to_csv(folder)
        (folder / "config.json").write_text(json.dumps((logged_config or cfg).to_dict()))
    return ckpt


# ---------------------------------------------------------------- the speed probe


def test_speed_probe_arithmetic():
    probe = pong.SpeedProbe(env_ms=1.0, act_ms=1.0, update_ms=40.0, train_freq=4)
    assert probe.step_ms == pytest.approx(12.0)  # 1 + 1 + 40 / 4
    assert probe.steps_per_s == pytest.approx(1000 / 12)
    assert probe.hours(1_000_000) == pytest.approx(1_000_000 * 12 / 1000 / 3600)
    shares = probe.shares()
    assert shares["update"] == pytest.approx(10 / 12) and sum(shares.values()) == pytest.approx(1.0)


def test_median_ms_warms_up_once_and_rejects_no_calls():
    calls = []
    assert pong.median_ms(lambda: calls.append(1), 5) >= 0.0
    assert len(calls) == 6  # one warm-up call, then the five timed
    with pytest.raises(ValueError, match="at least 1"):
        pong.median_ms(lambda: None, 0)


def test_probe_speed_times_the_real_update_on_pong_frames():
    probe = pong.probe_speed(
        dqn_config.preset("pong", device="cpu"), "cpu", updates=1, env_steps=40, actions=1
    )
    assert probe.train_freq == 4
    assert probe.env_ms > 0 and probe.act_ms > 0 and probe.update_ms > probe.act_ms


# ---------------------------------------------------------------- the run folder


def test_free_run_dir_never_returns_a_folder_that_holds_a_run(tmp_path):
    run = tmp_path / "pong"
    assert pong.free_run_dir(run, resume=False) == run  # nothing there yet
    for name in ("pong", "pong-2"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "checkpoint.pt").write_bytes(b"a long run")
    assert pong.free_run_dir(run, resume=False) == tmp_path / "pong-3"
    assert pong.free_run_dir(run, resume=True) == run  # resume continues it in place
    (tmp_path / "pong-3").mkdir()  # a run stopped before its first checkpoint is a run too
    (tmp_path / "pong-3" / "best.pt").write_bytes(b"its best network")
    assert pong.free_run_dir(run, resume=False) == tmp_path / "pong-4"


def test_cpu_preview_and_stop_after():
    assert pong.cpu_preview_steps(1_000_000, 20_000, preview=True) == 20_000
    assert pong.cpu_preview_steps(1_000_000, 20_000, preview=False) is None
    assert pong.cpu_preview_steps(10_000, 20_000, preview=True) is None  # shorter than a preview
    log = TrainingLog([{"step": 19_990}])
    assert not pong.StopAfter(20_000)("episode", log)
    log.episodes.append({"step": 20_400})
    assert pong.StopAfter(20_000)("episode", log)
    assert not pong.StopAfter(20_000)("eval", log)  # only at an episode's end
    assert not pong.StopAfter(None)("episode", log)


# ---------------------------------------------------------------- the shipped agent and its logs


def test_find_shipped_takes_the_first_root_that_has_the_file(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "agent.pt").write_bytes(b"x")
    assert (
        pong.find_shipped("agent.pt", [tmp_path / "a", tmp_path / "b"])
        == tmp_path / "b" / "agent.pt"
    )
    assert pong.find_shipped("other.pt", [tmp_path / "a", tmp_path / "b"]) is None


def test_logs_belong_to_their_own_checkpoint(tmp_path):
    ckpt = fake_shipped_run(tmp_path)
    folder = pong.shipped_log_dir(ckpt)
    assert folder == tmp_path / "agent"
    assert pong.logs_belong_to_checkpoint(folder, ckpt)
    assert pong.logs_belong_to_checkpoint(folder, checkpoints.load_checkpoint(ckpt))  # a dict too
    log = pong.shipped_log(ckpt)
    assert log is not None and log.column("step", "evals").tolist() == [100, 200, 300]


def test_bookkeeping_differences_are_still_the_same_run(tmp_path):
    """A resumed run may change its budget and intervals: still the same run."""
    logged = dqn_config.preset("cartpole", total_steps=5_000, eval_every=100, device="cpu")
    ckpt = fake_shipped_run(tmp_path, logged_config=logged)
    assert pong.logs_belong_to_checkpoint(pong.shipped_log_dir(ckpt), ckpt)


@pytest.mark.parametrize(
    "mismatch",
    [
        {"eval_steps": (100, 300)},  # the checkpoint's step 200 was never evaluated in this run
        {"step": 250},
        {"logged_config": dqn_config.preset("cartpole", total_steps=300, learning_rate=1e-2)},
        {"logged_config": dqn_config.preset("cartpole", total_steps=300, seed=7)},
    ],
)
def test_logs_of_another_run_are_rejected(tmp_path, mismatch):
    ckpt = fake_shipped_run(tmp_path, **mismatch)
    assert not pong.logs_belong_to_checkpoint(pong.shipped_log_dir(ckpt), ckpt)
    with pytest.raises(ValueError, match="not those of"):
        pong.shipped_log(ckpt)


def test_no_shipped_logs_and_incomplete_logs(tmp_path):
    ckpt = fake_shipped_run(tmp_path, with_logs=False)
    assert pong.shipped_log(ckpt) is None  # nothing ships: the notebook falls back to the images
    folder = pong.shipped_log_dir(ckpt)
    TrainingLog([{"step": 200}], [{"step": 200, "mean_return": 1.0}]).to_csv(folder)
    assert not pong.logs_belong_to_checkpoint(folder, ckpt)  # no config.json: cannot tell
    (folder / "config.json").write_text("[1, 2]")
    assert not pong.logs_belong_to_checkpoint(folder, ckpt)  # not a config


# ---------------------------------------------------------------- V(s) along a game


class _Rally(gym.Env):
    """A stand-in game: the observation is the step number; a point is won at step 3 and lost at
    step 6, which ends the game."""

    metadata = {"render_modes": ["rgb_array"]}
    render_mode = "rgb_array"
    observation_space = gym.spaces.Box(0, 100, shape=(1,))
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        self.t = 0
        return np.array([0.0], dtype=np.float32), {}

    def step(self, action):
        self.t += 1
        reward = {3: 1.0, 6: -1.0}.get(self.t, 0.0)
        return np.array([self.t], dtype=np.float32), reward, self.t == 6, False, {}

    def render(self):
        return np.full((4, 4, 3), self.t, dtype=np.uint8)


class _StepValue:
    """A fake agent whose Q(s, ·) is (s, -s): V(s) = s, the greedy action 0."""

    def q_values(self, obs):
        return np.array([obs[0], -obs[0]])


def test_play_greedy_records_values_rewards_and_frames_until_the_game_ends():
    game = pong.play_greedy(_StepValue(), _Rally(), max_steps=50, seed=0)
    assert game.values.tolist() == [0, 1, 2, 3, 4, 5]  # V(s_t) before each action
    assert game.rewards.tolist() == [0, 0, 1, 0, 0, -1]
    assert game.terminated.tolist() == [False] * 5 + [True]
    assert len(game.frames) == 7 and game.frames[-1][0, 0, 0] == 6  # the last screen too
    assert len(pong.play_greedy(_StepValue(), _Rally(), max_steps=2).values) == 2


def test_play_greedy_needs_rgb_frames():
    env = _Rally()
    env.render_mode = None
    with pytest.raises(ValueError, match="rgb_array"):
        pong.play_greedy(_StepValue(), env, max_steps=5)


def test_value_before_points():
    values = [0.0, 1.0, 2.0, 3.0, -1.0, -2.0, 5.0]
    rewards = [0, 0, 0, 1, 0, -1, 0]
    won, lost = pong.value_before_points(values, rewards, n=2)
    assert won == pytest.approx(2.5) and lost == pytest.approx(-1.5)  # mean of (2, 3); of (-1, -2)
    won, lost = pong.value_before_points(values, [0] * 7, n=2)
    assert np.isnan(won) and np.isnan(lost)


def test_peaks_and_dips_alternate_keep_their_distance_and_come_in_time_order():
    values = np.zeros(100)
    values[[10, 12, 50]] = [3.0, 2.9, 2.0]
    values[[30, 80]] = [-2.0, -1.0]
    assert pong.peaks_and_dips(values, k=4, spacing=5) == [10, 30, 50, 80]  # 12 is too close to 10
    assert pong.peaks_and_dips(values, k=2, spacing=5) == [10, 30]


def test_window_around_the_first_point_lost():
    rewards = np.zeros(100)
    rewards[[20, 60, 70]] = [1, -1, -1]
    assert pong.window_around(rewards, sign=-1, before=10, after=5) == slice(50, 66)
    assert pong.window_around(rewards, sign=-1, before=80, after=80) == slice(0, 100)
    assert pong.window_around(np.zeros(100), sign=-1, before=10, after=5) == slice(0, 15)


def test_plot_value_along_game_draws_the_curve_and_one_frame_per_mark():
    game = pong.play_greedy(_StepValue(), _Rally(), max_steps=50)
    fig = plotting.plot_value_along_game(game.values, game.rewards, game.frames, [1, 4], start=100)
    curve, *frames = fig.axes
    assert len(frames) == 2 and frames[0].get_title().startswith("1: step 101")
    assert curve.get_lines()[0].get_xdata().tolist() == list(range(100, 106))
    with pytest.raises(ValueError, match="marks"):
        plotting.plot_value_along_game(game.values, game.rewards, game.frames, [9])
    with pytest.raises(ValueError, match="one value and one reward"):
        plotting.plot_value_along_game(game.values, game.rewards[:-1], game.frames, [])
