"""Safe checkpoints and no silent losses: every bad file is refused, nothing of a run is lost.

Through the public command lines (``train.main``, ``evaluate.main``) and the public API
(``checkpoints``, ``training``): a checkpoint that would run code, flipped bits, NaN weights, a
checkpoint that does not fit its env, stale temporaries, a real SIGKILL and an exact resume, an
export over a training checkpoint, Ctrl-C, diverging Q-values and a run that never learns.
"""

from __future__ import annotations

import csv
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import torch

from dqn_helpers import checkpoints, evaluation, training
from dqn_helpers import evaluate as evaluate_cli
from dqn_helpers import train as train_cli

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# A small CartPole run through the command line (the folder every test here starts from).
COMMON = [
    "--env", "CartPole-v1", "--preset", "cartpole", "--seed", "1", "--steps", "600",
    "--learning-starts", "200", "--eval-every", "300", "--eval-episodes", "2",
    "--set", "hidden=32,32", "--set", "batch_size=32", "--no-progress",
]  # fmt: skip
REFUSED_CODE = ("refused to load", "could run code")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("safety") / "run"
    assert train_cli.main([*COMMON, "--out", str(out)]) == 0
    assert (out / "checkpoint.pt").exists() and (out / "best.pt").exists()
    return out


@pytest.fixture
def no_play(monkeypatch: pytest.MonkeyPatch) -> None:
    """The evaluate CLI must refuse before it plays a single episode."""

    def must_not_play(*args: object, **kwargs: object) -> None:
        raise AssertionError("episodes were played with a checkpoint that should be refused")

    monkeypatch.setattr(evaluation, "evaluate_episodes", must_not_play)


def _exit_2(capsys: pytest.CaptureFixture[str], cli: object, argv: list[str]) -> str:
    """Run a CLI that must exit with status 2: one line of message, no traceback."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        cli.main(argv)  # type: ignore[attr-defined]
    assert info.value.code == 2
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("python -m dqn_helpers."), err
    assert "Traceback" not in err and "mean return" not in out
    return lines[0]


# ----------------------------------------------------------- (a) a pickle that runs code
class _Evil:
    """Unpickling this runs code: it writes ``marker`` (Python ``exec`` or ``os.system``)."""

    def __init__(self, marker: Path, how: str) -> None:
        self.marker, self.how = str(marker), how

    def __reduce__(self) -> tuple[object, tuple[str]]:
        if self.how == "os.system":
            return os.system, (f"touch {shlex.quote(self.marker)}",)
        return exec, (f"open({self.marker!r}, 'w').write('code ran')",)


@pytest.fixture(params=["exec", "os.system"])
def evil(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, Path]:
    """``(evil.pt, marker)``: a real torch.save file that looks like a checkpoint."""
    marker = tmp_path / "marker.txt"
    path = tmp_path / "evil.pt"
    payload = {"format": checkpoints.FORMAT, "version": checkpoints.FORMAT_VERSION, "step": 0}
    torch.save({**payload, "config": _Evil(marker, request.param)}, path)
    # The control: an unsafe load really does run the code, so the file is a fair test.
    torch.load(path, weights_only=False)
    assert marker.exists(), "the malicious file did not run its code under an unsafe load"
    marker.unlink()
    return path, marker


def test_evaluate_refuses_a_pickle_that_runs_code(
    evil: tuple[Path, Path], capsys: pytest.CaptureFixture[str], no_play: None
) -> None:
    path, marker = evil
    msg = _exit_2(capsys, evaluate_cli, [str(path)])
    assert all(s in msg for s in REFUSED_CODE), msg
    assert not marker.exists()


def test_train_init_from_refuses_a_pickle_that_runs_code(
    evil: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, marker = evil
    out = tmp_path / "ft"
    msg = _exit_2(capsys, train_cli, [*COMMON, "--out", str(out), "--init-from", str(path)])
    assert all(s in msg for s in REFUSED_CODE), msg
    assert not marker.exists() and not out.exists()


def test_train_resume_refuses_a_pickle_that_runs_code(
    evil: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, marker = evil
    out = tmp_path / "run"
    out.mkdir()
    shutil.copy(path, out / "checkpoint.pt")
    msg = _exit_2(capsys, train_cli, [*COMMON, "--out", str(out), "--resume"])
    assert all(s in msg for s in REFUSED_CODE), msg
    assert not marker.exists() and sorted(p.name for p in out.iterdir()) == ["checkpoint.pt"]


def test_load_agent_and_export_refuse_a_pickle_that_runs_code(
    evil: tuple[Path, Path], tmp_path: Path, run: Path
) -> None:
    path, marker = evil
    with pytest.raises(checkpoints.CheckpointError, match="refused to load.*could run code"):
        checkpoints.load_agent(path)
    with pytest.raises(checkpoints.CheckpointError, match="refused to load.*could run code"):
        checkpoints.export_agent(path, tmp_path / "agent.pt")
    assert not (tmp_path / "agent.pt").exists()
    # an export *onto* the malicious file reads it safely, and leaves it: it is not its own
    before = path.read_bytes()
    with pytest.raises(checkpoints.CheckpointError, match="replaces only its own files"):
        checkpoints.export_agent(run, path, which="final")
    assert path.read_bytes() == before
    assert not marker.exists()


# ------------------------------------------------------------------- (b) flipped bits
def _flip_bytes_in_the_largest_entry(src: Path, dst: Path, n: int = 4) -> str:
    """Copy ``src`` to ``dst`` with ``n`` bytes in the middle of its largest data entry inverted."""
    with zipfile.ZipFile(src) as archive:
        entry = max(
            (i for i in archive.infolist() if "/data/" in i.filename), key=lambda i: i.file_size
        )
    data = bytearray(src.read_bytes())
    header = data[entry.header_offset : entry.header_offset + 30]
    assert header[:4] == b"PK\x03\x04" and entry.compress_type == zipfile.ZIP_STORED
    start = entry.header_offset + 30 + int.from_bytes(header[26:28], "little")
    start += int.from_bytes(header[28:30], "little")
    middle = start + entry.file_size // 2
    for i in range(middle, middle + n):
        data[i] ^= 0xFF
    dst.write_bytes(bytes(data))
    return entry.filename


def test_flipped_bits_are_refused_everywhere(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_play: None
) -> None:
    bad = tmp_path / "run" / "checkpoint.pt"
    bad.parent.mkdir()
    entry = _flip_bytes_in_the_largest_entry(run / "checkpoint.pt", bad)
    before = bad.read_bytes()
    with pytest.raises(checkpoints.CheckpointError, match="is corrupt: the checksum") as info:
        checkpoints.load_checkpoint(bad)
    assert entry in str(info.value)
    msg = _exit_2(capsys, evaluate_cli, [str(bad)])
    assert "corrupt" in msg and "checksum" in msg
    msg = _exit_2(
        capsys, train_cli, [*COMMON, "--steps", "900", "--out", str(bad.parent), "--resume"]
    )
    assert "corrupt" in msg and "checksum" in msg
    # nothing resumed: the folder holds the damaged file alone, untouched
    assert [p.name for p in bad.parent.iterdir()] == [
        "checkpoint.pt"
    ] and bad.read_bytes() == before


# --------------------------------------------------------------------- (c) NaN weights
def test_evaluate_refuses_nan_weights(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_play: None
) -> None:
    agent, cfg = checkpoints.load_agent(run)
    with torch.no_grad():
        for p in agent.online.parameters():
            p.fill_(float("nan"))
    path = checkpoints.save_checkpoint(
        tmp_path / "nan.pt", agent=agent, config=cfg, step=600, episode=1
    )
    msg = _exit_2(capsys, evaluate_cli, [str(path)])
    assert "NaN or infinite weights" in msg and "diverged" in msg


# ------------------------------------------------- (d) a checkpoint that does not fit its env
def _edited(run: Path, dst: Path, **config: object) -> Path:
    """The run's checkpoint with some config values changed (plain data: a weights_only round trip)."""
    raw = torch.load(run / "checkpoint.pt", weights_only=True)
    raw["config"].update(config)
    torch.save(raw, dst)
    return dst


