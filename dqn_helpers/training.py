"""The DQN training loop: environment + agent + replay buffer + logging + evaluation + checkpoints.

Introduced in lesson 05 (CartPole); the same loop trains Pong in lesson 10. ``train`` follows the
algorithm's steps: (1) act ε-greedily, (2) store the transition, (3) sample a minibatch,
(4) take a gradient step on the TD error, (5) refresh the target network. ``run_seeds`` trains
one config over several seeds in worker processes.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import os
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from dqn_helpers import atari, buffers, checkpoints, envs, evaluation, losses, schedules
from dqn_helpers.agents import DQNAgent
from dqn_helpers.config import DQNConfig
from dqn_helpers.logs import TrainingLog

__all__ = [
    "Preflight",
    "compare",
    "TrainResult",
    "TrainingDivergedError",
    "preflight",
    "run_seeds",
    "train",
]

Callback = Callable[[str, TrainingLog, DQNAgent], Any]

# Fields that may differ between a checkpoint and the config used to resume it.
_RESUMABLE_CHANGES = {"total_steps", "eval_every", "eval_episodes", "checkpoint_every", "device"}
# What a finished or interrupted run leaves in its folder (removed by overwrite=True).
_RUN_FILES = ("checkpoint.pt", "best.pt", "log.csv", "eval.csv", "config.json", "train_notes.txt")


class TrainingDivergedError(RuntimeError):
    """The loss or the Q-values became NaN/inf: training blew up (lesson 05 shows the causes)."""


@dataclass
class TrainResult:
    """What ``train`` returns: the trained agent, its log, the best eval mean and the run folder."""

    agent: DQNAgent
    log: TrainingLog
    best_eval: float | None
    out_dir: Path | None


# --------------------------------------------------------------------------- the steps
def train(
    config: DQNConfig,
    *,
    out_dir: str | os.PathLike[str] | None = None,
    callbacks: Iterable[Callback] = (),
    progress: bool = True,
    resume: bool = False,
    overwrite: bool = False,
    env: gym.Env | None = None,
    eval_env: gym.Env | Sequence[gym.Env] | None = None,
    init_from: str | os.PathLike[str] | None = None,
) -> TrainResult:
    """Train a DQN agent as ``config`` says; returns ``TrainResult(agent, log, best_eval, out_dir)``.

    Introduced in lesson 05. Every ``eval_every`` steps the greedy policy plays ``eval_episodes``
    episodes on separate envs. ``callbacks`` are called as ``cb(event, log, agent)`` with event in
    {"episode", "eval", "end"}; a callback that returns True stops training early.

    With ``out_dir`` the run writes config.json, log.csv, eval.csv, checkpoint.pt (periodic and
    final) and best.pt (best evaluation so far). ``resume=True`` continues from
    ``out_dir/checkpoint.pt``; a folder that already holds a run is never replaced silently:
    pass ``resume=True`` to continue it or ``overwrite=True`` to start it again. With
    ``config.num_envs > 1`` the loop steps a Gymnasium vector env and picks all actions with one
    batched forward pass (lesson 10). ``init_from`` (a checkpoint file or run folder, e.g. the
    shipped Pong agent) starts a *new* run from that network's weights (fine-tuning, lesson 10).
    """
    run = _Run(
        config,
        out_dir=out_dir,
        callbacks=callbacks,
        progress=progress,
        resume=resume,
        overwrite=overwrite,
        env=env,
        eval_env=eval_env,
        init_from=init_from,
    )
    try:
        while run.step < config.total_steps and not run.stop:
            before = run.step
            run.collect()  # Steps 1–2: act ε-greedily, store the transitions
            run.learn(before)  # Steps 3–4: sample minibatches, gradient steps on the TD error
            run.periodic(before)  # Step 5 (hard target copies), evaluations, checkpoints
    except BaseException as exc:
        run.abort(exc)
        raise
    run.finish()
    return TrainResult(agent=run.agent, log=run.log, best_eval=run.best_eval, out_dir=run.out)


# ------------------------------------------------------------------- the environments
class _SingleEnv:
    """One environment stepped one agent step at a time (the plain DQN loop)."""

    n = 1

    def __init__(self, env: gym.Env) -> None:
        self.env = env
        self.obs: Any = None
        self.ret, self.length = 0.0, 0
        self.reward_max = 0.0  # the largest |reward| seen (for the Q-value bound)

    def reset(self, seed: int) -> None:
        self.obs, _ = self.env.reset(seed=seed)
        self.ret, self.length = 0.0, 0

    def step(self, agent: DQNAgent, epsilon: float, buffer: Any) -> list[tuple[float, int]]:
        """Act, store the transition, and return the episode that ended here (if any)."""
        action = agent.act(self.obs, epsilon)
        next_obs, reward, terminated, truncated, _ = self.env.step(action)
        buffer.add(self.obs, action, reward, next_obs, terminated, truncated)
        if abs(reward) > self.reward_max:
            self.reward_max = abs(float(reward))
        self.ret += reward
        self.length += 1
        self.obs = next_obs
        if not (terminated or truncated):
            return []
        finished = [(float(self.ret), self.length)]
        self.reset(seed=None)  # type: ignore[arg-type]
        return finished

    def state(self) -> dict[str, Any] | None:
        """The episode in progress as plain data, for an exact resume (None when it has more)."""
        env_state = envs.env_state(self.env)
        if env_state is None:
            return None
        return {
            "env_state": env_state,
            "obs": self.obs,
            "ep_return": self.ret,
            "ep_len": self.length,
        }

    def restore(self, state: dict[str, Any]) -> None:
        envs.restore_env_state(self.env, state["env_state"])
        self.obs, self.ret, self.length = (
            state["obs"],
            float(state["ep_return"]),
            int(state["ep_len"]),
        )

    def close(self) -> None:
        self.env.close()


class _VectorEnv:
    """``num_envs`` environments stepped together, one batched forward pass for all actions."""

    def __init__(self, config: DQNConfig) -> None:
        self.n = config.num_envs
        fns = [functools.partial(envs.make_env_for, config, config.seed + i) for i in range(self.n)]
        vector_cls = (
            gym.vector.AsyncVectorEnv
            if atari.is_atari_id(config.env_id)
            else gym.vector.SyncVectorEnv
        )
        self.env = vector_cls(fns, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
        self.obs: Any = None
        self.returns = np.zeros(self.n)
        self.lengths = np.zeros(self.n, dtype=np.int64)
        self.reward_max = 0.0  # the largest |reward| seen (for the Q-value bound)

    def reset(self, seed: int) -> None:
        self.obs, _ = self.env.reset(seed=[seed + i for i in range(self.n)])
        self.returns[:], self.lengths[:] = 0.0, 0

    def step(
        self, agent: DQNAgent, epsilon: float, buffer: buffers.StreamBuffers
    ) -> list[tuple[float, int]]:
        actions = agent.act_batch(self.obs, epsilon)
        next_obs, rewards, terms, truncs, infos = self.env.step(actions)
        done = np.logical_or(terms, truncs)
        final = infos.get("final_obs") if done.any() else None
        for i in range(self.n):  # each env's stream goes to its own buffer
            nxt = final[i] if done[i] else next_obs[i]
            buffer.parts[i].add(
                self.obs[i],
                int(actions[i]),
                float(rewards[i]),
                nxt,
                bool(terms[i]),
                bool(truncs[i]),
            )
        self.reward_max = max(self.reward_max, float(np.abs(rewards).max()))
        self.returns += rewards
        self.lengths += 1
        self.obs = next_obs
        finished = [(float(self.returns[i]), int(self.lengths[i])) for i in np.flatnonzero(done)]
        self.returns[done], self.lengths[done] = 0.0, 0
        return finished

    def state(self) -> None:
        return None  # vector envs restart their episodes on resume

    def close(self) -> None:
        self.env.close()


# ------------------------------------------------------------------- metrics of a run
@dataclass
class _UpdateMetrics:
    """The update metrics summed over one episode's gradient steps (logged as their means)."""

    loss: float = 0.0
    mean_max_q: float = 0.0
    td_error: float = 0.0
    grad_norm: float = 0.0
    count: int = 0

    def add(self, m: dict[str, Any]) -> None:
        self.loss += m["loss"]
        self.mean_max_q += m["mean_max_q"]
        self.td_error += m["td_error"]
        self.grad_norm += m["grad_norm"]
        self.count += 1

    def means(self) -> dict[str, float]:
        k = self.count
        names = ("loss", "mean_max_q", "td_error", "grad_norm")
        return {name: getattr(self, name) / k if k else math.nan for name in names}


