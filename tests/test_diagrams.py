"""`plotting.show_diagram`: the lessons show the diagrams that images/make_diagrams.py draws."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from IPython.display import Image

from dqn_helpers import plotting

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SHOWN = re.compile(r"plotting\.show_diagram\(\"(\w+)\"")


def shown_by_notebooks() -> dict[str, set[str]]:
    shown: dict[str, set[str]] = {}
    for path in NOTEBOOKS:
        cells = json.loads(path.read_text())["cells"]
        for cell in cells:
            for name in SHOWN.findall("".join(cell["source"])):
                shown.setdefault(name, set()).add(path.name[:2])
    return shown


def test_every_diagram_has_its_file_and_its_drawing_function():
    drawn = (ROOT / "images" / "make_diagrams.py").read_text()
    for name in plotting.DIAGRAMS:
        assert (ROOT / "images" / f"{name}.png").is_file(), (
            f"run `make diagrams`: images/{name}.png is missing"
        )
        assert f"def {name}(" in drawn, f"images/make_diagrams.py does not draw {name}"


def test_every_diagram_is_shown_where_its_description_says():
    shown = shown_by_notebooks()
    assert set(shown) <= set(plotting.DIAGRAMS), "a lesson shows a diagram that does not exist"
    for name, where in plotting.DIAGRAMS.items():
        lessons = set(re.findall(r"\d\d", where.rpartition("(")[2]))  # "(lessons 02, 05)"
        assert lessons and shown.get(name, set()) == lessons, (name, where, shown.get(name))


def test_a_checkout_embeds_the_png(monkeypatch):
    displayed = []
    monkeypatch.setattr("IPython.display.display", displayed.append)
    assert plotting.show_diagram("sum_tree") is None
    (image,) = displayed
    assert isinstance(image, Image) and image.data[:8] == b"\x89PNG\r\n\x1a\n" and image.url is None


def test_without_the_repository_the_browser_loads_it_from_github(monkeypatch, tmp_path):
    displayed = []
    monkeypatch.setattr("IPython.display.display", displayed.append)
    monkeypatch.setattr(
        plotting, "__file__", str(tmp_path / "site-packages" / "dqn_helpers" / "plotting.py")
    )
    plotting.show_diagram("dueling", width=400)
    (image,) = displayed
    assert (
        image.url == plotting.DIAGRAMS_URL + "dueling.png"
        and image.data is None
        and image.width == 400
    )


def test_an_unknown_name_lists_the_diagrams():
    with pytest.raises(ValueError, match="unknown diagram 'dqn'.*dqn_architecture.*sum_tree"):
        plotting.show_diagram("dqn")
