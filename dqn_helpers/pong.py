"""Lesson 10's plumbing, out of the notebook: the speed probe, the replay memory assembled from the
learner's pieces, the run folder, the shipped agent's logs, and the value V(s) = max_a Q(s, a) along a
greedy game.

Introduced in lesson 10. A teaching-level helper: it reads configs, checkpoints, logs and a trained
agent; it imports ``agents``, ``buffers``, ``checkpoints``, ``config``, ``envs`` and ``logs``, and
nothing in the package imports it.

**Shipped logs.** A shipped agent's training logs live in a folder named after the checkpoint,
beside it: ``checkpoints/pong_pretrained.pt`` → ``checkpoints/pong_pretrained/`` holding the run's
``log.csv``, ``eval.csv`` and ``config.json`` (the files ``training.train`` writes into its run
folder, copied as they are). ``shipped_log`` reads them only if they are the checkpoint's own run
(``logs_belong_to_checkpoint``).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from dqn_helpers import buffers, checkpoints, envs, logs, runs
from dqn_helpers.agents import DQNAgent
from dqn_helpers.config import DQNConfig

__all__ = [
    "SpeedProbe",
    "median_ms",
    "probe_speed",
    "CapstoneBatch",
    "CapstoneBuffer",
    "free_run_dir",
    "cpu_preview_steps",
    "StopAfter",
    "find_shipped",
    "find_pretrained",
    "shipped_log_dir",
    "logs_belong_to_checkpoint",
    "shipped_log",
    "GreedyGame",
    "play_greedy",
    "value_before_points",
    "peaks_and_dips",
    "window_around",
]

# Config fields that describe a run's bookkeeping, not its learning: a resumed run may change them
# (training's resume check), so two configs that differ only here are one run.
_BOOKKEEPING = runs.RESUMABLE_CHANGES


# ---------------------------------------------------------------- section 1: the speed probe


@dataclass(frozen=True)
class SpeedProbe:
    """Milliseconds per part of an agent step on one device. Introduced in lesson 10."""

    env_ms: float  # one env.step: 4 emulator frames and the preprocessing
    act_ms: float  # one greedy action: a forward pass on a batch of 1
    update_ms: float  # one update: sample a batch, forward + backward, target pass, Adam step
    train_freq: int  # agent steps per update

    @property
    def step_ms(self) -> float:
        """One agent step: the env, the action and 1/train_freq of an update. Introduced in lesson 10."""
        return self.env_ms + self.act_ms + self.update_ms / self.train_freq

    @property
    def steps_per_s(self) -> float:
        """Agent steps per second the parts predict (the loop adds some Python). Introduced in lesson 10."""
        return 1e3 / self.step_ms

    def hours(self, agent_steps: int) -> float:
        """Predicted hours of training for ``agent_steps``. Introduced in lesson 10."""
        return agent_steps / self.steps_per_s / 3600

    def shares(self) -> dict[str, float]:
        """Fraction of an agent step spent in the env, the action and the update. Introduced in lesson 10."""
        return {
            "environment": self.env_ms / self.step_ms,
            "action": self.act_ms / self.step_ms,
            "update": self.update_ms / self.train_freq / self.step_ms,
        }


def median_ms(fn: Callable[[], Any], calls: int) -> float:
    """Median wall time of one call of ``fn`` in milliseconds, after one warm-up call. Introduced in lesson 10."""
    if calls < 1:
        raise ValueError(f"calls must be at least 1, got {calls!r}.")
    fn()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1e3


def probe_speed(
    config: DQNConfig,
    device: Any,
    *,
    updates: int = 30,
    env_steps: int = 300,
    actions: int = 20,
    seed: int = 0,
) -> SpeedProbe:
    """Time an env step, an action and an update of ``config``'s agent on real frames of its game.

    Introduced in lesson 10. Random actions fill a small frame buffer; the update is timed on
    minibatches of ``config.batch_size`` drawn from it.
    """
    env = envs.make_env(config.env_id, seed=seed, frame_stack=config.frame_stack)
    try:
        obs, _ = env.reset(seed=seed)
        seen = [obs]
        start = time.perf_counter()
        for _ in range(env_steps):
            obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
            seen.append(obs)
            if terminated or truncated:
                obs, _ = env.reset()
                seen.append(obs)
        env_ms = (time.perf_counter() - start) / env_steps * 1e3
        n_actions = int(env.action_space.n)
    finally:
        env.close()
    agent = DQNAgent(config.replace(seed=seed), obs.shape, n_actions, device=device)
    replay = buffers.FrameReplayBuffer(max(1_000, len(seen)), seed=seed)
    for t in range(len(seen) - 1):
        replay.add(seen[t], t % n_actions, 0.0, seen[t + 1], False)
    update_ms = median_ms(lambda: agent.learn(replay.sample(config.batch_size)), updates)
    act_ms = median_ms(lambda: agent.act(obs, 0.0), actions)
    return SpeedProbe(env_ms, act_ms, update_ms, config.train_freq)


# ---------------------------------------------------------------- section 2: your pieces, one buffer


class CapstoneBatch(NamedTuple):
    """A minibatch of ``CapstoneBuffer``: what lesson 09's prioritized n-step loss reads. Introduced in lesson 10."""

    obs: torch.Tensor  # uint8 stacks s_t, (batch, 4, 84, 84)
    actions: torch.Tensor  # a_t, int64
    returns: torch.Tensor  # G_t, the discounted sum of the window's m rewards
    next_obs: torch.Tensor  # uint8 stacks s_{t+m}
    discounts: torch.Tensor  # γ^m (1 - done): the factor of max_a Q(s_{t+m}, a; θ⁻) in the target
    weights: torch.Tensor  # importance weights, largest 1
    indices: np.ndarray  # the sampled transitions, for update_priorities


