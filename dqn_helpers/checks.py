"""Exercise checkers: each prints a clear pass/fail with a hint, returns a bool, and never raises.

Each lesson owns one section below. A checker calls the learner's function inside
``_guard`` so that an exception in their code becomes a hint, not a crashed notebook.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

import numpy as np


def report(ok: bool, success: str, hint: str) -> bool:
    """Print one pass/fail line (with a hint on failure) and return ``ok``."""
    print(f"✅ {success}" if ok else f"❌ Not yet. Hint: {hint}")
    return bool(ok)


def _guard(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[bool, Any]:
    """Call the learner's ``fn``; return (True, result) or (False, a one-line hint about the exception)."""
    try:
        return True, fn(*args, **kwargs)
    except NotImplementedError:
        return False, "the function still raises NotImplementedError: replace the stub's body with your code."
    except Exception as exc:  # noqa: BLE001 - any learner error becomes a hint
        line = traceback.extract_tb(exc.__traceback__)[-1].line if exc.__traceback__ else ""
        return False, f"your code raised {type(exc).__name__}: {exc} (at: {line})"


__all__ = ["report", "np"]

# ---------------------------------------------------------------- lesson 01 (tabular Q-learning)


def _reference_q_update(q: np.ndarray, s: int, a: int, r: float, s_next: int, terminated: bool,
                        alpha: float, gamma: float) -> float:
    """The Q-learning update done right (used to judge the learner's version)."""
    target = r if terminated else r + gamma * q[s_next].max()
    td_error = target - q[s, a]
    q[s, a] += alpha * td_error
    return float(td_error)


def check_q_learning_update(fn: Callable[..., Any]) -> bool:
    """Exercise 1.1: ``fn(q_table, s, a, r, s_next, terminated, alpha, gamma)`` updates Q[s, a] in place
    and returns the TD error. Introduced in lesson 01."""
    q = np.zeros((6, 4))
    q[5] = [0.0, 0.5, 0.3, 0.1]
    q[4, 2] = 0.1
    before = q.copy()
    ok, out = _guard(fn, q, 4, 2, 0.0, 5, False, 0.5, 0.9)
    if not ok:
        return report(False, "", out)
    new = q[4, 2]
    wrong = {0.45: "you set Q[s, a] to the target: move it only a fraction alpha of the way, "
                   "Q[s, a] += alpha * (target - Q[s, a]).",
             0.15125: "the target uses the MAX over next actions, max_a' Q(s', a'), not the mean.",
             0.185: "the target uses max_a' Q(s', a') (the best next action), not Q(s', a) "
                    "for the action you just took.",
             0.3: "multiply the bootstrapped value by gamma: target = r + gamma * max_a' Q(s', a')."}
    if np.isclose(new, 0.1):
        hint = ("Q[4, 2] did not change: update the table IN PLACE (q_table[s, a] += ...); "
                "do not copy it or only return a value.")
        if out is not None and np.isclose(float(np.asarray(out)), 0.275):
            hint += " (You returned the new value 0.275, so the maths is right.)"
        return report(False, "", hint)
    for value, hint in wrong.items():
        if np.isclose(new, value):
            return report(False, "", hint + f" (Q[4, 2] became {new:.5g}; expected 0.275.)")
    if not np.isclose(new, 0.275):
        return report(False, "", f"Q[4, 2] = 0.1, r = 0, alpha = 0.5, gamma = 0.9, Q[5] = [0, .5, .3, .1]: "
                                 f"target = 0 + 0.9 * 0.5 = 0.45, so Q[4, 2] should become 0.1 + 0.5 * "
                                 f"(0.45 - 0.1) = 0.275, got {new:.5g}.")
    changed = np.argwhere(~np.isclose(q, before))
    if len(changed) != 1:
        return report(False, "", f"only Q[s, a] may change, but entries {changed.tolist()} changed.")
    if out is None or not np.isclose(float(np.asarray(out)), 0.35):
        return report(False, "", f"return the TD error delta = target - Q(s, a) computed BEFORE the update "
                                 f"(here 0.45 - 0.1 = 0.35), got {out!r}.")
    # a terminal transition: no bootstrap from s_next
    q = np.zeros((6, 4))
    q[0] = [0.8, 0.0, 0.0, 0.0]
    q[3, 0] = 0.2
    ok, out = _guard(fn, q, 3, 0, 1.0, 0, True, 0.1, 0.99)
    if not ok:
        return report(False, "", out)
    if np.isclose(q[3, 0], 0.2 + 0.1 * (1.0 + 0.99 * 0.8 - 0.2)):
        return report(False, "", "when terminated is True there is no next state to bootstrap from: "
                                 "the target is just r (use max_a' Q(s', a') only if not terminated).")
    if not np.isclose(q[3, 0], 0.28):
        return report(False, "", f"terminal case (r = 1, Q[3, 0] = 0.2, alpha = 0.1): target = 1, so Q[3, 0] "
                                 f"should become 0.2 + 0.1 * (1 - 0.2) = 0.28, got {q[3, 0]:.5g}.")
    # random cases against the reference
    rng = np.random.default_rng(0)
    for _ in range(25):
        q = rng.normal(size=(8, 3))
        ref = q.copy()
        args = (int(rng.integers(8)), int(rng.integers(3)), float(rng.normal()), int(rng.integers(8)),
                bool(rng.random() < 0.3), float(rng.uniform(0.01, 1.0)), float(rng.uniform(0.5, 1.0)))
        expected = _reference_q_update(ref, *args)
        ok, out = _guard(fn, q, *args)
        if not ok:
            return report(False, "", out)
        if not np.allclose(q, ref) or not np.isclose(float(np.asarray(out)), expected):
            return report(False, "", f"a random case (s, a, r, s', terminated, alpha, gamma) = {args} "
                                     "gave a different table or TD error than the reference. Check that "
                                     "you use every argument (negative rewards too).")
    return report(True, "q_learning_update matches the hand-computed values, the terminal case and 25 random "
                        "cases.", "")


