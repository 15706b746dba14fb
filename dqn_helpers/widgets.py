"""ipywidgets panels: sliders over pure functions, so a learner can change a value and watch the effect.

Each panel keeps its widgets as attributes and exposes ``run()`` (what the button does), so
tests can set ``panel.some_slider.value = ...`` and call ``panel.run()`` without a browser.
Each lesson owns one section below.
"""

from __future__ import annotations

import ipywidgets as widgets

__all__ = ["widgets"]

# ---------------------------------------------------------------- lesson 01 (tabular Q-learning)

# ---------------------------------------------------------------- lesson 04 (target networks)

# ---------------------------------------------------------------- lesson 05 (DQN on CartPole)
