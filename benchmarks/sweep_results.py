"""The results of a sweep across seeds: per config, each metric's mean and 95% confidence interval.

For the ``n`` seeds of one config a metric's values ``x_1..x_n`` give the mean ``m``, the sample
standard deviation ``s`` (``n - 1`` in the denominator) and the 95% confidence interval of the
mean ``m ± t_{0.975, n-1} s / sqrt(n)`` (Student's t: the seeds are few, and the interval is
exact for normal values). One seed gives no interval (``None``).

Metrics of a bandit cell, at the trained horizon unless named ``long_``: ``return``,
``reference_return`` (the return of the policy the agent is paired with: the Bayes-optimal one
where its DP fits, else Thompson sampling, or with the evaluation reference ``best`` the best
index policy; the tables name it in the column ``reference``), ``bayes_gap`` (``(V* - R) / (V* -
V_random)``), ``paired_difference`` (the agent's return minus the reference's on the same
episodes) with its standard error ``paired_stderr``, and ``paired_gap``: the shortfall against
the best reference on the same episodes, ``-(R - R_ref) / (R_ref - V_random)`` with its standard
error, where the reference is the Bayes-optimal policy (Bernoulli arms; then it is the Bayes gap
estimated from the paired difference), the best index policy (evaluation reference ``best``) or
the best of the Gittins index policies (Gaussian arms, where no exact DP exists);
``long_bayes_gap``; ``regret_<f>x``: at ``f`` times the trained horizon ``T`` (for each ``f`` of
:data:`FACTORS` the long evaluation reaches), the agent's per-step regret minus the reference's,
averaged over the window ``(0.9 f T, f T]``, as a fraction of the random policy's per-step
regret. Of a predictor cell: ``mean_kl`` (nats per step to the Bayes predictive),
``excess_log_loss`` (log-loss over the Bayes predictor's), ``long_mean_kl``, ``kl_<f>x`` (KL per
step averaged over the same window). Of both: ``train_seconds`` and, with the simulation
analysis, the state and output dissimilarities of both directions. ``<metric>_stderr`` is the
standard error of one cell's estimate where it has one; over a window it is the mean of the
per-step standard errors (an upper bound of the window mean's: the steps are correlated), for a
difference of two curves the sum of theirs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from agents.bandit_eval import BANDIT_ENVS
from bayes.evaluate import normalised_gap

__all__ = ["FACTORS", "aggregate", "cell_metrics", "mean_interval", "paired_gap", "paired_reference",
           "table_lines", "window_metrics"]

FACTORS = (5, 50)  #: the multiples of the trained horizon the generalisation figures are read at


def mean_interval(values: Sequence[float], level: float = 0.95) -> dict[str, Any]:
    """``n``, ``mean``, ``sd`` and the ``level`` confidence interval ``ci`` = [low, high] of the mean
    (Student's t with ``n - 1`` degrees of freedom; ``None`` for one value)."""
    from scipy import stats

    x = np.asarray(values, dtype=float)
    n = len(x)
    if n == 0:
        return {"n": 0, "mean": None, "sd": None, "ci": None, "half_width": None, "values": []}
    mean = float(x.mean())
    if n == 1:
        return {"n": 1, "mean": mean, "sd": None, "ci": None, "half_width": None, "values": x.tolist()}
    sd = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * sd / math.sqrt(n))
    return {"n": n, "mean": mean, "sd": sd, "ci": [mean - half, mean + half], "half_width": half,
            "values": x.tolist()}


def _simulation_metrics(record: dict[str, Any]) -> dict[str, float | None]:
    simulation = record.get("simulation")
    if not simulation:
        return {}
    out = {}
    for direction in ("bayes_in_agent", "agent_in_bayes"):
        result = simulation[direction]
        out[f"{direction}_state"] = result["state_dissimilarity"]
        out[f"{direction}_state_stderr"] = result.get("state_stderr")
        out[f"{direction}_output"] = result["output_dissimilarity"]
        out[f"{direction}_output_stderr"] = result.get("output_stderr")
    return out


