"""Lesson 10's ``pong.CapstoneBuffer`` (the learner's pieces as one replay memory) against a naive reference,
and the checker of exercise 10.6 (the loop that passes ``truncated``)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch

from dqn_helpers import checks, learner_loop, pong


def stacked_state(frames, episode_start, index, stack=4):
    first = index
    while not episode_start[first]:
        first -= 1
    return np.stack([frames[max(first, index - k)] for k in reversed(range(stack))])


def n_step_windows(rewards, terminated, gamma, n):
    out = []
    for t in range(len(rewards)):
        m = min(n, len(rewards) - t)
        G = sum(gamma**k * rewards[t + k] for k in range(m))
        out.append((G, m, bool(terminated and t + m == len(rewards))))
    return out


def importance_weights(probabilities, n, beta):
    w = (n * np.asarray(probabilities, dtype=float)) ** (-beta)
    return w / w.max()


def update_priorities(tree, indices, td_errors, alpha, eps, max_priority):
    raw = np.abs(td_errors) + eps
    tree.update(indices, raw**alpha)
    return max(max_priority, float(raw.max()))


PIECES = dict(
    stacked_state=stacked_state,
    n_step_windows=n_step_windows,
    importance_weights=importance_weights,
    update_priorities=update_priorities,
)


def episodes_stream(rng, n_episodes):
    """Steps (obs, action, reward, next_obs, terminated, truncated) of frame-stack episodes; each frame is
    filled with a unique id, so a stack tells which frames it holds. Also the naive transitions."""
    steps, naive, frame_id = [], [], 0
    for _ in range(n_episodes):
        length = int(rng.integers(1, 9))
        ends_by = "terminated" if rng.random() < 0.5 else "truncated"
        film = [frame_id]
        frame_id += 1
        for _ in range(length):
            film.append(frame_id)
            frame_id += 1
        rewards = rng.choice([-1.0, 0.0, 1.0], size=length).tolist()

        def stack(
            t, film=film
        ):  # state at step t: frames t-3..t of the film, padded with its first
            return np.stack(
                [np.full((84, 84), film[max(0, t - k)] % 251, np.uint8) for k in (3, 2, 1, 0)]
            )

        for t in range(length):
            last = t == length - 1
            steps.append(
                (
                    stack(t),
                    t % 6,
                    rewards[t],
                    stack(t + 1),
                    last and ends_by == "terminated",
                    last and ends_by == "truncated",
                )
            )
        for t in range(length):
            m = min(3, length - t)
            G = sum(0.9**k * rewards[t + k] for k in range(m))
            done = ends_by == "terminated" and t + m == length
            naive.append((stack(t), t % 6, G, stack(t + m), 0.9**m * (1 - done)))
    return steps, naive


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_capstone_buffer_matches_a_naive_reference(seed):
    rng = np.random.default_rng(seed)
    steps, naive = episodes_stream(rng, 12)
    buffer = pong.CapstoneBuffer(200, PIECES, gamma=0.9, n=3, alpha=0.6, beta=0.4, seed=seed)
    for step in steps:
        buffer.add(*step)
    assert len(buffer) == len(naive)
    batch = buffer.sample(64)
    for j, i in enumerate(batch.indices):
        obs, action, G, next_obs, discount = naive[
            i
        ]  # stored in order: transition i is the naive i
        assert np.array_equal(batch.obs[j].numpy(), obs)
        assert int(batch.actions[j]) == action
        assert float(batch.returns[j]) == pytest.approx(G, abs=1e-6)
        assert np.array_equal(batch.next_obs[j].numpy(), next_obs)
        assert float(batch.discounts[j]) == pytest.approx(discount, abs=1e-6)
    assert torch.allclose(
        batch.weights, torch.ones(64)
    )  # every transition entered at the same priority


def test_priorities_follow_the_td_errors():
    steps, _ = episodes_stream(np.random.default_rng(3), 20)
    buffer = pong.CapstoneBuffer(300, PIECES, gamma=0.9, n=3, alpha=1.0, beta=1.0, seed=0)
    for step in steps:
        buffer.add(*step)
    everything = np.arange(len(buffer))
    errors = np.where(everything == 5, 99.0, 1.0)  # one transition with a huge TD error
    buffer.update_priorities(everything, torch.as_tensor(errors))
    assert buffer.max_priority == pytest.approx(99.0 + 1e-6)
    batch = buffer.sample(32)
    share = np.mean(batch.indices == 5)
    assert share > 0.4, "a transition with ~70% of the total priority fills most of the batch"
    assert float(batch.weights[batch.indices == 5][0]) < float(
        batch.weights[batch.indices != 5].min()
    )


def test_a_cut_episode_must_be_announced():
    steps, _ = episodes_stream(np.random.default_rng(4), 6)
    buffer = pong.CapstoneBuffer(100, PIECES, gamma=0.9, n=3, alpha=0.6, beta=0.4)
    with pytest.raises(ValueError, match="terminated, truncated"):
        for obs, action, reward, next_obs, terminated, _truncated in steps:
            buffer.add(obs, action, reward, next_obs, terminated)  # truncation not passed on


def test_missing_pieces_and_a_full_buffer_are_refused():
    with pytest.raises(ValueError, match="update_priorities"):
        pong.CapstoneBuffer(
            10,
            {k: v for k, v in PIECES.items() if k != "update_priorities"},
            gamma=0.9,
            n=3,
            alpha=0.6,
            beta=0.4,
        )
    steps, _ = episodes_stream(np.random.default_rng(5), 10)
    buffer = pong.CapstoneBuffer(5, PIECES, gamma=0.9, n=3, alpha=0.6, beta=0.4)
    with pytest.raises(ValueError, match="full"):
        for step in steps:
            buffer.add(*step)


def _variant(old: str, new: str):
    src = inspect.getsource(learner_loop.dqn_loop)
    assert src.count(old) == 1
    namespace = dict(vars(learner_loop))
    exec(src.replace(old, new), namespace)  # noqa: S102 - a loop built from the package's own source
    return namespace["dqn_loop"]


def test_check_loop_streams(capsys):
    assert checks.check_loop_streams(learner_loop.dqn_loop)
    slips = {
        "five arguments": _variant("terminated, truncated)", "terminated)"),
        "truncated flag passed to buffer.add is False": _variant(
            "terminated, truncated)", "terminated, False)"
        ),
        "store `terminated` only": _variant(
            "terminated, truncated)", "terminated or truncated, truncated)"
        ),
    }
    capsys.readouterr()
    for hint, loop in slips.items():
        assert not checks.check_loop_streams(loop)
        assert hint in capsys.readouterr().out