class CapstoneBuffer:
    """Lesson 10's replay memory, built from the learner's five functions; it has the ``add`` / ``sample``
    contract of lesson 05's loop. Introduced in lesson 10.

    - ``add`` keeps each frame once (lesson 06): the newest frame of ``obs`` when an episode starts, then the
      newest frame of each ``next_obs``. It holds a step back until its window of ``n`` rewards is complete,
      then asks ``n_step_windows`` (lesson 09) for its ``(G, m, done)``; at the end of an episode, terminated
      or truncated, it closes the last windows. So it must hear ``truncated``: otherwise the next game would
      be glued onto the old one's window, and ``add`` refuses that.
    - ``sample`` draws by priority with a sum tree, weights the draws with ``importance_weights``, and
      rebuilds the states with ``stacked_state`` (lesson 06).
    - ``update_priorities(indices, td_errors)`` calls the learner's ``update_priorities`` (lesson 09).

    It never overwrites: the capstone's short run fits (the package's ``FrameReplayBuffer`` is the ring).
    β stays fixed (the preset anneals it to 1 over a run). Every sampled index is kept in ``drawn``.
    """

    def __init__(
        self,
        capacity: int,
        pieces: dict[str, Callable[..., Any]],
        *,
        gamma: float,
        n: int,
        alpha: float,
        beta: float,
        eps: float = 1e-6,
        seed: int = 0,
    ) -> None:
        needed = {"stacked_state", "n_step_windows", "importance_weights", "update_priorities"}
        if missing := needed - set(pieces):
            raise ValueError(
                f"pieces lacks {sorted(missing)}: pass a dict with the functions {sorted(needed)}."
            )
        self.pieces, self.gamma, self.n, self.alpha, self.beta, self.eps = (
            pieces,
            gamma,
            n,
            alpha,
            beta,
            eps,
        )
        self.frames = np.zeros(
            (2 * capacity + 1, 84, 84), dtype=np.uint8
        )  # ≤ one frame per step + one per episode
        self.episode_start = np.zeros(2 * capacity + 1, dtype=bool)
        self.n_frames = 0
        self.position = np.zeros(capacity, dtype=np.int64)  # film position of s_t's newest frame
        self.action = np.zeros(capacity, dtype=np.int64)
        self.G, self.m = np.zeros(capacity), np.zeros(capacity, dtype=np.int64)
        self.done = np.zeros(capacity, dtype=bool)
        self.size, self.capacity = 0, capacity
        self.tree = buffers.SumTree(capacity)
        self.max_priority = 1.0  # raw |δ| + eps; a new transition enters at max_priority ** alpha
        self.pending: list[
            tuple[int, int, float]
        ] = []  # (position, action, reward) of unfinished windows
        self.in_episode = False
        self.drawn: list[np.ndarray] = []
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return self.size

    def _film(self, frame: np.ndarray, start: bool) -> int:
        self.frames[self.n_frames], self.episode_start[self.n_frames] = frame, start
        self.n_frames += 1
        return self.n_frames - 1

    def add(
        self,
        obs: Any,
        action: int,
        reward: float,
        next_obs: Any,
        terminated: bool,
        truncated: bool = False,
    ) -> None:
        """Store one step; its window is stored when complete (or when the episode ends)."""
        obs, next_obs = np.asarray(obs), np.asarray(next_obs)
        if not self.in_episode:
            self._film(obs[-1], start=True)
        elif not np.array_equal(obs[-1], self.frames[self.n_frames - 1]):
            raise ValueError(
                "obs does not continue the previous step, which was neither terminated nor truncated. An "
                "n-step buffer needs to hear where an episode ends: call buffer.add(obs, action, reward, "
                "next_obs, terminated, truncated) (exercise 10.6)."
            )
        if self.size + len(self.pending) >= self.capacity:
            raise ValueError(
                f"the buffer is full ({self.capacity:,} transitions): build it with a larger capacity."
            )
        self.pending.append((self.n_frames - 1, int(action), float(reward)))
        self._film(next_obs[-1], start=False)
        self.in_episode = not (terminated or truncated)
        if not self.in_episode:  # the episode ends: close every window (terminated: no bootstrap)
            self._store(self.pending, bool(terminated))
            self.pending = []
        elif len(self.pending) == self.n:  # the oldest step's window of n rewards is complete
            self._store(self.pending[:1], False, window=[r for _, _, r in self.pending])
            self.pending = self.pending[1:]

    def _store(
        self,
        steps: list[tuple[int, int, float]],
        terminated: bool,
        window: list[float] | None = None,
    ) -> None:
        rewards = window if window is not None else [r for _, _, r in steps]
        windows = self.pieces["n_step_windows"](rewards, terminated, self.gamma, self.n)
        for (position, action, _), (G, m, done) in zip(steps, windows):
            i = self.size
            self.position[i], self.action[i], self.G[i], self.m[i], self.done[i] = (
                position,
                action,
                G,
                m,
                done,
            )
            self.tree.update([i], self.max_priority**self.alpha)
            self.size += 1

    def states(self, positions: np.ndarray) -> torch.Tensor:
        """Your stacked states for these film positions, as a uint8 batch (batch, 4, 84, 84)."""
        frames, starts = self.frames[: self.n_frames], self.episode_start[: self.n_frames]
        return torch.from_numpy(
            np.stack([self.pieces["stacked_state"](frames, starts, int(p)) for p in positions])
        )

    def sample(self, batch_size: int) -> CapstoneBatch:
        """``batch_size`` transitions by priority (one from each equal slice of the total), weighted."""
        if self.size == 0:
            raise ValueError(
                "the buffer holds no complete transition yet: sample after learning_starts steps."
            )
        idx = self.tree.find(
            (np.arange(batch_size) + self.rng.random(batch_size)) * self.tree.total / batch_size
        )
        self.drawn.append(idx)
        probabilities = self.tree.get(idx) / self.tree.total
        weights = self.pieces["importance_weights"](probabilities, self.size, self.beta)
        discounts = self.gamma ** self.m[idx] * (1.0 - self.done[idx])
        return CapstoneBatch(
            obs=self.states(self.position[idx]),
            actions=torch.as_tensor(self.action[idx]),
            returns=torch.as_tensor(self.G[idx], dtype=torch.float32),
            next_obs=self.states(self.position[idx] + self.m[idx]),
            discounts=torch.as_tensor(discounts, dtype=torch.float32),
            weights=torch.as_tensor(np.asarray(weights), dtype=torch.float32),
            indices=idx,
        )

    def update_priorities(self, indices: np.ndarray, td_errors: Any) -> None:
        """The learner's ``update_priorities`` on the sampled ``indices`` with their TD errors."""
        td_errors = np.asarray(
            td_errors.detach().cpu() if isinstance(td_errors, torch.Tensor) else td_errors
        )
        self.max_priority = self.pieces["update_priorities"](
            self.tree, indices, td_errors, self.alpha, self.eps, self.max_priority
        )


