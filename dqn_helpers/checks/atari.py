"""Checkers of lesson 06 (Atari preprocessing)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dqn_helpers.checks._core import (
    _on_error,
    _seeded,
    checker,
    expect,
    fail,
)

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


# ------------------------------------------------------------------ exercise 6.4: the Nature CNN
_NATURE_CONV_SHAPES = [(32, 20, 20), (64, 9, 9), (64, 7, 7)]
_NATURE_PARAMETERS = 1_687_206  # for 6 actions: 8,224 + 32,832 + 36,928 + 1,606,144 + 3,078


def _nature_parameters(n_actions: int) -> int:
    """Weights and biases of the Nature CNN for ``n_actions`` actions."""
    convs = (4 * 8 * 8 + 1) * 32 + (32 * 4 * 4 + 1) * 64 + (64 * 3 * 3 + 1) * 64
    return convs + (3136 + 1) * 512 + (512 + 1) * n_actions


def _conv_outputs(net: Any, x: Any) -> tuple[Any, list[tuple[int, ...]], list[float]]:
    """``net(x)``, the output shape of every ``Conv2d`` in the order they ran, and the largest input value
    each one saw (whatever the layers are called or however they are nested)."""
    import torch

    shapes: list[tuple[int, ...]] = []
    largest_in: list[float] = []

    def record(module: Any, inputs: Any, out: Any) -> None:
        shapes.append(tuple(out.shape[1:]))
        largest_in.append(float(inputs[0].detach().float().abs().max()))

    hooks = [
        m.register_forward_hook(record) for m in net.modules() if isinstance(m, torch.nn.Conv2d)
    ]
    try:
        out = net(x)
    finally:
        for hook in hooks:
            hook.remove()
    return out, shapes, largest_in


@checker
def check_nature_cnn(fn: Callable[..., Any]) -> str:
    """Exercise 6.4: ``fn(n_actions)`` is the Nature CNN: uint8 (batch, 4, 84, 84) in, (batch, n_actions)
    float Q-values out, convolutions of 32×20×20, 64×9×9, 64×7×7, 1,687,206 parameters for 6 actions, the
    uint8 input scaled to [0, 1] inside, non-linear, gradients reaching every parameter. Any arrangement of
    the layers passes (one Sequential, named attributes, functional ReLUs). Introduced in lesson 06."""
    import torch

    with _on_error("building your network with NatureCNN(n_actions=6) failed: {error}"):
        net = _seeded(lambda: fn(n_actions=6), seed=0)
    expect(isinstance(net, torch.nn.Module), "NatureCNN must be a torch.nn.Module subclass.")
    count = sum(p.numel() for p in net.parameters())
    expect(
        count == _NATURE_PARAMETERS,
        f"for 6 actions the Nature CNN has {_NATURE_PARAMETERS:,} parameters, yours has {count:,}. The layers: "
        "Conv2d(4, 32, 8, stride=4), Conv2d(32, 64, 4, stride=2), Conv2d(64, 64, 3, stride=1), Linear(3136, 512), "
        "Linear(512, n_actions), each followed by a ReLU except the last.",
    )
    gen = torch.Generator().manual_seed(6)
    x = torch.randint(0, 256, (3, 4, 84, 84), dtype=torch.uint8, generator=gen)
    original = x.clone()
    with _on_error("calling your network on a uint8 batch of shape (3, 4, 84, 84) failed: {error}"):
        out, shapes, largest_in = _conv_outputs(net, x)
    expect(
        torch.equal(x, original), "your forward changed its input in place; work on a new tensor."
    )
    expect(
        isinstance(out, torch.Tensor) and tuple(out.shape) == (3, 6),
        f"a batch of 3 observations and 6 actions should give Q-values of shape (3, 6), got "
        f"{tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__}.",
    )
    expect(
        out.dtype == torch.float32,
        f"Q-values must be float32, got {out.dtype}: convert the bytes with x.float() / 255.0.",
    )
    expect(
        shapes == _NATURE_CONV_SHAPES,
        f"the convolutions' outputs should be {_NATURE_CONV_SHAPES} (section 12), got {shapes}.",
    )
    expect(
        largest_in[0] <= 1.0,
        f"the first convolution saw values up to {largest_in[0]:.0f}: divide the uint8 input by 255 inside "
        "forward (x.float() / 255.0), so the buffer can keep bytes and the network sees [0, 1].",
    )
    expect(
        largest_in[0] > 0.5,
        "the first convolution saw values near 0 only: divide by 255 once, not twice.",
    )
    half = torch.randint(0, 128, (2, 4, 84, 84), dtype=torch.uint8, generator=gen)
    zero = torch.zeros_like(half)
    with torch.no_grad():
        mixed = net(half + half) - net(half) - net(half) + net(zero)  # 0 for an affine network
    expect(
        float(mixed.abs().max()) > 1e-4,
        "your network is affine (it computes a linear function of its input): put a ReLU after each "
        "convolution and after the 512-unit layer.",
    )
    net.zero_grad()
    net(x).pow(2).mean().backward()
    missing = [
        n for n, p in net.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()
    ]
    expect(
        not missing,
        f"no gradient reaches {missing[:3]}: do not use torch.no_grad() or .detach() inside forward.",
    )
    with _on_error("NatureCNN(n_actions=4) failed: {error}"):
        net4 = _seeded(lambda: fn(n_actions=4), seed=1)
        out4 = net4(x[:2])
    expect(
        tuple(out4.shape) == (2, 4)
        and sum(p.numel() for p in net4.parameters()) == _nature_parameters(4),
        f"with n_actions=4 expected Q-values (2, 4), got {tuple(out4.shape)}: the last layer has n_actions "
        "outputs.",
    )
    return (
        f"your NatureCNN is the Nature network: convolutions {_NATURE_CONV_SHAPES}, {count:,} parameters for "
        "6 actions, bytes scaled to [0, 1] inside, non-linear, gradients to every parameter."
    )


# ------------------------------------------------------- exercise 6.5: a state from the frame store
def _stack_reference(
    frames: np.ndarray, episode_start: np.ndarray, index: int, stack: int
) -> np.ndarray:
    """Frames index-stack+1 .. index, each clamped to the first frame of index's episode."""
    first = index
    while not episode_start[first]:
        first -= 1
    return np.stack([frames[max(first, index - k)] for k in range(stack - 1, -1, -1)])


