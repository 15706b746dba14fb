"""The DQN agent: ε-greedy acting and one gradient step on a replay batch.

Introduced in lesson 05 (the full DQN update); the Double DQN / dueling / prioritized-replay /
n-step switches are taught as small diffs against ``DQNAgent.learn`` in lessons 07–09. The agent
owns the online and target networks and the optimizer; the training loop (``training.train``)
owns the environment and the replay buffer.

On a CPU, a small MLP (CartPole) runs Step 4 of ``learn`` (parts 4a-4d) fused in ``fast_mlp`` (tested equal,
about 1.8x faster); the one door to it is ``DQNAgent._fast_path`` below, and ``DQN_FAST_MLP=0``
switches it off.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from dqn_helpers import device as device_lib
from dqn_helpers import fast_mlp, losses, networks, targets
from dqn_helpers.config import DQNConfig
from dqn_helpers.metrics import UpdateMetrics

__all__ = ["DQNAgent"]


def _make_adam(module: nn.Module, lr: float, eps: float) -> torch.optim.Adam:
    """Adam, with PyTorch's fused kernel where this torch and device have one (same numbers)."""
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
        if (
            isinstance(n_actions, bool)
            or not isinstance(n_actions, (int, np.integer))
            or n_actions < 1
        ):
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
        #: bfloat16 for the update on a CPU that supports it (``config.precision="bf16"``), else None.
        self.autocast_dtype = device_lib.update_dtype(config.precision, self.device)
        if self.autocast_dtype is not None and isinstance(online, networks.NatureCNN):
            # bf16 convolutions on a CPU are fastest with channels-last weights (same numbers in fp32)
            self.online = self.online.to(memory_format=torch.channels_last)
        self.target: nn.Module = copy.deepcopy(self.online)
        self.target.requires_grad_(False)
        self.optimizer = _make_adam(self.online, config.learning_rate, config.adam_eps)
        self.loss_fn = losses.huber_loss if config.loss == "huber" else losses.mse_loss
        self.rng = np.random.default_rng(config.seed)  # ε-greedy coin flips and random actions
        self.updates = 0  # gradient steps done so far
        #: Let small CPU MLPs use ``fast_mlp`` (same numbers, faster). False: always the code below.
        self.use_fast_path = True
        self._fast: fast_mlp.FastMLP | None = None

    def _fast_path(self) -> fast_mlp.FastMLP | None:
        """The one door to the speed module: a ``FastMLP`` when it applies to this agent, else None.

        It applies to a plain ReLU ``QNetwork`` on the CPU (CartPole); CNNs, GPUs and anything
        unusual go through the plain code of ``greedy`` and ``learn``. Set ``use_fast_path =
        False`` to switch it off (or ``DQN_FAST_MLP=0`` in the environment).
        """
        if not self.use_fast_path or self.autocast_dtype is not None:
            return None
        if self._fast is None or not self._fast.still_valid(self):
            self._fast = fast_mlp.FastMLP.for_agent(self)
        return self._fast if self._fast is not None and self._fast.usable else None

    # ------------------------------------------------------------------ acting (step 1)
    def _check_obs(self, obs: Any) -> np.ndarray:
        x = np.asarray(obs)
        if x.shape != self.obs_shape:
            raise ValueError(
                f"observation of shape {x.shape}, but this agent was built for {self.obs_shape}: "
                "pass one observation as the env returns it (act_batch takes a batch)."
            )
        if x.dtype.kind == "f" and not np.isfinite(x).all():
            raise ValueError(
                f"observation {x.tolist() if x.size <= 8 else '...'} holds NaN or inf: the network "
                "would turn it into arbitrary Q-values. Check the env (or a wrapper) that produced it."
            )
        return x

    @torch.no_grad()
    def q_values(self, obs: Any) -> np.ndarray:
        """Q(s, ·) as a numpy array: (n_actions,) for one observation, (B, n_actions) for a batch."""
        x = torch.as_tensor(np.asarray(obs), device=self.device)
        single = tuple(x.shape) == self.obs_shape
        q = self.online(x.unsqueeze(0) if single else x)
        q = q.float().cpu().numpy()
        return q[0] if single else q

    def greedy(self, obs: Any) -> int:
        """argmax_a Q(s, a) for one observation. Introduced in lesson 02."""
        x = self._check_obs(obs)
        fast = self._fast_path()
        if fast is not None:
            return fast.greedy(x)
        with torch.no_grad():
            q_values = self.online(torch.as_tensor(x, device=self.device).unsqueeze(0))
            return int(q_values.argmax(dim=1).item())

    def act(self, obs: Any, epsilon: float) -> int:
        """ε-greedy: a uniformly random action with probability ε, else the greedy one (lesson 01)."""
        if not 0.0 <= epsilon <= 1.0:
            raise ValueError(f"epsilon must be a probability in [0, 1], got {epsilon!r}.")
        self._check_obs(obs)  # also on a random action: a NaN observation is an error either way
        if epsilon > 0.0 and self.rng.random() < epsilon:
            return int(self.rng.integers(self.n_actions))
        return self.greedy(obs)

    @torch.no_grad()
    def act_batch(self, obs_batch: Any, epsilon: float) -> np.ndarray:
        """ε-greedy for a batch of observations (one per env of a vector env): int64 array (B,).

        Introduced in lesson 10. One forward pass for the whole batch; skipped when ε = 1.
        """
        if not 0.0 <= epsilon <= 1.0:
            raise ValueError(f"epsilon must be a probability in [0, 1], got {epsilon!r}.")
        x = torch.as_tensor(np.asarray(obs_batch), device=self.device)
        if tuple(x.shape[1:]) != self.obs_shape:
            raise ValueError(
                f"act_batch needs a batch of shape (B, {', '.join(map(str, self.obs_shape))}), "
                f"got {tuple(x.shape)}."
            )
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
    def set_learning_rate(self, lr: float) -> None:
        """Set Adam's step size (the loop anneals it with ``schedules.learning_rate_schedule``)."""
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    @property
    def learning_rate(self) -> float:
        """Adam's current step size."""
        return float(self.optimizer.param_groups[0]["lr"])

    @property
    def precision(self) -> str:
        """The precision the update really runs in: "bf16" or "fp32" (after the fallback)."""
        return "fp32" if self.autocast_dtype is None else "bf16"

    @contextlib.contextmanager
    def _update_precision(self) -> Iterator[None]:
        """Forward passes of the update in bfloat16 when ``autocast_dtype`` is set; no-op otherwise."""
        if self.autocast_dtype is None:
            yield
        else:
            with torch.autocast(self.device.type, dtype=self.autocast_dtype):
                yield

    def learn(self, batch: Any) -> UpdateMetrics:
        """Step 4 of lesson 05's algorithm, one gradient step on a replay batch (parts 4a-4d); returns its metrics.

        Introduced in lesson 05. Returns an ``UpdateMetrics``: floats ``loss``, ``mean_max_q``,
        ``td_error`` (mean |δ|) and ``grad_norm`` (before clipping), and ``td_errors``, the
        per-sample |δ| tensor that prioritized replay turns into priorities. The target network
        is not touched here: Step 5 (hard or soft) is the training loop's (``training._Run``).
        """
        c = self.config
        if not bool(torch.isfinite(batch.rewards).all()):
            raise ValueError(
                "the batch holds a NaN or infinite reward: one update would turn every weight into "
                "NaN. The replay buffers refuse such rewards; check how this batch was built."
            )
        fast = self._fast_path()
        if fast is not None and fast.fits(batch):
            # on a CPU a small MLP runs the same parts 4a-4d fused in fast_mlp (tested equal);
            # DQN_FAST_MLP=0 switches it off
            q_values, q_taken, td_target, loss, grad_norm = fast.gradient_step(self, batch)
        else:
            # Step 4a: Q(s, a; θ) of the actions taken (float32 even when the passes ran in bfloat16)
            with self._update_precision():
                q_values = self.online(batch.obs).float()
            q_taken = q_values.gather(1, batch.actions.unsqueeze(1)).squeeze(1)

            # Step 4b: y = r + γᵐ (1 − terminated) max_a' Q(s', a'; θ⁻); γᵐ = batch.discounts (m-step)
            with torch.no_grad():
                with self._update_precision():
                    next_q_target = self.target(batch.next_obs).float()
                if c.double:  # Double DQN: the online network picks a', the target rates it
                    with self._update_precision():
                        next_q_online = self.online(batch.next_obs).float()
                    td_target = losses.double_dqn_targets(
                        batch.rewards,
                        next_q_online,
                        next_q_target,
                        batch.terminated,
                        batch.discounts,
                    )
                else:
                    td_target = losses.td_targets(
                        batch.rewards, next_q_target, batch.terminated, batch.discounts
                    )

            # Step 4c: the loss on the TD error, weighted by the importance weights under PER
            weights = batch.weights if c.prioritized else None
            loss = self.loss_fn(q_taken, td_target, weights)

            # Step 4d: one gradient step θ ← θ − α∇θ loss, the gradient norm clipped
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = losses.clip_gradients(self.online.parameters(), c.max_grad_norm)
            self.optimizer.step()
        self.updates += 1

        with torch.no_grad():
            td_errors = (td_target - q_taken).abs()
            return UpdateMetrics(
                loss=loss.item(),
                mean_max_q=q_values.max(dim=1).values.mean().item(),
                td_error=td_errors.mean().item(),
                grad_norm=grad_norm,
                td_errors=td_errors,
            )

    # ----------------------------------------------------------- target network (lesson 04)
    def update_target(self) -> None:
        """Hard update θ⁻ ← θ."""
        targets.hard_update(self.target, self.online)

    def soft_update(self) -> None:
        """Polyak step θ⁻ ← τθ + (1−τ)θ⁻."""
        fast = self._fast_path()
        if fast is not None:
            fast.soft_update(self.config.tau)
        else:
            targets.soft_update(self.target, self.online, self.config.tau)

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

    def weight_mismatch(self, online_state: dict[str, torch.Tensor]) -> str | None:
        """Why ``online_state`` does not fit this agent's network (None when it fits)."""
        ours = self.online.state_dict()
        if set(ours) != set(online_state):
            return f"layer names differ ({sorted(set(ours) ^ set(online_state))[:4]} ...)"
        for name, tensor in ours.items():
            if tuple(online_state[name].shape) != tuple(tensor.shape):
                return (
                    f"layer {name} is {tuple(online_state[name].shape)} in the weights and "
                    f"{tuple(tensor.shape)} in the network built"
                )
        return None

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Inverse of ``state_dict``. A state with only ``"online"`` (an exported agent, or the
        start of a fine-tuning run) loads that network into both online and target networks."""
        problem = self.weight_mismatch(state["online"])
        if problem is not None:
            raise ValueError(f"the weights do not fit this agent's network: {problem}.")
        if set(state) == {"online"}:
            dtypes = {k: v.dtype for k, v in self.online.state_dict().items()}
            self.online.load_state_dict({k: v.to(dtypes[k]) for k, v in state["online"].items()})
            self.update_target()
            return
        self.online.load_state_dict(state["online"])
        self.target.load_state_dict(state["target"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.updates = int(state.get("updates", 0))
        if "rng" in state:
            self.rng.bit_generator.state = state["rng"]

    def parameters_finite(self) -> bool:
        """True when every online weight is finite (no NaN/inf): checked before saving."""
        with torch.no_grad():
            return all(bool(torch.isfinite(p).all()) for p in self.online.parameters())
