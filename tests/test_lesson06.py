"""Lesson 06 (Atari preprocessing): typical mistakes in the exercises get the right hint, the solutions give
the reference values (stub fails, solution passes: test_exercises.py); the lesson's plots show their data."""

from __future__ import annotations

import cv2
import gymnasium as gym
import matplotlib
import numpy as np
import pytest
import torch
from nbutils import load, run_cells

from dqn_helpers import atari, buffers, checks, networks, plotting

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

NB = load("06_atari_preprocessing")


@pytest.fixture(scope="module")
def screens() -> list[np.ndarray]:
    """Real Pong screens with the ball in play (sticky actions off, so always the same ones)."""
    atari.require_atari()
    env = gym.make("ALE/Pong-v5", repeat_action_probability=0.0)
    env.reset(seed=0)
    env.action_space.seed(0)
    frames = []
    for step in range(100):
        screen, *_ = env.step(env.action_space.sample())
        if step >= 70 and step % 3 == 0:
            frames.append(screen)
    env.close()
    return frames


def _exercise(number: str, which: str) -> dict:
    """The namespace after the setup cell and the stub, then (``which="solution"``) the solution cell, which
    keeps the course's solution when the learner's function did not pass its checker (``ok_N_k`` False)."""
    ns = run_cells(NB, "parameters", f"stub-{number}")
    if which == "solution":
        ns[f"ok_{number.replace('.', '_')}"] = False
        run_cells(NB, f"solution-{number}", namespace=ns)
    return ns


def test_setup_cell_fast_mode():
    ns = run_cells(NB, "parameters")
    assert ns["FAST"] is True
    assert ns["config"].n_check_frames == 6 and ns["config"].fill_steps == 300


def test_preprocess_frame_solution_equals_the_reference(screens):
    solution = _exercise("6.1", "solution")["preprocess_frame"]
    for screen in screens:
        np.testing.assert_array_equal(solution(screen), atari.preprocess_frame(screen))


