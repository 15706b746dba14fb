"""Where the course lives, and the first cell every notebook starts with.

The repository URL is defined here and nowhere else: every notebook's first code cell is
``INSTALL_CELL`` verbatim (``tests/test_notebooks_meta.py`` checks it), and
``python -m dqn_helpers.colab notebooks/`` rewrites those cells after the URL changes.
Introduced in lesson 00.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO_URL = "https://github.com/dqn-course/dqn-course"
PIP_TARGET = f"git+{REPO_URL}.git"

INSTALL_CELL = f"""\
# Colab or a fresh kernel: install the course package only if it is missing (locally `make lab` did it).
import importlib.util
import subprocess
import sys

if importlib.util.find_spec("dqn_helpers") is None:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "{PIP_TARGET}"], check=True)"""


def colab_url(notebook_name: str, branch: str = "main") -> str:
    """The 'Open in Colab' address of a notebook in ``notebooks/``."""
    path = REPO_URL.removeprefix("https://github.com/")
    return (
        f"https://colab.research.google.com/github/{path}/blob/{branch}/notebooks/{notebook_name}"
    )


#: The shipped checkpoints and their SHA-256, pinned here, in the package: a download is checked
#: against this, not against a record fetched from the same place as the file.
#: (``tests/test_colab_download.py`` holds it equal to the repository's file and JSON record.)
SHIPPED_SHA256 = {
    "checkpoints/pong_pretrained.pt": "36172efe2bee4a4811e419e2f18d2a5254a4a1b531774795107ec7354da95765",
}
RAW_URL = f"{REPO_URL}/raw/main"
_MAX_DOWNLOAD = 256 << 20  # bytes: a shipped agent is a few MB


def shipped_name(name: str) -> str:
    """``name`` if it is a shipped checkpoint (a plain relative path, pinned above); ValueError if not."""
    parts = Path(name).parts
    if Path(name).is_absolute() or ".." in parts or "\\" in name or name not in SHIPPED_SHA256:
        raise ValueError(
            f"{name!r} is not a shipped checkpoint: give one of {sorted(SHIPPED_SHA256)} "
            "(a path inside the repository, without '..')."
        )
    return name


def _fetch(url: str, dest: Path, timeout: float, limit: int) -> None:
    """Stream ``url`` into ``dest`` (at most ``limit`` bytes), giving up after ``timeout`` s of silence."""
    import urllib.request

    with urllib.request.urlopen(url, timeout=timeout) as response, open(dest, "wb") as f:
        total = 0
        while chunk := response.read(1 << 16):
            total += len(chunk)
            if total > limit:
                raise OSError(f"{url} is larger than {limit:,} bytes, far more than a shipped file")
            f.write(chunk)


def download_checkpoint(
    name: str, folder: str | Path, *, timeout: float = 60.0, base_url: str = RAW_URL
) -> Path:
    """Download a shipped checkpoint (e.g. ``checkpoints/pong_pretrained.pt``) and its JSON record
    from the repository into ``folder``; the file is checked against the SHA-256 pinned in
    ``SHIPPED_SHA256`` before it takes its name.

    Introduced in lesson 10 (on Colab, where the repository is not cloned). A server silent for
    ``timeout`` seconds, a file that fails the check or a record that is not JSON raise
    ``checkpoints.CheckpointError`` (or ``OSError`` for the network), and leave nothing behind
    that a later run could load.
    """
    from dqn_helpers import checkpoints

    expected = SHIPPED_SHA256[shipped_name(name)]
    target = Path(folder) / name
    record = target.with_suffix(".json")
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(f".{target.name}.part")
    try:
        for path in (target, record):  # an earlier, unverified file is never kept
            path.unlink(missing_ok=True)
        _fetch(f"{base_url}/{name}", part, timeout, _MAX_DOWNLOAD)
        checkpoints.verify_sha256(part, expected)
        _fetch(f"{base_url}/{Path(name).with_suffix('.json').as_posix()}", record, timeout, 1 << 20)
        try:
            json.loads(record.read_text())
        except (ValueError, UnicodeDecodeError) as exc:
            raise checkpoints.CheckpointError(
                f"the record {record.name} downloaded beside {name} is not valid JSON ({exc}): "
                "the server sent something else (an error page?). Try again later."
            ) from exc
        part.replace(target)
    except BaseException:
        part.unlink(missing_ok=True)
        record.unlink(missing_ok=True)
        raise
    return target


def sync_install_cells(folder: str | Path) -> list[Path]:
    """Rewrite the first code cell of every notebook in ``folder`` to ``INSTALL_CELL``; return those changed."""
    changed = []
    for path in sorted(Path(folder).glob("[0-9][0-9]_*.ipynb")):
        nb = json.loads(path.read_text())
        first = next(c for c in nb["cells"] if c["cell_type"] == "code")
        if "".join(first["source"]) != INSTALL_CELL:
            first["source"] = INSTALL_CELL.splitlines(keepends=True)
            # The layout nbformat (and so nbstripout) writes, to keep diffs to the changed lines.
            path.write_text(json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n")
            changed.append(path)
    return changed


if __name__ == "__main__":  # python -m dqn_helpers.colab notebooks/
    for p in sync_install_cells(sys.argv[1] if len(sys.argv) > 1 else "notebooks"):
        print(f"updated {p}")
