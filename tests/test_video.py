"""Tests for dqn_helpers.video: recording, mp4 by default, GIF when mp4 fails."""

from __future__ import annotations

import base64
import io
import re

import gymnasium as gym
import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image

from dqn_helpers import video


def _frames(n: int = 12, shape: tuple[int, ...] = (64, 48, 3)) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, shape, dtype=np.uint8) for _ in range(n)]


def _embedded_bytes(html_object) -> tuple[str, bytes]:
    match = re.search(r'src="data:([a-z]+/[a-z0-9]+);base64,([A-Za-z0-9+/=]+)"', html_object.data)
    assert match, html_object.data[:200]
    return match.group(1), base64.b64decode(match.group(2))


def test_record_episode_returns_one_frame_per_step_plus_the_first():
    env = gym.make("CartPole-v1", render_mode="rgb_array")
    steps = []
    frames = video.record_episode(env, lambda obs: steps.append(obs) or 0, seed=0)
    assert len(frames) == len(steps) + 1
    assert 5 < len(steps) < 50  # always pushing left topples the pole quickly
    assert frames[0].shape == (400, 600, 3) and frames[0].dtype == np.uint8
    assert len(video.record_episode(env, lambda obs: 0, max_steps=3, seed=0)) == 4


def test_record_episode_needs_rgb_array():
    env = gym.make("CartPole-v1")
    with pytest.raises(ValueError, match="render_mode='rgb_array'"):
        video.record_episode(env, lambda obs: 0)


def test_show_frames_embeds_an_mp4_when_the_encoder_works(tmp_path):
    frames = _frames()
    html = video.show_frames(frames, fps=10, path=tmp_path / "clip.mp4")
    mime, data = _embedded_bytes(html)
    assert mime == "video/mp4"
    assert data[4:8] == b"ftyp"  # the MP4 container's first box
    assert "<video" in html.data
    saved = tmp_path / "clip.mp4"
    assert saved.read_bytes() == data
    n_frames, _ = imageio_ffmpeg.count_frames_and_secs(str(saved))
    assert n_frames == len(frames)


def test_show_frames_falls_back_to_gif_when_mp4_fails(monkeypatch, tmp_path, capsys):
    def broken(*args, **kwargs):
        raise OSError("no ffmpeg here")

    monkeypatch.setattr(video, "_encode_mp4", broken)
    frames = _frames(7)
    html = video.show_frames(frames, fps=10, path=tmp_path / "clip.mp4")
    mime, data = _embedded_bytes(html)
    assert mime == "image/gif"
    assert data[:6] == b"GIF89a"
    assert Image.open(io.BytesIO(data)).n_frames == 7
    assert (tmp_path / "clip.gif").read_bytes() == data
    assert "clip.gif" in capsys.readouterr().out


def test_save_video_mp4_and_gif(tmp_path):
    frames = _frames(9)
    mp4 = video.save_video(frames, tmp_path / "a.mp4", fps=15)
    assert mp4 == tmp_path / "a.mp4" and mp4.read_bytes()[4:8] == b"ftyp"
    gif = video.save_video(frames, tmp_path / "sub" / "b.gif", fps=15)
    assert gif.read_bytes()[:6] == b"GIF89a"
    with pytest.raises(ValueError, match=r"must end in \.mp4 or \.gif"):
        video.save_video(frames, tmp_path / "c.avi")


def test_save_video_falls_back_to_gif_with_a_note(monkeypatch, tmp_path, capsys):
    def broken(*args, **kwargs):
        raise RuntimeError("encoder missing")

    monkeypatch.setattr(video, "_write_mp4", broken)
    written = video.save_video(_frames(5), tmp_path / "run.mp4")
    assert written == tmp_path / "run.gif"
    assert written.read_bytes()[:6] == b"GIF89a"
    assert not (tmp_path / "run.mp4").exists()
    assert "encoder missing" in capsys.readouterr().out


def _gif_frames(path) -> list[np.ndarray]:
    """The frames of a GIF file as RGB arrays (what a viewer would show)."""
    from PIL import Image, ImageSequence

    with Image.open(path) as image:
        return [np.asarray(frame.convert("RGB")) for frame in ImageSequence.Iterator(image)]


def test_grayscale_odd_sized_and_float_frames_are_accepted(tmp_path):
    gray = [np.full((85, 83), 40 * i, np.uint8) for i in range(4)]
    data, kind = video.encode_video(gray, fps=5)
    assert kind == "mp4" and data[4:8] == b"ftyp"
    floats = [np.full((10, 10, 3), 0.5, np.float32)] * 2
    assert (
        _gif_frames(video.save_video(floats, tmp_path / "floats.gif"))[0][0, 0].tolist()
        == [128] * 3
    )
    frames = _gif_frames(video.save_video(gray, tmp_path / "gray.gif"))
    assert frames[0].shape == (86, 84, 3)  # padded to even sides (yuv420p needs them), as RGB
    assert frames[1][0, 0].tolist() == [40] * 3 and frames[1][-1, -1].tolist() == [40] * 3


@pytest.mark.parametrize(
    ("frames", "error", "match"),
    [
        ([], ValueError, "no frames"),
        ([np.zeros((4, 4, 3), np.uint8), np.zeros((4, 6, 3), np.uint8)], ValueError, "same shape"),
        ([np.zeros((4, 84, 84), np.uint8)], ValueError, "obs\\[-1\\]"),
        ([np.zeros((4, 4), np.int64)], TypeError, "uint8"),
    ],
)
def test_bad_frames_are_explained(frames, error, match):
    with pytest.raises(error, match=match):
        video.encode_video(frames)


def test_bad_fps():
    with pytest.raises(ValueError, match="fps must be"):
        video.encode_video(_frames(2), fps=0)
