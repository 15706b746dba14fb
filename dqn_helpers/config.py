"""Every DQN hyperparameter in one validated dataclass, plus named presets.

Introduced in lesson 05 (the full DQN loop); the switches for Double / Dueling / prioritized
replay / n-step returns are used by lessons 07-09.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import types
import typing
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DQNConfig",
    "PRESETS",
    "check_env_id_form",
    "fast_mode",
    "preset",
]


def fast_mode() -> bool:
    """True when the environment variable ``DQN_FAST`` is ``"1"`` (CI runs notebooks this way).

    Read at call time, not import time. Introduced in lesson 01.
    """
    return os.environ.get("DQN_FAST") == "1"


_LOSSES = ("huber", "mse")
_PRECISIONS = ("fp32", "bf16")


@dataclass(frozen=True)
class DQNConfig:
    """All hyperparameters of one DQN run; ``__post_init__`` rejects impossible values.

    Introduced in lesson 05. Steps are agent steps (one ``env.step`` call; 4 frames on Atari).
    Frozen: a checked config stays checked, so change a copy with ``cfg.replace(gamma=0.9)``.
    The ``# comment`` after each field is its documentation and the train CLI's ``--help``.
    """

    # --- the task
    env_id: str = "CartPole-v1"  # Gymnasium id; "ALE/..." ids get the Atari wrappers of lesson 06
    total_steps: int = 50_000  # agent steps (env.step calls) to train for
    seed: int = 0  # seeds the env, the network init, exploration and replay sampling
    frame_stack: int = 4  # Atari only: frames stacked into one observation
    num_envs: int = 1  # environments stepped together (batched action selection); 1 = plain loop

    # --- the optimizer (step 4 of the algorithm: gradient descent on the TD error)
    learning_rate: float = 1e-3  # Adam step size at the start of training
    lr_end: float | None = None  # anneal linearly to this value over lr_fraction; None = constant
    lr_fraction: float = 1.0  # fraction of total_steps over which the learning rate anneals
    adam_eps: float = 1e-8  # Adam's epsilon; Atari recipes use 1.5e-4 to damp tiny-variance steps
    batch_size: int = 64  # transitions per gradient step
    loss: str = "huber"  # "huber" (robust to large TD errors) or "mse" (the lesson's plain loss)
    max_grad_norm: float | None = 10.0  # clip the gradient norm to this; None = no clipping

    # --- experience replay (lesson 03)
    buffer_size: int = 10_000  # capacity N of the replay buffer, in transitions
    learning_starts: int = 1_000  # agent steps of pure collection before the first update
    train_freq: int = 1  # do a burst of updates every train_freq agent steps
    gradient_steps: int = 1  # updates per burst (replay ratio = gradient_steps / train_freq)
    save_buffer: bool = True  # keep the replay buffer in checkpoint.pt (exact resume; big on Atari)

    # --- the target network (lesson 04)
    target_update: int = 500  # hard copy θ⁻ ← θ every C agent steps; 0 = soft update with tau
    tau: float = 0.005  # soft-update rate θ⁻ ← τθ + (1−τ)θ⁻ after each update (target_update=0)
    gamma: float = 0.99  # discount factor γ

    # --- exploration (lesson 01 / 05)
    epsilon_start: float = 1.0  # ε at the first step
    epsilon_end: float = 0.01  # ε after the decay
    epsilon_fraction: float = 0.1  # linear decay over this fraction of total_steps
    epsilon_decay: float | None = None  # per-episode multiplicative decay instead (e.g. 0.995)

    # --- the network
    hidden: tuple[int, ...] = (128, 128)  # MLP hidden sizes (vector observations only)

    # --- extensions (lesson 07+)
    double: bool = False  # Double DQN: online net picks a', target net evaluates it
    dueling: bool = False  # dueling head: Q = V + A − mean(A)
    prioritized: bool = False  # prioritized experience replay (sample by |TD error|)
    per_alpha: float = 0.6  # PER: how strongly priorities shape sampling (0 = uniform)
    per_beta: float = 0.4  # PER: initial importance-weight exponent, annealed to 1.0
    n_step: int = 1  # n-step returns: bootstrap after n rewards

    # --- evaluation and checkpoints
    eval_every: int = 5_000  # agent steps between greedy evaluations (0 = never)
    eval_episodes: int = 10  # episodes per greedy evaluation, on a separate env
    checkpoint_every: int = 10_000  # agent steps between checkpoint.pt saves (0 = only at the end)

    # --- hardware
    device: str = "auto"  # "auto" (CUDA, then MPS, then CPU), "cpu", "cuda", "cuda:1", "mps"
    precision: str = "fp32"  # "bf16": the update in bfloat16 on CPUs that have it (else fp32)

    def __post_init__(self) -> None:
        if isinstance(self.hidden, list):  # a JSON list from config.json or a checkpoint
            object.__setattr__(self, "hidden", tuple(self.hidden))
        _check_types(self)
        _check_values(self)

    # ----------------------------------------------------------------- conversions
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (tuples become lists). Introduced in lesson 05."""
        d = dataclasses.asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DQNConfig:
        """Inverse of ``to_dict``; unknown keys are rejected with the list of allowed ones."""
        if not isinstance(d, dict):
            raise TypeError(f"DQNConfig.from_dict expects a dict, got {type(d).__name__}.")
        allowed = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(d) - set(allowed))
        if unknown:
            raise ValueError(
                f"unknown DQNConfig key(s) {unknown}. Allowed keys: {', '.join(allowed)}."
            )
        return cls(**d)  # __post_init__ turns JSON lists back into tuples

    def replace(self, **overrides: Any) -> DQNConfig:
        """A copy with some fields changed (validated again); unknown names are rejected."""
        allowed = [f.name for f in dataclasses.fields(self)]
        unknown = sorted(set(overrides) - set(allowed))
        if unknown:
            raise ValueError(
                f"unknown DQNConfig field(s) {unknown}. Allowed fields: {', '.join(allowed)}."
            )
        return dataclasses.replace(self, **overrides)

    @property
    def is_atari(self) -> bool:
        """True for Atari ids (``ALE/...``), as ``atari.is_atari_id`` decides (lesson 06 wrappers)."""
        from dqn_helpers import atari  # lazy: gymnasium is not needed to build a config

        return atari.is_atari_id(self.env_id)


