"""Checks of arguments, with errors that name the argument and say what was expected.

Shared by every package: ``bayes`` validates its own inputs here, and ``meta_envs`` builds on
these for its constructor arguments. Nothing is coerced silently: strings and booleans are not
numbers, NaN and infinities are refused where a finite number is needed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from numbers import Real
from typing import Any

import numpy as np

__all__ = [
    "FLOAT32_LIMIT",
    "MAX_ARMS",
    "MAX_EPISODES",
    "MAX_HIDDEN_SIZE",
    "MAX_HORIZON",
    "MAX_HYPERPARAMETER",
    "MAX_NUM_ENVS",
    "MAX_OUTCOMES",
    "MAX_OVERFLOW",
    "MAX_SEEDS",
    "MAX_VECTOR_ELEMENTS",
    "MIN_FLOAT32_STD",
    "NORMAL_SPAN",
    "available_cores",
    "check_exponential_prior_fits_float32",
    "check_exponential_tasks_fit_float32",
    "check_horizon",
    "check_int",
    "check_magnitude",
    "check_n_arms",
    "check_normal_fits_float32",
    "check_number",
    "check_rng",
    "exponential_task_range",
    "finite_array",
    "normal_task_range",
    "per_arm_pairs",
    "per_arm_values",
    "positive_array",
]


# ------------------------------------------------------------------------------- limits
# Upper bounds of sizes, checked before anything is allocated; docs/architecture.md lists them.
# Each is far beyond what the study uses and below what would exhaust a laptop by a typo.

#: Arms of a bandit env (the RL² benchmark goes to 50).
MAX_ARMS = 1_000
#: Outcomes (faces) of a categorical env.
MAX_OUTCOMES = 1_000
#: Steps of one episode.
MAX_HORIZON = 1_000_000
#: Episodes a native vector env steps at once.
MAX_NUM_ENVS = 1_048_576
#: Numbers a native vector env holds: ``num_envs`` times (task + statistics + observation) per
#: episode, at most 2^28 (2 GiB of float64).
MAX_VECTOR_ELEMENTS = 2**28
#: Units of a recurrent core or a hidden layer.
MAX_HIDDEN_SIZE = 4_096
#: Episodes of one evaluation or analysis.
MAX_EPISODES = 10_000_000
#: Seeds of one sweep or study.
MAX_SEEDS = 1_000
#: The largest magnitude of a prior's hyperparameter (a concentration, shape, rate, mean or std):
#: sums, products and cubes of such numbers stay finite in float64 (``1e100**3 = 1e300``), so
#: a posterior like ``alpha / (alpha + beta)`` cannot overflow to a silent 0.
MAX_HYPERPARAMETER = 1e100

# Float32 observations: outcomes that an env reports as float32 must stay finite.

#: A quarter of the largest float32: outcomes, actions and their rescaled versions
#: (``high - low``, ``2 * (high - low)``) stay finite.
FLOAT32_LIMIT = float(np.finfo(np.float32).max) / 4
#: Normal outcomes are taken to lie within this many stds of their mean (prior + noise): the
#: probability of leaving is below 1e-500.
NORMAL_SPAN = 50.0
#: The smallest std of normal outcomes observed as float32 (its smallest normal number is 1.2e-38).
MIN_FLOAT32_STD = 1e-30
#: The largest probability, per episode, that an outcome or a statistic leaves float32.
MAX_OVERFLOW = 1e-9


def available_cores() -> int:
    """The CPU cores this process may run on (its affinity where the OS tells it, else the count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def check_int(value: Any, name: str, minimum: int, maximum: int | None = None) -> int:
    """``value`` as an int ``>= minimum`` (and ``<= maximum`` if given); ``ValueError`` naming
    ``name`` otherwise (bools refused)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be at most {maximum:,}, got {value!r}")
    return int(value)


def check_horizon(value: Any) -> int:
    """An episode's number of steps: an int in ``[1, MAX_HORIZON]``."""
    return check_int(value, "horizon", 1, MAX_HORIZON)


def check_n_arms(value: Any) -> int:
    """A bandit's number of arms: an int in ``[1, MAX_ARMS]``."""
    return check_int(value, "n_arms", 1, MAX_ARMS)


def check_magnitude(array: np.ndarray, name: str, high: float = MAX_HYPERPARAMETER) -> np.ndarray:
    """``array`` if every entry's magnitude is at most ``high`` (default
    :data:`MAX_HYPERPARAMETER`); ``ValueError`` naming ``name`` otherwise."""
    if array.size and float(np.max(np.abs(array))) > high:
        raise ValueError(
            f"{name} must have entries of magnitude at most {high:g} (larger ones overflow the posterior's "
            f"arithmetic in float64), got {float(np.max(np.abs(array))):g}"
        )
    return array


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
    check_magnitude(array, name)
    return np.array(array)


def per_arm_values(value: Any, n_arms: int, name: str) -> np.ndarray:
    """A positive number for all arms or one per arm, as a ``(n_arms,)`` array."""
    array = check_magnitude(positive_array(value, name), name)
    if array.shape == ():
        return np.full(n_arms, float(array))
    if array.shape != (n_arms,):
        raise ValueError(f"{name} must be a number or one number per arm (shape ({n_arms},)), got shape {array.shape}")
    return array


# ------------------------------------------------------------- float32 outcomes of the envs


def check_normal_fits_float32(prior_mean: Any, prior_std: Any, noise_std: Any, name: str = "prior") -> None:
    """Normal outcomes (observed as float32) and their Bayes predictive must fit in float32.

    Raises ``ValueError`` naming ``name`` (and ``noise_std``) when ``|mean| + NORMAL_SPAN *
    (prior_std + noise_std)`` exceeds :data:`FLOAT32_LIMIT` or a std is below
    :data:`MIN_FLOAT32_STD`. A task (a known mean) is the case ``prior_std = 0``.
    """
    prior_std, noise_std = np.asarray(prior_std, dtype=np.float64), np.asarray(noise_std, dtype=np.float64)
    smallest = float(np.min(noise_std if not np.any(prior_std) else np.minimum(prior_std, noise_std)))
    if smallest < MIN_FLOAT32_STD:
        raise ValueError(
            f"{name} std and noise_std must be at least {MIN_FLOAT32_STD:g} (float32 observations "
            f"cannot resolve smaller scales), got {smallest:g}"
        )
    reach = np.abs(np.asarray(prior_mean, dtype=np.float64)) + NORMAL_SPAN * (prior_std + noise_std)
    if np.any(reach > FLOAT32_LIMIT):
        raise ValueError(
            f"{name} and noise_std put outcomes beyond what float32 observations hold: |mean| + "
            f"{NORMAL_SPAN:g} * ({'prior std + ' if np.any(prior_std) else ''}noise_std) = "
            f"{float(np.max(reach)):.3g} > {FLOAT32_LIMIT:.3g}"
        )


def check_exponential_prior_fits_float32(shape: float, rate: float, horizon: int, name: str = "prior") -> None:
    """Refuse Gamma priors whose exponential outcomes are too heavy-tailed for float32.

    Marginally an outcome is Lomax(shape, rate): :math:`P(x > y) = (b / (b + y))^a`. The sum of
    ``horizon`` outcomes exceeds ``y`` with probability about ``horizon * P(x > y / horizon)``
    (one big outcome dominates a heavy tail); that must stay below :data:`MAX_OVERFLOW` for
    ``y = FLOAT32_LIMIT``, the bound of the Bayes predictive's scale ``b + sum x``.
    """
    # log1p(limit / (horizon * rate)) in log space: finite for any positive rate, even 5e-324
    log_ratio = float(np.logaddexp(0.0, np.log(FLOAT32_LIMIT) - np.log(horizon) - np.log(rate)))
    log_tail = shape * log_ratio  # -log P(x > limit / horizon)
    needed = np.log(horizon / MAX_OVERFLOW)
    if log_tail < needed:
        min_shape = needed / log_ratio
        probability = float(np.exp(min(needed - log_tail, 700.0)) * MAX_OVERFLOW)
        chance = "with probability near 1" if probability >= 0.5 else f"with probability about {probability:.2g}"
        raise ValueError(
            f"{name} (shape={shape:g}, rate={rate:g}) is too heavy-tailed for float32: within {horizon} step(s) "
            f"the outcomes sum beyond {FLOAT32_LIMIT:.3g} {chance} (at most {MAX_OVERFLOW:g} is allowed); "
            f"use shape >= {min_shape:.3g} at this rate and horizon"
        )


def check_exponential_tasks_fit_float32(rate: Any, horizon: int, name: str = "task") -> None:
    r"""Refuse exponential rates so small that an episode's outcomes leave float32.

    With rate :math:`\lambda`, one of ``horizon`` outcomes exceeds ``y`` with probability at
    most ``horizon * exp(-lambda y)``; with ``y = FLOAT32_LIMIT / horizon`` (so that their sum
    stays below the limit) that must stay below :data:`MAX_OVERFLOW`.
    """
    smallest = float(np.min(rate))
    least = horizon * np.log(horizon / MAX_OVERFLOW) / FLOAT32_LIMIT
    if smallest < least:
        raise ValueError(
            f"{name}: a rate of {smallest:g} gives outcomes beyond what float32 observations hold within "
            f"{horizon} steps; rates must be at least {least:.3g} at this horizon"
        )


def normal_task_range(noise_std: Any) -> Callable[[np.ndarray, str], None]:
    """The check of given normal means (tasks) of noise ``noise_std`` (one, or one per arm):
    ``check(mean, name)`` refuses means whose outcomes leave float32
    (:func:`check_normal_fits_float32` with no prior spread)."""
    noise = np.asarray(noise_std, dtype=np.float64)

    def check(mean: np.ndarray, name: str) -> None:
        check_normal_fits_float32(mean, 0.0, noise, name)

    return check


def exponential_task_range(horizon: int) -> Callable[[np.ndarray, str], None]:
    """The check of given exponential rates (tasks) over ``horizon`` steps:
    ``check(rate, name)`` is :func:`check_exponential_tasks_fit_float32`."""

    def check(rate: np.ndarray, name: str) -> None:
        check_exponential_tasks_fit_float32(rate, horizon, name)

    return check
