"""Read a training log and name what went wrong: collapse, impossible Q-values, blow-ups, no learning.

Introduced in lesson 05 (debugging a DQN run) and used in lesson 10. ``diagnose(log)`` reads only
the log (a ``logs.TrainingLog``, a ``TrainResult`` or a run folder) and returns a list of
``Finding(symptom, step, evidence, fix)``; a healthy log gives ``[]``. The rules, in the order
they are checked (each threshold is a named constant below):

- ``nan``: a loss, max-Q, TD error or gradient norm is ±inf, or NaN on a row whose other update
  metrics are finite, or the loss stays NaN for the last ``NAN_MIN_ROWS`` episodes (at distinct
  steps) after learning had started, over more than ``NAN_GAP_FACTOR`` times the longest stretch
  of steps between two updated episodes before (the pause between two bursts of updates). A row
  whose four metrics are all NaN is an episode without a gradient step (before
  ``learning_starts``, between two bursts of updates, or a second episode ending on the same step
  of a vector env): a gap, not a finding.
- ``loss_blowup``: the rolling median (``SMOOTH`` episodes) of the loss or of the gradient norm
  rises above ``LOSS_BLOWUP_FACTOR`` / ``GRAD_BLOWUP_FACTOR`` times its median over the first
  episodes of learning. For the loss that early median counts as at least ``LOSS_FLOOR`` x r²
  (r: the reward of one step) and, with ``reward_max``, at most ``LOSS_CAP`` x reward_max².
- ``q_above_bound`` (needs ``gamma`` and ``reward_max``): the mean max-Q passes
  ``Q_BOUND_MARGIN`` x r_max/(1 − γ) (``losses.q_value_bound``) on ``Q_ABOVE_MIN_ROWS`` episodes,
  or ``losses.Q_BOUND_FACTOR`` x it once (where training itself warns).
- ``q_return_gap`` (needs ``gamma``): late in training (the last third of the episodes with
  updates) the median mean max-Q exceeds the realised discounted return by more than
  ``GAP_FACTOR - 1`` times its size. The realised value of an episode of return G and length L
  assumes the reward spread evenly, G/L per step: ``(G/L)(1 − γ^L)/(1 − γ)``. It is the value
  from the episode's first state, an upper estimate for the states a minibatch holds, so the
  approximation errs on the side of no finding.
- ``return_collapse``: the greedy evaluations (at least ``COLLAPSE_MIN_EVALS``; else the training
  return smoothed over ``SMOOTH`` episodes) rose above the start (the mean training return of the
  first episodes) by ``COLLAPSE_MIN_RISE`` times its size, then lost more than
  ``1 - COLLAPSE_KEEP`` of that gain and stayed down: the last ``COLLAPSE_TAIL_EVALS`` evaluations
  (or ``SMOOTH`` smoothed points) after the best are all below.
- ``flat_returns``: no gradient update in the whole log; or the greedy evaluations (with two or
  more; else the training return, first episodes against the last third) rose by less than
  ``FLAT_MAX_RISE`` times the start while the late mean max-Q stayed below ``FLAT_Q_FRACTION`` of
  the realised discounted return (of one step's reward without ``gamma``); or the returns rose but
  the late mean max-Q is still below that fraction and at most ``FLAT_Q_GROWTH`` times its value
  at the first updates (stuck values); or every training episode returned exactly 0 (its rewards
  summed to 0: none arrived, or they cancelled; a log holds returns, not rewards) and the greedy
  evaluations (three or more) did not learn either: the median of their last third did not reach
  the first plus ``COLLAPSE_MIN_RISE`` times its size. Greedy evaluations that learned mean the
  agent learned from something the returns do not show: in CartPole with every reward 0, from
  termination (a terminal transition's target is 0 while the others bootstrap), so that run is
  not flat (lesson 11).
- ``epsilon_before_learning``: ε sat at its floor (its lowest value, held on ``EPS_FLOOR_ROWS``
  episodes) on an episode that ended before the first gradient update, at least
  ``EPS_MIN_GAP`` of the steps to that update earlier (or no update ever came).

Logs shorter than ``MIN_EPISODES`` episodes skip the trend rules; ``format_findings(findings, log)``
then says the log is too short to judge, and never raises.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dqn_helpers import logs, losses, metrics

__all__ = [
    "SYMPTOMS",
    "Finding",
    "diagnose",
    "format_findings",
    "discounted_episode_values",
    "read_run_settings",
]

#: Every symptom ``diagnose`` can report, in the order it checks them.
SYMPTOMS = (
    "nan",
    "loss_blowup",
    "q_above_bound",
    "q_return_gap",
    "return_collapse",
    "flat_returns",
    "epsilon_before_learning",
)

# --------------------------------------------------------------------------- thresholds
# Below this many episode rows a trend (rise, fall, growth) is noise: those rules are skipped.
MIN_EPISODES = 5
# Episodes in each moving average / rolling median: long enough to smooth out one lucky or unlucky
# episode (CartPole returns vary by ±50 % from one episode to the next), short enough for a 3,000
# step run.
SMOOTH = 10
# The loss may grow as the Q-values grow (the TD errors scale with them), by a factor of a few to
# a few tens in a healthy CartPole run; two orders of magnitude is no longer that.
LOSS_BLOWUP_FACTOR = 100.0
# The early loss counts as at least LOSS_FLOOR x (reward per step)², the loss of TD errors of a
# tenth of a reward: a network that fits near-constant targets almost exactly starts with a tiny
# loss (1e-4 in a 4,000-step CartPole run at lr 3e-2) that any target update multiplies by 100.
LOSS_FLOOR = 1e-2
# ... and, when reward_max is given, as at most LOSS_CAP x reward_max², the loss of TD errors of
# about one reward: a loss already huge at the first updates still counts as blown up.
LOSS_CAP = 1.0
# The gradient norm (logged before clipping) shrinks or stays within a factor of ten in healthy
# runs; a hundredfold growth means the updates are being driven by exploding TD errors.
GRAD_BLOWUP_FACTOR = 100.0
# The mean max-Q of a minibatch averages over states, so a true one never passes r_max/(1 − γ);
# 20 % above it is no rounding error.
Q_BOUND_MARGIN = 1.2
# ... on this many episodes, so that one noisy episode mean is not a finding.
Q_ABOVE_MIN_ROWS = 3
# Predicted values three times what the episodes really returned: not the lag of a policy that
# is still improving (that makes Q a little higher), but systematic overestimation.
GAP_FACTOR = 3.0
# Episodes with updates needed in the late window of the Q/return comparison.
GAP_MIN_ROWS = 5
# The best level must be at least double the start (a rise of 100 % of |start|) to count as
# "learned"; a rise smaller than that is within the noise of a random policy.
COLLAPSE_MIN_RISE = 1.0
# Collapsed: fell back below the start plus half the gain (for CartPole from 500 back under 260).
COLLAPSE_KEEP = 0.5
# Greedy evaluations needed to judge a collapse from them (best, then a fall that stays).
COLLAPSE_MIN_EVALS = 3
# "Stayed down": this many evaluations after the best, the last ones of the run, all below.
COLLAPSE_TAIL_EVALS = 2
# "No upward trend": the late level is less than 25 % above the start (of |start|, ≥ 1 reward).
FLAT_MAX_RISE = 0.25
# "Q-values near zero": below a tenth of what the episodes actually returned (discounted).
FLAT_Q_FRACTION = 0.1
# Q-values "stuck": late |max-Q| at most twice its value at the first updates. A learning network's
# values grow many times over (CartPole: from about 1 to tens); returns that rose by chance while
# the values stayed put (a terminal mask that cuts every bootstrap: Q ≈ one reward) are no learning.
FLAT_Q_GROWTH = 2.0
# ε is "at its floor" when its lowest value is held on at least this many episodes (a schedule
# that is still decaying never repeats a value).
EPS_FLOOR_ROWS = 2
# Report ε at its floor before learning only when that came at least 10 % of the steps to the
# first update early (the log has one row per episode, so a few steps are rounding).
EPS_MIN_GAP = 0.1
# Trailing episodes (at distinct env steps) without a finite loss after learning started that
# mean the network now outputs NaN (an episode without any update is a single such row).
NAN_MIN_ROWS = 3
# ... and they must span more env steps than this many times the longest stretch between two
# episodes with updates seen earlier: a loop that updates in bursts (lesson 05's 128 updates every
# 256 steps) ends many short episodes between two bursts, and the last ones after the final burst.
NAN_GAP_FACTOR = 2.0

_UPDATE_METRICS = metrics.LOGGED  # the update columns of the log, as DQNAgent.learn names them


@dataclass(frozen=True)
class Finding:
    """One diagnosed problem: ``symptom`` (one of ``SYMPTOMS``), the env ``step`` where it shows
    first (or None), one sentence of ``evidence`` with the numbers, and one sentence of ``fix``.

    Introduced in lesson 05.
    """

    symptom: str
    step: int | None
    evidence: str
    fix: str


# --------------------------------------------------------------------------- helpers
def discounted_episode_values(log: Any, gamma: float) -> np.ndarray:
    """Per episode, the discounted return ``(G/L)(1 − γ^L)/(1 − γ)`` of its return G spread evenly
    over its L steps (NaN where unknown): what Q(s₀) should be for the policy that played it.

    Introduced in lesson 05 (comparing the predicted mean max-Q with what the agent really got).
    """
    log = logs.as_log(log)
    returns, lengths = log.column("episode_return"), log.column("episode_length")
    with np.errstate(divide="ignore", invalid="ignore"):
        per_step = np.where(lengths > 0, returns / lengths, np.nan)
        if gamma >= 1.0:
            return np.where(lengths > 0, returns, np.nan)
        return per_step * (1.0 - gamma**lengths) / (1.0 - gamma)


def read_run_settings(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The settings ``diagnose`` uses from a run folder's config.json (gamma, learning_starts,
    total_steps, epsilon_end); ``{}`` when there is no config.json. Introduced in lesson 05.

    A config.json that is not a JSON object raises ValueError naming the file.
    """
    path = Path(folder) / "config.json"
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not readable JSON ({exc}); fix or delete it.") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold a JSON object of DQNConfig fields.")
    keys = ("gamma", "learning_starts", "total_steps", "epsilon_end")
    return {
        k: data[k]
        for k in keys
        if isinstance(data.get(k), int | float) and not isinstance(data.get(k), bool)
    }


