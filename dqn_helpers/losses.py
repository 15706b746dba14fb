"""TD targets, losses and gradient clipping: the arithmetic of the DQN update.

Introduced in lessons 04 (TD targets) and 05 (the DQN update); Double DQN in lesson 07.
Targets never carry gradients: every ``next_q_*`` input is detached here, so a caller that forgets
``torch.no_grad()`` around the target network still trains only the online network.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import nn

# Moved to their own modules; still importable from here for code written before the move.
from dqn_helpers.bounds import Q_BOUND_FACTOR, q_value_bound  # noqa: F401
from dqn_helpers.targets import hard_update, soft_update  # noqa: F401

__all__ = [
    "td_targets",
    "double_dqn_targets",
    "huber_loss",
    "mse_loss",
    "clip_gradients",
]


def _check_target_inputs(
    rewards: torch.Tensor,
    terminated: torch.Tensor,
    gamma: float | torch.Tensor,
    **next_qs: torch.Tensor,
) -> None:
    if rewards.dim() != 1:
        raise ValueError(
            f"rewards must have shape (batch,), got {tuple(rewards.shape)}. "
            "If it is (batch, 1), use rewards.squeeze(1): a (batch, 1) tensor would broadcast "
            "against (batch,) into a (batch, batch) matrix."
        )
    batch = rewards.shape[0]
    if terminated.shape != rewards.shape:
        raise ValueError(
            f"terminated must have the same shape as rewards {tuple(rewards.shape)}, "
            f"got {tuple(terminated.shape)}."
        )
    for name, q in next_qs.items():
        if q.dim() != 2 or q.shape[0] != batch:
            raise ValueError(
                f"{name} must have shape (batch={batch}, n_actions), got {tuple(q.shape)}. "
                "Pass the network's output for next_obs, one row per transition."
            )
    shapes = {tuple(q.shape) for q in next_qs.values()}
    if len(shapes) > 1:
        raise ValueError(f"next_q_online and next_q_target must have the same shape, got {shapes}.")
    if isinstance(gamma, torch.Tensor):
        if gamma.shape != rewards.shape:
            raise ValueError(
                f"a gamma tensor (per-transition discounts, e.g. gamma**m for n-step returns) must "
                f"have shape {tuple(rewards.shape)}, got {tuple(gamma.shape)}."
            )
    else:
        if isinstance(gamma, bool) or not isinstance(gamma, int | float):
            raise TypeError(
                f"gamma must be a float or a (batch,) tensor, got {type(gamma).__name__}."
            )
        if not 0.0 <= gamma <= 1.0:
            raise ValueError(f"gamma must be in [0, 1], got {gamma}. Typical values are 0.95–0.99.")


def _not_done(terminated: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return 1.0 - terminated.to(like.dtype)


def td_targets(
    rewards: torch.Tensor,
    next_q_target: torch.Tensor,
    terminated: torch.Tensor,
    gamma: float | torch.Tensor,
) -> torch.Tensor:
    """``r + gamma * (1 - terminated) * max_a' Q_target(s', a')``, shape (batch,), no gradient.

    Introduced in lesson 04. ``gamma`` may be a (batch,) tensor of n-step discounts ``gamma**m``.
    Bootstrap on ``terminated`` only: a truncated episode (time limit) still has a future.
    """
    _check_target_inputs(rewards, terminated, gamma, next_q_target=next_q_target)
    next_value = next_q_target.detach().max(dim=1).values.to(rewards.dtype)
    return (
        (rewards + gamma * _not_done(terminated, rewards) * next_value).detach().to(rewards.dtype)
    )


def double_dqn_targets(
    rewards: torch.Tensor,
    next_q_online: torch.Tensor,
    next_q_target: torch.Tensor,
    terminated: torch.Tensor,
    gamma: float | torch.Tensor,
) -> torch.Tensor:
    """Double DQN: the online network picks ``a* = argmax Q_online(s')``, the target network rates it.

    Introduced in lesson 07. Returns ``r + gamma * (1 - terminated) * Q_target(s', a*)``.
    """
    _check_target_inputs(
        rewards, terminated, gamma, next_q_online=next_q_online, next_q_target=next_q_target
    )
    best_actions = next_q_online.detach().argmax(dim=1, keepdim=True)
    next_value = next_q_target.detach().gather(1, best_actions).squeeze(1).to(rewards.dtype)
    return (
        (rewards + gamma * _not_done(terminated, rewards) * next_value).detach().to(rewards.dtype)
    )


def _weighted_mean(
    elementwise: torch.Tensor, weights: torch.Tensor | None, pred: torch.Tensor
) -> torch.Tensor:
    if weights is None:
        return elementwise.mean()
    if weights.shape != pred.shape:
        raise ValueError(
            f"weights must have the same shape as pred {tuple(pred.shape)}, got {tuple(weights.shape)}."
        )
    return (weights.to(elementwise.dtype) * elementwise).mean()


def _check_pred_target(pred: torch.Tensor, target: torch.Tensor) -> None:
    if pred.shape != target.shape:
        raise ValueError(
            f"pred and target must have the same shape, got pred {tuple(pred.shape)} and target "
            f"{tuple(target.shape)}. A (batch, 1) vs (batch,) mismatch would silently broadcast to "
            "(batch, batch): squeeze the gathered Q-values, e.g. q.gather(1, a.unsqueeze(1)).squeeze(1)."
        )


def huber_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    weights: torch.Tensor | None = None,
    delta: float = 1.0,
) -> torch.Tensor:
    """Huber loss: ``0.5 x²`` for ``|x| <= delta``, ``delta (|x| - delta/2)`` beyond; mean over the batch.

    Introduced in lesson 05. With ``weights`` (PER importance weights) it is ``mean(weights * loss_i)``.
    """
    _check_pred_target(pred, target)
    if not delta > 0:
        raise ValueError(f"delta must be > 0, got {delta}. The usual choice is 1.0.")
    elementwise = F.huber_loss(pred, target.detach(), reduction="none", delta=delta)
    return _weighted_mean(elementwise, weights, pred)


def mse_loss(
    pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean squared error ``mean((pred - target)²)`` (no 1/2 factor).

    Introduced in lesson 05. With ``weights`` it is ``mean(weights * (pred - target)²)``.
    """
    _check_pred_target(pred, target)
    elementwise = (pred - target.detach()).pow(2)
    return _weighted_mean(elementwise, weights, pred)


def clip_gradients(parameters: Iterable[nn.Parameter], max_norm: float | None) -> float:
    """Rescale gradients so their global L2 norm is at most ``max_norm``; return the norm BEFORE clipping.

    Introduced in lesson 05. ``max_norm=None`` only measures the norm (useful for logging).
    """
    params = [p for p in parameters if p.grad is not None]
    if max_norm is not None and not (isinstance(max_norm, int | float) and max_norm > 0):
        raise ValueError(
            f"max_norm must be a positive number or None (no clipping), got {max_norm!r}. "
            "DQN commonly uses 10."
        )
    if not params:
        return 0.0
    limit = math.inf if max_norm is None else float(max_norm)
    total_norm = torch.nn.utils.clip_grad_norm_(params, limit)
    return float(total_norm)
