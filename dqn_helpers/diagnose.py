"""Command line: read a run folder's log and print what went wrong (``diagnostics.diagnose``).

Introduced in lesson 05 and used in lesson 10::

    python -m dqn_helpers.diagnose runs/cp0 --reward-max 1
    python -m dqn_helpers.diagnose runs/pong --reward-max 1 --gamma 0.99

Prints each finding (symptom, step, evidence, fix) or "healthy: no findings" and exits 0. γ and
learning_starts come from the folder's config.json unless given. A missing folder, a folder
without log.csv or a bad value exits with status 2 and a one-line message.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import tyro

from dqn_helpers import cli

__all__ = ["DiagnoseArgs", "main"]

PROG = "python -m dqn_helpers.diagnose"


@dataclass(frozen=True)
class DiagnoseArgs:
    """Diagnose a DQN run from its log: return collapse, Q-values above r_max/(1-γ), loss blow-ups, NaN, no learning, ε at its floor before learning. Example: python -m dqn_helpers.diagnose runs/cp0 --reward-max 1"""  # noqa: E501

    # run folder with log.csv (and eval.csv, config.json)
    run: Annotated[str, tyro.conf.Positional, tyro.conf.arg(metavar="RUN")]
    gamma: float | None = None  # discount γ (none: config.json's)
    # largest reward of one step, for the Q-value bound (1 for CartPole and clipped Atari)
    reward_max: float | None = None
    learning_starts: int | None = None  # steps before the first update (none: config.json's)


def _source(given: object) -> str:
    return "given" if given is not None else "config.json"


def _fail(message: str) -> int:
    try:
        cli.fail(PROG, message)
    except SystemExit as exit_:
        return int(exit_.code or 2)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (0 after printing, 2 for a bad folder or value)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = cli.parse(DiagnoseArgs, argv, PROG)
    except cli.UsageError as exc:
        return _fail(str(exc))
    from dqn_helpers import diagnostics, logs

    run = Path(args.run)
    if not run.is_dir():
        what = "is not a folder" if run.exists() else "does not exist"
        return _fail(f"{run} {what}: pass a run folder written by dqn_helpers.train --out.")
    if not (run / "log.csv").is_file():
        return _fail(f"no log.csv in {run}: pass a run folder written by dqn_helpers.train --out.")
    try:
        settings = diagnostics.read_run_settings(run)
        log = logs.TrainingLog.from_csv(run)
        gamma = settings.get("gamma") if args.gamma is None else args.gamma
        learning_starts = (
            settings.get("learning_starts")
            if args.learning_starts is None
            else args.learning_starts
        )
        findings = diagnostics.diagnose(
            log, gamma=gamma, reward_max=args.reward_max, learning_starts=learning_starts
        )
    except (ValueError, OSError) as exc:
        return _fail(f"{run}: {exc}")

    used = [
        f"γ {gamma:g} ({_source(args.gamma)})" if gamma is not None else "γ unknown",
        f"learning_starts {learning_starts:,} ({_source(args.learning_starts)})"
        if learning_starts is not None
        else "learning_starts unknown",
    ]
    last_step = int(log.episodes[-1]["step"]) if log.episodes else 0
    print(
        f"{run}: {len(log.episodes)} episodes, {len(log.evals)} evaluations, {last_step:,} steps; "
        + ", ".join(used)
    )
    if gamma is None:
        print("(γ unknown: the Q-value bound and the Q/return gap are not checked; pass --gamma)")
    elif args.reward_max is None:
        print("(the Q-value bound r_max/(1-γ) is not checked: pass --reward-max, 1 for CartPole)")
    print(diagnostics.format_findings(findings, log))
    return 0


if __name__ == "__main__":
    sys.exit(main())
