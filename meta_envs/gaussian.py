"""``MetaGaussian-v0``: predict normal outcomes whose mean is re-drawn every episode."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode

from bayes.models import NormalKnownNoise, positive_array
from bayes.validation import FLOAT32_LIMIT, normal_task_range
from meta_envs.core import MetaEnv, MetaVectorEnv
from meta_envs.dynamics import PredictionDynamics
from meta_envs.validation import (
    DEFAULT_LOG_PROB_FLOOR,
    NORMAL_SPAN,
    check_horizon,
    check_log_prob_floor,
    check_normal_fits_float32,
    check_pair,
)

__all__ = ["MetaGaussianEnv", "MetaGaussianVectorEnv", "gaussian_prediction"]


def gaussian_prediction(
    horizon: int = 20,
    prior: Any = (0.0, 1.0),
    noise_std: float = 1.0,
    log_prob_floor: float = DEFAULT_LOG_PROB_FLOOR,
) -> PredictionDynamics:
    """The dynamics of ``MetaGaussian-v0``, arguments validated (``ValueError`` naming them)."""
    horizon = check_horizon(horizon)
    mean, std = check_pair(prior, "prior", ("mean", "std"), positive=(False, True))
    noise = positive_array(noise_std, "noise_std")
    if noise.shape != ():
        raise ValueError(f"noise_std must be one positive number, got shape {noise.shape}")
    model = NormalKnownNoise(mean, std, float(noise))
    check_normal_fits_float32(model.prior_mean, model.prior_std, model.noise_std)
    # The Bayes predictive mean stays within NORMAL_SPAN stds of the prior mean and its std
    # between noise_std and the prior predictive std, except with probability below 1e-500.
    reach = NORMAL_SPAN * (std + float(noise))
    return PredictionDynamics(
        model,
        horizon,
        action_space=spaces.Box(
            low=np.array([mean - reach, 0.0], dtype=np.float32),
            high=np.array([mean + reach, NORMAL_SPAN * np.hypot(std, float(noise))], dtype=np.float32),
            dtype=np.float32,
        ),
        outcome_low=-FLOAT32_LIMIT,
        outcome_high=FLOAT32_LIMIT,
        log_prob_floor=check_log_prob_floor(log_prob_floor),
        task_range=normal_task_range(float(noise)),
    )


class MetaGaussianEnv(MetaEnv):
    """Sequential prediction of normal outcomes whose mean is drawn from a normal prior at reset.

    Each episode draws :math:`\\mu \\sim N(m_0, s_0^2)`; outcomes are :math:`x \\sim N(\\mu, \\sigma^2)`
    with the known ``noise_std`` :math:`\\sigma`. At every step the agent states a normal
    predictive distribution for the next outcome; the reward is its log-density there.
    ``horizon`` predictions per episode, then ``terminated=True``.

    ## Action space

    ``Box(low=(m_0 - R, 0), high=(m_0 + R, 50 sqrt(s_0^2 + sigma^2)), float32)`` with
    ``R = 50 (s_0 + sigma)``: the predicted ``(mean, std)``. The Bayes predictive is normal
    and lies inside this box except with probability below 1e-500, so a perfect agent can match
    it exactly; finite, prior-scaled bounds let agents that rescale actions (SAC, TD3,
    ``RescaleAction``) work out of the box.

    ## Observation space

    ``Box((3,), float32)``, all zeros at reset:

    =====  ====================================================  ==========
    index  meaning                                               bounds
    =====  ====================================================  ==========
    0      the last outcome                                      [-L, L]
    1      1 once an outcome has been observed (0 at reset)      [0, 1]
    2      elapsed fraction ``t / horizon``                      [0, 1]
    =====  ====================================================  ==========

    ``L = F / 4``, a quarter of the largest float32 (:data:`bayes.validation.FLOAT32_LIMIT`): the
    prior and any given task are checked so that outcomes stay inside (with probability above
    1 - 1e-9 per episode); an outcome beyond would be observed clipped to the bound.

    ## Rewards

    :math:`r_t = \\max(\\log N(x_t; m, s), \\text{log\\_prob\\_floor})`. A zero std (the edge of the
    action space) earns ``log_prob_floor`` instead of ``-inf`` or NaN.

    ## Info

    - ``info["task"]``: the mean :math:`\\mu` (a float);
    - ``info["posterior"]``: ``(mean, std)`` of the normal posterior on :math:`\\mu` after the
      outcomes so far (the prior at reset).

    ## Arguments

    - ``horizon`` (default 20): predictions per episode, ``>= 1``;
    - ``prior`` (default ``(0.0, 1.0)``): ``(mean, std)`` of the prior on :math:`\\mu`;
    - ``noise_std`` (default 1.0): the known outcome noise :math:`\\sigma > 0`;
    - ``log_prob_floor`` (default -50): the lowest reward of one prediction, ``<= 0``;
    - ``render_mode``: ``None``, ``"ansi"``, ``"human"`` (text) or ``"rgb_array"`` (a picture of the belief).
    """

    def __init__(
        self,
        horizon: int = 20,
        prior: Any = (0.0, 1.0),
        noise_std: float = 1.0,
        log_prob_floor: float = DEFAULT_LOG_PROB_FLOOR,
        render_mode: str | None = None,
    ) -> None:
        dynamics = gaussian_prediction(horizon, prior, noise_std, log_prob_floor)
        super().__init__(dynamics, render_mode=render_mode)


class MetaGaussianVectorEnv(MetaVectorEnv):
    """``num_envs`` episodes of :class:`MetaGaussianEnv` stepped together with numpy.

    Arguments as :class:`MetaGaussianEnv` (``render_mode``: ``None``, ``"rgb_array"`` or ``"ansi"``),
    plus ``num_envs`` (sub-environments), ``autoreset_mode`` (a Gymnasium ``AutoresetMode``,
    default ``NEXT_STEP``) and ``max_episode_steps`` (``None`` or an int ``>= 1``: truncate
    each episode at that step, as ``TimeLimit``); see :class:`meta_envs.core.MetaVectorEnv`
    for these, seeding and rendering. Actions: float array ``(num_envs, 2)``.
    """

    def __init__(
        self,
        num_envs: int = 1,
        horizon: int = 20,
        prior: Any = (0.0, 1.0),
        noise_std: float = 1.0,
        log_prob_floor: float = DEFAULT_LOG_PROB_FLOOR,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        render_mode: str | None = None,
        max_episode_steps: int | None = None,
    ) -> None:
        dynamics = gaussian_prediction(horizon, prior, noise_std, log_prob_floor)
        super().__init__(dynamics, num_envs, autoreset_mode, render_mode, max_episode_steps)
