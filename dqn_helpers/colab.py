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


def download_checkpoint(name: str, folder: str | Path) -> Path:
    """Download a shipped checkpoint (e.g. ``checkpoints/pong_pretrained.pt``) and its JSON record
    from the repository into ``folder``, and check the file against the SHA-256 the record holds.

    Introduced in lesson 10 (on Colab, where the repository is not cloned). Raises
    ``checkpoints.CheckpointError`` when the download does not match the published file.
    """
    import urllib.request

    from dqn_helpers import checkpoints

    target = Path(folder) / name
    record = target.with_suffix(".json")
    target.parent.mkdir(parents=True, exist_ok=True)
    for remote, local in ((name, target), (str(Path(name).with_suffix(".json")), record)):
        urllib.request.urlretrieve(f"{REPO_URL}/raw/main/{remote}", local)
    expected = json.loads(record.read_text()).get("sha256")
    if not expected:
        raise checkpoints.CheckpointError(f"{record} records no sha256: cannot check {target}.")
    checkpoints.verify_sha256(target, expected)
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
