"""The single env and the native vector env, both driven by one :class:`EpisodeDynamics`.

:class:`MetaEnv` is a ``gymnasium.Env`` over one episode at a time; :class:`MetaVectorEnv` is a
``gymnasium.vector.VectorEnv`` that steps ``num_envs`` episodes with array operations. Each env
module subclasses both with its own documented arguments.

Common conventions (see ``shared/DESIGN.md``):

- one episode is one task, drawn at ``reset`` from the env's generator (``self.np_random``);
- the episode ends after ``horizon`` steps with ``terminated=True`` (never truncated);
- ``info["task"]`` holds the latent task, ``info["posterior"]`` the Bayes posterior's
  parameters after the observations so far; neither is in the observation;
- ``reset(options={"task": ...})`` starts the episode on a given task instead of a drawn one.
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium.error import ResetNeeded
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from meta_envs.dynamics import EpisodeDynamics
from meta_envs.rendering import render_belief
from meta_envs.validation import check_int

__all__ = ["MetaEnv", "MetaVectorEnv"]

_RESET_OPTIONS = {"task"}
_VECTOR_RESET_OPTIONS = {"task", "reset_mask"}


def _check_options(options: dict[str, Any] | None, allowed: set[str]) -> dict[str, Any]:
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise TypeError(f"options must be a dict or None, got {type(options).__name__}")
    unknown = set(options) - allowed
    if unknown:
        raise ValueError(f"unknown reset options {sorted(unknown)}; this env accepts {sorted(allowed)}")
    return options


class MetaEnv(gym.Env[np.ndarray, Any]):
    """One episode at a time of the task family described by ``dynamics``.

    Subclasses document their spaces and arguments; this class implements the Gymnasium API.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi", "human", "rgb_array"], "render_fps": 4}

    def __init__(self, dynamics: EpisodeDynamics, render_mode: str | None = None) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}"
            )
        self.render_mode = render_mode
        self.dynamics = dynamics
        self.model = dynamics.model
        self.horizon = dynamics.horizon
        self.observation_space = dynamics.observation_space
        self.action_space = dynamics.action_space
        self._task: np.ndarray | None = None
        self._stats: np.ndarray | None = None
        self._t = np.zeros(1, dtype=np.int64)
        self._last_step: tuple[np.ndarray, float] | None = None

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode on a new task; ``options={"task": ...}`` fixes the task."""
        super().reset(seed=seed)
        options = _check_options(options, _RESET_OPTIONS)
        self._task = self.dynamics.new_tasks(self.np_random, 1, options.get("task"))
        self._stats = self.model.initial_stats(1)
        self._t = np.zeros(1, dtype=np.int64)
        self._last_step: tuple[np.ndarray, float] | None = None
        if self.render_mode == "human":
            self.render()
        return self.dynamics.initial_observation(1)[0], self._info()

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Act once; ``terminated`` is True on the ``horizon``-th step."""
        if self._task is None or self._stats is None:
            raise ResetNeeded("call reset() before step()")
        if self._t[0] >= self.horizon:
            raise ResetNeeded(f"the episode ended after horizon={self.horizon} steps; call reset()")
        checked = self.dynamics.check_actions(action, None)
        self._t = self._t + 1
        self._stats, obs, reward = self.dynamics.transition(
            self.np_random, self._task, self._stats, self._t, checked[None]
        )
        value = float(reward[0])
        self._last_step = (checked, value)
        if self.render_mode == "human":
            self.render()
        return obs[0], value, bool(self._t[0] >= self.horizon), False, self._info()

    def _info(self) -> dict[str, Any]:
        assert self._task is not None and self._stats is not None
        return {key: value[0] for key, value in self.dynamics.info(self._task, self._stats).items()}

    def bayes_predictive(self) -> np.ndarray:
        """Parameters of the Bayes posterior predictive of the next outcome.

        For the prediction envs this is the Bayes-optimal action (``predictive_shape`` of the
        model, e.g. ``(1,)`` for ``MetaCoin-v0``); for the bandits, each arm's predictive.
        """
        if self._stats is None:
            raise ResetNeeded("call reset() before bayes_predictive()")
        return self.model.predictive(self._stats)[0]

    def render(self) -> str | np.ndarray | None:
        """``"ansi"``: the last step as text with the posterior; ``"human"``: that text printed;
        ``"rgb_array"``: a picture of the posterior and the task (:mod:`meta_envs.rendering`)."""
        if self.render_mode is None:
            gym.logger.warn("render() called with render_mode=None; pass render_mode='ansi' or 'human' to gym.make")
            return None
        if self.render_mode == "rgb_array":
            if self._task is None or self._stats is None:
                raise ResetNeeded("call reset() before render()")
            return render_belief(self.model, self._task[0], self._stats[0], self._t[0] / self.horizon)
        if self._last_step is None:
            text = f"t={self._t[0]}/{self.horizon} new task"
        else:
            text = f"t={self._t[0]}/{self.horizon} {self.dynamics.describe(*self._last_step)}"
        if self._stats is not None:
            posterior = np.array2string(self.model.posterior(self._stats)[0], precision=3)
            text = f"{text} posterior={posterior}"
        if self.render_mode == "ansi":
            return text
        print(text)
        return None


