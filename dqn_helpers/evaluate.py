"""Command line: evaluate a trained agent greedily and optionally record a video.

Introduced in lesson 05 and used in lesson 10::

    python -m dqn_helpers.evaluate runs/cp0 --episodes 20
    python -m dqn_helpers.evaluate runs/pong --episodes 5 --video pong.mp4

Prints mean ± std and every episode's return (for Pong also the points won and lost). Bad
arguments exit with status 2 before any environment or network is built; so does a checkpoint
that cannot be loaded safely (one that would run code, a corrupt one, NaN weights) or that does
not fit its own environment (an unknown env id, other observation or action shapes), before any
episode is played.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of ``python -m dqn_helpers.evaluate``."""
    p = argparse.ArgumentParser(
        prog="python -m dqn_helpers.evaluate",
        usage="%(prog)s RUN [--episodes N] [--best] [--video FILE] [options]",
        description="Play greedy episodes with a trained agent (a run folder or a .pt checkpoint) "
        "and print the returns.",
        epilog="Example: python -m dqn_helpers.evaluate runs/cp0 --episodes 20 --video cp0.mp4",
    )
    p.add_argument("run", help="run folder (uses its checkpoint.pt) or a checkpoint file")
    p.add_argument("--episodes", type=int, default=10, help="episodes to play (default 10)")
    p.add_argument(
        "--seed", type=int, default=0, help="episode i is reset with seed + i (default 0)"
    )
    p.add_argument(
        "--best", action="store_true", help="use best.pt instead of the final checkpoint.pt"
    )
    p.add_argument(
        "--epsilon", type=float, default=0.0, help="exploration during evaluation (default 0)"
    )
    p.add_argument(
        "--video", default=None, help="also record one episode to this .mp4 or .gif file"
    )
    p.add_argument("--max-video-steps", type=int, default=5_000, help="cap on recorded steps")
    p.add_argument("--device", default=None, help="auto, cpu, cuda, cuda:N or mps")
    return p


def _check_video_path(video: str) -> None:
    path = Path(video)
    if path.suffix.lower() not in (".mp4", ".gif"):
        raise ValueError(f"--video must end in .mp4 or .gif, got {video!r}.")
    if path.is_dir():
        raise ValueError(
            f"--video {video}: that is a folder; give a file such as {path / 'run.mp4'}."
        )
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ValueError(
            f"--video {video}: {ancestor} is a file, so the video cannot be written "
            "under it; choose another path."
        )
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise ValueError(
            f"--video {video}: {ancestor} is not writable; choose a folder you can write to."
        )


def _check_device(device: str) -> None:
    from dqn_helpers import device as device_lib

    try:
        device_lib.pick_device(device)
    except (ValueError, RuntimeError, TypeError) as exc:
        message = str(exc).replace("pass prefer=None", "pass --device auto")
        raise ValueError(f"--device {device}: {message}") from None


def _validate(args: argparse.Namespace) -> Path:
    if args.episodes < 1:
        raise ValueError(f"--episodes must be >= 1, got {args.episodes}.")
    if args.seed < 0:
        raise ValueError(f"--seed must be >= 0, got {args.seed}.")
    if not 0.0 <= args.epsilon <= 1.0:
        raise ValueError(f"--epsilon must be in [0, 1], got {args.epsilon}.")
    if args.max_video_steps < 1:
        raise ValueError(f"--max-video-steps must be >= 1, got {args.max_video_steps}.")
    if args.video is not None:
        _check_video_path(args.video)
    if args.device is not None:
        _check_device(args.device)
    run = Path(args.run)
    if not run.exists():
        raise ValueError(
            f"{run} does not exist: pass a run folder written by dqn_helpers.train "
            "(e.g. runs/cp0) or a checkpoint file."
        )
    from dqn_helpers import checkpoints

    try:
        return checkpoints.resolve_checkpoint_path(run, "best" if args.best else "final")
    except checkpoints.CheckpointError as exc:
        raise ValueError(str(exc)) from exc


def _load_checked(path: Path, args: argparse.Namespace) -> tuple[Any, Any, list[Any]]:
    """The agent, its config and the evaluation envs; ValueError (one line) when they do not fit."""
    from dqn_helpers import checkpoints, envs

    try:
        agent, cfg = checkpoints.load_agent(path, device=args.device)
    except checkpoints.CheckpointError as exc:
        raise ValueError(str(exc)) from exc
    kw = {"frame_stack": cfg.frame_stack, "clip_rewards": False} if cfg.is_atari else {}
    try:
        env = envs.make_env(cfg.env_id, **kw)
    except Exception as exc:  # noqa: BLE001 - unknown id, missing ROMs or package: one clear line
        why = " ".join(str(exc).split())
        raise ValueError(
            f"{path} was trained on {cfg.env_id!r}, which cannot be made here: {why}"
        ) from exc
    space, actions = env.observation_space, env.action_space
    shape, n = tuple(space.shape or ()), int(getattr(actions, "n", -1))
    if shape != tuple(agent.obs_shape) or n != agent.n_actions:
        env.close()
        raise ValueError(
            f"{path} does not fit its environment: its network takes observations of shape "
            f"{tuple(agent.obs_shape)} and picks one of {agent.n_actions} actions, but "
            f"{cfg.env_id} has observations of shape {shape} and {n} actions. The checkpoint's "
            "config names another env than the one its network was trained on (an edited or "
            "mixed-up file); use another checkpoint, or retrain."
        )
    n_par = min(args.episodes, 4 if cfg.is_atari else 20)
    return agent, cfg, [env] + [envs.make_env(cfg.env_id, **kw) for _ in range(n_par - 1)]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (0 on success). Introduced in lesson 05."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        path = _validate(args)
        # the checkpoint and its env are checked before any episode is played
        agent, cfg, eval_envs = _load_checked(path, args)
    except ValueError as exc:
        parser.error(str(exc))

    import numpy as np

    from dqn_helpers import envs, evaluation

    is_atari = cfg.is_atari
    kw = {"frame_stack": cfg.frame_stack, "clip_rewards": False} if is_atari else {}
    rows = evaluation.evaluate_episodes(
        agent, eval_envs, args.episodes, seed=args.seed, epsilon=args.epsilon
    )
    returns = np.array([r["return"] for r in rows])
    print(f"{cfg.env_id}: {path} ({args.episodes} greedy episodes, seed {args.seed})")
    for i, r in enumerate(rows):
        line = f"  episode {i:3d}: return {r['return']:8.1f}  length {int(r['length']):6d}"
        if is_atari:
            line += f"  points won {int(r['points_won']):2d} lost {int(r['points_lost']):2d}"
        print(line)
    print(
        f"mean return {returns.mean():.1f} ± {returns.std():.1f} (min {returns.min():.1f}, "
        f"max {returns.max():.1f})"
    )
    if is_atari:
        won = sum(r["points_won"] for r in rows)
        lost = sum(r["points_lost"] for r in rows)
        print(f"points won {int(won)}, lost {int(lost)} in total")
    for env in eval_envs:
        env.close()

    if args.video:
        from dqn_helpers import video

        env = envs.make_env(cfg.env_id, render_mode="rgb_array", **kw)
        frames = video.record_episode(
            env, agent.greedy, max_steps=args.max_video_steps, seed=args.seed
        )
        env.close()
        saved = video.save_video(frames, args.video, fps=30)
        print(f"video of one episode ({len(frames)} frames) written to {saved}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
