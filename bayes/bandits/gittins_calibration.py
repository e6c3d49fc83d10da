"""The calibration that computes Gittins indices of Bernoulli arms with Beta priors.

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

**Tables.** :func:`~bayes.bandits.gittins.gittins_table` brackets every state with
``s + f <= max_count`` together: the states of the table are the top layers of one lattice
from the prior, and one block of rates serves all of them. Note that a bisection cannot share
its backward inductions across states (each state bisects at its own rate, and the value
function depends on the rate); what is shared here is every rate tried, between all the states
whose brackets contain it.

**Finite horizon.** :func:`~bayes.bandits.gittins.finite_horizon_gittins_index` calibrates
the undiscounted problem with ``r`` pulls left: retiring pays ``r lambda``; pulling pays ``p``
and leaves ``r - 1`` pulls; no truncation is needed. With ``r = 1`` the index is the
posterior mean.

:mod:`bayes.bandits.gittins` checks the arguments, caches the results and holds the policies;
the functions here take checked arguments (a discount in (0, 1), ``tol`` in
``[MIN_TOL, 1)``, positive Beta parameters).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "MAX_LATTICE_BYTES",
    "Calibration",
    "finite_horizon_indices",
    "lattice_bytes",
    "required_depth",
]

#: Largest lattice (states times 16 bytes: a value and a slope per state) a calibration may span.
MAX_LATTICE_BYTES = 2 * 1024**3

_LOG_INV_PRUNE = 40.0  # ln(1 / eps): a pruned state's value is off by at most eps = e^-40 < 1e-17
_PRUNE_ERROR = math.exp(-_LOG_INV_PRUNE)
_BLOCK = 256  # retirement rates per backward induction at most
# A block costs about _LAYER_COST per layer (numpy calls) plus, per rate, its band, which a block
# spanning w widens by w * depth^2 / 2 states of _STATE_COST each: blocks of rates spread with
# density rho are cut at the span w = sqrt(2 _LAYER_COST / (_STATE_COST depth rho)) that balances them.
_LAYER_COST = 4e-5
_STATE_COST = 6e-9
_MAX_ROUNDS = 200


# --------------------------------------------------------------------------- truncation


def _gap_bound(total: float) -> float:
    """Bound on ``E(theta - p)^+`` for Beta(a, b) with ``a + b = total``: ``1 / (4 sqrt(total + 1))``."""
    return 0.25 / math.sqrt(total + 1.0)


def _truncation_error(discount: float, depth: int, total: float) -> float:
    """Index error of truncating at ``depth`` below a state with ``a + b = total``."""
    return discount**depth * _gap_bound(total + depth) / (1.0 - discount)


def required_depth(discount: float, tol: float, total: float) -> int:
    """The depth ``N`` at which truncation moves the index by at most ``tol / 2``.

    The smallest ``N >= 1`` with ``gamma^N / (4 (1 - gamma) sqrt(total + N + 1)) <= tol / 2``,
    ``total`` being ``a + b`` of the state (see the module docstring).
    """
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


def lattice_bytes(depth: int) -> int:
    """Size of a lattice of ``depth + 1`` layers (``(depth + 1)(depth + 2) / 2`` states) at 16 bytes a state."""
    return 16 * (depth + 1) * (depth + 2) // 2


def _check_lattice(depth: int, top: int, discount: float, total: float, tol: float, what: str) -> None:
    """``ValueError`` if the truncated lattice (``depth`` layers) exceeds :data:`MAX_LATTICE_BYTES`.

    The lattice is counted at 16 bytes a state (a value and a slope); only a band of two layers is
    held at a time, but the work grows with the lattice. The message names the smallest ``tol``
    whose lattice fits (``total`` is ``a + b`` of the table's deepest states, ``top`` their depth).
    """
    needed = lattice_bytes(depth)
    if needed <= MAX_LATTICE_BYTES:
        return
    largest = int((math.sqrt(1 + 8 * MAX_LATTICE_BYTES / 16) - 3) / 2)
    while lattice_bytes(largest + 1) <= MAX_LATTICE_BYTES:
        largest += 1
    while lattice_bytes(largest) > MAX_LATTICE_BYTES:
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


class Calibration:
    """Brackets ``[lower, upper]`` of the indices of every state ``s + f <= top`` from (a0, b0)."""

    def __init__(self, a0: float, b0: float, gamma: float, top: int, tol: float) -> None:
        self.a0, self.b0, self.gamma, self.top, self.tol = a0, b0, gamma, top, tol
        total = a0 + b0 + top
        self.depth = top + required_depth(gamma, tol, total)
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


# --------------------------------------------------------------------------- finite horizon


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


def finite_horizon_indices(alpha: np.ndarray, beta: np.ndarray, remaining: int, tol: float) -> np.ndarray:
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
