"""The DQN training loop: environment + agent + replay buffer + evaluation, step by step.

Introduced in lesson 05 (CartPole); the same loop trains Pong in lesson 10. ``train`` follows the
algorithm's steps: (1) act ε-greedily, (2) store the transition, (3) sample a minibatch,
(4) take a gradient step on the TD error, (5) refresh the target network. The run folder, the
checkpoints, resume and the progress bar are plumbing, kept in ``runs``; ``run_seeds`` trains
one config over several seeds in worker processes.
"""

from __future__ import annotations

import copy
import functools
import math
import numbers
import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from dqn_helpers import atari, buffers, checkpoints, envs, evaluation, runs, schedules
from dqn_helpers.agents import DQNAgent
from dqn_helpers.config import DQNConfig
from dqn_helpers.logs import TrainingLog
from dqn_helpers.metrics import MetricSums, UpdateMetrics
from dqn_helpers.runs import Preflight, preflight

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
    pass ``resume=True`` to continue it or ``overwrite=True`` to start it again (every check is
    made before anything is deleted). With ``config.num_envs > 1`` the loop steps a Gymnasium
    vector env and picks all actions with one batched forward pass (lesson 10). ``init_from``
    (a checkpoint file or run folder, e.g. the shipped Pong agent) starts a *new* run from that
    network's weights (fine-tuning, lesson 10).
    """
    start = preflight(
        config, out_dir=out_dir, resume=resume, overwrite=overwrite, init_from=init_from
    )
    _check_env_matches(config, env)
    recorder = runs.RunRecorder(config, start.out, progress)
    run = _Run(config, env, eval_env, start.horizon, recorder, callbacks)
    try:
        if start.init_from is not None:  # before the folder is touched: the network must fit
            checkpoints.restore_agent(checkpoints.weights_only(start.init_from), run.agent)
        recorder.open(
            resume=resume, overwrite=overwrite, found_checkpoint=start.resume_from is not None
        )
    except BaseException:
        run.close()
        recorder.close()
        raise
    run.begin(start, init_from)
    try:
        while run.step < config.total_steps and not run.stop:
            before = run.step
            run.collect()  # Steps 1–2: act ε-greedily, store the transitions
            run.learn(before)  # Steps 3–5: minibatch gradient steps, then the target network
            run.periodic(before)  # evaluations, checkpoints
        run.finish()
    except BaseException as exc:
        recorder.on_abort(run, exc)
        run.close()
        raise
    finally:
        recorder.close()
    return TrainResult(agent=run.agent, log=run.log, best_eval=run.best_eval, out_dir=start.out)


def _check_env_matches(config: DQNConfig, env: gym.Env | None) -> None:
    """A given env must be the config's: the run folder and checkpoints are labelled with its id."""
    spec = getattr(env, "spec", None) if env is not None else None
    if spec is None or spec.id == config.env_id:
        return
    raise ValueError(
        f"env is {spec.id}, but config.env_id is {config.env_id!r}: the run and its checkpoints "
        f"would be labelled {config.env_id}. Pass config.replace(env_id={spec.id!r}) with it, "
        "or leave env out to train on the config's env."
    )


def _finite(x: np.ndarray) -> bool:
    """All entries finite; a small vector (CartPole's 4 numbers) through Python floats, faster."""
    return math.isfinite(sum(x.ravel().tolist())) if x.size <= 64 else bool(np.isfinite(x).all())


def _check_transition(obs: Any, reward: Any, action: Any) -> None:
    """An env that returns NaN or infinite numbers would silently turn the weights to NaN."""
    if type(reward) is float or type(reward) is int:  # the common case, checked cheaply
        bad_reward = not math.isfinite(reward)
    else:
        bad_reward = isinstance(reward, (str, bytes, bool)) or not isinstance(
            reward, (numbers.Real, np.ndarray)
        )
        bad_reward = bad_reward or not np.isfinite(np.asarray(reward, dtype=np.float64)).all()
    bad_obs = isinstance(obs, np.ndarray) and obs.dtype.kind == "f" and not _finite(obs)
    if bad_reward or bad_obs:
        what = f"reward {reward!r}" if bad_reward else "an observation with NaN or inf"
        raise ValueError(
            f"env.step({action!r}) returned {what}: a NaN in the replay buffer turns every weight NaN. Fix the "
            "env (or a wrapper) so it returns finite numbers."
        )


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
        _check_transition(next_obs, reward, action)
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
        _check_transition(next_obs, rewards, actions)
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


