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

import os
import time
from typing import Any

from agents.bandit_eval import BANDIT_ENVS, base_env, evaluate_bandit_agent, reference_policy
from agents.runs import load_run
from bayes.validation import MAX_VECTOR_ELEMENTS, check_int

__all__ = ["GITTINS_DISCOUNTS", "bandit_summary", "evaluate_run", "gaussian_references", "predictor_summary",
           "summary_line"]


def predictor_summary(machine: Any, config: Any, episodes: int, horizon: int | None, seed: int) -> dict[str, Any]:
    """KL per step ``(T,)`` to the Bayes predictive, its mean and standard error, and the log-loss."""
    from bayes.evaluate import evaluate_predictor

    env = base_env(config.env_id, config.env_kwargs)
    result = evaluate_predictor(machine, env.model, horizon or env.horizon, episodes, seed)
    return {
        "mean_kl": result.mean_kl,
        "mean_kl_stderr": result.mean_kl_stderr,
        "kl_per_step": result.kl.tolist(),
        "kl_per_step_stderr": result.kl_stderr.tolist(),
        "log_loss": result.total_log_loss,
        "log_loss_stderr": result.total_log_loss_stderr,
        "bayes_log_loss": float(result.bayes_log_loss.sum()),
    }


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
                   references: bool = True) -> dict[str, Any]:
    """Return, Bayes-optimal return, Bayes gap, per-step regret curves ``(T,)`` of the agent and the
    reference policy (with their standard errors), the random policy's per-step regret, and the
    paired difference; on Gaussian arms also (``references``) the pairs with :func:`gaussian_references`."""
    from bayes.evaluate import PairedComparison

    result = evaluate_bandit_agent(machine, config.env_id, config.env_kwargs, episodes, seed, horizon)
    name, reference = reference_policy(config.env_id, config.env_kwargs, result.horizon)
    pair = PairedComparison.of(result, evaluate_bandit_agent(reference, config.env_id, config.env_kwargs, episodes,
                                                             seed, horizon))
    # E[max_k p_k] - E[p_random] per step: the oracle's expected reward minus the prior mean's
    random_step_regret = (result.bayes_regret + result.mean_return - result.random_return) / result.horizon
    extra: dict[str, Any] = {}
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
        },
        "regret_curve": result.regret_curve.tolist(),
        "regret_curve_stderr": result.regret_curve_stderr.tolist(),
        "reference_regret_curve": pair.b.regret_curve.tolist(),
        "reference_regret_curve_stderr": pair.b.regret_curve_stderr.tolist(),
        "random_step_regret": float(random_step_regret),
        **extra,
    }


def evaluate_run(run_dir: str | os.PathLike[str], episodes: int = 20_000, horizon: int | None = None,
                 seed: int = 0, references: bool = True) -> dict[str, Any]:
    """The summary of the run in ``run_dir`` on ``episodes`` episodes (seed ``seed``) at ``horizon``
    (None: the trained one), as plain JSON data: :func:`bandit_summary` or
    :func:`predictor_summary`, with the env, the algo, the horizons and the seconds it took.
    ``references=False`` leaves out a Gaussian bandit's pairs with the index policies (slow at
    long horizons).
    ``ValueError`` for fewer than 2 episodes, a horizon below 1, or a folder without a readable run."""
    if check_int(episodes, "--episodes", 0) < 2:
        raise ValueError(f"--episodes must be >= 2, got {episodes}")
    if horizon is not None:
        check_int(horizon, "--horizon", 1)
    machine, config = load_run(run_dir)
    trained = int(base_env(config.env_id, config.env_kwargs).horizon)
    steps = episodes * (horizon or trained)
    if steps > MAX_VECTOR_ELEMENTS:
        raise ValueError(f"--episodes x --horizon = {steps:,} steps, more than the {MAX_VECTOR_ELEMENTS:,} an "
                         "evaluation holds in memory: use fewer episodes or a shorter horizon")
    summary: dict[str, Any] = {"env_id": config.env_id, "env_kwargs": config.env_kwargs, "algo": config.algo}
    start = time.perf_counter()
    if config.env_id in BANDIT_ENVS:
        summary.update(bandit_summary(machine, config, episodes, horizon, seed, references))
    else:
        summary.update(predictor_summary(machine, config, episodes, horizon, seed))
    summary.update({"horizon": horizon or trained, "trained_horizon": trained, "episodes": episodes, "seed": seed,
                    "seconds": time.perf_counter() - start})
    return summary


def summary_line(summary: dict[str, Any]) -> str:
    """One line of text for a summary of :func:`evaluate_run`."""
    head = f"{summary['env_id']} ({summary['algo']}) horizon {summary['horizon']}, {summary['episodes']} episodes:"
    if "mean_kl" in summary:
        return (f"{head} mean KL to Bayes {summary['mean_kl']:.5f} ± {summary['mean_kl_stderr']:.5f}; "
                f"log-loss {summary['log_loss']:.4f} (Bayes {summary['bayes_log_loss']:.4f})")
    gap = "" if summary["bayes_gap"] is None else f", Bayes gap {summary['bayes_gap']:.4f}"
    bayes = "" if summary["bayes_optimal_return"] is None else f", Bayes-optimal {summary['bayes_optimal_return']:.4f}"
    paired = summary["paired"]
    return (f"{head} return {summary['mean_return']:.4f} ± {summary['stderr']:.4f}{bayes}, "
            f"random {summary['random_return']:.4f}{gap}; minus {paired['reference']} on the same episodes: "
            f"{paired['mean_difference']:+.4f} ± {paired['stderr']:.4f}")