def _stack_slip(
    frames: np.ndarray, episode_start: np.ndarray, index: int, stack: int, out: np.ndarray
) -> str:
    """The hint for a wrong stack: which common slip gives exactly ``out``."""
    first = index
    while not episode_start[first]:
        first -= 1
    positions = [index - k for k in range(stack - 1, -1, -1)]
    suspects = {
        "the stack crosses into the previous episode: clamp every position to the first frame of index's "
        "episode (the last True of episode_start at or before index).": [
            frames[p] for p in positions
        ],
        "pad with the episode's FIRST frame, not with zeros: that is what FrameStackObservation does at a "
        "reset, so the stored states must look the same.": [
            frames[p] if p >= first else np.zeros_like(frames[0]) for p in positions
        ],
        "the oldest frame comes first and frames[index] last.": [
            frames[max(first, p)] for p in reversed(positions)
        ],
        "the stack ends AT index (frames[index] is its newest frame), not just before it.": [
            frames[max(first, p - 1)] for p in positions
        ],
    }
    return next(
        (h for h, imgs in suspects.items() if np.array_equal(out, np.stack(imgs))),
        "take frames index-stack+1 .. index, oldest first, replacing any frame before the episode's first by "
        "that first frame.",
    )


@checker
def check_stacked_state(fn: Callable[..., Any]) -> str:
    """Exercise 6.5: ``fn(frames, episode_start, index, stack=4)`` rebuilds the state whose newest frame is
    ``frames[index]``: ``stack`` frames, oldest first, positions before the episode's first frame replaced by
    that first frame (FrameStackObservation's padding at a reset, as ``buffers.FrameReplayBuffer`` rebuilds
    it). Hand cases with named slips, then random stores against a naive reference. Introduced in lesson 06."""
    # a hand case: one frame per gray level, two episodes starting at frames 0 and 3
    frames = np.stack([np.full((84, 84), 10 * (k + 1), dtype=np.uint8) for k in range(8)])
    starts = np.array([True, False, False, True, False, False, False, False])
    for index in (6, 4, 3, 0):
        frames_before, starts_before = frames.copy(), starts.copy()
        out = fn(frames, starts, index)
        expect(
            np.array_equal(frames, frames_before) and np.array_equal(starts, starts_before),
            "your function changed the frame store; only read it.",
        )
        expect(out is not None, "return the stack (your function returned None).")
        out = np.asarray(out)
        expect(
            out.shape == (4, 84, 84),
            f"the state for index {index} should have shape (4, 84, 84), got {out.shape}.",
        )
        expect(out.dtype == np.uint8, f"keep the frames' dtype uint8, got {out.dtype}.")
        expected = _stack_reference(frames, starts, index, 4)
        if not np.array_equal(out, expected):
            got = [int(f[0, 0]) for f in out]
            want = [int(f[0, 0]) for f in expected]
            fail(
                f"episodes start at frames 0 and 3 (gray levels 10..80); for index {index} expected levels "
                f"{want}, got {got}: " + _stack_slip(frames, starts, index, 4, out)
            )
    rng = np.random.default_rng(65)
    for trial in range(40):
        n, stack = int(rng.integers(1, 30)), int(rng.integers(1, 6))
        store = rng.integers(0, 256, size=(n, 6, 5), dtype=np.uint8)
        episode_start = rng.random(n) < 0.25
        episode_start[0] = True
        index = int(rng.integers(n))
        with _on_error(f"with a store of {n} frames and stack={stack}: {{error}}"):
            out = fn(store, episode_start, index, stack)
        expected = _stack_reference(store, episode_start, index, stack)
        expect(
            out is not None and np.array_equal(np.asarray(out), expected),
            f"random store {trial} ({n} frames of shape (6, 5), stack={stack}, index {index}) came out wrong: "
            + (
                _stack_slip(store, episode_start, index, stack, np.asarray(out))
                if out is not None and np.asarray(out).shape == expected.shape
                else f"expected shape {expected.shape}; do not assume 4 frames or 84×84."
            ),
        )
    return (
        "stacked_state rebuilds every state: oldest frame first, never across an episode's start, padded "
        "with the episode's first frame (hand cases and 40 random stores)."
    )
