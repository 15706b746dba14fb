"""Draw the course's diagrams into images/ (matplotlib; deterministic; no network).

    .venv/bin/python images/make_diagrams.py          # or: make diagrams
    .venv/bin/python images/make_diagrams.py --only sum_tree

The shapes, sums and frames come from the course's own code where it has them: the Nature CNN's
layer shapes from ``dqn_helpers.networks.NatureCNN.feature_shapes``, the sum tree's inner sums and
the leaf a sample lands on from ``dqn_helpers.buffers.SumTree``, the Atari frames from a real
``ALE/Pong-v5`` screen put through ``dqn_helpers.atari.preprocess_frame``.

Files written (PNG, 150 dpi, no timestamp in their metadata, so a rerun gives the same bytes):
  dqn_architecture.png   state -> hidden layers -> one Q-value per action
  replay_buffer.png      episodes in, a random minibatch out
  target_network.png     online vs target network over time: hard and soft updates
  atari_pipeline.png     raw frame -> gray -> 84x84 -> stack of 4
  nature_cnn.png         the Nature CNN's layer shapes
  dueling.png            the dueling streams V(s) and A(s, a)
  sum_tree.png           the sum tree of prioritized replay
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # dqn_helpers from this checkout

DPI = 150
METADATA = {"Software": None}  # no matplotlib version / date in the file: reruns are byte-identical
BLUE, ORANGE, GREEN, PURPLE, GRAY, RED = (
    "#4C72B0",
    "#DD8452",
    "#55A868",
    "#8172B2",
    "#8C8C8C",
    "#C44E52",
)
LIGHT = {
    BLUE: "#DCE6F2",
    ORANGE: "#F8E3D4",
    GREEN: "#DDEEE1",
    PURPLE: "#E6E2F0",
    GRAY: "#EEEEEE",
    RED: "#F3DADB",
}

plt.rcParams.update({"font.size": 10, "font.family": "DejaVu Sans", "svg.hashsalt": "dqn-course"})


# ---------------------------------------------------------------------------------------------- helpers
def box(ax, x, y, w, h, text="", color=BLUE, fontsize=10, fill=None, **kw):
    ax.add_patch(
        FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.08", linewidth=1.4,
                       edgecolor=color, facecolor=fill or LIGHT.get(color, "white"), **kw)
    )  # fmt: skip
    if text:
        ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=fontsize)


def arrow(ax, p, q, color="#333333", style="-|>", lw=1.4, rad=0.0, **kw):
    ax.add_patch(
        FancyArrowPatch(p, q, arrowstyle=style, mutation_scale=12, color=color, linewidth=lw,
                        connectionstyle=f"arc3,rad={rad}", shrinkA=2, shrinkB=2, **kw)
    )  # fmt: skip


def canvas(w, h, xlim, ylim):
    fig, ax = plt.subplots(figsize=(w, h))
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.axis("off")
    return fig, ax


def save(fig, name: str, out_dir: Path) -> Path:
    path = out_dir / f"{name}.png"
    fig.savefig(
        path, dpi=DPI, bbox_inches="tight", pad_inches=0.1, facecolor="white", metadata=METADATA
    )
    plt.close(fig)
    return path


# --------------------------------------------------------------------------------------------- diagrams
def dqn_architecture(out_dir: Path) -> Path:
    """CartPole's Q-network: 4 state numbers -> two hidden layers -> one Q-value per action."""
    fig, ax = canvas(9, 4.6, (-1.2, 10.6), (-0.6, 5.6))
    layers = [4, 6, 6, 2]  # drawn neurons (the hidden layers have 128 each; 6 are drawn)
    xs = [1.0, 3.6, 6.2, 8.8]
    ys = [
        np.linspace(2.5 - 0.75 * (n - 1) / 2 * 1.2, 2.5 + 0.75 * (n - 1) / 2 * 1.2, n)
        for n in layers
    ]
    colors = [GREEN, BLUE, BLUE, ORANGE]
    for i in range(3):
        for y0 in ys[i]:
            for y1 in ys[i + 1]:
                ax.plot([xs[i], xs[i + 1]], [y0, y1], color="#B0B0B0", linewidth=0.6, zorder=1)
    for x, yy, c in zip(xs, ys, colors):
        for y in yy:
            ax.add_patch(
                plt.Circle((x, y), 0.24, facecolor=LIGHT[c], edgecolor=c, linewidth=1.5, zorder=2)
            )
    state = ["cart position", "cart velocity", "pole angle", "pole angular velocity"]
    for y, name in zip(ys[0][::-1], state):
        ax.text(xs[0] - 0.4, y, name, ha="right", va="center", fontsize=9)
    for y, name in zip(ys[3][::-1], ["Q(s, left)", "Q(s, right)"]):
        ax.text(xs[3] + 0.4, y, name, ha="left", va="center", fontsize=10, color="#7A3B10")
    for x, label in zip(xs, ["state s\n(4 numbers)", "hidden 1\n128 units, ReLU", "hidden 2\n128 units, ReLU",
                             "output\none Q-value per action"]):  # fmt: skip
        ax.text(x, -0.35, label, ha="center", va="top", fontsize=9)
    for x in xs[1:3]:
        ax.text(x, 4.75, "⋮", ha="center", va="center", fontsize=14, color=GRAY)
    ax.text(4.9, 5.45, "One forward pass scores every action; the greedy action is argmax_a Q(s, a)",
            ha="center", fontsize=10, style="italic")  # fmt: skip
    return save(fig, "dqn_architecture", out_dir)


