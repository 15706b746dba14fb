"""Checkers of lesson 04 (target networks)."""

from __future__ import annotations

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
from dqn_helpers.checks._loop import SpyBuffer, expect_epsilon_followed


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

# The reference step can make each of these slips (tests/test_lesson04.py checks that each is caught and
# named); "learn_first" (update before storing the new transition) is a valid order, which the checker accepts.
_DQN_STEP_SLIPS = (
    "truncated",
    "learn_first",
    "late",
    "theta",
    "theta_minus",
    "bootstrap_terminal",
    "mse",
    "sync_every_step",
    "no_sync",
)


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
    """Steps 1-5 of DQN done right (or with one of ``_DQN_STEP_SLIPS``), on ``_dqn_parts``."""
    import torch
    import torch.nn.functional as F

    from dqn_helpers import losses

    if parts.rng.random() < parts.epsilon(step):  # Step 1: ε-greedy, as lesson 03's act()
        action = int(parts.rng.integers(2))
    else:
        with torch.no_grad():
            action = int(parts.q_network(torch.as_tensor(parts.obs)).argmax())
    next_obs, reward, terminated, truncated, _ = parts.env.step(action)  # Step 1: act

    def learn() -> None:  # Steps 3-4: sample, target, loss, gradient step
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
    parts.buffer.add(parts.obs, action, reward, next_obs, stored_done)  # Step 2: store
    parts.obs = parts.env.reset()[0] if terminated or truncated else next_obs
    if step < starts:
        return
    if slip != "learn_first":
        learn()
    if slip == "no_sync":
        return
    if parts.target == "hard" and (step % parts.target_update == 0 or slip == "sync_every_step"):
        losses.hard_update(parts.target_network, parts.q_network)  # Step 5: sync θ⁻
    elif parts.target == "soft":
        losses.soft_update(parts.target_network, parts.q_network, parts.tau)


class _StepSpy:
    """What check_dqn_step watches: env steps (with the observation before each), stores and loss calls."""

    def __init__(self) -> None:
        self.env_steps: list[dict[str, Any]] = []
        self.adds: list[dict[str, Any]] = []
        self.batches: list[Any] = []
        self.losses: list[tuple[Any, Any]] = []  # (q_taken, y) of each loss call
        self.current_obs: Any = None


def _spied_parts(seed: int, target: str, loss: str, net: Any = None) -> tuple[Any, _StepSpy]:
    """``_dqn_parts`` whose env, buffer and loss report to a ``_StepSpy`` (they behave exactly the same)."""
    import gymnasium as gym

    parts, spy = _dqn_parts(seed, target, loss), _StepSpy()
    if net is not None:
        import copy

        import torch

        parts.q_network, parts.target_network = net, copy.deepcopy(net)
        parts.optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    spy.current_obs = np.array(parts.obs, copy=True)

    class SpyEnv(gym.Wrapper):
        def reset(self, **kwargs: Any) -> Any:
            obs, info = self.env.reset(**kwargs)
            spy.current_obs = np.array(obs, copy=True)
            return obs, info

        def step(self, action: Any) -> Any:
            out = self.env.step(action)
            spy.env_steps.append(
                {
                    "obs": spy.current_obs,
                    "action": int(action),
                    "next_obs": np.array(out[0], copy=True),
                    "terminated": bool(out[2]),
                    "truncated": bool(out[3]),
                }
            )
            spy.current_obs = np.array(out[0], copy=True)
            return out

    real_loss = parts.loss_fn

    def loss_fn(q_taken: Any, y: Any) -> Any:
        spy.losses.append((q_taken, y))
        return real_loss(q_taken, y)

    parts.env, parts.loss_fn = SpyEnv(parts.env), loss_fn
    parts.buffer = SpyBuffer(parts.buffer, spy.adds, spy.batches)
    return parts, spy


def _flat(net: Any) -> Any:
    import torch

    with torch.no_grad():
        return torch.cat([p.detach().flatten().clone() for p in net.parameters()])


def _td_target(batch: Any, gamma: float, net: Any) -> Any:
    """r + γ (1 − terminated) max_a' Q(s', a') of ``batch`` with ``net`` (call under no_grad)."""
    return batch.rewards + gamma * (1 - batch.terminated) * net(batch.next_obs).max(dim=1).values


def _copy_with(net: Any, flat: Any) -> Any:
    """A copy of ``net`` whose parameters are the flat vector ``flat``."""
    import copy

    import torch

    twin = copy.deepcopy(net)
    torch.nn.utils.vector_to_parameters(flat.clone(), twin.parameters())
    return twin


