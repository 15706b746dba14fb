"""What every checker shares: the ``@checker`` decorator, ``expect`` and ``fail``, small helpers.

Introduced in lesson 01 (the first checker); the package docstring (``dqn_helpers.checks``) says how a
checker is written.
"""

from __future__ import annotations

import functools
import inspect
import random
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn, ParamSpec, TypeVar

import numpy as np

P = ParamSpec("P")
T = TypeVar("T")


class _Failure(Exception):
    """A failed expectation; ``str(failure)`` is the hint to print."""


def expect(condition: Any, hint: str) -> None:
    """Inside a checker: stop with ``hint`` unless ``condition`` holds."""
    if not condition:
        raise _Failure(hint)


def fail(hint: str) -> NoReturn:
    """Inside a checker: stop with ``hint``."""
    raise _Failure(hint)


def _describe(exc: BaseException) -> str:
    """A one-line hint about an exception raised while checking (usually by the learner's code)."""
    if isinstance(exc, NotImplementedError):
        return (
            "the function still raises NotImplementedError: replace the stub's body with your code."
        )
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at: {frames[-1].line})" if frames and frames[-1].line else ""
    return f"your code raised {type(exc).__name__}: {exc}{where}"


@contextmanager
def _on_error(template: str) -> Iterator[None]:
    """An exception inside the block fails with ``template``, where ``{error}`` describes the exception."""
    try:
        yield
    except _Failure:
        raise
    except Exception as exc:  # noqa: BLE001 - any learner error becomes a hint
        raise _Failure(template.replace("{error}", _describe(exc))) from exc


@contextmanager
def _global_rng_untouched() -> Iterator[None]:
    """Restore python's, NumPy's and (if imported) torch's global RNG states when the block ends."""
    python_state, numpy_state = random.getstate(), np.random.get_state()
    torch = sys.modules.get("torch")
    torch_state = torch.get_rng_state() if torch is not None else None
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
        if torch_state is not None:
            torch.set_rng_state(torch_state)


def _report(ok: bool, message: str) -> bool:
    """Print one pass/fail line (``message`` is the success text or the hint) and return ``ok``."""
    print(f"✅ {message}" if ok else f"❌ Not yet. Hint: {message}")
    return ok


def checker(body: Callable[P, str]) -> Callable[P, bool]:
    """Turn a straight-line check that returns its success message into a checker that prints ✅/❌ and
    returns a bool: a failed ``expect`` and any exception become ❌ with a hint, never an error."""

    @functools.wraps(body)
    def run(*args: P.args, **kwargs: P.kwargs) -> bool:
        with _global_rng_untouched():
            try:
                message = body(*args, **kwargs)
            except _Failure as failure:
                return _report(False, str(failure))
            except Exception as exc:  # noqa: BLE001 - a checker must never crash the notebook
                return _report(False, _describe(exc))
        return _report(True, message)

    run.__signature__ = inspect.signature(body).replace(return_annotation="bool")  # type: ignore[attr-defined]
    run.__annotations__ = {**body.__annotations__, "return": "bool"}
    return run


def _is_number(x: Any) -> bool:
    """Whether ``float(x)`` works (a Python or NumPy number, a one-element array or tensor)."""
    try:
        float(x)
    except (TypeError, ValueError, RuntimeError):
        return False
    return True


def _number(x: Any) -> float:
    """``float(x)``, or NaN if ``x`` is not a number (so comparisons with it fail instead of raising)."""
    return float(x) if _is_number(x) else float("nan")


def _seeded(build: Callable[[], T], seed: int) -> T:
    """``build()`` with torch's RNG seeded inside a fork, so the learner's global RNG is not touched."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def _fixed_linear(weight: Any) -> Any:
    """A bias-free ``nn.Linear`` whose weight is exactly ``weight`` (rows = outputs), built in a fork of torch's RNG."""
    import torch

    weight = torch.as_tensor(weight, dtype=torch.float32)
    net = _seeded(lambda: torch.nn.Linear(weight.shape[1], weight.shape[0], bias=False), seed=0)
    with torch.no_grad():
        net.weight.copy_(weight)
    return net


def _mlp(*sizes: int) -> Any:
    """Linear layers of these sizes with ReLUs between them (build it inside ``_seeded``)."""
    import torch

    layers: list[Any] = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [torch.nn.Linear(n_in, n_out), torch.nn.ReLU()]
    return torch.nn.Sequential(*layers[:-1])


# ------------------------------------------------------- whose function the experiments run
_WHOSE_ATTR = "_dqn_course_whose"


def use_passing(yours: T, solution: T, passed: bool) -> T:
    """The learner's function (or class) when it passed its checker, else the course's solution.

    Called by every exercise's solution cell, so that the experiments after an exercise run the
    learner's own code whenever it is correct, and say so (``whose``). Prints which one is used.
    Introduced in lesson 01.
    """
    chosen, owner = (yours, "yours") if passed else (solution, "the course's solution")
    name = getattr(yours, "__name__", getattr(solution, "__name__", "this function"))
    try:
        setattr(chosen, _WHOSE_ATTR, owner)
    except (AttributeError, TypeError):
        pass  # a builtin or a callable object without a __dict__: whose() then says "unknown"
    if passed:
        print(f"Using your {name}: it passed its checker.")
    else:
        print(
            f"Using the course's solution for {name}: yours has not passed its checker yet "
            "(fix it, rerun its checker cell, then this cell)."
        )
    return chosen


def whose(fn: Any) -> str:
    """ "yours" or "the course's solution": which version ``use_passing`` chose for ``fn``."""
    return str(getattr(fn, _WHOSE_ATTR, "unknown (not chosen by checks.use_passing)"))
