"""Every DQN hyperparameter in one validated dataclass, plus named presets.

Introduced in lesson 05 (the full DQN loop); the switches for Double / Dueling / prioritized
replay / n-step returns are used by lessons 07-09.
"""

from __future__ import annotations

import dataclasses
import inspect
import io
import math
import os
import tokenize
import typing
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DQNConfig",
    "PRESETS",
    "fast_mode",
    "field_help",
    "field_kinds",
    "parse_field",
    "preset",
]


def fast_mode() -> bool:
    """True when the environment variable ``DQN_FAST`` is ``"1"`` (CI runs notebooks this way).

    Read at call time, not import time. Introduced in lesson 01.
    """
    return os.environ.get("DQN_FAST") == "1"


_LOSSES = ("huber", "mse")
_PRECISIONS = ("fp32", "bf16")


@dataclass
class DQNConfig:
    """All hyperparameters of one DQN run; ``__post_init__`` rejects impossible values.

    Introduced in lesson 05. Steps are agent steps (one ``env.step`` call; 4 frames on Atari).
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
    save_buffer: bool = (
        True  # store the replay buffer in checkpoint.pt (exact resume; big on Atari)
    )

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
    precision: str = (
        "fp32"  # "fp32", or "bf16": the update in bfloat16 on CPUs that support it (fp32 elsewhere)
    )

    def __post_init__(self) -> None:
        for name, kind in field_kinds().items():
            if kind == "int_tuple" and isinstance(getattr(self, name), list):
                setattr(self, name, tuple(getattr(self, name)))
        _check_types(self)
        _check_values(self)

    # ----------------------------------------------------------------- conversions
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (tuples become lists). Introduced in lesson 05."""
        d = dataclasses.asdict(self)
        for name, kind in field_kinds().items():
            if kind == "int_tuple":
                d[name] = list(d[name])
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
# The kinds of field a DQNConfig may have, read from the annotations: the type checks below, the
# command line's flags (dqn_helpers.train) and ``parse_field`` all follow them, so a new field
# needs no list to be kept in step.
_KINDS = {
    int: "int",
    float: "float",
    float | None: "optional_float",
    bool: "bool",
    str: "str",
    tuple[int, ...]: "int_tuple",
}
_FORMS = {
    "int": "an integer such as 50000 (or 50_000, 5e4)",
    "float": "a number such as 0.99 or 1e-3",
    "optional_float": "a number such as 0.5, or none",
    "bool": "true or false",
    "str": "a string",
    "int_tuple": "layer sizes such as 64, 64,64 or (64, 64)",
}
_kinds_cache: dict[str, str] = {}


def field_kinds() -> dict[str, str]:
    """Each DQNConfig field's kind, read from its annotation, in field order.

    Introduced in lesson 05 (the command line builds its flags from it). Kinds: ``"int"``,
    ``"float"``, ``"optional_float"`` (``float | None``), ``"bool"``, ``"str"``, ``"int_tuple"``
    (``tuple[int, ...]``). Another annotation raises TypeError, naming the field.
    """
    if not _kinds_cache:
        hints = typing.get_type_hints(DQNConfig)
        kinds = {}
        for f in dataclasses.fields(DQNConfig):
            tp = hints[f.name]
            if tp not in _KINDS:
                raise TypeError(
                    f"DQNConfig.{f.name} is annotated {tp!r}; supported annotations are int, float, "
                    "float | None, bool, str and tuple[int, ...]."
                )
            kinds[f.name] = _KINDS[tp]
        _kinds_cache.update(kinds)
    return dict(_kinds_cache)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_types(c: DQNConfig) -> None:
    for name, kind in field_kinds().items():
        v = getattr(c, name)
        got = f"got {v!r} ({type(v).__name__})"
        if kind == "int":
            if not _is_int(v):
                raise TypeError(f"{name} must be an int, {got}.")
        elif kind in ("float", "optional_float"):
            if v is None and kind == "optional_float":
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                what = "a number or None" if kind == "optional_float" else "a number"
                raise TypeError(f"{name} must be {what}, {got}.")
            if not math.isfinite(v):
                raise ValueError(f"{name} must be a finite number, got {v!r}.")
        elif kind == "bool":
            if not isinstance(v, bool):
                raise TypeError(f"{name} must be True or False, {got}.")
        elif kind == "str":
            if not isinstance(v, str):
                raise TypeError(f"{name} must be a string, {got}.")
        elif kind == "int_tuple":
            if not isinstance(v, tuple) or not all(_is_int(h) for h in v):
                raise TypeError(f"{name} must be a tuple of ints such as (128, 128), {got}.")


