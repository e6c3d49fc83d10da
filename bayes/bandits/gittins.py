"""Gittins indices of Bernoulli arms with Beta priors, by calibration against a known arm.

An arm whose success probability has the posterior Beta(a, b) pays 1 with probability
``p = a / (a + b)`` and moves to Beta(a + 1, b) after a success, Beta(a, b + 1) after a
failure. Against a known arm of rate ``lambda`` (discount ``gamma``), the value of the best
stopping rule (pull the unknown arm, or retire to the known arm for ever), in units of
``1 / (1 - gamma)``, satisfies

.. math::

    W(a, b) = \\max\\bigl(\\lambda,\\ C(a, b)\\bigr), \\qquad
    C(a, b) = (1 - \\gamma)\\, p + \\gamma \\bigl[p\\, W(a + 1, b) + (1 - p)\\, W(a, b + 1)\\bigr].

The Gittins index ``g(a, b)`` is the rate at which pulling once more and retiring are worth the
same: the root of ``F(lambda) = C(a, b; lambda) - lambda``. ``F`` is convex in ``lambda`` (a
maximum of affine functions, one per stopping rule) and decreasing (slope
``E[gamma^tau] - 1 <= gamma - 1``, ``tau >= 1`` the retirement time), with
``F(p) >= 0 > F(1)``, so ``p <= g < 1``.

**Truncation.** The recursion runs over the reachable states ``(a + s, b + f)`` down to depth
``N`` (``s + f = N``), where ``W`` is replaced by ``max(lambda, p)``: retire now or never, a
valid stopping rule, so the truncated ``F`` is a lower bound. The exact ``W`` at depth ``N``
lies between that and ``E max(lambda, theta)`` (knowing ``theta``); the gap is at most
``E(theta - p)^+ <= 1 / (4 sqrt(a + b + 1))`` and shrinks by ``gamma`` per layer up, so
``|F_N - F| <= gamma^N / (4 sqrt(a + b + N + 1))``. Since ``|F'| >= 1 - gamma``, the index
of the truncated problem is within

.. math::

    \\frac{\\gamma^N}{4 (1 - \\gamma) \\sqrt{a + b + N + 1}} \\le \\frac{\\gamma^N}{1 - \\gamma}

of the exact index (and below it). ``N`` is the smallest depth making this at most ``tol / 2``.

**Bracketing.** Evaluating the recursion at a retirement rate ``lambda`` gives ``F`` and its
slope ``F'`` (the derivative of the chosen stopping rule's value) for every state at once. Two
rigorous bounds follow from convexity:

- lower: the tangent root ``lambda - F / F'``, which is the ratio (expected discounted reward
  over expected discounted time) of the stopping rule optimal at ``lambda``, so at most the
  exact index, truncated or not;
- upper: the root of the chord between the closest rates left and right of the root, with
  ``F`` raised by the truncation bound above, so that it bounds the exact (untruncated) ``F``.

Rates are tried in vectorised blocks (a block of retirement rates is one backward induction
over arrays ``(states of a layer, rates)``), first spread over the bracket, then at each
state's lower bound (a Newton step: the error squares), with bisection as the fallback. A
state is done when its bracket is at most ``2 tol`` wide; its midpoint is returned, within
``tol`` of the exact index.

**Pruning.** A state whose posterior mean is ``t`` below every rate of a block gains at most
``E(theta - lambda)^+ <= exp(-2 (a + b + 1) t^2)`` by not retiring (Beta(a, b) is
``1 / (4 (a + b + 1))``-sub-Gaussian: Marchal and Arbel, 2017), and one ``t`` above every rate
loses at most as much by never retiring. Outside a band of ``t ~ 4.5 / sqrt(a + b + 1)`` these
states take the value of retiring now or never (valid stopping rules, error below ``1e-17``),
so a layer costs ``O(sqrt(depth))`` states, not ``O(depth)``.

**Tables.** :func:`gittins_table` brackets every state with ``s + f <= max_count`` together:
the states of the table are the top layers of one lattice from the prior, and one block of
rates serves all of them. Note that a bisection cannot share its backward inductions across
states (each state bisects at its own rate, and the value function depends on the rate); what
is shared here is every rate tried, between all the states whose brackets contain it.

**Finite horizon.** :func:`finite_horizon_gittins_index` calibrates the undiscounted problem
with ``r`` pulls left: retiring pays ``r lambda``; pulling pays ``p`` and leaves ``r - 1``
pulls; no truncation is needed. With ``r = 1`` the index is the posterior mean.

Results of :func:`gittins_table` and :func:`gittins_index` are cached on disk (``.npy`` files
under ``$META_BAYES_CACHE``, default ``~/.cache/meta-bayes/gittins``), keyed by every argument;
files are written atomically and checked when read (a damaged file is recomputed).
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from bayes.bandits.base import BernoulliPolicy, argmax_probabilities
from bayes.validation import check_int, check_number, finite_array, positive_array

__all__ = [
    "FiniteHorizonGittinsPolicy",
    "GittinsPolicy",
    "finite_horizon_gittins_index",
    "gittins_index",
    "gittins_table",
    "truncation_depth",
]

#: Largest lattice (states times 16 bytes: a value and a slope per state) a calibration may span.
MAX_LATTICE_BYTES = 2 * 1024**3

#: Smallest accepted ``tol``: below it float64 rounding in the recursion, not the method, limits
#: the accuracy.
MIN_TOL = 1e-11

#: Environment variable naming the cache directory.
CACHE_ENV = "META_BAYES_CACHE"

_CACHE_VERSION = 1
_LOG_INV_PRUNE = 40.0  # ln(1 / eps): a pruned state's value is off by at most eps = e^-40 < 1e-17
_PRUNE_ERROR = math.exp(-_LOG_INV_PRUNE)
_BLOCK = 256  # retirement rates per backward induction at most
# A block costs about _LAYER_COST per layer (numpy calls) plus, per rate, its band, which a block
# spanning w widens by w * depth^2 / 2 states of _STATE_COST each: blocks of rates spread with
# density rho are cut at the span w = sqrt(2 _LAYER_COST / (_STATE_COST depth rho)) that balances them.
_LAYER_COST = 4e-5
_STATE_COST = 6e-9
_MAX_ROUNDS = 200


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


# --------------------------------------------------------------------------- truncation


def _gap_bound(total: float) -> float:
    """Bound on ``E(theta - p)^+`` for Beta(a, b) with ``a + b = total``: ``1 / (4 sqrt(total + 1))``."""
    return 0.25 / math.sqrt(total + 1.0)


def _truncation_error(discount: float, depth: int, total: float) -> float:
    """Index error of truncating at ``depth`` below a state with ``a + b = total``."""
    return discount**depth * _gap_bound(total + depth) / (1.0 - discount)


def truncation_depth(discount: float, tol: float, total: float = 2.0) -> int:
    """The depth ``N`` at which truncation moves the index by at most ``tol / 2``.

    The smallest ``N >= 1`` with ``gamma^N / (4 (1 - gamma) sqrt(total + N + 1)) <= tol / 2``,
    ``total`` being ``a + b`` of the state (see the module docstring).
    """
    discount = _check_discount(discount)
    tol = _check_tol(tol)
    total = _check_scalar(total, "total", positive=True)
    log_g = math.log(discount)
    depth = 1
    for _ in range(4):  # the bound's sqrt factor depends weakly on the depth itself
        needed = math.log(tol * (1.0 - discount) / (2.0 * _gap_bound(total + depth))) / log_g
        depth = max(1, math.ceil(needed))
    while depth > 1 and _truncation_error(discount, depth - 1, total) <= tol / 2:
        depth -= 1
    while _truncation_error(discount, depth, total) > tol / 2:
        depth += 1
    return depth


def _lattice_bytes(depth: int) -> int:
    return 16 * (depth + 1) * (depth + 2) // 2


def _check_lattice(depth: int, top: int, discount: float, total: float, tol: float, what: str) -> None:
    """``ValueError`` if the truncated lattice (``depth`` layers) exceeds :data:`MAX_LATTICE_BYTES`.

    The lattice is counted at 16 bytes a state (a value and a slope); only a band of two layers is
    held at a time, but the work grows with the lattice. The message names the smallest ``tol``
    whose lattice fits (``total`` is ``a + b`` of the table's deepest states, ``top`` their depth).
    """
    needed = _lattice_bytes(depth)
    if needed <= MAX_LATTICE_BYTES:
        return
    largest = int((math.sqrt(1 + 8 * MAX_LATTICE_BYTES / 16) - 3) / 2)
    while _lattice_bytes(largest + 1) <= MAX_LATTICE_BYTES:
        largest += 1
    while _lattice_bytes(largest) > MAX_LATTICE_BYTES:
        largest -= 1
    why = (
        f"{what}: tol={tol:g} at discount {discount:g} needs truncation depth {depth - top}, a lattice of "
        f"{(depth + 1) * (depth + 2) // 2} states ({needed / 2**30:.2f} GiB at 16 bytes a state), more than "
        f"MAX_LATTICE_BYTES = {MAX_LATTICE_BYTES / 2**30:.2f} GiB"
    )
    room = largest - top
    smallest = 2.0 * _truncation_error(discount, room, total) if room >= 1 else math.inf
    if smallest >= 1.0:
        raise ValueError(f"{why}; no tol < 1 fits (the discount is too close to 1, or max_count too large)")
    smallest = float(f"{smallest * 1.001:.3g}")
    raise ValueError(f"{why}; the smallest tol that fits is about {smallest:.3g}")


# --------------------------------------------------------------------------- backward induction


def _bands(lam_min: float, lam_max: float, a0: float, b0: float, depth: int) -> tuple[np.ndarray, np.ndarray]:
    """Per layer, the columns ``[lo, hi)`` (successes) whose value depends on the rates.

    Left of ``lo`` the posterior mean is below ``lam_min - t`` (retire now, error ``< e^-40``),
    right of ``hi`` above ``lam_max + t`` (never retire), ``t = sqrt(40 / (2 (a + b + 1)))``.
    One column of slack on each side absorbs rounding.
    """
    n = np.arange(depth + 1)
    total = a0 + b0 + n
    t = np.sqrt(_LOG_INV_PRUNE / (2.0 * (total + 1.0)))
    lo = np.floor((lam_min - t) * total - a0).astype(np.int64)
    hi = np.ceil((lam_max + t) * total - a0).astype(np.int64) + 1
    lo = np.clip(lo, 0, n + 1)
    hi = np.clip(hi, lo, n + 1)
    return lo, hi


def _sweep(lams: np.ndarray, a0: float, b0: float, gamma: float, depth: int, top: int, first: int, visit) -> None:
    """One backward induction for the sorted rates ``lams`` ``(G,)`` over the lattice from (a0, b0).

    Layers ``depth`` (truncation) up to ``first``; for every layer ``n <= top`` calls
    ``visit(n, c0, c1, F, dF)`` with ``F = C - lambda`` and its slope, each ``(c1 - c0, G)``,
    for the states ``(n, s)``, ``c0 <= s < c1``, of the layer's band.
    """
    g = len(lams)
    lam = lams[None, :]
    glam = gamma * lam
    lo, hi = _bands(float(lams[0]), float(lams[-1]), a0, b0, depth)
    numer = (a0 + np.arange(depth + 2, dtype=np.float64))[:, None]
    # ping-pong buffers of gamma * W and gamma * dW/dlambda, rows = successes s
    values = (np.empty((depth + 2, g)), np.empty((depth + 2, g)))
    slopes = (np.empty((depth + 2, g)), np.empty((depth + 2, g)))
    cont_buf = np.empty((depth + 2, g))
    dcont_buf = np.empty((depth + 2, g))
    stop_buf = np.empty((depth + 2, g), dtype=bool)
    c0, c1 = lo[depth], hi[depth]
    mean = numer[c0:c1] / (a0 + b0 + depth)
    np.maximum(gamma * mean, glam, out=values[depth % 2][c0:c1])
    np.multiply(lam >= mean, gamma, out=slopes[depth % 2][c0:c1])
    one_minus = 1.0 - gamma
    for n in range(depth - 1, first - 1, -1):
        c0, c1 = lo[n], hi[n]
        if c1 <= c0:
            continue
        nxt, dnxt = values[(n + 1) % 2], slopes[(n + 1) % 2]
        n0, n1 = lo[n + 1], hi[n + 1]
        if c0 < n0:  # children left of the next band: retire now
            end = min(n0, c1 + 1)
            nxt[c0:end] = glam
            dnxt[c0:end] = gamma
        if c1 + 1 > n1:  # children right of it: never retire
            start = max(n1, c0)
            nxt[start : c1 + 1] = numer[start : c1 + 1] * (gamma / (a0 + b0 + n + 1))
            dnxt[start : c1 + 1] = 0.0
        k = c1 - c0
        p = numer[c0:c1] / (a0 + b0 + n)
        cont = cont_buf[:k]
        fail = nxt[c0:c1]
        np.subtract(nxt[c0 + 1 : c1 + 1], fail, out=cont)
        cont *= p
        cont += fail
        cont += one_minus * p
        dcont = dcont_buf[:k]
        dfail = dnxt[c0:c1]
        np.subtract(dnxt[c0 + 1 : c1 + 1], dfail, out=dcont)
        dcont *= p
        dcont += dfail
        if n <= top:
            visit(n, c0, c1, cont - lam, dcont - 1.0)
        stop = stop_buf[:k]
        np.less_equal(cont, lam, out=stop)
        out = values[n % 2][c0:c1]
        np.maximum(cont, lam, out=out)
        out *= gamma
        dout = slopes[n % 2][c0:c1]
        np.maximum(dcont, stop, out=dout)  # slope 1 where retiring (dcont <= gamma < 1)
        dout *= gamma


class _Calibration:
    """Brackets ``[lower, upper]`` of the indices of every state ``s + f <= top`` from (a0, b0)."""

    def __init__(self, a0: float, b0: float, gamma: float, top: int, tol: float) -> None:
        self.a0, self.b0, self.gamma, self.top, self.tol = a0, b0, gamma, top, tol
        total = a0 + b0 + top
        self.depth = top + truncation_depth(gamma, tol, total)
        _check_lattice(self.depth, top, gamma, total, tol, "Gittins calibration")
        n = np.repeat(np.arange(top + 1), np.arange(1, top + 2))
        s = np.concatenate([np.arange(k + 1) for k in range(top + 1)])
        self.layer = n
        self.offsets = np.concatenate([[0], np.cumsum(np.arange(1, top + 2))])
        mean = (a0 + s) / (a0 + b0 + n)
        # error of F from truncation at self.depth and pruning, per table layer
        self.slack = gamma ** (self.depth - np.arange(top + 1)) * _gap_bound(a0 + b0 + self.depth) + _PRUNE_ERROR
        self.lower = mean.copy()  # the index is at least the posterior mean
        self.left_rate = np.full(mean.shape, -np.inf)  # closest rate with F + slack > 0, and that value
        self.left_value = np.zeros(mean.shape)
        self.right_rate = np.ones(mean.shape)  # closest rate with F + slack <= 0: F(1) = (1 - gamma)(p - 1)
        self.right_value = (1.0 - gamma) * (mean - 1.0)
        self.tried = np.empty(0)

    def upper(self) -> np.ndarray:
        has_left = np.isfinite(self.left_rate)
        left = np.where(has_left, self.left_rate, self.right_rate)
        denom = np.where(has_left, self.left_value - self.right_value, 1.0)
        chord = left + self.left_value * (self.right_rate - left) / denom
        return np.clip(np.where(has_left, np.minimum(chord, self.right_rate), self.right_rate), self.lower, 1.0)

    def _visitor(self, lams: np.ndarray):
        g = len(lams)

        def visit(n: int, c0: int, c1: int, f: np.ndarray, df: np.ndarray) -> None:
            idx = self.offsets[n] + np.arange(c0, c1)
            tangent = (lams[None, :] - f / df).max(axis=1)
            self.lower[idx] = np.maximum(self.lower[idx], tangent)
            raised = f + self.slack[n]
            positive = raised > 0
            rows = np.arange(c1 - c0)
            has = positive.any(axis=1)
            li = g - 1 - np.argmax(positive[:, ::-1], axis=1)
            better = has & (lams[li] > self.left_rate[idx])
            self.left_rate[idx[better]] = lams[li[better]]
            self.left_value[idx[better]] = raised[rows[better], li[better]]
            has = ~positive.all(axis=1)
            ri = np.argmax(~positive, axis=1)
            better = has & (lams[ri] < self.right_rate[idx])
            self.right_rate[idx[better]] = lams[ri[better]]
            self.right_value[idx[better]] = raised[rows[better], ri[better]]

        return visit

    def evaluate(self, rates: np.ndarray, first: int) -> None:
        """Run the recursion at ``rates`` (sorted), in blocks of nearby rates."""
        density = len(rates) / max(float(rates[-1] - rates[0]), 1e-12)
        span = math.sqrt(2.0 * _LAYER_COST / (_STATE_COST * self.depth * density))
        start = 0
        while start < len(rates):
            stop = start + 1
            while stop < len(rates) and stop - start < _BLOCK and rates[stop] - rates[start] <= span:
                stop += 1
            block = rates[start:stop]
            _sweep(block, self.a0, self.b0, self.gamma, self.depth, self.top, first, self._visitor(block))
            start = stop
        self.tried = np.union1d(self.tried, rates)

    def _new_rates(self, points: np.ndarray) -> np.ndarray:
        """``points`` inside (0, 1), sorted, without near-duplicates of each other or of rates tried."""
        points = np.sort(points[(points > 0.0) & (points < 1.0)])
        if len(points) == 0:
            return points
        gap = self.tol / 8
        keep = np.concatenate([[True], np.diff(points) > gap])
        points = points[keep]
        if len(self.tried):
            pos = np.searchsorted(self.tried, points)
            below = self.tried[np.clip(pos - 1, 0, len(self.tried) - 1)]
            above = self.tried[np.clip(pos, 0, len(self.tried) - 1)]
            points = points[(np.abs(points - below) > gap) & (np.abs(above - points) > gap)]
        return points

    def run(self) -> np.ndarray:
        """Indices of all the table's states (flat, layer by layer), each within ``tol``."""
        target = 2.0 * self.tol
        previous = None
        for round_ in range(_MAX_ROUNDS):
            upper = self.upper()
            width = upper - self.lower
            open_ = width > target
            if not open_.any():
                return 0.5 * (self.lower + upper)
            lower, count = self.lower[open_], int(open_.sum())
            if round_ == 0:  # spread over the whole range, about sqrt(tol) / 4 apart
                lo_, hi_ = float(lower.min()), float(upper[open_].max())
                n_points = math.ceil((hi_ - lo_) / (0.25 * math.sqrt(self.tol)))
                n_points = max(16, min(n_points, count // 4))
                points = np.linspace(lo_, hi_, n_points + 2)[1:-1]
            else:  # Newton steps at the lower bounds; spare rates near them; bisection if stalled
                w = width[open_]
                parts = [lower]
                extra = min(8, _BLOCK // count - 1)
                for j in range(1, extra + 1):
                    parts.append(lower + w * 4.0**-j)
                stalled = previous[open_] < 2.0 * w if previous is not None else np.zeros(count, dtype=bool)
                parts.append((lower + 0.5 * w)[stalled])
                points = np.concatenate(parts)
            previous = width
            rates = self._new_rates(points)
            if len(rates) == 0:  # everything useful was tried: bisect every open bracket
                rates = self._new_rates(lower + 0.5 * width[open_])
                if len(rates) == 0:
                    break
            self.evaluate(rates, first=int(self.layer[open_].min()))
        raise RuntimeError(
            f"Gittins calibration did not reach tol={self.tol:g} (largest bracket {float(width.max()):.3g}); "
            "float64 rounding may limit the accuracy at this discount"
        )


# --------------------------------------------------------------------------- disk cache


def _cache_dir() -> Path:
    configured = os.environ.get(CACHE_ENV)
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "meta-bayes" / "gittins"


def _cache_path(kind: str, *key: float) -> Path:
    text = f"v{_CACHE_VERSION}-{kind}-" + "-".join(repr(float(k)) for k in key)
    digest = hashlib.sha256(text.encode()).hexdigest()[:24]
    return _cache_dir() / f"{kind}-{digest}.npy"


def _cache_load(path: Path, check) -> np.ndarray | None:
    """The array at ``path`` if it exists, loads and passes ``check``; else ``None``."""
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    if not isinstance(array, np.ndarray) or array.dtype != np.float64 or not check(array):
        return None
    return array


def _cache_store(path: Path, array: np.ndarray) -> None:
    """Write atomically (temporary file, then rename); a cache that cannot be written is skipped."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=path.stem, suffix=".tmp", delete=False) as handle:
            tmp = handle.name
            np.save(handle, array, allow_pickle=False)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # a temporary file is private (0600); a cache entry is an ordinary file
        os.replace(tmp, path)
        tmp = None
    except OSError:
        pass
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


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


# --------------------------------------------------------------------------- public functions


# in-memory caches, keyed by the cache directory too (a new directory starts afresh)
_TABLES: dict[tuple[Any, ...], np.ndarray] = {}
_INDICES: dict[tuple[Any, ...], float] = {}


def _table(discount: float, max_count: int, tol: float, prior: tuple[float, float], cache: bool) -> np.ndarray:
    """The (read-only, shared) table; see :func:`gittins_table`."""
    key = (discount, max_count, tol, *prior)
    memo = (str(_cache_dir()), *key)
    if cache and memo in _TABLES:
        return _TABLES[memo]
    path = _cache_path("table", *key)
    table = _cache_load(path, _table_check(max_count, prior)) if cache else None
    if table is None:
        flat = _Calibration(prior[0], prior[1], discount, max_count, tol).run()
        table = np.full((max_count + 1, max_count + 1), np.nan)
        for n in range(max_count + 1):
            s = np.arange(n + 1)
            table[s, n - s] = flat[n * (n + 1) // 2 + s]
        if cache:
            _cache_store(path, table)
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
    the table (see the module docstring).

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
    memo = (str(_cache_dir()), *key)
    if cache and memo in _INDICES:
        return _INDICES[memo]
    path = _cache_path("index", *key)
    mean = alpha / (alpha + beta)
    stored = (
        _cache_load(path, lambda a: a.shape == (1,) and bool(np.isfinite(a[0])) and mean - 1e-9 <= a[0] <= 1.0)
        if cache
        else None
    )
    if stored is not None:
        value = float(stored[0])
    else:
        value = float(_Calibration(alpha, beta, discount, 0, tol).run()[0])
        if cache:
            _cache_store(path, np.array([value]))
    if cache:
        _INDICES[memo] = value
    return value


def _finite_horizon_values(alpha: np.ndarray, beta: np.ndarray, remaining: int, lam: np.ndarray) -> np.ndarray:
    """``F = C - remaining * lambda`` of each row's state at its own rate: ``(B,)``.

    Rows are states ``(alpha, beta)``; layer ``j`` of a row's subtree (``j`` pulls made, ``t``
    successes among them) has ``remaining - j`` pulls left.
    """
    lam = lam[:, None]
    value = np.zeros((len(alpha), remaining + 1))  # after the last pull: nothing left
    for j in range(remaining - 1, -1, -1):
        t = np.arange(j + 1, dtype=np.float64)
        p = (alpha[:, None] + t) / (alpha + beta + j)[:, None]
        fail = value[:, : j + 1]
        cont = fail + p * (1.0 + value[:, 1 : j + 2] - fail)
        if j == 0:
            return cont[:, 0] - remaining * lam[:, 0]
        value = np.maximum(cont, (remaining - j) * lam)
    raise AssertionError("unreachable")


def _finite_horizon_indices(alpha: np.ndarray, beta: np.ndarray, remaining: int, tol: float) -> np.ndarray:
    """Vectorised bisection of the finite-horizon indices of the rows ``(alpha, beta)``."""
    lower = alpha / (alpha + beta)
    if remaining == 1:
        return lower.copy()
    upper = np.ones_like(lower)  # F(1) = p - 1 < 0
    while np.max(upper - lower) > 2.0 * tol:
        mid = 0.5 * (lower + upper)
        above = _finite_horizon_values(alpha, beta, remaining, mid) > 0.0
        lower = np.where(above, mid, lower)
        upper = np.where(above, upper, mid)
    return 0.5 * (lower + upper)


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
    if _lattice_bytes(remaining) > MAX_LATTICE_BYTES:
        raise ValueError(
            f"remaining={remaining} needs a lattice of {_lattice_bytes(remaining) / 2**30:.2f} GiB, "
            f"more than {MAX_LATTICE_BYTES / 2**30:.0f} GiB"
        )
    return float(_finite_horizon_indices(np.array([alpha]), np.array([beta]), remaining, tol)[0])


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
        if _lattice_bytes(self.horizon) > MAX_LATTICE_BYTES:
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
            table[pairs[:, 0], pairs[:, 1]] = _finite_horizon_indices(
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
