"""The train / evaluate command lines: smoke runs on CartPole and Pong, bad flags rejected early."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import gymnasium as gym
import pytest
import torch

from dqn_helpers import config as config_lib
from dqn_helpers import evaluate as evaluate_cli
from dqn_helpers import train as train_cli
from dqn_helpers import training

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def cartpole_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cp")
    rc = train_cli.main(
        [
            "--env",
            "CartPole-v1",
            "--preset",
            "cartpole",
            "--steps",
            "800",
            "--seed",
            "3",
            "--out",
            str(out),
            "--no-progress",
            "--learning-starts",
            "200",
            "--eval-every",
            "400",
            "--eval-episodes",
            "3",
            "--double",
            "--dueling",
            "--per",
            "--n-step",
            "2",
            "--set",
            "hidden=32,32",
            "--set",
            "batch_size=32",
        ]
    )
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


def test_train_cli_resume_extends_a_run(
    cartpole_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "--env",
        "CartPole-v1",
        "--preset",
        "cartpole",
        "--seed",
        "3",
        "--out",
        str(cartpole_run),
        "--no-progress",
        "--learning-starts",
        "200",
        "--eval-every",
        "400",
        "--eval-episodes",
        "3",
        "--double",
        "--dueling",
        "--per",
        "--n-step",
        "2",
        "--set",
        "hidden=32,32",
        "--set",
        "batch_size=32",
        "--resume",
    ]
    assert train_cli.main([*args, "--steps", "1200"]) == 0
    log = training.TrainingLog.from_csv(cartpole_run)
    assert [int(s) for s in log.column("step", "evals")] == [400, 800, 1200]
    assert (
        "resumed from" in capsys.readouterr().out + (cartpole_run / "train_notes.txt").read_text()
    )


def test_evaluate_cli_prints_returns_and_writes_a_video(
    cartpole_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    video = tmp_path / "cp.gif"
    assert (
        evaluate_cli.main(
            [
                str(cartpole_run),
                "--episodes",
                "3",
                "--seed",
                "5",
                "--video",
                str(video),
                "--max-video-steps",
                "50",
            ]
        )
        == 0
    )
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
        (["--env", "NoSuchEnv-v0"], "unknown or unavailable environment 'NoSuchEnv-v0'"),
        (["--stesp", "100"], "unrecognized arguments: --stesp"),
        (["--lr", "-1"], "learning_rate must be > 0"),
        (["--set", "gama=0.9"], "unknown DQNConfig field 'gama'"),
        (["--n-step", "0"], "n_step must be >= 1"),
        (["--set", "hidden=abc"], "--hidden expects layer sizes such as 64, 64,64 or (64, 64)"),
        (["--set", "hidden=64,x"], "got '64,x'"),
        (["--set", "hidden"], "--set expects KEY=VALUE"),
        (["--set", "gamma=high"], "--gamma expects a number such as 0.99"),
        (["--set", "double=maybe"], "--set double=maybe: double expects true or false"),
        (["--hidden", "()"], "--hidden expects layer sizes"),
        (["--steps", "1.5"], "--total-steps expects an integer"),
        (["--lr-end", "fast"], "--lr-end expects a number"),
        (["--loss", "l1"], "loss must be one of"),
        (["--env", "PongNoFrameskip-v4"], "legacy Atari id; this course uses the v5 ids"),
        (["--env", "BreakoutDeterministic-v4"], "use 'ALE/Breakout-v5'"),
        (["--device", "gpu"], "device must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', got 'gpu'"),
        (["--threads", "0"], "--threads must be >= 1"),
        (["--out", ""], "--out is empty"),
        (["--out", "  "], "--out is empty"),
        (["--resume", "--overwrite"], "--resume and --overwrite exclude each other"),
    ],
)
def test_train_cli_rejects_bad_values_before_any_work(
    argv: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    def must_not_run(*args: object, **kwargs: object) -> None:
        raise AssertionError("training started despite a bad flag")

    monkeypatch.setattr(training, "train", must_not_run)
    monkeypatch.setattr(gym, "make", must_not_run)  # no environment is built either
    monkeypatch.chdir(tmp_path)  # the default run folder would go here
    start = time.perf_counter()
    with pytest.raises(SystemExit) as info:
        train_cli.main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    # One line, the message; nothing written.
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("python -m dqn_helpers.train: error: "), err
    assert list(tmp_path.iterdir()) == []
    assert time.perf_counter() - start < 5.0


def _expect_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str], cli=train_cli) -> str:
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err  # one line of message
    return err.strip()


def test_train_cli_device_cuda_without_cuda_exits_2_before_writing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    out = tmp_path / "run"
    for device in ("cuda", "cuda:0"):
        msg = _expect_exit_2(capsys, ["--device", device, "--out", str(out)])
        assert f"--device {device}:" in msg and "CUDA is not available" in msg
        assert "--device auto" in msg and "prefer=None" not in msg
    assert not out.exists()


def test_train_cli_device_index_that_does_not_exist_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    out = tmp_path / "run"
    msg = _expect_exit_2(capsys, ["--device", "cuda:7", "--out", str(out)])
    assert "--device cuda:7" in msg and "only 1 CUDA device(s) exist" in msg
    assert not out.exists()


def test_train_cli_out_that_is_a_file_or_under_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    afile = tmp_path / "afile.txt"
    afile.write_text("not a folder\n")
    msg = _expect_exit_2(capsys, ["--out", str(afile)])
    assert f"--out {afile} is an existing file, not a folder" in msg
    msg = _expect_exit_2(capsys, ["--out", str(afile / "run")])
    assert f"{afile} is a file, so nothing can be written under it" in msg
    assert afile.read_text() == "not a folder\n"


def test_train_cli_out_in_a_read_only_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip(
                "running as root: chmod does not stop writes (see the simulated test below)"
            )
        msg = _expect_exit_2(capsys, ["--out", str(ro / "run")])
        assert f"{ro} is not writable" in msg
        msg = _expect_exit_2(capsys, ["--out", str(ro)])
        assert f"{ro} is not writable" in msg
    finally:
        ro.chmod(0o700)


def test_train_cli_out_in_an_unwritable_folder_simulated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same check as above, also where tests run as root (os.access says no for one folder)."""
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access

    def access(path: object, mode: int, **kw: object) -> bool:
        if Path(path) == locked and mode & os.W_OK:  # type: ignore[arg-type]
            return False
        return real_access(path, mode, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "access", access)
    msg = _expect_exit_2(capsys, ["--out", str(locked / "a" / "run")])
    assert f"{locked} is not writable; choose a folder you can write to" in msg
    assert list(locked.iterdir()) == []