def parse_field(name: str, text: str) -> Any:
    """The value of field ``name`` that the command-line string ``text`` spells.

    Introduced in lesson 05 (``--set KEY=VALUE`` and the generated flags of dqn_helpers.train).
    The annotation decides: ``"64,64"``, ``"(64, 64)"`` and ``"64"`` are hidden sizes, ``"none"``
    is None for a ``float | None`` field, ``"true"``/``"false"`` a bool. An unknown ``name`` or a
    value of the wrong form raises ValueError naming the field, the value and the accepted form.
    Range checks are left to DQNConfig itself.
    """
    kinds = field_kinds()
    if name not in kinds:
        raise ValueError(f"unknown DQNConfig field {name!r}. Allowed fields: {', '.join(kinds)}.")
    kind = kinds[name]
    raw = text.strip()
    low = raw.lower()
    try:
        if kind == "str":
            return text
        if kind == "bool":
            if low in ("true", "1", "yes", "on"):
                return True
            if low in ("false", "0", "no", "off"):
                return False
            raise ValueError
        if kind == "optional_float" and low in ("none", "null"):
            return None
        if kind in ("float", "optional_float"):
            return float(raw)
        if kind == "int":
            return _parse_int(raw)
        # int_tuple: 64 / 64, / 64,64 / (64, 64) / [64, 64]
        inner = raw[1:-1] if raw[:1] + raw[-1:] in ("()", "[]") else raw
        parts = [p.strip() for p in inner.split(",")]
        if parts and parts[-1] == "":
            parts.pop()
        if not parts:
            raise ValueError
        return tuple(_parse_int(p) for p in parts)
    except ValueError:
        raise ValueError(f"{name}={text!r}: {name} expects {_FORMS[kind]}.") from None


