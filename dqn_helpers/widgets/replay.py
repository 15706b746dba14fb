"""Lesson 03's panel: buffer size and batch size, uniform replay against the most recent transitions."""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
from matplotlib.figure import Figure

from dqn_helpers.widgets._base import IntSlider, Panel, PanelError, one_torch_thread, slider_style

__all__ = ["Stream", "random_stream", "ReplayComparison", "replay_against_recent", "ReplayPanel"]

SCHEMES = ("uniform replay", "most recent")


@dataclass
class Stream:
    """CartPole transitions of a random policy, in the order they happened. Introduced in lesson 03."""

    obs: np.ndarray  # (T, 4) float32
    returns: np.ndarray  # (T,) discounted return from each state to its episode's end
    episode: np.ndarray  # (T,) the episode each transition belongs to


def random_stream(steps: int, *, gamma: float = 0.9, seed: int = 0) -> Stream:
    """``steps`` CartPole transitions of a uniformly random policy, with each state's discounted return."""
    env = gym.make("CartPole-v1")
    rng = np.random.default_rng(seed)
    obs_list, rewards, episodes, ends = [], [], [], []
    obs, _ = env.reset(seed=seed)
    episode = 0
    for _ in range(steps):
        next_obs, reward, terminated, truncated, _ = env.step(int(rng.integers(2)))
        obs_list.append(obs)
        rewards.append(reward)
        episodes.append(episode)
        ends.append(terminated or truncated)
        obs = next_obs
        if terminated or truncated:
            obs, _ = env.reset()
            episode += 1
    env.close()
    returns, g = np.zeros(steps), 0.0
    for t in range(steps - 1, -1, -1):  # the return-to-go, cut at the end of the stream
        g = rewards[t] + gamma * (0.0 if ends[t] else g)
        returns[t] = g
    return Stream(np.asarray(obs_list, dtype=np.float32), returns, np.asarray(episodes))


@dataclass
class ReplayComparison:
    """Held-out error of a value network trained from each sampling scheme. Introduced in lesson 03."""

    buffer_size: int
    batch_size: int
    steps: np.ndarray  # stream steps at which the held-out error was measured
    errors: dict[str, np.ndarray]  # scheme -> held-out mean squared error at each of ``steps``
    same_episode: dict[str, float]  # scheme -> share of a minibatch's pairs from one episode
    last_batch: dict[str, np.ndarray]  # scheme -> stream indices of the last minibatch


