"""Tests for dqn_helpers.buffers: every buffer against a naive list-based reference, hand-computed
n-step returns, a real frame-stacked Pong stream, sum-tree statistics, validation, state round trip."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from dqn_helpers import buffers

# ----------------------------------------------------------------------------------------------
# naive reference: whole episodes in Python lists, n-step returns summed the obvious way
# ----------------------------------------------------------------------------------------------


class NaiveNStep:
    """Emits the same transitions, in the same order, as a buffer should store them."""

    def __init__(self, n_step: int, gamma: float) -> None:
        self.n, self.gamma = n_step, gamma
        self.episode: list[tuple] = []
        self.done_upto = 0  # windows of the current episode already emitted
        self.out: list[dict] = []

    def add(self, obs, action, reward, next_obs, terminated, truncated, tag=None) -> None:
        self.episode.append((np.array(obs), action, reward, np.array(next_obs), terminated, tag))
        length = len(self.episode)
        ready = length if (terminated or truncated) else length - self.n + 1
        for i in range(self.done_upto, ready):
            m = min(self.n, length - i)
            ret = 0.0
            for k in range(m):
                ret += self.gamma**k * self.episode[i + k][2]
            last = self.episode[i + m - 1]
            self.out.append(
                dict(
                    obs=self.episode[i][0],
                    action=self.episode[i][1],
                    reward=ret,
                    next_obs=last[3],
                    terminated=float(last[4]),
                    discount=self.gamma**m,
                    tag=self.episode[i][5],
                )
            )
        self.done_upto = max(self.done_upto, ready)
        if terminated or truncated:
            self.episode, self.done_upto = [], 0


def assert_batch_matches(batch: buffers.Batch, expected: list[dict]) -> None:
    """Exact comparison of a Batch with reference transitions (rewards to float32 rounding)."""
    assert len(batch.obs) == len(expected)
    np.testing.assert_array_equal(batch.obs.numpy(), np.stack([e["obs"] for e in expected]))
    np.testing.assert_array_equal(
        batch.next_obs.numpy(), np.stack([e["next_obs"] for e in expected])
    )
    np.testing.assert_array_equal(batch.actions.numpy(), [e["action"] for e in expected])
    np.testing.assert_allclose(
        batch.rewards.numpy(), [e["reward"] for e in expected], rtol=1e-6, atol=1e-6
    )
    np.testing.assert_array_equal(batch.terminated.numpy(), [e["terminated"] for e in expected])
    np.testing.assert_allclose(
        batch.discounts.numpy(), [e["discount"] for e in expected], rtol=1e-6
    )


def stored_positions(buf) -> list[int]:
    """Storage positions that hold a transition, oldest first, read from the public state_dict."""
    state = buf.state_dict()
    cap = buf.capacity
    if isinstance(buf, buffers.FrameReplayBuffer):  # one slot per frame; some hold no transition
        written, valid = state["written"], state["storage"]["valid"].numpy()
        start = written % cap if written >= cap else 0
        return [s for s in ((start + j) % cap for j in range(min(written, cap))) if valid[s]]
    start = state["pos"] if state["size"] == cap else 0  # full: the oldest is the next overwritten
    return [(start + j) % cap for j in range(state["size"])]


def priorities(buf) -> np.ndarray:
    """The sum tree's leaf priorities p**alpha, one per storage position (public state_dict)."""
    return buf.state_dict()["sampler"]["tree"]["priorities"].numpy()


def full_windows(batch: buffers.Batch, buf) -> np.ndarray:
    """Which transitions of a batch span all n_step steps (not shortened by an episode end)."""
    return np.isclose(batch.discounts.numpy(), buf.gamma**buf.n_step, rtol=1e-6)


def random_vector_stream(rng: np.random.Generator, n_steps: int, obs_dim: int = 3):
    """Steps of random episodes (length 1..9) ending by termination or truncation."""
    obs = rng.normal(size=obs_dim).astype(np.float32)
    left = int(rng.integers(1, 10))
    for _ in range(n_steps):
        next_obs = rng.normal(size=obs_dim).astype(np.float32)
        left -= 1
        end = left == 0
        terminated = bool(end and rng.random() < 0.5)
        truncated = end and not terminated
        yield obs, int(rng.integers(0, 4)), float(rng.normal()), next_obs, terminated, truncated
        if end:
            obs = rng.normal(size=obs_dim).astype(np.float32)
            left = int(rng.integers(1, 10))
        else:
            obs = next_obs


def stacked_stream(
    rng: np.random.Generator,
    n_steps: int,
    stack: int = 4,
    frame_shape=(2, 3),
    padding: str = "reset",
    levels: int = 2,
    max_len: int = 9,
):
    """A frame-stacked stream built like gymnasium's FrameStackObservation (newest frame last).

    Few grey levels on tiny frames make equal frames common, which stresses the equality logic.
    """

    def new_frame():
        return rng.integers(0, levels, size=frame_shape).astype(np.uint8)

    def reset():
        first = new_frame()
        pad = first if padding == "reset" else np.zeros(frame_shape, np.uint8)
        return np.stack([pad] * (stack - 1) + [first]), int(rng.integers(1, max_len + 1))

    obs, left = reset()
    for _ in range(n_steps):
        next_obs = np.concatenate([obs[1:], new_frame()[None]])
        left -= 1
        end = left == 0
        terminated = bool(end and rng.random() < 0.5)
        truncated = end and not terminated
        yield (
            obs,
            int(rng.integers(0, 6)),
            float(rng.integers(-1, 2)),
            next_obs,
            terminated,
            truncated,
        )
        if end:
            obs, left = reset()
        else:
            obs = next_obs


