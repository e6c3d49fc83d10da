"""The single env and the native vector env, both driven by one :class:`EpisodeDynamics`.

:class:`MetaEnv` is a ``gymnasium.Env`` over one episode at a time; :class:`MetaVectorEnv` is a
``gymnasium.vector.VectorEnv`` that steps ``num_envs`` episodes with array operations. Each env
module subclasses both with its own documented arguments.

Common conventions (see ``shared/DESIGN.md``):

- one episode is one task, drawn at ``reset`` from the env's generator (``self.np_random``);
- the episode ends after ``horizon`` steps with ``terminated=True``; it is truncated only by a
  step limit the user adds (``max_episode_steps`` of ``gym.make``'s ``TimeLimit`` or of the
  vector env);
- ``info["task"]`` holds the latent task, ``info["posterior"]`` the Bayes posterior's
  parameters after the observations so far; neither is in the observation;
- ``reset(options={"task": ...})`` starts the episode on a given task instead of a drawn one.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium.error import ResetNeeded
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from bayes.validation import MAX_NUM_ENVS, MAX_VECTOR_ELEMENTS
from meta_envs.dynamics import EpisodeDynamics
from meta_envs.rendering import render_belief, tile_frames
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


def _step_text(dynamics: EpisodeDynamics, t: int, last_step: tuple[np.ndarray, float] | None,
               posterior: np.ndarray | None) -> str:
    """The ``"ansi"`` text of one episode: ``t=<t>/<horizon>``, the last step (action and reward;
    ``new task`` before the first) and the posterior's parameters where given."""
    what = "new task" if last_step is None else dynamics.describe(*last_step)
    text = f"t={t}/{dynamics.horizon} {what}"
    return text if posterior is None else f"{text} posterior={np.array2string(posterior, precision=3)}"


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
        self._task = self.model.evolve(self.np_random, self._task)
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
        posterior = None if self._stats is None else self.model.posterior(self._stats)[0]
        text = _step_text(self.dynamics, int(self._t[0]), self._last_step, posterior)
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

    - ``NEXT_STEP`` (default, as ``SyncVectorEnv``): the step after an episode ends
      (terminated or truncated) resets that sub-environment, ignoring its action, and returns
      reward 0 with both flags False;
    - ``SAME_STEP``: an ending sub-environment is reset in the same step; the final
      observation and info are in ``info["final_obs"]`` and ``info["final_info"]``;
    - ``DISABLED``: ended sub-environments must be reset with
      ``reset(options={"reset_mask": mask})`` before they are stepped again.

    ``max_episode_steps`` (``None`` or an int ``>= 1``, also passed on by ``gym.make_vec``)
    truncates every episode at that step as ``gymnasium.wrappers.TimeLimit`` does over the
    single env in ``SyncVectorEnv``: ``truncated=True`` on the ``max_episode_steps``-th step
    of an episode (``terminated=False`` if it comes before ``horizon``, both True if it is
    ``horizon``; a larger value changes nothing), with the autoreset of the mode above.

    ``info`` is batched as Gymnasium does: ``info["task"]`` and ``info["posterior"]`` have a
    leading ``num_envs`` axis and ``info["_task"]``, ``info["_posterior"]`` are boolean masks.

    Seeding: all sub-environments draw from ONE generator, in batched numpy calls (one call
    per step for all rows). A generator per sub-environment would cost a Python-level call per
    row and draw: at 4096 envs about 1.3 ms against 12 us for one batched draw, and a whole
    step takes about 0.1 ms. Hence:

    - ``reset(seed=s)`` (an int) seeds that generator with ``s``, exactly as the single env
      does: with ``num_envs=1`` the episodes are those of the single env reset with ``seed=s``.
      ``SyncVectorEnv`` instead seeds its sub-environments with ``s, s + 1, ...``;
    - ``reset(seed=[s_0, ..., s_{n-1}])`` (a list of ``num_envs`` ints ``>= 0`` or ``None``)
      seeds the one generator from the whole list (a ``numpy.random.SeedSequence`` of the
      seeds, each as four 32-bit words): the same list gives the same episodes, a different
      list different ones. This does NOT reproduce ``SyncVectorEnv``'s per-env streams (there
      sub-env ``i`` draws from its own generator seeded with ``s_i``); it does for
      ``num_envs=1``, where ``[s]`` is the same as ``s``. A ``None`` entry contributes fresh
      entropy, so a list with any ``None`` is not reproducible; a list of only ``None`` is
      ``seed=None`` (the generator carries on). ``np_random_seed`` is then -1 (Gymnasium's
      "not one int");
    - ``None``: no reseeding.

    Rendering (``render_mode``, see :attr:`metadata`): ``render()`` follows Gymnasium's
    ``VectorEnv.render`` contract, a tuple of one frame per sub-environment, each what the
    single env renders in that state (``"rgb_array"``: the picture of
    :func:`meta_envs.rendering.render_belief`; ``"ansi"``: the text ``t=.../horizon``, the last
    step and the posterior), so Gymnasium's vector ``HumanRendering`` and
    ``RecordVideo`` wrappers work. :meth:`render_tiled` gives one picture (or text) of the
    first few sub-environments only. With ``render_mode=None`` stepping does no rendering work.
    """

    metadata: dict[str, Any] = {  # noqa: RUF012 (replaced per instance, as VectorEnv does)
        "render_modes": ["ansi", "rgb_array"],
        "render_fps": 4,
        "autoreset_mode": AutoresetMode.NEXT_STEP,
    }

    def __init__(
        self,
        dynamics: EpisodeDynamics,
        num_envs: int = 1,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        render_mode: str | None = None,
        max_episode_steps: int | None = None,
    ) -> None:
        self.num_envs = check_int(num_envs, "num_envs", 1, MAX_NUM_ENVS)
        model = dynamics.model
        per_env = sum(int(np.prod(shape)) for shape in (model.task_shape, model.stats_shape,
                                                        dynamics.observation_space.shape))
        if self.num_envs * per_env > MAX_VECTOR_ELEMENTS:
            raise ValueError(
                f"num_envs={self.num_envs:,} episodes of {per_env} numbers each (task, statistics, observation) "
                f"would hold {self.num_envs * per_env:,} numbers, more than {MAX_VECTOR_ELEMENTS:,}; "
                f"use at most {MAX_VECTOR_ELEMENTS // per_env:,} envs"
            )
        self.autoreset_mode = _autoreset_mode(autoreset_mode)
        render_modes = ["ansi", "rgb_array"]
        if render_mode is not None and render_mode not in render_modes:
            raise ValueError(f"render_mode must be None or one of {render_modes}, got {render_mode!r}")
        self.render_mode = render_mode
        self.max_episode_steps = (
            None if max_episode_steps is None else check_int(max_episode_steps, "max_episode_steps", 1)
        )
        self.metadata = {"render_modes": render_modes, "render_fps": 4, "autoreset_mode": self.autoreset_mode}
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
        # the last step's actions and rewards, kept only for render_mode="ansi"
        self._last_actions: np.ndarray | None = None
        self._last_rewards: np.ndarray | None = None

    # ------------------------------------------------------------------ reset

    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset all sub-environments, or those in ``options["reset_mask"]``.

        ``seed``: an int, a list of ``num_envs`` ints (or ``None`` entries) or ``None``; one
        generator drives all sub-environments, so a list does not give ``SyncVectorEnv``'s
        per-env streams (see the class docstring). ``options["task"]``: one task for all reset
        episodes, or one per sub-environment.
        """
        generator = self._generator(seed)
        options = _check_options(options, _VECTOR_RESET_OPTIONS)
        mask = options.get("reset_mask")
        if mask is not None:
            mask = self._check_reset_mask(mask)
        if generator is not None:
            self._np_random, self._np_random_seed = generator
        if mask is None or self._task is None:
            if mask is not None:
                raise ResetNeeded("call reset() without reset_mask before the first partial reset")
            self._start(None, options.get("task"))
            mask = np.ones(self.num_envs, dtype=bool)
        else:
            self._start(np.nonzero(mask)[0], options.get("task"))
        return self._obs.copy(), self._info(mask)

    def _generator(self, seed: Any) -> tuple[np.random.Generator, int] | None:
        """The generator and ``np_random_seed`` that ``seed`` asks for; ``None``: keep the current one."""
        if seed is None:
            return None
        if not isinstance(seed, (list, tuple)):
            if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
                raise TypeError(
                    f"seed must be an int, a list of num_envs={self.num_envs} ints or None, got {seed!r}"
                )
            return seeding.np_random(int(seed))  # as today, and as the single env
        if len(seed) != self.num_envs:
            raise ValueError(f"seed as a list must have num_envs={self.num_envs} entries, got {len(seed)}")
        if all(s is None for s in seed):
            return None  # as seed=None: SyncVectorEnv's sub-envs keep their generators too
        words: list[int] = []
        for i, s in enumerate(seed):
            if s is None:
                s = np.random.SeedSequence().entropy  # fresh 128-bit entropy
            elif isinstance(s, (bool, np.bool_)) or not isinstance(s, (int, np.integer)) or not 0 <= s < 2**128:
                raise ValueError(f"seed[{i}] must be an int in [0, 2**128) or None, got {s!r}")
            s = int(s)
            # four 32-bit words per seed: distinct lists give distinct entropy, and for one seed
            # the four words (trailing zeros included) make the same SeedSequence as the int
            words.extend((s >> shift) & 0xFFFFFFFF for shift in (0, 32, 64, 96))
        return np.random.Generator(np.random.PCG64(np.random.SeedSequence(words))), -1

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
            given = self.dynamics.check_task(task)
            if given.ndim > len(self.model.task_shape):  # one task per sub-environment
                task = given[rows] if given.shape[0] == self.num_envs else given
        # in place: the caller only ever receives copies of these arrays
        self._task[rows] = self.dynamics.new_tasks(self.np_random, len(rows), task)
        self._stats[rows] = self.model.initial_stats(len(rows))
        self._t[rows] = 0
        self._obs[rows] = 0.0
        self._needs_reset[rows] = False

    # ------------------------------------------------------------------- step

    def step(
        self, actions: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step every sub-environment; see the class docstring for autoreset and truncation."""
        if self._task is None:
            raise ResetNeeded("call reset() before step()")
        actions = self.dynamics.check_actions(actions, self.num_envs)
        mode, limit = self.autoreset_mode, self.max_episode_steps
        extra: dict[str, Any] = {}
        if mode is AutoresetMode.NEXT_STEP and self._needs_reset.any():
            resetting = self._needs_reset
            rewards = np.zeros(self.num_envs, dtype=np.float64)
            if not resetting.all():
                stepping = np.nonzero(~resetting)[0]
                rewards[stepping] = self._advance(stepping, actions)
            self._start(None if resetting.all() else np.nonzero(resetting)[0])
            terminated = self._t >= self.horizon  # the rows just reset have t = 0: both flags False
            # truncated as TimeLimit counts: on the limit-th step of an episode
            truncated = np.zeros(self.num_envs, dtype=bool) if limit is None else self._t >= limit
        else:
            if mode is AutoresetMode.DISABLED and self._needs_reset.any():
                rows = np.nonzero(self._needs_reset)[0].tolist()
                raise ResetNeeded(
                    f"sub-environments {rows} have ended (terminated or truncated) and autoreset_mode is "
                    'DISABLED: call reset(options={"reset_mask": mask}) for them before stepping'
                )
            rewards = self._advance(None, actions)
            terminated = self._t >= self.horizon
            truncated = np.zeros(self.num_envs, dtype=bool) if limit is None else self._t >= limit
            if mode is AutoresetMode.SAME_STEP:
                ended = terminated if limit is None else terminated | truncated
                if ended.any():
                    extra = self._final(ended)
                    self._start(None if ended.all() else np.nonzero(ended)[0])
        # a new array: the caller may write into the returned ``terminated`` array
        if mode is AutoresetMode.SAME_STEP:
            self._needs_reset = np.zeros_like(terminated)
        elif limit is None:
            self._needs_reset = terminated.copy()
        else:
            self._needs_reset = terminated | truncated
        if self.render_mode == "ansi":  # what the text rendering shows of the last step
            self._last_actions, self._last_rewards = actions.copy(), rewards.copy()
        info = self._info(np.ones(self.num_envs, dtype=bool))
        info.update(extra)
        return self._obs.copy(), rewards, terminated, truncated, info

    def _advance(self, rows: np.ndarray | None, actions: np.ndarray) -> np.ndarray:
        """Step the episodes in ``rows`` (all if None); returns their rewards."""
        assert self._task is not None
        if rows is None:
            self._t = self._t + 1
            self._task = self.model.evolve(self.np_random, self._task)
            self._stats, self._obs, rewards = self.dynamics.transition(
                self.np_random, self._task, self._stats, self._t, actions
            )
            return rewards
        t = self._t[rows] + 1
        task = self.model.evolve(self.np_random, self._task[rows])
        stats, obs, rewards = self.dynamics.transition(self.np_random, task, self._stats[rows], t, actions[rows])
        self._t[rows] = t
        self._task[rows] = task
        self._stats[rows] = stats
        self._obs[rows] = obs
        return rewards

    def bayes_predictive(self) -> np.ndarray:
        """Bayes posterior predictive parameters of every sub-environment: ``(num_envs, ...)``."""
        if self._task is None:
            raise ResetNeeded("call reset() before bayes_predictive()")
        return self.model.predictive(self._stats)

    def _final(self, done: np.ndarray) -> dict[str, Any]:
        """``final_obs`` and ``final_info`` of the episodes ending now (SAME_STEP mode).

        Called before the ended rows are reset, so ``final_info`` holds every row's current
        task and posterior: the ended episodes' in the ``done`` rows, and in the other rows the
        same values as the step's ``info`` (``agents.vec_env.NativeVecEnv`` relies on this)."""
        final_obs = np.full(self.num_envs, None, dtype=object)
        rows = np.flatnonzero(done)
        # an object array of per-env observations, as SyncVectorEnv: rows of one fresh copy
        for row, obs in zip(rows.tolist(), self._obs[rows], strict=True):
            final_obs[row] = obs
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

    # ---------------------------------------------------------------- render

    def render(self) -> tuple[np.ndarray, ...] | tuple[str, ...] | None:
        """One frame per sub-environment, as Gymnasium's ``VectorEnv.render`` (and
        ``SyncVectorEnv`` over the single envs) returns: ``"rgb_array"``, a tuple of
        ``num_envs`` uint8 pictures (:func:`meta_envs.rendering.render_belief`); ``"ansi"``, a
        tuple of ``num_envs`` text lines, each the single env's text. Drawing every
        sub-environment costs time linear in ``num_envs``; :meth:`render_tiled` draws a few."""
        if self.render_mode is None:
            gym.logger.warn(
                "render() called with render_mode=None; pass render_mode='rgb_array' or 'ansi' to gym.make_vec"
            )
            return None
        return tuple(self._render_rows(self.num_envs))

    def render_tiled(self, max_envs: int = 4) -> np.ndarray | str | None:
        """The first ``max_envs`` sub-environments in one frame: ``"rgb_array"``, their pictures
        tiled in a grid (:func:`meta_envs.rendering.tile_frames`); ``"ansi"``, their texts as one
        line each (the line breaks numpy puts in a 2-D posterior made spaces), joined with newlines."""
        max_envs = check_int(max_envs, "max_envs", 1)
        if self.render_mode is None:
            gym.logger.warn(
                "render_tiled() called with render_mode=None; pass render_mode='rgb_array' or 'ansi' to gym.make_vec"
            )
            return None
        frames = self._render_rows(min(max_envs, self.num_envs))
        if self.render_mode == "ansi":  # one line each: numpy writes a 2-D posterior on several
            return "\n".join(re.sub(r"\n\s*", " ", text) for text in frames)  # type: ignore[arg-type]
        return tile_frames(frames)  # type: ignore[arg-type]

    def _render_rows(self, n: int) -> list[np.ndarray] | list[str]:
        """What the single env renders, for sub-environments ``0 .. n-1``."""
        if self._task is None:
            raise ResetNeeded("call reset() before render()")
        if self.render_mode == "rgb_array":
            return [
                render_belief(self.model, self._task[row], self._stats[row], self._t[row] / self.horizon)
                for row in range(n)
            ]
        posterior = self.model.posterior(self._stats[:n])
        lines = []
        for row in range(n):
            t = int(self._t[row])
            last = None
            if t > 0 and self._last_actions is not None and self._last_rewards is not None:
                last = (self._last_actions[row], float(self._last_rewards[row]))
            lines.append(_step_text(self.dynamics, t, last, posterior[row]))
        return lines

    def close_extras(self, **kwargs: Any) -> None:
        """Nothing to release: the sub-environments are arrays."""
