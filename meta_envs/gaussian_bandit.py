"""``MetaGaussianBandit-v0``: K arms with normal rewards whose means are re-drawn every episode."""

from __future__ import annotations

from typing import Any

from gymnasium.vector import AutoresetMode

from bayes.models import NormalKnownNoise
from bayes.validation import FLOAT32_LIMIT, normal_task_range
from meta_envs.core import MetaEnv, MetaVectorEnv
from meta_envs.dynamics import BanditDynamics
from meta_envs.validation import check_horizon, check_n_arms, check_normal_fits_float32, per_arm_pairs, per_arm_values

__all__ = ["MetaGaussianBanditEnv", "MetaGaussianBanditVectorEnv", "gaussian_bandit"]


def gaussian_bandit(
    n_arms: int = 2, horizon: int = 20, prior: Any = (0.0, 1.0), noise_std: Any = 1.0
) -> BanditDynamics:
    """The dynamics of ``MetaGaussianBandit-v0``, arguments validated (``ValueError`` naming them)."""
    n_arms = check_n_arms(n_arms)
    horizon = check_horizon(horizon)
    pairs = per_arm_pairs(prior, n_arms, "prior", ("mean", "std"), positive=(False, True))
    noise = per_arm_values(noise_std, n_arms, "noise_std")
    model = NormalKnownNoise(prior_mean=pairs[:, 0], prior_std=pairs[:, 1], noise_std=noise)
    check_normal_fits_float32(model.prior_mean, model.prior_std, model.noise_std)
    return BanditDynamics(model, horizon, reward_low=-FLOAT32_LIMIT, reward_high=FLOAT32_LIMIT,
                          task_range=normal_task_range(model.noise_std))


class MetaGaussianBanditEnv(MetaEnv):
    """A bandit with normal rewards of known noise whose arm means are drawn at reset.

    Each episode draws :math:`\\mu_k \\sim N(m_k, s_k^2)` for the ``n_arms`` arms; pulling arm
    ``k`` pays :math:`r \\sim N(\\mu_k, \\sigma_k^2)` with the known ``noise_std`` :math:`\\sigma_k`. The
    episode ends after ``horizon`` pulls with ``terminated=True``.

    ## Action space

    ``Discrete(n_arms)``: the arm to pull.

    ## Observation space

    ``Box((n_arms + 2,), float32)``, all zeros at reset:

    ============  =========================================  ==========
    index         meaning                                    bounds
    ============  =========================================  ==========
    0 .. K-1      one-hot of the previous action             [0, 1]
    K             previous reward                            [-L, L]
    K + 1         elapsed fraction ``t / horizon``           [0, 1]
    ============  =========================================  ==========

    ``L = F / 4``, a quarter of the largest float32 (:data:`bayes.validation.FLOAT32_LIMIT`): the
    prior and any given task are checked so that outcomes stay inside (with probability above
    1 - 1e-9 per episode); an outcome beyond would be observed clipped to the bound.

    ## Rewards

    The normal reward of the pulled arm. Each step draws one standard normal variate per
    episode, scaled and shifted by the pulled arm: with the same seed two policies see the
    same tasks and the same reward draws (common random numbers).

    ## Info

    - ``info["task"]``: the arms' means, shape ``(n_arms,)``;
    - ``info["posterior"]``: the normal posterior of each arm's mean after the pulls so far,
      shape ``(n_arms, 2)`` as ``(mean, std)`` (the prior at reset).

    ## Arguments

    - ``n_arms`` (default 2): number of arms, ``>= 1``;
    - ``horizon`` (default 20): pulls per episode, ``>= 1``;
    - ``prior`` (default ``(0.0, 1.0)``): the normal prior on each arm's mean as one
      ``(mean, std)`` pair for all arms or one pair per arm, shape ``(n_arms, 2)``; means
      finite, stds positive;
    - ``noise_std`` (default 1.0): the known reward noise, one positive number or one per arm;
    - ``render_mode``: ``None``, ``"ansi"``, ``"human"`` (text) or ``"rgb_array"`` (a picture of the belief).
    """

    def __init__(
        self,
        n_arms: int = 2,
        horizon: int = 20,
        prior: Any = (0.0, 1.0),
        noise_std: Any = 1.0,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(gaussian_bandit(n_arms, horizon, prior, noise_std), render_mode=render_mode)


class MetaGaussianBanditVectorEnv(MetaVectorEnv):
    """``num_envs`` episodes of :class:`MetaGaussianBanditEnv` stepped together with numpy.

    Arguments as :class:`MetaGaussianBanditEnv` (``render_mode``: ``None``, ``"rgb_array"`` or ``"ansi"``),
    plus ``num_envs`` (sub-environments), ``autoreset_mode`` (a Gymnasium ``AutoresetMode``,
    default ``NEXT_STEP``) and ``max_episode_steps`` (``None`` or an int ``>= 1``: truncate
    each episode at that step, as ``TimeLimit``); see :class:`meta_envs.core.MetaVectorEnv`
    for these, seeding and rendering. Actions: int array ``(num_envs,)``.
    """

    def __init__(
        self,
        num_envs: int = 1,
        n_arms: int = 2,
        horizon: int = 20,
        prior: Any = (0.0, 1.0),
        noise_std: Any = 1.0,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        render_mode: str | None = None,
        max_episode_steps: int | None = None,
    ) -> None:
        dynamics = gaussian_bandit(n_arms, horizon, prior, noise_std)
        super().__init__(dynamics, num_envs, autoreset_mode, render_mode, max_episode_steps)
