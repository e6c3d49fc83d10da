"""The exact finite-horizon Bayes-optimal policy of Bernoulli bandits with Beta priors.

With ``K`` arms, Beta(alpha_k, beta_k) priors and ``T`` pulls, the belief state is the
success and failure counts ``(s_k, f_k)`` of every arm. Its value satisfies the Bellman
recursion (undiscounted, ``t = sum_k s_k + f_k`` pulls made):

.. math::

    V(\\text{state}) = \\max_k Q_k, \\qquad
    Q_k = p_k \\, (1 + V(\\text{state} + e_k^{s})) + (1 - p_k) \\, V(\\text{state} + e_k^{f}),
    \\qquad p_k = \\frac{\\alpha_k + s_k}{\\alpha_k + \\beta_k + s_k + f_k},

with ``V = 0`` once ``t = T``. The value of the Bayes-optimal policy is ``V`` at zero counts.

Two exact solvers, one recursion:

- two arms (:func:`_two_arm_layers`): a layer ``t`` is a list of blocks ``V[n_1][s_1, s_2]``
  (``n_1`` pulls of arm 1, ``n_2 = t - n_1``), computed from layer ``t + 1`` with whole-block
  numpy operations; with equal priors the arms are exchangeable and ``V[n_1] = V[t - n_1].T``,
  so only half of each layer is computed. Only two layers are kept for the value alone.
- any number of arms (:class:`_LayeredTable`): each layer's states are enumerated as keys,
  fixed-width byte strings of the arms' states (with equal priors the multiset of arm states:
  the sorted row, only its first ``min(K, T)`` entries, since at most ``T`` arms are ever
  pulled), values looked up by binary search. Only memory bounds it: 10 arms at 20 pulls
  (1.26M states) solve in seconds, 50 arms at 10 pulls (4,435 states) at once.

The two agree on two arms, and both agree with brute-force expectimax over all histories in
exact fractions (``tests/test_bandit_dp.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from bayes.bandits.base import BernoulliPolicy, argmax_probabilities, check_bandit_prior
from bayes.validation import check_int

__all__ = [
    "DEFAULT_MAX_BYTES",
    "BayesOptimalPolicy",
    "BernoulliBanditDP",
    "bayes_optimal_value",
    "bernoulli_policy_value",
]

#: Memory a DP may use unless told otherwise (2 GiB).
DEFAULT_MAX_BYTES = 2 * 1024**3


# --------------------------------------------------------------------------- two arms


def _two_arm_states(t: int) -> int:
    """Number of two-arm belief states after ``t`` pulls: ``sum_n (n + 1)(t - n + 1)``."""
    return (t + 1) * (t + 2) * (t + 3) // 6


def _two_arm_total(horizon: int) -> int:
    """Two-arm belief states over all layers ``t <= horizon``: ``sum_t C(t + 3, 3) = C(horizon + 4, 4)``."""
    return math.comb(horizon + 4, 4)


def _largest(fits: Callable[[int], bool], upper: int) -> int:
    """The largest ``h`` in ``[0, upper]`` with ``fits(h)`` for a test that holds up to some
    point and fails after it (0 if ``fits(1)`` fails): a bisection, not a walk."""
    low, high = 0, upper  # invariant: fits(low) or low == 0; the answer lies in [low, high]
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return low


def _two_arm_layers(horizon: int, prior: np.ndarray, keep: bool) -> tuple[float, list[list[np.ndarray]] | None]:
    """Backward induction over layers of blocks; returns ``V(0)`` and, if ``keep``, every layer."""
    (a1, b1), (a2, b2) = prior
    symmetric = a1 == a2 and b1 == b2
    counts = np.arange(horizon + 2, dtype=np.float64)
    layer = [np.zeros((n1 + 1, horizon - n1 + 1)) for n1 in range(horizon + 1)]
    kept = [layer] if keep else None
    for t in range(horizon - 1, -1, -1):
        current: list[np.ndarray] = [np.empty(0)] * (t + 1)
        for n1 in range(t // 2 + 1 if symmetric else t + 1):
            n2 = t - n1
            p1 = ((a1 + counts[: n1 + 1]) / (a1 + b1 + n1))[:, None]
            p2 = (a2 + counts[: n2 + 1]) / (a2 + b2 + n2)
            after1 = layer[n1 + 1]  # (n1 + 2, n2 + 1): arm 1 pulled once more
            after2 = layer[n1]  # (n1 + 1, n2 + 2): arm 2 pulled once more
            fail1 = after1[:-1]
            q1 = fail1 + p1 * (1.0 + after1[1:] - fail1)
            fail2 = after2[:, :-1]
            q2 = fail2 + p2 * (1.0 + after2[:, 1:] - fail2)
            current[n1] = np.maximum(q1, q2)
        if symmetric:  # exchangeable arms: V(n1; s1, s2) = V(n2; s2, s1)
            for n1 in range(t // 2 + 1, t + 1):
                current[n1] = current[t - n1].T
        layer = current
        if kept is not None:
            kept.append(layer)
    if kept is not None:
        kept.reverse()
    return float(layer[0][0, 0]), kept


# ------------------------------------------------------------------------ any number of arms


class _LayeredTable:
    """Every belief state of ``K`` arms, layer by layer, with its value.

    An arm state ``(s, f)`` with ``n = s + f`` has index ``n (n + 1) / 2 + s`` (0: never
    pulled). A belief state is the row of its arms' indices. When the priors are equal the arms
    are exchangeable, and a state is the *multiset* of its arm states: the row sorted in
    decreasing order, so states that differ by a permutation of the arms share one key. After
    ``t`` pulls at most ``t`` arms have been pulled, so only the first ``L = min(K, horizon)``
    entries of a sorted row can be non-zero and the key keeps those alone (50 arms at 10 pulls:
    10 digits). A key is the number with those digits in base ``A`` (the count of arm states)
    where that fits in 63 bits, else the row's digits as big-endian unsigned integers viewed as
    one fixed-width byte string (``numpy.void``): byte order is the rows' lexicographic order, so
    ``numpy.unique`` and ``searchsorted`` work on keys of any width, and no key overflows. Only
    memory bounds the table (:meth:`BernoulliBanditDP.table_bytes` counts its states before
    anything is allocated).
    """

    def __init__(self, horizon: int, prior: np.ndarray, merge_permutations: bool = True, solve: bool = True) -> None:
        self.horizon = horizon
        self.prior = prior
        self.n_arms = len(prior)
        self.symmetric = merge_permutations and bool(np.all(prior == prior[0]))
        self.width = min(self.n_arms, horizon) if self.symmetric else self.n_arms  # digits of a key
        n = np.arange(horizon + 1)
        self.base = (horizon + 1) * (horizon + 2) // 2
        self.digit = np.dtype(">u2" if self.base <= 2**16 else ">u4")
        # a key that fits in 63 bits is the number with the row's digits in base A (faster to sort)
        self.int_keys = self.base**self.width < 2**62
        self.powers = self.base ** np.arange(self.width - 1, -1, -1, dtype=np.int64) if self.int_keys else None
        self.key_dtype = np.dtype((np.void, self.width * self.digit.itemsize))
        # arm state index -> successes, failures
        self.arm_s = np.concatenate([np.arange(k + 1) for k in n])
        self.arm_f = np.concatenate([k - np.arange(k + 1) for k in n])
        self.keys: list[np.ndarray] = []
        self.values: list[np.ndarray] = []
        self._enumerate()
        if solve:
            self._solve()

    @staticmethod
    def arm_index(s: np.ndarray, f: np.ndarray) -> np.ndarray:
        n = s + f
        return n * (n + 1) // 2 + s

    def canonical(self, arms: np.ndarray) -> np.ndarray:
        """Keys ``(M,)`` of belief states given as arm indices ``(M, K)``."""
        if self.symmetric:
            arms = -np.sort(-arms, axis=1)[:, : self.width]  # decreasing: the pulled arms first
        if self.powers is not None:
            return arms @ self.powers
        digits = np.ascontiguousarray(arms, dtype=self.digit)
        return digits.view(self.key_dtype).reshape(-1)

    def _decode(self, keys: np.ndarray) -> np.ndarray:
        """Arm indices ``(M, K)`` of keys ``(M,)`` (a sorted row, padded with never-pulled arms)."""
        if self.powers is not None:
            digits = (keys[:, None] // self.powers) % self.base
        else:
            digits = np.ascontiguousarray(keys).view(self.digit).reshape(len(keys), self.width).astype(np.int64)
        if self.width == self.n_arms:
            return digits
        return np.concatenate([digits, np.zeros((len(keys), self.n_arms - self.width), dtype=np.int64)], axis=1)

    def _successor(self, arms: np.ndarray, k: int, success: bool) -> np.ndarray:
        nxt = arms.copy()
        s, f = self.arm_s[arms[:, k]], self.arm_f[arms[:, k]]
        nxt[:, k] = self.arm_index(s + success, f + (not success))
        return nxt

    def _arms_to_try(self, arms: np.ndarray) -> list[int]:
        """The arms whose pull can lead somewhere new: every arm, except that of exchangeable arms
        never pulled (the trailing zeros of a sorted row) one stands for all."""
        if not self.symmetric or self.width == self.n_arms:
            return list(range(self.n_arms))
        return list(range(self.width + 1))

    def _enumerate(self) -> None:
        keys = self.canonical(np.zeros((1, self.n_arms), dtype=np.int64))
        self.keys.append(keys)
        for _ in range(self.horizon):
            arms = self._decode(keys)
            successors = [
                self.canonical(self._successor(arms, k, success))
                for k in self._arms_to_try(arms)
                for success in (True, False)
            ]
            keys = np.unique(np.concatenate(successors))
            self.keys.append(keys)

    def q_values_of_arms(self, arms: np.ndarray, next_values: np.ndarray, next_keys: np.ndarray) -> np.ndarray:
        """``Q_k`` of belief states ``(M, K)`` given the next layer's values: ``(M, K)``."""
        q = np.empty(arms.shape, dtype=np.float64)
        tried = self._arms_to_try(arms)
        for k in tried:
            s, f = self.arm_s[arms[:, k]], self.arm_f[arms[:, k]]
            alpha, beta = self.prior[k]
            p = (alpha + s) / (alpha + beta + s + f)
            win = next_values[np.searchsorted(next_keys, self.canonical(self._successor(arms, k, True)))]
            lose = next_values[np.searchsorted(next_keys, self.canonical(self._successor(arms, k, False)))]
            q[:, k] = lose + p * (1.0 + win - lose)
        if len(tried) < self.n_arms:  # the never-pulled arms beyond the key's width: all like the last tried
            q[:, len(tried):] = q[:, len(tried) - 1 : len(tried)]
        return q

    def _solve(self) -> None:
        self.values = [np.zeros(0)] * (self.horizon + 1)
        self.values[self.horizon] = np.zeros(len(self.keys[self.horizon]))
        for t in range(self.horizon - 1, -1, -1):
            arms = self._decode(self.keys[t])
            q = self.q_values_of_arms(arms, self.values[t + 1], self.keys[t + 1])
            self.values[t] = q.max(axis=1)

    def value(self, successes: np.ndarray, failures: np.ndarray) -> np.ndarray:
        t = (successes + failures).sum(axis=1)
        out = np.empty(len(t))
        arms = self.arm_index(successes, failures)
        for layer in np.unique(t):
            rows = t == layer
            out[rows] = self.values[layer][np.searchsorted(self.keys[layer], self.canonical(arms[rows]))]
        return out

    @staticmethod
    def count_states(n_arms: int, horizon: int) -> int:
        """Ordered belief states over all layers: what the table holds without merging permutations.

        An arm pulled ``n`` times has ``n + 1`` states, so the states after ``t`` pulls are the
        coefficient of :math:`x^t` in :math:`(1 - x)^{-2K}`, :math:`\\binom{t + 2K - 1}{2K - 1}`, and
        summed over ``t <= horizon`` (the hockey-stick identity) :math:`\\binom{horizon + 2K}{2K}`.
        """
        return math.comb(horizon + 2 * n_arms, 2 * n_arms)

    @staticmethod
    def count_multisets(n_arms: int, horizon: int) -> float:
        """Belief states of ``K`` exchangeable arms over all layers: multisets of ``K`` arm states
        with at most ``horizon`` pulls in all, what the table holds when the priors are equal.

        The pulled arms (``n >= 1``; at most ``M = min(K, horizon)`` of them) form a multiset and the
        others are alike. ``W[m, w]``, the multisets of ``m`` pulled arms with ``w`` pulls in all,
        is built weight by weight: ``j`` arms of weight ``n`` come in ``C(n + j, j)`` ways (a
        multiset of ``j`` among the ``n + 1`` states of ``n`` pulls), so
        ``W'[m, w] = sum_j C(n + j, j) W[m - j, w - j n]``; the count is ``sum W``. Computed in
        floats (``inf`` past 1e308): ``O(M horizon^2 log horizon)``, called only once the quick
        lower bound ``count_states / K!`` fits (:meth:`BernoulliBanditDP.table_bytes`).
        """
        m_max = min(n_arms, horizon)
        ways = np.zeros((m_max + 1, horizon + 1))
        ways[0, 0] = 1.0
        with np.errstate(over="ignore", invalid="ignore"):
            for n in range(1, horizon + 1):
                new = ways.copy()
                for j in range(1, min(m_max, horizon // n) + 1):
                    new[j:, j * n :] += math.comb(n + j, j) * ways[: m_max + 1 - j, : horizon + 1 - j * n]
                ways = new
            return float(ways.sum())


# ---------------------------------------------------------------------------- public API


class BernoulliBanditDP:
    """The solved Bellman recursion of a Bernoulli bandit: values and Q-values of every belief.

    ``prior``: one ``(alpha, beta)`` pair for all arms or one pair per arm. ``max_bytes``
    bounds the memory of the stored tables; a larger problem raises ``ValueError`` naming the
    largest horizon that fits.

    ``value(successes, failures)`` and ``q_values(successes, failures)`` take count arrays
    ``(B, K)`` of any batch of belief states with fewer than ``horizon`` pulls (``value`` also
    at ``horizon``, where it is 0).
    """

    def __init__(
        self, n_arms: int, horizon: int, prior: Any = (1.0, 1.0), max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        self.n_arms = check_int(n_arms, "n_arms", 1)
        self.horizon = check_int(horizon, "horizon", 1)
        self.prior = check_bandit_prior(prior, self.n_arms)
        symmetric = bool(np.all(self.prior == self.prior[0]))
        needed = self.table_bytes(self.n_arms, self.horizon, symmetric)
        if needed > max_bytes:
            largest = self.largest_horizon(self.n_arms, max_bytes, symmetric)
            raise ValueError(
                f"the DP tables of {self.n_arms} arms at horizon {self.horizon} need about {needed / 2**30:.3g} GiB, "
                f"more than max_bytes={max_bytes / 2**30:.3g} GiB; the largest horizon that fits is {largest}"
            )
        if self.n_arms == 2:
            self.root_value, layers = _two_arm_layers(self.horizon, self.prior, keep=True)
            assert layers is not None
            self._offsets, self._flat = _flatten_two_arm(layers)
            self._table: _LayeredTable | None = None
        else:
            self._table = _LayeredTable(self.horizon, self.prior)
            self.root_value = float(self._table.values[0][0])

    @staticmethod
    def table_bytes(n_arms: int, horizon: int, symmetric: bool = True) -> float:
        """Approximate memory of the stored tables: per state its key (``min(K, horizon)`` digits of
        2 or 4 bytes with exchangeable arms, ``K`` without), its value, and its decoded arms while
        solving. Exchangeable arms store multisets (:meth:`_LayeredTable.count_multisets`), counted
        only after the quick lower bound (ordered states over ``K!``) fits, so the check of a huge
        problem costs nothing."""
        if n_arms == 2:
            return 8 * _two_arm_total(horizon)
        base = (horizon + 1) * (horizon + 2) // 2
        width = min(n_arms, horizon) if symmetric else n_arms
        key = 8 if base**width < 2**62 else (2 if base <= 2**16 else 4) * width  # as _LayeredTable keys them
        per_state = key + 8 + 8 * n_arms
        ordered = _LayeredTable.count_states(n_arms, horizon)
        if not symmetric:
            return float(ordered * per_state)
        lower = ordered // math.factorial(n_arms)  # a multiset stands for at most K! ordered states
        if lower * per_state > 2**50:  # a petabyte: far beyond any max_bytes, no need to count exactly
            return float(lower * per_state)
        return _LayeredTable.count_multisets(n_arms, horizon) * per_state

    @classmethod
    def largest_horizon(cls, n_arms: int, max_bytes: int, symmetric: bool = True) -> int:
        """The largest horizon whose tables fit in ``max_bytes`` (0 if none; at most 100,000)."""
        return _largest(lambda horizon: cls.table_bytes(n_arms, horizon, symmetric) <= max_bytes, 100_000)

    def value(self, successes: np.ndarray, failures: np.ndarray) -> np.ndarray:
        """Optimal expected reward still to come from belief states ``(B, K)``: ``(B,)``."""
        s, f = self._check_counts(successes, failures, allow_end=True)
        if self._table is not None:
            return self._table.value(s, f)
        n1 = s[:, 0] + f[:, 0]
        t = n1 + s[:, 1] + f[:, 1]
        return self._flat[self._offsets[t, n1] + s[:, 0] * (t - n1 + 1) + s[:, 1]]

    def q_values(self, successes: np.ndarray, failures: np.ndarray) -> np.ndarray:
        """``Q_k``: expected total of what is still to come if arm ``k`` is pulled now: ``(B, K)``."""
        s, f = self._check_counts(successes, failures, allow_end=False)
        q = np.empty(s.shape, dtype=np.float64)
        for k in range(self.n_arms):
            alpha, beta = self.prior[k]
            p = (alpha + s[:, k]) / (alpha + beta + s[:, k] + f[:, k])
            s_win, f_lose = s.copy(), f.copy()
            s_win[:, k] += 1
            f_lose[:, k] += 1
            win, lose = self.value(s_win, f), self.value(s, f_lose)
            q[:, k] = lose + p * (1.0 + win - lose)
        return q

    def _check_counts(self, successes: Any, failures: Any, allow_end: bool) -> tuple[np.ndarray, np.ndarray]:
        s = np.asarray(successes)
        f = np.asarray(failures)
        if s.ndim != 2 or s.shape != f.shape or s.shape[1] != self.n_arms:
            raise ValueError(
                f"successes and failures must both have shape (batch, {self.n_arms}), got {s.shape}, {f.shape}"
            )
        if not (np.all(s == np.round(s)) and np.all(f == np.round(f)) and np.all(s >= 0) and np.all(f >= 0)):
            raise ValueError("successes and failures must be non-negative integer counts")
        s, f = s.astype(np.int64), f.astype(np.int64)
        t = (s + f).sum(axis=1)
        limit = self.horizon if allow_end else self.horizon - 1
        if np.any(t > limit):
            raise ValueError(f"belief states with more than {limit} pulls are outside the horizon {self.horizon}")
        return s, f


def _flatten_two_arm(layers: list[list[np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """One flat array of every block, and ``offsets[t, n1]`` of block ``(t, n1)`` in it."""
    horizon = len(layers) - 1
    offsets = np.zeros((horizon + 1, horizon + 1), dtype=np.int64)
    sizes = [block.size for layer in layers for block in layer]
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    flat = np.empty(int(sum(sizes)), dtype=np.float64)
    i = 0
    for t, layer in enumerate(layers):
        for n1, block in enumerate(layer):
            offsets[t, n1] = starts[i]
            flat[starts[i] : starts[i] + block.size] = block.reshape(-1)
            i += 1
    return offsets, flat


def bernoulli_policy_value(
    policy: Any, n_arms: int, horizon: int, prior: Any = (1.0, 1.0), max_bytes: int = DEFAULT_MAX_BYTES
) -> float:
    r"""Exact expected return of ``policy`` over ``horizon`` pulls, by policy evaluation.

    ``policy`` is a :class:`~bayes.bandits.base.BernoulliPolicy` (its action probabilities
    depend only on the counts). Every belief state is enumerated without merging permutations,
    and :math:`V^\pi(x) = \sum_k \pi_k(x) (p_k (1 + V^\pi(x + e^s_k)) + (1 - p_k) V^\pi(x + e^f_k))`
    is solved backwards. Meant for small problems (tests, tables): ``ValueError`` past ``max_bytes``.
    """
    n_arms = check_int(n_arms, "n_arms", 1)
    horizon = check_int(horizon, "horizon", 1)
    prior = check_bandit_prior(prior, n_arms)
    needed = BernoulliBanditDP.table_bytes(n_arms, horizon, symmetric=False) if n_arms != 2 else (
        8 * 4 * _two_arm_total(horizon)
    )
    if needed > max_bytes:
        largest = BernoulliBanditDP.largest_horizon(n_arms, max_bytes // 4, symmetric=False)
        raise ValueError(f"policy evaluation of {n_arms} arms at horizon {horizon} needs about "
                         f"{needed / 2**30:.3g} GiB; the largest horizon that fits is {largest}")
    table = _LayeredTable(horizon, prior, merge_permutations=False, solve=False)
    value = np.zeros(len(table.keys[horizon]))
    for t in range(horizon - 1, -1, -1):
        arms = table._decode(table.keys[t])
        q = table.q_values_of_arms(arms, value, table.keys[t + 1])
        state = np.concatenate([table.arm_s[arms], table.arm_f[arms]], axis=1).astype(np.float64)
        value = (policy.action_probabilities(state) * q).sum(axis=1)
    return float(value[0])


def bayes_optimal_value(
    n_arms: int, horizon: int, prior: Any = (1.0, 1.0), max_bytes: int = DEFAULT_MAX_BYTES
) -> float:
    """Expected total reward of the Bayes-optimal policy over ``horizon`` pulls (exact DP).

    Two arms keep only two layers of the recursion in memory (about ``horizon^3 / 3`` floats);
    other arm counts store every layer. ``ValueError`` if that exceeds ``max_bytes``, naming the
    largest horizon that fits.
    """
    n_arms = check_int(n_arms, "n_arms", 1)
    horizon = check_int(horizon, "horizon", 1)
    prior = check_bandit_prior(prior, n_arms)
    if n_arms == 1:
        return float(horizon * prior[0, 0] / prior[0].sum())  # nothing to choose: E[p] per pull
    if n_arms == 2:
        needed = 8 * 3 * _two_arm_states(horizon)  # two layers and the temporaries of one block
        if needed > max_bytes:
            largest = _largest(lambda h: 8 * 3 * _two_arm_states(h) <= max_bytes, horizon)
            raise ValueError(
                f"the DP of 2 arms at horizon {horizon} needs about {needed / 2**30:.3g} GiB, more than "
                f"max_bytes={max_bytes / 2**30:.3g} GiB; the largest horizon that fits is {largest}"
            )
        return _two_arm_layers(horizon, prior, keep=False)[0]
    return BernoulliBanditDP(n_arms, horizon, prior, max_bytes=max_bytes).root_value


class BayesOptimalPolicy(BernoulliPolicy):
    """The Bayes-optimal policy of a Bernoulli bandit, as a batched :class:`~bayes.statemachine.StateMachine`.

    State ``(B, 2K)``: the success counts of the ``K`` arms, then their failure counts.
    Observation: the ``MetaBandit-v0`` observation ``(B, K + 2)``. Output ``(B, K)``: the
    action probabilities, uniform over the arms whose Q-value is maximal (ties within a
    relative ``1e-12``). After ``horizon`` pulls the output is uniform (the episode is over).
    """

    def __init__(
        self, n_arms: int = 2, horizon: int = 20, prior: Any = (1.0, 1.0), max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        self.dp = BernoulliBanditDP(n_arms, horizon, prior, max_bytes=max_bytes)
        super().__init__(self.dp.n_arms, self.dp.prior)
        self.horizon = self.dp.horizon

    def action_probabilities(self, state: np.ndarray) -> np.ndarray:
        successes, failures = self.counts(state)
        done = (successes + failures).sum(axis=1) >= self.horizon
        probs = np.full((len(successes), self.n_arms), 1.0 / self.n_arms)
        live = ~done
        if live.any():
            probs[live] = argmax_probabilities(self.dp.q_values(successes[live], failures[live]))
        return probs

    def q_values(self, state: np.ndarray) -> np.ndarray:
        """Q-values ``(B, K)`` of the belief states in ``state`` (fewer than ``horizon`` pulls)."""
        return self.dp.q_values(*self.counts(state))
