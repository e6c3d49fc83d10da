"""RL²: a fast batched actor-critic trainer for meta-RL on the bandit envs, in plain torch.

Memory-based meta-learning, as with :mod:`agents.recurrent_ppo`, but built for throughput: a
batch is ``num_envs`` whole episodes of the native vector env, stepped together in one numpy
call per time step, and the recurrent policy is trained on them with backpropagation through
the full episodes. Nothing is ever padded or cut: every episode of a bandit env lasts exactly
``horizon`` steps.

Per batch of ``B = num_envs`` episodes of ``T = horizon`` steps:

1. **Rollout.** ``h_0 = 0``; for ``t = 0 .. T-1``: ``(logits_t, v_t, h_{t+1}) = f_θ(o_t, h_t)``,
   ``a_t ~ softmax(logits_t)`` (inverse-CDF sampling from the run's own torch generator),
   ``(o_{t+1}, r_t) = env.step(a_t)``.
2. **Advantages** (GAE over the full episode, which ends at ``T``, so ``v_T = 0``):
   ``δ_t = r_t + γ v_{t+1} - v_t``, ``A_t = δ_t + γ λ A_{t+1}``, return target
   ``R_t = A_t + v_t``; ``A`` is normalised over the batch when ``normalize_advantage``.
3. **Update.**

   - ``update="a2c"``: one gradient step on the graph of the rollout itself (no second
     forward pass): ``L = -mean(log π(a_t|h_t) A_t) + vf_coef · mean((v_t - R_t)²)/(2 s²)
     - ent_coef · mean(H[π(·|h_t)])``, ``s²`` the variance of the targets ``R`` over the batch.
   - ``update="ppo"`` (the presets): the rollout runs without a graph; then ``n_epochs`` passes
     over ``minibatches`` random subsets of whole episodes, each re-running the core over the
     full sequences, with PPO's clipped ratio ``clip_range`` in place of ``log π``.

   Gradients are clipped to ``max_grad_norm``; Adam with the learning rate decayed linearly
   from ``learning_rate`` to ``learning_rate_final`` over the budget, and the entropy bonus
   annealed linearly from ``ent_coef`` to ``ent_coef_final`` over ``ent_anneal_fraction`` of it.

The network (:class:`RecurrentActorCritic`): a recurrent core (``lstm``, ``gru`` or ``rnn``
(tanh), ``num_layers`` layers of ``hidden_size`` units) over the env's observation (one-hot
previous action, previous reward, elapsed fraction ``t / horizon``), then a policy head and a
value head, each an MLP of ``net_arch`` tanh layers and a linear read-out: the network of
RecurrentPPO's presets at equal settings. As with their shared LSTM, the value loss does not
train the core (``value_trains_core=False``): measured in :data:`PRESETS`, letting it do so
kept the policy far from Bayes-optimal.

Files of a run folder (:func:`train_rl2`):

==================  ==========================================================================
``config.json``     the :class:`RL2Config`
``checkpoint.pt``   network and optimizer tensors, the env and action generators' states, the
                    env steps done, the evaluation history: loads with
                    ``torch.load(weights_only=True)``, so no pickled code runs. Written at every
                    evaluation, at the end, when ``max_seconds`` runs out, on Ctrl-C (after
                    the batch in flight) and when a callback stops training. A resumed run
                    continues bit for bit as if it had never stopped.
``tb/``             TensorBoard: ``train/`` losses, entropy, learning rate and entropy
                    coefficient, ``rollout/ep_rew_mean``, ``time/fps``, and on fixed held-out
                    episodes ``eval/mean_return``, ``eval/regret``, ``eval/bayes_gap``, and the
                    return minus the reference policy's on the same episodes,
                    ``eval/paired_difference`` (``eval/paired_gap``: the Bayes gap from it)
==================  ==========================================================================

Example::

    from agents.rl2 import preset_config, train_rl2, load_rl2
    train_rl2(preset_config("MetaBandit-v0", "MetaBandit-v0"), "runs/rl2")
    machine, config = load_rl2("runs/rl2")   # a StateMachine: evaluators, rollouts, simulation
"""

from __future__ import annotations

import itertools
import json
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode
from torch import nn

