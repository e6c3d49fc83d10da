"""Batched episode dynamics: the one implementation behind each single and vector env.

An env family is a conjugate task model (:mod:`bayes.models`) plus the way an agent interacts
with it. The dynamics act on arrays with a leading batch axis ``B`` (one row per episode), so
the single env is the case ``B = 1`` and the native vector env steps ``B = num_envs``
episodes with the same numpy operations.

Episode state, per row: the latent ``task`` (``(B, *task_shape)``), the sufficient statistics
of what was observed (``(B, *stats_shape)``) and the number of steps taken ``t`` (``(B,)``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import numpy as np
from gymnasium import spaces

from bayes.models import ConjugateModel, row_index
from meta_envs.validation import ActionChecker

__all__ = ["BanditDynamics", "EpisodeDynamics", "PredictionDynamics", "floored"]


def floored(log_prob: np.ndarray, floor: float) -> np.ndarray:
    """``max(log_prob, floor)``, with NaN and infinities also mapped to ``floor``."""
    return np.where(np.isfinite(log_prob), np.maximum(log_prob, floor), floor)


class EpisodeDynamics(ABC):
    """What happens in a batch of episodes of one env family.

    ``transition`` draws from the generator it is given and returns new arrays; the caller
    owns the episode state.
    """

    def __init__(
        self,
        model: ConjugateModel,
        horizon: int,
        observation_space: spaces.Box,
        action_space: spaces.Space,
        task_range: Callable[[np.ndarray, str], None] | None = None,
    ) -> None:
        self.model = model
        self.horizon = horizon
        self.observation_space = observation_space
        self.action_space = action_space
        self.check_actions = ActionChecker(action_space)
        self._task_range = task_range

    def check_task(self, task: Any, name: str = 'options["task"]') -> np.ndarray:
        """A given task (or one per row) as the model checks it (:meth:`ConjugateModel.check_task`:
        shape and parameter domain), then against the float range the env's observations need
        (``task_range``, from :mod:`bayes.validation`: e.g. a normal mean whose outcomes fit
        float32); ``ValueError`` naming ``name`` otherwise."""
        array = self.model.check_task(task, name=name)
        if self._task_range is not None:
            self._task_range(array, name)
        return array

    def new_tasks(self, rng: np.random.Generator, n: int, task: Any = None) -> np.ndarray:
        """Tasks for ``n`` new episodes: drawn from the prior, or ``task`` broadcast to ``n`` rows."""
        if task is None:
            return self.model.sample_task(rng, n)
        array = self.check_task(task)
        if array.ndim > len(self.model.task_shape) and array.shape[0] != n:
            raise ValueError(f'options["task"] has {array.shape[0]} rows for {n} episodes')
        return np.array(np.broadcast_to(array, (n, *self.model.task_shape)))

    def initial_observation(self, n: int) -> np.ndarray:
        """The observation at reset: zeros ``(n, obs_dim)`` (no previous step, no time elapsed)."""
        return np.zeros((n, *self.observation_space.shape), dtype=np.float32)

    @abstractmethod
    def transition(
        self,
        rng: np.random.Generator,
        task: np.ndarray,
        stats: np.ndarray,
        t: np.ndarray,
        actions: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One step of ``B`` episodes: returns ``(stats, observation, reward)``.

        ``t`` holds the number of steps taken *including* this one, ``actions`` are validated.
        Shapes: ``stats`` as given, observation ``(B, obs_dim)`` float32, reward ``(B,)`` float64.
        """

    def info(self, task: np.ndarray, stats: np.ndarray) -> dict[str, np.ndarray]:
        """``{"task": latent parameters, "posterior": posterior parameters}``, batched."""
        return {"task": task.copy(), "posterior": self.model.posterior(stats)}

    def describe(self, action: np.ndarray, reward: float) -> str:
        """One line for text rendering of a step."""
        return f"action={np.array2string(np.asarray(action), precision=3)} reward={reward:.4g}"


