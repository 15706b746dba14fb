"""Fixtures shared by the test modules. Keep each one small, documented and cheap; add new ones below.

- ``run_checker``: call an exercise checker and get back what it returned and the report it printed.
- ``one_torch_thread``: run a module's tests on one torch thread (tiny networks are fastest there, and
  CI's few cores are not fought over); a module opts in with
  ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``.
- ``global_rng_state``: take comparable snapshots of python's, NumPy's and torch's global RNG states;
  the states are restored when the test ends, so a test that draws from them leaks nothing.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest


@pytest.fixture
def run_checker(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[Any, str]]:
    """``run_checker(checker, *args)`` calls ``checker(*args)`` and returns ``(returned value, printed text)``;
    whatever was printed before the call is dropped."""

    def run(checker: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, str]:
        capsys.readouterr()
        returned = checker(*args, **kwargs)
        return returned, capsys.readouterr().out

    return run


@pytest.fixture
def global_rng_state() -> Iterator[Callable[[], dict[str, Any]]]:
    """``global_rng_state()`` is a snapshot ``{"random": ..., "numpy": ..., "torch": ...}`` of the global RNG
    states that compares with ``==``; all three states are put back as they were when the test ends."""
    import torch  # here, not at the top: most test modules never need it

    saved = random.getstate(), np.random.get_state(), torch.get_rng_state()

    def snapshot() -> dict[str, Any]:
        numpy_state = np.random.get_state()
        return {
            "random": random.getstate(),
            "numpy": (numpy_state[0], numpy_state[1].tobytes(), *numpy_state[2:]),
            "torch": torch.get_rng_state().numpy().tobytes(),
        }

    yield snapshot
    random.setstate(saved[0])
    np.random.set_state(saved[1])
    torch.set_rng_state(saved[2])


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """One torch CPU thread for the whole module; the previous count is restored afterwards."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
