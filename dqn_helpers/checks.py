"""Exercise checkers: each prints a clear pass/fail line with a hint, returns a bool, and never raises.

Each lesson owns one section below. A checker is written straight-line: it calls the learner's code
directly, states what must hold with ``expect(condition, hint)`` (or ``fail(hint)``), and returns its
success message. The ``@checker`` decorator turns that into the printed report and the bool:

- the returned message prints as ``✅ message`` and the checker returns True;
- a failed expectation prints ``❌ Not yet. Hint: hint`` and returns False;
- any other exception (in the learner's code, or raised by what it returned) becomes a ❌ naming the
  exception's type and message, so a mistake never crashes the notebook.

Checkers never seed or consume the learner's global random state: their data come from local generators
(``np.random.default_rng``, ``torch.Generator``), networks are built inside
``torch.random.fork_rng``, and ``@checker`` restores python's, NumPy's and torch's global RNG states
afterwards in case the learner's code drew from them.
"""

from __future__ import annotations

import functools
import inspect
import random
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn, ParamSpec, TypeVar

import numpy as np

__all__ = [
    # writing a checker
    "checker",
    "expect",
    "fail",
    # lesson 01
    "check_q_learning_update",
    "check_epsilon_greedy",
    # lesson 02
    "check_discretize",
    "check_q_network",
    "check_td_target",
    # lesson 03
    "check_replay_buffer",
    "check_autocorrelation",
    # lesson 04
    "check_hard_update",
    "check_soft_update",
    "check_dqn_step",
    # lesson 05
    "check_dqn_loss",
    "check_linear_epsilon",
    # lesson 06
    "check_preprocess_frame",
    "check_push_frame",
    "check_conv_output_size",
    # lesson 07
    "check_training_budget",
    "check_n_step_return",
    "check_points_tally",
]

P = ParamSpec("P")
T = TypeVar("T")


class _Failure(Exception):
    """A failed expectation; ``str(failure)`` is the hint to print."""


def expect(condition: Any, hint: str) -> None:
    """Inside a checker: stop with ``hint`` unless ``condition`` holds."""
    if not condition:
        raise _Failure(hint)


def fail(hint: str) -> NoReturn:
    """Inside a checker: stop with ``hint``."""
    raise _Failure(hint)


def _describe(exc: BaseException) -> str:
    """A one-line hint about an exception raised while checking (usually by the learner's code)."""
    if isinstance(exc, NotImplementedError):
        return (
            "the function still raises NotImplementedError: replace the stub's body with your code."
        )
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at: {frames[-1].line})" if frames and frames[-1].line else ""
    return f"your code raised {type(exc).__name__}: {exc}{where}"


@contextmanager
def _on_error(template: str) -> Iterator[None]:
    """An exception inside the block fails with ``template``, where ``{error}`` describes the exception."""
    try:
        yield
    except _Failure:
        raise
    except Exception as exc:  # noqa: BLE001 - any learner error becomes a hint
        raise _Failure(template.replace("{error}", _describe(exc))) from exc


@contextmanager
def _global_rng_untouched() -> Iterator[None]:
    """Restore python's, NumPy's and (if imported) torch's global RNG states when the block ends."""
    python_state, numpy_state = random.getstate(), np.random.get_state()
    torch = sys.modules.get("torch")
    torch_state = torch.get_rng_state() if torch is not None else None
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
        if torch_state is not None:
            torch.set_rng_state(torch_state)


def _report(ok: bool, message: str) -> bool:
    """Print one pass/fail line (``message`` is the success text or the hint) and return ``ok``."""
    print(f"✅ {message}" if ok else f"❌ Not yet. Hint: {message}")
    return ok


def checker(body: Callable[P, str]) -> Callable[P, bool]:
    """Turn a straight-line check that returns its success message into a checker that prints ✅/❌ and
    returns a bool: a failed ``expect`` and any exception become ❌ with a hint, never an error."""

    @functools.wraps(body)
    def run(*args: P.args, **kwargs: P.kwargs) -> bool:
        with _global_rng_untouched():
            try:
                message = body(*args, **kwargs)
            except _Failure as failure:
                return _report(False, str(failure))
            except Exception as exc:  # noqa: BLE001 - a checker must never crash the notebook
                return _report(False, _describe(exc))
        return _report(True, message)

    run.__signature__ = inspect.signature(body).replace(return_annotation="bool")  # type: ignore[attr-defined]
    run.__annotations__ = {**body.__annotations__, "return": "bool"}
    return run


def _is_number(x: Any) -> bool:
    """Whether ``float(x)`` works (a Python or NumPy number, a one-element array or tensor)."""
    try:
        float(x)
    except (TypeError, ValueError, RuntimeError):
        return False
    return True


def _number(x: Any) -> float:
    """``float(x)``, or NaN if ``x`` is not a number (so comparisons with it fail instead of raising)."""
    return float(x) if _is_number(x) else float("nan")


def _seeded(build: Callable[[], T], seed: int) -> T:
    """``build()`` with torch's RNG seeded inside a fork, so the learner's global RNG is not touched."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def _fixed_linear(weight: Any) -> Any:
    """A bias-free ``nn.Linear`` whose weight is exactly ``weight`` (rows = outputs), built in a fork of torch's RNG."""
    import torch

    weight = torch.as_tensor(weight, dtype=torch.float32)
    net = _seeded(lambda: torch.nn.Linear(weight.shape[1], weight.shape[0], bias=False), seed=0)
    with torch.no_grad():
        net.weight.copy_(weight)
    return net


def _mlp(*sizes: int) -> Any:
    """Linear layers of these sizes with ReLUs between them (build it inside ``_seeded``)."""
    import torch

    layers: list[Any] = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [torch.nn.Linear(n_in, n_out), torch.nn.ReLU()]
    return torch.nn.Sequential(*layers[:-1])


# ---------------------------------------------------------------- lesson 01 (tabular Q-learning)


def _reference_q_update(
    q: np.ndarray,
    s: int,
    a: int,
    r: float,
    s_next: int,
    terminated: bool,
    alpha: float,
    gamma: float,
) -> float:
    """The Q-learning update done right (used to judge the learner's version)."""
    target = r if terminated else r + gamma * q[s_next].max()
    td_error = target - q[s, a]
    q[s, a] += alpha * td_error
    return float(td_error)


_Q_UPDATE_SLIPS = {  # what Q[4, 2] becomes in the hand case after a common slip (right: 0.275)
    0.45: "you set Q[s, a] to the target: move it only a fraction alpha of the way, "
    "Q[s, a] += alpha * (target - Q[s, a]).",
    0.15125: "the target uses the MAX over next actions, max_a' Q(s', a'), not the mean.",
    0.185: "the target uses max_a' Q(s', a') (the best next action), not Q(s', a) for the action you just took.",
    0.3: "multiply the bootstrapped value by gamma: target = r + gamma * max_a' Q(s', a').",
}


@checker
def check_q_learning_update(fn: Callable[..., Any]) -> str:
    """Exercise 1.1: ``fn(q_table, s, a, r, s_next, terminated, alpha, gamma)`` updates Q[s, a] in place
    and returns the TD error. Introduced in lesson 01."""
    q = np.zeros((6, 4))
    q[5] = [0.0, 0.5, 0.3, 0.1]
    q[4, 2] = 0.1
    before = q.copy()
    out = fn(q, 4, 2, 0.0, 5, False, 0.5, 0.9)
    new = q[4, 2]
    expect(
        not np.isclose(new, 0.1),
        "Q[4, 2] did not change: update the table IN PLACE (q_table[s, a] += ...); do not copy it or only "
        "return a value."
        + (
            " (You returned the new value 0.275, so the maths is right.)"
            if np.isclose(_number(out), 0.275)
            else ""
        ),
    )
    for value, hint in _Q_UPDATE_SLIPS.items():
        expect(not np.isclose(new, value), f"{hint} (Q[4, 2] became {new:.5g}; expected 0.275.)")
    expect(
        np.isclose(new, 0.275),
        f"Q[4, 2] = 0.1, r = 0, alpha = 0.5, gamma = 0.9, Q[5] = [0, .5, .3, .1]: "
        f"target = 0 + 0.9 * 0.5 = 0.45, so Q[4, 2] should become 0.1 + 0.5 * "
        f"(0.45 - 0.1) = 0.275, got {new:.5g}.",
    )
    changed = np.argwhere(~np.isclose(q, before))
    expect(len(changed) == 1, f"only Q[s, a] may change, but entries {changed.tolist()} changed.")
    expect(
        np.isclose(_number(out), 0.35),
        f"return the TD error delta = target - Q(s, a) computed BEFORE the "
        f"update (here 0.45 - 0.1 = 0.35), got {out!r}.",
    )
    # a terminal transition: no bootstrap from s_next
    q = np.zeros((6, 4))
    q[0] = [0.8, 0.0, 0.0, 0.0]
    q[3, 0] = 0.2
    fn(q, 3, 0, 1.0, 0, True, 0.1, 0.99)
    expect(
        not np.isclose(q[3, 0], 0.2 + 0.1 * (1.0 + 0.99 * 0.8 - 0.2)),
        "when terminated is True there is no next state to bootstrap from: the target is just r "
        "(use max_a' Q(s', a') only if not terminated).",
    )
    expect(
        np.isclose(q[3, 0], 0.28),
        f"terminal case (r = 1, Q[3, 0] = 0.2, alpha = 0.1): target = 1, so "
        f"Q[3, 0] should become 0.2 + 0.1 * (1 - 0.2) = 0.28, got {q[3, 0]:.5g}.",
    )
    # random cases against the reference
    rng = np.random.default_rng(0)
    for _ in range(25):
        q = rng.normal(size=(8, 3))
        ref = q.copy()
        args = (
            int(rng.integers(8)),
            int(rng.integers(3)),
            float(rng.normal()),
            int(rng.integers(8)),
            bool(rng.random() < 0.3),
            float(rng.uniform(0.01, 1.0)),
            float(rng.uniform(0.5, 1.0)),
        )
        expected = _reference_q_update(ref, *args)
        out = fn(q, *args)
        expect(
            np.allclose(q, ref) and np.isclose(_number(out), expected),
            f"a random case (s, a, r, s', terminated, alpha, gamma) = {args} gave a different table or TD "
            "error than the reference. Check that you use every argument (negative rewards too).",
        )
    return (
        "q_learning_update matches the hand-computed values, the terminal case and 25 random cases."
    )