def test_train_cli_refuses_an_out_that_holds_a_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "checkpoint.pt").write_bytes(b"a finished run")
    msg = _expect_exit_2(capsys, ["--out", str(out)])
    assert (
        f"{out} holds a run; use --resume to continue it, --overwrite to replace it, or a new --out"
    ) in msg
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.pt"]


def _fake_train(calls: list[dict]):
    def fake(cfg: object, **kwargs: object) -> object:
        calls.append({"config": cfg, **kwargs})
        return SimpleNamespace(log=SimpleNamespace(evals=[], episodes=[]), best_eval=0.0)

    return fake


def test_train_cli_passes_overwrite_to_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict] = []
    monkeypatch.setattr(training, "train", _fake_train(calls))
    out = tmp_path / "run"
    out.mkdir()
    (out / "checkpoint.pt").write_bytes(b"a finished run")
    assert train_cli.main(["--out", str(out), "--overwrite", "--no-progress"]) == 0
    assert calls[-1]["overwrite"] is True and calls[-1]["resume"] is False
    assert train_cli.main(["--out", str(tmp_path / "new"), "--no-progress"]) == 0
    assert calls[-1]["overwrite"] is False
    n_calls = len(calls)
    with pytest.raises(SystemExit) as info:  # --resume reads the checkpoint first: garbage here
        train_cli.main(["--out", str(out), "--resume", "--no-progress"])
    assert info.value.code == 2 and len(calls) == n_calls
    assert "is not a checkpoint: it is a text file" in capsys.readouterr().err


TINY = [
    "--env",
    "CartPole-v1",
    "--steps",
    "200",
    "--eval-every",
    "0",
    "--learning-starts",
    "50",
    "--batch-size",
    "16",
    "--no-progress",
]


def test_train_cli_resume_without_checkpoint_says_so_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "fresh"
    assert train_cli.main([*TINY, "--out", str(out), "--resume"]) == 0
    err = capsys.readouterr().err
    notes = [line for line in err.splitlines() if "no checkpoint.pt" in line]
    assert notes == [f"resume: no checkpoint.pt in {out}, starting a fresh run."]
    assert (out / "checkpoint.pt").exists()


def _field_comments() -> dict[str, str]:
    """Each DQNConfig field's trailing comment, read from config.py's source."""
    source = Path(config_lib.__file__).read_text()
    found = dict(re.findall(r"^    (\w+): [^#\n]*#\s*(.+)$", source, flags=re.M))
    return {f.name: found[f.name] for f in dataclasses.fields(config_lib.DQNConfig)}


