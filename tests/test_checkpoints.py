"""Checkpoints: round trips, exact resume, clear errors for bad files, atomic saves."""

from __future__ import annotations

import errno
from pathlib import Path

import numpy as np
import pytest
import torch

from dqn_helpers import agents, checkpoints, config, logs, training

OBS = np.random.default_rng(0).normal(size=(16, 4)).astype(np.float32)


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Tiny networks run fastest (and without thread contention on shared CI cores) on one thread."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _small(**overrides: object) -> config.DQNConfig:
    base = dict(
        env_id="CartPole-v1",
        total_steps=1_200,
        learning_starts=200,
        batch_size=32,
        buffer_size=2_000,
        hidden=(32, 32),
        eval_every=600,
        eval_episodes=2,
        checkpoint_every=400,
        n_step=3,
        double=True,
        target_update=100,
        seed=1,
        lr_end=1e-4,
        device="cpu",
    )
    base.update(overrides)
    return config.DQNConfig(**base)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def trained(
    _one_torch_thread: None, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, training.TrainResult]:
    out = tmp_path_factory.mktemp("run")
    return out, training.train(_small(), out_dir=out, progress=False)


def test_round_trip_same_q_values_and_optimizer(trained: tuple[Path, training.TrainResult]) -> None:
    out, result = trained
    agent, cfg = checkpoints.load_agent(out)
    assert cfg == _small()
    assert np.array_equal(agent.q_values(OBS), result.agent.q_values(OBS))
    for a, b in zip(agent.target.parameters(), result.agent.target.parameters()):
        assert torch.equal(a, b)
    saved, live = agent.optimizer.state_dict(), result.agent.optimizer.state_dict()
    assert saved["param_groups"][0]["lr"] == live["param_groups"][0]["lr"]
    for k, state in live["state"].items():
        assert torch.equal(saved["state"][k]["exp_avg"], state["exp_avg"])
        assert torch.equal(saved["state"][k]["exp_avg_sq"], state["exp_avg_sq"])
    ckpt = checkpoints.load_checkpoint(out / "checkpoint.pt")
    assert ckpt["step"] == 1_200 and ckpt["version"] == checkpoints.FORMAT_VERSION
    assert ckpt["buffer"] is not None and len(ckpt["log"]["evals"]) == 2
    best, _ = checkpoints.load_agent(out, which="best")
    assert best.q_values(OBS).shape == (16, 2)


def test_resume_reproduces_an_uninterrupted_run(
    tmp_path: Path, trained: tuple[Path, training.TrainResult]
) -> None:
    _, full = trained

    class Crash(Exception):
        pass

    def crash_after_900(event: str, log: logs.TrainingLog, agent: agents.DQNAgent) -> None:
        if event == "episode" and log.episodes[-1]["step"] > 900:
            raise Crash  # a crash between the checkpoints at 800 and 1200

    with pytest.raises(Crash):
        training.train(_small(), out_dir=tmp_path, progress=False, callbacks=[crash_after_900])
    assert checkpoints.load_checkpoint(tmp_path / "checkpoint.pt")["step"] == 800
    resumed = training.train(_small(), out_dir=tmp_path, progress=False, resume=True)
    # Same env state, buffer, RNGs and optimizer: the result is identical to the uninterrupted run.
    assert np.array_equal(resumed.agent.q_values(OBS), full.agent.q_values(OBS))
    assert resumed.agent.updates == full.agent.updates

    def strip(rows: list[dict[str, float]]) -> list[list[float]]:
        return [[r[k] for k in logs.EPISODE_COLUMNS if k != "time"] for r in rows]

    np.testing.assert_array_equal(strip(resumed.log.episodes), strip(full.log.episodes))
    assert resumed.log.evals == full.log.evals
    assert "resumed from" in (tmp_path / "train_notes.txt").read_text()


def test_resume_rejects_a_different_config(
    tmp_path: Path, trained: tuple[Path, training.TrainResult]
) -> None:
    out, _ = trained
    with pytest.raises(ValueError, match=r"learning_rate \(checkpoint 0.001, now 0.002\)"):
        training.train(_small(learning_rate=2e-3), out_dir=out, progress=False, resume=True)


