"""Checkers of lesson 05 (DQN on CartPole)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dqn_helpers.checks._core import (
    _fixed_linear,
    _mlp,
    _number,
    _on_error,
    _seeded,
    checker,
    expect,
    fail,
)
from dqn_helpers.checks._loop import SpyBuffer, expect_epsilon_followed


def _hand_dqn_problem() -> tuple[Any, Any, Any, float]:
    """Two bias-free linear 'networks' and a 3-transition batch whose DQN loss is exactly 2/3.

    online Q(s) = s, target Q(s') = 2 s'; Q(s,a) = [2, 3, 0], y = [2, 2, -1] (the last one terminal).
    """
    from types import SimpleNamespace

    import torch

    online, target = _fixed_linear(torch.eye(2)), _fixed_linear(2 * torch.eye(2))
    batch = SimpleNamespace(
        obs=torch.tensor([[1.0, 2.0], [3.0, 0.0], [0.0, 1.0]]),
        actions=torch.tensor([1, 0, 0]),
        rewards=torch.tensor([1.0, 0.0, -1.0]),
        next_obs=torch.tensor([[1.0, 1.0], [0.0, 2.0], [4.0, 4.0]]),
        terminated=torch.tensor([0.0, 0.0, 1.0]),
    )
    return online, target, batch, 0.5


def _random_dqn_batch(n: int, gen: Any) -> Any:
    """A random batch of ``n`` transitions (4-dim observations, 3 actions) drawn from ``gen``."""
    from types import SimpleNamespace

    import torch

    return SimpleNamespace(
        obs=torch.randn(n, 4, generator=gen),
        actions=torch.randint(0, 3, (n,), generator=gen),
        rewards=torch.randn(n, generator=gen),
        next_obs=torch.randn(n, 4, generator=gen),
        terminated=(torch.rand(n, generator=gen) < 0.3).float(),
    )


def _reference_dqn_loss(online: Any, target: Any, batch: Any, gamma: float) -> Any:
    import torch

    q_taken = online(batch.obs).gather(1, batch.actions.unsqueeze(1)).squeeze(1)
    with torch.no_grad():
        y = (
            batch.rewards
            + gamma * (1.0 - batch.terminated) * target(batch.next_obs).max(dim=1).values
        )
    return ((y - q_taken) ** 2).mean()


# Losses that common slips give on the hand batch (true answer 2/3), each with what to fix.
_DQN_LOSS_SLIPS = {
    10
    / 3: "The terminal transition was bootstrapped: multiply γ·max Q(s', ·) by (1 - terminated).",
    7 / 4: "The target used the online network; compute max_a' Q(s', a') with target_network.",
    5
    / 3: "Q(s, a) must be the value of the action TAKEN: q.gather(1, actions.unsqueeze(1)).squeeze(1), "
    "not the max over actions.",
    1 / 3: "That is the Huber loss (or half the MSE); this exercise asks for mean((y - Q(s,a))²).",
    4.0: "A (batch, 1) tensor met a (batch,) tensor and broadcast to (batch, batch): squeeze(1) the "
    "gathered Q-values.",
}


@checker
def check_dqn_loss(fn: Callable[..., Any]) -> str:
    """Check ``fn(q_network, target_network, batch, gamma) -> scalar loss`` (the MSE DQN loss).

    Exact value on a hand batch, gradient only into the online network, random batches vs a reference.
    Introduced in lesson 05 (exercise 5.1).
    """
    import torch

    online, target, batch, gamma = _hand_dqn_problem()
    loss = fn(online, target, batch, gamma)
    is_tensor = isinstance(loss, torch.Tensor)
    expect(
        is_tensor and loss.numel() == 1,
        f"return the loss as a one-element torch tensor (got {type(loss).__name__}"
        + (f" of shape {tuple(loss.shape)})." if is_tensor else ")."),
    )
    value = float(loss.detach())
    slip = next(
        (h for v, h in _DQN_LOSS_SLIPS.items() if abs(value - v) < 1e-5),
        "Targets y = r + γ (1 - terminated) max_a' Q_target(s', a'), then mean((y - Q(s, a))²).",
    )
    expect(
        abs(value - 2 / 3) <= 1e-5,
        f"on the hand batch the loss should be 2/3 ≈ 0.6667, got {value:.4f}. {slip}",
    )
    expect(
        loss.requires_grad,
        "the loss carries no gradient: compute Q(s, a) with q_network outside "
        "torch.no_grad(), so loss.backward() can reach its weights.",
    )
    loss.backward()
    expect(
        target.weight.grad is None or target.weight.grad.abs().sum() == 0,
        "the gradient reached the target network: compute the targets inside torch.no_grad() (or .detach() "
        "them). Only θ learns; θ⁻ is a frozen copy.",
    )
    expected = torch.tensor(
        [[2.0, 2 / 3], [0.0, 0.0]]
    )  # dL/dW by hand: row a sums 2(q_i - y_i)/3 · s_i
    expect(
        online.weight.grad is not None and torch.allclose(online.weight.grad, expected, atol=1e-5),
        "the value is right but the gradient into q_network is not: keep the Q(s, a) term differentiable "
        "and the target constant.",
    )
    gen = torch.Generator().manual_seed(5)
    for trial, g in enumerate([0.99, 0.9, 1.0]):
        q_net, t_net = _seeded(lambda: (_mlp(4, 16, 3), _mlp(4, 16, 3)), seed=100 + trial)
        rand = _random_dqn_batch(32, gen)
        got = fn(q_net, t_net, rand, g)
        want = float(_reference_dqn_loss(q_net, t_net, rand, g).detach())
        value = _number(got.detach()) if isinstance(got, torch.Tensor) else float("nan")
        expect(
            abs(value - want) <= 1e-4 * max(1.0, abs(want)),
            f"right on the hand batch but not on a random one (γ={g}, 32 transitions, 3 actions): expected "
            f"{want:.5f}, got {f'{value:.5f}' if isinstance(got, torch.Tensor) else repr(got)}. Avoid "
            "hard-coded sizes.",
        )
    return (
        "DQN loss correct: exact on the hand batch, gradient only into q_network, and it matches the "
        "reference on random batches."
    )


@checker
def check_linear_epsilon(fn: Callable[..., Any]) -> str:
    """Check ``fn(step, start, end, fraction, total_steps) -> ε``: linear over fraction·total_steps, then flat.

    Introduced in lesson 05 (exercise 5.2); the reference is ``schedules.LinearSchedule``.
    """
    cases = [  # (step, start, end, fraction, total_steps, expected)
        (0, 1.0, 0.01, 0.3, 30_000, 1.0),
        (4_500, 1.0, 0.01, 0.3, 30_000, 0.505),
        (9_000, 1.0, 0.01, 0.3, 30_000, 0.01),
        (25_000, 1.0, 0.01, 0.3, 30_000, 0.01),
        (50, 0.5, 0.1, 0.5, 200, 0.3),
        (1, 1.0, 0.0, 1.0, 4, 0.75),
    ]
    for step, start, end, fraction, total, want in cases:
        got = fn(step, start, end, fraction, total)
        expect(
            isinstance(got, int | float | np.floating) and not isinstance(got, bool),
            f"return a float, got {type(got).__name__} for step={step}.",
        )
        duration = int(fraction * total)
        hint = (
            "ε went below `end`: after the decay it must stay flat at `end` (clamp the progress at 1)."
            if float(got) < end - 1e-12
            else "ε decays over the whole run; it should reach `end` after fraction · total_steps steps."
            if step < duration and abs(float(got) - (start + step / total * (end - start))) < 1e-9
            else "ε(step) = start + min(step / duration, 1) · (end - start), with "
            "duration = int(fraction · total_steps)."
        )
        expect(
            abs(float(got) - want) <= 1e-9,
            f"ε({step}) with start={start}, end={end}, fraction={fraction}, "
            f"total_steps={total} should be {want}, got {got}. {hint}",
        )
    return "linear ε schedule correct: decays over the first fraction of training, then flat."


# ------------------------------------------------------------------ exercise 5.3: the whole loop
class _LoopSpy:
    """What the checker watches while the learner's loop runs: every env step, store, sample and update.

    The env, the buffer and the loss handed to the loop are thin wrappers that write here; nothing in
    them changes what the loop sees, so any correct loop behaves exactly as it would without them.
    """

    def __init__(self, q_network: Any, target_network: Any) -> None:
        self.q_network, self.target_network = q_network, target_network
        self.steps = 0  # env.step calls so far
        self.episodes = 0  # episodes ended (terminated or truncated) so far
        self.resets: list[Any] = []  # (steps at the reset, observation it returned)
        self.env_steps: list[
            dict[str, Any]
        ] = []  # per env step: obs before, action, next_obs, flags
        self.adds: list[dict[str, Any]] = []  # per buffer.add: steps at the time, the stored fields
        self.samples: list[Any] = []  # the last batch handed out
        self.updates: list[int] = []  # steps done when each loss_fn call happened
        self.loss_args_ok = (
            True  # loss_fn always got the given networks and a batch from the buffer
        )
        self.alias = False  # loss_fn got q_network as its target network
        self.target_changes: list[
            int
        ] = []  # steps done at which θ⁻ had changed since the last look
        self.target_was_q = False
        self._last_target = self._target_weights()
        self.current_obs: Any = None

    def _target_weights(self) -> Any:
        import torch

        with torch.no_grad():
            return torch.cat(
                [p.detach().flatten().clone() for p in self.target_network.parameters()]
            )

    def look_at_target(self) -> None:
        """Called at each env step: did θ⁻ change since the previous one?"""
        import torch

        now = self._target_weights()
        if not torch.equal(now, self._last_target):
            self.target_changes.append(self.steps)
        self._last_target = now


def _spy_env(env: Any, spy: _LoopSpy) -> Any:
    import gymnasium as gym

    class SpyEnv(gym.Wrapper):
        def reset(self, **kwargs: Any) -> Any:
            obs, info = self.env.reset(**kwargs)
            spy.resets.append((spy.steps, np.array(obs, copy=True)))
            spy.current_obs = np.array(obs, copy=True)
            return obs, info

        def step(self, action: Any) -> Any:
            spy.look_at_target()
            obs, reward, terminated, truncated, info = self.env.step(action)
            spy.env_steps.append(
                {
                    "obs": spy.current_obs,
                    "action": int(action),
                    "next_obs": np.array(obs, copy=True),
                    "terminated": bool(terminated),
                    "truncated": bool(truncated),
                    "episodes_before": spy.episodes,
                }
            )
            spy.steps += 1
            spy.episodes += bool(terminated or truncated)
            spy.current_obs = np.array(obs, copy=True)
            return obs, reward, terminated, truncated, info

    return SpyEnv(env)


def _spy_loss(spy: _LoopSpy) -> Callable[..., Any]:
    def loss_fn(q_network: Any, target_network: Any, batch: Any, gamma: float) -> Any:
        spy.updates.append(spy.steps)
        if target_network is q_network:
            spy.alias = True
        wrong_target = target_network is not spy.target_network and target_network is not q_network
        if (
            q_network is not spy.q_network
            or wrong_target
            or not spy.samples
            or batch is not spy.samples[-1]
        ):
            spy.loss_args_ok = False
        return _reference_dqn_loss(q_network, target_network, batch, gamma)

    return loss_fn


def _loop_config(**overrides: Any) -> Any:
    from dqn_helpers import config as dqn_config

    base = dict(
        total_steps=400,
        learning_rate=1e-3,
        batch_size=16,
        buffer_size=1_000,
        learning_starts=100,
        train_freq=1,
        gradient_steps=1,
        target_update=50,
        gamma=0.99,
        epsilon_start=1.0,
        epsilon_end=0.1,
        epsilon_fraction=0.5,
        epsilon_decay=None,
        max_grad_norm=None,
        hidden=(16,),
        loss="mse",
    )
    return dqn_config.preset("lesson", **{**base, **overrides})


def _run_loop(
    fn: Callable[..., Any], cfg: Any, seed: int, *, episode_limit: int, net: Any = None
) -> tuple[_LoopSpy, Any]:
    """Run the learner's loop on CartPole (episodes cut at ``episode_limit``) with spies; (spy, returned)."""
    import copy

    import gymnasium as gym

    from dqn_helpers import buffers

    q_network = net if net is not None else _seeded(lambda: _mlp(4, *cfg.hidden, 2), seed)
    target_network = copy.deepcopy(q_network)
    spy = _LoopSpy(q_network, target_network)
    grads: dict[int, Any] = {}
    handles = [
        p.register_hook(lambda g, i=i: grads.__setitem__(i, g.detach().clone()))
        for i, p in enumerate(q_network.parameters())
    ]
    env = _spy_env(gym.make("CartPole-v1", max_episode_steps=episode_limit), spy)
    inner = buffers.ReplayBuffer(cfg.buffer_size, (4,), seed=seed)
    buffer = SpyBuffer(inner, spy.adds, spy.samples, clock=lambda: spy.steps)
    try:
        with _on_error("the loop raised: {error}"):
            returned = fn(env, q_network, target_network, buffer, cfg, _spy_loss(spy), seed)
    finally:
        for h in handles:
            h.remove()
    spy.look_at_target()  # a copy at the very last step
    spy.last_grads = grads  # type: ignore[attr-defined]
    return spy, returned


def _expected_epsilon(cfg: Any, step: int, episodes: int) -> float:
    if cfg.epsilon_decay:
        return max(cfg.epsilon_end, cfg.epsilon_start * cfg.epsilon_decay**episodes)
    progress = min(step / max(1, int(cfg.epsilon_fraction * cfg.total_steps)), 1.0)
    return cfg.epsilon_start + progress * (cfg.epsilon_end - cfg.epsilon_start)


def _check_mechanics(fn: Callable[..., Any], cfg: Any, seed: int) -> None:
    """One short run with spies: stores, flags, order of updates, the target network's copies."""
    import torch

    spy, returned = _run_loop(fn, cfg, seed, episode_limit=20)
    setting = f"(train_freq={cfg.train_freq}, gradient_steps={cfg.gradient_steps}, target_update={cfg.target_update})"
    expect(
        spy.steps == cfg.total_steps,
        f"the loop made {spy.steps} env steps; it should make exactly config.total_steps = {cfg.total_steps}.",
    )
    expect(
        len(spy.adds) == cfg.total_steps,
        f"{len(spy.adds)} transitions were stored in {spy.steps} steps: call buffer.add once per env step "
        "(Step 2).",
    )
    for i, (stored, real) in enumerate(zip(spy.adds, spy.env_steps)):
        if real["truncated"] and not real["terminated"]:
            expect(
                not stored["terminated"],
                f"at step {i + 1} the episode hit its time limit (truncated) and you stored terminated=True: "
                "store `terminated` only. A time limit is not the end of the task, so its target must still "
                "bootstrap (lesson 05, section 1).",
            )
        expect(
            stored["terminated"] == real["terminated"],
            f"at step {i + 1} the stored terminated flag is {stored['terminated']}, env.step said "
            f"{real['terminated']}: store the `terminated` that env.step returned.",
        )
        expect(
            stored["action"] == real["action"],
            f"at step {i + 1} the stored action ({stored['action']}) is not the one played "
            f"({real['action']}).",
        )
        expect(
            np.allclose(stored["next_obs"], real["next_obs"]),
            f"at step {i + 1} the stored next_obs is not what env.step returned.",
        )
        if not np.allclose(stored["obs"], real["obs"]):
            ended_before = i > 0 and (
                spy.env_steps[i - 1]["terminated"] or spy.env_steps[i - 1]["truncated"]
            )
            fail(
                f"at step {i + 1} the stored obs is not the state the action was taken in. "
                + (
                    "The previous episode had just ended: after env.reset(), store the observation that "
                    "reset returned."
                    if ended_before
                    else "After each step set obs = next_obs (s ← s'), and after an episode ends, "
                    "obs = env.reset()[0]."
                )
            )
    expect(
        not any(
            (s["terminated"] or s["truncated"])
            and nxt["obs"] is not None
            and np.allclose(nxt["obs"], s["next_obs"])
            for s, nxt in zip(spy.env_steps, spy.env_steps[1:])
        ),
        "after an episode ended (terminated or truncated) the loop kept stepping it: call env.reset() "
        "and continue from the observation it returns.",
    )
    expect(
        spy.updates,
        "the loop never called loss_fn: from config.learning_starts on, sample a "
        "minibatch and take a gradient step on loss_fn(q_network, target_network, batch, config.gamma).",
    )
    expect(
        spy.loss_args_ok,
        "call loss_fn(q_network, target_network, batch, config.gamma) with the networks you were given and "
        "the batch that buffer.sample(config.batch_size) just returned.",
    )
    expect(
        not spy.alias,
        "loss_fn got q_network as the target network. `target_network = q_network` makes both names point "
        "at one network, so the target moves at every update: copy the weights instead "
        "(target_network.load_state_dict(q_network.state_dict())).",
    )
    early = min(spy.updates)
    expect(
        early >= cfg.learning_starts - 1,
        f"the first update came after {early} env steps; no update may happen before "
        f"config.learning_starts = {cfg.learning_starts} steps (the buffer is still filling).",
    )
    expected_updates = (
        cfg.total_steps // cfg.train_freq - (cfg.learning_starts - 1) // cfg.train_freq
    ) * cfg.gradient_steps
    expect(
        early <= cfg.learning_starts + cfg.train_freq + 1,
        f"the first update came only after {early} env steps: start updating at config.learning_starts = "
        f"{cfg.learning_starts} {setting}.",
    )
    expect(
        abs(len(spy.updates) - expected_updates) <= 2 * cfg.gradient_steps,
        f"{len(spy.updates)} updates in {cfg.total_steps} steps {setting}; expected about "
        f"{expected_updates}: every config.train_freq env steps from learning_starts on, "
        "config.gradient_steps minibatch updates.",
    )
    expect(
        all(p.grad is None or not torch.any(p.grad) for p in spy.target_network.parameters()),
        "a gradient reached the target network: θ⁻ must only be copied, never trained. Build the optimizer "
        "over q_network.parameters() only and compute the target without gradient.",
    )
    last = getattr(spy, "last_grads", {})
    params = list(spy.q_network.parameters())
    accumulated = any(
        p.grad is not None and i in last and not torch.allclose(p.grad, last[i], atol=1e-6)
        for i, p in enumerate(params)
    )
    expect(
        not accumulated,
        "the gradients of successive updates add up: call optimizer.zero_grad() before loss.backward() "
        "(PyTorch accumulates .grad until it is cleared).",
    )
    changes = spy.target_changes
    expect(
        changes,
        "θ⁻ never changed: every config.target_update env steps copy θ into the target network "
        "(target_network.load_state_dict(q_network.state_dict()), or losses.hard_update), in place.",
    )
    gaps = set(np.diff(changes).tolist())
    expect(
        len(changes) > 1 and gaps == {cfg.target_update},
        f"θ⁻ changed after {changes[:6]}{'…' if len(changes) > 6 else ''} env steps {setting}: copy θ into θ⁻ "
        f"every config.target_update = {cfg.target_update} env steps, and at no other time"
        + (
            " (it changed at every step: is it being trained, or copied every step?)"
            if gaps == {1}
            else ""
        )
        + ".",
    )
    expect(
        abs(len(changes) - (cfg.total_steps - cfg.learning_starts) // cfg.target_update) <= 2,
        f"θ⁻ was refreshed {len(changes)} times in {cfg.total_steps} steps; every {cfg.target_update} steps "
        f"after learning starts that is about {(cfg.total_steps - cfg.learning_starts) // cfg.target_update}.",
    )
    ends = [i + 1 for i, s in enumerate(spy.env_steps) if s["terminated"] or s["truncated"]]
    expect(
        isinstance(returned, list | tuple) and len(returned) == len(ends),
        f"return one (step, episode_return) pair per finished episode: {len(ends)} episodes ended, "
        f"the loop returned {len(returned) if isinstance(returned, list | tuple) else type(returned).__name__}.",
    )


def _check_epsilon(fn: Callable[..., Any], cfg: Any, seed: int) -> None:
    """No learning, a network whose greedy action is always 0: action 1 is played with probability ε/2."""
    import torch

    def rigged() -> Any:
        net = _mlp(4, 8, 2)
        with torch.no_grad():
            net[-1].weight.zero_()
            net[-1].bias.copy_(torch.tensor([1.0, 0.0]))
        return net

    spy, _ = _run_loop(fn, cfg, seed, episode_limit=40, net=_seeded(rigged, seed))
    expect(
        not spy.updates,
        "the loop updated before config.learning_starts (set above total_steps here).",
    )
    ones = np.array([s["action"] for s in spy.env_steps]) == 1
    epsilon = np.array(
        [_expected_epsilon(cfg, i, s["episodes_before"]) for i, s in enumerate(spy.env_steps)]
    )
    schedule = (
        f"ε = max(end, start · decay^episodes) with decay {cfg.epsilon_decay} per finished episode"
        if cfg.epsilon_decay
        else f"ε linear from {cfg.epsilon_start} to {cfg.epsilon_end} over the first "
        f"int(epsilon_fraction · total_steps) = {int(cfg.epsilon_fraction * cfg.total_steps)} steps, then flat"
    )
    expect_epsilon_followed(
        ones,
        epsilon,
        5,
        lambda first, last, got, want: (
            f"ε does not follow the schedule: over steps {first}–{last} a random action was taken "
            f"about {got:.2f} of the time, the schedule says {want:.2f} ({schedule}). With probability "
            "ε play a uniformly random action, otherwise argmax_a Q(s, a; θ) of q_network."
        ),
    )


def _greedy_return(q_network: Any, seed: int, episodes: int = 5) -> float:
    import gymnasium as gym
    import torch

    env = gym.make("CartPole-v1")
    total = 0.0
    for k in range(episodes):
        obs, _ = env.reset(seed=10_000 + 100 * seed + k)
        done = False
        while not done:
            with torch.no_grad():
                action = int(q_network(torch.as_tensor(obs).unsqueeze(0)).argmax())
            obs, reward, terminated, truncated, _ = env.step(action)
            total += float(reward)
            done = terminated or truncated
    return total / episodes


# The learning run of check_dqn_loop: small enough to take seconds per seed, enough to balance the pole.
# What it changes in _loop_config's settings (the rest stays: Adam 1e-3, MSE, one update per step).
_LEARN_CONFIG = dict(
    total_steps=6_000,
    batch_size=64,
    buffer_size=6_000,
    learning_starts=500,
    target_update=200,
    epsilon_end=0.05,
    epsilon_fraction=0.4,
    hidden=(64, 64),
)
_LEARN_SEEDS, _LEARN_BAR = (0, 1, 2), 100.0


@checker
def check_dqn_loop(fn: Callable[..., Any], fast: bool = False) -> str:
    """Exercise 5.3: ``fn(env, q_network, target_network, buffer, config, loss_fn, seed)`` is the whole DQN
    loop. Judged by behaviour: stores (terminated only), updates from learning_starts on at train_freq,
    hard copies of θ⁻ every target_update steps, no gradient into θ⁻, ε on its schedule (linear and per
    episode), and (not in fast mode) it learns CartPole on most of three seeds. Introduced in lesson 05.
    """
    _check_mechanics(fn, _loop_config(), seed=0)
    _check_mechanics(
        fn,
        _loop_config(train_freq=4, gradient_steps=2, target_update=40, learning_starts=60),
        seed=1,
    )
    _check_epsilon(fn, _loop_config(total_steps=1_500, learning_starts=10_000), seed=2)
    _check_epsilon(
        fn,
        _loop_config(
            total_steps=1_500, learning_starts=10_000, epsilon_decay=0.9, epsilon_end=0.05
        ),
        seed=3,
    )
    if fast:
        return (
            "dqn_loop behaves as DQN: stores terminated only, updates from learning_starts at train_freq, "
            "copies θ⁻ every target_update steps, no gradient into θ⁻, ε on schedule. (Fast mode: the "
            "learning test on three seeds was skipped.)"
        )
    import torch

    cfg = _loop_config(**_LEARN_CONFIG)
    scores = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny network: one thread is fastest (restored below)
    try:
        for seed in _LEARN_SEEDS:
            spy, _ = _run_loop(fn, cfg, seed, episode_limit=500)
            scores.append(_greedy_return(spy.q_network, seed))
    finally:
        torch.set_num_threads(threads)
    passed = sum(s >= _LEARN_BAR for s in scores)
    expect(
        passed >= 2,
        f"the loop does not learn: after {cfg.total_steps:,} steps the greedy return was "
        f"{', '.join(f'{s:.0f}' for s in scores)} on seeds {_LEARN_SEEDS} (the bar: {_LEARN_BAR:.0f} on at "
        "least 2). Act greedily with q_network (not the target), and check the order: loss, zero_grad, "
        "backward, step.",
    )
    return (
        "dqn_loop behaves as DQN: stores terminated only, updates from learning_starts at train_freq, copies "
        "θ⁻ every target_update steps, no gradient into θ⁻, ε on schedule, and it learned CartPole "
        f"(greedy return {', '.join(f'{s:.0f}' for s in scores)} after {cfg.total_steps:,} steps on seeds "
        f"{_LEARN_SEEDS})."
    )
