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
   With ``value_per_step`` the value head outputs ``u_t`` and ``v_t = (T - t) u_t``: the head's
   target, the return per remaining step, has the rewards' scale whatever the horizon, where a
   head predicting the return itself starts near 0 and takes many updates to reach returns of
   hundreds, while the policy, with no baseline, hardly moves (``docs/tuning.md``).
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

The network (:class:`RecurrentActorCritic`): a recurrent core (``lstm``, ``gru`` or tanh ``rnn``,
``num_layers`` layers of ``hidden_size`` units) over the observation (one-hot previous action,
previous reward, elapsed fraction ``t / horizon``), then policy and value heads, each an MLP of
``net_arch`` tanh layers: RecurrentPPO's network at equal settings. As with its shared LSTM, the
value loss does not train the core (``value_trains_core=False``; ``docs/tuning.md`` has why).

A run folder holds ``config.json``, ``tb/`` (TensorBoard: losses, entropy, schedules,
``rollout/ep_rew_mean``, ``time/fps``, the ``eval/`` figures of
:func:`agents.training.bandit_evaluator`) and ``checkpoint.pt`` (tensors, generator states, env
steps and history; read with ``torch.load(weights_only=True)``, so no pickled code runs),
written at every evaluation, at the end, on Ctrl-C (after the batch in flight) and when a
callback stops training; with ``snapshots``, ``snapshots/`` (the network's weights after a few
log-spaced batches: :mod:`agents.training`). A resumed run continues bit for bit as if it had
never stopped::

    from agents.rl2 import preset_config, train_rl2, load_rl2
    train_rl2(preset_config("MetaBandit-v0", "MetaBandit-v0"), "runs/rl2")
    machine, config = load_rl2("runs/rl2")   # a StateMachine: evaluators, rollouts, simulation
