"""Supervised meta-training of LSTM predictors, and their state-machine adapter.

An LSTM reads a prediction env's observations (``MetaCoin-v0``, ``MetaDie-v0``,
``MetaGaussian-v0``, ``MetaExponential-v0``, ``MetaSwitchingCoin-v0``) and outputs, at every step, the parameters of a
predictive distribution in the family of the env's Bayes predictive, so a perfect network can
match the Bayes predictor exactly. It is trained on batches of whole episodes drawn from the
env's task family (:mod:`bayes.models`) by minimising the log-loss
:math:`-\\frac1{BT}\\sum_{b,t} \\log q_\\phi(x_t^b \\mid x_{<t}^b)`, whose minimiser is the Bayes
predictive (meta-learning as a Monte-Carlo approximation of the Bayesian objective).

Heads (``raw`` is the linear read-out of the LSTM state):

===================  ======  ==========================================================
family               raw     predictive parameters
===================  ======  ==========================================================
Beta-Bernoulli       1       ``p = sigmoid(z)``
Dirichlet-Cat.       K       ``softmax(z)``
Normal               2       ``mean = m0 + s0 z_0``, ``std = s0 exp(z_1)``
Gamma-Exponential    2       Lomax ``shape = a0 exp(z_0)``, ``scale = b0 exp(z_1)``
===================  ======  ==========================================================

with ``m0, s0`` the prior predictive's mean and std and ``a0, b0`` the prior's shape and rate;
the observed outcome is standardised the same way before it enters the LSTM (``(x - m0)/s0``
for normal outcomes, ``log1p(x b0)`` for exponential ones). Exponents are clamped to [-30, 30].

The elapsed fraction ``t / horizon`` of the observation is left out by default
(``use_time_input=False``): the Bayes predictor needs no clock, since its sufficient statistics
count the outcomes, and without it the network generalises to longer horizons
(``docs/tuning.md`` has the figures).

Training (:func:`train_predictor`) draws batches of ``batch_size`` whole episodes from the
task family and takes one Adam step on their mean log-loss per step (gradients clipped to norm
1), for ``steps`` steps or ``max_seconds`` of training, the learning rate constant or (with
``learning_rate_final``) decayed linearly to it over the ``steps``. Every ``eval_every`` steps
the mean KL per step to the Bayes predictive is measured on fresh episodes
(:func:`agents.training.predictor_evaluator`), logged to TensorBoard (``tb/``) and the
checkpoint written. Checkpoints (``checkpoint.pt``) hold tensors and plain numbers only and
load with ``torch.load(weights_only=True)``: no pickled code runs when a checkpoint is read.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from agents.devices import to_device
from agents.machines import RecurrentMachine
from agents.runs import load_run_folder
from agents.training import TORCH_RNG, Session, TrainerConfig, linear_schedule, predictor_evaluator, run_loop
from agents.training import preset_config as _preset_config
from bayes.evaluate import prediction_observation
from bayes.models import BetaBernoulli, ConjugateModel, DirichletCategorical, GammaExponential, NormalKnownNoise
from bayes.validation import check_number

__all__ = ["PREDICTION_ENVS", "PRESETS", "LSTMPredictor", "PredictorConfig", "PredictorMachine", "load_predictor",
           "preset_config", "train_predictor"]

PREDICTION_ENVS = ("MetaCoin-v0", "MetaDie-v0", "MetaGaussian-v0", "MetaExponential-v0", "MetaSwitchingCoin-v0")
_CLAMP = 30.0


@dataclass
class PredictorConfig(TrainerConfig):
    """What defines a training run (saved as ``config.json`` beside the checkpoint): the fields
    of :class:`~agents.training.TrainerConfig`, the network's and the optimiser's. Its budget
    is ``steps`` gradient steps (and ``max_seconds``)."""

    ALGO: ClassVar[str] = "supervised"
    LABEL: ClassVar[str] = "predictor"
    ENVS: ClassVar[tuple[str, ...]] = PREDICTION_ENVS
    TRAINS: ClassVar[str] = "predictors (prediction envs)"
    RESUMABLE: ClassVar[tuple[str, ...]] = ("steps",)
    POSITIVE_INTS: ClassVar[tuple[str, ...]] = ("hidden_size", "batch_size", "steps")
    UPDATES: ClassVar[str] = "gradient steps"

    env_id: str = "MetaCoin-v0"
    algo: str = "supervised"
    hidden_size: int = 64
    batch_size: int = 256  #: episodes per gradient step
    learning_rate: float = 3e-3
    #: decay the learning rate linearly to this over the ``steps`` budget (None: constant)
    learning_rate_final: float | None = None
    steps: int = 3000  #: gradient steps to train for
    eval_every: int = 500
    eval_episodes: int = 2000
    #: feed the elapsed fraction t / horizon to the LSTM (off: the Bayes predictor needs no clock,
    #: and without it the network generalises to longer horizons; see the module docstring)
    use_time_input: bool = False

    def updates(self) -> int:
        """One update per gradient step: the ``steps`` budget (for ``snapshots``)."""
        return self.steps

    def batch_numbers(self) -> int:
        """A batch's activations: ``batch_size`` episodes of ``horizon`` steps of ``hidden_size`` units."""
        return self.batch_size * int(self.make_env().horizon) * self.hidden_size

    def check(self) -> None:
        check_number(self.learning_rate, "learning_rate", 0.0, 1.0)
        if self.learning_rate_final is not None:
            check_number(self.learning_rate_final, "learning_rate_final", 0.0, 1.0)

    @classmethod
    def with_budget(cls, values: dict[str, Any], timesteps: int) -> dict[str, Any]:
        """A budget of ``timesteps`` predictions: ``ceil(timesteps / (batch_size * horizon))`` steps."""
        from agents.bandit_eval import base_env

        horizon = int(base_env(values["env_id"], values["env_kwargs"]).horizon)
        steps = max(1, -(-timesteps // (int(values.get("batch_size", cls.batch_size)) * horizon)))
        return {**values, "steps": steps, "max_seconds": None,
                "eval_every": min(values.get("eval_every", cls.eval_every), steps)}


#: The supervised preset (``meta-bayes train ENV --algo supervised``): two minutes of training
#: (``max_seconds``), or a budget of predictions (``--timesteps``); see ``docs/tuning.md``.
PRESETS: dict[str, dict[str, Any]] = {
    "default": {"hidden_size": 64, "batch_size": 256, "learning_rate": 3e-3, "max_seconds": 120.0,
                "steps": 1_000_000, "eval_every": 500},
}


def preset_config(preset: str, env_id: str, env_kwargs: dict[str, Any] | None = None, seed: int = 0,
                  timesteps: int | None = None, **overrides: Any) -> PredictorConfig:
    """The config of ``preset`` for ``env_id``: a budget of ``timesteps`` predictions, else the
    preset's two minutes of training; ``overrides`` of its fields."""
    return _preset_config(PredictorConfig, PRESETS, preset, env_id, env_kwargs, seed, timesteps, overrides)


class LSTMPredictor(nn.Module):
    """An LSTM over env observations with a head in the family of ``model``'s Bayes predictive."""

    def __init__(self, model: ConjugateModel, hidden_size: int = 64, use_time_input: bool = False) -> None:
        super().__init__()
        self.use_time_input = bool(use_time_input)
        self.family = model.family
        self.categorical = isinstance(model, DirichletCategorical)
        self.obs_size = model.predictive_shape[-1] + 1 if self.categorical else 3
        self.bernoulli = isinstance(model, BetaBernoulli)  # the coins, switching or not: one probability
        self.n_raw = model.predictive_shape[-1] if self.categorical else (1 if self.bernoulli else 2)
        self.hidden_size = hidden_size
        loc, scale = 0.0, 1.0
        if isinstance(model, NormalKnownNoise):
            loc = float(model.prior_mean)
            scale = math.hypot(float(model.prior_std), float(model.noise_std))
        elif isinstance(model, GammaExponential):
            loc, scale = float(model.shape), float(model.rate)
        self.register_buffer("loc", torch.tensor(loc, dtype=torch.float32))
        self.register_buffer("scale", torch.tensor(scale, dtype=torch.float32))
        self.lstm = nn.LSTM(self.obs_size if self.use_time_input else self.obs_size - 1, hidden_size)
        self.head = nn.Linear(hidden_size, self.n_raw)

    def _features(self, obs: torch.Tensor) -> torch.Tensor:
        if not self.use_time_input:
            obs = obs[..., :-1]  # the elapsed fraction is the last entry of every observation
        if self.family == "normal-known-noise":
            x = (obs[..., :1] - self.loc) / self.scale * obs[..., 1:2]
            return torch.cat([x, obs[..., 1:]], dim=-1)
        if self.family == "gamma-exponential":
            x = torch.log1p(obs[..., :1].clamp(min=0.0) * self.scale)
            return torch.cat([x, obs[..., 1:]], dim=-1)
        return obs

    def forward(
        self, obs: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Raw outputs ``(T, B, n_raw)`` and the final ``(h, c)`` for observations ``(T, B, obs)``."""
        out, (h, c) = self.lstm(self._features(obs), state)
        return self.head(out), (h, c)

    def log_prob(self, raw: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``log q(x)`` under the predictive given by ``raw``."""
        if self.bernoulli:
            z = raw[..., 0]
            return x * nn.functional.logsigmoid(z) + (1 - x) * nn.functional.logsigmoid(-z)
        if self.categorical:
            return torch.log_softmax(raw, dim=-1).gather(-1, x.long().unsqueeze(-1)).squeeze(-1)
        a, b = self.params(raw).unbind(-1)
        if self.family == "normal-known-noise":
            return -0.5 * math.log(2 * math.pi) - torch.log(b) - 0.5 * ((x - a) / b) ** 2
        return torch.log(a) - a * torch.log1p(x / b) - torch.log(b + x)  # Lomax(shape a, scale b)

    def params(self, raw: torch.Tensor) -> torch.Tensor:
        """Predictive parameters in the layout of ``model.predictive`` (see the module docstring)."""
        if self.bernoulli:
            return torch.sigmoid(raw)
        if self.categorical:
            return torch.softmax(raw, dim=-1)
        z = raw.clamp(-_CLAMP, _CLAMP)
        if self.family == "normal-known-noise":
            return torch.stack([self.loc + self.scale * z[..., 0], self.scale * torch.exp(z[..., 1])], dim=-1)
        return torch.stack([self.loc * torch.exp(z[..., 0]), self.scale * torch.exp(z[..., 1])], dim=-1)


class PredictorMachine(RecurrentMachine):
    """A trained :class:`LSTMPredictor` as a batched :class:`~bayes.statemachine.StateMachine`.

    State ``(B, 2H)``: the LSTM's ``h`` then ``c``. Output: the predictive parameters
    ``(B, P)`` (float64), the action of the prediction env.
    """

    def __init__(self, network: LSTMPredictor) -> None:
        super().__init__(2, 1, network.hidden_size, next(network.parameters()).device)
        self.network = network.eval()

    def forward(self, obs: torch.Tensor, state: tuple[torch.Tensor, ...]) -> tuple[tuple[torch.Tensor, ...], Any]:
        raw, parts = self.network(obs[None], state)
        return parts, self.network.params(raw[0])


def _batch(model: ConjugateModel, horizon: int, batch_size: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Observations ``(T, B, obs)`` seen before each prediction and the outcomes ``(T, B)`` to predict."""
    task = model.sample_task(rng, batch_size)
    outcomes = []
    for _ in range(horizon):
        task = model.evolve(rng, task)  # the same task throughout, except for a changing family
        outcomes.append(model.sample_outcome(rng, task))
    outcomes = np.stack(outcomes)
    first = prediction_observation(model, outcomes[0], 0, horizon) * 0.0  # the reset observation: zeros
    obs = [first] + [prediction_observation(model, outcomes[t], t + 1, horizon) for t in range(horizon - 1)]
    return np.stack(obs).astype(np.float32), outcomes.astype(np.float32)


def train_predictor(config: PredictorConfig, out_dir: str | os.PathLike[str], resume: bool = True,
                    log: Callable[[str], Any] = print, progress_bar: bool = False,
                    callback: Callable[[dict[str, Any]], bool | None] | None = None) -> dict[str, Any]:
    """Train (or resume) an LSTM predictor; returns ``{"history", "seconds", "step"}``.

    ``out_dir`` receives ``config.json``, ``checkpoint.pt`` (every ``eval_every`` steps, at
    the end, on Ctrl-C and when ``callback(info)`` returns ``False``) and TensorBoard logs
    under ``tb/`` (log-loss and mean KL to the Bayes predictive). A folder holding a run of
    another configuration is refused; with ``resume`` a run stopped early continues from its
    last checkpoint with its random streams, and a time budget counts the time already spent.
    """
    with Session(config, out_dir, log, unit="steps", key="step") as session:
        env = config.make_env()
        model, horizon = env.model, env.horizon
        torch.manual_seed(config.seed)
        rng = np.random.default_rng(config.seed)
        network = LSTMPredictor(model, config.hidden_size, config.use_time_input).to(session.device)
        optimizer = torch.optim.Adam(network.parameters(), lr=config.learning_rate)

        session.resume({"network": network, "optimizer": optimizer, "rng": rng, "torch_rng": TORCH_RNG}, resume)
        evaluator = predictor_evaluator(config, model, horizon)
        loss_value = [float("nan")]

        def step() -> tuple[int, dict[str, Any]]:
            if config.learning_rate_final is not None:
                for group in optimizer.param_groups:
                    group["lr"] = linear_schedule(config.learning_rate, config.learning_rate_final, 1.0, config.steps,
                                                  session.progress)
            obs, x = _batch(model, horizon, config.batch_size, rng)
            raw, _ = network(to_device(obs, session.device))
            loss = -network.log_prob(raw, to_device(x, session.device)).mean()
            loss_value[0] = float(loss.detach())
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(network.parameters(), 1.0)
            optimizer.step()
            return 1, {"loss": loss_value[0]}

        def evaluate() -> Any:
            result = evaluator(PredictorMachine(network), session.progress, loss_value[0])
            network.train()
            return result

        run_loop(session, config.steps, step, evaluate, progress_bar, callback)
        return session.result()


def load_predictor(out_dir: str | os.PathLike[str],
                   checkpoint: str | os.PathLike[str] | None = None) -> tuple[PredictorMachine, PredictorConfig]:
    """The trained predictor of ``out_dir`` as a state machine, and its configuration.

    Reads ``config.json`` and ``checkpoint.pt`` (or the ``checkpoint`` given: one of the run's
    snapshots) only (``weights_only=True``: no pickled code runs). ``ValueError`` with a clear
    message for a missing or corrupt folder.
    """

    def build(config: PredictorConfig, saved: dict[str, Any]) -> PredictorMachine:
        network = LSTMPredictor(config.make_env().model, config.hidden_size, config.use_time_input)
        network.load_state_dict(saved["network"])
        return PredictorMachine(network)

    return load_run_folder(out_dir, PredictorConfig.from_dict, "predictor", build, checkpoint)
