"""Bandit references: the exact Bayes-optimal policy, Gittins indices and classic baselines.

Every policy is a batched :class:`bayes.statemachine.StateMachine` whose output is the action
probabilities, with ties broken uniformly at random:

- :mod:`bayes.bandits.dp`: the exact finite-horizon Bayes-optimal policy of Bernoulli bandits;
- :mod:`bayes.bandits.baselines`: random, greedy, Thompson sampling, UCB1, Bayes-UCB.
"""

from bayes.bandits.base import BanditPolicy, BernoulliPolicy, GaussianPolicy
from bayes.bandits.baselines import UCB1, BayesUCB, GreedyPolicy, RandomPolicy, ThompsonSampling
from bayes.bandits.dp import BayesOptimalPolicy, BernoulliBanditDP, bayes_optimal_value

__all__ = [
    "UCB1",
    "BanditPolicy",
    "BayesOptimalPolicy",
    "BayesUCB",
    "BernoulliBanditDP",
    "BernoulliPolicy",
    "GaussianPolicy",
    "GreedyPolicy",
    "RandomPolicy",
    "ThompsonSampling",
    "bayes_optimal_value",
]
