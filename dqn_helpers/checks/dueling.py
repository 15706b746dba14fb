"""Checkers of lesson 08 (the dueling head)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dqn_helpers.checks._core import (
    _on_error,
    _seeded,
    checker,
    expect,
)


def _dueling_parts(fn: Callable[..., Any], in_features: int, n_actions: int, hidden: int) -> Any:
    """The learner's head built in a fork of torch's RNG, checked to be a module with two streams."""
    import torch

    head = _seeded(lambda: fn(in_features, n_actions, hidden), seed=9)
    expect(
        isinstance(head, torch.nn.Module),
        f"DuelingHead({in_features}, {n_actions}, {hidden}) should be a torch.nn.Module (a class "
        f"that subclasses nn.Module), got {type(head).__name__}.",
    )
    expect(
        isinstance(getattr(head, "value", None), torch.nn.Module)
        and isinstance(getattr(head, "advantage", None), torch.nn.Module),
        "store the two streams as self.value and self.advantage (each an nn.Sequential).",
    )
    return head


def _dueling_slip(q: Any, value: Any, advantage: Any) -> str:
    """What a wrong combination of V and A most likely did (shapes already right)."""
    import torch

    candidates = [
        (
            value + advantage,
            "Q = V + A has no unique split (add c to V and take c from A: the "
            "same Q). Subtract the mean over the actions: Q = V + A - A.mean(dim=1, keepdim=True).",
        ),
        (
            value + advantage - advantage.max(dim=1, keepdim=True).values,
            "you subtracted the max "
            "over actions (a variant in Wang et al., 2016); this course uses the mean: "
            "A.mean(dim=1, keepdim=True).",
        ),
        (
            value + advantage - advantage.mean(dim=0, keepdim=True),
            "you averaged A over the batch "
            "(dim=0); average it over the actions of each state: A.mean(dim=1, keepdim=True).",
        ),
        (
            value + advantage - advantage.mean(),
            "you averaged A over the whole batch; average it "
            "over the actions of each state: A.mean(dim=1, keepdim=True).",
        ),
        (advantage - advantage.mean(dim=1, keepdim=True), "V is missing: Q = V + A - mean_a A."),
    ]
    for wrong, hint in candidates:
        if torch.allclose(q, wrong, atol=1e-5):
            return hint
    return "combine the streams as Q(s, a) = V(s) + A(s, a) - mean_a' A(s, a')."


def _expect_both_streams_learn(head: Any, features: Any, gen: Any) -> None:
    """Exercise 8.1: a gradient of Q reaches every parameter of both streams."""
    import torch

    head.zero_grad()
    weights = torch.randn(5, 3, generator=gen)
    (head(features) * weights).sum().backward()
    for name in ("value", "advantage"):
        grads = [p.grad for p in getattr(head, name).parameters()]
        expect(
            grads and all(g is not None and g.abs().sum() > 0 for g in grads),
            f"no gradient reached self.{name}: build Q from both streams, without torch.no_grad() "
            "or .detach().",
        )


def _expect_dueling_uses_its_arguments(fn: Callable[..., Any], gen: Any) -> None:
    """Exercise 8.1: another size of head maps its features to its number of actions."""
    import torch

    other = _dueling_parts(fn, 6, 2, 4)
    with _on_error(
        "{error} — use the arguments in_features, n_actions and hidden, no fixed sizes."
    ):
        out = other(torch.randn(7, 6, generator=gen))
    expect(
        tuple(getattr(out, "shape", ())) == (7, 2),
        "DuelingHead(6, 2, 4) should map (7, 6) features to (7, 2) Q-values: use the arguments "
        "in_features, n_actions and hidden instead of fixed sizes.",
    )


@checker
def check_dueling_head(fn: Callable[..., Any]) -> str:
    """Exercise 8.1: ``fn(in_features, n_actions, hidden)`` builds a dueling head (an ``nn.Module``).

    ``.streams(features)`` gives V (batch, 1) and A (batch, n_actions), each stream Linear-ReLU-Linear;
    ``forward`` gives Q = V + A - mean_a A: shapes, the identity mean_a Q = V, the invariance to a
    constant added to A, gradients into both streams. Introduced in lesson 08.
    """
    import torch

    head = _dueling_parts(fn, 8, 3, 16)
    n_params = sum(p.numel() for p in head.parameters())
    expect(
        n_params == (8 * 16 + 16 + 16 + 1) + (8 * 16 + 16 + 16 * 3 + 3),
        f"DuelingHead(8, 3, 16) should have 356 parameters (value 8->16->1: 161, advantage "
        f"8->16->3: 195), yours has {n_params}. Each stream is nn.Linear(in_features, hidden), "
        "nn.ReLU(), nn.Linear(hidden, 1 or n_actions).",
    )
    gen = torch.Generator().manual_seed(3)
    features = torch.randn(5, 8, generator=gen)  # 5 states, 3 actions: batch != n_actions
    with _on_error("{error} — does streams(features) return the pair (value, advantage)?"):
        value, advantage = head.streams(features)
    shapes = (tuple(getattr(value, "shape", ())), tuple(getattr(advantage, "shape", ())))
    expect(
        shapes == ((5, 1), (5, 3)),
        f"for 5 states and 3 actions streams() should give V of shape (5, 1) and A of shape (5, 3), "
        f"got {shapes[0]} and {shapes[1]}.",
    )
    with _on_error(
        "{error} — a (5, 3) tensor minus a (5,) one does not broadcast: keep the action axis with "
        "A.mean(dim=1, keepdim=True)."
    ):
        q = head(features)
    got = tuple(q.shape) if isinstance(q, torch.Tensor) else type(q).__name__
    expect(got == (5, 3), f"5 states and 3 actions should give Q of shape (5, 3), got {got}.")
    with torch.no_grad():
        value, advantage = head.streams(features)
        q_now = head(features)
    expect(
        torch.allclose(q_now, value + advantage - advantage.mean(dim=1, keepdim=True), atol=1e-5),
        _dueling_slip(q_now, value, advantage),
    )
    expect(
        torch.allclose(q_now.mean(dim=1, keepdim=True), value, atol=1e-5),
        "the mean of Q over the actions of a state must equal V(s): that is what the subtracted "
        "mean buys.",
    )
    square = torch.randn(
        3, 8, generator=gen
    )  # batch == n_actions: a missing keepdim broadcasts silently
    with torch.no_grad():
        v3, a3 = head.streams(square)
        q3 = head(square)
    expect(
        torch.allclose(q3, v3 + a3 - a3.mean(dim=1, keepdim=True), atol=1e-5),
        "right for 5 states but wrong for 3 states and 3 actions: (3, 3) minus (3,) broadcast "
        "along the wrong axis. Use A.mean(dim=1, keepdim=True). " + _dueling_slip(q3, v3, a3),
    )
    shift = head.advantage.register_forward_hook(lambda module, inputs, out: out + 7.0)
    try:
        with torch.no_grad():
            shifted = head(features)
    finally:
        shift.remove()
    expect(
        torch.allclose(shifted, q_now, atol=1e-4),
        "adding 7 to every advantage changed Q: forward must combine the streams that "
        "self.advantage computes, minus their mean over actions.",
    )
    _expect_both_streams_learn(head, features, gen)
    _expect_dueling_uses_its_arguments(fn, gen)
    return (
        "dueling head correct: V (batch, 1) and A (batch, n_actions), Q = V + A - mean_a A, so "
        "mean_a Q = V and a constant added to A changes nothing; both streams learn."
    )
