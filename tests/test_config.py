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


def test_field_kinds_follow_the_annotations() -> None:
    kinds = config.field_kinds()
    assert list(kinds) == [f.name for f in dataclasses.fields(config.DQNConfig)]
    assert kinds["total_steps"] == "int" and kinds["gamma"] == "float"
    assert kinds["lr_end"] == kinds["max_grad_norm"] == kinds["epsilon_decay"] == "optional_float"
    assert kinds["double"] == kinds["save_buffer"] == "bool"
    assert kinds["env_id"] == kinds["loss"] == kinds["device"] == "str"
    assert kinds["hidden"] == "int_tuple"
    # Every field's default passes its own type check, and None is allowed exactly where annotated.
    for name, kind in kinds.items():
        if kind != "optional_float":
            with pytest.raises(TypeError, match=name):
                config.DQNConfig(**{name: None})


@pytest.mark.parametrize(
    ("field", "text", "value"),
    [
        ("hidden", "64", (64,)),
        ("hidden", "64,", (64,)),
        ("hidden", "64,64", (64, 64)),
        ("hidden", "(64, 64)", (64, 64)),
        ("hidden", "[256]", (256,)),
        ("total_steps", "50_000", 50_000),
        ("total_steps", "1e5", 100_000),
        ("gamma", "0.9", 0.9),
        ("lr_end", "none", None),
        ("lr_end", "None", None),
        ("lr_end", "1e-4", 1e-4),
        ("double", "true", True),
        ("double", "False", False),
        ("env_id", "ALE/Pong-v5", "ALE/Pong-v5"),
    ],
)
def test_parse_field_reads_command_line_text(field: str, text: str, value: object) -> None:
    assert config.parse_field(field, text) == value
    config.DQNConfig(**{field: config.parse_field(field, text)})  # a value of the right type


@pytest.mark.parametrize(
    ("field", "text", "fragments"),
    [
        ("hidden", "abc", ["hidden='abc'", "64, 64,64 or (64, 64)"]),
        ("hidden", "()", ["hidden='()'"]),
        ("hidden", "64,,64", ["hidden='64,,64'"]),
        ("total_steps", "1.5", ["total_steps='1.5'", "an integer"]),
        ("gamma", "none", ["gamma='none'", "a number"]),
        ("double", "2", ["double='2'", "true or false"]),
        ("gama", "0.9", ["unknown DQNConfig field 'gama'", "gamma"]),
    ],
)
def test_parse_field_errors_name_the_field_value_and_form(
    field: str, text: str, fragments: list[str]
) -> None:
    with pytest.raises(ValueError) as info:
        config.parse_field(field, text)
    for fragment in fragments:
        assert fragment in str(info.value)


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


def test_every_field_has_a_comment() -> None:
    """The trailing comments are the fields' documentation (and the train CLI's --help)."""
    helps = config.field_help()
    assert list(helps) == [f.name for f in dataclasses.fields(config.DQNConfig)]
    for name, text in helps.items():
        assert text.strip(), f"field {name} has no comment"
        assert not text.startswith("#")
    assert helps["gamma"] == "discount factor γ"
    assert helps["hidden"] == "MLP hidden sizes (vector observations only)"


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
