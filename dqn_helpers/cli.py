"""What the command lines (train, evaluate, diagnose) share: one-line errors, the device and folder
checks, the memory check, and a quiet Ctrl-C.

Introduced in lesson 05 with ``python -m dqn_helpers.train``. A bad value is refused before any
environment, network or file is made: the program prints one line, ``PROG: error: ...``, and exits
with status 2.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import sys
import tempfile
import typing
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import tyro
from tyro.constructors import ConstructorRegistry, PrimitiveConstructorSpec, PrimitiveTypeInfo

T = TypeVar("T")

__all__ = [
    "UsageError",
    "check_checkpoint_file",
    "check_device",
    "check_memory",
    "check_writable_folder",
    "fail",
    "interrupts_once",
    "parse",
    "quiet_sdl",
]


class UsageError(ValueError):
    """A value the command line refuses before doing any work (exit status 2, one line)."""


def fail(prog: str, message: str) -> NoReturn:
    """Print ``PROG: error: MESSAGE`` as one line on stderr and exit with status 2."""
    print(f"{prog}: error: {' '.join(str(message).split())}", file=sys.stderr, flush=True)
    raise SystemExit(2)


def check_device(device: str | None, flag: str = "--device") -> None:
    """UsageError unless ``device`` ("auto", "cpu", "cuda", "cuda:N", "mps") exists on this machine."""
    if device is None or device.strip().lower() == "auto":
        return
    from dqn_helpers import device as device_lib

    try:
        device_lib.pick_device(device)
    except (ValueError, RuntimeError, TypeError) as exc:
        message = str(exc).replace("pass prefer=None", "pass --device auto")
        raise UsageError(
            f"{flag} {device}: " + message.replace("Pass prefer=None", "Pass --device auto")
        ) from None


def check_writable_folder(flag: str, path: Path, given: Path | None = None) -> None:
    """UsageError unless a folder can be made at ``path`` (or exists there) and written to.

    ``given`` is the path the user typed when ``path`` is its folder (``--video runs/x.mp4``). The
    nearest existing ancestor must be a folder in which a file can really be created: it is tried
    with a temporary folder that is removed at once, which also catches what permission bits do
    not show (``/proc``, a read-only mount, running as root).
    """
    shown = path if given is None else given
    if given is None and path.exists() and not path.is_dir():
        raise UsageError(f"{flag} {path} is an existing file, not a folder: choose a folder path.")
    ancestor = path
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise UsageError(
            f"{flag} {shown}: {ancestor} is a file, so nothing can be written under it."
        )
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise UsageError(
            f"{flag} {shown}: {ancestor} is not writable; choose a folder you can write to."
        )
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".dqn-write-test-", dir=ancestor))
    except OSError as exc:
        raise UsageError(
            f"{flag} {shown}: nothing can be written in {ancestor} ({exc.strerror or exc}); "
            "choose a folder on a writable disk."
        ) from None


# ---------------------------------------------------------- tyro, with the course's forms
def _int(text: str) -> int:
    """An int from ``50000``, ``50_000`` or ``5e4``."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value.is_integer():
        raise ValueError(f"expects an integer such as 50000 (or 50_000, 5e4), got {text!r}.")
    return int(value)


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"expects a number such as 0.99 or 1e-3, got {text!r}.") from None


def _sizes(text: str) -> tuple[int, ...]:
    """Layer sizes from ``64``, ``64,64``, ``(64, 64)`` or ``[64, 64]``."""
    inner = text.strip()
    if inner[:1] + inner[-1:] in ("()", "[]"):
        inner = inner[1:-1]
    parts = [p.strip() for p in inner.split(",")]
    if parts and parts[-1] == "":
        parts.pop()
    try:
        if not parts:
            raise ValueError
        return tuple(_int(p) for p in parts)
    except ValueError:
        raise ValueError(
            f"expects layer sizes such as 64, 64,64 or (64, 64), got {text!r}."
        ) from None


_REGISTRY = ConstructorRegistry()


def _spec(metavar: str, parse: Any, is_instance: Any) -> PrimitiveConstructorSpec:
    return PrimitiveConstructorSpec(
        nargs=1,
        metavar=metavar,
        instance_from_str=lambda args: parse(args[0]),
        is_instance=is_instance,
        str_from_instance=lambda value: [str(value)],
    )


def _or_none(parse: Any) -> Any:
    return lambda text: None if text.strip().lower() in ("none", "null") else parse(text)


@_REGISTRY.primitive_rule
def _course_forms(info: PrimitiveTypeInfo) -> PrimitiveConstructorSpec | None:
    """The spellings the course's flags accept: 5e4 for an int, none for None, 64,64 for sizes."""
    number = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)  # noqa: E731
    if info.type is int:
        return _spec("N", _int, lambda v: isinstance(v, int) and not isinstance(v, bool))
    if info.type is float:
        return _spec("X", _float, number)
    if info.type == (int | None):
        return _spec("N|none", _or_none(_int), lambda v: v is None or isinstance(v, int))
    if info.type == (float | None):
        return _spec("X|none", _or_none(_float), lambda v: v is None or number(v))
    if info.type_origin is tuple and typing.get_args(info.type) == (int, ...):
        return _spec("SIZES", _sizes, lambda v: isinstance(v, tuple))
    return None


