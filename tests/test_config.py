"""DQNConfig: validation messages, dict round trips, presets."""

from __future__ import annotations

import dataclasses
import json
import typing

import pytest

from dqn_helpers import config


def test_fast_mode_is_read_at_call_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DQN_FAST", "1")
    assert config.fast_mode() is True
    monkeypatch.setenv("DQN_FAST", "0")
    assert config.fast_mode() is False
    monkeypatch.delenv("DQN_FAST")
    assert config.fast_mode() is False


@pytest.mark.parametrize(
    ("field", "value", "fragments"),
    [
        ("gamma", 1.5, ["gamma", "1.5", "(0, 1]", "0.95"]),
        ("gamma", 0.0, ["gamma", "(0, 1]"]),
        ("total_steps", 0, ["total_steps", "> 0", "got 0"]),
        ("batch_size", -3, ["batch_size", "got -3"]),
        ("learning_rate", 0.0, ["learning_rate", "> 0", "1e-4"]),
        ("learning_rate", -1e-3, ["learning_rate", "-0.001"]),
        ("loss", "l1", ["loss", "huber", "mse", "'l1'"]),
        ("epsilon_start", 1.2, ["epsilon_start", "[0, 1]", "1.2"]),
        ("epsilon_fraction", 0.0, ["epsilon_fraction", "(0, 1]"]),
        ("epsilon_decay", 1.0, ["epsilon_decay", "0.995"]),
        ("tau", 0.0, ["tau", "(0, 1]"]),
        ("n_step", 0, ["n_step", ">= 1"]),
        ("per_alpha", 1.5, ["per_alpha", "[0, 1]"]),
        ("max_grad_norm", 0.0, ["max_grad_norm", "None"]),
        ("target_update", -1, ["target_update", "tau"]),
        ("eval_episodes", 0, ["eval_episodes"]),
        ("device", "tpu", ["device", "'tpu'", "cuda"]),
        ("hidden", (), ["hidden"]),
        ("buffer_size", 10, ["batch_size", "buffer_size"]),
        ("lr_end", 1.0, ["lr_end", "learning_rate"]),
    ],
)
def test_bad_values_say_what_and_what_is_allowed(
    field: str, value: object, fragments: list[str]
) -> None:
    with pytest.raises(ValueError) as info:
        config.DQNConfig(**{field: value})
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} missing from: {message}"


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("total_steps", 1.5, "must be an int"),
        ("batch_size", "64", "must be an int"),
        ("seed", True, "must be an int"),
        ("double", 1, "must be True or False"),
        ("save_buffer", "yes", "must be True or False"),
        ("gamma", "0.99", "must be a number"),
        ("tau", None, "must be a number"),
        ("lr_end", "x", "must be a number or None"),
        ("epsilon_decay", True, "must be a number or None"),
        ("loss", 3, "must be a string"),
        ("env_id", None, "must be a string"),
        ("hidden", (64.0, 64), "must be a tuple of ints such as (128, 128)"),
        ("hidden", 64, "must be a tuple of ints"),
        ("hidden", (True,), "must be a tuple of ints"),
    ],
)
def test_wrong_types_raise_type_error(field: str, value: object, expected: str) -> None:
    """Checked from the annotations; the message names the field, the value got and the type wanted."""
    with pytest.raises(TypeError) as info:
        config.DQNConfig(**{field: value})
    message = str(info.value)
    assert message.startswith(f"{field} {expected}"), message
    assert f"got {value!r} ({type(value).__name__})" in message


@pytest.mark.parametrize("field", ["learning_rate", "lr_end", "gamma"])
def test_non_finite_numbers_are_rejected(field: str) -> None:
    with pytest.raises(ValueError, match=f"{field} must be a finite number"):
        config.DQNConfig(**{field: float("nan")})


def test_none_is_allowed_exactly_where_annotated() -> None:
    hints = typing.get_type_hints(config.DQNConfig)
    for f in dataclasses.fields(config.DQNConfig):
        optional = type(None) in typing.get_args(hints[f.name])
        if optional:
            assert getattr(config.DQNConfig(**{f.name: None}), f.name) is None
        else:
            with pytest.raises(TypeError, match=f"^{f.name} must be"):
                config.DQNConfig(**{f.name: None})


def test_config_is_frozen_and_replace_is_the_way() -> None:
    cfg = config.preset("cartpole")
    with pytest.raises(dataclasses.FrozenInstanceError, match=r"cfg = cfg.replace\(gamma=5\)"):
        cfg.gamma = 5  # type: ignore[misc]
    assert cfg.gamma == 0.99 and cfg.replace(gamma=0.9).gamma == 0.9
    # a preset handed out cannot be changed behind the next caller's back
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.PRESETS["cartpole"].seed = 4  # type: ignore[misc]
    assert config.preset("cartpole") == config.PRESETS["cartpole"]
    assert hash(cfg) == hash(config.preset("cartpole"))  # usable as a dict key


