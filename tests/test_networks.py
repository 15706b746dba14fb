"""Tests for dqn_helpers.networks: shapes, the dueling identity, uint8 scaling and clear shape errors."""

from __future__ import annotations

import pytest
import torch

from dqn_helpers import networks


def test_qnetwork_is_the_lesson_mlp():
    net = networks.QNetwork(4, 2)
    linears = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(4, 128), (128, 128), (128, 2)]
    assert net.n_actions == net.out_features == 2
    assert net(torch.zeros(5, 4)).shape == (5, 2)
    assert [s for _, s in net.feature_shapes()] == [(4,), (128,), (128,), (2,)]


def test_qnetwork_accepts_float64_and_single_observations():
    net = networks.QNetwork(3, 2, hidden=(8,))
    x = torch.randn(6, 3, dtype=torch.float64)
    torch.testing.assert_close(net(x), net(x.float()))
    assert net(torch.zeros(3)).shape == (2,)


def test_qnetwork_without_hidden_layers_is_linear():
    net = networks.QNetwork(3, 2, hidden=())
    x = torch.randn(4, 3)
    linear = net.head
    torch.testing.assert_close(net(x), x @ linear.weight.T + linear.bias)


def test_qnetwork_shape_error_says_expected_and_got():
    net = networks.QNetwork(4, 2)
    with pytest.raises(
        ValueError, match=r"expects observations of shape \(batch, 4\); got \(5, 3\)"
    ):
        net(torch.zeros(5, 3))


@pytest.mark.parametrize("bad", [0, -1, 2.0, True])
def test_qnetwork_rejects_bad_sizes(bad):
    with pytest.raises(ValueError, match="positive integer"):
        networks.QNetwork(bad, 2)
    with pytest.raises(ValueError, match="positive integer"):
        networks.QNetwork(4, 2, hidden=(128, bad))


def test_dueling_head_identity():
    torch.manual_seed(0)
    head = networks.DuelingHead(in_features=10, n_actions=5, hidden=16)
    features = torch.randn(7, 10)
    q = head(features)
    value, advantage = head.streams(features)
    assert value.shape == (7, 1) and advantage.shape == (7, 5)
    torch.testing.assert_close(q, value + advantage - advantage.mean(dim=1, keepdim=True))
    # Q - V has zero mean over actions, so V is the mean of Q over actions.
    torch.testing.assert_close((q - value).mean(dim=1), torch.zeros(7), atol=1e-6, rtol=0)
    torch.testing.assert_close(q.mean(dim=1, keepdim=True), value, atol=1e-6, rtol=0)


def test_dueling_head_is_invariant_to_a_constant_added_to_the_advantages():
    head = networks.DuelingHead(4, 3, hidden=0)
    features = torch.randn(2, 4)
    before = head(features)
    with torch.no_grad():
        head.advantage.bias += 10.0
    torch.testing.assert_close(head(features), before)


def test_dueling_qnetwork_keeps_the_depth_and_output():
    net = networks.QNetwork(4, 2, hidden=(64, 32), dueling=True)
    assert isinstance(net.head, networks.DuelingHead)
    assert net.head.in_features == 64
    assert net(torch.randn(3, 4)).shape == (3, 2)
    with pytest.raises(ValueError, match="hidden layer"):
        networks.QNetwork(4, 2, hidden=(), dueling=True)


def test_conv_output_size_walkthrough():
    sizes = [84]
    for kernel, stride in [(8, 4), (4, 2), (3, 1)]:
        sizes.append(networks.conv_output_size(sizes[-1], kernel, stride))
    assert sizes == [84, 20, 9, 7]
    assert networks.conv_output_size(5, 3, 1, padding=1) == 5
    with pytest.raises(ValueError, match="does not fit"):
        networks.conv_output_size(4, 8, 4)


def test_nature_cnn_shapes():
    net = networks.NatureCNN(n_actions=6)
    assert net.n_features == 64 * 7 * 7 == 3136
    assert net.feature_shapes() == [
        ("input", (4, 84, 84)),
        ("conv1", (32, 20, 20)),
        ("conv2", (64, 9, 9)),
        ("conv3", (64, 7, 7)),
        ("flatten", (3136,)),
        ("fc", (512,)),
        ("q_values", (6,)),
    ]
    x = torch.randint(0, 256, (3, 4, 84, 84), dtype=torch.uint8)
    assert net.convs(x.float()).shape == (3, 3136)
    assert net(x).shape == (3, 6)
    assert net.out_features == net.n_actions == 6
    # The Nature DQN has about 1.7M parameters for 6 actions.
    assert sum(p.numel() for p in net.parameters()) == 1_687_206