# ------------------------------------------------------------------- when training blows up
def _divergence_message(
    config: DQNConfig, agent: DQNAgent, step: int, m: UpdateMetrics | None, ckpt: Path | None
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
    values = (
        "the weights are NaN or infinite"
        if m is None
        else ", ".join(
            f"{name}={getattr(m, name):.3g}" for name in ("loss", "mean_max_q", "grad_norm")
        )
    )
    return (
        f"training diverged at step {step} (gradient step {agent.updates}): {values}. "
        "Likely causes: " + "; ".join(causes) + "." + where
    )


# ---------------------------------------------------------------------------- the run
class _Run:
    """The algorithm of one training run; ``train`` calls its steps in order.

    Everything that is not the algorithm (the run folder, checkpoints, resume, notes, the
    progress bar) is the ``recorder``'s (``runs.RunRecorder``), told about each event.
    """

    def __init__(
        self,
        config: DQNConfig,
        env: gym.Env | None,
        eval_env: Any,
        horizon: int,
        recorder: runs.RunRecorder,
        callbacks: Iterable[Callback],
    ) -> None:
        self.config = config
        self.recorder = recorder
        self.callbacks = list(callbacks)
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
        self.own_eval_envs = eval_env is None
        self.eval_envs: list[gym.Env] | None = None
        if eval_env is not None:
            self.eval_envs = list(eval_env) if isinstance(eval_env, (list, tuple)) else [eval_env]
        # Classic-control envs resume exactly, the episode in progress and the buffer included
        # (envs.env_state); Atari and vector envs restart their episodes and refill the buffer.
        recorder.exact_resume = (
            not vector and not self.env_given and not atari.is_atari_id(config.env_id)
        )
        self.log = TrainingLog()
        self.step, self.episode = 0, 0
        self.best_eval: float | None = None
        self.metrics = MetricSums()
        self.min_buffer = config.batch_size  # transitions the buffer must hold before an update
        self.learning_starts = max(config.learning_starts, config.batch_size)
        self.epsilon = 1.0
        self.stop = False

    def begin(self, start: Preflight, init_from: Any) -> None:
        """Start the first episode(s), or continue the checkpoint ``start.resume_from``."""
        c = self.config
        if c.learning_starts >= c.total_steps:
            warnings.warn(
                f"learning_starts={c.learning_starts:,} >= total_steps={c.total_steps:,}: "
                "this run will not take a single gradient step.",
                stacklevel=3,
            )
        if start.resume_from is not None:
            self.recorder.restore(self, start.resume_from)
        else:
            if start.init_from is not None:
                self.recorder.note(
                    f"initialised the online and target networks from {init_from} (step "
                    f"{int(start.init_from['step']):,} of the run that trained it); everything "
                    "else starts fresh."
                )
            self.stepper.reset(c.seed)
        self.epsilon = self.schedules.epsilon(self.step, self.episode)

    def new_episodes(self) -> None:
        """Start new episodes after a resume that could not restore the ones in progress."""
        self.stepper.reset(self.config.seed + 7919 * (self.episode + 1))

    # ------------------------------------------------------------------ the steps
    def collect(self) -> None:
        """Steps 1–2: act ε-greedily in the env(s) and store the transitions."""
        finished = self.stepper.step(self.agent, self.epsilon, self.buffer)
        self.step += self.stepper.n
        for ret, length in finished:
            self.end_episode(ret, length)
        self.epsilon = self.schedules.epsilon(self.step, self.episode)

    def learn(self, before: int) -> None:
        """Steps 3–5: every ``train_freq`` agent steps, ``gradient_steps`` minibatch updates, each
        followed by Step 5 when it is soft; the hard Step 5 every ``target_update`` agent steps."""
        c = self.config
        for _ in range(self.updates_due(before)):
            batch = self.buffer.sample(c.batch_size)  # Step 3
            m = self.agent.learn(batch)  # Step 4
            if m.diverged():
                raise self.diverged_error(m)
            if c.prioritized:
                self.buffer.update_priorities(batch.indices, m.td_errors)
            self.metrics.add(m)
            self.update_target(before=None)
        self.update_target(before=before)

    def updates_due(self, before: int) -> int:
        """How many gradient steps the agent steps from ``before`` to now call for."""
        c = self.config
        if self.step < self.learning_starts or len(self.buffer) < self.min_buffer:
            return 0
        n_updates = (self.step // c.train_freq - before // c.train_freq) * c.gradient_steps
        if n_updates:
            if c.lr_end is not None:
                self.agent.set_learning_rate(self.schedules.learning_rate(self.step))
            if c.prioritized:
                self.buffer.beta = self.schedules.beta(self.step)
        return n_updates

    def update_target(self, before: int | None) -> None:
        """Step 5. Soft (``target_update=0``): θ⁻ ← τθ + (1−τ)θ⁻ after every gradient step
        (``before=None``). Hard: θ⁻ ← θ when the agent steps since ``before`` cross a multiple
        of ``target_update``."""
        c = self.config
        if c.target_update == 0 and before is None:
            self.agent.soft_update()
        elif (
            c.target_update and before is not None and _crossed(c.target_update, before, self.step)
        ):
            self.agent.update_target()

    def periodic(self, before: int) -> None:
        """Evaluations and checkpoints, every ``eval_every`` / ``checkpoint_every`` agent steps."""
        c = self.config
        if _crossed(c.eval_every, before, self.step):
            self.run_eval()
        if _crossed(c.checkpoint_every, before, self.step):
            self.recorder.on_checkpoint(self)
        if _crossed(1000, before, self.step):
            self.recorder.show_steps(self.step)

    # ----------------------------------------------------------- what the steps use
    def end_episode(self, ret: float, length: int) -> None:
        self.episode += 1
        self.log.episodes.append(
            {
                "step": self.step,
                "episode": self.episode,
                "episode_return": ret,
                "episode_length": length,
                **self.metrics.means(),
                "epsilon": self.epsilon,
                "learning_rate": self.agent.learning_rate,
                "time": self.recorder.elapsed(),
            }
        )
        self.metrics = MetricSums()
        self.recorder.on_episode(self)
        self.fire("episode")

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
        self.recorder.on_eval(self, improved)
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

    def diverged_error(self, m: UpdateMetrics | None) -> TrainingDivergedError:
        return TrainingDivergedError(
            _divergence_message(self.config, self.agent, self.step, m, self.recorder.ckpt_path)
        )

    def fire(self, event: str) -> None:
        for cb in self.callbacks:
            if cb(event, self.log, self.agent) is True:
                self.stop = True

    # -------------------------------------------------------------------- the end
    def finish(self) -> None:
        """A final evaluation of the final network, the final checkpoint, then close everything."""
        if self.config.eval_every and (
            not self.log.evals or self.log.evals[-1]["step"] != self.step
        ):
            self.run_eval()
        self.recorder.on_end(self)
        self.fire("end")
        self.close()

    def close(self) -> None:
        if not self.env_given or isinstance(self.stepper, _VectorEnv):
            self.stepper.close()
        if self.own_eval_envs and self.eval_envs is not None:
            for e in self.eval_envs:
                e.close()


def _crossed(period: int, before: int, step: int) -> bool:
    """Whether the agent steps from ``before`` to ``step`` cross a multiple of ``period`` (0: never)."""
    return bool(period) and step // period != before // period


# --------------------------------------------------------------------------- setting up
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


# ----------------------------------------------------------------------- several seeds
def _train_in_worker(
    config: DQNConfig,
    out_dir: Path | None,
    keep_agent: bool,
    env_fn: Callable[[DQNConfig], gym.Env] | None = None,
    overwrite: bool = False,
) -> tuple[Any, list[str]]:
    """One run as a worker trains it: one torch thread, no progress bar; its log (or result) and
    the messages of the warnings it raised (the parent raises them again, where filters apply)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            env = None if env_fn is None else env_fn(config)
            result = train(config, out_dir=out_dir, progress=False, overwrite=overwrite, env=env)
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
    overwrite: bool = False,
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
            done = (_train_in_worker(cfg, out, keep_agents, env_fn, overwrite) for cfg, out in runs)
        else:
            jobs = (
                joblib.delayed(_train_in_worker)(cfg, out, keep_agents, env_fn, overwrite)
                for cfg, out in runs
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
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Iterable):
        raise TypeError(f"seeds must be a list of ints, e.g. range(3), got {seeds!r}.")
    seeds = list(seeds)
    bad = [s for s in seeds if isinstance(s, bool) or not isinstance(s, numbers.Integral)]
    if bad:
        raise TypeError(
            f"seeds must be whole numbers (ints), got {bad!r} in {seeds!r}: a seed like 1.7 would "
            "be cut to 1 silently. Pass e.g. [1, 2] or range(3)."
        )
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
    overwrite: bool = False,
) -> list[Any]:
    """Train ``config`` once per seed, in parallel worker processes; the logs in seed order.

    Introduced in lesson 02 (comparing settings over seeds). Each worker uses one torch thread,
    so the numbers are the same as training the seeds one after another (``n_jobs=1`` does just
    that, in this process). ``n_jobs`` defaults to the cores available. The workers are
    joblib's: on a cluster, the same call runs on Ray or Dask inside
    ``with joblib.parallel_config(backend="ray"):`` (or ``"dask"``), once that backend is
    registered (``ray.util.joblib.register_ray()``). ``out_dir`` gives each seed a run folder
    ``out_dir/seed<S>`` (a folder that holds a run is refused before any seed trains, unless
    ``overwrite=True``); ``keep_agents=True`` returns ``TrainResult``s instead of logs.
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
    for cfg, out in runs:  # every folder checked before any seed trains
        if out is not None:
            preflight(cfg, out_dir=out, overwrite=overwrite)
    desc = f"{config.env_id} × {len(seeds)} seeds"
    return _run_all(runs, n_jobs, progress, keep_agents, desc, env_fn, overwrite)


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
