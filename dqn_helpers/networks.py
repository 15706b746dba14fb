"""Q-networks: an MLP for vector observations, the Nature CNN for Atari frames, and a dueling head.

``QNetwork`` is introduced in lesson 02, ``NatureCNN`` in lesson 06, ``DuelingHead`` in lesson 08.
Every network maps a batch of observations to one Q-value per action: (batch, n_actions).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import torch
from torch import nn

from dqn_helpers.atari import FRAME_SIZE  # the CNN's input is the lesson 06 preprocessed frame

__all__ = [
    "QNetwork",
    "NatureCNN",
    "DuelingHead",
    "build_q_network",
    "conv_output_size",
]

# Float frames above this cannot be in [0, 1]: they are raw 0-255 pixels (the scale of uint8 frames).
_FLOAT_FRAME_MAX = 1.5

# The Nature DQN (Mnih et al., 2015) convolutions: (out_channels, kernel, stride).
_NATURE_CONVS: tuple[tuple[int, int, int], ...] = ((32, 8, 4), (64, 4, 2), (64, 3, 1))


def conv_output_size(size: int, kernel: int, stride: int, padding: int = 0) -> int:
    """Side of a convolution's output: ``(size + 2*padding - kernel) // stride + 1`` (84 → 20 → 9 → 7).

    Introduced in lesson 06.
    """
    out = (size + 2 * padding - kernel) // stride + 1
    if out < 1:
        raise ValueError(
            f"a {kernel}x{kernel} convolution with stride {stride} does not fit an input of side {size}."
        )
    return out


def _check_positive_int(name: str, value: int) -> None:
    # numbers.Integral accepts numpy integers too (gymnasium's Discrete(n).n is an np.int64).
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")


class DuelingHead(nn.Module):
    """Two streams, a state value V(s) and advantages A(s, a), combined as ``Q = V + A - mean_a A``.

    Introduced in lesson 08 (Wang et al., 2016). ``hidden=0`` makes both streams linear.
    """

    def __init__(self, in_features: int, n_actions: int, hidden: int = 512) -> None:
        super().__init__()
        _check_positive_int("in_features", in_features)
        _check_positive_int("n_actions", n_actions)
        if isinstance(hidden, bool) or not isinstance(hidden, numbers.Integral) or hidden < 0:
            raise ValueError(
                f"hidden must be an integer >= 0 (0 = linear streams), got {hidden!r}."
            )
        self.in_features = int(in_features)
        self.n_actions = int(n_actions)
        self.out_features = n_actions

        def stream(out: int) -> nn.Module:
            if hidden == 0:
                return nn.Linear(in_features, out)
            return nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, out))

        self.value = stream(1)
        self.advantage = stream(n_actions)

    def streams(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The raw streams: V with shape (batch, 1) and A with shape (batch, n_actions)."""
        return self.value(features), self.advantage(features)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        value, advantage = self.streams(features)
        return value + advantage - advantage.mean(dim=-1, keepdim=True)


def _mlp(sizes: Sequence[int]) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
    return layers


