"""Save and load training state safely: atomic writes, a format version, and clear errors.

Introduced in lesson 05 (resuming a run, loading a trained agent); lesson 07 loads a pretrained
Pong agent with ``load_agent``. Checkpoints are pickled with ``torch.save``: only load files you
trust (a pickle can run code).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

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
]

FORMAT = "dqn_helpers.checkpoint"
FORMAT_VERSION = 1


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable, of another format, or does not fit the agent."""


def _atomic_save(payload: dict[str, Any], path: Path) -> Path:
    """``torch.save`` to a temporary file in the same folder, fsync, then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


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
    return _atomic_save(payload, path)


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
    try:
        obj = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as exc:  # noqa: BLE001 - every unpickling/zip error becomes one clear message
        raise CheckpointError(
            f"could not read checkpoint {path} ({size:,} bytes): {type(exc).__name__}: {exc}. "
            "The file is truncated or corrupt (an interrupted save, copy or download), or it is not "
            "a PyTorch file at all. Download or copy it again, use another checkpoint (best.pt), "
            "or retrain."
        ) from exc
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        what = (
            f"a dict with keys {sorted(map(str, obj))[:8]}" if isinstance(obj, dict)
            else f"a {type(obj).__name__}"
        )
        raise CheckpointError(
            f"{path} is not a dqn_helpers checkpoint: it holds {what}. If it is a plain state_dict, "
            "load it with model.load_state_dict(torch.load(path)); checkpoints for load_agent are "
            "written by dqn_helpers.training.train or checkpoints.save_checkpoint."
        )
    version = obj.get("version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format version {version!r}, but this dqn_helpers reads up to "
            f"version {FORMAT_VERSION}. Update the course package (pip install -U ...) to load it."
        )
    missing = [k for k in ("config", "agent", "obs_shape", "n_actions", "step") if k not in obj]
    if missing:
        raise CheckpointError(f"{path} is an incomplete checkpoint: missing {missing}. Retrain.")
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
    if problem is not None:
        raise CheckpointError(
            f"checkpoint does not fit this agent: it was trained on {saved}; you built {built} "
            f"({problem}). Build the agent from the checkpoint's config "
            "(checkpoints.load_agent does this) or use the same env and network settings."
        )
    try:
        agent.load_state_dict(state)
    except Exception as exc:  # noqa: BLE001
        raise CheckpointError(f"could not load the agent state from the checkpoint: {exc}") from exc


def weights_only(ckpt: dict[str, Any]) -> dict[str, Any]:
    """A view of ``ckpt`` that ``restore_agent`` reads as the online network alone.

    Introduced in lesson 07 (fine-tuning the shipped agent with ``train(..., init_from=...)``):
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

    Introduced in lesson 07 (the shipped Pong agent). ``source`` is a run folder (``which`` picks
    ``best.pt`` or ``checkpoint.pt``) or a checkpoint file. The target network, Adam's moments,
    the RNG states and the training log are dropped, and with ``half=True`` the weights are
    stored as float16 (Pong: 52.7 MB → about 6.6 MB); ``load_agent`` and
    ``python -m dqn_helpers.evaluate`` read the result like any checkpoint, back in float32.
    ``info`` (e.g. the command and commit that trained it) is stored under ``"info"``. Such a
    file cannot resume training: it has no optimizer state.
    """
    path = resolve_checkpoint_path(source, which)
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
    return _atomic_save(payload, Path(destination))


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
) -> tuple[DQNAgent, DQNConfig]:
    """Rebuild a trained agent from a run folder or checkpoint file: ``(agent, config)``.

    Introduced in lesson 05 (and used by lesson 07 for the pretrained Pong agent). ``which``
    picks ``checkpoint.pt`` (the final network, default) or ``best.pt`` in a run folder.
    """
    path = resolve_checkpoint_path(run_dir_or_path, which)
    ckpt = load_checkpoint(path)
    try:
        config = DQNConfig.from_dict(ckpt["config"])
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path} holds an invalid config: {exc}") from exc
    dev = device_lib.pick_device(device)
    agent = DQNAgent(config, ckpt["obs_shape"], int(ckpt["n_actions"]), device=dev)
    restore_agent(ckpt, agent)
    return agent, config
