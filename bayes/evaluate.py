"""Evaluators: any agent, given as a state machine, side by side with the Bayes-optimal one.

Bandits (:func:`evaluate_bandit_policy`, :func:`compare_bandit_policies`): episodes of ``K``
Bernoulli (or normal) arms drawn from the prior, simulated exactly as ``MetaBandit-v0`` (and
``MetaGaussianBandit-v0``) do: the tasks and one reward variate per episode and step come from
``np.random.default_rng(seed)`` in the env's order, so with the same seed an evaluation here
replays the env's episodes, and any two policies meet the same tasks and reward draws (common
random numbers). The policies' own randomness (ties, sampling) comes from a separate stream.
The policy sees the env's observation: one-hot previous action, previous reward, ``t/horizon``.

Prediction (:func:`evaluate_predictor`): episodes of a :mod:`bayes.models` task family; the
predictor sees the prediction envs' observation and outputs predictive parameters; reported are
the log-loss per step and the KL divergence from the Bayes predictive per step.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bayes.bandits.base import BanditPolicy, check_bandit_prior, normal_arms_model
from bayes.bandits.dp import bayes_optimal_value
from bayes.kl import kl_divergence
from bayes.models import BetaBernoulli, ConjugateModel, NormalKnownNoise
from bayes.sampling import sample_categorical
from bayes.statemachine import StateMachine
from bayes.validation import check_int

__all__ = [
    "BanditEvaluation",
    "PairedComparison",
    "PredictionEvaluation",
    "compare_bandit_policies",
    "evaluate_bandit_policy",
    "evaluate_predictor",
    "evaluate_predictor_references",
    "normalised_gap",
    "prediction_observation",
    "standard_error",
]


def normalised_gap(shortfall: float, best: float | None, random: float) -> float | None:
    """``shortfall / (best - random)``: a return's shortfall as a fraction of the span from the
    random policy's return to the best one's (``best``; the Bayes-optimal value, say).

    Undefined, so ``None`` (null in JSON, "n/a" in text), where ``best`` is unknown or the span is
    not positive: with one arm, or a horizon of one pull, every policy is Bayes-optimal and
    there is no gap to measure. A span below ``1e-12`` of the returns' size counts as zero.
    """
    if best is None:
        return None
    span = best - random
    if not span > 1e-12 * max(abs(best), abs(random), 1.0):
        return None
    return shortfall / span


def standard_error(x: np.ndarray, axis: int = 0) -> np.ndarray:
    """Standard error of the mean along ``axis`` (``ddof=1``); NaN where there is one sample."""
    n = x.shape[axis]
    return x.std(axis=axis, ddof=1) / np.sqrt(n) if n > 1 else np.full(np.delete(x.shape, axis), np.nan)


# ------------------------------------------------------------------------------- bandits


@dataclass
class BanditEvaluation:
    """Results of :func:`evaluate_bandit_policy` (per-episode arrays kept for paired analyses)."""

    mean_return: float
    stderr: float
    bayes_regret: float  #: E[horizon * max_k p_k - return]
    bayes_regret_stderr: float
    bayes_optimal_return: float | None  #: exact DP value, where computable (Bernoulli arms)
    random_return: float  #: horizon times the average prior mean of the arms
    bayes_gap: float | None  #: (V_bayes - mean_return) / (V_bayes - V_random)
    regret_curve: np.ndarray  #: per-step expected regret E[max_k p_k - p_{a_t}], shape (horizon,)
    regret_curve_stderr: np.ndarray
    returns: np.ndarray = field(repr=False)  #: per-episode returns, shape (n_episodes,)
    #: standard error of the cumulative regret after each step (of per-episode sums), shape (horizon,)
    cumulative_regret_stderr: np.ndarray = field(default_factory=lambda: np.zeros(0))
    n_episodes: int = 0
    horizon: int = 0
    n_arms: int = 0
    seed: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary (arrays as lists, per-episode returns left out)."""
        out = {k: v for k, v in self.__dict__.items() if k != "returns"}
        return {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in out.items()}


