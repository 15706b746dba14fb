"""The evaluate command line rejects a bad --device or --video with status 2, before loading anything."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from dqn_helpers import checkpoints
from dqn_helpers import evaluate as evaluate_cli


@pytest.fixture
def run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A run folder; loading its checkpoint must never be reached by these tests."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.pt").write_bytes(b"never loaded")

    def must_not_load(*args: object, **kwargs: object) -> None:
        raise AssertionError("the agent was loaded despite a bad flag")

    monkeypatch.setattr(checkpoints, "load_agent", must_not_load)
    return run


def _exit_2_message(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    with pytest.raises(SystemExit) as info:
        evaluate_cli.main(argv)
    assert info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("python -m dqn_helpers.evaluate: error: "), lines
    return lines[0]


def test_device_cuda_without_cuda(
    run_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    msg = _exit_2_message(capsys, [str(run_dir), "--device", "cuda"])
    assert "--device cuda:" in msg and "CUDA is not available" in msg and "--device auto" in msg


def test_device_index_that_does_not_exist(
    run_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    msg = _exit_2_message(capsys, [str(run_dir), "--device", "cuda:7"])
    assert "only 2 CUDA device(s) exist" in msg


@pytest.mark.parametrize("device", ["gpu", "tpu:0", ""])
def test_unknown_device(run_dir: Path, capsys: pytest.CaptureFixture[str], device: str) -> None:
    msg = _exit_2_message(capsys, [str(run_dir), "--device", device])
    assert f"--device {device}:" in msg and "Allowed:" in msg


def test_video_under_a_file(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    afile = tmp_path / "afile.txt"
    afile.write_text("x\n")
    msg = _exit_2_message(capsys, [str(run_dir), "--video", str(afile / "x.gif")])
    assert f"{afile} is a file, so nothing can be written under it" in msg
    msg = _exit_2_message(capsys, [str(run_dir), "--video", str(afile / "sub" / "x.mp4")])
    assert f"{afile} is a file" in msg
    assert afile.read_text() == "x\n"


def test_video_that_is_a_folder(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "clip.mp4"
    folder.mkdir()
    msg = _exit_2_message(capsys, [str(run_dir), "--video", str(folder)])
    assert "that is a folder" in msg


def test_video_in_an_unwritable_folder(
    run_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import os

    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(
        os,
        "access",
        lambda path, mode, **kw: False if Path(path) == locked else real_access(path, mode, **kw),
    )
    msg = _exit_2_message(capsys, [str(run_dir), "--video", str(locked / "x.gif")])
    assert f"{locked} is not writable" in msg
