"""Schedules for exploration (epsilon), learning rates and PER's beta.

Introduced in lesson 01 (exponential per-episode decay) and lesson 05 (linear decay over steps);
``TrainingSchedules.from_config`` builds all three for the training loop from one ``DQNConfig``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["LinearSchedule", "ExponentialSchedule", "TrainingSchedules"]


def _check_finite(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number, got {value!r} of type {type(value).__name__}.")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}.")
    return float(value)


class LinearSchedule:
    """Go linearly from ``start`` to ``end`` over ``duration`` steps, then stay at ``end``.

    Introduced in lesson 05 (epsilon over the first part of training); also anneals PER's beta upwards.
    """

    def __init__(self, start: float, end: float, duration: int) -> None:
        self.start = _check_finite("start", start)
        self.end = _check_finite("end", end)
        if isinstance(duration, bool) or not isinstance(duration, int) or duration <= 0:
            raise ValueError(
                f"duration must be a positive integer number of steps, got {duration!r}. "
                "For epsilon, a common choice is a fraction of total_steps, e.g. int(0.1 * total_steps)."
            )
        self.duration = duration

    def __call__(self, step: int) -> float:
        """Value at ``step`` (0-based): ``start`` at 0, ``end`` from ``duration`` on."""
        if step < 0:
            raise ValueError(f"step must be >= 0, got {step}.")
        fraction = min(step / self.duration, 1.0)
        return self.start + fraction * (self.end - self.start)

    def __repr__(self) -> str:
        return f"LinearSchedule(start={self.start}, end={self.end}, duration={self.duration})"


class ExponentialSchedule:
    """``max(end, start * decay**episode)``: the classic per-episode epsilon decay (e.g. 0.995).

    Introduced in lesson 01.
    """

    def __init__(self, start: float, end: float, decay: float) -> None:
        self.start = _check_finite("start", start)
        self.end = _check_finite("end", end)
        self.decay = _check_finite("decay", decay)
        if not 0.0 < self.decay <= 1.0:
            raise ValueError(
                f"decay must be in (0, 1], got {decay}. Typical per-episode values are 0.99–0.999."
            )
        if self.end > self.start:
            raise ValueError(
                f"end ({end}) must be <= start ({start}): an exponential decay only goes down. "
                "Use LinearSchedule to go up."
            )
        if self.end < 0.0:
            raise ValueError(f"end must be >= 0, got {end}.")

    def __call__(self, episode: int) -> float:
        """Value after ``episode`` decays (episode 0 gives ``start``)."""
        if episode < 0:
            raise ValueError(f"episode must be >= 0, got {episode}.")
        return max(self.end, self.start * self.decay**episode)

    def episodes_to_reach_end(self) -> int:
        """How many episodes until the value reaches ``end`` (0.995 from 1.0 to 0.01: 919)."""
        if self.start <= self.end:
            return 0
        if self.decay == 1.0 or self.end == 0.0:
            raise ValueError(
                f"the schedule never reaches end={self.end} with decay={self.decay} (start={self.start})."
            )
        return math.ceil(math.log(self.end / self.start) / math.log(self.decay))

    def __repr__(self) -> str:
        return f"ExponentialSchedule(start={self.start}, end={self.end}, decay={self.decay})"


@dataclass(frozen=True)
class TrainingSchedules:
    """ε, the learning rate and PER's β of one run, each as a function of the agent step.

    Introduced in lesson 05. ``horizon`` is the run's planned length in agent steps: a run
    extended on resume keeps its first horizon, so its schedules end where they always would.
    """

    epsilon_by_step: LinearSchedule
    epsilon_by_episode: ExponentialSchedule | None  # the per-episode decay, when the config asks
    learning_rate: LinearSchedule  # start == end for a constant rate
    beta: LinearSchedule  # PER's importance-weight exponent, annealed to 1

    @classmethod
    def from_config(cls, config: Any, horizon: int | None = None) -> TrainingSchedules:
        """The schedules a ``DQNConfig`` describes over ``horizon`` steps (default: total_steps)."""
        steps = config.total_steps if horizon is None else horizon
        epsilon = LinearSchedule(
            config.epsilon_start, config.epsilon_end, max(1, int(config.epsilon_fraction * steps))
        )
        by_episode = None
        if config.epsilon_decay is not None:
            by_episode = ExponentialSchedule(
                config.epsilon_start, config.epsilon_end, config.epsilon_decay
            )
        lr_end = config.learning_rate if config.lr_end is None else config.lr_end
        lr = LinearSchedule(config.learning_rate, lr_end, max(1, round(config.lr_fraction * steps)))
        beta = LinearSchedule(config.per_beta, 1.0, max(1, steps))
        return cls(epsilon, by_episode, lr, beta)

    def epsilon(self, step: int, episode: int) -> float:
        """ε after ``step`` agent steps and ``episode`` finished episodes."""
        if self.epsilon_by_episode is not None:
            return self.epsilon_by_episode(episode)
        return self.epsilon_by_step(step)
