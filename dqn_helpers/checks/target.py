"""Checkers of lesson 04 (target networks)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from dqn_helpers.checks._core import (
    _mlp,
    _on_error,
    _seeded,
    checker,
    expect,
    fail,
)


def _twin_networks(seed: int = 0) -> tuple[Any, Any]:
    """Two small MLPs with the same architecture and different random weights."""
    return _seeded(lambda: (_mlp(3, 5, 2), _mlp(3, 5, 2)), seed)


def _weights(net: Any) -> list[Any]:
    return [p.detach().clone() for p in net.parameters()]


def _same(a: list[Any], b: list[Any], atol: float = 0.0) -> bool:
    import torch

    return all(torch.allclose(x, y, rtol=0.0, atol=atol) for x, y in zip(a, b))


def _shift_online(online: Any) -> None:
    """Train the online network "afterwards": add 1 to every weight, in place."""
    import torch

    with torch.no_grad():
        for p in online.parameters():
            p.add_(1.0)


@checker
def check_hard_update(fn: Callable[..., Any]) -> str:
    """Exercise 4.1: ``fn(target_network, online_network)`` copies θ into θ⁻ in place (θ⁻ ← θ).
    Introduced in lesson 04."""
    target, online = _twin_networks(1)
    before_target, before_online = _weights(target), _weights(online)
    fn(target, online)
    after_target, after_online = _weights(target), _weights(online)
    expect(
        not (_same(after_online, before_target) and not _same(after_online, before_online)),
        "the ONLINE network received the target's weights: the copy goes the other way, θ⁻ ← θ "
        "(target_network gets online_network's weights).",
    )
    expect(
        _same(after_online, before_online),
        "the online network changed: a hard update only writes into the target.",
    )
    expect(
        not _same(after_target, before_target),
        "target_network did not change. `target_network = online_network` inside the function only rebinds "
        "a local name; copy the values INTO the target, e.g. "
        "target_network.load_state_dict(online_network.state_dict()).",
    )
    expect(
        _same(after_target, before_online),
        "after a hard update every target weight must equal the online "
        "weight exactly (θ⁻ = θ); some differ. Copy all parameters, "
        "biases included.",
    )
    _shift_online(online)
    expect(
        _same(_weights(target), before_online),
        "the target moved when the online network was trained afterwards: it SHARES tensors with it (e.g. "
        "p_target.data = p_online.data). Copy values instead: p_target.copy_(p_online) or load_state_dict.",
    )
    return "hard_update copies θ into θ⁻ exactly, in place, and the copy stays frozen when θ keeps learning."


@checker
def check_soft_update(fn: Callable[..., Any]) -> str:
    """Exercise 4.2: ``fn(target_network, online_network, tau)`` does θ⁻ ← τ θ + (1 − τ) θ⁻ in place.
    Introduced in lesson 04."""
    target, online = _twin_networks(2)
    theta_minus, theta = _weights(target), _weights(online)
    fn(target, online, 0.1)
    got, online_after = _weights(target), _weights(online)
    want = [0.1 * a + 0.9 * b for a, b in zip(theta, theta_minus)]
    swapped = [0.9 * a + 0.1 * b for a, b in zip(theta, theta_minus)]
    expect(
        _same(online_after, theta),
        "the online network changed: a soft update only moves the target.",
    )
    expect(
        not _same(got, theta_minus),
        "target_network did not change: update its parameters IN PLACE inside "
        "torch.no_grad(), e.g. p_target.mul_(1 - tau).add_(tau * p_online).",
    )
    expect(
        not _same(got, swapped, atol=1e-6),
        "you swapped τ and 1 − τ: with τ = 0.1 the target should move "
        "only 10% of the way towards θ, θ⁻ ← τ θ + (1 − τ) θ⁻.",
    )
    expect(
        not _same(got, theta),
        "with τ = 0.1 the target jumped all the way to θ (that is a hard update); it "
        "should move 10%: θ⁻ ← τ θ + (1 − τ) θ⁻.",
    )
    expect(
        _same(got, want, atol=1e-6),
        "with τ = 0.1 each target weight should become 0.1 · θ + 0.9 · θ⁻; some "
        "do not (did you update every parameter, biases included?).",
    )
    _shift_online(online)
    expect(
        _same(_weights(target), want, atol=1e-6),
        "the target moved when the online weights changed later: it shares tensors with the online network. "
        "Update the target's own tensors in place.",
    )
    target, online = _twin_networks(3)
    theta = _weights(online)
    start_gap = sum(float((a - b).abs().sum()) for a, b in zip(_weights(target), theta))
    for _ in range(20):
        fn(target, online, 0.2)
    gap = sum(float((a - b).abs().sum()) for a, b in zip(_weights(target), theta))
    expect(
        abs(gap - start_gap * 0.8**20) <= 1e-4 * max(1.0, start_gap),
        f"20 soft updates with τ = 0.2 should shrink the gap |θ⁻ − θ| by 0.8^20 ≈ 0.0115 (from "
        f"{start_gap:.3f} to {start_gap * 0.8**20:.4f}), got {gap:.4f}.",
    )
    fn(target, online, 1.0)
    expect(
        _same(_weights(target), theta, atol=1e-6), "τ = 1 should copy θ exactly (a hard update)."
    )
    return (
        "soft_update moves θ⁻ a fraction τ towards θ, in place; 20 updates shrink the gap by (1 − τ)^20 and "
        "τ = 1 is a hard update."
    )


# Exercise 4.3: what lesson 04's `Learner` record holds; the checker builds the same fields.
_DQN_STEPS, _DQN_LEARNING_STARTS = 300, 50

# Common slips in the inner step, each with the hint that fixes it (the reference can make each one).
_DQN_STEP_SLIPS = {
    "truncated": "you stored `terminated or truncated`: store `terminated` only. A time-limit cut "
    "(truncated) still has a future, so the target must keep bootstrapping there (lesson 01).",
    "learn_first": "the update ran before the new transition was stored: store (step 4) first, then "
    "sample the minibatch (step 5) from the buffer that already holds it.",
    "late": "the first update came one step late: learn from step == learner.learning_starts on "
    "(skip only while step < learning_starts).",
    "theta": "the TD target came from θ (learner.q_network): with a target network, y uses "
    "learner.target_network (θ⁻).",
    "theta_minus": "with learner.target == 'none' there is no target network: y bootstraps from "
    "learner.q_network itself.",
    "bootstrap_terminal": "terminal transitions were bootstrapped: multiply γ max Q(s', ·; θ⁻) by "
    "(1 − terminated).",
    "mse": "the loss was the squared error whatever learner.loss_fn said: call "
    "learner.loss_fn(q_taken, y) (this case used the Huber loss).",
    "sync_every_step": "the hard update ran at every step: copy θ into θ⁻ only when "
    "step % learner.target_update == 0.",
    "no_sync": "θ⁻ never moved: after the update, sync it (hard: copy every target_update steps, "
    "soft: θ⁻ ← τ θ + (1 − τ) θ⁻ every step).",
}


def _dqn_parts(seed: int, target: str, loss: str) -> Any:
    """The parts of a small DQN run (env, networks, buffer, settings) as lesson 04's ``Learner`` names them."""
    import copy
    import types

    import gymnasium as gym
    import torch
    import torch.nn.functional as F

    from dqn_helpers import buffers, schedules

    env = gym.make("CartPole-v1", max_episode_steps=30)  # short episodes: truncations happen too
    obs, _ = env.reset(seed=seed)
    q_network = _seeded(lambda: _mlp(4, 16, 16, 2), seed)
    return types.SimpleNamespace(
        env=env,
        obs=obs,
        q_network=q_network,
        target_network=copy.deepcopy(q_network),
        optimizer=torch.optim.Adam(q_network.parameters(), lr=1e-3),
        buffer=buffers.ReplayBuffer(1_000, (4,), seed=seed),
        rng=np.random.default_rng(seed),
        epsilon=schedules.LinearSchedule(1.0, 0.1, 200),
        loss_fn={"mse": F.mse_loss, "huber": F.smooth_l1_loss}[loss],
        gamma=0.99,
        batch_size=16,
        learning_starts=_DQN_LEARNING_STARTS,
        target=target,
        target_update=40,
        tau=0.05,
    )


