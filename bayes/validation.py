"""Checks of arguments, with errors that name the argument and say what was expected.

Shared by every package: ``bayes`` validates its own inputs here, and ``meta_envs`` builds on
these for its constructor arguments. Nothing is coerced silently: strings and booleans are not
numbers, NaN and infinities are refused where a finite number is needed.
"""

from __future__ import annotations

from numbers import Real
from typing import Any

import numpy as np

__all__ = [
    "check_int",
    "check_number",
    "check_rng",
    "finite_array",
    "per_arm_pairs",
    "per_arm_values",
    "positive_array",
]


def check_int(value: Any, name: str, minimum: int) -> int:
    """``value`` as an int ``>= minimum``; ``ValueError`` naming ``name`` otherwise (bools refused)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def check_number(value: Any, name: str, low: float | None = None, high: float | None = None) -> float:
    """``value`` as one finite float, strictly inside ``(low, high)`` where those are given."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (Real, np.floating, np.integer)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    number = float(value)
    if not np.isfinite(number):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if (low is not None and number <= low) or (high is not None and number >= high):
        interval = f"({'-inf' if low is None else f'{low:g}'}, {'inf' if high is None else f'{high:g}'})"
        raise ValueError(f"{name} must lie strictly inside {interval}, got {value!r}")
    return number


def finite_array(value: Any, name: str) -> np.ndarray:
    """``value`` as a non-empty float64 array of finite numbers.

    Raises ``ValueError`` naming ``name`` otherwise: for strings, booleans and other
    non-numeric input too (``"2"`` or ``True`` is not accepted as a number).
    """
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError) as exc:  # ragged nested sequences
        raise ValueError(f"{name} must be numeric, got {value!r}") from exc
    if raw.dtype.kind not in "fiu":
        raise ValueError(f"{name} must be numeric, got {value!r}")
    array = raw.astype(np.float64)
    if array.size == 0:
        raise ValueError(f"{name} must not be empty, got {value!r}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return array


def positive_array(value: Any, name: str) -> np.ndarray:
    """``value`` as a float64 array whose entries are all finite and > 0.

    Raises ``ValueError`` naming ``name`` otherwise (also for non-numeric input).
    """
    array = finite_array(value, name)
    if not np.all(array > 0):
        raise ValueError(f"{name} must be positive, got {value!r}")
    return array


def check_rng(rng: Any) -> np.random.Generator:
    """Return ``rng`` if it is a ``numpy.random.Generator``, else raise ``TypeError``.

    The models never fall back on numpy's global random state.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng must be a numpy.random.Generator (e.g. np.random.default_rng(seed)), got {type(rng).__name__}"
        )
    return rng


def per_arm_pairs(
    value: Any, n_arms: int | None, name: str, labels: tuple[str, str], positive: tuple[bool, bool]
) -> np.ndarray:
    """A prior given as one pair for all arms or one pair per arm, as a ``(n_arms, 2)`` array.

    With ``n_arms=None`` only a single pair is accepted (returned as ``(1, 2)``). ``labels``
    name the two entries in error messages; ``positive[i]`` says whether entry ``i`` must be
    > 0 (otherwise it must only be finite).
    """
    pair_text = f"({labels[0]}, {labels[1]})"
    array = finite_array(value, name)
    if array.shape == (2,):
        array = array[None, :] if n_arms is None else np.broadcast_to(array, (n_arms, 2))
    elif n_arms is None:
        raise ValueError(f"{name} must be one {pair_text} pair (shape (2,)), got shape {array.shape}")
    elif array.shape != (n_arms, 2):
        raise ValueError(
            f"{name} must be one {pair_text} pair (shape (2,)) or one pair per arm "
            f"(shape ({n_arms}, 2)), got shape {array.shape}"
        )
    for i, label in enumerate(labels):
        if positive[i] and not np.all(array[:, i] > 0):
            raise ValueError(f"{name}: {label} must be positive, got {value!r}")
    return np.array(array)


def per_arm_values(value: Any, n_arms: int, name: str) -> np.ndarray:
    """A positive number for all arms or one per arm, as a ``(n_arms,)`` array."""
    array = positive_array(value, name)
    if array.shape == ():
        return np.full(n_arms, float(array))
    if array.shape != (n_arms,):
        raise ValueError(f"{name} must be a number or one number per arm (shape ({n_arms},)), got shape {array.shape}")
    return array
