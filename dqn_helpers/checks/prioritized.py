"""Checkers of lesson 09 (prioritized replay and n-step returns)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from dqn_helpers.checks._core import (
    _describe,
    _is_number,
    _number,
    _on_error,
    checker,
    expect,
    fail,
)


def _reference_find(priorities: np.ndarray, value: float) -> int:
    """Prefix-sum sampling done by a linear scan: the first leaf whose running sum passes ``value``."""
    return int(np.searchsorted(np.cumsum(priorities), value, side="right"))


def _tree_total(tree: Any) -> float:
    total = tree.total() if callable(tree.total) else tree.total
    return _number(total)


def _find_mismatch(tree: Any, priorities: np.ndarray, values: Sequence[float]) -> str | None:
    """The first value whose ``tree.find`` differs from the linear scan, described; None if none."""
    for v in values:
        want = _reference_find(priorities, v)
        got = tree.find(float(v))
        if not _is_number(got) or int(got) != want:
            cum = np.cumsum(priorities)
            lo = cum[want - 1] if want else 0.0
            return (
                f"find({v:.6g}) should be leaf {want} (its prefix sums span [{lo:.6g}, {cum[want]:.6g})), "
                f"got {got!r}"
            )
    return None


@checker
def check_sum_tree(fn: Callable[..., Any]) -> str:
    """Exercise 9.2: ``fn`` is the class: ``fn(capacity)`` is a sum tree with ``update(index, priority)``, ``total`` and
    ``find(value) -> index``: the leaf where the running sum of priorities passes ``value``.
    Introduced in lesson 09."""
    with _on_error("SumTree(4) failed: {error}"):
        tree = fn(4)
        for i, p in enumerate([1.0, 2.0, 3.0, 4.0]):
            tree.update(i, p)
    with _on_error("reading total failed: {error}"):
        total = _tree_total(tree)
    expect(
        abs(total - 10.0) < 1e-9,
        f"with priorities [1, 2, 3, 4], total should be 10, got {total!r}: the root holds the sum of "
        "every leaf, and update must refresh every node on the way up to it.",
    )
    hand = [(0.0, 0), (0.99, 0), (1.0, 1), (2.5, 1), (3.0, 2), (5.99, 2), (6.0, 3), (9.99, 3)]
    for v, want in hand:
        with _on_error(f"find({v}) failed: {{error}}"):
            got = tree.find(v)
        if _is_number(got) and int(got) == want:
            continue
        slip = (
            " A value equal to the left child's sum belongs to the right subtree: go right when "
            "value >= left sum (and subtract the left sum)."
            if _is_number(got) and int(got) == want - 1 and v in (1.0, 3.0, 6.0)
            else " Going right, subtract the left child's sum from the value before descending."
            if _is_number(got) and int(got) == 3 and want < 3
            else " Descend from the root: go left when value < left child's sum, else go right "
            "with value − left sum; the leaf you reach is the index."
        )
        fail(
            f"priorities [1, 2, 3, 4]: find({v}) should be {want} (prefix sums 1, 3, 6, 10), "
            f"got {got!r}.{slip}"
        )
    with _on_error("update(1, 0.0) after the first updates failed: {error}"):
        tree.update(1, 0.0)
        total = _tree_total(tree)
        got = tree.find(1.0)
    expect(
        abs(total - 8.0) < 1e-9,
        f"after update(1, 0.0) on [1, 2, 3, 4] the total should be 8, got {total!r}: an update sets the "
        "leaf (it does not add to it), then recomputes each parent as the sum of its two children.",
    )
    expect(
        _is_number(got) and int(got) == 2,
        f"priorities [1, 0, 3, 4]: find(1.0) should be 2 (a leaf of priority 0 is never drawn), got {got!r}.",
    )
    rng = np.random.default_rng(10)
    for capacity in (1, 5, 37, 1000):  # sizes that are not powers of two, and a single leaf
        with _on_error(f"SumTree({capacity}) failed: {{error}}"):
            tree = fn(capacity)
        priorities = np.zeros(capacity)
        for _ in range(3 * capacity):  # random updates, the same index overwritten many times
            i = int(rng.integers(capacity))
            p = float(rng.choice([0.0, rng.exponential()])) if capacity > 1 else 0.5
            priorities[i] = p
            with _on_error(f"SumTree({capacity}).update({i}, {p:.3g}) failed: {{error}}"):
                tree.update(i, p)
        if priorities.sum() <= 0:
            priorities[0] = 1.0
            tree.update(0, 1.0)
        total = _tree_total(tree)
        expect(
            abs(total - priorities.sum()) <= 1e-9 * max(1.0, priorities.sum()),
            f"SumTree({capacity}) after {3 * capacity} random updates: total should be "
            f"{priorities.sum():.6g}, got {total!r}. Check that the tree has room for every leaf when "
            "capacity is not a power of two, and that an update refreshes every ancestor.",
        )
        values = rng.random(200) * priorities.sum()
        with _on_error(f"SumTree({capacity}).find failed: {{error}}"):
            problem = _find_mismatch(tree, priorities, values)
        expect(
            problem is None,
            f"SumTree({capacity}) after random updates: {problem}. The tree must sample as a linear "
            "scan of the prefix sums does.",
        )
    return (
        "sum tree right: total and find agree with prefix-sum sampling by a linear scan, after any "
        "sequence of updates, for every capacity (each update and each find visits one node per level)."
    )


def _reference_n_step_windows(
    rewards: Sequence[float], terminated: bool, gamma: float, n: int
) -> list[tuple[float, int, bool]]:
    """(G_t, m_t, done_t) for every step of one episode, as the n-step replay buffer stores them."""
    r = [float(x) for x in rewards]
    big_t = len(r)
    out = []
    for t in range(big_t):
        m = min(n, big_t - t)
        ret = sum(gamma**k * r[t + k] for k in range(m))
        out.append((ret, m, bool(terminated) and t + m == big_t))
    return out


def _window_slip(
    got: list[Any], rewards: Sequence[float], terminated: bool, gamma: float, n: int
) -> str:
    """Which common mistake explains a wrong list of windows."""
    want = _reference_n_step_windows(rewards, terminated, gamma, n)
    big_t = len(rewards)
    if len(got) != big_t:
        return (
            f"return one window per step of the episode ({big_t}), got {len(got)}: the last steps "
            "get shorter windows, they are not dropped."
        )
    for t, (item, (ret, m, done)) in enumerate(zip(got, want)):
        if not (isinstance(item, tuple | list) and len(item) == 3 and _is_number(item[0])):
            return f"window {t} should be a tuple (G, m, done), got {item!r}."
        g, gm, gd = _number(item[0]), item[1], item[2]
        if _number(gm) != m:
            return (
                f"window {t} should have m = {m} rewards, got {gm!r}: m = min(n, T − t), the window "
                "stops at the episode's last step."
            )
        if bool(gd) != done:
            if not terminated and gd:
                return (
                    f"window {t}: the episode was truncated, not terminated, so done must be False: "
                    "its target still bootstraps from s_(t+m)."
                )
            if terminated and done and not gd:
                return (
                    f"window {t} reaches the terminal step, so done must be True: every window with "
                    "the terminal inside it ends the episode, not only the last step's."
                )
            return f"window {t}: done should be {done}, got {gd!r}."
        if abs(g - ret) > 1e-6:
            plain = sum(float(x) for x in rewards[t : t + m])
            if abs(g - plain) <= 1e-6:
                return f"window {t}: discount the k-th reward by γᵏ (G = {ret:.6g}, got {g:.6g})."
            return f"window {t}: G should be Σ_(k<m) γᵏ r_(t+k) = {ret:.6g}, got {g:.6g}."
    return "compare your windows with G_t = Σ_(k<m) γᵏ r_(t+k), m = min(n, T − t)."


@checker
def check_n_step_windows(fn: Callable[..., Any]) -> str:
    """Exercise 9.4: ``fn(rewards, terminated, gamma, n)`` gives, for every step t of one episode, the
    triple ``(G, m, done)`` the n-step buffer stores: G = Σ_(k<m) γᵏ r_(t+k) with m = min(n, T − t), and
    done = True only if the episode terminated (not truncated) and the window reaches its end.
    Introduced in lesson 09."""
    cases = [
        ("a terminated episode of 4 steps, n = 3", [1.0, 1.0, 1.0, 1.0], True, 0.5, 3),
        ("a truncated episode of 4 steps, n = 3", [1.0, 1.0, 1.0, 1.0], False, 0.5, 3),
        ("an episode shorter than n", [2.0, 3.0], True, 0.9, 5),
        ("n = 1, the plain DQN transitions", [1.0, 0.0, 1.0], True, 0.9, 1),
        ("a one-step episode", [1.0], False, 0.99, 3),
    ]
    rng = np.random.default_rng(1010)
    for _ in range(20):
        big_t, n = int(rng.integers(1, 12)), int(rng.integers(1, 6))
        rewards = rng.choice([-1.0, 0.0, 1.0, 2.0], size=big_t)
        cases.append(
            (
                f"a random episode of {big_t} steps (NumPy array), n = {n}",
                rewards,
                bool(rng.random() < 0.5),
                float(rng.uniform(0.5, 1.0)),
                n,
            )
        )
    for what, rewards, terminated, gamma, n in cases:
        shown = "[" + ", ".join(f"{float(x):g}" for x in rewards) + "]"
        call = f"n_step_windows({shown}, terminated={terminated}, gamma={gamma:.3g}, n={n})"
        given = rewards.copy() if isinstance(rewards, np.ndarray) else list(rewards)
        try:
            got = list(fn(given, terminated, gamma, n))
        except IndexError as exc:
            fail(
                f"{call} ({what}): your code raised IndexError: {exc}. A window never reads past the "
                "episode's last reward: the windows of the last steps are shorter, m = min(n, T − t)."
            )
        except Exception as exc:  # noqa: BLE001 - any learner error becomes a hint
            fail(f"{call} ({what}): {_describe(exc)}")
        want = _reference_n_step_windows(rewards, terminated, gamma, n)
        ok = len(got) == len(want) and all(
            isinstance(item, tuple | list)
            and len(item) == 3
            and abs(_number(item[0]) - w[0]) <= 1e-6
            and _number(item[1]) == w[1]
            and bool(item[2]) == w[2]
            for item, w in zip(got, want)
        )
        if not ok:
            fail(f"{call} ({what}): {_window_slip(got, rewards, terminated, gamma, n)}")
    return (
        "n-step windows right: each window sums m = min(n, T − t) discounted rewards, and only the windows "
        "that reach a terminal step are done (e.g. 4 rewards of 1, γ = 0.5, n = 3, terminated: "
        "(1.75, 3, False), (1.75, 3, True), (1.5, 2, True), (1, 1, True))."
    )


# ------------------------------------------------------------- exercise 9.3: importance weights
def _weights_reference(probabilities: np.ndarray, n: int, beta: float) -> np.ndarray:
    """(N P(i))^-β, divided by the batch's largest."""
    w = (n * probabilities) ** (-beta)
    return w / w.max()


