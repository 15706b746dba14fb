"""dqn_helpers: the tested, GPU-ready pieces of the DQN course.

Import modules, not names: ``from dqn_helpers import buffers, plotting``.
Importing this package does nothing else (no seeding, no prints, no rcParams).
"""

__version__ = "0.1.0"
