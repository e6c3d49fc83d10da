"""A coin whose bias changes within an episode: Beta-Bernoulli with change points, and its exact Bayes filter.

The task family of ``MetaSwitchingCoin-v0``. Before every flip the coin's bias is re-drawn from
the prior :math:`\\mathrm{Beta}(\\alpha, \\beta)` with probability ``hazard`` :math:`h` (a change
point), else kept:

.. math::

    \\theta_1 \\sim \\mathrm{Beta}(\\alpha, \\beta), \\qquad
    \\theta_{t} = \\begin{cases} \\theta' \\sim \\mathrm{Beta}(\\alpha, \\beta) & \\text{with probability } h \\\\
                                 \\theta_{t-1} & \\text{otherwise} \\end{cases}, \\qquad
    x_t \\mid \\theta_t \\sim \\mathrm{Bernoulli}(\\theta_t).

(A change before the first flip is immaterial: the first bias is a prior draw either way.)
``hazard = 0`` is :class:`~bayes.models.BetaBernoulli`'s coin; ``hazard = 1`` re-draws the bias
before every flip, so the flips are independent with probability :math:`\\alpha / (\\alpha + \\beta)`.

The exact posterior (Adams and MacKay's Bayesian online change-point detection, which is exact
for this model): after ``t`` flips, let the *run length* :math:`r_t \\in \\{1, \\dots, t\\}` be the number of
flips since the last change, counting the current segment (``r = 0`` before the first flip).
Given :math:`r_t = r` the current bias has the posterior
:math:`\\mathrm{Beta}(\\alpha + s_r, \\beta + r - s_r)`, where :math:`s_r` counts the ones among the last
``r`` flips. So the belief is the run-length posterior :math:`w_t(r) = P(r_t = r \\mid x_{1:t})`
together with :math:`s_r` for every ``r``, and one flip updates it exactly in :math:`O(t)`:

.. math::

    \\pi(r) &= h\\,[r = 0] + (1 - h)\\,w_t(r)
        \\qquad \\text{(the run length before flip } t + 1\\text{: 0 after a change)} \\\\
    p_r &= \\frac{\\alpha + s_r}{\\alpha + \\beta + r}
        \\qquad \\text{(the probability of a one given run length } r\\text{)} \\\\
    P(x_{t+1} = 1 \\mid x_{1:t}) &= \\sum_r \\pi(r)\\, p_r
        = (1 - h) \\sum_r w_t(r)\\, p_r + h \\frac{\\alpha}{\\alpha + \\beta} \\\\
    w_{t+1}(r + 1) &= \\frac{\\pi(r)\\, p_r^{x} (1 - p_r)^{1 - x}}{P(x_{t+1} = x \\mid x_{1:t})}, \\qquad
        w_{t+1}(0) = 0, \\qquad s_{r+1} \\leftarrow s_r + x, \\quad s_0 \\leftarrow 0.

Every step is normalised, so the weights stay probabilities in float64 for any horizon (run
lengths whose probability falls below the smallest float become 0; nothing becomes NaN). The
normaliser is the predictive probability of the flip, so the log marginal likelihood of a
sequence, its exact log-loss, is the sum of the logs of the normalisers
(:meth:`SwitchingBetaBernoulli.log_marginal_likelihood`).

Statistics: for a model built with ``max_run_length = T`` (the horizon), ``stats`` has shape
``(B, 2, T + 1)``: ``stats[:, 0, r]`` the probability :math:`w(r)` of run length ``r``,
``stats[:, 1, r]`` the successes :math:`s_r` among the last ``r`` flips (for ``r`` beyond the
``t`` flips seen, all ``t`` of them: such run lengths have probability 0 and never matter), so ``T``
outcomes fit exactly and a further one raises ``ValueError`` (build the model for a longer
horizon: :meth:`SwitchingBetaBernoulli.for_horizon`). Posterior parameters: ``(B, T + 1, 3)``,
row ``r`` holding :math:`(w(r), \\alpha + s_r, \\beta + r - s_r)`: the mixture weight and the Beta
parameters of the current bias given run length ``r``. Predictive: ``(B, 1)``, the probability
of a one, as :class:`~bayes.models.BetaBernoulli`.

Memory layout: the arrays that :meth:`SwitchingBetaBernoulli.update`,
:meth:`~SwitchingBetaBernoulli.initial_stats` and :meth:`~SwitchingBetaBernoulli.posterior` return
have their batch axis *last* in memory (they are transposed views of ``(2, T + 1, B)`` and
``(3, T + 1, B)`` buffers), so that the native vector env's per-step work runs over contiguous
rows of ``B`` numbers; numpy treats them as any ``(B, 2, T + 1)`` array, and every method takes
statistics in any layout.
"""

from __future__ import annotations

