"""Checks of constructor arguments and actions, with errors that name what was wrong.

Every check runs before any work starts: a bad argument raises ``ValueError`` naming the
argument at ``gym.make`` time, and an action outside the action space raises
:class:`InvalidActionError` (a ``ValueError``) that says what was expected. Nothing is
clipped silently.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from bayes.switching import check_hazard
from bayes.validation import (
    FLOAT32_LIMIT,
    MIN_FLOAT32_STD,
    NORMAL_SPAN,
    check_exponential_prior_fits_float32,
    check_exponential_tasks_fit_float32,
    check_horizon,
    check_int,
    check_n_arms,
    check_normal_fits_float32,
    finite_array,
    per_arm_pairs,
    per_arm_values,
)

__all__ = [
    "ACTION_LIMIT",
    "DEFAULT_LOG_PROB_FLOOR",
    "MIN_FLOAT32_STD",
    "NORMAL_SPAN",
    "ActionChecker",
    "InvalidActionError",
    "check_exponential_prior_fits_float32",
    "check_exponential_tasks_fit_float32",
    "check_hazard",
    "check_horizon",
    "check_int",
    "check_log_prob_floor",
    "check_n_arms",
    "check_normal_fits_float32",
    "check_pair",
    "per_arm_pairs",
    "per_arm_values",
]


#: Default lowest reward of one prediction in the prediction envs (a log-probability).
DEFAULT_LOG_PROB_FLOOR = -50.0

#: Bound of action parameters with no natural bound: a quarter of the largest float32, so that
#: wrappers and agents that rescale actions (``high - low``, ``2 * (high - low)``) stay finite.
ACTION_LIMIT = FLOAT32_LIMIT


class InvalidActionError(ValueError):
    """An action outside the environment's action space."""


def check_log_prob_floor(value: Any) -> float:
    """The reward floor of the prediction envs: a finite number ``<= 0``."""
    array = finite_array(value, "log_prob_floor")
    if array.shape != ():
        raise ValueError(f"log_prob_floor must be one number, got {value!r}")
    floor = float(array)
    if floor > 0:
        raise ValueError(f"log_prob_floor must be a finite number <= 0, got {value!r}")
    return floor


def check_pair(value: Any, name: str, labels: tuple[str, str], positive: tuple[bool, bool]) -> tuple[float, float]:
    """A prior given as one pair of numbers, e.g. ``(alpha, beta)``; see :func:`per_arm_pairs`."""
    pair = per_arm_pairs(value, None, name, labels, positive)[0]
    return float(pair[0]), float(pair[1])


def _space_text(space: spaces.Space) -> str:
    if isinstance(space, spaces.Discrete):
        return f"an integer in [{int(space.start)}, {int(space.start + space.n - 1)}]"
    assert isinstance(space, spaces.Box)
    low, high = np.unique(space.low), np.unique(space.high)
    bounds = (
        f"[{low[0]:g}, {high[0]:g}]" if low.size == 1 and high.size == 1 else f"[{space.low}, {space.high}]"
    )
    return f"a real array of shape {space.shape} with entries in {bounds}"


class ActionChecker:
    """Validates actions (or batches of actions) against one action space.

    Calling it returns the actions as an int64 (``Discrete``) or float64 (``Box``) array of
    shape ``space.shape`` (``batch=None``) or ``(batch, *space.shape)``, and raises
    :class:`InvalidActionError` saying what was expected for the wrong shape, a non-numeric or
    non-integer dtype, NaN, or a value out of bounds. The bounds are prepared once, and the
    error text is only built for an error, so the check is cheap on the hot path.
    """

    def __init__(self, space: spaces.Space) -> None:
        if not isinstance(space, (spaces.Discrete, spaces.Box)):
            raise TypeError(f"unsupported action space {space}")
        self.space = space
        self.shape = space.shape
        if isinstance(space, spaces.Discrete):
            self._kinds = "iu"
            self._low, self._high = int(space.start), int(space.start + space.n - 1)
        else:
            self._kinds = "fiu"
            self._low = space.low.astype(np.float64)
            self._high = space.high.astype(np.float64)
            # per-entry bounds of a flat action vector, for the fast check of a batch
            self._entry_bounds = list(zip(self._low.reshape(-1).tolist(), self._high.reshape(-1).tolist(), strict=True))

    def _fail(self, actions: Any, batch: int | None, problem: str) -> InvalidActionError:
        expected = _space_text(self.space)
        if batch is None:
            return InvalidActionError(f"invalid action {actions!r}: {problem}; expected {expected}")
        return InvalidActionError(
            f"invalid batch of {batch} actions: {problem}; expected an array of shape "
            f"{(batch, *self.shape)}, each entry {expected}"
        )

    def _within(self, rows: np.ndarray) -> bool:
        """Every entry of ``rows`` ``(B, D)`` inside its bounds (False for NaN): min and max of
        each column, faster than broadcasting the bounds over a short last axis."""
        return all(
            rows[:, j].min() >= low and rows[:, j].max() <= high for j, (low, high) in enumerate(self._entry_bounds)
        )

    def __call__(self, actions: Any, batch: int | None = None) -> np.ndarray:
        shape = self.shape if batch is None else (batch, *self.shape)
        try:
            array = np.asarray(actions)
        except (TypeError, ValueError):  # ragged input
            raise self._fail(actions, batch, "not an array") from None
        if array.shape != shape:
            raise self._fail(actions, batch, f"got shape {array.shape}")
        if array.dtype.kind not in self._kinds:
            raise self._fail(actions, batch, f"got dtype {array.dtype}")
        if self._kinds == "iu":
            array = array.astype(np.int64, copy=False)
            if array.size == 0 or (array.min() >= self._low and array.max() <= self._high):
                return array
        else:
            array = array.astype(np.float64, copy=False)
            if batch is not None and array.size and self._within(array.reshape(batch, -1)):
                return array
        bad = ~((array >= self._low) & (array <= self._high))  # NaN fails both comparisons
        if not bad.any():
            return array
        if batch is None:
            raise self._fail(actions, batch, "out of bounds")
        rows = np.nonzero(bad.reshape(batch, -1).any(axis=1))[0]
        more = "..." if rows.size > 10 else ""
        problem = f"sub-environments {rows[:10].tolist()}{more} out of bounds (the first got {array[rows[0]]!r})"
        raise self._fail(actions, batch, problem)