def check_epsilon_greedy(fn: Callable[..., Any]) -> bool:
    """Exercise 1.2: ``fn(q_values, epsilon, rng) -> int`` explores with probability epsilon and breaks
    greedy ties at random, drawing all randomness from ``rng``. Introduced in lesson 01."""

    def draw(q: list[float], epsilon: float, n: int, seed: int = 0) -> tuple[bool, Any]:
        rng = np.random.default_rng(seed)
        q_arr = np.asarray(q, dtype=float)
        actions = []
        for _ in range(n):
            ok, a = _guard(fn, q_arr.copy(), epsilon, rng)
            if not ok:
                return False, a
            actions.append(a)
        return True, actions

    ok, actions = draw([0.1, 0.7, 0.3, 0.2], 0.0, 1)
    if not ok:
        return report(False, "", actions)
    a = actions[0]
    if isinstance(a, bool) or not isinstance(a, int | np.integer):
        return report(False, "", f"return one action as an int (e.g. int(np.argmax(...))), got {a!r} "
                                 f"of type {type(a).__name__}.")
    ok, actions = draw([0.1, 0.7, 0.3, 0.2], 0.0, 200)
    if not ok or set(actions) != {1}:
        return report(False, "", actions if not ok else
                      f"with epsilon = 0 and Q = [0.1, 0.7, 0.3, 0.2] always pick action 1 (the argmax); "
                      f"you picked {sorted(set(map(int, actions)))}.")
    ok, actions = draw([0.5, 0.9, 0.9, 0.1], 0.0, 2000)
    counts = np.bincount(np.asarray(actions, dtype=int), minlength=4) / 2000 if ok else None
    if not ok or counts[0] + counts[3] > 0 or not 0.4 < counts[1] < 0.6:
        return report(False, "", actions if not ok else
                      f"with epsilon = 0 and a tie Q = [0.5, 0.9, 0.9, 0.1] pick action 1 or 2, each about half "
                      f"the time; you picked them with frequencies {np.round(counts, 3).tolist()}. np.argmax "
                      "always returns the FIRST best action, so a fresh all-zero Q-table would always go left: "
                      "choose among np.flatnonzero(q == q.max()) with rng.choice.")
    ok, actions = draw([0.0, 1.0, 0.0, 0.0], 1.0, 4000)
    counts = np.bincount(np.asarray(actions, dtype=int), minlength=4) / 4000 if ok else None
    if not ok or np.any(np.abs(counts - 0.25) > 0.05):
        return report(False, "", actions if not ok else
                      f"with epsilon = 1 every action should be equally likely (0.25 each), got "
                      f"{np.round(counts, 3).tolist()}. Draw the random action uniformly from ALL actions.")
    ok, actions = draw([0.0, 0.0, 1.0, 0.0], 0.4, 4000)
    share = float(np.mean(np.asarray(actions) == 2)) if ok else 0.0
    if not ok or abs(share - 0.7) > 0.05:
        return report(False, "", actions if not ok else
                      f"with epsilon = 0.4 the greedy action should come out 0.6 + 0.4/4 = 0.7 of the time "
                      f"(the random action can be the greedy one too), got {share:.3f}. Compare "
                      "rng.random() < epsilon.")
    ok1, first = draw([0.2, 0.2, 0.1, 0.2], 0.5, 50, seed=7)
    ok2, second = draw([0.2, 0.2, 0.1, 0.2], 0.5, 50, seed=7)
    if not (ok1 and ok2) or list(map(int, first)) != list(map(int, second)):
        return report(False, "", "two runs with the same rng seed gave different actions: draw ALL randomness "
                                 "from the rng argument (rng.random(), rng.integers(), rng.choice()), not "
                                 "from np.random or random, so that a seed reproduces a run.")
    return report(True, "epsilon_greedy explores with probability epsilon, breaks ties at random and is "
                        "reproducible from its rng.", "")

# ---------------------------------------------------------------- lesson 02 (Q-networks)


def _reference_discretize(obs: Any, low: Any, high: Any, n_bins: int) -> int:
    """Bin each variable into n_bins equal cells of [low, high] (clipped), then read the bins as base-n digits."""
    obs, low, high = (np.asarray(v, dtype=float) for v in (obs, low, high))
    bins = np.clip(np.floor((obs - low) / (high - low) * n_bins), 0, n_bins - 1).astype(int)
    return int(np.ravel_multi_index(tuple(bins), (n_bins,) * len(bins)))


def check_discretize(fn: Callable[..., Any]) -> bool:
    """Exercise 2.1: ``fn(obs, low, high, n_bins) -> int``, one state index in [0, n_bins**len(obs)).
    Introduced in lesson 02."""
    low = np.array([-2.4, -3.0, -0.21, -3.5])
    high = -low
    width = (high - low) / 10

    def call(obs: Any, n_bins: int = 10, lo: Any = low, hi: Any = high) -> tuple[bool, Any]:
        return _guard(fn, np.asarray(obs, dtype=np.float32), lo, hi, n_bins)

    ok, out = call(low + width * (np.array([3, 1, 4, 1]) + 0.5))
    if not ok:
        return report(False, "", out)
    if isinstance(out, bool) or not isinstance(out, int | np.integer):
        return report(False, "", f"return ONE integer state index (a row of the Q-table), got {out!r} of type "
                                 f"{type(out).__name__}. Combine the four bin numbers, e.g. with "
                                 "np.ravel_multi_index(bins, (n_bins,) * 4).")
    if out == 1413:
        return report(False, "", "the digits are in reverse order: the FIRST variable (cart position) is the "
                                 "most significant digit, bins (3, 1, 4, 1) -> state 3141.")
    if out != 3141:
        return report(False, "", f"an observation in the middle of bins (3, 1, 4, 1) should give state 3141 "
                                 f"(= 3*1000 + 1*100 + 4*10 + 1), got {out}. Bin i of a variable covers "
                                 "[low + i*w, low + (i+1)*w) with w = (high - low) / n_bins.")
    cases = [(low, 0, "an observation at `low` is in bin 0 of every variable (state 0); as float32 it can lie "
                      "a hair below `low`, so clip the bin numbers to 0..n_bins-1"),
             (low - 10, 0, "values below `low` belong to the first bin (clip the bin numbers to 0..n_bins-1)"),
             (high, 9999, "an observation exactly at `high` is in the LAST bin, n_bins - 1 (state 9999): "
                          "floor gives n_bins there, so clip"),
             (high + 10, 9999, "values above `high` belong to the last bin (clip the bin numbers to "
                               "0..n_bins-1)"),
             (np.array([-2.4, 3.0, -0.21, 3.5]), 909, "mixed extremes: position and angle at `low` (bin 0), "
                                                      "velocities at `high` (bin 9) -> 0*1000 + 9*100 + 0*10 + 9")]
    for obs, expected, hint in cases:
        ok, out = call(obs)
        if not ok:
            return report(False, "", out)
        if out != expected:
            return report(False, "", f"{hint}; got {out} for obs {np.round(obs, 3).tolist()}.")
    rng = np.random.default_rng(0)
    for n_bins, lo, hi in ((10, low, high), (3, np.array([0.0, -1.0]), np.array([1.0, 5.0]))):
        for _ in range(200):
            obs = rng.uniform(lo - 0.5 * (hi - lo), hi + 0.5 * (hi - lo)).astype(np.float32)
            expected = _reference_discretize(obs, lo, hi, n_bins)
            ok, out = call(obs, n_bins, lo, hi)
            if not ok:
                return report(False, "", out)
            if out != expected:
                return report(False, "", f"with n_bins={n_bins}, low={lo.tolist()}, high={hi.tolist()} and obs "
                                         f"{obs.tolist()} the state is {expected}, you gave {out}. Use the "
                                         "arguments (n_bins, low, high, the length of obs), nothing hard-coded.")
    return report(True, "discretize agrees with the reference on the edges, outside the bounds and on 400 "
                        "random observations.", "")


def check_q_network(fn: Callable[..., Any]) -> bool:
    """Exercise 2.2: ``fn(obs_dim, n_actions, hidden) -> nn.Module``, the MLP obs_dim -> hidden -> hidden ->
    n_actions with ReLU between layers and no activation at the end. Introduced in lesson 02."""
    import torch

    ok, net = _guard(fn, 4, 2, 128)
    if not ok:
        return report(False, "", net)
    if not isinstance(net, torch.nn.Module):
        return report(False, "", f"return a torch.nn.Module (e.g. nn.Sequential(...)), got {type(net).__name__}.")
    torch.manual_seed(0)
    x = torch.randn(256, 4) * 2
    ok, out = _guard(net, x)
    if not ok:
        return report(False, "", out + " — does the first layer take obs_dim inputs?")
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (256, 2):
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        return report(False, "", f"a batch of 256 states (256, 4) should give Q-values of shape (256, 2), one "
                                 f"per action; got {got}.")
    linears = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    shapes = [(m.in_features, m.out_features) for m in linears]
    if shapes != [(4, 128), (128, 128), (128, 2)]:
        return report(False, "", f"expected three nn.Linear layers 4->128, 128->128, 128->2, found {shapes}.")
    n_params = sum(p.numel() for p in net.parameters())
    if n_params != 17_410:
        return report(False, "", f"the MLP 4 -> 128 -> 128 -> 2 with biases has 17,410 parameters, yours has "
                                 f"{n_params:,}. Keep bias=True and add nothing else with parameters.")
    with torch.no_grad():
        a, b = x[:128], x[128:]
        zero = torch.zeros(1, 4)
        linear_gap = (net(a) + net(b) - net(zero) - net(a + b)).abs().max().item()
        outputs = net(x * 3)
    if linear_gap < 1e-5:
        return report(False, "", "your network is a linear map: put a ReLU after each hidden layer "
                                 "(without it, three Linear layers collapse into one).")
    if (outputs >= 0).all():
        return report(False, "", "every output is >= 0: do not put a ReLU (or any activation) after the last "
                                 "layer. Q-values may be negative.")
    ok, other = _guard(fn, 6, 3, 32)
    if not ok:
        return report(False, "", other)
    ok, out = _guard(other, torch.randn(5, 6))
    if not ok or tuple(getattr(out, "shape", ())) != (5, 3):
        return report(False, "", "make_q_network(6, 3, 32) should map (5, 6) to (5, 3): use the arguments "
                                 "obs_dim, n_actions and hidden instead of fixed sizes.")
    return report(True, "make_q_network builds 4 -> 128 -> 128 -> 2 with ReLUs (17,410 parameters) and "
                        "respects its arguments.", "")


