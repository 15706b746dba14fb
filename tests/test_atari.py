"""Tests for dqn_helpers.atari: the lesson 06 Atari pipeline on real ALE Pong."""

from __future__ import annotations

import sys

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.wrappers import AtariPreprocessing

from dqn_helpers import atari


@pytest.fixture(scope="module")
def pong() -> gym.Env:
    env = atari.make_atari_env("ALE/Pong-v5", seed=0)
    yield env
    env.close()


def test_observation_is_a_uint8_stack_of_four_84x84_frames(pong):
    obs, _ = pong.reset()
    assert obs.shape == (4, 84, 84)
    assert obs.dtype == np.uint8
    assert pong.observation_space.shape == (4, 84, 84)
    assert pong.observation_space.dtype == np.uint8
    assert pong.observation_space.contains(obs)
    next_obs, *_ = pong.step(0)
    # The stack rolls: the newest three frames of obs are the oldest three of next_obs.
    np.testing.assert_array_equal(next_obs[:3], obs[1:])


def test_rewards_are_clipped_to_their_sign_and_points_happen(pong):
    pong.reset()
    rewards = []
    for _ in range(400):
        _, reward, terminated, truncated, info = pong.step(pong.action_space.sample())
        rewards.append(reward)
        assert reward == np.sign(info["raw_reward"])
        if terminated or truncated:
            pong.reset()
    assert set(rewards) <= {-1.0, 0.0, 1.0}
    assert -1.0 in rewards, "a random Pong player loses a point within 400 agent steps"


class _FakeAtari(gym.Env):
    """A tiny env with Atari-like action meanings, recording the actions it receives."""

    observation_space = gym.spaces.Box(0, 255, (2,), np.uint8)
    action_space = gym.spaces.Discrete(3)

    def __init__(self, rewards=(2.5, -3.0, 0.0), end_on_first_step=False, meanings=None):
        self.rewards = list(rewards)
        self.end_on_first_step = end_on_first_step
        self.meanings = meanings or ["NOOP", "FIRE", "RIGHT"]
        self.actions: list[int] = []
        self.resets = 0

    def get_action_meanings(self):
        return self.meanings

    def reset(self, *, seed=None, options=None):
        self.resets += 1
        self.t = 0
        return np.zeros(2, np.uint8), {}

    def step(self, action):
        self.actions.append(int(action))
        reward = self.rewards[self.t % len(self.rewards)]
        self.t += 1
        terminated = self.end_on_first_step and self.resets == 1
        return np.full(2, self.t, np.uint8), reward, terminated, False, {}


def test_clip_reward_uses_the_sign_and_keeps_the_raw_reward():
    env = atari.ClipReward(_FakeAtari(rewards=(2.5, -3.0, 0.0, 0.2)))
    env.reset()
    seen = [env.step(0)[1:] for _ in range(4)]
    assert [s[0] for s in seen] == [1.0, -1.0, 0.0, 1.0]
    assert [s[3]["raw_reward"] for s in seen] == [2.5, -3.0, 0.0, 0.2]


def test_fire_reset_presses_fire_once_after_reset():
    inner = _FakeAtari()
    env = atari.FireResetEnv(inner)
    obs, _ = env.reset()
    assert inner.actions == [1]  # FIRE is action 1 in this fake, as in Pong
    assert obs[0] == 1  # the observation after the FIRE step is returned


def test_fire_reset_tolerates_the_episode_ending_during_fire():
    inner = _FakeAtari(end_on_first_step=True)
    env = atari.FireResetEnv(inner)
    env.reset()
    assert inner.resets == 2


def test_fire_reset_needs_a_fire_action():
    with pytest.raises(ValueError, match="FIRE"):
        atari.FireResetEnv(_FakeAtari(meanings=["NOOP", "UP", "DOWN"]))


def test_make_atari_env_presses_fire_on_reset_in_real_pong():
    with_fire = atari.make_atari_env(noop_max=0, fire_reset=True)
    without = atari.make_atari_env(noop_max=0, fire_reset=False)
    # One FIRE step = one agent step = 4 emulator frames.
    assert with_fire.reset(seed=0)[1]["episode_frame_number"] == 4
    assert without.reset(seed=0)[1]["episode_frame_number"] == 0
    assert atari.action_meanings(with_fire)[1] == "FIRE"


def test_games_without_fire_get_no_fire_reset():
    env = atari.make_atari_env("ALE/Freeway-v5")
    assert "FIRE" not in atari.action_meanings(env)
    wrapper = env
    while isinstance(wrapper, gym.Wrapper):
        assert not isinstance(wrapper, atari.FireResetEnv)
        wrapper = wrapper.env


def test_preprocess_frame_matches_atari_preprocessing():
    """Our cv2 RGB→gray→84x84 reference vs gymnasium's AtariPreprocessing (which uses ALE's gray screen).

    Measured with ale-py 0.12.1 / opencv 4.x: identical (max difference 0). We allow 1 gray level for
    rounding differences in other versions.
    """
    atari.require_atari()
    base = gym.make(
        "ALE/Pong-v5", frameskip=1, repeat_action_probability=0.0, render_mode="rgb_array"
    )
    env = AtariPreprocessing(base, frame_skip=1, noop_max=0)
    env.reset(seed=0)
    env.action_space.seed(0)
    worst = 0
    for _ in range(200):
        obs, *_ = env.step(env.action_space.sample())
        ours = atari.preprocess_frame(env.render())
        assert ours.shape == (84, 84) and ours.dtype == np.uint8
        worst = max(worst, int(np.abs(ours.astype(int) - obs.astype(int)).max()))
    assert worst <= 1