def _diverged(m: dict[str, Any]) -> bool:
    return not (
        math.isfinite(m["loss"])
        and math.isfinite(m["mean_max_q"])
        and math.isfinite(m["grad_norm"])
    )


def _divergence_message(
    config: DQNConfig, agent: DQNAgent, step: int, m: dict[str, Any], ckpt: Path | None
) -> str:
    causes = [f"the learning rate is too high (now {agent.learning_rate:g}; try 1e-4 to 1e-3)"]
    if config.loss == "mse":
        causes.append("the MSE loss turns large TD errors into huge gradients (use loss='huber')")
    if config.max_grad_norm is None:
        causes.append("there is no gradient clipping (set max_grad_norm=10)")
    if config.target_update == 0 and config.tau >= 0.5:
        causes.append(f"the soft target update tau={config.tau} makes the target follow too fast")
    where = (
        f" The last good checkpoint {ckpt} was left untouched."
        if ckpt is not None and ckpt.exists()
        else ""
    )
    return (
        f"training diverged at step {step} (gradient step {agent.updates}): loss={m['loss']:.3g}, "
        f"mean max Q={m['mean_max_q']:.3g}, grad norm={m['grad_norm']:.3g}. Likely causes: "
        + "; ".join(causes)
        + "."
        + where
    )


