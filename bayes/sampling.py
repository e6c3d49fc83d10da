"""Drawing one category per row of a batch of probability rows, by inverting the CDF.

:func:`sample_categorical` is the categorical sampler that the numpy code shares: the outcomes
and predictive samples of :class:`~bayes.models.DirichletCategorical`, and the actions of the
bandit policies (:meth:`~bayes.bandits.base.BanditPolicy.sample_actions`) and of the
evaluators (:mod:`bayes.evaluate`).
"""

from __future__ import annotations

import numpy as np

from bayes.validation import check_rng

__all__ = ["sample_categorical"]


def sample_categorical(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One index per row of ``probs`` ``(B, K)``, by inverting the CDF: ``(B,)`` int64.

    Row ``b`` holds non-negative weights :math:`p_0, \\dots, p_{K-1}` with a positive, finite
    total :math:`T = \\sum_k p_k` (probabilities, or any weights: the row is sampled as
    :math:`p / T`; none of this is checked). One uniform :math:`U \\sim U[0, 1)` is drawn per
    row (``rng.random(B)``: ``B`` variates in all, in row order), scaled to :math:`u = U T`,
    and the result is the number of partial sums :math:`c_j = p_0 + \\dots + p_j`,
    ``j < K - 1``, with :math:`u \\ge c_j`: the smallest ``j`` with :math:`u < c_j`, else
    ``K - 1``. So :math:`P(x = j) = p_j / T` (up to float64 rounding of the sums); ``K = 1``
    gives zeros.

    The partial sums are accumulated one column at a time over contiguous columns, several
    times faster than a ``cumsum`` along the short last axis.
    """
    rng = check_rng(rng)
    columns = np.ascontiguousarray(np.asarray(probs).T)  # (K, B)
    u = rng.random(columns.shape[1]) * columns.sum(axis=0)
    cdf = np.zeros(columns.shape[1])
    x = np.zeros(columns.shape[1], dtype=np.int64)
    for column in columns[:-1]:
        cdf += column
        x += u >= cdf
    return x
