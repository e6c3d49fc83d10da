"""The report of a reproduction study: ``report.md``, ``results.json`` and the figures.

Figures (PNG, under ``figures/``):

- ``coin_fair_vs_bent.png``: the learned predictors of the fair-coin and the bent-coin task,
  and their Bayes predictors, reacting to the same first outcomes;
- ``shifted_priors.png``: each agent evaluated on a shifted task distribution (the fair-coin
  predictor on bent coins and the reverse, the uniform-arm bandit on skewed arms) beside Bayes
  under its training prior and Bayes under the shifted prior;
- ``memory_size.png`` (a sweep over hidden sizes, ``examples/memory.yaml``): behaviour and both
  simulation dissimilarities against memory size, the Bayes agent's statistic count marked;
- ``kl_per_step.png``: KL to the Bayes predictive per time step for every prediction task, up
  to ``generalisation_factor`` times the trained horizon, on log axes;
- ``regret_per_step.png``: the per-step regret of every bandit agent and of its reference
  policy on the same episodes, up to the same long horizon, on a log time axis;
- ``regret_<task>.png``: cumulative regret over time of the learned agent and of the
  references (Bayes-optimal where its DP exists, Gittins, Thompson sampling, UCB, greedy),
  with 95% confidence bands;
- per task, the 2x2 simulation panel (and for predictors, predictions over time; for the die
  on the probability simplex), written by the simulation step.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from agents.bandit_eval import BANDIT_ENVS
from bayes.files import write_json, write_text
from benchmarks.cells import STEPS
from benchmarks.figures import pyplot, save_figure
from benchmarks.sweep_results import FACTORS, cell_metrics, paired_reference

__all__ = ["report_folder", "write_report"]


def _run(folder: Path, record: dict[str, Any]) -> Path:
    return folder / record.get("run", f"runs/{record['task']}-seed{record['seed']}")


def _label(record: dict[str, Any]) -> str:
    """The row name of a record: its config in a sweep, its task in the study."""
    return record.get("config", record["task"])


def coin_figure(folder: Path, records: list[dict[str, Any]]) -> Path | None:
    """The fair-coin and bent-coin predictors (learned and Bayes) on the same first outcomes."""
    from agents.runs import load_run
    from bayes.evaluate import prediction_observation
    from bayes.predictors import BayesPredictor

    coins = {r["task"]: r for r in records if r["task"] in ("coin-fair", "coin-bent") and r["seed"] == 0}
    if len(coins) < 2:
        return None
    outcomes = np.array([1, 1, 1, 0, 1, 1, 1, 1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0], dtype=float)
    horizon = len(outcomes)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4))
    for name, record in sorted(coins.items()):
        machine, config = load_run(_run(folder, record))
        model = gym.make(config.env_id, **config.env_kwargs).unwrapped.model
        obs = [np.zeros((1, 3))] + [prediction_observation(model, outcomes[t:t + 1], t + 1, horizon)
                                    for t in range(horizon - 1)]
        colour = "C0" if name == "coin-fair" else "C1"
        for agent, style, label in ((BayesPredictor(model), "-", "Bayes"), (machine, "--", "LSTM")):
            state, predictions = agent.initial_state(1), []
            for x in obs:
                state, out = agent.step(state, x)
                predictions.append(out[0, 0])
            ax.plot(np.arange(horizon), predictions, style, marker=".", color=colour, label=f"{name}: {label}")
    ax.scatter(np.arange(horizon), outcomes, color="black", s=12, zorder=3, label="outcome (predicted at t)")
    ax.set_xlabel("time step t")
    ax.set_ylabel("P(next outcome = 1)")
    ax.set_title("Fair-coin and bent-coin predictors on the same outcomes")
    ax.legend(fontsize=7, ncol=2)
    return save_figure(fig, folder / "figures" / "coin_fair_vs_bent.png")


def _shifted(records: list[dict[str, Any]]) -> list[tuple[dict[str, Any], str, dict[str, Any]]]:
    """``(record, label, result)`` for every shifted evaluation of the first seed of each config."""
    first: dict[str, dict[str, Any]] = {}
    for record in records:
        if record.get("shifted"):
            first.setdefault(_label(record), record)
    return [(record, label, result) for record in first.values() for label, result in record["shifted"].items()
            if isinstance(result, dict) and "bayes_references" in result]


def _tracks(result: dict[str, Any]) -> str:
    """Which Bayes agent, ``"training"`` or ``"evaluation"``, the agent is closer to: by KL per step
    for predictors, by the absolute paired return difference for bandits."""
    refs = result["bayes_references"]
    key = "mean_kl" if "mean_kl" in refs["training"] else "difference"
    return "training" if abs(refs["training"][key]) < abs(refs["evaluation"][key]) else "evaluation"


def shift_figure(folder: Path, records: list[dict[str, Any]]) -> Path | None:
    """One panel per shifted evaluation (first seed): a predictor's KL per step to Bayes under its
    training prior and under the shifted one; a bandit agent's return beside both Bayes policies'."""
    shifted = _shifted(records)
    if not shifted:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(1, len(shifted), figsize=(4.2 * len(shifted), 3.6), squeeze=False)
    for ax, (record, label, result) in zip(axes[0], shifted, strict=True):
        refs = result["bayes_references"]
        title = f"{_label(record)} on {label}"
        if "kl_per_step" in refs["training"]:
            for name, colour in (("training", "C0"), ("evaluation", "C3")):
                curve = np.maximum(np.asarray(refs[name]["kl_per_step"], dtype=float), 1e-7)
                ax.plot(np.arange(1, len(curve) + 1), curve, marker=".", color=colour,
                        label=f"to Bayes, {'training' if name == 'training' else 'shifted'} prior")
            ax.set_yscale("log")
            ax.set_xlabel("time step t")
            ax.set_ylabel("KL per step (nats)")
            ax.legend(fontsize=8)
        else:
            names = ["agent", "Bayes, training\nprior", "Bayes, shifted\nprior"]
            values = [result["mean_return"], refs["training"]["return"], refs["evaluation"]["return"]]
            errors = [result["stderr"], refs["training"]["stderr"], refs["evaluation"]["stderr"]]
            ax.bar(names, values, yerr=errors, color=["C2", "C0", "C3"], capsize=4)
            low = min(values) - 3 * max(errors) - 0.5
            ax.set_ylim(max(0.0, low), max(values) + 3 * max(errors) + 0.5)
            ax.set_ylabel(f"return per episode ({result['episodes']:,} episodes)")
            ax.tick_params(axis="x", labelsize=8)
        ax.set_title(title, fontsize=10)
    fig.suptitle("Evaluated on a shifted task distribution: which Bayes agent does the meta-learner track?",
                 fontsize=10)
    return save_figure(fig, folder / "figures" / "shifted_priors.png")


def _coin_shift_table(records: list[dict[str, Any]]) -> list[str]:
    """The seed's 2x2: fair- and bent-trained coin predictors on fair and bent coins (first seeds),
    each entry the KL per step to Bayes under the training prior / under the evaluation prior."""
    coins = {r["task"]: r for r in records if r["task"] in ("coin-fair", "coin-bent") and r["seed"] == 0
             and "evaluation" in r}
    if len(coins) < 2 or not all(r.get("shifted") for r in coins.values()):
        return []
    lines = ["| trained on \\ evaluated on | fair coins | bent coins |", "|---|---:|---:|"]
    for trained in ("fair", "bent"):
        record = coins[f"coin-{trained}"]
        cells = []
        for evaluated in ("fair", "bent"):
            if evaluated == trained:
                kl = record["evaluation"]["trained"]["mean_kl"]
                cells.append(f"{kl:.5f} / {kl:.5f}")
                continue
            refs = next(iter(record["shifted"].values()))["bayes_references"]
            cells.append(f"{refs['training']['mean_kl']:.5f} / {refs['evaluation']['mean_kl']:.5f}")
        lines.append(f"| {trained} coins | {cells[0]} | {cells[1]} |")
    return lines


def shift_lines(records: list[dict[str, Any]], figure: str | None) -> list[str]:
    """The report's section on shifted task distributions: the coin 2x2, one line per shifted
    evaluation saying which Bayes agent the agent tracks, and the figure."""
    shifted = _shifted(records)
    if not shifted:
        return []
    lines = ["## Shifted task distributions", "",
             "Each agent is also evaluated on a task distribution it was not trained on, on the same episodes as "
             "two Bayes agents: Bayes under its training prior (what meta-training converges to) and Bayes under "
             "the shifted prior (the ideal). The seed expects each agent to track Bayes under its own training "
             "prior.", ""]
    table = _coin_shift_table(records)
    if table:
        lines += ["KL per step (nats) to Bayes under the training prior / under the evaluation prior (seed 0):", "",
                  *table, ""]
    for record, label, result in shifted:
        tracked = _tracks(result)
        refs = result["bayes_references"]
        if "mean_kl" in result:
            figures = (f"KL per step {refs['training']['mean_kl']:.5f} to Bayes under its training prior, "
                       f"{refs['evaluation']['mean_kl']:.5f} under the shifted prior")
        else:
            figures = "; ".join(
                f"its return minus that of {refs[name]['policy']} under the {what} prior "
                f"{refs[name]['difference']:+.4f} ± {refs[name]['stderr']:.4f}"
                for name, what in (("training", "training"), ("evaluation", "shifted")))
        verdict = ("is closer to Bayes under its training prior, as the seed expects" if tracked == "training"
                   else "is closer to Bayes under the shifted prior than under its training prior, against the "
                        "seed's expectation")
        lines.append(f"- {_label(record)} (seed {record['seed']}) on {label} "
                     f"(`{json.dumps(result['settings'])}`): {figures}: it {verdict}.")
    if figure is not None:
        lines += ["", f"![shifted priors]({figure})"]
    return [*lines, ""]


MEMORY_KEYS = ("hidden_size", "lstm_hidden_size")  #: the hyperparameters that set an agent's memory size


def _memory_groups(configs: list[dict[str, Any]]) -> dict[str, list[tuple[int, dict[str, Any]]]]:
    """Configs that differ only in memory size: per task and trainer (and other settings), the
    ``(size, config)`` pairs sorted by size, where there are at least three sizes."""
    groups: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for config in configs:
        hp = config.get("hyperparameters") or {}
        key = next((k for k in MEMORY_KEYS if isinstance(hp.get(k), int)), None)
        if key is None:
            continue
        rest = json.dumps({k: v for k, v in hp.items() if k != key}, sort_keys=True)
        name = f"{config['task']} ({config['algo']})"
        groups.setdefault(f"{name}|{rest}|{config.get('timesteps')}", []).append((hp[key], config))
    return {key.split("|")[0]: sorted(pairs, key=lambda p: p[0]) for key, pairs in groups.items()
            if len({size for size, _ in pairs}) >= 3}


def statistic_dimension(env_id: str, env_kwargs: dict[str, Any]) -> int:
    """The number of sufficient statistics the Bayes agent of ``env_id`` keeps: the counts of a
    coin's two or a die's K outcomes, the count and sum of normal or exponential outcomes, two
    counts per Bernoulli arm (``model.stats_shape``)."""
    from agents.bandit_eval import base_env

    return int(np.prod(base_env(env_id, env_kwargs).model.stats_shape))


def _seed_values(metric: dict[str, Any] | None) -> list[float]:
    return [] if not metric else [float(v) for v in metric.get("values", [])]


def _mean_and_seeds(ax: Any, sizes: np.ndarray, pairs: list[tuple[int, dict[str, Any]]], metric: str, colour: str,
                    label: str, shift: float = 1.0) -> None:
    """The mean across seeds of ``metric`` against memory size, a line, and each seed's value a dot."""
    means = []
    for size, (_, config) in zip(sizes, pairs, strict=True):
        values = _seed_values(config["metrics"].get(metric))
        ax.scatter([size * shift] * len(values), values, color=colour, s=10, alpha=0.45, linewidths=0)
        means.append(np.mean(values) if values else np.nan)
    ax.plot(sizes * shift, means, color=colour, marker="o", markersize=4, label=label)


