"""``MetaExponential-v0``: predict exponential outcomes whose rate is re-drawn every episode."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode

from bayes.models import GammaExponential
from meta_envs.core import MetaEnv, MetaVectorEnv
from meta_envs.dynamics import PredictionDynamics
from meta_envs.validation import ACTION_LIMIT, DEFAULT_LOG_PROB_FLOOR, check_int, check_log_prob_floor, check_pair

#: The largest probability, per episode, that the Bayes predictive's scale leaves the action box.
MAX_OVERFLOW = 1e-9

__all__ = ["MetaExponentialEnv", "MetaExponentialVectorEnv", "exponential_prediction"]


def exponential_prediction(
    horizon: int = 20, prior: Any = (1.0, 1.0), log_prob_floor: float = DEFAULT_LOG_PROB_FLOOR
) -> PredictionDynamics:
    """The dynamics of ``MetaExponential-v0``, arguments validated (``ValueError`` naming them)."""
    horizon = check_int(horizon, "horizon", 1)
    shape, rate = check_pair(prior, "prior", ("shape", "rate"), positive=(True, True))
    _check_tail(shape, rate, horizon)
    return PredictionDynamics(
        GammaExponential(shape, rate),
        horizon,
        action_space=spaces.Box(0.0, ACTION_LIMIT, shape=(2,), dtype=np.float32),
        outcome_low=0.0,
        outcome_high=np.inf,
        log_prob_floor=check_log_prob_floor(log_prob_floor),
    )


def _check_tail(shape: float, rate: float, horizon: int) -> None:
    """Reject priors whose outcomes are too heavy-tailed for float32 observations and actions.

    Marginally an outcome is Lomax(shape, rate): :math:`P(x > y) = (b / (b + y))^a`. The sum of
    ``horizon`` outcomes exceeds ``y`` with probability about ``horizon * P(x > y / horizon)``
    (one big outcome dominates a heavy tail); that must stay below :data:`MAX_OVERFLOW` for
    ``y = ACTION_LIMIT``, the bound of the Bayes predictive's scale ``b + sum x``.
    """
    log_tail = shape * np.log1p(ACTION_LIMIT / (horizon * rate))  # -log P(x > limit / horizon)
    needed = np.log(horizon / MAX_OVERFLOW)
    if log_tail < needed:
        min_shape = needed / np.log1p(ACTION_LIMIT / (horizon * rate))
        probability = np.exp(needed - log_tail) * MAX_OVERFLOW
        raise ValueError(
            f"prior (shape={shape:g}, rate={rate:g}) is too heavy-tailed for float32: within {horizon} steps "
            f"the outcomes sum beyond {ACTION_LIMIT:.3g} with probability about {probability:.2g}; "
            f"use shape >= {min_shape:.3g} at this rate and horizon"
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
    0      the last outcome                                      [0, inf)
    1      1 once an outcome has been observed (0 at reset)      [0, 1]
    2      elapsed fraction ``t / horizon``                      [0, 1]
    =====  ====================================================  ==========

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

    Arguments as :class:`MetaExponentialEnv`, plus ``num_envs`` and ``autoreset_mode``
    (see :class:`meta_envs.core.MetaVectorEnv`). Actions: float array ``(num_envs, 2)``.
    """

    def __init__(
        self,
        num_envs: int = 1,
        horizon: int = 20,
        prior: Any = (1.0, 1.0),
        log_prob_floor: float = DEFAULT_LOG_PROB_FLOOR,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        render_mode: str | None = None,
    ) -> None:
        dynamics = exponential_prediction(horizon, prior, log_prob_floor)
        super().__init__(dynamics, num_envs, autoreset_mode, render_mode)
