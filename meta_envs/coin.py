"""``MetaCoin-v0``: predict the flips of a coin whose bias is re-drawn every episode."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode

from bayes.models import BetaBernoulli
from meta_envs.core import MetaEnv, MetaVectorEnv
from meta_envs.dynamics import PredictionDynamics
from meta_envs.validation import DEFAULT_LOG_PROB_FLOOR, check_horizon, check_log_prob_floor, check_pair

__all__ = ["COIN_PRIORS", "MetaCoinEnv", "MetaCoinVectorEnv", "coin_prediction"]

#: Named Beta priors on the coin's bias.
COIN_PRIORS: dict[str, tuple[float, float]] = {
    "uniform": (1.0, 1.0),  # every bias equally likely
    "fair": (20.0, 20.0),  # biases concentrated near 0.5 (std 0.078)
    "bent": (0.2, 0.2),  # biases near 0 or 1
}


def coin_prediction(
    horizon: int = 20, prior: Any = "uniform", log_prob_floor: float = DEFAULT_LOG_PROB_FLOOR
) -> PredictionDynamics:
    """The dynamics of ``MetaCoin-v0``, arguments validated (``ValueError`` naming them)."""
    horizon = check_horizon(horizon)
    if isinstance(prior, str):
        if prior not in COIN_PRIORS:
            raise ValueError(f"prior must be an (alpha, beta) pair or one of {sorted(COIN_PRIORS)}, got {prior!r}")
        prior = COIN_PRIORS[prior]
    alpha, beta = check_pair(prior, "prior", ("alpha", "beta"), positive=(True, True))
    return PredictionDynamics(
        BetaBernoulli(alpha, beta),
        horizon,
        action_space=spaces.Box(0.0, 1.0, shape=(1,), dtype=np.float32),
        outcome_low=0.0,
        outcome_high=1.0,
        log_prob_floor=check_log_prob_floor(log_prob_floor),
    )


class MetaCoinEnv(MetaEnv):
    """Sequential prediction of coin flips; the coin's bias is drawn from a Beta prior at reset.

    Each episode draws a bias :math:`\\theta \\sim \\mathrm{Beta}(\\alpha, \\beta)`. At every step the
    agent states the probability :math:`q` that the next flip is 1; the coin is flipped and
    the reward is the log-probability the agent gave to the outcome. ``horizon`` predictions
    per episode, then ``terminated=True``.

    ## Action space

    ``Box(0, 1, (1,), float32)``: the predicted probability that the next outcome is 1.

    ## Observation space

    ``Box(0, 1, (3,), float32)``, all zeros at reset:

    =====  ===========================================================
    index  meaning
    =====  ===========================================================
    0      the last outcome (0 or 1)
    1      1 once an outcome has been observed (0 at reset: no outcome yet)
    2      elapsed fraction ``t / horizon``
    =====  ===========================================================

    ## Rewards

    :math:`r_t = \\max(\\log q(x_t), \\text{log\\_prob\\_floor})` with :math:`q(1) = a`,
    :math:`q(0) = 1 - a`. The floor bounds the log-loss: a prediction of exactly 0 or 1 that
    turns out wrong earns ``log_prob_floor`` instead of ``-inf``, so RL clients that clip
    their actions to the bounds never see an infinite or NaN reward. The Bayes predictor
    :math:`(\\alpha + s) / (\\alpha + \\beta + n)` maximises the expected return.

    ## Info

    - ``info["task"]``: the bias :math:`\\theta` (a float);
    - ``info["posterior"]``: ``(alpha, beta)`` of the Beta posterior after the outcomes so
      far (the prior at reset).

    ## Arguments

    - ``horizon`` (default 20): predictions per episode, ``>= 1``;
    - ``prior`` (default ``"uniform"``): an ``(alpha, beta)`` pair, or ``"uniform"`` (1, 1),
      ``"fair"`` (20, 20, biases near 0.5) or ``"bent"`` (0.2, 0.2, biases near 0 or 1);
    - ``log_prob_floor`` (default -50): the lowest reward of one prediction, ``<= 0``;
    - ``render_mode``: ``None``, ``"ansi"``, ``"human"`` (text) or ``"rgb_array"`` (a picture of the belief).
    """

    def __init__(
        self,
        horizon: int = 20,
        prior: Any = "uniform",
        log_prob_floor: float = DEFAULT_LOG_PROB_FLOOR,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(coin_prediction(horizon, prior, log_prob_floor), render_mode=render_mode)


class MetaCoinVectorEnv(MetaVectorEnv):
    """``num_envs`` episodes of :class:`MetaCoinEnv` stepped together with numpy.

    Arguments as :class:`MetaCoinEnv` (``render_mode``: ``None``, ``"rgb_array"`` or ``"ansi"``),
    plus ``num_envs`` (sub-environments), ``autoreset_mode`` (a Gymnasium ``AutoresetMode``,
    default ``NEXT_STEP``) and ``max_episode_steps`` (``None`` or an int ``>= 1``: truncate
    each episode at that step, as ``TimeLimit``); see :class:`meta_envs.core.MetaVectorEnv`
    for these, seeding and rendering. Actions: float array ``(num_envs, 1)``.
    """

    def __init__(
        self,
        num_envs: int = 1,
        horizon: int = 20,
        prior: Any = "uniform",
        log_prob_floor: float = DEFAULT_LOG_PROB_FLOOR,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        render_mode: str | None = None,
        max_episode_steps: int | None = None,
    ) -> None:
        dynamics = coin_prediction(horizon, prior, log_prob_floor)
        super().__init__(dynamics, num_envs, autoreset_mode, render_mode, max_episode_steps)
