"""``MetaDie-v0``: predict the rolls of a die whose face probabilities are re-drawn every episode."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode

from bayes.models import DirichletCategorical, positive_array
from bayes.validation import MAX_OUTCOMES, check_magnitude
from meta_envs.core import MetaEnv, MetaVectorEnv
from meta_envs.dynamics import PredictionDynamics
from meta_envs.validation import DEFAULT_LOG_PROB_FLOOR, check_horizon, check_int, check_log_prob_floor

__all__ = ["MetaDieEnv", "MetaDieVectorEnv", "die_prediction"]


def die_prediction(
    n_outcomes: int = 3, horizon: int = 20, prior: Any = 1.0, log_prob_floor: float = DEFAULT_LOG_PROB_FLOOR
) -> PredictionDynamics:
    """The dynamics of ``MetaDie-v0``, arguments validated (``ValueError`` naming them)."""
    n_outcomes = check_int(n_outcomes, "n_outcomes", 2, MAX_OUTCOMES)
    horizon = check_horizon(horizon)
    concentration = check_magnitude(positive_array(prior, "prior"), "prior")
    if concentration.shape == ():
        concentration = np.full(n_outcomes, float(concentration))
    elif concentration.shape != (n_outcomes,):
        raise ValueError(
            f"prior must be one positive concentration or one per outcome (shape ({n_outcomes},)), "
            f"got shape {concentration.shape}"
        )
    return PredictionDynamics(
        DirichletCategorical(concentration),
        horizon,
        action_space=spaces.Box(0.0, 1.0, shape=(n_outcomes,), dtype=np.float32),
        outcome_low=0.0,
        outcome_high=1.0,
        log_prob_floor=check_log_prob_floor(log_prob_floor),
    )


class MetaDieEnv(MetaEnv):
    """Sequential prediction of die rolls; the face probabilities are drawn from a Dirichlet prior.

    Each episode draws face probabilities :math:`\\theta \\sim \\mathrm{Dir}(\\alpha)` over
    ``n_outcomes`` faces. At every step the agent states a distribution over the faces; the
    die is rolled and the reward is the log-probability the agent gave to the face shown.
    ``horizon`` predictions per episode, then ``terminated=True``.

    ## Action space

    ``Box(0, 1, (n_outcomes,), float32)``: non-negative weights :math:`w`; the prediction is
    :math:`q = w / \\sum_k w_k` (a probability vector is its own normalisation).

    ## Observation space

    ``Box(0, 1, (n_outcomes + 1,), float32)``, all zeros at reset:

    ==============  ==========================================================
    index           meaning
    ==============  ==========================================================
    0 .. K-1        one-hot of the last face (all zero at reset: no outcome yet)
    K               elapsed fraction ``t / horizon``
    ==============  ==========================================================

    ## Rewards

    :math:`r_t = \\max(\\log q(x_t), \\text{log\\_prob\\_floor})`. A zero weight on the face shown,
    or all-zero weights, earns ``log_prob_floor`` instead of ``-inf``. The Bayes predictor
    :math:`(\\alpha + c) / \\sum (\\alpha + c)` maximises the expected return.

    ## Info

    - ``info["task"]``: the face probabilities, shape ``(n_outcomes,)``;
    - ``info["posterior"]``: the Dirichlet posterior's concentration after the rolls so far,
      shape ``(n_outcomes,)`` (the prior at reset).

    ## Arguments

    - ``n_outcomes`` (default 3): number of faces, ``>= 2``;
    - ``horizon`` (default 20): predictions per episode, ``>= 1``;
    - ``prior`` (default 1.0): the Dirichlet concentration, one positive number for all faces
      or one per face;
    - ``log_prob_floor`` (default -50): the lowest reward of one prediction, ``<= 0``;
    - ``render_mode``: ``None``, ``"ansi"``, ``"human"`` (text) or ``"rgb_array"`` (a picture of the belief).
    """

    def __init__(
        self,
        n_outcomes: int = 3,
        horizon: int = 20,
        prior: Any = 1.0,
        log_prob_floor: float = DEFAULT_LOG_PROB_FLOOR,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(die_prediction(n_outcomes, horizon, prior, log_prob_floor), render_mode=render_mode)


class MetaDieVectorEnv(MetaVectorEnv):
    """``num_envs`` episodes of :class:`MetaDieEnv` stepped together with numpy.

    Arguments as :class:`MetaDieEnv` (``render_mode``: ``None``, ``"rgb_array"`` or ``"ansi"``),
    plus ``num_envs`` (sub-environments), ``autoreset_mode`` (a Gymnasium ``AutoresetMode``,
    default ``NEXT_STEP``) and ``max_episode_steps`` (``None`` or an int ``>= 1``: truncate
    each episode at that step, as ``TimeLimit``); see :class:`meta_envs.core.MetaVectorEnv`
    for these, seeding and rendering. Actions: float array ``(num_envs, n_outcomes)``.
    """

    def __init__(
        self,
        num_envs: int = 1,
        n_outcomes: int = 3,
        horizon: int = 20,
        prior: Any = 1.0,
        log_prob_floor: float = DEFAULT_LOG_PROB_FLOOR,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        render_mode: str | None = None,
        max_episode_steps: int | None = None,
    ) -> None:
        dynamics = die_prediction(n_outcomes, horizon, prior, log_prob_floor)
        super().__init__(dynamics, num_envs, autoreset_mode, render_mode, max_episode_steps)
