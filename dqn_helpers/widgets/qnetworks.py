"""Lesson 02's panel: how far one update reaches, in a Q-table of binned states and in a Q-network."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.figure import Figure

from dqn_helpers import networks
from dqn_helpers.widgets._base import (
    FloatLogSlider,
    FloatSlider,
    IntSlider,
    Panel,
    PanelError,
    one_torch_thread,
    slider_style,
)

__all__ = ["UpdateReach", "one_update_reach", "GeneralisationPanel"]

ANGLE_LIMIT = 0.2095  # CartPole ends the episode past 12 degrees (in radians)


@dataclass
class UpdateReach:
    """How one update at ``angle0`` changed Q(s, push left) along a slice of states. Introduced in lesson 02."""

    n_bins: int
    angles: np.ndarray  # the slice: pole angle varies, cart position, velocity and pole speed are 0
    angle0: float  # the state that was updated
    table_change: np.ndarray  # change of the table's entry at each state of the slice
    network_change: np.ndarray  # change of the network's output at each state of the slice

    def moved(self, change: np.ndarray) -> float:
        """Fraction of the slice whose Q moved by more than 10 % of the move at the updated state."""
        at = np.abs(change[np.argmin(np.abs(self.angles - self.angle0))])
        return float(np.mean(np.abs(change) > 0.1 * at)) if at > 0 else 0.0


@one_torch_thread()
def one_update_reach(
    n_bins: int, learning_rate: float, *, angle0: float = 0.05, target: float = 1.0, seed: int = 0
) -> UpdateReach:
    """One update towards ``target`` for (pole angle ``angle0``, push left), in a table and in a network.

    The table bins each of CartPole's 4 numbers into ``n_bins`` (the angle over ±12°) and moves one entry
    by ``learning_rate`` × the error; the network (lesson 02's 4 → 64 → 64 → 2, seeded) takes one SGD step
    of ``learning_rate`` on the squared error. Introduced in lesson 02.
    """
    if not (isinstance(n_bins, int | np.integer) and 1 <= n_bins <= 1_000):
        raise PanelError(f"the bin count must be a whole number in 1..1000, got {n_bins!r}.")
    if not 0 < learning_rate <= 1:
        raise PanelError(f"the learning rate must be in (0, 1], got {learning_rate!r}.")
    if not -ANGLE_LIMIT < angle0 < ANGLE_LIMIT:
        raise PanelError(f"the updated angle must be inside ±{ANGLE_LIMIT} rad, got {angle0!r}.")
    angles = np.linspace(-ANGLE_LIMIT, ANGLE_LIMIT, 201)
    edges = np.linspace(-ANGLE_LIMIT, ANGLE_LIMIT, n_bins + 1)[1:-1]
    bins, bin0 = np.digitize(angles, edges), np.digitize(angle0, edges)
    table_change = np.where(
        bins == bin0, learning_rate * (target - 0.0), 0.0
    )  # the table starts at 0

    torch.manual_seed(seed)
    net = networks.QNetwork(4, 2, hidden=(64, 64))
    states = torch.zeros(len(angles), 4)
    states[:, 2] = torch.as_tensor(angles, dtype=torch.float32)
    s0 = torch.tensor([[0.0, 0.0, angle0, 0.0]])
    with torch.no_grad():
        before = net(states)[:, 0].numpy().copy()
    optimizer = torch.optim.SGD(net.parameters(), lr=learning_rate)
    loss = (net(s0)[0, 0] - target) ** 2
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    with torch.no_grad():
        after = net(states)[:, 0].numpy()
    return UpdateReach(int(n_bins), angles, float(angle0), table_change, after - before)


class GeneralisationPanel(Panel):
    """The bin count, the step size and the updated state; what one update moves in a table and a network.

    Introduced in lesson 02.
    """

    def __init__(
        self, *, n_bins: int = 6, learning_rate: float = 0.01, angle0: float = 0.05
    ) -> None:
        style = slider_style()
        self.n_bins = IntSlider(value=n_bins, min=1, max=40, description="bins per number", **style)
        self.learning_rate = FloatLogSlider(
            value=learning_rate,
            base=10,
            min=-4,
            max=0,
            step=0.25,
            readout_format=".0e",
            description="step size",
            **style,
        )
        self.angle0 = FloatSlider(
            value=angle0, min=-0.2, max=0.2, step=0.01, description="updated angle", **style
        )
        super().__init__([self.n_bins, self.learning_rate, self.angle0])

    def compute(self) -> UpdateReach:
        return one_update_reach(
            int(self.n_bins.value), float(self.learning_rate.value), angle0=float(self.angle0.value)
        )

    def draw(self, r: UpdateReach) -> Figure:
        fig = Figure(figsize=(11, 3.6), layout="constrained")
        ax_t, ax_n = fig.subplots(1, 2, sharex=True)
        for ax, change, name in (
            (ax_t, r.table_change, f"table, {r.n_bins} bins per number"),
            (ax_n, r.network_change, "network 4 → 64 → 64 → 2"),
        ):
            ax.plot(r.angles, change, color="tab:blue")
            ax.axvline(r.angle0, color="tab:red", ls="--", lw=1, label="the updated state")
            ax.axhline(0.0, color="black", lw=0.6)
            ax.set(
                xlabel="pole angle (rad), other numbers 0",
                ylabel="change of Q(s, push left)",
                title=f"{name}: {r.moved(change):.0%} of the slice moved",
            )
            ax.legend(fontsize=8)
        return fig

    def report(self, r: UpdateReach) -> str:
        return (
            f"one update moved {r.moved(r.table_change):.0%} of the slice in the table and "
            f"{r.moved(r.network_change):.0%} in the network"
        )