import meta_envs
from agents.bandit_eval import BANDIT_ENVS, EVAL_SEED, base_env, evaluate_bandit_agent, reference_policy
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
from bayes.evaluate import BanditEvaluation, PairedComparison
from bayes.validation import check_int

__all__ = [
    "CORES",
    "PRESETS",
    "UPDATES",
    "RL2Config",
    "RL2Machine",
    "RecurrentActorCritic",
    "load_rl2",
    "preset_config",
    "sample_actions",
    "train_rl2",
]

CORES = ("lstm", "gru", "rnn")
UPDATES = ("a2c", "ppo")


@dataclass
class RL2Config:
    """What defines an RL² run (saved as ``config.json``); see :data:`PRESETS` and the module docstring."""

    env_id: str = "MetaBandit-v0"
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    algo: str = "rl2"  #: tells ``agents.runs.load_run`` what kind of run a folder holds
    timesteps: int = 40_000_000  #: env steps to train on (rounded up to whole batches)
    seed: int = 0
    num_envs: int = 4096  #: episodes per batch
    core: str = "lstm"
    hidden_size: int = 64
    num_layers: int = 1
    net_arch: list[int] = field(default_factory=lambda: [64])  #: MLP of each head after the core
    #: let the value loss train the core too (False: the core learns from the policy loss only,
    #: as RecurrentPPO's ``shared_lstm``; see the module docstring for what was measured)
    value_trains_core: bool = False
    update: str = "ppo"
    n_epochs: int = 1  #: ppo only
    minibatches: int = 16  #: ppo only: minibatches of whole episodes per epoch
    clip_range: float = 0.2  #: ppo only
    learning_rate: float = 3e-3
    learning_rate_final: float = 3e-4
    gamma: float = 1.0
    gae_lambda: float = 0.95
    normalize_advantage: bool = True
    ent_coef: float = 0.01
    ent_coef_final: float = 0.0
    ent_anneal_fraction: float = 0.5
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    eval_every: int = 5_000_000  #: env steps between Bayes-gap evaluations (and checkpoints)
    eval_episodes: int = 4000
    max_seconds: float | None = None  #: stop (with a checkpoint) once training has taken this long
    torch_threads: int = 2

    def validate(self) -> None:
        """``ValueError`` naming the first field out of range."""
        if self.algo != "rl2":
            raise ValueError(f"an RL2Config's algo is 'rl2', got {self.algo!r}")
        if self.env_id not in BANDIT_ENVS:
            raise ValueError(f"rl2 trains bandit agents: env_id must be one of {BANDIT_ENVS}, got {self.env_id!r}")
        if not isinstance(self.env_kwargs, dict):
            raise ValueError(f"env_kwargs must be a dict, got {self.env_kwargs!r}")
        if self.core not in CORES:
            raise ValueError(f"core must be one of {CORES}, got {self.core!r}")
        if self.update not in UPDATES:
            raise ValueError(f"update must be one of {UPDATES}, got {self.update!r}")
        for name in ("timesteps", "num_envs", "hidden_size", "num_layers", "n_epochs", "minibatches", "eval_every",
                     "eval_episodes", "torch_threads"):
            check_int(getattr(self, name), name, 1)
        check_actor_critic(self)
        if self.eval_episodes < 2:
            raise ValueError(f"eval_episodes must be >= 2, got {self.eval_episodes}")
        if self.minibatches > self.num_envs:
            raise ValueError(f"minibatches ({self.minibatches}) exceeds num_envs ({self.num_envs})")
        for name in ("normalize_advantage", "value_trains_core"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RL2Config:
        """From ``config.json`` or a preset; ``ValueError`` naming unknown keys."""
        return config_from_dict(cls, values, "rl2")


#: Tuned settings (``meta-bayes train ENV --algo rl2 --preset NAME``); the default preset of an
#: env is the one named after its id. Each maps :class:`RL2Config` fields; the measurements are
#: printed by ``python -m benchmarks.rl2_training``.
#:
#: How the bandit presets were found (``MetaBandit-v0``, 2 arms, horizon 20, on this project's
#: 2-core machine; "paired gap" is the Bayes gap estimated from the return paired with the
#: Bayes-optimal policy on 4,000 held-out episodes, standard error about 0.01):
#:
#: - ``update="a2c"`` on batches of 4,096 episodes runs at about 300,000 env steps/s, but its
#:   policy turns deterministic within a few dozen updates and stays at a return of about 11.8
#:   (paired gap over 20%) whatever the learning rate (1e-3 to 1e-2), entropy bonus (up to
#:   0.05) or batch (1,024 to 4,096 episodes).
#: - Letting the value loss train the shared core held the policy there too: with RecurrentPPO's
#:   own settings (512 episodes, 4 epochs of 4 minibatches) the paired gap was 0.24 after 2M
#:   steps with ``value_trains_core=True`` and 0.077 without, so the core learns from the
#:   policy loss only, as RecurrentPPO's ``shared_lstm`` does.
#: - PPO with one epoch over 16 minibatches of 256 whole episodes per batch of 4,096: about
#:   170,000-190,000 env steps/s. With the learning rate 1e-3 decayed to 1e-4, paired gap 0.17
#:   at 4M steps, 0.060 at 8M, 0.031 at 12M, 0.020 at 20M; with 3e-3 decayed to 3e-4 (the
#:   presets) 0.10 at 4M, 0.056 at 8M, 0.029 at 16M, 0.017 at 40M (4 minutes). 32 minibatches
#:   or ``gae_lambda=1`` did no better.
#: - ``MetaGaussianBandit-v0`` (2 normal arms, prior N(0, 1), noise 1, horizon 20): with the
#:   Bernoulli preset, return minus the Gittins index policy's (discount 0.9) on 20,000 paired
#:   episodes -0.126 ± 0.030 after 40M steps, its held-out return falling as the entropy bonus
#:   reached 0; with the learning rate 1e-3 decayed to 1e-4 and the bonus annealed over 80% of
#:   the budget, -0.092 ± 0.025 (and +1.036 ± 0.030 over Thompson sampling); 80M steps did no
#:   better (-0.113 ± 0.029). Keeping a bonus of 0.003 to the end (the preset): -0.025 ± 0.027
#:   against Gittins at 0.9, -0.016 ± 0.025 at 0.95, +0.035 ± 0.030 at 0.8, and +1.103 ± 0.029
#:   over Thompson sampling (40M steps, 3.9 minutes).
#: - Longer horizons need longer credit assignment: on horizon 100 (``--set horizon=100``) with
#:   2,048 episodes per batch and 100M steps, the paired gap (20,000 episodes) was 0.063 with
#:   ``gae_lambda=0.95`` and 0.047 with ``gae_lambda=0.99`` (``--hp gae_lambda=0.99``).
PRESETS: dict[str, dict[str, Any]] = {
    "MetaBandit-v0": {},
    "MetaGaussianBandit-v0": {"learning_rate": 1e-3, "learning_rate_final": 1e-4, "ent_anneal_fraction": 0.8,
                              "ent_coef_final": 0.003},
    "quick": {"timesteps": 2_048_000, "num_envs": 512, "minibatches": 8, "hidden_size": 32, "net_arch": [32],
              "learning_rate": 5e-3, "learning_rate_final": 5e-4, "eval_every": 2_048_000, "eval_episodes": 1000,
              "torch_threads": 1},
}


def preset_config(preset: str, env_id: str, env_kwargs: dict[str, Any] | None = None, seed: int = 0,
                  timesteps: int | None = None, **overrides: Any) -> RL2Config:
    """The config of ``preset`` for ``env_id`` (``timesteps=None``: the preset's own budget), with
    ``overrides`` of its fields."""
    return preset_of(RL2Config, PRESETS, "rl2", preset, env_id, env_kwargs, seed, timesteps, overrides)


# ---------------------------------------------------------------------------- the network


def _mlp(sizes: list[int], out: int, gain: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in itertools.pairwise(sizes):
        linear = nn.Linear(a, b)
        nn.init.orthogonal_(linear.weight, math.sqrt(2))
        nn.init.zeros_(linear.bias)
        layers += [linear, nn.Tanh()]
    head = nn.Linear(sizes[-1], out)
    nn.init.orthogonal_(head.weight, gain)
    nn.init.zeros_(head.bias)
    return nn.Sequential(*layers, head)


class RecurrentActorCritic(nn.Module):
    """A recurrent core with a policy head and a value head.

    Shapes: observations ``(T, B, obs_size)``, logits ``(T, B, n_actions)``, values ``(T, B)``.
    The recurrent state is what ``torch.nn.LSTM`` / ``GRU`` / ``RNN`` take: ``(h, c)`` each
    ``(num_layers, B, hidden_size)`` for the LSTM, ``h`` alone otherwise; :meth:`flat_state`
    and :meth:`unflat_state` convert it to and from one ``(B, state_size)`` array.
    """

    def __init__(self, obs_size: int, n_actions: int, core: str = "lstm", hidden_size: int = 64,
                 num_layers: int = 1, net_arch: list[int] | None = None, value_trains_core: bool = False) -> None:
        super().__init__()
        self.value_trains_core = bool(value_trains_core)
        if core not in CORES:
            raise ValueError(f"core must be one of {CORES}, got {core!r}")
        self.core_type, self.hidden_size, self.num_layers = core, hidden_size, num_layers
        self.obs_size, self.n_actions = obs_size, n_actions
        cls = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[core]
        self.core = cls(obs_size, hidden_size, num_layers)
        sizes = [hidden_size, *(net_arch or [])]
        self.policy_head = _mlp(sizes, n_actions, 0.01)  # near-uniform initial policy, as SB3's heads
        self.value_head = _mlp(sizes, 1, 1.0)

    def _value_input(self, out: torch.Tensor) -> torch.Tensor:
        """The core's output as the value head sees it: detached unless ``value_trains_core``."""
        return out if self.value_trains_core else out.detach()

    @property
    def state_size(self) -> int:
        return (2 if self.core_type == "lstm" else 1) * self.num_layers * self.hidden_size

    def forward(self, obs: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, torch.Tensor, Any]:
        """``(logits, values, final_state)`` for observations ``(T, B, obs_size)`` from ``state``
        (``None``: zeros)."""
        out, state = self.core(obs, state)
        return self.policy_head(out), self.value_head(self._value_input(out)).squeeze(-1), state

    def flat_state(self, state: Any) -> torch.Tensor:
        """``(B, state_size)``: ``h`` of every layer, then (LSTM) ``c`` of every layer."""
        parts = state if self.core_type == "lstm" else (state,)
        return torch.cat([p.transpose(0, 1).reshape(p.shape[1], -1) for p in parts], dim=1)

    def unflat_state(self, flat: torch.Tensor) -> Any:
        b, n = len(flat), self.num_layers * self.hidden_size
        parts = [flat[:, i * n:(i + 1) * n].reshape(b, self.num_layers, self.hidden_size).transpose(0, 1).contiguous()
                 for i in range(2 if self.core_type == "lstm" else 1)]
        return tuple(parts) if self.core_type == "lstm" else parts[0]


def sample_actions(probs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One action per row of ``probs`` ``(B, K)`` by inverse-CDF sampling with uniforms from ``generator``."""
    u = torch.rand(len(probs), 1, generator=generator)
    actions = (probs.cumsum(dim=1) < u).sum(dim=1)
    return actions.clamp_(max=probs.shape[1] - 1)


class RL2Machine:
    """A trained :class:`RecurrentActorCritic` as a batched :class:`~bayes.statemachine.StateMachine`.

    State ``(B, state_size)``: the core's ``h`` over every layer, then its ``c`` (LSTM only).
    Output: the policy's action probabilities ``(B, n_actions)`` (float64), the ones it samples from.
    """

    def __init__(self, network: RecurrentActorCritic) -> None:
        self.network = network

    def initial_state(self, batch_size: int) -> np.ndarray:
        return np.zeros((check_int(batch_size, "batch_size", 0), self.network.state_size))

    @torch.no_grad()
    def step(self, state: np.ndarray, observation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        state = np.asarray(state)
        size = self.network.state_size
        if state.ndim != 2 or state.shape[1] != size:
            raise ValueError(f"state must have shape (B, {size}), got {state.shape}")
        obs = torch.as_tensor(np.asarray(observation, dtype=np.float32))
        core_state = self.network.unflat_state(torch.as_tensor(state, dtype=torch.float32))
        logits, _, core_state = self.network(obs[None], core_state)
        probs = torch.softmax(logits[0].double(), dim=-1)
        return self.network.flat_state(core_state).double().numpy(), probs.numpy()


# ---------------------------------------------------------------------------- training


def _vector_env(config: RL2Config) -> Any:
    gym.register_envs(meta_envs)
    vector = gym.make_vec(config.env_id, num_envs=config.num_envs, vectorization_mode="vector_entry_point",
                          autoreset_mode=AutoresetMode.DISABLED, **config.env_kwargs)
    return vector.unwrapped


def build_network(config: RL2Config) -> RecurrentActorCritic:
    """A fresh network for ``config``'s env; ``config.seed`` fixes its initial weights."""
    space = base_env(config.env_id, config.env_kwargs)
    obs_size, n_actions = int(space.observation_space.shape[0]), int(space.action_space.n)
    with torch.random.fork_rng():  # the initial weights come from the seed, the global RNG is left alone
        torch.manual_seed(config.seed)
        return RecurrentActorCritic(obs_size, n_actions, config.core, config.hidden_size, config.num_layers,
                                    list(config.net_arch), config.value_trains_core)


def _gae(rewards: torch.Tensor, values: torch.Tensor, gamma: float, lam: float) -> torch.Tensor:
    """Advantages ``(T, B)`` of episodes that end after their last step (``v_T = 0``)."""
    advantages = torch.empty_like(rewards)
    running = torch.zeros_like(rewards[0])
    next_value = torch.zeros_like(rewards[0])
    for t in range(len(rewards) - 1, -1, -1):
        delta = rewards[t] + gamma * next_value - values[t]
        running = delta + gamma * lam * running
        advantages[t] = running
        next_value = values[t]
    return advantages


@dataclass
class _Batch:
    """One batch of whole episodes: ``(T, B, ...)`` tensors; in a2c mode ``logits`` and ``values``
    keep the rollout's graph."""

    obs: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    logits: torch.Tensor
    values: torch.Tensor


def _rollout(network: RecurrentActorCritic, env: Any, seed: int, generator: torch.Generator, grad: bool) -> _Batch:
    """Step ``env``'s ``num_envs`` episodes from reset (seeded with ``seed``) to their end.

    Per step only the core and the policy head run; the value head runs once, over all steps.
    """
    obs_np, _ = env.reset(seed=seed)
    obs, outs, logits, actions, rewards = [], [], [], [], []
    state = None
    with torch.set_grad_enabled(grad):
        for _ in range(env.horizon):
            x = torch.from_numpy(obs_np)
            out, state = network.core(x[None], state)
            step_logits = network.policy_head(out[0])
            action = sample_actions(torch.softmax(step_logits.detach(), dim=-1), generator)
            obs_np, reward, _, _, _ = env.step(action.numpy())
            obs.append(x)
            outs.append(out[0])
            logits.append(step_logits)
            actions.append(action)
            rewards.append(reward)
        values = network.value_head(network._value_input(torch.stack(outs))).squeeze(-1)
    return _Batch(torch.stack(obs), torch.stack(actions), torch.from_numpy(np.stack(rewards).astype(np.float32)),
                  torch.stack(logits), values)


def _targets(batch: _Batch, config: RL2Config) -> tuple[torch.Tensor, torch.Tensor]:
    """``(advantages, returns)``; advantages normalised over the batch if the config says so."""
    values = batch.values.detach()
    advantages = _gae(batch.rewards, values, config.gamma, config.gae_lambda)
    returns = advantages + values
    if config.normalize_advantage:
        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    return advantages, returns


def _policy_terms(logits: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(log π(a_t), H[π])``, both ``(T, B)``, from logits ``(T, B, K)`` and actions ``(T, B)``."""
    log_p = torch.log_softmax(logits, dim=-1)
    return log_p.gather(2, actions[..., None])[..., 0], -(log_p.exp() * log_p).sum(-1)


def _step(network: RecurrentActorCritic, optimizer: torch.optim.Optimizer, loss: torch.Tensor,
          max_grad_norm: float) -> None:
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if max_grad_norm > 0:
        nn.utils.clip_grad_norm_(network.parameters(), max_grad_norm)
    optimizer.step()


def _update(network: RecurrentActorCritic, optimizer: torch.optim.Optimizer, batch: _Batch, config: RL2Config,
            ent_coef: float, generator: torch.Generator) -> dict[str, float]:
    """One a2c step, or ppo's epochs; returns the losses of the last gradient step.

    The value loss is divided by the variance of the return targets over the batch, so its
    gradient has the same scale whatever the rewards' (``value_loss`` near 1 means the value
    head explains nothing, near 0 that it predicts the returns).
    """
    advantages, returns = _targets(batch, config)
    scale = float(returns.var()) + 1e-8

    def losses(logits: torch.Tensor, values: torch.Tensor, rows: Any) -> tuple[torch.Tensor, dict[str, float]]:
        log_prob, entropy = _policy_terms(logits, batch.actions[:, rows])
        adv = advantages[:, rows]
        stats: dict[str, float] = {}
        if config.update == "a2c":
            policy_loss = -(log_prob * adv).mean()
        else:
            ratio = torch.exp(log_prob - old_log_prob[:, rows])
            clipped = ratio.clamp(1 - config.clip_range, 1 + config.clip_range)
            policy_loss = -torch.minimum(ratio * adv, clipped * adv).mean()
            stats["clip_fraction"] = float(((ratio.detach() - 1).abs() > config.clip_range).float().mean())
        value_loss = 0.5 * ((values - returns[:, rows]) ** 2).mean() / scale
        loss = policy_loss + config.vf_coef * value_loss - ent_coef * entropy.mean()
        stats.update(policy_loss=float(policy_loss.detach()), value_loss=float(value_loss.detach()),
                     entropy=float(entropy.detach().mean()))
        return loss, stats

    if config.update == "a2c":
        loss, stats = losses(batch.logits, batch.values, slice(None))
        _step(network, optimizer, loss, config.max_grad_norm)
        return stats
    old_log_prob, _ = _policy_terms(batch.logits, batch.actions)
    for _ in range(config.n_epochs):
        order = torch.randperm(batch.obs.shape[1], generator=generator)
        for rows in order.chunk(config.minibatches):
            logits, values, _ = network(batch.obs[:, rows])
            loss, stats = losses(logits, values, rows)
            _step(network, optimizer, loss, config.max_grad_norm)
    return stats


def _schedule(config: RL2Config, timesteps: int) -> tuple[float, float]:
    """``(learning_rate, ent_coef)`` after ``timesteps`` env steps: linear decay and annealing."""
    lr = linear_schedule(config.learning_rate, config.learning_rate_final, 1.0, config.timesteps, timesteps)
    return lr, linear_schedule(config.ent_coef, config.ent_coef_final, config.ent_anneal_fraction, config.timesteps,
                               timesteps)


@contextmanager
def _deferred_interrupt() -> Iterator[Callable[[], bool]]:
    """Catch Ctrl-C (SIGINT) and report it at the next batch boundary; a second Ctrl-C interrupts at once."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    hits: list[int] = []
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum: int, frame: Any) -> None:
        hits.append(signum)
        if len(hits) > 1:
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)
    try:
        yield lambda: bool(hits)
    finally:
        signal.signal(signal.SIGINT, previous)


class _Run:
    """The mutable state of a run that a checkpoint holds."""

    def __init__(self, config: RL2Config) -> None:
        self.config = config
        self.network = build_network(config)
        self.optimizer = torch.optim.Adam(self.network.parameters(), lr=config.learning_rate, eps=1e-5)
        self.rng = np.random.default_rng(config.seed)  # the env's episodes: one reset seed per batch
        self.generator = torch.Generator().manual_seed(config.seed)  # the actions (and ppo's minibatches)
        self.timesteps = 0
        self.history: list[dict[str, Any]] = []
        self.seconds = 0.0

    def save(self, path: Path) -> None:
        save_checkpoint({
            "env": env_signature(self.config),
            "network": self.network.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "timesteps": self.timesteps,
            "rng": json.dumps(self.rng.bit_generator.state),
            "generator": self.generator.get_state(),
            "history": json.dumps(self.history),
            "seconds": self.seconds,
        }, path)

    def load(self, path: Path) -> None:
        saved = load_env_checkpoint(path, self.config)
        self.network.load_state_dict(saved["network"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.timesteps = int(saved["timesteps"])
        self.rng.bit_generator.state = json.loads(saved["rng"])
        self.generator.set_state(saved["generator"])
        self.history = json.loads(saved["history"])
        self.seconds = float(saved["seconds"])


def _progress_bar(enabled: bool, total: int, initial: int) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="step", unit_scale=True, dynamic_ncols=True)


def train_rl2(config: RL2Config, out_dir: str | os.PathLike[str], resume: bool = True, progress_bar: bool = False,
              log: Callable[[str], Any] = print,
              callback: Callable[[dict[str, Any]], bool | None] | None = None) -> dict[str, Any]:
    """Train (or resume) an RL² agent; returns ``{"history", "seconds", "timesteps"}``.

    ``out_dir`` receives the files listed in the module docstring. ``callback(info)`` is called
    after every batch with ``{"timesteps", "seconds", "mean_return", **losses}``; returning
    ``False`` stops training (with a checkpoint), as SB3's callbacks do. A folder holding a run
    of another configuration is refused; with ``resume``, a stopped run continues from its
    checkpoint (its ``timesteps`` budget may be raised, which stretches the schedules).
    ``seconds`` counts training time over all sessions of the run.
    """
    config.validate()
    base_env(config.env_id, config.env_kwargs)  # the env's own checks, before the folder is made
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    current = json.loads(json.dumps(asdict(config)))
    check_run_config(out, current, ignore=("timesteps", "max_seconds", "torch_threads", "eval_every"))
    threads = torch.get_num_threads()
    torch.set_num_threads(config.torch_threads)
    try:
        run = _Run(config)
        checkpoint = out / "checkpoint.pt"
        if resume and checkpoint.exists():
            run.load(checkpoint)
            log(f"resumed {out} at {run.timesteps} env steps")
        (out / "config.json").write_text(json.dumps(current, indent=2))
        env = _vector_env(config)
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(out / "tb"))
        try:
            _train_loop(run, env, out, writer, progress_bar, log, callback)
        finally:
            writer.close()
            env.close()
    finally:
        torch.set_num_threads(threads)
    return {"history": run.history, "seconds": run.seconds, "timesteps": run.timesteps}


class _Evaluator:
    """The training-time evaluation: the agent on fixed held-out episodes (seed ``EVAL_SEED + seed``),
    paired with the reference policy (:func:`agents.bandit_eval.reference_policy`) on the same ones.

    The paired difference removes the luck of the fixed episodes from the curve: with the
    Bayes-optimal reference, ``paired_gap = -mean(R_agent - R_bayes) / (V_bayes - V_random)`` is
    the Bayes gap with a standard error several times smaller than the plain one's.
    """

    def __init__(self, config: RL2Config) -> None:
        self.config = config
        self.seed = EVAL_SEED + config.seed
        self.reference_name: str | None = None
        self.reference: BanditEvaluation | None = None  #: evaluated once, on the first call

    def __call__(self, network: RecurrentActorCritic) -> tuple[BanditEvaluation, dict[str, Any]]:
        config = self.config
        result = evaluate_bandit_agent(RL2Machine(network), config.env_id, config.env_kwargs, config.eval_episodes,
                                       seed=self.seed)
        if self.reference is None:
            self.reference_name, policy = reference_policy(config.env_id, config.env_kwargs)
            self.reference = evaluate_bandit_agent(policy, config.env_id, config.env_kwargs, config.eval_episodes,
                                                   seed=self.seed)
        pair = PairedComparison.of(result, self.reference)
        paired: dict[str, Any] = {"reference": self.reference_name, "paired_difference": pair.mean_difference,
                                  "paired_stderr": pair.stderr}
        if self.reference_name == "bayes-optimal" and result.bayes_optimal_return is not None:
            paired["paired_gap"] = -paired["paired_difference"] / (result.bayes_optimal_return - result.random_return)
        return result, paired


def _train_loop(run: _Run, env: Any, out: Path, writer: Any, progress_bar: bool, log: Callable[[str], Any],
                callback: Callable[[dict[str, Any]], bool | None] | None) -> None:
    config = run.config
    per_batch = config.num_envs * env.horizon
    started, seconds_before = time.perf_counter(), run.seconds

    def elapsed() -> float:
        return seconds_before + time.perf_counter() - started

    evaluator = _Evaluator(config)

    def evaluate_and_save() -> None:
        run.network.eval()
        result, paired = evaluator(run.network)
        run.network.train()
        run.seconds = elapsed()
        run.history.append({"timesteps": run.timesteps, "seconds": run.seconds, "mean_return": result.mean_return,
                            "stderr": result.stderr, "bayes_gap": result.bayes_gap, **paired})
        writer.add_scalar("eval/mean_return", result.mean_return, run.timesteps)
        writer.add_scalar("eval/regret", result.bayes_regret, run.timesteps)
        writer.add_scalar("eval/paired_difference", paired["paired_difference"], run.timesteps)
        if result.bayes_gap is not None:
            writer.add_scalar("eval/bayes_gap", result.bayes_gap, run.timesteps)
        if "paired_gap" in paired:
            writer.add_scalar("eval/paired_gap", paired["paired_gap"], run.timesteps)
        run.save(out / "checkpoint.pt")
        gap = "" if result.bayes_gap is None else f", Bayes gap {result.bayes_gap:.4f}"
        if "paired_gap" in paired:
            gap += f" (paired {paired['paired_gap']:.4f})"
        log(f"{run.timesteps} steps ({run.seconds:.0f} s): return {result.mean_return:.4f} ± {result.stderr:.4f}{gap}; "
            f"minus {paired['reference']}: {paired['paired_difference']:+.4f} ± {paired['paired_stderr']:.4f}")

    def stop(reason: str) -> None:
        run.seconds = elapsed()
        run.save(out / "checkpoint.pt")
        log(f"{reason} at {run.timesteps} env steps: checkpoint written to {out / 'checkpoint.pt'}")

    bar = _progress_bar(progress_bar, config.timesteps, min(run.timesteps, config.timesteps))
    next_eval = (run.timesteps // config.eval_every + 1) * config.eval_every
    try:
        with _deferred_interrupt() as interrupted:
            while run.timesteps < config.timesteps:
                if config.max_seconds is not None and elapsed() >= config.max_seconds:
                    stop("out of time (max_seconds)")
                    return
                batch_start = time.perf_counter()
                lr, ent_coef = _schedule(config, run.timesteps)
                for group in run.optimizer.param_groups:
                    group["lr"] = lr
                seed = int(run.rng.integers(2**63))
                batch = _rollout(run.network, env, seed, run.generator, grad=config.update == "a2c")
                losses = _update(run.network, run.optimizer, batch, config, ent_coef, run.generator)
                run.timesteps += per_batch
                mean_return = float(batch.rewards.sum(0).mean())
                fps = per_batch / (time.perf_counter() - batch_start)
                for key, value in losses.items():
                    writer.add_scalar(f"train/{key}", value, run.timesteps)
                writer.add_scalar("train/learning_rate", lr, run.timesteps)
                writer.add_scalar("train/ent_coef", ent_coef, run.timesteps)
                writer.add_scalar("rollout/ep_rew_mean", mean_return, run.timesteps)
                writer.add_scalar("time/fps", fps, run.timesteps)
                if bar is not None:
                    bar.update(per_batch)
                    bar.set_postfix(ret=f"{mean_return:.3f}", refresh=False)
                if run.timesteps >= next_eval or run.timesteps >= config.timesteps:
                    next_eval = (run.timesteps // config.eval_every + 1) * config.eval_every
                    evaluate_and_save()
                if callback is not None and callback({"timesteps": run.timesteps, "seconds": elapsed(),
                                                      "mean_return": mean_return, **losses}) is False:
                    stop("stopped by the callback")
                    return
                if interrupted():
                    stop("interrupted")
                    raise KeyboardInterrupt
            run.seconds = elapsed()
    finally:
        if bar is not None:
            bar.close()


def load_rl2(out_dir: str | os.PathLike[str]) -> tuple[RL2Machine, RL2Config]:
    """The trained policy of ``out_dir`` as a state machine, and its configuration.

    Reads ``config.json`` and ``checkpoint.pt`` only (``weights_only=True``: no pickled code
    runs). ``ValueError`` with a clear message for a missing or corrupt folder.
    """

    def build(config: RL2Config, saved: dict[str, Any]) -> RL2Machine:
        network = build_network(config)
        network.load_state_dict(saved["network"])
        return RL2Machine(network.eval())

    return load_run_folder(out_dir, RL2Config.from_dict, "rl2", build)
