"""No run is lost: a folder's files, a second process, a full disk, and the API's silent cases.

Through the public API (``training.train``, ``training.run_seeds``, ``checkpoints.export_agent``)
and the command line (``train.main``), in the conditions that really happen: a run killed before
its first checkpoint, the user's own files, a second real process on the same folder, a real
full filesystem (a 2 MB tmpfs, mounted as root; skipped where mounting is not permitted).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from dqn_helpers import checkpoints, config, logs, metrics, runs, training
from dqn_helpers import train as train_cli

pytestmark = pytest.mark.usefixtures("one_torch_thread")
ROOT = Path(__file__).resolve().parent.parent


def _tiny(**overrides: object) -> config.DQNConfig:
    base = dict(
        total_steps=400,
        learning_starts=100,
        batch_size=16,
        buffer_size=2_000,
        hidden=(16,),
        eval_every=200,
        eval_episodes=2,
        checkpoint_every=200,
        device="cpu",
    )
    return config.DQNConfig(**{**base, **overrides})  # type: ignore[arg-type]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


# ----------------------------------------------------------- a run without checkpoint.pt
@pytest.fixture
def killed_early(tmp_path: Path) -> Path:
    """What a run killed before its first periodic checkpoint leaves: best.pt, logs, config.json."""
    out = tmp_path / "early"
    training.train(_tiny(), out_dir=out, progress=False)
    (out / "checkpoint.pt").unlink()
    return out


def test_a_run_without_checkpoint_is_not_reused(killed_early: Path) -> None:
    before = _snapshot(killed_early)
    with pytest.raises(FileExistsError, match="already holds a run .*best.pt"):
        training.train(_tiny(seed=3), out_dir=killed_early, progress=False)
    with pytest.raises(runs.RunFolderError, match="cannot resume: .* no checkpoint.pt"):
        training.train(_tiny(), out_dir=killed_early, resume=True, progress=False)
    assert _snapshot(killed_early) == before, "a refused run changed the folder"


def test_the_cli_refuses_a_run_without_checkpoint_before_writing(
    killed_early: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _snapshot(killed_early)
    argv = ["--env", "CartPole-v1", "--steps", "300", "--no-progress", "--out", str(killed_early)]
    with pytest.raises(SystemExit) as info:
        train_cli.main(argv)
    assert info.value.code == 2
    assert "already holds a run" in capsys.readouterr().err
    assert _snapshot(killed_early) == before


def test_the_users_own_files_are_not_overwritten(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "config.json").write_text('{"my": "settings"}\n')
    (out / "log.csv").write_text("date,weight\n2024-01-01,71.2\n")
    before = _snapshot(out)
    for kwargs in ({}, {"overwrite": True}, {"resume": True}):
        with pytest.raises(
            runs.RunFolderError, match="holds log.csv, config.json, which training did not write"
        ):
            training.train(_tiny(), out_dir=out, progress=False, **kwargs)
    assert _snapshot(out) == before


def test_overwrite_checks_everything_before_deleting(tmp_path: Path) -> None:
    out = tmp_path / "run"
    training.train(_tiny(), out_dir=out, progress=False)
    before = _snapshot(out)
    box = _tiny(env_id="Pendulum-v1")  # a Box action space: DQN cannot train it
    with pytest.raises(ValueError, match="Discrete"):
        training.train(box, out_dir=out, overwrite=True, progress=False)
    assert _snapshot(out) == before
    other = tmp_path / "other"
    training.train(_tiny(hidden=(8,)), out_dir=other, progress=False)
    with pytest.raises(checkpoints.CheckpointError, match="does not fit"):
        training.train(_tiny(), out_dir=out, overwrite=True, init_from=other, progress=False)
    assert _snapshot(out) == before, "overwrite deleted the run, then failed"


def test_run_seeds_does_not_replace_earlier_seeds(tmp_path: Path) -> None:
    training.run_seeds(_tiny(total_steps=200), [0], n_jobs=1, out_dir=tmp_path, progress=False)
    before = _snapshot(tmp_path / "seed0")
    with pytest.raises(FileExistsError, match="seed0 already holds a run"):
        training.run_seeds(
            _tiny(total_steps=200), [1, 0], n_jobs=1, out_dir=tmp_path, progress=False
        )
    assert not (tmp_path / "seed1").exists(), "a seed ran before the folders were checked"
    assert _snapshot(tmp_path / "seed0") == before
    training.run_seeds(
        _tiny(total_steps=200), [0], n_jobs=1, out_dir=tmp_path, progress=False, overwrite=True
    )


# ----------------------------------------------------------- export_agent writes only its own
@pytest.fixture
def finished(tmp_path: Path) -> Path:
    out = tmp_path / "run"
    training.train(_tiny(), out_dir=out, progress=False)
    return out


def test_export_never_writes_over_files_that_are_not_its_own(
    finished: Path, tmp_path: Path
) -> None:
    flipped = tmp_path / "flipped.pt"
    data = bytearray((finished / "checkpoint.pt").read_bytes())
    data[len(data) // 2] ^= 0x01
    flipped.write_bytes(bytes(data))
    text = tmp_path / "notes.txt"
    text.write_text("my notes\n")
    for victim in (finished / "log.csv", text, flipped, finished / "checkpoint.pt"):
        before = victim.read_bytes()
        with pytest.raises(
            checkpoints.CheckpointError,
            match="replaces only its own|training ckpt|training checkpoint",
        ):
            checkpoints.export_agent(finished, victim)
        assert victim.read_bytes() == before, victim
    agent_file = checkpoints.export_agent(finished, tmp_path / "agent.pt")
    checkpoints.export_agent(finished, agent_file, which="final")  # its own: replaced


# ----------------------------------------------------------- two processes, one folder
def test_a_second_process_on_the_same_folder_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "shared"
    script = textwrap.dedent(
        f"""
        from dqn_helpers import config, training
        cfg = config.DQNConfig(total_steps=200_000, learning_starts=100, batch_size=16,
                               hidden=(16,), eval_every=0, checkpoint_every=0, device="cpu")
        training.train(cfg, out_dir={str(out)!r}, progress=False)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    first = subprocess.Popen([sys.executable, "-c", script], env=env)
    try:
        deadline = time.monotonic() + 120
        while not (out / "config.json").exists():
            assert first.poll() is None and time.monotonic() < deadline, (
                "the first run did not start"
            )
            time.sleep(0.2)
        before = (out / "config.json").read_bytes()
        for kwargs in ({"overwrite": True}, {"resume": True}):
            with pytest.raises(
                runs.RunFolderError,
                match=f"in use by another training process \\(pid {first.pid}\\)",
            ):
                training.train(_tiny(seed=9), out_dir=out, progress=False, **kwargs)
        assert (out / "config.json").read_bytes() == before
    finally:
        first.kill()
        first.wait()
    training.train(_tiny(), out_dir=out, overwrite=True, progress=False)  # the lock died with it


