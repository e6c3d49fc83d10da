"""``meta-bayes simulate``: the simulation analysis between a trained agent and the Bayes agent.

Usage::

    meta-bayes simulate RUN_DIR [--episodes N] [--out FIGDIR] [--seed S] [--json]
    python -m benchmarks.simulate RUN_DIR ...

A (the reference) is the Bayes agent of the run's env: the exact Bayes predictor for prediction
envs, the exact Bayes-optimal policy for ``MetaBandit-v0`` (the Gittins index policy, discount
0.9, for ``MetaGaussianBandit-v0``, which has no exact finite-horizon solution here); B is the
trained agent. The input sequences: for prediction envs, ``N`` episodes of outcomes; for
bandits, ``N / 2`` episodes played by each agent (so both agents' usual states are covered).
Half of them train the regressors, the other half measure.

Printed keys: ``"bayes_in_agent"`` (the learned agent simulates the Bayes agent: Bayes states
mapped into the agent) and ``"agent_in_bayes"`` (the reverse), each with
``state_dissimilarity``, ``output_dissimilarity`` (KL for predictors, total variation for
bandit policies), their standard errors and, for bandits, ``return_difference``; ``figures``
lists the pictures written to ``--out`` (default ``RUN_DIR/figures``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import meta_envs
from agents.bandit_eval import BANDIT_ENVS
from bayes.files import check_folder, make_folder
from bayes.simulation import SimulationResult, simulation_analysis, total_variation

__all__ = ["bayes_agent", "main", "run_simulation", "simulate_agent"]


def bayes_agent(env_id: str, env_kwargs: dict[str, Any]) -> tuple[str, Any]:
    """``(name, machine)``: the Bayes agent that a run on ``env_id`` is compared with."""
    from agents.bandit_eval import bandit_evaluation_kwargs
    from bayes.bandits import BayesOptimalPolicy, GaussianGittinsPolicy
    from bayes.predictors import BayesPredictor

    gym.register_envs(meta_envs)
    env = gym.make(env_id, **env_kwargs).unwrapped
    if not isinstance(env.action_space, gym.spaces.Discrete):
        return "Bayes", BayesPredictor(env.model)
    arms = bandit_evaluation_kwargs(env)
    if arms["arms"] == "gaussian":
        return "Gittins", GaussianGittinsPolicy(arms["n_arms"], 0.9, arms["prior"], arms["noise_std"])
    return "Bayes", BayesOptimalPolicy(arms["n_arms"], env.horizon, arms["prior"])


def simulate_agent(agent: Any, config: Any, episodes: int, seed: int = 0,
                   log: Any = None) -> tuple[SimulationResult, np.ndarray, str]:
    """``(result, inputs, name)``: the analysis (:func:`bayes.simulation.simulation_analysis`)
    between the Bayes agent of ``config``'s env (A; ``name``, :func:`bayes_agent`) and ``agent``
    (B), on the input sequences ``inputs (T, episodes, obs)`` described in the module docstring."""
    from agents.rollouts import rollout

    name, bayes = bayes_agent(config.env_id, config.env_kwargs)
    say = log or (lambda _m: None)
    bandit = config.env_id in BANDIT_ENVS
    say(f"rolling out {episodes} episodes of {config.env_id}")
    if bandit:
        first = rollout(bayes, config.env_id, episodes // 2, seed=seed, **config.env_kwargs)
        second = rollout(agent, config.env_id, episodes - episodes // 2, seed=seed + 1, **config.env_kwargs)
        inputs = np.concatenate([first.observations, second.observations], axis=1)
        divergence = total_variation

        from agents.bandit_eval import evaluate_bandit_agent

        def returns(machine: Any) -> np.ndarray:
            return evaluate_bandit_agent(machine, config.env_id, config.env_kwargs, 2000, seed=seed + 2).returns
    else:
        from bayes.kl import kl_divergence

        played = rollout(bayes, config.env_id, episodes, seed=seed, **config.env_kwargs)
        inputs = played.observations
        model = bayes.model

        def divergence(p: np.ndarray, q: np.ndarray) -> np.ndarray:
            return kl_divergence(model, p, q)

        returns = None  # type: ignore[assignment]
    say("fitting the regressors and measuring both directions")
    result = simulation_analysis(bayes, agent, inputs, divergence=divergence, returns=returns,
                                 rng=np.random.default_rng(seed))
    return result, inputs, name


def run_simulation(run_dir: str, episodes: int = 1000, out: str | None = None, seed: int = 0,
                   log: Any = None) -> dict[str, Any]:
    """The analysis of the run in ``run_dir`` against its Bayes agent, with its pictures."""
    from agents.runs import load_run
    from benchmarks.figures import prediction_plot, simulation_panel

    if episodes < 8:
        raise ValueError(f"--episodes must be >= 8 (half train the regressors, half measure), got {episodes}")
    agent, config = load_run(run_dir)
    figdir = check_folder(out if out is not None else Path(run_dir) / "figures", "--out")
    say = log or (lambda _m: None)
    start = time.perf_counter()
    bandit = config.env_id in BANDIT_ENVS
    result, inputs, name = simulate_agent(agent, config, episodes, seed, say)
    say(f"writing the pictures to {figdir}")
    make_folder(figdir, "--out")
    figures = [simulation_panel(result, figdir / "simulation_panel.png", names=(name, "agent"))]
    if not bandit:
        test = result.test[:3]
        figures.append(prediction_plot(result.outputs_a[:, test], result.outputs_b[:, test], inputs[:, test],
                                       figdir / "predictions.png", title=f"{config.env_id}: {name} and agent",
                                       names=(name, "agent")))
    return {
        "env_id": config.env_id,
        "env_kwargs": config.env_kwargs,
        "algo": config.algo,
        "reference": name,
        "episodes": episodes,
        "seed": seed,
        "bayes_in_agent": result.b_simulates_a.as_dict(),
        "agent_in_bayes": result.a_simulates_b.as_dict(),
        "output_dissimilarity_measure": "total variation" if bandit else "KL(reference || simulating machine)",
        "n_train": result.n_train,
        "n_test": result.n_test,
        "figures": [str(f) for f in figures],
        "seconds": time.perf_counter() - start,
    }


def print_summary(summary: dict[str, Any]) -> None:
    print(f"{summary['env_id']} ({summary['algo']}) against {summary['reference']}, {summary['n_test']} "
          f"held-out episodes; output dissimilarity: {summary['output_dissimilarity_measure']}")
    for key, label in (("bayes_in_agent", "agent simulates Bayes"), ("agent_in_bayes", "Bayes simulates agent")):
        d = summary[key]
        extra = "" if d.get("return_difference") is None else (
            f", return difference {d['return_difference']:+.4f} ± {d['return_stderr']:.4f}")
        print(f"  {key:<15} ({label}): state {d['state_dissimilarity']:.4f} ± {d['state_stderr']:.4f}, "
              f"output {d['output_dissimilarity']:.5f} ± {d['output_stderr']:.5f}{extra}")
    print(f"  figures: {', '.join(summary['figures'])}")


def report_run(args: argparse.Namespace, run: Callable[..., dict[str, Any]], show: Callable[[dict[str, Any]], None],
               log: Callable[[str], None]) -> None:
    """``run(RUN_DIR, episodes, out, seed, log=log)`` for the parsed ``args`` of a command over one
    run folder (``simulate``, ``progression``), then its summary printed: one JSON object with
    ``--json``, else ``show(summary)``."""
    summary = run(args.run_dir, args.episodes, args.out, args.seed, log=log)
    if args.json:
        print(json.dumps(summary))
    else:
        show(summary)


def run_dir_main(argv: Sequence[str] | None, description: str | None, run: Callable[..., dict[str, Any]],
                 show: Callable[[dict[str, Any]], None]) -> int:
    """The ``python -m`` entry of a command over one run folder: ``RUN_DIR [--episodes N] [--out
    FIGDIR] [--seed S] [--json]``, then :func:`report_run`."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir")
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--out", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    report_run(parser.parse_args(argv), run, show, log=lambda m: print(m, file=sys.stderr, flush=True))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_dir_main(argv, __doc__, run_simulation, print_summary)


if __name__ == "__main__":
    raise SystemExit(main())
