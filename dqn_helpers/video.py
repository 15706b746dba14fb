"""Watch an agent play: record an episode's frames, show them in the notebook, save them to a file.

Introduced in lesson 01 (watching a policy act) and used in lessons 05–10. Videos are H.264 mp4
(imageio-ffmpeg ships its own ffmpeg binary); if encoding fails for any reason, an animated GIF
(Pillow) is used instead, so the notebook always shows something.
"""

from __future__ import annotations

import base64
import io
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

__all__ = ["record_episode", "show_frames", "save_video", "encode_video"]


def record_episode(
    env: gym.Env,
    policy: Callable[[Any], int],
    max_steps: int = 10_000,
    *,
    seed: int | None = None,
) -> list[np.ndarray]:
    """Play one episode with ``policy(obs) -> action`` and return the RGB frames (first frame included).

    Introduced in lesson 01. The env must be made with ``render_mode="rgb_array"``.
    """
    if getattr(env, "render_mode", None) != "rgb_array":
        raise ValueError(
            f"record_episode needs an env made with render_mode='rgb_array', got render_mode="
            f"{getattr(env, 'render_mode', None)!r}. For example gym.make('CartPole-v1', "
            "render_mode='rgb_array') or atari.make_atari_env(render_mode='rgb_array')."
        )
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"max_steps must be a positive integer, got {max_steps!r}.")
    obs, _ = env.reset(seed=seed)
    frames = [np.asarray(env.render())]
    for _ in range(max_steps):
        obs, _, terminated, truncated, _ = env.step(int(policy(obs)))
        frames.append(np.asarray(env.render()))
        if terminated or truncated:
            break
    return frames