@one_torch_thread()
def replay_against_recent(
    buffer_size: int,
    batch_size: int,
    *,
    stream_steps: int = 2_000,
    update_every: int = 4,
    seed: int = 0,
) -> ReplayComparison:
    """Fit V(s) to the discounted return online along one random-policy CartPole stream, twice.

    Every ``update_every`` steps one gradient step on a minibatch of ``batch_size``: drawn uniformly from
    the last ``buffer_size`` transitions ("uniform replay") or the ``batch_size`` most recent ones. The
    error is measured on states of another stream. Introduced in lesson 03.
    """
    if not (isinstance(buffer_size, int | np.integer) and buffer_size >= 1):
        raise PanelError(f"the buffer size must be a whole number >= 1, got {buffer_size!r}.")
    if not (isinstance(batch_size, int | np.integer) and batch_size >= 1):
        raise PanelError(f"the batch size must be a whole number >= 1, got {batch_size!r}.")
    if batch_size > buffer_size:
        raise PanelError(
            f"the batch ({batch_size}) is larger than the buffer ({buffer_size}): a minibatch cannot "
            "hold more transitions than the memory. Raise the buffer size or lower the batch size."
        )
    if buffer_size > stream_steps:
        raise PanelError(
            f"the buffer ({buffer_size:,}) is larger than the whole stream ({stream_steps:,} steps): "
            "it would never fill. Lower the buffer size."
        )
    stream = random_stream(stream_steps, seed=seed)
    held_out = random_stream(500, seed=seed + 1_000)
    test_x, test_y = (
        torch.as_tensor(held_out.obs),
        torch.as_tensor(held_out.returns, dtype=torch.float32),
    )
    rng = np.random.default_rng(seed)
    x_all = torch.as_tensor(stream.obs)
    y_all = torch.as_tensor(stream.returns, dtype=torch.float32)
    errors, same, last = {}, {}, {}
    checkpoints = np.arange(batch_size, stream_steps + 1, max(update_every, stream_steps // 30))
    for scheme in SCHEMES:
        torch.manual_seed(seed)
        net = torch.nn.Sequential(torch.nn.Linear(4, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1))
        optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
        curve, shares, idx = [], [], np.arange(batch_size)
        for t in range(batch_size, stream_steps + 1):  # t transitions seen so far
            if t % update_every == 0:
                if scheme == "uniform replay":
                    idx = rng.integers(max(0, t - buffer_size), t, size=batch_size)
                else:
                    idx = np.arange(t - batch_size, t)
                loss = ((net(x_all[idx]).squeeze(1) - y_all[idx]) ** 2).mean()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                ep = stream.episode[idx]
                shares.append(np.mean(ep[:, None] == ep[None, :]))
            if t in checkpoints:
                with torch.no_grad():
                    curve.append(((net(test_x).squeeze(1) - test_y) ** 2).mean().item())
        errors[scheme], same[scheme], last[scheme] = np.array(curve), float(np.mean(shares)), idx
    return ReplayComparison(int(buffer_size), int(batch_size), checkpoints, errors, same, last)


class ReplayPanel(Panel):
    """Sliders for the buffer size and the batch size; the two schemes' minibatches and learning curves.

    Introduced in lesson 03.
    """

    def __init__(
        self, *, buffer_size: int = 1_000, batch_size: int = 32, stream_steps: int = 2_000
    ) -> None:
        style = slider_style()
        self.buffer_size = IntSlider(
            value=buffer_size, min=10, max=stream_steps, step=10, description="buffer size", **style
        )
        self.batch_size = IntSlider(
            value=batch_size, min=1, max=256, description="batch size", **style
        )
        self.stream_steps = stream_steps
        super().__init__([self.buffer_size, self.batch_size])

    def compute(self) -> ReplayComparison:
        return replay_against_recent(
            int(self.buffer_size.value), int(self.batch_size.value), stream_steps=self.stream_steps
        )

    def draw(self, r: ReplayComparison) -> Figure:
        fig = Figure(figsize=(11, 3.8), layout="constrained")
        ax_b, ax_c = fig.subplots(1, 2)
        for k, scheme in enumerate(SCHEMES):
            idx = np.sort(r.last_batch[scheme])
            ax_b.scatter(idx, np.full(len(idx), k), marker="|", s=200, color=f"C{k}")
            ax_c.plot(
                r.steps,
                r.errors[scheme],
                color=f"C{k}",
                label=f"{scheme}: same episode {r.same_episode[scheme]:.0%}",
            )
        end = r.steps[-1]
        ax_b.axvspan(end - r.buffer_size, end, color="C0", alpha=0.1, label="the buffer")
        ax_b.set(
            yticks=[0, 1],
            yticklabels=list(SCHEMES),
            ylim=(-0.6, 1.6),
            xlabel="stream step",
            title=f"the last minibatch of {r.batch_size}",
        )
        ax_b.legend(fontsize=8, loc="upper left")
        ax_c.set(
            yscale="log",
            xlabel="stream step",
            ylabel="held-out squared error of V(s)",
            title=f"buffer {r.buffer_size:,}, batch {r.batch_size}",
        )
        ax_c.legend(fontsize=8)
        return fig

    def report(self, r: ReplayComparison) -> str:
        return ", ".join(
            f"{s}: final held-out error {r.errors[s][-1]:.3g}, {r.same_episode[s]:.0%} of pairs from one episode"
            for s in SCHEMES
        )
