"""Save and load training state safely: atomic writes, a format version, and clear errors.

Introduced in lesson 05 (resuming a run, loading a trained agent); lesson 10 loads a pretrained
Pong agent with ``load_agent``. A checkpoint holds tensors and plain data only (numbers, strings,
lists, dicts): it is read with ``torch.load(weights_only=True)``, so loading one never runs code,
whoever wrote it. Its zip checksums are verified on every load (a flipped bit is an error, not a
quietly different agent), and a downloaded file can be checked against a SHA-256 (``sha256``).
"""

from __future__ import annotations

import errno
import hashlib
import os
import pickle
import re
import shutil
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dqn_helpers import device as device_lib
from dqn_helpers.agents import DQNAgent
from dqn_helpers.config import DQNConfig

__all__ = [
    "CheckpointError",
    "FORMAT",
    "FORMAT_VERSION",
    "save_checkpoint",
    "load_checkpoint",
    "restore_agent",
    "load_agent",
    "resolve_checkpoint_path",
    "export_agent",
    "weights_only",
    "sha256",
    "verify_sha256",
]

FORMAT = "dqn_helpers.checkpoint"
#: 3: the loop's metric sums saved by name (a format-2 file plays, but cannot resume).
#: 2: plain data only (no pickled environment, no global RNG states). 1: the first format.
FORMAT_VERSION = 3
#: The oldest format whose network loads (for playing, exporting and fine-tuning; the shipped Pong
#: agent is an exported format-1 file). Only ``FORMAT_VERSION`` resumes a run.
OLDEST_PLAYABLE = 1
_NUMPY_TAG = "__numpy__"  # a numpy array stored as a tensor, turned back into an array on load

# What a checkpoint may hold, checked before anything walks it (a file is untrusted input).
_KEYS = {
    "format", "version", "exported", "step", "episode", "config", "obs_shape", "n_actions",
    "agent", "log", "buffer", "extra", "info",
}  # fmt: skip
_LEAVES = (type(None), bool, int, float, str, torch.Tensor)
_MAX_DEPTH = 32  # a real checkpoint nests about 8 deep
_MAX_NODES = 5_000_000  # values in all (a long CartPole run's log has about 10 per episode)
_MAX_SIDE_BYTES = 64 << 20  # tensors outside the agent and the replay buffer (log, extra, ...)


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable, of another format, or does not fit the agent."""


def _to_plain(obj: Any) -> Any:
    """Numpy arrays and scalars become tensors and Python numbers (what weights_only loads)."""
    if isinstance(obj, dict):
        return {k: _to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_plain(v) for v in obj)
    if isinstance(obj, np.ndarray):
        return {_NUMPY_TAG: torch.from_numpy(np.ascontiguousarray(obj)).clone()}
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _from_plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        if set(obj) == {_NUMPY_TAG}:
            return obj[_NUMPY_TAG].numpy()
        return {k: _from_plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_from_plain(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_from_plain(v) for v in obj)
    return obj


def _check_header(obj: Any, path: Path) -> None:
    """The course's format key, a version this package reads, and the fields every reader uses."""
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        what = (
            f"a dict with keys {sorted(k for k in obj if isinstance(k, str))[:8]}"
            if isinstance(obj, dict)
            else f"a {type(obj).__name__}"
        )
        raise CheckpointError(
            f"{path} is not a dqn_helpers checkpoint: it holds {what}. If it is a plain state_dict, "
            "load it with model.load_state_dict(torch.load(path)); checkpoints for load_agent are "
            "written by dqn_helpers.training.train or checkpoints.save_checkpoint."
        )
    version = obj.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format version {version!r}, but this dqn_helpers reads up to "
            f"version {FORMAT_VERSION}. Update the course package (pip install -U ...) to load it."
        )
    if version < OLDEST_PLAYABLE:
        raise CheckpointError(
            f"{path} has checkpoint format version {version}; this dqn_helpers reads versions "
            f"{OLDEST_PLAYABLE} to {FORMAT_VERSION}. It was edited or written by other code."
        )
    missing = [k for k in ("config", "agent", "obs_shape", "n_actions", "step") if k not in obj]
    if missing:
        raise CheckpointError(f"{path} is an incomplete checkpoint: missing {missing}. Retrain.")


