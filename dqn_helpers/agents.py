"""The DQN agent: ε-greedy acting and one gradient step on a replay batch.

Introduced in lesson 05 (the full DQN update); the Double / Dueling / prioritized-replay / n-step
switches are used by the extensions lessons. The agent owns the online and target networks and the
optimizer; the training loop (``training.train``) owns the environment and the replay buffer.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dqn_helpers import device as device_lib
from dqn_helpers import losses, networks
from dqn_helpers.config import DQNConfig

__all__ = ["DQNAgent"]


def _make_adam(module: nn.Module, lr: float, eps: float) -> torch.optim.Adam:
    """Adam with the fused kernel where PyTorch has one (one op instead of dozens per step)."""
    try:
        return torch.optim.Adam(module.parameters(), lr=lr, eps=eps, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(module.parameters(), lr=lr, eps=eps)


class DQNAgent:
    """Online network Q(s, a; θ), target network Q(s, a; θ⁻), Adam, and the DQN update.

    Introduced in lesson 05. ``obs_shape`` is the env's observation shape ((4,) for CartPole,
    (4, 84, 84) for Pong); ``n_actions`` the size of its Discrete action space.
    """

    def __init__(
        self,
        config: DQNConfig,
        obs_shape: Sequence[int],
        n_actions: int,
        device: str | torch.device | None = None,
    ) -> None:
        if not isinstance(config, DQNConfig):
            raise TypeError(f"config must be a DQNConfig, got {type(config).__name__}.")
        if isinstance(n_actions, bool) or not isinstance(n_actions, (int, np.integer)) or n_actions < 1:
            raise ValueError(f"n_actions must be a positive int, got {n_actions!r}.")
        self.config = config
        self.obs_shape = tuple(int(s) for s in obs_shape)
        self.n_actions = int(n_actions)
        if device is None:
            device = None if config.device == "auto" else config.device
        self.device = device_lib.pick_device(device)

        # Seed the weights from config.seed without touching the caller's global torch RNG.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            online = networks.build_q_network(
                self.obs_shape, self.n_actions, hidden=config.hidden, dueling=config.dueling
            )
        self.online: nn.Module = online.to(self.device)
        self.target: nn.Module = copy.deepcopy(self.online)
        self.target.requires_grad_(False)
        self.optimizer = _make_adam(self.online, config.learning_rate, config.adam_eps)
        self.rng = np.random.default_rng(config.seed)  # ε-greedy coin flips and random actions
        self.updates = 0  # gradient steps done so far
        self._online_params = list(self.online.parameters())
        self._target_params = list(self.target.parameters())
        self._loss_fn = losses.huber_loss if config.loss == "huber" else losses.mse_loss
        self._fast_key: Any = None
        self._fast_fn: Any = None
        #: Use hand-derived gradients for a plain ReLU MLP on the CPU (see ``_manual_layers``).
        #: Set to False to force autograd (the two give the same update, see tests/test_agents.py).
        self.manual_gradients = True
        self._manual_key: Any = None
        self._manual_value: Any = None
        self._adam_cache: Any = None

    # ------------------------------------------------------------------ acting (step 1)
    def _as_batch(self, obs: Any) -> torch.Tensor:
        return torch.as_tensor(np.asarray(obs), device=self.device)

    @torch.no_grad()
    def q_values(self, obs: Any) -> np.ndarray:
        """Q(s, ·) as a numpy array: (n_actions,) for one observation, (B, n_actions) for a batch."""
        x = self._as_batch(obs)
        single = tuple(x.shape) == self.obs_shape
        q = self.online(x.unsqueeze(0) if single else x)
        q = q.float().cpu().numpy()
        return q[0] if single else q

    def greedy(self, obs: Any) -> int:
        """argmax_a Q(s, a) for one observation. Introduced in lesson 02."""
        fast = self._fast_policy()
        if fast is not None:
            return fast(obs)
        with torch.no_grad():
            x = self._as_batch(obs).unsqueeze(0)
            return int(self.online(x).argmax(dim=1).item())

    def _fast_policy(self) -> Any:
        """A numpy forward pass for a CPU MLP (≈7 µs instead of ≈50 µs per action).

        It reads the network's weights through numpy views that share memory with the torch
        parameters, so every optimizer step is seen at once; it is rebuilt (or dropped) whenever
        the network or its parameter storage changes.
        """
        net = self.online
        cached = self._fast_key
        if cached is not None and cached[0] is net and all(
            p.data_ptr() == ptr for p, ptr in zip(cached[1], cached[2])
        ):
            return self._fast_fn
        params = list(net.parameters())
        self._fast_key = (net, params, [p.data_ptr() for p in params])
        self._fast_fn = None
        if self.device.type != "cpu" or not isinstance(net, networks.QNetwork):
            return None
        if net.dueling:  # argmax_a (V + A - mean A) = argmax_a A: only the advantage stream matters
            stream = net.head.advantage
            modules = [*net.body, *(stream if isinstance(stream, nn.Sequential) else [stream])]
        else:
            modules = [*net.body, net.head]
        if not all(isinstance(m, (nn.Linear, nn.ReLU)) for m in modules):
            return None
        weights = [
            (m.weight.detach().numpy(), m.bias.detach().numpy()) for m in modules
            if isinstance(m, nn.Linear)
        ]
        if any(w.dtype != np.float32 for w, _ in weights):
            return None
        last = len(weights) - 1

        def fast(obs: Any) -> int:
            x = np.asarray(obs, dtype=np.float32)
            for i, (w, b) in enumerate(weights):
                x = w @ x
                x += b
                if i < last:
                    np.maximum(x, 0.0, out=x)
            return int(x.argmax())

        probe = np.random.default_rng(0).normal(size=(8, *self.obs_shape)).astype(np.float32)
        expected = self.online(torch.from_numpy(probe)).argmax(dim=1).tolist()
        if [fast(o) for o in probe] == expected:
            self._fast_fn = fast
        return self._fast_fn

    def act(self, obs: Any, epsilon: float) -> int:
        """ε-greedy: a uniformly random action with probability ε, else the greedy one (lesson 01)."""
        if epsilon > 0.0 and self.rng.random() < epsilon:
            return int(self.rng.integers(self.n_actions))
        return self.greedy(obs)

    @torch.no_grad()
    def act_batch(self, obs_batch: Any, epsilon: float) -> np.ndarray:
        """ε-greedy for a batch of observations (one per env of a vector env): int64 array (B,).

        Introduced in lesson 07. One forward pass for the whole batch; skipped when ε = 1.
        """
        x = self._as_batch(obs_batch)
        n = x.shape[0]
        explore = self.rng.random(n) < epsilon if epsilon > 0.0 else np.zeros(n, dtype=bool)
        if explore.all():
            return self.rng.integers(self.n_actions, size=n).astype(np.int64)
        actions = self.online(x).argmax(dim=1).cpu().numpy().astype(np.int64)
        k = int(explore.sum())
        if k:
            actions[explore] = self.rng.integers(self.n_actions, size=k)
        return actions

    # ---------------------------------------------------------------- learning (step 4)
    def learning_rate_at(self, step: int) -> float:
        """The learning rate at agent step ``step``: constant, or linear to ``lr_end`` (lesson 05)."""
        c = self.config
        if c.lr_end is None:
            return c.learning_rate
        horizon = max(1.0, c.lr_fraction * c.total_steps)
        frac = min(1.0, step / horizon)
        return c.learning_rate + frac * (c.lr_end - c.learning_rate)

    def set_learning_rate(self, lr: float) -> None:
        """Set Adam's step size (used by the training loop for annealing)."""
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    @property
    def learning_rate(self) -> float:
        """Adam's current step size."""
        return float(self.optimizer.param_groups[0]["lr"])

    def learn(self, batch: Any) -> dict[str, Any]:
        """One gradient step on a replay batch; returns the metrics of that step.

        Introduced in lesson 05. Target ``y = r + γᵐ (1 − terminated) Q_target(s', a*)`` with
        ``a*`` from the target net (DQN) or the online net (Double DQN); ``γᵐ = batch.discounts``
        (n-step returns). Loss weighted by ``batch.weights`` (prioritized replay). Returns floats
        ``loss``, ``mean_max_q``, ``td_error`` (mean |δ|), ``grad_norm`` (before clipping), and
        ``td_errors``: the per-sample |δ| tensor for ``update_priorities``.
        """
        c = self.config
        layers = self._manual_layers() if self.manual_gradients else None
        if layers is not None and batch.obs.dim() == 2 and batch.obs.shape[1] == self.obs_shape[0]:
            return self._learn_manual(batch, *layers)
        q_all = self.online(batch.obs)
        q_taken = q_all.gather(1, batch.actions.unsqueeze(1)).squeeze(1)
        with torch.no_grad():
            next_q_target = self.target(batch.next_obs)
            discounts = batch.discounts
            if c.double:
                next_q_online = self.online(batch.next_obs)
                td_target = losses.double_dqn_targets(
                    batch.rewards, next_q_online, next_q_target, batch.terminated, discounts
                )
            else:
                td_target = losses.td_targets(
                    batch.rewards, next_q_target, batch.terminated, discounts
                )
        weights = batch.weights if c.prioritized else None
        loss = self._loss_fn(q_taken, td_target, weights)

        for p in self._online_params:  # zero_grad(set_to_none=True) without its profiler hooks
            p.grad = None
        loss.backward()
        return self._step(loss, q_all, q_taken, td_target)

    def _step(
        self, loss: torch.Tensor, q_all: torch.Tensor, q_taken: torch.Tensor, td_target: torch.Tensor,
    ) -> dict[str, Any]:
        """Clip the gradients in ``.grad``, take the Adam step, soft-update, and collect metrics."""
        with torch.no_grad():
            return self._finish_update(loss, q_all, (td_target - q_taken).abs())

    def _finish_update(
        self, loss: torch.Tensor, q_all: torch.Tensor, td_abs: torch.Tensor
    ) -> dict[str, Any]:
        """``_step``'s body; the caller holds ``no_grad`` (or ``inference_mode``)."""
        c = self.config
        # what clip_grad_norm_ does, without its wrappers (same numbers)
        grads = [p.grad for p in self._online_params if p.grad is not None]
        norms = torch._foreach_norm(grads)  # one norm per tensor; the total is their 2-norm
        clip = c.max_grad_norm is not None
        if clip:
            grad_norm = torch.linalg.vector_norm(torch.stack(norms))
            torch._foreach_mul_(grads, (c.max_grad_norm / (grad_norm + 1e-6)).clamp(max=1.0))
            norms = [grad_norm]
        self._optimizer_step()
        self.updates += 1
        if c.target_update == 0:
            self.soft_update()
        # one device sync for all the numbers; without clipping the total norm is only logged,
        # so it is summed here in Python (double precision) instead of two more tensor ops
        stats = torch.stack([loss, q_all.amax(dim=1).sum(), td_abs.sum(), *norms]).tolist()
        n = td_abs.numel()  # (sums, divided here: a tensor mean is two kernels)
        return {
            "loss": stats[0],
            "mean_max_q": stats[1] / n,
            "td_error": stats[2] / n,
            "grad_norm": stats[3] if clip else math.sqrt(math.fsum(v * v for v in stats[3:])),
            "td_errors": td_abs,
        }

    def _optimizer_step(self) -> None:
        """``self.optimizer.step()``, calling the fused Adam kernel directly once its state exists.

        ``Optimizer.step`` spends ~130 µs per call in Python (hooks, profiler records, grouping
        the tensors by device) around a ~20 µs fused kernel: as much as a small MLP's whole
        backward pass. Here the kernel is called as ``torch.optim.Adam(fused=True)`` calls it, with
        the same arguments, so the numbers are the same. Adam's per-parameter step counters
        become views of one tensor, so one ``add_`` advances them all (on the CPU,
        ``_foreach_add_`` over six 0-d tensors is six separate kernels). The state tensors stay in
        ``self.optimizer`` (checkpoints, ``state_dict``); a reloaded state, another optimizer,
        hooks or other options go through ``step()``.
        """
        opt, cache = self.optimizer, self._adam_cache
        if cache is not None:
            # optimizer.load_state_dict replaces both ``state`` and ``param_groups``: checked here
            group, state, params, exp_avgs, exp_avg_sqs, steps, all_steps = cache
            grads = [p.grad for p in params]
            if (opt.state is state and opt.param_groups[0] is group and len(opt.param_groups) == 1
                    and not opt._optimizer_step_pre_hooks and not opt._optimizer_step_post_hooks
                    and all(g is not None for g in grads)):
                beta1, beta2 = group["betas"]
                all_steps.add_(1)  # the caller holds no_grad
                torch._fused_adam_(
                    params, grads, exp_avgs, exp_avg_sqs, [], steps, amsgrad=False,
                    lr=group["lr"], beta1=beta1, beta2=beta2, weight_decay=group["weight_decay"],
                    eps=group["eps"], maximize=False, grad_scale=None, found_inf=None,
                )
                return
        with torch.inference_mode(False):  # Adam's state must be normal tensors, never inference
            opt.step()  # tensors (the manual update runs in inference mode; see _learn_manual)
        self._adam_cache = None
        if type(opt) is not torch.optim.Adam or len(opt.param_groups) != 1:
            return
        group = opt.param_groups[0]
        if not group.get("fused") or group.get("amsgrad") or group.get("maximize") or group.get(
            "capturable") or group.get("differentiable") or group.get("decoupled_weight_decay"):
            return
        params = list(group["params"])
        states = [opt.state.get(p, {}) for p in params]
        if not all("exp_avg" in st and "exp_avg_sq" in st and "step" in st for st in states):
            return
        if any(p.device != params[0].device or p.dtype != params[0].dtype for p in params) or any(
                torch.is_tensor(v) and v.device != params[0].device for v in group.values()):
            return  # Adam would group these by device and dtype: leave that to it
        step_tensors = [st["step"] for st in states]
        if any(s.dim() != 0 or s.dtype != torch.float32 for s in step_tensors):
            return
        with torch.inference_mode(False):
            all_steps = torch.stack(step_tensors)  # one tensor; each state's "step" is a view of it
            for i, st in enumerate(states):
                st["step"] = all_steps[i]
        self._adam_cache = (
            group, opt.state, params, [st["exp_avg"] for st in states],
            [st["exp_avg_sq"] for st in states], [st["step"] for st in states], all_steps,
        )

    def _manual_layers(self) -> Any:
        """(online, target) lists of (W, b, Wᵀ) per layer when the update may skip autograd, else None.

        For a plain ReLU MLP (``QNetwork`` without dueling) on the CPU, autograd's bookkeeping costs
        more than the arithmetic: CartPole's 4-128-128-2 network spends about a third of each
        update in it. The gradient of this network is short to write by hand (``_learn_manual``),
        so the update does that instead; tests check it against autograd, step for step. Any
        other network, a module with hooks, a frozen parameter or a non-float32 weight falls back
        to autograd. Cached like ``_fast_policy`` and rebuilt when the networks change.
        """
        online, target = self.online, self.target
        key = self._manual_key
        if (key is not None and key[0] is online and key[1] is target
                and [p.data_ptr() for p in key[2]] == key[3]
                and [p.requires_grad for p in key[2]] == key[4]):
            return self._manual_value
        params = list(online.parameters()) + list(target.parameters())
        self._manual_key = (online, target, params, [p.data_ptr() for p in params],
                            [p.requires_grad for p in params])
        self._manual_value = None

        def chain(net: nn.Module, trainable: bool) -> list[tuple[torch.Tensor, ...]] | None:
            if not isinstance(net, networks.QNetwork) or net.dueling:
                return None
            modules = [*net.body, net.head]
            if any(m._forward_hooks or m._forward_pre_hooks or m._backward_hooks
                   or getattr(m, "_backward_pre_hooks", None) for m in net.modules()):
                return None
            linears = [m for m in modules if isinstance(m, nn.Linear)]
            expected = [nn.Linear if i % 2 == 0 else nn.ReLU for i in range(len(modules))]
            if [type(m) for m in modules] != expected or any(m.bias is None for m in linears):
                return None
            pairs = [(m.weight, m.bias, m.weight.t()) for m in linears]  # Wᵀ: a view, kept
            for w, b, _ in pairs:
                if w.dtype != torch.float32 or b.dtype != torch.float32:
                    return None
                if trainable and not (w.requires_grad and b.requires_grad):
                    return None
            return pairs

        if self.device.type == "cpu":
            mine, theirs = chain(online, True), chain(target, False)
            if mine is not None and theirs is not None and [layer[0].shape for layer in mine] == [
                layer[0].shape for layer in theirs
            ]:
                self._manual_value = (mine, theirs)
        return self._manual_value

    @staticmethod
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

    def _learn_manual(
        self, batch: Any, online: list[tuple[torch.Tensor, ...]],
        target: list[tuple[torch.Tensor, ...]],
    ) -> dict[str, Any]:
        """``learn`` for a ReLU MLP with the backward pass written out (no autograd graph).

        With ``h₀ = s``, ``hᵢ₊₁ = relu(hᵢ Wᵢᵀ + bᵢ)`` and ``g = ∂loss/∂Q`` (non-zero only at the
        actions taken): ``∂W = gᵀ hᵢ``, ``∂b = Σ g``, and g flows down as ``(g W) ⊙ [hᵢ > 0]``.
        """
        for w, b, _ in online:  # gradients are written into ordinary tensors (``out=``), so that
            for p in (w, b):  # no inference tensor is left in ``.grad`` for later code to modify
                if p.grad is None or p.grad.is_inference():
                    p.grad = torch.zeros_like(p)
        with torch.inference_mode():  # no autograd here; lighter per op than no_grad
            c = self.config
            obs = batch.obs if batch.obs.dtype == torch.float32 else batch.obs.float()
            next_obs = batch.next_obs
            if next_obs.dtype != torch.float32:
                next_obs = next_obs.float()
            n = obs.shape[0]
            inputs: list[torch.Tensor] = []
            q_all = self._mlp_forward(online, obs, inputs)
            actions = batch.actions.unsqueeze(1)
            q_taken = q_all.gather(1, actions).squeeze(1)
            next_q_target = self._mlp_forward(target, next_obs)
            if c.double:  # the same targets as losses.double_dqn_targets / td_targets, inline
                best = self._mlp_forward(online, next_obs).argmax(dim=1, keepdim=True)
                next_value = next_q_target.gather(1, best).squeeze(1)
            else:
                next_value = next_q_target.amax(dim=1)
            # γᵐ (1 − terminated)
            bootstrap = torch.where(batch.terminated.bool(), 0.0, batch.discounts)
            td_target = torch.addcmul(batch.rewards, bootstrap, next_value)
            # the loss of losses.huber_loss / mse_loss, and ∂loss/∂q_taken: Huber (δ = 1) gives
            # clamp(diff, −1, 1) / B, MSE 2·diff / B; PER multiplies both by the importance weights
            diff = q_taken - td_target
            huber = c.loss == "huber"
            if c.prioritized:
                weights = batch.weights.to(torch.float32)
                per_sample = (F.huber_loss(q_taken, td_target, reduction="none") if huber
                              else diff * diff)
                loss = (weights * per_sample).mean()
                grad = (diff.clamp(-1.0, 1.0) if huber else diff * 2.0).mul_(weights)
            else:
                loss = F.huber_loss(q_taken, td_target) if huber else (diff * diff).mean()
                grad = diff.clamp(-1.0, 1.0) if huber else diff * 2.0
            g = torch.zeros_like(q_all).scatter_(1, actions, grad.div_(n).unsqueeze(1))
            for i in range(len(online) - 1, -1, -1):  # from the output layer down
                w, b, _ = online[i]
                h = inputs[i]
                torch.mm(g.t(), h, out=w.grad)
                torch.sum(g, dim=0, out=b.grad)
                if i > 0:
                    # ReLU's backward, (g W) ⊙ [h > 0], in the one kernel autograd itself uses
                    g = torch.ops.aten.threshold_backward(torch.mm(g, w), h, 0.0)
            return self._finish_update(loss, q_all, diff.abs())

    # ----------------------------------------------------------- target network (lesson 04)
    def update_target(self) -> None:
        """Hard update θ⁻ ← θ."""
        losses.hard_update(self.target, self.online)

    def soft_update(self) -> None:
        """Polyak step θ⁻ ← τθ + (1−τ)θ⁻ (the fast path of ``losses.soft_update``: one fused op)."""
        with torch.no_grad():
            torch._foreach_lerp_(self._target_params, self._online_params, self.config.tau)

    def maybe_update_target(self, step: int) -> bool:
        """Hard-copy the target every ``target_update`` agent steps; True when it copied."""
        c = self.config.target_update
        if c > 0 and step % c == 0:
            self.update_target()
            return True
        return False

    # ---------------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        """Networks, optimizer, update count and the exploration RNG (for checkpoints)."""
        return {
            "online": self.online.state_dict(),
            "target": self.target.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "updates": self.updates,
            "rng": self.rng.bit_generator.state,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Inverse of ``state_dict`` (shapes are checked by ``checkpoints.restore_agent``)."""
        self.online.load_state_dict(state["online"])
        self.target.load_state_dict(state["target"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.updates = int(state.get("updates", 0))
        if "rng" in state:
            self.rng.bit_generator.state = state["rng"]

    def parameters_finite(self) -> bool:
        """True when every online weight is finite (no NaN/inf): checked before saving."""
        with torch.no_grad():
            return all(bool(torch.isfinite(p).all()) for p in self._online_params)
