"""Three Pong updates (the pong preset's agent, fp32 on the CPU) on fixed batches: prints the losses and a hash
of the weights, to show that a refactoring left the update bit-identical. Run it with the package of two
commits and compare the lines (older commits have no `precision` field; fp32 is then the only path):

    git worktree add --detach /tmp/old 765254e
    PYTHONPATH=/tmp/old DQN_BF16=0 .venv/bin/python benchmarks/pong_update_hash.py
    PYTHONPATH=$PWD DQN_BF16=0 .venv/bin/python benchmarks/pong_update_hash.py

2026-12-06, 765254e (before renovation round 2) and main after it: losses 0.2807483673, 0.2567203343,
0.2306609601 and weights sha256 59fbda4030e93516 on both.
"""

import hashlib

import numpy as np
import torch

from dqn_helpers import config as dqn_config
from dqn_helpers.agents import DQNAgent
from dqn_helpers.buffers import Batch

torch.set_num_threads(1)
try:
    cfg = dqn_config.preset("pong", precision="fp32", device="cpu")
except (TypeError, ValueError):
    cfg = dqn_config.preset("pong", device="cpu")
torch.manual_seed(0)
agent = DQNAgent(cfg, obs_shape=(4, 84, 84), n_actions=6)
rng = np.random.default_rng(0)
for k in range(3):
    B = 32
    batch = Batch(
        obs=torch.as_tensor(rng.integers(0, 256, (B, 4, 84, 84), dtype=np.uint8)),
        actions=torch.as_tensor(rng.integers(0, 6, B)),
        rewards=torch.as_tensor(rng.choice([-1.0, 0.0, 1.0], B), dtype=torch.float32),
        next_obs=torch.as_tensor(rng.integers(0, 256, (B, 4, 84, 84), dtype=np.uint8)),
        terminated=torch.as_tensor(rng.random(B) < 0.1, dtype=torch.float32),
        indices=torch.arange(B),
        weights=torch.as_tensor(rng.random(B) * 0.5 + 0.5, dtype=torch.float32),
        discounts=torch.full((B,), 0.99**3),
    )
    m = agent.learn(batch)
    loss = m["loss"] if isinstance(m, dict) else m.loss
    print(f"update {k}: loss {loss!r}")
h = hashlib.sha256(
    b"".join(p.detach().numpy().tobytes() for p in agent.online.parameters())
).hexdigest()
print("weights sha256", h[:16])
