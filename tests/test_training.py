"""The training loop: a real CartPole run that learns, divergence, callbacks, logs, evaluation."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

from dqn_helpers import agents, buffers, checkpoints, config, envs, evaluation, logs, training

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_a_short_cartpole_run_learns(tmp_path: Path) -> None:
    # The tuned preset with a compressed schedule: random play scores ~22.
    cfg = config.preset("cartpole", total_steps=8_000, eval_every=8_000, seed=0)
    result = training.train(cfg, out_dir=tmp_path, progress=False)
    final = result.log.evals[-1]
    assert final["step"] == 8_000 and final["episodes"] == 20
    assert final["mean_return"] >= 150, f"greedy eval after 8k steps: {final}"
    assert result.best_eval is not None and result.best_eval >= final["mean_return"]
    for name in ("config.json", "log.csv", "eval.csv", "checkpoint.pt", "best.pt"):
        assert (tmp_path / name).exists(), name
    header = (tmp_path / "eval.csv").read_text().splitlines()[0]
    assert header == "step,mean_return,std_return,episodes"
    log = logs.TrainingLog.from_csv(tmp_path)
    assert len(log.episodes) == len(result.log.episodes)
    assert log.column("step")[-1] <= 8_000
    # learning happened: the Q-values grew from ~0 towards the discounted return scale
    assert np.nanmax(log.column("mean_max_q")) > 10


def test_divergence_is_detected_and_the_checkpoint_survives(tmp_path: Path) -> None:
    cfg = config.DQNConfig(
        total_steps=3_000,
        learning_rate=1e6,
        loss="mse",
        max_grad_norm=None,
        learning_starts=500,
        batch_size=32,
        buffer_size=3_000,
        hidden=(32, 32),
        checkpoint_every=250,
        eval_every=0,
        device="cpu",
    )
    with pytest.raises(training.TrainingDivergedError) as info:
        training.train(cfg, out_dir=tmp_path, progress=False)
    msg = str(info.value)
    assert "diverged at step" in msg
    for cause in ("learning rate is too high", "huber", "gradient clipping"):
        assert cause in msg, f"{cause!r} missing from: {msg}"
    assert "rewards" not in msg, "CartPole's rewards are 1: the message must not blame them"
    step = int(msg.split("diverged at step ")[1].split()[0])
    assert 500 <= step < 700, "divergence must be caught within a few updates"
    ckpt = checkpoints.load_checkpoint(tmp_path / "checkpoint.pt")  # the last good one
    assert ckpt["step"] == 500
    agent, _ = checkpoints.load_agent(tmp_path)
    assert np.isfinite(agent.q_values(np.zeros(4, np.float32))).all()
    assert (tmp_path / "log.csv").exists(), "the log up to the blow-up is kept for plotting"


def test_callbacks_get_every_event_and_can_stop_training() -> None:
    cfg = config.DQNConfig(
        total_steps=1_500,
        learning_starts=200,
        batch_size=32,
        buffer_size=2_000,
        hidden=(16,),
        eval_every=500,
        eval_episodes=3,
        device="cpu",
    )
    events: list[str] = []

    def record(event: str, log: logs.TrainingLog, agent: agents.DQNAgent) -> None:
        events.append(event)
        assert isinstance(agent, agents.DQNAgent)
        if event == "episode":
            assert len(log.episodes) == events.count("episode")

    result = training.train(cfg, progress=False, callbacks=[record])
    assert events.count("episode") == len(result.log.episodes) > 10
    assert events.count("eval") == 3 and events[-1] == "end" and events.count("end") == 1
    assert [r["step"] for r in result.log.evals] == [500, 1_000, 1_500]

    stop_after_5 = lambda event, log, agent: event == "episode" and len(log.episodes) >= 5  # noqa: E731
    stopped = training.train(cfg, progress=False, callbacks=[stop_after_5])
    assert len(stopped.log.episodes) == 5
    assert stopped.log.evals[-1]["step"] == stopped.log.episodes[-1]["step"], (
        "final eval at the stop"
    )


def test_vector_envs_collect_with_batched_actions(tmp_path: Path) -> None:
    cfg = config.DQNConfig(
        total_steps=1_200,
        num_envs=3,
        learning_starts=300,
        batch_size=32,
        buffer_size=3_000,
        hidden=(16,),
        train_freq=4,
        gradient_steps=1,
        n_step=2,
        eval_every=600,
        eval_episodes=2,
        checkpoint_every=600,
        device="cpu",
    )
    result = training.train(cfg, out_dir=tmp_path, progress=False)
    assert [r["step"] for r in result.log.evals] == [600, 1_200]
    steps = result.log.column("step")
    assert len(steps) > 20 and np.all(np.diff(steps) >= 0)
    # (1200 - 300) agent steps at one update per 4 steps
    assert abs(result.agent.updates - 900 // 4) <= 1
    resumed = training.train(
        cfg.replace(total_steps=1_500), out_dir=tmp_path, progress=False, resume=True
    )
    assert resumed.log.evals[-1]["step"] == 1_500
    assert "refills" in (tmp_path / "train_notes.txt").read_text()


@pytest.mark.filterwarnings("ignore:learning_starts=")  # no updates, on purpose
def test_truncated_episodes_are_not_stored_as_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[buffers.ReplayBuffer] = []
    real = buffers.make_buffer

    def spy(*args: object, **kwargs: object) -> buffers.ReplayBuffer:
        made.append(real(*args, **kwargs))  # type: ignore[arg-type]
        return made[-1]

    monkeypatch.setattr(buffers, "make_buffer", spy)
    cfg = config.DQNConfig(
        total_steps=600,
        learning_starts=10_000,
        buffer_size=1_000,
        epsilon_start=1.0,
        epsilon_end=1.0,
        eval_every=0,
        device="cpu",
    )
    ends: list[tuple[bool, bool]] = []

    class RecordEnds(gym.Wrapper):
        def step(self, action):  # type: ignore[no-untyped-def]
            out = super().step(action)
            if out[2] or out[3]:
                ends.append((bool(out[2]), bool(out[3])))
            return out

    env = RecordEnds(
        gym.make("CartPole-v1", max_episode_steps=15)
    )  # random play often lasts longer
    training.train(cfg, progress=False, env=env)
    only_truncated = sum(1 for term, trunc in ends if trunc and not term)
    assert only_truncated > 5
    stored_terminal = int(made[0].state_dict()["storage"]["terminated"].sum())
    assert stored_terminal == sum(term for term, _ in ends), (
        "only real terminations stop bootstrapping"
    )


def test_make_env_checks() -> None:
    env = envs.make_env("CartPole-v1", seed=0)
    assert isinstance(env.action_space, gym.spaces.Discrete)
    with pytest.raises(ValueError, match=r"Box.*DQN needs a Discrete action space"):
        envs.make_env("Pendulum-v1")
    with pytest.raises(ValueError, match="unknown or unavailable environment 'NoSuchEnv-v0'"):
        envs.make_env("NoSuchEnv-v0")
    with pytest.raises(ValueError, match="only apply to Atari"):
        envs.make_env("CartPole-v1", frame_stack=4)


def test_parallel_evaluation_matches_one_env_at_a_time() -> None:
    agent = agents.DQNAgent(config.DQNConfig(hidden=(8,), seed=4, device="cpu"), (4,), 2)
    one = evaluation.evaluate(agent, envs.make_env("CartPole-v1"), 7, seed=100)
    many = evaluation.evaluate(agent, [envs.make_env("CartPole-v1") for _ in range(3)], 7, seed=100)
    assert one[2] == many[2], "episode i is reset with seed + i however the episodes are spread"
    assert one[0] == pytest.approx(np.mean(one[2])) and one[1] == pytest.approx(np.std(one[2]))
    rows = evaluation.evaluate_episodes(agent, envs.make_env("CartPole-v1"), 2, seed=0)
    assert set(rows[0]) == {"return", "length", "points_won", "points_lost"}


def test_late_mean_skips_episodes_without_an_update_and_is_nan_without_any() -> None:
    log = logs.TrainingLog()
    for q in [50.0, float("nan"), 2.0, float("nan"), 4.0]:  # NaN: an episode without an update
        log.episodes.append({"step": 0, "mean_max_q": q})
    assert (
        log.late_mean("mean_max_q", n=4) == 3.0
    )  # (2 + 4) / 2: the NaNs are skipped, 50 is too old
    assert log.late_mean("mean_max_q", n=2) == 4.0 and log.late_mean("mean_max_q") == pytest.approx(
        56 / 3
    )
    assert np.isnan(logs.TrainingLog().late_mean("loss")), "an empty log: NaN"
    log.episodes.append({"step": 0, "mean_max_q": float("nan")})
    assert np.isnan(log.late_mean("mean_max_q", n=1)), (
        "no update in the last episode: NaN, no warning"
    )
    with pytest.raises(ValueError, match="n must be at least 1"):
        log.late_mean("mean_max_q", n=0)


def test_training_log_csv_round_trip(tmp_path: Path) -> None:
    log = logs.TrainingLog()
    row = dict.fromkeys(logs.EPISODE_COLUMNS, 1.5)
    row.update(step=10, episode=1, episode_length=10, loss=float("nan"))
    log.episodes.append(row)
    log.evals.append({"step": 10, "mean_return": 9.5, "std_return": 0.5, "episodes": 2})
    log.to_csv(tmp_path)
    again = logs.TrainingLog.from_csv(tmp_path)
    assert again.evals == log.evals
    assert again.episodes[0]["step"] == 10 and np.isnan(again.episodes[0]["loss"])
    assert again.column("mean_return", table="evals").tolist() == [9.5]
    assert again.last_eval == 9.5
    with pytest.raises(ValueError, match="columns are"):
        again.column("reward")
    with pytest.raises(FileNotFoundError, match="no log.csv"):
        logs.TrainingLog.from_csv(tmp_path / "nothing")


def _tiny(**kw: object) -> config.DQNConfig:
    base = dict(
        total_steps=600,
        learning_starts=100,
        batch_size=32,
        buffer_size=1_000,
        hidden=(16,),
        eval_every=0,
        checkpoint_every=0,
        device="cpu",
    )
    base.update(kw)
    return config.DQNConfig(**base)  # type: ignore[arg-type]


@pytest.mark.filterwarnings("ignore:learning_starts=")  # no updates, on purpose
def test_init_from_starts_a_new_run_from_a_trained_network(tmp_path: Path) -> None:
    source = training.train(_tiny(seed=0), out_dir=tmp_path / "a", progress=False).agent
    # No updates in the new run (learning_starts > total_steps): its networks must be the source's.
    fresh_cfg = _tiny(seed=5, total_steps=300, learning_starts=10_000)
    tuned = training.train(
        fresh_cfg, out_dir=tmp_path / "b", progress=False, init_from=tmp_path / "a"
    ).agent
    scratch = training.train(fresh_cfg, progress=False).agent
    for name, w in source.online.state_dict().items():
        assert torch.equal(tuned.online.state_dict()[name], w), name
        assert torch.equal(tuned.target.state_dict()[name], w), name
    assert any(
        not torch.equal(scratch.online.state_dict()[k], w)
        for k, w in source.online.state_dict().items()
    )
    log = logs.TrainingLog.from_csv(tmp_path / "b")
    assert int(log.column("step")[-1]) <= 300  # a new run: the step count starts at 0
    assert (
        "initialised the online and target networks"
        in (tmp_path / "b" / "train_notes.txt").read_text()
    )
    # With updates, the tuned run moves away from the source weights.
    moved = training.train(
        _tiny(seed=5, total_steps=300), progress=False, init_from=tmp_path / "a"
    ).agent
    assert any(
        not torch.equal(moved.online.state_dict()[k], w)
        for k, w in source.online.state_dict().items()
    )


@pytest.mark.filterwarnings("ignore:learning_starts=")  # no updates, on purpose
def test_init_from_reads_an_exported_half_precision_agent(tmp_path: Path) -> None:
    training.train(_tiny(seed=0), out_dir=tmp_path / "a", progress=False)
    exported = checkpoints.export_agent(
        tmp_path / "a", tmp_path / "small.pt", which="final", half=True
    )
    tuned = training.train(
        _tiny(seed=1, total_steps=200, learning_starts=10_000), progress=False, init_from=exported
    ).agent
    half = checkpoints.load_checkpoint(exported)["agent"]["online"]
    for name, w in tuned.online.state_dict().items():
        assert w.dtype == torch.float32 and torch.equal(w, half[name].float()), name


def test_init_from_rejects_a_missing_file_a_resume_and_another_network(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such checkpoint"):
        training.train(_tiny(), progress=False, init_from=tmp_path / "nope.pt")
    training.train(_tiny(seed=0), out_dir=tmp_path / "a", progress=False)
    with pytest.raises(ValueError, match="init_from is for a new run"):
        training.train(
            _tiny(seed=0),
            out_dir=tmp_path / "a",
            progress=False,
            resume=True,
            init_from=tmp_path / "a",
        )
    with pytest.raises(checkpoints.CheckpointError, match="does not fit this agent"):
        training.train(_tiny(hidden=(8,)), progress=False, init_from=tmp_path / "a")


def test_a_run_that_cannot_learn_says_so() -> None:
    cfg = _tiny(total_steps=300, learning_starts=1_000)
    with pytest.warns(UserWarning, match="not take a single gradient step"):
        result = training.train(cfg, progress=False)
    assert np.isnan(result.log.column("loss")).all()


def test_a_finished_run_is_never_replaced_silently(tmp_path: Path) -> None:
    cfg = _tiny(total_steps=300, eval_every=0)
    training.train(cfg, out_dir=tmp_path, progress=False)
    before = (tmp_path / "log.csv").read_text()
    with pytest.raises(FileExistsError, match="resume=True.*overwrite=True"):
        training.train(cfg.replace(seed=1), out_dir=tmp_path, progress=False)
    assert (tmp_path / "log.csv").read_text() == before
    training.train(cfg.replace(seed=1), out_dir=tmp_path, progress=False, overwrite=True)
    assert (tmp_path / "log.csv").read_text() != before
    assert not (tmp_path / "best.pt").exists(), "overwrite removes the old run's files"
    with pytest.raises(ValueError, match="pick one"):
        training.train(cfg, out_dir=tmp_path, progress=False, resume=True, overwrite=True)


def test_resume_past_the_end_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    cfg = _tiny(total_steps=400, eval_every=0)
    training.train(cfg, out_dir=tmp_path, progress=False)
    saved = (tmp_path / "config.json").read_text()
    with pytest.raises(ValueError, match="already at step 400.*larger total_steps"):
        training.train(cfg.replace(total_steps=300), out_dir=tmp_path, progress=False, resume=True)
    assert (tmp_path / "config.json").read_text() == saved
