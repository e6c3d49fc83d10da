"""``MetaExponential-v0``: predict exponential outcomes whose rate is re-drawn every episode."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode

from bayes.models import GammaExponential
from bayes.validation import FLOAT32_LIMIT, exponential_task_range
from meta_envs.core import MetaEnv, MetaVectorEnv
from meta_envs.dynamics import PredictionDynamics
from meta_envs.validation import (
    ACTION_LIMIT,
    DEFAULT_LOG_PROB_FLOOR,
    check_exponential_prior_fits_float32,
    check_horizon,
    check_log_prob_floor,
    check_pair,
)

__all__ = ["MetaExponentialEnv", "MetaExponentialVectorEnv", "exponential_prediction"]


def exponential_prediction(
    horizon: int = 20, prior: Any = (1.0, 1.0), log_prob_floor: float = DEFAULT_LOG_PROB_FLOOR
) -> PredictionDynamics:
    """The dynamics of ``MetaExponential-v0``, arguments validated (``ValueError`` naming them)."""
    horizon = check_horizon(horizon)
    shape, rate = check_pair(prior, "prior", ("shape", "rate"), positive=(True, True))
    check_exponential_prior_fits_float32(shape, rate, horizon)
    return PredictionDynamics(
        GammaExponential(shape, rate),
        horizon,
        action_space=spaces.Box(0.0, ACTION_LIMIT, shape=(2,), dtype=np.float32),
        outcome_low=0.0,
        outcome_high=FLOAT32_LIMIT,
        log_prob_floor=check_log_prob_floor(log_prob_floor),
        task_range=exponential_task_range(horizon),
    )


class MetaExponentialEnv(MetaEnv):
    """Sequential prediction of exponential outcomes whose rate is drawn from a Gamma prior.

    Each episode draws a rate :math:`\\lambda \\sim \\mathrm{Gamma}(a, b)` (shape ``a``, rate ``b``);
    outcomes are :math:`x \\sim \\mathrm{Exp}(\\lambda)`. At every step the agent states a Lomax
    (Pareto type II) predictive distribution, the family of the Bayes predictive; the reward
    is its log-density at the next outcome. ``horizon`` predictions per episode, then
    ``terminated=True``.

    ## Action space

    ``Box(0, F/4, (2,), float32)`` with ``F`` the largest float32: the predicted Lomax
    ``(shape, scale)``, density :math:`p(x) = \\text{shape} \\cdot \\text{scale}^{\\text{shape}} /
    (\\text{scale} + x)^{\\text{shape} + 1}`. After ``n`` outcomes summing to ``s`` the Bayes
    predictive is Lomax(``a + n``, ``b + s``).

    ## Observation space

    ``Box((3,), float32)``, all zeros at reset:

    =====  ====================================================  ==========
    index  meaning                                               bounds
    =====  ====================================================  ==========
    0      the last outcome                                      [0, L]
    1      1 once an outcome has been observed (0 at reset)      [0, 1]
    2      elapsed fraction ``t / horizon``                      [0, 1]
    =====  ====================================================  ==========

    ``L = F / 4``, a quarter of the largest float32 (:data:`bayes.validation.FLOAT32_LIMIT`): the
    prior and any given task are checked so that outcomes stay inside (with probability above
    1 - 1e-9 per episode); an outcome beyond would be observed clipped to the bound.

    ## Rewards

    :math:`r_t = \\max(\\log p(x_t), \\text{log\\_prob\\_floor})`. A zero shape or scale (the edge of
    the action space) earns ``log_prob_floor`` instead of ``-inf`` or NaN.

    ## Info

    - ``info["task"]``: the rate :math:`\\lambda` (a float);
    - ``info["posterior"]``: ``(shape, rate)`` of the Gamma posterior on :math:`\\lambda` after
      the outcomes so far (the prior at reset).

    ## Arguments

    - ``horizon`` (default 20): predictions per episode, ``>= 1``;
    - ``prior`` (default ``(1.0, 1.0)``): ``(shape, rate)`` of the Gamma prior, both positive;
      priors so heavy-tailed that the outcomes of an episode would overflow float32 with
      probability above 1e-9 are rejected (e.g. shape below about 0.3 at rate 1, horizon 20);
    - ``log_prob_floor`` (default -50): the lowest reward of one prediction, ``<= 0``;
    - ``render_mode``: ``None``, ``"ansi"``, ``"human"`` (text) or ``"rgb_array"`` (a picture of the belief).
    """

    def __init__(
        self,
        horizon: int = 20,
        prior: Any = (1.0, 1.0),
        log_prob_floor: float = DEFAULT_LOG_PROB_FLOOR,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(exponential_prediction(horizon, prior, log_prob_floor), render_mode=render_mode)


class MetaExponentialVectorEnv(MetaVectorEnv):
    """``num_envs`` episodes of :class:`MetaExponentialEnv` stepped together with numpy.

    Arguments as :class:`MetaExponentialEnv` (``render_mode``: ``None``, ``"rgb_array"`` or ``"ansi"``),
    plus ``num_envs`` (sub-environments), ``autoreset_mode`` (a Gymnasium ``AutoresetMode``,
    default ``NEXT_STEP``) and ``max_episode_steps`` (``None`` or an int ``>= 1``: truncate
    each episode at that step, as ``TimeLimit``); see :class:`meta_envs.core.MetaVectorEnv`
    for these, seeding and rendering. Actions: float array ``(num_envs, 2)``.
    """

    def __init__(
        self,
        num_envs: int = 1,
        horizon: int = 20,
        prior: Any = (1.0, 1.0),
        log_prob_floor: float = DEFAULT_LOG_PROB_FLOOR,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        render_mode: str | None = None,
        max_episode_steps: int | None = None,
    ) -> None:
        dynamics = exponential_prediction(horizon, prior, log_prob_floor)
        super().__init__(dynamics, num_envs, autoreset_mode, render_mode, max_episode_steps)
