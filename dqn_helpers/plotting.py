"""Plots for the course: learning curves with seed bands, Q-tables, training dashboards.

Functions take arrays or a training log (a ``logs.TrainingLog``, a ``TrainResult`` or a run folder,
read with ``logs.as_log``) and return a matplotlib Figure. Nothing global is changed on import.
Each lesson owns one section below.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from dqn_helpers import bounds, logs

__all__ = [
    "moving_average",
    "plot_curves_with_band",
    "plot_q_table",
    "plot_state_slice",
    "plot_consecutive_vs_random",
    "plot_buffer_filling",
    "plot_minibatch_coverage",
    "plot_autocorrelation",
    "plot_target_drift",
    "plot_training",
    "figure_to_image",
    "LivePlot",
    "plot_runs_overlay",
    "eval_curves",
    "eval_table",
    "format_eval_table",
    "plot_diagnostics",
    "plot_image_row",
    "plot_stack_motion",
    "plot_memory_bars",
    "plot_value_along_game",
    "show_diagram",
]

# ---------------------------------------------------------------- shared (several lessons)

# The course's diagrams, drawn by images/make_diagrams.py (`make diagrams`), and where a lesson shows them.
DIAGRAMS: dict[str, str] = {
    "dqn_architecture": "a state in, one Q-value per action out (lessons 02, 05)",
    "replay_buffer": "episodes in, a random minibatch out (lessons 03, 05)",
    "target_network": "online and target weights over time, hard and soft (lessons 04, 05, 07)",
    "atari_pipeline": "raw frame -> gray -> 84x84 -> stack of 4 (lesson 06)",
    "nature_cnn": "the Nature CNN's layer shapes (lessons 06, 10)",
    "dueling": "the value and advantage streams (lesson 08)",
    "sum_tree": "priorities summed up a binary tree (lesson 09)",
}
DIAGRAMS_URL = "https://raw.githubusercontent.com/dqn-course/dqn-course/main/images/"


def show_diagram(name: str, width: int | None = 720) -> None:
    """Show ``images/<name>.png`` in the notebook (one of ``DIAGRAMS``). Introduced in lesson 02.

    From a checkout (``make lab``, CI, the site) the file is read and embedded. Where the package was
    installed without the repository (Colab's ``pip install git+...``), the browser loads it from GitHub.
    """
    from IPython.display import Image, display

    if name not in DIAGRAMS:
        raise ValueError(f"unknown diagram {name!r}. The course's diagrams: {', '.join(DIAGRAMS)}.")
    path = Path(__file__).resolve().parent.parent / "images" / f"{name}.png"
    if path.is_file():
        image = Image(filename=str(path), width=width)
    else:
        image = Image(url=f"{DIAGRAMS_URL}{name}.png", width=width)
    display(image)


def moving_average(values: Sequence[float] | np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over the last ``window`` points (shorter at the start), same length as ``values``.

    Introduced in lesson 01; works on 1-D arrays or along the last axis of 2-D (seeds, points) arrays.
    """
    if not isinstance(window, int | np.integer) or window < 1:
        raise ValueError(f"window must be an integer >= 1, got {window!r}. Use 1 for no smoothing.")
    arr = np.asarray(values, dtype=float)
    if arr.ndim not in (1, 2):
        raise ValueError(f"values must be 1-D or 2-D (seeds, points), got shape {arr.shape}.")
    # NaN points (an episode with no update, say) are skipped, not spread: each mean is over the
    # finite points of its window, and NaN only where the window holds none.
    finite = np.isfinite(arr)
    csum = np.cumsum(np.where(finite, arr, 0.0), axis=-1)
    ccount = np.cumsum(finite, axis=-1)
    n = arr.shape[-1]
    lo = np.arange(n) - window  # index of the cumulative sums to subtract (-1 means none)
    keep = lo >= 0
    prev_sum = np.where(keep, np.take(csum, np.clip(lo, 0, None), axis=-1), 0.0)
    prev_count = np.where(keep, np.take(ccount, np.clip(lo, 0, None), axis=-1), 0)
    counts = ccount - prev_count
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, (csum - prev_sum) / np.maximum(counts, 1), np.nan)


def plot_curves_with_band(
    x: Sequence[float] | np.ndarray,
    curves: Sequence[Sequence[float]] | np.ndarray,
    label: str,
    ax: plt.Axes | None = None,
    *,
    band: str = "std",
    smooth: int = 1,
    color: str | None = None,
    clip: tuple[float, float] | None = None,
) -> Figure:
    """Plot the mean over seeds of ``curves`` (shape (n_seeds, len(x))) with a shaded band; return the Figure.

    ``band``: "std" (mean ± one standard deviation), "minmax" (lowest to highest seed) or "sem"
    (± standard error). ``smooth`` > 1 applies a trailing moving average to each seed first;
    ``clip`` limits the band (e.g. (0, 1) for success rates). Draws on ``ax`` if given.
    Introduced in lesson 01; reused by every lesson that compares runs over seeds.
    """
    data = np.asarray(curves, dtype=float)
    if data.ndim == 1:
        data = data[None, :]
    if data.ndim != 2:
        raise ValueError(f"curves must be 2-D (n_seeds, n_points), got shape {data.shape}.")
    xs = np.asarray(x, dtype=float)
    if xs.shape != (data.shape[1],):
        raise ValueError(
            f"x has shape {xs.shape} but curves have {data.shape[1]} points per seed; "
            "pass one x value per point (e.g. np.arange(n_points))."
        )
    if band not in ("std", "minmax", "sem"):
        raise ValueError(f"band must be 'std', 'minmax' or 'sem', got {band!r}.")
    if smooth > 1:
        data = moving_average(data, smooth)
    mean = np.nanmean(data, axis=0)
    if band == "minmax":
        low, high = np.nanmin(data, axis=0), np.nanmax(data, axis=0)
    else:
        spread = np.nanstd(data, axis=0)
        if band == "sem":
            spread = spread / np.sqrt(max(data.shape[0], 1))
        low, high = mean - spread, mean + spread
    if clip is not None:
        low, high = np.clip(low, *clip), np.clip(high, *clip)
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 4))
    else:
        fig = ax.figure
    n = data.shape[0]
    name = {"std": "± 1 std", "minmax": "min–max", "sem": "± 1 s.e."}[band]
    (line,) = ax.plot(xs, mean, color=color, label=f"{label} (mean of {n} seed{'s' * (n != 1)})")
    ax.fill_between(
        xs,
        low,
        high,
        color=line.get_color(),
        alpha=0.2,
        linewidth=0,
        label=f"{label} {name}" if n > 1 else None,
    )
    ax.grid(alpha=0.3)
    return fig


