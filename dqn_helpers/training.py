"""The DQN training loop: environment + agent + replay buffer + logging + evaluation + checkpoints.

Introduced in lesson 05 (CartPole); the same loop trains Pong in lesson 07. The loop follows the
algorithm's steps: (1) act ε-greedily, (2) store the transition, (3) sample a minibatch,
(4) take a gradient step on the TD error, (5) refresh the target network.
"""

from __future__ import annotations

import copy
import csv
import functools
import json
import math
import os
import pickle
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from dqn_helpers import atari, buffers, checkpoints, schedules
from dqn_helpers.agents import DQNAgent
from dqn_helpers.config import DQNConfig

__all__ = [
    "EPISODE_COLUMNS",
    "EVAL_COLUMNS",
    "TrainResult",
    "TrainingDivergedError",
    "TrainingLog",
    "evaluate",
    "evaluate_episodes",
    "make_env",
    "train",
]

EPISODE_COLUMNS = (
    "step", "episode", "episode_return", "episode_length", "loss", "mean_max_q", "td_error",
    "grad_norm", "epsilon", "learning_rate", "time",
)
EVAL_COLUMNS = ("step", "mean_return", "std_return", "episodes")

Callback = Callable[[str, "TrainingLog", DQNAgent], Any]


class TrainingDivergedError(RuntimeError):
    """The loss or the Q-values became NaN/inf: training blew up (lesson 05 shows the causes)."""


# ------------------------------------------------------------------------------ env
def make_env(
    env_id: str, *, seed: int | None = None, render_mode: str | None = None, **atari_kwargs: Any
) -> gym.Env:
    """A Gymnasium env with a Discrete action space; ``ALE/...`` ids get the lesson 06 wrappers.

    Introduced in lesson 05. ``seed`` seeds the action space (pass it to the first ``reset`` too);
    ``atari_kwargs`` (frame_stack, clip_rewards, ...) go to ``atari.make_atari_env``.
    """
    if not isinstance(env_id, str) or not env_id:
        raise ValueError(f"env_id must be a Gymnasium id such as 'CartPole-v1', got {env_id!r}.")
    if atari.is_atari_id(env_id):
        env = atari.make_atari_env(env_id, seed=seed, render_mode=render_mode, **atari_kwargs)
    else:
        if atari_kwargs:
            raise ValueError(
                f"{sorted(atari_kwargs)} only apply to Atari ids ('ALE/...'), not {env_id!r}."
            )
        try:
            env = gym.make(env_id, render_mode=render_mode)
        except gym.error.Error as exc:
            raise ValueError(
                f"unknown or unavailable environment {env_id!r}: {exc}. Examples: 'CartPole-v1', "
                "'Acrobot-v1', 'LunarLander-v3', 'ALE/Pong-v5'."
            ) from exc
    space = env.action_space
    if not isinstance(space, gym.spaces.Discrete):
        env.close()
        raise ValueError(
            f"{env_id} has action space {space}, but DQN needs a Discrete action space (it picks "
            "argmax_a Q(s, a) over a finite set of actions). Use a discrete env or discretize it."
        )
    if seed is not None:
        space.seed(seed)
    return env


def _make_env_from_config(config: DQNConfig, seed: int | None, *, for_eval: bool = False) -> gym.Env:
    if atari.is_atari_id(config.env_id):
        kw: dict[str, Any] = {"frame_stack": config.frame_stack}
        if for_eval:
            kw["clip_rewards"] = False  # report the game's real score
        return make_env(config.env_id, seed=seed, **kw)
    return make_env(config.env_id, seed=seed)


