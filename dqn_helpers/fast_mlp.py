"""A faster, numerically equivalent DQN gradient step and greedy action for small MLPs on the CPU.

Not a lesson: read ``agents.DQNAgent.learn`` for the algorithm. For CartPole's 4-128-128-2
network the arithmetic of an update is tiny, so most of its time goes to framework bookkeeping
(autograd's graph, ``Optimizer.step``'s hooks and grouping, one kernel per tensor). This module
removes that overhead and nothing else:

* ``greedy``: the forward pass in numpy, on views that share memory with the torch weights;
* ``gradient_step``: Step 4 of ``DQNAgent.learn`` (parts 4a-4d: Q-values, TD target, loss, one clipped Adam
  step) with the backward pass of the ReLU MLP written out by hand (no autograd graph), the
  gradient clipped and the Adam step taken with the same kernels ``clip_grad_norm_`` and
  ``Adam(fused=True)`` use. The rest of ``learn`` (the target update, the metrics) is shared.

It applies only to what it was written for, a positive list checked before every use
(``FastMLP.usable``): an exact ``networks.QNetwork`` (no subclass: a C51 or noisy head written as a
plain ``nn.Linear`` is not let through), made of ``SUPPORTED_LAYERS`` alone, with one output per
action; a loss in ``SUPPORTED_LOSSES``; fp32 on the CPU; and a ``DQNConfig`` whose every field is in
``REVIEWED_CONFIG_FIELDS`` (a new field turns this module off until someone checks whether it
changes the update). Anything else runs the plain code.

``DQNAgent._fast_path`` is the one door to it; ``agent.use_fast_path = False`` or
``DQN_FAST_MLP=0`` turns it off. tests/test_fast_mlp.py checks that both paths give the same
parameters (to 1e-5 relative after hundreds of updates: float rounding only) and the same actions.
benchmarks/bench_cartpole.py measures what it saves (about 1.8x the CPU time of a CartPole run).

Private PyTorch calls (``torch._fused_adam_``, ``torch._foreach_*``, ``aten.threshold_backward``)
are used only when this torch has them, looked up once below (``PRIVATE_KERNELS``); without them
the public path (``optimizer.step()``, per-tensor ops, ``torch.where``) runs instead, with the
same numbers.
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dqn_helpers import losses, networks

__all__ = [
    "PRIVATE_KERNELS",
    "REVIEWED_CONFIG_FIELDS",
    "SUPPORTED_LAYERS",
    "SUPPORTED_LOSSES",
    "SUPPORTED_NETWORKS",
    "FastMLP",
    "GradientStep",
]

#: The networks it computes (exact types: a subclass may change ``forward`` or the head's meaning).
SUPPORTED_NETWORKS: tuple[type[nn.Module], ...] = (networks.QNetwork,)
#: The layers such a network may be made of (exact types), Linear and ReLU alternating.
SUPPORTED_LAYERS: tuple[type[nn.Module], ...] = (nn.Linear, nn.ReLU)
#: The losses whose gradient ``gradient_step`` writes out, by the function the agent calls.
SUPPORTED_LOSSES: dict[Any, str] = {losses.huber_loss: "huber", losses.mse_loss: "mse"}
#: The DQNConfig fields checked against ``gradient_step``: the ones that change the update
#: (``loss``, ``max_grad_norm``, ``double``, ``prioritized``, ``dueling``, ``hidden``,
#: ``precision``, ``target_update``, ``tau``, the optimizer's) are implemented or refused above;
#: the others do not reach the update. A field not listed turns the fast path off: add it here
#: once you checked that ``gradient_step`` computes what ``DQNAgent.learn`` does with it.
REVIEWED_CONFIG_FIELDS = frozenset(
    (
        "env_id total_steps seed frame_stack num_envs learning_rate lr_end lr_fraction adam_eps "
        "batch_size loss max_grad_norm buffer_size learning_starts train_freq gradient_steps "
        "save_buffer target_update tau gamma epsilon_start epsilon_end epsilon_fraction "
        "epsilon_decay hidden double dueling prioritized per_alpha per_beta n_step eval_every "
        "eval_episodes checkpoint_every device precision"
    ).split()
)

#: The private kernels this module may call, or None where this torch lacks them (feature check).
PRIVATE_KERNELS: dict[str, Any] = {
    name: getattr(torch, name, None)
    for name in ("_fused_adam_", "_foreach_norm", "_foreach_mul_", "_foreach_lerp_")
}
# ReLU's backward as autograd computes it (an ATen operator, not a documented Python API)
PRIVATE_KERNELS["threshold_backward"] = getattr(torch.ops.aten, "threshold_backward", None)


def _kernel(name: str) -> Any:
    return PRIVATE_KERNELS.get(name)


def _relu_backward(grad: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """``grad ⊙ [h > 0]``, in the kernel autograd uses where this torch has it (same numbers)."""
    threshold_backward = _kernel("threshold_backward")
    if threshold_backward is not None:
        return threshold_backward(grad, h, 0.0)
    return torch.where(h > 0, grad, 0.0)


def unsupported(agent: Any) -> str | None:
    """Why the fast path cannot compute ``agent``'s update, or None when it can."""
    if agent.device.type != "cpu":
        return f"it runs on the CPU only (the agent is on {agent.device})"
    if agent.autocast_dtype is not None:
        return "it computes in fp32 only (the update runs in bfloat16)"
    if agent.loss_fn not in SUPPORTED_LOSSES:
        return f"it knows the losses {sorted(SUPPORTED_LOSSES.values())} only"
    unknown = {f.name for f in dataclasses.fields(agent.config)} - REVIEWED_CONFIG_FIELDS
    if unknown:
        return f"the config fields {sorted(unknown)} were not reviewed for it"
    for net in (agent.online, agent.target):
        if type(net) not in SUPPORTED_NETWORKS or net.dueling:
            return f"it computes a plain {SUPPORTED_NETWORKS[0].__name__} only"
        if type(net.head) is not nn.Linear or net.head.out_features != agent.n_actions:
            return "its head must be one nn.Linear with one output per action"
        if any(type(m) not in SUPPORTED_LAYERS for m in net.body):
            return f"its layers must be {[t.__name__ for t in SUPPORTED_LAYERS]}"
    return None


