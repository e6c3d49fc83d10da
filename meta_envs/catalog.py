"""The registered environments: what they are, and their native vector versions.

:func:`env_table` is what ``meta-bayes envs`` prints: one row per id of
:data:`meta_envs.ENV_IDS` (constructor defaults, spaces, ``info`` shapes), read from the
registry and from one reset of each env, so it is always the code's own account.
:func:`native_vector_env` makes the native numpy vector env of an id.
"""

from __future__ import annotations

import inspect
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode

import meta_envs
from meta_envs.core import MetaVectorEnv

__all__ = ["check_env_kwargs", "env_defaults", "env_table", "native_vector_env"]


def env_defaults(env_id: str) -> dict[str, Any]:
    """The constructor arguments of ``env_id`` and their defaults (``render_mode`` left out)."""
    spec = gym.spec(env_id)
    cls = spec.entry_point if callable(spec.entry_point) else gym.envs.registration.load_env_creator(spec.entry_point)
    params = inspect.signature(cls).parameters
    return {name: p.default for name, p in params.items() if name != "render_mode"}


def check_env_kwargs(env_id: str, env_kwargs: Any) -> None:
    """``ValueError`` unless ``env_kwargs`` is a dict of ``env_id``'s own constructor arguments.

    Gymnasium's ``gym.make`` also takes ``max_episode_steps``, ``render_mode`` and wrapper
    switches beside an env's arguments; a run's ``env_kwargs`` (``--set``) describe the task
    family only, so those are refused here with the list of what the env takes.
    """
    if not isinstance(env_kwargs, dict):
        raise ValueError(f"env_kwargs must be a dict of {env_id}'s arguments, got {env_kwargs!r}")
    known = env_defaults(env_id)
    unknown = sorted(str(k) for k in env_kwargs if k not in known)
    if unknown:
        raise ValueError(f"{env_id} takes the arguments {sorted(known)}, not {unknown}")


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def env_table() -> list[dict[str, Any]]:
    """One row per registered id: entry points, defaults, spaces, and the shapes of ``info`` after reset."""
    rows = []
    for env_id in meta_envs.ENV_IDS:
        env = gym.make(env_id)
        _, info = env.reset(seed=0)
        rows.append(
            {
                "id": env_id,
                "entry_point": gym.spec(env_id).entry_point,
                "vector_entry_point": gym.spec(env_id).vector_entry_point,
                "defaults": {k: _jsonable(v) for k, v in env_defaults(env_id).items()},
                "observation_space": str(env.observation_space),
                "action_space": str(env.action_space),
                "info": {k: list(np.shape(v)) for k, v in info.items()},
            }
        )
        env.close()
    return rows


def native_vector_env(env_id: str, num_envs: int, autoreset_mode: AutoresetMode = AutoresetMode.DISABLED,
                      **env_kwargs: Any) -> MetaVectorEnv:
    """The native numpy vector env of ``env_id`` (its ``vector_entry_point``), unwrapped: ``num_envs``
    episodes stepped in one call; ``ValueError`` naming an unknown id or a bad argument."""
    gym.register_envs(meta_envs)
    if env_id not in meta_envs.ENV_IDS:
        raise ValueError(f"env_id must be one of {meta_envs.ENV_IDS}, got {env_id!r}")
    vector = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point",
                          autoreset_mode=autoreset_mode, **env_kwargs)
    return vector.unwrapped  # type: ignore[return-value]