def _rolling(values: np.ndarray, window: int, how: str) -> np.ndarray:
    """Trailing median or mean over ``window`` points (shorter at the start), ignoring NaN."""
    out = np.full(len(values), np.nan)
    reduce = np.nanmedian if how == "median" else np.nanmean
    for i in range(len(values)):
        chunk = values[max(0, i - window + 1) : i + 1]
        if np.any(~np.isnan(chunk)):
            out[i] = reduce(chunk)
    return out


def _step_at(steps: np.ndarray, i: int) -> int | None:
    return int(steps[i]) if 0 <= i < len(steps) and math.isfinite(steps[i]) else None


def _times(ratio: float) -> str:
    return f"{ratio:,.0f}x" if ratio < 1e4 else f"{ratio:.2g}x"


def _fmt_step(step: float | None) -> str:
    return "?" if step is None or not math.isfinite(step) else f"{int(step):,}"


class _Data:
    """The columns every rule reads, fetched once."""

    def __init__(self, log: logs.TrainingLog) -> None:
        self.log = log
        self.n = len(log.episodes)
        col = log.column
        self.steps, self.returns, self.lengths = (
            col("step"),
            col("episode_return"),
            col("episode_length"),
        )
        self.loss, self.q, self.td, self.grad = (col(k) for k in _UPDATE_METRICS)
        self.epsilon, self.lr = col("epsilon"), col("learning_rate")
        self.eval_steps, self.eval_mean = col("step", "evals"), col("mean_return", "evals")
        learned = np.flatnonzero(np.isfinite(self.loss))
        self.first_update = int(learned[0]) if len(learned) else None
        self.last_step = (
            float(np.nanmax(self.steps)) if np.any(np.isfinite(self.steps)) else math.nan
        )
        per_step = np.abs(self.returns / np.where(self.lengths > 0, self.lengths, np.nan))
        per_step = per_step[np.isfinite(per_step)]
        #: mean |reward| of one step (return / length), 0 when unknown
        self.reward_per_step = float(np.mean(per_step)) if len(per_step) else 0.0

    def early_return(self) -> float:
        """Mean training return over the first episodes (a third of the log, at most SMOOTH)."""
        k = max(1, min(SMOOTH, self.n // 3))
        return float(np.nanmean(self.returns[:k]))


# --------------------------------------------------------------------------- the rules
def _check_nan(d: _Data) -> Finding | None:
    if d.first_update is None:
        return None
    metrics = np.stack([d.loss, d.q, d.td, d.grad])[:, d.first_update :]
    # only the metrics this log records (a hand-built log may leave td_error out)
    names = [k for k, row in zip(_UPDATE_METRICS, metrics) if np.any(~np.isnan(row))]
    metrics = metrics[[_UPDATE_METRICS.index(k) for k in names]]
    finite = np.isfinite(metrics)
    infinite = np.any(np.isinf(metrics), axis=0)
    mixed = finite.any(axis=0) & ~finite.all(axis=0)  # NaN beside finite values: not a gap
    bad = np.flatnonzero(infinite | mixed)
    loss = d.loss[d.first_update :]
    last_finite = int(np.flatnonzero(np.isfinite(loss))[-1])
    tail = np.arange(last_finite + 1, len(loss))  # rows after the last finite loss
    tail_steps = np.unique(d.steps[d.first_update :][tail])
    updated_steps = d.steps[d.first_update :][np.isfinite(loss)]
    usual_gap = float(np.nanmax(np.diff(updated_steps))) if len(updated_steps) > 1 else 0.0
    tail_span = d.last_step - float(d.steps[d.first_update + last_finite])
    if len(bad):
        i = d.first_update + int(bad[0])
        which = [k for k, ok in zip(names, finite[:, bad[0]]) if not ok]
        evidence = (
            f"{', '.join(which)} became {'inf' if infinite[bad[0]] else 'NaN'} at step "
            f"{_fmt_step(d.steps[i])} ({len(bad)} episode(s) with non-finite update metrics)."
        )
    elif len(tail_steps) >= NAN_MIN_ROWS and tail_span > NAN_GAP_FACTOR * usual_gap:
        i = d.first_update + int(tail[0])
        evidence = (
            f"the loss is NaN on the last {len(tail)} episodes, from step {_fmt_step(d.steps[i])} "
            f"to the end ({_fmt_step(d.last_step)}), after finite losses since step "
            f"{_fmt_step(d.steps[d.first_update])}: the network outputs NaN."
        )
    else:
        return None
    return Finding(
        "nan",
        _step_at(d.steps, i),
        evidence,
        "Lower the learning rate, use the Huber loss and gradient clipping (max_grad_norm=10), "
        "and restart from the last good checkpoint (checkpoint.pt or best.pt).",
    )


def _growth(
    values: np.ndarray, factor: float, floor: float = 0.0, cap: float = math.inf
) -> tuple[float, float, float, int] | None:
    """(early median, baseline, peak rolling median, index of the first passing factor x baseline)
    or None; the baseline is the early median kept within [floor, cap]."""
    idx = np.flatnonzero(~np.isnan(values))
    if len(idx) < max(MIN_EPISODES, 2):
        return None
    w = max(1, min(SMOOTH, len(idx) // 3))
    series = values[idx]
    early = float(np.median(series[:w]))
    baseline = min(max(early, floor), cap)
    if not baseline > 0:
        return None
    # the windows after the early one; all of them when the early one is itself too high (capped)
    skip = 0 if baseline < early else w
    rolled = _rolling(series, w, "median")[skip:]
    above = np.flatnonzero(rolled > factor * baseline)
    if not len(above):
        return None
    return early, baseline, float(np.nanmax(rolled)), int(idx[skip + above[0]])


def _check_loss_blowup(d: _Data, reward_max: float | None) -> Finding | None:
    reward = max(reward_max or 0.0, d.reward_per_step)
    loss_cap = LOSS_CAP * reward_max**2 if reward_max else math.inf
    hits = []
    for name, values, factor, floor, cap in (
        ("loss", d.loss, LOSS_BLOWUP_FACTOR, LOSS_FLOOR * reward**2, loss_cap),
        ("gradient norm", d.grad, GRAD_BLOWUP_FACTOR, 0.0, math.inf),
    ):
        grown = _growth(values, factor, floor, cap)
        if grown is None:
            continue
        early, baseline, peak, i = grown
        ratio, at = _times(peak / baseline), _fmt_step(d.steps[i])
        if baseline < early:
            text = (
                f"the {name} was already {early:.3g} at the first updates and reached {peak:.3g}, "
                f"{ratio} the loss of TD errors of one reward ({baseline:.3g}), from step {at}"
            )
        elif baseline > early:
            text = (
                f"the {name} grew from {early:.3g} (counted as {baseline:.3g}, the loss of TD errors "
                f"of a tenth of a reward) to {peak:.3g} ({ratio}), past {factor:g}x at step {at}"
            )
        else:
            text = (
                f"the {name} grew from a median of {early:.3g} at the first updates to {peak:.3g} "
                f"({ratio}), past {factor:g}x at step {at}"
            )
        hits.append((i, text))
    if not hits:
        return None
    return Finding(
        "loss_blowup",
        _step_at(d.steps, min(i for i, _ in hits)),
        "; ".join(text for _, text in hits) + ".",
        "Use the Huber loss and gradient clipping (max_grad_norm=10), lower the learning rate, "
        "and keep a target network (target_update) so the TD targets stop chasing the updates.",
    )


def _check_q_above_bound(d: _Data, gamma: float | None, reward_max: float | None) -> Finding | None:
    if gamma is None or reward_max is None:
        return None
    bound = losses.q_value_bound(reward_max, gamma)
    if not math.isfinite(bound):
        return None
    q = np.nan_to_num(d.q, nan=-np.inf)
    above = np.flatnonzero(q > Q_BOUND_MARGIN * bound)
    if len(above) < Q_ABOVE_MIN_ROWS and not np.any(q > losses.Q_BOUND_FACTOR * bound):
        return None
    peak = float(np.max(q))
    worst = int(np.argmax(q))
    return Finding(
        "q_above_bound",
        _step_at(d.steps, int(above[0])),
        f"the mean max-Q reached {peak:.3g} at step {_fmt_step(d.steps[worst])}, {peak / bound:.3g}x "
        f"r_max/(1-γ) = {bound:.3g} (r_max {reward_max:g}, γ {gamma:g}), more than any state can be "
        f"worth; it was above {Q_BOUND_MARGIN:g}x that on {len(above)} episode(s) from step "
        f"{_fmt_step(d.steps[above[0]])}.",
        "The Q-values overestimate or diverge: use Double DQN (lesson 07), a target network that "
        "updates slowly (larger target_update or smaller tau) and a lower learning rate.",
    )


def _check_q_return_gap(d: _Data, gamma: float | None, reward_max: float | None) -> Finding | None:
    if gamma is None:
        return None
    values = discounted_episode_values(d.log, gamma)
    rows = np.flatnonzero(np.isfinite(d.q) & np.isfinite(values))
    if len(rows) < max(GAP_MIN_ROWS, MIN_EPISODES):
        return None
    late = rows[-max(GAP_MIN_ROWS, len(rows) // 3) :]
    q_late, v_late = float(np.median(d.q[late])), float(np.mean(values[late]))
    # the gap is measured against |realised value|, at least one step's reward (a value near 0)
    one_step = max(float(np.mean(np.abs(d.returns[late] / d.lengths[late]))), reward_max or 0.0)
    if not max(abs(v_late), one_step) > 0:
        return None
    if not q_late - v_late > (GAP_FACTOR - 1.0) * max(abs(v_late), one_step):
        return None
    q_roll, v_roll = _rolling(d.q[rows], SMOOTH, "median"), _rolling(values[rows], SMOOTH, "mean")
    first = np.flatnonzero(
        q_roll - v_roll > (GAP_FACTOR - 1.0) * np.maximum(np.abs(v_roll), one_step)
    )
    i = int(rows[first[0]]) if len(first) else int(late[0])
    return Finding(
        "q_return_gap",
        _step_at(d.steps, i),
        f"late in training the mean max-Q is {q_late:.3g} but the episodes returned only "
        f"{v_late:.3g} discounted (γ {gamma:g}, mean return {np.nanmean(d.returns[late]):.3g} over "
        f"{np.nanmean(d.lengths[late]):.0f} steps): "
        + (f"{q_late / v_late:.3g}x" if v_late > 0 else f"{q_late - v_late:.3g} more than")
        + " what the agent really gets.",
        "The network predicts returns it never obtains: use Double DQN (lesson 07), a slower "
        "target network and a lower learning rate; check that terminated transitions do not "
        "bootstrap (the (1 − terminated) mask in the TD target).",
    )


def _check_collapse(d: _Data) -> Finding | None:
    evals = np.flatnonzero(np.isfinite(d.eval_mean))
    if len(evals) >= COLLAPSE_MIN_EVALS:
        series, xs, tail, what = (
            d.eval_mean[evals],
            d.eval_steps[evals],
            COLLAPSE_TAIL_EVALS,
            "greedy evaluation",
        )
    elif np.count_nonzero(np.isfinite(d.returns)) >= 3 * SMOOTH:
        series, xs, tail, what = (
            _rolling(d.returns, SMOOTH, "mean"),
            d.steps,
            SMOOTH,
            f"training return (mean of {SMOOTH})",
        )
    else:
        return None
    start = d.early_return() if d.n and np.any(np.isfinite(d.returns)) else float(series[0])
    if not math.isfinite(start):
        start = float(series[0])
    b = int(np.nanargmax(series))
    best = float(series[b])
    gain = best - start
    if not gain >= COLLAPSE_MIN_RISE * max(abs(start), 1.0):
        return None
    line = start + COLLAPSE_KEEP * gain
    after = series[b + 1 :]
    if len(after) < tail or not np.all(after[-tail:] < line):
        return None
    up = np.flatnonzero(~(after < line))
    k = b + 1 + (int(up[-1]) + 1 if len(up) else 0)  # start of the final stretch below the line
    return Finding(
        "return_collapse",
        int(xs[k]) if math.isfinite(xs[k]) else None,
        f"the {what} peaked at {best:.4g} (step {_fmt_step(xs[b])}, up from {start:.4g}) and fell to "
        f"{series[-1]:.4g} by step {_fmt_step(xs[-1])}, below {line:.4g} since step {_fmt_step(xs[k])}.",
        "The agent learned and then forgot: keep the best checkpoint (best.pt), and stabilise with "
        "a larger replay buffer, a target network, a lower or annealed learning rate (lr_end) and "
        "gradient clipping.",
    )


def _flat_no_update(d: _Data, learning_starts: int | None) -> Finding:
    """``flat_returns`` of a run that never took a gradient step."""
    why = (
        f"learning_starts={learning_starts:,} is beyond the {_fmt_step(d.last_step)} steps logged"
        if learning_starts is not None and learning_starts >= d.last_step
        else "learning never started"
    )
    return Finding(
        "flat_returns",
        None,
        f"no gradient update in {d.n} episodes ({_fmt_step(d.last_step)} steps): every loss is "
        f"empty, so the agent never learned ({why}).",
        "Set learning_starts well below total_steps (e.g. 1,000 for CartPole) or train for "
        "longer; check that the replay buffer can hold at least one batch (batch_size).",
    )


def _flat_all_zero(
    d: _Data, returned: np.ndarray, evals: np.ndarray, late_evals: np.ndarray
) -> Finding:
    """``flat_returns`` of a run whose every training return was exactly 0 and whose greedy play stayed."""
    greedy = (
        f"the greedy evaluations did not learn either (first {evals[0]:.3g}, median of the "
        f"last {len(late_evals)} {np.median(late_evals):.3g})"
        if len(evals) >= 3
        else "no greedy evaluations say otherwise"
    )
    return Finding(
        "flat_returns",
        None,
        f"every one of the {len(returned)} training episodes ({_fmt_step(d.last_step)} steps) "
        f"returned exactly 0 and {greedy}. A return of 0 means the episode's rewards summed "
        "to 0: either no nonzero reward arrived, or the rewards that did arrive cancelled "
        "(the log holds returns, not rewards).",
        "If no reward arrived, it is too sparse for ε-greedy exploration: make it denser "
        "(reward shaping), explore for longer or more cleverly (a longer ε decay, an "
        "exploration bonus), and check that no wrapper drops the rewards. If rewards arrived "
        "and cancelled, a flat 0 may be the best return the task allows.",
    )


def _check_flat(d: _Data, gamma: float | None, learning_starts: int | None) -> Finding | None:
    if np.count_nonzero(np.isfinite(d.returns)) < MIN_EPISODES:
        return None
    if d.first_update is None:
        return _flat_no_update(d, learning_starts)
    returned = d.returns[np.isfinite(d.returns)]
    evals = d.eval_mean[np.isfinite(d.eval_mean)]
    # learned all the same: the late greedy evaluations (median of the last third) at least doubled
    late_evals = evals[-max(2, len(evals) // 3) :]
    evals_learned = len(evals) >= 3 and float(np.median(late_evals)) >= float(evals[0]) + (
        COLLAPSE_MIN_RISE * max(abs(float(evals[0])), 1.0)
    )
    if not np.any(returned != 0) and not evals_learned:  # returns all 0, and the greedy play stayed
        return _flat_all_zero(d, returned, evals, late_evals)
    if len(evals) >= 2:  # the greedy policy is what learning changes; ε decay moves the rest
        start, level = float(evals[0]), float(np.max(evals[1:]))
        trend = f"the greedy evaluations went from {start:.3g} to at most {level:.3g}"
    else:
        start, level = d.early_return(), float(np.nanmean(d.returns[-max(1, d.n // 3) :]))
        trend = f"the training return went from {start:.3g} to {level:.3g}"
    if not math.isfinite(start):
        return None
    rose = level - start > FLAT_MAX_RISE * max(abs(start), 1.0)
    rows = np.flatnonzero(np.isfinite(d.q))
    if len(rows) < MIN_EPISODES:
        return None
    late_rows = rows[-max(MIN_EPISODES, len(rows) // 3) :]
    q_late = float(np.median(np.abs(d.q[late_rows])))
    q_early = float(np.median(np.abs(d.q[rows[: max(1, min(SMOOTH, len(rows) // 3))]])))
    if rose and not q_late <= FLAT_Q_GROWTH * q_early:
        return None  # the returns rose and the values grew: learning, however slow
    if gamma is not None:
        realised = float(np.nanmean(np.abs(discounted_episode_values(d.log, gamma)[late_rows])))
        against = f"the discounted return of {realised:.3g} the episodes got"
    else:
        realised = d.reward_per_step
        against = f"the reward of one step ({realised:.3g}; pass gamma to compare with the return)"
    if not q_late < FLAT_Q_FRACTION * realised:
        return None
    lr = float(np.nanmedian(d.lr)) if np.any(np.isfinite(d.lr)) else math.nan
    lr_text = f", learning rate {lr:.3g}" if math.isfinite(lr) else ""
    return Finding(
        "flat_returns",
        None,
        (
            f"the Q-values are stuck: median |max-Q| {q_early:.3g} at the first updates and "
            f"{q_late:.3g} late, under {FLAT_Q_FRACTION:g}x {against}, although {trend}"
            if rose
            else f"returns did not rise ({trend}) and the Q-values stayed near zero (median |max-Q| "
            f"{q_late:.3g}, under {FLAT_Q_FRACTION:g}x {against}"
        )
        + f"){lr_text}.",
        ("The learning rate looks far too small (try 1e-4 to 1e-3); " if lr < 1e-5 else "")
        + "check that the TD target adds the reward, that the loss is back-propagated "
        "(optimizer.step after loss.backward) and the terminal mask (1 − terminated).",
    )


def _check_epsilon(d: _Data, learning_starts: int | None) -> Finding | None:
    eps = d.epsilon
    if np.count_nonzero(np.isfinite(eps)) < EPS_FLOOR_ROWS:
        return None
    floor, top = float(np.nanmin(eps)), float(np.nanmax(eps))
    if not top - floor > 1e-6:
        return None  # no decay in this log: nothing to judge
    at_floor = np.flatnonzero(np.isclose(eps, floor, rtol=1e-6, atol=1e-9))
    if len(at_floor) < EPS_FLOOR_ROWS:
        return None  # still decaying (e.g. per-episode decay that has not reached its end)
    i = int(at_floor[0])
    floor_step = d.steps[i]
    if d.first_update is not None:
        learn_step, learn_text = (
            d.steps[d.first_update],
            f"the first gradient update came in the episode ending at step "
            f"{_fmt_step(d.steps[d.first_update])}",
        )
    elif learning_starts is not None and learning_starts < d.last_step:
        learn_step, learn_text = float(learning_starts), f"learning_starts is {learning_starts:,}"
    else:
        learn_step = math.inf
        learn_text = "no gradient update ever came" + (
            f" (learning_starts={learning_starts:,})" if learning_starts is not None else ""
        )
    if math.isfinite(d.loss[i]) or not floor_step < learn_step:
        return None
    if math.isfinite(learn_step) and learn_step - floor_step < EPS_MIN_GAP * learn_step:
        return None
    played = (
        f"{_fmt_step(learn_step - floor_step)} steps"
        if math.isfinite(learn_step)
        else f"the remaining {_fmt_step(d.last_step - floor_step)} steps"
    )
    return Finding(
        "epsilon_before_learning",
        _step_at(d.steps, i),
        f"ε reached its floor {floor:.3g} at step {_fmt_step(floor_step)}, but {learn_text}: "
        f"{played} were played almost greedily by an untrained network.",
        "Decay ε over more steps (a larger epsilon_fraction, so the floor comes well after "
        "learning_starts) or start learning earlier (a smaller learning_starts).",
    )


# --------------------------------------------------------------------------- the entry points
def diagnose(
    log: Any,
    *,
    gamma: float | None = None,
    reward_max: float | None = None,
    learning_starts: int | None = None,
) -> list[Finding]:
    """Findings for a log (a ``TrainingLog``, a ``TrainResult`` or a run folder); ``[]`` when healthy.

    Introduced in lesson 05; the rules are listed in the module docstring. For a run folder,
    ``gamma`` and ``learning_starts`` default to its config.json. ``reward_max`` (the largest
    reward of one step: 1 for CartPole and clipped Atari) enables the Q-value bound check.
    An empty or very short log gives no exception; see ``format_findings``.
    """
    if isinstance(log, str | os.PathLike):
        settings = read_run_settings(log)
        gamma = settings.get("gamma") if gamma is None else gamma
        learning_starts = (
            settings.get("learning_starts") if learning_starts is None else learning_starts
        )
    if gamma is not None and not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma!r}.")
    if reward_max is not None and not reward_max > 0:
        raise ValueError(
            f"reward_max must be > 0 (the largest reward of one step: 1 for CartPole), got "
            f"{reward_max!r}."
        )
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        # NaN rows (before learning, gaps) make numpy warn about empty means: they are expected
        warnings.simplefilter("ignore", RuntimeWarning)
        return _run_rules(_Data(logs.as_log(log)), gamma, reward_max, learning_starts)


def _run_rules(
    d: _Data, gamma: float | None, reward_max: float | None, learning_starts: int | None
) -> list[Finding]:
    found = [
        _check_nan(d),
        _check_loss_blowup(d, reward_max),
        _check_q_above_bound(d, gamma, reward_max),
        _check_q_return_gap(d, gamma, reward_max),
        _check_collapse(d),
        _check_flat(d, gamma, learning_starts),
        _check_epsilon(d, learning_starts),
    ]
    return [f for f in found if f is not None]


def format_findings(findings: list[Finding], log: Any = None) -> str:
    """The findings as text (symptom, step, evidence, fix), "healthy: no findings" when there are
    none, or "not enough data ..." when ``log`` has fewer than ``MIN_EPISODES`` episodes.

    Introduced in lesson 05 (``python -m dqn_helpers.diagnose`` prints it).
    """
    lines = []
    n = None if log is None else len(logs.as_log(log).episodes)
    if n is not None and n < MIN_EPISODES:
        lines.append(
            f"not enough data: the log has {n} episode row{'s' * (n != 1)}; train longer "
            f"(the trend rules need at least {MIN_EPISODES} episodes)."
        )
        if not findings:
            return lines[0]
    if not findings:
        return "healthy: no findings"
    lines.append(f"{len(findings)} finding{'s' * (len(findings) != 1)}:")
    for f in findings:
        lines.append(
            f"[{f.symptom}] at step {_fmt_step(f.step)}" if f.step is not None else f"[{f.symptom}]"
        )
        lines.append(f"  evidence: {f.evidence}")
        lines.append(f"  fix: {f.fix}")
    return "\n".join(lines)
