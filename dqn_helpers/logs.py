"""The training log: one row per finished episode and one per greedy evaluation.

Introduced in lesson 05. It is the one thing that flows from the training loop to everything that
plots or diagnoses a run (``plotting``, ``diagnostics``, the widgets): they read a ``TrainingLog``
or the ``log.csv`` / ``eval.csv`` files a run folder holds, never a running agent.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["EPISODE_COLUMNS", "EVAL_COLUMNS", "TrainingLog", "as_log"]

#: Columns of ``log.csv``: one row per finished training episode.
EPISODE_COLUMNS = (
    "step",
    "episode",
    "episode_return",
    "episode_length",
    "loss",
    "mean_max_q",
    "td_error",
    "grad_norm",
    "epsilon",
    "learning_rate",
    "time",
)
#: Columns of ``eval.csv``: one row per greedy evaluation.
EVAL_COLUMNS = ("step", "mean_return", "std_return", "episodes")

_INT_COLUMNS = ("step", "episode", "episode_length", "episodes")
_TABLES = {"episodes": EPISODE_COLUMNS, "evals": EVAL_COLUMNS}


class TrainingLog:
    """Rows of a run: ``.episodes`` (one dict per training episode) and ``.evals`` (per evaluation).

    Introduced in lesson 05. ``log.column("episode_return")`` gives a column as a float array.
    """

    def __init__(
        self,
        episodes: list[dict[str, float]] | None = None,
        evals: list[dict[str, float]] | None = None,
    ) -> None:
        self.episodes: list[dict[str, float]] = list(episodes or [])
        self.evals: list[dict[str, float]] = list(evals or [])

    def column(self, name: str, table: str = "episodes") -> np.ndarray:
        """One column as floats; a missing or empty entry is NaN (e.g. the loss before learning)."""
        if table not in _TABLES:
            raise ValueError(f"table must be 'episodes' or 'evals', got {table!r}.")
        if name not in _TABLES[table]:
            raise ValueError(
                f"no column {name!r} in {table}; columns are {', '.join(_TABLES[table])}."
            )
        rows = self.episodes if table == "episodes" else self.evals
        values = [row.get(name) for row in rows]
        return np.array(
            [math.nan if v is None or v == "" else float(v) for v in values], dtype=float
        )

    def late_mean(self, name: str, n: int = 20) -> float:
        """Mean of ``name`` over the last ``n`` episodes, skipping NaN entries (episodes without an
        update); NaN when all of them are NaN. The level a run ends at (lesson 05's max-Q)."""
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n!r}.")
        tail = self.column(name)[-n:]
        return float(np.nanmean(tail)) if np.isfinite(tail).any() else math.nan

    @property
    def last_eval(self) -> float | None:
        """Mean return of the latest evaluation (None before the first)."""
        return self.evals[-1]["mean_return"] if self.evals else None

    # ------------------------------------------------------------------ storage
    def to_dict(self) -> dict[str, list[dict[str, float]]]:
        """Plain lists of rows (stored in checkpoints)."""
        return {
            "episodes": [dict(r) for r in self.episodes],
            "evals": [dict(r) for r in self.evals],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainingLog:
        """Inverse of ``to_dict``."""
        return cls(d.get("episodes", []), d.get("evals", []))

    def to_csv(self, directory: str | os.PathLike[str]) -> None:
        """Write ``log.csv`` and ``eval.csv`` into ``directory`` (each replaced atomically)."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        for name, rows, columns in (
            ("log.csv", self.episodes, EPISODE_COLUMNS),
            ("eval.csv", self.evals, EVAL_COLUMNS),
        ):
            tmp = d / f".{name}.tmp"
            with open(tmp, "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
                writer.writeheader()
                writer.writerows(rows)
            os.replace(tmp, d / name)

    @classmethod
    def from_csv(cls, directory: str | os.PathLike[str]) -> TrainingLog:
        """Read a run folder's ``log.csv`` / ``eval.csv`` (a missing eval.csv means no evaluations)."""
        d = Path(directory)
        if not (d / "log.csv").exists():
            raise FileNotFoundError(
                f"no log.csv in {d}: give a run folder written by training.train(out_dir=...) or "
                "python -m dqn_helpers.train --out ..."
            )
        return cls(
            _read_rows(d / "log.csv", EPISODE_COLUMNS), _read_rows(d / "eval.csv", EVAL_COLUMNS)
        )

    def __repr__(self) -> str:
        return f"TrainingLog({len(self.episodes)} episodes, {len(self.evals)} evaluations)"


def _read_rows(path: Path, columns: tuple[str, ...]) -> list[dict[str, float]]:
    """The rows of one CSV file of a run; ValueError naming the file, row and column of a damage."""
    if not path.exists():
        return []
    rows = []
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            return []
        unknown = [c for c in header if c not in columns]
        if unknown or "step" not in header or len(set(header)) != len(header):
            raise ValueError(
                f"{path} is not a training log: its header is {','.join(header)!r}"
                + (f", with unknown column(s) {', '.join(unknown)}" if unknown else "")
                + f"; a log's columns are {','.join(columns)} (step first, the others may be "
                "missing). Was it edited, or written by another program?"
            )
        for line_no, fields in enumerate(reader, start=2):
            if not fields:
                continue
            if len(fields) != len(header):
                raise ValueError(
                    f"{path}, line {line_no}: {len(fields)} values for {len(header)} columns "
                    f"({','.join(header)}). The file is damaged (an edit or a cut-off write)."
                )
            row: dict[str, float] = {}
            for key, text in zip(header, fields):
                try:
                    x = float(text) if text.strip() else math.nan
                except ValueError:
                    raise ValueError(
                        f"{path}, line {line_no}, column {key!r}: could not convert {text!r} to a "
                        "number. The file is damaged (an edit or a cut-off write)."
                    ) from None
                row[key] = int(x) if key in _INT_COLUMNS and math.isfinite(x) else x
            rows.append(row)
    return rows


def as_log(log: Any, name: str = "log") -> TrainingLog:
    """A ``TrainingLog`` from a log, a ``TrainResult`` or a run folder; a clear TypeError otherwise."""
    if isinstance(log, TrainingLog):
        return log
    if isinstance(log, (str, os.PathLike)):
        return TrainingLog.from_csv(log)
    if hasattr(log, "log") and isinstance(log.log, TrainingLog):
        return log.log  # a TrainResult
    if hasattr(log, "episodes") and hasattr(log, "evals"):
        return TrainingLog(list(log.episodes), list(log.evals))
    raise TypeError(
        f"{name} must be a TrainingLog (result.log of training.train) or a run folder, "
        f"got {type(log).__name__}."
    )
