"""The bfloat16 update (config.precision="bf16"): same decisions as fp32, and an fp32 fallback."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dqn_helpers import buffers, config, device
from dqn_helpers.agents import DQNAgent

BF16 = device.cpu_supports_bf16()


def _pong_agent(precision: str) -> DQNAgent:
    cfg = config.preset("pong", device="cpu", precision=precision, seed=0)
    return DQNAgent(cfg, (4, 84, 84), 6)


def _frames(seed: int, n: int = 64) -> np.ndarray:
    # smooth images (as Pong's are), not white noise: a few blobs on a dark background
    gen = np.random.default_rng(seed)
    x = np.zeros((n, 4, 84, 84), dtype=np.uint8)
    for i in range(n):
        for _ in range(3):
            r, c = gen.integers(0, 76, size=2)
            x[i, :, r : r + 8, c : c + 4] = gen.integers(80, 255)
    return x


def test_precision_is_validated() -> None:
    with pytest.raises(ValueError, match="precision must be one of fp32, bf16"):
        config.DQNConfig(precision="fp16")


def test_fallback_to_fp32_without_bf16_support(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(device, "cpu_supports_bf16", lambda: False)
    agent = _pong_agent("bf16")
    assert agent.precision == "fp32" and agent.autocast_dtype is None
    assert device.update_dtype("bf16", "cpu") is None


def test_env_switch_turns_bf16_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DQN_BF16", "0")
    assert not device.cpu_supports_bf16()
    assert _pong_agent("bf16").precision == "fp32"


def test_gpu_path_unchanged() -> None:
    assert device.update_dtype("bf16", "cuda") is None
    assert device.update_dtype("fp32", "cpu") is None


@pytest.mark.skipif(not BF16, reason="this CPU has no bfloat16 support")
def test_bf16_forward_matches_fp32() -> None:
    """Same weights, same batch: bf16 Q-values within 2% of the fp32 ones' spread, same argmax.

    Tolerance: |q_bf16 - q_fp32| <= 0.02 * (max - min of the fp32 Q-values) + 1e-3, elementwise.
    bfloat16 keeps 8 bits of mantissa (relative error ~0.4% per rounding), and the 3136-wide layer
    sums many rounded products. Argmax: equal wherever the fp32 gap between the best two actions
    is larger than that tolerance.
    """
    agent = _pong_agent("bf16")
    assert agent.precision == "bf16"
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():  # spread the Q-values as a trained network does
        agent.online.head[-1].weight.normal_(0.0, 0.2, generator=gen)
    obs = torch.as_tensor(_frames(0))
    with torch.no_grad():
        q32 = agent.online(obs).float()
        with agent._update_precision():
            q16 = agent.online(obs).float()
    tol = 0.02 * float(q32.max() - q32.min()) + 1e-3
    assert float((q16 - q32).abs().max()) <= tol
    top2 = q32.topk(2, dim=1).values
    clear = (top2[:, 0] - top2[:, 1]) > 2 * tol
    assert clear.sum() >= 10, "the test batch needs clear decisions"
    assert torch.equal(q16.argmax(1)[clear], q32.argmax(1)[clear])


@pytest.mark.skipif(not BF16, reason="this CPU has no bfloat16 support")
def test_bf16_update_tracks_fp32() -> None:
    """Twenty updates on the same batches: the loss and the weights stay close to fp32's."""
    agents = {p: _pong_agent(p) for p in ("fp32", "bf16")}
    buf = buffers.ReplayBuffer(256, (4, 84, 84), obs_dtype=np.uint8, seed=0)
    frames = _frames(1, 257)
    gen = np.random.default_rng(0)
    for i in range(256):
        buf.add(
            frames[i], int(gen.integers(6)), float(gen.choice([-1, 0, 1])), frames[i + 1], False
        )
    losses = {p: [] for p in agents}
    batches = [buf.sample(32) for _ in range(20)]
    for batch in batches:
        for p, agent in agents.items():
            losses[p].append(agent.learn(batch)["loss"])
    l32, l16 = np.array(losses["fp32"]), np.array(losses["bf16"])
    assert np.all(np.isfinite(l16))
    assert np.max(np.abs(l16 - l32) / (np.abs(l32) + 1e-3)) < 0.1
    w32 = agents["fp32"].online.head[-1].weight.detach()
    w16 = agents["bf16"].online.head[-1].weight.detach()
    assert w16.dtype == torch.float32  # master weights stay fp32
    assert float((w16 - w32).abs().max()) < 0.05 * float(w32.abs().max())