def test_help_has_one_flag_per_config_field_with_its_comment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """tyro builds --help from the dataclass: every field's flag, documented by its # comment."""
    monkeypatch.setenv("COLUMNS", "400")  # no wrapping inside tyro's boxes
    with pytest.raises(SystemExit) as info:
        train_cli.main(["--preset", "pong", "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    rows = [line.strip(" │|") for line in text.splitlines()]  # with or without tyro's box
    lines: dict[str, str] = {}  # each flag with its help, which may start on the next row
    for row in rows:
        if row.startswith("--") and not row.startswith("---"):
            flag = row.split()[0].rstrip(",")
            lines[flag] = row
        elif lines and row:
            lines[flag] += " " + row
    for name, comment in _field_comments().items():
        flag = "--" + name.replace("_", "-")
        assert flag in lines, f"DQNConfig.{name} has no flag"
        assert comment[:40] in lines[flag], (name, lines[flag])
    assert "(default: ALE/Pong-v5)" in lines["--env-id"]  # the chosen preset's values
    for flag in ("--preset", "--out", "--resume", "--overwrite", "--init-from", "--threads"):
        assert flag in lines
    assert "--no-progress" in lines and "--set" in lines
    for short in ("--env,", "--steps,", "--lr,", "--per/--no-per"):
        assert short in text  # the short forms are listed


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--set", "hidden=64"], {"hidden": (64,)}),
        (["--set", "hidden=64,"], {"hidden": (64,)}),
        (["--set", "hidden=(64, 64)"], {"hidden": (64, 64)}),
        (["--set", "hidden=[32,16]"], {"hidden": (32, 16)}),
        (["--hidden", "64,64"], {"hidden": (64, 64)}),
        (["--hidden", "48"], {"hidden": (48,)}),
        (
            ["--env", "CartPole-v0", "--steps", "1e4"],
            {"env_id": "CartPole-v0", "total_steps": 10_000},
        ),
        (
            ["--env-id", "Acrobot-v1", "--total-steps", "500"],
            {"env_id": "Acrobot-v1", "total_steps": 500},
        ),
        (["--per"], {"prioritized": True}),
        (["--no-per"], {"prioritized": False}),
        (["--no-prioritized", "--no-double"], {"prioritized": False, "double": False}),
        (["--no-save-buffer"], {"save_buffer": False}),
        (["--max-grad-norm", "none"], {"max_grad_norm": None}),
        (["--set", "max_grad_norm=None"], {"max_grad_norm": None}),
        (["--epsilon-decay", "0.99"], {"epsilon_decay": 0.99}),
        (["--set", "double=false"], {"double": False}),
        (["--set=tau=0.03"], {"tau": 0.03}),
        (["--steps=500", "--no_double"], {"total_steps": 500, "double": False}),
        # --lr alone leaves the preset's lr_end (1e-5) as it is; --lr-end none makes it constant.
        (["--lr", "6e-3"], {"learning_rate": 6e-3}),
        (["--lr", "6e-3", "--lr-end", "none"], {"learning_rate": 6e-3, "lr_end": None}),
        (["--learning-rate", "6e-3", "--lr-end", "1e-4"], {"learning_rate": 6e-3, "lr_end": 1e-4}),
    ],
)
def test_generated_flags_and_set_build_the_config(argv: list[str], expected: dict) -> None:
    cfg = train_cli.config_from_argv(argv)
    for name, value in expected.items():
        assert getattr(cfg, name) == value, name
    untouched = config_lib.preset("cartpole")
    for f in dataclasses.fields(cfg):
        if f.name not in expected:
            assert getattr(cfg, f.name) == getattr(untouched, f.name), f.name


def test_default_preset_follows_is_atari() -> None:
    parse = train_cli.config_from_argv
    assert parse(["--env", "ALE/Pong-v5"]) == config_lib.preset("pong")
    assert parse(["--set", "env_id=ALE/Pong-v5"]) == config_lib.preset("pong")
    assert parse([]) == config_lib.preset("cartpole")
    assert parse(["--preset", "lesson"]) == config_lib.preset("lesson")


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


def test_evaluate_cli_run_folder_without_checkpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        evaluate_cli.main([str(tmp_path)])
    assert info.value.code == 2
    assert "no checkpoint.pt in run folder" in capsys.readouterr().err


def test_pong_smoke_run_and_evaluation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "pong"
    rc = train_cli.main(
        [
            "--env",
            "ALE/Pong-v5",
            "--preset",
            "pong",
            "--steps",
            "300",
            "--out",
            str(out),
            "--no-progress",
            "--learning-starts",
            "100",
            "--buffer-size",
            "1000",
            "--eval-every",
            "300",
            "--eval-episodes",
            "1",
            "--checkpoint-every",
            "0",
        ]
    )
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
        done = subprocess.run(
            [sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        assert "usage: python -m " + module in done.stdout


def test_train_cli_init_from_fine_tunes_and_reports_a_missing_file(
    cartpole_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = [
        "--env",
        "CartPole-v1",
        "--preset",
        "cartpole",
        "--steps",
        "300",
        "--no-progress",
        "--learning-starts",
        "100",
        "--eval-every",
        "0",
        "--double",
        "--dueling",
        "--per",
        "--n-step",
        "2",
        "--set",
        "hidden=32,32",
        "--set",
        "batch_size=32",
    ]
    assert (
        train_cli.main([*common, "--out", str(tmp_path / "ft"), "--init-from", str(cartpole_run)])
        == 0
    )
    assert (
        "initialised the online and target networks"
        in (tmp_path / "ft" / "train_notes.txt").read_text()
    )
    with pytest.raises(SystemExit) as info:  # refused before anything is written
        train_cli.main(
            [*common, "--out", str(tmp_path / "x"), "--init-from", str(tmp_path / "no.pt")]
        )
    assert info.value.code == 2 and not (tmp_path / "x").exists()
    assert "no such checkpoint" in capsys.readouterr().err