def test_frame_skip_max_pool_only_brightens_a_few_pixels():
    env = atari.make_atari_env(render_mode="rgb_array", sticky=0.0, seed=1)
    env.reset()
    for _ in range(100):
        obs, *_ = env.step(env.action_space.sample())
        single = atari.preprocess_frame(env.render())
        # the max over the last two frames is >= the last frame alone, and differs only near moving sprites
        assert (obs[-1].astype(int) >= single.astype(int) - 1).all()
        assert (obs[-1] != single).mean() < 0.01


def test_max_pool_last_two():
    a = np.array([[0, 200], [10, 5]], np.uint8)
    b = np.array([[50, 100], [10, 7]], np.uint8)
    np.testing.assert_array_equal(atari.max_pool_last_two(a, b), [[50, 200], [10, 7]])
    with pytest.raises(ValueError, match="same shape"):
        atari.max_pool_last_two(a, b[:1])


def test_preprocess_frame_input_checks():
    gray = np.full((210, 160), 100, np.uint8)
    np.testing.assert_array_equal(atari.preprocess_frame(gray), np.full((84, 84), 100, np.uint8))
    with pytest.raises(TypeError, match="uint8"):
        atari.preprocess_frame(np.zeros((210, 160, 3), np.float32))
    with pytest.raises(ValueError, match=r"\(height, width, 3\)"):
        atari.preprocess_frame(np.zeros((4, 84, 84, 2), np.uint8))


def test_same_seed_same_episode():
    def trajectory(seed: int) -> np.ndarray:
        env = atari.make_atari_env(seed=seed)
        obs, _ = env.reset()
        frames = [obs]
        for _ in range(60):
            frames.append(env.step(env.action_space.sample())[0])
        return np.stack(frames)

    np.testing.assert_array_equal(trajectory(3), trajectory(3))
    assert not np.array_equal(trajectory(3), trajectory(4))


def test_max_episode_steps_counts_agent_steps():
    env = atari.make_atari_env(max_episode_steps=5, seed=0)
    env.reset()
    flags = [env.step(0)[3] for _ in range(5)]
    assert flags == [False, False, False, False, True]


def test_all_names_what_the_module_defines():
    assert {"FRAME_SIZE", "legacy_atari_hint", "is_atari_id", "make_atari_env"} <= set(
        atari.__all__
    )
    assert all(hasattr(atari, name) for name in atari.__all__)
    assert atari.FRAME_SIZE == 84


def test_is_atari_id_is_the_ale_prefix():
    assert atari.is_atari_id("ALE/Pong-v5")
    assert atari.is_atari_id("ALE/Breakout-v5")
    assert not atari.is_atari_id("PongNoFrameskip-v4")  # legacy ids are refused, not Atari here
    assert not atari.is_atari_id("Pong-v4")
    assert not atari.is_atari_id("CartPole-v1")
    assert not atari.is_atari_id(42)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("env_id", "game"),
    [
        ("PongNoFrameskip-v4", "Pong"),
        ("Pong-v4", "Pong"),
        ("Pong-v0", "Pong"),
        ("BreakoutNoFrameskip-v4", "Breakout"),
        ("SpaceInvadersDeterministic-v4", "SpaceInvaders"),
    ],
)
def test_legacy_atari_ids_get_a_hint_and_make_atari_env_refuses_them(env_id, game):
    hint = atari.legacy_atari_hint(env_id)
    assert hint is not None
    assert "legacy Atari id" in hint and f"'ALE/{game}-v5'" in hint and "'ALE/Pong-v5'" in hint
    assert "sticky=0.0" in hint and "2015" in hint
    with pytest.raises(ValueError) as info:
        atari.make_atari_env(env_id)
    assert str(info.value) == hint


@pytest.mark.parametrize(
    "env_id", ["ALE/Pong-v5", "CartPole-v0", "CartPole-v1", "MountainCar-v0", "Acrobot-v1", "", 42]
)
def test_legacy_atari_hint_leaves_other_ids_alone(env_id):
    assert atari.legacy_atari_hint(env_id) is None


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"env_id": "CartPole-v1"}, "Atari id"),
        ({"sticky": 1.5}, r"sticky .* \[0, 1\], got 1.5"),
        ({"frame_skip": 0}, "frame_skip must be an integer >= 1, got 0"),
        ({"frame_stack": 2.5}, "frame_stack"),
        ({"noop_max": -1}, "noop_max"),
    ],
)
def test_make_atari_env_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        atari.make_atari_env(**kwargs)


def test_require_atari_explains_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ale_py", None)  # makes `import ale_py` raise ImportError
    with pytest.raises(atari.AtariNotAvailableError) as info:
        atari.require_atari()
    message = str(info.value)
    assert 'pip install "ale-py>=0.10"' in message
    assert "ROM" in message
    assert isinstance(info.value, ImportError)
    with pytest.raises(atari.AtariNotAvailableError):
        atari.make_atari_env()