def _check_structure(obj: Any, path: Path) -> None:
    """Refuse a loaded object that no ``save_checkpoint`` writes, before anything walks it.

    Walked with a stack (no recursion) under a bound on depth and on the number of values, and
    each container is visited once: a file of shared references (a list holding itself twice,
    60 times over, is 2⁶⁰ values as a tree) or of 20,000 nested lists is refused at once.
    """

    def refuse(why: str) -> CheckpointError:
        return CheckpointError(
            f"{path} is not a dqn_helpers checkpoint: {why}. It was edited or written by other "
            "code; do not load it. Use another checkpoint (best.pt), or retrain."
        )

    unknown = sorted(str(k) for k in obj if k not in _KEYS)
    if unknown:
        raise refuse(f"it holds unknown keys {unknown[:5]}")
    seen: set[int] = set()
    side_bytes, nodes = 0, 0
    stack: list[tuple[Any, int, bool]] = [(obj, 0, False)]
    while stack:
        value, depth, side = stack.pop()
        nodes += 1
        if nodes > _MAX_NODES:
            raise refuse(f"it holds more than {_MAX_NODES:,} values")
        if isinstance(value, torch.Tensor):
            if side:
                side_bytes += value.element_size() * value.nelement()
                if side_bytes > _MAX_SIDE_BYTES:
                    raise refuse(
                        f"its log and extra data hold more than {_MAX_SIDE_BYTES >> 20} MB"
                    )
            continue
        if isinstance(value, _LEAVES):
            continue
        if not isinstance(value, (dict, list, tuple)):
            raise refuse(f"it holds a {type(value).__name__}")
        if depth >= _MAX_DEPTH:
            raise refuse(f"it nests deeper than {_MAX_DEPTH} levels")
        if len(value) and id(value) in seen:
            raise refuse("it holds the same list or dict in two places")
        seen.add(id(value))
        if isinstance(value, dict):
            if not all(isinstance(k, (str, int)) for k in value):
                raise refuse("it holds a dict whose keys are not strings or numbers")
            items = value.items()
            top = depth == 0
            stack.extend(
                (v, depth + 1, side or (top and k not in ("agent", "buffer"))) for k, v in items
            )
        else:
            stack.extend((v, depth + 1, side) for v in value)


def _check_fields(obj: dict[str, Any], path: Path) -> None:
    """The fields every reader uses, by type; a network's weights are floating-point tensors."""
    expected = {
        "step": int, "episode": int, "n_actions": int, "config": dict, "agent": dict,
        "obs_shape": (list, tuple),
    }  # fmt: skip
    for key, kind in expected.items():
        if key in obj and (isinstance(obj[key], bool) or not isinstance(obj[key], kind)):
            raise CheckpointError(
                f"{path} holds an invalid checkpoint: {key} is a {type(obj[key]).__name__}. "
                "It was edited or written by other code; use another checkpoint, or retrain."
            )
    online = obj.get("agent", {}).get("online")
    if not isinstance(online, dict) or not all(
        isinstance(v, torch.Tensor) for v in online.values()
    ):
        raise CheckpointError(f"{path} holds no network weights (agent.online). Retrain.")
    wrong = {k: v.dtype for k, v in online.items() if not v.is_floating_point()}
    if wrong:
        name, dtype = next(iter(wrong.items()))
        raise CheckpointError(
            f"{path} holds weights of dtype {dtype} (layer {name}): a Q-network's weights are "
            "floats, so this file was edited or written by other code and would play another "
            "agent. Use another checkpoint, or retrain."
        )


def _check_archive(path: Path, size: int) -> None:
    """A checkpoint is a zip archive that ``torch.save`` wrote: stored entries (no compression),
    so loading it allocates no more than the file's size, with a CRC-32 per entry."""
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as f:
            head = f.read(16)
        raise CheckpointError(
            f"{path} ({size:,} bytes) is not a checkpoint: it is not a PyTorch file (a zip "
            f"archive; it starts with {head!r}). It is truncated or corrupt (an interrupted save, "
            "copy or download), or another kind of file (text, JSON, a picture). Use a .pt file "
            "that training wrote, download or copy it again, or retrain."
        )
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            packed = [i.filename for i in infos if i.compress_type != zipfile.ZIP_STORED]
            total = sum(i.file_size for i in infos)
            bad = None if packed or total > size else archive.testzip()
    except Exception as exc:  # noqa: BLE001 - a damaged header or entry is corruption too
        packed, total, bad = [], 0, f"{type(exc).__name__}: {exc}"
    if packed or total > size:
        raise CheckpointError(
            f"refused to load {path}: it holds compressed parts ({packed[:3]}, {total:,} bytes "
            f"unpacked from {size:,}), which torch.save never writes; unpacking them could fill "
            "your memory. It was written by other code; do not load it."
        )
    if bad is not None:
        raise CheckpointError(
            f"checkpoint {path} ({size:,} bytes) is corrupt: the checksum of its part {bad!r} does "
            "not match its content (flipped bits on disk, or a damaged copy or download). Copy or "
            "download it again, use another checkpoint (best.pt), or retrain."
        )


