"""fast_mlp: the speed path for small CPU MLPs gives the same update and actions as the plain code.

The plain path is ``DQNAgent.learn`` with ``use_fast_path = False`` (autograd, ``losses.*``,
``optimizer.step()``). The tolerance: float rounding only (1e-4 relative on parameters after the
steps below; in practice ~1e-6 after hundreds of updates).
"""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest
import torch

from dqn_helpers import agents, buffers, config, fast_mlp, networks

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _agent(**overrides: object) -> agents.DQNAgent:
    base = dict(hidden=(16, 16), learning_rate=1e-2, device="cpu", seed=3)
    base.update(overrides)
    return agents.DQNAgent(config.DQNConfig(**base), (4,), 3, device="cpu")  # type: ignore[arg-type]


def _random_batch(n: int, obs_dim: int, n_actions: int, seed: int) -> buffers.Batch:
    g = torch.Generator().manual_seed(seed)
    return buffers.Batch(
        obs=3 * torch.randn(n, obs_dim, generator=g),
        actions=torch.randint(0, n_actions, (n,), generator=g),
        rewards=torch.randn(n, generator=g),
        next_obs=3 * torch.randn(n, obs_dim, generator=g),
        terminated=(torch.rand(n, generator=g) < 0.3).float(),
        indices=torch.arange(n),
        weights=torch.rand(n, generator=g) + 0.1,
        discounts=torch.full((n,), 0.97),
    )


