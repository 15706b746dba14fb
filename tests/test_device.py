"""Tests for dqn_helpers.device: automatic choice, forced choice with clear errors, descriptions."""

from __future__ import annotations

import pytest
import torch

from dqn_helpers import device


def test_pick_device_auto_is_cpu_on_this_machine():
    if torch.cuda.is_available():
        pytest.skip("this test describes the CPU-only CI machine")
    assert device.pick_device() == torch.device("cpu")
    assert device.pick_device("auto") == torch.device("cpu")
    assert device.pick_device("cpu") == torch.device("cpu")
    assert device.pick_device(torch.device("cpu")) == torch.device("cpu")


def test_pick_device_order_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(device, "_mps_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert device.pick_device() == torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert device.pick_device() == torch.device("mps")
    assert device.pick_device("mps") == torch.device("mps")


def test_prefer_cuda_without_cuda_errors_clearly(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(
        RuntimeError, match=r"'cuda' was requested but CUDA is not available.*prefer=None"
    ):
        device.pick_device("cuda")


def test_prefer_mps_without_mps_errors_clearly(monkeypatch):
    monkeypatch.setattr(device, "_mps_available", lambda: False)
    with pytest.raises(RuntimeError, match="Apple MPS is not available"):
        device.pick_device("mps")


@pytest.mark.parametrize(
    ("prefer", "error", "match"),
    [
        ("tpu", ValueError, "unknown device 'tpu'. Allowed"),
        ("meta", ValueError, "unsupported device type 'meta'"),
        (3, TypeError, "prefer must be None, a string or a torch.device"),
    ],
)
def test_pick_device_rejects_unknown_names(prefer, error, match):
    with pytest.raises(error, match=match):
        device.pick_device(prefer)


def test_describe_cpu_sets_expectations():
    text = device.describe_device("cpu")
    assert text.startswith("CPU (")
    assert "lessons 01–05" in text and "pretrained checkpoint" in text and "steps/s" in text
    assert "MPS" in device.describe_device(torch.device("mps"))
