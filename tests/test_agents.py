"""DQNAgent: the update computed by hand, Double DQN, PER weights, n-step discounts, acting."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dqn_helpers import agents, buffers, config, fast_mlp, losses

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _agent(**overrides: object) -> agents.DQNAgent:
    """An agent that runs the plain body of ``learn`` (the code lesson 05 reads), not fast_mlp:
    tests/test_fast_mlp.py holds the fast path equal to it."""
    base = dict(hidden=(3,), learning_rate=1e-3, target_update=100, double=False, device="cpu")
    base.update(overrides)
    agent = agents.DQNAgent(config.DQNConfig(**base), (2,), 2, device="cpu")  # type: ignore[arg-type]
    agent.use_fast_path = False
    return agent


@pytest.fixture(autouse=True)
def _no_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every update and greedy action in this module runs the plain code: fast_mlp would fail."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("test_agents pins the plain body; fast_mlp ran instead")

    monkeypatch.setattr(fast_mlp.FastMLP, "gradient_step", refuse)
    monkeypatch.setattr(fast_mlp.FastMLP, "greedy", refuse)


def _constant_q(net: torch.nn.Module, q: list[float]) -> None:
    """Make Q(s, ·) = q for every s: zero last-layer weights, bias = q."""
    last = net.head
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(torch.tensor(q))


def _batch(weights: list[float] | None = None) -> buffers.Batch:
    return buffers.Batch(
        obs=torch.tensor([[0.1, -0.2], [0.3, 0.4]]),
        actions=torch.tensor([0, 1]),
        rewards=torch.tensor([0.5, 2.0]),
        next_obs=torch.tensor([[0.0, 1.0], [1.0, 0.0]]),
        terminated=torch.tensor([0.0, 1.0]),
        indices=torch.tensor([3, 7]),
        weights=torch.tensor(weights or [1.0, 1.0]),
        discounts=torch.tensor([0.9, 0.9]),  # not config.gamma (0.99): n-step discounts win
    )


def test_learn_matches_a_hand_computed_huber_loss() -> None:
    agent = _agent(loss="huber")
    _constant_q(agent.online, [1.0, 3.0])
    _constant_q(agent.target, [4.0, 2.0])
    m = agent.learn(_batch())
    # y0 = 0.5 + 0.9 * max(4, 2) = 4.1 (not terminated); y1 = 2.0 (terminated, no bootstrap)
    # Q(s0, a=0) = 1, Q(s1, a=1) = 3  ->  δ = (3.1, -1.0)
    # Huber(δ=1): 3.1 - 0.5 = 2.6 and 0.5 * 1.0² = 0.5 -> mean 1.55
    assert m["loss"] == pytest.approx(1.55, abs=1e-6)
    assert m["td_error"] == pytest.approx((3.1 + 1.0) / 2, abs=1e-6)
    assert m["mean_max_q"] == pytest.approx(3.0, abs=1e-6)
    assert torch.allclose(m["td_errors"], torch.tensor([3.1, 1.0]), atol=1e-6)
    assert m["grad_norm"] > 0
    assert agent.updates == 1


def test_mse_double_dqn_and_per_weights_by_hand() -> None:
    agent = _agent(loss="mse", double=True, prioritized=True)
    _constant_q(agent.online, [1.0, 3.0])
    _constant_q(agent.target, [4.0, 2.0])
    m = agent.learn(_batch(weights=[2.0, 0.5]))
    # Double DQN: a* = argmax online = 1, rated by the target: y0 = 0.5 + 0.9 * 2 = 2.3
    # δ = (1.3, -1.0); weighted MSE = (2 * 1.69 + 0.5 * 1.0) / 2 = 1.94
    assert m["loss"] == pytest.approx(1.94, abs=1e-5)
    assert torch.allclose(m["td_errors"], torch.tensor([1.3, 1.0]), atol=1e-6)


def test_learn_agrees_with_losses_td_targets_on_random_nets() -> None:
    torch.manual_seed(0)
    agent = _agent(hidden=(16, 16), loss="huber")
    for p in agent.target.parameters():  # make target differ from online
        p.data.add_(0.3 * torch.randn_like(p))
    g = torch.Generator().manual_seed(1)
    b = buffers.Batch(
        obs=torch.randn(32, 2, generator=g),
        actions=torch.randint(0, 2, (32,), generator=g),
        rewards=torch.randn(32, generator=g),
        next_obs=torch.randn(32, 2, generator=g),
        terminated=(torch.rand(32, generator=g) < 0.3).float(),
        indices=torch.arange(32),
        weights=torch.ones(32),
        discounts=torch.full((32,), 0.97),
    )
    with torch.no_grad():
        q = agent.online(b.obs).gather(1, b.actions[:, None]).squeeze(1)
        y = losses.td_targets(b.rewards, agent.target(b.next_obs), b.terminated, b.discounts)
        expected = losses.huber_loss(q, y).item()
    before = [p.detach().clone() for p in agent.online.parameters()]
    m = agent.learn(b)
    assert m["loss"] == pytest.approx(expected, rel=1e-5)
    changed = any(not torch.equal(a, p) for a, p in zip(before, agent.online.parameters()))
    assert changed, "learn() must take an optimizer step"
    # the step lowers the loss on the same batch
    assert agent.learn(b)["loss"] < m["loss"]


def test_gradient_clipping_reports_the_norm_before_clipping() -> None:
    agent = _agent(max_grad_norm=1e-3, learning_rate=1e-3)
    m = agent.learn(_batch())
    clipped = torch.sqrt(sum((p.grad**2).sum() for p in agent.online.parameters()))
    assert m["grad_norm"] > 1e-3
    assert clipped.item() == pytest.approx(1e-3, rel=1e-3)


def test_target_updates_hard_and_soft() -> None:
    agent = _agent(target_update=10)
    with torch.no_grad():
        for p in agent.online.parameters():
            p.add_(1.0)
    assert not torch.equal(agent.online.head.bias, agent.target.head.bias)
    agent.update_target()
    for a, b in zip(agent.online.parameters(), agent.target.parameters()):
        assert torch.equal(a, b)

    soft = _agent(target_update=0, tau=0.25)
    old_target = [p.detach().clone() for p in soft.target.parameters()]
    soft.learn(_batch())  # the update leaves the target alone: Step 5 is the loop's
    for old, t in zip(old_target, soft.target.parameters()):
        assert torch.equal(old, t)
    soft.soft_update()
    for old, t, o in zip(old_target, soft.target.parameters(), soft.online.parameters()):
        assert torch.allclose(t, 0.75 * old + 0.25 * o, atol=1e-6)


def test_acting_epsilon_greedy() -> None:
    agent = _agent(seed=3)
    obs = np.array([0.5, -0.5], dtype=np.float32)
    greedy = int(np.argmax(agent.q_values(obs)))
    assert agent.greedy(obs) == greedy
    assert all(agent.act(obs, 0.0) == greedy for _ in range(20))
    random_actions = [agent.act(obs, 1.0) for _ in range(400)]
    assert 150 < sum(random_actions) < 250  # uniform over 2 actions
    batch = np.random.default_rng(0).normal(size=(64, 2)).astype(np.float32)
    assert np.array_equal(agent.act_batch(batch, 0.0), agent.q_values(batch).argmax(1))
    mixed = agent.act_batch(np.repeat(obs[None], 4000, 0), 0.5)
    assert mixed.dtype == np.int64 and mixed.shape == (4000,)
    # ε=0.5: half random (half of those pick the greedy action anyway) -> 25% non-greedy
    assert 0.2 < np.mean(mixed != greedy) < 0.3


def test_seeding_is_local_and_reproducible() -> None:
    state = torch.get_rng_state()
    a, b = _agent(seed=5), _agent(seed=5)
    assert torch.equal(torch.get_rng_state(), state), "building an agent must not move torch's RNG"
    for p, q in zip(a.online.parameters(), b.online.parameters()):
        assert torch.equal(p, q)
    c = _agent(seed=6)
    assert not torch.equal(a.online.head.bias, c.online.head.bias)


def test_learning_rate_can_be_set() -> None:
    agent = _agent(learning_rate=1e-3)
    agent.set_learning_rate(2e-4)
    assert agent.learning_rate == pytest.approx(2e-4)


def test_bad_observations_and_epsilon_are_refused() -> None:
    agent = _agent()
    with pytest.raises(ValueError, match=r"shape \(5,\).*built for \(2,\)"):
        agent.act(np.zeros(5, np.float32), 0.0)
    for eps in (2.0, -1.0):
        with pytest.raises(ValueError, match="epsilon must be a probability"):
            agent.act(np.zeros(2, np.float32), eps)
        with pytest.raises(ValueError, match="epsilon must be a probability"):
            agent.act_batch(np.zeros((3, 2), np.float32), eps)
    with pytest.raises(ValueError, match="batch of shape"):
        agent.act_batch(np.zeros((3, 5), np.float32), 0.0)


def test_dueling_and_cnn_agents_build() -> None:
    duel = _agent(dueling=True, hidden=(8, 8))
    assert duel.q_values(np.zeros(2, np.float32)).shape == (2,)
    cnn = agents.DQNAgent(config.DQNConfig(device="cpu"), (4, 84, 84), 6)
    frames = np.zeros((3, 4, 84, 84), np.uint8)
    assert cnn.act_batch(frames, 0.0).shape == (3,)
    assert 0 <= cnn.act(frames[0], 0.0) < 6


def test_bad_arguments() -> None:
    with pytest.raises(TypeError, match="DQNConfig"):
        agents.DQNAgent({"lr": 1}, (2,), 2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n_actions"):
        agents.DQNAgent(config.DQNConfig(), (2,), 0)


def test_a_nan_observation_is_refused_by_act_even_when_exploring():
    agent = agents.DQNAgent(config.DQNConfig(hidden=(8,), device="cpu"), (4,), 2, device="cpu")
    bad = np.array([0.0, np.nan, 0.0, 0.0], dtype=np.float32)
    for epsilon in (0.0, 1.0):
        with pytest.raises(ValueError, match="NaN or inf"):
            agent.act(bad, epsilon)
    assert agent.act(np.zeros(4, dtype=np.float32), 1.0) in (0, 1)


def test_a_batch_with_a_nan_reward_is_refused_before_any_weight_changes():
    agent = agents.DQNAgent(config.DQNConfig(hidden=(8,), device="cpu"), (4,), 2, device="cpu")
    buf = buffers.ReplayBuffer(16, (4,), seed=0)
    for i in range(16):
        buf.add(np.full(4, i, np.float32), i % 2, 1.0, np.full(4, i + 1, np.float32), False)
    batch = buf.sample(8)
    batch.rewards[0] = float("nan")
    before = [p.detach().clone() for p in agent.online.parameters()]
    with pytest.raises(ValueError, match="NaN or infinite reward"):
        agent.learn(batch)
    assert all(torch.equal(a, b) for a, b in zip(before, agent.online.parameters()))
