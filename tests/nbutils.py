"""Helpers for tests that reach into notebooks: find cells by tag and run them in a namespace.

Exercise convention (every lesson): the stub cell is tagged ``stub-<N.k>``, its solution cell
``solution-<N.k>`` (plus ``hide-input``), the setup cell ``parameters``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def load(name: str) -> dict[str, Any]:
    """The notebook ``notebooks/<name>`` as a dict (``name`` may omit ``.ipynb``)."""
    path = NOTEBOOKS / (name if name.endswith(".ipynb") else name + ".ipynb")
    return json.loads(path.read_text())


def cell_source(nb: dict[str, Any], tag: str) -> str:
    """The source of the one code cell carrying ``tag``; fails loudly if there is not exactly one."""
    found = [c for c in nb["cells"] if tag in c.get("metadata", {}).get("tags", [])]
    assert len(found) == 1, f"expected exactly one cell tagged {tag!r}, found {len(found)}"
    return "".join(found[0]["source"])


def run_cells(nb: dict[str, Any], *tags: str, namespace: dict[str, Any] | None = None,
              fast: bool = True) -> dict[str, Any]:
    """Execute the cells with these tags, in order, in one namespace (fast mode by default)."""
    ns: dict[str, Any] = {} if namespace is None else namespace
    old = os.environ.get("DQN_FAST")
    os.environ["DQN_FAST"] = "1" if fast else "0"
    try:
        for tag in tags:
            src = "\n".join(line for line in cell_source(nb, tag).splitlines()
                            if not line.lstrip().startswith(("%", "!")))
            exec(compile(src, f"<{tag}>", "exec"), ns)
    finally:
        if old is None:
            os.environ.pop("DQN_FAST", None)
        else:
            os.environ["DQN_FAST"] = old
    return ns
