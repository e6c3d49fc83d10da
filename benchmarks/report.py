"""The report of a reproduction study: ``report.md``, ``results.json`` and the figures.

Figures (PNG, under ``figures/``):

- ``coin_fair_vs_bent.png``: the learned predictors of the fair-coin and the bent-coin task,
  and their Bayes predictors, reacting to the same first outcomes;
- ``kl_per_step.png``: KL to the Bayes predictive per time step for every prediction task, up
  to ``generalisation_factor`` times the trained horizon;
- ``regret_<task>.png``: cumulative regret over time of the learned agent and of the
  references (Bayes-optimal where its DP exists, Gittins, Thompson sampling, UCB, greedy),
  with 95% confidence bands;
- per task, the 2x2 simulation panel (and for predictors, predictions over time; for the die
  on the probability simplex), written by the simulation step.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from benchmarks.figures import pyplot, save_figure

__all__ = ["write_report"]


def _run(folder: Path, record: dict[str, Any]) -> Path:
    return folder / "runs" / f"{record['task']}-seed{record['seed']}"


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


def kl_figure(folder: Path, records: list[dict[str, Any]]) -> Path | None:
    """KL to the Bayes predictive per step, up to the long horizon, for every prediction task."""
    predictors = [r for r in records if r["algo"] == "supervised" and r["seed"] == 0]
    if not predictors:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4))
    trained = 0
    for record in predictors:
        long = record["evaluation"]["long"]
        trained = record["evaluation"]["trained"]["horizon"]
        ax.plot(np.arange(1, long["horizon"] + 1), long["kl_per_step"], label=record["task"])
    ax.axvline(trained, color="grey", ls=":", label="trained horizon")
    ax.set_yscale("log")
    ax.set_xlabel("time step")
    ax.set_ylabel("KL(Bayes || learned), nats")
    ax.set_title("KL to the Bayes predictive per step, beyond the trained horizon")
    ax.legend(fontsize=8)
    return save_figure(fig, folder / "figures" / "kl_per_step.png")


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
    for name, policy in [("learned (RecurrentPPO)", machine), *_references(env)]:
        result = evaluate_bandit_policy(policy, n_episodes=episodes, seed=77, **kwargs)
        curve = np.cumsum(result.regret_curve)
        band = 1.96 * result.cumulative_regret_stderr
        style = {"lw": 2.2, "color": "black"} if name.startswith("learned") else {"lw": 1.2}
        ax.plot(t, curve, label=name, **style)
        ax.fill_between(t, curve - band, curve + band, alpha=0.2, color=ax.lines[-1].get_color())
        returns[name] = result.mean_return
    ax.set_xlabel("time step")
    ax.set_ylabel("cumulative regret")
    ax.set_title(f"{record['task']}: cumulative regret ({episodes} paired episodes, 95% bands)")
    ax.legend(fontsize=8)
    return save_figure(fig, folder / "figures" / f"regret_{record['task']}.png"), returns


def _fmt(value: Any, digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _pair(direction: dict[str, Any], digits: int) -> str:
    return f"{_fmt(direction['state_dissimilarity'])} / {_fmt(direction['output_dissimilarity'], digits)}"


def _tables(records: list[dict[str, Any]], folder: Path) -> list[str]:
    lines = ["## Prediction tasks", "",
             "| task | seed | mean KL per step | KL at 5x horizon | bayes_in_agent state / output | "
             "agent_in_bayes state / output | training |", "|---|---:|---:|---:|---:|---:|---:|"]
    for r in records:
        if r["algo"] != "supervised":
            continue
        ev, sim, tr = r["evaluation"], r["simulation"], r["training"]
        kl = f"{_fmt(ev['trained']['mean_kl'], 5)} ± {_fmt(ev['trained']['mean_kl_stderr'], 5)}"
        lines.append(
            f"| {r['task']} | {r['seed']} | {kl} | {_fmt(ev['long']['mean_kl'], 5)} | "
            f"{_pair(sim['bayes_in_agent'], 5)} | {_pair(sim['agent_in_bayes'], 5)} | {tr['train_seconds']:.0f} s |")
    lines += ["", "## Bandit tasks", "",
              "| task | seed | return | Bayes-optimal | Bayes gap | paired vs reference | gap at 5x horizon | "
              "bayes_in_agent state / TV | agent_in_bayes state / TV | training |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in records:
        if r["algo"] == "supervised":
            continue
        ev, sim, tr = r["evaluation"], r["simulation"], r["training"]
        trained, long = ev["trained"], ev["long"]
        paired = trained["paired"]
        lines.append(
            f"| {r['task']} | {r['seed']} | {_fmt(trained['mean_return'])} ± {_fmt(trained['stderr'])} | "
            f"{_fmt(trained['bayes_optimal_return'])} | {_fmt(trained['bayes_gap'])} | "
            f"{paired['mean_difference']:+.4f} ± {paired['stderr']:.4f} ({paired['reference']}) | "
            f"{_fmt(long['bayes_gap'])} | {_pair(sim['bayes_in_agent'], 4)} | {_pair(sim['agent_in_bayes'], 4)} | "
            f"{tr['train_seconds']:.0f} s, "
            f"{tr['train_steps']:,} steps |")
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
    for record in records:
        if record["algo"] != "supervised" and record["seed"] == 0:
            log(f"regret curves of {record['task']} and its references")
            path, returns = regret_figure(folder, record, results["budget"]["eval_episodes"])
            figures[f"regret_{record['task']}"] = str(path)
            record["reference_returns"] = returns
    results["figures"] = figures
    (folder / "results.json").write_text(json.dumps(results, indent=2))

    def rel(path: str) -> str:
        return os.path.relpath(path, folder)

    lines = [f"# Meta-trained agents against Bayes-optimal agents ({results['preset']} preset)", "",
             f"{len(records)} runs in {results['seconds'] / 60:.1f} minutes. Output dissimilarity: KL (nats per step) "
             "for predictors, total variation for bandit policies; state dissimilarity: squared error of the mapped "
             "transitions over the variance of the simulating agent's states (0 perfect, 1 no better than the mean).",
             "", *_tables(records, folder), ""]
    if "coin" in figures:
        lines += ["## Fair coin and bent coin", "", f"![coin]({rel(figures['coin'])})", ""]
    if "kl" in figures:
        lines += ["## KL per step beyond the trained horizon", "", f"![kl]({rel(figures['kl'])})", ""]
    for key, path in figures.items():
        if key.startswith("regret_"):
            lines += [f"## {key[7:]}: cumulative regret", "", f"![{key}]({rel(path)})", ""]
    lines += ["## Simulation panels and predictions", ""]
    for record in records:
        for path in record["simulation"]["figures"]:
            lines += [f"### {record['task']} (seed {record['seed']}): {Path(path).stem}", "", f"![]({rel(path)})", ""]
    versions = ", ".join(f"{k} {v}" for k, v in results["versions"].items())
    lines += ["## Set-up", "", f"Budget: `{json.dumps(results['budget'])}`; seeds: {results['seeds']}; {versions}.", ""]
    report = folder / "report.md"
    report.write_text("\n".join(lines))
    return report