def _check_step_run(fn: Callable[..., Any], seed: int, target: str, loss: str) -> None:
    """300 steps of the learner's step with spies; what any correct DQN step does, checked step by step."""
    import torch

    parts, spy = _spied_parts(seed, target, loss)
    setting = f"with target={target!r}, loss {loss}"
    for step in range(1, _DQN_STEPS + 1):
        n_losses = len(spy.losses)
        theta_before, theta_minus_before = _flat(parts.q_network), _flat(parts.target_network)
        with _on_error(f"{setting}, at step {step}: {{error}}"):
            fn(parts, step)
        expect(
            len(spy.env_steps) == step and len(spy.adds) == step,
            f"{setting}, step {step}: {len(spy.env_steps)} env steps and {len(spy.adds)} stored transitions "
            "so far: step the env once and store exactly one transition per step (step 2).",
        )
        real, stored = spy.env_steps[-1], spy.adds[-1]
        if real["truncated"] and not real["terminated"]:
            expect(
                not stored["terminated"],
                f"{setting}, step {step}: the episode was cut by its time limit and "
                "you stored terminated=True: store `terminated` only. A time-limit cut (truncated) still has "
                "a future, so the target must keep bootstrapping there (lesson 05, section 1).",
            )
        expect(
            stored["terminated"] == real["terminated"]
            and stored["action"] == real["action"]
            and np.allclose(stored["obs"], real["obs"]),
            f"{setting}, step {step}: the stored transition is not (s, a, terminated) of the step just played: "
            "store learner.obs from BEFORE the step, the action played and env.step's `terminated`.",
        )
        ended = real["terminated"] or real["truncated"]
        expect(
            ended or np.allclose(parts.obs, real["next_obs"]),
            f"{setting}, step {step}: learner.obs should be s' after the step (or env.reset()'s observation "
            "when the episode terminated or was truncated).",
        )
        expect(
            not ended or not np.allclose(parts.obs, real["next_obs"]),
            f"{setting}, step {step}: the episode ended but learner.obs is its last observation: reset "
            "the env (learner.obs = learner.env.reset()[0]).",
        )
        updates = len(spy.losses) - n_losses
        if step < parts.learning_starts:
            expect(
                updates == 0,
                f"{setting}: an update at step {step}, before learner.learning_starts = "
                f"{parts.learning_starts}: skip learning while step < learning_starts.",
            )
            continue
        if updates == 0 and not torch.equal(_flat(parts.q_network), theta_before):
            fail(
                f"{setting}, step {step}: θ changed but learner.loss_fn was not called: take the optimizer "
                f"step on learner.loss_fn(Q(s, a; θ), y) (this case uses the {loss} loss)."
            )
        expect(
            updates == 1,
            f"{setting}: {updates} calls of learner.loss_fn at step {step}; from "
            "learner.learning_starts on, each step takes exactly one update"
            + (
                ": the first update came one step late (learn from step == learning_starts on)."
                if step == parts.learning_starts and updates == 0
                else "."
            ),
        )
        q_taken, y = spy.losses[-1]
        batch = spy.batches[-1]
        expect(
            q_taken.requires_grad and not y.requires_grad,
            f"{setting}: learner.loss_fn(Q(s, a; θ), y) got a prediction without gradient, or a target with "
            "one: compute Q(s, a; θ) with gradient and y under torch.no_grad().",
        )
        theta, theta_minus = (
            _copy_with(parts.q_network, theta_before),
            _copy_with(parts.q_network, theta_minus_before),
        )
        with torch.no_grad():
            want_q = theta(batch.obs).gather(1, batch.actions[:, None])[:, 0]
            want_y, other_y = (
                _td_target(batch, parts.gamma, net)
                for net in ((theta, theta_minus) if target == "none" else (theta_minus, theta))
            )
        expect(
            q_taken.shape == want_q.shape and torch.allclose(q_taken.detach(), want_q, atol=1e-5),
            f"{setting}, step {step}: the prediction is not Q(s, a; θ) of the sampled batch: "
            "q_network(batch.obs).gather(1, batch.actions.unsqueeze(1)).squeeze(1).",
        )
        if not (y.shape == want_y.shape and torch.allclose(y, want_y, atol=1e-4)):
            terminal = batch.terminated.bool()
            if y.shape == other_y.shape and torch.allclose(y, other_y, atol=1e-4):
                hint = (
                    "with learner.target == 'none' there is no target network: y bootstraps from "
                    "learner.q_network itself."
                    if target == "none"
                    else "the TD target came from θ (learner.q_network): with a target network, y uses "
                    "learner.target_network (θ⁻)."
                )
            elif (
                terminal.any()
                and y.shape == want_y.shape
                and not torch.allclose(y[terminal], batch.rewards[terminal])
            ):
                hint = "terminal transitions were bootstrapped: multiply γ max Q(s', ·; θ⁻) by (1 − terminated)."
            else:
                hint = "y = r + γ (1 − terminated) max_a' Q(s', a'; θ⁻), computed from the batch you sampled."
            fail(f"{setting}, step {step}: {hint}")
        if target == "hard":
            changed = not torch.equal(_flat(parts.target_network), theta_minus_before)
            due = step % parts.target_update == 0
            expect(
                changed == due
                or (due and torch.equal(_flat(parts.target_network), _flat(parts.q_network))),
                f"{setting}: θ⁻ "
                + ("changed" if changed else "did not change")
                + f" at step {step}: "
                + (
                    "the hard update ran at every step: copy θ into θ⁻ only when step % learner.target_update == 0."
                    if changed
                    else "θ⁻ never moved: copy θ into θ⁻ when step % learner.target_update == 0 "
                    "(hard) or blend it by τ after every update (soft)."
                ),
            )
            if due:
                expect(
                    torch.equal(_flat(parts.target_network), _flat(parts.q_network)),
                    f"{setting}, step {step}: after the hard update θ⁻ must equal θ (copy after the update).",
                )
        elif target == "soft":
            want = parts.tau * _flat(parts.q_network) + (1 - parts.tau) * theta_minus_before
            expect(
                torch.allclose(_flat(parts.target_network), want, atol=1e-6),
                f"{setting}, step {step}: θ⁻ never moved as the soft update says: after the update, "
                "θ⁻ ← τ θ + (1 − τ) θ⁻ (losses.soft_update).",
            )
    expect(
        all(p.grad is None or not torch.any(p.grad) for p in parts.target_network.parameters()),
        f"{setting}: a gradient reached the target network: compute y under torch.no_grad().",
    )