# ------------------------------------------------------------------------- validation
def _type_ok(value: Any, tp: Any) -> bool:
    """Whether ``value`` has the annotated type ``tp`` (an int is a fine float; a bool is no number)."""
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return any(_type_ok(value, arg) for arg in typing.get_args(tp))
    if typing.get_origin(tp) is tuple:  # tuple[int, ...]
        item = typing.get_args(tp)[0]
        return isinstance(value, tuple) and all(_type_ok(v, item) for v in value)
    return isinstance(value, tp)  # bool, str, NoneType


def _describe(tp: Any) -> str:
    """``tp`` in words: ``float | None`` -> "a number or None"."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return " or ".join(_describe(arg) for arg in typing.get_args(tp))
    if typing.get_origin(tp) is tuple:
        return "a tuple of ints such as (128, 128)"
    words = {int: "an int", float: "a number", bool: "True or False", str: "a string"}
    return words.get(tp, "None")


def _check_types(c: DQNConfig) -> None:
    """Each field against its annotation (the same annotations the train CLI parses with)."""
    for name, tp in typing.get_type_hints(DQNConfig).items():
        v = getattr(c, name)
        if not _type_ok(v, tp):
            raise TypeError(f"{name} must be {_describe(tp)}, got {v!r} ({type(v).__name__}).")
        if isinstance(v, float) and not math.isfinite(v):
            raise ValueError(f"{name} must be a finite number, got {v!r}.")


# gymnasium.make("module:Env-v0") imports ``module`` first; an id read from a file must never do that.
_ENV_ID = re.compile(r"^(?:[A-Za-z0-9_.-]+/)?[A-Za-z0-9_.-]+$")


def check_env_id_form(env_id: str) -> None:
    """Refuse an env id that is not a plain Gymnasium id (``[Namespace/]Name-vN``), without importing.

    Introduced in lesson 05. ``gymnasium.make`` imports the module named before a colon
    (``"evilmod:CartPole-v1"`` runs ``evilmod.py``), so a colon, a space or a path is refused here,
    for ids typed and for ids read from a checkpoint or config.json alike.
    """
    if not isinstance(env_id, str) or not env_id:
        raise ValueError(
            f"env_id must be a Gymnasium id such as 'CartPole-v1' or 'ALE/Pong-v5', got {env_id!r}."
        )
    if not _ENV_ID.match(env_id):
        why = (
            " gymnasium would import the module named before ':' to make it, which can run any code"
            if ":" in env_id
            else ""
        )
        raise ValueError(
            f"env_id {env_id!r} is not a plain Gymnasium id ([Namespace/]Name-vN, e.g. 'CartPole-v1' "
            f"or 'ALE/Pong-v5'), so it is refused;{why or ' only letters, digits, _ . - and one / are allowed'}. "
            "To use an env from your own package, import the package yourself (it registers the id) "
            "and pass the registered id."
        )


def _positive(name: str, v: float, hint: str) -> None:
    if v <= 0:
        raise ValueError(f"{name} must be > 0, got {v}. {hint}")


def _check_values(c: DQNConfig) -> None:
    """Every value possible on its own and with the others; the first problem raises ValueError."""
    _check_task_and_optimizer(c)
    _check_replay_target_and_exploration(c)


def _check_task_and_optimizer(c: DQNConfig) -> None:
    if c.precision not in _PRECISIONS:
        raise ValueError(
            f"precision must be one of {', '.join(_PRECISIONS)}, got {c.precision!r}. 'bf16' runs the "
            "update in bfloat16 on a CPU that supports it and falls back to fp32 elsewhere."
        )
    check_env_id_form(c.env_id)
    _positive("total_steps", c.total_steps, "It counts agent steps, e.g. 30_000 for CartPole.")
    if not 0 <= c.seed < 2**32:
        raise ValueError(
            f"seed must be in [0, 2**32 - 1] (NumPy's and Gymnasium's seed range), got {c.seed}."
        )
    _positive("frame_stack", c.frame_stack, "Atari recipes stack 4 frames.")
    _positive("num_envs", c.num_envs, "Use 1 for the plain loop, 4–16 for batched collection.")
    if c.learning_rate <= 0:
        raise ValueError(
            f"learning_rate must be > 0, got {c.learning_rate}. Typical Adam values are 1e-4 to 1e-3 "
            "(much larger ones are allowed, to watch training diverge)."
        )
    if c.lr_end is not None and not 0 <= c.lr_end <= c.learning_rate:
        raise ValueError(
            f"lr_end must be in [0, learning_rate={c.learning_rate}] or None (constant rate), "
            f"got {c.lr_end}. A preset's lr_end stays when only the learning rate changes: "
            "give lr_end too (--lr-end X, or --lr-end none)."
        )
    if not 0 < c.lr_fraction <= 1:
        raise ValueError(f"lr_fraction must be in (0, 1], got {c.lr_fraction}.")
    if not 0 < c.adam_eps < 1:
        raise ValueError(f"adam_eps must be in (0, 1), got {c.adam_eps}. Typical: 1e-8 or 1.5e-4.")
    _positive("batch_size", c.batch_size, "Typical values are 32–256.")
    if c.loss not in _LOSSES:
        raise ValueError(f"loss must be one of {_LOSSES}, got {c.loss!r}.")
    if c.max_grad_norm is not None and c.max_grad_norm <= 0:
        raise ValueError(
            f"max_grad_norm must be > 0 or None (no clipping), got {c.max_grad_norm}. Typical: 10."
        )


def _check_replay_target_and_exploration(c: DQNConfig) -> None:
    _positive("buffer_size", c.buffer_size, "Typical values are 10_000 to 1_000_000 transitions.")
    if c.batch_size > c.buffer_size:
        raise ValueError(
            f"batch_size ({c.batch_size}) cannot exceed buffer_size ({c.buffer_size}): "
            "a batch is drawn from the buffer."
        )
    if c.learning_starts < 0:
        raise ValueError(f"learning_starts must be >= 0, got {c.learning_starts}.")
    _positive("train_freq", c.train_freq, "1 = an update burst after every agent step.")
    _positive("gradient_steps", c.gradient_steps, "Updates per burst; 1 is the classic DQN.")
    if c.target_update < 0:
        raise ValueError(
            f"target_update must be >= 0, got {c.target_update}: a hard copy every C agent steps, "
            "or 0 for soft updates with tau."
        )
    if not 0 < c.tau <= 1:
        raise ValueError(
            f"tau must be in (0, 1], got {c.tau}. Typical soft-update rates: 0.001–0.01."
        )
    if not 0 < c.gamma <= 1:
        raise ValueError(f"gamma must be in (0, 1], got {c.gamma}. Typical values are 0.95–0.99.")
    for name in ("epsilon_start", "epsilon_end"):
        v = getattr(c, name)
        if not 0 <= v <= 1:
            raise ValueError(f"{name} must be a probability in [0, 1], got {v}.")
    if c.epsilon_end > c.epsilon_start:
        raise ValueError(
            f"epsilon_end ({c.epsilon_end}) must be <= epsilon_start ({c.epsilon_start}): "
            "exploration decays."
        )
    if not 0 < c.epsilon_fraction <= 1:
        raise ValueError(
            f"epsilon_fraction must be in (0, 1], got {c.epsilon_fraction}: the fraction of "
            "total_steps over which ε decays linearly."
        )
    if c.epsilon_decay is not None and not 0 < c.epsilon_decay < 1:
        raise ValueError(
            f"epsilon_decay must be in (0, 1) or None (linear decay), got {c.epsilon_decay}. "
            "The lesson uses 0.995 per episode."
        )
    if not c.hidden or any(h <= 0 for h in c.hidden):
        raise ValueError(f"hidden must be non-empty positive layer sizes, got {c.hidden}.")
    for name in ("per_alpha", "per_beta"):
        v = getattr(c, name)
        if not 0 <= v <= 1:
            raise ValueError(f"{name} must be in [0, 1], got {v}. Typical: alpha 0.6, beta 0.4.")
    if c.n_step < 1:
        raise ValueError(f"n_step must be >= 1, got {c.n_step}. 1 is plain DQN; 3 is common.")
    for name in ("eval_every", "checkpoint_every"):
        v = getattr(c, name)
        if v < 0:
            raise ValueError(f"{name} must be >= 0 (0 = never / only at the end), got {v}.")
    _positive("eval_episodes", c.eval_episodes, "10–20 greedy episodes give a usable mean.")
    dev = c.device
    if not (
        dev in ("auto", "cpu", "mps", "cuda") or (dev.startswith("cuda:") and dev[5:].isdigit())
    ):
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', got {dev!r}.")


# ---------------------------------------------------------------------------- presets
# The `pong` preset, Pong on one machine (lesson 10; `pong-dqn` below is a diff against it): the DQN
# loop with two of Rainbow's extensions, 3-step returns and prioritized replay, over a 100k frame
# buffer (~0.7 GB); Adam 1e-4 (eps 1.5e-4), a Huber loss, ε 1 → 0.01 over the first 100k steps, an
# update every 4 agent steps and a target copy every 1,000. Why these two: on a CPU the update is
# nearly the whole cost of a step, and n-step returns and prioritized replay cost almost nothing per
# update, while Double DQN (one more forward pass) and the dueling head (a second 3136x512 layer)
# each make every update dearer; section (e) of benchmarks/bench_pong.py measures each on your
# machine.
_PONG = DQNConfig(
    env_id="ALE/Pong-v5",
    total_steps=1_000_000,
    learning_rate=1e-4,
    adam_eps=1.5e-4,
    batch_size=32,
    buffer_size=100_000,
    learning_starts=10_000,
    train_freq=4,
    gradient_steps=1,
    target_update=1_000,
    gamma=0.99,
    epsilon_start=1.0,
    epsilon_end=0.01,
    epsilon_fraction=0.1,
    loss="huber",
    max_grad_norm=10.0,
    double=False,
    dueling=False,
    prioritized=True,
    n_step=3,
    eval_every=50_000,
    eval_episodes=10,
    checkpoint_every=25_000,
    save_buffer=False,
    frame_stack=4,
    precision="bf16",  # the update in bfloat16 where the CPU supports it (benchmarks/bench_pong.py)
)

PRESETS: dict[str, DQNConfig] = {
    # A classic tutorial's plain CartPole values: Adam 1e-3, batch 64, buffer 10k, γ 0.99,
    # ε 1.0 → 0.01 by ×0.995 per episode, MSE loss, no clipping, hard target copies. The
    # lesson copies the target every 100 episodes; we count agent steps (the table's 1,000).
    "lesson": DQNConfig(
        env_id="CartPole-v1",
        total_steps=50_000,
        learning_rate=1e-3,
        batch_size=64,
        buffer_size=10_000,
        learning_starts=64,
        train_freq=1,
        gradient_steps=1,
        target_update=1_000,
        gamma=0.99,
        epsilon_start=1.0,
        epsilon_end=0.01,
        epsilon_decay=0.995,
        hidden=(128, 128),
        loss="mse",
        max_grad_norm=None,
        eval_every=5_000,
        eval_episodes=10,
        checkpoint_every=10_000,
    ),
    # Tuned CartPole (benchmarks/bench_cartpole.py): 3-step Double DQN with prioritized replay,
    # a buffer that keeps every transition, one update of batch 128 per step, Adam 3e-3 annealed
    # to 1e-5 by 80% of training, ε 1 → 0.01 over 20%. Prioritized replay is what keeps it up:
    # without it the rare "pole fell" transitions are seldom replayed, the Q-values drift above
    # 1/(1 − γ) = 100 (more than any state can be worth) and the greedy policy collapses.
    "cartpole": DQNConfig(
        env_id="CartPole-v1",
        total_steps=30_000,
        learning_rate=3e-3,
        lr_end=1e-5,
        lr_fraction=0.8,
        batch_size=128,
        buffer_size=50_000,
        learning_starts=1_000,
        train_freq=1,
        gradient_steps=1,
        target_update=0,
        tau=0.01,
        gamma=0.99,
        epsilon_start=1.0,
        epsilon_end=0.01,
        epsilon_fraction=0.2,
        hidden=(128, 128),
        loss="huber",
        max_grad_norm=10.0,
        double=True,
        prioritized=True,
        n_step=3,
        eval_every=2_500,
        eval_episodes=20,
        checkpoint_every=10_000,
    ),
    "pong": _PONG,
    # Plain DQN on pixels (lesson 10): the algorithm of lesson 05 with the Nature CNN of lesson 06,
    # Nature-style. It is `pong` less lesson 09's extensions (uniform replay, 1-step targets; no
    # Double DQN, no dueling head in either) and on Nature's slower schedule: the same Adam (eps
    # 1.5e-4) at 1e-4, batch 32 and an update every 4 agent steps, a target copy every 2,000 agent
    # steps (500 updates), ε 1 → 0.01 over 250k steps. Published sample cost with sticky actions
    # (Dopamine's DQN, 5-seed mean): about 10M agent steps to reach 18 on Pong, which is why the
    # course's `pong` preset adds the n-step returns and prioritized replay of lesson 09.
    "pong-dqn": _PONG.replace(
        total_steps=10_000_000,
        learning_starts=20_000,
        target_update=2_000,
        epsilon_fraction=0.025,
        prioritized=False,
        n_step=1,
        eval_every=100_000,
    ),
    # Plain DQN of lesson 05, the algorithm the lesson teaches: uniform replay, 1-step targets, no
    # Double DQN, no dueling head: a target network, the Huber loss (the Nature paper clipped the
    # TD error, whose gradient is Huber's), gradient-norm clipping at 10 (SB3's default, not the
    # Nature paper's) and a linear ε schedule (1 → 0.04 over 16%). Values are RL-Zoo's
    # for SB3's (plain) DQN on CartPole: Adam 2.3e-3, batch 64, a 256-256 MLP, a buffer keeping
    # every transition, 128 updates every 256 steps (24,576 updates in 50k steps; 18-27 s a run
    # on one core). target_update=10 copies θ⁻ ← θ once after each burst of 128 updates.
    # Measured, seeds 0-9, 20-episode greedy evaluations every 2,500 steps:
    #   python -m dqn_helpers.train --env CartPole-v1 --preset cartpole-dqn --steps 50000 --seed S
    # 10/10 seeds reach a mean >= 475 (first at 12.5k-37.5k steps, median 32.5k); 7/10 are still
    # >= 450 at 50k (last evals 414, 143 and 230 for the others): plain DQN still collapses at
    # times after reaching 500 (lessons 07-09 and 11 study why, and what helps).
    "cartpole-dqn": DQNConfig(
        env_id="CartPole-v1",
        total_steps=50_000,
        learning_rate=2.3e-3,
        lr_end=None,
        batch_size=64,
        buffer_size=100_000,
        learning_starts=1_000,
        train_freq=256,
        gradient_steps=128,
        target_update=10,
        gamma=0.99,
        epsilon_start=1.0,
        epsilon_end=0.04,
        epsilon_fraction=0.16,
        hidden=(256, 256),
        loss="huber",
        max_grad_norm=10.0,
        double=False,
        dueling=False,
        prioritized=False,
        n_step=1,
        eval_every=2_500,
        eval_episodes=20,
        checkpoint_every=10_000,
    ),
}


def preset(name: str, **overrides: Any) -> DQNConfig:
    """A named preset with some fields overridden, e.g. ``preset("cartpole", seed=3)``.

    Introduced in lesson 05.
    """
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}. Available presets: {', '.join(PRESETS)}.")
    return PRESETS[name].replace(**overrides)


def _refuse_assignment(self: DQNConfig, name: str, value: Any) -> None:
    raise dataclasses.FrozenInstanceError(
        f"a DQNConfig is frozen (it was checked when made): make a changed copy instead, "
        f"cfg = cfg.replace({name}={value!r})."
    )


DQNConfig.__setattr__ = _refuse_assignment  # type: ignore[method-assign,assignment]
