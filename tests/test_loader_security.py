"""Loading a checkpoint is safe and quick, whatever the file holds.

Real files written the way an attacker or an accident would write them, loaded through the public
API (``checkpoints.load_checkpoint`` / ``load_agent``) and the evaluate command line: shared
references (2⁶⁰ values as a tree in 1.7 KB), 20,000 levels of nesting, a compressed 400 MB tensor,
integer weights, random bytes, text and JSON.
"""

from __future__ import annotations

import io
import json
import pickle
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from dqn_helpers import checkpoints, config, training
from dqn_helpers import evaluate as evaluate_cli

pytestmark = pytest.mark.usefixtures("one_torch_thread")
HEADER = {
    "format": checkpoints.FORMAT,
    "version": checkpoints.FORMAT_VERSION,
    "step": 0,
    "config": {},
    "agent": {},
    "obs_shape": [4],
    "n_actions": 2,
}  # fmt: skip  (every field a reader needs is there: only the walk can refuse these files)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("loader") / "run"
    cfg = config.DQNConfig(
        total_steps=300, learning_starts=100, batch_size=16, hidden=(16,), eval_every=0,
        device="cpu",
    )  # fmt: skip
    training.train(cfg, out_dir=out, progress=False)
    return out


def _refused_quickly(path: Path, match: str) -> str:
    start = time.perf_counter()
    with pytest.raises(checkpoints.CheckpointError, match=match) as info:
        checkpoints.load_checkpoint(path)
    assert time.perf_counter() - start < 10, "the loader took too long to refuse"
    return str(info.value)


@pytest.mark.parametrize("levels", [25, 60])
def test_shared_references_are_refused_in_seconds(tmp_path: Path, levels: int) -> None:
    x: list[object] = []
    for _ in range(levels):
        x = [x, x]
    path = tmp_path / "bomb.pt"
    torch.save({**HEADER, "extra": {"loop": x}}, path)
    assert path.stat().st_size < 4_000
    why = "holds the same list or dict in two places" if levels < 30 else "nests deeper than 32"
    _refused_quickly(path, f"not a dqn_helpers checkpoint: it {why}")


def _deep_pickle_zip(path: Path, depth: int) -> None:
    """A torch zip whose data.pkl nests ``depth`` lists (torch.save itself cannot write it)."""
    body = pickle.dumps(HEADER, protocol=2)[:-1]  # the dict, without STOP
    nested = b"]" * depth + b"]" + b"a" * depth  # EMPTY_LIST ... APPEND ...
    payload = body + b"X" + len(b"extra").to_bytes(4, "little") + b"extra" + nested + b"s."
    buf = io.BytesIO()
    torch.save({}, buf)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as src, zipfile.ZipFile(path, "w") as dst:
        for info in src.infolist():
            data = payload if info.filename.endswith("data.pkl") else src.read(info)
            dst.writestr(info, data)


def test_deep_nesting_is_refused_without_a_recursion_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.pt"
    _deep_pickle_zip(path, 20_000)
    msg = _refused_quickly(path, "nests deeper than")
    assert "Recursion" not in msg


def test_a_compressed_huge_tensor_is_refused(tmp_path: Path, run: Path) -> None:
    raw = torch.load(run / "checkpoint.pt", weights_only=True)
    raw["extra"]["big"] = torch.zeros(100_000_000)  # 400 MB of zeros
    plain = tmp_path / "plain.pt"
    torch.save(raw, plain)
    packed = tmp_path / "packed.pt"
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info), compress_type=zipfile.ZIP_DEFLATED)
    plain.unlink()
    assert packed.stat().st_size < 5_000_000
    _refused_quickly(packed, "compressed parts")


def test_a_large_tensor_beside_the_network_is_refused(tmp_path: Path, run: Path) -> None:
    raw = torch.load(run / "checkpoint.pt", weights_only=True)
    raw["extra"]["big"] = torch.zeros(20_000_000)  # 80 MB in extra
    torch.save(raw, tmp_path / "big.pt")
    _refused_quickly(tmp_path / "big.pt", "log and extra data hold more than 64 MB")


def test_integer_weights_are_refused(tmp_path: Path, run: Path) -> None:
    raw = torch.load(run / "checkpoint.pt", weights_only=True)
    raw["agent"]["online"] = {k: (v * 100).long() for k, v in raw["agent"]["online"].items()}
    torch.save(raw, tmp_path / "ints.pt")
    _refused_quickly(tmp_path / "ints.pt", "weights of dtype torch.int64")


@pytest.mark.parametrize(
    "content",
    [
        np.random.default_rng(0).bytes(5_000),
        b"just some text\n" * 100,
        json.dumps({"format": checkpoints.FORMAT, "version": 3}).encode(),
    ],
    ids=["random", "text", "json"],
)
def test_files_that_are_not_checkpoints_are_named_so(
    tmp_path: Path, content: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "x.pt"
    path.write_bytes(content)
    msg = _refused_quickly(path, "is not a checkpoint: it is not a PyTorch file")
    assert "could run code" not in msg
    with pytest.raises(SystemExit) as info:
        evaluate_cli.main([str(path), "--episodes", "1"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "not a checkpoint" in err and "Traceback" not in err


def test_unknown_keys_and_wrong_types_are_refused(tmp_path: Path, run: Path) -> None:
    raw = torch.load(run / "checkpoint.pt", weights_only=True)
    torch.save({**raw, "surprise": 1}, tmp_path / "keys.pt")
    _refused_quickly(tmp_path / "keys.pt", r"unknown keys \['surprise'\]")
    torch.save({**raw, "step": "ten"}, tmp_path / "types.pt")
    _refused_quickly(tmp_path / "types.pt", "step is a str")


def test_loading_never_imports_a_module(tmp_path: Path, run: Path) -> None:
    before = set(sys.modules)
    checkpoints.load_checkpoint(run / "checkpoint.pt")
    checkpoints.load_agent(run)
    assert set(sys.modules) - before == set()


def test_the_shipped_agent_still_loads_and_a_real_run_round_trips(run: Path) -> None:
    root = Path(__file__).resolve().parent.parent
    agent, cfg = checkpoints.load_agent(root / "checkpoints" / "pong_pretrained.pt")
    assert cfg.env_id == "ALE/Pong-v5" and agent.obs_shape == (4, 84, 84)
    assert checkpoints.load_checkpoint(run / "checkpoint.pt")["version"] == 3
