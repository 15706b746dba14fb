"""Turn a finished Pong run into the course's shipped agent (lesson 10).

    python checkpoints/ship_pretrained.py runs/pong [--episodes 10] [--which best]

1. writes ``checkpoints/pong_pretrained.pt`` from the run's ``best.pt`` (or ``checkpoint.pt``)
   with ``checkpoints.export_agent`` (online network only, float16);
2. scores that file greedily over ``--episodes`` full games with the real score, exactly as
   ``python -m dqn_helpers.evaluate`` does;
3. writes ``checkpoints/pong_pretrained.json`` (also stored inside the .pt): the command, commit
   and machine that trained it, the step it was saved at, and its score; the JSON alone also
   records the .pt file's ``"sha256"``, which ``checkpoints.load_agent(..., sha256=...)`` checks;
4. draws the run's learning curve to ``images/pong_learning_curve.png``;
5. with ``--logs``: copies the run's ``log.csv``, ``eval.csv`` and ``config.json`` beside the
   agent (``checkpoints/pong_pretrained/``, where lesson 10 draws the dashboard from them), after
   checking that they are the logs of the shipped network; with ``--stages FILE`` also the run's
   record of its stages (commands, commits, steps, wall time and hardware of each session's
   stretch), kept as ``stages.json`` there and under ``"stages"`` in the JSON.

A run that was fine-tuned from an earlier agent (``train --init-from``) is shipped with
``--command`` (the exact command that trained it) and ``--parent`` (the JSON file of the agent it
started from): the parent's record is kept under ``"fine_tuned_from"`` and ``"steps_in_total"``
adds the two runs' steps, so the file says honestly how much training it took.

The numbers in the JSON file are measured here, never typed in.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

from dqn_helpers import checkpoints, envs, evaluation, logs, plotting, pong  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _shown(path: Path) -> str:
    """``path`` relative to the repository when it is inside it."""
    try:
        return path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return path.as_posix()


def score(path: Path, episodes: int, seed: int) -> list[dict[str, float]]:
    """Greedy games of the checkpoint at ``path`` (as the evaluate CLI plays them)."""
    agent, cfg = checkpoints.load_agent(path, device="cpu")
    games = [
        envs.make_env(cfg.env_id, frame_stack=cfg.frame_stack, clip_rewards=False)
        for _ in range(min(4, episodes))
    ]
    try:
        return evaluation.evaluate_episodes(agent, games, episodes, seed=seed)
    finally:
        for env in games:
            env.close()


def ship_logs(run: Path, exported: Path, stages: Path | None) -> Path:
    """Copy the run's logs beside the exported agent, where ``pong.shipped_log`` finds them."""
    folder = pong.shipped_log_dir(exported)
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("log.csv", "eval.csv", "config.json"):
        shutil.copyfile(run / name, folder / name)
    if stages is not None:
        shutil.copyfile(stages, folder / "stages.json")
    print(f"wrote the run's logs to {folder}")
    return folder


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path, help="the run folder written by python -m dqn_helpers.train")
    p.add_argument("--which", choices=("best", "final"), default="best")
    p.add_argument("--episodes", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=ROOT / "checkpoints" / "pong_pretrained.pt")
    p.add_argument("--image", type=Path, default=ROOT / "images" / "pong_learning_curve.png")
    p.add_argument(
        "--commit", default=None, help="the commit the run was trained at (default: HEAD)"
    )
    p.add_argument(
        "--note", default="", help="where it was trained (default: this machine's platform)"
    )
    p.add_argument(
        "--remark",
        default="",
        help="anything a reader of the JSON should know (stored as 'remark')",
    )
    p.add_argument(
        "--command",
        default=None,
        help="the exact training command (default: the pong preset's command for this run)",
    )
    p.add_argument(
        "--parent",
        type=Path,
        default=None,
        help="for a run started with --init-from: the JSON file of the agent it started from",
    )
    p.add_argument(
        "--logs",
        action="store_true",
        help="copy the run's log.csv, eval.csv and config.json beside the agent (OUT without .pt/)",
    )
    p.add_argument(
        "--stages",
        type=Path,
        default=None,
        help="a JSON record of the run's stages (commands, commits, steps, wall time, hardware)",
    )
    args = p.parse_args(argv)
    missing = [n for n in ("log.csv", "eval.csv", "config.json") if not (args.run / n).is_file()]
    if args.logs and missing:
        p.error(
            f"--logs: {args.run} has no {', '.join(missing)}; give the folder the training wrote."
        )
    if args.stages is not None and not args.stages.is_file():
        p.error(f"--stages: {args.stages} is not a file.")

    source = checkpoints.resolve_checkpoint_path(args.run, args.which)
    ckpt = checkpoints.load_checkpoint(source)
    if args.logs and not pong.logs_belong_to_checkpoint(args.run, ckpt):
        p.error(
            f"--logs: {source} is at step {int(ckpt['step']):,}, which is not one of the run's "
            "evaluation steps (or config.json differs from the checkpoint's), so its curve would "
            "not end at the shipped network. Ship the run's best network (--which best). "
            "Nothing was written."
        )
    config = json.loads((args.run / "config.json").read_text())
    log = logs.TrainingLog.from_csv(args.run)
    evals = [(int(r["step"]), float(r["mean_return"])) for r in log.evals]
    parent = json.loads(args.parent.read_text()) if args.parent is not None else None
    info = {
        "command": args.command
        or f"python -m dqn_helpers.train --env {config['env_id']} --preset pong "
        f"--seed {config['seed']} --out {args.run.as_posix()}",
        "commit": args.commit or _git("rev-parse", "HEAD"),
        "shipped_from": f"{args.run.as_posix()}/{source.name}",
        "step": int(ckpt["step"]),
        "first_eval_at_or_above_18": next((s for s, m in evals if m >= 18.0), None),
        "trained_on": args.note or platform.platform(),
        "python": sys.version.split()[0],
    }
    if parent is not None:
        info["steps_in_total"] = int(parent["step"]) + int(ckpt["step"])
        info["fine_tuned_from"] = parent
    if args.remark:
        info["remark"] = args.remark
    if args.stages is not None:
        info["stages"] = json.loads(args.stages.read_text())
    # Score the exported (float16) file itself: it is what the course ships and tests.
    exported = checkpoints.export_agent(source, args.out, info=info)
    games = score(exported, args.episodes, args.seed)
    returns = np.array([g["return"] for g in games])
    won, lost = sum(g["points_won"] for g in games), sum(g["points_lost"] for g in games)
    info["evaluation"] = {
        "command": f"python -m dqn_helpers.evaluate {_shown(args.out)} "
        f"--episodes {len(games)} --seed {args.seed}",
        "mean_return": round(float(returns.mean()), 2),
        "std_return": round(float(returns.std()), 2),
        "returns": [float(r) for r in returns],
        "points_won": int(won),
        "points_lost": int(lost),
    }
    exported = checkpoints.export_agent(source, args.out, info=info)
    # The file's SHA-256 goes into the JSON only (a file cannot hold its own hash): whoever
    # downloads the .pt checks it with checkpoints.load_agent(path, sha256=...).
    info["sha256"] = checkpoints.sha256(exported)
    args.out.with_suffix(".json").write_text(json.dumps(info, indent=1) + "\n")
    if args.logs:
        ship_logs(args.run, exported, args.stages)
    print(
        f"{exported} ({exported.stat().st_size / 1e6:.2f} MB, step {info['step']:,}): mean greedy return "
        f"{returns.mean():+.2f} ± {returns.std():.2f} over {len(games)} games (points {won:.0f}-{lost:.0f})"
    )

    fig = plotting.plot_training(
        log,
        smooth=10,
        threshold=18.0,
        title=("Pong, fine-tuning the shipped agent" if parent is not None else "Pong, pong preset")
        + f", seed {config['seed']}: greedy "
        f"evaluation {returns.mean():+.1f} at step {int(ckpt['step']):,}",
    )
    args.image.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.image, dpi=80)
    print(f"wrote {args.image}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