# ---------------------------------------------------------------- lesson 01 (tabular Q-learning)

# FrozenLake actions 0..3 = left, down, right, up, as (column step, row step) on the grid.
_GRID_MOVES = {0: (-1.0, 0.0), 1: (0.0, 1.0), 2: (1.0, 0.0), 3: (0.0, -1.0)}


def _grid_letters(desc: object) -> np.ndarray:
    """FrozenLake's ``desc`` (bytes array, list of strings...) as a 2-D array of one-letter str."""
    rows = []
    for row in np.asarray(desc):
        row = (
            row.decode() if isinstance(row, bytes) else row
        )  # one string per row, or one cell each
        rows.append([c.decode() if isinstance(c, bytes) else str(c) for c in row])
    letters = np.array(rows, dtype="<U1")
    if letters.ndim != 2 or not set(letters.ravel()) <= set("SFHG"):
        raise ValueError(
            "desc must be a grid of the letters S, F, H, G (e.g. env.unwrapped.desc or "
            f"['SFFF', 'FHFH', ...]), got {desc!r}."
        )
    return letters


def plot_q_table(
    q_table: np.ndarray,
    desc: object,
    ax: plt.Axes | None = None,
    *,
    title: str | None = None,
    cmap: str = "viridis",
) -> Figure:
    """Draw a FrozenLake Q-table: max_a Q(s, a) as a heatmap, tile letters, greedy action as arrows.

    States whose four Q-values are all equal (never updated) get a dot instead of an arrow; holes and
    the goal are terminal and get no arrow. ``desc`` is ``env.unwrapped.desc``. Introduced in lesson 01.
    """
    letters = _grid_letters(desc)
    n_rows, n_cols = letters.shape
    q = np.asarray(q_table, dtype=float)
    if q.shape != (n_rows * n_cols, 4):
        raise ValueError(
            f"q_table must have shape ({n_rows * n_cols}, 4) for a {n_rows}x{n_cols} map "
            f"(one row per state, one column per action), got {q.shape}."
        )
    if ax is None:
        fig, ax = plt.subplots(figsize=(0.75 * n_cols + 1.5, 0.75 * n_rows + 0.6))
    else:
        fig = ax.figure
    values = q.max(axis=1).reshape(n_rows, n_cols)
    vmin = min(0.0, values.min())
    vmax = (
        values.max() if values.max() > vmin + 1e-12 else vmin + 1.0
    )  # an all-zero table still gets a scale
    image = ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label=r"$\max_a Q(s, a)$")
    greedy = q.argmax(axis=1).reshape(n_rows, n_cols)
    undecided = np.isclose(q.max(axis=1), q.min(axis=1)).reshape(n_rows, n_cols)
    for r in range(n_rows):
        for c in range(n_cols):
            letter = letters[r, c]
            ax.text(
                c - 0.42,
                r - 0.42,
                letter,
                ha="left",
                va="top",
                fontsize=8,
                fontweight="bold",
                color="tab:red" if letter == "H" else "white",
            )
            if letter in "HG":
                continue
            if undecided[r, c]:
                ax.plot(c, r, "o", color="white", markersize=3)
                continue
            dx, dy = _GRID_MOVES[int(greedy[r, c])]
            ax.annotate(
                "",
                xy=(c + 0.32 * dx, r + 0.32 * dy),
                xytext=(c - 0.32 * dx, r - 0.32 * dy),
                arrowprops={"arrowstyle": "-|>", "color": "white", "lw": 1.5},
            )
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title or "greedy policy (arrows) over max-Q (colour)")
    return fig


# ---------------------------------------------------------------- lesson 02 (Q-networks)


def plot_state_slice(
    xs: Sequence[float] | np.ndarray,
    ys: Sequence[float] | np.ndarray,
    values: np.ndarray,
    ax: plt.Axes | None = None,
    *,
    xlabel: str = "",
    ylabel: str = "",
    title: str = "",
    label: str = "",
    cmap: str = "viridis",
    unknown: np.ndarray | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
) -> Figure:
    """Colour a 2-D slice of the state space: ``values[j, i]`` at (xs[i], ys[j]); ``unknown`` cells in grey.

    Used to compare a Q-table (blocky, unknown where never visited) with a Q-network (defined
    everywhere) on the same slice. Introduced in lesson 02.
    """
    xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    data = np.asarray(values, dtype=float)
    if data.shape != (len(ys), len(xs)):
        raise ValueError(
            f"values must have shape (len(ys), len(xs)) = ({len(ys)}, {len(xs)}), got {data.shape}."
        )
    if unknown is not None and np.shape(unknown) != data.shape:
        raise ValueError(
            f"unknown must have the same shape as values {data.shape}, got {np.shape(unknown)}."
        )
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 4.2))
    else:
        fig = ax.figure
    shown = np.ma.masked_array(
        data, mask=None if unknown is None else np.asarray(unknown, dtype=bool)
    )
    colours = plt.get_cmap(cmap).with_extremes(bad="lightgrey")
    image = ax.pcolormesh(xs, ys, shown, cmap=colours, vmin=vmin, vmax=vmax, shading="nearest")
    fig.colorbar(image, ax=ax, label=label)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    return fig


# ---------------------------------------------------------------- lesson 03 (experience replay)