def _check_step_epsilon(fn: Callable[..., Any], seed: int) -> None:
    """No learning, a network that always prefers action 0: action 1 is played with probability ε/2."""
    import torch

    def rigged() -> Any:
        net = _mlp(4, 16, 16, 2)
        with torch.no_grad():
            net[-1].weight.zero_()
            net[-1].bias.copy_(torch.tensor([1.0, 0.0]))
        return net

    parts, spy = _spied_parts(seed, "hard", "mse", net=_seeded(rigged, seed))
    parts.learning_starts = 10**9
    steps = 1_200
    with _on_error("with learning switched off: {error}"):
        for step in range(1, steps + 1):
            fn(parts, step)
    ones = np.array([s["action"] for s in spy.env_steps]) == 1
    epsilon = np.array([parts.epsilon(t) for t in range(1, steps + 1)])
    expect_epsilon_followed(
        ones,
        epsilon,
        4,
        lambda first, last, got, want: (
            f"ε does not follow learner.epsilon(step): over steps {first + 1}–{last + 1} a random action "
            f"was played about {got:.2f} of the time, learner.epsilon says {want:.2f}. With probability "
            "ε = learner.epsilon(step) play a uniformly random action, otherwise argmax_a Q(s, a; θ)."
        ),
    )


@checker
def check_dqn_step(fn: Callable[..., Any]) -> str:
    """Exercise 4.3: ``fn(learner, step)`` does one environment step of DQN on ``learner``'s fields
    (``env, obs, q_network, target_network, optimizer, buffer, rng, epsilon, loss_fn, gamma, batch_size,
    learning_starts, target, target_update, tau``): act, store, sample, learn, sync θ⁻. Judged by behaviour
    over 300 steps with spies on the env, the buffer and the loss (not against one trajectory), and ε
    measured on a network that always prefers action 0. Introduced in lesson 04."""
    for seed, target, loss in [(0, "hard", "mse"), (1, "soft", "huber"), (2, "none", "mse")]:
        _check_step_run(fn, seed, target, loss)
    _check_step_epsilon(fn, seed=3)
    return (
        f"dqn_step behaves as DQN's inner step for {_DQN_STEPS} steps with hard/MSE, soft/Huber and no target "
        "network: one stored transition per step (terminated only), one update per step from learning_starts "
        "on with the right prediction and target, θ⁻ synced as it should be, ε on its schedule."
    )
