"""Lesson 06's panel: what the network sees of a real Pong moment, for each choice of the preprocessing."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import gymnasium as gym
import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from dqn_helpers import atari
from dqn_helpers.widgets._base import IntSlider, Panel, PanelError, slider_style

__all__ = [
    "INTERPOLATIONS",
    "record_raw_frames",
    "NetworkView",
    "network_view",
    "PreprocessingPanel",
]

INTERPOLATIONS = {
    "area": cv2.INTER_AREA,
    "bilinear": cv2.INTER_LINEAR,
    "nearest": cv2.INTER_NEAREST,
}
FRAME_HZ = 60  # the Atari 2600 draws 60 screens a second


def record_raw_frames(n_frames: int = 160, *, warmup: int = 200, seed: int = 0) -> np.ndarray:
    """``n_frames`` consecutive raw RGB Pong screens (frameskip 1, no sticky actions, random play).

    ``warmup`` emulator frames are played first so that the ball is in play. Introduced in lesson 06.
    """
    atari.require_atari()
    env = gym.make("ALE/Pong-v5", frameskip=1, repeat_action_probability=0.0)
    env.reset(seed=seed)
    env.action_space.seed(seed)
    frames = []
    for i in range(warmup + n_frames):
        screen, *_ = env.step(env.action_space.sample())
        if i >= warmup:
            frames.append(screen)
    env.close()
    return np.stack(frames)


@dataclass
class NetworkView:
    """The stack the network gets at one moment. Introduced in lesson 06."""

    stack: np.ndarray  # (stack, 84, 84) uint8, oldest first
    raw_index: list[int]  # the raw screen each stacked frame ends on
    pooled_pixels: int  # pixels of the newest frame that the max-pool changed (0 without it)
    span_frames: int  # raw screens from the oldest stacked frame to the newest

    @property
    def span_ms(self) -> float:
        return 1000.0 * self.span_frames / FRAME_HZ


def _to_84(screen: np.ndarray, interpolation: str) -> np.ndarray:
    gray = cv2.cvtColor(screen, cv2.COLOR_RGB2GRAY)
    return cv2.resize(gray, (84, 84), interpolation=INTERPOLATIONS[interpolation])


def network_view(
    raw: np.ndarray, moment: int, *, interpolation: str, frame_skip: int, max_pool: bool, stack: int
) -> NetworkView:
    """The ``stack`` preprocessed frames the network sees when raw screen ``moment`` has just been drawn.

    Agent step j ends on raw screen ``moment − (stack−1−j)·frame_skip``; its frame is that screen (or the
    pixel-wise max of it and the screen before, with ``max_pool``), in gray, resized to 84×84 with
    ``interpolation``. Introduced in lesson 06.
    """
    if interpolation not in INTERPOLATIONS:
        raise PanelError(
            f"interpolation must be one of {list(INTERPOLATIONS)}, got {interpolation!r}."
        )
    if not 1 <= frame_skip <= 16 or not 1 <= stack <= 16:
        raise PanelError(
            f"frame skip and stack size must be in 1..16, got {frame_skip} and {stack}."
        )
    oldest = moment - (stack - 1) * frame_skip - (1 if max_pool else 0)
    if oldest < 0 or moment >= len(raw):
        raise PanelError(
            f"a stack of {stack} frames {frame_skip} screens apart ending at screen {moment} needs screens "
            f"from {oldest} on, but the recording holds screens 0..{len(raw) - 1}: move the moment later, "
            "or lower the frame skip or the stack size."
        )
    ends = [moment - (stack - 1 - j) * frame_skip for j in range(stack)]
    frames, pooled = [], 0
    for end in ends:
        screen = np.maximum(raw[end], raw[end - 1]) if max_pool else raw[end]
        frames.append(_to_84(screen, interpolation))
    if max_pool:
        pooled = int(np.count_nonzero(frames[-1] != _to_84(raw[moment], interpolation)))
    return NetworkView(np.stack(frames), ends, pooled, ends[-1] - ends[0] + 1)


class PreprocessingPanel(Panel):
    """Interpolation, frame skip, max-pool, stack size and the moment; the raw screen and the stack.

    The screens are recorded once when the panel is made (``raw``, or a fresh recording). Introduced in
    lesson 06.
    """

    def __init__(
        self,
        raw: np.ndarray | None = None,
        *,
        frame_skip: int = 4,
        stack: int = 4,
        max_pool: bool = True,
        interpolation: str = "area",
    ) -> None:
        self.raw = record_raw_frames() if raw is None else np.asarray(raw)
        style = slider_style()
        self.interpolation = widgets.ToggleButtons(
            options=list(INTERPOLATIONS),
            value=interpolation,
            description="resize",
            style={"description_width": "130px", "button_width": "80px"},
        )
        self.max_pool = widgets.Checkbox(
            value=max_pool, description="max over the last two screens", indent=False
        )
        self.frame_skip = IntSlider(
            value=frame_skip, min=1, max=8, description="frame skip", **style
        )
        self.stack = IntSlider(value=stack, min=1, max=8, description="stack size", **style)
        self.moment = IntSlider(
            value=len(self.raw) - 1,
            min=0,
            max=len(self.raw) - 1,
            description="moment (screen)",
            **style,
        )
        super().__init__(
            [self.interpolation, self.max_pool, self.frame_skip, self.stack, self.moment]
        )

    def compute(self) -> NetworkView:
        return network_view(
            self.raw,
            int(self.moment.value),
            interpolation=self.interpolation.value,
            frame_skip=int(self.frame_skip.value),
            max_pool=bool(self.max_pool.value),
            stack=int(self.stack.value),
        )

    def draw(self, v: NetworkView) -> Figure:
        n = len(v.stack)
        fig = Figure(figsize=(2.2 * (n + 1.4), 2.9), layout="constrained")
        axes = fig.subplots(1, n + 1, width_ratios=[1.4] + [1] * n)
        axes[0].imshow(self.raw[v.raw_index[-1]])
        axes[0].set_title(f"raw screen {v.raw_index[-1]}", fontsize=9)
        for ax, frame, end in zip(axes[1:], v.stack, v.raw_index):
            ax.imshow(frame, cmap="gray", vmin=0, vmax=255)
            ax.set_title(f"ends on screen {end}", fontsize=9)
        for ax in axes:
            ax.set_axis_off()
        fig.suptitle("what the network sees: the stack, oldest first", fontsize=10)
        return fig

    def report(self, v: NetworkView) -> str:
        pooled = (
            f"the max-pool changed {v.pooled_pixels} of the newest frame's 7,056 pixels"
            if self.max_pool.value
            else "no max-pool"
        )
        return f"the stack spans {v.span_frames} screens ({v.span_ms:.0f} ms of play); {pooled}"