def _remove_stale_temporaries(path: Path) -> None:
    """Delete ``.NAME.tmp-PID`` files that a killed save left behind (their process is gone)."""
    pattern = re.compile(rf"^\.{re.escape(path.name)}\.tmp-(\d+)$")
    for tmp in path.parent.glob(f".{path.name}.tmp-*"):
        m = pattern.match(tmp.name)
        if m is None or int(m.group(1)) == os.getpid():
            continue
        try:
            os.kill(int(m.group(1)), 0)  # raises when no such process exists
        except ProcessLookupError:
            tmp.unlink(missing_ok=True)
        except PermissionError:  # another user's live process
            pass


def _atomic_save(payload: dict[str, Any], path: Path) -> Path:
    """``torch.save`` to a temporary file in the same folder, fsync, then rename over ``path``.

    A crash, a kill or a full disk during the save leaves the previous file as it was.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except (OSError, RuntimeError) as exc:  # torch.save reports a full disk as a RuntimeError
        kept = f" The previous {path.name} is intact." if path.exists() else ""
        why = "the disk is full" if is_disk_full(exc, path.parent) else str(exc)
        raise CheckpointError(
            f"could not write {path}: {why}.{kept} Free some space (or choose another folder) "
            "and resume."
        ) from exc
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def is_disk_full(exc: BaseException, folder: Path) -> bool:
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return True
    try:
        return shutil.disk_usage(folder).free < (1 << 20)
    except OSError:
        return False


def sha256(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of a file, as hex (recorded beside a shipped checkpoint, e.g. in its JSON)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_sha256(path: str | os.PathLike[str], expected: str) -> None:
    """Raise ``CheckpointError`` unless the file's SHA-256 is ``expected`` (e.g. after a download)."""
    actual = sha256(path)
    if actual != expected.lower():
        raise CheckpointError(
            f"{path} has SHA-256 {actual}, but {expected} was expected: the download is incomplete "
            "or the file is not the one published. Delete it and download it again."
        )


def save_checkpoint(
    path: str | os.PathLike[str],
    *,
    agent: DQNAgent,
    config: DQNConfig,
    step: int,
    episode: int,
    log: Any = None,
    buffer: Any = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write the agent (+ optional log, replay buffer, extra loop state) to ``path`` atomically.

    Introduced in lesson 05. The file is written to a temporary name in the same folder and then
    renamed over ``path`` (``os.replace``), so a crash mid-save leaves the previous file intact.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "step": int(step),
        "episode": int(episode),
        "config": config.to_dict(),
        "obs_shape": list(agent.obs_shape),
        "n_actions": agent.n_actions,
        "agent": agent.state_dict(),
        "log": log.to_dict() if log is not None else None,
        "buffer": buffer.state_dict() if buffer is not None else None,
        "extra": extra or {},
    }
    return _atomic_save(_to_plain(payload), path)