# --------------------------------------------------------------------------- setting up
def _check_resume_config(saved: DQNConfig, given: DQNConfig) -> None:
    a, b = saved.to_dict(), given.to_dict()
    diffs = [
        f"{k} (checkpoint {a[k]!r}, now {b[k]!r})"
        for k in a
        if k not in _RESUMABLE_CHANGES and a[k] != b[k]
    ]
    if diffs:
        raise ValueError(
            "cannot resume: the config differs from the checkpoint's in "
            + "; ".join(diffs)
            + f". Only {sorted(_RESUMABLE_CHANGES)} may change on resume; use a new out_dir for a new run."
        )


def _load_resume_checkpoint(config: DQNConfig, path: Path, from_init: bool) -> dict[str, Any]:
    ckpt = checkpoints.load_checkpoint(path)
    if ckpt.get("exported"):
        raise checkpoints.CheckpointError(
            f"{path} is an exported agent (checkpoints.export_agent): it holds the network only, "
            "without the optimizer and schedules a resume needs. Resume from the run's own "
            "checkpoint.pt, or start a new run."
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
    init_ckpt = _load_init_checkpoint(init_from) if init_from is not None else None
    resume_ckpt, horizon = None, config.total_steps
    ckpt_path = out / "checkpoint.pt" if out is not None else None
    if ckpt_path is not None and ckpt_path.exists():
        if not (resume or overwrite):
            raise FileExistsError(
                f"{out} already holds a run (checkpoint.pt). Use resume=True (--resume) to "
                "continue it, overwrite=True (--overwrite) to replace it, or a new out_dir."
            )
        if resume:
            resume_ckpt = _load_resume_checkpoint(config, ckpt_path, init_ckpt is not None)
            horizon = DQNConfig.from_dict(resume_ckpt["config"]).total_steps
    return Preflight(out, resume_ckpt, init_ckpt, horizon)


def _prepare_out_dir(out: Path, resume: bool, overwrite: bool) -> None:
    if overwrite and not resume:
        for name in _RUN_FILES:
            (out / name).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)