def test_missing_empty_garbage_truncated_and_foreign_files(
    tmp_path: Path, trained: tuple[Path, training.TrainResult]
) -> None:
    out, _ = trained
    with pytest.raises(checkpoints.CheckpointError, match="no checkpoint at"):
        checkpoints.load_checkpoint(tmp_path / "nope.pt")
    with pytest.raises(checkpoints.CheckpointError, match="no checkpoint.pt in run folder"):
        checkpoints.load_agent(tmp_path)
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(checkpoints.CheckpointError, match="empty"):
        checkpoints.load_checkpoint(tmp_path / "empty.pt")
    (tmp_path / "garbage.pt").write_bytes(b"this is not a checkpoint" * 50)
    with pytest.raises(checkpoints.CheckpointError, match="truncated or corrupt"):
        checkpoints.load_checkpoint(tmp_path / "garbage.pt")
    data = (out / "checkpoint.pt").read_bytes()
    (tmp_path / "half.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(checkpoints.CheckpointError, match="truncated or corrupt") as info:
        checkpoints.load_checkpoint(tmp_path / "half.pt")
    assert "half.pt" in str(info.value)
    torch.save({"fc.weight": torch.zeros(2, 2)}, tmp_path / "plain.pt")
    with pytest.raises(
        checkpoints.CheckpointError, match="not a dqn_helpers checkpoint.*load_state_dict"
    ):
        checkpoints.load_checkpoint(tmp_path / "plain.pt")
    raw = torch.load(out / "checkpoint.pt", weights_only=True)
    raw["version"] = checkpoints.FORMAT_VERSION + 1
    torch.save(raw, tmp_path / "future.pt")
    with pytest.raises(checkpoints.CheckpointError, match="format version"):
        checkpoints.load_checkpoint(tmp_path / "future.pt")


def test_mismatched_agent_is_a_clear_error(trained: tuple[Path, training.TrainResult]) -> None:
    out, _ = trained
    ckpt = checkpoints.load_checkpoint(out / "checkpoint.pt")
    other = agents.DQNAgent(_small(), (6,), 3, device="cpu")
    with pytest.raises(checkpoints.CheckpointError) as info:
        checkpoints.restore_agent(ckpt, other)
    msg = str(info.value)
    assert "trained on obs (4,) / 2 actions" in msg and "you built obs (6,) / 3 actions" in msg
    wider = agents.DQNAgent(_small(hidden=(64, 64)), (4,), 2, device="cpu")
    with pytest.raises(checkpoints.CheckpointError, match=r"hidden \(32, 32\).*hidden \(64, 64\)"):
        checkpoints.restore_agent(ckpt, wider)


def test_a_crash_during_save_leaves_the_old_file_valid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = _small(hidden=(8,))
    agent = agents.DQNAgent(cfg, (4,), 2, device="cpu")
    path = tmp_path / "checkpoint.pt"
    checkpoints.save_checkpoint(path, agent=agent, config=cfg, step=10, episode=1)
    before = agent.q_values(OBS)
    with torch.no_grad():
        for p in agent.online.parameters():
            p.add_(1.0)

    def dying_save(obj: object, f: object, *args: object, **kwargs: object) -> None:
        f.write(b"PK\x03\x04 half a zip file")  # type: ignore[attr-defined]
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", dying_save)
    with pytest.raises(
        checkpoints.CheckpointError, match="disk is full.*previous checkpoint.pt is intact"
    ):
        checkpoints.save_checkpoint(path, agent=agent, config=cfg, step=20, episode=2)
    monkeypatch.undo()
    restored, _ = checkpoints.load_agent(path)
    assert np.array_equal(restored.q_values(OBS), before)
    assert checkpoints.load_checkpoint(path)["step"] == 10
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"], "temporary file left behind"


def test_extending_a_run_on_resume_keeps_its_schedules(
    tmp_path: Path, trained: tuple[Path, training.TrainResult]
) -> None:
    """Resuming with more total_steps continues at the schedules' end values; it does not re-stretch them."""
    out, _ = trained
    extended = training.train(_small(total_steps=2_400), out_dir=out, progress=False, resume=True)
    after = [r for r in extended.log.episodes if r["step"] > 1_200]
    assert after, "the extended run logged no episode after the resume point"
    cfg = _small()
    # ε reached its end value by step 0.1 × 1,200 of the original run and must stay there.
    assert all(r["epsilon"] == pytest.approx(cfg.epsilon_end) for r in after)
    # The learning rate finished annealing at step 1,200 and stays at lr_end.
    assert all(r["learning_rate"] == pytest.approx(cfg.lr_end) for r in after)


def test_resume_without_a_buffer_waits_for_learning_starts(tmp_path: Path) -> None:
    """With no replay buffer in the checkpoint, updates wait for learning_starts fresh transitions."""
    cfg = _small(save_buffer=False)
    first = training.train(cfg, out_dir=tmp_path, progress=False)
    updates_before = first.agent.updates
    short = cfg.replace(total_steps=1_200 + cfg.learning_starts - 50)
    resumed = training.train(short, out_dir=tmp_path, progress=False, resume=True)
    # Fewer than learning_starts new transitions were collected, so not a single update ran
    # (before the fix, updates restarted after batch_size = 32 transitions).
    assert resumed.agent.updates == updates_before
    notes = (tmp_path / "train_notes.txt").read_text()
    assert f"updates resume after {cfg.learning_starts} new transitions" in notes


def test_export_keeps_only_the_network_and_plays_the_same(
    tmp_path: Path, trained: tuple[Path, training.TrainResult]
) -> None:
    out, _ = trained
    source, source_cfg = checkpoints.load_agent(out)  # (other tests may have extended the run)
    full = tmp_path / "full.pt"
    exact = checkpoints.export_agent(out, full, which="final", half=False, info={"commit": "abc"})
    small = checkpoints.export_agent(out, tmp_path / "small.pt", which="final")
    assert small.stat().st_size < full.stat().st_size < (out / "checkpoint.pt").stat().st_size
    ckpt = checkpoints.load_checkpoint(exact)
    assert (
        ckpt["exported"] and set(ckpt["agent"]) == {"online"} and ckpt["info"] == {"commit": "abc"}
    )
    agent, cfg = checkpoints.load_agent(exact)
    assert cfg == source_cfg
    assert np.array_equal(agent.q_values(OBS), source.q_values(OBS))
    for a, b in zip(agent.target.parameters(), agent.online.parameters()):
        assert torch.equal(a, b)  # the target starts as a copy of the online network
    half, _ = checkpoints.load_agent(small)
    assert next(half.online.parameters()).dtype == torch.float32  # back to float32 on load
    q16, q32 = half.q_values(OBS), source.q_values(OBS)
    assert np.abs(q16 - q32).max() < 1e-2 * max(1.0, np.abs(q32).max())
    assert (q16.argmax(1) == q32.argmax(1)).mean() >= 0.9
    # an export cannot resume training: it has no optimizer state
    run = tmp_path / "resume_from_export"
    run.mkdir()
    (run / "checkpoint.pt").write_bytes(full.read_bytes())
    with pytest.raises(checkpoints.CheckpointError, match="exported agent"):
        training.train(_small(), out_dir=run, progress=False, resume=True)


def test_export_of_a_pong_network_is_small(tmp_path: Path) -> None:
    cfg = config.preset("pong", device="cpu")
    agent = agents.DQNAgent(cfg, (4, 84, 84), 6, device="cpu")
    src = checkpoints.save_checkpoint(
        tmp_path / "pong.pt", agent=agent, config=cfg, step=0, episode=0
    )
    dst = checkpoints.export_agent(src, tmp_path / "pong_small.pt")
    n_weights = sum(p.numel() for p in agent.online.parameters())
    assert (
        src.stat().st_size > 2 * 4 * n_weights
    )  # online + target networks in float32 (no Adam step yet)
    assert dst.stat().st_size < 2 * n_weights * 1.05  # the online network alone, 2 bytes per weight
    assert dst.stat().st_size < 10e6  # the bar for a checkpoint shipped in the repository
    loaded, _ = checkpoints.load_agent(dst)
    x = np.random.default_rng(0).integers(0, 255, size=(2, 4, 84, 84), dtype=np.uint8)
    assert np.allclose(loaded.q_values(x), agent.q_values(x), atol=1e-2)


@pytest.mark.filterwarnings("ignore:learning_starts=")  # no updates, on purpose
def test_ship_script_records_a_fine_tuned_agent_and_its_parent(tmp_path: Path) -> None:
    import json

    ship = _ship_module()
    # A Pong "run" of random play (no updates) is enough to check the bookkeeping, not the score.
    run = tmp_path / "ft"
    training.train(
        config.preset("pong", total_steps=200, learning_starts=10_000, eval_every=0, device="cpu"),
        out_dir=run,
        progress=False,
    )
    parent = tmp_path / "parent.json"
    parent.write_text(
        json.dumps({"command": "python -m dqn_helpers.train --preset pong", "step": 1_350_000})
    )
    out, image = tmp_path / "agent.pt", tmp_path / "curve.png"
    assert (
        ship.main(
            [
                str(run),
                "--which",
                "final",
                "--episodes",
                "1",
                "--out",
                str(out),
                "--image",
                str(image),
                "--commit",
                "abc1234",
                "--command",
                "train --init-from X",
                "--parent",
                str(parent),
            ]
        )
        == 0
    )
    info = json.loads(out.with_suffix(".json").read_text())
    assert info["command"] == "train --init-from X" and info["commit"] == "abc1234"
    assert (
        info["steps_in_total"] == 1_350_000 + 200 and info["fine_tuned_from"]["step"] == 1_350_000
    )
    games = info["evaluation"]
    assert (
        len(games["returns"]) == 1
        and games["points_won"] - games["points_lost"] == games["returns"][0]
    )
    assert (
        checkpoints.load_checkpoint(out)["info"]["steps_in_total"] == 1_350_200
        and image.stat().st_size > 0
    )
    assert info["sha256"] == checkpoints.sha256(out)  # the JSON records the shipped file's hash


def test_ctrl_c_saves_the_run_and_says_how_to_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def ctrl_c_after_900(event: str, log: logs.TrainingLog, agent: agents.DQNAgent) -> None:
        if event == "episode" and log.episodes[-1]["step"] > 900:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        training.train(_small(), out_dir=tmp_path, progress=False, callbacks=[ctrl_c_after_900])
    step = checkpoints.load_checkpoint(tmp_path / "checkpoint.pt")["step"]
    assert 900 < step < 1200, "saved at the interruption, not at the last periodic checkpoint"
    assert "--resume" in capsys.readouterr().err
    resumed = training.train(_small(), out_dir=tmp_path, progress=False, resume=True)
    assert resumed.log.episodes[-1]["step"] <= _small().total_steps
    assert checkpoints.load_checkpoint(tmp_path / "checkpoint.pt")["step"] == _small().total_steps


def test_the_shipped_agent_matches_the_sha256_in_its_json(tmp_path: Path) -> None:
    import json

    shipped = Path(__file__).parents[1] / "checkpoints" / "pong_pretrained.pt"
    expected = json.loads(shipped.with_suffix(".json").read_text())["sha256"]
    assert checkpoints.sha256(shipped) == expected
    agent, cfg = checkpoints.load_agent(shipped, device="cpu", sha256=expected)
    assert cfg.env_id == "ALE/Pong-v5" and agent.n_actions == 6
    with pytest.raises(checkpoints.CheckpointError, match="SHA-256 .* was expected"):
        checkpoints.load_agent(shipped, device="cpu", sha256="0" * 64)
    # a download that lost its last byte is refused before it is read
    cut = tmp_path / "pong_pretrained.pt"
    cut.write_bytes(shipped.read_bytes()[:-1])
    with pytest.raises(checkpoints.CheckpointError, match="download is incomplete"):
        checkpoints.load_agent(cut, device="cpu", sha256=expected.upper())
    with pytest.raises(checkpoints.CheckpointError, match="no checkpoint at"):
        checkpoints.load_agent(tmp_path / "missing.pt", sha256=expected)


def _ship_module():  # checkpoints/ship_pretrained.py, loaded as a module
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "ship", Path(__file__).parents[1] / "checkpoints" / "ship_pretrained.py"
    )
    assert spec is not None and spec.loader is not None
    ship = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ship)
    return ship


