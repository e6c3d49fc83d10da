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

**The RL² grid** (``--grid``)::

    python -m benchmarks.bandit_values --grid [--episodes N] [--jobs 2] [--json]
    python -m benchmarks.bandit_values --pilot          # how the Gittins discounts were chosen

References for the bandit grid of Duan et al. (2016), "RL²: Fast Reinforcement Learning via Slow
Reinforcement Learning", Table 1: ``k`` Bernoulli arms in 5, 10, 50, ``n`` pulls in 10, 100,
500, Beta(1, 1) priors. For each cell (:func:`grid_cell`): the exact Bayes-optimal value where
the DP fits in :data:`~bayes.bandits.dp.DEFAULT_MAX_BYTES` (2 GiB) -- the three cells of 10 pulls;
at 100 pulls 5 arms already need about 20,000 GiB -- with the Bayes-optimal policy's Monte-Carlo
return on the same episodes as a check; then the reference policies, all on the same episodes
(common random numbers, 20,000 per cell, each cell with its own fixed seed :func:`cell_seed`):
the finite-horizon Gittins index policy (up to 100 pulls: at 500 its index tables would take
hours), the Gittins index policy at the two discounts of :data:`GRID_DISCOUNTS`, Bayes-UCB,
Thompson sampling, UCB1 and greedy, and the random policy for scale. Printed: each one's mean
return and standard error, the best reference (highest mean return; the Bayes-optimal and
random policies are not references) and each policy's paired difference from it with its
standard error, and the RL² paper's figure beside where one was found. The cells run on
``--jobs`` processes (default 2); the numbers do not depend on it. The Gittins tables are
built once and kept in the disk cache (``$META_BAYES_CACHE``), so a second run is quicker; the
first one fits in the 10-minute budget on 2 cores.

*Gittins discounts.* :func:`gittins_pilot` runs the Gittins policy at the discounts of
:data:`PILOT_DISCOUNTS` on 5,000 pilot episodes per cell, other episodes than the grid's (so the
choice does not favour the chosen ones on the grid's own). The best at each horizon, summed over
the arm counts: 10 pulls, 0.5 and 0.6 (0.3 ties 0.5: the same choices; 0.8 and 0.9 lose
0.001-0.02); 100 pulls, 0.98 then 0.99 (0.04-0.16 below; 0.95 and 0.995 lose 0.15-0.72, 0.9
0.8-1.3); 500 pulls, 0.998, then 0.995 (0.1-0.6 below, 0.7-2.5 paired standard errors) and 0.99
(0.6-2.7 below 0.998). The table of 500 counts at 0.998 takes about 300 s to build on one core (0.999: over 9
minutes), more than the budget carries, so the grid runs 0.995 and 0.99 at 500 pulls
(:data:`GRID_DISCOUNTS`); pass ``discounts`` to :func:`run_grid` for others.

*The RL² paper's figures.* Table 1 of the paper was not found in the sources searched (web
pages, documentation and code indexes: the paper's text, its arXiv and OpenReview pages and
reproductions), so no column of it is set here (:data:`RL2_PAPER_TABLE` is empty). One figure
was found quoted second-hand: UCB1 6.7 at 5 arms and 10 pulls, in the README of the
``edlanglois/relearn`` repository (:data:`RL2_PAPER_QUOTED`), printed beside our UCB1 -- whose
return there is about 5.7, so the paper's UCB1 cannot be the classic one here, which spends 5 of
its 10 pulls pulling each arm once.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