# ---------------------------------------------------------------- sections 3-4: the run folder


def free_run_dir(run_dir: str | os.PathLike[str], resume: bool) -> Path:
    """``run_dir``, or the first free ``run_dir-2``, ``-3``, ... when it holds a run and ``resume`` is False.

    Introduced in lesson 10: a (long) run is never overwritten, even one stopped before its first
    checkpoint; ``resume=True`` continues it in place.
    """
    run_dir = Path(run_dir)

    def holds_run(folder: Path) -> bool:
        return any((folder / name).exists() for name in runs.RUN_FILES)

    if resume or not holds_run(run_dir):
        return run_dir
    k = 2
    while holds_run(run_dir.with_name(f"{run_dir.name}-{k}")):
        k += 1
    return run_dir.with_name(f"{run_dir.name}-{k}")


def cpu_preview_steps(total_steps: int, preview_steps: int, *, preview: bool) -> int | None:
    """The step at which a CPU preview stops the run (None: train all ``total_steps``). Introduced in lesson 10."""
    return preview_steps if preview and total_steps > preview_steps else None


@dataclass(frozen=True)
class StopAfter:
    """Training callback: stop at the first episode end at or after ``step`` (None: never).

    Introduced in lesson 10 (the CPU preview stops the unchanged run early; ``resume=True`` continues it).
    """

    step: int | None

    def __call__(self, event: str, log: logs.TrainingLog, agent: Any = None) -> bool:
        return (
            self.step is not None and event == "episode" and log.episodes[-1]["step"] >= self.step
        )


