"""Gittins indices of Bernoulli arms with Beta priors, and the policies that pull by them.

- :func:`gittins_index` and :func:`gittins_table`: the discounted index of one posterior
  Beta(a, b), or of every state reached from a prior, within a stated ``tol``, by calibration
  against a known arm; :func:`truncation_depth`: how deep below a state that calibration looks.
  The method and its error bounds: :mod:`bayes.bandits.gittins_calibration`.
- :func:`finite_horizon_gittins_index`: the undiscounted index with a number of pulls left.
- :class:`GittinsPolicy` and :class:`FiniteHorizonGittinsPolicy`: pull an arm of largest index.

Every argument is checked here, with a ``ValueError`` naming it. Results of
:func:`gittins_table` and :func:`gittins_index` are kept in memory and on disk (``.npy``
files under ``$META_BAYES_CACHE``, default ``~/.cache/meta-bayes/gittins``: see
:mod:`bayes.bandits.gittins_cache`), keyed by every argument; files are written atomically and
checked when read (a damaged file is recomputed).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bayes.bandits import gittins_cache
from bayes.bandits.base import BernoulliPolicy, argmax_probabilities
from bayes.bandits.gittins_cache import CACHE_ENV
from bayes.bandits.gittins_calibration import (
    MAX_LATTICE_BYTES,
    Calibration,
    finite_horizon_indices,
    lattice_bytes,
    required_depth,
)
from bayes.validation import check_int, check_number, finite_array, positive_array

__all__ = [
    "CACHE_ENV",
    "MAX_LATTICE_BYTES",
    "MIN_TOL",
    "FiniteHorizonGittinsPolicy",
    "GittinsPolicy",
    "finite_horizon_gittins_index",
    "gittins_index",
    "gittins_table",
    "truncation_depth",
]

#: Smallest accepted ``tol``: below it float64 rounding in the recursion, not the method, limits
#: the accuracy.
MIN_TOL = 1e-11


# --------------------------------------------------------------------------- validation


def _check_scalar(value: Any, name: str, positive: bool = False) -> float:
    array = positive_array(value, name) if positive else finite_array(value, name)
    if array.shape != ():
        raise ValueError(f"{name} must be a single number, got {value!r}")
    return float(array)


def _check_discount(discount: Any) -> float:
    return check_number(discount, "discount", 0.0, 1.0)


def _check_tol(tol: Any) -> float:
    value = check_number(tol, "tol", 0.0, 1.0)
    if value < MIN_TOL:
        raise ValueError(f"tol must be at least {MIN_TOL:g} (float64 rounding limits the accuracy), got {tol!r}")
    return value


def _check_prior(prior: Any) -> tuple[float, float]:
    array = positive_array(prior, "prior")
    if array.shape != (2,):
        raise ValueError(f"prior must be one (alpha, beta) pair, got shape {array.shape}")
    return float(array[0]), float(array[1])


# --------------------------------------------------------------------------- public functions


def truncation_depth(discount: float, tol: float, total: float = 2.0) -> int:
    """The depth ``N`` at which truncation moves the index by at most ``tol / 2``.

    The smallest ``N >= 1`` with ``gamma^N / (4 (1 - gamma) sqrt(total + N + 1)) <= tol / 2``,
    ``total`` being ``a + b`` of the state (see :mod:`bayes.bandits.gittins_calibration`).
    """
    discount = _check_discount(discount)
    tol = _check_tol(tol)
    total = _check_scalar(total, "total", positive=True)
    return required_depth(discount, tol, total)


def _table_check(max_count: int, prior: tuple[float, float]):
    n = np.add.outer(np.arange(max_count + 1), np.arange(max_count + 1))
    inside = n <= max_count
    mean = (prior[0] + np.arange(max_count + 1))[:, None] / (prior[0] + prior[1] + n)

    def check(array: np.ndarray) -> bool:
        if array.shape != (max_count + 1, max_count + 1) or not np.all(np.isnan(array[~inside])):
            return False
        values = array[inside]
        return bool(np.all(np.isfinite(values)) and np.all(values >= mean[inside] - 1e-9) and np.all(values <= 1.0))

    return check


# in-memory caches, keyed by the cache directory too (a new directory starts afresh)
_TABLES: dict[tuple[Any, ...], np.ndarray] = {}
_INDICES: dict[tuple[Any, ...], float] = {}


def _table(discount: float, max_count: int, tol: float, prior: tuple[float, float], cache: bool) -> np.ndarray:
    """The (read-only, shared) table; see :func:`gittins_table`."""
    key = (discount, max_count, tol, *prior)
    memo = (str(gittins_cache.cache_dir()), *key)
    if cache and memo in _TABLES:
        return _TABLES[memo]
    path = gittins_cache.cache_path("table", *key)
    table = gittins_cache.load(path, _table_check(max_count, prior)) if cache else None
    if table is None:
        flat = Calibration(prior[0], prior[1], discount, max_count, tol).run()
        table = np.full((max_count + 1, max_count + 1), np.nan)
        for n in range(max_count + 1):
            s = np.arange(n + 1)
            table[s, n - s] = flat[n * (n + 1) // 2 + s]
        if cache:
            gittins_cache.store(path, table)
    table.setflags(write=False)
    if cache:
        _TABLES[memo] = table
    return table


def gittins_table(
    discount: float, max_count: int, tol: float = 1e-6, prior: Any = (1.0, 1.0), *, cache: bool = True
) -> np.ndarray:
    """Gittins indices of every state ``s + f <= max_count`` reached from Beta(prior).

    Returns ``G`` of shape ``(max_count + 1, max_count + 1)`` with ``G[s, f]`` the index of
    Beta(prior_alpha + s, prior_beta + f) at ``discount``, within ``tol`` of the exact index, for
    ``s + f <= max_count``, and NaN elsewhere. All the states are bracketed together on one
    lattice truncated ``truncation_depth(discount, tol, sum(prior) + max_count)`` layers below
    the table (see :mod:`bayes.bandits.gittins_calibration`).

    With ``cache`` (default) the table is kept in memory and on disk (``.npy`` under
    ``$META_BAYES_CACHE``, default ``~/.cache/meta-bayes/gittins``), keyed by every argument.
    ``ValueError`` for a discount outside (0, 1), ``tol`` outside ``[1e-11, 1)``, a negative or
    non-int ``max_count``, a prior that is not one pair of positive numbers, or a lattice over
    :data:`MAX_LATTICE_BYTES` (naming the smallest ``tol`` that fits).
    """
    discount = _check_discount(discount)
    max_count = check_int(max_count, "max_count", 0)
    tol = _check_tol(tol)
    pair = _check_prior(prior)
    return _table(discount, max_count, tol, pair, bool(cache)).copy()


def gittins_index(alpha: float, beta: float, discount: float, tol: float = 1e-9, *, cache: bool = True) -> float:
    """The Gittins index of an arm with posterior Beta(alpha, beta) at geometric ``discount``.

    Calibration: the rate ``lambda`` of a known arm at which retiring to it for ever and pulling
    once more are worth the same, for the stopping problem solved by backward induction over the
    states ``(alpha + s, beta + f)`` truncated at the depth ``N = truncation_depth(discount,
    tol, alpha + beta)``, the smallest with

    .. math::  \\frac{\\gamma^N}{4 (1 - \\gamma) \\sqrt{\\alpha + \\beta + N + 1}} \\le \\frac{tol}{2}

    (truncation error, itself at most ``gamma^N / (1 - gamma)``), bracketed until the bracket is
    ``2 tol`` wide: the result is within ``tol`` of the exact index. Cached like
    :func:`gittins_table`. ``ValueError`` for non-positive or non-finite ``alpha``/``beta``, a
    discount outside (0, 1), ``tol`` outside ``[1e-11, 1)``, or a lattice over
    :data:`MAX_LATTICE_BYTES` (naming the smallest ``tol`` that fits).
    """
    alpha = _check_scalar(alpha, "alpha", positive=True)
    beta = _check_scalar(beta, "beta", positive=True)
    discount = _check_discount(discount)
    tol = _check_tol(tol)
    key = (alpha, beta, discount, tol)
    memo = (str(gittins_cache.cache_dir()), *key)
    if cache and memo in _INDICES:
        return _INDICES[memo]
    path = gittins_cache.cache_path("index", *key)
    mean = alpha / (alpha + beta)
    stored = (
        gittins_cache.load(path, lambda a: a.shape == (1,) and bool(np.isfinite(a[0])) and mean - 1e-9 <= a[0] <= 1.0)
        if cache
        else None
    )
    if stored is not None:
        value = float(stored[0])
    else:
        value = float(Calibration(alpha, beta, discount, 0, tol).run()[0])
        if cache:
            gittins_cache.store(path, np.array([value]))
    if cache:
        _INDICES[memo] = value
    return value


def finite_horizon_gittins_index(alpha: float, beta: float, remaining: int, tol: float = 1e-9) -> float:
    """The undiscounted finite-horizon Gittins index of Beta(alpha, beta) with ``remaining`` pulls left.

    The rate ``lambda`` at which retiring to a known arm for all ``remaining`` pulls
    (``remaining * lambda``) and pulling once more, then acting optimally with the same option,
    are worth the same:

    .. math::

        V_k(a, b) = \\max\\bigl(k \\lambda,\\ p\\,(1 + V_{k-1}(a + 1, b)) + (1 - p)\\, V_{k-1}(a, b + 1)\\bigr),
        \\qquad V_0 = 0,

    solved exactly over the ``remaining`` layers (no truncation), the root bisected to within
    ``tol``. With ``remaining = 1`` it is the posterior mean; it grows with ``remaining``.
    ``ValueError`` for non-positive or non-finite ``alpha``/``beta``, ``remaining < 1`` or not an
    int, ``tol`` outside ``[1e-11, 1)``, or a lattice over :data:`MAX_LATTICE_BYTES`.
    """
    alpha = _check_scalar(alpha, "alpha", positive=True)
    beta = _check_scalar(beta, "beta", positive=True)
    remaining = check_int(remaining, "remaining", 1)
    tol = _check_tol(tol)
    if lattice_bytes(remaining) > MAX_LATTICE_BYTES:
        raise ValueError(
            f"remaining={remaining} needs a lattice of {lattice_bytes(remaining) / 2**30:.2f} GiB, "
            f"more than {MAX_LATTICE_BYTES / 2**30:.0f} GiB"
        )
    return float(finite_horizon_indices(np.array([alpha]), np.array([beta]), remaining, tol)[0])


# --------------------------------------------------------------------------- policies


def _integer_counts(successes: np.ndarray, failures: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if not (np.all(successes == np.round(successes)) and np.all(failures == np.round(failures))):
        raise ValueError("successes and failures must be integer counts")
    if np.any(successes < 0) or np.any(failures < 0):
        raise ValueError("successes and failures must be non-negative")
    return successes.astype(np.int64), failures.astype(np.int64)


class GittinsPolicy(BernoulliPolicy):
    """Pull an arm of largest Gittins index (discount ``discount``) of its posterior Beta(prior + counts).

    State ``(B, 2K)``: success counts, then failure counts. The indices come from
    :func:`gittins_table` (within ``tol``, cached), one table per distinct arm prior, grown
    (doubled) when a count exceeds it. Ties are broken uniformly.
    """

    def __init__(self, n_arms: int = 2, discount: float = 0.99, prior: Any = (1.0, 1.0), tol: float = 1e-6) -> None:
        super().__init__(n_arms, prior)
        self.discount = _check_discount(discount)
        self.tol = _check_tol(tol)
        self._tables: dict[tuple[float, float], np.ndarray] = {}

    def table(self, prior: tuple[float, float], max_count: int) -> np.ndarray:
        """A table of indices from Beta(prior) covering ``s + f <= max_count`` (at least)."""
        current = self._tables.get(prior)
        if current is None or len(current) <= max_count:
            size = max(max_count, 32 if current is None else 2 * (len(current) - 1))
            current = _table(self.discount, size, self.tol, prior, cache=True)
            self._tables[prior] = current
        return current

    def indices(self, state: np.ndarray) -> np.ndarray:
        """Gittins indices ``(B, K)`` of the arms in ``state``."""
        successes, failures = _integer_counts(*self.counts(state))
        out = np.empty(successes.shape)
        for k in range(self.n_arms):
            prior = (float(self.prior[k, 0]), float(self.prior[k, 1]))
            s, f = successes[:, k], failures[:, k]
            table = self.table(prior, int((s + f).max(initial=0)))
            out[:, k] = table[s, f]
        return out

    def action_probabilities(self, state: np.ndarray) -> np.ndarray:
        return argmax_probabilities(self.indices(state))

    def __repr__(self) -> str:
        return f"GittinsPolicy(n_arms={self.n_arms}, discount={self.discount}, tol={self.tol})"


class FiniteHorizonGittinsPolicy(BernoulliPolicy):
    """Pull an arm of largest finite-horizon Gittins index with ``horizon - t`` pulls left.

    ``t`` is the number of pulls made (the sum of a row's counts). Indices of
    :func:`finite_horizon_gittins_index` (within ``tol``) are computed once per distinct
    (pulls left, arm state, prior), vectorised over the new states of a batch, and kept; a step
    is then a table look-up. After ``horizon`` pulls the output is uniform (the episode is over).
    Ties are broken uniformly.
    """

    def __init__(self, n_arms: int = 2, horizon: int = 20, prior: Any = (1.0, 1.0), tol: float = 1e-9) -> None:
        super().__init__(n_arms, prior)
        self.horizon = check_int(horizon, "horizon", 1)
        self.tol = _check_tol(tol)
        if lattice_bytes(self.horizon) > MAX_LATTICE_BYTES:
            raise ValueError(f"horizon={self.horizon} is too long for the finite-horizon calibration lattice")
        # (prior, pulls left r) -> array [s, f] of indices for s + f <= horizon - r, NaN = not computed yet
        self._tables: dict[tuple[float, float, int], np.ndarray] = {}

    def _table(self, prior: tuple[float, float], left: int) -> np.ndarray:
        key = (*prior, left)
        if key not in self._tables:
            size = self.horizon - left + 1
            self._tables[key] = np.full((size, size), np.nan)
        return self._tables[key]

    def _fill(self, prior: tuple[float, float], left: int, s: np.ndarray, f: np.ndarray) -> None:
        table = self._table(prior, left)
        todo = np.isnan(table[s, f])
        if todo.any():
            pairs = np.unique(np.stack([s[todo], f[todo]], axis=1), axis=0)
            table[pairs[:, 0], pairs[:, 1]] = finite_horizon_indices(
                prior[0] + pairs[:, 0].astype(np.float64), prior[1] + pairs[:, 1].astype(np.float64), left, self.tol
            )

    def indices(self, state: np.ndarray) -> np.ndarray:
        """Finite-horizon indices ``(B, K)``; rows with no pulls left get NaN."""
        successes, failures = _integer_counts(*self.counts(state))
        pulls = (successes + failures).sum(axis=1)
        if np.any(pulls > self.horizon):
            raise ValueError(f"a state has more than horizon={self.horizon} pulls")
        remaining = self.horizon - pulls
        out = np.full(successes.shape, np.nan)
        for left in np.unique(remaining[remaining >= 1]):
            rows = remaining == left
            for k in range(self.n_arms):
                prior = (float(self.prior[k, 0]), float(self.prior[k, 1]))
                s, f = successes[rows, k], failures[rows, k]
                self._fill(prior, int(left), s, f)
                out[rows, k] = self._table(prior, int(left))[s, f]
        return out

    def precompute(self) -> None:
        """Compute every index the policy can need (all pulls-left values and arm states) now."""
        for k in range(self.n_arms):
            prior = (float(self.prior[k, 0]), float(self.prior[k, 1]))
            for left in range(1, self.horizon + 1):
                size = self.horizon - left + 1
                s, f = np.nonzero(np.add.outer(np.arange(size), np.arange(size)) < size)
                self._fill(prior, left, s, f)

    def action_probabilities(self, state: np.ndarray) -> np.ndarray:
        values = self.indices(state)
        probs = np.full(values.shape, 1.0 / self.n_arms)
        live = ~np.isnan(values).any(axis=1)
        if live.any():
            probs[live] = argmax_probabilities(values[live])
        return probs

    def __repr__(self) -> str:
        return f"FiniteHorizonGittinsPolicy(n_arms={self.n_arms}, horizon={self.horizon})"