@checker
def check_epsilon_greedy(fn: Callable[..., Any]) -> str:
    """Exercise 1.2: ``fn(q_values, epsilon, rng) -> int`` explores with probability epsilon and breaks
    greedy ties at random, drawing all randomness from ``rng``. Introduced in lesson 01."""

    def draw(q: list[float], epsilon: float, n: int, seed: int = 0) -> list[Any]:
        rng = np.random.default_rng(seed)
        q_arr = np.asarray(q, dtype=float)
        return [fn(q_arr.copy(), epsilon, rng) for _ in range(n)]

    def frequencies(actions: list[Any]) -> np.ndarray:
        return np.bincount(np.asarray(actions, dtype=int), minlength=4) / len(actions)

    a = draw([0.1, 0.7, 0.3, 0.2], 0.0, 1)[0]
    expect(
        isinstance(a, int | np.integer) and not isinstance(a, bool),
        f"return one action as an int (e.g. int(np.argmax(...))), got {a!r} of type {type(a).__name__}.",
    )
    actions = draw([0.1, 0.7, 0.3, 0.2], 0.0, 200)
    expect(
        set(actions) == {1},
        f"with epsilon = 0 and Q = [0.1, 0.7, 0.3, 0.2] always pick action 1 (the "
        f"argmax); you picked {sorted(set(map(int, actions)))}.",
    )
    counts = frequencies(draw([0.5, 0.9, 0.9, 0.1], 0.0, 2000))
    expect(
        counts[0] + counts[3] == 0 and 0.4 < counts[1] < 0.6,
        f"with epsilon = 0 and a tie Q = [0.5, 0.9, 0.9, 0.1] pick action 1 or 2, each about half the time; "
        f"you picked them with frequencies {np.round(counts, 3).tolist()}. np.argmax always returns the "
        "FIRST best action, so a fresh all-zero Q-table would always go left: choose among "
        "np.flatnonzero(q == q.max()) with rng.choice.",
    )
    counts = frequencies(draw([0.0, 1.0, 0.0, 0.0], 1.0, 4000))
    expect(
        np.all(np.abs(counts - 0.25) <= 0.05),
        f"with epsilon = 1 every action should be equally likely (0.25 each), got "
        f"{np.round(counts, 3).tolist()}. Draw the random action uniformly from ALL actions.",
    )
    share = float(np.mean(np.asarray(draw([0.0, 0.0, 1.0, 0.0], 0.4, 4000)) == 2))
    expect(
        abs(share - 0.7) <= 0.05,
        f"with epsilon = 0.4 the greedy action should come out 0.6 + 0.4/4 = 0.7 of the time (the random "
        f"action can be the greedy one too), got {share:.3f}. Compare rng.random() < epsilon.",
    )
    first, second = (list(map(int, draw([0.2, 0.2, 0.1, 0.2], 0.5, 50, seed=7))) for _ in range(2))
    expect(
        first == second,
        "two runs with the same rng seed gave different actions: draw ALL randomness from "
        "the rng argument (rng.random(), rng.integers(), rng.choice()), not from np.random "
        "or random, so that a seed reproduces a run.",
    )
    return "epsilon_greedy explores with probability epsilon, breaks ties at random and is reproducible from its rng."


# ---------------------------------------------------------------- lesson 02 (Q-networks)


def _reference_discretize(obs: Any, low: Any, high: Any, n_bins: int) -> int:
    """Bin each variable into n_bins equal cells of [low, high] (clipped), then read the bins as base-n digits."""
    obs, low, high = (np.asarray(v, dtype=float) for v in (obs, low, high))
    bins = np.clip(np.floor((obs - low) / (high - low) * n_bins), 0, n_bins - 1).astype(int)
    return int(np.ravel_multi_index(tuple(bins), (n_bins,) * len(bins)))


@checker
def check_discretize(fn: Callable[..., Any]) -> str:
    """Exercise 2.1: ``fn(obs, low, high, n_bins) -> int``, one state index in [0, n_bins**len(obs)).
    Introduced in lesson 02."""
    low = np.array([-2.4, -3.0, -0.21, -3.5])
    high = -low
    width = (high - low) / 10

    def call(obs: Any, n_bins: int = 10, lo: Any = low, hi: Any = high) -> Any:
        return fn(np.asarray(obs, dtype=np.float32), lo, hi, n_bins)

    out = call(low + width * (np.array([3, 1, 4, 1]) + 0.5))
    expect(
        isinstance(out, int | np.integer) and not isinstance(out, bool),
        f"return ONE integer state index (a row of the Q-table), got {out!r} of type {type(out).__name__}. "
        "Combine the four bin numbers, e.g. with np.ravel_multi_index(bins, (n_bins,) * 4).",
    )
    expect(
        out != 1413,
        "the digits are in reverse order: the FIRST variable (cart position) is the most "
        "significant digit, bins (3, 1, 4, 1) -> state 3141.",
    )
    expect(
        out == 3141,
        f"an observation in the middle of bins (3, 1, 4, 1) should give state 3141 "
        f"(= 3*1000 + 1*100 + 4*10 + 1), got {out}. Bin i of a variable covers "
        "[low + i*w, low + (i+1)*w) with w = (high - low) / n_bins.",
    )
    cases = [
        (
            low,
            0,
            "an observation at `low` is in bin 0 of every variable (state 0); as float32 it can lie "
            "a hair below `low`, so clip the bin numbers to 0..n_bins-1",
        ),
        (
            low - 10,
            0,
            "values below `low` belong to the first bin (clip the bin numbers to 0..n_bins-1)",
        ),
        (
            high,
            9999,
            "an observation exactly at `high` is in the LAST bin, n_bins - 1 (state 9999): "
            "floor gives n_bins there, so clip",
        ),
        (
            high + 10,
            9999,
            "values above `high` belong to the last bin (clip the bin numbers to 0..n_bins-1)",
        ),
        (
            np.array([-2.4, 3.0, -0.21, 3.5]),
            909,
            "mixed extremes: position and angle at `low` (bin 0), "
            "velocities at `high` (bin 9) -> 0*1000 + 9*100 + 0*10 + 9",
        ),
    ]
    for obs, expected, hint in cases:
        out = call(obs)
        expect(out == expected, f"{hint}; got {out} for obs {np.round(obs, 3).tolist()}.")
    rng = np.random.default_rng(0)
    for n_bins, lo, hi in ((10, low, high), (3, np.array([0.0, -1.0]), np.array([1.0, 5.0]))):
        for _ in range(200):
            obs = rng.uniform(lo - 0.5 * (hi - lo), hi + 0.5 * (hi - lo)).astype(np.float32)
            expected = _reference_discretize(obs, lo, hi, n_bins)
            out = call(obs, n_bins, lo, hi)
            expect(
                out == expected,
                f"with n_bins={n_bins}, low={lo.tolist()}, high={hi.tolist()} and obs "
                f"{obs.tolist()} the state is {expected}, you gave {out}. Use the "
                "arguments (n_bins, low, high, the length of obs), nothing hard-coded.",
            )
    return "discretize agrees with the reference on the edges, outside the bounds and on 400 random observations."


@checker
def check_q_network(fn: Callable[..., Any]) -> str:
    """Exercise 2.2: ``fn(obs_dim, n_actions, hidden) -> nn.Module``, the MLP obs_dim -> hidden -> hidden ->
    n_actions with ReLU between layers and no activation at the end. Introduced in lesson 02."""
    import torch

    net = fn(4, 2, 128)
    expect(
        isinstance(net, torch.nn.Module),
        f"return a torch.nn.Module (e.g. nn.Sequential(...)), got {type(net).__name__}.",
    )
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(256, 4, generator=gen) * 2
    with _on_error("{error} — does the first layer take obs_dim inputs?"):
        out = net(x)
    got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
    expect(
        got == (256, 2),
        f"a batch of 256 states (256, 4) should give Q-values of shape (256, 2), one per "
        f"action; got {got}.",
    )
    shapes = [
        (m.in_features, m.out_features) for m in net.modules() if isinstance(m, torch.nn.Linear)
    ]
    expect(
        shapes == [(4, 128), (128, 128), (128, 2)],
        f"expected three nn.Linear layers 4->128, 128->128, 128->2, found {shapes}.",
    )
    n_params = sum(p.numel() for p in net.parameters())
    expect(
        n_params == 17_410,
        f"the MLP 4 -> 128 -> 128 -> 2 with biases has 17,410 parameters, yours has "
        f"{n_params:,}. Keep bias=True and add nothing else with parameters.",
    )
    with torch.no_grad():
        a, b = x[:128], x[128:]
        zero = torch.zeros(1, 4)
        linear_gap = (net(a) + net(b) - net(zero) - net(a + b)).abs().max().item()
        outputs = net(x * 3)
    expect(
        linear_gap >= 1e-5,
        "your network is a linear map: put a ReLU after each hidden layer (without it, "
        "three Linear layers collapse into one).",
    )
    expect(
        not (outputs >= 0).all(),
        "every output is >= 0: do not put a ReLU (or any activation) after the "
        "last layer. Q-values may be negative.",
    )
    sizes_hint = (
        "make_q_network(6, 3, 32) should map (5, 6) to (5, 3): use the arguments obs_dim, n_actions "
        "and hidden instead of fixed sizes."
    )
    with _on_error(f"{sizes_hint} ({{error}})"):
        out = fn(6, 3, 32)(torch.randn(5, 6, generator=gen))
    expect(tuple(getattr(out, "shape", ())) == (5, 3), sizes_hint)
    return "make_q_network builds 4 -> 128 -> 128 -> 2 with ReLUs (17,410 parameters) and respects its arguments."


_TD_TARGET_SLIPS = {  # the target a common slip gives on the hand case (right: 1 + 0.9 * 2.5 = 3.25)
    1.0 + 0.9 * 0.5: "use the MAX over next actions; you used the first one.",
    1.0 + 0.9 * 5.0 / 3: "use the MAX over next actions, not the mean.",
    1.0 + 2.5: "multiply the next value by gamma.",
    0.9 * 2.5: "add the reward r.",
}