# ---------------------------------------------------------------- section 5: the shipped agent


def find_shipped(
    name: str | os.PathLike[str], roots: Sequence[str | os.PathLike[str]]
) -> Path | None:
    """The file ``name`` under the first of ``roots`` that has it (an absolute ``name`` as it is), else None.

    Introduced in lesson 10.
    """
    for root in roots:
        path = Path(root) / name
        if path.is_file():
            return path
    return None


def find_pretrained(
    name: str,
    roots: Sequence[str | os.PathLike[str]],
    *,
    download_to: str | os.PathLike[str] | None = None,
    timeout: float = 60.0,
    base_url: str | None = None,
) -> Path | None:
    """The shipped checkpoint ``name`` under the first of ``roots`` whose copy is the published file
    (its SHA-256 is the one pinned in ``colab.SHIPPED_SHA256``); else, with ``download_to``,
    downloaded there and verified (``colab.download_checkpoint``); else None.

    Introduced in lesson 10. A copy that fails the check (an interrupted or tampered download) is
    never returned; in ``download_to`` it is deleted and downloaded again.
    """
    from dqn_helpers import colab

    expected = colab.SHIPPED_SHA256.get(colab.shipped_name(name))
    for root in roots:
        path = Path(root) / name
        if path.is_file() and checkpoints.sha256(path) == expected:
            return path
    if download_to is None:
        return None
    return colab.download_checkpoint(
        name, download_to, timeout=timeout, base_url=base_url or colab.RAW_URL
    )


def shipped_log_dir(checkpoint: str | os.PathLike[str]) -> Path:
    """The folder of a shipped checkpoint's logs: ``x/name.pt`` → ``x/name/``. Introduced in lesson 10."""
    checkpoint = Path(checkpoint)
    return checkpoint.with_name(checkpoint.stem)


def _comparable(config: dict[str, Any]) -> dict[str, Any]:
    """A config's learning settings as plain data (bookkeeping fields dropped)."""
    plain = DQNConfig.from_dict(config).to_dict()
    return {k: v for k, v in plain.items() if k not in _BOOKKEEPING}


def logs_belong_to_checkpoint(
    log: str | os.PathLike[str], ckpt: dict[str, Any] | str | os.PathLike[str]
) -> bool:
    """Whether the run folder ``log`` (log.csv, eval.csv, config.json) is the run that wrote ``ckpt``.

    Introduced in lesson 10. Same run: the checkpoint's step is one of the folder's evaluation steps
    (a shipped network is the best evaluation's) and the two configs agree on every learning setting
    (the intervals, the step budget and the device may differ, as they may on resume).
    """
    folder = Path(log)
    if not isinstance(ckpt, dict):
        ckpt = checkpoints.load_checkpoint(ckpt)
    config_path = folder / "config.json"
    if not (folder / "log.csv").is_file() or not config_path.is_file():
        return False
    eval_steps = logs.TrainingLog.from_csv(folder).column("step", "evals")
    if int(ckpt["step"]) not in set(eval_steps.astype(int).tolist()):
        return False
    try:
        return _comparable(json.loads(config_path.read_text())) == _comparable(ckpt["config"])
    except (TypeError, ValueError):
        return False


