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
  learning rate linearly to ``learning_rate_final``; see :data:`PRESETS` for what was measured.
- ``gamma = 1``: the Bayes-optimal policy maximises the undiscounted return over the fixed
  horizon, and the elapsed fraction ``t / horizon`` in the observation lets the value depend on
  the time left.

Files of a run folder (:func:`train_recurrent_ppo`):

==========================  ==================================================================
``config.json``             the :class:`RecurrentPPOConfig`
``checkpoint.pt``           policy and optimizer tensors, timesteps, RNG states and the
                            evaluation history: loads with ``torch.load(weights_only=True)``,
                            so no pickled code runs (what :func:`load_recurrent_ppo` reads)
``model.zip``               the same policy in SB3's own format for ``RecurrentPPO.load``;
                            SB3 zips hold cloudpickled objects, so load only zips you trust
``tb/``                     TensorBoard: SB3's losses, ``rollout/ep_rew_mean``, the entropy
                            coefficient, and ``eval/bayes_gap``, ``eval/mean_return``
==========================  ==================================================================
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sb3_contrib import RecurrentPPO
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.vec_env import VecMonitor

from agents.bandit_eval import (
    BANDIT_ENVS,
    EVAL_SEED,
    bandit_evaluation_kwargs,
    base_env,
    evaluate_bandit_agent,
    reference_policy,
)
from agents.runs import (
    check_actor_critic,
    check_run_config,
    config_from_dict,
    env_signature,
    linear_schedule,
    load_env_checkpoint,
    load_run_folder,
    preset_of,
    save_checkpoint,
)
from agents.vec_env import NativeVecEnv
from bayes.evaluate import BanditEvaluation
from bayes.validation import check_int

__all__ = [
    "BANDIT_ENVS",
    "PRESETS",
    "BayesGapCallback",
    "EntropySchedule",
    "RecurrentPPOConfig",
    "RecurrentPPOMachine",
    "bandit_evaluation_kwargs",
    "build_model",
    "evaluate_bandit_agent",
    "load_recurrent_ppo",
    "preset_config",
    "reference_policy",
    "train_recurrent_ppo",
]


@dataclass
class RecurrentPPOConfig:
    """What defines a RecurrentPPO run (saved as ``config.json``); see :data:`PRESETS`."""

    env_id: str = "MetaBandit-v0"
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    algo: str = "recurrent-ppo"  #: tells ``agents.runs.load_run`` what kind of run a folder holds
    timesteps: int = 10_000_000  #: env steps to train on
    seed: int = 0
    num_envs: int = 512
    n_steps: int | None = None  #: steps per env per rollout; None: the env's horizon
    batch_size: int = 2560  #: env steps per minibatch (whole sequences of ``n_steps``)
    n_epochs: int = 4
    learning_rate: float = 1e-3
    learning_rate_final: float = 1e-4  #: linear decay to this at the end of the budget
    gamma: float = 1.0
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    ent_coef: float = 0.01  #: entropy bonus at the start
    ent_coef_final: float = 0.0
    ent_anneal_fraction: float = 0.5  #: fraction of the budget over which the bonus falls
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    lstm_hidden_size: int = 64
    net_arch: list[int] = field(default_factory=lambda: [64])  #: MLP after the LSTM (each head)
    shared_lstm: bool = True  #: one LSTM for actor and critic (False: SB3's default, two LSTMs)
    eval_every: int = 1_000_000  #: env steps between Bayes-gap evaluations (and checkpoints)
    eval_episodes: int = 4000
    max_seconds: float | None = None  #: stop (with a checkpoint) once training has taken this long
    torch_threads: int = 2

    def validate(self) -> None:
        """``ValueError`` naming the first field out of range."""
        if self.algo != "recurrent-ppo":
            raise ValueError(f"a RecurrentPPOConfig's algo is 'recurrent-ppo', got {self.algo!r}")
        if self.env_id not in BANDIT_ENVS:
            raise ValueError(f"RecurrentPPO trains bandit agents: env_id must be one of {BANDIT_ENVS}, "
                             f"got {self.env_id!r}")
        for name in ("timesteps", "num_envs", "batch_size", "n_epochs", "lstm_hidden_size", "eval_every",
                     "eval_episodes", "torch_threads"):
            check_int(getattr(self, name), name, 1)
        check_actor_critic(self)
        if self.n_steps is not None:
            check_int(self.n_steps, "n_steps", 1)

    def rollout_steps(self, horizon: int) -> int:
        return self.n_steps if self.n_steps is not None else horizon

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RecurrentPPOConfig:
        """From ``config.json``; ``ValueError`` naming unknown keys."""
        return config_from_dict(cls, values, "RecurrentPPO")


