"""Exercise checkers: each prints a clear pass/fail line with a hint, returns a bool, and never raises.

Each lesson owns one module of this package (``tabular`` for lesson 01, ``qnetworks`` for 02, ...). A checker is written straight-line: it calls the learner's code
directly, states what must hold with ``expect(condition, hint)`` (or ``fail(hint)``), and returns its
success message. The ``@checker`` decorator turns that into the printed report and the bool:

- the returned message prints as ``✅ message`` and the checker returns True;
- a failed expectation prints ``❌ Not yet. Hint: hint`` and returns False;
- any other exception (in the learner's code, or raised by what it returned) becomes a ❌ naming the
  exception's type and message, so a mistake never crashes the notebook.

Checkers never seed or consume the learner's global random state: their data come from local generators
(``np.random.default_rng``, ``torch.Generator``), networks are built inside
``torch.random.fork_rng``, and ``@checker`` restores python's, NumPy's and torch's global RNG states
afterwards in case the learner's code drew from them.
"""

from __future__ import annotations

from dqn_helpers.checks._core import checker, expect, fail, use_passing, whose
from dqn_helpers.checks.atari import (
    check_conv_output_size,
    check_nature_cnn,
    check_preprocess_frame,
    check_push_frame,
    check_stacked_state,
)
from dqn_helpers.checks.double import check_double_dqn_target
from dqn_helpers.checks.dqn import check_dqn_loop, check_dqn_loss, check_linear_epsilon
from dqn_helpers.checks.dueling import check_dueling_head
from dqn_helpers.checks.failures import (
    check_collapse_detector,
    check_first_impossible_q,
    check_reinforce_loss,
)
from dqn_helpers.checks.pong import check_loop_streams, check_n_step_return
from dqn_helpers.checks.prioritized import (
    check_importance_weights,
    check_n_step_windows,
    check_priority_update,
    check_sum_tree,
)
from dqn_helpers.checks.qnetworks import (
    check_discretize,
    check_q_network,
    check_q_of_actions,
    check_td_target,
)
from dqn_helpers.checks.replay import check_autocorrelation, check_replay_buffer
from dqn_helpers.checks.tabular import (
    check_epsilon_greedy,
    check_q_learning_update,
    check_value_iteration,
)
from dqn_helpers.checks.target import check_dqn_step, check_hard_update, check_soft_update

__all__ = [
    # writing a checker
    "checker",
    "expect",
    "fail",
    # the learner's code runs: choosing between their function and the solution
    "use_passing",
    "whose",
    # lesson 01 (tabular)
    "check_value_iteration",
    "check_q_learning_update",
    "check_epsilon_greedy",
    # lesson 02 (qnetworks)
    "check_discretize",
    "check_q_of_actions",
    "check_q_network",
    "check_td_target",
    # lesson 03 (replay)
    "check_replay_buffer",
    "check_autocorrelation",
    # lesson 04 (target)
    "check_hard_update",
    "check_soft_update",
    "check_dqn_step",
    # lesson 05 (dqn)
    "check_dqn_loss",
    "check_linear_epsilon",
    "check_dqn_loop",
    # lesson 06 (atari)
    "check_preprocess_frame",
    "check_push_frame",
    "check_conv_output_size",
    "check_nature_cnn",
    "check_stacked_state",
    # lesson 07 (double)
    "check_double_dqn_target",
    # lesson 08 (dueling)
    "check_dueling_head",
    # lesson 09 (prioritized)
    "check_sum_tree",
    "check_n_step_windows",
    "check_importance_weights",
    "check_priority_update",
    # lesson 10 (pong)
    "check_loop_streams",
    "check_n_step_return",
    # lesson 11 (failures)
    "check_first_impossible_q",
    "check_collapse_detector",
    "check_reinforce_loss",
]
