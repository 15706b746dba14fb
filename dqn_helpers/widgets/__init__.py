"""ipywidgets panels: sliders over pure functions, so a learner can change a value and watch the effect.

Each panel keeps its widgets as attributes and exposes ``run()`` (what the button does), so tests can set
``panel.some_slider.value = ...`` and call ``panel.run()`` without a browser. The panels share one base
(``_base.Panel``: status line, a run that never raises into the notebook, figure rendering); each lesson
owns one module, named for the lesson's idea. Importing this package builds no widget.
"""

from dqn_helpers.widgets._base import Panel, PanelError
from dqn_helpers.widgets.double import DoubleEstimatePanel
from dqn_helpers.widgets.dueling import DuelingPanel
from dqn_helpers.widgets.hyperparameters import HyperparameterPanel
from dqn_helpers.widgets.prioritized import CliffwalkPanel
from dqn_helpers.widgets.qnetworks import GeneralisationPanel
from dqn_helpers.widgets.replay import ReplayPanel
from dqn_helpers.widgets.tabular import TabularQPanel
from dqn_helpers.widgets.target import TargetUpdatePanel

__all__ = [
    "Panel",
    "PanelError",
    "TabularQPanel",  # lesson 01
    "GeneralisationPanel",  # lesson 02
    "ReplayPanel",  # lesson 03
    "TargetUpdatePanel",  # lesson 04
    "HyperparameterPanel",  # lesson 05
    "DoubleEstimatePanel",  # lesson 07
    "DuelingPanel",  # lesson 08
    "CliffwalkPanel",  # lesson 09
]