# ----------------------------------------------------------- a real full disk
@pytest.fixture
def small_disk(tmp_path: Path):  # type: ignore[no-untyped-def]
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


def _fill(folder: Path, leave: int) -> None:
    """Fill the filesystem of ``folder`` up to ``leave`` free bytes."""
    free = os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize
    with open(folder / "filler", "wb") as f:
        f.write(b"\0" * max(free - leave, 0))


@pytest.mark.parametrize("leave", [0, 4096, 60_000])
def test_a_full_disk_ends_with_a_clear_message_and_keeps_the_checkpoint(
    small_disk: Path, leave: int, capsys: pytest.CaptureFixture[str]
) -> None:
    out = small_disk / "run"
    argv = [
        "--env", "CartPole-v1", "--learning-starts", "100", "--eval-every", "0",
        "--set", "batch_size=16", "--set", "buffer_size=500", "--set", "hidden=16",
        "--set", "checkpoint_every=300", "--set", "eval_episodes=2", "--set", "device=cpu",
        "--no-progress", "--out", str(out),
    ]  # fmt: skip
    assert train_cli.main([*argv, "--steps", "300"]) == 0
    good = checkpoints.load_checkpoint(out / "checkpoint.pt")
    _fill(small_disk, leave)
    argv += ["--steps", "900", "--resume"]
    capsys.readouterr()
    assert train_cli.main(argv) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "disk is full" in err, err
    assert "checkpoint.pt" in err and "is intact" in err, err
    kept = checkpoints.load_checkpoint(out / "checkpoint.pt")
    assert kept["step"] == good["step"] == 300
    assert json.loads((out / "config.json").read_text())["total_steps"] in (300, 900)
    logs.TrainingLog.from_csv(out)  # the logs still read
    assert not [p.name for p in out.iterdir() if ".tmp" in p.name], "temporary files left"


