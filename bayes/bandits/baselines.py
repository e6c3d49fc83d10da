"""Classic policies for Bernoulli bandits with Beta priors, as batched state machines.

All share :class:`~bayes.bandits.base.BernoulliPolicy`: state = (successes, failures) of the
``K`` arms, output = action probabilities, ties broken uniformly at random.

- :class:`RandomPolicy`: uniform over the arms.
- :class:`GreedyPolicy`: the arm of highest posterior mean :math:`(\\alpha + s)/(\\alpha + \\beta + n)`.
- :class:`ThompsonSampling`: pull the argmax of one draw from each arm's Beta posterior
  (Thompson 1933); its action probabilities are :math:`P(\\theta_k = \\max_j \\theta_j)`.
- :class:`UCB1`: pull every arm once, then :math:`\\hat p_k + \\sqrt{2 \\ln t / n_k}` (Auer, Cesa-Bianchi
  and Fischer 2002), with :math:`\\hat p_k = s_k / n_k` and ``t`` the pulls made so far.
- :class:`BayesUCB`: the :math:`1 - 1/(t (\\ln T)^c)` quantile of each arm's Beta posterior, with ``t``
  the number of the coming pull (1 for the first) and ``T`` the horizon (Kaufmann, Cappé and
  Garivier 2012; ``c = 0``, their recommended setting, needs no horizon).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special

from bayes.bandits.base import BanditPolicy, BernoulliPolicy, argmax_probabilities
from bayes.models import check_rng

__all__ = ["UCB1", "BayesUCB", "GreedyPolicy", "RandomPolicy", "ThompsonSampling", "beta_best_arm_probabilities"]


class RandomPolicy(BanditPolicy):
    """Uniformly random arms; the state counts pulls and sums rewards, as a normal-arm policy does."""

    def _increments(self, pulled: np.ndarray, reward: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return pulled, pulled * reward

    def action_probabilities(self, state: np.ndarray) -> np.ndarray:
        return np.full((len(state), self.n_arms), 1.0 / self.n_arms)


class GreedyPolicy(BernoulliPolicy):
    """The arm of highest posterior mean, ties broken uniformly at random.

    Its value depends on the tie-breaking: with equal priors every arm ties at the start and
    again whenever the means coincide (e.g. after one failure on each arm), and a fixed rule
    (always the first arm) earns a different return than the uniform one used here.
    """

    def action_probabilities(self, state: np.ndarray) -> np.ndarray:
        alpha, beta = self.posterior(state)
        return argmax_probabilities(alpha / (alpha + beta))


class ThompsonSampling(BernoulliPolicy):
    """Thompson sampling: the argmax of one draw from each arm's Beta posterior.

    ``sample_actions`` draws it directly; ``action_probabilities`` integrates
    :math:`P(k \\text{ best}) = \\int f_k(x) \\prod_{j \\ne k} F_j(x)\\,dx` numerically (see
    :func:`beta_best_arm_probabilities`).
    """

    def action_probabilities(self, state: np.ndarray) -> np.ndarray:
        return beta_best_arm_probabilities(*self.posterior(state))

    def sample_actions(self, state: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        alpha, beta = self.posterior(state)
        draws = check_rng(rng).beta(alpha, beta)
        return np.argmax(draws, axis=1)


def beta_best_arm_probabilities(alpha: np.ndarray, beta: np.ndarray, nodes: int = 96) -> np.ndarray:
    """:math:`P(\\theta_k > \\theta_j\\ \\forall j \\ne k)` for independent Beta(alpha, beta) arms ``(B, K)``.

    Gauss-Legendre quadrature with ``nodes`` points on each row's interval between the smallest
    1e-13 quantile and the largest 1 - 1e-13 quantile of its arms, split in 4 panels; rows are
    renormalised to sum to 1. Accuracy about 1e-7 for posteriors from a few hundred pulls.
    """
    alpha = np.asarray(alpha, dtype=np.float64)
    beta = np.asarray(beta, dtype=np.float64)
    lo = special.betaincinv(alpha, beta, 1e-13).min(axis=1)
    hi = special.betaincinv(alpha, beta, 1.0 - 1e-13).max(axis=1)
    x01, w01 = np.polynomial.legendre.leggauss(nodes)
    panels = 4
    edges = np.linspace(0.0, 1.0, panels + 1)
    # nodes on [0, 1] across panels, then mapped to each row's interval: (B, panels * nodes)
    unit = np.concatenate([(edges[i] + edges[i + 1]) / 2 + (x01 / 2) / panels for i in range(panels)])
    weights = np.tile(w01 / 2 / panels, panels)
    x = lo[:, None] + (hi - lo)[:, None] * unit
    w = (hi - lo)[:, None] * weights
    a, b = alpha[:, :, None], beta[:, :, None]  # (B, K, 1)
    xs = x[:, None, :]
    log_pdf = (a - 1) * np.log(xs) + (b - 1) * np.log1p(-xs) - special.betaln(a, b)
    cdf = special.betainc(a, b, xs)  # (B, K, M)
    log_cdf = np.log(np.maximum(cdf, 1e-300))
    others = log_cdf.sum(axis=1, keepdims=True) - log_cdf  # log prod_{j != k} F_j
    probs = (np.exp(log_pdf + others) * w[:, None, :]).sum(axis=2)
    return probs / probs.sum(axis=1, keepdims=True)


class UCB1(BernoulliPolicy):
    """UCB1: every arm once, then the highest :math:`s_k / n_k + \\sqrt{2 \\ln t / n_k}` (ties uniform).

    Frequentist: the prior is not used (``t`` is the number of pulls made so far).
    """

    def __init__(self, n_arms: int = 2) -> None:
        super().__init__(n_arms)

    def action_probabilities(self, state: np.ndarray) -> np.ndarray:
        successes, failures = self.counts(state)
        n = successes + failures
        t = n.sum(axis=1, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            index = successes / n + np.sqrt(2.0 * np.log(np.maximum(t, 1.0)) / n)
        index = np.where(n > 0, index, np.inf)  # unpulled arms first
        return argmax_probabilities(index)


class BayesUCB(BernoulliPolicy):
    """Bayes-UCB: the highest :math:`1 - 1/(t (\\ln T)^c)` quantile of the Beta posteriors.

    ``t`` is the number of the coming pull (1, 2, ...); ``horizon`` ``T`` is needed when
    ``c > 0``. With ``c = 0`` the first pull uses the 0-quantile (all arms tie at 0).
    """

    def __init__(self, n_arms: int = 2, prior: Any = (1.0, 1.0), c: float = 0.0, horizon: int | None = None) -> None:
        super().__init__(n_arms, prior)
        if not np.isfinite(c) or c < 0:
            raise ValueError(f"c must be a finite number >= 0, got {c!r}")
        if c > 0 and (horizon is None or horizon < 2):
            raise ValueError(f"horizon (an int >= 2) is needed when c > 0, got {horizon!r}")
        self.c = float(c)
        self.horizon = horizon

    def action_probabilities(self, state: np.ndarray) -> np.ndarray:
        alpha, beta = self.posterior(state)
        successes, failures = self.counts(state)
        t = (successes + failures).sum(axis=1, keepdims=True) + 1.0
        scale = np.log(self.horizon) ** self.c if self.c > 0 else 1.0
        level = 1.0 - 1.0 / (t * scale)
        return argmax_probabilities(special.betaincinv(alpha, beta, np.clip(level, 0.0, 1.0)))