def memory_figure(folder: Path, configs: list[dict[str, Any]]) -> Path | None:
    """Behaviour and both simulation directions against memory size (the LSTM's hidden size), one
    column per task whose configs differ only in it, means across seeds (lines) and each seed
    (dots): the KL per step to the Bayes predictive (predictors) or the paired Bayes gap
    (bandits); the output dissimilarity of "agent simulates Bayes" (Bayes states mapped into the
    agent) and "Bayes simulates agent" (the reverse); their state dissimilarities. A dotted line
    marks the number of sufficient statistics the Bayes agent keeps (:func:`statistic_dimension`)."""
    groups = _memory_groups(configs)
    if not groups:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(3, len(groups), figsize=(4.4 * len(groups), 9.0), squeeze=False, sharex="col")
    directions = (("bayes_in_agent", "C0", "agent simulates Bayes"), ("agent_in_bayes", "C1", "Bayes simulates agent"))
    for column, (name, pairs) in enumerate(groups.items()):
        top, middle, bottom = axes[:, column]
        sizes = np.array([size for size, _ in pairs], dtype=float)
        first = pairs[0][1]
        bandit = first["env_id"] in BANDIT_ENVS
        if bandit:
            _mean_and_seeds(top, sizes, pairs, "paired_gap", "C2", "paired Bayes gap")
            top.axhline(0.0, color="black", linewidth=0.6)
            top.set_ylabel("paired Bayes gap")
        else:
            _mean_and_seeds(top, sizes, pairs, "mean_kl", "C2", "KL per step to Bayes")
            top.set_yscale("log")
            top.set_ylabel("KL per step to Bayes (nats)")
        for direction, colour, label in directions:
            _mean_and_seeds(middle, sizes, pairs, f"{direction}_output", colour, label, 0.97)
            _mean_and_seeds(bottom, sizes, pairs, f"{direction}_state", colour, label, 0.97)
        middle.set_ylabel("output dissimilarity (TV)" if bandit else "output dissimilarity (KL, nats)")
        if not bandit:
            middle.set_yscale("log")
        bottom.set_ylabel("state dissimilarity (0: simulates)")
        bottom.set_ylim(bottom=0.0)
        dim = statistic_dimension(first["env_id"], first["env_kwargs"])
        for ax in (top, middle, bottom):
            ax.axvline(dim, color="grey", linestyle=":", linewidth=1.5,
                       label=f"Bayes agent's statistics: {dim} numbers")
            ax.set_xscale("log", base=2)
            ax.grid(alpha=0.3)
        bottom.set_xticks(sizes, [str(int(s)) for s in sizes], fontsize=8)
        bottom.set_xlabel("LSTM hidden size (memory)")
        top.set_title(f"{name}, {len(first['seeds'])} seeds", fontsize=10)
        top.legend(fontsize=7)
        middle.legend(fontsize=7)
    fig.suptitle("Memory size: behaviour and simulation against the LSTM's hidden size (lines: mean over seeds; "
                 "dots: seeds)", fontsize=10)
    return save_figure(fig, folder / "figures" / "memory_size.png")


