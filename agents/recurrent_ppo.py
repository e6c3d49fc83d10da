"""Meta-training sb3-contrib RecurrentPPO on the bandit envs, and its state-machine adapter.

Memory-based meta-learning: one LSTM policy is trained across episodes whose task (the arms'
means) is re-drawn from the prior at every reset, so the return it maximises is the Bayesian
expected return, and a converged policy acts like the Bayes-optimal one.

What makes stock RecurrentPPO slow and stuck, and what the presets (:data:`PRESETS`) do:

- **Speed.** ``DummyVecEnv`` with 8 envs steps each env in Python and runs ~400 env steps per
  second. :class:`agents.vec_env.NativeVecEnv` steps 512 episodes in one numpy call;
  ``n_steps`` equal to the horizon makes every rollout one whole episode per row, so
  sequences are never padded or cut; one shared LSTM (``shared_lstm=True``,
  ``enable_critic_lstm=False``) halves the recurrent work. Measured with
  ``python -m benchmarks.recurrent_ppo_training``: see that script's output.
- **The plateau.** With a constant entropy bonus the policy settles at a return of about
  11.7-11.8 on ``MetaBandit-v0`` (horizon 20; Bayes-optimal 12.43, greedy 12.37): the bonus
  pays for exploring long after the posterior has made one arm clearly better. The presets
  anneal the entropy coefficient linearly from ``ent_coef`` to ``ent_coef_final`` over the
  first ``ent_anneal_fraction`` of the budget (:class:`EntropySchedule`), and decay the
  learning rate linearly to ``learning_rate_final``; ``docs/tuning.md`` has what was measured.
- ``gamma = 1``: the Bayes-optimal policy maximises the undiscounted return over the fixed
  horizon, and the elapsed fraction ``t / horizon`` in the observation lets the value depend on
  the time left.

Files of a run folder (:func:`train_recurrent_ppo`):

==========================  ==================================================================
``config.json``             the :class:`RecurrentPPOConfig`
``checkpoint.pt``           policy and optimizer tensors, timesteps, RNG states and the
                            evaluation history: loads with ``torch.load(weights_only=True)``,
                            so no pickled code runs (what :func:`load_recurrent_ppo` reads).
                            Written at every evaluation, at the end (budget or
                            ``max_seconds``) and on Ctrl-C (after the env step in flight)
``model.zip``               the same policy in SB3's own format for ``RecurrentPPO.load``;
                            SB3 zips hold cloudpickled objects, so load only zips you trust
``snapshots/``              with ``snapshots``: the policy's weights (``policy``, as in the
                            checkpoint) after a few log-spaced rollouts (:mod:`agents.training`)
``tb/``                     TensorBoard: SB3's losses, ``rollout/ep_rew_mean``, the entropy
                            coefficient, and the evaluation on paired held-out episodes
                            (:func:`agents.training.bandit_evaluator`): ``eval/mean_return``,
                            ``eval/regret``, ``eval/bayes_gap``, ``eval/paired_difference``,
                            ``eval/paired_gap``
==========================  ==================================================================
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any, ClassVar

import numpy as np
import torch
from sb3_contrib import RecurrentPPO
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.vec_env import VecMonitor

from agents.bandit_eval import base_env
from agents.machines import RecurrentMachine
from agents.runs import load_run_folder
from agents.training import (
    TORCH_RNG,
    ActorCriticConfig,
    Session,
    bandit_evaluator,
    deferred_interrupt,
    linear_interpolation,
    linear_schedule,
)
from agents.training import preset_config as _preset_config
from agents.vec_env import NativeVecEnv
from bayes.files import write_atomically
from bayes.validation import check_int

__all__ = ["PRESETS", "BayesGapCallback", "EntropySchedule", "RecurrentPPOConfig", "RecurrentPPOMachine",
           "build_model", "load_recurrent_ppo", "preset_config", "train_recurrent_ppo"]


@dataclass
class RecurrentPPOConfig(ActorCriticConfig):
    """What defines a RecurrentPPO run (saved as ``config.json``): the fields of
    :class:`~agents.training.ActorCriticConfig` and RecurrentPPO's own; see :data:`PRESETS`."""

    ALGO: ClassVar[str] = "recurrent-ppo"
    LABEL: ClassVar[str] = "RecurrentPPO"
    POSITIVE_INTS: ClassVar[tuple[str, ...]] = ("batch_size", "lstm_hidden_size")
    UPDATES: ClassVar[str] = "rollouts of num_envs x n_steps env steps"

    algo: str = "recurrent-ppo"
    n_steps: int | None = None  #: steps per env per rollout; None: the env's horizon
    batch_size: int = 2560  #: env steps per minibatch (whole sequences of ``n_steps``)
    lstm_hidden_size: int = 64
    shared_lstm: bool = True  #: one LSTM for actor and critic (False: SB3's default, two LSTMs)

    def check(self) -> None:
        if self.n_steps is not None:
            check_int(self.n_steps, "n_steps", 1)

    def rollout_steps(self, horizon: int) -> int:
        return self.n_steps if self.n_steps is not None else horizon

    def update_size(self) -> int:
        """The env steps of one rollout (one update): ``num_envs`` envs of ``n_steps`` steps."""
        return self.rollout_steps(int(self.make_env().horizon)) * self.num_envs

    def updates(self) -> int:
        """The rollouts of the budget: ``ceil(timesteps / (num_envs * n_steps))``, as SB3 collects them."""
        return -(-self.timesteps // self.update_size())


#: Tuned settings (``meta-bayes train ENV --algo recurrent-ppo --preset NAME``); the default
#: preset of an env is the one named after its id. Each maps :class:`RecurrentPPOConfig` fields.
#: How they were found, with the figures: ``docs/tuning.md``. ``quick``: a smoke-test budget
#: (about 30 s on one core) that already beats random clearly.
PRESETS: dict[str, dict[str, Any]] = {
    "MetaBandit-v0": {"timesteps": 10_000_000, "eval_every": 500_000},
    "MetaGaussianBandit-v0": {"timesteps": 10_000_000, "eval_every": 500_000},
    "quick": {"timesteps": 100_000, "num_envs": 64, "batch_size": 320, "learning_rate": 3e-3,
              "learning_rate_final": 3e-4, "ent_anneal_fraction": 0.7, "lstm_hidden_size": 32, "net_arch": [32],
              "eval_every": 100_000, "eval_episodes": 1000, "torch_threads": 1},
}


def preset_config(preset: str, env_id: str, env_kwargs: dict[str, Any] | None = None, seed: int = 0,
                  timesteps: int | None = None, **overrides: Any) -> RecurrentPPOConfig:
    """The config of ``preset`` for ``env_id`` (``timesteps=None``: the preset's own budget), with
    ``overrides`` of its fields."""
    return _preset_config(RecurrentPPOConfig, PRESETS, preset, env_id, env_kwargs, seed, timesteps, overrides)


class RecurrentPPOMachine(RecurrentMachine):
    """A RecurrentPPO policy as a batched :class:`~bayes.statemachine.StateMachine`.

    State ``(B, 2 L H)``: the actor LSTM's ``h`` (``L`` layers of ``H`` units) then its ``c``.
    Output: the policy's action probabilities ``(B, n_arms)`` (float64). ``step`` runs the
    policy's own ``get_distribution``, so its probabilities are the ones the policy samples from.
    """

    def __init__(self, policy: Any) -> None:
        super().__init__(2, policy.lstm_actor.num_layers, policy.lstm_actor.hidden_size, policy.device)
        self.policy = policy
        self.policy.set_training_mode(False)

    def forward(self, obs: torch.Tensor, state: tuple[torch.Tensor, ...]) -> tuple[tuple[torch.Tensor, ...], Any]:
        dist, parts = self.policy.get_distribution(obs, state, torch.zeros(len(obs), device=obs.device))
        return parts, dist.distribution.probs


def build_model(config: RecurrentPPOConfig, venv: Any = None, tensorboard_log: str | None = None,
                device: torch.device | str = "cpu") -> RecurrentPPO:
    """A fresh RecurrentPPO for ``config`` on a :class:`NativeVecEnv` (or the given ``venv``)."""
    config.validate()
    horizon = base_env(config.env_id, config.env_kwargs).horizon
    if venv is None:
        venv = VecMonitor(NativeVecEnv(config.env_id, config.num_envs, seed=config.seed, **config.env_kwargs))
    n_steps = config.rollout_steps(horizon)
    rollout = n_steps * config.num_envs
    if config.batch_size > rollout:
        raise ValueError(f"batch_size ({config.batch_size}) exceeds the rollout of num_envs * n_steps = {rollout}")
    # SB3 calls it with progress_remaining = 1 - timesteps / budget: linear_schedule over the budget
    learning_rate = partial(linear_interpolation, config.learning_rate, config.learning_rate_final)
    policy_kwargs = {
        "lstm_hidden_size": config.lstm_hidden_size,
        "net_arch": {"pi": list(config.net_arch), "vf": list(config.net_arch)},
        "shared_lstm": config.shared_lstm,
        "enable_critic_lstm": not config.shared_lstm,
    }
    return RecurrentPPO(
        "MlpLstmPolicy", venv, learning_rate=learning_rate, n_steps=n_steps, batch_size=config.batch_size,
        n_epochs=config.n_epochs, gamma=config.gamma, gae_lambda=config.gae_lambda, clip_range=config.clip_range,
        ent_coef=config.ent_coef, vf_coef=config.vf_coef, max_grad_norm=config.max_grad_norm,
        policy_kwargs=policy_kwargs, tensorboard_log=tensorboard_log, seed=config.seed, device=device, verbose=0,
    )


class EntropySchedule(BaseCallback):
    """Anneal ``model.ent_coef`` linearly from ``start`` to ``end`` over ``fraction`` of ``total`` steps.

    ``ent_coef(n) = end + (start - end) * max(0, 1 - n / (fraction * total))``, set before each
    rollout from the run's timestep count (so a resumed run continues the same schedule).
    """

    def __init__(self, start: float, end: float, fraction: float, total: int) -> None:
        super().__init__()
        self.start, self.end, self.fraction, self.total = start, end, fraction, total

    def value(self, timesteps: int) -> float:
        return linear_schedule(self.start, self.end, self.fraction, self.total, timesteps)

    def _on_rollout_start(self) -> None:
        self.model.ent_coef = self.value(self.model.num_timesteps)
        self.logger.record("train/ent_coef", self.model.ent_coef)

    def _on_step(self) -> bool:
        return True


class BayesGapCallback(BaseCallback):
    """At the start of each rollout, when the policy has been trained on every env step counted
    so far: a snapshot where one is planned (:meth:`agents.training.Session.snapshot`) and,
    every ``eval_every`` env steps, an evaluation of the policy on paired held-out episodes
    (:func:`agents.training.bandit_evaluator`), logged to SB3's logger, and a checkpoint.

    (At the end of a rollout the policy is not yet trained on it: a checkpoint written there
    would lose that rollout's update when the run resumes, and the last one at the end.)"""

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.evaluator = bandit_evaluator(session.config)

    def evaluate(self) -> None:
        """Evaluate now, record it in the session (history, logger, checkpoint)."""
        training = self.model.policy.training
        evaluation = self.evaluator(RecurrentPPOMachine(self.model.policy))
        self.model.policy.set_training_mode(training)
        evaluation.record["ent_coef"] = float(self.model.ent_coef)
        self.session.progress = int(self.model.num_timesteps)
        self.session.record(evaluation, lambda values: [self.logger.record(k, v) for k, v in values.items()])

    def _on_rollout_start(self) -> None:
        self.session.progress = int(self.model.num_timesteps)
        self.session.snapshot()
        if self.model.num_timesteps >= self.session.next_eval:
            self.evaluate()

    def _on_step(self) -> bool:
        return True


class _Stop(BaseCallback):
    """``False`` from ``on_step`` (SB3 then stops collecting) once ``stop()`` says so: when the
    time limit is spent or Ctrl-C was pressed."""

    def __init__(self, stop: Any) -> None:
        super().__init__()
        self.stop = stop

    def _on_step(self) -> bool:
        return not self.stop()


def train_recurrent_ppo(config: RecurrentPPOConfig, out_dir: str | os.PathLike[str], resume: bool = True,
                        progress_bar: bool = False, log: Any = print) -> dict[str, Any]:
    """Train (or resume) RecurrentPPO on a bandit env; returns ``{"history", "seconds", "timesteps"}``.

    ``out_dir`` receives the files listed in the module docstring. A folder holding a run of
    another configuration is refused; with ``resume``, a run stopped early continues from its
    last checkpoint (the ``timesteps`` budget may be raised to train further), its episodes
    drawn from a stream of their own fixed by the seed and the step. ``seconds`` counts
    training time over all sessions of the run. Ctrl-C: :mod:`agents.training`.
    """
    with Session(config, out_dir, log) as session:
        torch.manual_seed(config.seed)
        model = build_model(config, tensorboard_log=str(session.out / "tb"), device=session.device)

        def after_restore(saved: dict[str, Any]) -> None:
            model.num_timesteps = int(saved["timesteps"])
            model.env.seed(int(np.random.SeedSequence([config.seed, model.num_timesteps]).generate_state(1)[0]))

        session.resume({"policy": model.policy, "optimizer": model.policy.optimizer, "torch_rng": TORCH_RNG}, resume,
                       after_restore, lambda: write_atomically(session.out / "model.zip", model.save))
        remaining = config.timesteps - model.num_timesteps
        if remaining > 0 and not session.out_of_time():
            with deferred_interrupt() as interrupted:
                gap = BayesGapCallback(session)
                schedule = EntropySchedule(config.ent_coef, config.ent_coef_final, config.ent_anneal_fraction,
                                           config.timesteps)
                stop = _Stop(lambda: interrupted() or session.out_of_time())
                model.learn(remaining, callback=CallbackList([schedule, gap, stop]),
                            reset_num_timesteps=False, progress_bar=progress_bar, tb_log_name="run")
                session.progress = int(model.num_timesteps)
                if interrupted():
                    session.stop("interrupted")
                    raise KeyboardInterrupt
            if not session.history or session.history[-1]["timesteps"] != model.num_timesteps:
                gap.evaluate()
        session.finish()
        model.env.close()
        return session.result()


def load_recurrent_ppo(out_dir: str | os.PathLike[str], checkpoint: str | os.PathLike[str] | None = None
                       ) -> tuple[RecurrentPPOMachine, RecurrentPPOConfig]:
    """The trained policy of ``out_dir`` as a state machine, and its configuration.

    Reads ``config.json`` and ``checkpoint.pt`` (or the ``checkpoint`` given: one of the run's
    snapshots) only (``weights_only=True``: no pickled code runs), never ``model.zip``.
    ``ValueError`` with a clear message for a missing or corrupt folder.
    """

    def build(config: RecurrentPPOConfig, saved: dict[str, Any]) -> RecurrentPPOMachine:
        venv = VecMonitor(NativeVecEnv(config.env_id, 1, seed=0, **config.env_kwargs))
        model = build_model(RecurrentPPOConfig(**{**asdict(config), "num_envs": 1, "batch_size": 1}), venv)
        model.policy.load_state_dict(saved["policy"])
        return RecurrentPPOMachine(model.policy)

    return load_run_folder(out_dir, RecurrentPPOConfig.from_dict, "RecurrentPPO", build, checkpoint)
