"""The train / evaluate command lines: smoke runs on CartPole and Pong, bad flags rejected early."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from dqn_helpers import evaluate as evaluate_cli
from dqn_helpers import train as train_cli
from dqn_helpers import training


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Tiny networks run fastest (and without thread contention on shared CI cores) on one thread."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def cartpole_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cp")
    rc = train_cli.main([
        "--env", "CartPole-v1", "--preset", "cartpole", "--steps", "800", "--seed", "3",
        "--out", str(out), "--no-progress", "--learning-starts", "200", "--eval-every", "400",
        "--eval-episodes", "3", "--double", "--dueling", "--per", "--n-step", "2",
        "--set", "hidden=32,32", "--set", "batch_size=32",
    ])
    assert rc == 0
    return out


def test_train_cli_writes_the_run_folder(cartpole_run: Path) -> None:
    cfg = json.loads((cartpole_run / "config.json").read_text())
    assert cfg["total_steps"] == 800 and cfg["seed"] == 3 and cfg["n_step"] == 2
    assert cfg["double"] and cfg["dueling"] and cfg["prioritized"] and cfg["hidden"] == [32, 32]
    with open(cartpole_run / "eval.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == [400, 800]
    assert set(rows[0]) == {"step", "mean_return", "std_return", "episodes"}
    assert (cartpole_run / "checkpoint.pt").exists() and (cartpole_run / "log.csv").exists()


def test_train_cli_resume_extends_a_run(cartpole_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--env", "CartPole-v1", "--preset", "cartpole", "--seed", "3", "--out", str(cartpole_run),
            "--no-progress", "--learning-starts", "200", "--eval-every", "400", "--eval-episodes", "3",
            "--double", "--dueling", "--per", "--n-step", "2", "--set", "hidden=32,32",
            "--set", "batch_size=32", "--resume"]
    assert train_cli.main([*args, "--steps", "1200"]) == 0
    log = training.TrainingLog.from_csv(cartpole_run)
    assert [int(s) for s in log.column("step", "evals")] == [400, 800, 1200]
    assert "resumed from" in capsys.readouterr().out + (cartpole_run / "train_notes.txt").read_text()


def test_evaluate_cli_prints_returns_and_writes_a_video(
    cartpole_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    video = tmp_path / "cp.gif"
    assert evaluate_cli.main([str(cartpole_run), "--episodes", "3", "--seed", "5",
                              "--video", str(video), "--max-video-steps", "50"]) == 0
    out = capsys.readouterr().out
    assert "mean return" in out and "±" in out
    assert sum(line.startswith("  episode") for line in out.splitlines()) == 3
    assert video.exists() and video.stat().st_size > 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--steps", "0"], "total_steps must be > 0"),
        (["--gamma", "1.5"], "gamma must be in (0, 1]"),
        (["--preset", "nope"], "invalid choice: 'nope'"),
        (["--env", "NoSuchEnv-v0"], "unknown environment id 'NoSuchEnv-v0'"),
        (["--stesp", "100"], "unrecognized arguments: --stesp"),
        (["--lr", "-1"], "learning_rate must be > 0"),
        (["--set", "gama=0.9"], "unknown DQNConfig field"),
        (["--n-step", "0"], "n_step must be >= 1"),
    ],
)
def test_train_cli_rejects_bad_values_before_any_work(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def must_not_run(*args: object, **kwargs: object) -> None:
        raise AssertionError("training started despite a bad flag")

    monkeypatch.setattr(training, "train", must_not_run)
    monkeypatch.setattr(training, "make_env", must_not_run)
    start = time.perf_counter()
    with pytest.raises(SystemExit) as info:
        train_cli.main(argv)
    assert info.value.code == 2
    assert message in capsys.readouterr().err
    assert time.perf_counter() - start < 5.0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["no/such/run"], "does not exist"),
        (["RUN", "--episodes", "0"], "--episodes must be >= 1"),
        (["RUN", "--video", "x.avi"], ".mp4 or .gif"),
        (["RUN", "--epsilon", "2"], "--epsilon must be in [0, 1]"),
    ],
)
def test_evaluate_cli_rejects_bad_values(
    argv: list[str], message: str, cartpole_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [str(cartpole_run) if a == "RUN" else a for a in argv]
    with pytest.raises(SystemExit) as info:
        evaluate_cli.main(argv)
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_evaluate_cli_run_folder_without_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        evaluate_cli.main([str(tmp_path)])
    assert info.value.code == 2
    assert "no checkpoint.pt in run folder" in capsys.readouterr().err


def test_pong_smoke_run_and_evaluation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "pong"
    rc = train_cli.main([
        "--env", "ALE/Pong-v5", "--preset", "pong", "--steps", "300", "--out", str(out),
        "--no-progress", "--learning-starts", "100", "--buffer-size", "1000", "--eval-every", "300",
        "--eval-episodes", "1", "--checkpoint-every", "0",
    ])
    assert rc == 0
    log = training.TrainingLog.from_csv(out)
    assert log.evals and log.evals[-1]["step"] == 300
    assert -21 <= log.evals[-1]["mean_return"] <= 21
    capsys.readouterr()
    assert evaluate_cli.main([str(out), "--episodes", "1"]) == 0
    printed = capsys.readouterr().out
    assert "points won" in printed and "lost" in printed


def test_module_entry_points_show_help() -> None:
    for module in ("dqn_helpers.train", "dqn_helpers.evaluate"):
        done = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr
        assert "usage: python -m " + module in done.stdout


def test_train_cli_init_from_fine_tunes_and_reports_a_missing_file(
    cartpole_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--env", "CartPole-v1", "--preset", "cartpole", "--steps", "300", "--no-progress",
              "--learning-starts", "100", "--eval-every", "0", "--double", "--dueling", "--per",
              "--n-step", "2", "--set", "hidden=32,32", "--set", "batch_size=32"]
    assert train_cli.main([*common, "--out", str(tmp_path / "ft"), "--init-from", str(cartpole_run)]) == 0
    assert "initialised the online and target networks" in (tmp_path / "ft" / "train_notes.txt").read_text()
    assert train_cli.main([*common, "--out", str(tmp_path / "x"), "--init-from", str(tmp_path / "no.pt")]) == 1
    assert "no such checkpoint" in capsys.readouterr().err
