"""The belief state of a bandit episode as features for a critic: the exact posterior and the time.

In a bandit whose arms have a conjugate prior, the posterior over the arms' parameters and the
elapsed time ``t`` together are the Markov state of the Bayes-adaptive problem: the
Bayes-optimal value is a function of them alone. A critic that reads them (only during
training: the actor never sees them, so the trained agent is still a state machine over the
observations alone) gives a baseline that is still unbiased (it does not depend on the action
taken at ``t``) and much less noisy than one learned from the recurrent core's memory.

:func:`belief_features` turns the env's ``info["posterior"]`` ``(B, K, 2)`` into ``(B, 2K + 1)``
float32 features:

- Beta-Bernoulli arms (``(α, β)`` per arm): the posterior mean ``α / (α + β)`` and the
  pseudo-count ``(α + β) / T`` of each arm;
- normal arms with known noise (``(μ, σ)`` per arm): the standardised posterior mean
  ``(μ - μ_0) / σ_0`` and the shrinkage ``σ / σ_0`` of each arm (``μ_0, σ_0`` the prior's);
- the elapsed fraction ``t / T``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bayes.models import BetaBernoulli, NormalKnownNoise

__all__ = ["belief_features", "belief_size"]


def belief_size(model: Any) -> int:
    """The number of features :func:`belief_features` gives for ``model``'s bandit: ``2K + 1``."""
    if not isinstance(model, (BetaBernoulli, NormalKnownNoise)):
        raise ValueError(f"the belief critic needs Beta-Bernoulli or normal arms, not {type(model).__name__}")
    return 2 * int(np.size(model.prior_mean if isinstance(model, NormalKnownNoise) else model.alpha)) + 1


def belief_features(model: Any, posterior: np.ndarray, t: int, horizon: int) -> np.ndarray:
    """``(B, 2K + 1)`` float32: per-arm posterior mean and count (or shrinkage), then ``t / horizon``.

    ``posterior``: ``(B, K, 2)``, the env's ``info["posterior"]`` after ``t`` steps.
    """
    posterior = np.asarray(posterior, dtype=np.float64)
    if isinstance(model, NormalKnownNoise):
        scale = np.asarray(model.prior_std, dtype=np.float64)
        first = (posterior[..., 0] - np.asarray(model.prior_mean, dtype=np.float64)) / scale
        second = posterior[..., 1] / scale
    else:
        total = posterior.sum(-1)
        first, second = posterior[..., 0] / total, total / horizon
    time = np.full((len(posterior), 1), t / horizon)
    return np.concatenate([first, second, time], axis=1).astype(np.float32)