def check_td_target(fn: Callable[..., Any]) -> bool:
    """Exercise 2.3: ``fn(q_network, reward, next_obs, terminated, gamma)`` -> the TD target
    r + gamma * (1 - terminated) * max_a' Q(s', a'), as a number with no gradient attached.
    Introduced in lesson 02."""
    import torch

    net = torch.nn.Linear(2, 3, bias=False)
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
    next_obs = torch.tensor([0.5, 2.0])  # Q(s', .) = [0.5, 2.0, 2.5]
    ok, out = _guard(fn, net, 1.0, next_obs, False, 0.9)
    if not ok:
        return report(False, "", out)
    if isinstance(out, torch.Tensor) and out.requires_grad:
        return report(False, "", "the target still carries a gradient: compute it under torch.no_grad() (or "
                                 ".detach() it). It is a fixed number the prediction moves towards; gradients "
                                 "must not flow into it.")
    try:
        value = float(out)
    except (TypeError, ValueError):
        return report(False, "", f"return one number (a 0-d tensor or a float), got {out!r}.")
    wrong = {1.0 + 0.9 * 0.5: "use the MAX over next actions; you used the first one.",
             1.0 + 0.9 * 5.0 / 3: "use the MAX over next actions, not the mean.",
             1.0 + 2.5: "multiply the next value by gamma.",
             0.9 * 2.5: "add the reward r."}
    for bad, hint in wrong.items():
        if np.isclose(value, bad):
            return report(False, "", f"{hint} (got {value:.4g}, expected 1 + 0.9 * 2.5 = 3.25.)")
    if not np.isclose(value, 3.25):
        return report(False, "", f"Q(s', .) = [0.5, 2.0, 2.5], r = 1, gamma = 0.9: the target is 1 + 0.9 * 2.5 "
                                 f"= 3.25, got {value:.4g}.")
    ok, out = _guard(fn, net, 1.0, next_obs, True, 0.9)
    if not ok:
        return report(False, "", out)
    if not np.isclose(float(out), 1.0):
        return report(False, "", f"when terminated is True the target is just r = 1 (no future after a "
                                 f"terminal state), got {float(out):.4g}.")
    if net.weight.grad is not None:
        return report(False, "", "computing the target touched the network's gradients: no backward() here, "
                                 "and use torch.no_grad().")
    torch.manual_seed(1)
    big = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    for _ in range(10):
        obs = torch.randn(4)
        r, gamma = float(torch.randn(())), 0.99
        with torch.no_grad():
            expected = r + gamma * big(obs).max().item()
        ok, out = _guard(fn, big, r, obs, False, gamma)
        if not ok:
            return report(False, "", out)
        if not np.isclose(float(out), expected, atol=1e-5):
            return report(False, "", f"on a random network the target should be {expected:.5f}, got "
                                     f"{float(out):.5f}. Use the q_network you are given.")
    return report(True, "td_target bootstraps from max_a' Q(s', a'), stops at terminal states and carries no "
                        "gradient.", "")

# ---------------------------------------------------------------- lesson 03 (experience replay)


def _fresh_buffer(cls: Any, capacity: int, seed: int) -> tuple[bool, Any]:
    """Build the learner's buffer as ``cls(capacity, obs_shape=(3,), seed=seed)``."""
    return _guard(cls, capacity, (3,), seed=seed)


def _add_numbered(buffer: Any, numbers: range) -> tuple[bool, Any]:
    """Add transition k with obs = [k, k, k], action k % 2, reward k, next_obs = k + 1, terminated k % 3 == 2."""
    for k in numbers:
        obs = np.full(3, k, dtype=np.float32)
        ok, out = _guard(buffer.add, obs, k % 2, float(k), obs + 1.0, k % 3 == 2)
        if not ok:
            return False, out
    return True, None


def _sample_fields(buffer: Any, batch_size: int) -> tuple[bool, Any]:
    """Sample once and return the five fields as numpy arrays, or a hint about what came back."""
    import torch

    ok, out = _guard(buffer.sample, batch_size)
    if not ok:
        return False, out
    if not isinstance(out, tuple | list) or len(out) < 5:
        return False, (f"sample must return a tuple (obs, actions, rewards, next_obs, terminated), got "
                       f"{type(out).__name__}{'' if not isinstance(out, tuple | list) else f' of length {len(out)}'}.")
    names = ("obs", "actions", "rewards", "next_obs", "terminated")
    shapes = ((batch_size, 3), (batch_size,), (batch_size,), (batch_size, 3), (batch_size,))
    dtypes = (torch.float32, torch.int64, torch.float32, torch.float32, torch.float32)
    for name, field, shape, dtype in zip(names, out[:5], shapes, dtypes):
        if not isinstance(field, torch.Tensor):
            return False, (f"{name} came back as {type(field).__name__}; return torch tensors "
                           "(torch.as_tensor(self.obs[indices]) and so on), ready for the network.")
        if tuple(field.shape) != shape:
            return False, (f"with batch_size={batch_size} and obs_shape=(3,), {name} should have shape "
                           f"{shape}, got {tuple(field.shape)}. Index every array with the same "
                           "batch of indices: self.obs[indices].")
        if field.dtype != dtype:
            return False, (f"{name} should be {dtype}, got {field.dtype}: the network wants float32 inputs "
                           "and gather() wants int64 actions (check the dtypes of the storage arrays).")
    return True, [f.detach().cpu().numpy() for f in out[:5]]