def _smoothed(curve: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(t, mean)``: a per-step curve averaged over bins of about a tenth of ``t`` (log-spaced), so
    that a log time axis shows it without the noise of single steps."""
    curve = np.asarray(curve, dtype=float)
    edges = np.unique(np.round(np.geomspace(1, len(curve) + 1, 60)).astype(int))
    t = [0.5 * (a + b - 1) for a, b in itertools.pairwise(edges)]
    return np.array(t), np.array([curve[a - 1:b - 1].mean() for a, b in itertools.pairwise(edges)])


def kl_figure(folder: Path, records: list[dict[str, Any]]) -> Path | None:
    """KL to the Bayes predictive per step, up to the long horizon (log axes), for every prediction task."""
    predictors = [r for r in records if r["env_id"] not in BANDIT_ENVS and r["seed"] == 0]
    if not predictors:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    trained = 0
    for record in predictors:
        long = record["evaluation"].get("long") or record["evaluation"]["trained"]
        trained = record["evaluation"]["trained"]["horizon"]
        ax.plot(*_smoothed(long["kl_per_step"]), label=_label(record))
    _per_step_axes(ax, trained, "KL(Bayes || learned) at step t, nats",
                   "Prediction: KL to the Bayes predictive per step, up to 50 times the trained horizon", 8)
    return save_figure(fig, folder / "figures" / "kl_per_step.png")


def _per_step_axes(ax: Any, trained: int, ylabel: str, title: str, legend_size: int) -> None:
    """Log axes of a per-step curve, with the trained horizon and its multiples :data:`FACTORS` marked."""
    for factor, style in zip((1, *FACTORS), (":", "--", "-.", (0, (1, 3))), strict=False):
        ax.axvline(factor * trained, color="grey", ls=style, lw=0.8,
                   label="trained horizon" if factor == 1 else f"{factor}x")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("time step t (log scale)")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=legend_size)


def regret_step_figure(folder: Path, records: list[dict[str, Any]]) -> Path | None:
    """Per-step regret of every bandit agent and of its reference up to the long horizon (log time axis)."""
    bandits = [r for r in records if r["env_id"] in BANDIT_ENVS and r["seed"] == 0
               and "reference_regret_curve" in (r["evaluation"].get("long") or {})]
    if not bandits:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for i, record in enumerate(bandits):
        long = record["evaluation"]["long"]
        colour = f"C{i}"
        ax.plot(*_smoothed(long["regret_curve"]), color=colour, label=f"{_label(record)}: learned")
        reference = long["paired"]["reference"]
        ax.plot(*_smoothed(long["reference_regret_curve"]), color=colour, ls="--", lw=1,
                label=f"{_label(record)}: {reference}")
    _per_step_axes(ax, bandits[0]["evaluation"]["trained"]["horizon"], "expected regret at step t",
                   "Bandits: per-step regret of the learned agents and their references", 7)
    return save_figure(fig, folder / "figures" / "regret_per_step.png")


def _references(env: Any) -> list[tuple[str, Any]]:
    from agents.bandit_eval import bandit_evaluation_kwargs
    from bayes.bandits import (
        UCB1,
        BayesOptimalPolicy,
        FiniteHorizonGittinsPolicy,
        GaussianGittinsPolicy,
        GaussianGreedy,
        GaussianThompsonSampling,
        GaussianUCB,
        GreedyPolicy,
        ThompsonSampling,
    )

    arms = bandit_evaluation_kwargs(env)
    k, prior = arms["n_arms"], arms["prior"]
    if arms["arms"] == "gaussian":
        noise = arms["noise_std"]
        return [("Gittins (0.9)", GaussianGittinsPolicy(k, 0.9, prior, noise)),
                ("Thompson", GaussianThompsonSampling(k, prior, noise)), ("UCB", GaussianUCB(k, prior, noise)),
                ("greedy", GaussianGreedy(k, prior, noise))]
    refs: list[tuple[str, Any]] = []
    try:
        refs.append(("Bayes-optimal", BayesOptimalPolicy(k, env.horizon, prior)))
    except ValueError:
        pass
    return [*refs, ("Gittins (finite horizon)", FiniteHorizonGittinsPolicy(k, env.horizon, prior)),
            ("Thompson", ThompsonSampling(k, prior)), ("UCB1", UCB1(k)), ("greedy", GreedyPolicy(k, prior))]


def regret_figure(folder: Path, record: dict[str, Any], episodes: int) -> tuple[Path, dict[str, float]]:
    """Cumulative regret of the learned agent and the references on the same episodes."""
    from agents.bandit_eval import bandit_evaluation_kwargs
    from agents.runs import load_run
    from bayes.evaluate import evaluate_bandit_policy

    machine, config = load_run(_run(folder, record))
    env = gym.make(config.env_id, **config.env_kwargs).unwrapped
    kwargs = bandit_evaluation_kwargs(env)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    returns: dict[str, float] = {}
    t = np.arange(1, env.horizon + 1)
    for name, policy in [(f"learned ({record['algo']})", machine), *_references(env)]:
        result = evaluate_bandit_policy(policy, n_episodes=episodes, seed=77, **kwargs)
        curve = np.cumsum(result.regret_curve)
        band = 1.96 * result.cumulative_regret_stderr
        style = {"lw": 2.2, "color": "black"} if name.startswith("learned") else {"lw": 1.2}
        ax.plot(t, curve, label=name, **style)
        ax.fill_between(t, curve - band, curve + band, alpha=0.2, color=ax.lines[-1].get_color())
        returns[name] = result.mean_return
    ax.set_xlabel("time step")
    ax.set_ylabel("cumulative regret")
    ax.set_title(f"{_label(record)}: cumulative regret ({episodes} paired episodes, 95% bands)", fontsize=9)
    ax.legend(fontsize=8)
    return save_figure(fig, folder / "figures" / f"regret_{_label(record)}.png"), returns


def _fmt(value: Any, digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _pair(record: dict[str, Any], direction: str, digits: int) -> str:
    if "simulation" not in record:
        return "n/a"
    pair = record["simulation"][direction]
    return f"{_fmt(pair['state_dissimilarity'])} / {_fmt(pair['output_dissimilarity'], digits)}"


def _cell_minutes(records: list[dict[str, Any]]) -> float:
    """The minutes the cells' steps took, each where it ran (summed over cells and steps)."""
    return sum(r[step].get("seconds", 0.0) for r in records for step in STEPS
               if step in r) / 60


def _exponential_note(configs: Any) -> list[str]:
    """What the simulation analysis of the exponential predictor measures, and why in log coordinates."""
    rows = [c for c in configs if c["env_id"] == "MetaExponential-v0"
            and (c["metrics"].get("agent_in_bayes_output") or {}).get("mean") is not None]
    if not rows:
        return []
    figures = ", ".join(f"{c['config']}: {c['metrics']['agent_in_bayes_output']['mean']:.5f}" for c in rows)
    return ["", "The exponential task's simulation analysis: under the Gamma(1, 1) prior the outcomes are "
            "marginally Lomax(1, 1), which has no mean, so the Bayes predictor's sufficient statistic (the count n "
            "and the sum s of the outcomes) spans orders of magnitude. Regressed in raw units, a few huge sums "
            "dominated the least-squares fit, and the mapped sums missed the typical small ones by more than their "
            "size: the exact Bayes predictor simulating itself scored an output KL of 0.065 nats, and a trained "
            "LSTM's agent_in_bayes output KL was 0.7 to 1.1 nats, a thousand times the other tasks'. The predictive "
            "depends on s only through log(b + s), so the regressors now read and produce log(1 + s / b) "
            "(bayes.predictors.BayesPredictor.encode_state); the state dissimilarity is measured in those "
            f"coordinates. agent_in_bayes output KL here: {figures} nats per step, on the scale of the other tasks; "
            "what remains is the regressor's own error, not a sign that the Bayes predictor cannot simulate the "
            "agent.", ""]


def _training(training: dict[str, Any]) -> str:
    return f"{training['train_seconds']:.0f} s, {training['train_steps']:,} steps"


def _tables(records: list[dict[str, Any]], folder: Path) -> list[str]:
    """The per-run tables of the prediction and the bandit tasks (a table only where it has rows)."""
    predictors = [r for r in records if r["env_id"] not in BANDIT_ENVS]
    bandits = [r for r in records if r["env_id"] in BANDIT_ENVS]
    lines: list[str] = []
    if predictors:
        lines += ["## Prediction tasks", "",
                  "| task | seed | mean KL per step | KL per step at 5x / 50x horizon | "
                  "bayes_in_agent state / output | agent_in_bayes state / output | training |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
    for r in predictors:
        ev, tr, m = r["evaluation"], r["training"], cell_metrics(r)
        kl = f"{_fmt(ev['trained']['mean_kl'], 5)} ± {_fmt(ev['trained']['mean_kl_stderr'], 5)}"
        lines.append(
            f"| {_label(r)} | {r['seed']} | {kl} | {_fmt(m.get('kl_5x'), 5)} / {_fmt(m.get('kl_50x'), 5)} | "
            f"{_pair(r, 'bayes_in_agent', 5)} | {_pair(r, 'agent_in_bayes', 5)} | {_training(tr)} |")
    if bandits:
        lines += [*([""] if predictors else []), "## Bandit tasks", "",
                  "| task | seed | return | Bayes-optimal | paired gap (reference) | excess regret at 5x / 50x "
                  "horizon | bayes_in_agent state / TV | agent_in_bayes state / TV | training |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in bandits:
        ev, tr, m = r["evaluation"], r["training"], cell_metrics(r)
        trained = ev["trained"]
        gap = "n/a" if m.get("paired_gap") is None else (
            f"{m['paired_gap']:.4f} ± {m['paired_gap_stderr']:.4f} ({paired_reference(trained)})")
        lines.append(
            f"| {_label(r)} | {r['seed']} | {_fmt(trained['mean_return'])} ± {_fmt(trained['stderr'])} | "
            f"{_fmt(trained['bayes_optimal_return'])} | {gap} | "
            f"{_fmt(m.get('regret_5x'))} / {_fmt(m.get('regret_50x'))} | {_pair(r, 'bayes_in_agent', 4)} | "
            f"{_pair(r, 'agent_in_bayes', 4)} | {_training(tr)} |")
    return lines


def write_report(folder: Path, results: dict[str, Any], log: Callable[[str], None] = print) -> Path:
    """Draw the figures and write ``report.md`` and ``results.json`` into ``folder``."""
    records = results["results"]
    figures: dict[str, str] = {}
    coin = coin_figure(folder, records)
    if coin is not None:
        figures["coin"] = str(coin)
    kl = kl_figure(folder, records)
    if kl is not None:
        figures["kl"] = str(kl)
    shift = shift_figure(folder, records)
    if shift is not None:
        figures["shifted"] = str(shift)
    memory = memory_figure(folder, results.get("configs") or [])
    if memory is not None:
        figures["memory"] = str(memory)
    regret_steps = regret_step_figure(folder, records)
    if regret_steps is not None:
        figures["step_regret"] = str(regret_steps)
    first = {}  # the first seed of each config
    for record in records:
        first.setdefault(_label(record), record)
    for label, record in first.items():
        if record["env_id"] in BANDIT_ENVS:
            log(f"regret curves of {label} and its references")
            path, returns = regret_figure(folder, record, record["evaluation"]["trained"]["episodes"])
            figures[f"regret_{label}"] = str(path)
            record["reference_returns"] = returns
    results["figures"] = figures
    write_json(folder / "results.json", results)

    def rel(path: str) -> str:
        return os.path.relpath(path, folder)

    title = results.get("title") or f"Meta-trained agents against Bayes-optimal agents ({results['preset']} preset)"
    lines = [f"# {title}", "",
             f"{len(records)} runs; their training, evaluation and simulation took {_cell_minutes(records):.1f} "
             f"minutes of cell time, and this invocation {results['seconds'] / 60:.1f} minutes of wall time (finished "
             "cells are reused). Output dissimilarity: KL (nats per step) "
             "for predictors, total variation for bandit policies; state dissimilarity: squared error of the mapped "
             "transitions over the variance of the simulating agent's states (0 perfect, 1 no better than the mean).",
             ""]
    if results.get("claims"):  # the study: the paper's claims as verdicts first
        from benchmarks.claims import claims_lines

        lines += [*claims_lines(results["claims"]["rows"]), ""]
    if results.get("failed"):
        lines += ["## Failed cells", "", *(f"- {f['cell']}: {f['error']}" for f in results["failed"]), ""]
    if results.get("configs"):  # the configs across seeds, then every run
        from benchmarks.sweep_results import table_lines

        lines += ["## Across seeds", "", *table_lines(results["configs"])]
        lines += _exponential_note(results["configs"])
    lines += [*_tables(records, folder), ""]
    if "coin" in figures:
        lines += ["## Fair coin and bent coin", "", f"![coin]({rel(figures['coin'])})", ""]
    lines += shift_lines(records, rel(figures["shifted"]) if "shifted" in figures else None)
    if "memory" in figures:
        lines += ["## Memory size", "",
                  "Behaviour (top), the output dissimilarity (middle) and the state dissimilarity (bottom) of "
                  "both simulation directions against the LSTM's hidden size; the dotted line marks how many "
                  "numbers the Bayes agent's sufficient statistics hold. The LSTM's state is its hidden and "
                  "cell vectors, twice the hidden size.", "", f"![memory size]({rel(figures['memory'])})", ""]
    if "kl" in figures:
        lines += ["## KL per step beyond the trained horizon", "", f"![kl]({rel(figures['kl'])})", ""]
    if "step_regret" in figures:
        lines += ["## Per-step regret beyond the trained horizon", "",
                  f"![regret per step]({rel(figures['step_regret'])})", ""]
    for key, path in figures.items():
        if key.startswith("regret_"):
            lines += [f"## {key[7:]}: cumulative regret", "", f"![{key}]({rel(path)})", ""]
    lines += ["## Simulation panels and predictions", ""]
    for record in records:
        for path in record.get("simulation", {}).get("figures", []):
            lines += [f"### {_label(record)} (seed {record['seed']}): {Path(path).stem}", "", f"![]({rel(path)})", ""]
    versions = ", ".join(f"{k} {v}" for k, v in results["versions"].items())
    setup = (f"Budget: `{json.dumps(results['budget'])}`; seeds: {results['seeds']}; trainer of the bandit tasks: "
             f"{results.get('algo', 'recurrent-ppo')}; backend: {results.get('backend', 'serial')}"
             if "budget" in results
             else f"SPEC: `{results['spec']}` ({results['cells']} cells, {results['finished']} finished)")
    lines += ["## Set-up", "", f"{setup}; {versions}.", ""]
    report = folder / "report.md"
    write_text(report, "\n".join(lines))
    return report


def report_folder(folder: str | Path, log: Callable[[str], None] = print) -> Path:
    """Write ``report.md`` (and the figures) of a finished study or sweep from its ``results.json``."""
    folder = Path(folder)
    path = folder / "results.json"
    if not path.is_file():
        raise ValueError(f"{folder} holds no results.json: run `meta-bayes reproduce` or `meta-bayes sweep` into it "
                         "first")
    try:
        results = json.loads(path.read_text())
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"{path} is not readable JSON ({type(exc).__name__}: {exc})") from None
    if not isinstance(results, dict) or not isinstance(results.get("results"), list) or not all(
            isinstance(r, dict) for r in results["results"]):
        raise ValueError(f"{path} does not hold a study's or sweep's results (a mapping with a list of records "
                         "under \"results\"): rerun the study or sweep into a new folder")
    if not results["results"]:
        raise ValueError(f"{path} holds no finished run to report on")
    try:
        return write_report(folder, results, log)
    except (KeyError, TypeError, AttributeError, IndexError) as exc:  # records not written by meta-bayes
        raise ValueError(f"{path} holds records that are not a study's or sweep's ({type(exc).__name__}: {exc}): "
                         "rerun the study or sweep into a new folder") from None