def window_metrics(long: dict[str, Any] | None, horizon: int, bandit: bool) -> dict[str, float]:
    """``kl_<f>x`` or ``regret_<f>x`` (and ``_stderr``) for each ``f`` of :data:`FACTORS` that the
    long evaluation ``long`` (its ``horizon`` at least ``f * horizon``) reaches; see the module
    docstring."""
    out: dict[str, float] = {}
    if not long:
        return out
    for factor in FACTORS:
        end = factor * horizon
        if end > long["horizon"]:
            continue
        window = slice(end - max(1, end // 10), end)
        if bandit:
            if "reference_regret_curve" not in long:
                continue
            scale = long["random_step_regret"]
            excess = np.subtract(long["regret_curve"][window], long["reference_regret_curve"][window])
            stderr = np.add(long["regret_curve_stderr"][window], long["reference_regret_curve_stderr"][window])
            out[f"regret_{factor}x"] = float(excess.mean() / scale)
            out[f"regret_{factor}x_stderr"] = float(stderr.mean() / scale)
        else:
            out[f"kl_{factor}x"] = float(np.mean(long["kl_per_step"][window]))
            if "kl_per_step_stderr" in long:
                out[f"kl_{factor}x_stderr"] = float(np.mean(long["kl_per_step_stderr"][window]))
    return out


def paired_reference(trained: dict[str, Any]) -> str | None:
    """The reference policy the ``paired_gap`` of a bandit evaluation is measured against."""
    return paired_gap(trained)[2]


def paired_gap(trained: dict[str, Any]) -> tuple[float | None, float | None, str | None]:
    """``(gap, stderr, reference)`` of a bandit evaluation against its best reference (module docstring)."""
    paired = trained["paired"]
    exact = paired["reference"] == "bayes-optimal" and trained["bayes_optimal_return"] is not None
    if exact or "candidates" in paired:  # the Bayes-optimal policy, or the best index policy (reference "best")
        best = trained["bayes_optimal_return"] if exact else paired["reference_return"]
        name, difference, stderr = paired["reference"], paired["mean_difference"], paired.get("stderr")
    else:
        gittins = {k: v for k, v in (trained.get("references") or {}).items() if k.startswith("gittins")}
        if not gittins:
            return None, None, None
        name, chosen = max(gittins.items(), key=lambda item: item[1]["return"])
        best, difference, stderr = chosen["return"], chosen["difference"], chosen["stderr"]
    gap = normalised_gap(-difference, best, trained["random_return"])  # None where the span is 0
    if gap is None:
        return None, None, name
    return gap, None if stderr is None else normalised_gap(stderr, best, trained["random_return"]), name


def cell_metrics(record: dict[str, Any]) -> dict[str, float | None]:
    """The metrics of one finished cell's record (``None`` where a metric does not exist)."""
    evaluation = record["evaluation"]
    trained, long = evaluation["trained"], evaluation.get("long")
    out: dict[str, float | None]
    bandit = record["env_id"] in BANDIT_ENVS
    if not bandit:
        out = {"mean_kl": trained["mean_kl"], "mean_kl_stderr": trained.get("mean_kl_stderr"),
               "excess_log_loss": trained["log_loss"] - trained["bayes_log_loss"],
               "long_mean_kl": long["mean_kl"] if long else None}
    else:
        gap, gap_stderr, _ = paired_gap(trained)
        out = {"return": trained["mean_return"], "reference_return": trained["paired"].get("reference_return"),
               "bayes_gap": trained["bayes_gap"], "paired_difference": trained["paired"]["mean_difference"],
               "paired_stderr": trained["paired"].get("stderr"), "paired_gap": gap,
               "paired_gap_stderr": gap_stderr, "long_bayes_gap": long["bayes_gap"] if long else None}
    if trained.get("horizon"):
        out.update(window_metrics(long, trained["horizon"], bandit))
    out["train_seconds"] = record["training"]["train_seconds"]
    out.update(_simulation_metrics(record))
    return out


def aggregate(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per config (in the order of ``records``): its settings, seeds and, per metric,
    :func:`mean_interval` across the seeds that have a value."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault(record.get("config", record["task"]), []).append(record)
    out = []
    for config, group in groups.items():
        cell = group[0].get("cell", {})
        per_seed = [cell_metrics(r) for r in group]
        names = list(dict.fromkeys(k for m in per_seed for k in m))
        metrics = {}
        for name in names:
            values = [m[name] for m in per_seed if m.get(name) is not None]
            metrics[name] = mean_interval(values)
        bandit = group[0]["env_id"] in BANDIT_ENVS
        reference = paired_reference(group[0]["evaluation"]["trained"]) if bandit else None
        paired_with = "/".join(dict.fromkeys(r["evaluation"]["trained"]["paired"]["reference"] for r in group)) \
            if bandit else None
        out.append({"config": config, "task": group[0]["task"], "paired_reference": reference,
                    "reference": paired_with,
                    "env_id": group[0]["env_id"], "env_kwargs": group[0]["env_kwargs"], "algo": group[0]["algo"],
                    "preset": cell.get("preset"),
                    "hyperparameters": cell.get("hyperparameters", {}), "timesteps": cell.get("timesteps"),
                    "seeds": [r["seed"] for r in group], "metrics": metrics})
    return out


def _cell(summary: dict[str, Any] | None, digits: int) -> str:
    if summary is None or summary["mean"] is None:
        return "n/a"
    if summary["half_width"] is None:
        return f"{summary['mean']:.{digits}f}"
    return f"{summary['mean']:.{digits}f} ± {summary['half_width']:.{digits}f}"


BANDIT_COLUMNS = (("return", 3), ("reference_return", 3), ("bayes_gap", 4), ("paired_gap", 4), ("paired_difference", 4),
                  ("paired_stderr", 4),
                  ("long_bayes_gap", 4), ("regret_5x", 4), ("regret_50x", 4), ("bayes_in_agent_state", 4),
                  ("bayes_in_agent_output", 4), ("agent_in_bayes_state", 4), ("agent_in_bayes_output", 4),
                  ("train_seconds", 0))
PREDICTOR_COLUMNS = (("mean_kl", 5), ("excess_log_loss", 4), ("long_mean_kl", 5), ("kl_5x", 5), ("kl_50x", 5),
                     ("bayes_in_agent_state", 4), ("bayes_in_agent_output", 5), ("agent_in_bayes_state", 4),
                     ("agent_in_bayes_output", 5), ("train_seconds", 0))


def table_lines(configs: Sequence[dict[str, Any]]) -> list[str]:
    """Markdown tables (bandit configs, then predictor configs): mean ± the 95% interval's half-width;
    a column only where some config has the metric."""
    lines: list[str] = []
    for title, columns, keep in (("Bandit configs", BANDIT_COLUMNS, lambda c: c["env_id"] in BANDIT_ENVS),
                                 ("Prediction configs", PREDICTOR_COLUMNS, lambda c: c["env_id"] not in BANDIT_ENVS)):
        chosen = [c for c in configs if keep(c)]
        if not chosen:
            continue
        columns = tuple((name, digits) for name, digits in columns
                        if any((c["metrics"].get(name) or {}).get("mean") is not None for c in chosen))
        named = any(c.get("reference") for c in chosen)  # the policy each bandit config is paired with
        lines += [f"### {title} (mean ± half-width of the 95% interval across seeds)", "",
                  "| config | seeds | " + ("reference | " if named else "") + " | ".join(n for n, _ in columns) + " |",
                  "|---|---:|" + ("---|" if named else "") + "---:|" * len(columns)]
        for c in chosen:
            cells = " | ".join(_cell(c["metrics"].get(name), digits) for name, digits in columns)
            reference = f"{c.get('reference') or 'n/a'} | " if named else ""
            lines.append(f"| {c['config']} | {len(c['seeds'])} | {reference}{cells} |")
        lines.append("")
    return lines