#: Tuned settings (``meta-bayes train ENV --algo recurrent-ppo --preset NAME``); the default
#: preset of an env is the one named after its id. Each maps :class:`RecurrentPPOConfig` fields.
#:
#: ``MetaBandit-v0`` (2 arms, horizon 20, Beta(1, 1)); how it was found, on this project's
#: 2-core machine:
#:
#: - Throughput first: 512 envs, ``n_steps`` = horizon (whole episodes, no padding), one
#:   shared LSTM of 64 units, 4 epochs of 4 minibatches: ~13,000 env steps/s with evaluation,
#:   against ~380 for the stock set-up (8 envs, DummyVecEnv, sb3-contrib's defaults).
#: - Exploration: with the entropy bonus annealed linearly from 0.01 to 0 over the first half
#:   of a 10M-step budget (learning rate 1e-3 decayed linearly to 1e-4), the return passed the
#:   ~11.7-11.8 plateau that a constant bonus of 0.005-0.01 holds it at: 11.57 at 0.5M steps,
#:   12.27 at 1.5M, 12.35 at 4M; the Bayes gap on 20,000 paired episodes after the 10M steps
#:   (13 minutes) was 0.004 (return 12.421 against the Bayes-optimal 12.431).
#: - ``gamma = 1``: the objective is the undiscounted return of the episode.
#:
#: ``MetaGaussianBandit-v0`` (2 normal arms, prior N(0, 1), noise 1, horizon 20): the same
#: settings. After 10M steps (16 minutes) its return on 20,000 episodes was 8.940 ± 0.121;
#: paired on the same episodes it beat Thompson sampling by 1.014 ± 0.028 and greedy by
#: 0.264 ± 0.039, and fell short of the Gittins index policy (discount 0.9) by 0.129 ± 0.028.
#: ``quick``: a smoke-test budget (about 30 s on one core) that already beats random clearly.
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
    return preset_of(RecurrentPPOConfig, PRESETS, "RecurrentPPO", preset, env_id, env_kwargs, seed, timesteps,
                     overrides)


