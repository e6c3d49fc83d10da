"""Exact Bayesian references for meta-learning studies (numpy and scipy only).

``bayes.models`` holds the conjugate task families that the ``meta_envs`` environments draw
their latent tasks from; later modules add the Bayes-optimal agents and the evaluators.
"""

from bayes.models import (
    BetaBernoulli,
    ConjugateModel,
    DirichletCategorical,
    GammaExponential,
    NormalKnownNoise,
)

__all__ = [
    "BetaBernoulli",
    "ConjugateModel",
    "DirichletCategorical",
    "GammaExponential",
    "NormalKnownNoise",
]
