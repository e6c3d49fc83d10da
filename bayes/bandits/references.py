"""The best available reference for a Bernoulli bandit whose exact DP does not fit in memory.

Where :class:`~bayes.bandits.dp.BayesOptimalPolicy` fits, it is the reference. Beyond (5 arms at
100 pulls already need about 20,000 GiB), the Bayes-optimal value is out of reach and the
closest policies known are index policies. :func:`index_references` lists the candidates for
``K`` arms and ``T`` pulls:

- the finite-horizon Gittins index policy (:class:`~bayes.bandits.gittins.FiniteHorizonGittinsPolicy`),
  up to :data:`FINITE_HORIZON_GITTINS_MAX` pulls (its index tables cost about ``T^4.5``: 18 s
  at 100 pulls, hours at 500);
- the discounted Gittins index policy at the discounts of :data:`REFERENCE_DISCOUNTS` for the
  horizon (the two best of a pilot on other episodes, ``python -m benchmarks.bandit_values
  --pilot``), at accuracy :data:`GITTINS_TOL`;
- Bayes-UCB and Thompson sampling.

:func:`best_reference` evaluates every candidate on the same episodes as the agent it is paired
with (common random numbers) and keeps the one of highest mean return. Choosing the best on those
very episodes raises the reference's figure slightly (the maximum of noisy estimates), so an
agent's paired difference from it errs on the agent's side of caution.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from bayes.bandits.base import BernoulliPolicy
from bayes.bandits.baselines import BayesUCB, ThompsonSampling
from bayes.bandits.gittins import FiniteHorizonGittinsPolicy, GittinsPolicy

__all__ = ["FINITE_HORIZON_GITTINS_MAX", "GITTINS_TOL", "REFERENCE_DISCOUNTS", "best_reference",
           "gittins_name", "index_references", "prepare_policy", "reference_discounts"]

#: Accuracy of the discounted Gittins tables: every index within 1e-4, so only arms whose indices
#: lie within 1e-4 of each other may be ordered otherwise than by the exact indices (a table of
#: 500 counts at discount 0.99 takes about 40 s at 1e-4, 130 s at 1e-6).
GITTINS_TOL = 1e-4
#: At each horizon of the RL² grid, the two discounts of the Gittins policy that did best in the
#: pilot (``benchmarks.bandit_values``' module docstring has the figures); off the grid, those of
#: the grid horizon nearest in ratio. At 500 pulls 0.998 did better still, but its table of 500
#: counts takes about 300 s to build.
REFERENCE_DISCOUNTS: dict[int, tuple[float, ...]] = {10: (0.5, 0.6), 100: (0.98, 0.99), 500: (0.99, 0.995)}
#: Longest horizon at which the finite-horizon Gittins policy is a candidate.
FINITE_HORIZON_GITTINS_MAX = 100


def reference_discounts(horizon: int, table: dict[int, tuple[float, ...]] | None = None) -> tuple[float, ...]:
    """The discounts of ``table`` (default :data:`REFERENCE_DISCOUNTS`) at ``horizon``, else at the
    horizon of the table nearest it in ratio."""
    table = REFERENCE_DISCOUNTS if table is None else table
    if horizon in table:
        return tuple(table[horizon])
    return tuple(table[min(table, key=lambda h: abs(math.log(h / horizon)))])


def gittins_name(discount: float) -> str:
    """The name of the Gittins policy at ``discount``."""
    return f"Gittins (discount {discount:g})"


def index_references(n_arms: int, horizon: int, prior: Any = (1.0, 1.0), discounts: Sequence[float] | None = None,
                     finite_horizon_max: int = FINITE_HORIZON_GITTINS_MAX) -> dict[str, BernoulliPolicy]:
    """The candidate references of ``n_arms`` Bernoulli arms (``prior``: one ``(α, β)``, or one
    per arm) at ``horizon`` pulls, by name (module docstring); ``discounts`` default to
    :func:`reference_discounts` of the horizon."""
    discounts = reference_discounts(horizon) if discounts is None else tuple(discounts)
    out: dict[str, BernoulliPolicy] = {}
    if horizon <= finite_horizon_max:
        out["Finite-horizon Gittins"] = FiniteHorizonGittinsPolicy(n_arms, horizon, prior)
    for discount in discounts:
        out[gittins_name(discount)] = GittinsPolicy(n_arms, discount, prior, tol=GITTINS_TOL)
    out["Bayes-UCB"] = BayesUCB(n_arms, prior)
    out["Thompson sampling"] = ThompsonSampling(n_arms, prior)
    return out


def prepare_policy(policy: BernoulliPolicy, horizon: int) -> None:
    """Build a policy's index tables once, at their final size (the untimed set-up of an evaluation)."""
    if isinstance(policy, GittinsPolicy):  # one table of max(horizon, 32) counts per distinct arm prior
        for alpha, beta in {(float(a), float(b)) for a, b in policy.prior}:
            policy.table((alpha, beta), horizon)
    elif isinstance(policy, FiniteHorizonGittinsPolicy):
        policy.precompute()


def best_reference(candidates: dict[str, BernoulliPolicy], evaluate: Callable[[BernoulliPolicy], Any],
                   horizon: int) -> tuple[str, Any, dict[str, Any]]:
    """``(name, evaluation, evaluations)``: ``evaluate(policy)`` of every candidate (each on the
    same episodes), the one of highest ``mean_return`` first, and all of them by name."""
    results = {}
    for name, policy in candidates.items():
        prepare_policy(policy, horizon)
        results[name] = evaluate(policy)
    best = max(results, key=lambda name: results[name].mean_return)
    return best, results[best], results