def _mlp_layers(net: nn.Module, trainable: bool) -> list[tuple[torch.Tensor, ...]] | None:
    """``[(W, b, Wᵀ), ...]`` of a Linear-ReLU-...-Linear float32 MLP without hooks, else None."""
    modules = [*net.body, net.head]
    if any(
        m._forward_hooks
        or m._forward_pre_hooks
        or m._backward_hooks
        or getattr(m, "_backward_pre_hooks", None)
        for m in net.modules()
    ):
        return None
    expected = [nn.Linear if i % 2 == 0 else nn.ReLU for i in range(len(modules))]
    linears = [m for m in modules if isinstance(m, nn.Linear)]
    if [type(m) for m in modules] != expected or any(m.bias is None for m in linears):
        return None
    layers = [(m.weight, m.bias, m.weight.t()) for m in linears]
    for w, b, _ in layers:
        if w.dtype != torch.float32 or b.dtype != torch.float32:
            return None
        if trainable and not (w.requires_grad and b.requires_grad):
            return None
    return layers


def _mlp_forward(
    layers: list[tuple[torch.Tensor, ...]], x: torch.Tensor, keep: list[torch.Tensor] | None = None
) -> torch.Tensor:
    """ReLU MLP forward with ``addmm``; ``keep`` collects the input of every layer."""
    for _, b, wt in layers[:-1]:
        if keep is not None:
            keep.append(x)
        x = torch.addmm(b, x, wt).clamp_(min=0.0)
    if keep is not None:
        keep.append(x)
    _, b, wt = layers[-1]
    return torch.addmm(b, x, wt)


