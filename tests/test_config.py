"""DQNConfig: validation messages, dict round trips, presets."""

from __future__ import annotations

import dataclasses
import json

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
def test_bad_values_say_what_and_what_is_allowed(field: str, value: object, fragments: list[str]) -> None:
    with pytest.raises(ValueError) as info:
        config.DQNConfig(**{field: value})
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} missing from: {message}"


@pytest.mark.parametrize(
    ("field", "value"),
    [("total_steps", 1.5), ("batch_size", "64"), ("double", 1), ("gamma", "0.99"), ("seed", True)],
)
def test_wrong_types_raise_type_error(field: str, value: object) -> None:
    with pytest.raises(TypeError, match=field):
        config.DQNConfig(**{field: value})


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


def test_every_field_has_a_comment() -> None:
    import inspect

    source = inspect.getsource(config.DQNConfig)
    for f in dataclasses.fields(config.DQNConfig):
        line = next(ln for ln in source.splitlines() if ln.strip().startswith(f"{f.name}:"))
        assert "#" in line, f"field {f.name} has no comment"


def test_presets_and_overrides() -> None:
    assert set(config.PRESETS) >= {"lesson", "cartpole", "pong"}
    lesson = config.preset("lesson")
    # The seed lesson's CartPole values.
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