def _autoreset_mode(value: Any) -> AutoresetMode:
    if isinstance(value, AutoresetMode):
        return value
    try:
        return AutoresetMode(value)
    except ValueError:
        names = [m.value for m in AutoresetMode]
        raise ValueError(f"autoreset_mode must be an AutoresetMode or one of {names}, got {value!r}") from None


class MetaVectorEnv(VectorEnv):
    """``num_envs`` episodes stepped together with numpy array operations.

    Autoreset follows Gymnasium's modes, declared in ``metadata["autoreset_mode"]``:

    - ``NEXT_STEP`` (default, as ``SyncVectorEnv``): the step after an episode terminates
      resets that sub-environment, ignoring its action, and returns reward 0;
    - ``SAME_STEP``: a terminating sub-environment is reset in the same step; the final
      observation and info are in ``info["final_obs"]`` and ``info["final_info"]``;
    - ``DISABLED``: terminated sub-environments must be reset with
      ``reset(options={"reset_mask": mask})`` before they are stepped again.

    ``info`` is batched as Gymnasium does: ``info["task"]`` and ``info["posterior"]`` have a
    leading ``num_envs`` axis and ``info["_task"]``, ``info["_posterior"]`` are boolean masks.
    ``reset(seed=s)`` seeds one generator for all sub-environments (one int, not a list).
    """

    def __init__(
        self,
        dynamics: EpisodeDynamics,
        num_envs: int = 1,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        render_mode: str | None = None,
    ) -> None:
        self.num_envs = check_int(num_envs, "num_envs", 1)
        self.autoreset_mode = _autoreset_mode(autoreset_mode)
        if render_mode is not None:
            raise ValueError(f"the vector env does not render: render_mode must be None, got {render_mode!r}")
        self.render_mode = None
        self.metadata = {"render_modes": [], "autoreset_mode": self.autoreset_mode}
        self.dynamics = dynamics
        self.model = dynamics.model
        self.horizon = dynamics.horizon
        self.single_observation_space = dynamics.observation_space
        self.single_action_space = dynamics.action_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._task: np.ndarray | None = None
        self._stats = self.model.initial_stats(self.num_envs)
        self._t = np.zeros(self.num_envs, dtype=np.int64)
        self._obs = self.dynamics.initial_observation(self.num_envs)
        self._needs_reset = np.zeros(self.num_envs, dtype=bool)

    # ------------------------------------------------------------------ reset

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset all sub-environments, or those in ``options["reset_mask"]``.

        ``options["task"]``: one task for all reset episodes, or one per sub-environment.
        """
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise TypeError(
                f"seed must be an int or None (one generator drives all sub-environments), got {seed!r}"
            )
        options = _check_options(options, _VECTOR_RESET_OPTIONS)
        mask = options.get("reset_mask")
        if mask is not None:
            mask = self._check_reset_mask(mask)
        if seed is not None:
            self._np_random, self._np_random_seed = seeding.np_random(int(seed))
        if mask is None or self._task is None:
            if mask is not None:
                raise ResetNeeded("call reset() without reset_mask before the first partial reset")
            self._start(None, options.get("task"))
            mask = np.ones(self.num_envs, dtype=bool)
        else:
            self._start(np.nonzero(mask)[0], options.get("task"))
        return self._obs.copy(), self._info(mask)

    def _check_reset_mask(self, mask: Any) -> np.ndarray:
        if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_ or mask.shape != (self.num_envs,):
            raise ValueError(
                f'options["reset_mask"] must be a numpy bool array of shape ({self.num_envs},), got {mask!r}'
            )
        if not mask.any():
            raise ValueError('options["reset_mask"] must select at least one sub-environment')
        return mask

    def _start(self, rows: np.ndarray | None, task: Any = None) -> None:
        """New episodes in every sub-environment (``rows=None``) or in ``rows``."""
        if rows is None:
            self._task = self.dynamics.new_tasks(self.np_random, self.num_envs, task)
            self._stats = self.model.initial_stats(self.num_envs)
            self._t = np.zeros(self.num_envs, dtype=np.int64)
            self._obs = self.dynamics.initial_observation(self.num_envs)
            self._needs_reset = np.zeros(self.num_envs, dtype=bool)
            return
        assert self._task is not None
        if task is not None:
            given = self.model.check_task(task, name='options["task"]')
            if given.ndim > len(self.model.task_shape):  # one task per sub-environment
                task = given[rows] if given.shape[0] == self.num_envs else given
        # in place: the caller only ever receives copies of these arrays
        self._task[rows] = self.dynamics.new_tasks(self.np_random, len(rows), task)
        self._stats[rows] = 0.0
        self._t[rows] = 0
        self._obs[rows] = 0.0
        self._needs_reset[rows] = False

    # ------------------------------------------------------------------- step

    def step(
        self, actions: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step every sub-environment; see the class docstring for autoreset."""
        if self._task is None:
            raise ResetNeeded("call reset() before step()")
        actions = self.dynamics.check_actions(actions, self.num_envs)
        mode = self.autoreset_mode
        extra: dict[str, Any] = {}
        if mode is AutoresetMode.NEXT_STEP and self._needs_reset.any():
            resetting = self._needs_reset
            rewards = np.zeros(self.num_envs, dtype=np.float64)
            if not resetting.all():
                stepping = np.nonzero(~resetting)[0]
                rewards[stepping] = self._advance(stepping, actions)
            self._start(None if resetting.all() else np.nonzero(resetting)[0])
            terminated = self._t >= self.horizon
        else:
            if mode is AutoresetMode.DISABLED and self._needs_reset.any():
                rows = np.nonzero(self._needs_reset)[0].tolist()
                raise ResetNeeded(
                    f"sub-environments {rows} have terminated and autoreset_mode is DISABLED: "
                    'call reset(options={"reset_mask": mask}) for them before stepping'
                )
            rewards = self._advance(None, actions)
            terminated = self._t >= self.horizon
            if mode is AutoresetMode.SAME_STEP and terminated.any():
                extra = self._final(terminated)
                self._start(None if terminated.all() else np.nonzero(terminated)[0])
        # a copy: the caller may write into the returned ``terminated`` array
        self._needs_reset = terminated.copy() if mode is not AutoresetMode.SAME_STEP else np.zeros_like(terminated)
        info = self._info(np.ones(self.num_envs, dtype=bool))
        info.update(extra)
        return self._obs.copy(), rewards, terminated, np.zeros(self.num_envs, dtype=bool), info

    def _advance(self, rows: np.ndarray | None, actions: np.ndarray) -> np.ndarray:
        """Step the episodes in ``rows`` (all if None); returns their rewards."""
        assert self._task is not None
        if rows is None:
            self._t = self._t + 1
            self._stats, self._obs, rewards = self.dynamics.transition(
                self.np_random, self._task, self._stats, self._t, actions
            )
            return rewards
        t = self._t[rows] + 1
        stats, obs, rewards = self.dynamics.transition(
            self.np_random, self._task[rows], self._stats[rows], t, actions[rows]
        )
        self._t[rows] = t
        self._stats[rows] = stats
        self._obs[rows] = obs
        return rewards

    def bayes_predictive(self) -> np.ndarray:
        """Bayes posterior predictive parameters of every sub-environment: ``(num_envs, ...)``."""
        if self._task is None:
            raise ResetNeeded("call reset() before bayes_predictive()")
        return self.model.predictive(self._stats)

    def _final(self, done: np.ndarray) -> dict[str, Any]:
        """``final_obs`` and ``final_info`` of the episodes ending now (SAME_STEP mode)."""
        final_obs = np.full(self.num_envs, None, dtype=object)
        for row in np.flatnonzero(done):  # an object array of per-env observations, as SyncVectorEnv
            final_obs[row] = self._obs[row].copy()
        return {
            "final_obs": final_obs,
            "_final_obs": done.copy(),
            "final_info": self._info(done),
            "_final_info": done.copy(),
        }

    def _info(self, mask: np.ndarray) -> dict[str, Any]:
        assert self._task is not None
        info: dict[str, Any] = {}
        for key, value in self.dynamics.info(self._task, self._stats).items():
            info[key] = value
            info[f"_{key}"] = mask.copy()
        return info

    def close_extras(self, **kwargs: Any) -> None:
        """Nothing to release: the sub-environments are arrays."""
