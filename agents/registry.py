"""The trainers, by ``algo``: the one list that the command line, the study and the sweeps read.

=================  ============================  ======================================
``algo``           module                        trains
=================  ============================  ======================================
``supervised``     :mod:`agents.predictor`       LSTM predictors on the prediction envs
``recurrent-ppo``  :mod:`agents.recurrent_ppo`   sb3-contrib RecurrentPPO bandit agents
``rl2``            :mod:`agents.rl2`             the fast batched RL² bandit agents
=================  ============================  ======================================

Every trainer module exposes the same names, which :class:`Trainer` reads: its config class
(a :class:`agents.training.TrainerConfig`), ``PRESETS``, ``preset_config(preset, env_id,
env_kwargs, seed, timesteps, **overrides)``, a training function ``(config, out_dir,
resume=True, progress_bar=False, log=print)`` returning ``{"history", "seconds", ...}`` and a
loader ``(out_dir) -> (machine, config)``. The modules are imported on first use, so reading
this list loads neither torch nor stable-baselines3. Adding a trainer means writing its module
and one line here, or :func:`register` for a trainer of your own (see ``docs/extending.md``).
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from types import ModuleType
from typing import Any

__all__ = ["ALGOS", "TRAINERS", "Trainer", "register", "train", "trainer", "training_config"]


@dataclass(frozen=True)
class Trainer:
    """One trainer: its ``algo``, its module, and the names of its config class, trainer and loader."""

    algo: str
    module: str
    config: str  #: the config class's name in ``module``
    train_name: str
    load_name: str
    summary: str

    def _module(self) -> ModuleType:
        return importlib.import_module(self.module)

    @property
    def config_class(self) -> Any:
        return getattr(self._module(), self.config)

    @property
    def presets(self) -> dict[str, dict[str, Any]]:
        return self._module().PRESETS

    @property
    def envs(self) -> tuple[str, ...]:
        return self.config_class.ENVS

    def default_preset(self, env_id: str) -> str:
        """The preset named after ``env_id`` if there is one, else ``default``."""
        return env_id if env_id in self.presets else "default"

    def fields(self) -> set[str]:
        """The names of the config's fields."""
        from dataclasses import fields

        return {f.name for f in fields(self.config_class)}

    def train(self, config: Any, out_dir: str | os.PathLike[str], **kwargs: Any) -> dict[str, Any]:
        """Train (or resume) ``config`` in ``out_dir``; see the trainer's own function."""
        return getattr(self._module(), self.train_name)(config, out_dir, **kwargs)

    def load(self, out_dir: str | os.PathLike[str]) -> tuple[Any, Any]:
        """``(machine, config)`` of the run in ``out_dir``."""
        return getattr(self._module(), self.load_name)(out_dir)

    def preset_config(self, preset: str, env_id: str, env_kwargs: dict[str, Any] | None = None, seed: int = 0,
                      timesteps: int | None = None, **overrides: Any) -> Any:
        """The trainer's ``preset_config``: ``preset`` for ``env_id``, a budget, ``overrides``."""
        return self._module().preset_config(preset, env_id, env_kwargs, seed=seed, timesteps=timesteps, **overrides)


TRAINERS: dict[str, Trainer] = {
    "supervised": Trainer("supervised", "agents.predictor", "PredictorConfig", "train_predictor", "load_predictor",
                          "LSTM predictors (prediction envs)"),
    "recurrent-ppo": Trainer("recurrent-ppo", "agents.recurrent_ppo", "RecurrentPPOConfig", "train_recurrent_ppo",
                             "load_recurrent_ppo", "sb3-contrib RecurrentPPO (bandit envs)"),
    "rl2": Trainer("rl2", "agents.rl2", "RL2Config", "train_rl2", "load_rl2",
                   "the fast batched RL² trainer (bandit envs)"),
}
ALGOS = tuple(TRAINERS)  #: the built-in trainers' names, in the order the command line lists them


def register(entry: Trainer) -> Trainer:
    """Add a trainer of your own (its module importable by ``entry.module``, often ``__name__``);
    ``ValueError`` if its ``algo`` is taken. The command line, the study and the sweeps then know it."""
    if entry.algo in TRAINERS:
        raise ValueError(f"a trainer named {entry.algo!r} exists already: {TRAINERS[entry.algo].module}")
    TRAINERS[entry.algo] = entry
    return entry


def trainer(algo: str) -> Trainer:
    """The trainer called ``algo``; ``ValueError`` naming the known ones."""
    if algo not in TRAINERS:
        raise ValueError(f"unknown algo {algo!r}; known: {list(TRAINERS)}")
    return TRAINERS[algo]


def training_config(algo: str, env_id: str, env_kwargs: dict[str, Any] | None = None, seed: int = 0,
                    preset: str | None = None, timesteps: int | None = None,
                    hyperparameters: dict[str, Any] | None = None, flag: str = "algo") -> Any:
    """The validated config of trainer ``algo`` for ``env_id``: its ``preset`` (None: the env's
    own, :meth:`Trainer.default_preset`) with ``hyperparameters`` over it and a budget of
    ``timesteps`` env steps (None: the preset's). ``flag`` names ``algo`` in the message that
    refuses an env the trainer does not train (``"--algo"`` on the command line)."""
    chosen = trainer(algo)
    if env_id not in chosen.envs:
        other = [a for a, t in TRAINERS.items() if env_id in t.envs]
        hint = f" ({env_id} trains with {flag} {' or '.join(other)})" if other else ""
        raise ValueError(f"{flag} {algo} trains {chosen.config_class.TRAINS}: env_id must be one of {chosen.envs}, "
                         f"got {env_id}{hint}")
    return chosen.preset_config(preset or chosen.default_preset(env_id), env_id, env_kwargs, seed=seed,
                                timesteps=timesteps, **(hyperparameters or {}))


def train(config: Any, out_dir: str | os.PathLike[str], resume: bool = True, progress_bar: bool = False,
          log: Any = print) -> dict[str, Any]:
    """Train (or resume) ``config`` (any trainer's) in ``out_dir``; returns the trainer's result with
    ``train_seconds`` (over every session of the run) and ``train_steps``, the env steps trained
    on (for a predictor: steps × batch size × horizon, the predictions made)."""
    result = trainer(config.algo).train(config, out_dir, resume=resume, progress_bar=progress_bar, log=log)
    if "timesteps" in result:
        steps = result["timesteps"]
    else:
        steps = result["step"] * config.batch_size * int(config.make_env().horizon)
    return {**result, "train_seconds": result["seconds"], "train_steps": steps}