class QNetwork(nn.Module):
    """MLP from a vector observation to Q-values: obs_dim → hidden... → n_actions, ReLU between.

    Introduced in lesson 02 (CartPole: 4 → 128 → 128 → 2). With ``dueling=True`` the last hidden
    layer is split into a value and an advantage stream of that width (same depth as the plain MLP).
    """

    def __init__(
        self,
        obs_dim: int,
        n_actions: int,
        hidden: Sequence[int] = (128, 128),
        dueling: bool = False,
    ) -> None:
        super().__init__()
        _check_positive_int("obs_dim", obs_dim)
        _check_positive_int("n_actions", n_actions)
        hidden = tuple(hidden)
        for width in hidden:
            _check_positive_int("every hidden width", width)
        if dueling and not hidden:
            raise ValueError("dueling=True needs at least one hidden layer, got hidden=().")
        self.obs_dim = int(obs_dim)
        self.n_actions = int(n_actions)
        self.out_features = n_actions
        self.hidden = hidden
        self.dueling = dueling
        if dueling:
            trunk_sizes = (obs_dim, *hidden[:-1])
            self.body = nn.Sequential(*_mlp(trunk_sizes))
            self.head: nn.Module = DuelingHead(trunk_sizes[-1], n_actions, hidden=hidden[-1])
        else:
            self.body = nn.Sequential(*_mlp((obs_dim, *hidden)))
            self.head = nn.Linear(hidden[-1] if hidden else obs_dim, n_actions)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        if obs.dim() == 0 or obs.shape[-1] != self.obs_dim:
            raise ValueError(
                f"QNetwork expects observations of shape (batch, {self.obs_dim}); got "
                f"{tuple(obs.shape)}. Check obs_dim (env.observation_space.shape[0]) and that you "
                "did not pass a frame stack to the MLP (use NatureCNN for images)."
            )
        weight_dtype = next(self.parameters()).dtype
        if obs.dtype != weight_dtype:  # float64 numpy arrays (or ints) just work
            obs = obs.to(weight_dtype)
        return self.head(self.body(obs))

    def feature_shapes(self) -> list[tuple[str, tuple[int, ...]]]:
        """Per-layer output shapes for one observation, e.g. [('input', (4,)), ('hidden 1', (128,)), ...]."""
        shapes: list[tuple[str, tuple[int, ...]]] = [("input", (self.obs_dim,))]
        for i, width in enumerate(self.hidden, start=1):
            shapes.append((f"hidden {i}", (width,)))
        shapes.append(("q_values", (self.n_actions,)))
        return shapes


