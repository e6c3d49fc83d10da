"""One episode of an environment, step by step, played by a Bayes agent: ``meta-bayes demo``.

:func:`run_demo` resets an env, lets :func:`demo_agent` act (the exact Bayes-optimal bandit
policy, greedy, the Bayes predictor, or random actions) and writes each step with the
posterior the env reports in ``info``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

import meta_envs
from bayes.bandits import BayesOptimalPolicy, GaussianGreedy, GreedyPolicy
from bayes.models import BetaBernoulli, NormalKnownNoise
from bayes.predictors import BayesPredictor
from bayes.sampling import sample_categorical
from meta_envs.catalog import check_env_kwargs

__all__ = ["POLICIES", "demo_agent", "run_demo"]

POLICIES = ("bayes", "greedy", "random")


def demo_agent(env: gym.Env, policy: str) -> Any:
    """The state machine that plays the demo (None: random actions)."""
    base: meta_envs.core.MetaEnv = env.unwrapped  # type: ignore[assignment]
    model = base.model
    if policy == "random":
        return None
    if isinstance(model, BetaBernoulli) and model.batch_shape:  # Bernoulli bandit
        prior = np.stack([model.alpha, model.beta], axis=1)
        n_arms = len(prior)
        return BayesOptimalPolicy(n_arms, base.horizon, prior) if policy == "bayes" else GreedyPolicy(n_arms, prior)
    if isinstance(model, NormalKnownNoise) and model.batch_shape:  # Gaussian bandit: no exact DP, greedy
        prior = np.stack([model.prior_mean, model.prior_std], axis=1)
        return GaussianGreedy(len(prior), prior, model.noise_std)
    return BayesPredictor(model)  # prediction envs: the exact Bayes predictive


def run_demo(env_id: str = "MetaBandit-v0", seed: int = 0, policy: str = "bayes", out: Callable[[str], Any] = print,
             **kwargs: Any) -> float:
    """Play one episode of ``env_id`` and write every step with ``out``; returns the episode's return.

    ``bayes``: the exact Bayes-optimal policy (``MetaBandit-v0``) or Bayes predictor (the
    prediction envs); on ``MetaGaussianBandit-v0``, greedy on the posterior means. ``greedy``:
    the arm of highest posterior mean (bandits; the Bayes predictor otherwise). ``random``:
    uniformly random actions. Ties are broken uniformly at random.
    """
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")
    check_env_kwargs(env_id, kwargs)
    env = gym.make(env_id, **kwargs)
    base: meta_envs.core.MetaEnv = env.unwrapped  # type: ignore[assignment]
    rng = np.random.default_rng(seed)
    env.action_space.seed(seed)
    obs, info = env.reset(seed=seed)
    agent = demo_agent(env, policy)
    state = agent.initial_state(1) if agent is not None else None
    out(f"{env_id} {kwargs or ''} seed={seed} policy={policy}")
    out(f"task: {np.array2string(np.asarray(info['task']), precision=3)}")
    total, terminated = 0.0, False
    while not terminated:
        if agent is None:
            action = env.action_space.sample()
        else:
            state, output = agent.step(state, obs[None].astype(np.float64))
            if isinstance(env.action_space, gym.spaces.Discrete):
                action = int(sample_categorical(output, rng)[0])
            else:
                action = output[0].astype(np.float32)
        obs, reward, terminated, _, info = env.step(action)
        total += reward
        posterior = np.array2string(np.asarray(info["posterior"]), precision=3).replace("\n", "")
        shown = action if np.ndim(action) == 0 else np.array2string(np.asarray(action), precision=3)
        out(f"t={base._t[0]:3d}  action={shown}  reward={reward:8.4f}  posterior={posterior}")
    out(f"return: {total:.4f}")
    env.close()
    return total