from numbers import Real
from typing import Any

import numpy as np

from bayes.models import BetaBernoulli, bernoulli_log_prob
from bayes.validation import MAX_HORIZON, check_int, check_rng

__all__ = ["SwitchingBetaBernoulli", "check_hazard"]


def check_hazard(value: Any, name: str = "hazard") -> float:
    """The probability of a change point before each flip: one number in [0, 1].

    ``ValueError`` naming ``name`` otherwise (NaN, infinities, booleans, strings, arrays of
    more than one number and ``None`` included).
    """
    if isinstance(value, np.ndarray) and value.shape == () and value.dtype.kind in "fiu":
        value = value[()]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (Real, np.floating, np.integer)):
        raise ValueError(f"{name} must be a number in [0, 1] (the probability of a change before each flip), "
                         f"got {value!r}")
    number = float(value)
    if not 0.0 <= number <= 1.0:  # NaN fails too
        raise ValueError(f"{name} must be a number in [0, 1] (the probability of a change before each flip), "
                         f"got {value!r}")
    return number


def _live_rows(w: np.ndarray) -> int:
    """``1 +`` the longest run length with probability > 0 in any column of ``w`` ``(T + 1, B)`` (1 if none;
    probabilities are never negative)."""
    rows = np.flatnonzero(w.max(axis=1) > 0.0) if w.shape[1] else np.zeros(0, dtype=np.int64)
    return int(rows[-1]) + 1 if rows.size else 1


