"""Bandit references: the exact Bayes-optimal policy, Gittins indices and classic baselines.

Every policy is a batched :class:`bayes.statemachine.StateMachine` whose output is the action
probabilities, with ties broken uniformly at random:

- :mod:`bayes.bandits.dp`: the exact finite-horizon Bayes-optimal policy of Bernoulli bandits;
- :mod:`bayes.bandits.gittins`: Gittins indices of Beta arms (discounted, by calibration with a
  stated accuracy and a disk cache, and finite-horizon) and the policies that use them; the
  calibration itself is :mod:`bayes.bandits.gittins_calibration`, the disk cache
  :mod:`bayes.bandits.gittins_cache`;
- :mod:`bayes.bandits.baselines`: random, greedy, Thompson sampling, UCB1, Bayes-UCB;
- :mod:`bayes.bandits.gaussian`: normal arms of known noise: Thompson sampling, UCB, greedy and
  Gittins indices.
"""

from bayes.bandits.base import BanditPolicy, BernoulliPolicy, GaussianPolicy
from bayes.bandits.baselines import UCB1, BayesUCB, GreedyPolicy, RandomPolicy, ThompsonSampling
from bayes.bandits.dp import BayesOptimalPolicy, BernoulliBanditDP, bayes_optimal_value
from bayes.bandits.gaussian import (
    GaussianGittinsPolicy,
    GaussianGreedy,
    GaussianThompsonSampling,
    GaussianUCB,
    normal_gittins_index,
)
from bayes.bandits.gittins import (
    FiniteHorizonGittinsPolicy,
    GittinsPolicy,
    finite_horizon_gittins_index,
    gittins_index,
    gittins_table,
)

__all__ = [
    "UCB1",
    "BanditPolicy",
    "BayesOptimalPolicy",
    "BayesUCB",
    "BernoulliBanditDP",
    "BernoulliPolicy",
    "FiniteHorizonGittinsPolicy",
    "GaussianGittinsPolicy",
    "GaussianGreedy",
    "GaussianPolicy",
    "GaussianThompsonSampling",
    "GaussianUCB",
    "GittinsPolicy",
    "GreedyPolicy",
    "RandomPolicy",
    "ThompsonSampling",
    "bayes_optimal_value",
    "finite_horizon_gittins_index",
    "gittins_index",
    "gittins_table",
    "normal_gittins_index",
]
