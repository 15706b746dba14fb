"""Checkers of lesson 07 (Double DQN)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dqn_helpers.checks._core import (
    checker,
    expect,
)


def _hand_double_problem() -> tuple[Any, Any, Any, Any, float]:
    """Four transitions where DQN's and Double DQN's targets differ (γ = 0.5, the last terminal).

    The online network picks a' = [1, 0, 0, 1]; the target network rates them [2, 1, 3, 8]:
    y = [2, 0.5, 2.5, -1]. DQN's own target, r + γ max Q⁻, would be [3, 3, 4.5, -1].
    """
    import torch

    rewards = torch.tensor([1.0, 0.0, 1.0, -1.0])
    next_q_online = torch.tensor([[1.0, 3.0], [2.0, 0.0], [5.0, 4.0], [0.0, 1.0]])
    next_q_target = torch.tensor([[4.0, 2.0], [1.0, 6.0], [3.0, 7.0], [2.0, 8.0]])
    terminated = torch.tensor([0.0, 0.0, 0.0, 1.0])
    return rewards, next_q_online, next_q_target, terminated, 0.5


# Targets that common slips give on the hand problem (true answer [2, 0.5, 2.5, -1]), with the fix.
_DOUBLE_SLIPS = {
    (
        3.0,
        3.0,
        4.5,
        -1.0,
    ): "That is DQN's target, max_a' Q(s', a'; θ⁻). Double DQN takes a* = argmax "
    "of the ONLINE network's Q(s', ·), then reads Q(s', a*) from the target network.",
    (2.5, 1.0, 3.5, -1.0): "The online network both picked and rated a*: read the value of a* from "
    "next_q_target (it only picks with next_q_online).",
    (1.5, 0.0, 3.0, -1.0): "The roles are swapped: the online network picks a* (argmax of "
    "next_q_online), the target network rates it (gather from next_q_target).",
    (
        2.0,
        0.5,
        2.5,
        3.0,
    ): "The terminal transition was bootstrapped: multiply γ·Q(s', a*) by (1 - terminated).",
}


@checker
def check_double_dqn_target(fn: Callable[..., Any]) -> str:
    """Check ``fn(rewards, next_q_online, next_q_target, terminated, gamma) -> (batch,) targets``.

    Exact values on a hand problem where DQN's and Double DQN's targets differ, no gradient, and
    random problems against ``losses.double_dqn_targets``. Introduced in lesson 07 (exercise 7.1).
    """
    import torch

    from dqn_helpers import losses

    rewards, next_online, next_target, terminated, gamma = _hand_double_problem()
    next_online.requires_grad_(True)
    next_target.requires_grad_(True)
    y = fn(rewards, next_online, next_target, terminated, gamma)
    is_tensor = isinstance(y, torch.Tensor)
    expect(
        is_tensor and tuple(y.shape) == (4,),
        "return one target per transition, a tensor of shape (4,) for 4 transitions (got "
        + (f"shape {tuple(y.shape)}" if is_tensor else type(y).__name__)
        + "). If it is (4, 1), .squeeze(1) what .gather returned.",
    )
    got = tuple(round(float(v), 4) for v in y.detach())
    slip = _DOUBLE_SLIPS.get(
        got,
        "a* = argmax_a' next_q_online(s', a'); y = r + γ (1 - terminated) next_q_target(s', a*).",
    )
    expect(got == (2.0, 0.5, 2.5, -1.0), f"expected [2, 0.5, 2.5, -1], got {list(got)}. {slip}")
    expect(
        not y.requires_grad,
        "the targets carry a gradient: a target is a constant to regress on, so compute it under "
        "torch.no_grad() (or .detach() the Q-values you read).",
    )
    gen = torch.Generator().manual_seed(8)
    for n_actions, g in ((3, 0.99), (5, 0.9), (2, 1.0)):
        r = torch.randn(16, generator=gen)
        q_online, q_target = (
            torch.randn(16, n_actions, generator=gen),
            torch.randn(16, n_actions, generator=gen),
        )
        done = (torch.rand(16, generator=gen) < 0.3).float()
        want = losses.double_dqn_targets(r, q_online, q_target, done, g)
        mine = fn(r, q_online, q_target, done, g)
        expect(
            isinstance(mine, torch.Tensor)
            and mine.shape == want.shape
            and torch.allclose(mine, want, atol=1e-5),
            f"right on the hand problem but not on a random one ({n_actions} actions, γ = {g}, 16 "
            "transitions): avoid hard-coded sizes.",
        )
    return (
        "Double DQN target correct: the online network picks a', the target network rates it, terminal "
        "transitions do not bootstrap, and it matches losses.double_dqn_targets."
    )