class SwitchingBetaBernoulli(BetaBernoulli):
    """Bernoulli flips of a bias re-drawn from Beta(alpha, beta) with probability ``hazard`` before each flip.

    ``alpha``, ``beta``: the prior's two positive numbers (one coin: ``batch_shape == ()``);
    ``hazard``: the change probability, in [0, 1]; ``max_run_length``: the number of outcomes
    the statistics hold exactly (the env's horizon). See the module docstring for the exact
    recursion and the shapes: task ``(B,)`` (the current bias), outcome ``(B,)``, statistics
    ``(B, 2, T + 1)``, posterior ``(B, T + 1, 3)``, predictive ``(B, 1)``.

    :meth:`evolve` draws the change points; the inherited prior, likelihood and predictive
    family are :class:`~bayes.models.BetaBernoulli`'s.
    """

    family = "switching-beta-bernoulli"

    def __init__(self, alpha: Any = 1.0, beta: Any = 1.0, hazard: Any = 0.1, max_run_length: Any = 20) -> None:
        super().__init__(alpha, beta)
        if self.batch_shape != ():
            raise ValueError(f"alpha and beta must be single numbers (one coin), got shapes broadcasting to "
                             f"{self.batch_shape}")
        self.hazard = check_hazard(hazard)
        self.max_run_length = check_int(max_run_length, "max_run_length", 1, MAX_HORIZON)
        hazard_array = np.array(self.hazard)
        hazard_array.setflags(write=False)
        self._hyper = {**self._hyper, "hazard": hazard_array}
        k = self.max_run_length + 1
        self.stats_shape = (2, k)
        self.posterior_shape = (k, 3)
        self.predictive_shape = (1,)
        a, b = float(self.alpha), float(self.beta)
        r = np.arange(k, dtype=np.float64)
        self._keep = 1.0 - self.hazard  # probability of no change before a flip
        self._prior_p = a / (a + b)  # the prior predictive: a fresh segment's probability of a one
        # per run length r (columns (T + 1, 1), broadcast along the batch axis of (T + 1, B) rows)
        self._inv_n = (1.0 / (a + b + r))[:, None]
        self._alpha_n = (a / (a + b + r))[:, None]  # p_r = s_r / n_r + alpha / n_r
        self._beta_r = (b + r)[:, None]  # beta + f_r = beta + r - s_r
        self._r = r[:, None]
        self._inv_nn1 = self._inv_n / (a + b + r + 1.0)[:, None]
        for array in (self._inv_n, self._alpha_n, self._beta_r, self._r, self._inv_nn1):
            array.setflags(write=False)

    # -- the change points
    def evolve(self, rng: np.random.Generator, task: np.ndarray) -> np.ndarray:
        """The biases ``(B,)`` of the next flips: each row's re-drawn from the prior with probability ``hazard``.

        One uniform per row decides the changes; prior draws are made for the changed rows only
        (in row order). ``hazard = 0`` draws nothing (the stream of ``MetaCoin-v0``) and
        ``hazard = 1`` draws a new bias for every row without the uniforms. ``task`` is not
        changed in place.
        """
        rng = check_rng(rng)
        task = np.asarray(task, dtype=np.float64)
        if self.hazard == 0.0:
            return task
        n = task.shape[0]
        if self.hazard == 1.0:
            return self.sample_task(rng, n).reshape(task.shape)
        changed = np.flatnonzero(rng.random(n) < self.hazard)
        if changed.size == 0:
            return task
        task = task.copy()
        task[changed] = self.sample_task(rng, changed.size)
        return task

    def for_horizon(self, horizon: int) -> SwitchingBetaBernoulli:
        """This model if its statistics hold ``horizon`` outcomes (``max_run_length >= horizon``),
        else the same family with ``max_run_length = horizon``."""
        horizon = check_int(horizon, "horizon", 1, MAX_HORIZON)
        if horizon <= self.max_run_length:
            return self
        return type(self)(float(self.alpha), float(self.beta), self.hazard, horizon)

    # -- the run-length statistics
    def _parts(self, stats: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(w, s)``: the run-length probabilities and successes as ``(T + 1, B)`` views of ``stats``."""
        stats = np.asarray(stats, dtype=np.float64)
        if stats.ndim != 3 or stats.shape[1:] != self.stats_shape:
            raise ValueError(
                f"stats must have shape (batch, *{self.stats_shape}) (max_run_length={self.max_run_length}), "
                f"got {stats.shape}"
            )
        return stats[:, 0, :].T, stats[:, 1, :].T

    def initial_stats(self, size: int) -> np.ndarray:
        """Statistics of ``size`` episodes with nothing observed: run length 0 with probability 1."""
        size = check_int(size, "size", 0)
        buffer = np.zeros((2, self.max_run_length + 1, size), dtype=np.float64)
        buffer[0, 0] = 1.0
        return buffer.transpose(2, 0, 1)

    def update(self, stats: np.ndarray, x: np.ndarray, arm: np.ndarray | None = None) -> np.ndarray:
        """The statistics after one flip ``x`` (``(B,)`` zeros and ones) per row: the recursion of the
        module docstring, in :math:`O(T)` per row. ``stats`` is not changed.

        ``ValueError`` for an outcome other than 0 or 1, or where a row has already seen
        ``max_run_length`` outcomes and might not have changed since (its run length would
        exceed the statistics; use :meth:`for_horizon`).
        """
        if arm is not None:
            raise ValueError("arm: the switching coin has no arms")
        w, s = self._parts(stats)
        n = w.shape[1]
        x = np.asarray(x, dtype=np.float64)
        if x.shape != (n,):
            if x.shape != ():
                raise ValueError(f"x must be {n} outcomes (one per row of stats), got shape {x.shape}")
            x = np.full(n, float(x))
        if not np.all((x == 0.0) | (x == 1.0)):
            raise ValueError(f"x must be outcomes 0 or 1, got {x!r}")
        keep, hazard = self._keep, self.hazard
        k = w.shape[0]
        # only the run lengths r < m that have probability > 0 in some row take part (those of
        # probability 0 stay 0): m is at most t + 1 after t outcomes, so early steps are cheap
        m = _live_rows(w)
        if keep > 0.0 and m == k:
            raise ValueError(
                f"the statistics hold {self.max_run_length} outcomes (max_run_length); a further outcome needs "
                f"a model built for a longer horizon (SwitchingBetaBernoulli.for_horizon)"
            )
        m = min(m, k - 1)  # hazard 1: the longest run length's mass (times 1 - hazard = 0) goes nowhere
        buffer = np.empty((2, k, n), dtype=np.float64)
        new_w, new_s = buffer[0], buffer[1]
        w, s_live = w[:m], s[:m]
        # p_r = (alpha + s_r) / (alpha + beta + r), the probability of a one given run length r,
        # computed where w(r + 1) will be written (no temporary: fewer bytes through the caches)
        p = new_w[1 : m + 1]
        np.multiply(s_live, self._inv_n[:m], out=p)
        p += self._alpha_n[:m]
        total = np.einsum("rb,rb->b", w, p)  # sum_r w(r) p_r
        # per row, with x in {0, 1}: the probability of x is  P(x | the past) = (1 - x) + (2x - 1) P(1 | the past)
        sign = x * 2.0
        sign -= 1.0
        miss = 1.0 - x
        norm = total * keep
        norm += hazard * self._prior_p  # P(x = 1 | the past)
        norm *= sign
        norm += miss  # P(x | the past) > 0
        # w'(r + 1) = w(r) (x ? p_r : 1 - p_r) / (norm / (1 - h)): divided last, so that a run
        # length certain before (hazard 0) stays certain, with probability exactly 1
        p *= sign
        p += miss
        p *= w
        if keep > 0.0:
            p /= norm / keep
        else:
            p[...] = 0.0
        new_w[0] = 0.0
        new_w[m + 1 :] = 0.0
        if hazard > 0.0:  # a change before this flip: run length 0, whose p_0 is the prior's
            fresh = sign * self._prior_p
            fresh += miss
            fresh *= hazard
            fresh /= norm
            new_w[1] += fresh
        # every window grows by the flip (windows longer than the episode hold all its flips)
        np.add(s[:-1], x, out=new_s[1:])
        new_s[0] = 0.0
        return buffer.transpose(2, 0, 1)

    def posterior(self, stats: np.ndarray) -> np.ndarray:
        """``(B, T + 1, 3)``: row ``r`` is ``(w(r), alpha + s_r, beta + r - s_r)``, the probability of
        run length ``r`` and the Beta posterior of the current bias given it."""
        w, s = self._parts(stats)
        buffer = np.empty((3, w.shape[0], w.shape[1]), dtype=np.float64)
        np.copyto(buffer[0], w)
        np.add(s, float(self.alpha), out=buffer[1])
        np.subtract(self._beta_r, s, out=buffer[2])
        return buffer.transpose(2, 1, 0)

    def predictive(self, stats: np.ndarray) -> np.ndarray:
        """``(B, 1)``, the probability of a one next:
        :math:`(1 - h) \\sum_r w(r) (\\alpha + s_r) / (\\alpha + \\beta + r) + h \\alpha / (\\alpha + \\beta)`."""
        w, s = self._parts(stats)
        p = np.multiply(s, self._inv_n)
        p += self._alpha_n
        total = np.einsum("rb,rb->b", w, p)
        return (self._keep * total + self.hazard * self._prior_p)[:, None]

    def posterior_moments(self, stats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation ``(B,)`` of the bias of the last flip (the current task) under
        the mixture :math:`\\sum_r w(r)\\,\\mathrm{Beta}(\\alpha + s_r, \\beta + r - s_r)`."""
        w, s = self._parts(stats)
        mean = np.einsum("rb,rb->b", w, s * self._inv_n + self._alpha_n)
        # E[theta^2 | r] = a (a + 1) / (n (n + 1)) with a = alpha + s_r, n = alpha + beta + r
        a = s + float(self.alpha)
        second = np.einsum("rb,rb->b", w, a * (a + 1.0) * self._inv_nn1)
        return mean, np.sqrt(np.maximum(second - mean * mean, 0.0))

    def project_stats(self, stats: np.ndarray) -> np.ndarray:
        """The nearest statistics that can take another outcome (for states a regressor produced, as
        in :mod:`bayes.simulation`): probabilities clipped at 0, the longest run length's set to 0
        (a state after ``max_run_length`` outcomes takes no further one) and renormalised (all
        zero: run length 0, the prior), successes clipped to ``[0, r]``. ``(B, 2, T + 1)``."""
        stats = np.array(stats, dtype=np.float64)
        self._parts(stats)  # shape check
        w = np.nan_to_num(stats[:, 0, :], nan=0.0, posinf=0.0, neginf=0.0)
        w = np.maximum(w, 0.0)
        if self._keep > 0.0:
            w[:, -1] = 0.0
        total = w.sum(axis=1, keepdims=True)
        empty = ~(total[:, 0] > 0.0)
        w = w / np.where(empty[:, None], 1.0, total)
        w[empty] = 0.0
        w[empty, 0] = 1.0
        s = np.nan_to_num(stats[:, 1, :], nan=0.0)
        stats[:, 0, :] = w
        stats[:, 1, :] = np.clip(s, 0.0, self._r[:, 0])
        return stats

    # -- the exact log-loss
    def log_marginal_likelihood(self, outcomes: Any) -> np.ndarray | float:
        """:math:`\\log P(x_{1:n}) = \\sum_t \\log P(x_t \\mid x_{<t})` of sequences of flips: the exact
        log-loss (in nats, negated) of the Bayes predictor on them.

        ``outcomes``: ``(n,)`` (one sequence: a float) or ``(B, n)`` (``B`` sequences: ``(B,)``),
        zeros and ones; any length (the model is sized by :meth:`for_horizon`).
        """
        x = np.asarray(outcomes, dtype=np.float64)
        single = x.ndim == 1
        x = np.atleast_2d(x)
        if x.ndim != 2:
            raise ValueError(f"outcomes must have shape (n,) or (batch, n), got {np.shape(outcomes)}")
        n_rows, length = x.shape
        model = self.for_horizon(max(length, 1))
        stats = model.initial_stats(n_rows)
        total = np.zeros(n_rows)
        for t in range(length):
            total += bernoulli_log_prob(model.predictive(stats)[:, 0], x[:, t])
            stats = model.update(stats, x[:, t])
        return float(total[0]) if single else total

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(alpha={float(self.alpha):.4g}, beta={float(self.beta):.4g}, "
                f"hazard={self.hazard:.4g}, max_run_length={self.max_run_length})")