def check_replay_buffer(cls: Callable[..., Any]) -> bool:
    """Exercise 3.1: a circular buffer ``cls(capacity, obs_shape, seed)`` with add, __len__ and a uniform
    random ``sample(batch_size)`` returning (obs, actions, rewards, next_obs, terminated) tensors.
    Introduced in lesson 03."""
    ok, buffer = _fresh_buffer(cls, 5, seed=0)
    if not ok:
        return report(False, "", buffer)
    ok, out = _add_numbered(buffer, range(1, 4))
    if not ok:
        return report(False, "", out)
    ok, size = _guard(len, buffer)
    if not ok or size != 3:
        return report(False, "", size if not ok else
                      f"after 3 adds to a buffer of capacity 5, len(buffer) should be 3, got {size}. "
                      "Grow self.size by one in add (but never past capacity).")
    early: set[float] = set()
    for _ in range(30):
        ok, fields = _sample_fields(buffer, 2)
        if not ok:
            return report(False, "", fields)
        early |= set(fields[2].tolist())
    if not early <= {1.0, 2.0, 3.0}:
        return report(False, "", f"only 3 of 5 slots are filled, yet samples held rewards "
                      f"{sorted(early)}: draw indices from the filled part only, "
                      "rng.integers(0, len(self), size=batch_size), never from empty slots.")
    ok, out = _add_numbered(buffer, range(4, 9))
    if not ok:
        return report(False, "", out)
    ok, size = _guard(len, buffer)
    if not ok or size != 5:
        return report(False, "", size if not ok else
                      f"after 8 adds to a buffer of capacity 5, len(buffer) should stay 5, got {size}. "
                      "Cap the size (min(size + 1, capacity)) and wrap the write position with % capacity.")
    seen: list[float] = []
    for _ in range(200):
        ok, fields = _sample_fields(buffer, 4)
        if not ok:
            return report(False, "", fields)
        obs, actions, rewards, next_obs, terminated = fields
        if not (np.all(obs == rewards[:, None]) and np.all(next_obs == rewards[:, None] + 1)
                and np.all(actions == rewards.astype(int) % 2)
                and np.all(terminated == (rewards.astype(int) % 3 == 2))):
            return report(False, "", "the fields of a sampled row come from different transitions (e.g. the "
                          "obs of one and the reward of another). Draw ONE array of indices and use it for "
                          "all five arrays.")
        seen += rewards.tolist()
    kept = {4.0, 5.0, 6.0, 7.0, 8.0}
    if set(seen) != kept:
        old = sorted(set(seen) - kept)
        return report(False, "", (f"transitions {old} should have been overwritten: with capacity 5 only the "
                                  f"5 newest (4..8) remain. Write at self.position and advance it with "
                                  f"(position + 1) % capacity." if old else
                                  f"800 draws from a full buffer never returned transitions "
                                  f"{sorted(kept - set(seen))}: sample uniformly over all {len(kept)} slots."))
    counts = np.array([seen.count(k) for k in sorted(kept)])
    if counts.min() < 100:  # 800 uniform draws over 5 slots: 160 each, below 100 is far outside chance
        return report(False, "", f"800 draws should hit each of the 5 slots about 160 times, got "
                      f"{counts.tolist()}: sample the indices uniformly at random.")
    draws = []
    for _ in range(2):
        ok, twin = _fresh_buffer(cls, 50, seed=123)
        if not ok:
            return report(False, "", twin)
        ok, out = _add_numbered(twin, range(1, 51))
        if not ok:
            return report(False, "", out)
        ok, fields = _sample_fields(twin, 16)
        if not ok:
            return report(False, "", fields)
        draws.append(fields[2].tolist())
    if draws[0] != draws[1]:
        return report(False, "", "two buffers built with the same seed sampled different transitions: use "
                      "self.rng (np.random.default_rng(seed)) for the indices, not np.random or random.")
    if draws[0] == sorted(draws[0]) or len(set(draws[0])) < 8:
        return report(False, "", f"a sample of 16 from 50 transitions came out as {draws[0]}: that is not "
                      "a random minibatch (sorted or repeated). Draw independent random indices.")
    return report(True, "ReplayBuffer wraps at capacity, samples uniformly from the filled slots, keeps each "
                  "transition's fields together and is reproducible from its seed.", "")


def _reference_autocorrelation(x: np.ndarray, lag: int) -> float:
    """Pearson correlation between x[t] and x[t + lag] (1.0 at lag 0)."""
    x = np.asarray(x, dtype=float)
    return float(np.corrcoef(x[: len(x) - lag], x[lag:])[0, 1])


def check_autocorrelation(fn: Callable[..., Any]) -> bool:
    """Exercise 3.2: ``fn(x, lag) -> float``, the correlation between ``x[t]`` and ``x[t + lag]``.
    Introduced in lesson 03."""
    ramp = np.arange(20, dtype=float)
    alternating = np.array([1.0, -1.0] * 10)
    cases = [
        (ramp, 1, 1.0, "a straight line x = 0, 1, 2, ... is perfectly correlated with itself one step later"),
        (alternating, 1, -1.0, "x = 1, -1, 1, -1, ... one step later is exactly the opposite: -1"),
        (alternating, 2, 1.0, "x = 1, -1, 1, -1, ... two steps later is the same series again: +1"),
        (ramp, 0, 1.0, "lag 0 compares x with itself: 1. Careful: x[:-0] is EMPTY in Python; "
                       "slice with x[:len(x) - lag]"),
    ]
    for x, lag, want, why in cases:
        ok, got = _guard(fn, x.copy(), lag)
        if not ok:
            return report(False, "", f"lag {lag}: {why}. ({got})" if lag == 0 else got)
        try:
            value = float(got)
        except (TypeError, ValueError):
            return report(False, "", f"return one float, got {got!r}.")
        if not np.isfinite(value) or abs(value - want) > 1e-6:
            return report(False, "", f"lag {lag} on {np.round(x[:6], 1).tolist()}... should give {want}, got "
                          f"{value:.4g}: {why}.")
    rng = np.random.default_rng(3)
    for _trial in range(5):
        noise = rng.normal(size=400)
        series = np.empty_like(noise)
        series[0] = noise[0]
        for t in range(1, len(noise)):  # AR(1): strongly correlated like CartPole states
            series[t] = 0.9 * series[t - 1] + noise[t]
        series = series * rng.uniform(0.1, 10) + rng.normal() * 5
        lag = int(rng.integers(1, 30))
        want = _reference_autocorrelation(series, lag)
        ok, got = _guard(fn, series.copy(), lag)
        if not ok:
            return report(False, "", got)
        if abs(float(got) - want) > 1e-6:
            return report(False, "", f"on a random correlated series (400 points, lag {lag}) the correlation "
                          f"between x[:T - lag] and x[lag:] is {want:.5f}, got {float(got):.5f}. Use the "
                          "Pearson correlation of the two shifted slices, e.g. np.corrcoef(a, b)[0, 1] "
                          "(each slice centred on its own mean).")
    return report(True, "autocorrelation matches the hand cases (ramp, alternating, lag 0) and 5 random "
                  "correlated series.", "")

# ---------------------------------------------------------------- lesson 04 (target networks)


def _twin_networks(seed: int = 0) -> tuple[Any, Any]:
    """Two small MLPs with the same architecture and different random weights."""
    import torch

    def build() -> Any:
        return torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.ReLU(), torch.nn.Linear(5, 2))

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build(), build()


def _weights(net: Any) -> list[Any]:
    return [p.detach().clone() for p in net.parameters()]


def _same(a: list[Any], b: list[Any], atol: float = 0.0) -> bool:
    import torch

    return all(torch.allclose(x, y, rtol=0.0, atol=atol) for x, y in zip(a, b))


def check_hard_update(fn: Callable[..., Any]) -> bool:
    """Exercise 4.1: ``fn(target_network, online_network)`` copies θ into θ⁻ in place (θ⁻ ← θ).
    Introduced in lesson 04."""
    import torch

    target, online = _twin_networks(1)
    before_target, before_online = _weights(target), _weights(online)
    ok, out = _guard(fn, target, online)
    if not ok:
        return report(False, "", out)
    after_target, after_online = _weights(target), _weights(online)
    if _same(after_online, before_target) and not _same(after_online, before_online):
        return report(False, "", "the ONLINE network received the target's weights: the copy goes the other "
                      "way, θ⁻ ← θ (target_network gets online_network's weights).")
    if not _same(after_online, before_online):
        return report(False, "", "the online network changed: a hard update only writes into the target.")
    if _same(after_target, before_target):
        return report(False, "", "target_network did not change. `target_network = online_network` inside the "
                      "function only rebinds a local name; copy the values INTO the target, e.g. "
                      "target_network.load_state_dict(online_network.state_dict()).")
    if not _same(after_target, before_online):
        return report(False, "", "after a hard update every target weight must equal the online weight exactly "
                      "(θ⁻ = θ); some differ. Copy all parameters, biases included.")
    with torch.no_grad():
        for p in online.parameters():
            p.add_(1.0)
    if not _same(_weights(target), before_online):
        return report(False, "", "the target moved when the online network was trained afterwards: it SHARES "
                      "tensors with it (e.g. p_target.data = p_online.data). Copy values instead: "
                      "p_target.copy_(p_online) or load_state_dict.")
    return report(True, "hard_update copies θ into θ⁻ exactly, in place, and the copy stays frozen when θ "
                  "keeps learning.", "")


