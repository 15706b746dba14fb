"""Command line: train a DQN agent and write a run folder.

Introduced in lesson 05 (CartPole) and used again in lesson 10 (Pong)::

    python -m dqn_helpers.train --env CartPole-v1 --preset cartpole --steps 30000 --seed 0 --out runs/cp0
    python -m dqn_helpers.train --env ALE/Pong-v5 --preset pong --out runs/pong --resume

The run folder gets config.json, log.csv, eval.csv, checkpoint.pt and best.pt. Every value is
checked before any environment or network is built or any file written; a bad one exits with
status 2 and a one-line message. Every DQNConfig field is a flag (`--field-name`, typed and
documented from the dataclass), so a new field needs no edit here.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dqn_helpers import config as config_lib

__all__ = ["build_parser", "config_from_args", "main"]

# The spellings users already type, kept as aliases of the generated --field-name flags.
_ALIASES = {
    "env_id": ["--env"],
    "total_steps": ["--steps"],
    "learning_rate": ["--lr"],
    "prioritized": ["--per"],
}
_METAVARS = {"int": "N", "float": "X", "optional_float": "X|none", "int_tuple": "SIZES"}
_LEGACY_ATARI = re.compile(r"^([A-Z][A-Za-z0-9]*?)(NoFrameskip|Deterministic)?-v[04]$")


def _field_type(name: str) -> Any:
    """argparse ``type=`` for one DQNConfig field: the annotation-driven ``config.parse_field``."""

    def parse(raw: str) -> Any:
        try:
            return config_lib.parse_field(name, raw)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = name
    return parse


def _parse_set(item: str) -> tuple[str, Any]:
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise argparse.ArgumentTypeError(
            f"--set expects KEY=VALUE with KEY a DQNConfig field (e.g. --set tau=0.01), got {item!r}."
        )
    fields = config_lib.field_kinds()
    if key not in fields:
        raise argparse.ArgumentTypeError(
            f"--set {item}: unknown DQNConfig field {key!r}; KEY must be one of {', '.join(fields)}."
        )
    try:
        return key, config_lib.parse_field(key, raw)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of ``python -m dqn_helpers.train``.

    Every DQNConfig field is a ``--field-name`` flag, typed and documented from the dataclass
    itself (its annotation and its ``# comment``); a flag left out keeps the preset's value.
    """
    p = argparse.ArgumentParser(
        prog="python -m dqn_helpers.train",
        usage="%(prog)s [--preset NAME] [--env ENV_ID] [--steps N] [--out DIR] [--resume] [options]",
        description="Train a DQN agent (CartPole or Atari) and write a run folder with config.json, "
        "log.csv, eval.csv, checkpoint.pt and best.pt.",
        epilog="Example: python -m dqn_helpers.train --env CartPole-v1 --preset cartpole "
        "--steps 30000 --seed 0 --out runs/cp0",
    )
    p.add_argument(
        "--preset",
        default=None,
        choices=sorted(config_lib.PRESETS),
        help="starting hyperparameters (default: pong for ALE ids, else cartpole)",
    )
    p.add_argument("--out", default=None, help="run folder (default runs/<env>-s<seed>)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the run OUT holds (without it, an OUT with checkpoint.pt is refused)",
    )
    p.add_argument(
        "--init-from",
        default=None,
        metavar="CHECKPOINT",
        help="start a new run from this checkpoint's network weights (fine-tuning), "
        "e.g. checkpoints/pong_pretrained.pt",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads (default: 1 for small MLPs such as CartPole, where more "
        "threads only add overhead; PyTorch's choice for Atari)",
    )
    p.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        type=_parse_set,
        metavar="KEY=VALUE",
        help="any DQNConfig field, e.g. --set tau=0.01 or --set hidden=64,64 (repeatable)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    taken = {a.dest for a in p._actions}
    group = p.add_argument_group(
        "hyperparameters (one flag per DQNConfig field; a flag left out keeps the preset's value)"
    )
    helps = config_lib.field_help()
    for name, kind in config_lib.field_kinds().items():
        if name in taken:
            raise RuntimeError(f"DQNConfig field {name!r} clashes with the train flag --{name}.")
        flags = ["--" + name.replace("_", "-"), *_ALIASES.get(name, [])]
        text = (helps.get(name) or name.replace("_", " ")).replace("%", "%%")
        kw: dict[str, Any] = {
            "dest": name,
            "default": argparse.SUPPRESS,
            "help": f"{text} (default: the preset's)",
        }
        if kind == "bool":
            kw["action"] = argparse.BooleanOptionalAction
        else:
            kw["type"] = _field_type(name)
            kw["metavar"] = _METAVARS.get(kind, name.upper())
        group.add_argument(*flags, **kw)
    return p


def config_from_args(args: argparse.Namespace) -> config_lib.DQNConfig:
    """The DQNConfig the flags describe (raises ValueError/TypeError on a bad value)."""
    from dqn_helpers import atari

    overrides = {
        name: getattr(args, name) for name in config_lib.field_kinds() if hasattr(args, name)
    }
    for key, value in getattr(args, "sets", []):
        overrides[key] = value
    preset_name = args.preset
    if preset_name is None:
        env_id = overrides.get("env_id")
        preset_name = (
            "pong" if isinstance(env_id, str) and atari.is_atari_id(env_id) else "cartpole"
        )
    base = config_lib.PRESETS[preset_name]
    if "learning_rate" in overrides and "lr_end" not in overrides and base.lr_end is not None:
        # --lr alone keeps the preset's annealing ratio (e.g. 1e-3 -> 1e-4 becomes 2e-3 -> 2e-4).
        lr = overrides["learning_rate"]
        if isinstance(lr, (int, float)) and not isinstance(lr, bool):
            overrides["lr_end"] = lr * base.lr_end / base.learning_rate
    return config_lib.preset(preset_name, **overrides)


def _ale_has(game: str) -> bool:
    import gymnasium as gym

    from dqn_helpers import atari

    try:
        atari.require_atari()
    except ImportError:
        return False
    return f"ALE/{game}-v5" in gym.registry


def _check_env_id(cfg: config_lib.DQNConfig) -> None:
    import gymnasium as gym

    env_id = cfg.env_id
    legacy = _LEGACY_ATARI.match(env_id)
    if legacy:  # never an ALE/ id: the pattern has no slash
        game = legacy.group(1)
        spec = gym.registry.get(env_id)
        from_ale = spec is not None and "ale_py" in str(spec.entry_point)
        if from_ale or (spec is None and (legacy.group(2) or _ale_has(game))):
            raise ValueError(
                f"{env_id!r} is a legacy Atari id; this course uses the v5 ids with its own frame "
                f"skipping: use --env ALE/{game}-v5."
            )
    if cfg.is_atari:
        from dqn_helpers import atari

        atari.require_atari()
    if env_id not in gym.registry:
        close = [k for k in gym.registry if k.lower().startswith(env_id.split("-")[0].lower())][:5]
        hint = f" Did you mean one of {close}?" if close else " Examples: CartPole-v1, ALE/Pong-v5."
        raise ValueError(f"unknown environment id {env_id!r}.{hint}")


def _check_device(device: str) -> None:
    if device == "auto":
        return
    from dqn_helpers import device as device_lib

    try:
        device_lib.pick_device(device)
    except (ValueError, RuntimeError, TypeError) as exc:
        raise ValueError(f"--device {device}: " + _cli_wording(str(exc))) from None


def _cli_wording(message: str) -> str:
    """pick_device's advice, in command-line terms."""
    return message.replace("pass prefer=None", "pass --device auto").replace(
        "Pass prefer=None", "Pass --device auto"
    )


def _check_writable_folder(flag: str, path: Path) -> None:
    """``path`` is a folder that exists or can be made: its nearest existing ancestor is a
    writable folder."""
    ancestor = path
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ValueError(f"{flag} {path}: {ancestor} is a file, so no folder can be made under it.")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise ValueError(
            f"{flag} {path}: {ancestor} is not writable; choose a folder you can write to."
        )


def _out_dir(args: argparse.Namespace, cfg: config_lib.DQNConfig) -> Path:
    """The run folder, checked before anything is written to it."""
    if args.resume and args.overwrite:
        raise ValueError(
            "--resume and --overwrite exclude each other: --resume continues the run "
            "in OUT, --overwrite replaces it."
        )
    if args.out is not None and not args.out.strip():
        raise ValueError(
            "--out is empty: give a folder, or leave --out out for runs/<env>-s<seed>."
        )
    out = (
        Path(args.out) if args.out else Path("runs") / f"{cfg.env_id.replace('/', '_')}-s{cfg.seed}"
    )
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is an existing file, not a folder: choose a folder path.")
    _check_writable_folder("--out", out)
    if (out / "checkpoint.pt").exists() and not (args.resume or args.overwrite):
        raise ValueError(
            f"{out} holds a run; use --resume to continue it, --overwrite to replace "
            "it, or a new --out."
        )
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (0 on success). Introduced in lesson 05."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from dqn_helpers import checkpoints, training

    try:
        cfg = config_from_args(args)
        _check_env_id(cfg)
        if args.threads is not None and args.threads < 1:
            raise ValueError(f"--threads must be >= 1, got {args.threads}.")
        _check_device(cfg.device)
        out = _out_dir(args, cfg)
        # the checks train() makes on the folder and the checkpoints (resume, fine-tuning)
        training.preflight(
            cfg, out_dir=out, resume=args.resume, overwrite=args.overwrite, init_from=args.init_from
        )
    except (ValueError, TypeError, ImportError, OSError, checkpoints.CheckpointError) as exc:
        parser.error(str(exc))  # exits with status 2 before anything is built or written

    import torch

    threads = args.threads if args.threads is not None else (None if cfg.is_atari else 1)
    if threads is not None:
        torch.set_num_threads(threads)
    print(f"training {cfg.env_id} for {cfg.total_steps:,} steps (seed {cfg.seed}) -> {out}")
    start = time.perf_counter()
    try:
        result = training.train(
            cfg,
            out_dir=out,
            progress=not args.no_progress,
            resume=args.resume,
            init_from=args.init_from,
            overwrite=args.overwrite,
        )
    except training.TrainingDivergedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # train() saved the run and said how to resume it
        print(
            f"stopped by Ctrl-C; continue with the same command plus --resume (--out {out}).",
            file=sys.stderr,
        )
        return 130
    except (checkpoints.CheckpointError, ValueError, FileNotFoundError, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    wall = time.perf_counter() - start
    log = result.log
    if log.evals:
        last = log.evals[-1]
        print(
            f"final greedy eval at step {last['step']:,}: {last['mean_return']:.1f} ± "
            f"{last['std_return']:.1f} over {last['episodes']} episodes; best {result.best_eval:.1f}"
        )
    print(
        f"{len(log.episodes)} episodes, {wall:.1f} s; wrote {out}/config.json, log.csv, eval.csv, "
        "checkpoint.pt" + (", best.pt" if (out / "best.pt").exists() else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
