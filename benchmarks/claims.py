"""The paper's claims as verdicts: one per config (task + algo) and claim, read off the figures across seeds.

The claims, in order (:data:`CLAIMS`):

- ``behaviour``: meta-trained agents behave like the Bayes-optimal agent. Predictors: ``mean_kl``
  (nats per step to the Bayes predictive at the trained horizon) at most ``THRESHOLDS["kl"]``;
  bandits: ``paired_gap`` (the return's shortfall against the reference policy on the same
  episodes, as a fraction of the reference's return minus the random policy's) at most
  ``THRESHOLDS["gap"]``.
- ``bayes_in_agent``: the Bayes agent is simulated by the meta-trained agent, and
- ``agent_in_bayes``: the meta-trained agent is simulated by the Bayes agent. Both: the state
  dissimilarity ``<direction>_state`` (a normalised squared error: 0 perfect, 1 chance) at most
  ``THRESHOLDS["state"]`` and the output dissimilarity ``<direction>_output`` at most
  ``THRESHOLDS["output_kl"]`` (KL in nats, predictors) or ``THRESHOLDS["output_tv"]`` (total
  variation, bandit policies).
- ``generalisation``: trained at horizon ``T``, still Bayes-optimal at ``5T`` and ``50T``.
  Predictors: ``kl_5x`` and ``kl_50x`` (KL per step over the last tenth of an episode of ``5T``
  and ``50T`` steps) at most ``THRESHOLDS["generalisation_kl"]``; bandits: ``regret_5x`` and
  ``regret_50x`` (per-step regret over the reference's, as a fraction of the random policy's
  per-step regret) at most ``THRESHOLDS["generalisation_regret"]``.

Each criterion is "the figure is at most its threshold" (smaller is better). Its 95% interval
``[low, high]`` (:func:`interval`) is Student's t across the seeds where there are two or more;
with one seed it is the mean ± 1.96 standard errors of that seed's own estimate where the
evaluation gives one, and otherwise there is only the point. The verdict (:func:`verdict`):
``holds`` if ``high <= threshold``, ``fails`` if ``low > threshold``, ``undecided`` if the interval
straddles the threshold; with no interval the point decides (``holds`` if ``mean <= threshold``,
else ``fails``); a missing figure is ``undecided``. A claim fails if any of its criteria fails,
holds if all hold, and is undecided otherwise.

The thresholds (:data:`THRESHOLDS`, their one definition): ``kl`` 0.001 nats per step, ``gap``
0.02 of the reference-minus-random return, ``state`` 0.05 (normalised squared error),
``output_kl`` 0.01 nats per step, ``output_tv`` 0.1 (total variation), ``generalisation_kl``
0.01 nats per step, ``generalisation_regret`` 0.1 of the random policy's per-step regret.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

from agents.bandit_eval import BANDIT_ENVS

__all__ = ["CLAIMS", "THRESHOLDS", "VERDICTS", "Claim", "Criterion", "claims", "claims_lines", "interval",
           "summary", "verdict"]

THRESHOLDS: dict[str, float] = {
    "kl": 0.001,  # behaviour, predictors: KL to the Bayes predictive, nats per step
    "gap": 0.02,  # behaviour, bandits: paired gap, a fraction of (reference - random) return
    "state": 0.05,  # simulation: state dissimilarity, normalised squared error (0 perfect, 1 chance)
    "output_kl": 0.01,  # simulation, predictors: output KL, nats per step
    "output_tv": 0.1,  # simulation, bandits: output total variation between the policies (0 to 1)
    "generalisation_kl": 0.01,  # generalisation, predictors: KL per step at 5T and 50T, nats
    "generalisation_regret": 0.1,  # generalisation, bandits: excess per-step regret, a fraction of random's
}

#: each threshold's wording and unit in the report (keys as :data:`THRESHOLDS`)
_THRESHOLD_TEXT = {
    "kl": ("KL to the Bayes predictive", "nats per step"),
    "gap": ("paired gap", "of the reference's return over the random policy's"),
    "state": ("state dissimilarity", "normalised squared error, 0 perfect, 1 chance"),
    "output_kl": ("output KL of predictors", "nats per step"),
    "output_tv": ("output total variation of bandit policies", "0 to 1"),
    "generalisation_kl": ("KL per step at 5T and 50T", "nats per step"),
    "generalisation_regret": ("excess per-step regret at 5T and 50T", "of the random policy's per-step regret"),
}

VERDICTS = ("holds", "fails", "undecided")  #: the three verdicts, in the order :func:`summary` counts them
Z = 1.96  #: the normal quantile of a one-seed 95% interval from the evaluation's own standard error

T_ACROSS_SEEDS = "t across seeds"
NORMAL_WITHIN_SEED = "normal, within the seed"
POINT = "point"
MISSING = "n/a"


class Criterion(NamedTuple):
    """One figure of a claim: ``metric`` at most ``THRESHOLDS[threshold]``; ``label`` names it in the report."""

    metric: str
    threshold: str
    label: str


class Claim(NamedTuple):
    """A claim of the paper and its criteria for prediction configs and for bandit configs."""

    name: str
    statement: str
    predictor: tuple[Criterion, ...]
    bandit: tuple[Criterion, ...]


def _simulation(direction: str, statement: str) -> Claim:
    state = Criterion(f"{direction}_state", "state", "state")
    return Claim(direction, statement,
                 (state, Criterion(f"{direction}_output", "output_kl", "output KL")),
                 (state, Criterion(f"{direction}_output", "output_tv", "output TV")))


CLAIMS: tuple[Claim, ...] = (
    Claim("behaviour", "meta-trained agents behave like the Bayes-optimal agent",
          (Criterion("mean_kl", "kl", "KL"),), (Criterion("paired_gap", "gap", "paired gap"),)),
    _simulation("bayes_in_agent", "the Bayes agent is simulated by the meta-trained agent"),
    _simulation("agent_in_bayes", "the meta-trained agent is simulated by the Bayes agent"),
    Claim("generalisation", "trained at horizon T, still Bayes-optimal at 5T and 50T",
          (Criterion("kl_5x", "generalisation_kl", "KL at 5T"), Criterion("kl_50x", "generalisation_kl", "KL at 50T")),
          (Criterion("regret_5x", "generalisation_regret", "regret at 5T"),
           Criterion("regret_50x", "generalisation_regret", "regret at 50T"))),
)


def _missing(x: float | None) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def interval(metrics: dict[str, Any], name: str) -> tuple[float | None, float | None, float | None, str]:
    """``(mean, low, high, kind)`` of the metric ``name`` of a config's aggregated ``metrics``.

    With two or more seeds the Student-t 95% interval across them (kind ``"t across seeds"``);
    with one seed ``mean ± 1.96 × metrics[name + "_stderr"]["mean"]`` where that standard error
    exists (kind ``"normal, within the seed"``); otherwise the point alone (``low = high = None``,
    kind ``"point"``). A missing metric gives ``(None, None, None, "n/a")``.
    """
    summary = metrics.get(name) or {}
    mean = summary.get("mean")
    if _missing(mean):
        return None, None, None, MISSING
    ci = summary.get("ci")
    if ci is not None and not any(_missing(x) for x in ci):
        return mean, ci[0], ci[1], T_ACROSS_SEEDS
    stderr = (metrics.get(name + "_stderr") or {}).get("mean")
    if summary.get("n") == 1 and not _missing(stderr):
        return mean, mean - Z * stderr, mean + Z * stderr, NORMAL_WITHIN_SEED
    return mean, None, None, POINT


def verdict(mean: float | None, low: float | None, high: float | None, threshold: float) -> str:
    """``"holds"`` if ``high <= threshold``, ``"fails"`` if ``low > threshold``, else ``"undecided"``;
    with no interval (``low`` or ``high`` ``None``) the point decides (``"holds"`` if ``mean <= threshold``,
    else ``"fails"``); a missing ``mean`` is ``"undecided"``."""
    if _missing(mean):
        return "undecided"
    if _missing(low) or _missing(high):
        return "holds" if mean <= threshold else "fails"
    if high <= threshold:
        return "holds"
    if low > threshold:
        return "fails"
    return "undecided"


def _combine(verdicts: Sequence[str]) -> str:
    """A claim's verdict from its criteria's: any fails -> fails, all hold -> holds, else undecided."""
    if "fails" in verdicts:
        return "fails"
    if verdicts and all(v == "holds" for v in verdicts):
        return "holds"
    return "undecided"


def claims(configs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per config (entries of :func:`benchmarks.sweep_results.aggregate`) and claim, in the
    order of ``configs`` and :data:`CLAIMS`: ``{"config", "task", "algo", "claim", "statement",
    "reference", "criteria", "verdict"}``, each criterion ``{"metric", "label", "mean", "ci",
    "interval", "threshold_key", "threshold", "verdict"}`` (``ci`` is ``[low, high]`` or ``None``;
    ``reference`` is the bandit's paired reference policy, for display, else ``None``)."""
    rows = []
    for config in configs:
        bandit = config.get("env_id") in BANDIT_ENVS
        metrics = config.get("metrics") or {}
        for claim in CLAIMS:
            criteria = []
            for criterion in claim.bandit if bandit else claim.predictor:
                mean, low, high, kind = interval(metrics, criterion.metric)
                threshold = THRESHOLDS[criterion.threshold]
                criteria.append({"metric": criterion.metric, "label": criterion.label, "mean": mean,
                                 "ci": None if low is None else [low, high], "interval": kind,
                                 "threshold_key": criterion.threshold, "threshold": threshold,
                                 "verdict": verdict(mean, low, high, threshold)})
            rows.append({"config": config.get("config"), "task": config.get("task"), "algo": config.get("algo"),
                         "claim": claim.name, "statement": claim.statement,
                         "reference": config.get("paired_reference") if bandit else None,
                         "criteria": criteria, "verdict": _combine([c["verdict"] for c in criteria])})
    return rows


