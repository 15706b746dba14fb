"""The command lines as a careless or malicious user meets them, in the conditions that really happen.

A module planted in the working directory, real Ctrl-C signals to a real process, damaged logs,
files that are not checkpoints, values refused before config.json is written.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from dqn_helpers import evaluate as evaluate_cli
from dqn_helpers import train as train_cli

pytestmark = pytest.mark.usefixtures("one_torch_thread")

REPO = Path(__file__).resolve().parents[1]
TINY = ["--steps", "300", "--eval-every", "0", "--learning-starts", "50", "--batch-size", "16"]


def _env() -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
    env.pop("XDG_RUNTIME_DIR", None)  # as on a headless server or in a container
    return env


def _run(args: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run") / "cp"
    assert train_cli.main([*TINY, "--out", str(out), "--no-progress"]) == 0
    return out


def _one_error_line(done: subprocess.CompletedProcess[str], prog: str) -> str:
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"python -m dqn_helpers.{prog}: error: "), lines
    return lines[0]


# ------------------------------------------------------------------------------ security
def test_an_env_id_from_a_checkpoint_never_imports_a_module(run_dir: Path, tmp_path: Path) -> None:
    """gymnasium.make("evilmod:CartPole-v1") would import ./evilmod.py; evaluate refuses first."""
    marker = tmp_path / "evilmod_ran"
    (tmp_path / "evilmod.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    (tmp_path / "this.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    for module in ("evilmod", "this"):
        ckpt = torch.load(run_dir / "checkpoint.pt", weights_only=True)
        ckpt["config"]["env_id"] = f"{module}:CartPole-v1"
        torch.save(ckpt, tmp_path / "copy.pt")
        done = _run(["dqn_helpers.evaluate", "copy.pt", "--episodes", "1"], cwd=tmp_path)
        line = _one_error_line(done, "evaluate")
        assert "not a plain Gymnasium id" in line and "Zen of Python" not in done.stdout
        assert not marker.exists(), f"{module}.py was imported"
        # the same id typed on the command line is refused the same way
        done = _run(["dqn_helpers.train", "--env", f"{module}:CartPole-v1"], cwd=tmp_path)
        assert "not a plain Gymnasium id" in _one_error_line(done, "train")
        assert not marker.exists() and not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    ("content", "what"),
    [
        (os.urandom(4096), "binary data that is no zip archive"),
        (b"just some notes\n", "a text file"),
        (b'{"format": "dqn_helpers", "config": {}}', "a JSON or other text file"),
    ],
)
def test_a_file_that_is_not_a_checkpoint_is_named_for_what_it_is(
    tmp_path: Path,
    content: bytes,
    what: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.pt").write_bytes(content)
    (tmp_path / "old").mkdir()
    shutil.copy(tmp_path / "x.pt", tmp_path / "old" / "checkpoint.pt")
    for cli, argv in (
        (evaluate_cli, ["x.pt"]),
        (train_cli, [*TINY, "--init-from", "x.pt", "--out", "ft"]),
        (train_cli, [*TINY, "--out", "old", "--resume"]),  # the checkpoint.pt a resume continues
    ):
        with pytest.raises(SystemExit) as info:
            cli.main(argv)
        assert info.value.code == 2
        line = capsys.readouterr().err.strip()
        assert f"x.pt is not a checkpoint: it is {what}" in line or (
            f"checkpoint.pt is not a checkpoint: it is {what}" in line
        ), line
        assert "could run code" not in line and "\n" not in line
    assert sorted(p.name for p in (tmp_path / "old").iterdir()) == ["checkpoint.pt"]
    assert not (tmp_path / "ft").exists()


# ------------------------------------------------------------- refused before any file
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--env", "Pendulum-v1"], "needs a Discrete action space"),
        (["--env", "FrozenLake-v1"], "Discrete observation space"),
        (["--seed", "1e30"], "seed must be in [0, 2**32 - 1]"),
        (["--seed", "-1"], "seed must be in [0, 2**32 - 1]"),
        (["--eval-episodes", "1e9"], "is more than --steps"),
        (["--num-envs", "100000"], "most of it is the environments (--num-envs 100,000)"),
        (["--hidden", "1000000,1000000"], "most of it is the networks (--hidden 1000000,1000000"),
        (["--buffer-size", "1e12"], "most of it is the replay buffer"),
        (["--env", "CartPole-v1", "--env-id", "Acrobot-v1"], "--env and --env-id both set env_id"),
        (["--seed", "3", "--set", "seed=4"], "--seed and --set seed= both set seed"),
        (["--per", "--no-prioritized"], "--per and --no-prioritized both set prioritized"),
        # --lr alone no longer rescales the preset's lr_end; a clash says how to fix it
        (["--lr", "1e-6"], "give lr_end too (--lr-end X, or --lr-end none)"),
    ],
)
def test_bad_runs_are_refused_before_config_json(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as info:
        train_cli.main([*argv, "--out", str(out), "--no-progress"])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not out.exists()


def test_an_env_that_needs_box2d_is_refused_when_box2d_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("gymnasium")
    try:
        import Box2D  # noqa: F401

        pytest.skip("Box2D is installed here")
    except ImportError:
        pass
    with pytest.raises(SystemExit):
        train_cli.main(["--env", "LunarLander-v3", "--out", str(tmp_path / "run")])
    assert "LunarLander-v3 cannot be made here: Box2D is not installed" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_out_in_proc_is_refused_even_as_root(capsys: pytest.CaptureFixture[str]) -> None:
    if not Path("/proc/self").exists():
        pytest.skip("no /proc on this system")
    with pytest.raises(SystemExit) as info:
        train_cli.main(["--out", "/proc/run"])
    assert info.value.code == 2
    assert "--out /proc/run: nothing can be written in /proc" in capsys.readouterr().err


def test_overwrite_keeps_the_old_run_when_the_new_one_is_refused(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = tmp_path / "old"
    shutil.copytree(run_dir, old)
    before = {p.name: p.read_bytes() for p in old.iterdir()}
    for argv in (
        ["--env", "Pendulum-v1"],  # Box actions
        ["--init-from", str(run_dir), "--hidden", "64"],  # a network of another shape
    ):
        with pytest.raises(SystemExit) as info:
            train_cli.main([*TINY, *argv, "--out", str(old), "--overwrite", "--no-progress"])
        assert info.value.code == 2
        assert {p.name: p.read_bytes() for p in old.iterdir()} == before
    assert "its network does not fit this run (hidden (128, 128) there, (64,) here)" in (
        capsys.readouterr().err
    )


# ------------------------------------------------------------------------------ Ctrl-C
def _interrupt(proc: subprocess.Popen[str], presses: int) -> tuple[int, str]:
    for _ in range(presses):
        proc.send_signal(signal.SIGINT)
        time.sleep(0.01)  # 10 ms apart, as a double press
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err


def test_two_ctrl_c_presses_in_train_end_in_one_line_and_a_saved_run(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "dqn_helpers.train", "--steps", "1000000", "--eval-every", "0"]
        + ["--out", "run", "--no-progress"],
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and "training CartPole-v1" in proc.stdout.readline()
    deadline = time.monotonic() + 120
    while not (tmp_path / "run" / "log.csv").exists() and time.monotonic() < deadline:
        time.sleep(0.2)  # the loop is running once episodes are logged
    rc, err = _interrupt(proc, presses=2)
    assert rc == 130 and "Traceback" not in err, err
    assert err.strip().splitlines()[-1] == (
        "stopped by Ctrl-C; continue with the same command plus --resume (--out run)."
    )
    assert (tmp_path / "run" / "checkpoint.pt").exists()


def test_ctrl_c_in_evaluate_ends_in_one_line(run_dir: Path, tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "dqn_helpers.evaluate", str(run_dir), "--episodes", "10000000"],
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and "playing 10,000,000 episodes" in proc.stdout.readline()
    rc, err = _interrupt(proc, presses=2)
    assert rc == 130 and err.strip() == "stopped by Ctrl-C; nothing was written.", err


# ------------------------------------------------------------------- quiet and clear output
def test_evaluate_video_writes_no_sdl_noise(run_dir: Path, tmp_path: Path) -> None:
    done = _run(
        ["dqn_helpers.evaluate", str(run_dir), "--episodes", "1", "--video", "v.gif"]
        + ["--max-video-steps", "20"],
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "XDG_RUNTIME_DIR" not in done.stderr and done.stderr.strip() == "", done.stderr
    assert (tmp_path / "v.gif").stat().st_size > 0


def _damage(kind: str, text: str) -> str:
    lines = text.splitlines(keepends=True)
    if kind == "extra column":
        lines[2] = lines[2].rstrip("\r\n") + ",99\r\n"
    elif kind == "wrong header":
        lines[0] = lines[0].replace("loss", "lossy")
    elif kind == "bad value":
        lines[3] = "abc" + lines[3][lines[3].index(",") :]
    elif kind == "missing value":
        lines[4] = lines[4].rstrip("\r\n").rsplit(",", 1)[0] + "\r\n"
    return "".join(lines)


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("extra column", "log.csv, line 3: 12 values for 11 columns"),
        ("wrong header", "is not a training log: its header is 'step,episode,episode_return,"),
        ("bad value", "log.csv, line 4, column 'step': could not convert 'abc' to a number"),
        ("missing value", "log.csv, line 5: 10 values for 11 columns"),
    ],
)
def test_diagnose_names_the_damage_in_a_log(
    run_dir: Path, tmp_path: Path, kind: str, message: str
) -> None:
    damaged = tmp_path / "run"
    shutil.copytree(run_dir, damaged)
    log = damaged / "log.csv"
    log.write_bytes(_damage(kind, log.read_bytes().decode()).encode())
    line = _one_error_line(_run(["dqn_helpers.diagnose", str(damaged)], tmp_path), "diagnose")
    assert message in line and "Traceback" not in line


def test_ctrl_c_to_the_process_group_of_an_atari_vector_run(tmp_path: Path) -> None:
    """The env workers get the signal too (a terminal sends it to the whole group): they ignore it
    and the main process stops them, so no worker traceback and no BrokenPipeError."""
    pytest.importorskip("ale_py")
    proc = subprocess.Popen(
        [sys.executable, "-m", "dqn_helpers.train", "--env", "ALE/Pong-v5", "--num-envs", "2"]
        + ["--steps", "100000", "--learning-starts", "500", "--buffer-size", "2000"]
        + ["--eval-every", "0", "--out", "run", "--no-progress"],
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a shell job has
    )
    assert proc.stdout is not None and "training ALE/Pong-v5" in proc.stdout.readline()
    time.sleep(8)  # the two env workers are running
    for _ in range(2):
        os.killpg(proc.pid, signal.SIGINT)
        time.sleep(0.01)
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert err.strip().splitlines()[-1].startswith("stopped by Ctrl-C"), err
