"""A stable-baselines3 ``VecEnv`` over the native vector envs of :mod:`meta_envs`.

SB3 steps a ``VecEnv`` one batch at a time; its stock ``DummyVecEnv`` loops over ``num_envs``
single Gymnasium envs in Python, so with a few hundred envs the loop, not the network,
bounds the training speed. :class:`NativeVecEnv` hands SB3 the native vector env instead: one
numpy call per step for all episodes.

SB3's conventions, which differ from Gymnasium's vector API, are followed exactly:

- autoreset happens in the same step (Gymnasium's ``SAME_STEP`` mode): a ``done`` row's
  returned observation is already the next episode's first one, and the last observation of
  the finished episode is in ``infos[i]["terminal_observation"]``;
- ``done = terminated or truncated``; ``infos[i]["TimeLimit.truncated"]`` is ``False`` (the
  episodes end by their fixed horizon and ``terminated=True``, as the envs document);
- ``seed(s)`` (called by SB3's ``set_random_seed``) seeds the next ``reset``; one generator
  drives all rows, so the same seed gives the same episodes.

Example::

    from sb3_contrib import RecurrentPPO
    from agents.vec_env import NativeVecEnv

    venv = NativeVecEnv("MetaBandit-v0", num_envs=256, seed=0)
    model = RecurrentPPO("MlpLstmPolicy", venv, n_steps=20, seed=0)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices, VecEnvStepReturn

from bayes.validation import check_int
from meta_envs.catalog import native_vector_env
from meta_envs.core import MetaVectorEnv

__all__ = ["NativeVecEnv"]


class NativeVecEnv(VecEnv):
    """``num_envs`` episodes of a :mod:`meta_envs` id as one SB3 ``VecEnv``.

    Attributes: ``vector_env`` (the underlying :class:`meta_envs.core.MetaVectorEnv`),
    ``env_id`` and ``env_kwargs``. ``get_attr`` reads attributes of the vector env (the same
    value for every row), e.g. ``get_attr("horizon")``.
    """

    def __init__(self, env_id: str, num_envs: int = 64, seed: int | None = None, **env_kwargs: Any) -> None:
        num_envs = check_int(num_envs, "num_envs", 1)
        self.env_id = env_id
        self.env_kwargs = dict(env_kwargs)
        self.vector_env: MetaVectorEnv = native_vector_env(env_id, num_envs, AutoresetMode.SAME_STEP, **env_kwargs)
        self.render_mode = None
        super().__init__(num_envs, self.vector_env.single_observation_space, self.vector_env.single_action_space)
        self._actions: np.ndarray | None = None
        self.seed(seed)

    # ------------------------------------------------------------------ stepping

    def reset(self) -> np.ndarray:
        obs, _ = self.vector_env.reset(seed=self._seeds[0])
        self._reset_seeds()
        self._reset_options()
        self.reset_infos = [{} for _ in range(self.num_envs)]
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self) -> VecEnvStepReturn:
        if self._actions is None:
            raise RuntimeError("step_wait() called without step_async()")
        obs, rewards, terminated, truncated, info = self.vector_env.step(self._actions)
        self._actions = None
        dones = terminated | truncated
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        if dones.any():
            final = info["final_obs"]
            for row in np.flatnonzero(dones):
                infos[row] = {"terminal_observation": final[row], "TimeLimit.truncated": bool(truncated[row])}
        return obs, rewards.astype(np.float32), dones, infos

    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        """Seed the next ``reset`` (one generator for all rows); returns ``[seed] * num_envs``."""
        if seed is not None:
            seed = check_int(seed, "seed", 0)
        self._seeds = [seed] * self.num_envs
        return self._seeds

    def close(self) -> None:
        self.vector_env.close()

    # ---------------------------------------------------------------- attributes

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        value = getattr(self.vector_env, attr_name)
        return [value for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        raise AttributeError(f"the rows of a NativeVecEnv share one vector env: cannot set {attr_name!r} per row")

    def env_method(self, method_name: str, *method_args: Any, indices: VecEnvIndices = None,
                   **method_kwargs: Any) -> list[Any]:
        raise AttributeError(f"a NativeVecEnv has no per-row envs to call {method_name!r} on; use .vector_env")

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        return [False for _ in self._get_indices(indices)]