def replay_buffer(out_dir: Path) -> Path:
    """Transitions of several episodes go in at the write position; a minibatch is drawn at random."""
    rng = np.random.default_rng(3)
    fig, ax = canvas(10, 4.4, (-0.5, 15.5), (-1.6, 5.4))
    episode_colors = [BLUE, GREEN, ORANGE, PURPLE]
    lengths = [5, 4, 6, 5]
    # episodes in
    ax.text(
        0.0, 5.0, "episodes (one transition (s, a, r, s′, done) per step)", fontsize=10, va="center"
    )
    y = 4.1
    for e, (c, n) in enumerate(zip(episode_colors, lengths)):
        for t in range(n):
            box(ax, 0.1 + 0.55 * t, y - 0.8 * e, 0.45, 0.45, "", c)
        ax.text(
            0.1 + 0.55 * n + 0.1,
            y - 0.8 * e + 0.22,
            f"episode {e + 1}",
            fontsize=8,
            va="center",
            color=c,
        )
    arrow(ax, (4.6, 2.55), (5.7, 2.55), lw=2)
    ax.text(5.15, 2.75, "add", ha="center", fontsize=9)
    # the buffer: a ring of slots drawn as a row; oldest overwritten
    slots, cap = [], 20
    order = [c for c, n in zip(episode_colors, lengths) for _ in range(n)]
    for i in range(cap):
        c = order[i]
        x = 5.9 + 0.42 * (i % 10)
        yy = 2.6 if i < 10 else 1.9
        box(ax, x, yy, 0.36, 0.5, "", c)
        slots.append((x + 0.18, yy + 0.25))
    ax.text(5.9 + 2.1, 1.35, f"replay buffer: {cap} slots, full", ha="center", fontsize=9)
    ax.annotate("next write overwrites\nthe oldest transition", xy=(5.9 + 0.18, 3.12), xytext=(6.8, 4.3),
                ha="center", fontsize=8, arrowprops={"arrowstyle": "-|>", "color": RED}, color=RED)  # fmt: skip
    # minibatch out
    picks = np.sort(rng.choice(cap, size=6, replace=False))
    bx = 12.4
    for k, i in enumerate(picks):
        box(ax, bx, 3.4 - 0.6 * k, 0.5, 0.45, "", order[i])
        arrow(ax, slots[i], (bx - 0.05, 3.62 - 0.6 * k), color="#999999", lw=0.8, rad=-0.15)
    ax.text(bx + 0.25, 4.2, "random\nminibatch", ha="center", fontsize=9)
    arrow(ax, (bx + 0.7, 1.9), (bx + 1.7, 1.9), lw=2)
    ax.text(
        bx + 2.4, 1.9, "one gradient\nstep on the\nTD loss", ha="center", va="center", fontsize=9
    )
    ax.text(7.5, -1.2, "Sampling uniformly mixes old and new episodes: consecutive, correlated steps rarely "
            "share a minibatch", ha="center", fontsize=9.5, style="italic")  # fmt: skip
    return save(fig, "replay_buffer", out_dir)