def check_soft_update(fn: Callable[..., Any]) -> bool:
    """Exercise 4.2: ``fn(target_network, online_network, tau)`` does θ⁻ ← τ θ + (1 − τ) θ⁻ in place.
    Introduced in lesson 04."""
    import torch

    target, online = _twin_networks(2)
    theta_minus, theta = _weights(target), _weights(online)
    ok, out = _guard(fn, target, online, 0.1)
    if not ok:
        return report(False, "", out)
    got, online_after = _weights(target), _weights(online)
    want = [0.1 * a + 0.9 * b for a, b in zip(theta, theta_minus)]
    swapped = [0.9 * a + 0.1 * b for a, b in zip(theta, theta_minus)]
    if not _same(online_after, theta):
        return report(False, "", "the online network changed: a soft update only moves the target.")
    if _same(got, theta_minus):
        return report(False, "", "target_network did not change: update its parameters IN PLACE inside "
                      "torch.no_grad(), e.g. p_target.mul_(1 - tau).add_(tau * p_online).")
    if _same(got, swapped, atol=1e-6):
        return report(False, "", "you swapped τ and 1 − τ: with τ = 0.1 the target should move only 10% of the "
                      "way towards θ, θ⁻ ← τ θ + (1 − τ) θ⁻.")
    if _same(got, theta):
        return report(False, "", "with τ = 0.1 the target jumped all the way to θ (that is a hard update); "
                      "it should move 10%: θ⁻ ← τ θ + (1 − τ) θ⁻.")
    if not _same(got, want, atol=1e-6):
        return report(False, "", "with τ = 0.1 each target weight should become 0.1 · θ + 0.9 · θ⁻; some do "
                      "not (did you update every parameter, biases included?).")
    with torch.no_grad():
        for p in online.parameters():
            p.add_(1.0)
    if not _same(_weights(target), want, atol=1e-6):
        return report(False, "", "the target moved when the online weights changed later: it shares tensors "
                      "with the online network. Update the target's own tensors in place.")
    target, online = _twin_networks(3)
    theta = _weights(online)
    start_gap = sum(float((a - b).abs().sum()) for a, b in zip(_weights(target), theta))
    for _ in range(20):
        ok, out = _guard(fn, target, online, 0.2)
        if not ok:
            return report(False, "", out)
    gap = sum(float((a - b).abs().sum()) for a, b in zip(_weights(target), theta))
    if abs(gap - start_gap * 0.8 ** 20) > 1e-4 * max(1.0, start_gap):
        return report(False, "", f"20 soft updates with τ = 0.2 should shrink the gap |θ⁻ − θ| by 0.8^20 ≈ 0.0115 "
                      f"(from {start_gap:.3f} to {start_gap * 0.8 ** 20:.4f}), got {gap:.4f}.")
    ok, out = _guard(fn, target, online, 1.0)
    if not ok or not _same(_weights(target), theta, atol=1e-6):
        return report(False, "", out if not ok else "τ = 1 should copy θ exactly (a hard update).")
    return report(True, "soft_update moves θ⁻ a fraction τ towards θ, in place; 20 updates shrink the gap by "
                  "(1 − τ)^20 and τ = 1 is a hard update.", "")


def _reference_target_td(rewards: Any, next_obs: Any, terminated: Any, target_network: Any,
                         gamma: float) -> Any:
    import torch

    with torch.no_grad():
        return rewards + gamma * (1.0 - terminated) * target_network(next_obs).max(dim=1).values


def check_target_td_target(fn: Callable[..., Any]) -> bool:
    """Exercise 4.3: ``fn(rewards, next_obs, terminated, target_network, gamma)`` returns the (B,) TD targets
    r + γ (1 − terminated) max_a' Q(s', a'; θ⁻), without gradient. Introduced in lesson 04."""
    import torch

    net = torch.nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 2.0]]))  # Q(s') = (s'_0, 2 s'_1)
    rewards = torch.tensor([1.0, 0.0, -1.0])
    next_obs = torch.tensor([[1.0, 1.0], [3.0, 0.0], [5.0, 5.0]])
    terminated = torch.tensor([0.0, 0.0, 1.0])
    ok, y = _guard(fn, rewards, next_obs, terminated, net, 0.5)
    if not ok:
        return report(False, "", y)
    if not isinstance(y, torch.Tensor):
        return report(False, "", f"return a torch tensor of shape (batch,), got {type(y).__name__}.")
    if tuple(y.shape) != (3,):
        return report(False, "", f"the targets should have shape (3,) for a batch of 3, got {tuple(y.shape)}. "
                      "Take .max(dim=1).values of the (batch, n_actions) Q-values (no keepdim).")
    if y.requires_grad:
        return report(False, "", "the targets carry a gradient: compute them inside torch.no_grad() (the target "
                      "is a constant the online network moves towards).")
    want = torch.tensor([2.0, 1.5, -1.0])
    slips = [
        (torch.tensor([2.0, 1.5, 4.0]), "the terminal transition was bootstrapped: multiply γ max Q(s', ·) by "
                                        "(1 − terminated)."),
        (torch.tensor([1.5, 0.0, -1.0]), "use the MAX over next actions, max_a' Q(s', a'), not the min."),
        (torch.tensor([3.0, 3.0, -1.0]), "multiply the bootstrapped value by γ."),
    ]
    if not torch.allclose(y.float(), want, atol=1e-6):
        hint = next((h for v, h in slips if torch.allclose(y.float(), v, atol=1e-6)),
                    "y = r + γ (1 − terminated) max_a' Q(s', a'; θ⁻).")
        return report(False, "", f"with Q(s') = (s'_0, 2 s'_1), r = [1, 0, -1], terminated = [0, 0, 1] and "
                      f"γ = 0.5 the targets are [2, 1.5, -1], got {y.tolist()}. {hint}")
    gen = torch.Generator().manual_seed(4)
    for gamma in (0.99, 0.9):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(gamma * 100))
            target = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
        args = (torch.randn(16, generator=gen), torch.randn(16, 4, generator=gen),
                (torch.rand(16, generator=gen) < 0.3).float())
        ok, y = _guard(fn, *args, target, gamma)
        if not ok:
            return report(False, "", y)
        want = _reference_target_td(*args, target, gamma)
        if not isinstance(y, torch.Tensor) or not torch.allclose(y, want, atol=1e-5):
            return report(False, "", f"right on the hand batch but not on a random one (16 transitions, 3 "
                          f"actions, γ = {gamma}). Avoid hard-coded sizes and use the gamma argument.")
    return report(True, "TD targets with the target network: exact on the hand batch, no gradient, terminal "
                  "transitions not bootstrapped, and equal to the reference on random batches.", "")


# ---------------------------------------------------------------- lesson 05 (DQN on CartPole)


def _hand_dqn_problem() -> tuple[Any, Any, Any, float]:
    """Two bias-free linear 'networks' and a 3-transition batch whose DQN loss is exactly 2/3.

    online Q(s) = s, target Q(s') = 2 s'; Q(s,a) = [2, 3, 0], y = [2, 2, -1] (the last one terminal).
    """
    from types import SimpleNamespace

    import torch

    online, target = torch.nn.Linear(2, 2, bias=False), torch.nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        online.weight.copy_(torch.eye(2))
        target.weight.copy_(2 * torch.eye(2))
    batch = SimpleNamespace(
        obs=torch.tensor([[1.0, 2.0], [3.0, 0.0], [0.0, 1.0]]),
        actions=torch.tensor([1, 0, 0]),
        rewards=torch.tensor([1.0, 0.0, -1.0]),
        next_obs=torch.tensor([[1.0, 1.0], [0.0, 2.0], [4.0, 4.0]]),
        terminated=torch.tensor([0.0, 0.0, 1.0]),
    )
    return online, target, batch, 0.5


