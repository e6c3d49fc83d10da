"""KL divergence between two predictive distributions of one task family.

``kl_divergence(model, p, q)`` is :math:`\\mathrm{KL}(P \\| Q) = E_P[\\log P - \\log Q]` for predictive
parameters ``p`` (typically the Bayes predictive) and ``q`` (an agent's), batched over rows,
in the parameter layout of ``model.predictive`` (:mod:`bayes.models`):

- Bernoulli ``(p,)`` (the coins, switching or not): :math:`p \\log\\frac{p}{q} + (1-p)\\log\\frac{1-p}{1-q}`;
- categorical weights ``(K,)`` (normalised first): :math:`\\sum_k p_k \\log(p_k / q_k)`;
- normal ``(mean, std)``: :math:`\\log\\frac{s_q}{s_p} + \\frac{s_p^2 + (m_p - m_q)^2}{2 s_q^2} - \\frac12`;
- Lomax ``(shape, scale)``: :math:`\\log\\frac{a_p}{a_q} + a_p \\log b_p - a_q \\log b_q - (a_p + 1)
  (\\log b_p + 1/a_p) + (a_q + 1)\\, E_P[\\log(b_q + x)]`; the last expectation has no elementary
  form and is computed with a 64-node Gauss-Laguerre rule in :math:`E = a_p \\log(1 + x/b_p) \\sim
  \\mathrm{Exp}(1)`, whose integrand is smooth and nearly linear (error below 1e-10).

Where ``Q`` gives zero probability to an outcome ``P`` can produce, the divergence is ``inf``.
"""

from __future__ import annotations

import numpy as np

from bayes.models import BetaBernoulli, ConjugateModel, DirichletCategorical, GammaExponential, NormalKnownNoise

__all__ = ["bernoulli_kl", "categorical_kl", "kl_divergence", "lomax_kl", "normal_kl"]

_LAGUERRE_X, _LAGUERRE_W = np.polynomial.laguerre.laggauss(64)


def _xlogy_ratio(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """:math:`p \\log(p/q)` with the conventions 0 log(0/q) = 0 and p log(p/0) = inf."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = p * (np.log(p) - np.log(q))
    return np.where(p > 0, np.where(q > 0, out, np.inf), 0.0)


def bernoulli_kl(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    return _xlogy_ratio(p, q) + _xlogy_ratio(1.0 - p, 1.0 - q)


def categorical_kl(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    p = p / p.sum(axis=-1, keepdims=True)
    q_total = q.sum(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(q_total > 0, q / q_total, 0.0)
    return _xlogy_ratio(p, q).sum(axis=-1)


def normal_kl(mean_p: np.ndarray, std_p: np.ndarray, mean_q: np.ndarray, std_q: np.ndarray) -> np.ndarray:
    mean_p, std_p = np.asarray(mean_p, dtype=np.float64), np.asarray(std_p, dtype=np.float64)
    mean_q, std_q = np.asarray(mean_q, dtype=np.float64), np.asarray(std_q, dtype=np.float64)
    valid = std_q > 0
    safe = np.where(valid, std_q, 1.0)
    out = np.log(safe / std_p) + (std_p**2 + (mean_p - mean_q) ** 2) / (2 * safe**2) - 0.5
    return np.where(valid, out, np.inf)


def lomax_kl(shape_p: np.ndarray, scale_p: np.ndarray, shape_q: np.ndarray, scale_q: np.ndarray) -> np.ndarray:
    a_p, b_p = np.asarray(shape_p, dtype=np.float64), np.asarray(scale_p, dtype=np.float64)
    a_q, b_q = np.asarray(shape_q, dtype=np.float64), np.asarray(scale_q, dtype=np.float64)
    valid = (a_q > 0) & (b_q > 0)
    a_q_safe, b_q_safe = np.where(valid, a_q, 1.0), np.where(valid, b_q, 1.0)
    # x = b_p (exp(E / a_p) - 1) with E ~ Exp(1); log(b_q + x) = E / a_p + log(b_p + (b_q - b_p) exp(-E / a_p))
    e = _LAGUERRE_X  # nodes (M,), weights for the Exp(1) density
    ratio = np.exp(-e / a_p[..., None])
    inner = np.log(b_p[..., None] + (b_q_safe - b_p)[..., None] * ratio) + e / a_p[..., None]
    expect_log_q = (inner * _LAGUERRE_W).sum(axis=-1)
    out = (
        np.log(a_p) - np.log(a_q_safe)
        + a_p * np.log(b_p) - a_q_safe * np.log(b_q_safe)
        - (a_p + 1) * (np.log(b_p) + 1.0 / a_p)
        + (a_q_safe + 1) * expect_log_q
    )
    return np.where(valid, out, np.inf)


def kl_divergence(model: ConjugateModel, p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """:math:`\\mathrm{KL}(P \\| Q)` between predictive parameters ``p`` and ``q`` of ``model``'s family.

    A family defined outside this package provides its own as a method
    ``model.predictive_kl(p, q)``, which takes precedence (see ``docs/extending.md``).
    """
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    if p.shape != q.shape:
        raise ValueError(f"p and q must have the same shape, got {p.shape} and {q.shape}")
    own = getattr(model, "predictive_kl", None)
    if own is not None:
        return np.asarray(own(p, q), dtype=np.float64)
    if isinstance(model, BetaBernoulli):
        return bernoulli_kl(p[..., 0], q[..., 0])
    if isinstance(model, DirichletCategorical):
        return categorical_kl(p, q)
    if isinstance(model, NormalKnownNoise):
        return normal_kl(p[..., 0], p[..., 1], q[..., 0], q[..., 1])
    if isinstance(model, GammaExponential):
        return lomax_kl(p[..., 0], p[..., 1], q[..., 0], q[..., 1])
    raise TypeError(f"no KL divergence for {type(model).__name__}")