def summary(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """``{claim: {"holds": n, "fails": n, "undecided": n}}`` over ``rows`` (every claim of :data:`CLAIMS`)."""
    counts = {claim.name: dict.fromkeys(VERDICTS, 0) for claim in CLAIMS}
    for row in rows:
        counts.setdefault(row["claim"], dict.fromkeys(VERDICTS, 0))[row["verdict"]] += 1
    return counts


def _number(x: float) -> str:
    return f"{x:.4g}"


def _figure(criterion: dict[str, Any], reference: str | None) -> str:
    label = criterion["label"]
    if criterion["metric"] == "paired_gap" and reference:
        label = f"{label} vs {reference}"
    if criterion["mean"] is None:
        return f"{label} n/a"
    text = f"{label} {_number(criterion['mean'])}"
    if criterion["ci"] is None:
        return f"{text} (point)"
    low, high = criterion["ci"]
    text += f" [{_number(low)}, {_number(high)}]"
    return text + (" (1 seed)" if criterion["interval"] == NORMAL_WITHIN_SEED else "")


def _thresholds_cell(criteria: Sequence[dict[str, Any]]) -> str:
    values = [c["threshold"] for c in criteria]
    if len(set(values)) == 1:
        return f"≤ {_number(values[0])}"
    return "; ".join(f"{c['label']} ≤ {_number(c['threshold'])}" for c in criteria)


def _verdict_cell(row: dict[str, Any]) -> str:
    verdicts = [c["verdict"] for c in row["criteria"]]
    text = f"**{row['verdict']}**"
    if len(set(verdicts)) > 1:
        text += " (" + ", ".join(f"{c['label']} {c['verdict']}" for c in row["criteria"]) + ")"
    return text


def claims_lines(rows: Sequence[dict[str, Any]]) -> list[str]:
    """The Markdown section ``## Claims`` of the report: the thresholds, a table of one line per config
    and claim (figures, 95% intervals, thresholds, verdict) and how the intervals were computed."""
    thresholds = "; ".join(f"{text} {_number(THRESHOLDS[key])} ({unit})"
                           for key, (text, unit) in _THRESHOLD_TEXT.items())
    lines = ["## Claims", "",
             "Each claim is read per config as figures that must be at most a threshold. A figure holds when the "
             "upper end of its 95% interval is at most the threshold, fails when the lower end is above it, and is "
             "undecided otherwise; a claim fails if any of its figures fails and holds if all hold. "
             f"Thresholds: {thresholds}.", ""]
    statements = {claim.name: claim.statement for claim in CLAIMS}
    lines += ["Claims: " + "; ".join(f"`{name}`: {text}" for name, text in statements.items()) + ".", ""]
    if not rows:
        return [*lines, "No finished configs."]
    lines += ["| task | algo | claim | figure (95% interval) | threshold | verdict |", "|---|---|---|---|---|---|"]
    for row in rows:
        figures = "; ".join(_figure(c, row.get("reference")) for c in row["criteria"])
        lines.append(f"| {row['task']} | {row['algo']} | {row['claim']} | {figures} | "
                     f"{_thresholds_cell(row['criteria'])} | {_verdict_cell(row)} |")
    lines += ["", "Intervals: Student's t across the seeds (95%); with one seed (marked \"1 seed\") the mean ± 1.96 "
              "standard errors of that evaluation's own estimate; \"(point)\" where neither exists and the point "
              "alone decides; \"n/a\" where the figure is missing (undecided)."]
    return lines