def _gray(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


@pytest.mark.parametrize(
    "mistake, hint",
    [
        (lambda f: cv2.resize(_gray(f), (84, 84)), "INTER_AREA"),
        (
            lambda f: cv2.resize(
                cv2.cvtColor(f, cv2.COLOR_BGR2GRAY), (84, 84), interpolation=cv2.INTER_AREA
            ),
            "COLOR_RGB2GRAY",
        ),
        (
            lambda f: cv2.resize(_gray(f), (84, 84), interpolation=cv2.INTER_AREA) / 255.0,
            "do not divide by 255",
        ),
        (lambda f: _gray(f), "now resize"),
        (lambda f: cv2.resize(f, (84, 84), interpolation=cv2.INTER_AREA), "grayscale first"),
    ],
)
def test_preprocess_frame_mistakes_get_the_right_hint(screens, capsys, mistake, hint):
    assert checks.check_preprocess_frame(mistake, screens) is False
    out = capsys.readouterr().out
    assert out.startswith("❌") and hint in out, out


def test_preprocess_frame_tolerates_one_gray_level_and_rejects_two(screens, capsys):
    solution = _exercise("6.1", "solution")["preprocess_frame"]

    def off_by(delta: int):
        def fn(frame: np.ndarray) -> np.ndarray:
            out = solution(frame).astype(np.int16)
            out[40, 40] += delta if out[40, 40] < 200 else -delta
            return out.astype(np.uint8)

        return fn

    assert checks.check_preprocess_frame(off_by(1), screens) is True
    assert checks.check_preprocess_frame(off_by(2), screens) is False
    assert "more than 1 gray level" in capsys.readouterr().out


def test_preprocess_checker_rejects_in_place_changes_and_fake_frames(screens, capsys):
    solution = _exercise("6.1", "solution")["preprocess_frame"]

    def in_place(frame: np.ndarray) -> np.ndarray:
        frame[0, 0] = 255 - frame[0, 0]
        return solution(frame)

    assert checks.check_preprocess_frame(in_place, [s.copy() for s in screens]) is False
    assert "in place" in capsys.readouterr().out
    assert checks.check_preprocess_frame(solution, [np.zeros((84, 84), np.uint8)]) is False
    assert "real Atari screens" in capsys.readouterr().out


def test_push_frame_solution_shifts_the_stack():
    solution = _exercise("6.2", "solution")["push_frame"]
    stack = np.arange(4 * 84 * 84, dtype=np.int64).reshape(4, 84, 84).astype(np.uint8)
    frame = np.full((84, 84), 7, np.uint8)
    np.testing.assert_array_equal(solution(stack, frame), np.concatenate([stack[1:], frame[None]]))


@pytest.mark.parametrize(
    "mistake, hint",
    [
        (lambda s, f: np.concatenate([f[None], s[:-1]]), "newest frame goes LAST"),
        (lambda s, f: np.concatenate([s[:-1], f[None]]), "drop the oldest frame"),
        (lambda s, f: np.concatenate([s, f[None]]), "drop the oldest frame (stack[0])"),
        (lambda s, f: np.stack([s[1], s[2], s[3], f]), "Do not assume 4 frames"),
    ],
)
def test_push_frame_mistakes_get_the_right_hint(capsys, mistake, hint):
    assert checks.check_push_frame(mistake) is False
    assert hint in capsys.readouterr().out


def test_push_frame_in_place_is_rejected(capsys):
    def in_place(stack: np.ndarray, frame: np.ndarray) -> np.ndarray:
        stack[:-1] = stack[1:]
        stack[-1] = frame
        return stack

    assert checks.check_push_frame(in_place) is False
    assert "in place" in capsys.readouterr().out


def test_conv_output_size_solution_gives_the_nature_cnn_sizes():
    solution = _exercise("6.3", "solution")["conv_output_size"]
    assert [solution(84, 8, 4), solution(20, 4, 2), solution(9, 3, 1), solution(7, 3, 1, 1)] == [
        20,
        9,
        7,
        7,
    ]


@pytest.mark.parametrize(
    "mistake, hint",
    [
        (lambda n, k, s, p=0: (n + 2 * p - k) / s + 1, "return an int"),
        (lambda n, k, s, p=0: (n - k) // s + 1, "ignore padding"),
        (lambda n, k, s, p=0: (n - k) // s, "add 1"),
        (lambda n, k, s, p=0: n // s, "subtract the kernel"),
        (lambda n, k, s, p=0: None, "return an int"),
    ],
)
def test_conv_output_size_mistakes_get_the_right_hint(capsys, mistake, hint):
    assert checks.check_conv_output_size(mistake) is False
    assert hint in capsys.readouterr().out


# ----------------------------------------------------------------------------- plots


def test_plot_image_row_shows_each_image_with_its_title(screens):
    gray = _gray(screens[0])
    small = atari.preprocess_frame(screens[0])
    fig = plotting.plot_image_row([screens[0], gray, small], ["rgb", "gray", "small"])
    assert [ax.get_title() for ax in fig.axes] == ["rgb", "gray", "small"]
    for ax, image in zip(fig.axes, [screens[0], gray, small]):
        np.testing.assert_array_equal(np.asarray(ax.images[0].get_array()), image)
    assert fig.axes[1].images[0].get_clim() == (0, 255)  # gray drawn on the full byte scale
    plt.close(fig)
    with pytest.raises(ValueError, match="one title per image"):
        plotting.plot_image_row([gray, small], ["only one"])
    with pytest.raises(ValueError, match="expected"):
        plotting.plot_image_row([np.zeros((4, 84, 84), np.uint8)])


def test_plot_stack_motion_draws_frames_and_their_differences():
    stack = np.zeros((4, 84, 84), np.uint8)
    for k in range(4):
        stack[k, 40:44, 10 + 5 * k : 12 + 5 * k] = 200  # a "ball" moving right
    fig = plotting.plot_stack_motion(stack)
    images = [ax.images[0].get_array() for ax in fig.axes if ax.images]
    assert len(images) == 4 + 3
    for k in range(3):
        expected = stack[k + 1].astype(np.int16) - stack[k].astype(np.int16)
        np.testing.assert_array_equal(np.asarray(images[4 + k]), expected)
    plt.close(fig)
    with pytest.raises(ValueError, match="k >= 2"):
        plotting.plot_stack_motion(stack[0])


def test_plot_memory_bars_lengths_are_the_sizes():
    fig = plotting.plot_memory_bars(["a", "b", "c"], [225.8, 56.5, 7.1], ram_gb=16)
    ax = fig.axes[0]
    widths = sorted(round(p.get_width(), 1) for p in ax.patches)
    assert widths == [7.1, 56.5, 225.8]
    assert ax.get_xscale() == "log"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["16 GB of RAM"]
    plt.close(fig)
    with pytest.raises(ValueError, match="positive"):
        plotting.plot_memory_bars(["a"], [0.0])


# ---------------------------------------------------------------- exercise 6.4: the Nature CNN
F = torch.nn.functional


class _Layers(torch.nn.Module):
    """The Nature CNN's layers as named attributes; subclasses write ``forward`` right or wrong."""

    def __init__(self, n_actions: int) -> None:
        super().__init__()
        self.c1 = torch.nn.Conv2d(4, 32, 8, stride=4)
        self.c2 = torch.nn.Conv2d(32, 64, 4, stride=2)
        self.c3 = torch.nn.Conv2d(64, 64, 3, stride=1)
        self.fc = torch.nn.Linear(3136, 512)
        self.out = torch.nn.Linear(512, n_actions)

    def run(self, x: torch.Tensor, relu=F.relu) -> torch.Tensor:
        h = relu(self.c3(relu(self.c2(relu(self.c1(x))))))
        return self.out(relu(self.fc(h.flatten(1))))


class FunctionalRelus(
    _Layers
):  # correct: named attributes, functional ReLUs, x / 255.0 on the uint8 tensor
    def forward(self, x):
        return self.run(x / 255.0)


class OneSequential(torch.nn.Module):  # correct: one nn.Sequential
    def __init__(self, n_actions: int) -> None:
        super().__init__()
        layers = [
            torch.nn.Conv2d(4, 32, 8, 4),
            torch.nn.ReLU(),
            torch.nn.Conv2d(32, 64, 4, 2),
            torch.nn.ReLU(),
        ]
        layers += [torch.nn.Conv2d(64, 64, 3, 1), torch.nn.ReLU(), torch.nn.Flatten()]
        layers += [torch.nn.Linear(3136, 512), torch.nn.ReLU(), torch.nn.Linear(512, n_actions)]
        self.net = torch.nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x.float().div(255))


class NoScaling(_Layers):
    def forward(self, x):
        return self.run(x.float())


class NoRelu(_Layers):
    def forward(self, x):
        return self.run(x.float() / 255.0, relu=lambda h: h)


class Detached(_Layers):
    def forward(self, x):
        with torch.no_grad():
            h = F.relu(self.c1(x.float() / 255.0))
        return self.out(F.relu(self.fc(F.relu(self.c3(F.relu(self.c2(h)))).flatten(1))))


class WrongStride(_Layers):
    def __init__(self, n_actions: int) -> None:
        super().__init__(n_actions)
        self.c1 = torch.nn.Conv2d(4, 32, 8, stride=2)
        self.fc = torch.nn.Linear(64 * 17 * 17, 512)

    def forward(self, x):
        return self.run(x.float() / 255.0)


class FixedActions(_Layers):
    def __init__(self, n_actions: int) -> None:
        super().__init__(6)

    def forward(self, x):
        return self.run(x.float() / 255.0)


@pytest.mark.parametrize("network", [networks.NatureCNN, FunctionalRelus, OneSequential])
def test_check_nature_cnn_passes_every_correct_arrangement(network, run_checker):
    ok, printed = run_checker(checks.check_nature_cnn, network)
    assert ok, printed


@pytest.mark.parametrize(
    ("network", "named"),
    [
        (NoScaling, "divide the uint8 input by 255"),
        (NoRelu, "affine"),
        (Detached, "no gradient reaches ['c1.weight', 'c1.bias']"),
        (WrongStride, "parameters"),
        (FixedActions, "n_actions=4"),
    ],
)
def test_check_nature_cnn_names_each_slip(network, named, run_checker):
    ok, printed = run_checker(checks.check_nature_cnn, network)
    assert not ok and named in printed, printed


# ------------------------------------------------- exercise 6.5: a stacked state from the frame store
def _clamped(frames, starts, index, stack=4):  # correct: a loop walking back to the episode's start
    first = index
    while not starts[first]:
        first -= 1
    return np.stack([frames[max(first, index - k)] for k in range(stack - 1, -1, -1)])


def _vectorised(
    frames, starts, index, stack=4
):  # correct: the last start by flatnonzero, clipped positions
    first = np.flatnonzero(starts[: index + 1])[-1]
    return frames[np.clip(np.arange(index - stack + 1, index + 1), first, None)]


def _crosses(frames, starts, index, stack=4):
    return np.stack([frames[max(0, index - k)] for k in range(stack - 1, -1, -1)])


def _zeros(frames, starts, index, stack=4):
    first = np.flatnonzero(starts[: index + 1])[-1]
    return np.stack(
        [
            frames[p] if p >= first else np.zeros_like(frames[0])
            for p in range(index - stack + 1, index + 1)
        ]
    )


def _newest_first(frames, starts, index, stack=4):
    return _clamped(frames, starts, index, stack)[::-1]


def _one_early(frames, starts, index, stack=4):
    first = np.flatnonzero(starts[: index + 1])[-1]
    return frames[np.clip(np.arange(index - stack, index), first, None)]


@pytest.mark.parametrize("fn", [_clamped, _vectorised])
def test_check_stacked_state_passes_correct_variants(fn, run_checker):
    ok, printed = run_checker(checks.check_stacked_state, fn)
    assert ok, printed


@pytest.mark.parametrize(
    ("fn", "named"),
    [
        (_crosses, "crosses into the previous episode"),
        (_zeros, "not with zeros"),
        (_newest_first, "oldest frame comes first"),
        (_one_early, "ends AT index"),
    ],
)
def test_check_stacked_state_names_each_slip(fn, named, run_checker):
    ok, printed = run_checker(checks.check_stacked_state, fn)
    assert not ok and named in printed, printed


def test_stacked_state_rebuilds_what_the_frame_replay_buffer_samples():
    """The exercise's solution and the package's FrameReplayBuffer agree on real-looking episodes."""
    ns = _exercise("6.5", "solution")
    stacked_state = ns["stacked_state"]
    rng = np.random.default_rng(0)
    replay = buffers.FrameReplayBuffer(500, frame_shape=(6, 5), seed=0)
    film, starts = [], []
    for _episode in range(4):
        first = rng.integers(0, 256, size=(6, 5), dtype=np.uint8)
        obs = np.stack([first] * 4)  # a reset: 4 copies of the first frame
        film.append(first)
        starts.append(True)
        length = int(rng.integers(1, 12))
        for t in range(length):
            frame = rng.integers(0, 256, size=(6, 5), dtype=np.uint8)
            next_obs = np.concatenate([obs[1:], frame[None]])
            replay.add(obs, 0, 0.0, next_obs, terminated=False, truncated=t == length - 1)
            film.append(frame)
            starts.append(False)
            obs = next_obs
    film, starts = np.stack(film), np.array(starts)
    stored = {stacked_state(film, starts, i).tobytes() for i in range(len(film))}
    batch = replay.sample(len(replay))
    assert all(s.numpy().tobytes() in stored for s in batch.obs)


def test_a_correct_answer_unlike_the_solution_is_the_one_the_lesson_runs(capsys):
    """Exercise 6.4 with a passing network laid out unlike the solution: the solution cell keeps it."""
    ns = run_cells(NB, "parameters")
    ns["NatureCNN"] = OneSequential
    ns["ok_6_4"] = checks.check_nature_cnn(ns["NatureCNN"])
    run_cells(NB, "solution-6.4", namespace=ns)
    assert ns["ok_6_4"] and ns["NatureCNN"] is OneSequential
    assert (
        checks.whose(ns["NatureCNN"]) == "yours"
        and "Using your OneSequential" in capsys.readouterr().out
    )
