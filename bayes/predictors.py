"""Bayes-optimal predictors: one batched state machine per task family of :mod:`bayes.models`.

``BayesPredictor(model)`` reads the prediction envs' observations (``MetaCoin-v0``,
``MetaDie-v0``, ``MetaGaussian-v0``, ``MetaExponential-v0``, ``MetaSwitchingCoin-v0``): for
scalar outcomes ``(x, seen, t / horizon)`` where ``seen`` is 1 once an outcome has been observed, for
categorical outcomes the one-hot outcome (all zero at reset) and ``t / horizon``. Its state is
the model's sufficient statistics, flattened to ``(B, d)``; its output the exact posterior
predictive parameters ``(B, P)``, the Bayes-optimal action of those envs.

=======================  ========================  ==========================
family                   state                     output
=======================  ========================  ==========================
Beta-Bernoulli           (successes, failures)     ``(p,)``
Dirichlet-Categorical    counts ``(K,)``           probabilities ``(K,)``
Normal, known noise      ``(n, sum x)``            ``(mean, std)``
Gamma-Exponential        ``(n, sum x)``            Lomax ``(shape, scale)``
Switching Beta-Bern.     ``2 (T + 1)``: see below  ``(p,)``
=======================  ========================  ==========================

The switching coin (:class:`bayes.switching.SwitchingBetaBernoulli`, ``MetaSwitchingCoin-v0``)
has no fixed-size sufficient statistics for all horizons; for a horizon ``T`` its exact state is
the run-length posterior: ``w(0..T)``, the probability of each run length (flips since the last
change), then ``s(0..T)``, the ones among the last ``r`` flips, so ``2 (T + 1)`` numbers, updated in
:math:`O(T)` per step. Build the predictor from the model of the env (``env.unwrapped.model``),
whose ``max_run_length`` is the env's horizon, or from ``model.for_horizon(T)``.
"""

from __future__ import annotations

import numpy as np

from bayes.models import ConjugateModel

__all__ = ["BayesPredictor"]


class BayesPredictor:
    """The exact Bayes predictor of ``model`` (one task per episode: ``batch_shape == ()``)."""

    def __init__(self, model: ConjugateModel) -> None:
        if not isinstance(model, ConjugateModel):
            raise TypeError(f"model must be a bayes.models.ConjugateModel, got {type(model).__name__}")
        if getattr(model, "batch_shape", ()) != ():
            raise ValueError(f"model must describe one task per episode (batch_shape ()), got {model.batch_shape}")
        self.model = model
        self.categorical = bool(np.issubdtype(model.outcome_dtype, np.integer))
        self.state_size = int(np.prod(model.stats_shape))
        self.output_size = int(np.prod(model.predictive_shape))
        self.obs_size = model.predictive_shape[-1] + 1 if self.categorical else 3

    def initial_state(self, batch_size: int) -> np.ndarray:
        return self.model.initial_stats(batch_size).reshape(batch_size, self.state_size)

    def step(self, state: np.ndarray, observation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        state = np.asarray(state, dtype=np.float64)
        observation = np.asarray(observation, dtype=np.float64)
        n = len(state)
        if state.shape != (n, self.state_size):
            raise ValueError(f"state must have shape (batch, {self.state_size}), got {state.shape}")
        if observation.shape != (n, self.obs_size):
            raise ValueError(f"observation must have shape ({n}, {self.obs_size}), got {observation.shape}")
        stats = state.reshape(n, *self.model.stats_shape)
        if self.categorical:
            seen = observation[:, :-1].sum(axis=1) > 0
            x = np.argmax(observation[:, :-1], axis=1)
        else:
            seen = observation[:, 1] > 0
            x = observation[:, 0]
        if seen.any():
            stats = stats.copy()
            stats[seen] = self.model.update(stats[seen], x[seen])
        output = self.model.predictive(stats).reshape(n, self.output_size)
        return stats.reshape(n, self.state_size), output

    def project_state(self, state: np.ndarray) -> np.ndarray:
        """The nearest valid state (for states a regressor produced, as in :mod:`bayes.simulation`):
        counts (Beta, Dirichlet), the number of outcomes ``n`` and, for exponential outcomes,
        their sum clipped at 0; a normal model's sum may be any number. A model with its own
        projection (``model.project_stats``, e.g. the switching coin's run-length probabilities
        clipped at 0 and renormalised, its successes clipped to ``[0, r]``) uses it."""
        state = np.array(state, dtype=np.float64)
        project = getattr(self.model, "project_stats", None)
        if project is not None:
            n = len(state)
            stats = project(state.reshape(n, *self.model.stats_shape))
            return np.asarray(stats, dtype=np.float64).reshape(n, self.state_size)
        if self.model.family == "normal-known-noise":
            state[:, 0] = np.maximum(state[:, 0], 0.0)
            return state
        return np.maximum(state, 0.0)

    def encode_state(self, state: np.ndarray) -> np.ndarray:
        """The coordinates that the regressors of :mod:`bayes.simulation` read and produce: the
        state itself, except for exponential outcomes, whose sum ``s`` becomes ``log(1 + s / b)``
        (``b`` the prior rate), the log of the Lomax scale ``b + s`` over its prior value. The sum
        of heavy-tailed outcomes spans orders of magnitude (Lomax(1, 1) outcomes have no mean), so
        in raw units a least-squares fit is dominated by a few huge sums and misses the typical
        small ones by far more than their size; the predictive depends on the sum through
        ``log(b + s)``, which is what these coordinates make the regressor fit."""
        state = np.array(state, dtype=np.float64)
        if self.model.family == "gamma-exponential":
            state[:, 1] = np.log1p(np.maximum(state[:, 1], 0.0) / float(self.model.rate))
        return state

    def decode_state(self, coordinates: np.ndarray) -> np.ndarray:
        """The inverse of :meth:`encode_state` (a decoded sum may be negative: see :meth:`project_state`)."""
        state = np.array(coordinates, dtype=np.float64)
        if self.model.family == "gamma-exponential":
            log_rate = np.log(float(self.model.rate))
            state[:, 1] = np.exp(np.minimum(state[:, 1] + log_rate, 700.0)) - np.exp(log_rate)
        return state

    def __repr__(self) -> str:
        return f"BayesPredictor({self.model!r})"
