"""``MetaBandit-v0``: K Bernoulli arms whose success probabilities are re-drawn every episode."""

from __future__ import annotations

from typing import Any

from gymnasium.vector import AutoresetMode

from bayes.models import BetaBernoulli
from meta_envs.core import MetaEnv, MetaVectorEnv
from meta_envs.dynamics import BanditDynamics
from meta_envs.validation import check_horizon, check_n_arms, per_arm_pairs

__all__ = ["MetaBanditEnv", "MetaBanditVectorEnv", "bernoulli_bandit"]


def bernoulli_bandit(n_arms: int = 2, horizon: int = 20, prior: Any = (1.0, 1.0)) -> BanditDynamics:
    """The dynamics of ``MetaBandit-v0``, arguments validated (``ValueError`` naming the argument)."""
    n_arms = check_n_arms(n_arms)
    horizon = check_horizon(horizon)
    pairs = per_arm_pairs(prior, n_arms, "prior", ("alpha", "beta"), positive=(True, True))
    return BanditDynamics(BetaBernoulli(pairs[:, 0], pairs[:, 1]), horizon, reward_low=0.0, reward_high=1.0)


class MetaBanditEnv(MetaEnv):
    """A Bernoulli bandit whose arms' success probabilities are drawn from Beta priors at reset.

    Each episode draws :math:`p_k \\sim \\mathrm{Beta}(\\alpha_k, \\beta_k)` for the ``n_arms`` arms;
    pulling arm ``k`` pays 1 with probability :math:`p_k`, else 0. The episode ends after
    ``horizon`` pulls with ``terminated=True``.

    ## Action space

    ``Discrete(n_arms)``: the arm to pull.

    ## Observation space

    ``Box(0, 1, (n_arms + 2,), float32)``, all zeros at reset:

    ============  =========================================
    index         meaning
    ============  =========================================
    0 .. K-1      one-hot of the previous action
    K             previous reward (0 or 1)
    K + 1         elapsed fraction ``t / horizon``
    ============  =========================================

    ## Rewards

    0 or 1 per pull. Every step draws an outcome for every arm, so with the same seed two
    policies see the same tasks and the same reward draws (common random numbers).

    ## Info

    - ``info["task"]``: the arms' success probabilities, shape ``(n_arms,)``;
    - ``info["posterior"]``: the Beta posterior of each arm after the pulls so far, shape
      ``(n_arms, 2)`` as ``(alpha, beta)`` (the prior at reset).

    ## Arguments

    - ``n_arms`` (default 2): number of arms, ``>= 1``;
    - ``horizon`` (default 20): pulls per episode, ``>= 1``;
    - ``prior`` (default ``(1.0, 1.0)``): one ``(alpha, beta)`` pair for all arms or one pair
      per arm, shape ``(n_arms, 2)``; entries positive and finite;
    - ``render_mode``: ``None``, ``"ansi"``, ``"human"`` (text) or ``"rgb_array"`` (a picture of the belief).

    ``reset(options={"task": p})`` starts the episode with arm probabilities ``p``.

    Example::

        >>> import gymnasium as gym, meta_envs
        >>> env = gym.make("MetaBandit-v0", n_arms=3, prior=(2.0, 2.0))
        >>> obs, info = env.reset(seed=0)
        >>> obs, reward, terminated, truncated, info = env.step(1)
        >>> info["posterior"].shape
        (3, 2)
    """

    def __init__(
        self, n_arms: int = 2, horizon: int = 20, prior: Any = (1.0, 1.0), render_mode: str | None = None
    ) -> None:
        super().__init__(bernoulli_bandit(n_arms, horizon, prior), render_mode=render_mode)


class MetaBanditVectorEnv(MetaVectorEnv):
    """``num_envs`` episodes of :class:`MetaBanditEnv` stepped together with numpy.

    Arguments as :class:`MetaBanditEnv` (``render_mode``: ``None``, ``"rgb_array"`` or ``"ansi"``),
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
        prior: Any = (1.0, 1.0),
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        render_mode: str | None = None,
        max_episode_steps: int | None = None,
    ) -> None:
        dynamics = bernoulli_bandit(n_arms, horizon, prior)
        super().__init__(dynamics, num_envs, autoreset_mode, render_mode, max_episode_steps)