def test_evaluate_refuses_an_unknown_env_id(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_play: None
) -> None:
    path = _edited(run, tmp_path / "nosuch.pt", env_id="NoSuchEnv-v0")
    msg = _exit_2(capsys, evaluate_cli, [str(path)])
    assert "trained on 'NoSuchEnv-v0', which cannot be made here" in msg
    assert "unknown or unavailable environment" in msg


def test_evaluate_refuses_weights_that_do_not_fit_the_env(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_play: None
) -> None:
    path = _edited(run, tmp_path / "acrobot.pt", env_id="Acrobot-v1")
    msg = _exit_2(capsys, evaluate_cli, [str(path)])
    assert "does not fit its environment" in msg
    assert (
        "shape (4,) and picks one of 2 actions" in msg
        and "Acrobot-v1 has observations of shape (6,) and 3" in msg
    )


def test_evaluate_names_weights_that_do_not_match_their_own_config(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_play: None
) -> None:
    path = _edited(run, tmp_path / "hidden.pt", hidden=[64, 64])  # the weights are (32, 32)
    msg = _exit_2(capsys, evaluate_cli, [str(path)])
    assert "weights do not match its own config" in msg and "edited" in msg
    assert "you built" not in msg  # not "trained on ... (64, 64); you built ... (64, 64)"


# ------------------------------------------------------------ (e) stale temporary files
def test_a_save_removes_stale_temporaries_of_dead_processes_only(run: Path, tmp_path: Path) -> None:
    folder = tmp_path / "run"
    shutil.copytree(run, folder)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # its pid now belongs to no process
    stale = folder / f".checkpoint.pt.tmp-{dead.pid}"
    live = folder / f".checkpoint.pt.tmp-{os.getppid()}"
    for tmp in (stale, live):
        tmp.write_bytes(b"PK\x03\x04 half a save")
    agent, cfg = checkpoints.load_agent(folder)
    checkpoints.save_checkpoint(
        folder / "checkpoint.pt", agent=agent, config=cfg, step=600, episode=1
    )
    assert not stale.exists(), "the temporary of a dead process was left behind"
    assert live.exists(), "the temporary of a live process (a save in progress) was removed"


