"""Exact Bayesian references for meta-learning studies (numpy and scipy only).

- :mod:`bayes.models`: the conjugate task families (prior, likelihood, posterior, predictive)
  that the ``meta_envs`` environments draw their latent tasks and outcomes from;
- :mod:`bayes.switching`: the switching coin, whose bias changes within an episode, and its
  exact run-length posterior;
- :mod:`bayes.predictors`: the Bayes-optimal predictor of each family;
- :mod:`bayes.kl`: KL divergences between two predictive distributions of a family;
- :mod:`bayes.bandits`: bandit policies for Bernoulli and normal arms: the exact Bayes-optimal one,
  Gittins indices and the classic baselines;
- :mod:`bayes.evaluate`: evaluators that run any agent side by side with the Bayes-optimal one;
- :mod:`bayes.simulation`: the analysis of whether one agent simulates another;
- :mod:`bayes.statemachine`: the batched, pure state machine that every agent is;
- :mod:`bayes.validation`: argument checks with errors that name the argument;
- :mod:`bayes.files`: atomic file writes;
- :mod:`bayes.sampling`: the categorical sampler shared by the models, policies and evaluators.

The task families are importable from the package itself.
"""

from bayes.models import (
    BetaBernoulli,
    ConjugateModel,
    DirichletCategorical,
    GammaExponential,
    NormalKnownNoise,
)
from bayes.switching import SwitchingBetaBernoulli

__all__ = [
    "BetaBernoulli",
    "ConjugateModel",
    "DirichletCategorical",
    "GammaExponential",
    "NormalKnownNoise",
    "SwitchingBetaBernoulli",
]
