"""A trained run against the Bayes agent: the summary that ``meta-bayes evaluate``, the study and
the sweeps report.

:func:`evaluate_run` loads a run folder's agent (:func:`agents.runs.load_run`) and evaluates it
on fresh episodes of its env's task family, at the trained horizon or another one:

- bandit runs: the return and its standard error, the exact Bayes-optimal return ``V_bayes``
  and the Bayes gap ``(V_bayes - R) / (V_bayes - V_random)`` (Bernoulli arms), the cumulative
  regret curve, and the return minus the reference policy's on the same tasks and reward
  draws (:func:`agents.bandit_eval.reference_policy`: the Bayes-optimal policy where its DP
  fits in memory, else Thompson sampling), with the standard error of that paired difference;
- predictor runs: the KL per step from the Bayes predictive to the agent's,
  ``E[KL(p_bayes(· | x_<t) || q(· | x_<t))]``, its mean over the steps, and the log-loss of
  both.

:func:`summary_line` says the same in one line of text.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Any

from agents.bandit_eval import (
    BANDIT_ENVS,
    REFERENCES,
    base_env,
    evaluate_bandit_agent,
    reference_evaluation,
    reference_policy,
)
from agents.runs import load_run
from bayes.validation import MAX_VECTOR_ELEMENTS, check_int
from meta_envs.catalog import env_defaults

__all__ = ["GITTINS_DISCOUNTS", "bandit_summary", "evaluate_run", "gaussian_references", "predictor_summary",
           "shifted_env_kwargs", "summary_line"]


def predictor_summary(machine: Any, config: Any, episodes: int, horizon: int | None, seed: int,
                      trained_kwargs: dict[str, Any] | None = None) -> dict[str, Any]:
    """KL per step ``(T,)`` to the Bayes predictive, its mean and standard error, and the log-loss,
    on episodes of ``config``'s env. With ``trained_kwargs`` (the env arguments the agent was
    trained on, where ``config`` holds shifted ones) also ``"bayes_references"``: the same figures
    against Bayes under the training prior and under the evaluation prior, on the same episodes."""
    from bayes.evaluate import evaluate_predictor_references

    env = base_env(config.env_id, config.env_kwargs)
    references = {"evaluation": env.model}
    if trained_kwargs is not None:
        references["training"] = base_env(config.env_id, trained_kwargs).model
    results = evaluate_predictor_references(machine, env.model, references, horizon or env.horizon, episodes, seed)
    result = results["evaluation"]
    summary = {
        "mean_kl": result.mean_kl,
        "mean_kl_stderr": result.mean_kl_stderr,
        "kl_per_step": result.kl.tolist(),
        "kl_per_step_stderr": result.kl_stderr.tolist(),
        "log_loss": result.total_log_loss,
        "log_loss_stderr": result.total_log_loss_stderr,
        "bayes_log_loss": float(result.bayes_log_loss.sum()),
    }
    if trained_kwargs is not None:
        summary["bayes_references"] = {
            name: {"env_kwargs": trained_kwargs if name == "training" else config.env_kwargs,
                   "mean_kl": r.mean_kl, "mean_kl_stderr": r.mean_kl_stderr, "kl_per_step": r.kl.tolist(),
                   "bayes_log_loss": float(r.bayes_log_loss.sum())}
            for name, r in ((n, results[n]) for n in ("training", "evaluation"))
        }
    return summary


GITTINS_DISCOUNTS = (0.8, 0.9, 0.95)  #: the Gittins index policies a Gaussian bandit agent is paired with


def gaussian_references(agent: Any, config: Any, episodes: int, seed: int,
                        horizon: int | None = None) -> dict[str, dict[str, float]]:
    """The agent's evaluation ``agent`` minus Thompson sampling's and each Gittins index policy's
    (discounts :data:`GITTINS_DISCOUNTS`) on the same episodes of a Gaussian bandit env:
    ``{name: {"return", "difference", "stderr"}}``."""
    from agents.bandit_eval import bandit_evaluation_kwargs
    from bayes.bandits import GaussianGittinsPolicy, GaussianThompsonSampling
    from bayes.evaluate import PairedComparison

    kwargs = bandit_evaluation_kwargs(base_env(config.env_id, config.env_kwargs))
    policies = {"thompson-sampling": GaussianThompsonSampling(kwargs["n_arms"], kwargs["prior"], kwargs["noise_std"])}
    for discount in GITTINS_DISCOUNTS:
        policies[f"gittins-{discount}"] = GaussianGittinsPolicy(kwargs["n_arms"], discount, kwargs["prior"],
                                                                kwargs["noise_std"])
    pairs = {}
    for name, policy in policies.items():
        pair = PairedComparison.of(agent, evaluate_bandit_agent(policy, config.env_id, config.env_kwargs, episodes,
                                                                seed, horizon))
        pairs[name] = {"return": pair.b.mean_return, "difference": pair.mean_difference, "stderr": pair.stderr}
    return pairs


def bandit_summary(machine: Any, config: Any, episodes: int, horizon: int | None, seed: int,
                   references: bool = True, trained_kwargs: dict[str, Any] | None = None,
                   reference: str = "default") -> dict[str, Any]:
    """Return, Bayes-optimal return, Bayes gap, per-step regret curves ``(T,)`` of the agent and the
    reference policy (with their standard errors), the random policy's per-step regret, and the
    paired difference, on episodes of ``config``'s env; on Gaussian arms also (``references``) the
    pairs with :func:`gaussian_references`. With ``trained_kwargs`` (the env arguments the agent was
    trained on, where ``config`` holds shifted ones) also ``"bayes_references"``: the agent's return
    minus that of the reference policy under the training prior and under the evaluation prior
    (:func:`agents.bandit_eval.reference_policy`: Bayes-optimal where the DP fits), same episodes.

    ``reference`` (:data:`agents.bandit_eval.REFERENCES`): what the agent is paired with where the
    DP does not fit, Thompson sampling (``default``) or the best index policy (``best``; the
    paired entry then lists every candidate's return under ``"candidates"``)."""
    from bayes.evaluate import PairedComparison

    result = evaluate_bandit_agent(machine, config.env_id, config.env_kwargs, episodes, seed, horizon)
    name, baseline, candidates = reference_evaluation(config.env_id, config.env_kwargs, episodes, seed,
                                                      result.horizon, reference)
    pair = PairedComparison.of(result, baseline)
    extra: dict[str, Any] = {}
    if trained_kwargs is not None:  # the reference policy of the training prior, on the same episodes
        trained_name, trained = reference_policy(config.env_id, trained_kwargs, result.horizon)
        trained_pair = PairedComparison.of(result, evaluate_bandit_agent(trained, config.env_id, config.env_kwargs,
                                                                         episodes, seed, horizon))
        extra["bayes_references"] = {
            label: {"env_kwargs": kwargs, "policy": policy, "return": p.b.mean_return,
                    "difference": p.mean_difference, "stderr": p.stderr}
            for label, kwargs, policy, p in (("training", trained_kwargs, trained_name, trained_pair),
                                             ("evaluation", config.env_kwargs, name, pair))
        }
    # E[max_k p_k] - E[p_random] per step: the oracle's expected reward minus the prior mean's
    random_step_regret = (result.bayes_regret + result.mean_return - result.random_return) / result.horizon
    if references and config.env_id == "MetaGaussianBandit-v0":
        extra["references"] = gaussian_references(result, config, episodes, seed, horizon)
    return {
        "mean_return": result.mean_return,
        "stderr": result.stderr,
        "bayes_optimal_return": result.bayes_optimal_return,
        "random_return": result.random_return,
        "bayes_gap": result.bayes_gap,
        "bayes_regret": result.bayes_regret,
        "paired": {
            "reference": name,
            "reference_return": pair.b.mean_return,
            "mean_difference": pair.mean_difference,
            "stderr": pair.stderr,
            **({"candidates": candidates} if candidates is not None else {}),
        },
        "regret_curve": result.regret_curve.tolist(),
        "regret_curve_stderr": result.regret_curve_stderr.tolist(),
        "reference_regret_curve": pair.b.regret_curve.tolist(),
        "reference_regret_curve_stderr": pair.b.regret_curve_stderr.tolist(),
        "random_step_regret": float(random_step_regret),
        **extra,
    }


def _same_spaces(a: Any, b: Any) -> bool:
    """Whether a trained agent can act in both: the same kind of space, shape and number of actions
    (the bounds of a Box may differ: they follow the prior, and the agent reads the values)."""
    return type(a) is type(b) and a.shape == b.shape and getattr(a, "n", None) == getattr(b, "n", None)


def shifted_env_kwargs(env_id: str, trained_kwargs: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    """The env arguments of an evaluation under a shifted task distribution: the run's
    ``trained_kwargs`` with ``settings`` (``--set KEY=VALUE``) over them.

    ``ValueError`` naming the key for one that ``env_id`` does not take, a bad value, or one that
    changes the observation or action space (the number of arms or of outcomes): the trained
    agent can only act in the spaces it was trained in. A prior, a noise level, a hazard or a
    horizon may change."""
    if not isinstance(settings, dict):
        raise ValueError(f"--set must give KEY=VALUE settings, got {settings!r}")
    known = env_defaults(env_id)
    unknown = sorted(str(k) for k in settings if k not in known)
    if unknown:
        raise ValueError(f"--set: {env_id} has no argument {', '.join(unknown)}; it takes {sorted(known)}")
    evaluated = {**trained_kwargs, **settings}
    trained_env = base_env(env_id, trained_kwargs)
    try:
        shifted_env = base_env(env_id, evaluated)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"--set {_settings_text(settings)}: {exc}") from None
    for name in ("observation_space", "action_space"):
        before, after = getattr(trained_env, name), getattr(shifted_env, name)
        if not _same_spaces(before, after):
            raise ValueError(f"--set {_settings_text(settings)} changes the {name.replace('_', ' ')} from {before} to "
                             f"{after}: a trained agent is evaluated only on envs with the spaces it was trained in")
    return evaluated


def _settings_text(settings: dict[str, Any]) -> str:
    return " ".join(f"{k}={v!r}" for k, v in settings.items())


def evaluate_run(run_dir: str | os.PathLike[str], episodes: int = 20_000, horizon: int | None = None,
                 seed: int = 0, references: bool = True, settings: dict[str, Any] | None = None,
                 reference: str = "default") -> dict[str, Any]:
    """The summary of the run in ``run_dir`` on ``episodes`` episodes (seed ``seed``) at ``horizon``
    (None: the evaluated env's), as plain JSON data: :func:`bandit_summary` or
    :func:`predictor_summary`, with the env, the algo, the horizons and the seconds it took.
    ``references=False`` leaves out a Gaussian bandit's pairs with the index policies (slow at
    long horizons).

    ``settings`` (``meta-bayes evaluate --set``): env arguments other than the training ones
    (:func:`shifted_env_kwargs`); the episodes then come from the shifted task distribution, the
    summary's figures are against the Bayes agent of that distribution (the ideal), and
    ``"bayes_references"`` adds, on the same episodes, the comparison with the Bayes agent of the
    training prior (what meta-training converges to) beside it; ``"trained_env_kwargs"`` holds
    the run's own arguments.
    ``ValueError`` for fewer than 2 episodes, a horizon below 1, a bad setting, or a folder without
    a readable run, before any episode is played.

    ``reference`` (bandits: ``default`` or ``best``, :func:`bandit_summary`): what the agent is
    paired with where the exact DP does not fit."""
    if reference not in REFERENCES:
        raise ValueError(f"--reference must be one of {', '.join(REFERENCES)}, got {reference!r}")
    if check_int(episodes, "--episodes", 0) < 2:
        raise ValueError(f"--episodes must be >= 2, got {episodes}")
    if horizon is not None:
        check_int(horizon, "--horizon", 1)
    machine, config = load_run(run_dir)
    trained_kwargs = dict(config.env_kwargs)
    trained = int(base_env(config.env_id, trained_kwargs).horizon)
    if settings:
        config = dataclasses.replace(config, env_kwargs=shifted_env_kwargs(config.env_id, trained_kwargs, settings))
    evaluated = int(base_env(config.env_id, config.env_kwargs).horizon)
    steps = episodes * (horizon or evaluated)
    if steps > MAX_VECTOR_ELEMENTS:
        raise ValueError(f"--episodes x --horizon = {steps:,} steps, more than the {MAX_VECTOR_ELEMENTS:,} an "
                         "evaluation holds in memory: use fewer episodes or a shorter horizon")
    summary: dict[str, Any] = {"env_id": config.env_id, "env_kwargs": config.env_kwargs, "algo": config.algo}
    shift = trained_kwargs if settings else None
    if shift is not None:
        summary["trained_env_kwargs"] = trained_kwargs
    start = time.perf_counter()
    if config.env_id in BANDIT_ENVS:
        summary.update(bandit_summary(machine, config, episodes, horizon, seed, references, shift, reference))
    else:
        summary.update(predictor_summary(machine, config, episodes, horizon, seed, shift))
    summary.update({"horizon": horizon or evaluated, "trained_horizon": trained, "episodes": episodes, "seed": seed,
                    "seconds": time.perf_counter() - start})
    return summary


def summary_line(summary: dict[str, Any]) -> str:
    """One line of text for a summary of :func:`evaluate_run` (two with a shifted evaluation's
    comparison of the two Bayes references)."""
    head = f"{summary['env_id']} ({summary['algo']}) horizon {summary['horizon']}, {summary['episodes']} episodes:"
    if "mean_kl" in summary:
        line = (f"{head} mean KL to Bayes {summary['mean_kl']:.5f} ± {summary['mean_kl_stderr']:.5f}; "
                f"log-loss {summary['log_loss']:.4f} (Bayes {summary['bayes_log_loss']:.4f})")
    else:
        gap = "" if summary["bayes_gap"] is None else f", Bayes gap {summary['bayes_gap']:.4f}"
        bayes = ("" if summary["bayes_optimal_return"] is None
                 else f", Bayes-optimal {summary['bayes_optimal_return']:.4f}")
        paired = summary["paired"]
        line = (f"{head} return {summary['mean_return']:.4f} ± {summary['stderr']:.4f}{bayes}, "
                f"random {summary['random_return']:.4f}{gap}; minus {paired['reference']} on the same episodes: "
                f"{paired['mean_difference']:+.4f} ± {paired['stderr']:.4f}")
    references = summary.get("bayes_references")
    if not references:
        return line
    parts = []
    for label in ("training", "evaluation"):
        ref = references[label]
        where = f"Bayes under the {label} prior ({_kwargs_text(ref['env_kwargs'])})"
        if "mean_kl" in ref:
            parts.append(f"{where}: KL {ref['mean_kl']:.5f} ± {ref['mean_kl_stderr']:.5f}, "
                         f"its log-loss {ref['bayes_log_loss']:.4f}")
        else:
            parts.append(f"{where}, {ref['policy']}: return {ref['return']:.4f}, agent minus it "
                         f"{ref['difference']:+.4f} ± {ref['stderr']:.4f}")
    return f"{line}\nshifted from {_kwargs_text(summary['trained_env_kwargs'])}: " + "; ".join(parts)


def _kwargs_text(kwargs: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in kwargs.items()) or "defaults"