def target_network(out_dir: Path) -> Path:
    """One parameter of the online network drifting as it learns, and the target network's copy of it."""
    rng = np.random.default_rng(7)
    steps = 3000
    t = np.arange(steps)
    online = 0.6 * np.sin(t / 700.0) + np.cumsum(rng.normal(0, 0.02, steps)) + 0.3 * t / steps
    period, tau = 500, 0.005
    hard = np.empty(steps)
    soft = np.empty(steps)
    hard[0] = soft[0] = online[0]
    for i in range(1, steps):
        hard[i] = online[i] if i % period == 0 else hard[i - 1]
        soft[i] = tau * online[i] + (1 - tau) * soft[i - 1]
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), sharey=True)
    for ax, target, title in (
        (axes[0], hard, f"hard update: copy every C = {period} steps"),
        (axes[1], soft, f"soft (Polyak) update: θ⁻ ← τθ + (1−τ)θ⁻, τ = {tau}"),
    ):
        ax.plot(t, online, color=BLUE, linewidth=1.2, label="online network θ (learns every step)")
        ax.plot(
            t, target, color=ORANGE, linewidth=2.0, label="target network θ⁻ (gives the TD targets)"
        )
        if target is hard:
            for c in range(period, steps, period):
                ax.axvline(c, color=GRAY, linewidth=0.6, linestyle=":")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("training step")
        ax.spines[["top", "right"]].set_visible(False)
    axes[0].set_ylabel("value of one weight")
    axes[0].legend(loc="lower left", fontsize=8, frameon=False)
    fig.suptitle("The target network holds the TD target still between updates", fontsize=11)
    fig.tight_layout()
    return save(fig, "target_network", out_dir)


def pong_frames(n: int = 4, warmup: int = 60) -> list[np.ndarray]:
    """n consecutive RGB screens of ALE/Pong-v5 (frameskip 4, fixed seed), after some steps of play."""
    import ale_py
    import gymnasium as gym

    gym.register_envs(ale_py)
    env = gym.make("ALE/Pong-v5", repeat_action_probability=0.0)
    try:
        env.reset(seed=0)
        rng = np.random.default_rng(0)
        frames = []
        for i in range(warmup + n):
            obs, *_ = env.step(int(rng.integers(env.action_space.n)))
            if i >= warmup:
                frames.append(obs)
        return frames
    finally:
        env.close()


