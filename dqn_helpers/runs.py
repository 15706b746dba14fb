"""The plumbing of a training run: its folder, lock, checkpoints, resume, notes and progress bar.

Introduced in lesson 05. ``training._Run`` holds the algorithm (collect, learn, update the target,
evaluate) and tells a ``RunRecorder`` about each event; the recorder writes the run folder
(config.json, log.csv, eval.csv, checkpoint.pt, best.pt, train_notes.txt), shows the progress bar
and warns when the Q-values pass any value a state can have. ``preflight`` makes every check on
the folder and the checkpoints before anything is built or written.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dqn_helpers import checkpoints, losses, metrics
from dqn_helpers.config import DQNConfig
from dqn_helpers.logs import EPISODE_COLUMNS, EVAL_COLUMNS, TrainingLog

__all__ = ["Preflight", "RunFolderError", "RunRecorder", "preflight", "RUN_FILES"]

# Fields that may differ between a checkpoint and the config used to resume it.
RESUMABLE_CHANGES = {"total_steps", "eval_every", "eval_episodes", "checkpoint_every", "device"}
# What a run leaves in its folder (overwrite=True removes these, and only these).
RUN_FILES = ("checkpoint.pt", "best.pt", "log.csv", "eval.csv", "config.json", "train_notes.txt")
_LOCK = ".lock"


class RunFolderError(checkpoints.CheckpointError):
    """The run folder cannot be used or written (another run's files, a lock, a full disk)."""


# ------------------------------------------------------------------ what a folder holds
def _is_run_file(path: Path) -> bool:
    """Whether ``path`` (one of ``RUN_FILES``) looks like the file a run writes there."""
    try:
        if path.suffix == ".pt":
            return True  # a damaged checkpoint.pt is still the run's (load_checkpoint says how)
        if path.name == "config.json":
            DQNConfig.from_dict(json.loads(path.read_text()))
            return True
        if path.suffix == ".csv":
            with open(path, newline="") as f:
                header = next(csv.reader(f), [])
            return tuple(header) in (EPISODE_COLUMNS, EVAL_COLUMNS)
        return path.name == "train_notes.txt"
    except (OSError, ValueError, TypeError, UnicodeDecodeError, csv.Error):
        return False


def _run_files(out: Path) -> tuple[list[str], list[str]]:
    """The run files in ``out``: (those a run wrote, those of the same names that are not)."""
    present = [name for name in RUN_FILES if (out / name).exists()]
    ours = [name for name in present if _is_run_file(out / name)]
    return ours, [name for name in present if name not in ours]


def check_folder(out: Path, *, resume: bool, overwrite: bool) -> None:
    """Refuse a folder in use, or one that holds another run or files that are not a run's."""
    if out.is_dir():
        _check_unlocked(out)
        _check_contents(out, resume=resume, overwrite=overwrite)


def _check_contents(out: Path, *, resume: bool, overwrite: bool) -> None:
    ours, foreign = _run_files(out)
    if foreign:
        raise RunFolderError(
            f"{out} holds {', '.join(foreign)}, which training did not write (not a run's "
            "file of that name). Nothing was changed; move them away, or choose a new out_dir."
        )
    if not ours or (resume and "checkpoint.pt" in ours) or overwrite:
        return
    if resume:
        raise RunFolderError(
            f"cannot resume: {out} holds a run ({', '.join(ours)}) but no checkpoint.pt (it was "
            "stopped before its first checkpoint). Use overwrite=True (--overwrite) to start it "
            "again, or a new out_dir to keep it."
        )
    raise FileExistsError(
        f"{out} already holds a run ({', '.join(ours)}). Use resume=True (--resume) to continue "
        "it, overwrite=True (--overwrite) to replace it, or a new out_dir."
    )


# ------------------------------------------------------------------ the lock
def _check_unlocked(out: Path) -> None:
    lock = _FolderLock(out)
    if lock.path.exists() and not lock.acquire(create=False):
        raise RunFolderError(lock.busy_message())
    lock.release()


class _FolderLock:
    """An advisory lock on ``out/.lock`` held for the whole run (POSIX ``flock``; freed at exit)."""

    def __init__(self, out: Path) -> None:
        self.path = out / _LOCK
        self.file: Any = None

    def acquire(self, create: bool = True) -> bool:
        try:
            import fcntl
        except ImportError:  # Windows: no advisory locks here
            return True
        if not create and not self.path.exists():
            return True
        self.file = open(self.path, "a+")  # noqa: SIM115 - held open for the run's lifetime
        try:
            fcntl.flock(self.file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.file.close()
            self.file = None
            return False
        if create:
            self.file.seek(0)
            self.file.truncate()
            self.file.write(f"{os.getpid()}\n")
            self.file.flush()
        return True

    def busy_message(self) -> str:
        try:
            pid = self.path.read_text().strip()
        except OSError:
            pid = "?"
        return (
            f"{self.path.parent} is in use by another training process (pid {pid}): two runs "
            "writing one folder would mix their files. Wait for it to finish, stop it, or "
            "choose another out_dir."
        )

    def release(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


# ------------------------------------------------------------------ before anything is written
def _check_resume_config(saved: DQNConfig, given: DQNConfig) -> None:
    a, b = saved.to_dict(), given.to_dict()
    diffs = [
        f"{k} (checkpoint {a[k]!r}, now {b[k]!r})"
        for k in a
        if k not in RESUMABLE_CHANGES and a[k] != b[k]
    ]
    if diffs:
        raise ValueError(
            "cannot resume: the config differs from the checkpoint's in "
            + "; ".join(diffs)
            + f". Only {sorted(RESUMABLE_CHANGES)} may change on resume; use a new out_dir for a new run."
        )


def _load_resume_checkpoint(config: DQNConfig, path: Path, from_init: bool) -> dict[str, Any]:
    ckpt = checkpoints.load_checkpoint(path)
    if ckpt.get("exported"):
        raise checkpoints.CheckpointError(
            f"{path} is an exported agent (checkpoints.export_agent): it holds the network only, "
            "without the optimizer and schedules a resume needs. Resume from the run's own "
            "checkpoint.pt, or start a new run."
        )
    if ckpt["version"] < checkpoints.FORMAT_VERSION:
        raise checkpoints.CheckpointError(
            f"{path} has checkpoint format version {ckpt['version']}, from an older dqn_helpers: "
            f"this one resumes only version {checkpoints.FORMAT_VERSION}. Its network still "
            "loads: start a new run from it with init_from (--init-from), or resume it with the "
            "package version that wrote it."
        )
    if from_init:
        raise ValueError(
            f"init_from is for a new run, but {path} exists and resume=True would continue it. "
            "Drop init_from to resume, or choose a new out_dir to fine-tune."
        )
    _check_resume_config(DQNConfig.from_dict(ckpt["config"]), config)
    if int(ckpt["step"]) >= config.total_steps:
        raise ValueError(
            f"cannot resume: {path} is already at step {int(ckpt['step']):,}, and total_steps is "
            f"{config.total_steps:,}. Pass a larger total_steps (--steps) to train on."
        )
    return ckpt


def _load_init_checkpoint(init_from: str | os.PathLike[str]) -> dict[str, Any]:
    path = checkpoints.resolve_checkpoint_path(init_from, "final")
    if not path.exists():
        raise FileNotFoundError(
            f"init_from={str(init_from)!r}: no such checkpoint. Give a .pt file (e.g. "
            "checkpoints/pong_pretrained.pt) or a run folder that holds checkpoint.pt."
        )
    return checkpoints.load_checkpoint(path)


@dataclass
class Preflight:
    """What ``preflight`` found: the run folder and the checkpoints a run starts from."""

    out: Path | None
    resume_from: dict[str, Any] | None  # the checkpoint a resume continues
    init_from: dict[str, Any] | None  # the checkpoint whose network a fine-tuning run starts from
    horizon: int  # the ε / learning-rate / β schedules end here (a resumed run keeps its first)


def preflight(
    config: DQNConfig,
    *,
    out_dir: str | os.PathLike[str] | None = None,
    resume: bool = False,
    overwrite: bool = False,
    init_from: str | os.PathLike[str] | None = None,
) -> Preflight:
    """Every check ``train`` makes on its run folder and checkpoints, before it writes anything.

    Introduced in lesson 05 (the command line runs it first, so a bad folder or checkpoint is
    refused before any work). Raises ValueError, FileExistsError, NotADirectoryError,
    FileNotFoundError or ``checkpoints.CheckpointError`` with what to do instead.
    """
    if not isinstance(config, DQNConfig):
        raise TypeError(f"config must be a DQNConfig, got {type(config).__name__}.")
    if out_dir is not None and str(out_dir).strip() == "":
        raise ValueError("out_dir is an empty string; give a folder name, or None for no files.")
    if resume and overwrite:
        raise ValueError("resume=True continues a run and overwrite=True replaces it: pick one.")
    out = Path(out_dir) if out_dir is not None else None
    if resume and out is None:
        raise ValueError("resume=True needs out_dir: the folder that holds checkpoint.pt.")
    if out is not None and out.exists() and not out.is_dir():
        raise NotADirectoryError(f"out_dir {out} is a file; give a folder for the run.")
    if out is not None:
        check_folder(out, resume=resume, overwrite=overwrite)
    init_ckpt = _load_init_checkpoint(init_from) if init_from is not None else None
    resume_ckpt, horizon = None, config.total_steps
    ckpt_path = out / "checkpoint.pt" if out is not None else None
    if resume and ckpt_path is not None and ckpt_path.exists():
        resume_ckpt = _load_resume_checkpoint(config, ckpt_path, init_ckpt is not None)
        horizon = DQNConfig.from_dict(resume_ckpt["config"]).total_steps
    return Preflight(out, resume_ckpt, init_ckpt, horizon)


# ------------------------------------------------------------------ writing the folder
def _write_error(what: Path, exc: BaseException, keep: Path | None) -> RunFolderError:
    why = (
        "the disk is full"
        if checkpoints.is_disk_full(exc, what.parent)
        else f"{type(exc).__name__}: {exc}"
    )
    kept = (
        f" The last good {keep.name} ({keep}) is intact."
        if keep is not None and keep.exists()
        else ""
    )
    return RunFolderError(
        f"could not write {what}: {why}.{kept} Free some space (or choose another folder), "
        "then resume."
    )


def _write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it over ``path``."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class RunRecorder:
    """Writes one run's folder and reports its progress; ``training._Run`` calls it on each event.

    Introduced in lesson 05. With ``out=None`` nothing is written; the progress bar, the notes
    and the Q-value warning still work.
    """

    def __init__(self, config: DQNConfig, out: Path | None, progress: bool) -> None:
        self.config = config
        self.out = out
        self.ckpt_path = out / "checkpoint.pt" if out is not None else None
        self.progress = progress
        self.lock = _FolderLock(out) if out is not None else None
        self.exact_resume = False  # set by training: whether this run can save its episode state
        self.q_warned = False
        self.bar: Any = None
        self.t0 = time.perf_counter()
        self.elapsed_before = 0.0

    # -------------------------------------------------------------- opening and closing
    def open(self, *, resume: bool, overwrite: bool, found_checkpoint: bool) -> None:
        """Lock the folder, check it again under the lock, empty it for overwrite, write config.json."""
        if self.out is not None:
            self.out.mkdir(parents=True, exist_ok=True)
            assert self.lock is not None
            if not self.lock.acquire():
                raise RunFolderError(self.lock.busy_message())
            try:  # again, under the lock: another process may have written it meanwhile
                _check_contents(self.out, resume=resume, overwrite=overwrite)
            except BaseException:
                self.lock.release()
                raise
            if overwrite:
                for name in RUN_FILES:
                    (self.out / name).unlink(missing_ok=True)
            text = json.dumps(self.config.to_dict(), indent=2) + "\n"
            self._write(self.out / "config.json", lambda p: _write_text_atomic(p, text))
            if resume and not found_checkpoint:
                self.note(f"resume: no checkpoint.pt in {self.out}, starting a fresh run.", True)
        from tqdm.auto import tqdm

        self.bar = tqdm(
            total=self.config.total_steps,
            disable=not self.progress,
            unit="step",
            dynamic_ncols=True,
            desc=self.config.env_id,
            mininterval=0.5,
        )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.lock is not None:
            self.lock.release()

    # -------------------------------------------------------------- events of the loop
    def on_episode(self, run: Any) -> None:
        self.check_q_values(run)
        self.show_progress(run)

    def on_eval(self, run: Any, improved: bool) -> None:
        if self.out is not None:
            self.write_logs(run.log)
            if improved:
                self.save(run, self.out / "best.pt", with_state=False)
        self.show_progress(run)

    def on_checkpoint(self, run: Any) -> None:
        """The periodic checkpoint: the log, then checkpoint.pt with what an exact resume needs."""
        if self.out is not None:
            self.write_logs(run.log)
            self.save(run, self.ckpt_path, with_state=True)  # type: ignore[arg-type]

    def on_end(self, run: Any) -> None:
        self.bar.update(run.step - self.bar.n)
        self.bar.close()
        self.on_checkpoint(run)

    def on_abort(self, run: Any, exc: BaseException) -> None:
        """On an error: keep the log up to the blow-up (checkpoint.pt stays the last good one).

        On Ctrl-C (KeyboardInterrupt) the run is saved first, so that nothing is lost: the
        episode in progress and the replay buffer are left out (they may be mid-step), so a
        resume starts new episodes and refills the buffer.
        """
        if self.bar is not None:
            self.bar.close()
        if self.out is None or isinstance(exc, RunFolderError):
            return
        with contextlib.suppress(RunFolderError):
            self.write_logs(run.log)
        if isinstance(exc, KeyboardInterrupt):
            self.save(run, self.ckpt_path, with_state=False)  # type: ignore[arg-type]
            self.note(
                f"interrupted at step {run.step:,}: saved {self.ckpt_path}; continue with "
                "resume=True (python -m dqn_helpers.train ... --resume).",
                always=True,
            )

    # -------------------------------------------------------------- files
    def _write(self, path: Path, write: Any) -> None:
        try:
            write(path)
        except (OSError, RuntimeError) as exc:
            raise _write_error(path, exc, self.ckpt_path) from exc

    def write_logs(self, log: TrainingLog) -> None:
        """log.csv and eval.csv, each replaced atomically; a full disk leaves the old ones."""
        assert self.out is not None
        try:
            log.to_csv(self.out)
        except (OSError, RuntimeError) as exc:
            for name in ("log.csv", "eval.csv"):
                (self.out / f".{name}.tmp").unlink(missing_ok=True)
            raise _write_error(self.out / "log.csv", exc, self.ckpt_path) from exc

    def save(self, run: Any, path: Path, with_state: bool) -> None:
        """An atomic checkpoint; refuses to overwrite a good one with NaN weights."""
        if not run.agent.parameters_finite():
            raise run.diverged_error(None)
        loop: dict[str, Any] = {"best_eval": run.best_eval, "elapsed": self.elapsed()}
        keep_buffer = False
        if self.exact_resume and with_state:
            env_state = run.stepper.state()
            if env_state is not None:
                loop.update(env_state, metric_sums=run.metrics.state())
                keep_buffer = self.config.save_buffer
        try:
            checkpoints.save_checkpoint(
                path,
                agent=run.agent,
                config=self.config,
                step=run.step,
                episode=run.episode,
                log=run.log,
                buffer=run.buffer if keep_buffer else None,
                extra={"loop": loop},
            )
        except checkpoints.CheckpointError as exc:
            raise RunFolderError(str(exc)) from exc.__cause__

    # -------------------------------------------------------------- resume
    def restore(self, run: Any, ckpt: dict[str, Any]) -> None:
        """Continue ``run`` from a checkpoint: the agent, the log and counters, the episode in
        progress and the replay buffer when they were saved (an exact resume)."""
        checkpoints.restore_agent(ckpt, run.agent)
        run.log = TrainingLog.from_dict(ckpt["log"] or {})
        run.step, run.episode = int(ckpt["step"]), int(ckpt["episode"])
        loop = ckpt["extra"].get("loop", {})
        run.best_eval = loop.get("best_eval")
        self.elapsed_before = float(loop.get("elapsed", 0.0))
        restored = False
        if self.exact_resume and loop.get("env_state") is not None:
            try:
                run.stepper.restore(loop)
                sums = loop.get("metric_sums") or {}
                run.metrics = metrics.MetricSums(sums.get("sums"), sums.get("count", 0))
                restored = True
            except Exception as exc:  # noqa: BLE001 - fall back to a fresh episode
                self.note(
                    f"resume: could not restore the environment ({exc}); starting new episodes."
                )
        if not restored:
            run.new_episodes()
            self.note(
                f"resume at step {run.step}: the episode(s) in progress were dropped; "
                "new ones start."
            )
        if restored and ckpt.get("buffer") is not None:
            run.buffer.load_state_dict(ckpt["buffer"])
        else:  # an empty buffer refills before updates resume, as at the start of a run
            run.min_buffer = max(self.config.batch_size, self.config.learning_starts)
            self.note(
                f"resume at step {run.step}: the checkpoint holds no replay buffer, so it "
                f"starts empty and refills (updates resume after {run.min_buffer} new "
                "transitions)."
            )
        self.note(f"resumed from {self.ckpt_path} at step {run.step} (episode {run.episode}).")
        self.bar.update(run.step - self.bar.n)

    # -------------------------------------------------------------- telling the user
    def note(self, msg: str, always: bool = False) -> None:
        """Tell the user (progress bar, or stderr when ``always``) and keep it in train_notes.txt."""
        if self.progress:
            from tqdm.auto import tqdm

            tqdm.write(msg)
        elif always:
            print(msg, file=sys.stderr)
        if self.out is not None and self.out.is_dir():
            with contextlib.suppress(OSError), open(self.out / "train_notes.txt", "a") as f:
                f.write(msg + "\n")

    def check_q_values(self, run: Any) -> None:
        """Warn once when the Q-values pass any value a state can have by a wide margin."""
        mean_max_q = run.log.episodes[-1]["mean_max_q"]
        bound = losses.q_value_bound(run.stepper.reward_max, self.config.gamma)
        if self.q_warned or not bound > 0 or not mean_max_q > losses.Q_BOUND_FACTOR * bound:
            return
        self.q_warned = True
        msg = (
            f"step {run.step:,}: the mean max-Q is {mean_max_q:.3g}, more than "
            f"{losses.Q_BOUND_FACTOR:g}x r_max/(1-γ) = {bound:.3g}, the most any state can be worth: "
            "the Q-values are diverging (lower the learning rate, use the Huber loss, gradient "
            "clipping and a target network)."
        )
        warnings.warn(msg, stacklevel=5)
        self.note(msg)

    def show_steps(self, step: int) -> None:
        self.bar.update(step - self.bar.n)

    def show_progress(self, run: Any) -> None:
        self.bar.update(run.step - self.bar.n)
        last_eval = "-" if not run.log.evals else f"{run.log.evals[-1]['mean_return']:.1f}"
        last = run.log.episodes[-1]["episode_return"] if run.log.episodes else math.nan
        self.bar.set_postfix(
            ret=f"{last:.1f}", eval=last_eval, eps=f"{run.epsilon:.3f}", refresh=False
        )

    def elapsed(self) -> float:
        return self.elapsed_before + time.perf_counter() - self.t0
