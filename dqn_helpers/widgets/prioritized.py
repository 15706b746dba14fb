"""Lesson 09's panel: α and β of prioritized replay, and n of n-step returns, on the blind cliffwalk."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure

from dqn_helpers import buffers
from dqn_helpers.widgets._base import FloatSlider, IntSlider, Panel, PanelError, slider_style

__all__ = ["CliffwalkRun", "cliffwalk_memory", "cliffwalk_replay", "CliffwalkPanel"]


def cliffwalk_memory(n_states: int, n_step: int, *, gamma: float = 0.9) -> dict[str, np.ndarray]:
    """n-step transitions of the 2^n episodes a random policy plays on the blind cliffwalk, in proportion.

    In state k "right" (action 1) moves on, "wrong" (action 0) ends the episode with reward 0; "right" in
    the last state ends it with reward 1. Of 2^n random episodes, 2^(n-1-k) go right k times and then
    wrong, and one goes right to the end (lesson 09, section 4). Each transition's target looks
    ``n_step`` rewards ahead along its own episode: ``r`` (discounted sum), ``s_next``, ``done``, ``k``.
    """
    episodes = [([1] * k + [0], 2 ** (n_states - 1 - k)) for k in range(n_states)]
    episodes.append(([1] * n_states, 1))
    rows = []
    for actions, copies in episodes:
        length = len(actions)
        rewards = [float(a == 1 and t == n_states - 1) for t, a in enumerate(actions)]
        for t in range(length):
            k = min(n_step, length - t)
            ret = sum(gamma**j * rewards[t + j] for j in range(k))
            done = t + k == length
            rows += [(t, actions[t], ret, 0 if done else t + k, float(done), k)] * copies
    columns = zip(*rows)
    return {
        name: np.array(col) for name, col in zip(("s", "a", "r", "s_next", "done", "k"), columns)
    }


@dataclass
class CliffwalkRun:
    """The Q-table's error while a memory is replayed. Introduced in lesson 09."""

    label: str
    replayed: np.ndarray  # transitions replayed so far
    error: np.ndarray  # mean squared error of the table to the true Q-values, relative to the start
    to_learn: int | None  # replays until the error fell below 1 % (None: not within the budget)


def cliffwalk_replay(
    n_states: int,
    *,
    alpha: float,
    beta: float,
    n_step: int = 1,
    replays: int = 20_000,
    batch: int = 16,
    gamma: float = 0.9,
    lr: float = 0.5,
    seed: int = 0,
) -> CliffwalkRun:
    """Replay the cliffwalk memory to a Q-table: priorities |δ|^α (α = 0: uniform), importance weights ^β.

    New transitions enter at priority 1; a drawn transition's priority becomes |δ| + 1e-6. The step of
    transition i is ``lr · w_i · δ_i`` with ``w_i = (N P(i))^-β / max w``. Introduced in lesson 09.
    """
    if not (isinstance(n_states, int | np.integer) and 2 <= n_states <= 14):
        raise PanelError(f"the chain length must be a whole number in 2..14, got {n_states!r}.")
    if not 0 <= alpha <= 1:
        raise PanelError(f"α must be in [0, 1] (0 = uniform), got {alpha!r}.")
    if not 0 <= beta <= 1:
        raise PanelError(f"β must be in [0, 1] (1 = full correction), got {beta!r}.")
    if not (isinstance(n_step, int | np.integer) and 1 <= n_step <= n_states):
        raise PanelError(
            f"n must be a whole number in 1..{n_states} (the chain's length), got {n_step!r}."
        )
    m = cliffwalk_memory(n_states, n_step, gamma=gamma)
    size = len(m["s"])
    q, q_true = np.zeros((n_states, 2)), np.zeros((n_states, 2))
    q_true[:, 1] = gamma ** (n_states - 1 - np.arange(n_states))
    start_error, rng = np.mean(q_true**2), np.random.default_rng(seed)
    tree = buffers.SumTree(size)
    tree.update(np.arange(size), 1.0)
    replayed, errors, to_learn = [], [], None
    for done_so_far in range(batch, replays + 1, batch):
        idx = tree.find((np.arange(batch) + rng.random(batch)) * (tree.total / batch))
        probs = tree.priorities[idx] / tree.total
        weights = (size * probs) ** -beta
        weights /= weights.max()
        deltas = np.empty(batch)
        for j, i in enumerate(idx):
            s, a = m["s"][i], m["a"][i]
            bootstrap = gamma ** m["k"][i] * (1.0 - m["done"][i]) * q[m["s_next"][i]].max()
            deltas[j] = m["r"][i] + bootstrap - q[s, a]
            q[s, a] += lr * weights[j] * deltas[j]
        tree.update(idx, (np.abs(deltas) + 1e-6) ** alpha)
        error = np.mean((q - q_true) ** 2) / start_error
        replayed.append(done_so_far)
        errors.append(error)
        if to_learn is None and error < 0.01:
            to_learn = done_so_far
    label = f"α={alpha:g}, β={beta:g}, n={n_step}"
    return CliffwalkRun(label, np.array(replayed), np.array(errors), to_learn)


