"""Checkers of lesson 02 (Q-networks)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dqn_helpers.checks._core import (
    _fixed_linear,
    _is_number,
    _mlp,
    _number,
    _on_error,
    _seeded,
    checker,
    expect,
)


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


_OTHER_ACTIVATIONS = (
    "Tanh",
    "Sigmoid",
    "LeakyReLU",
    "ELU",
    "GELU",
    "SiLU",
    "Softplus",
    "Hardtanh",
    "PReLU",
)


def _expect_relu(net: Any) -> None:
    """Fail unless the hidden activations are ReLUs: no other activation module, and the network is piecewise
    linear (a ReLU network's second differences along a line vanish except at its few kinks)."""
    import copy

    import torch

    others = sorted({type(m).__name__ for m in net.modules()} & set(_OTHER_ACTIVATIONS))
    expect(
        not others,
        f"the exercise asks for ReLU between the layers; you used {', '.join(others)}. (Other activations "
        "can work too, but this course's network, the package's QNetwork and the DQN papers use ReLU.)",
    )
    double = copy.deepcopy(net).double()
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(256, 4, generator=gen, dtype=torch.float64) * 2
    d = torch.randn(256, 4, generator=gen, dtype=torch.float64)
    h = 1e-3
    with torch.no_grad():
        curvature = (double(x + h * d) + double(x - h * d) - 2 * double(x)).abs().amax(dim=1) / h**2
    expect(
        curvature.median().item() < 1e-6,
        "your network is smooth and curved everywhere, as with tanh or sigmoid: the exercise asks for ReLU "
        "between the layers (nn.ReLU() or torch.relu), which makes it piecewise linear.",
    )


@checker
def check_q_network(fn: Callable[..., Any]) -> str:
    """Exercise 2.3: ``fn(obs_dim, n_actions, hidden) -> nn.Module``, the MLP obs_dim -> hidden -> hidden ->
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
    _expect_relu(net)
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


@checker
def check_q_of_actions(fn: Callable[..., Any]) -> str:
    """Exercise 2.2: ``fn(q_values, actions) -> tensor (B,)``, the Q-value of the action taken in each row of a
    batch (``q_values`` (B, n_actions) float, ``actions`` (B,) int64), gradient kept. Introduced in lesson 02."""
    import torch

    q_values = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    actions = torch.tensor([2, 0])
    out = fn(q_values, actions)
    expect(
        isinstance(out, torch.Tensor),
        f"return a torch tensor (keep it in PyTorch, so gradients can flow), got {type(out).__name__}.",
    )
    expect(
        tuple(out.shape) != (2, 1),
        "your answer has shape (B, 1): gather keeps the dimension it indexes, so add .squeeze(1) to get (B,).",
    )
    expect(
        tuple(out.shape) != (2, 2),
        "your answer has shape (B, B): q_values[:, actions] takes every listed action for EVERY row. Take one "
        "entry per row: q_values.gather(1, actions.unsqueeze(1)).squeeze(1) (or q_values[torch.arange(B), actions]).",
    )
    expect(
        tuple(out.shape) == (2,),
        f"return one value per row, shape (B,) = (2,); got {tuple(out.shape)}.",
    )
    expect(
        not torch.allclose(out.detach(), torch.tensor([3.0, 6.0])),
        "you returned each row's MAX: pick the Q-value of the action that was TAKEN, actions[i], in row i.",
    )
    expect(
        torch.allclose(out.detach(), torch.tensor([3.0, 4.0])),
        f"Q = [[1, 2, 3], [4, 5, 6]] and actions [2, 0] give [3, 4] (row 0 takes action 2, row 1 action 0); "
        f"got {out.detach().tolist()}.",
    )
    expect(
        out.requires_grad,
        "the result carries no gradient: do not .detach() it, call .item()/.numpy() or wrap it in no_grad. "
        "The loss is built from these values and the gradient step needs them.",
    )
    out.sum().backward()
    expect(
        torch.equal(q_values.grad, torch.tensor([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])),
        f"the gradient should reach exactly the chosen entries, got {q_values.grad.tolist()}.",
    )
    rng = np.random.default_rng(0)
    for batch, n_actions in ((1, 2), (32, 2), (7, 6)):
        q = rng.normal(size=(batch, n_actions)).astype(np.float32)
        a = rng.integers(n_actions, size=batch)
        got = fn(torch.as_tensor(q), torch.as_tensor(a))
        expect(
            np.allclose(np.asarray(got.detach()), q[np.arange(batch), a]),
            f"a random batch of {batch} rows and {n_actions} actions gave a different answer than NumPy's "
            "q[np.arange(B), a]. Use the arguments' sizes, nothing fixed.",
        )
    return "q_of_actions picks Q(s_i, a_i) in every row, shape (B,), and lets the gradient through."


_TD_TARGET_SLIPS = {  # the target a common slip gives on the hand case (right: 1 + 0.9 * 2.5 = 3.25)
    1.0 + 0.9 * 0.5: "use the MAX over next actions; you used the first one.",
    1.0 + 0.9 * 5.0 / 3: "use the MAX over next actions, not the mean.",
    1.0 + 2.5: "multiply the next value by gamma.",
    0.9 * 2.5: "add the reward r.",
}


@checker
def check_td_target(fn: Callable[..., Any]) -> str:
    """Exercise 2.4: ``fn(q_network, reward, next_obs, terminated, gamma)`` -> the TD target
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