class RecurrentPPOMachine:
    """A RecurrentPPO policy as a batched :class:`~bayes.statemachine.StateMachine`.

    State ``(B, 2 L H)``: the actor LSTM's ``h`` (``L`` layers of ``H`` units) then its ``c``.
    Output: the policy's action probabilities ``(B, n_arms)`` (float64). ``step`` runs the
    policy's own ``get_distribution``, so its probabilities are the ones the policy samples from.
    """

    def __init__(self, policy: Any) -> None:
        self.policy = policy
        self.policy.set_training_mode(False)
        lstm = policy.lstm_actor
        self.layers, self.hidden_size = lstm.num_layers, lstm.hidden_size

    def initial_state(self, batch_size: int) -> np.ndarray:
        return np.zeros((check_int(batch_size, "batch_size", 0), 2 * self.layers * self.hidden_size))

    def _split(self, state: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        b, half = len(state), self.layers * self.hidden_size
        tensor = torch.as_tensor(np.asarray(state, dtype=np.float32))
        h = tensor[:, :half].reshape(b, self.layers, self.hidden_size).transpose(0, 1).contiguous()
        c = tensor[:, half:].reshape(b, self.layers, self.hidden_size).transpose(0, 1).contiguous()
        return h, c

    @torch.no_grad()
    def step(self, state: np.ndarray, observation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        state = np.asarray(state)
        if state.ndim != 2 or state.shape[1] != 2 * self.layers * self.hidden_size:
            raise ValueError(f"state must have shape (B, {2 * self.layers * self.hidden_size}), got {state.shape}")
        obs = torch.as_tensor(np.asarray(observation, dtype=np.float32))
        starts = torch.zeros(len(obs))
        dist, (h, c) = self.policy.get_distribution(obs, self._split(state), starts)
        probs = dist.distribution.probs.double().numpy()
        b = len(obs)
        flat = [x.transpose(0, 1).reshape(b, -1) for x in (h, c)]
        return torch.cat(flat, dim=1).double().numpy(), probs


def build_model(config: RecurrentPPOConfig, venv: Any = None, tensorboard_log: str | None = None) -> RecurrentPPO:
    """A fresh RecurrentPPO for ``config`` on a :class:`NativeVecEnv` (or the given ``venv``)."""
    config.validate()
    horizon = base_env(config.env_id, config.env_kwargs).horizon
    if venv is None:
        venv = VecMonitor(NativeVecEnv(config.env_id, config.num_envs, seed=config.seed, **config.env_kwargs))
    n_steps = config.rollout_steps(horizon)
    rollout = n_steps * config.num_envs
    if config.batch_size > rollout:
        raise ValueError(f"batch_size ({config.batch_size}) exceeds the rollout of num_envs * n_steps = {rollout}")
    start, end = config.learning_rate, config.learning_rate_final

    def learning_rate(progress_remaining: float) -> float:
        return end + (start - end) * progress_remaining

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
        policy_kwargs=policy_kwargs, tensorboard_log=tensorboard_log, seed=config.seed, device="cpu", verbose=0,
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
    """Every ``every`` env steps: evaluate the policy on paired episodes, log, and checkpoint.

    Every evaluation replays the same episodes (seed ``EVAL_SEED + config.seed``, none of them
    seen in training), so successive figures differ by the policy only. Logs
    ``eval/mean_return``, ``eval/bayes_gap`` (Bernoulli arms: ``(V_bayes - R) / (V_bayes -
    V_random)``) and ``eval/regret``; calls ``on_eval(timesteps, evaluation)``. Stops training
    once ``max_seconds`` have passed (the caller then writes the last checkpoint).
    """

    def __init__(self, config: RecurrentPPOConfig, on_eval: Any, max_seconds: float | None = None) -> None:
        super().__init__()
        self.config, self.on_eval, self.max_seconds = config, on_eval, max_seconds
        self.next_eval = 0
        self.started = time.perf_counter()
        self.timed_out = False

    def _schedule_next(self) -> None:
        """The next evaluation: the first multiple of ``eval_every`` after the current step."""
        every = self.config.eval_every
        self.next_eval = (self.model.num_timesteps // every + 1) * every

    def _init_callback(self) -> None:
        self._schedule_next()

    def evaluate(self) -> BanditEvaluation:
        machine = RecurrentPPOMachine(self.model.policy)
        result = evaluate_bandit_agent(machine, self.config.env_id, self.config.env_kwargs,
                                       self.config.eval_episodes, seed=EVAL_SEED + self.config.seed)
        self.model.policy.set_training_mode(True)
        self.logger.record("eval/mean_return", result.mean_return)
        self.logger.record("eval/regret", result.bayes_regret)
        if result.bayes_gap is not None:
            self.logger.record("eval/bayes_gap", result.bayes_gap)
        return result

    def _on_rollout_end(self) -> None:
        if self.model.num_timesteps >= self.next_eval:
            self._schedule_next()
            self.on_eval(self.model.num_timesteps, self.evaluate())

    def _on_step(self) -> bool:
        if self.max_seconds is not None and time.perf_counter() - self.started >= self.max_seconds:
            self.timed_out = True
            return False
        return True


# ---------------------------------------------------------------------------- checkpoints


def _save_checkpoint(out: Path, config: RecurrentPPOConfig, model: RecurrentPPO, history: list[dict[str, Any]],
                     seconds: float) -> None:
    """``checkpoint.pt`` (tensors and plain data, atomic) and ``model.zip`` (SB3's format)."""
    payload = {
        "env": env_signature(config),
        "policy": model.policy.state_dict(),
        "optimizer": model.policy.optimizer.state_dict(),
        "timesteps": int(model.num_timesteps),
        "torch_rng": torch.get_rng_state(),
        "history": json.dumps(history),
        "seconds": float(seconds),
    }
    save_checkpoint(payload, out / "checkpoint.pt")
    model.save(out / "model.tmp.zip")
    os.replace(out / "model.tmp.zip", out / "model.zip")


def train_recurrent_ppo(config: RecurrentPPOConfig, out_dir: str | os.PathLike[str], resume: bool = True,
                        progress_bar: bool = False, log: Any = print) -> dict[str, Any]:
    """Train (or resume) RecurrentPPO on a bandit env; returns ``{"history", "seconds", "timesteps"}``.

    ``out_dir`` receives the files listed in the module docstring; a checkpoint is written at
    every evaluation (every ``eval_every`` env steps) and at the end, also when training stops
    early (``max_seconds``, Ctrl-C). A folder holding a run of another configuration is
    refused; with ``resume``, a run stopped early continues from its last checkpoint (the
    ``timesteps`` budget may be raised to train further). ``seconds`` counts training time over
    all sessions of the run.
    """
    config.validate()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    current = json.loads(json.dumps(asdict(config)))
    check_run_config(out, current, ignore=("timesteps", "max_seconds", "torch_threads"))
    torch.set_num_threads(config.torch_threads)
    torch.manual_seed(config.seed)
    model = build_model(config, tensorboard_log=str(out / "tb"))
    checkpoint = out / "checkpoint.pt"
    history: list[dict[str, Any]] = []
    seconds_before = 0.0
    if resume and checkpoint.exists():
        saved = load_env_checkpoint(checkpoint, config)
        model.policy.load_state_dict(saved["policy"])
        model.policy.optimizer.load_state_dict(saved["optimizer"])
        model.num_timesteps = int(saved["timesteps"])
        torch.set_rng_state(saved["torch_rng"])
        history = json.loads(saved["history"])
        seconds_before = float(saved["seconds"])
        # a resumed run draws its episodes from a stream of its own, fixed by seed and step
        model.env.seed(int(np.random.SeedSequence([config.seed, model.num_timesteps]).generate_state(1)[0]))
        log(f"resumed {out} at {model.num_timesteps} env steps")
    (out / "config.json").write_text(json.dumps(current, indent=2))
    start = time.perf_counter()

    def on_eval(timesteps: int, result: BanditEvaluation) -> None:
        history.append({"timesteps": timesteps, "seconds": seconds_before + time.perf_counter() - start,
                        "mean_return": result.mean_return, "bayes_gap": result.bayes_gap,
                        "ent_coef": float(model.ent_coef)})
        _save_checkpoint(out, config, model, history, seconds_before + time.perf_counter() - start)
        gap = "" if result.bayes_gap is None else f", Bayes gap {result.bayes_gap:.4f}"
        log(f"{timesteps} steps ({history[-1]['seconds']:.0f} s): return {result.mean_return:.4f}"
            f" ± {result.stderr:.4f}{gap}")

    remaining = config.timesteps - model.num_timesteps
    if remaining > 0:
        max_seconds = None if config.max_seconds is None else max(0.0, config.max_seconds - seconds_before)
        gap_callback = BayesGapCallback(config, on_eval, max_seconds)
        schedule = EntropySchedule(config.ent_coef, config.ent_coef_final, config.ent_anneal_fraction,
                                   config.timesteps)
        try:
            model.learn(remaining, callback=CallbackList([schedule, gap_callback]), reset_num_timesteps=False,
                        progress_bar=progress_bar, tb_log_name="run")
        except KeyboardInterrupt:
            log(f"interrupted at {model.num_timesteps} env steps: writing the checkpoint")
            _save_checkpoint(out, config, model, history, seconds_before + time.perf_counter() - start)
            raise
        if not history or history[-1]["timesteps"] != model.num_timesteps:
            on_eval(model.num_timesteps, gap_callback.evaluate())
    model.env.close()
    return {"history": history, "seconds": seconds_before + time.perf_counter() - start,
            "timesteps": int(model.num_timesteps)}


def load_recurrent_ppo(out_dir: str | os.PathLike[str]) -> tuple[RecurrentPPOMachine, RecurrentPPOConfig]:
    """The trained policy of ``out_dir`` as a state machine, and its configuration.

    Reads ``config.json`` and ``checkpoint.pt`` only (``weights_only=True``: no pickled code
    runs). ``ValueError`` with a clear message for a missing or corrupt folder.
    """

    def build(config: RecurrentPPOConfig, saved: dict[str, Any]) -> RecurrentPPOMachine:
        venv = VecMonitor(NativeVecEnv(config.env_id, 1, seed=0, **config.env_kwargs))
        model = build_model(RecurrentPPOConfig(**{**asdict(config), "num_envs": 1, "batch_size": 1}), venv)
        model.policy.load_state_dict(saved["policy"])
        return RecurrentPPOMachine(model.policy)

    return load_run_folder(out_dir, RecurrentPPOConfig.from_dict, "RecurrentPPO", build)