def plot_consecutive_vs_random(
    values: np.ndarray,
    episode_ids: np.ndarray,
    name: str,
    *,
    n_show: int = 300,
    seed: int = 0,
) -> Figure:
    """Left: one state variable over time; right: x[t] against x[t+1] for consecutive vs random pairs.

    ``values`` (T,) is one state variable along a stream of transitions, ``episode_ids`` (T,) which episode
    each came from. Introduced in lesson 03 (problem one: correlated samples).
    """
    values, episode_ids = np.asarray(values, dtype=float), np.asarray(episode_ids)
    if values.ndim != 1 or values.shape != episode_ids.shape or len(values) < 3:
        raise ValueError(
            f"values and episode_ids must be 1-D of the same length >= 3, got shapes "
            f"{values.shape} and {episode_ids.shape}."
        )
    rng = np.random.default_rng(seed)
    fig, (ax_t, ax_s) = plt.subplots(1, 2, figsize=(12, 4), gridspec_kw={"width_ratios": [1.6, 1]})
    shown = min(n_show, len(values))
    ax_t.plot(np.arange(shown), values[:shown], lw=1.2)
    for t in np.flatnonzero(np.diff(episode_ids[:shown]) != 0):
        ax_t.axvline(t + 0.5, color="grey", ls="--", lw=0.8)
    ax_t.set(
        xlabel="step in the stream (dashed: a new episode starts)",
        ylabel=name,
        title=f"{name} along the stream of experience",
    )
    same = episode_ids[:-1] == episode_ids[1:]  # consecutive pairs inside one episode
    first = np.flatnonzero(same)
    i, j = rng.integers(0, len(values), size=(2, len(first)))
    ax_s.scatter(
        values[i],
        values[j],
        s=6,
        alpha=0.35,
        color="tab:orange",
        label=f"random pairs, r = {np.corrcoef(values[i], values[j])[0, 1]:.2f}",
    )
    ax_s.scatter(
        values[first],
        values[first + 1],
        s=6,
        alpha=0.5,
        color="tab:blue",
        label=f"consecutive pairs, r = {np.corrcoef(values[first], values[first + 1])[0, 1]:.2f}",
    )
    ax_s.set(
        xlabel=f"{name} of one sample",
        ylabel=f"{name} of the next sample",
        title="next sample vs this sample",
    )
    ax_s.legend(loc="upper left", fontsize=8, markerscale=3)
    for ax in (ax_t, ax_s):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_buffer_filling(
    snapshots: Sequence[tuple[str, np.ndarray]],
    minibatch: np.ndarray | None = None,
) -> Figure:
    """One row per snapshot: the buffer's slots coloured by the episode that wrote them (white = empty).

    ``snapshots`` is a list of (label, episode id per slot, -1 for empty); ``minibatch`` optional slot
    indices of a random minibatch, marked on the last row. Introduced in lesson 03.
    """
    if not snapshots:
        raise ValueError("snapshots is empty: pass at least one (label, episode_id_per_slot) pair.")
    rows = np.stack([np.asarray(ids, dtype=float) for _, ids in snapshots])
    if rows.ndim != 2:
        raise ValueError(
            f"each snapshot must be a 1-D array of episode ids per slot, got shape {rows.shape[1:]}."
        )
    masked = np.ma.masked_less(rows, 0)
    cmap = plt.get_cmap("viridis").with_extremes(bad="white")
    fig, ax = plt.subplots(figsize=(12, 0.5 * len(snapshots) + 1.6))
    image = ax.imshow(
        masked,
        aspect="auto",
        cmap=cmap,
        interpolation="nearest",
        vmin=0,
        vmax=max(1.0, float(masked.max())),
    )
    for r, row in enumerate(rows):  # thin white lines where one episode's transitions end
        for c in np.flatnonzero((np.diff(row) != 0) & (row[1:] >= 0)):
            ax.plot([c + 0.5, c + 0.5], [r - 0.45, r + 0.45], color="white", lw=0.6)
    ax.set_yticks(range(len(snapshots)), [label for label, _ in snapshots])
    ax.set_xlabel("slot in the buffer (index)")
    fig.colorbar(image, ax=ax, label="episode that wrote the slot", pad=0.01)
    title = "the replay buffer filling up, episode by episode (white: empty)"
    if minibatch is not None:
        idx = np.asarray(minibatch)
        ax.scatter(
            idx,
            np.full(len(idx), len(snapshots) - 1),
            marker="v",
            s=40,
            color="red",
            edgecolor="white",
            linewidth=0.5,
        )
        title += f"; red ▼: a random minibatch of {len(idx)}"
    ax.set_title(title, loc="left")
    fig.tight_layout()
    return fig