def _make_buffer(config: DQNConfig, obs_shape: tuple[int, ...], n_envs: int, device: Any) -> Any:
    frames = len(obs_shape) == 3

    def new_buffer(capacity: int, seed: int) -> Any:
        return buffers.make_buffer(
            capacity,
            obs_shape,
            np.uint8 if frames else np.float32,
            frames=frames,
            prioritized=config.prioritized,
            alpha=config.per_alpha,
            beta=config.per_beta,
            n_step=config.n_step,
            gamma=config.gamma,
            device=device,
            seed=seed,
        )

    if n_envs == 1:
        return new_buffer(config.buffer_size, config.seed + 1)
    per_env = max(config.buffer_size // n_envs, config.batch_size)
    return buffers.StreamBuffers([new_buffer(per_env, config.seed + 1 + i) for i in range(n_envs)])


def _make_stepper(config: DQNConfig, env: gym.Env | None) -> _SingleEnv | _VectorEnv:
    if config.num_envs > 1:
        if env is not None:
            raise ValueError(
                f"num_envs={config.num_envs} builds its own vector env; do not pass env= as well."
            )
        stepper = _VectorEnv(config)
        space = stepper.env.single_action_space
        if not isinstance(space, gym.spaces.Discrete):
            stepper.close()
            raise ValueError(f"{config.env_id} has action space {space}; DQN needs Discrete.")
        return stepper
    if env is None:
        env = envs.make_env_for(config, config.seed)
    elif not isinstance(env.action_space, gym.spaces.Discrete):
        raise ValueError(
            f"env has action space {env.action_space}, but DQN needs a Discrete action space."
        )
    return _SingleEnv(env)


# ---------------------------------------------------------------------------- the run
class _Run:
    """Everything one training run holds; ``train`` calls its steps in order."""

    def __init__(
        self,
        config: DQNConfig,
        *,
        out_dir: Any,
        callbacks: Iterable[Callback],
        progress: bool,
        resume: bool,
        overwrite: bool,
        env: gym.Env | None,
        eval_env: Any,
        init_from: Any,
    ) -> None:
        self.config = config
        self.callbacks = list(callbacks)
        self.progress = progress
        start = preflight(
            config, out_dir=out_dir, resume=resume, overwrite=overwrite, init_from=init_from
        )
        self.out = start.out
        self.ckpt_path = self.out / "checkpoint.pt" if self.out is not None else None
        self._open_folder(resume, overwrite, found_checkpoint=start.resume_from is not None)
        self._build(env, eval_env, start.horizon)

        self.log = TrainingLog()
        self.step, self.episode = 0, 0
        self.best_eval: float | None = None
        self.metrics = _UpdateMetrics()
        self.min_buffer = config.batch_size  # transitions the buffer must hold before an update
        self.elapsed_before = 0.0
        self.stop = False
        self.q_warned = False
        episode_restored = False
        if start.resume_from is not None:
            episode_restored = self._restore(start.resume_from)
        elif start.init_from is not None:
            checkpoints.restore_agent(checkpoints.weights_only(start.init_from), self.agent)
            self.note(
                f"initialised the online and target networks from {init_from} (step "
                f"{int(start.init_from['step']):,} of the run that trained it); everything "
                "else starts fresh."
            )
        if not episode_restored:
            resumed = start.resume_from is not None
            self.stepper.reset(config.seed + 7919 * (self.episode + 1) if resumed else config.seed)
        self.epsilon = self.schedules.epsilon(self.step, self.episode)
        self.learning_starts = max(config.learning_starts, config.batch_size)
        self.last_return = (
            self.log.episodes[-1]["episode_return"] if self.log.episodes else math.nan
        )
        self.t0 = time.perf_counter()

        from tqdm.auto import tqdm

        self.bar = tqdm(
            total=config.total_steps,
            initial=self.step,
            disable=not progress,
            unit="step",
            dynamic_ncols=True,
            desc=config.env_id,
            mininterval=0.5,
        )

    def _open_folder(self, resume: bool, overwrite: bool, found_checkpoint: bool) -> None:
        """Make the run folder (emptied by overwrite) and write config.json; warn about a dud run."""
        config = self.config
        if self.out is not None:
            _prepare_out_dir(self.out, resume, overwrite)
            (self.out / "config.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n")
            if resume and not found_checkpoint:
                self.note(
                    f"resume: no checkpoint.pt in {self.out}, starting a fresh run.", always=True
                )
        if config.learning_starts >= config.total_steps:
            warnings.warn(
                f"learning_starts={config.learning_starts:,} >= total_steps="
                f"{config.total_steps:,}: this run will not take a single gradient step.",
                stacklevel=4,
            )

    def _build(self, env: gym.Env | None, eval_env: Any, horizon: int) -> None:
        """The env(s), the agent, the replay buffer and the schedules."""
        config = self.config
        self.env_given = env is not None
        self.stepper = _make_stepper(config, env)
        vector = isinstance(self.stepper, _VectorEnv)
        raw = self.stepper.env
        obs_space = raw.single_observation_space if vector else raw.observation_space
        act_space = raw.single_action_space if vector else raw.action_space
        obs_shape = tuple(obs_space.shape or ())
        self.agent = DQNAgent(config, obs_shape, int(act_space.n))
        self.buffer = _make_buffer(config, obs_shape, self.stepper.n, self.agent.device)
        self.schedules = schedules.TrainingSchedules.from_config(config, horizon)
        self.eval_envs: list[gym.Env] | None = None
        self.own_eval_envs = eval_env is None
        if eval_env is not None:
            self.eval_envs = list(eval_env) if isinstance(eval_env, (list, tuple)) else [eval_env]
        # Classic-control envs resume exactly, the episode in progress and the buffer included
        # (envs.env_state); Atari and vector envs restart their episodes and refill the buffer.
        self.exact_resume = (
            not vector and not self.env_given and not atari.is_atari_id(config.env_id)
        )

    def _restore(self, ckpt: dict[str, Any]) -> bool:
        """Continue from a checkpoint; True when the episode in progress was restored too."""
        checkpoints.restore_agent(ckpt, self.agent)
        self.log = TrainingLog.from_dict(ckpt["log"] or {})
        self.step, self.episode = int(ckpt["step"]), int(ckpt["episode"])
        loop = ckpt["extra"].get("loop", {})
        self.best_eval = loop.get("best_eval")
        self.elapsed_before = float(loop.get("elapsed", 0.0))
        restored = False
        if self.exact_resume and loop.get("env_state") is not None:
            try:
                self.stepper.restore(loop)  # type: ignore[union-attr]
                sums = loop.get("metric_sums")
                if sums is not None:
                    self.metrics = _UpdateMetrics(
                        *map(float, sums), int(loop.get("metric_count", 0))
                    )
                restored = True
            except Exception as exc:  # noqa: BLE001 - fall back to a fresh episode
                self.note(
                    f"resume: could not restore the environment ({exc}); starting new episodes."
                )
        if not restored:
            self.note(
                f"resume at step {self.step}: the episode(s) in progress were dropped; "
                "new ones start."
            )
        if restored and ckpt.get("buffer") is not None:
            self.buffer.load_state_dict(ckpt["buffer"])
        else:  # an empty buffer refills before updates resume, as at the start of a run
            self.min_buffer = max(self.config.batch_size, self.config.learning_starts)
            self.note(
                f"resume at step {self.step}: the checkpoint holds no replay buffer, so it "
                f"starts empty and refills (updates resume after {self.min_buffer} new "
                "transitions)."
            )
        self.note(f"resumed from {self.ckpt_path} at step {self.step} (episode {self.episode}).")
        return restored

    # ------------------------------------------------------------------ the steps
    def collect(self) -> None:
        """Steps 1–2: act ε-greedily in the env(s) and store the transitions."""
        finished = self.stepper.step(self.agent, self.epsilon, self.buffer)
        self.step += self.stepper.n
        for ret, length in finished:
            self.end_episode(ret, length)
        self.epsilon = self.schedules.epsilon(self.step, self.episode)

    def learn(self, before: int) -> None:
        """Steps 3–4: every ``train_freq`` agent steps, ``gradient_steps`` minibatch updates."""
        c = self.config
        if self.step < self.learning_starts or len(self.buffer) < self.min_buffer:
            return
        n_updates = (self.step // c.train_freq - before // c.train_freq) * c.gradient_steps
        if n_updates == 0:
            return
        if c.lr_end is not None:
            self.agent.set_learning_rate(self.schedules.learning_rate(self.step))
        if c.prioritized:
            self.buffer.beta = self.schedules.beta(self.step)
        for _ in range(n_updates):
            batch = self.buffer.sample(c.batch_size)
            m = self.agent.learn(batch)
            if _diverged(m):
                raise TrainingDivergedError(
                    _divergence_message(c, self.agent, self.step, m, self.ckpt_path)
                )
            if c.prioritized:
                self.buffer.update_priorities(batch.indices, m["td_errors"])
            self.metrics.add(m)

    def periodic(self, before: int) -> None:
        """Step 5 (hard target copies; soft ones happen in ``agent.learn``), evals, checkpoints."""
        c, step = self.config, self.step

        def crossed(period: int) -> bool:
            return bool(period) and step // period != before // period

        if crossed(c.target_update):
            self.agent.update_target()
        if crossed(c.eval_every):
            self.run_eval()
        if crossed(c.checkpoint_every) and self.out is not None:
            self.log.to_csv(self.out)
            self.save(self.ckpt_path, with_buffer=True)  # type: ignore[arg-type]
        if crossed(1000):
            self.bar.update(step - self.bar.n)

    # ----------------------------------------------------------- what the steps use
    def end_episode(self, ret: float, length: int) -> None:
        self.episode += 1
        means = self.metrics.means()
        self.log.episodes.append(
            {
                "step": self.step,
                "episode": self.episode,
                "episode_return": ret,
                "episode_length": length,
                **means,
                "epsilon": self.epsilon,
                "learning_rate": self.agent.learning_rate,
                "time": self.elapsed(),
            }
        )
        self.check_q_values(means["mean_max_q"])
        self.metrics = _UpdateMetrics()
        self.last_return = ret
        self.show_progress()
        self.fire("episode")

    def check_q_values(self, mean_max_q: float) -> None:
        """Warn once when the Q-values pass any value a state can have by a wide margin."""
        bound = losses.q_value_bound(self.stepper.reward_max, self.config.gamma)
        if self.q_warned or not bound > 0 or not mean_max_q > losses.Q_BOUND_FACTOR * bound:
            return
        self.q_warned = True
        msg = (
            f"step {self.step:,}: the mean max-Q is {mean_max_q:.3g}, more than "
            f"{losses.Q_BOUND_FACTOR:g}x r_max/(1-γ) = {bound:.3g}, the most any state can be worth: "
            "the Q-values are diverging (lower the learning rate, use the Huber loss, gradient "
            "clipping and a target network)."
        )
        warnings.warn(msg, stacklevel=2)
        self.note(msg)

    def run_eval(self) -> None:
        """Greedy evaluation on envs that do not train; best.pt follows the best mean."""
        c = self.config
        mean, std, returns = evaluation.evaluate(
            self.agent, self.get_eval_envs(), c.eval_episodes, seed=c.seed + 100_000
        )
        self.log.evals.append(
            {"step": self.step, "mean_return": mean, "std_return": std, "episodes": len(returns)}
        )
        improved = self.best_eval is None or mean > self.best_eval
        if improved:
            self.best_eval = mean
        if self.out is not None:
            self.log.to_csv(self.out)
            if improved:
                self.save(self.out / "best.pt", with_buffer=False)
        self.show_progress()
        self.fire("eval")

    def get_eval_envs(self) -> list[gym.Env]:
        if self.eval_envs is None:
            frames = len(self.agent.obs_shape) == 3
            n = min(self.config.eval_episodes, 8 if frames else 32)
            if self.env_given:
                train_env = self.stepper.env
                spec_id = train_env.spec.id if train_env.spec is not None else None
                self.eval_envs = [
                    envs.make_env(spec_id) if spec_id else copy.deepcopy(train_env)
                    for _ in range(n)
                ]
            else:
                self.eval_envs = [
                    envs.make_env_for(self.config, None, for_eval=True) for _ in range(n)
                ]
        return self.eval_envs

    def save(self, path: Path, with_buffer: bool) -> None:
        """An atomic checkpoint; refuses to overwrite a good one with NaN weights."""
        if not self.agent.parameters_finite():
            nan = {"loss": math.nan, "mean_max_q": math.nan, "grad_norm": math.nan}
            raise TrainingDivergedError(
                _divergence_message(self.config, self.agent, self.step, nan, self.ckpt_path)
            )
        loop: dict[str, Any] = {"best_eval": self.best_eval, "elapsed": self.elapsed()}
        keep_buffer = False
        if self.exact_resume and with_buffer:
            env_state = self.stepper.state()
            if env_state is not None:
                m = self.metrics
                loop.update(
                    env_state,
                    metric_sums=[m.loss, m.mean_max_q, m.td_error, m.grad_norm],
                    metric_count=m.count,
                )
                keep_buffer = self.config.save_buffer
        checkpoints.save_checkpoint(
            path,
            agent=self.agent,
            config=self.config,
            step=self.step,
            episode=self.episode,
            log=self.log,
            buffer=self.buffer if keep_buffer else None,
            extra={"loop": loop},
        )

    def fire(self, event: str) -> None:
        for cb in self.callbacks:
            if cb(event, self.log, self.agent) is True:
                self.stop = True

    def note(self, msg: str, *, always: bool = False) -> None:
        """Tell the user (progress bar, or stderr when ``always``) and keep it in train_notes.txt."""
        if self.progress:
            from tqdm.auto import tqdm

            tqdm.write(msg)
        elif always:
            import sys

            print(msg, file=sys.stderr)
        if self.out is not None and self.out.is_dir():
            with open(self.out / "train_notes.txt", "a") as f:
                f.write(msg + "\n")

    def elapsed(self) -> float:
        return self.elapsed_before + time.perf_counter() - self.t0

    def show_progress(self) -> None:
        self.bar.update(self.step - self.bar.n)
        last_eval = "-" if not self.log.evals else f"{self.log.evals[-1]['mean_return']:.1f}"
        self.bar.set_postfix(
            ret=f"{self.last_return:.1f}", eval=last_eval, eps=f"{self.epsilon:.3f}", refresh=False
        )

    # -------------------------------------------------------------------- the end
    def finish(self) -> None:
        """A final evaluation of the final network, the final checkpoint, then close everything."""
        if self.config.eval_every and (
            not self.log.evals or self.log.evals[-1]["step"] != self.step
        ):
            self.run_eval()
        self.bar.update(self.step - self.bar.n)
        self.bar.close()
        if self.out is not None:
            self.log.to_csv(self.out)
            self.save(self.ckpt_path, with_buffer=True)  # type: ignore[arg-type]
        self.fire("end")
        self.close()

    def abort(self, exc: BaseException) -> None:
        """On an error: keep the log up to the blow-up (checkpoint.pt stays the last good one).

        On Ctrl-C (KeyboardInterrupt) the run is saved first, so that nothing is lost: the
        episode in progress and the replay buffer are left out (they may be mid-step), so a
        resume starts new episodes and refills the buffer.
        """
        self.bar.close()
        if isinstance(exc, TrainingDivergedError) and self.out is not None:
            self.log.to_csv(self.out)
        if isinstance(exc, KeyboardInterrupt) and self.out is not None:
            self.log.to_csv(self.out)
            self.save(self.ckpt_path, with_buffer=False)  # type: ignore[arg-type]
            self.note(
                f"interrupted at step {self.step:,}: saved {self.ckpt_path}; continue with "
                "resume=True (python -m dqn_helpers.train ... --resume).",
                always=True,
            )
        if isinstance(self.stepper, _VectorEnv):
            self.stepper.close()

    def close(self) -> None:
        if not self.env_given:
            self.stepper.close()
        if self.own_eval_envs and self.eval_envs is not None:
            for e in self.eval_envs:
                e.close()


# ----------------------------------------------------------------------- several seeds
def _train_in_worker(
    config: DQNConfig,
    out_dir: Path | None,
    keep_agent: bool,
    env_fn: Callable[[DQNConfig], gym.Env] | None = None,
) -> tuple[Any, list[str]]:
    """One run as a worker trains it: one torch thread, no progress bar; its log (or result) and
    the messages of the warnings it raised (the parent raises them again, where filters apply)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            env = None if env_fn is None else env_fn(config)
            result = train(
                config, out_dir=out_dir, progress=False, overwrite=out_dir is not None, env=env
            )
    finally:
        torch.set_num_threads(threads)
    return (result if keep_agent else result.log), [str(w.message) for w in caught]


def _warn_again(config: DQNConfig, messages: list[str]) -> None:
    """Raise a worker's warnings in this process, once each, naming the run they came from."""
    for msg in dict.fromkeys(messages):
        warnings.warn(f"seed {config.seed}: {msg}", UserWarning, stacklevel=4)


def _cores_available() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def _run_all(
    runs: list[tuple[DQNConfig, Path | None]],
    n_jobs: int | None,
    progress: bool,
    keep_agents: bool,
    desc: str,
    env_fn: Callable[[DQNConfig], gym.Env] | None = None,
) -> list[Any]:
    """Train every (config, run folder) pair in joblib workers; the results in the given order."""
    import joblib
    from tqdm.auto import tqdm

    if n_jobs is None:
        n_jobs = _cores_available()
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1:
        raise ValueError(f"n_jobs must be a positive int or None (all cores), got {n_jobs!r}.")
    n_jobs = min(n_jobs, len(runs))
    bar = tqdm(total=len(runs), disable=not progress, unit="run", desc=f"{desc} ({n_jobs} workers)")
    try:
        if n_jobs == 1:  # in this process, one after another
            done = (_train_in_worker(cfg, out, keep_agents, env_fn) for cfg, out in runs)
        else:
            jobs = (
                joblib.delayed(_train_in_worker)(cfg, out, keep_agents, env_fn) for cfg, out in runs
            )
            done = joblib.Parallel(n_jobs=n_jobs, return_as="generator")(jobs)
        results = []
        for (cfg, _), (result, messages) in zip(runs, done):
            _warn_again(cfg, messages)
            results.append(result)
            bar.update(1)
        return results
    finally:
        bar.close()


def _check_seeds(seeds: Sequence[int]) -> list[int]:
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds is empty: give at least one seed, e.g. range(3).")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct, got {seeds}.")
    return seeds


def run_seeds(
    config: DQNConfig,
    seeds: Sequence[int],
    n_jobs: int | None = None,
    *,
    out_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    keep_agents: bool = False,
    env_fn: Callable[[DQNConfig], gym.Env] | None = None,
) -> list[Any]:
    """Train ``config`` once per seed, in parallel worker processes; the logs in seed order.

    Introduced in lesson 02 (comparing settings over seeds). Each worker uses one torch thread,
    so the numbers are the same as training the seeds one after another (``n_jobs=1`` does just
    that, in this process). ``n_jobs`` defaults to the cores available. The workers are
    joblib's: on a cluster, the same call runs on Ray or Dask inside
    ``with joblib.parallel_config(backend="ray"):`` (or ``"dask"``), once that backend is
    registered (``ray.util.joblib.register_ray()``). ``out_dir`` gives each seed a run folder
    ``out_dir/seed<S>``; ``keep_agents=True`` returns ``TrainResult``s instead of logs.
    ``env_fn(config)``, run in the worker, builds each seed's training env (e.g. a wrapped one,
    lesson 05's truncation experiment: ``train(config, env=env_fn(config))``); None: the config's.
    """
    if not isinstance(config, DQNConfig):
        raise TypeError(f"config must be a DQNConfig, got {type(config).__name__}.")
    seeds = _check_seeds(seeds)
    runs = [
        (config.replace(seed=s), None if out_dir is None else Path(out_dir) / f"seed{s}")
        for s in seeds
    ]
    desc = f"{config.env_id} × {len(seeds)} seeds"
    return _run_all(runs, n_jobs, progress, keep_agents, desc, env_fn)


def compare(
    base: DQNConfig,
    variants: dict[str, dict[str, Any]],
    seeds: Sequence[int],
    n_jobs: int | None = None,
    *,
    progress: bool = True,
    keep_agents: bool = False,
) -> dict[str, list[Any]]:
    """Train ``base`` with each variant's overrides on every seed: ``{label: [log per seed]}``.

    Introduced in lesson 05 (the guided experiments). ``variants`` maps a label to the fields it
    changes, e.g. ``{"lr 1e-3": {"learning_rate": 1e-3}, "preset": {}}``. All (variant, seed)
    runs share one pool of workers, as in ``run_seeds``, and give the same numbers as one by one.
    """
    if not isinstance(base, DQNConfig):
        raise TypeError(f"base must be a DQNConfig, got {type(base).__name__}.")
    if not variants:
        raise ValueError("variants is empty: give at least one {label: {field: value}}.")
    seeds = _check_seeds(seeds)
    configs = {label: base.replace(**overrides) for label, overrides in variants.items()}
    runs = [(cfg.replace(seed=s), None) for cfg in configs.values() for s in seeds]
    results = _run_all(
        runs, n_jobs, progress, keep_agents, f"{len(configs)} settings × {len(seeds)} seeds"
    )
    k = len(seeds)
    return {label: results[i * k : (i + 1) * k] for i, label in enumerate(configs)}
