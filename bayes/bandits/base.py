"""What every bandit policy of ``bayes.bandits`` shares: belief counts and batched acting.

A :class:`BanditPolicy` is a :class:`~bayes.statemachine.StateMachine` whose state is the
sufficient statistics of the arms seen so far, two numbers per arm, ``(B, 2K)``:

- Bernoulli arms (:class:`BernoulliPolicy`): the success counts of the ``K`` arms, then their
  failure counts;
- normal arms (:class:`GaussianPolicy`): the pull counts, then the sums of the rewards.

``step(state, observation)`` takes the ``MetaBandit-v0`` / ``MetaGaussianBandit-v0``
observation ``(B, K + 2)`` (one-hot previous action, previous reward, elapsed fraction; all
zeros at reset) into the state and returns the action probabilities ``(B, K)``.

``sample_actions(state, rng)`` draws one action per row. By default it samples the action
probabilities with :func:`bayes.sampling.sample_categorical` (importable from here too); a
policy whose probabilities are costly (Thompson sampling) overrides it with an equivalent,
cheaper draw. Ties are broken uniformly at random everywhere.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from bayes.models import NormalKnownNoise
from bayes.sampling import sample_categorical
from bayes.validation import check_int, per_arm_pairs, per_arm_values

__all__ = [
    "BanditPolicy",
    "BernoulliPolicy",
    "GaussianPolicy",
    "argmax_probabilities",
    "check_bandit_prior",
    "normal_arms_model",
    "sample_categorical",
]

#: Scores closer than this (relative) count as a tie, broken uniformly at random.
TIE_TOLERANCE = 1e-12


def argmax_probabilities(values: np.ndarray, tolerance: float = TIE_TOLERANCE) -> np.ndarray:
    """Uniform probabilities over the maximal entries of each row (relative ``tolerance``)."""
    best = values.max(axis=1, keepdims=True)
    if np.isnan(best).any():
        raise ValueError("scores must not be NaN")
    finite = np.isfinite(best)
    margin = tolerance * np.maximum(1.0, np.abs(np.where(finite, best, 0.0)))
    ties = values >= np.where(finite, best - margin, best)  # an infinite best ties only with itself
    return ties / ties.sum(axis=1, keepdims=True)


def check_bandit_prior(prior: Any, n_arms: int) -> np.ndarray:
    """``prior`` as a ``(n_arms, 2)`` array of Beta parameters: one pair, or one pair per arm."""
    return per_arm_pairs(prior, n_arms, "prior", ("alpha", "beta"), positive=(True, True))


def normal_arms_model(n_arms: int, prior: Any, noise_std: Any) -> NormalKnownNoise:
    """Normal arms of known noise: ``prior`` one ``(mean, std)`` pair or one per arm, ``noise_std``
    one number or one per arm; ``ValueError`` naming the argument otherwise."""
    pairs = per_arm_pairs(prior, n_arms, "prior", ("mean", "std"), positive=(False, True))
    noise = per_arm_values(noise_std, n_arms, "noise_std")
    return NormalKnownNoise(pairs[:, 0], pairs[:, 1], noise)  # validates the ranges


class BanditPolicy(ABC):
    """A batched bandit policy over ``n_arms`` arms (see the module docstring)."""

    def __init__(self, n_arms: int) -> None:
        self.n_arms = check_int(n_arms, "n_arms", 1)

    def initial_state(self, batch_size: int) -> np.ndarray:
        return np.zeros((check_int(batch_size, "batch_size", 0), 2 * self.n_arms), dtype=np.float64)

    def update(self, state: np.ndarray, observation: np.ndarray) -> np.ndarray:
        """The statistics after ``observation`` (a new array; ``state`` is not changed)."""
        state = np.asarray(state, dtype=np.float64)
        observation = np.asarray(observation, dtype=np.float64)
        k = self.n_arms
        if state.ndim != 2 or state.shape[1] != 2 * k:
            raise ValueError(f"state must have shape (batch, {2 * k}), got {state.shape}")
        if observation.shape != (len(state), k + 2):
            raise ValueError(f"observation must have shape ({len(state)}, {k + 2}), got {observation.shape}")
        pulled = observation[:, :k]  # one-hot of the previous action, all zero at reset
        reward = observation[:, k : k + 1]
        return state + np.concatenate(self._increments(pulled, reward), axis=1)

    @abstractmethod
    def _increments(self, pulled: np.ndarray, reward: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """What the pulled arm's reward adds to the two halves of the state."""

    @abstractmethod
    def action_probabilities(self, state: np.ndarray) -> np.ndarray:
        """``(B, K)`` probabilities of the next action given the statistics in ``state``."""

    def step(self, state: np.ndarray, observation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        new_state = self.update(state, observation)
        return new_state, self.action_probabilities(new_state)

    def sample_actions(self, state: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One action per row given ``state`` (already updated): ``(B,)`` int64."""
        return sample_categorical(self.action_probabilities(state), rng)

    def counts(self, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The two halves of the state, ``(B, K)`` each."""
        state = np.asarray(state, dtype=np.float64)
        return state[:, : self.n_arms], state[:, self.n_arms :]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_arms={self.n_arms})"


class BernoulliPolicy(BanditPolicy):
    """A policy for Bernoulli arms with Beta priors: state = (successes, failures).

    ``prior``: one ``(alpha, beta)`` pair for all arms or one pair per arm.
    """

    def __init__(self, n_arms: int = 2, prior: Any = (1.0, 1.0)) -> None:
        super().__init__(n_arms)
        self.prior = check_bandit_prior(prior, self.n_arms)

    def _increments(self, pulled: np.ndarray, reward: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return pulled * reward, pulled * (1.0 - reward)

    def project_state(self, state: np.ndarray) -> np.ndarray:
        """The nearest valid state: counts rounded to non-negative integers (for states that a
        regressor produced, as in :mod:`bayes.simulation`)."""
        return np.maximum(np.rint(np.asarray(state, dtype=np.float64)), 0.0)

    def posterior(self, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Beta posterior parameters ``(alpha, beta)``, each ``(B, K)``."""
        successes, failures = self.counts(state)
        return self.prior[:, 0] + successes, self.prior[:, 1] + failures


class GaussianPolicy(BanditPolicy):
    """A policy for normal arms of known noise with normal priors: state = (counts, sums).

    ``prior``: one ``(mean, std)`` pair for all arms or one per arm; ``noise_std``: one number
    or one per arm.
    """

    def __init__(self, n_arms: int = 2, prior: Any = (0.0, 1.0), noise_std: Any = 1.0) -> None:
        super().__init__(n_arms)
        self.model = normal_arms_model(self.n_arms, prior, noise_std)

    def _increments(self, pulled: np.ndarray, reward: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return pulled, pulled * reward

    def project_state(self, state: np.ndarray) -> np.ndarray:
        """The nearest valid state: pull counts rounded to non-negative integers, sums kept."""
        state = np.array(state, dtype=np.float64)
        state[:, : self.n_arms] = np.maximum(np.rint(state[:, : self.n_arms]), 0.0)
        return state

    def posterior(self, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Normal posterior ``(mean, std)`` of each arm's mean, each ``(B, K)``."""
        n, total = self.counts(state)
        moments = self.model.posterior(np.stack([n, total], axis=-1))
        return moments[..., 0], moments[..., 1]
