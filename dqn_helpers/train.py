"""Command line: train a DQN agent and write a run folder.

Introduced in lesson 05 (CartPole) and used again in lesson 10 (Pong)::

    python -m dqn_helpers.train --env CartPole-v1 --preset cartpole --steps 30000 --seed 0 --out runs/cp0
    python -m dqn_helpers.train --env ALE/Pong-v5 --preset pong --out runs/pong --resume

tyro builds the flags from ``DQNConfig`` itself: every field is a ``--field-name`` flag, typed by
its annotation and documented by its ``# comment``, with the chosen preset's value as its default
(``--preset pong --help`` shows Pong's). Every value is checked before any environment or network is
built or any file written; a bad one exits with status 2 and one line.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import tyro

from dqn_helpers import cli
from dqn_helpers import config as config_lib
from dqn_helpers.config import DQNConfig

__all__ = ["TrainArgs", "config_from_argv", "main", "parse_args"]

PROG = "python -m dqn_helpers.train"
PresetName = tyro.extras.literal_type_from_choices(config_lib.PRESETS)
Flag = Annotated[bool, tyro.conf.FlagCreatePairsOff]  # --resume, without a --no-resume


@dataclass(frozen=True)
class TrainArgs:
    """Train a DQN agent (CartPole or Atari) and write a run folder (config.json, log.csv, eval.csv, checkpoint.pt, best.pt). Short forms: --env, --steps, --lr, --per/--no-per for --env-id, --total-steps, --learning-rate, --prioritized. Example: python -m dqn_helpers.train --env CartPole-v1 --preset cartpole --steps 30000 --out runs/cp0"""  # noqa: E501

    config: DQNConfig  # the hyperparameters: the preset's, changed by the flags below
    # starting hyperparameters (when not given: pong for ALE/ ids, else cartpole)
    preset: PresetName = "cartpole"
    out: str | None = None  # run folder (none: runs/<env>-s<seed>)
    resume: Flag = False  # continue the run in OUT from its checkpoint.pt
    overwrite: Flag = False  # replace the run OUT holds (without it, an OUT with a run is refused)
    init_from: str | None = None  # start a new run from this checkpoint's network (fine-tuning)
    # torch CPU threads (none: 1 for small MLPs, where more only add overhead; PyTorch's for Atari)
    threads: int | None = None
    no_progress: Flag = False  # no progress bar
    # KEY=VALUE: any DQNConfig field, e.g. --set tau=0.01 or --set hidden=64,64 (repeatable)
    set: Annotated[tuple[str, ...], tyro.conf.arg(metavar="KEY=VALUE")] = ()


# ------------------------------------------------------------ short forms, --set, conflicts
_SHORT = {
    "--env": "--env-id",
    "--steps": "--total-steps",
    "--lr": "--learning-rate",
    "--per": "--prioritized",
    "--no-per": "--no-prioritized",
}
_FIELDS = {f.name: f for f in dataclasses.fields(DQNConfig)}
_OWN_VALUED = {"--preset", "--out", "--init-from", "--threads"}


def _is_bool(name: str) -> bool:
    return typing.get_type_hints(DQNConfig)[name] is bool


def _field_of(flag: str) -> str | None:
    """The DQNConfig field a canonical flag sets (``--no-double`` sets ``double``), else None."""
    name = flag[2:].replace("-", "_")
    if name in _FIELDS:
        return name
    if name.startswith("no_") and name[3:] in _FIELDS and _is_bool(name[3:]):
        return name[3:]
    return None


def _set_tokens(item: str) -> tuple[str, list[str]]:
    """``--set KEY=VALUE`` as the field's own flag: ``hidden=64,64`` -> ``--hidden 64,64``."""
    key, sep, value = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise cli.UsageError(
            f"--set expects KEY=VALUE with KEY a DQNConfig field (e.g. --set tau=0.01), got {item!r}."
        )
    if key not in _FIELDS:
        raise cli.UsageError(
            f"--set {item}: unknown DQNConfig field {key!r}; KEY must be one of {', '.join(_FIELDS)}."
        )
    flag = "--" + key.replace("_", "-")
    if not _is_bool(key):
        return key, [flag, value]
    word = value.strip().lower()
    if word in ("true", "1", "yes", "on"):
        return key, [flag]
    if word in ("false", "0", "no", "off"):
        return key, ["--no-" + flag[2:]]
    raise cli.UsageError(f"--set {item}: {key} expects true or false, got {value!r}.")