def atari_pipeline(out_dir: Path) -> Path:
    import cv2

    from dqn_helpers.atari import preprocess_frame

    frames = pong_frames()
    raw = frames[-1]
    gray = cv2.cvtColor(raw, cv2.COLOR_RGB2GRAY)
    small = [preprocess_frame(f) for f in frames]
    fig = plt.figure(figsize=(12.5, 3.9))
    widths = [1.6, 0.35, 1.6, 0.35, 1.0, 0.35, 2.0]
    gs = fig.add_gridspec(1, len(widths), width_ratios=widths, wspace=0.05)
    panels = [
        (0, raw, None, f"raw RGB frame\n{raw.shape[0]}×{raw.shape[1]}×{raw.shape[2]}, uint8"),
        (2, gray, "gray", f"grayscale\n{gray.shape[0]}×{gray.shape[1]}"),
        (4, small[-1], "gray", f"resized (area)\n{small[-1].shape[0]}×{small[-1].shape[1]}"),
    ]
    for col, img, cmap, title in panels:
        ax = fig.add_subplot(gs[0, col])
        ax.imshow(img, cmap=cmap, vmin=0, vmax=255, interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    for col in (1, 3, 5):
        ax = fig.add_subplot(gs[0, col])
        ax.axis("off")
        ax.annotate("", xy=(0.95, 0.5), xytext=(0.05, 0.5), xycoords="axes fraction",
                    arrowprops={"arrowstyle": "-|>", "lw": 2, "color": "#333333"})  # fmt: skip
    ax = fig.add_subplot(gs[0, 6])
    ax.axis("off")
    ax.set_xlim(0, 1.5)
    ax.set_ylim(0, 1.5)
    for k, img in enumerate(small):  # oldest at the back (top right), newest in front
        off = 0.14 * (len(small) - 1 - k)
        x0, y0 = 0.1 + off, 0.12 + off * 0.7
        ax.imshow(img, cmap="gray", vmin=0, vmax=255, extent=(x0, x0 + 0.8, y0, y0 + 0.8), zorder=2 * k,
                  interpolation="nearest")  # fmt: skip
        ax.add_patch(
            Rectangle((x0, y0), 0.8, 0.8, fill=False, edgecolor=BLUE, lw=1.2, zorder=2 * k + 1)
        )
    ax.text(0.75, -0.05, f"stack of the last {len(small)}\n{len(small)}×84×84 = the network's input",
            ha="center", va="top", fontsize=9)  # fmt: skip
    ax.text(0.75, 1.38, "newest in front; the ball's motion\nshows only across frames", ha="center",
            fontsize=8, style="italic")  # fmt: skip
    return save(fig, "atari_pipeline", out_dir)


def nature_cnn(out_dir: Path) -> Path:
    from dqn_helpers.networks import _NATURE_CONVS, NatureCNN

    n_actions = 6  # Pong's action set
    shapes = NatureCNN(n_actions).feature_shapes()
    fig, ax = canvas(13, 4.4, (-0.5, 22.5), (-2.6, 5.2))
    x = 0.0
    convs = list(_NATURE_CONVS)
    centers = []
    for i, (name, shape) in enumerate(shapes):
        if len(shape) == 3:
            c, h, _ = shape
            color = BLUE if i else GREEN
            side = 0.8 + 3.0 * h / 84  # a square face: the feature map's height and width, to scale
            faces = {4: 4, 32: 6, 64: 8}.get(c, 6)  # more faces for more channels
            dx, dy = 0.14, 0.1
            for k in range(faces):  # back to front
                ax.add_patch(Rectangle((x + dx * k, 2.0 - side / 2 + dy * (faces - 1 - k) - dy * faces / 2), side,
                                       side, facecolor=LIGHT[color], edgecolor=color, lw=1.0))  # fmt: skip
            w = side + dx * (faces - 1)
            label = f"{name}\n{c}×{h}×{shape[2]}"
        else:
            (n,) = shape
            side = {3136: 4.2, 512: 3.0}.get(n, 1.2)
            w = 0.35
            color = ORANGE if name == "q_values" else PURPLE
            ax.add_patch(
                Rectangle(
                    (x, 2.0 - side / 2), w, side, facecolor=LIGHT[color], edgecolor=color, lw=1.2
                )
            )
            label = {"flatten": f"flatten\n{n}", "fc": f"fully\nconnected\n{n}, ReLU",
                     "q_values": f"Q-values\n{n}, one\nper action"}[name]  # fmt: skip
        centers.append((x, x + w))
        ax.text(x + w / 2, -0.55, label, ha="center", va="top", fontsize=8.5)
        x += w + 1.75
    for i in range(len(shapes) - 1):
        a, b = centers[i][1] + 0.1, centers[i + 1][0] - 0.1
        arrow(ax, (a, 2.0), (b, 2.0))
        if i < len(convs):
            ch, k, s = convs[i]
            ax.text((a + b) / 2, 2.35, f"conv {k}×{k}\nstride {s}\n{ch} filters\nReLU", ha="center", va="bottom",
                    fontsize=7.5)  # fmt: skip
    ax.text(11.0, 4.9, "The Nature DQN network (Mnih et al., 2015): shapes for one observation",
            ha="center", fontsize=10.5)  # fmt: skip
    return save(fig, "nature_cnn", out_dir)


def dueling(out_dir: Path) -> Path:
    fig, ax = canvas(11.5, 4.2, (-0.5, 19.5), (-0.9, 5.6))
    box(ax, 0.0, 1.9, 2.9, 1.3, "state s\n(4×84×84 frames\nor a vector)", GREEN, fontsize=9)
    box(ax, 3.6, 1.9, 2.9, 1.3, "shared layers\n(convolutions /\nMLP) → features", BLUE, fontsize=9)
    arrow(ax, (2.95, 2.55), (3.55, 2.55))
    box(ax, 7.5, 3.5, 3.6, 1.2, "value stream\n→ V(s): 1 number", PURPLE, fontsize=9)
    box(ax, 7.5, 0.4, 3.6, 1.2, "advantage stream\n→ A(s, a): one per action", ORANGE, fontsize=9)
    arrow(ax, (6.55, 2.75), (7.45, 4.05), rad=-0.1)
    arrow(ax, (6.55, 2.35), (7.45, 1.0), rad=0.1)
    box(
        ax,
        12.2,
        1.75,
        4.3,
        1.6,
        "Q(s, a) = V(s) + A(s, a)\n− mean over a′ of A(s, a′)",
        GRAY,
        fontsize=9.5,
    )
    arrow(ax, (11.15, 4.1), (12.15, 3.0), rad=-0.1)
    arrow(ax, (11.15, 1.0), (12.15, 2.1), rad=0.1)
    arrow(ax, (16.55, 2.55), (17.3, 2.55))
    ax.text(17.4, 2.55, "Q-values\n(one per\naction)", va="center", fontsize=9)
    ax.text(9.5, 5.3, "Dueling network (Wang et al., 2016): how good the state is, and how much better each "
            "action is", ha="center", fontsize=10)  # fmt: skip
    ax.text(9.5, -0.6, "Subtracting the mean makes V and A identifiable: the advantages of a state average "
            "to zero", ha="center", fontsize=9, style="italic")  # fmt: skip
    return save(fig, "dueling", out_dir)


def sum_tree(out_dir: Path) -> Path:
    from dqn_helpers.buffers import SumTree

    priorities = [3.0, 10.0, 12.0, 4.0, 1.0, 2.0, 8.0, 2.0]
    tree = SumTree(len(priorities))
    tree.update(np.arange(len(priorities)), priorities)
    values = tree._tree  # root at 1, children of i at 2i and 2i+1
    u = 24.0
    leaf = int(tree.find([u])[0])
    n_leaves = len(priorities)
    path, carried = {1}, {1: u}  # the walk down, and the value it carries into each node
    node, rest = 1, u
    while node < n_leaves:
        left = 2 * node
        node, rest = (left, rest) if rest < values[left] else (left + 1, rest - values[left])
        path.add(node)
        carried[node] = rest
    assert node - n_leaves == leaf, "the drawing's walk must match SumTree.find"
    fig, ax = canvas(10, 4.8, (-0.7, 16.7), (-2.4, 5.6))
    depth = int(np.log2(n_leaves))
    pos = {}
    for d in range(depth + 1):
        count = 1 << d
        for j in range(count):
            pos[count + j] = ((j + 0.5) * 16 / count, 4.4 - 1.55 * d)
    for node, (x, y) in pos.items():
        if node > 1:
            px, py = pos[node // 2]
            on_path = node in path and node // 2 in path
            ax.plot(
                [px, x],
                [py - 0.3, y + 0.3],
                color=RED if on_path else "#AAAAAA",
                lw=2.2 if on_path else 1.0,
            )
    for node, (x, y) in pos.items():
        is_leaf = node >= n_leaves
        color = RED if node in path else (ORANGE if is_leaf else BLUE)
        box(ax, x - 0.55, y - 0.3, 1.1, 0.6, f"{values[node]:g}", color, fontsize=10)
        if node in carried:
            ax.text(
                x + 0.65,
                y + 0.25,
                f"u = {carried[node]:g}",
                fontsize=8,
                color="#7A1F22",
                va="bottom",
            )
        if is_leaf:
            ax.text(
                x, y - 0.55, f"transition {node - n_leaves}", ha="center", va="top", fontsize=7.5
            )
    ax.text(0.0, 5.3, f"root = total priority {tree.total:g}", fontsize=9.5)
    ax.text(8.0, -1.45, f"Sample u = {u:g} in [0, {tree.total:g}): at each node go left if u < left sum, "
            f"else subtract it and go right → transition {leaf}",
            ha="center", fontsize=9.5, color="#7A1F22")  # fmt: skip
    ax.text(8.0, -2.05, "Leaves hold priorities, each inner node the sum of its children: sampling and "
            "updating a priority cost O(log n)", ha="center", fontsize=9, style="italic")  # fmt: skip
    return save(fig, "sum_tree", out_dir)


DIAGRAMS: dict[str, Callable[[Path], Path]] = {
    "dqn_architecture": dqn_architecture,
    "replay_buffer": replay_buffer,
    "target_network": target_network,
    "atari_pipeline": atari_pipeline,
    "nature_cnn": nature_cnn,
    "dueling": dueling,
    "sum_tree": sum_tree,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Draw the course's diagrams into images/.")
    parser.add_argument("--only", nargs="*", choices=sorted(DIAGRAMS), help="draw only these")
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.only or DIAGRAMS:
        print(f"wrote {DIAGRAMS[name](args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
