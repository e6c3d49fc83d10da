"""Gymnasium environments whose latent task is re-drawn from a known prior at every reset.

``import meta_envs`` registers the ids below (``gym.register_envs(meta_envs)`` keeps linters
quiet about the otherwise unused import)::

    import gymnasium as gym
    import meta_envs

    gym.register_envs(meta_envs)
    env = gym.make("MetaBandit-v0")
    envs = gym.make_vec("MetaBandit-v0", num_envs=4096, vectorization_mode="vector_entry_point")

Every id has a single env (``entry_point``) and a native numpy vector env
(``vector_entry_point``) that share one implementation of the dynamics.
:class:`~meta_envs.wrappers.NormalizedPrediction` gives the prediction envs the ``Box(-1, 1)``
actions that stable-baselines3's continuous-action algorithms expect.
"""

from __future__ import annotations

import gymnasium as gym

from meta_envs.bandit import MetaBanditEnv, MetaBanditVectorEnv
from meta_envs.coin import MetaCoinEnv, MetaCoinVectorEnv
from meta_envs.core import MetaEnv, MetaVectorEnv
from meta_envs.die import MetaDieEnv, MetaDieVectorEnv
from meta_envs.exponential import MetaExponentialEnv, MetaExponentialVectorEnv
from meta_envs.gaussian import MetaGaussianEnv, MetaGaussianVectorEnv
from meta_envs.gaussian_bandit import MetaGaussianBanditEnv, MetaGaussianBanditVectorEnv
from meta_envs.switching_coin import MetaSwitchingCoinEnv, MetaSwitchingCoinVectorEnv
from meta_envs.wrappers import NormalizedPrediction, NormalizedPredictionVector

__all__ = [
    "ENV_IDS",
    "MetaBanditEnv",
    "MetaBanditVectorEnv",
    "MetaCoinEnv",
    "MetaCoinVectorEnv",
    "MetaDieEnv",
    "MetaDieVectorEnv",
    "MetaEnv",
    "MetaExponentialEnv",
    "MetaExponentialVectorEnv",
    "MetaGaussianBanditEnv",
    "MetaGaussianBanditVectorEnv",
    "MetaGaussianEnv",
    "MetaGaussianVectorEnv",
    "MetaSwitchingCoinEnv",
    "MetaSwitchingCoinVectorEnv",
    "MetaVectorEnv",
    "NormalizedPrediction",
    "NormalizedPredictionVector",
    "register_all",
]

#: id -> module holding ``<Name>Env`` and ``<Name>VectorEnv``
_ENTRY_POINTS: dict[str, tuple[str, str]] = {
    "MetaBandit-v0": ("meta_envs.bandit", "MetaBandit"),
    "MetaGaussianBandit-v0": ("meta_envs.gaussian_bandit", "MetaGaussianBandit"),
    "MetaCoin-v0": ("meta_envs.coin", "MetaCoin"),
    "MetaDie-v0": ("meta_envs.die", "MetaDie"),
    "MetaGaussian-v0": ("meta_envs.gaussian", "MetaGaussian"),
    "MetaExponential-v0": ("meta_envs.exponential", "MetaExponential"),
    "MetaSwitchingCoin-v0": ("meta_envs.switching_coin", "MetaSwitchingCoin"),
}

ENV_IDS: tuple[str, ...] = tuple(_ENTRY_POINTS)


def register_all() -> None:
    """Register every id with Gymnasium (idempotent)."""
    for env_id, (module, name) in _ENTRY_POINTS.items():
        if env_id in gym.registry:
            continue
        gym.register(
            id=env_id,
            entry_point=f"{module}:{name}Env",
            vector_entry_point=f"{module}:{name}VectorEnv",
        )


register_all()