def _expand(argv: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """``argv`` with the short forms and ``--set`` spelled as the fields' flags, and the value of
    each valued flag. A field named by two spellings (``--env`` and ``--env-id``, ``--seed`` and
    ``--set seed=...``) is refused: the last one would silently win. The same flag twice is the
    usual override of a base command (``... --steps 600 --steps 1000``): the last one wins."""
    tokens: list[str] = []
    values: dict[str, str] = {}
    named: dict[str, str] = {}  # field or flag -> how the user spelled it
    rest = iter(argv)
    for token in rest:
        if not token.startswith("--") or token == "--":
            tokens.append(token)
            continue
        spelled, eq, inline = token.partition("=")
        flag = _SHORT.get(spelled.replace("_", "-"), spelled.replace("_", "-"))
        if flag == "--set":
            item = inline if eq else next(rest, "")
            key, out = _set_tokens(item)
            spelled = f"--set {key}="
        else:
            key = _field_of(flag) or flag
            valued = flag in _OWN_VALUED or (key in _FIELDS and not _is_bool(key))
            out = [flag + eq + inline]
            if valued and not eq:
                value = next(rest, None)
                out += [] if value is None else [value]
        if named.get(key, spelled) != spelled and (key in _FIELDS or flag in _OWN_VALUED):
            raise cli.UsageError(
                f"{named[key]} and {spelled} both set {key.lstrip('-')}: give it once."
            )
        named[key] = spelled
        if len(out) == 2 or "=" in out[0]:
            values[key] = out[1] if len(out) == 2 else out[0].partition("=")[2]
        tokens += out
    return tokens, values


def parse_args(argv: Sequence[str]) -> TrainArgs:
    """The flags of ``python -m dqn_helpers.train`` as a TrainArgs; UsageError for a bad one.

    ``--help`` prints the flags with the chosen preset's values and exits.
    """
    from dqn_helpers import atari

    tokens, values = _expand(argv)
    name = values.get("--preset")
    if name not in config_lib.PRESETS:  # no --preset (or an unknown one, which tyro refuses)
        name = "pong" if atari.is_atari_id(values.get("env_id", "")) else "cartpole"
    return cli.parse(
        TrainArgs, tokens, PROG, TrainArgs(config=config_lib.PRESETS[name], preset=name)
    )


def config_from_argv(argv: Sequence[str]) -> DQNConfig:
    """The DQNConfig the flags describe (UsageError / ValueError on a bad value). Lesson 05."""
    return parse_args(argv).config


# -------------------------------------------------------------------- checks before work
def _probe_env(cfg: DQNConfig) -> tuple[tuple[int, ...], int]:
    """Make the run's env once (its id was checked first, so nothing is imported from it):
    observation shape and number of actions, or ValueError (Box actions, integer states,
    a missing dependency such as Box2D)."""
    from dqn_helpers import envs

    envs.check_env_id(cfg.env_id)
    env = envs.make_env_for(cfg, cfg.seed)
    try:
        return tuple(env.observation_space.shape or ()), int(env.action_space.n)
    finally:
        env.close()


def _memory_needs(cfg: DQNConfig, obs_shape: tuple[int, ...], n_actions: int) -> dict[str, float]:
    """Rough bytes a run holds at once: the replay buffer, the networks with Adam, the envs."""
    if len(obs_shape) == 3:  # Atari frames: one uint8 frame per transition, stacked on read
        per_transition = math.prod(obs_shape[1:]) + 24
        params = 1_700_000 + 512 * n_actions * (2 if cfg.dueling else 1)  # the Nature CNN
        per_env = 60e6
    else:
        per_transition = 2 * 4 * math.prod(obs_shape) + 24
        sizes = [math.prod(obs_shape), *cfg.hidden, n_actions]
        params = sum(a * b + b for a, b in zip(sizes, sizes[1:]))
        per_env = 1e6
    per_transition += 32 if cfg.prioritized else 0  # the sum tree
    activations = 4 * 4 * cfg.batch_size * max(cfg.hidden if len(obs_shape) != 3 else (3136,))
    return {
        f"the replay buffer (--buffer-size {cfg.buffer_size:,})": cfg.buffer_size * per_transition,
        f"the networks (--hidden {','.join(map(str, cfg.hidden))}; online, target and Adam)": (
            5 * 4 * params + activations
        ),
        f"the environments (--num-envs {cfg.num_envs:,})": cfg.num_envs * per_env,
    }


def _check_eval_cost(cfg: DQNConfig) -> None:
    if cfg.eval_every and cfg.eval_episodes > cfg.total_steps:
        raise cli.UsageError(
            f"--eval-episodes {cfg.eval_episodes:,} is more than --steps {cfg.total_steps:,}: "
            "each evaluation would play more episodes than the whole run takes steps. "
            "10-20 episodes give a usable mean."
        )


def _out_dir(args: TrainArgs, cfg: DQNConfig) -> Path:
    """The run folder, checked before anything is written to it."""
    if args.resume and args.overwrite:
        raise cli.UsageError(
            "--resume and --overwrite exclude each other: --resume continues the run "
            "in OUT, --overwrite replaces it."
        )
    if args.out is not None and not args.out.strip():
        raise cli.UsageError(
            "--out is empty: give a folder, or leave --out out for runs/<env>-s<seed>."
        )
    default = Path("runs") / f"{cfg.env_id.replace('/', '_')}-s{cfg.seed}"
    out = Path(args.out) if args.out else default
    cli.check_writable_folder("--out", out)
    if (out / "checkpoint.pt").exists() and not (args.resume or args.overwrite):
        raise cli.UsageError(
            f"{out} holds a run; use --resume to continue it, --overwrite to replace "
            "it, or a new --out."
        )
    return out


def _checked(argv: Sequence[str]) -> tuple[TrainArgs, Path]:
    """Every check, cheapest first; UsageError (or the library's errors) on the first failure."""
    from dqn_helpers import training

    args = parse_args(argv)
    cfg = args.config
    if args.threads is not None and args.threads < 1:
        raise cli.UsageError(f"--threads must be >= 1, got {args.threads}.")
    _check_eval_cost(cfg)
    cli.check_device(cfg.device)
    out = _out_dir(args, cfg)
    if args.resume:
        cli.check_checkpoint_file(out / "checkpoint.pt")
    if args.init_from is not None:
        from dqn_helpers import checkpoints

        try:
            cli.check_checkpoint_file(checkpoints.resolve_checkpoint_path(args.init_from, "final"))
        except checkpoints.CheckpointError:
            pass  # a missing file: preflight says so
    obs_shape, n_actions = _probe_env(cfg)
    cli.check_memory(_memory_needs(cfg, obs_shape, n_actions))
    # the checks train() makes on the folder and the checkpoints (resume, fine-tuning)
    found = training.preflight(
        cfg, out_dir=out, resume=args.resume, overwrite=args.overwrite, init_from=args.init_from
    )
    if found.init_from is not None:
        _check_init_fits(args.init_from, found.init_from, cfg, obs_shape, n_actions)
    return args, out


def _check_init_fits(
    flag_value: str | None, ckpt: dict, cfg: DQNConfig, obs_shape: tuple[int, ...], n_actions: int
) -> None:
    """--init-from a network of another shape is refused here, before --overwrite removes a run."""
    saved = DQNConfig.from_dict(ckpt["config"])
    theirs = (tuple(ckpt["obs_shape"]), int(ckpt["n_actions"]), saved.hidden, saved.dueling)
    ours = (obs_shape, n_actions, cfg.hidden, cfg.dueling)
    if theirs != ours:
        names = ("observation shape", "actions", "hidden", "dueling")
        diffs = [f"{n} {a} there, {b} here" for n, a, b in zip(names, theirs, ours) if a != b]
        raise cli.UsageError(
            f"--init-from {flag_value}: its network does not fit this run ({'; '.join(diffs)}). "
            "Use the same --env, --hidden and --dueling as the run that wrote it."
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (0 on success). Introduced in lesson 05.

    Ctrl-C ends with one line (status 130): before training nothing was written; during training
    the run is saved first, and a second press cannot break that save.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    from dqn_helpers import checkpoints

    try:
        with cli.interrupts_once():
            try:
                args, out = _checked(argv)
            except (
                ValueError,
                TypeError,
                ImportError,
                OSError,
                checkpoints.CheckpointError,
            ) as exc:
                cli.fail(PROG, str(exc))  # status 2 before anything is built or written
            return _train(args, out)
    except KeyboardInterrupt:
        print("stopped by Ctrl-C before training started; nothing was written.", file=sys.stderr)
        return 130


def _train(args: TrainArgs, out: Path) -> int:
    import torch

    from dqn_helpers import checkpoints, training

    cfg = args.config
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
    except KeyboardInterrupt:  # train() saved the run (if it had started) and said so
        print(  # --resume also works before the first checkpoint: it then starts afresh
            f"stopped by Ctrl-C; continue with the same command plus --resume (--out {out}).",
            file=sys.stderr,
        )
        return 130
    except (checkpoints.CheckpointError, ValueError, OSError) as exc:
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
