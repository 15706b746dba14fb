"""Target-network updates: the hard copy θ⁻ ← θ every C steps and the soft (Polyak) update.

Introduced in lesson 04 (target networks). ``DQNAgent.update_target`` and ``DQNAgent.soft_update``
call them; lesson 04's exercises write them first.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["hard_update", "soft_update"]


def _check_same_architecture(target: nn.Module, online: nn.Module) -> None:
    target_shapes = [(n, tuple(p.shape)) for n, p in target.state_dict().items()]
    online_shapes = [(n, tuple(p.shape)) for n, p in online.state_dict().items()]
    if target_shapes != online_shapes:
        diff = next(
            (f"{t} vs {o}" for t, o in zip(target_shapes, online_shapes) if t != o),
            f"{len(target_shapes)} vs {len(online_shapes)} tensors",
        )
        raise ValueError(
            "target and online networks must have the same architecture; first difference "
            f"(target vs online): {diff}. Build the target with the same constructor arguments, "
            "e.g. copy.deepcopy(online)."
        )


def hard_update(target: nn.Module, online: nn.Module) -> None:
    """Copy every weight of ``online`` into ``target`` (θ⁻ ← θ).

    Introduced in lesson 04 (done every C steps).
    """
    _check_same_architecture(target, online)
    target.load_state_dict(online.state_dict())


def soft_update(target: nn.Module, online: nn.Module, tau: float) -> None:
    """Polyak averaging ``θ⁻ ← (1 - tau) θ⁻ + tau θ`` on parameters (buffers are copied).

    Introduced in lesson 04. ``tau`` in (0, 1]; ``tau=1`` is a hard update.
    """
    if isinstance(tau, bool) or not isinstance(tau, int | float) or not 0.0 < tau <= 1.0:
        raise ValueError(
            f"tau must be in (0, 1], got {tau!r}. Typical soft-update values are 0.005–0.01; "
            "tau=1 copies the weights (a hard update)."
        )
    _check_same_architecture(target, online)
    with torch.no_grad():
        for target_param, online_param in zip(target.parameters(), online.parameters()):
            if tau == 1.0:
                target_param.copy_(online_param)
            else:
                target_param.lerp_(online_param, float(tau))
        for target_buffer, online_buffer in zip(target.buffers(), online.buffers()):
            target_buffer.copy_(online_buffer)
