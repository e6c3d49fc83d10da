"""Tables of exact bandit values: the Bayes-optimal value by horizon, and every baseline's.

Usage::

    python -m benchmarks.bandit_values                 # 2 Bernoulli arms, uniform priors
    python -m benchmarks.bandit_values --json

The first table gives ``bayes_optimal_value(2, T)`` for ``T`` in 10, 20, 50, 100 (exact DP),
with the random policy's ``T/2`` and the oracle's ``2T/3`` for scale. The second gives, at
horizon 20, each policy's exact expected return (policy evaluation over every belief state),
its Bayes gap ``(V_bayes - V) / (V_bayes - V_random)``, and a Monte-Carlo check (20,000
episodes, common random numbers) with its standard error. The third compares the policies for
normal arms (no exact DP there) by Monte Carlo, paired against Gittins at discount 0.95.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any

from bayes.bandits import (
    UCB1,
    BayesOptimalPolicy,
    BayesUCB,
    FiniteHorizonGittinsPolicy,
    GaussianGittinsPolicy,
    GaussianGreedy,
    GaussianThompsonSampling,
    GaussianUCB,
    GittinsPolicy,
    GreedyPolicy,
    RandomPolicy,
    ThompsonSampling,
    bayes_optimal_value,
)
from bayes.bandits.base import BernoulliPolicy
from bayes.bandits.dp import bernoulli_policy_value
from bayes.evaluate import PairedComparison, evaluate_bandit_policy

__all__ = ["baseline_table", "gaussian_table", "horizon_table"]

HORIZONS = (10, 20, 50, 100)


def horizon_table(horizons: Sequence[int] = HORIZONS) -> list[dict[str, float]]:
    return [
        {"horizon": t, "bayes_optimal": bayes_optimal_value(2, t), "random": t / 2, "oracle": 2 * t / 3}
        for t in horizons
    ]


def policies(horizon: int) -> dict[str, BernoulliPolicy]:
    return {
        "Bayes-optimal": BayesOptimalPolicy(2, horizon),
        "Greedy": GreedyPolicy(2),
        "Finite-horizon Gittins": FiniteHorizonGittinsPolicy(2, horizon),
        "Gittins (discount 0.9)": GittinsPolicy(2, discount=0.9),
        "Gittins (discount 0.99)": GittinsPolicy(2, discount=0.99),
        "Bayes-UCB": BayesUCB(2),
        "Thompson sampling": ThompsonSampling(2),
        "UCB1": UCB1(2),
        "Random": RandomPolicy(2),
    }


def baseline_table(horizon: int = 20, n_episodes: int = 20_000, seed: int = 0) -> list[dict[str, Any]]:
    v_bayes = bayes_optimal_value(2, horizon)
    v_random = horizon / 2
    rows = []
    for name, policy in policies(horizon).items():
        exact = bernoulli_policy_value(policy, 2, horizon)
        mc = evaluate_bandit_policy(policy, n_arms=2, horizon=horizon, n_episodes=n_episodes, seed=seed)
        rows.append(
            {
                "policy": name,
                "exact_return": exact,
                "bayes_gap": (v_bayes - exact) / (v_bayes - v_random),
                "monte_carlo_return": mc.mean_return,
                "monte_carlo_stderr": mc.stderr,
            }
        )
    return rows


def gaussian_table(horizon: int = 20, n_episodes: int = 20_000, seed: int = 0) -> list[dict[str, Any]]:
    """Normal arms (prior N(0, 1), noise 1), two arms: Monte Carlo returns on common random numbers."""
    kwargs = {"n_arms": 2, "horizon": horizon, "n_episodes": n_episodes, "seed": seed, "arms": "gaussian",
              "prior": (0.0, 1.0), "noise_std": 1.0}
    candidates = {
        "Gittins (discount 0.95)": GaussianGittinsPolicy(2, 0.95),
        "Gittins (discount 0.99)": GaussianGittinsPolicy(2, 0.99),
        "Thompson sampling": GaussianThompsonSampling(2),
        "Greedy": GaussianGreedy(2),
        "UCB": GaussianUCB(2),
        "Random": RandomPolicy(2),
    }
    reference = evaluate_bandit_policy(candidates["Gittins (discount 0.95)"], **kwargs)
    rows = []
    for name, policy in candidates.items():
        result = evaluate_bandit_policy(policy, **kwargs)
        pair = PairedComparison.of(result, reference)
        rows.append({"policy": name, "mean_return": result.mean_return, "stderr": result.stderr,
                     "minus_gittins_095": pair.mean_difference, "paired_stderr": pair.stderr})
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--episodes", type=int, default=20_000)
    args = parser.parse_args(argv)
    horizons, baselines = horizon_table(), baseline_table(n_episodes=args.episodes)
    gaussian = gaussian_table(n_episodes=args.episodes)
    if args.json:
        print(json.dumps({"bayes_optimal_by_horizon": horizons, "baselines_at_20": baselines,
                          "gaussian_at_20": gaussian}, indent=2))
        return 0
    print("2 Bernoulli arms, Beta(1, 1) priors: exact Bayes-optimal value")
    print(f"{'horizon':>8} {'Bayes-optimal':>14} {'random':>8} {'oracle':>9}")
    for row in horizons:
        print(f"{row['horizon']:>8} {row['bayes_optimal']:>14.6f} {row['random']:>8.1f} {row['oracle']:>9.3f}")
    print("\nhorizon 20: exact value of each policy, and Monte Carlo (common random numbers)")
    print(f"{'policy':<24} {'exact':>10} {'Bayes gap':>10} {'Monte Carlo':>12} {'stderr':>8}")
    for row in baselines:
        print(
            f"{row['policy']:<24} {row['exact_return']:>10.4f} {row['bayes_gap']:>10.4f}"
            f" {row['monte_carlo_return']:>12.4f} {row['monte_carlo_stderr']:>8.4f}"
        )
    print("\nnormal arms, prior N(0, 1), noise 1, horizon 20: Monte Carlo on common random numbers")
    print(f"{'policy':<24} {'return':>10} {'stderr':>8} {'- Gittins 0.95':>15} {'paired se':>10}")
    for row in gaussian:
        print(
            f"{row['policy']:<24} {row['mean_return']:>10.4f} {row['stderr']:>8.4f}"
            f" {row['minus_gittins_095']:>15.4f} {row['paired_stderr']:>10.4f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