@pytest.mark.parametrize(
    "env_id", ["evilmod:CartPole-v1", "this:CartPole-v1", "../x/CartPole-v1", "a b", "x/y/z-v0"]
)
def test_env_ids_that_gymnasium_would_import_for_are_refused(env_id: str) -> None:
    """gymnasium.make imports the module before a colon; a config (typed or from a file) refuses it."""
    with pytest.raises(ValueError, match="not a plain Gymnasium id"):
        config.DQNConfig(env_id=env_id)
    d = config.DQNConfig().to_dict()
    d["env_id"] = env_id
    with pytest.raises(ValueError, match="not a plain Gymnasium id"):
        config.DQNConfig.from_dict(d)  # as read from config.json or a checkpoint


@pytest.mark.parametrize("seed", [-1, 2**32, 10**30])
def test_seed_outside_numpys_range_is_refused(seed: int) -> None:
    with pytest.raises(ValueError, match=r"seed must be in \[0, 2\*\*32 - 1\]"):
        config.DQNConfig(seed=seed)


def test_is_atari_asks_the_atari_module(monkeypatch: pytest.MonkeyPatch) -> None:
    from dqn_helpers import atari

    asked: list[str] = []
    monkeypatch.setattr(atari, "is_atari_id", lambda env_id: asked.append(env_id) or True)
    assert config.DQNConfig(env_id="CartPole-v1").is_atari is True
    assert asked == ["CartPole-v1"]
    monkeypatch.undo()
    assert config.preset("pong").is_atari and not config.preset("cartpole").is_atari


def test_epsilon_end_above_start_is_rejected() -> None:
    with pytest.raises(ValueError, match="epsilon_end .* must be <= epsilon_start"):
        config.DQNConfig(epsilon_start=0.1, epsilon_end=0.5)


def test_dict_round_trip_through_json() -> None:
    for name in config.PRESETS:
        cfg = config.preset(name)
        again = config.DQNConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
        assert again == cfg
        assert isinstance(again.hidden, tuple)


def test_from_dict_rejects_unknown_keys_listing_allowed_ones() -> None:
    d = config.DQNConfig().to_dict()
    d["learnig_rate"] = 1e-3
    with pytest.raises(ValueError) as info:
        config.DQNConfig.from_dict(d)
    assert "learnig_rate" in str(info.value)
    assert "learning_rate" in str(info.value)  # the allowed list helps spot the typo


def test_presets_and_overrides() -> None:
    assert set(config.PRESETS) >= {"lesson", "cartpole", "pong"}
    lesson = config.preset("lesson")
    # The classic tutorial's CartPole values.
    assert (lesson.learning_rate, lesson.batch_size, lesson.buffer_size) == (1e-3, 64, 10_000)
    assert (lesson.gamma, lesson.epsilon_end, lesson.epsilon_decay) == (0.99, 0.01, 0.995)
    assert lesson.loss == "mse" and lesson.max_grad_norm is None
    pong = config.preset("pong")
    assert pong.is_atari and pong.buffer_size == 100_000 and pong.prioritized and pong.n_step == 3
    cp = config.preset("cartpole", seed=7, double=False)
    assert cp.seed == 7 and cp.double is False
    assert config.PRESETS["cartpole"].seed == 0  # the preset itself is untouched
    with pytest.raises(ValueError, match="Available presets: lesson, cartpole, pong"):
        config.preset("cartpol")
    with pytest.raises(ValueError, match="unknown DQNConfig field"):
        config.preset("cartpole", gama=0.9)
    with pytest.raises(ValueError, match="gamma"):
        config.preset("cartpole", gamma=2.0)


def test_replace_validates_again() -> None:
    cfg = config.DQNConfig()
    assert cfg.replace(batch_size=32).batch_size == 32
    with pytest.raises(ValueError, match="batch_size"):
        cfg.replace(batch_size=0)


def test_hidden_list_is_normalised_to_tuple() -> None:
    assert config.DQNConfig(hidden=[64, 64]).hidden == (64, 64)  # type: ignore[arg-type]


def test_cartpole_dqn_preset_is_plain_dqn_with_the_50k_budget() -> None:
    """Lesson 05 trains the algorithm it teaches: no extension switched on."""
    cfg = config.preset("cartpole-dqn")
    assert cfg.env_id == "CartPole-v1" and not cfg.is_atari
    assert cfg.prioritized is False and cfg.n_step == 1
    assert cfg.double is False and cfg.dueling is False
    assert cfg.total_steps == 50_000
    assert (cfg.eval_every, cfg.eval_episodes) == (2_500, 20)
    assert cfg.loss == "huber" and cfg.max_grad_norm == 10.0
