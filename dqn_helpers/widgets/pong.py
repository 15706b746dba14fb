"""Lesson 10's panel: a slider over the steps of a greedy Pong game, with V(s), Q(s, ·) and the action."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure

from dqn_helpers import atari, envs
from dqn_helpers.widgets._base import IntSlider, Panel, PanelError, one_torch_thread, slider_style

__all__ = ["RecordedGame", "record_game", "PongGamePanel"]


@dataclass
class RecordedGame:
    """A greedy game, with every step's Q-values. Introduced in lesson 10."""

    frames: list[np.ndarray]  # the RGB screen before each action
    q_values: np.ndarray  # (steps, n_actions) Q(s_t, ·)
    rewards: np.ndarray  # the raw reward of each step
    action_names: list[str]

    @property
    def values(self) -> np.ndarray:
        """V(s_t) = max_a Q(s_t, a)."""
        return self.q_values.max(axis=1)

    @property
    def actions(self) -> np.ndarray:
        """The greedy action of each step."""
        return self.q_values.argmax(axis=1)


def record_game(
    agent: Any, env_id: str, frame_stack: int, max_steps: int, *, seed: int = 0
) -> RecordedGame:
    """Play greedily for at most ``max_steps`` agent steps, keeping the screen and Q(s, ·) of each step.

    Introduced in lesson 10 (``pong.play_greedy`` keeps only V(s)).
    """
    if not (isinstance(max_steps, int | np.integer) and 1 <= max_steps <= 30_000):
        raise PanelError(f"max_steps must be a whole number in 1..30,000, got {max_steps!r}.")
    env = envs.make_env(
        env_id, clip_rewards=False, render_mode="rgb_array", frame_stack=frame_stack
    )
    try:
        with one_torch_thread(), torch.no_grad():
            names = atari.action_meanings(env)
            obs, _ = env.reset(seed=seed)
            frames, qs, rewards = [], [], []
            for _ in range(max_steps):
                q = np.asarray(agent.q_values(obs), dtype=float)
                frames.append(np.asarray(env.render()))
                qs.append(q)
                obs, reward, terminated, truncated, _ = env.step(int(q.argmax()))
                rewards.append(float(reward))
                if terminated or truncated:
                    break
    finally:
        env.close()
    return RecordedGame(frames, np.array(qs), np.array(rewards), names)


class PongGamePanel(Panel):
    """A slider over the steps of a recorded greedy game: the screen, V(s) along the game, Q(s, ·) now.

    The game is played once when the panel is made (``record_game``); the slider only redraws.
    Introduced in lesson 10.
    """

    intro = "Move the <b>step</b> slider to walk through the game."

    def __init__(self, game: RecordedGame, *, step: int = 0) -> None:
        if not isinstance(game, RecordedGame) or not len(game.q_values):
            raise TypeError(
                "game must be a RecordedGame of at least one step (widgets.pong.record_game)."
            )
        self.game = game
        self.step = IntSlider(
            value=step,
            min=0,
            max=len(game.q_values) - 1,
            description="step",
            **slider_style("700px", "60px"),
        )
        super().__init__([self.step], columns=1)

    def compute(self) -> int:
        t = int(self.step.value)
        if not 0 <= t < len(self.game.q_values):
            raise PanelError(f"the game has steps 0..{len(self.game.q_values) - 1}, not {t}.")
        return t

    def draw(self, t: int) -> Figure:
        g = self.game
        fig = Figure(figsize=(11, 3.8), layout="constrained")
        ax_f, ax_v, ax_q = fig.subplots(1, 3, width_ratios=[0.8, 1.6, 1])
        ax_f.imshow(g.frames[t])
        ax_f.set_title(f"step {t}", fontsize=9)
        ax_f.set_axis_off()
        ax_v.plot(g.values, color="tab:blue", lw=1, label="V(s) = max_a Q(s, a)")
        for sign, color, label in ((1, "tab:green", "point won"), (-1, "tab:red", "point lost")):
            hit = np.flatnonzero(np.sign(g.rewards) == sign)
            if len(hit):
                ax_v.scatter(hit, g.values[hit], color=color, s=30, zorder=3, label=label)
        ax_v.axvline(t, color="black", lw=1, ls="--")
        ax_v.set(xlabel="agent step", ylabel="V(s)", title="the value along the game")
        ax_v.legend(fontsize=7)
        q = g.q_values[t]
        colors = ["tab:orange" if a == q.argmax() else "lightgray" for a in range(len(q))]
        ax_q.barh(range(len(q)), q, color=colors)
        ax_q.set(
            yticks=range(len(q)),
            yticklabels=g.action_names,
            xlabel="Q(s, a)",
            title=f"chosen: {g.action_names[int(q.argmax())]}",
        )
        ax_q.set_xlim(min(0.0, q.min()) - 0.05, max(0.0, q.max()) + 0.05)
        return fig

    def report(self, t: int) -> str:
        q = self.game.q_values[t]
        return (
            f"step {t}: V(s) = {q.max():+.3f}, chosen action {self.game.action_names[int(q.argmax())]} "
            f"(Q gap to the next best {np.sort(q)[-1] - np.sort(q)[-2]:.3f})"
        )
