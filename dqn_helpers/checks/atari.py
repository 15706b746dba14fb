"""Checkers of lesson 06 (Atari preprocessing)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dqn_helpers.checks._core import (
    _on_error,
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
