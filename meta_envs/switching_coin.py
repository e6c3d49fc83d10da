"""``MetaSwitchingCoin-v0``: predict the flips of a coin whose bias may change before any flip."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode

from bayes.switching import SwitchingBetaBernoulli
from meta_envs.coin import COIN_PRIORS
from meta_envs.core import MetaEnv, MetaVectorEnv
from meta_envs.dynamics import PredictionDynamics
from meta_envs.validation import (
    DEFAULT_LOG_PROB_FLOOR,
    check_hazard,
    check_horizon,
    check_log_prob_floor,
    check_pair,
)

__all__ = ["MetaSwitchingCoinEnv", "MetaSwitchingCoinVectorEnv", "switching_coin_prediction"]


def switching_coin_prediction(
    horizon: int = 20, prior: Any = "uniform", hazard: float = 0.1, log_prob_floor: float = DEFAULT_LOG_PROB_FLOOR
) -> PredictionDynamics:
    """The dynamics of ``MetaSwitchingCoin-v0``, arguments validated (``ValueError`` naming them)
    before anything is built."""
    horizon = check_horizon(horizon)
    if isinstance(prior, str):
        if prior not in COIN_PRIORS:
            raise ValueError(f"prior must be an (alpha, beta) pair or one of {sorted(COIN_PRIORS)}, got {prior!r}")
        prior = COIN_PRIORS[prior]
    alpha, beta = check_pair(prior, "prior", ("alpha", "beta"), positive=(True, True))
    hazard = check_hazard(hazard)
    floor = check_log_prob_floor(log_prob_floor)
    return PredictionDynamics(
        SwitchingBetaBernoulli(alpha, beta, hazard, max_run_length=horizon),
        horizon,
        action_space=spaces.Box(0.0, 1.0, shape=(1,), dtype=np.float32),
        outcome_low=0.0,
        outcome_high=1.0,
        log_prob_floor=floor,
    )


class MetaSwitchingCoinEnv(MetaEnv):
    """Sequential prediction of coin flips; the coin's bias is re-drawn from a Beta prior with
    probability ``hazard`` before every flip (a change point), so the predictor must track it.

    Each episode draws a bias :math:`\\theta \\sim \\mathrm{Beta}(\\alpha, \\beta)`. Before every flip,
    with probability ``hazard`` :math:`h` (independently of everything else), the bias is replaced
    by a fresh draw from the same prior. At every step the agent states the probability :math:`q`
    that the next flip is 1; the coin is flipped and the reward is the log-probability the agent
    gave to the outcome. ``horizon`` predictions per episode, then ``terminated=True``.
    ``hazard=0`` is ``MetaCoin-v0`` (with the same random stream); ``hazard=1`` makes the flips
    independent with probability :math:`\\alpha / (\\alpha + \\beta)`.

    ## Action space

    ``Box(0, 1, (1,), float32)``: the predicted probability that the next outcome is 1.

    ## Observation space

    ``Box(0, 1, (3,), float32)``, all zeros at reset (as ``MetaCoin-v0``):

    =====  ===========================================================
    index  meaning
    =====  ===========================================================
    0      the last outcome (0 or 1)
    1      1 once an outcome has been observed (0 at reset: no outcome yet)
    2      elapsed fraction ``t / horizon``
    =====  ===========================================================

    ## Rewards

    :math:`r_t = \\max(\\log q(x_t), \\text{log\\_prob\\_floor})` with :math:`q(1) = a`,
    :math:`q(0) = 1 - a`. The Bayes predictor, which maximises the expected return, mixes the
    Beta posteriors of every run length :math:`r` (flips since the last change):
    :math:`q = (1 - h) \\sum_r w(r) (\\alpha + s_r) / (\\alpha + \\beta + r) + h \\alpha / (\\alpha + \\beta)`,
    with :math:`w(r)` the posterior probability of run length ``r`` and :math:`s_r` the ones
    among the last ``r`` flips (:mod:`bayes.switching` has the exact recursion, :math:`O(t)` per step).

    ## Info

    - ``info["task"]``: the current bias :math:`\\theta_t`, the one that produced the last flip
      (the bias drawn at reset before the first flip);
    - ``info["posterior"]``: ``(horizon + 1, 3)``, row ``r`` holding the posterior probability
      of run length ``r`` and the Beta posterior ``(alpha + s_r, beta + r - s_r)`` of the
      current bias given it (at reset: run length 0 with probability 1 and the prior).

    ## Arguments

    - ``horizon`` (default 20): predictions per episode, ``>= 1``;
    - ``prior`` (default ``"uniform"``): an ``(alpha, beta)`` pair, or ``"uniform"`` (1, 1),
      ``"fair"`` (20, 20, biases near 0.5) or ``"bent"`` (0.2, 0.2, biases near 0 or 1);
    - ``hazard`` (default 0.1): the probability of a change before each flip, in [0, 1];
    - ``log_prob_floor`` (default -50): the lowest reward of one prediction, ``<= 0``;
    - ``render_mode``: ``None``, ``"ansi"``, ``"human"`` (text) or ``"rgb_array"`` (a picture of
      the belief: the mixture's mean and std of the current bias, and the bias itself).
    """

    def __init__(
        self,
        horizon: int = 20,
        prior: Any = "uniform",
        hazard: float = 0.1,
        log_prob_floor: float = DEFAULT_LOG_PROB_FLOOR,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(switching_coin_prediction(horizon, prior, hazard, log_prob_floor), render_mode=render_mode)


class MetaSwitchingCoinVectorEnv(MetaVectorEnv):
    """``num_envs`` episodes of :class:`MetaSwitchingCoinEnv` stepped together with numpy.

    Arguments as :class:`MetaSwitchingCoinEnv` (``render_mode``: ``None``, ``"rgb_array"`` or
    ``"ansi"``), plus ``num_envs`` (sub-environments), ``autoreset_mode`` (a Gymnasium
    ``AutoresetMode``, default ``NEXT_STEP``) and ``max_episode_steps`` (``None`` or an int
    ``>= 1``: truncate each episode at that step, as ``TimeLimit``); see
    :class:`meta_envs.core.MetaVectorEnv` for these, seeding and rendering. Actions: float array
    ``(num_envs, 1)``. Each step costs :math:`O(\\text{horizon})` per sub-environment (the
    run-length posterior), against :math:`O(1)` for ``MetaCoin-v0``.
    """

    def __init__(
        self,
        num_envs: int = 1,
        horizon: int = 20,
        prior: Any = "uniform",
        hazard: float = 0.1,
        log_prob_floor: float = DEFAULT_LOG_PROB_FLOOR,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        render_mode: str | None = None,
        max_episode_steps: int | None = None,
    ) -> None:
        dynamics = switching_coin_prediction(horizon, prior, hazard, log_prob_floor)
        super().__init__(dynamics, num_envs, autoreset_mode, render_mode, max_episode_steps)
