"""Lesson 09 (prioritized replay, n-step returns): its checkers agree with the package's buffers and
name the common slips (the stubs and solutions themselves: test_exercises.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dqn_helpers import buffers, checks

HINT = "❌ Not yet. Hint: "


class PackageTree:
    """The package's vectorised buffers.SumTree behind the exercise's scalar interface."""

    def __init__(self, capacity: int) -> None:
        self.tree = buffers.SumTree(capacity)

    @property
    def total(self) -> float:
        return self.tree.total

    def update(self, index: int, priority: float) -> None:
        self.tree.update(index, priority)

    def find(self, value: float) -> int:
        return int(self.tree.find([value])[0])


class LeftOnTies(PackageTree):
    """Walks left when the value equals the left sum: off by one at every boundary."""

    def find(self, value: float) -> int:
        p = self.tree.priorities
        return int(np.searchsorted(np.cumsum(p), value, side="left"))


class AddsInsteadOfSets(PackageTree):
    """update adds to the leaf instead of setting it."""

    def update(self, index: int, priority: float) -> None:
        self.tree.update(index, self.tree.get([index])[0] + priority)


def windows_from_buffer(rewards, terminated: bool, gamma: float, n: int) -> list[tuple]:
    """The (G, m, done) the package's n-step ReplayBuffer stores for one episode, in step order."""
    buffer = buffers.ReplayBuffer(256, (1,), n_step=n, gamma=gamma)
    last = len(rewards) - 1
    for t, r in enumerate(rewards):
        buffer.add([t], 0, r, [t + 1], terminated and t == last, (not terminated) and t == last)
    stored = buffer.get(np.arange(len(buffer)))
    order = np.argsort(stored.obs[:, 0].numpy())
    return [
        (
            float(stored.rewards[i]),
            round(np.log(float(stored.discounts[i])) / np.log(gamma)),
            bool(stored.terminated[i]),
        )
        for i in order
    ]


def test_the_package_tree_passes_the_sum_tree_checker(capsys):
    assert checks.check_sum_tree(PackageTree)
    assert capsys.readouterr().out.startswith("✅")


@pytest.mark.parametrize(
    ("tree", "hint"),
    [(LeftOnTies, "belongs to the right subtree"), (AddsInsteadOfSets, "sets the leaf")],
)
def test_the_sum_tree_checker_names_the_slip(tree, hint, capsys):
    assert not checks.check_sum_tree(tree)
    printed = capsys.readouterr().out
    assert printed.startswith(HINT) and hint in printed, printed


@pytest.mark.parametrize("seed", range(20))
def test_the_n_step_checker_reference_is_what_the_buffer_stores(seed):
    rng = np.random.default_rng(seed)
    big_t, n, gamma = (
        int(rng.integers(1, 15)),
        int(rng.integers(1, 6)),
        float(rng.uniform(0.5, 0.99)),
    )
    rewards, terminated = rng.normal(size=big_t).tolist(), bool(rng.random() < 0.5)
    want = checks.prioritized._reference_n_step_windows(rewards, terminated, gamma, n)
    got = windows_from_buffer(rewards, terminated, gamma, n)
    assert [(m, d) for _, m, d in got] == [(m, d) for _, m, d in want]
    assert np.allclose([g for g, _, _ in got], [g for g, _, _ in want], atol=1e-5)


def test_the_buffer_passes_the_n_step_checker(capsys):
    assert checks.check_n_step_windows(windows_from_buffer)
    assert capsys.readouterr().out.startswith("✅")


def _truncation_is_terminal(rewards, terminated, gamma, n):
    return windows_from_buffer(rewards, True, gamma, n)


def _only_the_last_step_is_done(rewards, terminated, gamma, n):
    windows = windows_from_buffer(rewards, terminated, gamma, n)
    return [(g, m, d and t == len(windows) - 1) for t, (g, m, d) in enumerate(windows)]


def _windows_read_past_the_end(rewards, terminated, gamma, n):
    return [
        (sum(gamma**k * rewards[t + k] for k in range(n)), n, terminated)
        for t in range(len(rewards))
    ]


