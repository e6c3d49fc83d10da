"""Batched rollouts of any agent on a native vector env, recording everything the analyses need.

:func:`rollout` plays ``n_episodes`` whole episodes at once on ``env_id``'s native vector env
with any :class:`~bayes.statemachine.StateMachine` (a Bayes agent, a trained network's adapter,
a user's own machine), and returns, at every step, the observation the agent read, its
recurrent state, its output (action probabilities or predictive parameters), the action taken,
the reward, and the Bayes posterior of the env after the step. The episodes come from
``reset(seed=seed)`` of the vector env; the agent's own sampling of actions comes from
``np.random.default_rng([seed, 1])``. The same seed gives the same episodes to any two agents.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np

import meta_envs
from bayes.sampling import sample_categorical
from bayes.statemachine import StateMachine
from bayes.validation import check_int
from meta_envs.catalog import native_vector_env

__all__ = ["Rollout", "rollout"]


@dataclass
class Rollout:
    """What :func:`rollout` recorded, time-major: ``T`` steps of ``B`` episodes.

    ``observations[t]`` is what the agent read before its ``t``-th output (``observations[0]``
    the reset observation); ``states[t]`` its state after reading it; ``outputs[t]`` its output;
    ``actions[t]`` the action sent to the env; ``rewards[t]`` the reward; ``posterior[t]`` the
    env's ``info["posterior"]`` after step ``t`` (``prior`` before the first step).
    """

    observations: np.ndarray  #: (T, B, obs_dim)
    states: np.ndarray  #: (T, B, d)
    outputs: np.ndarray  #: (T, B, ...)
    actions: np.ndarray  #: (T, B) for bandits, (T, B, ...) for predictions
    rewards: np.ndarray  #: (T, B)
    posterior: np.ndarray  #: (T, B, ...)
    prior: np.ndarray  #: (B, ...) the posterior parameters before any outcome
    task: np.ndarray  #: (B, ...) the latent task of every episode
    env_id: str = ""
    seed: int = 0
    returns: np.ndarray = field(init=False, repr=False)  #: (B,) the episodes' returns

    def __post_init__(self) -> None:
        self.returns = self.rewards.sum(axis=0)

    @property
    def horizon(self) -> int:
        return int(self.rewards.shape[0])

    @property
    def n_episodes(self) -> int:
        return int(self.rewards.shape[1])


def rollout(agent: StateMachine, env_id: str, n_episodes: int, seed: int = 0, horizon: int | None = None,
            **env_kwargs: object) -> Rollout:
    """Play ``n_episodes`` episodes of ``env_id`` with ``agent`` all at once and record them.

    Bandit envs (``Discrete`` actions): the action is drawn from the agent's output
    probabilities. Prediction envs: the output is the action (the predictive parameters).
    ``horizon`` overrides the env's (e.g. to test generalisation beyond the trained horizon).
    """
    n_episodes = check_int(n_episodes, "n_episodes", 1)
    seed = check_int(seed, "seed", 0)
    if env_id not in meta_envs.ENV_IDS:
        raise ValueError(f"env_id must be one of {meta_envs.ENV_IDS}, got {env_id!r}")
    if horizon is not None:
        env_kwargs["horizon"] = check_int(horizon, "horizon", 1)
    env = native_vector_env(env_id, n_episodes, **env_kwargs)
    discrete = isinstance(env.single_action_space, gym.spaces.Discrete)
    rng = np.random.default_rng([seed, 1])
    obs, info = env.reset(seed=seed)
    prior, task = np.array(info["posterior"]), np.array(info["task"])
    state = agent.initial_state(n_episodes)
    record: dict[str, list[np.ndarray]] = {k: [] for k in
                                           ("observations", "states", "outputs", "actions", "rewards", "posterior")}
    for _ in range(env.horizon):
        record["observations"].append(obs.astype(np.float64))
        state, output = agent.step(state, obs.astype(np.float64))
        output = np.asarray(output, dtype=np.float64)
        if discrete:
            if output.shape != (n_episodes, env.single_action_space.n):
                raise ValueError(f"a bandit agent's output must be action probabilities of shape "
                                 f"{(n_episodes, int(env.single_action_space.n))}, got {output.shape}")
            action = sample_categorical(output / output.sum(axis=1, keepdims=True), rng)
        else:
            action = output.astype(np.float32)
        obs, reward, _, _, info = env.step(action)
        record["states"].append(np.asarray(state, dtype=np.float64))
        record["outputs"].append(output)
        record["actions"].append(np.asarray(action))
        record["rewards"].append(np.asarray(reward, dtype=np.float64))
        record["posterior"].append(np.array(info["posterior"]))
    env.close()
    arrays = {k: np.stack(v) for k, v in record.items()}
    return Rollout(**arrays, prior=prior, task=task, env_id=env_id, seed=seed)