# ------------------------------------------------------------------------------ log
class TrainingLog:
    """One row per finished episode (``.episodes``) and per greedy evaluation (``.evals``).

    Introduced in lesson 05. The one thing that flows from the loop to plots and diagnostics.
    """

    def __init__(
        self, episodes: list[dict[str, float]] | None = None, evals: list[dict[str, float]] | None = None
    ) -> None:
        self.episodes: list[dict[str, float]] = list(episodes or [])
        self.evals: list[dict[str, float]] = list(evals or [])

    def column(self, name: str, table: str = "episodes") -> np.ndarray:
        """One column as a float array, e.g. ``log.column("episode_return")``."""
        if table not in ("episodes", "evals"):
            raise ValueError(f"table must be 'episodes' or 'evals', got {table!r}.")
        rows = self.episodes if table == "episodes" else self.evals
        allowed = EPISODE_COLUMNS if table == "episodes" else EVAL_COLUMNS
        if name not in allowed:
            raise ValueError(f"no column {name!r} in {table}; columns are {', '.join(allowed)}.")
        return np.array([r[name] for r in rows], dtype=float)

    @property
    def last_eval(self) -> float | None:
        """Mean return of the latest evaluation (None before the first)."""
        return self.evals[-1]["mean_return"] if self.evals else None

    def to_dict(self) -> dict[str, list[dict[str, float]]]:
        """Plain lists of rows (stored in checkpoints)."""
        return {"episodes": [dict(r) for r in self.episodes], "evals": [dict(r) for r in self.evals]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainingLog:
        """Inverse of ``to_dict``."""
        return cls(d.get("episodes", []), d.get("evals", []))

    def to_csv(self, directory: str | os.PathLike[str]) -> None:
        """Write ``log.csv`` (episodes) and ``eval.csv`` (evaluations) into ``directory``."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        for name, rows, cols in (
            ("log.csv", self.episodes, EPISODE_COLUMNS),
            ("eval.csv", self.evals, EVAL_COLUMNS),
        ):
            tmp = d / f".{name}.tmp"
            with open(tmp, "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
                writer.writeheader()
                writer.writerows(rows)
            os.replace(tmp, d / name)

    @classmethod
    def from_csv(cls, directory: str | os.PathLike[str]) -> TrainingLog:
        """Read ``log.csv`` / ``eval.csv`` written by ``to_csv`` (a missing eval.csv means no evals)."""
        d = Path(directory)
        if not (d / "log.csv").exists():
            raise FileNotFoundError(f"no log.csv in {d}: train with out_dir={str(d)!r} first.")

        def read(path: Path) -> list[dict[str, float]]:
            if not path.exists():
                return []
            with open(path, newline="") as f:
                rows = []
                for r in csv.DictReader(f):
                    row: dict[str, float] = {}
                    for k, v in r.items():
                        x = float(v) if v not in ("", None) else math.nan
                        row[k] = int(x) if k in ("step", "episode", "episode_length", "episodes") and math.isfinite(x) else x
                    rows.append(row)
                return rows

        return cls(read(d / "log.csv"), read(d / "eval.csv"))

    def __repr__(self) -> str:
        return f"TrainingLog({len(self.episodes)} episodes, {len(self.evals)} evaluations)"


# ------------------------------------------------------------------------ evaluation
def evaluate_episodes(
    agent: DQNAgent,
    env: gym.Env | Sequence[gym.Env],
    episodes: int,
    seed: int | None = None,
    epsilon: float = 0.0,
) -> list[dict[str, float]]:
    """Run ``episodes`` full episodes with the (near-)greedy policy; one dict per episode.

    Introduced in lesson 05. ``env`` may be a list of envs: they run side by side with one batched
    forward pass per step, each env playing a fixed share of the episodes (no bias towards short
    ones). Episode ``i`` is reset with ``seed + i`` when a seed is given. Rows hold ``return``,
    ``length``, ``points_won`` and ``points_lost`` (sums of positive / negative rewards).
    """
    if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1:
        raise ValueError(f"episodes must be a positive int, got {episodes!r}.")
    envs = list(env) if isinstance(env, (list, tuple)) else [env]
    if not envs:
        raise ValueError("env must be an environment or a non-empty list of environments.")
    n_par = min(len(envs), episodes)
    results: list[dict[str, float] | None] = [None] * episodes
    # active slots: [env index, episode index, obs, return, length, won, lost]
    active: list[list[Any]] = []
    for j in range(n_par):
        obs, _ = envs[j].reset(seed=None if seed is None else seed + j)
        active.append([j, j, obs, 0.0, 0, 0.0, 0.0])
    while active:
        obs_batch = np.stack([slot[2] for slot in active])
        actions = agent.act_batch(obs_batch, epsilon)
        still: list[list[Any]] = []
        for slot, action in zip(active, actions):
            j, ep = slot[0], slot[1]
            obs, reward, terminated, truncated, _ = envs[j].step(int(action))
            r = float(reward)
            slot[2] = obs
            slot[3] += r
            slot[4] += 1
            if r > 0:
                slot[5] += r
            elif r < 0:
                slot[6] -= r
            if terminated or truncated:
                results[ep] = {
                    "return": slot[3], "length": slot[4], "points_won": slot[5], "points_lost": slot[6],
                }
                nxt = ep + n_par
                if nxt < episodes:
                    obs, _ = envs[j].reset(seed=None if seed is None else seed + nxt)
                    still.append([j, nxt, obs, 0.0, 0, 0.0, 0.0])
            else:
                still.append(slot)
        active = still
    return [r for r in results if r is not None]


def evaluate(
    agent: DQNAgent,
    env: gym.Env | Sequence[gym.Env],
    episodes: int,
    seed: int | None = None,
    epsilon: float = 0.0,
) -> tuple[float, float, list[float]]:
    """Greedy evaluation: ``(mean return, std, per-episode returns)`` over ``episodes`` episodes.

    Introduced in lesson 05. Always on an env that is not the training env, never training returns.
    """
    rows = evaluate_episodes(agent, env, episodes, seed=seed, epsilon=epsilon)
    returns = [r["return"] for r in rows]
    return float(np.mean(returns)), float(np.std(returns)), returns


# -------------------------------------------------------------------------- training
@dataclass
class TrainResult:
    """What ``train`` returns: the trained agent, its log, the best eval mean and the run folder."""

    agent: DQNAgent
    log: TrainingLog
    best_eval: float | None
    out_dir: Path | None


# Fields that may differ between a checkpoint and the config used to resume it.
_RESUMABLE_CHANGES = {"total_steps", "eval_every", "eval_episodes", "checkpoint_every", "device"}


def _divergence_message(config: DQNConfig, agent: DQNAgent, step: int, m: dict[str, Any], ckpt: Path | None) -> str:
    causes = [f"the learning rate is too high (now {agent.learning_rate:g}; try 1e-4 to 1e-3)"]
    if config.loss == "mse":
        causes.append("the MSE loss turns large TD errors into huge gradients (use loss='huber')")
    if config.max_grad_norm is None:
        causes.append("there is no gradient clipping (set max_grad_norm=10)")
    if not atari.is_atari_id(config.env_id):
        causes.append("rewards are large and not clipped or scaled")
    where = (
        f" The last good checkpoint {ckpt} was left untouched."
        if ckpt is not None and ckpt.exists() else ""
    )
    return (
        f"training diverged at step {step} (gradient step {agent.updates}): loss={m['loss']:.3g}, "
        f"mean max Q={m['mean_max_q']:.3g}, grad norm={m['grad_norm']:.3g}. Likely causes: "
        + "; ".join(causes) + "." + where
    )


def _check_resume_config(saved: DQNConfig, given: DQNConfig) -> None:
    a, b = saved.to_dict(), given.to_dict()
    diffs = [f"{k} (checkpoint {a[k]!r}, now {b[k]!r})" for k in a if k not in _RESUMABLE_CHANGES and a[k] != b[k]]
    if diffs:
        raise ValueError(
            "cannot resume: the config differs from the checkpoint's in " + "; ".join(diffs)
            + f". Only {sorted(_RESUMABLE_CHANGES)} may change on resume; use a new out_dir for a new run."
        )


class _StreamBuffers:
    """One replay buffer per environment of a vector env, sampled as one (lesson 07, num_envs > 1).

    Each buffer holds one sequential stream (n-step windows and frame stacks never mix envs). A
    batch takes an equal share from every buffer: uniform over all transitions, since the envs
    step in lockstep and the buffers fill equally. With PER, priorities are per buffer.
    """

    def __init__(self, parts: list[Any]) -> None:
        self.parts = parts
        self._sizes: list[int] = []

    def __len__(self) -> int:
        return min(len(b) for b in self.parts) * len(self.parts)

    def sample(self, batch_size: int) -> Any:
        n = len(self.parts)
        self._sizes = [batch_size // n + (i < batch_size % n) for i in range(n)]
        batches = [b.sample(k) for b, k in zip(self.parts, self._sizes) if k > 0]
        return type(batches[0])(*(torch.cat(field) for field in zip(*batches)))

    def update_priorities(self, indices: torch.Tensor, td_errors: torch.Tensor) -> None:
        sizes = [k for k in self._sizes if k > 0]
        for b, idx, td in zip(self.parts, indices.split(sizes), td_errors.split(sizes)):
            b.update_priorities(idx, td)

    @property
    def beta(self) -> float:
        return self.parts[0].beta

    @beta.setter
    def beta(self, value: float) -> None:
        for b in self.parts:
            b.beta = value


def train(
    config: DQNConfig,
    *,
    out_dir: str | os.PathLike[str] | None = None,
    callbacks: Iterable[Callback] = (),
    progress: bool = True,
    resume: bool = False,
    env: gym.Env | None = None,
    eval_env: gym.Env | Sequence[gym.Env] | None = None,
    init_from: str | os.PathLike[str] | None = None,
) -> TrainResult:
    """Train a DQN agent as ``config`` says; returns ``TrainResult(agent, log, best_eval, out_dir)``.

    Introduced in lesson 05. Every ``eval_every`` steps the greedy policy plays ``eval_episodes``
    episodes on separate envs. ``callbacks`` are called as ``cb(event, log, agent)`` with event in
    {"episode", "eval", "end"}; a callback that returns True stops training early. With ``out_dir``
    the run writes config.json, log.csv, eval.csv, checkpoint.pt (periodic + final) and best.pt
    (best evaluation so far); ``resume=True`` continues from ``out_dir/checkpoint.pt``. With
    ``config.num_envs > 1`` the loop steps a Gymnasium vector env and picks all actions with one
    batched forward pass (lesson 07). ``init_from`` (a checkpoint file or run folder, e.g. the
    shipped Pong agent) starts a *new* run from that network's weights instead of a random
    initialisation (fine-tuning, lesson 07): online and target networks both get them; the
    optimizer, schedules, buffer and step count start fresh. It cannot be combined with a resume.
    """
    if not isinstance(config, DQNConfig):
        raise TypeError(f"config must be a DQNConfig, got {type(config).__name__}.")
    n_envs = config.num_envs
    if n_envs > 1 and env is not None:
        raise ValueError(f"num_envs={n_envs} builds its own vector env; do not pass env= as well.")
    callbacks = list(callbacks)
    init_ckpt: dict[str, Any] | None = None
    if init_from is not None:
        init_path = checkpoints.resolve_checkpoint_path(init_from, "final")
        if not init_path.exists():
            raise FileNotFoundError(
                f"init_from={str(init_from)!r}: no such checkpoint. Give a .pt file (e.g. "
                "checkpoints/pong_pretrained.pt) or a run folder that holds checkpoint.pt."
            )
        init_ckpt = checkpoints.load_checkpoint(init_path)
    out = Path(out_dir) if out_dir is not None else None
    ckpt_path = out / "checkpoint.pt" if out is not None else None

    def note(msg: str) -> None:
        if progress:
            from tqdm.auto import tqdm as _tqdm

            _tqdm.write(msg)
        if out is not None:
            with open(out / "train_notes.txt", "a") as f:
                f.write(msg + "\n")

    ckpt: dict[str, Any] | None = None
    min_buffer = config.batch_size  # transitions the buffer must hold before an update
    schedule_steps = config.total_steps  # the horizon of the ε, learning-rate and β schedules
    if resume:
        if out is None:
            raise ValueError("resume=True needs out_dir: the folder that holds checkpoint.pt.")
        if ckpt_path is not None and ckpt_path.exists():
            ckpt = checkpoints.load_checkpoint(ckpt_path)
            if ckpt.get("exported"):
                raise checkpoints.CheckpointError(
                    f"{ckpt_path} is an exported agent (checkpoints.export_agent): it holds the "
                    "network only, without the optimizer and schedules a resume needs. Resume from "
                    "the run's own checkpoint.pt, or start a new run."
                )
            if init_ckpt is not None:
                raise ValueError(
                    f"init_from is for a new run, but {ckpt_path} exists and resume=True would "
                    "continue it. Drop init_from to resume, or choose a new out_dir to fine-tune."
                )
            saved_config = DQNConfig.from_dict(ckpt["config"])
            _check_resume_config(saved_config, config)
            # A run extended on resume keeps its original ε / learning-rate / β schedules: they
            # have ended (or go on) exactly as before, instead of being stretched to the new length.
            schedule_steps = saved_config.total_steps
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n")
        if resume and ckpt is None:
            note(f"resume: no checkpoint.pt in {out}, starting a fresh run.")

    # ---- build everything
    env_given = env is not None
    venv: Any = None
    if n_envs > 1:
        fns = [functools.partial(_make_env_from_config, config, config.seed + i) for i in range(n_envs)]
        vector_cls = gym.vector.AsyncVectorEnv if atari.is_atari_id(config.env_id) else gym.vector.SyncVectorEnv
        venv = vector_cls(fns, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
        obs_space, act_space = venv.single_observation_space, venv.single_action_space
        if not isinstance(act_space, gym.spaces.Discrete):
            venv.close()
            raise ValueError(f"{config.env_id} has action space {act_space}; DQN needs Discrete.")
    else:
        if env is None:
            env = _make_env_from_config(config, config.seed)
        elif not isinstance(env.action_space, gym.spaces.Discrete):
            raise ValueError(
                f"env has action space {env.action_space}, but DQN needs a Discrete action space."
            )
        obs_space, act_space = env.observation_space, env.action_space
    obs_shape = tuple(obs_space.shape or ())
    n_actions = int(act_space.n)
    agent = DQNAgent(config.replace(total_steps=schedule_steps), obs_shape, n_actions)
    frames = len(obs_shape) == 3

    def new_buffer(capacity: int, seed: int) -> Any:
        return buffers.make_buffer(
            capacity, obs_shape, np.uint8 if frames else np.float32, frames=frames,
            prioritized=config.prioritized, alpha=config.per_alpha, beta=config.per_beta,
            n_step=config.n_step, gamma=config.gamma, device=agent.device, seed=seed,
        )

    if n_envs > 1:
        per_env = max(config.buffer_size // n_envs, config.batch_size)
        buffer: Any = _StreamBuffers([new_buffer(per_env, config.seed + 1 + i) for i in range(n_envs)])
    else:
        buffer = new_buffer(config.buffer_size, config.seed + 1)

    eval_envs: list[gym.Env] | None = None
    if eval_env is not None:
        eval_envs = list(eval_env) if isinstance(eval_env, (list, tuple)) else [eval_env]

    def get_eval_envs() -> list[gym.Env]:
        nonlocal eval_envs
        if eval_envs is None:
            n = min(config.eval_episodes, 8 if frames else 32)
            if env_given:
                spec_id = env.spec.id if env.spec is not None else None
                eval_envs = [make_env(spec_id) if spec_id else copy.deepcopy(env) for _ in range(n)]
            else:
                eval_envs = [_make_env_from_config(config, None, for_eval=True) for _ in range(n)]
        return eval_envs

    # An env whose state can be pickled (classic control) resumes exactly, buffer included;
    # Atari and vector envs restart their episodes on resume and refill the buffer.
    exact_resume = n_envs == 1 and not env_given and not atari.is_atari_id(config.env_id)

    log = TrainingLog()
    step, episode = 0, 0
    best_eval: float | None = None
    elapsed_before = 0.0
    sums = [0.0, 0.0, 0.0, 0.0]  # loss, mean max Q, |δ|, grad norm summed over this episode's updates
    n_updates_ep = 0
    obs: Any = None
    ep_return, ep_len = 0.0, 0
    if ckpt is not None:
        checkpoints.restore_agent(ckpt, agent)
        log = TrainingLog.from_dict(ckpt["log"] or {})
        step, episode = int(ckpt["step"]), int(ckpt["episode"])
        loop = ckpt["extra"].get("loop", {})
        best_eval = loop.get("best_eval")
        elapsed_before = float(loop.get("elapsed", 0.0))
        checkpoints.restore_rng_states(ckpt["rng"])
        env_bytes = loop.get("env_pickle") if exact_resume else None
        if env_bytes is not None:
            try:
                restored = pickle.loads(env_bytes)
                env.close()
                env = restored
                obs, ep_return, ep_len = loop["obs"], float(loop["ep_return"]), int(loop["ep_len"])
                sums = [float(x) for x in loop.get("metric_sums", sums)]
                n_updates_ep = int(loop.get("metric_count", 0))
            except Exception as exc:  # noqa: BLE001 - fall back to a fresh episode
                note(f"resume: could not restore the environment ({exc}); starting new episodes.")
                obs = None
        if obs is None:
            note(f"resume at step {step}: the episode(s) in progress were dropped; new ones start.")
        if obs is not None and ckpt.get("buffer") is not None:
            buffer.load_state_dict(ckpt["buffer"])
        else:
            # An empty buffer refills before updates resume, as at the start of a run.
            refill_min = min_buffer = max(config.batch_size, config.learning_starts)
            note(
                f"resume at step {step}: the checkpoint holds no replay buffer, so it starts empty "
                f"and refills (updates resume after {refill_min} new transitions)."
            )
        note(f"resumed from {ckpt_path} at step {step} (episode {episode}).")
    elif init_ckpt is not None:
        checkpoints.restore_agent(checkpoints.weights_only(init_ckpt), agent)
        note(
            f"initialised the online and target networks from {init_from} (step "
            f"{int(init_ckpt['step']):,} of the run that trained it); everything else starts fresh."
        )
    if obs is None:
        reset_seed = config.seed if ckpt is None else config.seed + 7919 * (episode + 1)
        if venv is not None:
            obs, _ = venv.reset(seed=[reset_seed + i for i in range(n_envs)])
        else:
            obs, _ = env.reset(seed=reset_seed)

    # ---- schedules
    eps_linear = schedules.LinearSchedule(
        config.epsilon_start, config.epsilon_end, max(1, int(config.epsilon_fraction * schedule_steps))
    )
    eps_episode = (
        schedules.ExponentialSchedule(config.epsilon_start, config.epsilon_end, config.epsilon_decay)
        if config.epsilon_decay is not None else None
    )
    epsilon = eps_episode(episode) if eps_episode else eps_linear(step)

    total = config.total_steps
    learning_starts = max(config.learning_starts, config.batch_size)
    train_freq, gradient_steps, batch_size = config.train_freq, config.gradient_steps, config.batch_size
    target_update = config.target_update
    eval_every, ckpt_every = config.eval_every, config.checkpoint_every
    prioritized = config.prioritized
    anneal_lr = config.lr_end is not None
    t0 = time.perf_counter()
    stop = False

    from tqdm.auto import tqdm

    bar = tqdm(total=total, initial=step, disable=not progress, unit="step", dynamic_ncols=True,
               desc=config.env_id, mininterval=0.5)

    def elapsed() -> float:
        return elapsed_before + time.perf_counter() - t0

    def fire(event: str) -> None:
        nonlocal stop
        for cb in callbacks:
            if cb(event, log, agent) is True:
                stop = True

    def save(path: Path, with_buffer: bool) -> None:
        if not agent.parameters_finite():
            nan = {"loss": math.nan, "mean_max_q": math.nan, "grad_norm": math.nan}
            raise TrainingDivergedError(_divergence_message(config, agent, step, nan, ckpt_path))
        loop_state: dict[str, Any] = {"best_eval": best_eval, "elapsed": elapsed()}
        keep_buffer = False
        if exact_resume and with_buffer:
            try:
                loop_state["env_pickle"] = pickle.dumps(env)
                loop_state.update(obs=obs, ep_return=ep_return, ep_len=ep_len,
                                  metric_sums=list(sums), metric_count=n_updates_ep)
                keep_buffer = config.save_buffer
            except Exception:  # noqa: BLE001 - an unpicklable env just restarts its episode
                pass
        checkpoints.save_checkpoint(
            path, agent=agent, config=config, step=step, episode=episode, log=log,
            buffer=buffer if keep_buffer else None, extra={"loop": loop_state},
        )

    def run_eval() -> None:
        nonlocal best_eval
        mean, std, returns = evaluate(agent, get_eval_envs(), config.eval_episodes,
                                      seed=config.seed + 100_000)
        log.evals.append({"step": step, "mean_return": mean, "std_return": std,
                          "episodes": len(returns)})
        improved = best_eval is None or mean > best_eval
        if improved:
            best_eval = mean
        if out is not None:
            log.to_csv(out)
            if improved:
                save(out / "best.pt", with_buffer=False)
        bar.set_postfix(ret=f"{ep_return_last:.1f}", eval=f"{mean:.1f}", eps=f"{epsilon:.3f}",
                        refresh=False)
        fire("eval")

    def end_episode(ret: float, length: int) -> None:
        nonlocal episode, sums, n_updates_ep, ep_return_last, epsilon
        episode += 1
        if n_updates_ep:
            k = n_updates_ep
            metrics = [sums[0] / k, sums[1] / k, sums[2] / k, sums[3] / k]
        else:
            metrics = [math.nan] * 4
        log.episodes.append({
            "step": step, "episode": episode, "episode_return": float(ret),
            "episode_length": int(length), "loss": metrics[0], "mean_max_q": metrics[1],
            "td_error": metrics[2], "grad_norm": metrics[3], "epsilon": epsilon,
            "learning_rate": agent.learning_rate, "time": elapsed(),
        })
        sums = [0.0, 0.0, 0.0, 0.0]
        n_updates_ep = 0
        ep_return_last = float(ret)
        if eps_episode is not None:
            epsilon = eps_episode(episode)
        bar.update(step - bar.n)
        bar.set_postfix(ret=f"{ep_return_last:.1f}",
                        eval="-" if not log.evals else f"{log.evals[-1]['mean_return']:.1f}",
                        eps=f"{epsilon:.3f}", refresh=False)
        if callbacks:
            fire("episode")

    def learn_burst(n_updates: int) -> None:
        # Steps 3–4: sample minibatches and take gradient steps.
        nonlocal n_updates_ep
        if anneal_lr:
            agent.set_learning_rate(agent.learning_rate_at(step))
        if prioritized:
            buffer.beta = config.per_beta + (1.0 - config.per_beta) * min(1.0, step / schedule_steps)
        for _ in range(n_updates):
            batch = buffer.sample(batch_size)
            m = agent.learn(batch)
            if not (math.isfinite(m["loss"]) and math.isfinite(m["mean_max_q"])
                    and math.isfinite(m["grad_norm"])):
                raise TrainingDivergedError(_divergence_message(config, agent, step, m, ckpt_path))
            if prioritized:
                buffer.update_priorities(batch.indices, m["td_errors"])
            sums[0] += m["loss"]
            sums[1] += m["mean_max_q"]
            sums[2] += m["td_error"]
            sums[3] += m["grad_norm"]
            n_updates_ep += 1

    def periodic(prev: int) -> None:
        # Step 5 (hard target copies; soft updates happen inside agent.learn), evals, checkpoints.
        if target_update and step // target_update != prev // target_update:
            agent.update_target()
        if eval_every and step // eval_every != prev // eval_every:
            bar.update(step - bar.n)
            run_eval()
        if ckpt_every and out is not None and step // ckpt_every != prev // ckpt_every:
            log.to_csv(out)
            save(ckpt_path, with_buffer=True)  # type: ignore[arg-type]
        if step // 1000 != prev // 1000:
            bar.update(step - bar.n)

    ep_return_last = log.episodes[-1]["episode_return"] if log.episodes else math.nan
    try:
        if venv is None:
            # ------------------------------------------------ one environment, one step at a time
            while step < total and not stop:
                # Step 1: act ε-greedily.  Step 2: store the transition.
                action = agent.act(obs, epsilon)
                next_obs, reward, terminated, truncated, _ = env.step(action)
                buffer.add(obs, action, reward, next_obs, terminated, truncated)
                step += 1
                ep_return += reward
                ep_len += 1
                obs = next_obs
                if terminated or truncated:
                    end_episode(ep_return, ep_len)
                    ep_return, ep_len = 0.0, 0
                    obs, _ = env.reset()
                if eps_episode is None:
                    epsilon = eps_linear(step)
                if step >= learning_starts and step % train_freq == 0 and len(buffer) >= min_buffer:
                    learn_burst(gradient_steps)
                # cheap inline test first: periodic() only when a period boundary is crossed
                if ((target_update and step % target_update == 0) or (eval_every and step % eval_every == 0)
                        or (ckpt_every and step % ckpt_every == 0) or step % 1000 == 0):
                    periodic(step - 1)
        else:
            # ---------------------------------- a vector of envs: one batched forward for all actions
            returns = np.zeros(n_envs)
            lengths = np.zeros(n_envs, dtype=np.int64)
            owed = 0.0  # gradient steps due (num_envs agent steps per vector step)
            while step < total and not stop:
                actions = agent.act_batch(obs, epsilon)
                next_obs, rewards, terms, truncs, infos = venv.step(actions)
                done = np.logical_or(terms, truncs)
                final = infos.get("final_obs") if done.any() else None
                for i in range(n_envs):
                    nxt = final[i] if done[i] else next_obs[i]
                    buffer.parts[i].add(obs[i], int(actions[i]), float(rewards[i]), nxt,
                                        bool(terms[i]), bool(truncs[i]))
                prev = step
                step += n_envs
                returns += rewards
                lengths += 1
                obs = next_obs
                for i in np.flatnonzero(done):
                    end_episode(float(returns[i]), int(lengths[i]))
                    returns[i], lengths[i] = 0.0, 0
                if eps_episode is None:
                    epsilon = eps_linear(step)
                if step >= learning_starts and len(buffer) >= min_buffer:
                    owed += n_envs * gradient_steps / train_freq
                    if owed >= 1.0:
                        k = int(owed)
                        owed -= k
                        learn_burst(k)
                periodic(prev)
    except BaseException as exc:
        bar.close()
        if isinstance(exc, TrainingDivergedError) and out is not None:
            log.to_csv(out)  # the log up to the blow-up, for plotting; checkpoint.pt untouched
        raise
    finally:
        if venv is not None:
            venv.close()

    # ---- the end: a final evaluation of the final network, then the final checkpoint
    if eval_every and (not log.evals or log.evals[-1]["step"] != step):
        run_eval()
    bar.update(step - bar.n)
    bar.close()
    if out is not None:
        log.to_csv(out)
        save(ckpt_path, with_buffer=True)  # type: ignore[arg-type]
    fire("end")
    if not env_given and env is not None:
        env.close()
    if eval_env is None and eval_envs is not None:
        for e in eval_envs:
            e.close()
    return TrainResult(agent=agent, log=log, best_eval=best_eval, out_dir=out)