# ----------------------------------------------------------------------------------------------
# ReplayBuffer / PrioritizedReplayBuffer storage against the reference
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("prioritized", [False, True])
@pytest.mark.parametrize("n_step", [1, 3])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vector_buffer_matches_naive_reference(prioritized, n_step, seed):
    rng = np.random.default_rng(seed)
    capacity = 7
    cls = buffers.PrioritizedReplayBuffer if prioritized else buffers.ReplayBuffer
    buf = cls(capacity, (3,), seed=seed, n_step=n_step, gamma=0.9)
    ref = NaiveNStep(n_step, 0.9)
    for step, (o, a, r, o2, te, tr) in enumerate(random_vector_stream(rng, 120)):
        buf.add(o, a, r, o2, te, tr)
        ref.add(o, a, r, o2, te, tr)
        assert len(buf) == min(len(ref.out), capacity)
        if step % 5 == 0 and len(buf):
            # the k-th stored transition lives at position k % capacity (circular overwrite)
            expected = [ref.out[k] for k in range(len(ref.out))][-capacity:]
            slots = [k % capacity for k in range(len(ref.out))][-capacity:]
            assert slots == stored_positions(buf)
            assert_batch_matches(buf.get(slots), expected)
            batch = buf.sample(min(5, len(buf)))  # sampling must not disturb storage
            assert_batch_matches(batch, [expected[slots.index(int(i))] for i in batch.indices])
    assert len(ref.out) > 3 * capacity  # wrap-around happened several times


def test_batch_dtypes_shapes_and_uniform_weights():
    buf = buffers.ReplayBuffer(10, (4,), seed=0)
    for i in range(9):
        buf.add(np.full(4, i, np.float32), i % 2, 1.0, np.full(4, i + 1, np.float32), i == 5)
    batch = buf.sample(8)
    assert isinstance(batch, buffers.Batch)
    assert batch._fields[-1] == "discounts"
    assert batch.obs.shape == (8, 4) and batch.obs.dtype == torch.float32
    assert batch.actions.dtype == torch.int64 and batch.indices.dtype == torch.int64
    for t in (batch.rewards, batch.terminated, batch.weights, batch.discounts):
        assert t.shape == (8,) and t.dtype == torch.float32 and t.device.type == "cpu"
    assert torch.equal(batch.weights, torch.ones(8))
    assert torch.allclose(batch.discounts, torch.full((8,), 0.99))
    # next_obs is obs + 1 in this stream, whatever was sampled
    assert torch.equal(batch.next_obs, batch.obs + 1)
    # uniform sampling over stored positions, vectorised: every slot shows up
    seen = torch.cat([buf.sample(6).indices for _ in range(50)])
    assert set(seen.tolist()) == set(range(9))


# ----------------------------------------------------------------------------------------------
# n-step values computed by hand
# ----------------------------------------------------------------------------------------------


def _make(kind: str, **kw):
    if kind == "vector":
        return buffers.ReplayBuffer(20, (1,), seed=0, **kw)
    if kind == "per":
        return buffers.PrioritizedReplayBuffer(20, (1,), seed=0, **kw)
    return buffers.FrameReplayBuffer(20, frame_shape=(1,), stack=2, seed=0, **kw)


def _obs(kind: str, t: int):
    if kind == "frames":  # stack of the frames t-1 and t (the first one padded with itself)
        return np.array([[max(t - 1, 0)], [t]], dtype=np.uint8)
    return np.array([t], dtype=np.float32)


def _run_episode(buf, kind, rewards, terminated=False, truncated=False):
    for t, r in enumerate(rewards):
        last = t == len(rewards) - 1
        buf.add(_obs(kind, t), t, r, _obs(kind, t + 1), terminated and last, truncated and last)


def _stored(buf):
    batch = buf.get(stored_positions(buf))
    order = np.argsort(batch.actions.numpy())  # action = start step, so this is time order
    return {k: getattr(batch, k).numpy()[order] for k in batch._fields}


