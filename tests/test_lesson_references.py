"""Lesson numbers in prose match the lessons' files (after the reorder that made Pong the capstone).

Checked in the notebooks, the READMEs, the package's docstrings and the tests:
- every link to a lesson file points to a file that exists, and a link's text that says "lesson NN"
  names the number of the file it links to;
- a topic that names its lesson in parentheses ("Double DQN (lesson 07)", "lesson 10 (Pong)") names the
  lesson that teaches it;
- every lesson's title says its own number, and its "Next:" link goes to a later lesson;
- no text says "seed lesson" (a name a learner never meets) or "coming soon" (every lesson exists).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
LESSON_FILES = {p.name for p in NOTEBOOKS}

# which lessons may be named beside a topic (the one that teaches it; Pong frames first appear in 06)
TOPICS = {
    r"Double DQN": {"07"},
    r"dueling": {"08"},
    r"prioritized replay|n-step returns": {"09"},
    r"Pong": {"06", "10"},
    r"failure(-mode)? gallery|failure modes": {"11"},
    r"target networks?": {"04"},
    r"experience replay|replay buffer": {"03"},
    r"Atari preprocessing": {"06"},
}


def _texts() -> list[tuple[str, str]]:
    out = []
    for nb in NOTEBOOKS:
        cells = json.loads(nb.read_text())["cells"]
        out += [(f"{nb.name} cell {i}", "".join(c["source"])) for i, c in enumerate(cells)]
    for pattern in ("README.md", "notebooks/README.md", "dqn_helpers/*.py", "dqn_helpers/**/*.py"):
        out += [(str(p.relative_to(ROOT)), p.read_text()) for p in ROOT.glob(pattern)]
    out += [(str(p.relative_to(ROOT)), p.read_text()) for p in (ROOT / "tests").glob("test_*.py")]
    return [(where, text) for where, text in out if not where.endswith("test_lesson_references.py")]


TEXTS = _texts()


def test_the_lessons_are_numbered_without_gaps() -> None:
    numbers = [p.name[:2] for p in NOTEBOOKS]
    assert numbers == [f"{i:02d}" for i in range(len(numbers))]


def test_links_to_lessons_exist_and_their_text_names_the_right_number() -> None:
    bad = []
    for where, text in TEXTS:
        if where.startswith("tests/"):
            continue  # the tests' own fixtures link to made-up lessons
        for m in re.finditer(r"\[([^\]]*)\]\((?:notebooks/)?(\d\d_[a-z0-9_]+\.ipynb)\)", text):
            label, target = m.group(1), m.group(2)
            if target not in LESSON_FILES:
                bad.append(f"{where}: link to missing {target}")
            said = re.search(r"[Ll]esson (\d\d)|^(\d\d) ", label)
            if said and (said.group(1) or said.group(2)) != target[:2]:
                bad.append(f"{where}: [{label}] links to {target}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("topic", TOPICS)
def test_a_topic_names_the_lesson_that_teaches_it(topic: str) -> None:
    allowed = TOPICS[topic]
    forms = [
        rf"(?:{topic})[^.()\n]{{0,20}}\(\[?[Ll]esson (\d\d)\b",  # "Double DQN (lesson 07)"
        rf"[Ll]esson (\d\d) \((?:{topic})",  # "lesson 10 (Pong)"
        rf"[Ll]esson (\d\d) — (?:{topic})",  # "Lesson 07 — Double DQN"
    ]
    bad = []
    for where, text in TEXTS:
        for form in forms:
            for m in re.finditer(form, text, flags=re.I):
                if m.group(1) not in allowed:
                    bad.append(f"{where}: {m.group(0)!r}")
    assert not bad, f"{topic} is taught in lesson {sorted(allowed)}:\n" + "\n".join(bad)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_title_and_next_link(path: Path) -> None:
    cells = json.loads(path.read_text())["cells"]
    title = "".join(cells[0]["source"]).splitlines()[0]
    assert title.startswith(f"# Lesson {path.name[:2]} "), title
    nexts = re.findall(r"\*\*Next:\*\*[^\n]*?\((\d\d)_", "".join(cells[-1]["source"]))
    nexts += re.findall(r"## Next\s+[^\n]*\n?[^\n]*?\((\d\d)_", "".join(cells[-1]["source"]))
    if path.name[:2] != NOTEBOOKS[-1].name[:2]:
        assert nexts and nexts[0] == f"{int(path.name[:2]) + 1:02d}", (path.name, nexts)


def test_no_seed_lesson_and_nothing_coming_soon() -> None:
    bad = [
        f"{where}: {m.group(0)!r}"
        for where, text in TEXTS
        for m in re.finditer(r"seed lesson|coming soon", text, flags=re.I)
    ]
    assert not bad, "\n".join(bad)
