"""Are the notebooks clean as git stores them? (step 1 of `make test`)

A notebook that a learner ran in JupyterLab holds outputs in the working tree; that is fine. What
must hold is that no notebook is *committed* (or staged) with outputs. So for a file git tracks,
this reads the staged copy (``git show :PATH``), which equals the committed one until you stage
a change; `make env` installs nbstripout as a git filter, so staging strips outputs anyway. Outside
a git checkout it reads the files themselves.

    python tests/check_clean_notebooks.py notebooks/*.ipynb     # exit 1 names the dirty cells
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def stored_text(path: Path) -> str:
    """The notebook as git stores it (its staged copy), or the file when git does not track it."""
    try:
        return subprocess.run(
            ["git", "show", f":./{path.name}"],
            cwd=path.parent,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return path.read_text()


def dirty_cells(text: str) -> list[int]:
    """Indices of code cells that carry outputs or an execution count."""
    cells = json.loads(text)["cells"]
    return [
        i
        for i, c in enumerate(cells)
        if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count") is not None)
    ]


def main(paths: list[str]) -> int:
    bad = 0
    for p in map(Path, paths):
        dirty = dirty_cells(stored_text(p))
        if dirty:
            bad += 1
            print(f"{p}: cells {dirty} are stored with outputs; run `make strip` and commit again")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