def test_nature_cnn_scales_uint8_inside_forward():
    torch.manual_seed(0)
    net = networks.NatureCNN(n_actions=3, in_frames=2)
    frames = torch.randint(0, 256, (4, 2, 84, 84), dtype=torch.uint8)
    torch.testing.assert_close(net(frames), net(frames.float() / 255.0))
    torch.testing.assert_close(net(frames), net(frames.double().float() / 255.0))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_nature_cnn_refuses_raw_0_255_floats(dtype):
    net = networks.NatureCNN(n_actions=3, in_frames=2)
    frames = torch.randint(0, 256, (4, 2, 84, 84), dtype=torch.uint8)
    with pytest.raises(ValueError, match="uint8 frames") as info:
        net(frames.to(dtype))  # raw pixels as floats: Q-values would be ~255x too large
    assert "[0, 1]" in str(info.value) and "up to 255" in str(info.value)
    one_bright_pixel = torch.zeros(1, 2, 84, 84)
    one_bright_pixel[0, 1, 40, 40] = 2.0
    with pytest.raises(ValueError, match="uint8 frames"):
        net(one_bright_pixel)
    # floats in [0, 1] (and a little rounding above 1) are fine
    assert net(torch.ones(1, 2, 84, 84, dtype=torch.float32) * 1.01).shape == (1, 3)
    assert net(torch.zeros(0, 2, 84, 84)).shape == (0, 3)  # an empty batch has no max to check


def test_nature_cnn_rejects_other_integer_dtypes():
    net = networks.NatureCNN(n_actions=2)
    with pytest.raises(TypeError, match="uint8"):
        net(torch.zeros(1, 4, 84, 84, dtype=torch.int64))


@pytest.mark.parametrize(
    ("shape", "hint"),
    [
        ((84, 84, 4), "transpose"),
        ((2, 84, 84, 4), "permute"),
        ((4, 84, 84), "unsqueeze"),
        ((2, 4, 210, 160), "make_atari_env"),
        ((2, 3, 84, 84), "in_frames=3"),
    ],
)
def test_nature_cnn_shape_errors_say_expected_got_and_fix(shape, hint):
    net = networks.NatureCNN(n_actions=2)
    with pytest.raises(ValueError) as info:
        net(torch.zeros(shape, dtype=torch.uint8))
    message = str(info.value)
    assert "expects (batch, 4, 84, 84) uint8 frames" in message
    assert f"got {shape}" in message
    assert hint in message


def test_nature_cnn_dueling():
    net = networks.NatureCNN(n_actions=4, dueling=True)
    assert isinstance(net.head, networks.DuelingHead)
    x = torch.randint(0, 256, (2, 4, 84, 84), dtype=torch.uint8)
    q = net(x)
    value, _ = net.head.streams(net.convs(x.float() / 255.0))
    torch.testing.assert_close(q.mean(dim=1, keepdim=True), value, atol=1e-5, rtol=0)


def test_nature_cnn_gradients_flow():
    net = networks.NatureCNN(n_actions=2)
    net(torch.randint(0, 256, (2, 4, 84, 84), dtype=torch.uint8)).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())


def test_build_q_network_picks_the_architecture():
    mlp = networks.build_q_network((4,), 2, hidden=(32,))
    assert isinstance(mlp, networks.QNetwork) and mlp.hidden == (32,)
    cnn = networks.build_q_network((4, 84, 84), 6, dueling=True)
    assert isinstance(cnn, networks.NatureCNN) and cnn.dueling and cnn.in_frames == 4
    with pytest.raises(ValueError, match=r"shape \(210, 160, 3\).*make_atari_env"):
        networks.build_q_network((210, 160, 3), 6)


def test_build_q_network_explains_a_discrete_observation():
    gym = pytest.importorskip("gymnasium")
    shape = gym.make("FrozenLake-v1").observation_space.shape
    assert shape == ()  # Discrete(16): each observation is one integer
    with pytest.raises(ValueError) as info:
        networks.build_q_network(shape, 4)
    message = str(info.value)
    assert "single integer" in message and "Discrete" in message
    assert "One-hot" in message and "lesson 01" in message


def test_all_lists_the_public_networks():
    assert sorted(networks.__all__) == sorted(
        ["QNetwork", "NatureCNN", "DuelingHead", "build_q_network", "conv_output_size"]
    )
    assert all(hasattr(networks, name) for name in networks.__all__)
