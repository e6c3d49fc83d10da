"""Bandit references: the exact Bayes-optimal policy of Bernoulli bandits (``bayes.bandits.dp``).

Every policy is a batched :class:`bayes.statemachine.StateMachine` whose output is the action
probabilities, with ties broken uniformly at random.
"""

from bayes.bandits.dp import BayesOptimalPolicy, BernoulliBanditDP, bayes_optimal_value

__all__ = ["BayesOptimalPolicy", "BernoulliBanditDP", "bayes_optimal_value"]
