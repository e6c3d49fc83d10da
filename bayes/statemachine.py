"""The one abstraction every agent shares: a batched, pure state machine.

An agent, Bayes-optimal or learned, is a :class:`StateMachine`: it holds no hidden state of its
own; the caller keeps the ``(B, d)`` state array and feeds it back. This is what lets the
evaluators run any agent on any batch of episodes, and lets the simulation analysis step a
machine from a state that a regressor produced.

Conventions for agents on the ``meta_envs`` environments:

- ``observation`` is the env's observation batch ``(B, obs_dim)`` (all zeros at reset);
- ``step`` first takes the observation into the state, then returns the output for the next
  decision: action probabilities ``(B, n_actions)`` for bandit policies, predictive
  parameters for predictors;
- the first call of an episode is ``step(initial_state(B), reset_observation)``.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["StateMachine"]


@runtime_checkable
class StateMachine(Protocol):
    """A batched agent: ``initial_state`` and a pure ``step``."""

    def initial_state(self, batch_size: int) -> np.ndarray:
        """The state of ``batch_size`` agents at the start of an episode: ``(B, d)`` float."""
        ...

    def step(self, state: np.ndarray, observation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(next_state, output)`` after ``observation``; never changes ``state`` in place."""
        ...