# ------------------------------------------------- (f) a real SIGKILL, then an exact resume
def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return [{k: v for k, v in row.items() if k != "time"} for row in csv.DictReader(f)]


def test_resume_after_a_real_sigkill_is_exact(tmp_path: Path) -> None:
    def command(out: Path) -> list[str]:
        return [
            sys.executable, "-m", "dqn_helpers.train", "--env", "CartPole-v1", "--preset",
            "cartpole", "--steps", "3000", "--eval-every", "1000", "--checkpoint-every", "500",
            "--learning-starts", "200", "--out", str(out), "--no-progress",
        ]  # fmt: skip

    full, killed = tmp_path / "full", tmp_path / "killed"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE, "cwd": tmp_path}
    reference = subprocess.Popen(command(full), **quiet)  # the uninterrupted run, alongside
    victim = subprocess.Popen(command(killed), **quiet)
    ckpt, seen, step, unreadable = killed / "checkpoint.pt", None, -1, 0
    deadline = time.monotonic() + 60
    try:
        while step < 1_000:
            assert victim.poll() is None, victim.communicate()[1].decode()
            assert time.monotonic() < deadline, "no checkpoint at step >= 1000 within 60 s"
            stamp = ckpt.stat().st_mtime_ns if ckpt.exists() else None
            if stamp is not None and stamp != seen:
                try:
                    step = int(checkpoints.load_checkpoint(ckpt)["step"])
                    seen = stamp
                except checkpoints.CheckpointError:  # never half-written (atomic), but be lenient
                    unreadable += 1
            time.sleep(0.02)
        os.kill(victim.pid, signal.SIGKILL)
    finally:
        if victim.poll() is None:
            victim.kill()
        victim.wait()
    assert victim.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert 1_000 <= step < 3_000
    resumed = subprocess.run([*command(killed), "--resume"], capture_output=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr.decode()
    assert reference.wait(timeout=120) == 0, reference.communicate()[1].decode()
    notes = (killed / "train_notes.txt").read_text()
    assert "resumed from" in notes and "dropped" not in notes  # the episode in progress kept too
    assert checkpoints.load_checkpoint(ckpt)["step"] == 3_000
    for name in ("log.csv", "eval.csv"):
        a, b = _rows(full / name), _rows(killed / name)
        assert len(a) == len(b) and a, name
        for i, (x, y) in enumerate(zip(a, b)):
            assert x == y, f"{name} row {i}: {x} != {y}"
    assert not list(killed.glob(".checkpoint.pt.tmp-*")), "the killed save's temporary was kept"


# ----------------------------------------------- (g) export over a training checkpoint
def test_export_over_a_training_checkpoint_is_refused_and_the_run_resumes(
    run: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "run"
    shutil.copytree(run, folder)
    before = (folder / "checkpoint.pt").read_bytes()
    with pytest.raises(checkpoints.CheckpointError, match="is a training checkpoint"):
        checkpoints.export_agent(folder, folder / "checkpoint.pt")
    assert (folder / "checkpoint.pt").read_bytes() == before
    assert not list(folder.glob(".checkpoint.pt.tmp-*"))
    assert train_cli.main([*COMMON, "--steps", "800", "--out", str(folder), "--resume"]) == 0
    assert checkpoints.load_checkpoint(folder / "checkpoint.pt")["step"] == 800


# ------------------------------------------------------------------------ (h) Ctrl-C
def test_ctrl_c_through_the_cli_exits_130_and_says_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "train", interrupted)
    out = tmp_path / "run"
    assert train_cli.main([*COMMON, "--out", str(out)]) == 130
    err = capsys.readouterr().err
    assert any("--resume" in line and str(out) in line for line in err.splitlines()), err


# ------------------------------------------------------- (i), (j) warnings that matter
def test_q_values_past_the_bound_warn_while_finite(tmp_path: Path) -> None:
    out = tmp_path / "q"
    argv = ["--preset", "cartpole", "--lr", "1e3", "--steps", "3000", "--eval-every", "0"]
    with pytest.warns(UserWarning, match=r"mean max-Q is .*r_max/\(1-γ\) = 100") as record:
        assert (
            train_cli.main([*argv, "--out", str(out), "--no-progress"]) == 0
        )  # finite: no divergence
    assert sum("r_max/(1-γ)" in str(w.message) for w in record) == 1  # once per run
    assert "the Q-values are diverging" in (out / "train_notes.txt").read_text()


def test_learning_starts_past_the_end_warns_that_no_update_runs(tmp_path: Path) -> None:
    argv = [
        "--preset",
        "cartpole",
        "--learning-starts",
        "100000",
        "--steps",
        "500",
        "--eval-every",
        "0",
    ]
    with pytest.warns(UserWarning, match="will not take a single gradient step"):
        assert train_cli.main([*argv, "--out", str(tmp_path / "run"), "--no-progress"]) == 0