@pytest.mark.parametrize("kind", ["vector", "per", "frames"])
def test_n_step_returns_by_hand_terminated(kind):
    buf = _make(kind, n_step=3, gamma=0.5)
    _run_episode(buf, kind, [1.0, 2.0, 3.0], terminated=True)
    s = _stored(buf)
    # G0 = 1 + 0.5*2 + 0.25*3, G1 = 2 + 0.5*3, G2 = 3 ; all end in the terminal state
    np.testing.assert_allclose(s["rewards"], [2.75, 3.5, 3.0])
    np.testing.assert_allclose(s["discounts"], [0.125, 0.25, 0.5])
    np.testing.assert_array_equal(s["terminated"], [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(s["next_obs"][:, -1].ravel(), [3, 3, 3])
    np.testing.assert_array_equal(s["obs"][:, -1].ravel(), [0, 1, 2])


@pytest.mark.parametrize("kind", ["vector", "per", "frames"])
def test_n_step_returns_by_hand_truncated_bootstraps(kind):
    buf = _make(kind, n_step=3, gamma=0.5)
    _run_episode(buf, kind, [1.0, 2.0, 3.0], truncated=True)
    s = _stored(buf)
    np.testing.assert_allclose(s["rewards"], [2.75, 3.5, 3.0])
    np.testing.assert_allclose(s["discounts"], [0.125, 0.25, 0.5])
    np.testing.assert_array_equal(s["terminated"], [0.0, 0.0, 0.0])  # time limit: bootstrap


@pytest.mark.parametrize("kind", ["vector", "per", "frames"])
def test_n_step_windows_wait_for_n_steps(kind):
    buf = _make(kind, n_step=3, gamma=0.5)
    _run_episode(buf, kind, [1.0, 2.0])  # episode still running: no window is complete
    assert len(buf) == 0
    buf.add(_obs(kind, 2), 2, 4.0, _obs(kind, 3), False)
    s = _stored(buf)
    np.testing.assert_allclose(s["rewards"], [1.0 + 0.5 * 2.0 + 0.25 * 4.0])
    np.testing.assert_allclose(s["discounts"], [0.125])
    np.testing.assert_array_equal(s["terminated"], [0.0])
    np.testing.assert_array_equal(s["next_obs"][:, -1].ravel(), [3])  # obs 3 steps later
    buf.add(_obs(kind, 3), 3, 8.0, _obs(kind, 4), True)  # termination flushes m = 3, 2, 1
    s = _stored(buf)
    np.testing.assert_allclose(s["rewards"], [3.0, 2.0 + 2.0 + 2.0, 4.0 + 4.0, 8.0])
    np.testing.assert_allclose(s["discounts"], [0.125, 0.125, 0.25, 0.5])
    np.testing.assert_array_equal(s["terminated"], [0.0, 1.0, 1.0, 1.0])


@pytest.mark.parametrize("kind", ["vector", "frames"])
def test_one_step_and_short_episode(kind):
    buf = _make(kind, n_step=1, gamma=0.9)
    _run_episode(buf, kind, [5.0, -1.0], terminated=True)
    s = _stored(buf)
    np.testing.assert_allclose(s["rewards"], [5.0, -1.0])
    np.testing.assert_allclose(s["discounts"], [0.9, 0.9])
    np.testing.assert_array_equal(s["terminated"], [0.0, 1.0])
    buf = _make(kind, n_step=3, gamma=0.5)
    _run_episode(buf, kind, [1.0, 2.0], terminated=True)  # episode shorter than n
    np.testing.assert_allclose(_stored(buf)["rewards"], [2.0, 2.0])
    np.testing.assert_allclose(_stored(buf)["discounts"], [0.25, 0.5])


# ----------------------------------------------------------------------------------------------
# FrameReplayBuffer against the reference (synthetic streams)
# ----------------------------------------------------------------------------------------------


class FrameModel:
    """Reference bookkeeping: which emitted transitions still have all their frames in store.

    Each frame is kept once: at an episode start the initial stack minus its repeated leading
    frames, then one new frame per step. A transition needs the frames from the oldest one of its
    obs (never before its episode's first stored frame) to the newest one of its next_obs.
    """

    def __init__(self, capacity: int, stack: int, n_step: int, gamma: float) -> None:
        self.capacity, self.stack = capacity, stack
        self.ref = NaiveNStep(n_step, gamma)
        self.written = 0
        self.episode_first = 0
        self.open = False

    def add(self, o, a, r, o2, te, tr) -> None:
        if not self.open:
            lead = 0
            while lead < self.stack - 1 and np.array_equal(o[lead], o[lead + 1]):
                lead += 1
            self.episode_first = self.written
            self.written += self.stack - lead
        newest = self.written - 1  # frame number of obs's newest frame
        self.written += 1
        self.ref.add(o, a, r, o2, te, tr, tag=max(self.episode_first, newest - self.stack + 1))
        self.open = not (te or tr)

    def alive(self) -> list[dict]:
        oldest_kept = self.written - self.capacity
        return [t for t in self.ref.out if t["tag"] >= oldest_kept]


def check_frame_buffer(buf: buffers.FrameReplayBuffer, model: FrameModel, rng) -> None:
    """Stored transitions == exactly the alive suffix of the reference, rebuilt bit for bit."""
    expected = model.alive()
    slots = stored_positions(buf)
    assert len(buf) == len(slots) == len(expected)
    assert expected == model.ref.out[len(model.ref.out) - len(expected) :]  # a suffix
    if not slots:
        return
    everything = buf.get(slots)
    assert_batch_matches(everything, expected)
    full = np.flatnonzero(full_windows(everything, buf)).tolist()
    if buf.n_step > 1 and 0 < len(full) < len(slots):  # only full windows: the one-window gather
        assert_batch_matches(buf.get([slots[k] for k in full]), [expected[k] for k in full])
    by_slot = dict(zip(slots, expected))
    batch = buf.sample(min(16, len(buf)))
    assert_batch_matches(batch, [by_slot[int(i)] for i in batch.indices])


@pytest.mark.parametrize(
    "padding, n_step, prioritized, capacity, seed",
    [
        ("reset", 1, False, 13, 0),
        ("reset", 3, False, 13, 1),
        ("zero", 1, True, 11, 2),
        ("zero", 3, True, 17, 3),
        ("reset", 3, True, 7, 4),  # capacity = stack + n_step: the tightest allowed
        ("zero", 1, False, 5, 5),
    ],
)
def test_frame_buffer_matches_reference(padding, n_step, prioritized, capacity, seed):
    rng = np.random.default_rng(seed)
    stack = 4
    buf = buffers.FrameReplayBuffer(
        capacity,
        frame_shape=(2, 3),
        stack=stack,
        seed=seed,
        n_step=n_step,
        gamma=0.9,
        prioritized=prioritized,
    )
    model = FrameModel(capacity, stack, n_step, 0.9)
    for step, (o, a, r, o2, te, tr) in enumerate(
        stacked_stream(rng, 150, stack=stack, padding=padding, max_len=8)
    ):
        buf.add(o, a, r, o2, te, tr)
        model.add(o, a, r, o2, te, tr)
        if step % 3 == 0:
            check_frame_buffer(buf, model, rng)
        if prioritized and len(buf) and step % 4 == 0:
            batch = buf.sample(min(4, len(buf)))
            buf.update_priorities(batch.indices, rng.normal(size=len(batch.indices)))
    check_frame_buffer(buf, model, rng)
    assert model.written > 5 * capacity


def test_frame_buffer_stack_1_and_unflagged_episode_switch():
    rng = np.random.default_rng(7)
    buf = buffers.FrameReplayBuffer(9, frame_shape=(3,), stack=1, seed=0)
    model = FrameModel(9, 1, 1, 0.99)
    for o, a, r, o2, te, tr in stacked_stream(rng, 60, stack=1, frame_shape=(3,), levels=3):
        buf.add(o, a, r, o2, te, tr)
        model.add(o, a, r, o2, te, tr)
        check_frame_buffer(buf, model, rng)
    # a stack that does not continue the last one, without an episode end, is still stored exactly
    buf = buffers.FrameReplayBuffer(10, frame_shape=(1,), stack=2, seed=0)
    a0, a1, b0, b1 = (np.array([[v]], np.uint8) for v in (1, 2, 7, 8))
    buf.add(np.concatenate([a0, a0]), 0, 0.0, np.concatenate([a0, a1]), False)
    buf.add(np.concatenate([b0, b0]), 1, 0.0, np.concatenate([b0, b1]), False)
    batch = buf.get(stored_positions(buf))
    assert batch.obs[:, :, 0].tolist() == [[1, 1], [7, 7]]
    assert batch.next_obs[:, :, 0].tolist() == [[1, 2], [7, 8]]


def test_frame_batch_obs_and_next_obs_are_views_of_one_window():
    """s and s' share stack-1 frames: they are gathered once, and the network takes the views."""
    from dqn_helpers import networks

    rng = np.random.default_rng(11)
    for n_step in (1, 3):
        buf = buffers.FrameReplayBuffer(150, frame_shape=(84, 84), stack=4, seed=1, n_step=n_step)
        model = FrameModel(150, 4, n_step, 0.99)
        for o, a, r, o2, te, tr in stacked_stream(
            rng, 200, frame_shape=(84, 84), levels=256, max_len=40
        ):
            buf.add(o, a, r, o2, te, tr)
            model.add(o, a, r, o2, te, tr)
        slots, expected = stored_positions(buf), model.alive()
        is_full = full_windows(buf.get(slots), buf)
        full, short = np.flatnonzero(is_full).tolist(), np.flatnonzero(~is_full).tolist()
        assert len(full) > 100 and (n_step == 1) == (not short)
        batch = buf.get([slots[k] for k in full])
        assert_batch_matches(batch, [expected[k] for k in full])
        # one storage; the frames s and s' share are the same bytes
        assert batch.obs.untyped_storage().data_ptr() == batch.next_obs.untyped_storage().data_ptr()
        assert batch.obs[:, n_step:].data_ptr() == batch.next_obs[:, :-n_step].data_ptr()
        assert batch.obs.dtype == torch.uint8 and batch.obs.shape == batch.next_obs.shape
        if short:  # a batch with a shortened end-of-episode window: two stacks, still exact
            mixed = [full[0], short[0]]
            assert_batch_matches(buf.get([slots[k] for k in mixed]), [expected[k] for k in mixed])
    torch.manual_seed(0)
    net = networks.NatureCNN(n_actions=6)
    with torch.no_grad():
        assert not batch.next_obs.is_contiguous()
        views = net(batch.next_obs[:32])
        copies = net(batch.next_obs[:32].contiguous())
    torch.testing.assert_close(views, copies, rtol=0, atol=0)


# ----------------------------------------------------------------------------------------------
# FrameReplayBuffer on a real frame-stacked Pong stream
# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pong_stream():
    gym = pytest.importorskip("gymnasium")
    ale_py = pytest.importorskip("ale_py")
    from gymnasium.wrappers import AtariPreprocessing, FrameStackObservation, TimeLimit

    gym.register_envs(ale_py)
    env = gym.make("ALE/Pong-v5", frameskip=1)
    env = AtariPreprocessing(env, frame_skip=4, screen_size=84, noop_max=30)
    env = TimeLimit(FrameStackObservation(env, stack_size=4), max_episode_steps=150)
    env.action_space.seed(0)
    obs, _ = env.reset(seed=0)
    steps = []
    for _ in range(400):  # episodes of 150, 150 and an open one of 100 steps
        action = int(env.action_space.sample())
        next_obs, reward, terminated, truncated, _ = env.step(action)
        steps.append((obs, action, float(reward), next_obs, terminated, truncated))
        obs = env.reset()[0] if (terminated or truncated) else next_obs
    env.close()
    assert sum(te or tr for *_, te, tr in steps) >= 2
    return steps


@pytest.mark.parametrize("n_step, prioritized, capacity", [(1, False, 200), (3, True, 128)])
def test_frame_buffer_on_real_pong_stream(pong_stream, n_step, prioritized, capacity):
    rng = np.random.default_rng(0)
    buf = buffers.FrameReplayBuffer(
        capacity, seed=0, n_step=n_step, gamma=0.99, prioritized=prioritized
    )
    model = FrameModel(capacity, 4, n_step, 0.99)
    for step, (o, a, r, o2, te, tr) in enumerate(pong_stream):
        assert o.shape == (4, 84, 84) and o.dtype == np.uint8
        buf.add(o, a, r, o2, te, tr)
        model.add(o, a, r, o2, te, tr)
        if step % 37 == 0 or te or tr or step == len(pong_stream) - 1:
            check_frame_buffer(buf, model, rng)
    assert model.written > 2 * capacity  # wrapped around
    # many random batches: every obs / next_obs is exactly one that was added
    by_slot = dict(zip(stored_positions(buf), model.alive()))
    for _ in range(20):
        batch = buf.sample(32)
        assert_batch_matches(batch, [by_slot[int(i)] for i in batch.indices])
    # storage is one 84x84 frame per slot plus a few bytes of bookkeeping
    assert buf.nbytes <= 1.05 * 84 * 84 * capacity


@pytest.mark.parametrize("prioritized", [False, True])
def test_frame_buffer_memory_at_100k(prioritized):
    buf = buffers.FrameReplayBuffer(100_000, prioritized=prioritized)  # np.zeros: pages lazy
    per_transition = buf.nbytes / buf.capacity
    assert 7056 <= per_transition <= 1.05 * 7056
    vec = buffers.ReplayBuffer(1000, (4,))
    assert vec.nbytes == 1000 * (4 * 4 * 2 + 8 + 4 + 4 + 4)


# ----------------------------------------------------------------------------------------------
# sum tree and prioritized sampling
# ----------------------------------------------------------------------------------------------


def test_sum_tree_by_hand():
    tree = buffers.SumTree(5)  # not a power of two
    tree.update([0, 1, 2, 3, 4], [1.0, 0.0, 3.0, 2.0, 0.5])
    assert tree.total == pytest.approx(6.5)
    # running sums 1, 1, 4, 6, 6.5: each value lands where the running sum passes it
    values = [0.0, 0.999, 1.0, 3.99, 4.0, 5.99, 6.0, 6.49, 6.5, 7.0]
    assert tree.find(values).tolist() == [0, 0, 2, 2, 3, 3, 4, 4, 4, 4]  # never the empty leaf 1
    tree.update(2, 0.0)
    assert tree.total == pytest.approx(3.5)
    assert tree.find([1.5]).tolist() == [3]
    np.testing.assert_allclose(tree.priorities, [1.0, 0.0, 0.0, 2.0, 0.5])
    np.testing.assert_allclose(tree.get([3, 4]), [2.0, 0.5])
    one = buffers.SumTree(1)
    one.update(0, 2.0)
    assert one.total == 2.0 and one.find([1.9]).tolist() == [0]
    with pytest.raises(ValueError, match="total priority is 0"):
        buffers.SumTree(3).find([0.0])
    with pytest.raises(ValueError, match="finite and >= 0"):
        tree.update([0], [-1.0])
    with pytest.raises(IndexError, match=r"\[0, 4\]"):
        tree.update([5], [1.0])


def _chi_square(counts: np.ndarray, probs: np.ndarray) -> float:
    expected = counts.sum() * probs
    return float(((counts - expected) ** 2 / expected).sum())


def test_sum_tree_sampling_frequencies():
    rng = np.random.default_rng(0)
    priorities = rng.uniform(0.1, 5.0, size=10)
    tree = buffers.SumTree(10)
    tree.update(np.arange(10), priorities)
    idx = tree.find(rng.uniform(0, tree.total, size=100_000))
    counts = np.bincount(idx, minlength=10)
    # chi-square with 9 degrees of freedom: the 0.999 quantile is 27.88
    assert _chi_square(counts, priorities / priorities.sum()) < 27.88


def test_prioritized_sampling_follows_priority_alpha():
    alpha = 0.6
    buf = buffers.PrioritizedReplayBuffer(8, (1,), alpha=alpha, beta=0.4, seed=0)
    for i in range(8):
        buf.add(np.array([i], np.float32), 0, 0.0, np.array([i], np.float32), False)
    td = np.array([0.1, 0.5, 1.0, 2.0, 4.0, 0.0, 3.0, 0.2])
    buf.update_priorities(np.arange(8), td)
    probs = (np.abs(td) + 1e-6) ** alpha
    probs /= probs.sum()
    idx = np.concatenate([buf.sample(8).indices.numpy() for _ in range(5000)])
    counts = np.bincount(idx, minlength=8)
    assert _chi_square(counts, probs) < 24.32  # df = 7, 0.999 quantile
    assert counts[5] / counts.sum() < 0.001  # |td| = 0 leaves only eps**alpha
    # stratified: the k-th draw of a batch comes from the k-th 1/8 segment of the total mass
    cum = np.cumsum(probs)
    seg_lo = np.arange(8) / 8
    for _ in range(20):
        i = buf.sample(8).indices.numpy()
        assert np.all(cum[i] >= seg_lo - 1e-9)
        assert np.all(cum[i] - probs[i] <= seg_lo + 1 / 8 + 1e-9)


def test_importance_weights_by_hand():
    buf = buffers.PrioritizedReplayBuffer(4, (1,), alpha=0.5, beta=1.0, seed=0, eps=1e-12)
    for i in range(4):
        buf.add(np.array([i], np.float32), 0, 0.0, np.array([i], np.float32), False)
    buf.update_priorities([0, 1, 2, 3], [1.0, 4.0, 9.0, 16.0])  # p**0.5 = 1, 2, 3, 4
    # P = 0.1, 0.2, 0.3, 0.4 and N = 4: w = (N P)^-1 = 2.5, 1.25, 0.8333, 0.625
    full = np.array([2.5, 1.25, 2.5 / 3, 0.625])
    for _ in range(5):
        batch = buf.sample(4)
        i = batch.indices.numpy()
        np.testing.assert_allclose(batch.weights.numpy(), full[i] / full[i].max(), rtol=1e-6)
    buf.beta = 0.5  # annealing changes the exponent
    batch = buf.sample(4)
    i = batch.indices.numpy()
    np.testing.assert_allclose(
        batch.weights.numpy(), full[i] ** 0.5 / (full[i] ** 0.5).max(), rtol=1e-6
    )
    buf.beta = 0.0
    assert torch.equal(buf.sample(4).weights, torch.ones(4))


def test_update_priorities_effect_and_max_priority_for_new_transitions():
    buf = buffers.PrioritizedReplayBuffer(6, (1,), alpha=1.0, beta=0.4, seed=0, eps=0.01)
    for i in range(4):
        buf.add(np.array([i], np.float32), 0, 0.0, np.array([i], np.float32), False)
    np.testing.assert_allclose(priorities(buf), [1, 1, 1, 1, 0, 0])  # start at 1
    buf.update_priorities(torch.tensor([0, 1, 2, 3]), torch.tensor([0.0, 0.0, 5.0, 0.0]))
    np.testing.assert_allclose(priorities(buf), [0.01, 0.01, 5.01, 0.01, 0, 0])
    idx = np.concatenate([buf.sample(4).indices.numpy() for _ in range(200)])
    assert (idx == 2).mean() > 0.95
    buf.add(np.array([9], np.float32), 0, 0.0, np.array([9], np.float32), False)
    assert priorities(buf)[4] == pytest.approx(5.01)  # max priority seen so far


def test_frame_per_ignores_overwritten_slots():
    buf = buffers.FrameReplayBuffer(6, frame_shape=(1,), stack=2, seed=0, prioritized=True)
    obs = np.zeros((2, 1), np.uint8)
    for t in range(3):
        nxt = np.array([[t], [t + 1]], np.uint8)
        buf.add(obs, 0, 0.0, nxt, False)
        obs = nxt
    batch = buf.sample(2)
    for t in range(3, 9):  # wrap around: the sampled slots now hold other frames
        nxt = np.array([[t], [t + 1]], np.uint8)
        buf.add(obs, 0, 0.0, nxt, t == 8)
        obs = nxt
    valid = np.isin(np.arange(buf.capacity), stored_positions(buf))
    invalid = np.flatnonzero(~valid)
    buf.update_priorities(
        np.concatenate([batch.indices.numpy(), invalid]), np.ones(2 + len(invalid))
    )
    assert np.all(priorities(buf)[~valid] == 0.0)  # still never sampled
    assert np.all(priorities(buf)[valid] > 0.0)
    for _ in range(50):
        assert valid[buf.sample(4).indices.numpy()].all()
    # 10 frames written into 6 slots: frames 4..9 remain, so steps 5..8 (frames t-1..t+1) remain
    assert len(buf) == valid.sum() == 4
    assert sorted(buf.get(np.flatnonzero(valid)).obs[:, -1, 0].tolist()) == [5, 6, 7, 8]
    with pytest.raises(IndexError, match="hold a stored transition"):
        buf.get(invalid[:1])


# ----------------------------------------------------------------------------------------------
# validation
# ----------------------------------------------------------------------------------------------


def test_constructor_validation_messages():
    with pytest.raises(ValueError, match=r"capacity must be >= 1, got 0"):
        buffers.ReplayBuffer(0, (4,))
    with pytest.raises(TypeError, match="capacity must be an integer"):
        buffers.ReplayBuffer(10.5, (4,))
    with pytest.raises(ValueError, match=r"alpha must be in \[0, 1\], got 1.5"):
        buffers.PrioritizedReplayBuffer(10, (4,), alpha=1.5)
    with pytest.raises(ValueError, match=r"beta must be in \[0, 1\], got -0.1"):
        buffers.PrioritizedReplayBuffer(10, (4,), beta=-0.1)
    with pytest.raises(ValueError, match=r"beta must be in \[0, 1\]"):
        buffers.FrameReplayBuffer(10, prioritized=True, beta=2.0)
    with pytest.raises(ValueError, match=r"n_step must be >= 1, got 0"):
        buffers.ReplayBuffer(10, (4,), n_step=0)
    with pytest.raises(ValueError, match=r"gamma must be in \(0, 1\], got 1.5"):
        buffers.ReplayBuffer(10, (4,), gamma=1.5)
    with pytest.raises(ValueError, match=r"gamma must be in \(0, 1\], got 0.0"):
        buffers.FrameReplayBuffer(10, gamma=0.0)
    with pytest.raises(ValueError, match="obs_shape must be a tuple of positive integers"):
        buffers.ReplayBuffer(10, (4, 0))
    with pytest.raises(ValueError, match="at least stack \\+ n_step = 7"):
        buffers.FrameReplayBuffer(6, stack=4, n_step=3)
    with pytest.raises(ValueError, match="device"):
        buffers.ReplayBuffer(10, (4,), device="tpu-ish")
    with pytest.raises(ValueError, match="frames=True needs stacked uint8 frames"):
        buffers.make_buffer(10, (4,), np.float32, frames=True)
    with pytest.raises(ValueError, match=r"alpha must be in \[0, 1\]"):
        buffers.make_buffer(10, (4,), alpha=-1.0)


def test_add_and_sample_validation_messages():
    buf = buffers.ReplayBuffer(10, (4,), seed=0)
    ok = np.zeros(4, np.float32)
    with pytest.raises(ValueError, match=r"obs has shape \(3,\), but this buffer stores .* \(4,\)"):
        buf.add(np.zeros(3, np.float32), 0, 0.0, ok, False)
    with pytest.raises(ValueError, match=r"next_obs has shape \(4, 1\)"):
        buf.add(ok, 0, 0.0, np.zeros((4, 1), np.float32), False)
    with pytest.raises(TypeError, match="action must be a single integer"):
        buf.add(ok, 0.5, 0.0, ok, False)
    with pytest.raises(ValueError, match="reward must be a finite number, got nan"):
        buf.add(ok, 0, float("nan"), ok, False)
    frames = buffers.FrameReplayBuffer(10, frame_shape=(2, 2), stack=2)
    f = np.zeros((2, 2, 2), np.uint8)
    with pytest.raises(TypeError, match="dtype float32, which cannot be stored as uint8"):
        frames.add(f.astype(np.float32), 0, 0.0, f, False)
    with pytest.raises(ValueError, match=r"outside the uint8 range \[0, 255\]"):
        frames.add(f.astype(np.int64) + 300, 0, 0.0, f, False)
    frames.add(f.astype(np.int64), 0, 0.0, f, False)  # in-range integers are fine
    g = f.copy()
    g[0] = 9
    with pytest.raises(ValueError, match=r"next_obs must be obs shifted by one frame"):
        frames.add(f, 0, 0.0, g, False)
    with pytest.raises(ValueError, match="batch_size=5 is larger than the 0 transitions stored"):
        buf.sample(5)
    buf.add(ok, 0, 0.0, ok, False)
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        buf.sample(0)
    with pytest.raises(AttributeError, match="samples uniformly, so it has no update_priorities"):
        buf.update_priorities([0], [1.0])
    assert not hasattr(buf, "beta") and not buf.prioritized


def test_frame_buffer_says_it_stores_uint8_frames():
    frames = buffers.FrameReplayBuffer(10, frame_shape=(2, 2), stack=2)
    f = np.zeros((2, 2, 2), np.uint8)
    for bad in (f.astype(np.float32) / 255.0, f.astype(np.float64)):
        with pytest.raises(TypeError) as info:
            frames.add(bad, 0, 0.0, f, False)
        message = str(info.value)
        assert "uint8 frames" in message and "make_atari_env" in message
        assert "obs_dtype" not in message  # FrameReplayBuffer has no such parameter
    assert len(frames) == 0
    # a ReplayBuffer does have obs_dtype, so its message may suggest it
    small = buffers.ReplayBuffer(10, (2,), obs_dtype=np.uint8)
    with pytest.raises(TypeError, match="obs_dtype=np.float32"):
        small.add(np.zeros(2, np.float32), 0, 0.0, np.zeros(2, np.uint8), False)


@pytest.mark.parametrize("kind", ["vector", "per", "n_step", "wide"])
@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
def test_non_finite_observations_are_refused(kind, bad_value):
    dim = 100 if kind == "wide" else 3  # a wide observation takes the vectorised check
    if kind == "per":
        buf = buffers.PrioritizedReplayBuffer(10, (dim,), seed=0)
    else:
        buf = buffers.ReplayBuffer(10, (dim,), seed=0, n_step=3 if kind == "n_step" else 1)
    ok = np.zeros(dim, np.float32)
    bad = ok.copy()
    bad[-1] = bad_value
    with pytest.raises(ValueError, match="obs contains NaN or inf"):
        buf.add(bad, 0, 0.0, ok, True)
    with pytest.raises(ValueError, match="next_obs contains NaN or inf"):
        buf.add(ok, 0, 0.0, bad, True)
    assert len(buf) == 0  # nothing was stored
    buf.add(ok, 0, 0.0, ok, True)
    assert len(buf) == 1 and torch.isfinite(buf.sample(1).obs).all()


def test_observations_that_overflow_the_storage_dtype_are_refused():
    buf = buffers.ReplayBuffer(10, (2,))  # float32 storage
    big = np.array([1e39, 0.0])  # finite as float64, inf as float32
    with pytest.raises(ValueError, match="NaN or inf"):
        buf.add(big, 0, 0.0, np.zeros(2), False)
    buf.add(np.array([3e38, -3e38]), 0, 0.0, np.zeros(2), False)  # large but finite: stored
    assert buf.get([0]).obs.tolist() == [[pytest.approx(3e38), pytest.approx(-3e38)]]


def test_update_priorities_validation():
    buf = buffers.PrioritizedReplayBuffer(10, (1,), seed=0)
    buf.add(np.zeros(1, np.float32), 0, 0.0, np.zeros(1, np.float32), False)
    with pytest.raises(ValueError, match="same length, got 2 and 1"):
        buf.update_priorities([0, 0], [1.0])
    with pytest.raises(ValueError, match="NaN or inf"):
        buf.update_priorities([0], [float("inf")])
    with pytest.raises(ValueError, match=r"stored positions in \[0, 0\], got values from 0 to 3"):
        buf.update_priorities([0, 3], [1.0, 1.0])  # slot 3 was never filled
    with pytest.raises(ValueError, match=r"beta must be in \[0, 1\], got 1.2"):
        buf.beta = 1.2


def test_n_step_stream_must_be_sequential():
    buf = buffers.ReplayBuffer(10, (1,), n_step=3)
    a, b, c = (np.array([v], np.float32) for v in (1, 2, 3))
    buf.add(a, 0, 1.0, b, False)
    with pytest.raises(ValueError, match="n-step returns need one sequential stream"):
        buf.add(c, 0, 1.0, a, False)  # obs is not the previous next_obs and no episode end
    frames = buffers.FrameReplayBuffer(10, frame_shape=(1,), stack=2, n_step=3)
    x = np.array([[1], [2]], np.uint8)
    frames.add(x, 0, 1.0, np.array([[2], [3]], np.uint8), False)
    with pytest.raises(ValueError, match="n-step returns need one sequential stream"):
        frames.add(np.array([[5], [6]], np.uint8), 0, 1.0, np.array([[6], [7]], np.uint8), False)


# ----------------------------------------------------------------------------------------------
# factory, state round trip, device
# ----------------------------------------------------------------------------------------------


def test_make_buffer_picks_the_right_class():
    b = buffers.make_buffer(10, (4,), np.float32, frames=False, prioritized=False, n_step=2)
    assert type(b) is buffers.ReplayBuffer and b.n_step == 2
    b = buffers.make_buffer(10, (4,), prioritized=True, alpha=0.5, beta=0.3)
    assert type(b) is buffers.PrioritizedReplayBuffer and (b.alpha, b.beta) == (0.5, 0.3)
    b = buffers.make_buffer(10, (4, 84, 84), np.uint8, frames=True, prioritized=True, seed=3)
    assert type(b) is buffers.FrameReplayBuffer and b.prioritized
    assert b.obs_shape == (4, 84, 84) and b.stack == 4 and b.frame_shape == (84, 84)


def _roundtrip(state):
    """Through torch.save / torch.load(weights_only=True), as a checkpoint would."""
    f = io.BytesIO()
    torch.save(state, f)
    f.seek(0)
    return torch.load(f, weights_only=True)


@pytest.mark.parametrize("kind", ["vector", "per", "frames", "frames_per"])
def test_state_dict_round_trip_continues_identically(kind):
    def build(seed):
        if kind == "vector":
            return buffers.ReplayBuffer(9, (3,), seed=seed, n_step=3, gamma=0.9)
        if kind == "per":
            return buffers.PrioritizedReplayBuffer(9, (3,), seed=seed, n_step=3, gamma=0.9)
        return buffers.FrameReplayBuffer(
            11, frame_shape=(2, 3), seed=seed, n_step=3, gamma=0.9, prioritized=kind == "frames_per"
        )

    rng = np.random.default_rng(0)
    if kind.startswith("frames"):
        stream = list(stacked_stream(rng, 80, max_len=12, levels=4))
    else:
        stream = list(random_vector_stream(rng, 80))
    original = build(seed=1)
    for step in stream[:45]:  # stops inside an episode: open n-step windows are saved too
        original.add(*step)
    if original.prioritized:
        original.beta = 0.7
        batch = original.sample(4)
        original.update_priorities(batch.indices, np.arange(4.0))
    restored = build(seed=12345)
    restored.load_state_dict(_roundtrip(original.state_dict()))
    assert len(restored) == len(original) and restored.nbytes == original.nbytes
    for step in stream[45:]:
        original.add(*step)
        restored.add(*step)
        a, b = original.sample(min(5, len(original))), restored.sample(min(5, len(restored)))
        for x, y in zip(a, b):
            assert torch.equal(x, y)
        if original.prioritized:
            td = rng.normal(size=len(a.indices))
            original.update_priorities(a.indices, td)
            restored.update_priorities(b.indices, td)
    with pytest.raises(ValueError, match="cannot load this buffer state"):
        buffers.ReplayBuffer(4, (3,), n_step=3, gamma=0.9).load_state_dict(original.state_dict())


def test_state_dict_rejects_other_settings():
    state = buffers.ReplayBuffer(5, (2,), n_step=1).state_dict()
    with pytest.raises(ValueError, match=r"n_step=1 but this buffer has n_step=3"):
        buffers.ReplayBuffer(5, (2,), n_step=3).load_state_dict(state)
    with pytest.raises(ValueError, match="kind='ReplayBuffer'"):
        buffers.PrioritizedReplayBuffer(5, (2,)).load_state_dict(state)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_batches_land_on_cuda():
    buf = buffers.FrameReplayBuffer(20, frame_shape=(2, 2), stack=2, device="cuda", seed=0)
    f = np.zeros((2, 2, 2), np.uint8)
    for t in range(5):
        buf.add(f, 0, 1.0, f, t == 4)
    batch = buf.sample(4)
    assert all(t.device.type == "cuda" for t in batch)
    assert batch.obs.dtype == torch.uint8


def test_uniform_sample_draws_the_seeded_indices_and_returns_what_is_stored_there() -> None:
    """Uniform sampling is PCG64(seed).integers(0, len, batch_size) (the Pong update's numbers
    depend on it), and a plain int or a numpy integer batch size give the same batch."""
    rng = np.random.default_rng(5)
    a_buf = buffers.ReplayBuffer(50, (3,), seed=11)
    b_buf = buffers.ReplayBuffer(50, (3,), seed=11)
    for _ in range(80):  # wraps around
        obs, nxt = rng.normal(size=3), rng.normal(size=3)
        args = (obs, int(rng.integers(4)), float(rng.normal()), nxt, bool(rng.random() < 0.2))
        a_buf.add(*args)
        b_buf.add(*args)
    draws = np.random.Generator(np.random.PCG64(11))
    for batch_size in (1, 7, 50):
        a = a_buf.sample(batch_size)
        b = b_buf.sample(np.int64(batch_size))
        np.testing.assert_array_equal(a.indices.numpy(), draws.integers(0, 50, size=batch_size))
        for name, x, y in zip(a._fields, a, b):
            assert x.dtype == y.dtype and torch.equal(x, y), name
        for name, x, y in zip(a._fields, a, a_buf.get(a.indices)):  # what is stored there
            assert x.dtype == y.dtype and torch.equal(x, y), name
