"""What every bandit trainer shares: the envs it trains on, and evaluation on paired episodes.

A trained bandit agent is a :class:`~bayes.statemachine.StateMachine` whose output is its action
probabilities; :func:`evaluate_bandit_agent` replays the task family of a registered env in
:func:`bayes.evaluate.evaluate_bandit_policy`, whose episodes are common random numbers: two
agents evaluated with the same seed meet the same tasks and the same reward draws.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

import meta_envs
from bayes.evaluate import BanditEvaluation, evaluate_bandit_policy
from bayes.models import NormalKnownNoise
from bayes.validation import check_int
from meta_envs.catalog import check_env_kwargs

__all__ = ["BANDIT_ENVS", "EVAL_SEED", "bandit_evaluation_kwargs", "base_env", "evaluate_bandit_agent",
           "reference_policy"]

BANDIT_ENVS = ("MetaBandit-v0", "MetaGaussianBandit-v0")
EVAL_SEED = 1_000_003  #: seed of the training-time evaluation episodes (plus the run's seed)


def base_env(env_id: str, env_kwargs: dict[str, Any]) -> Any:
    """The unwrapped single env of ``env_id`` (``gym.make`` validates the arguments)."""
    gym.register_envs(meta_envs)
    check_env_kwargs(env_id, env_kwargs)
    return gym.make(env_id, **env_kwargs).unwrapped


def bandit_evaluation_kwargs(env: Any) -> dict[str, Any]:
    """Arguments of :func:`bayes.evaluate.evaluate_bandit_policy` that replay ``env``'s episodes."""
    model = env.model
    if isinstance(model, NormalKnownNoise):
        prior = np.stack([model.prior_mean, model.prior_std], axis=1)
        return {"n_arms": len(prior), "horizon": env.horizon, "prior": prior, "arms": "gaussian",
                "noise_std": np.asarray(model.noise_std, dtype=float)}
    prior = np.stack([model.alpha, model.beta], axis=1)
    return {"n_arms": len(prior), "horizon": env.horizon, "prior": prior, "arms": "bernoulli"}


def reference_policy(env_id: str, env_kwargs: dict[str, Any], horizon: int | None = None) -> tuple[str, Any]:
    """``(name, policy)``: the Bayes-optimal policy of a Bernoulli bandit where its DP fits in
    memory, else Thompson sampling (Gaussian arms have no exact finite-horizon solution here)."""
    from bayes.bandits import BayesOptimalPolicy, GaussianThompsonSampling, ThompsonSampling

    kwargs = bandit_evaluation_kwargs(base_env(env_id, env_kwargs))
    if kwargs["arms"] == "gaussian":
        return "thompson-sampling", GaussianThompsonSampling(kwargs["n_arms"], kwargs["prior"], kwargs["noise_std"])
    try:
        return "bayes-optimal", BayesOptimalPolicy(kwargs["n_arms"], horizon or kwargs["horizon"], kwargs["prior"])
    except ValueError:
        return "thompson-sampling", ThompsonSampling(kwargs["n_arms"], kwargs["prior"])


def evaluate_bandit_agent(machine: Any, env_id: str, env_kwargs: dict[str, Any], episodes: int,
                          seed: int = 0, horizon: int | None = None) -> BanditEvaluation:
    """Evaluate a bandit StateMachine on ``env_id``'s task family (paired with the Bayes agent)."""
    kwargs = bandit_evaluation_kwargs(base_env(env_id, env_kwargs))
    if horizon is not None:
        kwargs["horizon"] = check_int(horizon, "horizon", 1)
    return evaluate_bandit_policy(machine, n_episodes=episodes, seed=seed, **kwargs)