def _as_vector(out: Any, size: int, what: str) -> np.ndarray:
    """``out`` as a float array of shape (size,), or fail with a hint."""
    expect(out is not None, f"return the {what} (your function returned None).")
    if hasattr(out, "detach"):
        out = out.detach().cpu().numpy()
    arr = np.asarray(out, dtype=float)
    expect(
        arr.shape == (size,),
        f"expected {size} {what}, one per sampled transition, got shape {arr.shape}.",
    )
    return arr


@checker
def check_importance_weights(fn: Callable[..., Any]) -> str:
    """Exercise 9.1: ``fn(probabilities, n, beta)`` returns w_i = (N P(i))^-β / max_j w_j for a batch drawn with
    probabilities ``P(i)`` from ``n`` stored transitions. Hand cases, named slips, random batches against the
    formula. Introduced in lesson 09."""
    probs = np.array([0.5, 0.1, 0.02, 0.1])  # drawn from n = 10 stored transitions
    before = probs.copy()
    out = _as_vector(fn(probs, 10, 1.0), 4, "weights")
    expect(
        np.array_equal(probs, before),
        "your function changed the probabilities in place; leave them.",
    )
    right = _weights_reference(probs, 10, 1.0)  # (5, 1, 0.2, 1)^-1 / 5 = 0.04, 0.2, 1, 0.2
    if not np.allclose(out, right, rtol=1e-5):
        raw = (10 * probs) ** -1.0
        slips = {
            "divide by the batch's LARGEST weight, so that the weights only scale steps down (the largest is 1)": [
                raw,
                raw / raw.min(),
                raw / raw.sum(),
            ],
            "the exponent is -β: a transition drawn MORE often than uniform (N P(i) > 1) gets a SMALLER weight": [
                (10 * probs) ** 1.0 / ((10 * probs) ** 1.0).max()
            ],
            "multiply P(i) by N, the number of stored transitions: uniform sampling, P(i) = 1/N, has weight 1": [
                probs**-1.0,
            ],
        }
        hint = next(
            (h for h, cands in slips.items() if any(np.allclose(out, c, rtol=1e-5) for c in cands)),
            "w_i = (N · P(i))^(-β), then divide every weight by the largest one of the batch.",
        )
        fail(
            f"P = {probs.tolist()}, N = 10, β = 1: expected weights {np.round(right, 3).tolist()}, got "
            f"{np.round(out, 3).tolist()}: {hint}."
        )
    flat = _as_vector(fn(probs, 10, 0.0), 4, "weights")
    expect(
        np.allclose(flat, 1.0),
        f"with β = 0 there is no correction: every weight is 1, got {flat.tolist()}.",
    )
    uniform = _as_vector(fn(np.full(5, 0.01), 100, 0.7), 5, "weights")
    expect(
        np.allclose(uniform, 1.0),
        f"a uniform batch (P(i) = 1/N for all) needs no correction: every weight 1, got {uniform.tolist()}.",
    )
    rng = np.random.default_rng(93)
    for trial in range(30):
        n, batch, beta = int(rng.integers(2, 10_000)), int(rng.integers(1, 64)), float(rng.random())
        p = rng.exponential(size=batch) / n
        with _on_error(f"on random batch {trial} (N = {n}, β = {beta:.2f}): {{error}}"):
            w = _as_vector(fn(p, n, beta), batch, "weights")
        expect(
            np.allclose(w, _weights_reference(p, n, beta), rtol=1e-4),
            f"random batch {trial} (N = {n}, {batch} transitions, β = {beta:.2f}): the weights differ from "
            "(N P(i))^-β / max_j (N P(j))^-β.",
        )
    return "importance_weights is (N P(i))^-β divided by the batch's largest: 1 for uniform batches, ≤ 1 always."