def _assert_same_update(fast: agents.DQNAgent, slow: agents.DQNAgent, steps: int) -> None:
    for step in range(steps):
        batch = _random_batch(32, 4, 3, seed=step)
        m_fast, m_slow = fast.learn(batch), slow.learn(batch)
        for key in ("loss", "mean_max_q", "td_error", "grad_norm"):
            assert m_fast[key] == pytest.approx(m_slow[key], rel=1e-5, abs=1e-6), key
        torch.testing.assert_close(m_fast["td_errors"], m_slow["td_errors"])
    for p, q in zip(fast.online.parameters(), slow.online.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5)
    for p, q in zip(fast.target.parameters(), slow.target.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("loss", ["huber", "mse"])
@pytest.mark.parametrize("double", [False, True])
@pytest.mark.parametrize("prioritized", [False, True])
@pytest.mark.parametrize("max_grad_norm", [None, 0.5])
def test_fast_update_matches_the_plain_update(
    loss: str, double: bool, prioritized: bool, max_grad_norm: float | None
) -> None:
    kw = dict(
        loss=loss,
        double=double,
        prioritized=prioritized,
        max_grad_norm=max_grad_norm,
        target_update=0,
        tau=0.1,
    )
    fast, slow = _agent(**kw), _agent(**kw)
    slow.use_fast_path = False
    assert fast_mlp.FastMLP.for_agent(fast).usable
    _assert_same_update(fast, slow, steps=20)


def test_without_private_kernels_the_public_fallback_gives_the_same_numbers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On a torch without _fused_adam_ / _foreach_*, the fast path uses public ops only."""
    reference, fallback = (
        _agent(target_update=0, max_grad_norm=0.5),
        _agent(target_update=0, max_grad_norm=0.5),
    )
    ref_metrics = [reference.learn(_random_batch(32, 4, 3, seed=s)) for s in range(10)]

    for name in fast_mlp.PRIVATE_KERNELS:  # this torch "lacks" every private kernel
        monkeypatch.setitem(fast_mlp.PRIVATE_KERNELS, name, None)
    calls: list[int] = []
    step = fallback.optimizer.step
    monkeypatch.setattr(fallback.optimizer, "step", lambda: (calls.append(1), step())[1])
    fb_metrics = [fallback.learn(_random_batch(32, 4, 3, seed=s)) for s in range(10)]

    assert len(calls) == 10, "without the fused kernel every update goes through optimizer.step()"
    for a, b in zip(ref_metrics, fb_metrics):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-5)
    for p, q in zip(reference.online.parameters(), fallback.online.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)
    for p, q in zip(reference.target.parameters(), fallback.target.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)


def test_the_fast_path_can_be_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DQN_FAST_MLP", "0")
    assert not fast_mlp.FastMLP.for_agent(_agent()).usable


def test_fast_path_applies_only_where_it_can() -> None:
    """Dueling heads, CNNs, hooks and frozen layers take the plain path; the default MLP does not."""
    assert fast_mlp.FastMLP.for_agent(_agent()).usable
    assert not fast_mlp.FastMLP.for_agent(_agent(dueling=True)).usable
    cnn = agents.DQNAgent(config.DQNConfig(device="cpu"), (4, 84, 84), 6, device="cpu")
    assert not fast_mlp.FastMLP.for_agent(cnn).usable
    hooked = _agent()
    seen: list[int] = []
    hooked.online.body[0].register_forward_hook(lambda m, i, o: seen.append(1))
    assert not fast_mlp.FastMLP.for_agent(hooked).usable
    hooked.learn(_random_batch(8, 4, 3, seed=0))
    assert seen, "a forward hook must see the update's forward pass"
    frozen = _agent()
    frozen.learn(_random_batch(8, 4, 3, seed=0))  # the fast path is built and cached here
    frozen.online.body[0].weight.requires_grad_(False)
    before = frozen.online.body[0].weight.detach().clone()
    frozen.learn(_random_batch(8, 4, 3, seed=1))  # noticed even after the cache was built
    assert torch.equal(frozen.online.body[0].weight, before)


def test_fast_greedy_tracks_the_weights() -> None:
    agent = _agent(learning_rate=0.05)
    probe = np.random.default_rng(1).normal(size=(200, 4)).astype(np.float32)

    def agrees() -> bool:
        return [agent.greedy(o) for o in probe] == agent.q_values(probe).argmax(1).tolist()

    assert agrees()
    for s in range(20):  # in-place optimizer steps are seen by the numpy views
        agent.learn(_random_batch(32, 4, 3, seed=s))
    assert agrees()
    other = _agent(seed=9)
    agent.online.load_state_dict(other.online.state_dict())
    assert agrees()
    agent.online = other.online  # a swapped network is noticed
    assert agrees()


def test_fast_adam_step_follows_a_reloaded_optimizer_state() -> None:
    """The fused kernel is called directly; load_state_dict must still take effect."""
    agent = _agent()
    agent.learn(_random_batch(16, 4, 3, seed=0))
    snapshot = copy.deepcopy(agent.state_dict())
    for seed in (1, 2):
        agent.learn(_random_batch(16, 4, 3, seed=seed))
    agent.load_state_dict(copy.deepcopy(snapshot))  # back in time: weights and Adam moments
    fresh = _agent()
    fresh.load_state_dict(copy.deepcopy(snapshot))
    batch = _random_batch(16, 4, 3, seed=3)
    agent.learn(batch)
    fresh.learn(batch)
    for p, q in zip(agent.online.parameters(), fresh.online.parameters()):
        torch.testing.assert_close(p, q)
    state = agent.optimizer.state[next(agent.online.parameters())]
    assert float(state["step"]) == 2.0  # the snapshot's 1 step + this one


def test_fast_updates_leave_ordinary_tensors_behind() -> None:
    """The fast update runs in inference mode; nothing it leaves may stay an inference tensor
    that a later ordinary update (the plain path, Optimizer.step) would have to modify."""
    agent = _agent()
    for seed in range(3):
        agent.learn(_random_batch(16, 4, 3, seed=seed))
    for p in agent.online.parameters():
        assert not p.is_inference() and not p.grad.is_inference()
        state = agent.optimizer.state[p]
        assert not any(
            t.is_inference() for t in (state["exp_avg"], state["exp_avg_sq"], state["step"])
        )
    steps = [float(agent.optimizer.state[p]["step"]) for p in agent.online.parameters()]
    assert steps == [3.0] * len(steps)
    agent.optimizer.zero_grad(set_to_none=False)  # in place, on the gradients the update left
    agent.optimizer.step()
    agent.use_fast_path = False
    agent.learn(_random_batch(16, 4, 3, seed=9))
    assert float(agent.optimizer.state[next(agent.online.parameters())]["step"]) == 5.0


class _C51Like(networks.QNetwork):
    """A distributional head written as a plain nn.Linear: n_actions x atoms outputs, reshaped."""

    def __init__(self, atoms: int = 5) -> None:
        super().__init__(4, 3, hidden=(16, 16))
        self.atoms = atoms
        self.head = torch.nn.Linear(16, 3 * atoms)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        logits = self.head(self.body(obs)).view(-1, 3, self.atoms)
        return (logits.softmax(-1) * torch.linspace(-1, 1, self.atoms)).sum(-1)


def test_only_the_positive_list_gets_the_fast_path() -> None:
    """A subclass of QNetwork (here a C51-like head), a head of the wrong width, another loss, an
    unknown layer or a config field nobody reviewed all take the plain path, with a reason."""
    assert fast_mlp.unsupported(_agent()) is None
    c51 = _agent()
    c51.online, c51.target = _C51Like(), _C51Like()
    assert "plain QNetwork" in str(fast_mlp.unsupported(c51))
    assert not fast_mlp.FastMLP.for_agent(c51).usable
    wide = _agent()
    for net in (wide.online, wide.target):
        net.head = torch.nn.Linear(16, 6)  # 2 outputs per action, plain QNetwork.forward
    assert "one output per action" in str(fast_mlp.unsupported(wide))
    odd_layer = _agent()
    for net in (odd_layer.online, odd_layer.target):
        net.body[1] = torch.nn.Tanh()
    assert "layers must be" in str(fast_mlp.unsupported(odd_layer))
    other_loss = _agent()
    other_loss.loss_fn = lambda q, y, w=None: ((q - y).abs()).mean()
    assert "losses" in str(fast_mlp.unsupported(other_loss))

    @dataclasses.dataclass(frozen=True)
    class NewConfig(config.DQNConfig):
        noisy: bool = False  # a new switch the fast path has never seen

    new = agents.DQNAgent(NewConfig(hidden=(16, 16), device="cpu"), (4,), 3, device="cpu")
    assert "['noisy'] were not reviewed" in str(fast_mlp.unsupported(new))
    batch = _random_batch(8, 4, 3, seed=0)
    new.learn(batch)  # runs, on the plain path
    assert new._fast is not None and not new._fast.usable


def test_a_replaced_loss_or_config_is_noticed_after_the_cache_was_built() -> None:
    agent = _agent()
    agent.learn(_random_batch(8, 4, 3, seed=0))
    assert agent._fast is not None and agent._fast.usable
    agent.loss_fn = lambda q, y, w=None: ((q - y).abs()).mean()
    assert agent._fast_path() is None


@pytest.mark.parametrize("name", ["cartpole", "cartpole-dqn"])
def test_the_cartpole_presets_run_the_fast_path(name: str) -> None:
    """The tripwire for REVIEWED_CONFIG_FIELDS: a new DQNConfig field turns the fast path off
    (CartPole runs ~1.8x slower) until someone checks it and lists it there."""
    agent = agents.DQNAgent(config.preset(name), (4,), 2, device="cpu")
    fast = fast_mlp.FastMLP.for_agent(agent)
    assert fast.usable, f"fast_mlp no longer applies to the {name} preset: {fast.reason}"
