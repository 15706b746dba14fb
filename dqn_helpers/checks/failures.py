"""Checkers of lesson 11 (failure modes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dqn_helpers.checks._core import (
    _is_number,
    _on_error,
    checker,
    expect,
    fail,
)


@checker
def check_first_impossible_q(fn: Callable[..., Any]) -> str:
    """Exercise 11.1: ``fn(mean_max_q, reward_max, gamma)`` -> the index of the first episode whose
    mean max-Q is above r_max/(1 − γ), or None; NaN entries (no update) are skipped. Lesson 11."""
    cases = [
        ("values that stay below 100", [1.0, 50.0, 99.0], 1.0, 0.99, None),
        ("the third episode passes 100", [1.0, 50.0, 150.0, 80.0], 1.0, 0.99, 2),
        ("exactly the bound (γ 0.5: 2) is possible, not above it", [2.0, 2.0], 1.0, 0.5, None),
        ("NaN rows before learning", [float("nan"), float("nan"), 30.0, 120.0], 1.0, 0.99, 3),
        ("r_max 2, γ 0.9: the bound is 20", [5.0, 19.0, 21.0], 2.0, 0.9, 2),
        ("r_max 1, γ 0.5: the bound is 2", [1.5, 2.5], 1.0, 0.5, 1),
        ("γ = 1: no finite bound", [1e6, 1e9], 1.0, 1.0, None),
        ("an empty log", [], 1.0, 0.99, None),
    ]
    for what, q, r_max, gamma, want in cases:
        call = f"fn({q}, reward_max={r_max:g}, gamma={gamma:g})"
        for kind, values in (("a list", list(q)), ("a NumPy array", np.array(q, dtype=float))):
            with _on_error(f"{call} with {kind} ({what}): {{error}}"):
                out = fn(values, r_max, gamma)
            slip = (
                " Compare with the bound r_max / (1 − γ), not with r_max."
                if out is not None and out == next((i for i, v in enumerate(q) if v > r_max), None)
                else " Return the position in the list (counting from 0), not the value."
                if want is not None and out == q[want]
                else ""
            )
            if want is None:
                expect(out is None, f"{call} ({what}) should be None, got {out!r}.{slip}")
                continue
            expect(
                out is not None and _is_number(out) and int(out) == want,
                f"{call} ({what}) should be {want}, got {out!r}.{slip}",
            )
    return (
        "first_impossible_q right: a state can be worth at most r_max / (1 − γ) (100 for CartPole "
        "at γ = 0.99), so a mean max-Q above it is a fact about the network, not about the task."
    )


@checker
def check_collapse_detector(fn: Callable[..., Any]) -> str:
    """Exercise 11.2: ``fn(eval_returns, keep=0.5)`` -> True when the greedy evaluations learned (the
    best is at least twice the first) and the last two are below first + keep·(best − first). Lesson 11."""
    cases = [
        ("learned and held", [10, 200, 500, 480, 490], 0.5, False),
        ("learned, then fell and stayed down", [10, 200, 500, 100, 90], 0.5, True),
        ("fell once, then recovered", [10, 500, 100, 400], 0.5, False),
        ("only the last one fell", [10, 500, 480, 100], 0.5, False),
        ("never learned (best < 2 × first)", [100, 150, 120, 20, 10], 0.5, False),
        ("the best is the last evaluation", [10, 100, 300, 500], 0.5, False),
        ("keep = 0.9: the line is at 451", [10, 500, 460, 450, 440], 0.9, True),
        ("keep = 0.9, still above 451", [10, 500, 460, 470, 455], 0.9, False),
        ("too short to judge", [10, 500], 0.5, False),
        ("no evaluations", [], 0.5, False),
    ]
    for what, evals, keep, want in cases:
        call = f"fn({evals}, keep={keep:g})"
        for kind, values in (("a list", list(evals)), ("a NumPy array", np.array(evals, float))):
            with _on_error(f"{call} with {kind} ({what}): {{error}}"):
                out = fn(values, keep)
            expect(
                isinstance(out, bool | np.bool_),
                f"{call}: return True or False, got {out!r} ({type(out).__name__}).",
            )
            hint = {
                "fell once, then recovered": " A run that came back is not collapsed: both of the "
                "last two evaluations must be below the line.",
                "only the last one fell": " One low evaluation can be bad luck: ask for the last two.",
                "never learned (best < 2 × first)": " A run that never learned cannot forget: "
                "require best >= 2 × first.",
                "the best is the last evaluation": " The fall must come after the best.",
            }.get(what, " The line is first + keep × (best − first).")
            expect(bool(out) == want, f"{call} ({what}) should be {want}, got {out}.{hint}")
    return (
        "collapse detector right: a run collapsed when it learned (best ≥ 2 × first) and its last "
        "two evaluations sit below first + keep·(best − first); diagnose's return_collapse is the same "
        "rule, measured from the first episodes' return."
    )


def _returns_to_go(rewards: np.ndarray, gamma: float) -> np.ndarray:
    """G_t = r_t + γ G_{t+1}, backwards from the end of the episode (G_T = 0)."""
    out, running = np.zeros(len(rewards)), 0.0
    for t in range(len(rewards) - 1, -1, -1):
        running = rewards[t] + gamma * running
        out[t] = running
    return out


def _standardised(g: np.ndarray) -> np.ndarray:
    return (g - g.mean()) / (g.std() + 1e-8)


def _reinforce_slips(rewards: np.ndarray, gamma: float) -> list[tuple[str, np.ndarray]]:
    """(the hint that fixes a common slip, the per-step weight that slip puts on log π(a_t|s_t)), the
    loss being −Σ weight·log π."""
    T = len(rewards)
    g = _returns_to_go(rewards, gamma)
    right = _standardised(g)
    forward = "G_t sums the rewards from step t to the END of the episode (computed backwards: G_t = r_t + γ·G_{t+1}), not from its start up to t."
    whole = "each step gets its own return-to-go G_t = r_t + γ·G_{t+1}, not the whole episode's return G_0 (which weights every action alike)."
    standardise = "standardise the returns over the episode: subtract their mean, then divide by their standard deviation (+1e-8), the lesson's baseline."
    return [
        (
            "the optimizer minimises the loss: put a minus sign in front of Σ log π(a_t|s_t)·Ĝ_t, so that "
            "its step makes the actions with high returns more likely.",
            -right,
        ),
        (
            "sum over the steps (Σ_t), as the formula does: a mean divides every step by the episode's "
            "length.",
            right / T,
        ),
        (standardise, g),
        (standardise + " (You only divided by the standard deviation.)", g / (g.std() + 1e-8)),
        (standardise + " (You only subtracted the mean.)", g - g.mean()),
        (
            "weight log π(a_t|s_t) by the return that followed step t, G_t = r_t + γ·G_{t+1}, not by "
            "the reward r_t of that step alone.",
            _standardised(rewards),
        ),
        (whole, np.full(T, g[0])),
        (
            forward,
            _standardised(
                np.array(
                    [sum(gamma ** (t - k) * rewards[k] for k in range(t + 1)) for t in range(T)]
                )
            ),
        ),
        (forward, _standardised(np.cumsum(rewards))),
        (
            "discount each reward by its distance from step t, γ^(k−t), not by γ^k from the start of the "
            "episode.",
            _standardised(
                np.array([sum(gamma**k * rewards[k] for k in range(t, T)) for t in range(T)])
            ),
        ),
        (
            "discount: G_t = r_t + γ·G_{t+1}, not the plain sum of the rewards that followed.",
            _standardised(_returns_to_go(rewards, 1.0)),
        ),
    ]


def _scale(grad: np.ndarray, weights: np.ndarray) -> float | None:
    """c such that grad = −c·weights (the loss's gradient for these per-step weights), or None."""
    norm = float(weights @ weights)
    if norm < 1e-12:
        return None
    c = -float(grad @ weights) / norm
    residual = float(np.linalg.norm(grad + c * weights))
    return c if residual <= 1e-4 * np.sqrt(norm) * max(1.0, abs(c)) + 1e-7 else None


def _matches(grad: np.ndarray, weights: np.ndarray) -> bool:
    """Whether grad is −c·weights with c near 1 (0.8 to 1.25 allows either standard deviation, with or
    without Bessel's correction, on episodes of three steps or more)."""
    c = _scale(grad, weights)
    return c is not None and 0.8 <= c <= 1.25


@checker
def check_reinforce_loss(fn: Callable[..., Any]) -> str:
    """Exercise 11.3: ``fn(log_probs, rewards, gamma)`` -> a scalar tensor whose gradient with respect to
    ``log_probs`` (one per step of an episode) is −Ĝ, the returns-to-go G_t = r_t + γ·G_{t+1}
    standardised over the episode: the loss −Σ_t log π(a_t|s_t)·Ĝ_t of REINFORCE. Any standard
    deviation (with or without Bessel's correction) passes. Lesson 11."""
    import torch

    rng = np.random.default_rng(113)
    cases = [  # (what, rewards, gamma)
        ("a CartPole episode of 8 steps, γ 0.99", [1.0] * 8, 0.99),
        ("three rewards of 1, γ 0.5: G = [1.75, 1.5, 1]", [1.0, 1.0, 1.0], 0.5),
        ("a CartPole episode of 30 steps, γ 1", [1.0] * 30, 1.0),
        ("a reward only at the end, γ 0.9", [0.0] * 9 + [1.0], 0.9),
        ("rewards of both signs, γ 0.9", [1.0, -2.0, 0.5, 3.0, -1.0, 0.0], 0.9),
    ]
    cases += [
        (f"random rewards, {n} steps, γ {gamma:g}", rng.normal(size=n).round(2).tolist(), gamma)
        for n, gamma in ((12, 0.99), (25, 0.9), (40, 1.0))
    ]
    for what, rewards, gamma in cases:
        r = np.array(rewards, dtype=float)
        weights = _standardised(_returns_to_go(r, gamma))
        call = f"fn(log_probs, rewards, gamma={gamma:g}) ({what})"
        for kind, given in (("a list", list(rewards)), ("a NumPy array", r.copy())):
            log_probs = torch.as_tensor(-rng.uniform(0.1, 2.0, size=len(r)), dtype=torch.float32)
            log_probs.requires_grad_(True)
            with _on_error(f"{call} with rewards as {kind}: {{error}}"):
                loss = fn(log_probs, given, gamma)
            expect(
                isinstance(loss, torch.Tensor) and loss.numel() == 1,
                f"{call}: return one number as a torch tensor (the loss), got {loss!r}.",
            )
            expect(
                loss.requires_grad,
                f"{call}: the loss carries no gradient. Compute it from log_probs with torch "
                "operations (no .item(), .detach() or NumPy on log_probs), so that backward() "
                "reaches the policy.",
            )
            with _on_error(f"{call}: loss.backward() failed: {{error}}"):
                loss.reshape(()).backward()
            expect(
                log_probs.grad is not None,
                f"{call}: no gradient reached log_probs: use them in the loss.",
            )
            grad = log_probs.grad.detach().double().numpy()
            expect(
                np.allclose(np.asarray(given, dtype=float), r),
                f"{call}: do not change the rewards you are given.",
            )
            if _matches(grad, weights):
                value = float(loss.detach().reshape(()))
                want = float(grad @ log_probs.detach().double().numpy())
                expect(
                    abs(value - want) <= 1e-4 * max(1.0, abs(want)),
                    f"{call}: the gradient is right but the loss is {value:.6g}, not −Σ log π·Ĝ = "
                    f"{want:.6g}: add nothing else to it.",
                )
                continue
            hint = next(
                (
                    h
                    for h, w in _reinforce_slips(r, gamma)
                    if not _matches(-weights, w)  # the slip differs from the right answer here
                    and _matches(grad, w)
                ),
                "the gradient of the loss with respect to log π(a_t|s_t) must be −Ĝ_t: the returns-to-go "
                "G_t = r_t + γ·G_{t+1}, standardised over the episode.",
            )
            if np.linalg.norm(grad) < 1e-9:
                hint = (
                    "the loss has no gradient with respect to log_probs: every step got the same weight "
                    "(after standardising, 0). Weight each step by its own return-to-go G_t."
                )
            fail(f"{call}: {hint}")
    return (
        "reinforce_loss right: its gradient raises log π(a_t|s_t) in proportion to how much better "
        "than the episode's average the return after step t was."
    )