# ------------------------------------------------------------- exercise 9.4: the priority update
class _RecordingTree:
    """A stand-in sum tree that records the leaves the learner sets (scalars or arrays)."""

    def __init__(self, capacity: int, initial: float) -> None:
        self.leaves = np.full(capacity, initial)

    @property
    def total(self) -> float:
        return float(self.leaves.sum())

    def update(self, index: Any, priority: Any) -> None:
        index = np.asarray(index)
        priority = np.broadcast_to(np.asarray(priority, dtype=float), index.shape)
        self.leaves[index] = priority


@checker
def check_priority_update(fn: Callable[..., Any]) -> str:
    """Exercise 9.3: ``fn(tree, indices, td_errors, alpha, eps, max_priority)`` sets each sampled leaf to
    (|δ_i| + ε)^α with ``tree.update`` and returns the new largest raw priority, max(max_priority,
    max_i |δ_i| + ε), which new transitions enter with. Any tree with ``update(index, priority)``; per-item or
    vectorised calls both pass. Introduced in lesson 09."""
    tree = _RecordingTree(6, initial=1.0)
    indices = np.array([4, 1, 2])
    deltas = np.array([-3.0, 0.0, 0.5])
    before = deltas.copy()
    new_max = fn(tree, indices, deltas, 0.5, 1e-6, 1.0)
    expect(
        np.array_equal(deltas, before), "your function changed the TD errors in place; leave them."
    )
    expected = (np.abs(deltas) + 1e-6) ** 0.5
    got = tree.leaves[indices]
    if not np.allclose(got, expected, rtol=1e-6):
        slips = {
            "a priority is |δ| + ε: take the absolute value, a negative TD error is as surprising as a positive one": (
                np.maximum(deltas, 0) + 1e-6
            )
            ** 0.5,
            "add ε before the exponent, so that a transition the network fits perfectly (δ = 0) can still be drawn": np.abs(
                deltas
            )
            ** 0.5,
            "raise the priority to the power α before storing it in the tree: P(i) ∝ p_i^α": np.abs(
                deltas
            )
            + 1e-6,
        }
        with np.errstate(invalid="ignore"):
            hint = next(
                (h for h, c in slips.items() if np.allclose(got, c, rtol=1e-6, equal_nan=True)),
                None,
            )
        fail(
            f"TD errors {deltas.tolist()}, α = 0.5, ε = 1e-6: leaves {indices.tolist()} should hold "
            f"{np.round(expected, 4).tolist()}, got {np.round(got, 4).tolist()}: "
            + (hint or "set each leaf to (|δ| + ε) ** α with tree.update(index, priority).")
            + "."
        )
    untouched = np.delete(np.arange(6), indices)
    expect(
        np.allclose(tree.leaves[untouched], 1.0),
        "only the sampled leaves change: you set leaves that were not in `indices`.",
    )
    expect(
        _is_number(new_max) and np.isclose(_number(new_max), 3.0 + 1e-6),
        f"return the largest raw priority so far, max(max_priority, |δ| + ε) = {3 + 1e-6}, got {new_max!r}"
        + (
            ": keep it before the exponent α (the buffer raises it to α when a new transition enters)."
            if _is_number(new_max) and np.isclose(_number(new_max), (3.0 + 1e-6) ** 0.5)
            else "."
        ),
    )
    kept = fn(_RecordingTree(6, 1.0), np.array([0]), np.array([0.1]), 0.6, 1e-6, 5.0)
    expect(
        _is_number(kept) and np.isclose(_number(kept), 5.0),
        f"the largest priority never goes down: with max_priority 5 and |δ| = 0.1 it stays 5, got {kept!r}.",
    )
    rng = np.random.default_rng(94)
    for trial in range(20):
        n, batch = int(rng.integers(2, 200)), int(rng.integers(1, 32))
        alpha, eps = float(rng.random()), float(10.0 ** -rng.integers(2, 7))
        tree = _RecordingTree(n, 0.7)
        idx = rng.choice(n, size=min(batch, n), replace=False)
        delta = rng.normal(scale=3, size=len(idx))
        old_max = float(rng.exponential())
        with _on_error(f"on random batch {trial}: {{error}}"):
            new_max = fn(tree, idx, delta, alpha, eps, old_max)
        expect(
            np.allclose(tree.leaves[idx], (np.abs(delta) + eps) ** alpha)
            and np.isclose(_number(new_max), max(old_max, float(np.max(np.abs(delta) + eps)))),
            f"random batch {trial} (α = {alpha:.2f}, ε = {eps:g}): the leaves or the returned largest priority "
            "differ from (|δ| + ε)^α and max(max_priority, max |δ| + ε).",
        )
    return "update_priorities stores (|δ| + ε)^α for the sampled leaves and keeps the largest raw priority."