class NatureCNN(nn.Module):
    """The Nature DQN network: 3 convolutions + a 512-unit layer, from (batch, frames, 84, 84) to Q-values.

    Introduced in lesson 06. uint8 input (0–255) is divided by 255 inside ``forward`` (on the device,
    so the replay buffer can keep compact uint8 frames); float input must already be in [0, 1].
    """

    def __init__(self, n_actions: int, in_frames: int = 4, dueling: bool = False) -> None:
        super().__init__()
        _check_positive_int("n_actions", n_actions)
        _check_positive_int("in_frames", in_frames)
        self.n_actions = int(n_actions)
        self.out_features = n_actions
        self.in_frames = int(in_frames)
        self.dueling = dueling
        convs: list[nn.Module] = []
        channels = in_frames
        for out_channels, kernel, stride in _NATURE_CONVS:
            convs += [nn.Conv2d(channels, out_channels, kernel, stride), nn.ReLU()]
            channels = out_channels
        self.convs = nn.Sequential(*convs, nn.Flatten())
        self.n_features = self._n_features()  # 64 * 7 * 7 = 3136
        if dueling:
            self.head: nn.Module = DuelingHead(self.n_features, n_actions, hidden=512)
        else:
            self.head = nn.Sequential(
                nn.Linear(self.n_features, 512), nn.ReLU(), nn.Linear(512, n_actions)
            )

    def _n_features(self) -> int:
        size = FRAME_SIZE
        for _, kernel, stride in _NATURE_CONVS:
            size = conv_output_size(size, kernel, stride)
        return _NATURE_CONVS[-1][0] * size * size

    def feature_shapes(self) -> list[tuple[str, tuple[int, ...]]]:
        """Shape after each layer for one observation: (4, 84, 84) → (32, 20, 20) → ... → (3136,) → (512,)."""
        shapes: list[tuple[str, tuple[int, ...]]] = [
            ("input", (self.in_frames, FRAME_SIZE, FRAME_SIZE))
        ]
        size = FRAME_SIZE
        for i, (channels, kernel, stride) in enumerate(_NATURE_CONVS, start=1):
            size = conv_output_size(size, kernel, stride)
            shapes.append((f"conv{i}", (channels, size, size)))
        shapes += [("flatten", (self.n_features,)), ("fc", (512,)), ("q_values", (self.n_actions,))]
        return shapes

    def _check_input(self, x: torch.Tensor) -> None:
        expected = (self.in_frames, FRAME_SIZE, FRAME_SIZE)
        if x.dim() == 4 and tuple(x.shape[1:]) == expected:
            return
        got = tuple(x.shape)
        head = (
            f"NatureCNN expects (batch, {self.in_frames}, {FRAME_SIZE}, {FRAME_SIZE}) uint8 frames; "
            f"got {got}"
        )
        if x.dim() == 3 and got == expected:
            fix = "one observation without a batch axis: use x.unsqueeze(0)."
        elif x.dim() in (3, 4) and got[-3:] == (FRAME_SIZE, FRAME_SIZE, self.in_frames):
            fix = (
                "channels last: did you forget to stack/transpose? Move the frame axis first with "
                "x.permute(0, 3, 1, 2) (or np.moveaxis), or build the env with "
                "dqn_helpers.atari.make_atari_env, which already gives (4, 84, 84)."
            )
        elif x.dim() >= 2 and got[-2:] != (FRAME_SIZE, FRAME_SIZE):
            fix = (
                "frames must be preprocessed to 84x84 grayscale: use dqn_helpers.atari.make_atari_env "
                "(or atari.preprocess_frame for a single RGB frame)."
            )
        else:
            fix = (
                f"stack {self.in_frames} frames along axis 1 (or build the network with "
                f"in_frames={got[-3] if x.dim() >= 3 else '?'})."
            )
        raise ValueError(f"{head}: {fix}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        if (
            x.dtype == torch.uint8
        ):  # the fast path: frames as the env and the replay buffer keep them
            x = x.float() / 255.0
        elif not x.is_floating_point():
            raise TypeError(
                f"NatureCNN expects uint8 frames (0–255) or floats already scaled to [0, 1]; got "
                f"dtype {x.dtype}. Keep frames as uint8 (torch.as_tensor(obs) on a uint8 array does)."
            )
        elif x.numel() and (top := float(x.amax())) > _FLOAT_FRAME_MAX:
            raise ValueError(
                f"NatureCNN got float frames with values up to {top:g}, so they look like raw 0–255 "
                "pixels, which would make every Q-value about 255 times too large. Pass uint8 frames "
                "(torch.as_tensor(obs) on the env's uint8 observation; the network scales them by "
                "1/255 itself), or floats already scaled to [0, 1] (x / 255.0)."
            )
        if x.device.type == "cpu":
            # oneDNN's CPU convolutions prefer the channels-last layout: same numbers, less time.
            x = x.contiguous(memory_format=torch.channels_last)
        return self.head(self.convs(x))


def build_q_network(
    obs_shape: Sequence[int],
    n_actions: int,
    *,
    hidden: Sequence[int] = (128, 128),
    dueling: bool = False,
) -> nn.Module:
    """QNetwork for 1-D observations, NatureCNN for (k, 84, 84) frame stacks.

    Introduced in lesson 06 (so the same training loop handles CartPole and Pong).
    """
    shape = tuple(int(s) for s in obs_shape)
    if shape == ():
        raise ValueError(
            "no Q-network for observations of shape (): each observation is a single integer (a "
            "Discrete observation space, e.g. FrozenLake's state number), which a network cannot "
            "read as a quantity. One-hot encode it into a vector of length n (the number of states, "
            "observation_space.n), or learn a Q-table as lesson 01 does."
        )
    if len(shape) == 1:
        return QNetwork(shape[0], n_actions, hidden=hidden, dueling=dueling)
    if len(shape) == 3 and shape[1:] == (FRAME_SIZE, FRAME_SIZE):
        return NatureCNN(n_actions, in_frames=shape[0], dueling=dueling)
    raise ValueError(
        f"no Q-network for observations of shape {shape}: allowed are vectors (obs_dim,) for the MLP "
        f"or frame stacks (k, {FRAME_SIZE}, {FRAME_SIZE}) for the Nature CNN. For Atari, build the env "
        "with dqn_helpers.atari.make_atari_env; for other images, preprocess them to 84x84 first."
    )