@checker
def check_td_target(fn: Callable[..., Any]) -> str:
    """Exercise 2.3: ``fn(q_network, reward, next_obs, terminated, gamma)`` -> the TD target
    r + gamma * (1 - terminated) * max_a' Q(s', a'), as a number with no gradient attached.
    Introduced in lesson 02."""
    import torch

    net = _fixed_linear([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    next_obs = torch.tensor([0.5, 2.0])  # Q(s', .) = [0.5, 2.0, 2.5]
    out = fn(net, 1.0, next_obs, False, 0.9)
    expect(
        not (isinstance(out, torch.Tensor) and out.requires_grad),
        "the target still carries a gradient: compute it under torch.no_grad() (or .detach() it). It is a "
        "fixed number the prediction moves towards; gradients must not flow into it.",
    )
    expect(_is_number(out), f"return one number (a 0-d tensor or a float), got {out!r}.")
    value = float(out)
    for bad, hint in _TD_TARGET_SLIPS.items():
        expect(
            not np.isclose(value, bad), f"{hint} (got {value:.4g}, expected 1 + 0.9 * 2.5 = 3.25.)"
        )
    expect(
        np.isclose(value, 3.25),
        f"Q(s', .) = [0.5, 2.0, 2.5], r = 1, gamma = 0.9: the target is "
        f"1 + 0.9 * 2.5 = 3.25, got {value:.4g}.",
    )
    value = _number(fn(net, 1.0, next_obs, True, 0.9))
    expect(
        np.isclose(value, 1.0),
        f"when terminated is True the target is just r = 1 (no future after a "
        f"terminal state), got {value:.4g}.",
    )
    expect(
        net.weight.grad is None,
        "computing the target touched the network's gradients: no backward() "
        "here, and use torch.no_grad().",
    )
    big = _seeded(lambda: _mlp(4, 16, 2), seed=1)
    gen = torch.Generator().manual_seed(1)
    for _ in range(10):
        obs = torch.randn(4, generator=gen)
        r, gamma = float(torch.randn((), generator=gen)), 0.99
        with torch.no_grad():
            expected = r + gamma * big(obs).max().item()
        value = _number(fn(big, r, obs, False, gamma))
        expect(
            np.isclose(value, expected, atol=1e-5),
            f"on a random network the target should be "
            f"{expected:.5f}, got {value:.5f}. Use the q_network "
            "you are given.",
        )
    return "td_target bootstraps from max_a' Q(s', a'), stops at terminal states and carries no gradient."


# ---------------------------------------------------------------- lesson 03 (experience replay)


def _add_numbered(buffer: Any, numbers: range) -> None:
    """Add transition k with obs = [k, k, k], action k % 2, reward k, next_obs = k + 1, terminated k % 3 == 2."""
    for k in numbers:
        obs = np.full(3, k, dtype=np.float32)
        buffer.add(obs, k % 2, float(k), obs + 1.0, k % 3 == 2)


def _sample_fields(buffer: Any, batch_size: int) -> list[np.ndarray]:
    """Sample once and return the five fields as numpy arrays; fail with a hint if they are not right."""
    import torch

    out = buffer.sample(batch_size)
    expect(
        isinstance(out, tuple | list) and len(out) >= 5,
        f"sample must return a tuple (obs, actions, rewards, next_obs, terminated), got {type(out).__name__}"
        + (f" of length {len(out)}." if isinstance(out, tuple | list) else "."),
    )
    names = ("obs", "actions", "rewards", "next_obs", "terminated")
    shapes = ((batch_size, 3), (batch_size,), (batch_size,), (batch_size, 3), (batch_size,))
    dtypes = (torch.float32, torch.int64, torch.float32, torch.float32, torch.float32)
    for name, field, shape, dtype in zip(names, out[:5], shapes, dtypes):
        expect(
            isinstance(field, torch.Tensor),
            f"{name} came back as {type(field).__name__}; return torch tensors "
            "(torch.as_tensor(self.obs[indices]) and so on), ready for the network.",
        )
        expect(
            tuple(field.shape) == shape,
            f"with batch_size={batch_size} and obs_shape=(3,), {name} should have shape {shape}, got "
            f"{tuple(field.shape)}. Index every array with the same batch of indices: self.obs[indices].",
        )
        expect(
            field.dtype == dtype,
            f"{name} should be {dtype}, got {field.dtype}: the network wants float32 inputs and gather() "
            "wants int64 actions (check the dtypes of the storage arrays).",
        )
    return [f.detach().cpu().numpy() for f in out[:5]]


@checker
def check_replay_buffer(cls: Callable[..., Any]) -> str:
    """Exercise 3.1: a circular buffer ``cls(capacity, obs_shape, seed)`` with add, __len__ and a uniform
    random ``sample(batch_size)`` returning (obs, actions, rewards, next_obs, terminated) tensors.
    Introduced in lesson 03."""
    buffer = cls(5, (3,), seed=0)
    _add_numbered(buffer, range(1, 4))
    size = len(buffer)
    expect(
        size == 3,
        f"after 3 adds to a buffer of capacity 5, len(buffer) should be 3, got {size}. "
        "Grow self.size by one in add (but never past capacity).",
    )
    early = {reward for _ in range(30) for reward in _sample_fields(buffer, 2)[2].tolist()}
    expect(
        early <= {1.0, 2.0, 3.0},
        f"only 3 of 5 slots are filled, yet samples held rewards {sorted(early)}: "
        "draw indices from the filled part only, "
        "rng.integers(0, len(self), size=batch_size), never from empty slots.",
    )
    _add_numbered(buffer, range(4, 9))
    size = len(buffer)
    expect(
        size == 5,
        f"after 8 adds to a buffer of capacity 5, len(buffer) should stay 5, got {size}. "
        "Cap the size (min(size + 1, capacity)) and wrap the write position with % capacity.",
    )
    seen: list[float] = []
    for _ in range(200):
        obs, actions, rewards, next_obs, terminated = _sample_fields(buffer, 4)
        expect(
            np.all(obs == rewards[:, None])
            and np.all(next_obs == rewards[:, None] + 1)
            and np.all(actions == rewards.astype(int) % 2)
            and np.all(terminated == (rewards.astype(int) % 3 == 2)),
            "the fields of a sampled row come from different transitions (e.g. the obs of one and the "
            "reward of another). Draw ONE array of indices and use it for all five arrays.",
        )
        seen += rewards.tolist()
    kept = {4.0, 5.0, 6.0, 7.0, 8.0}
    old = sorted(set(seen) - kept)
    expect(
        not old,
        f"transitions {old} should have been overwritten: with capacity 5 only the 5 newest (4..8) "
        "remain. Write at self.position and advance it with (position + 1) % capacity.",
    )
    expect(
        set(seen) == kept,
        f"800 draws from a full buffer never returned transitions "
        f"{sorted(kept - set(seen))}: sample uniformly over all {len(kept)} slots.",
    )
    counts = [seen.count(k) for k in sorted(kept)]
    expect(
        min(counts)
        >= 100,  # 800 uniform draws over 5 slots: 160 each, below 100 is far outside chance
        f"800 draws should hit each of the 5 slots about 160 times, got {counts}: sample the indices "
        "uniformly at random.",
    )
    draws = []
    for _ in range(2):
        twin = cls(50, (3,), seed=123)
        _add_numbered(twin, range(1, 51))
        draws.append(_sample_fields(twin, 16)[2].tolist())
    expect(
        draws[0] == draws[1],
        "two buffers built with the same seed sampled different transitions: use "
        "self.rng (np.random.default_rng(seed)) for the indices, not np.random or random.",
    )
    expect(
        draws[0] != sorted(draws[0]) and len(set(draws[0])) >= 8,
        f"a sample of 16 from 50 transitions came out as {draws[0]}: that is not a random minibatch (sorted "
        "or repeated). Draw independent random indices.",
    )
    return (
        "ReplayBuffer wraps at capacity, samples uniformly from the filled slots, keeps each transition's "
        "fields together and is reproducible from its seed."
    )


def _reference_autocorrelation(x: np.ndarray, lag: int) -> float:
    """Pearson correlation between x[t] and x[t + lag] (1.0 at lag 0)."""
    x = np.asarray(x, dtype=float)
    return float(np.corrcoef(x[: len(x) - lag], x[lag:])[0, 1])


@checker
def check_autocorrelation(fn: Callable[..., Any]) -> str:
    """Exercise 3.2: ``fn(x, lag) -> float``, the correlation between ``x[t]`` and ``x[t + lag]``.
    Introduced in lesson 03."""
    ramp = np.arange(20, dtype=float)
    alternating = np.array([1.0, -1.0] * 10)
    cases = [
        (
            ramp,
            1,
            1.0,
            "a straight line x = 0, 1, 2, ... is perfectly correlated with itself one step later",
        ),
        (alternating, 1, -1.0, "x = 1, -1, 1, -1, ... one step later is exactly the opposite: -1"),
        (alternating, 2, 1.0, "x = 1, -1, 1, -1, ... two steps later is the same series again: +1"),
        (
            ramp,
            0,
            1.0,
            "lag 0 compares x with itself: 1. Careful: x[:-0] is EMPTY in Python; "
            "slice with x[:len(x) - lag]",
        ),
    ]
    for x, lag, want, why in cases:
        with _on_error(f"lag 0: {why}. ({{error}})" if lag == 0 else "{error}"):
            got = fn(x.copy(), lag)
        expect(_is_number(got), f"return one float, got {got!r}.")
        value = float(got)
        expect(
            np.isfinite(value) and abs(value - want) <= 1e-6,
            f"lag {lag} on {np.round(x[:6], 1).tolist()}... should give {want}, got {value:.4g}: {why}.",
        )
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
        value = _number(fn(series.copy(), lag))
        expect(
            abs(value - want) <= 1e-6,
            f"on a random correlated series (400 points, lag {lag}) the correlation between x[:T - lag] and "
            f"x[lag:] is {want:.5f}, got {value:.5f}. Use the Pearson correlation of the two shifted slices, "
            "e.g. np.corrcoef(a, b)[0, 1] (each slice centred on its own mean).",
        )
    return "autocorrelation matches the hand cases (ramp, alternating, lag 0) and 5 random correlated series."


# ---------------------------------------------------------------- lesson 04 (target networks)


def _twin_networks(seed: int = 0) -> tuple[Any, Any]:
    """Two small MLPs with the same architecture and different random weights."""
    return _seeded(lambda: (_mlp(3, 5, 2), _mlp(3, 5, 2)), seed)


def _weights(net: Any) -> list[Any]:
    return [p.detach().clone() for p in net.parameters()]


def _same(a: list[Any], b: list[Any], atol: float = 0.0) -> bool:
    import torch

    return all(torch.allclose(x, y, rtol=0.0, atol=atol) for x, y in zip(a, b))


def _shift_online(online: Any) -> None:
    """Train the online network "afterwards": add 1 to every weight, in place."""
    import torch

    with torch.no_grad():
        for p in online.parameters():
            p.add_(1.0)


@checker
def check_hard_update(fn: Callable[..., Any]) -> str:
    """Exercise 4.1: ``fn(target_network, online_network)`` copies θ into θ⁻ in place (θ⁻ ← θ).
    Introduced in lesson 04."""
    target, online = _twin_networks(1)
    before_target, before_online = _weights(target), _weights(online)
    fn(target, online)
    after_target, after_online = _weights(target), _weights(online)
    expect(
        not (_same(after_online, before_target) and not _same(after_online, before_online)),
        "the ONLINE network received the target's weights: the copy goes the other way, θ⁻ ← θ "
        "(target_network gets online_network's weights).",
    )
    expect(
        _same(after_online, before_online),
        "the online network changed: a hard update only writes into the target.",
    )
    expect(
        not _same(after_target, before_target),
        "target_network did not change. `target_network = online_network` inside the function only rebinds "
        "a local name; copy the values INTO the target, e.g. "
        "target_network.load_state_dict(online_network.state_dict()).",
    )
    expect(
        _same(after_target, before_online),
        "after a hard update every target weight must equal the online "
        "weight exactly (θ⁻ = θ); some differ. Copy all parameters, "
        "biases included.",
    )
    _shift_online(online)
    expect(
        _same(_weights(target), before_online),
        "the target moved when the online network was trained afterwards: it SHARES tensors with it (e.g. "
        "p_target.data = p_online.data). Copy values instead: p_target.copy_(p_online) or load_state_dict.",
    )
    return "hard_update copies θ into θ⁻ exactly, in place, and the copy stays frozen when θ keeps learning."


@checker
def check_soft_update(fn: Callable[..., Any]) -> str:
    """Exercise 4.2: ``fn(target_network, online_network, tau)`` does θ⁻ ← τ θ + (1 − τ) θ⁻ in place.
    Introduced in lesson 04."""
    target, online = _twin_networks(2)
    theta_minus, theta = _weights(target), _weights(online)
    fn(target, online, 0.1)
    got, online_after = _weights(target), _weights(online)
    want = [0.1 * a + 0.9 * b for a, b in zip(theta, theta_minus)]
    swapped = [0.9 * a + 0.1 * b for a, b in zip(theta, theta_minus)]
    expect(
        _same(online_after, theta),
        "the online network changed: a soft update only moves the target.",
    )
    expect(
        not _same(got, theta_minus),
        "target_network did not change: update its parameters IN PLACE inside "
        "torch.no_grad(), e.g. p_target.mul_(1 - tau).add_(tau * p_online).",
    )
    expect(
        not _same(got, swapped, atol=1e-6),
        "you swapped τ and 1 − τ: with τ = 0.1 the target should move "
        "only 10% of the way towards θ, θ⁻ ← τ θ + (1 − τ) θ⁻.",
    )
    expect(
        not _same(got, theta),
        "with τ = 0.1 the target jumped all the way to θ (that is a hard update); it "
        "should move 10%: θ⁻ ← τ θ + (1 − τ) θ⁻.",
    )
    expect(
        _same(got, want, atol=1e-6),
        "with τ = 0.1 each target weight should become 0.1 · θ + 0.9 · θ⁻; some "
        "do not (did you update every parameter, biases included?).",
    )
    _shift_online(online)
    expect(
        _same(_weights(target), want, atol=1e-6),
        "the target moved when the online weights changed later: it shares tensors with the online network. "
        "Update the target's own tensors in place.",
    )
    target, online = _twin_networks(3)
    theta = _weights(online)
    start_gap = sum(float((a - b).abs().sum()) for a, b in zip(_weights(target), theta))
    for _ in range(20):
        fn(target, online, 0.2)
    gap = sum(float((a - b).abs().sum()) for a, b in zip(_weights(target), theta))
    expect(
        abs(gap - start_gap * 0.8**20) <= 1e-4 * max(1.0, start_gap),
        f"20 soft updates with τ = 0.2 should shrink the gap |θ⁻ − θ| by 0.8^20 ≈ 0.0115 (from "
        f"{start_gap:.3f} to {start_gap * 0.8**20:.4f}), got {gap:.4f}.",
    )
    fn(target, online, 1.0)
    expect(
        _same(_weights(target), theta, atol=1e-6), "τ = 1 should copy θ exactly (a hard update)."
    )
    return (
        "soft_update moves θ⁻ a fraction τ towards θ, in place; 20 updates shrink the gap by (1 − τ)^20 and "
        "τ = 1 is a hard update."
    )


# Exercise 4.3: what lesson 04's `Learner` record holds; the checker builds the same fields.
_DQN_STEPS, _DQN_LEARNING_STARTS = 300, 50

# Common slips in the inner step, each with the hint that fixes it (the reference can make each one).
_DQN_STEP_SLIPS = {
    "truncated": "you stored `terminated or truncated`: store `terminated` only. A time-limit cut "
    "(truncated) still has a future, so the target must keep bootstrapping there (lesson 01).",
    "learn_first": "the update ran before the new transition was stored: store (step 4) first, then "
    "sample the minibatch (step 5) from the buffer that already holds it.",
    "late": "the first update came one step late: learn from step == learner.learning_starts on "
    "(skip only while step < learning_starts).",
    "theta": "the TD target came from θ (learner.q_network): with a target network, y uses "
    "learner.target_network (θ⁻).",
    "theta_minus": "with learner.target == 'none' there is no target network: y bootstraps from "
    "learner.q_network itself.",
    "bootstrap_terminal": "terminal transitions were bootstrapped: multiply γ max Q(s', ·; θ⁻) by "
    "(1 − terminated).",
    "mse": "the loss was the squared error whatever learner.loss_fn said: call "
    "learner.loss_fn(q_taken, y) (this case used the Huber loss).",
    "sync_every_step": "the hard update ran at every step: copy θ into θ⁻ only when "
    "step % learner.target_update == 0.",
    "no_sync": "θ⁻ never moved: after the update, sync it (hard: copy every target_update steps, "
    "soft: θ⁻ ← τ θ + (1 − τ) θ⁻ every step).",
}


def _dqn_parts(seed: int, target: str, loss: str) -> Any:
    """The parts of a small DQN run (env, networks, buffer, settings) as lesson 04's ``Learner`` names them."""
    import copy
    import types

    import gymnasium as gym
    import torch
    import torch.nn.functional as F

    from dqn_helpers import buffers, schedules

    env = gym.make("CartPole-v1", max_episode_steps=30)  # short episodes: truncations happen too
    obs, _ = env.reset(seed=seed)
    q_network = _seeded(lambda: _mlp(4, 16, 16, 2), seed)
    return types.SimpleNamespace(
        env=env,
        obs=obs,
        q_network=q_network,
        target_network=copy.deepcopy(q_network),
        optimizer=torch.optim.Adam(q_network.parameters(), lr=1e-3),
        buffer=buffers.ReplayBuffer(1_000, (4,), seed=seed),
        rng=np.random.default_rng(seed),
        epsilon=schedules.LinearSchedule(1.0, 0.1, 200),
        loss_fn={"mse": F.mse_loss, "huber": F.smooth_l1_loss}[loss],
        gamma=0.99,
        batch_size=16,
        learning_starts=_DQN_LEARNING_STARTS,
        target=target,
        target_update=40,
        tau=0.05,
    )


def _reference_dqn_step(parts: Any, step: int, slip: str = "") -> None:
    """Steps 2-8 of DQN done right (or with one of ``_DQN_STEP_SLIPS``), on ``_dqn_parts``."""
    import torch
    import torch.nn.functional as F

    from dqn_helpers import losses

    if parts.rng.random() < parts.epsilon(step):  # step 2: ε-greedy, as lesson 04's act()
        action = int(parts.rng.integers(2))
    else:
        with torch.no_grad():
            action = int(parts.q_network(torch.as_tensor(parts.obs)).argmax())
    next_obs, reward, terminated, truncated, _ = parts.env.step(action)  # step 3

    def learn() -> None:  # steps 5-7
        batch = parts.buffer.sample(parts.batch_size)
        use_theta = {"theta": True, "theta_minus": False}.get(slip, parts.target == "none")
        bootstrap = parts.q_network if use_theta else parts.target_network
        q_taken = parts.q_network(batch.obs).gather(1, batch.actions[:, None])[:, 0]
        with torch.no_grad():
            cut = 0.0 if slip == "bootstrap_terminal" else batch.terminated
            y = (
                batch.rewards
                + parts.gamma * (1 - cut) * bootstrap(batch.next_obs).max(dim=1).values
            )
        loss = (F.mse_loss if slip == "mse" else parts.loss_fn)(q_taken, y)
        parts.optimizer.zero_grad()
        loss.backward()
        parts.optimizer.step()

    starts = parts.learning_starts + (slip == "late")
    if slip == "learn_first" and step >= starts and len(parts.buffer) > 0:
        learn()
    stored_done = terminated or truncated if slip == "truncated" else terminated
    parts.buffer.add(parts.obs, action, reward, next_obs, stored_done)  # step 4
    parts.obs = parts.env.reset()[0] if terminated or truncated else next_obs
    if step < starts:
        return
    if slip != "learn_first":
        learn()
    if slip == "no_sync":
        return
    if parts.target == "hard" and (step % parts.target_update == 0 or slip == "sync_every_step"):
        losses.hard_update(parts.target_network, parts.q_network)  # step 8
    elif parts.target == "soft":
        losses.soft_update(parts.target_network, parts.q_network, parts.tau)


def _dqn_snapshot(parts: Any) -> dict[str, np.ndarray]:
    """What one step leaves behind: the buffer's contents, the observation and both networks' weights."""
    import torch

    stored = parts.buffer.get(np.arange(len(parts.buffer))) if len(parts.buffer) else None
    fields = ("obs", "actions", "rewards", "next_obs", "terminated")
    snap = {f: getattr(stored, f).numpy() if stored is not None else np.zeros(0) for f in fields}
    snap["observation"] = np.array(parts.obs, dtype=np.float32)
    with torch.no_grad():
        for name in ("q_network", "target_network"):
            snap[name] = torch.cat([p.flatten() for p in getattr(parts, name).parameters()]).numpy()
    return snap


def _dqn_trajectory(step_fn: Callable[[Any, int], Any], seed: int, target: str, loss: str) -> list:
    """Snapshots after each of ``_DQN_STEPS`` steps of ``step_fn(parts, step)`` on fresh parts."""
    parts = _dqn_parts(seed, target, loss)
    trajectory = []
    for step in range(1, _DQN_STEPS + 1):
        step_fn(parts, step)
        trajectory.append(_dqn_snapshot(parts))
    return trajectory


def _first_difference(got: list, want: list, target: str) -> tuple[int, str] | None:
    """The first step (1-based) and field where two trajectories differ, or None if they agree."""
    fields = ["obs", "actions", "rewards", "next_obs", "terminated", "observation", "q_network"]
    fields += [] if target == "none" else ["target_network"]
    for step, (g, w) in enumerate(zip(got, want), start=1):
        for field in fields:
            a, b = g[field], w[field]
            close = a.shape == b.shape and (
                np.array_equal(a, b)
                if field == "actions"
                else np.allclose(a, b, rtol=1e-4, atol=1e-5)
            )
            if not close:
                return step, field
    return None


def _dqn_step_hint(step: int, field: str, got: dict, want: dict) -> str:
    """What to look at when the learner's trajectory first leaves the reference at ``step``."""
    where = f"at step {step}"
    if field in ("obs", "actions", "rewards", "next_obs", "terminated"):
        if got[field].shape != want[field].shape:
            return (
                f"{where} the buffer holds {len(got['actions'])} transitions, the reference "
                f"{len(want['actions'])}: store exactly one transition per step (step 4)."
            )
        what = {
            "obs": "the stored s should be learner.obs from BEFORE the step",
            "actions": "the action differs: act as act() does (rng.random() < ε → rng.integers(2), "
            "else the argmax of Q(s, ·; θ)), with ε = learner.epsilon(step) and learner.rng",
            "rewards": "the stored reward differs from the one env.step returned",
            "next_obs": "the stored s' should be the observation env.step returned",
            "terminated": "the stored flag should be `terminated` from env.step",
        }[field]
        return f"{where} a stored transition differs ({field}): {what}."
    if field == "observation":
        return (
            f"{where} learner.obs is not what it should be: set it to s' after the step, or to "
            "env.reset()'s observation when the episode terminated or was truncated."
        )
    if field == "q_network":
        return (
            f"{where} θ differs from the reference: from step learning_starts on, sample "
            "learner.batch_size transitions, compute y without gradient, and take one optimizer step "
            "on learner.loss_fn(Q(s, a; θ), y)."
        )
    return (
        f"{where} θ⁻ differs from the reference: hard: copy θ when step % learner.target_update == 0; "
        "soft: θ⁻ ← τ θ + (1 − τ) θ⁻ after every update (losses.hard_update / losses.soft_update)."
    )


@checker
def check_dqn_step(fn: Callable[..., Any]) -> str:
    """Exercise 4.3: ``fn(learner, step)`` does one environment step of DQN on ``learner``'s fields
    (``env, obs, q_network, target_network, optimizer, buffer, rng, epsilon, loss_fn, gamma, batch_size,
    learning_starts, target, target_update, tau``): act, store, sample, learn, sync θ⁻. It is run for
    300 steps next to a reference on the same seed. Introduced in lesson 04."""
    cases = [(0, "hard", "mse"), (1, "soft", "huber"), (2, "none", "mse")]
    for seed, target, loss in cases:
        setting = f"target={target!r}, loss {loss}"
        with _on_error(f"with {setting}: {{error}}"):
            got = _dqn_trajectory(fn, seed, target, loss)
        want = _dqn_trajectory(_reference_dqn_step, seed, target, loss)
        first = _first_difference(got, want, target)
        if first is None:
            continue
        step, field = first
        same_length = got[-1]["actions"].shape == want[-1]["actions"].shape
        for slip, hint in _DQN_STEP_SLIPS.items() if same_length else ():
            slipped = functools.partial(_reference_dqn_step, slip=slip)
            if _first_difference(got, _dqn_trajectory(slipped, seed, target, loss), target) is None:
                fail(f"with {setting}: {hint}")
        fail(f"with {setting}: {_dqn_step_hint(step, field, got[step - 1], want[step - 1])}")
    return (
        f"dqn_step matches the reference for {_DQN_STEPS} steps with hard/MSE, soft/Huber and no target "
        "network: the same transitions stored, the same θ and θ⁻."
    )


# ---------------------------------------------------------------- lesson 05 (DQN on CartPole)


def _hand_dqn_problem() -> tuple[Any, Any, Any, float]:
    """Two bias-free linear 'networks' and a 3-transition batch whose DQN loss is exactly 2/3.

    online Q(s) = s, target Q(s') = 2 s'; Q(s,a) = [2, 3, 0], y = [2, 2, -1] (the last one terminal).
    """
    from types import SimpleNamespace

    import torch

    online, target = _fixed_linear(torch.eye(2)), _fixed_linear(2 * torch.eye(2))
    batch = SimpleNamespace(
        obs=torch.tensor([[1.0, 2.0], [3.0, 0.0], [0.0, 1.0]]),
        actions=torch.tensor([1, 0, 0]),
        rewards=torch.tensor([1.0, 0.0, -1.0]),
        next_obs=torch.tensor([[1.0, 1.0], [0.0, 2.0], [4.0, 4.0]]),
        terminated=torch.tensor([0.0, 0.0, 1.0]),
    )
    return online, target, batch, 0.5


def _random_dqn_batch(n: int, gen: Any) -> Any:
    """A random batch of ``n`` transitions (4-dim observations, 3 actions) drawn from ``gen``."""
    from types import SimpleNamespace

    import torch

    return SimpleNamespace(
        obs=torch.randn(n, 4, generator=gen),
        actions=torch.randint(0, 3, (n,), generator=gen),
        rewards=torch.randn(n, generator=gen),
        next_obs=torch.randn(n, 4, generator=gen),
        terminated=(torch.rand(n, generator=gen) < 0.3).float(),
    )


def _reference_dqn_loss(online: Any, target: Any, batch: Any, gamma: float) -> Any:
    import torch

    q_taken = online(batch.obs).gather(1, batch.actions.unsqueeze(1)).squeeze(1)
    with torch.no_grad():
        y = (
            batch.rewards
            + gamma * (1.0 - batch.terminated) * target(batch.next_obs).max(dim=1).values
        )
    return ((y - q_taken) ** 2).mean()


# Losses that common slips give on the hand batch (true answer 2/3), each with what to fix.
_DQN_LOSS_SLIPS = {
    10
    / 3: "The terminal transition was bootstrapped: multiply γ·max Q(s', ·) by (1 - terminated).",
    7 / 4: "The target used the online network; compute max_a' Q(s', a') with target_network.",
    5
    / 3: "Q(s, a) must be the value of the action TAKEN: q.gather(1, actions.unsqueeze(1)).squeeze(1), "
    "not the max over actions.",
    1 / 3: "That is the Huber loss (or half the MSE); this exercise asks for mean((y - Q(s,a))²).",
    4.0: "A (batch, 1) tensor met a (batch,) tensor and broadcast to (batch, batch): squeeze(1) the "
    "gathered Q-values.",
}


@checker
def check_dqn_loss(fn: Callable[..., Any]) -> str:
    """Check ``fn(q_network, target_network, batch, gamma) -> scalar loss`` (the MSE DQN loss).

    Exact value on a hand batch, gradient only into the online network, random batches vs a reference.
    Introduced in lesson 05 (exercise 5.1).
    """
    import torch

    online, target, batch, gamma = _hand_dqn_problem()
    loss = fn(online, target, batch, gamma)
    is_tensor = isinstance(loss, torch.Tensor)
    expect(
        is_tensor and loss.numel() == 1,
        f"return the loss as a one-element torch tensor (got {type(loss).__name__}"
        + (f" of shape {tuple(loss.shape)})." if is_tensor else ")."),
    )
    value = float(loss.detach())
    slip = next(
        (h for v, h in _DQN_LOSS_SLIPS.items() if abs(value - v) < 1e-5),
        "Targets y = r + γ (1 - terminated) max_a' Q_target(s', a'), then mean((y - Q(s, a))²).",
    )
    expect(
        abs(value - 2 / 3) <= 1e-5,
        f"on the hand batch the loss should be 2/3 ≈ 0.6667, got {value:.4f}. {slip}",
    )
    expect(
        loss.requires_grad,
        "the loss carries no gradient: compute Q(s, a) with q_network outside "
        "torch.no_grad(), so loss.backward() can reach its weights.",
    )
    loss.backward()
    expect(
        target.weight.grad is None or target.weight.grad.abs().sum() == 0,
        "the gradient reached the target network: compute the targets inside torch.no_grad() (or .detach() "
        "them). Only θ learns; θ⁻ is a frozen copy.",
    )
    expected = torch.tensor(
        [[2.0, 2 / 3], [0.0, 0.0]]
    )  # dL/dW by hand: row a sums 2(q_i - y_i)/3 · s_i
    expect(
        online.weight.grad is not None and torch.allclose(online.weight.grad, expected, atol=1e-5),
        "the value is right but the gradient into q_network is not: keep the Q(s, a) term differentiable "
        "and the target constant.",
    )
    gen = torch.Generator().manual_seed(5)
    for trial, g in enumerate([0.99, 0.9, 1.0]):
        q_net, t_net = _seeded(lambda: (_mlp(4, 16, 3), _mlp(4, 16, 3)), seed=100 + trial)
        rand = _random_dqn_batch(32, gen)
        got = fn(q_net, t_net, rand, g)
        want = float(_reference_dqn_loss(q_net, t_net, rand, g).detach())
        value = _number(got.detach()) if isinstance(got, torch.Tensor) else float("nan")
        expect(
            abs(value - want) <= 1e-4 * max(1.0, abs(want)),
            f"right on the hand batch but not on a random one (γ={g}, 32 transitions, 3 actions): expected "
            f"{want:.5f}, got {f'{value:.5f}' if isinstance(got, torch.Tensor) else repr(got)}. Avoid "
            "hard-coded sizes.",
        )
    return (
        "DQN loss correct: exact on the hand batch, gradient only into q_network, and it matches the "
        "reference on random batches."
    )


@checker
def check_linear_epsilon(fn: Callable[..., Any]) -> str:
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
        got = fn(step, start, end, fraction, total)
        expect(
            isinstance(got, int | float | np.floating) and not isinstance(got, bool),
            f"return a float, got {type(got).__name__} for step={step}.",
        )
        duration = int(fraction * total)
        hint = (
            "ε went below `end`: after the decay it must stay flat at `end` (clamp the progress at 1)."
            if float(got) < end - 1e-12
            else "ε decays over the whole run; it should reach `end` after fraction · total_steps steps."
            if step < duration and abs(float(got) - (start + step / total * (end - start))) < 1e-9
            else "ε(step) = start + min(step / duration, 1) · (end - start), with "
            "duration = int(fraction · total_steps)."
        )
        expect(
            abs(float(got) - want) <= 1e-9,
            f"ε({step}) with start={start}, end={end}, fraction={fraction}, "
            f"total_steps={total} should be {want}, got {got}. {hint}",
        )
    return "linear ε schedule correct: decays over the first fraction of training, then flat."


# ---------------------------------------------------------------- lesson 06 (Atari preprocessing)


_PREPROCESS_TOLERANCE = 1  # gray levels: rounding in a different but correct grayscale/resize


def _preprocess_mismatch(
    i: int, screen: np.ndarray, out: np.ndarray, reference: np.ndarray, diff: np.ndarray
) -> str:
    """The hint for a frame that differs from the reference: which common slip gives exactly ``out``."""
    import cv2

    gray = cv2.cvtColor(screen, cv2.COLOR_RGB2GRAY)
    suspects = {
        "use interpolation=cv2.INTER_AREA: the default (linear) samples a few pixels instead of averaging all "
        "of them, so thin objects such as the ball shrink or vanish.": cv2.resize(gray, (84, 84)),
        "use interpolation=cv2.INTER_AREA, which averages every source pixel; nearest-neighbour keeps one "
        "pixel in ~5 and drops the rest.": cv2.resize(
            gray, (84, 84), interpolation=cv2.INTER_NEAREST
        ),
        "ALE screens are RGB, not OpenCV's usual BGR: use cv2.COLOR_RGB2GRAY.": cv2.resize(
            cv2.cvtColor(screen, cv2.COLOR_BGR2GRAY), (84, 84), interpolation=cv2.INTER_AREA
        ),
        "your image is transposed: cv2.resize takes (width, height) and returns (height, width); do not swap "
        "axes.": reference.T,
    }
    hint = next(
        (h for h, img in suspects.items() if np.array_equal(out, img)),
        "grayscale with cv2.COLOR_RGB2GRAY, then cv2.resize(gray, (84, 84), interpolation=cv2.INTER_AREA).",
    )
    share = float((diff > _PREPROCESS_TOLERANCE).mean())
    return (
        f"on real frame {i}, {share:.1%} of the pixels differ from the reference by more than "
        f"{_PREPROCESS_TOLERANCE} gray level (largest: {int(diff.max())}). {hint}"
    )


_SHAPE_HINTS = {
    (84, 84, 3): "convert to grayscale first: cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).",
    (
        210,
        160,
    ): "the grayscale part is done; now resize: cv2.resize(gray, (84, 84), interpolation=...).",
}


@checker
def check_preprocess_frame(fn: Callable[..., Any], frames: Any) -> str:
    """Exercise 6.1: ``fn(frame_rgb)`` returns a uint8 (84, 84) frame equal to ``atari.preprocess_frame``
    within 1 gray level on every pixel of the real screens ``frames``. Introduced in lesson 06."""
    from dqn_helpers import atari

    screens = [np.asarray(f) for f in frames]
    expect(
        screens and all(s.shape == (210, 160, 3) and s.dtype == np.uint8 for s in screens),
        "the checker needs real Atari screens: a list of uint8 (210, 160, 3) arrays such as env.render() of "
        "ALE/Pong-v5.",
    )
    worst = 0
    for i, screen in enumerate(screens):
        original = screen.copy()
        out = fn(screen)
        expect(
            np.array_equal(screen, original),
            "your function changed the input screen in place; work on a "
            "copy (cv2.cvtColor and cv2.resize already return new arrays).",
        )
        expect(isinstance(out, np.ndarray), f"return a NumPy array, got {type(out).__name__}.")
        expect(
            out.shape == (84, 84),
            f"expected shape (84, 84), got {out.shape}: "
            + _SHAPE_HINTS.get(
                out.shape, "cv2.resize takes the size as (width, height) = (84, 84)."
            ),
        )
        scaled = np.issubdtype(out.dtype, np.floating) and float(out.max()) <= 1.0
        expect(
            out.dtype == np.uint8,
            f"expected dtype uint8, got {out.dtype}: "
            + (
                "keep the pixel values as uint8 in 0-255 (do not divide by 255 here): the replay buffer stores "
                "bytes and the network divides by 255 on the device."
                if scaled
                else "return uint8 values in 0-255 (cv2 keeps uint8 if you give it uint8)."
            ),
        )
        reference = atari.preprocess_frame(screen)
        diff = np.abs(out.astype(np.int16) - reference.astype(np.int16))
        if diff.max() > _PREPROCESS_TOLERANCE:
            fail(_preprocess_mismatch(i, screen, out, reference, diff))
        worst = max(worst, int(diff.max()))
    return (
        f"your preprocess_frame matches the reference on {len(screens)} real frames (tolerance "
        f"{_PREPROCESS_TOLERANCE} gray level per pixel; largest difference {worst})."
    )


_PUSH_SLIPS = {  # the levels of the four slots after a common slip (right: 20, 30, 40, 50)
    (50, 10, 20, 30): "the newest frame goes LAST (index -1), oldest first.",
    (10, 20, 30, 50): "drop the oldest frame (index 0), not the newest one.",
    (
        50,
        20,
        30,
        40,
    ): "do not overwrite slot 0: shift everything one place left, then put the new frame last.",
}


@checker
def check_push_frame(fn: Callable[..., Any]) -> str:
    """Exercise 6.2: ``fn(stack, frame)`` returns a new stack: oldest frame dropped, ``frame`` appended
    last, input untouched. Introduced in lesson 06."""
    stack = np.stack([np.full((84, 84), v, dtype=np.uint8) for v in (10, 20, 30, 40)])
    frame = np.full((84, 84), 50, dtype=np.uint8)
    original = stack.copy()
    out = fn(stack, frame)
    expect(
        np.array_equal(stack, original),
        "you modified the old stack in place; return a new array (the "
        "previous observation may still be in use, e.g. as the obs of the "
        "stored transition).",
    )
    expect(out is not None, "return the new stack (your function returned None).")
    out = np.asarray(out)
    expect(
        out.shape == (4, 84, 84),
        f"expected shape (4, 84, 84), got {out.shape}: "
        + (
            "drop the oldest frame (stack[0]) so the stack keeps 4 frames."
            if out.shape == (5, 84, 84)
            else "the result must have the stack's shape, (4, 84, 84)."
        ),
    )
    levels = tuple(int(out[k, 0, 0]) for k in range(4))
    expect(
        levels == (20, 30, 40, 50),
        f"from frames [10, 20, 30, 40] + new 50 expected [20, 30, 40, 50], got "
        f"{list(levels)}: " + _PUSH_SLIPS.get(levels, "stack[1:] followed by the new frame."),
    )
    expect(out.dtype == np.uint8, f"keep dtype uint8 (frames are bytes), got {out.dtype}.")
    rng = np.random.default_rng(6)
    for k in (1, 2, 3, 8):
        stack = rng.integers(0, 256, size=(k, 84, 84), dtype=np.uint8)
        frame = rng.integers(0, 256, size=(84, 84), dtype=np.uint8)
        with _on_error(
            f"with a stack of {k} frame(s), {{error}}. Do not assume 4 frames: use slicing (stack[1:])."
        ):
            out = fn(stack, frame)
        expected = np.concatenate([stack[1:], frame[None]])
        expect(
            out is not None and np.array_equal(np.asarray(out), expected),
            f"a stack of {k} frame(s) came out wrong: do not assume 4 frames, use stack.shape[0] or slicing "
            "(stack[1:]).",
        )
    return "push_frame drops the oldest frame and appends the new one, for any stack size."


def _size_answer(out: Any) -> tuple[int | None, str]:
    """(value, "") if ``out`` is a whole number, else (None, a hint)."""
    if isinstance(out, bool) or not isinstance(out, int | float | np.integer | np.floating):
        return None, f"return an int, got {type(out).__name__} {out!r}."
    if not float(out).is_integer():
        return None, f"returned {out}: sizes are whole numbers; use floor division //."
    if not isinstance(out, int | np.integer):
        return None, f"return an int, got {type(out).__name__} {out!r} (use // rather than /)."
    return int(out), ""


@checker
def check_conv_output_size(fn: Callable[..., Any]) -> str:
    """Exercise 6.3: ``fn(size, kernel, stride, padding=0)`` is a convolution's output side,
    ``(size + 2*padding - kernel) // stride + 1``. Introduced in lesson 06."""
    for args, expected in [((84, 8, 4), 20), ((20, 4, 2), 9), ((9, 3, 1), 7)]:
        value, hint = _size_answer(fn(*args))
        expect(value is not None, f"conv_output_size{args}: {hint}")
        size, kernel, stride = args
        slip = (
            "subtract the kernel first: the kernel must fit inside the input at every position."
            if value in (size // stride, -(-size // stride))
            else "add 1: the first position counts too."
            if value == (size - kernel) // stride
            else "output = (size + 2*padding - kernel) // stride + 1."
        )
        expect(
            value == expected,
            f"conv_output_size{args} should be {expected} (a Nature CNN layer), got "
            f"{value}: {slip}",
        )
    rng = np.random.default_rng(6)
    for _ in range(50):
        kernel, stride, padding = (
            int(rng.integers(1, 9)),
            int(rng.integers(1, 5)),
            int(rng.integers(0, 3)),
        )
        size = int(rng.integers(kernel, 100))
        expected = (size + 2 * padding - kernel) // stride + 1
        out = fn(size, kernel, stride, padding)
        value, hint = _size_answer(out)
        slip = (
            "you ignore padding: it adds `padding` pixels on each side, so use size + 2*padding."
            if value == (size - kernel) // stride + 1
            else hint or "output = (size + 2*padding - kernel) // stride + 1."
        )
        expect(
            value == expected,
            f"conv_output_size({size}, {kernel}, {stride}, padding={padding}) should be "
            f"{expected}, got {out!r}: {slip}",
        )
    return "conv_output_size is right: 84 -> 20 -> 9 -> 7, and 50 random layers with padding."


# ---------------------------------------------------------------- lesson 07 (Pong)


def _close(a: float, b: float, rel: float = 1e-9) -> bool:
    return abs(a - b) <= rel * max(1.0, abs(b))


def _hours_slip(hours: float, want_hours: float, frames: int, speed: float) -> str:
    """What a wrong number of hours most likely is, and how to fix it."""
    slips = {
        "that is minutes: divide by 3600 seconds per hour, not 60.": want_hours * 60,
        "that is seconds: divide by 3600 to get hours.": want_hours * 3600,
        "the speed is in agent steps per second: divide the agent steps by it, not the frames.": frames
        / speed
        / 3600,
    }
    return next(
        (hint for hint, value in slips.items() if _close(hours, value, 1e-6)),
        "hours = agent_steps / steps_per_second / 3600.",
    )


@checker
def check_training_budget(fn: Callable[..., Any]) -> str:
    """Exercise 7.1: ``fn(frames, frame_skip, steps_per_second) -> (agent_steps, hours)``, with
    ``agent_steps = frames // frame_skip`` and ``hours = agent_steps / steps_per_second / 3600``.
    Introduced in lesson 07."""
    cases = [  # (frames, frame_skip, steps/s): papers count frames, the loop counts agent steps
        (4_000_000, 4, 400.0),
        (10_000_000, 4, 490.0),
        (200_000_000, 4, 150.0),
        (40_000, 1, 1_000.0),
        (10, 4, 0.5),
    ]
    for frames, skip, speed in cases:
        out = fn(frames, skip, speed)
        expect(
            isinstance(out, tuple | list) and len(out) == 2,
            f"return a pair (agent_steps, hours), got {out!r}.",
        )
        steps, hours = out
        want_steps = frames // skip
        want_hours = want_steps / speed / 3600
        call = f"training_budget({frames:_}, {skip}, {speed:g})"
        expect(
            isinstance(steps, int | np.integer) and not isinstance(steps, bool),
            f"{call}: agent_steps must be an int (a count of env.step calls), got {type(steps).__name__} "
            f"{steps!r}. Use floor division //.",
        )
        slip = (
            "that is the number of frames: each agent step plays frame_skip frames, so divide."
            if steps == frames
            else "divide by frame_skip, do not multiply: one agent step covers frame_skip frames."
            if steps == frames * skip
            else "agent_steps = frames // frame_skip."
        )
        expect(
            steps == want_steps,
            f"{call}: agent_steps should be {want_steps:,}, got {steps!r}. {slip}",
        )
        expect(
            isinstance(hours, int | float | np.floating) and not isinstance(hours, bool),
            f"{call}: hours must be a number, got {type(hours).__name__}.",
        )
        expect(
            _close(float(hours), want_hours),
            f"{call}: hours should be {want_hours:.6g}, got {hours!r}. "
            + _hours_slip(float(hours), want_hours, frames, speed),
        )
    return "budget arithmetic right: e.g. 10M frames = 2.5M agent steps = 1.42 h at 490 steps/s."


def _reference_n_step_target(
    rewards: Sequence[float], terminated: Sequence[bool], bootstrap: float, gamma: float, n: int
) -> float:
    """The n-step target done right: discounted rewards up to the first terminal, bootstrap only if none."""
    target = 0.0
    for k in range(n):
        target += gamma**k * float(rewards[k])
        if terminated[k]:
            return target
    return target + gamma**n * bootstrap


def _n_step_slips(
    rewards: Sequence[float], terminated: Sequence[bool], bootstrap: float, gamma: float, n: int
) -> dict[str, float]:
    """What a window's target becomes after each common slip, keyed by the hint that fixes it."""
    r = [float(x) for x in rewards[:n]]
    ends = [k for k in range(n) if terminated[k]]
    m = ends[0] + 1 if ends else n  # rewards that belong to this episode
    boot = 0.0 if ends else gamma**n * bootstrap
    return {
        "a terminal inside the window ends the episode: there is no s_{t+n} to bootstrap from, so add "
        "γⁿ·V(s_{t+n}) only when no step of the window terminated.": sum(
            gamma**k * r[k] for k in range(m)
        )
        + gamma**n * bootstrap,
        "stop summing at the first terminal: the rewards after it belong to the next episode.": sum(
            gamma**k * r[k] for k in range(n)
        )
        + boot,
        "the reward of the step that terminates counts: sum up to AND including the first terminal.": sum(
            gamma**k * r[k] for k in range(m - 1 if ends else n)
        )
        + boot,
        "the bootstrap value is n steps ahead of s_t: multiply it by γⁿ, not γⁿ⁻¹.": sum(
            gamma**k * r[k] for k in range(m)
        )
        + (0.0 if ends else gamma ** (n - 1) * bootstrap),
        "discount the k-th reward of the window by γᵏ: r_t + γ·r_{t+1} + γ²·r_{t+2} + …": sum(r[:m])
        + boot,
        "the first reward is not discounted (γ⁰ = 1): r_t + γ·r_{t+1} + …, then γⁿ·V.": sum(
            gamma ** (k + 1) * r[k] for k in range(m)
        )
        + boot,
        "with no terminal in the window, add γⁿ·V(s_{t+n}), the value of the state the window ends in.": sum(
            gamma**k * r[k] for k in range(m)
        ),
    }


@checker
def check_n_step_return(fn: Callable[..., Any]) -> str:
    """Exercise 7.2: ``fn(rewards, terminated, bootstrap_value, gamma, n)`` is the n-step TD target of one
    window: Σ γᵏ r_{t+k} up to the first terminal, plus γⁿ·V(s_{t+n}) only if no step terminated.
    Introduced in lesson 07."""
    cases = [  # (what the window shows, rewards, terminated, V(s_{t+n}), gamma, n, target by hand)
        ("no terminal", [1.0, 0.0, 2.0], [False, False, False], 10.0, 0.9, 3, 9.91),
        ("a terminal at position 0", [1.0, 5.0, 5.0], [True, False, False], 10.0, 0.9, 3, 1.0),
        ("a terminal at position 1", [1.0, -1.0, 5.0], [False, True, False], 10.0, 0.9, 3, 0.1),
        (
            "a terminal at the last position",
            [0.0, 0.0, 1.0],
            [False, False, True],
            10.0,
            0.9,
            3,
            0.81,
        ),
        ("γ = 1, no terminal", [0.0, 0.0, 1.0], [False, False, False], 2.0, 1.0, 3, 3.0),
        (
            "γ = 1, a terminal at position 1",
            [1.0, 1.0, 1.0],
            [False, True, False],
            5.0,
            1.0,
            3,
            2.0,
        ),
        ("n = 1, the plain DQN target", [0.5], [False], 4.0, 0.9, 1, 4.1),
    ]
    for what, rewards, terminated, boot, gamma, n, want in cases:
        call = f"n_step_target({rewards}, {terminated}, {boot:g}, {gamma:g}, {n})"
        with _on_error(f"{call} ({what}): {{error}}"):
            out = fn(list(rewards), list(terminated), boot, gamma, n)
        expect(_is_number(out), f"{call} ({what}): return one number, got {out!r}.")
        got = float(out)
        if abs(got - want) <= 1e-6:
            continue
        slips = _n_step_slips(rewards, terminated, boot, gamma, n)
        hint = next(
            (
                h
                for h, value in slips.items()
                if abs(value - want) > 1e-9 and abs(got - value) <= 1e-6
            ),
            "target = Σ_{k<m} γᵏ·r_{t+k}, where m stops at the first terminal (inclusive), plus "
            "γⁿ·V(s_{t+n}) only when no step terminated.",
        )
        fail(f"{call} ({what}) should be {want:g}, got {got:.6g}: {hint}")
    rng = np.random.default_rng(72)
    for _ in range(30):
        n = int(rng.integers(1, 6))
        rewards = rng.choice([-1.0, 0.0, 0.0, 1.0], size=n)
        terminated = rng.random(n) < 0.2
        boot, gamma = float(rng.normal(0.0, 2.0)), float(rng.uniform(0.5, 1.0))
        want = _reference_n_step_target(rewards, terminated, boot, gamma, n)
        with _on_error(f"with NumPy arrays of length {n}, {{error}}"):
            out = fn(rewards.copy(), terminated.copy(), boot, gamma, n)
        expect(
            _is_number(out) and abs(float(out) - want) <= 1e-6,
            f"a random window (rewards {rewards.tolist()}, terminated {terminated.tolist()}, V {boot:.3g}, "
            f"γ {gamma:.3g}, n {n}) should give {want:.6g}, got {out!r}. Check that it works on NumPy "
            "arrays and uses every argument.",
        )
    return (
        "n_step_target right: γᵏ-discounted rewards up to the first terminal, and γⁿ·V(s_{t+n}) only "
        "when none came (e.g. [1, 0, 2], no terminal, V = 10, γ = 0.9: 1 + 0.81·2 + 0.729·10 = 9.91)."
    )


def _pair_of_numbers(out: Any) -> tuple[float, float] | None:
    """``(float(a), float(b))`` for a pair ``out = (a, b)`` of numbers, else None."""
    return (float(out[0]), float(out[1])) if _is_number(out[0]) and _is_number(out[1]) else None


@checker
def check_points_tally(fn: Callable[..., Any]) -> str:
    """Exercise 7.3: ``fn(rewards) -> (points_won, points_lost)`` from a Pong episode's raw rewards
    (+1 a point for the agent, -1 a point for the opponent, 0 otherwise). Introduced in lesson 07."""
    rng = np.random.default_rng(7)
    game = np.zeros(900)
    game[rng.choice(900, size=26, replace=False)] = [1.0] * 21 + [-1.0] * 5
    cases = [
        ([0.0, 0.0, -1.0, 0.0, 1.0, -1.0], (1, 2)),
        ([], (0, 0)),
        ([0.0] * 50, (0, 0)),
        ([-1.0] * 21, (0, 21)),
        (game, (21, 5)),
        (list(game.astype(int)), (21, 5)),
    ]
    for rewards, want in cases:
        shown = f"{len(rewards)} rewards" if len(rewards) > 8 else repr(list(rewards))
        with _on_error(f"{{error}} (input: {shown})"):
            out = fn(rewards)
        expect(
            isinstance(out, tuple | list) and len(out) == 2,
            f"return a pair (points_won, points_lost), got {out!r} for {shown}.",
        )
        got = _pair_of_numbers(out)
        expect(got is not None, f"points must be numbers, got {out!r} for {shown}.")
        slip = (
            "count the points lost as a positive number (how many the opponent scored)."
            if got == (want[0], -want[1])
            else "won and lost are swapped: +1 is a point for the agent."
            if got == (want[1], want[0])
            else "zeros are frames without a point: count only the +1 and -1 rewards."
            if len(rewards) and sum(got) == len(rewards)
            else "won = number of rewards > 0, lost = number of rewards < 0."
        )
        expect(got == want, f"for {shown} expected {want}, got {tuple(out)}. {slip}")
    return "points tally right: the score is won − lost, and a game ends when one side reaches 21."


# ----------------------------------------------------------------------- lessons 08-11
# Each lesson's checkers go in its own block below, in lesson order.
# ----- lesson 08 (Double DQN)
__all__ += ["check_double_dqn_target"]  # lesson 08


def _hand_double_problem() -> tuple[Any, Any, Any, Any, float]:
    """Four transitions where DQN's and Double DQN's targets differ (γ = 0.5, the last terminal).

    The online network picks a' = [1, 0, 0, 1]; the target network rates them [2, 1, 3, 8]:
    y = [2, 0.5, 2.5, -1]. DQN's own target, r + γ max Q⁻, would be [3, 3, 4.5, -1].
    """
    import torch

    rewards = torch.tensor([1.0, 0.0, 1.0, -1.0])
    next_q_online = torch.tensor([[1.0, 3.0], [2.0, 0.0], [5.0, 4.0], [0.0, 1.0]])
    next_q_target = torch.tensor([[4.0, 2.0], [1.0, 6.0], [3.0, 7.0], [2.0, 8.0]])
    terminated = torch.tensor([0.0, 0.0, 0.0, 1.0])
    return rewards, next_q_online, next_q_target, terminated, 0.5


# Targets that common slips give on the hand problem (true answer [2, 0.5, 2.5, -1]), with the fix.
_DOUBLE_SLIPS = {
    (
        3.0,
        3.0,
        4.5,
        -1.0,
    ): "That is DQN's target, max_a' Q(s', a'; θ⁻). Double DQN takes a* = argmax "
    "of the ONLINE network's Q(s', ·), then reads Q(s', a*) from the target network.",
    (2.5, 1.0, 3.5, -1.0): "The online network both picked and rated a*: read the value of a* from "
    "next_q_target (it only picks with next_q_online).",
    (1.5, 0.0, 3.0, -1.0): "The roles are swapped: the online network picks a* (argmax of "
    "next_q_online), the target network rates it (gather from next_q_target).",
    (
        2.0,
        0.5,
        2.5,
        3.0,
    ): "The terminal transition was bootstrapped: multiply γ·Q(s', a*) by (1 - terminated).",
}


@checker
def check_double_dqn_target(fn: Callable[..., Any]) -> str:
    """Check ``fn(rewards, next_q_online, next_q_target, terminated, gamma) -> (batch,) targets``.

    Exact values on a hand problem where DQN's and Double DQN's targets differ, no gradient, and
    random problems against ``losses.double_dqn_targets``. Introduced in lesson 08 (exercise 8.1).
    """
    import torch

    from dqn_helpers import losses

    rewards, next_online, next_target, terminated, gamma = _hand_double_problem()
    next_online.requires_grad_(True)
    next_target.requires_grad_(True)
    y = fn(rewards, next_online, next_target, terminated, gamma)
    is_tensor = isinstance(y, torch.Tensor)
    expect(
        is_tensor and tuple(y.shape) == (4,),
        "return one target per transition, a tensor of shape (4,) for 4 transitions (got "
        + (f"shape {tuple(y.shape)}" if is_tensor else type(y).__name__)
        + "). If it is (4, 1), .squeeze(1) what .gather returned.",
    )
    got = tuple(round(float(v), 4) for v in y.detach())
    slip = _DOUBLE_SLIPS.get(
        got,
        "a* = argmax_a' next_q_online(s', a'); y = r + γ (1 - terminated) next_q_target(s', a*).",
    )
    expect(got == (2.0, 0.5, 2.5, -1.0), f"expected [2, 0.5, 2.5, -1], got {list(got)}. {slip}")
    expect(
        not y.requires_grad,
        "the targets carry a gradient: a target is a constant to regress on, so compute it under "
        "torch.no_grad() (or .detach() the Q-values you read).",
    )
    gen = torch.Generator().manual_seed(8)
    for n_actions, g in ((3, 0.99), (5, 0.9), (2, 1.0)):
        r = torch.randn(16, generator=gen)
        q_online, q_target = (
            torch.randn(16, n_actions, generator=gen),
            torch.randn(16, n_actions, generator=gen),
        )
        done = (torch.rand(16, generator=gen) < 0.3).float()
        want = losses.double_dqn_targets(r, q_online, q_target, done, g)
        mine = fn(r, q_online, q_target, done, g)
        expect(
            isinstance(mine, torch.Tensor)
            and mine.shape == want.shape
            and torch.allclose(mine, want, atol=1e-5),
            f"right on the hand problem but not on a random one ({n_actions} actions, γ = {g}, 16 "
            "transitions): avoid hard-coded sizes.",
        )
    return (
        "Double DQN target correct: the online network picks a', the target network rates it, terminal "
        "transitions do not bootstrap, and it matches losses.double_dqn_targets."
    )


# ----- lesson 09 (dueling head)
__all__ += ["check_dueling_head"]  # lesson 09


def _dueling_parts(fn: Callable[..., Any], in_features: int, n_actions: int, hidden: int) -> Any:
    """The learner's head built in a fork of torch's RNG, checked to be a module with two streams."""
    import torch

    head = _seeded(lambda: fn(in_features, n_actions, hidden), seed=9)
    expect(
        isinstance(head, torch.nn.Module),
        f"DuelingHead({in_features}, {n_actions}, {hidden}) should be a torch.nn.Module (a class "
        f"that subclasses nn.Module), got {type(head).__name__}.",
    )
    expect(
        isinstance(getattr(head, "value", None), torch.nn.Module)
        and isinstance(getattr(head, "advantage", None), torch.nn.Module),
        "store the two streams as self.value and self.advantage (each an nn.Sequential).",
    )
    return head


def _dueling_slip(q: Any, value: Any, advantage: Any) -> str:
    """What a wrong combination of V and A most likely did (shapes already right)."""
    import torch

    candidates = [
        (
            value + advantage,
            "Q = V + A has no unique split (add c to V and take c from A: the "
            "same Q). Subtract the mean over the actions: Q = V + A - A.mean(dim=1, keepdim=True).",
        ),
        (
            value + advantage - advantage.max(dim=1, keepdim=True).values,
            "you subtracted the max "
            "over actions (a variant in Wang et al., 2016); this course uses the mean: "
            "A.mean(dim=1, keepdim=True).",
        ),
        (
            value + advantage - advantage.mean(dim=0, keepdim=True),
            "you averaged A over the batch "
            "(dim=0); average it over the actions of each state: A.mean(dim=1, keepdim=True).",
        ),
        (
            value + advantage - advantage.mean(),
            "you averaged A over the whole batch; average it "
            "over the actions of each state: A.mean(dim=1, keepdim=True).",
        ),
        (advantage - advantage.mean(dim=1, keepdim=True), "V is missing: Q = V + A - mean_a A."),
    ]
    for wrong, hint in candidates:
        if torch.allclose(q, wrong, atol=1e-5):
            return hint
    return "combine the streams as Q(s, a) = V(s) + A(s, a) - mean_a' A(s, a')."


def _expect_both_streams_learn(head: Any, features: Any, gen: Any) -> None:
    """Exercise 9.1: a gradient of Q reaches every parameter of both streams."""
    import torch

    head.zero_grad()
    weights = torch.randn(5, 3, generator=gen)
    (head(features) * weights).sum().backward()
    for name in ("value", "advantage"):
        grads = [p.grad for p in getattr(head, name).parameters()]
        expect(
            grads and all(g is not None and g.abs().sum() > 0 for g in grads),
            f"no gradient reached self.{name}: build Q from both streams, without torch.no_grad() "
            "or .detach().",
        )


def _expect_dueling_uses_its_arguments(fn: Callable[..., Any], gen: Any) -> None:
    """Exercise 9.1: another size of head maps its features to its number of actions."""
    import torch

    other = _dueling_parts(fn, 6, 2, 4)
    with _on_error(
        "{error} — use the arguments in_features, n_actions and hidden, no fixed sizes."
    ):
        out = other(torch.randn(7, 6, generator=gen))
    expect(
        tuple(getattr(out, "shape", ())) == (7, 2),
        "DuelingHead(6, 2, 4) should map (7, 6) features to (7, 2) Q-values: use the arguments "
        "in_features, n_actions and hidden instead of fixed sizes.",
    )


@checker
def check_dueling_head(fn: Callable[..., Any]) -> str:
    """Exercise 9.1: ``fn(in_features, n_actions, hidden)`` builds a dueling head (an ``nn.Module``).

    ``.streams(features)`` gives V (batch, 1) and A (batch, n_actions), each stream Linear-ReLU-Linear;
    ``forward`` gives Q = V + A - mean_a A: shapes, the identity mean_a Q = V, the invariance to a
    constant added to A, gradients into both streams. Introduced in lesson 09.
    """
    import torch

    head = _dueling_parts(fn, 8, 3, 16)
    n_params = sum(p.numel() for p in head.parameters())
    expect(
        n_params == (8 * 16 + 16 + 16 + 1) + (8 * 16 + 16 + 16 * 3 + 3),
        f"DuelingHead(8, 3, 16) should have 356 parameters (value 8->16->1: 161, advantage "
        f"8->16->3: 195), yours has {n_params}. Each stream is nn.Linear(in_features, hidden), "
        "nn.ReLU(), nn.Linear(hidden, 1 or n_actions).",
    )
    gen = torch.Generator().manual_seed(3)
    features = torch.randn(5, 8, generator=gen)  # 5 states, 3 actions: batch != n_actions
    with _on_error("{error} — does streams(features) return the pair (value, advantage)?"):
        value, advantage = head.streams(features)
    shapes = (tuple(getattr(value, "shape", ())), tuple(getattr(advantage, "shape", ())))
    expect(
        shapes == ((5, 1), (5, 3)),
        f"for 5 states and 3 actions streams() should give V of shape (5, 1) and A of shape (5, 3), "
        f"got {shapes[0]} and {shapes[1]}.",
    )
    with _on_error(
        "{error} — a (5, 3) tensor minus a (5,) one does not broadcast: keep the action axis with "
        "A.mean(dim=1, keepdim=True)."
    ):
        q = head(features)
    got = tuple(q.shape) if isinstance(q, torch.Tensor) else type(q).__name__
    expect(got == (5, 3), f"5 states and 3 actions should give Q of shape (5, 3), got {got}.")
    with torch.no_grad():
        value, advantage = head.streams(features)
        q_now = head(features)
    expect(
        torch.allclose(q_now, value + advantage - advantage.mean(dim=1, keepdim=True), atol=1e-5),
        _dueling_slip(q_now, value, advantage),
    )
    expect(
        torch.allclose(q_now.mean(dim=1, keepdim=True), value, atol=1e-5),
        "the mean of Q over the actions of a state must equal V(s): that is what the subtracted "
        "mean buys.",
    )
    square = torch.randn(
        3, 8, generator=gen
    )  # batch == n_actions: a missing keepdim broadcasts silently
    with torch.no_grad():
        v3, a3 = head.streams(square)
        q3 = head(square)
    expect(
        torch.allclose(q3, v3 + a3 - a3.mean(dim=1, keepdim=True), atol=1e-5),
        "right for 5 states but wrong for 3 states and 3 actions: (3, 3) minus (3,) broadcast "
        "along the wrong axis. Use A.mean(dim=1, keepdim=True). " + _dueling_slip(q3, v3, a3),
    )
    shift = head.advantage.register_forward_hook(lambda module, inputs, out: out + 7.0)
    try:
        with torch.no_grad():
            shifted = head(features)
    finally:
        shift.remove()
    expect(
        torch.allclose(shifted, q_now, atol=1e-4),
        "adding 7 to every advantage changed Q: forward must combine the streams that "
        "self.advantage computes, minus their mean over actions.",
    )
    _expect_both_streams_learn(head, features, gen)
    _expect_dueling_uses_its_arguments(fn, gen)
    return (
        "dueling head correct: V (batch, 1) and A (batch, n_actions), Q = V + A - mean_a A, so "
        "mean_a Q = V and a constant added to A changes nothing; both streams learn."
    )


# ----- lesson 10 (prioritized replay, n-step)
__all__ += ["check_sum_tree", "check_n_step_windows"]  # lesson 10


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
    """Exercise 10.1: ``fn`` is the class: ``fn(capacity)`` is a sum tree with ``update(index, priority)``, ``total`` and
    ``find(value) -> index``: the leaf where the running sum of priorities passes ``value``.
    Introduced in lesson 10."""
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
    """Exercise 10.2: ``fn(rewards, terminated, gamma, n)`` gives, for every step t of one episode, the
    triple ``(G, m, done)`` the n-step buffer stores: G = Σ_(k<m) γᵏ r_(t+k) with m = min(n, T − t), and
    done = True only if the episode terminated (not truncated) and the window reaches its end.
    Introduced in lesson 10."""
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


# ----- lesson 11 (failure modes)
__all__ += ["check_first_impossible_q", "check_collapse_detector"]


@checker
def check_first_impossible_q(fn: Callable[..., Any]) -> str:
    """Exercise 11.1: ``fn(mean_max_q, reward_max, gamma)`` -> the index of the first episode whose
    mean max-Q is above r_max/(1 − γ), or None; NaN entries (no update) are skipped. Lesson 11."""
    cases = [
        ("values that stay below 100", [1.0, 50.0, 99.0], 1.0, 0.99, None),
        ("the third episode passes 100", [1.0, 50.0, 150.0, 80.0], 1.0, 0.99, 2),
        ("exactly the bound (γ 0.5: 2) is possible, not above it", [2.0, 2.0], 1.0, 0.5, None),
        ("NaN rows before learning", [float("nan"), float("nan"), 30.0, 120.0], 1.0, 0.99, 3),
        ("r_max 2, γ 0.9: the bound is 20", [5.0, 19.0, 21.0], 2.0, 0.9, 2),
        ("r_max 1, γ 0.5: the bound is 2", [1.5, 2.5], 1.0, 0.5, 1),
        ("γ = 1: no finite bound", [1e6, 1e9], 1.0, 1.0, None),
        ("an empty log", [], 1.0, 0.99, None),
    ]
    for what, q, r_max, gamma, want in cases:
        call = f"fn({q}, reward_max={r_max:g}, gamma={gamma:g})"
        for kind, values in (("a list", list(q)), ("a NumPy array", np.array(q, dtype=float))):
            with _on_error(f"{call} with {kind} ({what}): {{error}}"):
                out = fn(values, r_max, gamma)
            slip = (
                " Compare with the bound r_max / (1 − γ), not with r_max."
                if out is not None and out == next((i for i, v in enumerate(q) if v > r_max), None)
                else " Return the position in the list (counting from 0), not the value."
                if want is not None and out == q[want]
                else ""
            )
            if want is None:
                expect(out is None, f"{call} ({what}) should be None, got {out!r}.{slip}")
                continue
            expect(
                out is not None and _is_number(out) and int(out) == want,
                f"{call} ({what}) should be {want}, got {out!r}.{slip}",
            )
    return (
        "first_impossible_q right: a state can be worth at most r_max / (1 − γ) (100 for CartPole "
        "at γ = 0.99), so a mean max-Q above it is a fact about the network, not about the task."
    )


@checker
def check_collapse_detector(fn: Callable[..., Any]) -> str:
    """Exercise 11.2: ``fn(eval_returns, keep=0.5)`` -> True when the greedy evaluations learned (the
    best is at least twice the first) and the last two are below first + keep·(best − first). Lesson 11."""
    cases = [
        ("learned and held", [10, 200, 500, 480, 490], 0.5, False),
        ("learned, then fell and stayed down", [10, 200, 500, 100, 90], 0.5, True),
        ("fell once, then recovered", [10, 500, 100, 400], 0.5, False),
        ("only the last one fell", [10, 500, 480, 100], 0.5, False),
        ("never learned (best < 2 × first)", [100, 150, 120, 20, 10], 0.5, False),
        ("the best is the last evaluation", [10, 100, 300, 500], 0.5, False),
        ("keep = 0.9: the line is at 451", [10, 500, 460, 450, 440], 0.9, True),
        ("keep = 0.9, still above 451", [10, 500, 460, 470, 455], 0.9, False),
        ("too short to judge", [10, 500], 0.5, False),
        ("no evaluations", [], 0.5, False),
    ]
    for what, evals, keep, want in cases:
        call = f"fn({evals}, keep={keep:g})"
        for kind, values in (("a list", list(evals)), ("a NumPy array", np.array(evals, float))):
            with _on_error(f"{call} with {kind} ({what}): {{error}}"):
                out = fn(values, keep)
            expect(
                isinstance(out, bool | np.bool_),
                f"{call}: return True or False, got {out!r} ({type(out).__name__}).",
            )
            hint = {
                "fell once, then recovered": " A run that came back is not collapsed: both of the "
                "last two evaluations must be below the line.",
                "only the last one fell": " One low evaluation can be bad luck: ask for the last two.",
                "never learned (best < 2 × first)": " A run that never learned cannot forget: "
                "require best >= 2 × first.",
                "the best is the last evaluation": " The fall must come after the best.",
            }.get(what, " The line is first + keep × (best − first).")
            expect(bool(out) == want, f"{call} ({what}) should be {want}, got {out}.{hint}")
    return (
        "collapse detector right: a run collapsed when it learned (best ≥ 2 × first) and its last "
        "two evaluations sit below first + keep·(best − first); diagnose's return_collapse is the same "
        "rule, measured from the first episodes' return."
    )


# ----- end of the lesson blocks