def test_ship_script_ships_the_runs_logs_where_lesson_10_reads_them(tmp_path: Path) -> None:
    import json

    from dqn_helpers import pong

    ship = _ship_module()
    run = tmp_path / "run"
    with pytest.warns(UserWarning, match="not take a single gradient step"):  # bookkeeping only
        training.train(
            config.preset(
                "pong",
                total_steps=200,
                learning_starts=10_000,
                eval_every=100,
                eval_episodes=1,
                device="cpu",
            ),
            out_dir=run,
            progress=False,
        )
    stages = tmp_path / "stages.json"
    stages.write_text(json.dumps({"stages": [{"stage": 1, "agent_steps_logged": 200}]}))
    out = tmp_path / "agent.pt"
    argv = [str(run), "--episodes", "1", "--out", str(out), "--image", str(tmp_path / "c.png")]
    assert ship.main([*argv, "--commit", "abc1234", "--logs", "--stages", str(stages)]) == 0
    log = pong.shipped_log(out)  # lesson 10's reader finds the logs and accepts them
    assert log is not None and log.column("step", "evals").tolist() == [100, 200]
    assert json.loads((tmp_path / "agent" / "stages.json").read_text())["stages"][0]["stage"] == 1
    assert json.loads(out.with_suffix(".json").read_text())["stages"]["stages"][0]["stage"] == 1

    # The final network of a run without evaluations has no curve that ends at it: refused
    # before anything is written.
    bare = tmp_path / "bare"
    with pytest.warns(UserWarning, match="not take a single gradient step"):
        training.train(
            config.preset(
                "pong", total_steps=150, learning_starts=10_000, eval_every=0, device="cpu"
            ),
            out_dir=bare,
            progress=False,
        )
    other = tmp_path / "other.pt"
    with pytest.raises(SystemExit):
        ship.main([str(bare), "--which", "final", "--episodes", "1", "--out", str(other), "--logs"])
    assert not other.exists() and not (tmp_path / "other").exists()