def _reference_dqn_loss(online: Any, target: Any, batch: Any, gamma: float) -> Any:
    import torch

    q_taken = online(batch.obs).gather(1, batch.actions.unsqueeze(1)).squeeze(1)
    with torch.no_grad():
        y = batch.rewards + gamma * (1.0 - batch.terminated) * target(batch.next_obs).max(dim=1).values
    return ((y - q_taken) ** 2).mean()


# Losses that common slips give on the hand batch (true answer 2/3), each with what to fix.
_DQN_LOSS_SLIPS = {
    10 / 3: "The terminal transition was bootstrapped: multiply γ·max Q(s', ·) by (1 - terminated).",
    7 / 4: "The target used the online network; compute max_a' Q(s', a') with target_network.",
    5 / 3: "Q(s, a) must be the value of the action TAKEN: q.gather(1, actions.unsqueeze(1)).squeeze(1), "
           "not the max over actions.",
    1 / 3: "That is the Huber loss (or half the MSE); this exercise asks for mean((y - Q(s,a))²).",
    4.0: "A (batch, 1) tensor met a (batch,) tensor and broadcast to (batch, batch): squeeze(1) the "
         "gathered Q-values.",
}


def check_dqn_loss(fn: Callable[..., Any]) -> bool:
    """Check ``fn(q_network, target_network, batch, gamma) -> scalar loss`` (the MSE DQN loss).

    Exact value on a hand batch, gradient only into the online network, random batches vs a reference.
    Introduced in lesson 05 (exercise 5.1).
    """
    import torch

    online, target, batch, gamma = _hand_dqn_problem()
    ok, loss = _guard(fn, online, target, batch, gamma)
    if not ok:
        return report(False, "", loss)
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        return report(False, "", f"return the loss as a one-element torch tensor (got {type(loss).__name__}"
                      f"{'' if not isinstance(loss, torch.Tensor) else ' of shape ' + str(tuple(loss.shape))}).")
    value = float(loss.detach())
    if abs(value - 2 / 3) > 1e-5:
        slip = next((h for v, h in _DQN_LOSS_SLIPS.items() if abs(value - v) < 1e-5), None)
        return report(False, "", f"on the hand batch the loss should be 2/3 ≈ 0.6667, got {value:.4f}. "
                      + (slip or "Targets y = r + γ (1 - terminated) max_a' Q_target(s', a'), then "
                                 "mean((y - Q(s, a))²)."))
    if not loss.requires_grad:
        return report(False, "", "the loss carries no gradient: compute Q(s, a) with q_network outside "
                      "torch.no_grad(), so loss.backward() can reach its weights.")
    loss.backward()
    if target.weight.grad is not None and target.weight.grad.abs().sum() > 0:
        return report(False, "", "the gradient reached the target network: compute the targets inside "
                      "torch.no_grad() (or .detach() them). Only θ learns; θ⁻ is a frozen copy.")
    expected = torch.tensor([[2.0, 2 / 3], [0.0, 0.0]])  # dL/dW by hand: row a sums 2(q_i - y_i)/3 · s_i
    if online.weight.grad is None or not torch.allclose(online.weight.grad, expected, atol=1e-5):
        return report(False, "", "the value is right but the gradient into q_network is not: keep the "
                      "Q(s, a) term differentiable and the target constant.")
    gen = torch.Generator().manual_seed(5)
    for trial in range(3):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(100 + trial)
            q_net = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
            t_net = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
        n = 32
        from types import SimpleNamespace

        rand = SimpleNamespace(obs=torch.randn(n, 4, generator=gen), actions=torch.randint(0, 3, (n,), generator=gen),
                               rewards=torch.randn(n, generator=gen), next_obs=torch.randn(n, 4, generator=gen),
                               terminated=(torch.rand(n, generator=gen) < 0.3).float())
        g = [0.99, 0.9, 1.0][trial]
        ok, got = _guard(fn, q_net, t_net, rand, g)
        want = float(_reference_dqn_loss(q_net, t_net, rand, g).detach())
        if not ok:
            return report(False, "", got)
        if not isinstance(got, torch.Tensor) or abs(float(got.detach()) - want) > 1e-4 * max(1.0, abs(want)):
            shown = f"{float(got.detach()):.5f}" if isinstance(got, torch.Tensor) else repr(got)
            return report(False, "", f"right on the hand batch but not on a random one (γ={g}, 32 transitions, "
                          f"3 actions): expected {want:.5f}, got {shown}. Avoid hard-coded sizes.")
    return report(True, "DQN loss correct: exact on the hand batch, gradient only into q_network, "
                  "and it matches the reference on random batches.", "")


def check_linear_epsilon(fn: Callable[..., Any]) -> bool:
    """Check ``fn(step, start, end, fraction, total_steps) -> ε``: linear over fraction·total_steps, then flat.

    Introduced in lesson 05 (exercise 5.2); the reference is ``schedules.LinearSchedule``.
    """
    cases = [  # (step, start, end, fraction, total_steps, expected)
        (0, 1.0, 0.01, 0.3, 30_000, 1.0),
        (4_500, 1.0, 0.01, 0.3, 30_000, 0.505),
        (9_000, 1.0, 0.01, 0.3, 30_000, 0.01),
        (25_000, 1.0, 0.01, 0.3, 30_000, 0.01),
        (50, 0.5, 0.1, 0.5, 200, 0.3),
        (1, 1.0, 0.0, 1.0, 4, 0.75),
    ]
    for step, start, end, fraction, total, want in cases:
        ok, got = _guard(fn, step, start, end, fraction, total)
        if not ok:
            return report(False, "", got)
        if not isinstance(got, int | float | np.floating) or isinstance(got, bool):
            return report(False, "", f"return a float, got {type(got).__name__} for step={step}.")
        if abs(float(got) - want) > 1e-9:
            duration = int(fraction * total)
            if float(got) < end - 1e-12:
                hint = "ε went below `end`: after the decay it must stay flat at `end` (clamp the progress at 1)."
            elif step < duration and abs(float(got) - (start + step / total * (end - start))) < 1e-9:
                hint = "ε decays over the whole run; it should reach `end` after fraction · total_steps steps."
            else:
                hint = ("ε(step) = start + min(step / duration, 1) · (end - start), with "
                        "duration = int(fraction · total_steps).")
            return report(False, "", f"ε({step}) with start={start}, end={end}, fraction={fraction}, "
                          f"total_steps={total} should be {want}, got {got}. {hint}")
    return report(True, "linear ε schedule correct: decays over the first fraction of training, then flat.", "")

# ---------------------------------------------------------------- lesson 06 (Atari preprocessing)


_PREPROCESS_TOLERANCE = 1  # gray levels: rounding in a different but correct grayscale/resize