class GradientStep(NamedTuple):
    """What Step 4 (parts 4a-4d) of ``DQNAgent.learn`` computes, for the rest of ``learn`` to use."""

    q_values: torch.Tensor  # Q(s, ·; θ) before the step, (B, n_actions)
    q_taken: torch.Tensor  # Q(s, a; θ), (B,)
    td_target: torch.Tensor  # y, (B,)
    loss: torch.Tensor  # scalar
    grad_norm: float  # before clipping


class FastMLP:
    """The fast path for one agent's online/target MLP pair; ``usable`` is False when it cannot apply."""

    def __init__(self, agent: Any) -> None:
        self.online_net, self.target_net = agent.online, agent.target
        self.params = list(agent.online.parameters()) + list(agent.target.parameters())
        self._key = self._snapshot()
        self._config, self._loss_fn = agent.config, agent.loss_fn
        self.online: list[tuple[torch.Tensor, ...]] | None = None
        self.target: list[tuple[torch.Tensor, ...]] | None = None
        self._numpy_weights: list[tuple[np.ndarray, np.ndarray]] = []
        self._adam: tuple[Any, ...] | None = None
        self.usable = False
        #: why it does not apply (None when usable)
        self.reason: str | None = "switched off by DQN_FAST_MLP=0"
        if os.environ.get("DQN_FAST_MLP") == "0":
            return
        self.reason = unsupported(agent)
        if self.reason is not None:
            return
        self.reason = "hooks, frozen or non-fp32 weights, or online and target differ"
        online, target = _mlp_layers(agent.online, True), _mlp_layers(agent.target, False)
        if online is None or target is None:
            return
        if [layer[0].shape for layer in online] != [layer[0].shape for layer in target]:
            return
        self.online, self.target = online, target
        self._numpy_weights = [(w.detach().numpy(), b.detach().numpy()) for w, b, _ in online]
        self.obs_dim = online[0][0].shape[1]
        self.usable = self._greedy_matches_torch(agent)
        self.reason = None if self.usable else "its greedy actions differ from the network's"

    @classmethod
    def for_agent(cls, agent: Any) -> FastMLP:
        """Build the fast path for ``agent`` (check ``.usable`` before using it)."""
        return cls(agent)

    def _snapshot(self) -> tuple[Any, ...]:
        return (
            self.online_net,
            self.target_net,
            [p.data_ptr() for p in self.params],
            [p.requires_grad for p in self.params],
        )

    def still_valid(self, agent: Any) -> bool:
        """False once the agent's networks, their weight storage, config or loss were replaced."""
        return (
            agent.online is self.online_net
            and agent.target is self.target_net
            and agent.config is self._config
            and agent.loss_fn is self._loss_fn
            and [p.data_ptr() for p in self.params] == self._key[2]
            and [p.requires_grad for p in self.params] == self._key[3]
        )

    # ---------------------------------------------------------------- acting
    def greedy(self, obs: np.ndarray) -> int:
        """argmax_a Q(s, a) with a numpy forward pass (the weights are views of the torch ones)."""
        x = np.asarray(obs, dtype=np.float32)
        last = len(self._numpy_weights) - 1
        for i, (w, b) in enumerate(self._numpy_weights):
            x = w @ x
            x += b
            if i < last:
                np.maximum(x, 0.0, out=x)
        return int(x.argmax())

    def _greedy_matches_torch(self, agent: Any) -> bool:
        probe = np.random.default_rng(0).normal(size=(8, *agent.obs_shape)).astype(np.float32)
        with torch.no_grad():
            expected = agent.online(torch.from_numpy(probe)).argmax(dim=1).tolist()
        return [self.greedy(o) for o in probe] == expected

    # -------------------------------------------------------------- learning
    def fits(self, batch: Any) -> bool:
        """True for a batch of flat float observations this MLP takes."""
        return batch.obs.dim() == 2 and batch.obs.shape[1] == self.obs_dim

    def gradient_step(self, agent: Any, batch: Any) -> GradientStep:
        """Lines 1-4 of ``DQNAgent.learn`` with the backward pass written out (no autograd graph).

        With ``h₀ = s``, ``hᵢ₊₁ = relu(hᵢ Wᵢᵀ + bᵢ)`` and ``g = ∂loss/∂Q`` (non-zero only at the
        actions taken): ``∂W = gᵀ hᵢ``, ``∂b = Σ g``, and g flows down as ``(g W) ⊙ [hᵢ > 0]``.
        """
        assert self.online is not None and self.target is not None
        c = agent.config
        for w, b, _ in self.online:  # gradients go into ordinary tensors (``out=`` below), so
            for p in (w, b):  # no inference tensor is left in ``.grad`` for later code to modify
                if p.grad is None or p.grad.is_inference():
                    p.grad = torch.zeros_like(p)
        with torch.inference_mode():
            obs = batch.obs.float()
            next_obs = batch.next_obs.float()
            n = obs.shape[0]
            inputs: list[torch.Tensor] = []
            q_values = _mlp_forward(self.online, obs, inputs)
            actions = batch.actions.unsqueeze(1)
            q_taken = q_values.gather(1, actions).squeeze(1)
            next_q_target = _mlp_forward(self.target, next_obs)
            if c.double:  # the targets of losses.double_dqn_targets / td_targets
                best = _mlp_forward(self.online, next_obs).argmax(dim=1, keepdim=True)
                next_value = next_q_target.gather(1, best).squeeze(1)
            else:
                next_value = next_q_target.amax(dim=1)
            bootstrap = torch.where(batch.terminated.bool(), 0.0, batch.discounts)
            td_target = torch.addcmul(batch.rewards, bootstrap, next_value)
            # losses.huber_loss / mse_loss and ∂loss/∂q_taken: Huber (δ = 1) gives
            # clamp(diff, −1, 1) / B, MSE 2·diff / B; prioritized replay weights both
            diff = q_taken - td_target
            huber = SUPPORTED_LOSSES[agent.loss_fn] == "huber"
            per_sample = (
                F.huber_loss(q_taken, td_target, reduction="none") if huber else diff * diff
            )
            grad = diff.clamp(-1.0, 1.0) if huber else diff * 2.0
            if c.prioritized:
                weights = batch.weights.to(torch.float32)
                per_sample = per_sample * weights
                grad = grad * weights
            loss = per_sample.mean()
            g = torch.zeros_like(q_values).scatter_(1, actions, (grad / n).unsqueeze(1))
            for i in range(len(self.online) - 1, -1, -1):  # from the output layer down
                w, b, _ = self.online[i]
                h = inputs[i]
                torch.mm(g.t(), h, out=w.grad)
                torch.sum(g, dim=0, out=b.grad)
                if i > 0:  # ReLU's backward: (g W) ⊙ [h > 0]
                    g = _relu_backward(torch.mm(g, w), h)
            grad_norm = self._clip(c.max_grad_norm)
            self._adam_step(agent.optimizer)
        return GradientStep(q_values, q_taken, td_target, loss, grad_norm)

    def _clip(self, max_norm: float | None) -> float:
        """``torch.nn.utils.clip_grad_norm_`` on the online gradients; returns the norm before."""
        assert self.online is not None
        grads = [p.grad for w, b, _ in self.online for p in (w, b)]
        foreach_norm, foreach_mul = _kernel("_foreach_norm"), _kernel("_foreach_mul_")
        norms = (
            foreach_norm(grads) if foreach_norm else [torch.linalg.vector_norm(g) for g in grads]
        )
        total = torch.linalg.vector_norm(torch.stack(norms))
        if max_norm is not None:
            scale = (max_norm / (total + 1e-6)).clamp(max=1.0)
            if foreach_mul:
                foreach_mul(grads, scale)
            else:
                for g in grads:
                    g.mul_(scale)
            return float(total)
        return math.sqrt(math.fsum(v * v for v in torch.stack(norms).tolist()))

    def soft_update(self, tau: float) -> None:
        """θ⁻ ← τθ + (1−τ)θ⁻ in one fused op where this torch has it (``losses.soft_update``)."""
        assert self.online is not None and self.target is not None
        online = [p for w, b, _ in self.online for p in (w, b)]
        target = [p for w, b, _ in self.target for p in (w, b)]
        foreach_lerp = _kernel("_foreach_lerp_")
        with torch.no_grad():
            if foreach_lerp:
                foreach_lerp(target, online, tau)
            else:
                for t, o in zip(target, online):
                    t.lerp_(o, tau)

    def _adam_step(self, opt: torch.optim.Optimizer) -> None:
        """``opt.step()``; for a fused Adam whose state exists, its kernel is called directly.

        ``Optimizer.step`` spends more time in Python (hooks, profiler records, grouping tensors by
        device) than a small MLP's fused kernel takes. The kernel gets the arguments
        ``Adam(fused=True)`` passes, so the numbers are the same. Adam's per-parameter step
        counters become views of one tensor, so one ``add_`` advances them all. A reloaded state,
        another optimizer, hooks or unusual options go through ``step()``.
        """
        fused_adam = _kernel("_fused_adam_")
        cache = self._adam
        if cache is not None and fused_adam is not None:
            group, state, params, exp_avgs, exp_avg_sqs, steps, all_steps = cache
            if (
                opt.state is state
                and len(opt.param_groups) == 1
                and opt.param_groups[0] is group
                and not getattr(opt, "_optimizer_step_pre_hooks", True)
                and not getattr(opt, "_optimizer_step_post_hooks", True)
            ):
                beta1, beta2 = group["betas"]
                all_steps.add_(1)
                fused_adam(
                    params,
                    [p.grad for p in params],
                    exp_avgs,
                    exp_avg_sqs,
                    [],
                    steps,
                    amsgrad=False,
                    lr=group["lr"],
                    beta1=beta1,
                    beta2=beta2,
                    weight_decay=group["weight_decay"],
                    eps=group["eps"],
                    maximize=False,
                    grad_scale=None,
                    found_inf=None,
                )
                return
        with torch.inference_mode(False):  # Adam's state must be ordinary tensors
            opt.step()
        self._adam = self._adam_cache(opt) if fused_adam is not None else None

    @staticmethod
    def _adam_cache(opt: torch.optim.Optimizer) -> tuple[Any, ...] | None:
        """What ``_adam_step`` needs to call the fused kernel, or None where it must not."""
        if type(opt) is not torch.optim.Adam or len(opt.param_groups) != 1:
            return None
        group = opt.param_groups[0]
        if not group.get("fused") or any(
            group.get(k)
            for k in (
                "amsgrad",
                "maximize",
                "capturable",
                "differentiable",
                "decoupled_weight_decay",
            )
        ):
            return None
        params = list(group["params"])
        states = [opt.state.get(p, {}) for p in params]
        if not all("exp_avg" in st and "exp_avg_sq" in st and "step" in st for st in states):
            return None
        if any(p.device != params[0].device or p.dtype != params[0].dtype for p in params):
            return None
        steps = [st["step"] for st in states]
        if any(not torch.is_tensor(s) or s.dim() != 0 or s.dtype != torch.float32 for s in steps):
            return None
        with torch.inference_mode(False):
            all_steps = torch.stack(steps)  # one tensor; each state's "step" is a view of it
            for i, st in enumerate(states):
                st["step"] = all_steps[i]
        return (
            group,
            opt.state,
            params,
            [st["exp_avg"] for st in states],
            [st["exp_avg_sq"] for st in states],
            [st["step"] for st in states],
            all_steps,
        )