def _parse_int(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        v = float(raw)  # 1e5 is a fine way to write 100000
        if not v.is_integer():
            raise
        return int(v)


def field_help() -> dict[str, str]:
    """Each DQNConfig field's trailing ``# comment`` in this file, in field order.

    Introduced in lesson 05: the comments are the documentation, and the command line's
    ``--help`` shows them. A field whose source cannot be read gets ``""``.
    """
    names = [f.name for f in dataclasses.fields(DQNConfig)]
    found: dict[str, str] = {}
    try:
        source = inspect.getsource(DQNConfig)
    except (OSError, TypeError):
        source = ""
    depth = 0
    at_line_start = True
    current: str | None = None  # the field whose declaration this logical line holds
    pending_name: str | None = None
    comments: list[str] = []
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.INDENT:
            depth += 1
            continue
        if tok.type == tokenize.DEDENT:
            depth -= 1
            continue
        if tok.type == tokenize.COMMENT:
            if current is not None:
                comments.append(tok.string.lstrip("#").strip())
            continue
        if tok.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
            if current is not None and current not in found:
                found[current] = " ".join(c for c in comments if c)
            current, pending_name, comments, at_line_start = None, None, [], True
            continue
        if tok.type == tokenize.NL:
            continue
        if at_line_start:
            at_line_start = False
            if depth == 1 and tok.type == tokenize.NAME and tok.string in names:
                pending_name = tok.string
            continue
        if pending_name is not None:
            if tok.type == tokenize.OP and tok.string == ":":
                current = pending_name
            pending_name = None
    return {name: found.get(name, "") for name in names}


def _positive(name: str, v: float, hint: str) -> None:
    if v <= 0:
        raise ValueError(f"{name} must be > 0, got {v}. {hint}")


def _check_values(c: DQNConfig) -> None:
    if c.precision not in _PRECISIONS:
        raise ValueError(
            f"precision must be one of {', '.join(_PRECISIONS)}, got {c.precision!r}. 'bf16' runs the "
            "update in bfloat16 on a CPU that supports it and falls back to fp32 elsewhere."
        )
    if not c.env_id:
        raise ValueError(
            "env_id must be a Gymnasium id such as 'CartPole-v1' or 'ALE/Pong-v5', got ''."
        )
    _positive("total_steps", c.total_steps, "It counts agent steps, e.g. 30_000 for CartPole.")
    if c.seed < 0:
        raise ValueError(f"seed must be >= 0, got {c.seed}.")
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
            f"got {c.lr_end}."
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
    # Pong on one machine (lesson 10): the DQN loop with two of Rainbow's extensions, 3-step
    # returns and prioritized replay, over a 100k frame buffer (~0.7 GB); Adam 1e-4 (eps 1.5e-4),
    # a Huber loss, ε 1 → 0.01 over the first 100k steps, an update every 4 agent steps and a
    # target copy every 1,000. Why these two: on a CPU the update is nearly the whole cost of a
    # step, and n-step returns and prioritized replay cost almost nothing per update, while
    # Double DQN (one more forward pass) and the dueling head (a second 3136x512 layer) each make
    # every update dearer; section (e) of benchmarks/bench_pong.py measures each on your machine.
    "pong": DQNConfig(
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
    ),
    # Plain DQN on pixels (lesson 10): the algorithm of lesson 05 with the Nature CNN of lesson 06,
    # Nature-style: uniform replay, 1-step targets, no Double DQN, no dueling head; Adam (eps
    # 1.5e-4) at 1e-4, batch 32, an update every 4 agent steps, a target copy every 2,000 agent
    # steps (500 updates), ε 1 → 0.01 over 250k steps. Published sample cost with sticky actions
    # (Dopamine's DQN, 5-seed mean): about 10M agent steps to reach 18 on Pong, which is why the
    # course's `pong` preset adds the n-step returns and prioritized replay of lesson 09.
    "pong-dqn": DQNConfig(
        env_id="ALE/Pong-v5",
        total_steps=10_000_000,
        learning_rate=1e-4,
        adam_eps=1.5e-4,
        batch_size=32,
        buffer_size=100_000,
        learning_starts=20_000,
        train_freq=4,
        gradient_steps=1,
        target_update=2_000,
        gamma=0.99,
        epsilon_start=1.0,
        epsilon_end=0.01,
        epsilon_fraction=0.025,
        loss="huber",
        max_grad_norm=10.0,
        double=False,
        dueling=False,
        prioritized=False,
        n_step=1,
        eval_every=100_000,
        eval_episodes=10,
        checkpoint_every=25_000,
        save_buffer=False,
        frame_stack=4,
        precision="bf16",
    ),
    # Plain DQN of lesson 05, the algorithm the lesson teaches: uniform replay, 1-step targets, no
    # Double DQN, no dueling head; only the standard DQN parts, namely a target network, the Huber
    # loss, gradient clipping at 10 and a linear ε schedule (1 → 0.04 over 16%). Values are RL-Zoo's
    # for SB3's (plain) DQN on CartPole: Adam 2.3e-3, batch 64, a 256-256 MLP, a buffer keeping
    # every transition, 128 updates every 256 steps (24,576 updates in 50k steps; 18-27 s a run
    # on one core). target_update=10 copies θ⁻ ← θ once after each burst of 128 updates.
    # Measured, seeds 0-9, 20-episode greedy evaluations every 2,500 steps:
    #   python -m dqn_helpers.train --env CartPole-v1 --preset cartpole-dqn --steps 50000 --seed S
    # 10/10 seeds reach a mean >= 475 (first at 12.5k-37.5k steps, median 32.5k); 7/10 are still
    # >= 450 at 50k (last evals 414, 143 and 230 for the others): plain DQN still collapses at
    # times after reaching 500 (lessons 07-11 study why, and what helps).
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