def check_preprocess_frame(fn: Callable[..., Any], frames: Any) -> bool:
    """Exercise 6.1: ``fn(frame_rgb)`` returns a uint8 (84, 84) frame equal to ``atari.preprocess_frame``
    within 1 gray level on every pixel of the real screens ``frames``. Introduced in lesson 06."""
    import cv2

    from dqn_helpers import atari

    screens = [np.asarray(f) for f in frames]
    if not screens or any(s.shape != (210, 160, 3) or s.dtype != np.uint8 for s in screens):
        return report(False, "", "the checker needs real Atari screens: a list of uint8 (210, 160, 3) "
                                 "arrays such as env.render() of ALE/Pong-v5.")
    worst = 0
    for i, screen in enumerate(screens):
        original = screen.copy()
        ok, out = _guard(fn, screen)
        if not ok:
            return report(False, "", out)
        if not np.array_equal(screen, original):
            return report(False, "", "your function changed the input screen in place; work on a copy "
                                     "(cv2.cvtColor and cv2.resize already return new arrays).")
        if not isinstance(out, np.ndarray):
            return report(False, "", f"return a NumPy array, got {type(out).__name__}.")
        if out.shape != (84, 84):
            if out.shape == (84, 84, 3):
                hint = "convert to grayscale first: cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)."
            elif out.shape == (210, 160):
                hint = "the grayscale part is done; now resize: cv2.resize(gray, (84, 84), interpolation=...)."
            else:
                hint = "cv2.resize takes the size as (width, height) = (84, 84)."
            return report(False, "", f"expected shape (84, 84), got {out.shape}: {hint}")
        if out.dtype != np.uint8:
            if np.issubdtype(out.dtype, np.floating) and float(out.max()) <= 1.0:
                hint = ("keep the pixel values as uint8 in 0-255 (do not divide by 255 here): the replay "
                        "buffer stores bytes and the network divides by 255 on the device.")
            else:
                hint = "return uint8 values in 0-255 (cv2 keeps uint8 if you give it uint8)."
            return report(False, "", f"expected dtype uint8, got {out.dtype}: {hint}")
        reference = atari.preprocess_frame(screen)
        diff = np.abs(out.astype(np.int16) - reference.astype(np.int16))
        if diff.max() > _PREPROCESS_TOLERANCE:
            gray = cv2.cvtColor(screen, cv2.COLOR_RGB2GRAY)
            suspects = {
                "use interpolation=cv2.INTER_AREA: the default (linear) samples a few pixels instead of "
                "averaging all of them, so thin objects such as the ball shrink or vanish.":
                    cv2.resize(gray, (84, 84)),
                "use interpolation=cv2.INTER_AREA, which averages every source pixel; nearest-neighbour "
                "keeps one pixel in ~5 and drops the rest.":
                    cv2.resize(gray, (84, 84), interpolation=cv2.INTER_NEAREST),
                "ALE screens are RGB, not OpenCV's usual BGR: use cv2.COLOR_RGB2GRAY.":
                    cv2.resize(cv2.cvtColor(screen, cv2.COLOR_BGR2GRAY), (84, 84),
                               interpolation=cv2.INTER_AREA),
                "your image is transposed: cv2.resize takes (width, height) and returns (height, width); "
                "do not swap axes.": reference.T,
            }
            hint = next((h for h, img in suspects.items() if np.array_equal(out, img)),
                        "grayscale with cv2.COLOR_RGB2GRAY, then cv2.resize(gray, (84, 84), "
                        "interpolation=cv2.INTER_AREA).")
            share = float((diff > _PREPROCESS_TOLERANCE).mean())
            return report(False, "", f"on real frame {i}, {share:.1%} of the pixels differ from the reference "
                                     f"by more than {_PREPROCESS_TOLERANCE} gray level (largest: "
                                     f"{int(diff.max())}). {hint}")
        worst = max(worst, int(diff.max()))
    return report(True, f"your preprocess_frame matches the reference on {len(screens)} real frames "
                        f"(tolerance {_PREPROCESS_TOLERANCE} gray level per pixel; largest difference "
                        f"{worst}).", "")


def check_push_frame(fn: Callable[..., Any]) -> bool:
    """Exercise 6.2: ``fn(stack, frame)`` returns a new stack: oldest frame dropped, ``frame`` appended
    last, input untouched. Introduced in lesson 06."""
    stack = np.stack([np.full((84, 84), v, dtype=np.uint8) for v in (10, 20, 30, 40)])
    frame = np.full((84, 84), 50, dtype=np.uint8)
    original = stack.copy()
    ok, out = _guard(fn, stack, frame)
    if not ok:
        return report(False, "", out)
    if not np.array_equal(stack, original):
        return report(False, "", "you modified the old stack in place; return a new array (the previous "
                                 "observation may still be in use, e.g. as the obs of the stored transition).")
    out = np.asarray(out) if out is not None else None
    if out is None:
        return report(False, "", "return the new stack (your function returned None).")
    if out.shape != (4, 84, 84):
        hint = ("drop the oldest frame (stack[0]) so the stack keeps 4 frames."
                if out.shape == (5, 84, 84) else "the result must have the stack's shape, (4, 84, 84).")
        return report(False, "", f"expected shape (4, 84, 84), got {out.shape}: {hint}")
    levels = [int(out[k, 0, 0]) for k in range(4)]
    wrong = {(50, 10, 20, 30): "the newest frame goes LAST (index -1), oldest first.",
             (10, 20, 30, 50): "drop the oldest frame (index 0), not the newest one.",
             (50, 20, 30, 40): "do not overwrite slot 0: shift everything one place left, then put the "
                               "new frame last."}
    if tuple(levels) != (20, 30, 40, 50):
        hint = wrong.get(tuple(levels), "stack[1:] followed by the new frame.")
        return report(False, "", f"from frames [10, 20, 30, 40] + new 50 expected [20, 30, 40, 50], got "
                                 f"{levels}: {hint}")
    if out.dtype != np.uint8:
        return report(False, "", f"keep dtype uint8 (frames are bytes), got {out.dtype}.")
    rng = np.random.default_rng(6)
    for k in (1, 2, 3, 8):
        stack = rng.integers(0, 256, size=(k, 84, 84), dtype=np.uint8)
        frame = rng.integers(0, 256, size=(84, 84), dtype=np.uint8)
        ok, out = _guard(fn, stack, frame)
        if not ok:
            return report(False, "", f"with a stack of {k} frame(s), {out}. Do not assume 4 frames: "
                                     "use slicing (stack[1:]).")
        expected = np.concatenate([stack[1:], frame[None]])
        if out is None or not np.array_equal(np.asarray(out), expected):
            return report(False, "", f"a stack of {k} frame(s) came out wrong: do not assume 4 frames, use "
                                     "stack.shape[0] or slicing (stack[1:]).")
    return report(True, "push_frame drops the oldest frame and appends the new one, for any stack size.", "")


def _size_answer(out: Any) -> tuple[int | None, str]:
    """(value, "") if ``out`` is a whole number, else (None, a hint)."""
    if isinstance(out, bool) or not isinstance(out, int | float | np.integer | np.floating):
        return None, f"return an int, got {type(out).__name__} {out!r}."
    if not float(out).is_integer():
        return None, f"returned {out}: sizes are whole numbers; use floor division //."
    if not isinstance(out, int | np.integer):
        return None, f"return an int, got {type(out).__name__} {out!r} (use // rather than /)."
    return int(out), ""