def _one_line(event: Any) -> None:
    """tyro's parse errors as one line (raised as UsageError instead of tyro's box)."""
    argument = getattr(event, "argument", None)
    flags = "/".join(getattr(getattr(argument, "lowered", None), "name_or_flags", ()) or ())
    kind = type(event).__name__
    if kind == "UnrecognizedArgs":
        raise UsageError(f"unrecognized arguments: {' '.join(event.tokens)} (see --help).")
    if kind == "InvalidChoice":
        raise UsageError(
            f"{flags}: invalid choice: {event.value!r} (choose from {', '.join(event.choices)})."
        )
    if kind == "InstantiationFailure":
        message = " ".join(str(event.message).split())
        raise UsageError(f"{flags} {message}" if flags else message)
    if kind == "MissingArgs":
        names = [getattr(a.arg.lowered, "metavar", None) or "?" for a in event.missing_arguments]
        raise UsageError(f"missing {', '.join(map(str, names))} (see --help).")
    if kind == "BadValue":
        raise UsageError(f"{flags} expects a value.")


def _tyro_errors_as_one_line() -> Any:
    """tyro's parse-error hook (a private module of tyro; without it tyro prints its own box)."""
    errors = getattr(tyro, "_errors", None)
    hook = getattr(errors, "on_parse_error", None)
    if hook is None:
        return contextlib.nullcontext()
    return hook(_one_line)


def parse(cls: type[T], argv: Sequence[str], prog: str, default: T | None = None) -> T:
    """``cls`` (a dataclass) from ``argv`` by tyro: flags from its fields, help from their comments.

    Nested dataclasses' flags carry no prefix (``--gamma``, not ``--config.gamma``); ints accept
    ``5e4``, optional numbers ``none``, layer sizes ``64,64``. A bad value raises UsageError (one
    line); ``--help`` prints and exits.
    """
    with _tyro_errors_as_one_line():
        return tyro.cli(
            cls,
            args=list(argv),
            default=default if default is not None else tyro.MISSING_NONPROP,
            prog=prog,
            config=(tyro.conf.OmitArgPrefixes,),
            registry=_REGISTRY,
        )


# ----------------------------------------------------------------------------- checks
def check_checkpoint_file(path: Path) -> None:
    """UsageError when the file at ``path`` is plainly not a checkpoint (not a zip archive).

    ``torch.save`` writes a zip archive; text, JSON or random bytes are named for what they are,
    before the loader reads a byte of them. A missing file is left to the loader's own message.
    """
    if not path.is_file():
        return
    with open(path, "rb") as f:
        head = f.read(512)
    if head.startswith(b"PK\x03\x04"):
        return
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and text.lstrip()[:1] in ("{", "["):
        what = "a JSON or other text file"
    elif text is not None:
        what = "a text file"
    elif head.startswith(b"\x80"):
        what = "a bare pickle (an old PyTorch format this course never writes)"
    else:
        what = "binary data that is no zip archive"
    raise UsageError(
        f"{path} is not a checkpoint: it is {what}, while a checkpoint is the zip archive "
        "torch.save writes (python -m dqn_helpers.train writes checkpoint.pt and best.pt). "
        "Pass a run folder or one of those files."
    )


def total_memory_bytes() -> int | None:
    """This machine's physical memory in bytes, or None where the OS does not say (Windows)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def _gb(n: float) -> str:
    return f"{n / 1e9:,.1f} GB"


def check_memory(needs: dict[str, float], limit: int | None = None) -> None:
    """UsageError when the parts in ``needs`` (what, bytes) add up to more than this machine's memory.

    The message names the biggest part, so the flag to change is plain.
    """
    limit = total_memory_bytes() if limit is None else limit
    if limit is None:
        return
    total = sum(needs.values())
    if total > limit:
        what, biggest = max(needs.items(), key=lambda kv: kv[1])
        raise UsageError(
            f"this run would need about {_gb(total)} of memory, more than this machine's "
            f"{_gb(limit)}; most of it is {what} (about {_gb(biggest)}). Choose a smaller value."
        )


@contextmanager
def interrupts_once() -> Iterator[None]:
    """Inside: the first Ctrl-C raises KeyboardInterrupt, and every later one is ignored.

    So a second press, while the run is being saved or the program is exiting, cannot break it into
    a traceback; the caller prints one line and exits. Forked env workers (``--num-envs``) inherit
    the handler and ignore Ctrl-C to the process group: the main process closes them. Without a press the previous handler comes
    back on the way out (after one, presses stay ignored: the program is ending).
    """
    pressed = []
    owner = os.getpid()

    def first_press(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if os.getpid() != owner:  # a forked env worker: the main process stops it
            return
        pressed.append(signum)
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGINT, first_press)
    except ValueError:  # not the main thread: leave Python's default
        yield
        return
    try:
        yield
    finally:
        if not pressed:
            signal.signal(signal.SIGINT, previous)


def quiet_sdl() -> None:
    """Keep pygame's SDL from printing ``XDG_RUNTIME_DIR is invalid`` when rendering off-screen.

    Classic-control envs render ``rgb_array`` frames with pygame; SDL then opens an audio and a
    video driver it does not need. The dummy drivers (unless the user chose others) stay silent.
    """
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