def _reference_dqn_step(parts: Any, step: int, slip: str = "") -> None:
    """Steps 2-8 of DQN done right (or with one of ``_DQN_STEP_SLIPS``), on ``_dqn_parts``."""
    import torch
    import torch.nn.functional as F

    from dqn_helpers import losses

    if parts.rng.random() < parts.epsilon(step):  # step 2: ε-greedy, as lesson 04's act()
        action = int(parts.rng.integers(2))
    else:
        with torch.no_grad():
            action = int(parts.q_network(torch.as_tensor(parts.obs)).argmax())
    next_obs, reward, terminated, truncated, _ = parts.env.step(action)  # step 3

    def learn() -> None:  # steps 5-7
        batch = parts.buffer.sample(parts.batch_size)
        use_theta = {"theta": True, "theta_minus": False}.get(slip, parts.target == "none")
        bootstrap = parts.q_network if use_theta else parts.target_network
        q_taken = parts.q_network(batch.obs).gather(1, batch.actions[:, None])[:, 0]
        with torch.no_grad():
            cut = 0.0 if slip == "bootstrap_terminal" else batch.terminated
            y = (
                batch.rewards
                + parts.gamma * (1 - cut) * bootstrap(batch.next_obs).max(dim=1).values
            )
        loss = (F.mse_loss if slip == "mse" else parts.loss_fn)(q_taken, y)
        parts.optimizer.zero_grad()
        loss.backward()
        parts.optimizer.step()

    starts = parts.learning_starts + (slip == "late")
    if slip == "learn_first" and step >= starts and len(parts.buffer) > 0:
        learn()
    stored_done = terminated or truncated if slip == "truncated" else terminated
    parts.buffer.add(parts.obs, action, reward, next_obs, stored_done)  # step 4
    parts.obs = parts.env.reset()[0] if terminated or truncated else next_obs
    if step < starts:
        return
    if slip != "learn_first":
        learn()
    if slip == "no_sync":
        return
    if parts.target == "hard" and (step % parts.target_update == 0 or slip == "sync_every_step"):
        losses.hard_update(parts.target_network, parts.q_network)  # step 8
    elif parts.target == "soft":
        losses.soft_update(parts.target_network, parts.q_network, parts.tau)


