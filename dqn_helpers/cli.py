"""What the command lines (train, evaluate, diagnose) share: one-line errors, the device and folder
checks, the memory check, and a quiet Ctrl-C.

Introduced in lesson 05 with ``python -m dqn_helpers.train``. A bad value is refused before any
environment, network or file is made: the program prints one line, ``PROG: error: ...``, and exits
with status 2.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

__all__ = [
    "UsageError",
    "check_device",
    "check_memory",
    "check_writable_folder",
    "fail",
    "interrupts_once",
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


def check_writable_folder(flag: str, path: Path) -> None:
    """UsageError unless a folder can be made at ``path`` (or exists there) and written to.

    The nearest existing ancestor must be a folder in which a file can really be created: it is
    tried with a temporary folder that is removed at once, which also catches what permission bits
    do not show (``/proc``, a read-only mount, running as root).
    """
    if path.exists() and not path.is_dir():
        raise UsageError(f"{flag} {path} is an existing file, not a folder: choose a folder path.")
    ancestor = path
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise UsageError(f"{flag} {path}: {ancestor} is a file, so no folder can be made under it.")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise UsageError(
            f"{flag} {path}: {ancestor} is not writable; choose a folder you can write to."
        )
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".dqn-write-test-", dir=ancestor))
    except OSError as exc:
        raise UsageError(
            f"{flag} {path}: nothing can be written in {ancestor} ({exc.strerror or exc}); "
            "choose a folder on a writable disk."
        ) from None


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
    """Inside: the first Ctrl-C raises KeyboardInterrupt, later ones are ignored.

    So a second press while the run is being saved cannot break the save into a traceback; the
    caller prints one line and exits. The previous handler comes back on the way out.
    """

    def first_press(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGINT, first_press)
    except ValueError:  # not the main thread: leave Python's default
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def quiet_sdl() -> None:
    """Keep pygame's SDL from printing ``XDG_RUNTIME_DIR is invalid`` when rendering off-screen.

    Classic-control envs render ``rgb_array`` frames with pygame; SDL then opens an audio and a
    video driver it does not need. The dummy drivers (unless the user chose others) stay silent.
    """
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
