"""The largest value a state can have, r_max / (1 − γ), and how far past it training warns.

Introduced in lesson 05: a Q-value above the bound is impossible, so the agent overestimates or
diverges. ``training`` warns past ``Q_BOUND_FACTOR`` times it, ``diagnostics.diagnose`` and
``plotting.plot_diagnostics`` draw and test against it. A component (it reads two numbers), so
the loop and the teaching modules may both import it.
"""

from __future__ import annotations

import math

__all__ = ["Q_BOUND_FACTOR", "q_value_bound"]

#: Warn when the mean max-Q passes this many times the largest value any state can have,
#: r_max / (1 − γ): far beyond it the Q-values are diverging, even while they stay finite.
Q_BOUND_FACTOR = 10.0


def q_value_bound(reward_max: float, gamma: float) -> float:
    """The largest discounted return possible with rewards of at most ``reward_max``: r_max / (1 − γ).

    Introduced in lesson 05 (a Q-value above it is impossible: the agent overestimates or
    diverges); ``training`` warns past ``Q_BOUND_FACTOR`` times it, and ``diagnostics`` uses it.
    """
    return math.inf if gamma >= 1.0 else reward_max / (1.0 - gamma)
