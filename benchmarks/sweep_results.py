"""The results of a sweep across seeds: per config, each metric's mean and 95% confidence interval.

For the ``n`` seeds of one config a metric's values ``x_1..x_n`` give the mean ``m``, the sample
standard deviation ``s`` (``n - 1`` in the denominator) and the 95% confidence interval of the
mean ``m ± t_{0.975, n-1} s / sqrt(n)`` (Student's t: the seeds are few, and the interval is
exact for normal values). One seed gives no interval (``None``).

Metrics of a bandit cell, at the trained horizon unless named ``long_``: ``return``,
``bayes_gap`` (``(V* - R) / (V* - V_random)``), ``paired_difference`` (the agent's return minus
the reference's on the same episodes) and ``paired_gap`` (the Bayes gap from that paired
difference, where the reference is the Bayes-optimal policy), ``long_bayes_gap``. Of a
predictor cell: ``mean_kl`` (nats per step to the Bayes predictive), ``excess_log_loss``
(log-loss over the Bayes predictor's), ``long_mean_kl``. Of both: ``train_seconds`` and, with
the simulation analysis, the state and output dissimilarities of both directions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from agents.bandit_eval import BANDIT_ENVS

__all__ = ["aggregate", "cell_metrics", "mean_interval", "table_lines"]


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
        out[f"{direction}_state"] = simulation[direction]["state_dissimilarity"]
        out[f"{direction}_output"] = simulation[direction]["output_dissimilarity"]
    return out


def cell_metrics(record: dict[str, Any]) -> dict[str, float | None]:
    """The metrics of one finished cell's record (``None`` where a metric does not exist)."""
    evaluation = record["evaluation"]
    trained, long = evaluation["trained"], evaluation.get("long")
    out: dict[str, float | None]
    if record["env_id"] not in BANDIT_ENVS:
        out = {"mean_kl": trained["mean_kl"], "excess_log_loss": trained["log_loss"] - trained["bayes_log_loss"],
               "long_mean_kl": long["mean_kl"] if long else None}
    else:
        paired = trained["paired"]
        paired_gap = None
        if paired["reference"] == "bayes-optimal" and trained["bayes_optimal_return"] is not None:
            paired_gap = -paired["mean_difference"] / (trained["bayes_optimal_return"] - trained["random_return"])
        out = {"return": trained["mean_return"], "bayes_gap": trained["bayes_gap"],
               "paired_difference": paired["mean_difference"], "paired_gap": paired_gap,
               "long_bayes_gap": long["bayes_gap"] if long else None}
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
        out.append({"config": config, "task": group[0]["task"], "env_id": group[0]["env_id"],
                    "env_kwargs": group[0]["env_kwargs"], "algo": group[0]["algo"], "preset": cell.get("preset"),
                    "hyperparameters": cell.get("hyperparameters", {}), "timesteps": cell.get("timesteps"),
                    "seeds": [r["seed"] for r in group], "metrics": metrics})
    return out


def _cell(summary: dict[str, Any] | None, digits: int) -> str:
    if summary is None or summary["mean"] is None:
        return "n/a"
    if summary["half_width"] is None:
        return f"{summary['mean']:.{digits}f}"
    return f"{summary['mean']:.{digits}f} ± {summary['half_width']:.{digits}f}"


BANDIT_COLUMNS = (("return", 3), ("bayes_gap", 4), ("paired_gap", 4), ("paired_difference", 4),
                  ("long_bayes_gap", 4), ("train_seconds", 0))
PREDICTOR_COLUMNS = (("mean_kl", 5), ("excess_log_loss", 4), ("long_mean_kl", 5), ("train_seconds", 0))


def table_lines(configs: Sequence[dict[str, Any]]) -> list[str]:
    """Markdown tables (bandit configs, then predictor configs): mean ± the 95% interval's half-width."""
    lines: list[str] = []
    for title, columns, keep in (("Bandit configs", BANDIT_COLUMNS, lambda c: c["env_id"] in BANDIT_ENVS),
                                 ("Prediction configs", PREDICTOR_COLUMNS, lambda c: c["env_id"] not in BANDIT_ENVS)):
        chosen = [c for c in configs if keep(c)]
        if not chosen:
            continue
        lines += [f"### {title} (mean ± half-width of the 95% interval across seeds)", "",
                  "| config | seeds | " + " | ".join(name for name, _ in columns) + " |",
                  "|---|---:|" + "---:|" * len(columns)]
        for c in chosen:
            cells = " | ".join(_cell(c["metrics"].get(name), digits) for name, digits in columns)
            lines.append(f"| {c['config']} | {len(c['seeds'])} | {cells} |")
        lines.append("")
    return lines