from bayes.bandits import (
    UCB1,
    BayesOptimalPolicy,
    BayesUCB,
    BernoulliBanditDP,
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
from bayes.bandits.dp import DEFAULT_MAX_BYTES, bernoulli_policy_value
from bayes.bandits.references import FINITE_HORIZON_GITTINS_MAX as REFERENCE_FH_MAX
from bayes.bandits.references import (
    GITTINS_TOL,
    REFERENCE_DISCOUNTS,
    index_references,
    prepare_policy,
    reference_discounts,
)
from bayes.evaluate import BanditEvaluation, PairedComparison, evaluate_bandit_policy

__all__ = [
    "GRID_ARMS",
    "GRID_DISCOUNTS",
    "GRID_HORIZONS",
    "RL2_PAPER_QUOTED",
    "RL2_PAPER_TABLE",
    "baseline_table",
    "cell_seed",
    "gaussian_table",
    "gittins_pilot",
    "grid_cell",
    "grid_discounts",
    "horizon_table",
    "run_grid",
]

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


# ------------------------------------------------------------------------------- the grid


#: The RL² paper's bandit grid (Duan et al. 2016, Table 1): ``k`` arms, ``n`` pulls.
GRID_ARMS = (5, 10, 50)
GRID_HORIZONS = (10, 100, 500)
#: Accuracy of the discounted Gittins tables the grid uses (:data:`bayes.bandits.references.GITTINS_TOL`).
GRID_GITTINS_TOL = GITTINS_TOL
#: Discounts tried for the Gittins policy at each horizon of the grid (:func:`gittins_pilot`).
PILOT_DISCOUNTS: dict[int, tuple[float, ...]] = {
    10: (0.3, 0.5, 0.6, 0.7, 0.8, 0.9),
    100: (0.9, 0.95, 0.98, 0.99, 0.995),
    500: (0.95, 0.98, 0.99, 0.995, 0.998),
}
#: The pilot's episodes and the offset of its seeds from the grid's (other episodes than the table's).
PILOT_EPISODES = 5_000
PILOT_SEED_OFFSET = 1_000_000
#: At each horizon, the two discounts of :data:`PILOT_DISCOUNTS` with the highest pilot return
#: summed over the grid's arm counts (``python -m benchmarks.bandit_values --pilot``; the module
#: docstring gives the figures), leaving out those whose table of ``n`` counts takes minutes to
#: build, more than the 10-minute budget carries: at 500 pulls 0.998 (about 300 s on one core; it
#: beat 0.995 in the pilot by 0.1 to 0.6, 0.7 to 2.5 paired standard errors) and 0.999 (over 9
#: minutes). The same table gives the references of a trained agent
#: (:data:`bayes.bandits.references.REFERENCE_DISCOUNTS`).
GRID_DISCOUNTS: dict[int, tuple[float, ...]] = REFERENCE_DISCOUNTS
#: Longest horizon at which the finite-horizon Gittins policy is run: its indices with ``r`` pulls
#: left cost an ``r``-layer calibration per arm state and bisection step, about ``n^4.5`` in all
#: (all of them: 0.8 s at 50 pulls, 18 s at 100; extrapolated, about 7 hours at 500).
FINITE_HORIZON_GITTINS_MAX = REFERENCE_FH_MAX
GRID_EPISODES = 20_000

#: The RL² paper's Table 1, where a source for its figures was found: ``{(k, n): {policy: return}}``.
#: The table itself was not found in the sources searched (see the module docstring), so it is empty.
RL2_PAPER_TABLE: dict[tuple[int, int], dict[str, float]] = {}
#: Figures of that table quoted by others, with the source: ``{(k, n): {policy: (return, source)}}``.
RL2_PAPER_QUOTED: dict[tuple[int, int], dict[str, tuple[float, str]]] = {
    (5, 10): {"UCB1": (6.7, "quoted as 'the paper shows 6.7 for UCB1' in the README of edlanglois/relearn")},
}
#: Our policy names -> the column of the RL² paper's table that names the same policy.
RL2_PAPER_NAMES = {"Random": "Random", "Thompson sampling": "TS", "UCB1": "UCB1", "Greedy": "Greedy"}


def cell_seed(arms: int, horizon: int, base: int = 0) -> int:
    """The fixed seed of a grid cell: ``base + 1000 k + n`` (the same episodes in every run)."""
    return base + 1000 * arms + horizon


def grid_policies(arms: int, horizon: int, discounts: Sequence[float]) -> dict[str, BernoulliPolicy]:
    """The reference policies of a cell (:func:`bayes.bandits.references.index_references`, with
    the finite-horizon Gittins policy up to :data:`FINITE_HORIZON_GITTINS_MAX` pulls), UCB1 and
    greedy, and the random policy for scale."""
    out = index_references(arms, horizon, discounts=discounts, finite_horizon_max=FINITE_HORIZON_GITTINS_MAX)
    out.update({"UCB1": UCB1(arms), "Greedy": GreedyPolicy(arms), "Random": RandomPolicy(arms)})
    return out


def dp_fits(arms: int, horizon: int) -> bool:
    """Whether the exact DP of ``arms`` arms at ``horizon`` pulls fits in :data:`DEFAULT_MAX_BYTES`."""
    return BernoulliBanditDP.table_bytes(arms, horizon) <= DEFAULT_MAX_BYTES


def grid_cell(
    arms: int, horizon: int, n_episodes: int = GRID_EPISODES, seed: int | None = None,
    discounts: Sequence[float] | None = None,
) -> dict[str, Any]:
    """One cell of the grid: every policy on the same ``n_episodes`` episodes (common random numbers).

    Returns the exact Bayes-optimal value (``None`` where the DP does not fit in memory), one row
    per policy (mean return, its standard error, and the paired difference from the best reference
    policy with its standard error), the best reference (the reference policy of highest mean
    return: the Bayes-optimal policy and the random one are not references) and the RL² paper's
    figures found for the cell. ``seed`` defaults to :func:`cell_seed`, ``discounts`` to
    :data:`GRID_DISCOUNTS` of the horizon.
    """
    start = time.perf_counter()
    seed = cell_seed(arms, horizon) if seed is None else seed
    discounts = grid_discounts(horizon) if discounts is None else tuple(discounts)
    kwargs = {"n_arms": arms, "horizon": horizon, "n_episodes": n_episodes, "seed": seed}
    exact = bayes_optimal_value(arms, horizon) if dp_fits(arms, horizon) else None
    candidates: dict[str, tuple[str, BernoulliPolicy]] = {}
    if exact is not None:
        candidates["Bayes-optimal (DP)"] = ("bayes-optimal", BayesOptimalPolicy(arms, horizon))
    for name, policy in grid_policies(arms, horizon, discounts).items():
        candidates[name] = ("scale" if name == "Random" else "reference", policy)
    results: dict[str, BanditEvaluation] = {}
    for name, (_, policy) in candidates.items():
        prepare_policy(policy, horizon)
        results[name] = evaluate_bandit_policy(policy, **kwargs)
    references = [name for name, (kind, _) in candidates.items() if kind == "reference"]
    best = max(references, key=lambda name: results[name].mean_return)
    paper = RL2_PAPER_TABLE.get((arms, horizon), {})
    quoted = RL2_PAPER_QUOTED.get((arms, horizon), {})
    rows = []
    for name, (kind, _) in candidates.items():
        pair = PairedComparison.of(results[name], results[best])
        column = RL2_PAPER_NAMES.get(name)
        figure = paper.get(column) if column else None
        if figure is None and column in quoted:
            figure = quoted[column][0]
        rows.append({"policy": name, "kind": kind, "mean_return": results[name].mean_return,
                     "stderr": results[name].stderr, "minus_best": pair.mean_difference,
                     "paired_stderr": pair.stderr, "rl2_paper": figure})
    skipped = [] if horizon <= FINITE_HORIZON_GITTINS_MAX else [
        {"policy": "Finite-horizon Gittins",
         "reason": f"not run past {FINITE_HORIZON_GITTINS_MAX} pulls: its index tables would take hours, "
                   "by extrapolation"}]
    return {
        "arms": arms, "horizon": horizon, "episodes": n_episodes, "seed": seed,
        "bayes_optimal_value": exact, "gittins_discounts": list(discounts), "best": best,
        "rows": rows, "skipped": skipped,
        "rl2_paper": {"table": paper, "quoted": {k: {"return": v, "source": s} for k, (v, s) in quoted.items()}},
        "seconds": time.perf_counter() - start,
    }


def grid_discounts(horizon: int) -> tuple[float, ...]:
    """The Gittins discounts a cell of ``horizon`` pulls evaluates: :data:`GRID_DISCOUNTS` (off the
    grid, those of the nearest grid horizon)."""
    return reference_discounts(horizon, GRID_DISCOUNTS)


def gittins_pilot(
    arms: int, horizon: int, discounts: Sequence[float] | None = None, n_episodes: int = PILOT_EPISODES,
    seed: int | None = None,
) -> list[dict[str, Any]]:
    """The Gittins policy at each discount on the same pilot episodes, best first, with each
    one's paired difference from the best. ``discounts`` defaults to :data:`PILOT_DISCOUNTS` of
    the horizon (or the nearest grid horizon), ``seed`` to the cell's seed plus
    :data:`PILOT_SEED_OFFSET`: other episodes than the grid's, so choosing on them does not
    favour the chosen discounts on the grid's own episodes."""
    discounts = reference_discounts(horizon, PILOT_DISCOUNTS) if discounts is None else tuple(discounts)
    seed = cell_seed(arms, horizon) + PILOT_SEED_OFFSET if seed is None else seed
    results = {}
    for discount in discounts:
        policy = GittinsPolicy(arms, discount, tol=GRID_GITTINS_TOL)
        prepare_policy(policy, horizon)
        results[discount] = evaluate_bandit_policy(policy, n_arms=arms, horizon=horizon, n_episodes=n_episodes,
                                                   seed=seed)
    order = sorted(results, key=lambda d: -results[d].mean_return)
    return [{"discount": d, "mean_return": results[d].mean_return, "stderr": results[d].stderr,
             "minus_best": PairedComparison.of(results[d], results[order[0]]).mean_difference,
             "paired_stderr": PairedComparison.of(results[d], results[order[0]]).stderr} for d in order]


#: Seconds each grid cell took (20,000 episodes, two processes on 2 otherwise idle cores): the
#: order in which the pool starts them, dearest first (it changes no number).
_CELL_SECONDS = {(50, 500): 211, (10, 500): 56, (50, 100): 54, (5, 500): 34, (50, 10): 30, (10, 100): 24,
                 (5, 100): 20, (10, 10): 2, (5, 10): 1}


def _cost(cell: tuple[int, int]) -> float:
    """A rough relative cost of a cell, to start the dear ones first."""
    arms, horizon = cell
    return _CELL_SECONDS.get(cell, horizon * (arms + 20) / 100)


def _table_task(discount: float, size: int) -> None:
    """Build (and keep in the disk cache) the Gittins table of ``size`` counts a cell reads."""
    prepare_policy(GittinsPolicy(2, discount, tol=GRID_GITTINS_TOL), size)


def _cell_task(args: tuple[int, int, int, int | None, tuple[float, ...] | None]) -> dict[str, Any]:
    return grid_cell(*args)


def run_grid(
    arms: Sequence[int] = GRID_ARMS, horizons: Sequence[int] = GRID_HORIZONS, n_episodes: int = GRID_EPISODES,
    jobs: int = 2, base_seed: int = 0, discounts: dict[int, tuple[float, ...]] | None = None,
) -> list[dict[str, Any]]:
    """Every cell of ``arms x horizons`` (:func:`grid_cell`), on ``jobs`` processes.

    Each cell has its own fixed seed (``cell_seed(k, n, base_seed)``), so its numbers do not depend
    on ``jobs`` or on which process ran it; cells come back in grid order. ``discounts``: the
    Gittins discounts by horizon (default :func:`grid_discounts`).

    With a pool, the Gittins tables are built first, one task per (discount, horizon), dearest
    first, and kept in the disk cache (:mod:`bayes.bandits.gittins_cache`); a cell is handed to
    the pool once the tables it reads are built, so no two processes build the same table and the
    other process goes on with the cells that need none of the dear ones (the tables of 500 counts
    at 0.99 and 0.995 take about 40 and 80 s on one core the first time). A cache that cannot be
    written only costs time: a cell then builds its tables itself.
    """
    cells = [(k, n) for k in arms for n in horizons]
    tasks = [(k, n, n_episodes, cell_seed(k, n, base_seed),
              grid_discounts(n) if discounts is None else reference_discounts(n, discounts)) for k, n in cells]
    needs = [{(d, max(n, 32)) for d in task[4]} for task, (_, n) in zip(tasks, cells, strict=True)]
    tables = sorted(set().union(*needs), key=lambda dn: (-dn[1], -dn[0]))
    if jobs <= 1:
        return [_cell_task(task) for task in tasks]
    done: dict[int, dict[str, Any]] = {}
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        building = {pool.submit(_table_task, d, size): (d, size) for d, size in tables}
        built: set[tuple[float, int]] = set()
        waiting = sorted(range(len(tasks)), key=lambda i: -_cost(cells[i]))
        running: dict[Future[dict[str, Any]], int] = {}
        while building or running or waiting:
            ready = [i for i in waiting if needs[i] <= built]
            for i in ready:
                running[pool.submit(_cell_task, tasks[i])] = i
            waiting = [i for i in waiting if i not in ready]
            finished, _ = wait([*building, *running], return_when=FIRST_COMPLETED)
            for future in finished:
                if future in building:
                    future.result()
                    built.add(building.pop(future))
                else:
                    done[running.pop(future)] = future.result()
    return [done[i] for i in range(len(tasks))]


def _fmt(value: float | None, width: int, digits: int = 4, sign: bool = False) -> str:
    if value is None:
        return f"{'—':>{width}}"
    return f"{value:>+{width}.{digits}f}" if sign else f"{value:>{width}.{digits}f}"


def print_grid(cells: list[dict[str, Any]], seconds: float, jobs: int) -> None:
    """The grid as text: one block per cell, then a summary line per cell."""
    print("Bernoulli bandits, Beta(1, 1) priors: the RL² grid (k arms, n pulls), every policy on the same episodes")
    print("return: mean total reward ± standard error; '- best': paired difference from the best reference policy")
    print(f"RL² paper (Duan et al. 2016, Table 1): its table was not found in the sources searched; "
          f"quoted figures are shown where found ({len(RL2_PAPER_QUOTED)} cell(s))\n")
    for cell in cells:
        exact = cell["bayes_optimal_value"]
        head = f"k={cell['arms']} arms, n={cell['horizon']} pulls: {cell['episodes']:,} episodes, seed {cell['seed']}"
        head += f"; exact Bayes-optimal value {exact:.6f} (DP)" if exact is not None else "; exact DP: — (does not fit)"
        print(head)
        print(f"  {'policy':<26} {'return':>9} {'stderr':>8} {'- best':>9} {'paired se':>10} {'RL² paper':>10}")
        for row in cell["rows"]:
            mark = "  <- best reference" if row["policy"] == cell["best"] else ""
            print(f"  {row['policy']:<26} {_fmt(row['mean_return'], 9)} {_fmt(row['stderr'], 8)}"
                  f" {_fmt(row['minus_best'], 9, sign=True)} {_fmt(row['paired_stderr'], 10)}"
                  f" {_fmt(row['rl2_paper'], 10, 1)}{mark}")
        for row in cell["skipped"]:
            print(f"  {row['policy']:<26} {'—':>9}  ({row['reason']})")
        for name, quoted in cell["rl2_paper"]["quoted"].items():
            print(f"  RL² paper's {name} figure {quoted['return']}: {quoted['source']}")
        print(f"  ({cell['seconds']:.0f} s)\n")
    print(f"{'k':>3} {'n':>4} {'exact DP':>10} {'best reference':<26} {'return':>9} {'stderr':>8} {'episodes':>9}")
    for cell in cells:
        best = next(row for row in cell["rows"] if row["policy"] == cell["best"])
        print(f"{cell['arms']:>3} {cell['horizon']:>4} {_fmt(cell['bayes_optimal_value'], 10)} {cell['best']:<26}"
              f" {_fmt(best['mean_return'], 9)} {_fmt(best['stderr'], 8)} {cell['episodes']:>9,}")
    print(f"\ntotal wall time {seconds:.0f} s on {jobs} process(es)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--episodes", type=int, default=None,
                        help=f"episodes per table or cell (default 20,000; --pilot: {PILOT_EPISODES:,})")
    parser.add_argument("--grid", action="store_true", help="the RL² grid of k arms x n pulls")
    parser.add_argument("--pilot", action="store_true",
                        help="the Gittins discounts of PILOT_DISCOUNTS on each cell's pilot episodes, best first "
                             "(slow the first time: about 10 minutes, most of it the table of 0.998)")
    parser.add_argument("--jobs", type=int, default=2, help="processes for --grid (default 2)")
    parser.add_argument("--arms", type=int, nargs="+", default=list(GRID_ARMS), help="the grid's arm counts")
    parser.add_argument("--horizons", type=int, nargs="+", default=list(GRID_HORIZONS), help="the grid's horizons")
    args = parser.parse_args(argv)
    if args.grid or args.pilot:
        return _main_grid(args)
    episodes = 20_000 if args.episodes is None else args.episodes
    horizons, baselines = horizon_table(), baseline_table(n_episodes=episodes)
    gaussian = gaussian_table(n_episodes=episodes)
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


def _main_grid(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    if args.pilot:
        episodes = PILOT_EPISODES if args.episodes is None else args.episodes
        pilots = {(k, n): gittins_pilot(k, n, n_episodes=episodes) for k in args.arms for n in args.horizons}
        if args.json:
            print(json.dumps([{"arms": k, "horizon": n, "episodes": episodes,
                               "seed": cell_seed(k, n) + PILOT_SEED_OFFSET, "discounts": rows}
                              for (k, n), rows in pilots.items()], indent=2))
            return 0
        for (k, n), rows in pilots.items():
            print(f"k={k}, n={n}: {episodes:,} pilot episodes, seed {cell_seed(k, n) + PILOT_SEED_OFFSET}")
            for row in rows:
                print(f"  discount {row['discount']:<6g} {row['mean_return']:>9.4f} ± {row['stderr']:.4f}"
                      f"  - best {row['minus_best']:>+8.4f} ± {row['paired_stderr']:.4f}")
        print(f"\ntotal wall time {time.perf_counter() - start:.0f} s")
        return 0
    episodes = GRID_EPISODES if args.episodes is None else args.episodes
    cells = run_grid(args.arms, args.horizons, n_episodes=episodes, jobs=args.jobs)
    seconds = time.perf_counter() - start
    if args.json:
        print(json.dumps({"cells": cells, "wall_seconds": seconds, "jobs": args.jobs}, indent=2))
        return 0
    print_grid(cells, seconds, args.jobs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
