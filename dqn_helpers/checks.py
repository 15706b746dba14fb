"""Exercise checkers: each prints a clear pass/fail with a hint, returns a bool, and never raises.

Each lesson owns one section below. A checker calls the learner's function inside
``_guard`` so that an exception in their code becomes a hint, not a crashed notebook.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

import numpy as np


def report(ok: bool, success: str, hint: str) -> bool:
    """Print one pass/fail line (with a hint on failure) and return ``ok``."""
    print(f"✅ {success}" if ok else f"❌ Not yet. Hint: {hint}")
    return bool(ok)


def _guard(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[bool, Any]:
    """Call the learner's ``fn``; return (True, result) or (False, a one-line hint about the exception)."""
    try:
        return True, fn(*args, **kwargs)
    except NotImplementedError:
        return False, "the function still raises NotImplementedError: replace the stub's body with your code."
    except Exception as exc:  # noqa: BLE001 - any learner error becomes a hint
        line = traceback.extract_tb(exc.__traceback__)[-1].line if exc.__traceback__ else ""
        return False, f"your code raised {type(exc).__name__}: {exc} (at: {line})"


__all__ = ["report", "np"]

# ---------------------------------------------------------------- lesson 01 (tabular Q-learning)

# ---------------------------------------------------------------- lesson 02 (Q-networks)

# ---------------------------------------------------------------- lesson 03 (experience replay)

# ---------------------------------------------------------------- lesson 04 (target networks)

# ---------------------------------------------------------------- lesson 05 (DQN on CartPole)

# ---------------------------------------------------------------- lesson 06 (Atari preprocessing)

# ---------------------------------------------------------------- lesson 07 (Pong)
