"""Checkers of lesson 05 (DQN on CartPole)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dqn_helpers.checks._core import (
    _fixed_linear,
    _mlp,
    _number,
    _seeded,
    checker,
    expect,
)


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