def load_checkpoint(path: str | os.PathLike[str], *, map_location: Any = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by ``save_checkpoint``; ``CheckpointError`` says what is wrong.

    Introduced in lesson 05. Missing, empty, truncated, corrupt or foreign files all raise
    ``CheckpointError`` with the path and what to do about it.
    """
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(
            f"{path} is a folder, not a checkpoint file. Pass {path / 'checkpoint.pt'}, or use "
            "load_agent(folder), which finds the file for you."
        )
    if not path.exists():
        raise CheckpointError(
            f"no checkpoint at {path}. Check the path, or train first, e.g. "
            f"`python -m dqn_helpers.train --env CartPole-v1 --preset cartpole --out {path.parent}`."
        )
    size = path.stat().st_size
    if size == 0:
        raise CheckpointError(
            f"checkpoint {path} is empty (0 bytes): the save or the copy never finished. "
            "Delete it and retrain, or use another checkpoint (e.g. best.pt in the same folder)."
        )
    _check_archive(path, size)
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        what = f" (it asks for {found.group(1)})" if found else ""
        raise CheckpointError(
            f"refused to load {path}: it holds Python objects other than tensors and plain "
            f"data{what}, and unpickling those could run code on your machine; dqn_helpers "
            "checkpoints never hold any. If it is an old checkpoint of your own (format 1, "
            "written before loading became safe), retrain; if it came from elsewhere, do not "
            "load it."
        ) from exc
    except Exception as exc:  # noqa: BLE001 - every unzip/unpickling error becomes one clear message
        raise CheckpointError(
            f"could not read checkpoint {path} ({size:,} bytes): {type(exc).__name__}: {exc}. "
            "The file is truncated or corrupt (an interrupted save, copy or download), or it is not "
            "a PyTorch file at all. Download or copy it again, use another checkpoint (best.pt), "
            "or retrain."
        ) from exc
    _check_header(obj, path)
    _check_structure(obj, path)
    obj = _from_plain(obj)
    _check_fields(obj, path)
    return obj


def _describe(obs_shape: Any, n_actions: Any, cfg: dict[str, Any]) -> str:
    return (
        f"obs {tuple(obs_shape)} / {n_actions} actions, hidden {tuple(cfg.get('hidden', ()))}, "
        f"dueling={cfg.get('dueling')}"
    )


def restore_agent(ckpt: dict[str, Any], agent: DQNAgent) -> None:
    """Load networks, optimizer and exploration RNG from ``ckpt`` into ``agent``, checking shapes.

    Introduced in lesson 05. A mismatch names both sides: what the checkpoint was trained on and
    what you built.
    """
    saved = _describe(ckpt["obs_shape"], ckpt["n_actions"], ckpt["config"])
    built = _describe(agent.obs_shape, agent.n_actions, agent.config.to_dict())
    state = ckpt["agent"]
    if ckpt.get("exported"):  # the online network only (export_agent, weights_only)
        state = {"online": state.get("online", {})}
    if tuple(ckpt["obs_shape"]) != agent.obs_shape or int(ckpt["n_actions"]) != agent.n_actions:
        problem: str | None = "observation shape or number of actions differ"
    else:
        problem = agent.weight_mismatch(state.get("online", {}))
    if problem is not None and saved == built:
        raise CheckpointError(
            f"the checkpoint's weights do not match its own config ({saved}): {problem}. The file "
            "was edited or written by other code; retrain, or use another checkpoint."
        )
    if problem is not None:
        raise CheckpointError(
            f"checkpoint does not fit this agent: it was trained on {saved}; you built {built} "
            f"({problem}). Build the agent from the checkpoint's config "
            "(checkpoints.load_agent does this) or use the same env and network settings."
        )
    bad = [
        k
        for k, v in state["online"].items()
        if v.is_floating_point() and not torch.isfinite(v).all()
    ]
    if bad:
        raise CheckpointError(
            f"the checkpoint's network holds NaN or infinite weights (in {', '.join(bad[:3])}): "
            "training had diverged when it was saved. Use an earlier checkpoint (best.pt) or "
            "retrain with a lower learning rate."
        )
    try:
        agent.load_state_dict(state)
    except Exception as exc:  # noqa: BLE001
        raise CheckpointError(f"could not load the agent state from the checkpoint: {exc}") from exc


def weights_only(ckpt: dict[str, Any]) -> dict[str, Any]:
    """A view of ``ckpt`` that ``restore_agent`` reads as the online network alone.

    Introduced in lesson 10 (fine-tuning the shipped agent with ``train(..., init_from=...)``):
    the optimizer state, RNG and schedules of the source run are left behind.
    """
    online = ckpt.get("agent", {}).get("online")
    if not isinstance(online, dict) or not online:
        raise CheckpointError("the checkpoint holds no online network to start from.")
    return {**ckpt, "exported": True, "agent": {"online": online}}


def export_agent(
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    *,
    which: str = "best",
    half: bool = True,
    info: dict[str, Any] | None = None,
) -> Path:
    """Write a small checkpoint that holds only what playing needs: the online network.

    Introduced in lesson 10 (the shipped Pong agent). ``source`` is a run folder (``which`` picks
    ``best.pt`` or ``checkpoint.pt``) or a checkpoint file. The target network, Adam's moments,
    the RNG states and the training log are dropped, and with ``half=True`` the weights are
    stored as float16 (Pong: 52.7 MB → about 6.6 MB); ``load_agent`` and
    ``python -m dqn_helpers.evaluate`` read the result like any checkpoint, back in float32.
    ``info`` (e.g. the command and commit that trained it) is stored under ``"info"``. Such a
    file cannot resume training: it has no optimizer state.
    """
    path = resolve_checkpoint_path(source, which)
    destination = Path(destination)
    if destination.exists():  # only an earlier export is replaced, never anything else
        try:
            existing = load_checkpoint(destination)
        except CheckpointError as exc:
            raise CheckpointError(
                f"{destination} exists and is not an exported agent ({str(exc)[:160]}...); "
                "export_agent replaces only its own files. Choose another destination, e.g. "
                f"{destination.with_name('agent.pt')}, or move that file away."
            ) from exc
        if not existing.get("exported"):
            raise CheckpointError(
                f"{destination} is a training checkpoint (it can resume a run); exporting over it "
                "would replace it with a network-only file. Choose another destination, e.g. "
                f"{destination.with_name('agent.pt')}."
            )
    ckpt = load_checkpoint(path)
    online = ckpt["agent"].get("online")
    if not isinstance(online, dict) or not online:
        raise CheckpointError(f"{path} holds no online network to export.")
    weights = {
        k: (v.half() if half and v.is_floating_point() else v).detach().cpu().clone()
        for k, v in online.items()
    }
    payload = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "exported": True,
        "step": int(ckpt["step"]),
        "episode": int(ckpt.get("episode", 0)),
        "config": ckpt["config"],
        "obs_shape": list(ckpt["obs_shape"]),
        "n_actions": int(ckpt["n_actions"]),
        "agent": {"online": weights},
        "info": dict(info or {}),
    }
    return _atomic_save(_to_plain(payload), destination)


def resolve_checkpoint_path(run_dir_or_path: str | os.PathLike[str], which: str = "final") -> Path:
    """A run folder → its ``checkpoint.pt`` (``which="final"``) or ``best.pt`` (``"best"``); a file → itself."""
    if which not in ("final", "best"):
        raise ValueError(f"which must be 'final' or 'best', got {which!r}.")
    p = Path(run_dir_or_path)
    if p.is_dir():
        name = "checkpoint.pt" if which == "final" else "best.pt"
        candidate = p / name
        if not candidate.exists():
            present = sorted(q.name for q in p.glob("*.pt"))
            raise CheckpointError(
                f"no {name} in run folder {p} (found: {present or 'no .pt files'}). Train into this "
                f"folder first, e.g. `python -m dqn_helpers.train --preset cartpole --out {p}`."
            )
        return candidate
    return p


def load_agent(
    run_dir_or_path: str | os.PathLike[str],
    device: str | torch.device | None = None,
    *,
    which: str = "final",
    sha256: str | None = None,
) -> tuple[DQNAgent, DQNConfig]:
    """Rebuild a trained agent from a run folder or checkpoint file: ``(agent, config)``.

    Introduced in lesson 05 (and used by lesson 10 for the pretrained Pong agent). ``which``
    picks ``checkpoint.pt`` (the final network, default) or ``best.pt`` in a run folder. With
    ``sha256`` (e.g. the ``"sha256"`` of a downloaded file's JSON) the file is checked with
    ``verify_sha256`` before it is read.
    """
    path = resolve_checkpoint_path(run_dir_or_path, which)
    if sha256 is not None:
        if not path.is_file():
            load_checkpoint(path)  # says what is missing
        verify_sha256(path, sha256)
    ckpt = load_checkpoint(path)
    try:
        config = DQNConfig.from_dict(ckpt["config"])
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path} holds an invalid config: {exc}") from exc
    dev = device_lib.pick_device(device)
    agent = DQNAgent(config, ckpt["obs_shape"], int(ckpt["n_actions"]), device=dev)
    restore_agent(ckpt, agent)
    return agent, config