"""

from __future__ import annotations

import itertools
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from agents.bandit_eval import base_env
from agents.belief import belief_features, belief_size
from agents.devices import CPU, to_device
from agents.machines import RecurrentMachine, flatten_state, unflatten_state
from agents.runs import load_run_folder
from agents.training import ActorCriticConfig, Session, bandit_evaluator, run_loop
from agents.training import preset_config as _preset_config
from meta_envs.catalog import native_vector_env

__all__ = ["CORES", "CRITICS", "PRESETS", "UPDATES", "RL2Config", "RL2Machine", "RecurrentActorCritic", "build_network",
           "load_rl2", "preset_config", "sample_actions", "train_rl2"]

CORES = ("lstm", "gru", "rnn")
UPDATES = ("a2c", "ppo")
CRITICS = ("core", "belief")


@dataclass
class RL2Config(ActorCriticConfig):
    """What defines an RL² run (saved as ``config.json``): the fields of
    :class:`~agents.training.ActorCriticConfig` and the network's and update's own; see
    :data:`PRESETS` and the module docstring."""

    ALGO: ClassVar[str] = "rl2"
    LABEL: ClassVar[str] = "rl2"
    RESUMABLE: ClassVar[tuple[str, ...]] = ("timesteps", "max_seconds", "torch_threads", "eval_every")
    CHOICES: ClassVar[dict[str, tuple[str, ...]]] = {"core": CORES, "update": UPDATES, "critic": CRITICS}
    POSITIVE_INTS: ClassVar[tuple[str, ...]] = ("hidden_size", "num_layers", "minibatches")
    FLAGS: ClassVar[tuple[str, ...]] = ("normalize_advantage", "value_trains_core", "value_per_step")
    UPDATES: ClassVar[str] = "batches of num_envs episodes"

    algo: str = "rl2"
    timesteps: int = 40_000_000  #: env steps to train on (rounded up to whole batches)
    num_envs: int = 4096  #: episodes per batch
    core: str = "lstm"
    hidden_size: int = 64
    num_layers: int = 1
    #: let the value loss train the core too (False: the core learns from the policy loss only,
    #: as RecurrentPPO's ``shared_lstm``; see the module docstring)
    value_trains_core: bool = False
    #: what the value head reads: ``core``, the recurrent core's output; ``belief``, the exact
    #: posterior and the elapsed time (:mod:`agents.belief`), during training only
    critic: str = "core"
    critic_arch: list[int] = field(default_factory=lambda: [64, 64])  #: belief critic's tanh layers
    #: the value head predicts the return per remaining step, and the value is ``(T - t)`` times
    #: it: a target of the rewards' scale at every horizon (False: the return itself, which a
    #: head starting near 0 takes many updates to reach when episodes are long; docs/tuning.md)
    value_per_step: bool = False
    update: str = "ppo"
    n_epochs: int = 1  #: ppo only
    minibatches: int = 16  #: ppo only: minibatches of whole episodes per epoch
    learning_rate: float = 3e-3
    learning_rate_final: float = 3e-4
    normalize_advantage: bool = True
    eval_every: int = 5_000_000

    def update_size(self) -> int:
        """The env steps of one batch (one update): ``num_envs`` episodes of ``horizon`` steps."""
        return self.num_envs * int(self.make_env().horizon)

    def updates(self) -> int:
        """The batches of the budget: ``ceil(timesteps / (num_envs * horizon))`` (the last one whole)."""
        return -(-self.timesteps // self.update_size())

    def batch_numbers(self) -> int:
        """A batch's activations: ``num_envs`` episodes of ``horizon`` steps through ``num_layers``
        layers of ``hidden_size`` units (and a few times that for the gates and the backward pass)."""
        return self.num_envs * int(self.make_env().horizon) * self.hidden_size * self.num_layers

    def check(self) -> None:
        if self.eval_episodes < 2:
            raise ValueError(f"eval_episodes must be >= 2, got {self.eval_episodes}")
        if self.minibatches > self.num_envs:
            raise ValueError(f"minibatches ({self.minibatches}) exceeds num_envs ({self.num_envs})")
        if not isinstance(self.critic_arch, list) or not self.critic_arch or not all(
                isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in self.critic_arch):
            raise ValueError(f"critic_arch must be a non-empty list of positive ints, got {self.critic_arch!r}")


#: Tuned settings (``meta-bayes train ENV --algo rl2 --preset NAME``); the default preset of an
#: env is the one named after its id. Each maps :class:`RL2Config` fields. How they were found,
#: with the figures: ``docs/tuning.md``; ``python -m benchmarks.rl2_training`` measures them.
PRESETS: dict[str, dict[str, Any]] = {
    "MetaBandit-v0": {"critic": "belief", "timesteps": 24_576_000},
    "MetaGaussianBandit-v0": {"critic": "belief", "learning_rate": 1e-3, "learning_rate_final": 1e-4,
                              "ent_anneal_fraction": 0.8, "ent_coef_final": 0.003},
    "quick": {"timesteps": 2_048_000, "num_envs": 512, "minibatches": 8, "hidden_size": 32, "net_arch": [32],
              "learning_rate": 5e-3, "learning_rate_final": 5e-4, "eval_every": 2_048_000, "eval_episodes": 1000,
              "torch_threads": 1},
}


def preset_config(preset: str, env_id: str, env_kwargs: dict[str, Any] | None = None, seed: int = 0,
                  timesteps: int | None = None, **overrides: Any) -> RL2Config:
    """The config of ``preset`` for ``env_id`` (``timesteps=None``: the preset's own budget), with
    ``overrides`` of its fields."""
    return _preset_config(RL2Config, PRESETS, preset, env_id, env_kwargs, seed, timesteps, overrides)


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
    """A recurrent core with a policy head and a value head: observations ``(T, B, obs_size)`` to
    logits ``(T, B, n_actions)`` and values ``(T, B)``. The core's state is torch's: ``(h, c)``
    (LSTM) or ``h``, each ``(num_layers, B, hidden_size)``; :meth:`flat_state` makes it ``(B, d)``.

    ``belief_size > 0``: the belief critic. The value head is an MLP of ``critic_arch`` tanh
    layers on belief features ``(T, B, belief_size)`` (:mod:`agents.belief`) and never sees
    the core; the policy is unchanged, a function of the observations alone.

    ``value_horizon = T > 0``: the value of step ``t`` of a sequence that starts an episode is
    ``(T - t)`` times the head's output (the return per remaining step)."""

    def __init__(self, obs_size: int, n_actions: int, core: str = "lstm", hidden_size: int = 64,
                 num_layers: int = 1, net_arch: list[int] | None = None, value_trains_core: bool = False,
                 belief_size: int = 0, critic_arch: list[int] | None = None, value_horizon: int = 0) -> None:
        super().__init__()
        self.belief_size = int(belief_size)
        self.value_horizon = int(value_horizon)
        self.value_trains_core = bool(value_trains_core)
        if core not in CORES:
            raise ValueError(f"core must be one of {CORES}, got {core!r}")
        self.core_type, self.hidden_size, self.num_layers = core, hidden_size, num_layers
        self.parts = 2 if core == "lstm" else 1  #: tensors of the core's state: (h, c) or h
        self.obs_size, self.n_actions = obs_size, n_actions
        cls = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[core]
        self.core = cls(obs_size, hidden_size, num_layers)
        sizes = [hidden_size, *(net_arch or [])]
        self.policy_head = _mlp(sizes, n_actions, 0.01)  # near-uniform initial policy, as SB3's heads
        self.value_head = _mlp([belief_size, *(critic_arch or [64, 64])] if belief_size else sizes, 1, 1.0)

    def values(self, out: torch.Tensor, beliefs: torch.Tensor | None) -> torch.Tensor | None:
        """Values ``(T, B)`` from the core's output ``out`` or, with the belief critic, from
        ``beliefs`` (None without them: the policy alone needs no value); with ``value_horizon``
        the rows are steps ``0 .. T-1`` of whole episodes, scaled by the steps remaining."""
        if self.belief_size:
            if beliefs is None:
                return None
            values = self.value_head(beliefs).squeeze(-1)
        else:
            values = self.value_head(self._value_input(out)).squeeze(-1)
        if self.value_horizon:
            remaining = torch.arange(self.value_horizon, self.value_horizon - len(values), -1,
                                     dtype=values.dtype, device=values.device)
            values = values * remaining[:, None]
        return values

    def _value_input(self, out: torch.Tensor) -> torch.Tensor:
        """The core's output as the value head sees it: detached unless ``value_trains_core``."""
        return out if self.value_trains_core else out.detach()

    @property
    def state_size(self) -> int:
        return self.parts * self.num_layers * self.hidden_size

    def forward(self, obs: torch.Tensor, state: Any = None,
                beliefs: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None, Any]:
        """``(logits, values, final_state)`` for observations ``(T, B, obs_size)`` from ``state``
        (``None``: zeros); see :meth:`values`."""
        out, state = self.core(obs, state)
        return self.policy_head(out), self.values(out, beliefs), state

    def flat_state(self, state: Any) -> torch.Tensor:
        """``(B, state_size)``: ``h`` of every layer, then (LSTM) ``c`` of every layer."""
        return flatten_state(state if self.parts == 2 else (state,))

    def unflat_state(self, flat: torch.Tensor) -> Any:
        parts = unflatten_state(flat, self.parts, self.num_layers, self.hidden_size)
        return parts if self.parts == 2 else parts[0]


def sample_actions(probs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One action per row of ``probs`` ``(B, K)`` by inverse-CDF sampling with uniforms from ``generator``."""
    u = torch.rand(len(probs), 1, generator=generator)
    actions = (probs.cumsum(dim=1) < u).sum(dim=1)
    return actions.clamp_(max=probs.shape[1] - 1)


class RL2Machine(RecurrentMachine):
    """A trained :class:`RecurrentActorCritic` as a batched :class:`~bayes.statemachine.StateMachine`.

    State ``(B, state_size)``: the core's ``h`` over every layer, then its ``c`` (LSTM only).
    Output: the policy's action probabilities ``(B, n_actions)`` (float64), the ones it samples from.
    """

    def __init__(self, network: RecurrentActorCritic) -> None:
        super().__init__(network.parts, network.num_layers, network.hidden_size, next(network.parameters()).device)
        self.network = network

    def forward(self, obs: torch.Tensor, state: tuple[torch.Tensor, ...]) -> tuple[tuple[torch.Tensor, ...], Any]:
        logits, _, core_state = self.network(obs[None], state if self.parts == 2 else state[0])
        return (core_state if self.parts == 2 else (core_state,)), torch.softmax(logits[0].double(), dim=-1)


def build_network(config: RL2Config) -> RecurrentActorCritic:
    """A fresh network for ``config``'s env; ``config.seed`` fixes its initial weights."""
    space = base_env(config.env_id, config.env_kwargs)
    obs_size, n_actions = int(space.observation_space.shape[0]), int(space.action_space.n)
    beliefs = belief_size(space.model) if config.critic == "belief" else 0
    with torch.random.fork_rng():  # the initial weights come from the seed, the global RNG is left alone
        torch.manual_seed(config.seed)
        return RecurrentActorCritic(obs_size, n_actions, config.core, config.hidden_size, config.num_layers,
                                    list(config.net_arch), config.value_trains_core, beliefs,
                                    list(config.critic_arch),
                                    int(space.horizon) if config.value_per_step else 0)


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
    """Whole episodes, ``(T, B, ...)`` tensors; with a2c, ``logits`` and ``values`` keep the graph.
    ``beliefs``: the belief critic's features (:mod:`agents.belief`) before each step, or None."""

    obs: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    logits: torch.Tensor
    values: torch.Tensor
    beliefs: torch.Tensor | None = None


def _rollout(network: RecurrentActorCritic, env: Any, seed: int, generator: torch.Generator, grad: bool,
             device: torch.device = CPU) -> _Batch:
    """Step ``env``'s ``num_envs`` episodes from reset (seeded with ``seed``) to their end.

    Per step only the core and the policy head run; the value head runs once, over all steps.
    With the belief critic the posterior of ``info`` is turned into features at every step;
    the policy never reads them. The env steps in numpy on the CPU; on another ``device`` each
    step's observations go there through pinned memory (:func:`agents.devices.to_device`) and the
    actions are sampled on the CPU from ``generator``, so every device draws the same uniforms.
    """
    obs_np, info = env.reset(seed=seed)
    obs, outs, logits, actions, rewards, beliefs = [], [], [], [], [], []
    state = None
    with torch.set_grad_enabled(grad):
        for t in range(env.horizon):
            if network.belief_size:
                beliefs.append(belief_features(env.model, info["posterior"], t, env.horizon))
            x = to_device(obs_np, device)
            out, state = network.core(x[None], state)
            step_logits = network.policy_head(out[0])
            action = sample_actions(torch.softmax(step_logits.detach(), dim=-1).cpu(), generator)
            obs_np, reward, _, _, info = env.step(action.numpy())
            obs.append(x)
            outs.append(out[0])
            logits.append(step_logits)
            actions.append(action)
            rewards.append(reward)
        features = to_device(np.stack(beliefs), device) if beliefs else None
        values = network.values(torch.stack(outs), features)
    return _Batch(torch.stack(obs), torch.stack(actions).to(device),
                  to_device(np.stack(rewards).astype(np.float32), device), torch.stack(logits), values, features)


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


def _gradient_step(network: RecurrentActorCritic, optimizer: torch.optim.Optimizer, loss: torch.Tensor,
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
    ppo = config.update == "ppo"
    old_log_prob = _policy_terms(batch.logits, batch.actions)[0] if ppo else None

    def loss_of(logits: torch.Tensor, values: torch.Tensor, rows: Any) -> tuple[torch.Tensor, dict[str, float]]:
        log_prob, entropy = _policy_terms(logits, batch.actions[:, rows])
        adv = advantages[:, rows]
        stats: dict[str, float] = {}
        if old_log_prob is None:
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

    if not ppo:
        loss, stats = loss_of(batch.logits, batch.values, slice(None))
        _gradient_step(network, optimizer, loss, config.max_grad_norm)
        return stats
    for _ in range(config.n_epochs):
        order = torch.randperm(batch.obs.shape[1], generator=generator)
        for rows in order.chunk(config.minibatches):
            rows = rows.to(batch.obs.device)
            logits, values, _ = network(batch.obs[:, rows], None,
                                        None if batch.beliefs is None else batch.beliefs[:, rows])
            loss, stats = loss_of(logits, values, rows)
            _gradient_step(network, optimizer, loss, config.max_grad_norm)
    return stats


def train_rl2(config: RL2Config, out_dir: str | os.PathLike[str], resume: bool = True, progress_bar: bool = False,
              log: Callable[[str], Any] = print,
              callback: Callable[[dict[str, Any]], bool | None] | None = None) -> dict[str, Any]:
    """Train (or resume) an RL² agent in ``out_dir``; returns ``{"history", "seconds", "timesteps"}``.

    The loop, the evaluation every ``eval_every`` env steps, Ctrl-C and ``callback(info)``
    (``info``: ``timesteps``, ``seconds``, ``mean_return`` and the losses of the batch) are
    :func:`agents.training.run_loop`'s. With ``resume`` a stopped run continues from its
    checkpoint; its ``timesteps`` budget may be raised, which stretches the schedules.
    """
    with Session(config, out_dir, log) as session:
        network = build_network(config).to(session.device)  # the same initial weights on every device
        optimizer = torch.optim.Adam(network.parameters(), lr=config.learning_rate, eps=1e-5)
        rng = np.random.default_rng(config.seed)  # the env's episodes: one reset seed per batch
        generator = torch.Generator().manual_seed(config.seed)  # the actions (and ppo's minibatches)

        session.resume({"network": network, "optimizer": optimizer, "rng": rng, "generator": generator}, resume)
        env = native_vector_env(config.env_id, config.num_envs, **config.env_kwargs)
        per_batch = config.num_envs * env.horizon
        evaluator = bandit_evaluator(config)

        def batch() -> tuple[int, dict[str, Any]]:
            started = time.perf_counter()
            lr, ent_coef = config.schedule(session.progress)
            for group in optimizer.param_groups:
                group["lr"] = lr
            episodes = _rollout(network, env, int(rng.integers(2**63)), generator, grad=config.update == "a2c",
                                device=session.device)
            losses = _update(network, optimizer, episodes, config, ent_coef, generator)
            mean_return = float(episodes.rewards.sum(0).mean())
            session.scalars({**{f"train/{k}": v for k, v in losses.items()}, "train/learning_rate": lr,
                             "train/ent_coef": ent_coef, "rollout/ep_rew_mean": mean_return,
                             "time/fps": per_batch / (time.perf_counter() - started)}, session.progress + per_batch)
            return per_batch, {"mean_return": mean_return, **losses}

        def evaluate() -> Any:
            network.eval()
            result = evaluator(RL2Machine(network))
            network.train()
            return result

        try:
            run_loop(session, config.timesteps, batch, evaluate, progress_bar, callback)
        finally:
            env.close()
        return session.result()


def load_rl2(out_dir: str | os.PathLike[str],
             checkpoint: str | os.PathLike[str] | None = None) -> tuple[RL2Machine, RL2Config]:
    """The trained policy of ``out_dir`` as a state machine, and its configuration.

    Reads ``config.json`` and ``checkpoint.pt`` (or the ``checkpoint`` given: one of the run's
    snapshots) only (``weights_only=True``: no pickled code runs). ``ValueError`` with a clear
    message for a missing or corrupt folder.
    """

    def build(config: RL2Config, saved: dict[str, Any]) -> RL2Machine:
        network = build_network(config)
        network.load_state_dict(saved["network"])
        return RL2Machine(network.eval())

    return load_run_folder(out_dir, RL2Config.from_dict, "rl2", build, checkpoint)