class CliffwalkPanel(Panel):
    """Sliders for α, β and n (and the chain's length); the error curve against uniform one-step replay.

    Introduced in lesson 09.
    """

    def __init__(
        self,
        *,
        n_states: int = 8,
        alpha: float = 1.0,
        beta: float = 0.0,
        n_step: int = 1,
        replays: int = 8_000,
    ) -> None:
        style = slider_style()
        self.alpha = FloatSlider(
            value=alpha, min=0.0, max=1.0, step=0.1, description="priority α", **style
        )
        self.beta = FloatSlider(
            value=beta, min=0.0, max=1.0, step=0.1, description="correction β", **style
        )
        self.n_step = IntSlider(value=n_step, min=1, max=8, description="n-step n", **style)
        self.n_states = IntSlider(
            value=n_states, min=3, max=12, description="chain length", **style
        )
        self.replays = replays
        super().__init__([self.alpha, self.beta, self.n_step, self.n_states])

    def compute(self) -> dict[str, CliffwalkRun]:
        n = int(self.n_states.value)
        baseline = cliffwalk_replay(n, alpha=0.0, beta=0.0, n_step=1, replays=self.replays)
        baseline.label = "uniform, n=1"
        chosen = cliffwalk_replay(
            n,
            alpha=float(self.alpha.value),
            beta=float(self.beta.value),
            n_step=int(self.n_step.value),
            replays=self.replays,
        )
        return {"baseline": baseline, "chosen": chosen, "n_states": n}

    def draw(self, r: dict) -> Figure:
        fig = Figure(figsize=(8, 3.8), layout="constrained")
        ax = fig.subplots()
        for k, key in enumerate(("baseline", "chosen")):
            run = r[key]
            ax.plot(run.replayed, run.error, color=f"C{k}", label=run.label)
            if run.to_learn:
                ax.axvline(run.to_learn, color=f"C{k}", ls=":", lw=1)
        ax.axhline(0.01, color="black", lw=0.8, ls="--", label="1 % of the start: learned")
        ax.set(
            yscale="log",
            xlabel="transitions replayed",
            ylabel="error of the Q-table (relative)",
            title=f"blind cliffwalk, {r['n_states']} states",
        )
        ax.legend(fontsize=8)
        return fig

    def report(self, r: dict) -> str:
        def said(run: CliffwalkRun) -> str:
            return (
                f"{run.label}: learned after {run.to_learn:,} replays"
                if run.to_learn
                else f"{run.label}: not learned in {run.replayed[-1]:,} (error {run.error[-1]:.2g})"
            )

        return f"{said(r['baseline'])}; {said(r['chosen'])}"
