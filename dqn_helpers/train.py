"""Command line: train a DQN agent and write a run folder.

Introduced in lesson 05 (CartPole) and used again in lesson 07 (Pong)::

    python -m dqn_helpers.train --env CartPole-v1 --preset cartpole --steps 30000 --seed 0 --out runs/cp0
    python -m dqn_helpers.train --env ALE/Pong-v5 --preset pong --out runs/pong --resume

The run folder gets config.json, log.csv, eval.csv, checkpoint.pt and best.pt. Every value is
checked before any environment or network is built; a bad one exits with status 2.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dqn_helpers import config as config_lib

__all__ = ["build_parser", "config_from_args", "main"]


def _parse_set(item: str) -> tuple[str, Any]:
    if "=" not in item:
        raise argparse.ArgumentTypeError(f"--set expects KEY=VALUE, got {item!r}.")
    key, raw = item.split("=", 1)
    low = raw.strip().lower()
    value: Any
    if low in ("true", "false"):
        value = low == "true"
    elif low in ("none", "null"):
        value = None
    else:
        try:
            value = int(raw)
        except ValueError:
            try:
                value = float(raw)
            except ValueError:
                value = tuple(int(v) for v in raw.split(",")) if "," in raw else raw
    return key.strip(), value


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of ``python -m dqn_helpers.train``."""
    p = argparse.ArgumentParser(
        prog="python -m dqn_helpers.train",
        description="Train a DQN agent (CartPole or Atari) and write a run folder with config.json, "
        "log.csv, eval.csv, checkpoint.pt and best.pt.",
        epilog="Example: python -m dqn_helpers.train --env CartPole-v1 --preset cartpole "
        "--steps 30000 --seed 0 --out runs/cp0",
    )
    p.add_argument("--env", default=None, help="Gymnasium id, e.g. CartPole-v1 or ALE/Pong-v5 "
                   "(default: the preset's env)")
    p.add_argument("--preset", default=None, choices=sorted(config_lib.PRESETS),
                   help="starting hyperparameters (default: pong for ALE ids, else cartpole)")
    p.add_argument("--steps", type=int, default=None, help="total agent steps (env.step calls)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default 0)")
    p.add_argument("--out", default=None, help="run folder (default runs/<env>-s<seed>)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    p.add_argument("--init-from", default=None, metavar="CHECKPOINT",
                   help="start a new run from this checkpoint's network weights (fine-tuning), "
                        "e.g. checkpoints/pong_pretrained.pt")
    p.add_argument("--double", action=argparse.BooleanOptionalAction, default=None,
                   help="Double DQN targets")
    p.add_argument("--dueling", action=argparse.BooleanOptionalAction, default=None,
                   help="dueling network head")
    p.add_argument("--per", action=argparse.BooleanOptionalAction, default=None,
                   help="prioritized experience replay")
    p.add_argument("--n-step", type=int, default=None, help="n-step returns (1 = plain DQN)")
    p.add_argument("--lr", type=float, default=None,
                   help="Adam learning rate (the preset's annealing ratio is kept unless --lr-end)")
    p.add_argument("--lr-end", type=float, default=None, help="anneal the learning rate to this")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--buffer-size", type=int, default=None)
    p.add_argument("--learning-starts", type=int, default=None)
    p.add_argument("--gamma", type=float, default=None, help="discount factor in (0, 1]")
    p.add_argument("--target-update", type=int, default=None,
                   help="hard target copy every C steps (0 = soft updates)")
    p.add_argument("--eval-every", type=int, default=None)
    p.add_argument("--eval-episodes", type=int, default=None)
    p.add_argument("--checkpoint-every", type=int, default=None)
    p.add_argument("--num-envs", type=int, default=None,
                   help="environments stepped together with batched action selection (default 1)")
    p.add_argument("--device", default=None, help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (default: 1 for small MLPs such as CartPole, where more "
                   "threads only add overhead; PyTorch's choice for Atari)")
    p.add_argument("--set", dest="sets", action="append", default=[], type=_parse_set,
                   metavar="KEY=VALUE", help="any other DQNConfig field, e.g. --set tau=0.01 (repeatable)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


_FLAG_TO_FIELD = {
    "env": "env_id", "steps": "total_steps", "seed": "seed", "double": "double",
    "dueling": "dueling", "per": "prioritized", "n_step": "n_step", "lr": "learning_rate",
    "lr_end": "lr_end", "batch_size": "batch_size", "buffer_size": "buffer_size",
    "learning_starts": "learning_starts", "gamma": "gamma", "target_update": "target_update",
    "eval_every": "eval_every", "eval_episodes": "eval_episodes",
    "checkpoint_every": "checkpoint_every", "device": "device", "num_envs": "num_envs",
}


def config_from_args(args: argparse.Namespace) -> config_lib.DQNConfig:
    """The DQNConfig the flags describe (raises ValueError/TypeError on a bad value)."""
    preset_name = args.preset
    if preset_name is None:
        preset_name = "pong" if (args.env or "").startswith("ALE/") else "cartpole"
    overrides = {field: getattr(args, flag) for flag, field in _FLAG_TO_FIELD.items()
                 if getattr(args, flag) is not None}
    for key, value in args.sets:
        overrides[key] = value
    base = config_lib.PRESETS[preset_name]
    if "learning_rate" in overrides and "lr_end" not in overrides and base.lr_end is not None:
        # --lr alone keeps the preset's annealing ratio (e.g. 1e-3 -> 1e-4 becomes 2e-3 -> 2e-4).
        lr = overrides["learning_rate"]
        if isinstance(lr, (int, float)) and not isinstance(lr, bool):
            overrides["lr_end"] = lr * base.lr_end / base.learning_rate
    return config_lib.preset(preset_name, **overrides)


def _check_env_id(env_id: str) -> None:
    import gymnasium as gym

    if env_id.startswith("ALE/"):
        from dqn_helpers import atari

        atari.require_atari()
    if env_id not in gym.registry:
        close = [k for k in gym.registry if k.lower().startswith(env_id.split("-")[0].lower())][:5]
        hint = f" Did you mean one of {close}?" if close else " Examples: CartPole-v1, ALE/Pong-v5."
        raise ValueError(f"unknown environment id {env_id!r}.{hint}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (0 on success). Introduced in lesson 05."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        cfg = config_from_args(args)
        _check_env_id(cfg.env_id)
        if args.threads is not None and args.threads < 1:
            raise ValueError(f"--threads must be >= 1, got {args.threads}.")
    except (ValueError, TypeError, ImportError) as exc:
        parser.error(str(exc))  # exits with status 2 before anything is built
    out = Path(args.out) if args.out else Path("runs") / f"{cfg.env_id.replace('/', '_')}-s{cfg.seed}"

    import torch

    from dqn_helpers import checkpoints, training

    threads = args.threads if args.threads is not None else (None if cfg.is_atari else 1)
    if threads is not None:
        torch.set_num_threads(threads)
    print(f"training {cfg.env_id} for {cfg.total_steps:,} steps (seed {cfg.seed}) -> {out}")
    start = time.perf_counter()
    try:
        result = training.train(
            cfg, out_dir=out, progress=not args.no_progress, resume=args.resume,
            init_from=args.init_from,
        )
    except training.TrainingDivergedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (checkpoints.CheckpointError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    wall = time.perf_counter() - start
    log = result.log
    if log.evals:
        last = log.evals[-1]
        print(f"final greedy eval at step {last['step']:,}: {last['mean_return']:.1f} ± "
              f"{last['std_return']:.1f} over {last['episodes']} episodes; best {result.best_eval:.1f}")
    print(f"{len(log.episodes)} episodes, {wall:.1f} s; wrote {out}/config.json, log.csv, eval.csv, "
          "checkpoint.pt" + (", best.pt" if (out / 'best.pt').exists() else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