def _dqn_snapshot(parts: Any) -> dict[str, np.ndarray]:
    """What one step leaves behind: the buffer's contents, the observation and both networks' weights."""
    import torch

    stored = parts.buffer.get(np.arange(len(parts.buffer))) if len(parts.buffer) else None
    fields = ("obs", "actions", "rewards", "next_obs", "terminated")
    snap = {f: getattr(stored, f).numpy() if stored is not None else np.zeros(0) for f in fields}
    snap["observation"] = np.array(parts.obs, dtype=np.float32)
    with torch.no_grad():
        for name in ("q_network", "target_network"):
            snap[name] = torch.cat([p.flatten() for p in getattr(parts, name).parameters()]).numpy()
    return snap


def _dqn_trajectory(step_fn: Callable[[Any, int], Any], seed: int, target: str, loss: str) -> list:
    """Snapshots after each of ``_DQN_STEPS`` steps of ``step_fn(parts, step)`` on fresh parts."""
    parts = _dqn_parts(seed, target, loss)
    trajectory = []
    for step in range(1, _DQN_STEPS + 1):
        step_fn(parts, step)
        trajectory.append(_dqn_snapshot(parts))
    return trajectory


def _first_difference(got: list, want: list, target: str) -> tuple[int, str] | None:
    """The first step (1-based) and field where two trajectories differ, or None if they agree."""
    fields = ["obs", "actions", "rewards", "next_obs", "terminated", "observation", "q_network"]
    fields += [] if target == "none" else ["target_network"]
    for step, (g, w) in enumerate(zip(got, want), start=1):
        for field in fields:
            a, b = g[field], w[field]
            close = a.shape == b.shape and (
                np.array_equal(a, b)
                if field == "actions"
                else np.allclose(a, b, rtol=1e-4, atol=1e-5)
            )
            if not close:
                return step, field
    return None


