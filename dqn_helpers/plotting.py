"""Plots for the course: learning curves with seed bands, Q-tables, training dashboards.

Functions take arrays or a ``training.TrainingLog``-like object (anything with ``.episodes`` /
``.evals`` rows) and return a matplotlib Figure. Nothing global is changed on import.
Each lesson owns one section below.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

__all__ = ["plt", "np", "Figure", "Sequence"]

# ---------------------------------------------------------------- shared (several lessons)

# ---------------------------------------------------------------- lesson 01 (tabular Q-learning)

# ---------------------------------------------------------------- lesson 02 (Q-networks)

# ---------------------------------------------------------------- lesson 03 (experience replay)

# ---------------------------------------------------------------- lesson 04 (target networks)

# ---------------------------------------------------------------- lessons 05/07 (training dashboards)

# ---------------------------------------------------------------- lesson 06 (Atari preprocessing)