class BanditDynamics(EpisodeDynamics):
    """K arms whose outcome distributions are the likelihood of ``model`` (batch shape ``(K,)``).

    Every step draws one variate per episode and maps it through the pulled arm's outcome
    distribution, so the reward that arm ``k`` would pay at step ``t`` does not depend on the
    actions: two policies run with the same seed meet the same tasks and the same reward
    draws (common random numbers).

    Observation ``(K + 2,)``: one-hot previous action, previous reward, elapsed fraction
    ``t / horizon``; all zeros at reset.
    """

    def __init__(self, model: ConjugateModel, horizon: int, reward_low: float, reward_high: float,
                 task_range: Callable[[np.ndarray, str], None] | None = None) -> None:
        (n_arms,) = model.task_shape
        low = np.zeros(n_arms + 2, dtype=np.float32)
        high = np.ones(n_arms + 2, dtype=np.float32)
        low[n_arms], high[n_arms] = reward_low, reward_high
        # rewards other than 0/1 are clipped into the declared bounds as they are observed (never in
        # practice: bayes.validation keeps outcomes inside with probability 1 - 1e-500 for normal arms)
        self._clip = (reward_low, reward_high) if (reward_low, reward_high) != (0.0, 1.0) else None
        super().__init__(
            model,
            horizon,
            observation_space=spaces.Box(low, high, dtype=np.float32),
            action_space=spaces.Discrete(n_arms),
            task_range=task_range,
        )
        self.n_arms = n_arms

    def transition(
        self,
        rng: np.random.Generator,
        task: np.ndarray,
        stats: np.ndarray,
        t: np.ndarray,
        actions: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n_rows, k = len(actions), self.n_arms
        reward = self.model.sample_outcome(rng, task, arm=actions)  # (B,): the pulled arms only
        stats = self.model.update(stats, reward, arm=actions)
        obs = np.zeros((n_rows, k + 2), dtype=np.float32)
        flat = obs.reshape(-1)
        row_start = row_index(n_rows) * (k + 2)
        flat[row_start + actions] = 1.0
        obs[:, k] = reward if self._clip is None else np.clip(reward, *self._clip)
        obs[:, k + 1] = t / self.horizon
        return stats, obs, reward


class PredictionDynamics(EpisodeDynamics):
    """Sequential prediction: the action is a predictive distribution for the next outcome.

    The action holds the parameters of a distribution in the family of ``model``'s posterior
    predictive (see :mod:`bayes.models`); the reward is its log-probability (log-density) at
    the outcome that follows, bounded below by ``log_prob_floor``:

    .. math:: r_t = \\max(\\log q_{a_t}(x_t), \\text{floor})

    so a prediction on the edge of the action space (a probability of 0 or 1, a zero scale)
    earns the floor instead of ``-inf`` or NaN.

    Observation: for scalar outcomes ``(x, 1, t / horizon)``, the 1 marking that an outcome
    has been seen; for categorical outcomes the one-hot outcome followed by ``t / horizon``.
    All zeros at reset.
    """

    def __init__(
        self,
        model: ConjugateModel,
        horizon: int,
        action_space: spaces.Box,
        outcome_low: float,
        outcome_high: float,
        log_prob_floor: float,
        task_range: Callable[[np.ndarray, str], None] | None = None,
    ) -> None:
        self.categorical = np.issubdtype(model.outcome_dtype, np.integer)
        if self.categorical:
            (k,) = model.predictive_shape
            low, high = np.zeros(k + 1, dtype=np.float32), np.ones(k + 1, dtype=np.float32)
        else:
            low = np.array([outcome_low, 0.0, 0.0], dtype=np.float32)
            high = np.array([outcome_high, 1.0, 1.0], dtype=np.float32)
        super().__init__(model, horizon, spaces.Box(low, high, dtype=np.float32), action_space, task_range)
        self._outcome_low, self._outcome_high = float(low[0]), float(high[0])
        self.log_prob_floor = log_prob_floor

    def transition(
        self,
        rng: np.random.Generator,
        task: np.ndarray,
        stats: np.ndarray,
        t: np.ndarray,
        actions: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x = self.model.sample_outcome(rng, task)
        reward = floored(self.model.predictive_log_prob(actions, x), self.log_prob_floor)
        stats = self.model.update(stats, x)
        width = self.observation_space.shape[0]
        obs = np.zeros((len(x), width), dtype=np.float32)
        if self.categorical:  # one-hot outcome, written through flat indices (fast for short rows)
            obs.reshape(-1)[row_index(len(x)) * width + x] = 1.0
        else:  # clipped into the declared bounds: outcomes leave them with probability below 1e-9
            obs[:, 0] = np.clip(x, self._outcome_low, self._outcome_high)
            obs[:, 1] = 1.0
        obs[:, -1] = t / self.horizon
        return stats, obs, reward