def shipped_log(checkpoint: str | os.PathLike[str]) -> logs.TrainingLog | None:
    """The training log shipped beside ``checkpoint`` (see the module's docstring), or None if none ships.

    Introduced in lesson 10. Logs that ship but belong to another run raise ``ValueError``: a
    curve must never be shown next to an agent it did not train.
    """
    folder = shipped_log_dir(checkpoint)
    if not (folder / "log.csv").is_file():
        return None
    if not logs_belong_to_checkpoint(folder, checkpoint):
        raise ValueError(
            f"{folder} holds training logs, but not those of {checkpoint}: the checkpoint's step is not "
            "among their evaluation steps, or config.json differs from the checkpoint's config. Ship "
            "the log.csv, eval.csv and config.json of the run that wrote the checkpoint."
        )
    return logs.TrainingLog.from_csv(folder)


# ---------------------------------------------------------------- section 5: V(s) along a game


@dataclass
class GreedyGame:
    """One greedy game, step by step. Introduced in lesson 10."""

    frames: list[np.ndarray]  # RGB screen before each action, and the last one (len = steps + 1)
    values: np.ndarray  # V(s_t) = max_a Q(s_t, a), one per agent step
    rewards: np.ndarray  # the raw reward of each step (Pong: +1 point won, -1 point lost)
    terminated: np.ndarray  # True at the step that ended the game


def play_greedy(
    agent: DQNAgent, env: Any, max_steps: int, *, seed: int | None = None
) -> GreedyGame:
    """Play greedily for at most ``max_steps`` agent steps (one game), recording V(s), rewards and frames.

    Introduced in lesson 10. ``env`` must render RGB frames (``render_mode="rgb_array"``); give it
    ``clip_rewards=False`` to record the real score.
    """
    if getattr(env, "render_mode", None) != "rgb_array":
        raise ValueError("play_greedy needs an env made with render_mode='rgb_array'.")
    obs, _ = env.reset(seed=seed)
    frames, values, rewards, ends = [np.asarray(env.render())], [], [], []
    for _ in range(max_steps):
        q = agent.q_values(obs)
        values.append(float(q.max()))
        obs, reward, terminated, truncated, _ = env.step(int(q.argmax()))
        frames.append(np.asarray(env.render()))
        rewards.append(float(reward))
        ends.append(bool(terminated))
        if terminated or truncated:
            break
    return GreedyGame(frames, np.array(values), np.array(rewards), np.array(ends, dtype=bool))


def value_before_points(values: Any, rewards: Any, n: int) -> tuple[float, float]:
    """Mean V(s) over the ``n`` steps up to each point won, and up to each point lost (NaN if none).

    Introduced in lesson 10.
    """
    values, rewards = np.asarray(values, dtype=float), np.asarray(rewards, dtype=float)

    def mean_before(steps: np.ndarray) -> float:
        chunks = [values[max(0, t - n + 1) : t + 1] for t in steps]
        return float(np.mean(np.concatenate(chunks))) if chunks else float("nan")

    return mean_before(np.flatnonzero(rewards > 0)), mean_before(np.flatnonzero(rewards < 0))


def peaks_and_dips(values: Any, k: int = 4, spacing: int = 15) -> list[int]:
    """Up to ``k`` steps, in time order: the highest peaks and the lowest dips, ``spacing`` steps apart.

    Introduced in lesson 10 (the frames shown under the V(s) curve).
    """
    values = np.asarray(values, dtype=float)
    chosen: list[int] = []
    order = np.argsort(values)
    highs, lows = list(order[::-1]), list(order)
    for turn in range(2 * len(values)):
        if len(chosen) >= k or not (highs or lows):
            break
        candidates = highs if turn % 2 == 0 else lows
        while candidates:
            t = int(candidates.pop(0))
            if all(abs(t - c) >= spacing for c in chosen):
                chosen.append(t)
                break
    return sorted(chosen)


def window_around(rewards: Any, *, sign: int, before: int, after: int) -> slice:
    """Steps from ``before`` steps ahead of the first reward of this ``sign`` to ``after`` past it.

    Introduced in lesson 10. With no such reward: the first ``before + after`` steps.
    """
    rewards = np.asarray(rewards, dtype=float)
    hits = np.flatnonzero(np.sign(rewards) == sign)
    if not len(hits):
        return slice(0, min(len(rewards), before + after))
    return slice(max(0, int(hits[0]) - before), min(len(rewards), int(hits[0]) + after + 1))