def test_torch_save_on_a_full_disk_is_a_clear_error(small_disk: Path) -> None:
    import torch

    from dqn_helpers import agents

    cfg = _tiny(hidden=(256, 256))
    agent = agents.DQNAgent(cfg, (4,), 2, device="cpu")
    path = small_disk / "checkpoint.pt"
    checkpoints.save_checkpoint(path, agent=agent, config=cfg, step=1, episode=0)
    _fill(small_disk, 100_000)  # less than a checkpoint (about 0.8 MB)
    with pytest.raises(RuntimeError):  # what torch.save itself raises on a full disk
        torch.save(agent.state_dict(), small_disk / "raw.pt")
    (small_disk / "raw.pt").unlink(missing_ok=True)
    with pytest.raises(
        checkpoints.CheckpointError, match="disk is full.*previous checkpoint.pt is intact"
    ):
        checkpoints.save_checkpoint(path, agent=agent, config=cfg, step=2, episode=0)
    assert checkpoints.load_checkpoint(path)["step"] == 1
    assert sorted(p.name for p in small_disk.iterdir()) == ["checkpoint.pt", "filler"]


# ----------------------------------------------------------- silent cases of the API
def test_an_env_that_is_not_the_configs_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="env is Acrobot-v1, but config.env_id is 'CartPole-v1'"):
        training.train(_tiny(), env=gym.make("Acrobot-v1"), out_dir=tmp_path / "x", progress=False)
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("seeds", [[1.7, 2.2], [0, True], ["1"]])
def test_seeds_that_are_not_whole_numbers_are_refused(seeds: list[object]) -> None:
    with pytest.raises(TypeError, match="seeds must be whole numbers"):
        training.run_seeds(_tiny(), seeds, n_jobs=1, progress=False)  # type: ignore[arg-type]


class _Broken(gym.Wrapper):
    """CartPole whose 30th step returns a NaN reward or a NaN observation."""

    def __init__(self, what: str) -> None:
        super().__init__(gym.make("CartPole-v1"))
        self.what, self.t = what, 0

    def step(self, action):  # type: ignore[no-untyped-def]
        obs, reward, term, trunc, info = self.env.step(action)
        self.t += 1
        if self.t == 30:
            if self.what == "reward":
                reward = float("nan")
            elif self.what == "text":
                reward = "1"
            else:
                obs = np.full_like(obs, np.nan)
        return obs, reward, term, trunc, info


class _NaNVector(gym.vector.VectorWrapper):
    """A vector env whose 20th step returns a NaN in one env's observation."""

    def __init__(self, env: gym.vector.VectorEnv) -> None:
        super().__init__(env)
        self.t = 0

    def step(self, actions):  # type: ignore[no-untyped-def]
        obs, rewards, terms, truncs, infos = self.env.step(actions)
        self.t += 1
        if self.t == 20:
            obs = obs.copy()
            obs[1, 2] = np.nan
        return obs, rewards, terms, truncs, infos


def test_nan_from_a_vector_env_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    real = training._VectorEnv.__init__

    def with_nan(self: training._VectorEnv, cfg: config.DQNConfig) -> None:
        real(self, cfg)
        self.env = _NaNVector(self.env)

    monkeypatch.setattr(training._VectorEnv, "__init__", with_nan)
    with pytest.raises(ValueError, match="returned an observation with NaN"):
        training.train(_tiny(num_envs=2, eval_every=0), progress=False)


@pytest.mark.parametrize("what", ["reward", "obs", "text"])
def test_nan_from_the_env_is_a_clear_error_not_nan_weights(what: str) -> None:
    expected = "reward" if what != "obs" else "observation with NaN"
    with pytest.raises(ValueError, match=f"returned .*{expected}.*NaN in the replay buffer"):
        training.train(_tiny(), env=_Broken(what), progress=False)


# ----------------------------------------------------------- one record of the metrics
def test_the_update_metrics_record_names_the_log_and_the_saved_sums(finished: Path) -> None:
    from dqn_helpers import diagnostics

    assert metrics.LOGGED == ("loss", "mean_max_q", "td_error", "grad_norm")
    assert diagnostics._UPDATE_METRICS == metrics.LOGGED
    columns = logs.EPISODE_COLUMNS
    assert columns[columns.index("loss") : columns.index("loss") + 4] == metrics.LOGGED
    loop = checkpoints.load_checkpoint(finished / "checkpoint.pt")["extra"]["loop"]
    assert set(loop["metric_sums"]["sums"]) == set(metrics.LOGGED)


def test_an_old_format_checkpoint_plays_but_does_not_resume(finished: Path, tmp_path: Path) -> None:
    import torch

    raw = torch.load(finished / "checkpoint.pt", weights_only=True)
    raw["version"] = 2
    out = tmp_path / "old"
    out.mkdir()
    torch.save(raw, out / "checkpoint.pt")
    checkpoints.load_agent(out)  # plays
    with pytest.raises(checkpoints.CheckpointError, match="format version 2.*init_from"):
        training.train(_tiny(total_steps=800), out_dir=out, resume=True, progress=False)
