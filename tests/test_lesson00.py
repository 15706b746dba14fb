"""Lesson 00 (setup check): its code runs outside a browser, reports success, and its sliders redraw."""

from __future__ import annotations

import os

import matplotlib
import numpy as np
import pytest
from nbutils import load  # tests/ is on sys.path under pytest

from dqn_helpers.colab import INSTALL_CELL

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@pytest.fixture(scope="module")
def lesson():
    """Run every code cell of the notebook (fast mode, no install cell) in one namespace."""
    nb = load("00_setup")
    sources = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    assert sources[0] == INSTALL_CELL
    old = os.environ.get("DQN_FAST")
    os.environ["DQN_FAST"] = "1"
    namespace: dict = {}
    try:
        for i, src in enumerate(sources[1:], start=1):
            exec(compile(src, f"<00_setup cell {i}>", "exec"), namespace)
    finally:
        if old is None:
            os.environ.pop("DQN_FAST", None)
        else:
            os.environ["DQN_FAST"] = old
        plt.close("all")
    return namespace


def test_setup_cell_is_in_fast_mode_and_reports_all_green(lesson):
    assert lesson["FAST"] is True
    assert lesson["config"].pong_steps == 40
    assert all(lesson["report"].values()), lesson["report"]
    assert len(lesson["frames"]) == 41


def test_pong_slider_redraws_the_chosen_step(lesson):
    plt.close("all")
    lesson["step_slider"].value = 7  # interact calls show_pong_frame(step=7)
    fig = plt.gcf()
    shown = fig.axes[0].images[0].get_array()
    assert "after 7 random steps" in fig.axes[0].get_title()
    np.testing.assert_array_equal(np.asarray(shown), lesson["frames"][7])
    plt.close("all")


def test_lake_slider_draws_a_map_of_the_chosen_size(lesson):
    plt.close("all")
    lesson["size_slider"].value = 6
    fig = plt.gcf()
    assert fig.axes[0].get_title() == "6x6 lake: 36 states"
    assert fig.axes[0].images[0].get_array().shape[:2] == (6 * 64, 6 * 64)  # 64 px per tile
    plt.close("all")