@dataclass
class PairedComparison:
    """``a`` minus ``b`` on the same episodes: mean difference of returns and its standard error."""

    mean_difference: float
    stderr: float
    a: BanditEvaluation
    b: BanditEvaluation

    @classmethod
    def of(cls, a: BanditEvaluation, b: BanditEvaluation) -> PairedComparison:
        """Pair two evaluations of the same episodes (same seed, horizon and arms)."""
        if a.returns.shape != b.returns.shape:
            raise ValueError(f"paired evaluations need the same episodes, got {a.returns.shape} and {b.returns.shape}")
        diff = a.returns - b.returns
        return cls(float(diff.mean()), float(standard_error(diff)), a, b)


def _bandit_model(arms: str, n_arms: int, prior: Any, noise_std: Any) -> ConjugateModel:
    if arms == "bernoulli":
        pairs = check_bandit_prior(prior, n_arms)
        return BetaBernoulli(pairs[:, 0], pairs[:, 1])
    if arms == "gaussian":
        return normal_arms_model(n_arms, prior, noise_std)
    raise ValueError(f"arms must be 'bernoulli' or 'gaussian', got {arms!r}")


def _act(policy: Any, state: np.ndarray, obs: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The next state and one action per row, for a BanditPolicy or any StateMachine."""
    if isinstance(policy, BanditPolicy):
        state = policy.update(state, obs)
        return state, policy.sample_actions(state, rng)
    state, probs = policy.step(state, obs)
    probs = np.asarray(probs, dtype=np.float64)
    if probs.shape != (len(obs), obs.shape[1] - 2) or not np.all(np.isfinite(probs)) or np.any(probs < 0):
        raise ValueError(f"the policy's output must be action probabilities of shape {(len(obs), obs.shape[1] - 2)}")
    return state, sample_categorical(probs / probs.sum(axis=1, keepdims=True), rng)


def evaluate_bandit_policy(
    policy: StateMachine,
    n_arms: int = 2,
    horizon: int = 20,
    prior: Any = (1.0, 1.0),
    n_episodes: int = 10_000,
    seed: int = 0,
    arms: str = "bernoulli",
    noise_std: Any = 1.0,
) -> BanditEvaluation:
    """Run ``policy`` on ``n_episodes`` bandit episodes drawn from the prior (all at once).

    ``arms="bernoulli"``: Beta ``prior`` (one pair or one per arm); ``arms="gaussian"``: normal
    ``prior`` ``(mean, std)`` on each arm's mean and known ``noise_std``. The regret is against
    an oracle that knows the task: ``horizon * max_k p_k`` (``p_k`` the arms' means). The Bayes
    gap uses the exact DP value for Bernoulli arms where it fits in memory, else it is ``None``.
    """
    n_arms = check_int(n_arms, "n_arms", 1)
    horizon = check_int(horizon, "horizon", 1)
    n_episodes = check_int(n_episodes, "n_episodes", 2)
    seed = check_int(seed, "seed", 0)
    model = _bandit_model(arms, n_arms, prior, noise_std)
    env_rng = np.random.default_rng(seed)  # the env's stream: tasks, then one variate per step
    policy_rng = np.random.default_rng([seed, 1])
    task = model.sample_task(env_rng, n_episodes)  # (B, K) arm means
    means = task
    best = means.max(axis=1)
    obs = np.zeros((n_episodes, n_arms + 2))
    state = policy.initial_state(n_episodes)
    total = np.zeros(n_episodes)
    step_regret = np.empty((horizon, n_episodes))
    rows = np.arange(n_episodes)
    for t in range(horizon):
        state, actions = _act(policy, state, obs, policy_rng)
        reward = model.sample_outcome(env_rng, task, arm=actions)
        total += reward
        step_regret[t] = best - means[rows, actions]
        obs = np.zeros((n_episodes, n_arms + 2))
        obs[rows, actions] = 1.0
        obs[:, n_arms] = reward
        obs[:, n_arms + 1] = (t + 1) / horizon
    prior_means = means_of_prior(model)
    random_return = float(horizon * prior_means.mean())
    v_bayes = None
    if arms == "bernoulli":
        pairs = tuple(map(tuple, np.stack([model.alpha, model.beta], axis=1).tolist()))
        v_bayes = _bayes_value(n_arms, horizon, pairs)
    mean_return = float(total.mean())
    regret = horizon * best - total
    gap = None if v_bayes is None else normalised_gap(v_bayes - mean_return, v_bayes, random_return)
    return BanditEvaluation(
        mean_return=mean_return,
        stderr=float(standard_error(total)),
        bayes_regret=float(regret.mean()),
        bayes_regret_stderr=float(standard_error(regret)),
        bayes_optimal_return=v_bayes,
        random_return=random_return,
        bayes_gap=gap,
        regret_curve=step_regret.mean(axis=1),
        regret_curve_stderr=standard_error(step_regret, axis=1),
        returns=total,
        cumulative_regret_stderr=standard_error(np.cumsum(step_regret, axis=0), axis=1),
        n_episodes=n_episodes,
        horizon=horizon,
        n_arms=n_arms,
        seed=int(seed),
    )


@functools.lru_cache(maxsize=64)
def _bayes_value(n_arms: int, horizon: int, prior: tuple[tuple[float, float], ...]) -> float | None:
    """The exact DP value, computed once per problem; None where it does not fit in memory."""
    try:
        return bayes_optimal_value(n_arms, horizon, np.array(prior))
    except ValueError:
        return None


def means_of_prior(model: ConjugateModel) -> np.ndarray:
    """Prior mean of each arm's mean reward."""
    if isinstance(model, BetaBernoulli):
        return model.alpha / (model.alpha + model.beta)
    if isinstance(model, NormalKnownNoise):
        return np.asarray(model.prior_mean)
    raise TypeError(f"no bandit arms for {type(model).__name__}")


def compare_bandit_policies(a: StateMachine, b: StateMachine, **kwargs: Any) -> PairedComparison:
    """Evaluate ``a`` and ``b`` on the same episodes (same ``seed``) and pair their returns.

    Keyword arguments as :func:`evaluate_bandit_policy`. The standard error is that of the
    per-episode difference, which common random numbers make much smaller than either one's.
    """
    return PairedComparison.of(evaluate_bandit_policy(a, **kwargs), evaluate_bandit_policy(b, **kwargs))


# ---------------------------------------------------------------------------- prediction


def prediction_observation(model: ConjugateModel, x: np.ndarray, t: int, horizon: int) -> np.ndarray:
    """The prediction envs' observation of outcomes ``x`` after ``t`` steps: ``(B, obs_dim)``.

    Scalar outcomes: ``(x, 1, t / horizon)``; categorical outcomes: one-hot, then ``t / horizon``.
    """
    n = len(x)
    if np.issubdtype(model.outcome_dtype, np.integer):
        k = model.predictive_shape[-1]
        obs = np.zeros((n, k + 1))
        obs[np.arange(n), x] = 1.0
    else:
        obs = np.zeros((n, 3))
        obs[:, 0] = x
        obs[:, 1] = 1.0
    obs[:, -1] = t / horizon
    return obs


@dataclass
class PredictionEvaluation:
    """Results of :func:`evaluate_predictor`; per-step arrays have shape ``(horizon,)``."""

    log_loss: np.ndarray  #: E[-log q_t(x_t)] per step
    log_loss_stderr: np.ndarray
    bayes_log_loss: np.ndarray  #: the same for the Bayes predictive, on the same outcomes
    kl: np.ndarray  #: E[KL(Bayes predictive || agent's predictive)] per step
    kl_stderr: np.ndarray
    mean_kl: float
    mean_kl_stderr: float
    total_log_loss: float  #: E[sum_t -log q_t(x_t)], the episode's code length in nats
    total_log_loss_stderr: float
    n_episodes: int = 0
    horizon: int = 0
    seed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in self.__dict__.items()}


def evaluate_predictor(
    predictor: StateMachine, model: ConjugateModel, horizon: int = 20, n_episodes: int = 10_000, seed: int = 0,
    reference: ConjugateModel | None = None,
) -> PredictionEvaluation:
    """Log-loss and KL from the Bayes predictive, per step, of ``predictor`` on ``model``'s tasks.

    ``model`` is the task family the episodes come from (the env's); ``reference`` the prior of
    the Bayes predictor the agent is compared with (default: ``model`` itself, the ideal). A
    reference other than the env's model asks how close the agent is to Bayes under another
    prior, e.g. the one it was trained on (:func:`evaluate_predictor_references`). Both must have
    one task per episode (``batch_shape == ()``) and the same outcomes, as the prediction envs.
    Tasks and outcomes come from ``np.random.default_rng(seed)`` in the env's order.
    """
    return evaluate_predictor_references(predictor, model, {"bayes": reference or model}, horizon, n_episodes,
                                         seed)["bayes"]


def evaluate_predictor_references(
    predictor: StateMachine, model: ConjugateModel, references: dict[str, ConjugateModel], horizon: int = 20,
    n_episodes: int = 10_000, seed: int = 0,
) -> dict[str, PredictionEvaluation]:
    """:func:`evaluate_predictor` against several Bayes predictors on the same episodes, in one pass.

    ``references`` maps a name to the prior (a model of the same family and outcomes as
    ``model``) of a Bayes predictor; each gets its :class:`PredictionEvaluation`: the agent's
    log-loss (the same in all), that Bayes predictor's log-loss on the same outcomes and
    :math:`E[\\mathrm{KL}(p_\\mathrm{ref}(\\cdot \\mid x_{<t}) \\,\\|\\, q(\\cdot \\mid x_{<t}))]` per step.
    With the training prior and the evaluation prior as references this is the shifted-prior
    evaluation of ``meta-bayes evaluate --set``: which Bayes agent does the meta-learner track?
    """
    horizon = check_int(horizon, "horizon", 1)
    n_episodes = check_int(n_episodes, "n_episodes", 2)
    if not references:
        raise ValueError("references must name at least one Bayes predictor's model")
    for name, reference in {"model": model, **{f"references[{k!r}]": v for k, v in references.items()}}.items():
        if not isinstance(reference, ConjugateModel):
            raise TypeError(f"{name} must be a bayes.models.ConjugateModel, got {type(reference).__name__}")
        if getattr(reference, "batch_shape", ()) != ():
            raise ValueError(f"{name} must describe one task per episode (batch_shape ()), got {reference.batch_shape}")
        if reference.predictive_shape != model.predictive_shape or reference.outcome_dtype != model.outcome_dtype:
            raise ValueError(f"{name} ({type(reference).__name__}) predicts other outcomes than the env's "
                             f"{type(model).__name__}")
    model = model.for_horizon(horizon)
    refs = {name: reference.for_horizon(horizon) for name, reference in references.items()}
    rng = np.random.default_rng(seed)
    task = model.sample_task(rng, n_episodes)
    stats = {name: reference.initial_stats(n_episodes) for name, reference in refs.items()}
    obs = np.zeros((n_episodes, _obs_width(model)))
    state = predictor.initial_state(n_episodes)
    loss = np.empty((horizon, n_episodes))
    bayes_loss = {name: np.empty((horizon, n_episodes)) for name in refs}
    kl = {name: np.empty((horizon, n_episodes)) for name in refs}
    for t in range(horizon):
        state, output = predictor.step(state, obs)
        output = np.asarray(output, dtype=np.float64).reshape(n_episodes, *model.predictive_shape)
        bayes = {name: reference.predictive(stats[name]) for name, reference in refs.items()}
        task = model.evolve(rng, task)
        x = model.sample_outcome(rng, task)
        loss[t] = -model.predictive_log_prob(output, x)
        for name, reference in refs.items():
            bayes_loss[name][t] = -reference.predictive_log_prob(bayes[name], x)
            kl[name][t] = kl_divergence(reference, bayes[name], output)
            stats[name] = reference.update(stats[name], x)
        obs = prediction_observation(model, x, t + 1, horizon)
    results = {}
    for name in refs:
        per_episode_kl = kl[name].mean(axis=0)
        results[name] = PredictionEvaluation(
            log_loss=loss.mean(axis=1),
            log_loss_stderr=standard_error(loss, axis=1),
            bayes_log_loss=bayes_loss[name].mean(axis=1),
            kl=kl[name].mean(axis=1),
            kl_stderr=standard_error(kl[name], axis=1),
            mean_kl=float(per_episode_kl.mean()),
            mean_kl_stderr=float(standard_error(per_episode_kl)),
            total_log_loss=float(loss.sum(axis=0).mean()),
            total_log_loss_stderr=float(standard_error(loss.sum(axis=0))),
            n_episodes=n_episodes,
            horizon=horizon,
            seed=int(seed),
        )
    return results


def _obs_width(model: ConjugateModel) -> int:
    if np.issubdtype(model.outcome_dtype, np.integer):
        return model.predictive_shape[-1] + 1
    return 3
