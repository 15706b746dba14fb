"""Command line: evaluate a trained agent greedily and optionally record a video.

Introduced in lesson 05 and used in lesson 10::

    python -m dqn_helpers.evaluate runs/cp0 --episodes 20
    python -m dqn_helpers.evaluate runs/pong --episodes 5 --video pong.mp4

Prints mean ± std and every episode's return (for Pong also the points won and lost). Bad
arguments exit with status 2 and one line before any environment or network is built; so does a
file that is not a checkpoint, one that cannot be loaded safely (one that would run code, a corrupt
one, NaN weights, an env id that is not a plain Gymnasium id) or that does not fit its own
environment, before any episode is played. Ctrl-C stops with one line.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import tyro

from dqn_helpers import cli

__all__ = ["EvalArgs", "main"]

PROG = "python -m dqn_helpers.evaluate"


@dataclass(frozen=True)
class EvalArgs:
    """Play greedy episodes with a trained agent (a run folder or a .pt checkpoint) and print the returns. Example: python -m dqn_helpers.evaluate runs/cp0 --episodes 20 --video cp0.mp4"""  # noqa: E501

    # run folder (uses its checkpoint.pt) or a checkpoint file
    run: Annotated[str, tyro.conf.Positional, tyro.conf.arg(metavar="RUN")]
    episodes: int = 10  # episodes to play
    seed: int = 0  # episode i is reset with seed + i
    best: tyro.conf.FlagCreatePairsOff[bool] = False  # use best.pt instead of checkpoint.pt
    epsilon: float = 0.0  # exploration during evaluation
    video: str | None = None  # also record one episode to this .mp4 or .gif file
    max_video_steps: int = 5_000  # cap on recorded steps
    device: str = "auto"  # auto, cpu, cuda, cuda:N or mps


def _check_video_path(video: str) -> None:
    path = Path(video)
    if path.suffix.lower() not in (".mp4", ".gif"):
        raise cli.UsageError(f"--video must end in .mp4 or .gif, got {video!r}.")
    if path.is_dir():
        raise cli.UsageError(
            f"--video {video}: that is a folder; give a file such as {path / 'run.mp4'}."
        )
    cli.check_writable_folder("--video", path.parent, given=path)


def _validate(args: EvalArgs) -> Path:
    if args.episodes < 1:
        raise cli.UsageError(f"--episodes must be >= 1, got {args.episodes}.")
    if not 0 <= args.seed < 2**32:
        raise cli.UsageError(f"--seed must be in [0, 2**32 - 1], got {args.seed}.")
    if not 0.0 <= args.epsilon <= 1.0:
        raise cli.UsageError(f"--epsilon must be in [0, 1], got {args.epsilon}.")
    if args.max_video_steps < 1:
        raise cli.UsageError(f"--max-video-steps must be >= 1, got {args.max_video_steps}.")
    if args.video is not None:
        _check_video_path(args.video)
    cli.check_device(args.device)
    run = Path(args.run)
    if not run.exists():
        raise cli.UsageError(
            f"{run} does not exist: pass a run folder written by dqn_helpers.train "
            "(e.g. runs/cp0) or a checkpoint file."
        )
    from dqn_helpers import checkpoints

    path = checkpoints.resolve_checkpoint_path(run, "best" if args.best else "final")
    cli.check_checkpoint_file(path)
    return path


def _load_checked(path: Path, args: EvalArgs) -> tuple[Any, Any, list[Any]]:
    """The agent, its config and the evaluation envs; ValueError (one line) when they do not fit.

    The checkpoint's env id is checked (``envs.check_env_id``, no import) before any env is made.
    """
    from dqn_helpers import checkpoints, envs

    agent, cfg = checkpoints.load_agent(path, device=args.device)
    kw = {"frame_stack": cfg.frame_stack, "clip_rewards": False} if cfg.is_atari else {}
    try:
        envs.check_env_id(cfg.env_id)
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
    from dqn_helpers import checkpoints

    argv = sys.argv[1:] if argv is None else list(argv)
    cli.quiet_sdl()  # before pygame is imported by a render
    try:
        with cli.interrupts_once():
            try:
                args = cli.parse(EvalArgs, argv, PROG)
                path = _validate(args)
                # the checkpoint and its env are checked before any episode is played
                agent, cfg, eval_envs = _load_checked(path, args)
            except (ValueError, TypeError, OSError, checkpoints.CheckpointError) as exc:
                cli.fail(PROG, str(exc))
            _play(args, path, agent, cfg, eval_envs)
    except KeyboardInterrupt:
        print("stopped by Ctrl-C; nothing was written.", file=sys.stderr)
        return 130
    return 0


def _play(args: EvalArgs, path: Path, agent: Any, cfg: Any, eval_envs: list[Any]) -> None:
    import numpy as np

    from dqn_helpers import envs, evaluation

    is_atari = cfg.is_atari
    kw = {"frame_stack": cfg.frame_stack, "clip_rewards": False} if is_atari else {}
    print(f"playing {args.episodes:,} episodes with {path} ...", flush=True)
    try:
        rows = evaluation.evaluate_episodes(
            agent, eval_envs, args.episodes, seed=args.seed, epsilon=args.epsilon
        )
    finally:
        for env in eval_envs:
            env.close()
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

    if args.video:
        from dqn_helpers import video

        env = envs.make_env(cfg.env_id, render_mode="rgb_array", **kw)
        try:
            frames = video.record_episode(
                env, agent.greedy, max_steps=args.max_video_steps, seed=args.seed
            )
        finally:
            env.close()
        saved = video.save_video(frames, args.video, fps=30)
        print(f"video of one episode ({len(frames)} frames) written to {saved}")


if __name__ == "__main__":
    sys.exit(main())