@pytest.mark.parametrize(
    ("fn", "hint"),
    [
        (_truncation_is_terminal, "truncated, not terminated"),
        (_only_the_last_step_is_done, "every window with the terminal inside it"),
        (_windows_read_past_the_end, "m = min(n, T − t)"),
    ],
)
def test_the_n_step_checker_names_the_slip(fn, hint, capsys):
    assert not checks.check_n_step_windows(fn)
    printed = capsys.readouterr().out
    assert printed.startswith(HINT) and hint in printed, printed


# ---------------------------------------------------------------- exercise 9.1: importance weights
def _weights(p, n, beta):  # correct, NumPy
    w = (n * np.asarray(p)) ** (-beta)
    return w / w.max()


def _weights_torch(p, n, beta):  # correct, torch, via the smallest probability
    p = torch.as_tensor(p, dtype=torch.float64)
    return (p / p.min()) ** (-beta)


@pytest.mark.parametrize("fn", [_weights, _weights_torch])
def test_check_importance_weights_passes_correct_variants(fn, run_checker):
    ok, printed = run_checker(checks.check_importance_weights, fn)
    assert ok, printed


@pytest.mark.parametrize(
    ("fn", "named"),
    [
        (lambda p, n, b: (n * np.asarray(p)) ** (-b), "LARGEST weight"),
        (lambda p, n, b: _weights(p, n, -b), "the exponent is -β"),
        (lambda p, n, b: np.asarray(p) ** (-b), "multiply P(i) by N"),
    ],
)
def test_check_importance_weights_names_each_slip(fn, named, run_checker):
    ok, printed = run_checker(checks.check_importance_weights, fn)
    assert not ok and named in printed, printed


def test_importance_weights_match_the_package_buffer():
    buffer = buffers.PrioritizedReplayBuffer(50, (1,), alpha=0.6, beta=0.5, seed=0)
    for k in range(50):
        buffer.add([float(k)], 0, 0.0, [0.0], True)
    buffer.update_priorities(np.arange(50), np.random.default_rng(0).exponential(size=50))
    batch = buffer.sample(16)
    tree = buffers.SumTree(50)
    tree.update(np.arange(50), (np.random.default_rng(0).exponential(size=50) + 1e-6) ** 0.6)
    probs = tree.get(batch.indices) / tree.total
    assert np.allclose(_weights(probs, 50, 0.5), batch.weights.numpy(), rtol=1e-5)


# ---------------------------------------------------------------- exercise 9.3: the priority update
def _update_vectorised(tree, indices, td_errors, alpha, eps, max_priority):
    priorities = np.abs(td_errors) + eps
    tree.update(indices, priorities**alpha)
    return max(max_priority, float(priorities.max()))


def _update_per_item(tree, indices, td_errors, alpha, eps, max_priority):
    for index, delta in zip(indices, td_errors):
        priority = abs(float(delta)) + eps
        tree.update(int(index), priority**alpha)
        max_priority = max(max_priority, priority)
    return max_priority


@pytest.mark.parametrize("fn", [_update_vectorised, _update_per_item])
def test_check_priority_update_passes_correct_variants(fn, run_checker):
    ok, printed = run_checker(checks.check_priority_update, fn)
    assert ok, printed


def _no_abs(tree, indices, td, alpha, eps, max_priority):
    return _update_vectorised(tree, indices, np.maximum(td, 0), alpha, eps, max_priority)


def _no_eps(tree, indices, td, alpha, eps, max_priority):
    return _update_vectorised(tree, indices, td, alpha, 0.0, max_priority)


def _no_alpha(tree, indices, td, alpha, eps, max_priority):
    return _update_vectorised(tree, indices, td, 1.0, eps, max_priority)


def _max_after_alpha(tree, indices, td, alpha, eps, max_priority):
    priorities = (np.abs(td) + eps) ** alpha
    tree.update(indices, priorities)
    return max(max_priority, float(priorities.max()))


def _max_lowered(tree, indices, td, alpha, eps, max_priority):
    _update_vectorised(tree, indices, td, alpha, eps, max_priority)
    return float(np.max(np.abs(td) + eps))


@pytest.mark.parametrize(
    ("fn", "named"),
    [
        (_no_abs, "take the absolute value"),
        (_no_eps, "add ε"),
        (_no_alpha, "power α"),
        (_max_after_alpha, "before the exponent α"),
        (_max_lowered, "never goes down"),
    ],
)
def test_check_priority_update_names_each_slip(fn, named, run_checker):
    ok, printed = run_checker(checks.check_priority_update, fn)
    assert not ok and named in printed, printed