def check_conv_output_size(fn: Callable[..., Any]) -> bool:
    """Exercise 6.3: ``fn(size, kernel, stride, padding=0)`` is a convolution's output side,
    ``(size + 2*padding - kernel) // stride + 1``. Introduced in lesson 06."""
    for args, expected in [((84, 8, 4), 20), ((20, 4, 2), 9), ((9, 3, 1), 7)]:
        ok, out = _guard(fn, *args)
        if not ok:
            return report(False, "", out)
        value, hint = _size_answer(out)
        size, kernel, stride = args
        if value is None:
            return report(False, "", f"conv_output_size{args}: {hint}")
        if value != expected:
            if value in (size // stride, -(-size // stride)):
                hint = "subtract the kernel first: the kernel must fit inside the input at every position."
            elif value == (size - kernel) // stride:
                hint = "add 1: the first position counts too."
            else:
                hint = "output = (size + 2*padding - kernel) // stride + 1."
            return report(False, "", f"conv_output_size{args} should be {expected} (a Nature CNN layer), "
                                     f"got {value}: {hint}")
    rng = np.random.default_rng(6)
    for _ in range(50):
        kernel, stride, padding = int(rng.integers(1, 9)), int(rng.integers(1, 5)), int(rng.integers(0, 3))
        size = int(rng.integers(kernel, 100))
        expected = (size + 2 * padding - kernel) // stride + 1
        ok, out = _guard(fn, size, kernel, stride, padding)
        if not ok:
            return report(False, "", out)
        value, hint = _size_answer(out)
        if value != expected:
            if value == (size - kernel) // stride + 1:
                hint = "you ignore padding: it adds `padding` pixels on each side, so use size + 2*padding."
            hint = hint or "output = (size + 2*padding - kernel) // stride + 1."
            return report(False, "", f"conv_output_size({size}, {kernel}, {stride}, padding={padding}) "
                                     f"should be {expected}, got {out!r}: {hint}")
    return report(True, "conv_output_size is right: 84 -> 20 -> 9 -> 7, and 50 random layers with padding.", "")


# ---------------------------------------------------------------- lesson 07 (Pong)


def _close(a: float, b: float, rel: float = 1e-9) -> bool:
    return abs(a - b) <= rel * max(1.0, abs(b))


def check_training_budget(fn: Callable[..., Any]) -> bool:
    """Exercise 7.1: ``fn(frames, frame_skip, steps_per_second) -> (agent_steps, hours)``, with
    ``agent_steps = frames // frame_skip`` and ``hours = agent_steps / steps_per_second / 3600``.
    Introduced in lesson 07."""
    cases = [  # (frames, frame_skip, steps/s): papers count frames, the loop counts agent steps
        (4_000_000, 4, 400.0), (10_000_000, 4, 490.0), (200_000_000, 4, 150.0),
        (40_000, 1, 1_000.0), (10, 4, 0.5),
    ]
    for frames, skip, speed in cases:
        ok, out = _guard(fn, frames, skip, speed)
        if not ok:
            return report(False, "", out)
        if not isinstance(out, tuple | list) or len(out) != 2:
            return report(False, "", f"return a pair (agent_steps, hours), got {out!r}.")
        steps, hours = out
        want_steps = frames // skip
        want_hours = want_steps / speed / 3600
        call = f"training_budget({frames:_}, {skip}, {speed:g})"
        if isinstance(steps, bool) or not isinstance(steps, int | np.integer):
            return report(False, "", f"{call}: agent_steps must be an int (a count of env.step calls), got "
                                     f"{type(steps).__name__} {steps!r}. Use floor division //.")
        if int(steps) != want_steps:
            if int(steps) == frames:
                hint = "that is the number of frames: each agent step plays frame_skip frames, so divide."
            elif int(steps) == frames * skip:
                hint = "divide by frame_skip, do not multiply: one agent step covers frame_skip frames."
            else:
                hint = "agent_steps = frames // frame_skip."
            return report(False, "", f"{call}: agent_steps should be {want_steps:,}, got {steps!r}. {hint}")
        if isinstance(hours, bool) or not isinstance(hours, int | float | np.floating):
            return report(False, "", f"{call}: hours must be a number, got {type(hours).__name__}.")
        if not _close(float(hours), want_hours):
            wrong = {"minutes": want_hours * 60, "seconds": want_hours * 3600,
                     "hours computed from frames": frames / speed / 3600}
            what = next((k for k, v in wrong.items() if _close(float(hours), v, 1e-6)), None)
            hint = {"minutes": "that is minutes: divide by 3600 seconds per hour, not 60.",
                    "seconds": "that is seconds: divide by 3600 to get hours.",
                    "hours computed from frames": "the speed is in agent steps per second: divide the "
                                                  "agent steps by it, not the frames."}.get(
                what or "", "hours = agent_steps / steps_per_second / 3600.")
            return report(False, "", f"{call}: hours should be {want_hours:.6g}, got {hours!r}. {hint}")
    return report(True, "budget arithmetic right: e.g. 10M frames = 2.5M agent steps = 1.42 h at 490 steps/s.",
                  "")


def _decay_steps_ok(t: int, start: float, end: float, decay: float) -> bool:
    """``t`` is the first step at which start·decay^t ≤ end (checked in floating point)."""
    return start * decay**t <= end and (t == 0 or start * decay ** (t - 1) > end)


def check_decay_steps(fn: Callable[..., Any]) -> bool:
    """Exercise 7.2: ``fn(epsilon_start, epsilon_end, decay)`` is the first step t with
    ``epsilon_start * decay**t <= epsilon_end`` (a per-step multiplicative schedule). Lesson 07."""
    cases = [(1.0, 0.1, 0.9999, 23_025), (1.0, 0.01, 0.995, 919), (0.5, 0.1, 0.5, 3),
             (1.0, 0.02, 0.99995, 78_239), (0.3, 0.3, 0.9, 0), (1.0, 0.05, 0.999, 2_995)]
    for start, end, decay, want in cases:
        call = f"decay_steps({start}, {end}, {decay})"
        ok, out = _guard(fn, start, end, decay)
        if not ok:
            return report(False, "", out)
        if isinstance(out, bool) or not isinstance(out, int | np.integer | float | np.floating):
            return report(False, "", f"{call}: return an int (a number of steps), got {type(out).__name__}.")
        if isinstance(out, float | np.floating):
            if out < 0:
                return report(False, "", f"{call}: returned {out}, a negative number of steps. Both logarithms "
                                         "are negative: t = ceil(log(end / start) / log(decay)).")
            if not float(out).is_integer():
                return report(False, "", f"{call}: returned {out}; a number of steps is a whole number: "
                                         "round UP with math.ceil (the first step at or below the end).")
            out = int(out)
        if not _decay_steps_ok(int(out), start, end, decay):
            if int(out) == want - 1:
                hint = ("one step short: at that step ε is still above the end. Round up (math.ceil), "
                        "not down or to the nearest.")
            elif int(out) < 0:
                hint = "negative: both logarithms are negative, so divide log(end/start) by log(decay)."
            else:
                hint = "solve start·decay^t ≤ end for t: t = ceil(log(end / start) / log(decay))."
            return report(False, "", f"{call} should be {want:,}, got {out!r}. {hint}")
    return report(True, "decay_steps right: ×0.9999 per step reaches 0.1 after 23,025 steps, not 1M.", "")


def check_points_tally(fn: Callable[..., Any]) -> bool:
    """Exercise 7.3: ``fn(rewards) -> (points_won, points_lost)`` from a Pong episode's raw rewards
    (+1 a point for the agent, -1 a point for the opponent, 0 otherwise). Introduced in lesson 07."""
    rng = np.random.default_rng(7)
    game = np.zeros(900)
    game[rng.choice(900, size=26, replace=False)] = [1.0] * 21 + [-1.0] * 5
    cases = [([0.0, 0.0, -1.0, 0.0, 1.0, -1.0], (1, 2)), ([], (0, 0)), ([0.0] * 50, (0, 0)),
             ([-1.0] * 21, (0, 21)), (game, (21, 5)), (list(game.astype(int)), (21, 5))]
    for rewards, want in cases:
        shown = f"{len(rewards)} rewards" if len(rewards) > 8 else repr(list(rewards))
        ok, out = _guard(fn, rewards)
        if not ok:
            return report(False, "", f"{out} (input: {shown})")
        if not isinstance(out, tuple | list) or len(out) != 2:
            return report(False, "", f"return a pair (points_won, points_lost), got {out!r} for {shown}.")
        won, lost = out
        try:
            got = (float(won), float(lost))
        except (TypeError, ValueError):
            return report(False, "", f"points must be numbers, got {out!r} for {shown}.")
        if got != want:
            if got == (want[0], -want[1]):
                hint = "count the points lost as a positive number (how many the opponent scored)."
            elif got == (want[1], want[0]):
                hint = "won and lost are swapped: +1 is a point for the agent."
            elif sum(got) == len(rewards) and len(rewards):
                hint = "zeros are frames without a point: count only the +1 and -1 rewards."
            else:
                hint = "won = number of rewards > 0, lost = number of rewards < 0."
            return report(False, "", f"for {shown} expected {want}, got {tuple(out)}. {hint}")
    return report(True, "points tally right: the score is won − lost, and a game ends when one side reaches 21.",
                  "")