def plot_minibatch_coverage(
    all_obs: np.ndarray,
    batches: dict[str, np.ndarray],
    dims: tuple[int, int] = (0, 2),
    names: tuple[str, str] = ("cart position", "pole angle"),
) -> Figure:
    """Scatter every stored state (grey) and highlight the states of each minibatch in ``batches``.

    Introduced in lesson 03: a random minibatch covers the state space, a consecutive one a thin thread.
    """
    all_obs = np.asarray(all_obs)
    if all_obs.ndim != 2 or max(dims) >= all_obs.shape[1]:
        raise ValueError(
            f"all_obs must be (N, obs_dim) with obs_dim > {max(dims)}, got shape {all_obs.shape}."
        )
    fig, axes = plt.subplots(
        1, len(batches), figsize=(5.5 * len(batches), 4), sharex=True, sharey=True, squeeze=False
    )
    for ax, (label, batch) in zip(axes[0], batches.items()):
        batch = np.asarray(batch)
        ax.scatter(
            all_obs[:, dims[0]],
            all_obs[:, dims[1]],
            s=3,
            color="lightgrey",
            label="all stored states",
        )
        ax.scatter(batch[:, dims[0]], batch[:, dims[1]], s=18, color="tab:red", label=label)
        ax.set(xlabel=names[0], ylabel=names[1], title=label)
        ax.legend(loc="upper right", fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_autocorrelation(
    lags: Sequence[int] | np.ndarray,
    acfs: dict[str, np.ndarray],
    names: Sequence[str],
) -> Figure:
    """One panel per state variable: autocorrelation against lag for each sequence in ``acfs``.

    ``acfs[label]`` has shape (len(names), len(lags)). Introduced in lesson 03.
    """
    lags = np.asarray(lags)
    fig, axes = plt.subplots(
        1, len(names), figsize=(3.4 * len(names), 3.4), sharey=True, squeeze=False
    )
    for label, acf in acfs.items():
        acf = np.asarray(acf, dtype=float)
        if acf.shape != (len(names), len(lags)):
            raise ValueError(
                f"acfs[{label!r}] must have shape ({len(names)}, {len(lags)}) = (variables, lags), "
                f"got {acf.shape}."
            )
        for ax, row in zip(axes[0], acf):
            ax.plot(lags, row, marker=".", label=label)
    for ax, name in zip(axes[0], names):
        ax.axhline(0.0, color="black", lw=0.8)
        ax.set(title=name, xlabel="lag k (samples apart)", ylim=(-0.3, 1.05))
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("correlation of x[t] and x[t+k]")
    axes[0][-1].legend(fontsize=8)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- lesson 04 (target networks)


def plot_target_drift(
    updates: Sequence[int] | np.ndarray,
    traces: dict[str, dict[str, np.ndarray]],
    *,
    bound: float | None = None,
    axes: Sequence[plt.Axes] | None = None,
) -> Figure:
    """One panel per setting: the TD target y and the prediction Q(s, a) of fixed transitions over updates.

    ``traces[label]`` maps "target" and "prediction" to arrays (n_updates,) or (n_updates, n_transitions), one
    colour per transition;
    ``bound`` draws a dotted line at the largest value possible (e.g. 1 / (1 - γ)) on panels whose curves reach
    half of it; draws on ``axes`` (one per setting) if given. Introduced in lesson 04.
    """
    updates = np.asarray(updates)
    if not traces:
        raise ValueError("traces is empty: pass {label: {'target': ..., 'prediction': ...}}.")
    if axes is None:
        fig, grid = plt.subplots(1, len(traces), figsize=(5.2 * len(traces), 3.8), squeeze=False)
        axes = list(grid[0])
    elif len(axes) != len(traces):
        raise ValueError(f"pass one axis per setting: {len(traces)} traces but {len(axes)} axes.")
    fig = axes[0].figure
    for ax, (label, trace) in zip(axes, traces.items()):
        missing = {"target", "prediction"} - set(trace)
        if missing:
            raise ValueError(
                f"traces[{label!r}] needs keys 'target' and 'prediction', missing {sorted(missing)}."
            )
        for key, style in (("prediction", dict(lw=1.5)), ("target", dict(lw=1.1, ls="--"))):
            values = np.asarray(trace[key], dtype=float).reshape(len(updates), -1)
            text = (
                "TD target y = r + γ max Q(s', ·)" if key == "target" else "prediction Q(s, a; θ)"
            )
            several = (
                values.shape[1] > 1
            )  # one colour per transition, solid = prediction, dashed = target
            for k in range(values.shape[1]):
                ax.plot(
                    updates,
                    values[:, k],
                    color=f"C{k}" if several else ("C0", "C3")[key == "target"],
                    label=(text + (" (dashed)" if key == "target" else " (solid)") * several)
                    if k == 0
                    else None,
                    alpha=0.9,
                    **style,
                )
        top = max(
            float(np.nanmax(np.asarray(trace[key], dtype=float)))
            for key in ("target", "prediction")
        )
        if (
            bound is not None and top >= 0.5 * bound
        ):  # drawn only where it does not flatten the curves
            ax.axhline(
                bound, color="black", ls=":", lw=1.0, label=f"largest possible value {bound:g}"
            )
        elif bound is not None:
            ax.text(
                0.98,
                0.04,
                f"(largest possible value {bound:g} is far above)",
                transform=ax.transAxes,
                ha="right",
                fontsize=8,
                color="grey",
            )
        ax.set(title=label, xlabel="gradient update")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("value of the fixed transitions")
    axes[0].legend(fontsize=8, loc="upper left")
    return fig


# ---------------------------------------------------------------- lessons 05/07 (training dashboards)

# Below this many points a line series also gets a marker on each point: one point draws no line.
_FEW_POINTS = 20


def _marker(values: np.ndarray) -> str | None:
    """``"o"`` for a series with few finite points (a fast-mode run), so even a single point shows."""
    return "o" if np.count_nonzero(np.isfinite(values)) < _FEW_POINTS else None


def _finite(steps: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The points that have a value: episodes without an update (NaN loss, max-Q) are skipped, so the
    line joins the episodes that had one instead of breaking into isolated dots."""
    keep = np.isfinite(values)
    return steps[keep], values[keep]


def plot_training(
    log: object,
    fig: Figure | None = None,
    *,
    smooth: int = 10,
    threshold: float | None = None,
    title: str | None = None,
) -> Figure:
    """Training dashboard against env steps: returns (+ greedy evals ± std), TD loss, mean max-Q, ε.

    ``log`` is a ``logs.TrainingLog``, a ``TrainResult`` or a run folder. Draws into ``fig`` (cleared
    first) when given, else a new pyplot figure. ``threshold`` adds a dashed target line to the return
    panel. Introduced in lesson 05; reused for Pong in lesson 10.
    """
    log = logs.as_log(log)
    if fig is None:
        fig = plt.figure(figsize=(11, 6.5), layout="constrained")
    else:
        fig.clear()
    axes = fig.subplots(2, 2, sharex=True)
    ax_ret, ax_loss, ax_q, ax_eps = axes.ravel()
    panels = {"episode_return": ax_ret, "loss": ax_loss, "mean_max_q": ax_q, "epsilon": ax_eps}
    _draw_run(panels, log, _DASHBOARD_COLORS, max(1, smooth), detail=True)
    if threshold is not None:
        ax_ret.axhline(
            threshold, color="gray", linestyle="--", linewidth=1, label=f"target {threshold:g}"
        )
    ax_ret.set_ylabel("episode return")
    if log.episodes or log.evals or threshold is not None:
        ax_ret.legend(loc="upper left", fontsize=8)
    for ax, label in (
        (ax_loss, "TD loss (mean per episode)"),
        (ax_q, "mean max-Q of the batch"),
        (ax_eps, "ε (exploration)"),
    ):
        ax.set_ylabel(label)
    loss = log.column("loss")
    if np.any(np.isfinite(loss) & (loss > 0)):
        ax_loss.set_yscale("log")
    if not log.episodes:
        ax_ret.text(
            0.5,
            0.5,
            "waiting for the first episode…",
            transform=ax_ret.transAxes,
            ha="center",
            va="center",
            color="gray",
        )
    ax_eps.set_ylim(-0.03, 1.03)
    for ax in axes.ravel():
        ax.grid(alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("environment step")
    if title:
        fig.suptitle(title)
    return fig


def figure_to_image(fig: Figure, dpi: int = 80) -> object:
    """A PNG ``IPython.display.Image`` of ``fig``: displays the same in JupyterLab, Colab and any backend.

    Introduced in lesson 05 (live plots and panels redraw with it).
    """
    import io

    from IPython.display import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return Image(data=buffer.getvalue(), format="png")


class LivePlot:
    """Training callback ``cb(event, log, agent)`` that redraws ``plot_training`` in place in a notebook.

    One output area, updated at most every ``every_s`` seconds and with at most ``max_draw_share`` of the
    time spent drawing (always at "end"); outside IPython it only builds ``.figure`` at the end.
    Introduced in lesson 05.
    """

    EVENTS = ("episode", "eval", "end")

    def __init__(
        self,
        every_s: float = 4.0,
        *,
        smooth: int = 10,
        threshold: float | None = None,
        title: str | None = None,
        figsize: tuple[float, float] = (11, 6.5),
        dpi: int = 72,
        max_draw_share: float = 0.2,
    ) -> None:
        if not every_s >= 0:
            raise ValueError(f"every_s must be >= 0 seconds between redraws, got {every_s!r}.")
        if not 0 < max_draw_share <= 1:
            raise ValueError(
                f"max_draw_share must be in (0, 1], got {max_draw_share!r}; 1 means no limit."
            )
        self.max_draw_share = max_draw_share
        self.every_s, self.smooth, self.threshold, self.title, self.dpi = (
            every_s,
            smooth,
            threshold,
            title,
            dpi,
        )
        # A Figure outside pyplot: the notebook never shows it by itself, so no duplicate appears at the end.
        self.figure = Figure(figsize=figsize, layout="constrained")
        self.redraws = 0
        self._handle: object | None = None
        self._next_time = -np.inf

    def _draw(self, log: object) -> None:
        plot_training(
            log, self.figure, smooth=self.smooth, threshold=self.threshold, title=self.title
        )

    def __call__(self, event: str, log: object, agent: object = None) -> None:
        if event not in self.EVENTS:
            raise ValueError(f"event must be one of {self.EVENTS}, got {event!r}.")
        import time

        now = time.monotonic()
        if event != "end" and now < self._next_time:
            return
        try:
            from IPython import get_ipython
        except ImportError:  # pragma: no cover - IPython ships with the course
            get_ipython = lambda: None  # noqa: E731
        if get_ipython() is None:  # plain Python: no output area to update
            if event == "end":
                self._draw(log)
            return
        self._draw(log)
        image = figure_to_image(self.figure, dpi=self.dpi)
        if self._handle is None:
            from IPython.display import display

            self._handle = display(image, display_id=True)
        else:
            self._handle.update(image)
        self.redraws += 1
        spent = time.monotonic() - now
        # Keep drawing to at most max_draw_share of the wall time, however slow the machine.
        pause = spent * (1 - self.max_draw_share) / self.max_draw_share
        self._next_time = time.monotonic() + max(self.every_s, pause)


def _eval_points(log: logs.TrainingLog) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(steps, mean_return, std_return) of a log's greedy evaluations."""
    return (
        log.column("step", "evals"),
        log.column("mean_return", "evals"),
        np.nan_to_num(log.column("std_return", "evals")),
    )


def plot_runs_overlay(
    runs: dict[str, object],
    ax: plt.Axes | None = None,
    *,
    threshold: float | None = None,
    smooth: int = 10,
) -> Figure:
    """Overlay the greedy-evaluation curves (± std) of several runs ``{label: log}``; return the Figure.

    Each log is a ``logs.TrainingLog``, a ``TrainResult`` or a run folder. A run without evaluations
    shows its smoothed training return, dashed. Introduced in lesson 05 (the hyperparameter panel and
    guided experiments).
    """
    if not isinstance(runs, dict):
        raise TypeError(f"runs must be a dict {{label: TrainingLog}}, got {type(runs).__name__}.")
    if ax is None:
        fig, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
    else:
        fig = ax.figure
    for label, run in runs.items():
        log = logs.as_log(run, f"runs[{label!r}]")
        steps, mean, std = _eval_points(log)
        if len(steps):
            (line,) = ax.plot(steps, mean, "o-", markersize=3, label=label)
            ax.fill_between(
                steps, mean - std, mean + std, color=line.get_color(), alpha=0.15, linewidth=0
            )
        elif log.episodes:
            returns = log.column("episode_return")
            ax.plot(
                log.column("step"),
                moving_average(returns, max(1, min(smooth, len(returns)))),
                "--",
                marker=_marker(returns),
                markersize=3,
                label=f"{label} (training return)",
            )
    if threshold is not None:
        ax.axhline(threshold, color="gray", linestyle="--", linewidth=1)
    ax.set_xlabel("environment step")
    ax.set_ylabel("greedy evaluation return")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:  # runs with nothing logged yet draw no line to name
        ax.legend(fontsize=8, loc="best")
    return fig


def eval_curves(run_logs: Sequence[object]) -> tuple[np.ndarray, np.ndarray]:
    """Greedy-eval curves of several runs on their common steps: (steps, array (n_runs, n_points)).

    Each run is a ``logs.TrainingLog``, a ``TrainResult`` or a run folder. Feed the result to
    ``plot_curves_with_band`` for a seed band. Introduced in lesson 05.
    """
    if not run_logs:
        raise ValueError("run_logs is empty: pass at least one TrainingLog or run folder.")
    points = [
        _eval_points(logs.as_log(run, f"run_logs[{i}]"))[:2] for i, run in enumerate(run_logs)
    ]
    common = sorted(set.intersection(*(set(steps.tolist()) for steps, _ in points)))
    if not common:
        raise ValueError(
            "these runs share no evaluation step; train them with the same eval_every."
        )
    curves = np.stack([mean[np.searchsorted(steps, common)] for steps, mean in points])
    return np.asarray(common), curves


#: Lesson 05's bar, the defaults of ``eval_table``: CartPole-v1's reward threshold in gymnasium's
#: registry (475, "solved"), reached, and the last evaluation still at least 450.
CARTPOLE_THRESHOLD, CARTPOLE_HOLD = 475.0, 450.0


def eval_table(
    runs: dict[str, object], threshold: float = CARTPOLE_THRESHOLD, hold: float = CARTPOLE_HOLD
) -> list[dict[str, object]]:
    """One row per run: first env step with a greedy eval ≥ ``threshold``, best and last eval, pass/fail.

    A run passes when it reached ``threshold`` and its last evaluation is still ≥ ``hold``. The
    defaults are CartPole's bar (lesson 05); pass another env's, e.g. ``threshold=18, hold=15`` for
    Pong. Introduced in lesson 05.
    """
    rows = []
    for label, run in runs.items():
        steps, mean, _ = _eval_points(logs.as_log(run, f"runs[{label!r}]"))
        reached = np.flatnonzero(mean >= threshold)
        first = int(steps[reached[0]]) if len(reached) else None
        best = float(np.nanmax(mean)) if len(mean) else float("nan")
        last = float(mean[-1]) if len(mean) else float("nan")
        rows.append(
            {
                "run": label,
                "steps_to_threshold": first,
                "best_eval": best,
                "last_eval": last,
                "passed": first is not None and last >= hold,
            }
        )
    return rows


def format_eval_table(
    rows: Sequence[dict[str, object]],
    threshold: float = CARTPOLE_THRESHOLD,
    hold: float = CARTPOLE_HOLD,
) -> str:
    """``eval_table`` rows as a fixed-width text table with a pass count. Introduced in lesson 05."""
    width = max([len("run")] + [len(str(row["run"])) for row in rows])
    header = f"{'run':<{width}} {'steps to ' + format(threshold, 'g'):>14} {'best eval':>10} {'last eval':>10}  pass"
    lines = [header, "-" * len(header)]
    for row in rows:
        first = "never" if row["steps_to_threshold"] is None else f"{row['steps_to_threshold']:,}"
        lines.append(
            f"{str(row['run']):<{width}} {first:>14} {row['best_eval']:>10.1f} {row['last_eval']:>10.1f}"
            f"  {'yes' if row['passed'] else 'no'}"
        )
    passed = sum(bool(row["passed"]) for row in rows)
    lines.append(f"{passed} of {len(rows)} runs reached {threshold:g} and ended at ≥ {hold:g}.")
    return "\n".join(lines)


# Which panel of plot_diagnostics shows each diagnosed symptom.
_SYMPTOM_PANEL = {
    "return_collapse": 0,
    "flat_returns": 0,
    "q_above_bound": 1,
    "q_return_gap": 1,
    "loss_blowup": 2,
    "nan": 2,
    "epsilon_before_learning": 4,
}


def _diagnostic_runs(runs: object, labels: Sequence[str] | None) -> list[tuple[str, object]]:
    """``(label, log)`` pairs from one log/run folder, a list of them or a ``{label: log}`` dict."""
    from dqn_helpers.logs import as_log

    if isinstance(runs, dict):
        pairs = [(str(k), v) for k, v in runs.items()]
    elif isinstance(runs, list | tuple):
        pairs = [(f"run {i}", v) for i, v in enumerate(runs)]
    else:
        pairs = [("run", runs)]
    if not pairs:
        raise ValueError("logs is empty: pass a TrainingLog, a run folder or a list of them.")
    if labels is not None:
        if len(labels) != len(pairs):
            raise ValueError(f"got {len(pairs)} runs but {len(labels)} labels; give one per run.")
        pairs = [(str(label), v) for label, (_, v) in zip(labels, pairs)]
    return [(label, as_log(v, f"logs[{label!r}]")) for label, v in pairs]


def plot_diagnostics(
    logs: object,
    *,
    gamma: float | None = None,
    reward_max: float | None = None,
    labels: Sequence[str] | None = None,
    smooth: int = 10,
) -> Figure:
    """The diagnostic dashboard of one or several runs, drawn from their logs only.

    Panels against env steps: returns (training, smoothed, and greedy evaluations), mean max-Q
    against the realised discounted return (with ``gamma``) and the bound r_max/(1 − γ) (with
    ``gamma`` and ``reward_max``), loss and gradient norm (log scales), ε. One colour per run;
    ``diagnostics.diagnose``'s findings are marked (dotted lines) and listed. ``logs`` is a log, a
    ``TrainResult``, a run folder, a list of them or a ``{label: log}`` dict. Introduced in lesson 05.
    """
    from dqn_helpers import diagnostics

    runs = _diagnostic_runs(logs, labels)
    fig = plt.figure(figsize=(12, 9), layout="constrained")
    grid = fig.subplots(3, 2, sharex=True)
    axes = list(grid.ravel()[:5])
    notes = grid.ravel()[5]
    listed = []  # (colour, "label: symptom at step N") for the notes panel
    for k, (label, log) in enumerate(runs):
        color = f"C{k % 10}"
        panels = dict(zip(("episode_return", "mean_max_q", "loss", "grad_norm", "epsilon"), axes))
        _draw_run(panels, log, color, max(1, smooth), gamma=gamma)
        for finding in diagnostics.diagnose(log, gamma=gamma, reward_max=reward_max):
            if finding.step is not None:
                axes[_SYMPTOM_PANEL[finding.symptom]].axvline(
                    finding.step, color=color, linestyle=":", linewidth=1.2, alpha=0.8
                )
            at = "" if finding.step is None else f" at step {finding.step:,}"
            listed.append((color, f"{label}: {finding.symptom}{at}"))
    _scale_value_panel(axes[1], runs, gamma, reward_max)
    _label_diagnostic_panels(axes, runs)
    _diagnostic_legend(notes, runs, listed, gamma, reward_max)
    return fig


# plot_training's colours, one per series (plot_diagnostics gives each run one colour instead)
_DASHBOARD_COLORS = {
    "episode_return": "tab:blue",
    "eval": "tab:orange",
    "loss": "tab:red",
    "mean_max_q": "tab:green",
    "epsilon": "tab:purple",
}


def _draw_run(
    panels: dict[str, plt.Axes],
    log: logs.TrainingLog,
    colors: dict[str, str] | str,
    smooth: int,
    *,
    detail: bool = False,
    gamma: float | None = None,
) -> None:
    """One run's series on the panels given, keyed by log column (``episode_return``, ``loss``,
    ``mean_max_q``, ``grad_norm``, ``epsilon``), against env steps.

    Returns smoothed over ``smooth`` episodes with the greedy evaluations; the other columns as
    lines that skip the episodes without a value. ``colors`` is one colour or one per column (and
    ``"eval"``). ``detail`` (``plot_training``'s one-run dashboard) adds the raw returns, the
    evaluations' ± std band and labels; ``gamma`` the realised discounted return, dashed, beside
    the mean max-Q. Used by ``plot_training`` and ``plot_diagnostics`` (lesson 05).
    """
    from dqn_helpers import diagnostics

    def color(key: str) -> str:
        return colors if isinstance(colors, str) else colors[key]

    ax_ret = panels["episode_return"]
    steps = log.column("step")
    if len(steps):
        returns = log.column("episode_return")
        if detail:
            ax_ret.plot(steps, returns, color=color("episode_return"), alpha=0.25, linewidth=0.8)
        ax_ret.plot(
            steps,
            moving_average(np.nan_to_num(returns), max(1, min(smooth, len(returns)))),
            color=color("episode_return"),
            alpha=1.0 if detail else 0.7,
            marker=_marker(returns),
            markersize=3,
            label=f"training episodes (mean of last {smooth})" if detail else None,
        )
        for key in ("mean_max_q", "loss", "grad_norm", "epsilon"):
            if key in panels:
                values = log.column(key)
                panels[key].plot(
                    *_finite(steps, values), color=color(key), linewidth=1,
                    marker=_marker(values), markersize=3,
                )  # fmt: skip
        if gamma is not None and "mean_max_q" in panels:  # what the run actually got
            realised = diagnostics.discounted_episode_values(log, gamma)
            smoothed = moving_average(np.nan_to_num(realised), max(1, min(smooth, len(realised))))
            panels["mean_max_q"].plot(
                steps, smoothed, color=color("mean_max_q"), linestyle="--",
                marker=_marker(realised), markersize=3,
            )  # fmt: skip
    if log.evals:
        eval_steps, mean, std = _eval_points(log)
        if detail:
            ax_ret.fill_between(
                eval_steps, mean - std, mean + std, color=color("eval"), alpha=0.25, linewidth=0
            )
        ax_ret.plot(
            eval_steps,
            mean,
            "o-" if detail else "o:",
            color=color("eval"),
            markersize=3 if detail else 4,
            label="greedy evaluation ± std" if detail else None,
        )


def _scale_value_panel(
    ax_q: plt.Axes,
    runs: list[tuple[str, logs.TrainingLog]],
    gamma: float | None,
    reward_max: float | None,
) -> None:
    """Draw the bound r_max/(1 − γ) when known; switch to symlog when a run diverged past it."""
    from dqn_helpers import diagnostics

    reference = None  # the scale of sane values: the bound, else the largest realised value
    if gamma is not None and reward_max is not None:
        reference = bounds.q_value_bound(reward_max, gamma)
        ax_q.axhline(reference, color="black", linestyle=":", linewidth=1)
    elif gamma is not None:
        realised = np.concatenate(
            [diagnostics.discounted_episode_values(log, gamma) for _, log in runs]
        )
        reference = float(np.nanmax(np.abs(realised))) if np.any(np.isfinite(realised)) else None
    q_all = np.abs(np.concatenate([log.column("mean_max_q") for _, log in runs]))
    q_top = float(np.max(q_all[np.isfinite(q_all)], initial=0.0))
    if reference and np.isfinite(reference) and q_top > bounds.Q_BOUND_FACTOR * reference:
        # a diverged run would flatten every other curve: linear up to the sane scale, log beyond
        ax_q.set_yscale("symlog", linthresh=reference)
        drawn = np.concatenate([line.get_ydata() for line in ax_q.get_lines()]).astype(float)
        ax_q.set_ylim(bottom=min(0.0, float(np.nanmin(drawn))))


def _label_diagnostic_panels(
    axes: list[plt.Axes], runs: list[tuple[str, logs.TrainingLog]]
) -> None:
    """Titles, axis labels and scales of the dashboard's panels (log scales for loss and gradients)."""
    ax_ret, ax_q, ax_loss, ax_grad, ax_eps = axes
    for ax, ylabel in zip(
        axes,
        (
            "episode return",
            "value" + (" (symlog)" if ax_q.get_yscale() == "symlog" else ""),
            "TD loss (mean per episode)",
            "gradient norm (before clipping)",
            "ε (exploration)",
        ),
    ):
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    for ax, key in ((ax_loss, "loss"), (ax_grad, "grad_norm")):
        values = np.concatenate([log.column(key) for _, log in runs])
        if np.any(np.isfinite(values) & (values > 0)):
            ax.set_yscale("log")
    ax_eps.set_ylim(-0.03, 1.03)
    ax_ret.set_title("returns", fontsize=10, loc="left")
    ax_q.set_title("predicted vs realised value", fontsize=10, loc="left")
    for ax in (ax_grad, ax_eps):
        ax.set_xlabel("environment step")
        ax.xaxis.set_tick_params(labelbottom=True)


def _diagnostic_legend(
    ax: plt.Axes,
    runs: list[tuple[str, object]],
    listed: list[tuple[str, str]],
    gamma: float | None,
    reward_max: float | None,
) -> None:
    """The sixth panel of ``plot_diagnostics``: which colour is which run, what each line style
    means, and the findings."""
    from matplotlib.lines import Line2D

    ax.set_axis_off()
    handles = [
        Line2D([], [], color=f"C{k % 10}", lw=2, label=label) for k, (label, _) in enumerate(runs)
    ]
    styles = [
        ("-", None, "training return (smoothed) / mean max-Q"),
        (":", "o", "greedy evaluation"),
    ]
    if gamma is not None:
        styles.append(("--", None, f"realised discounted return (γ {gamma:g})"))
    if gamma is not None and reward_max is not None:
        styles.append((":", None, "largest possible value r_max/(1-γ)"))
    handles += [
        Line2D([], [], color="black", linestyle=ls, marker=m, label=text) for ls, m, text in styles
    ]
    ax.legend(handles=handles, loc="upper left", fontsize=8, frameon=False)
    text = "\n".join(line for _, line in listed[:8]) if listed else "diagnose: no findings"
    if len(listed) > 8:
        text += f"\n... and {len(listed) - 8} more"
    ax.text(
        0.0,
        0.0,
        "findings (dotted lines):\n" + text,
        transform=ax.transAxes,
        fontsize=8,
        va="bottom",
    )


# ---------------------------------------------------------------- lesson 06 (Atari preprocessing)


def plot_image_row(
    images: Sequence[np.ndarray],
    titles: Sequence[str] | None = None,
    *,
    suptitle: str | None = None,
    height: float = 2.8,
) -> Figure:
    """Pictures side by side, pixels drawn as squares: RGB as is, 2-D frames in gray on the 0-255 scale.

    Introduced in lesson 06 (each preprocessing step as a picture). Float frames in [0, 1] use 0-1.
    """
    arrays = [np.asarray(im) for im in images]
    if not arrays:
        raise ValueError("images is empty; pass at least one (H, W) or (H, W, 3) array.")
    for i, im in enumerate(arrays):
        if im.ndim not in (2, 3) or (im.ndim == 3 and im.shape[2] not in (3, 4)):
            raise ValueError(
                f"image {i} has shape {im.shape}; expected (H, W) gray or (H, W, 3) colour."
            )
    labels = [""] * len(arrays) if titles is None else list(titles)
    if len(labels) != len(arrays):
        raise ValueError(
            f"got {len(arrays)} images but {len(labels)} titles; give one title per image."
        )
    ratios = [im.shape[1] / im.shape[0] for im in arrays]
    fig, axes = plt.subplots(
        1,
        len(arrays),
        squeeze=False,
        gridspec_kw={"width_ratios": ratios},
        figsize=(height * sum(ratios) + 0.4 * len(arrays), height + 0.7),
    )
    for ax, im, label in zip(axes[0], arrays, labels):
        if im.ndim == 2:
            top = (
                1.0
                if np.issubdtype(im.dtype, np.floating) and float(im.max(initial=0)) <= 1.0
                else 255
            )
            ax.imshow(im, cmap="gray", vmin=0, vmax=top, interpolation="nearest")
        else:
            ax.imshow(im, interpolation="nearest")
        ax.set_title(label, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def plot_stack_motion(stack: np.ndarray, *, title: str | None = None) -> Figure:
    """The frames of one stacked observation (oldest first) above the differences of neighbours.

    Introduced in lesson 06: in the differences, whatever moved shows as a red/blue pair, the rest is white.
    """
    frames = np.asarray(stack)
    if frames.ndim != 3 or frames.shape[0] < 2:
        raise ValueError(f"stack must be (k, H, W) with k >= 2 frames, got shape {frames.shape}.")
    k = frames.shape[0]
    diffs = frames[1:].astype(np.int16) - frames[:-1].astype(np.int16)
    limit = max(1, int(np.abs(diffs).max()))
    fig, axes = plt.subplots(2, k, figsize=(2.3 * k, 5.0))
    for i in range(k):
        axes[0, i].imshow(frames[i], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        axes[0, i].set_title(
            "newest frame" if i == k - 1 else f"frame {i} (t-{k - 1 - i})", fontsize=9
        )
    for i in range(k - 1):
        image = axes[1, i].imshow(
            diffs[i], cmap="seismic", vmin=-limit, vmax=limit, interpolation="nearest"
        )
        axes[1, i].set_title(f"frame {i + 1} - frame {i}", fontsize=9)
    axes[1, k - 1].set_axis_off()
    fig.colorbar(image, ax=axes[1, k - 1], fraction=0.8, label="change in gray level")
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title)
    return fig


def plot_memory_bars(
    labels: Sequence[str],
    gigabytes: Sequence[float],
    *,
    ram_gb: float | None = None,
    title: str | None = None,
) -> Figure:
    """Horizontal bars of memory sizes in GB on a log axis, each labelled, with an optional RAM line.

    Introduced in lesson 06 (what a 1M-transition replay buffer costs in each layout).
    """
    sizes = np.asarray(gigabytes, dtype=float)
    if len(labels) != len(sizes) or not len(sizes):
        raise ValueError(
            f"need one label per size, got {len(labels)} labels and {len(sizes)} sizes."
        )
    if not np.all(sizes > 0):
        raise ValueError(f"sizes must be positive (log axis), got {sizes.tolist()}.")
    fig, ax = plt.subplots(figsize=(7.5, 0.6 * len(sizes) + 1.4))
    positions = np.arange(len(sizes))[::-1]
    ax.barh(positions, sizes, color="tab:blue")
    for y, size in zip(positions, sizes):
        ax.text(size * 1.1, y, f"{size:,.1f} GB", va="center", fontsize=9)
    ax.set_yticks(positions, labels)
    ax.set_xscale("log")
    ax.set_xlim(sizes.min() / 3, sizes.max() * 8)
    ax.set_xlabel("memory (GB, log scale)")
    if ram_gb is not None:
        ax.axvline(ram_gb, color="tab:red", linestyle="--", label=f"{ram_gb:g} GB of RAM")
        ax.legend(loc="lower right", fontsize=9)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- lesson 10 (DQN plays Pong)


def plot_value_along_game(
    values: Sequence[float] | np.ndarray,
    rewards: Sequence[float] | np.ndarray,
    frames: Sequence[np.ndarray],
    marks: Sequence[int],
    *,
    start: int = 0,
    title: str | None = None,
) -> Figure:
    """V(s) = max_a Q(s, a) over the steps of a game, points won/lost marked, the frames at ``marks`` below.

    Introduced in lesson 10. ``values[t]``, ``rewards[t]`` and ``frames[t]`` belong to step
    ``start + t``; ``marks`` are indices into them (at most 6), numbered on the curve and the frames.
    """
    values, rewards = np.asarray(values, dtype=float), np.asarray(rewards, dtype=float)
    if len(values) != len(rewards) or len(frames) < len(values) or not len(values):
        raise ValueError(
            f"need one value and one reward per step and a frame for each, got {len(values)} values, "
            f"{len(rewards)} rewards and {len(frames)} frames."
        )
    marks = [int(m) for m in marks]
    if len(marks) > 6 or any(not 0 <= m < len(values) for m in marks):
        raise ValueError(f"marks must be at most 6 indices in [0, {len(values)}), got {marks}.")
    fig = plt.figure(figsize=(11, 6), layout="constrained")
    grid = fig.add_gridspec(2, max(1, len(marks)), height_ratios=(1.3, 1))
    ax = fig.add_subplot(grid[0, :])
    steps = start + np.arange(len(values))
    ax.plot(steps, values, color="tab:blue", linewidth=1.2, label="V(s) = max_a Q(s, a)")
    for sign, color, marker, label in (
        (1, "tab:green", "^", "point won"),
        (-1, "tab:red", "v", "point lost"),
    ):
        hit = np.flatnonzero(np.sign(rewards) == sign)
        if len(hit):
            ax.scatter(
                steps[hit], values[hit], color=color, marker=marker, s=60, zorder=3, label=label
            )
    for k, m in enumerate(marks, 1):
        ax.annotate(
            str(k),
            (steps[m], values[m]),
            textcoords="offset points",
            xytext=(0, 8),
            ha="center",
            fontsize=10,
            fontweight="bold",
        )
    ax.axhline(0.0, color="gray", linewidth=0.8)
    ax.set_xlabel("agent step")
    ax.set_ylabel("V(s)")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    if title:
        ax.set_title(title)
    for k, m in enumerate(marks):
        frame_ax = fig.add_subplot(grid[1, k])
        frame_ax.imshow(frames[m])
        frame_ax.set_title(f"{k + 1}: step {steps[m]}, V = {values[m]:+.2f}", fontsize=9)
        frame_ax.set_axis_off()
    return fig