def _dqn_step_hint(step: int, field: str, got: dict, want: dict) -> str:
    """What to look at when the learner's trajectory first leaves the reference at ``step``."""
    where = f"at step {step}"
    if field in ("obs", "actions", "rewards", "next_obs", "terminated"):
        if got[field].shape != want[field].shape:
            return (
                f"{where} the buffer holds {len(got['actions'])} transitions, the reference "
                f"{len(want['actions'])}: store exactly one transition per step (step 4)."
            )
        what = {
            "obs": "the stored s should be learner.obs from BEFORE the step",
            "actions": "the action differs: act as act() does (rng.random() < ε → rng.integers(2), "
            "else the argmax of Q(s, ·; θ)), with ε = learner.epsilon(step) and learner.rng",
            "rewards": "the stored reward differs from the one env.step returned",
            "next_obs": "the stored s' should be the observation env.step returned",
            "terminated": "the stored flag should be `terminated` from env.step",
        }[field]
        return f"{where} a stored transition differs ({field}): {what}."
    if field == "observation":
        return (
            f"{where} learner.obs is not what it should be: set it to s' after the step, or to "
            "env.reset()'s observation when the episode terminated or was truncated."
        )
    if field == "q_network":
        return (
            f"{where} θ differs from the reference: from step learning_starts on, sample "
            "learner.batch_size transitions, compute y without gradient, and take one optimizer step "
            "on learner.loss_fn(Q(s, a; θ), y)."
        )
    return (
        f"{where} θ⁻ differs from the reference: hard: copy θ when step % learner.target_update == 0; "
        "soft: θ⁻ ← τ θ + (1 − τ) θ⁻ after every update (losses.hard_update / losses.soft_update)."
    )


@checker
def check_dqn_step(fn: Callable[..., Any]) -> str:
    """Exercise 4.3: ``fn(learner, step)`` does one environment step of DQN on ``learner``'s fields
    (``env, obs, q_network, target_network, optimizer, buffer, rng, epsilon, loss_fn, gamma, batch_size,
    learning_starts, target, target_update, tau``): act, store, sample, learn, sync θ⁻. It is run for
    300 steps next to a reference on the same seed. Introduced in lesson 04."""
    cases = [(0, "hard", "mse"), (1, "soft", "huber"), (2, "none", "mse")]
    for seed, target, loss in cases:
        setting = f"target={target!r}, loss {loss}"
        with _on_error(f"with {setting}: {{error}}"):
            got = _dqn_trajectory(fn, seed, target, loss)
        want = _dqn_trajectory(_reference_dqn_step, seed, target, loss)
        first = _first_difference(got, want, target)
        if first is None:
            continue
        step, field = first
        same_length = got[-1]["actions"].shape == want[-1]["actions"].shape
        for slip, hint in _DQN_STEP_SLIPS.items() if same_length else ():
            slipped = functools.partial(_reference_dqn_step, slip=slip)
            if _first_difference(got, _dqn_trajectory(slipped, seed, target, loss), target) is None:
                fail(f"with {setting}: {hint}")
        fail(f"with {setting}: {_dqn_step_hint(step, field, got[step - 1], want[step - 1])}")
    return (
        f"dqn_step matches the reference for {_DQN_STEPS} steps with hard/MSE, soft/Huber and no target "
        "network: the same transitions stored, the same θ and θ⁻."
    )
