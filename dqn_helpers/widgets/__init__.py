"""ipywidgets panels: sliders over pure functions, so a learner can change a value and watch the effect.

Each panel keeps its widgets as attributes and exposes ``run()`` (what the button does), so tests can set
``panel.some_slider.value = ...`` and call ``panel.run()`` without a browser. The panels share one base
(``_base.Panel``: status line, a run that never raises into the notebook, figure rendering through
``plotting.figure_to_image``); each lesson owns one module, which holds the pure function its panel wraps.
Importing this package builds no widget and starts no computation.
"""

from dqn_helpers.widgets._base import Panel, PanelError
from dqn_helpers.widgets.atari import PreprocessingPanel
from dqn_helpers.widgets.double import DoubleEstimatePanel
from dqn_helpers.widgets.dueling import DuelingPanel
from dqn_helpers.widgets.failures import BreakItPanel
from dqn_helpers.widgets.hyperparameters import HyperparameterPanel
from dqn_helpers.widgets.pong import PongGamePanel, record_game
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
    "PreprocessingPanel",  # lesson 06
    "DoubleEstimatePanel",  # lesson 07
    "DuelingPanel",  # lesson 08
    "CliffwalkPanel",  # lesson 09
    "PongGamePanel",  # lesson 10
    "record_game",  # lesson 10
    "BreakItPanel",  # lesson 11
]