def _as_rgb_uint8(frames: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Frames as uint8 (H, W, 3) with even H and W (H.264 in yuv420p needs even sizes)."""
    if len(frames) == 0:
        raise ValueError("no frames to show: record_episode returned an empty list?")
    first = np.asarray(frames[0])
    out = []
    for i, frame in enumerate(frames):
        frame = np.asarray(frame)
        if frame.shape != first.shape:
            raise ValueError(
                f"all frames must have the same shape; frame 0 is {first.shape}, frame {i} is "
                f"{frame.shape}."
            )
        if frame.dtype != np.uint8:
            if not np.issubdtype(frame.dtype, np.floating):
                raise TypeError(
                    f"frames must be uint8 (0–255) or floats in [0, 1], got {frame.dtype}."
                )
            frame = (np.clip(frame, 0.0, 1.0) * 255.0).round().astype(np.uint8)
        if frame.ndim == 3 and frame.shape[2] == 1:
            frame = frame[:, :, 0]
        if frame.ndim == 2:
            frame = np.repeat(frame[:, :, None], 3, axis=2)
        if frame.ndim != 3 or frame.shape[2] not in (3, 4):
            raise ValueError(
                f"each frame must be (H, W, 3) RGB or (H, W) grayscale, got {frame.shape}. "
                "For a stacked observation (4, 84, 84), show one frame, e.g. obs[-1]."
            )
        frame = frame[:, :, :3]
        height, width = frame.shape[:2]
        if height % 2 or width % 2:
            frame = np.pad(frame, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")
        out.append(np.ascontiguousarray(frame))
    return out


def _write_mp4(frames: list[np.ndarray], path: str | os.PathLike[str], fps: float) -> None:
    import imageio_ffmpeg

    height, width = frames[0].shape[:2]
    writer = imageio_ffmpeg.write_frames(
        str(path),
        (width, height),
        fps=fps,
        codec="libx264",
        pix_fmt_in="rgb24",
        pix_fmt_out="yuv420p",  # the pixel format every browser plays
        macro_block_size=1,  # sizes are already even; do not rescale
        ffmpeg_log_level="error",
        output_params=["-movflags", "+faststart"],
    )
    writer.send(None)  # start the generator
    for frame in frames:
        writer.send(frame)
    writer.close()


def _encode_mp4(frames: list[np.ndarray], fps: float) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "episode.mp4"
        _write_mp4(frames, path, fps)
        data = path.read_bytes()
    if not data:
        raise RuntimeError("ffmpeg wrote an empty mp4 file")
    return data


def _encode_gif(frames: list[np.ndarray], fps: float) -> bytes:
    from PIL import Image

    images = [Image.fromarray(frame) for frame in frames]
    buffer = io.BytesIO()
    images[0].save(
        buffer,
        format="GIF",
        save_all=True,
        append_images=images[1:],
        duration=max(20, round(1000 / fps)),  # ms per frame; browsers slow down anything < 20 ms
        loop=0,
    )
    return buffer.getvalue()


def _check_fps(fps: float) -> float:
    if isinstance(fps, bool) or not isinstance(fps, int | float) or not 0 < fps <= 240:
        raise ValueError(f"fps must be a number in (0, 240], got {fps!r}. 30 is a good default.")
    return float(fps)


def encode_video(frames: Sequence[np.ndarray], fps: float = 30) -> tuple[bytes, str]:
    """Encode frames as ``(bytes, "mp4")``, or ``(bytes, "gif")`` when mp4 encoding fails.

    Introduced in lesson 01 (used by ``show_frames``).
    """
    fps = _check_fps(fps)
    rgb = _as_rgb_uint8(frames)
    try:
        return _encode_mp4(rgb, fps), "mp4"
    except Exception:  # noqa: BLE001 - any encoder problem: fall back to a GIF, which always works
        return _encode_gif(rgb, fps), "gif"


def show_frames(
    frames: Sequence[np.ndarray],
    fps: float = 30,
    path: str | os.PathLike[str] | None = None,
    width: int | None = None,
) -> Any:
    """Return an IPython HTML object that plays the frames (embedded mp4, else an animated GIF).

    Introduced in lesson 01. ``path`` also saves the video (its suffix follows the chosen format);
    ``width`` is the display width in pixels (default: twice the frame width for small frames).
    """
    from IPython.display import HTML

    data, kind = encode_video(frames, fps)
    if path is not None:
        target = Path(path).with_suffix(f".{kind}")
        if target != Path(path):
            print(f"Note: saved as {target} ({kind}) instead of {path}.")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    frame_width = np.asarray(frames[0]).shape[1]
    width = width if width is not None else (frame_width * 2 if frame_width < 200 else frame_width)
    encoded = base64.b64encode(data).decode("ascii")
    if kind == "mp4":
        html = (
            f'<video width="{width}" controls autoplay loop muted playsinline '
            f'src="data:video/mp4;base64,{encoded}"></video>'
        )
    else:
        html = (
            f'<img width="{width}" style="image-rendering: pixelated" '
            f'src="data:image/gif;base64,{encoded}"/>'
        )
    return HTML(html)


def save_video(frames: Sequence[np.ndarray], path: str | os.PathLike[str], fps: float = 30) -> Path:
    """Write frames to ``path`` (.mp4 or .gif by suffix); an mp4 that fails is saved as .gif. Returns the path.

    Introduced in lesson 10 (the evaluate CLI's ``--video``).
    """
    fps = _check_fps(fps)
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".mp4", ".gif"):
        raise ValueError(f"video path must end in .mp4 or .gif, got {str(path)!r}.")
    rgb = _as_rgb_uint8(frames)
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".mp4":
        try:
            _write_mp4(rgb, path, fps)
            if path.stat().st_size > 0:
                return path
        except Exception as exc:  # noqa: BLE001 - any encoder problem: fall back to a GIF
            reason = f"{type(exc).__name__}: {exc}"
        else:
            reason = "ffmpeg wrote an empty file"
        gif_path = path.with_suffix(".gif")
        print(
            f"Note: could not write {path} ({reason}); saving an animated GIF {gif_path} instead."
        )
        path.unlink(missing_ok=True)
        path = gif_path
    path.write_bytes(_encode_gif(rgb, fps))
    return path
