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

__all__ = ["BANDIT_ENVS", "EVAL_SEED", "REFERENCES", "bandit_evaluation_kwargs", "base_env", "evaluate_bandit_agent",
           "reference_evaluation", "reference_policy"]

BANDIT_ENVS = ("MetaBandit-v0", "MetaGaussianBandit-v0")
EVAL_SEED = 1_000_003  #: seed of the training-time evaluation episodes (plus the run's seed)
#: What an agent is paired with (:func:`reference_evaluation`): ``default``, the Bayes-optimal
#: policy where its DP fits, else Thompson sampling; ``best``, the Bayes-optimal policy where its
#: DP fits, else the best of the index policies on the same episodes (Bernoulli arms).
REFERENCES = ("default", "best")


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


def _slug(name: str) -> str:
    """``"Gittins (discount 0.98)"`` -> ``"gittins-0.98"``, ``"Thompson sampling"`` -> ``"thompson-sampling"``."""
    return name.lower().replace(" (discount ", "-").replace(")", "").replace(" ", "-")


def reference_evaluation(env_id: str, env_kwargs: dict[str, Any], episodes: int, seed: int = 0,
                         horizon: int | None = None,
                         reference: str = "default") -> tuple[str, BanditEvaluation, dict[str, float] | None]:
    """``(name, evaluation, candidates)``: the reference policy of ``reference`` (:data:`REFERENCES`)
    on the episodes :func:`evaluate_bandit_agent` plays with the same arguments, so the two pair.

    ``best`` on Bernoulli arms whose DP does not fit: every candidate of
    :func:`bayes.bandits.references.index_references` (the finite-horizon Gittins policy up to
    100 pulls, Gittins at two discounts chosen for the horizon, Bayes-UCB, Thompson sampling) on
    those episodes, the one of highest mean return kept; ``candidates`` maps each one's name to
    its mean return (None otherwise)."""
    from bayes.bandits.references import best_reference, index_references

    if reference not in REFERENCES:
        raise ValueError(f"reference must be one of {REFERENCES}, got {reference!r}")
    name, policy = reference_policy(env_id, env_kwargs, horizon)
    kwargs = bandit_evaluation_kwargs(base_env(env_id, env_kwargs))
    if reference == "default" or name == "bayes-optimal" or kwargs["arms"] != "bernoulli":
        return name, evaluate_bandit_agent(policy, env_id, env_kwargs, episodes, seed, horizon), None
    steps = horizon or kwargs["horizon"]
    candidates = index_references(kwargs["n_arms"], steps, kwargs["prior"])
    best, result, results = best_reference(
        candidates, lambda p: evaluate_bandit_agent(p, env_id, env_kwargs, episodes, seed, horizon), steps)
    return _slug(best), result, {_slug(k): float(v.mean_return) for k, v in results.items()}
