"""The ``meta-bayes`` command line: a thin layer over the Python API.

Subcommands::

    meta-bayes envs [--json]                       the registered environments and their defaults
    meta-bayes demo [ENV_ID] [--seed S] [--policy bayes|greedy|random] [--set KEY=VALUE ...]
                                                   one episode, step by step, with the posterior
    meta-bayes train ENV_ID --algo supervised|recurrent-ppo|rl2 --out DIR [--timesteps N] [--seed S]
                     [--preset NAME] [--hp KEY=VALUE ...] [--set KEY=VALUE ...] [--progress]
                                                   meta-train an LSTM predictor (prediction envs),
                                                   a RecurrentPPO agent or an RL² agent of the fast
                                                   batched trainer (bandit envs)
    meta-bayes evaluate DIR [--episodes N] [--horizon T] [--seed S] [--json]
                                                   the trained agent against the Bayes-optimal one
                                                   on the same episodes: return, Bayes gap (bandits),
                                                   KL per step and log-loss (predictors)

    meta-bayes simulate DIR [--episodes N] [--out FIGDIR] [--seed S] [--json]
                                                   the simulation analysis between the trained
                                                   agent and the Bayes agent, with its pictures
    meta-bayes reproduce [--preset quick|full] [--out DIR] [--seeds N] [--tasks NAME ...] [--algo rl2]
                                                   the whole study and its report (DIR/report.md)
    meta-bayes sweep SPEC --out DIR [--backend local|ray|serial] [--address ADDR] [--workers N] [--report]
                     [--dry-run]                   a grid of tasks, algorithms, seeds, hyperparameters
                                                   and budgets (a YAML or TOML SPEC) on a process pool
                                                   or a Ray cluster; means and 95% intervals across seeds
    meta-bayes report DIR                          the report (DIR/report.md, figures) of a finished
                                                   study or sweep
"""

from __future__ import annotations

import argparse
import ast
import inspect
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import meta_envs
from bayes.bandits import BayesOptimalPolicy, GaussianGreedy, GreedyPolicy
from bayes.bandits.base import sample_categorical
from bayes.models import BetaBernoulli, NormalKnownNoise
from bayes.predictors import BayesPredictor

__all__ = ["env_table", "main", "run_demo"]


def _defaults(env_id: str) -> dict[str, Any]:
    """The constructor arguments of ``env_id`` and their defaults (``render_mode`` left out)."""
    spec = gym.spec(env_id)
    cls = spec.entry_point if callable(spec.entry_point) else gym.envs.registration.load_env_creator(spec.entry_point)
    params = inspect.signature(cls).parameters
    return {name: p.default for name, p in params.items() if name != "render_mode"}


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def env_table() -> list[dict[str, Any]]:
    """One row per registered id: defaults, spaces, and the shapes of ``info``."""
    rows = []
    for env_id in meta_envs.ENV_IDS:
        env = gym.make(env_id)
        _, info = env.reset(seed=0)
        rows.append(
            {
                "id": env_id,
                "entry_point": gym.spec(env_id).entry_point,
                "vector_entry_point": gym.spec(env_id).vector_entry_point,
                "defaults": {k: _jsonable(v) for k, v in _defaults(env_id).items()},
                "observation_space": str(env.observation_space),
                "action_space": str(env.action_space),
                "info": {k: list(np.shape(v)) for k, v in info.items()},
            }
        )
        env.close()
    return rows


def _print_envs(as_json: bool) -> None:
    rows = env_table()
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    for row in rows:
        defaults = ", ".join(f"{k}={v!r}" for k, v in row["defaults"].items())
        print(f"{row['id']}\n    defaults:    {defaults}")
        print(f"    action:      {row['action_space']}\n    observation: {row['observation_space']}")
        info = ", ".join(f"{k} {tuple(v)}" for k, v in row["info"].items())
        print(f"    info:        {info}")


def _parse_set(items: Sequence[str], flag: str = "--set") -> dict[str, Any]:
    """``KEY=VALUE`` pairs; values are Python literals (numbers, tuples, strings)."""
    kwargs: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"meta-bayes: {flag} expects KEY=VALUE, got {item!r}")
        try:
            kwargs[key] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            kwargs[key] = text
    return kwargs


POLICIES = ("bayes", "greedy", "random")
TRAIN_ALGOS = ("supervised", "recurrent-ppo", "rl2")


def _demo_agent(env: gym.Env, policy: str) -> Any:
    """The state machine that plays the demo (None: random actions)."""
    base: meta_envs.core.MetaEnv = env.unwrapped  # type: ignore[assignment]
    model = base.model
    if policy == "random":
        return None
    if isinstance(model, BetaBernoulli) and model.batch_shape:  # Bernoulli bandit
        prior = np.stack([model.alpha, model.beta], axis=1)
        n_arms = len(prior)
        return BayesOptimalPolicy(n_arms, base.horizon, prior) if policy == "bayes" else GreedyPolicy(n_arms, prior)
    if isinstance(model, NormalKnownNoise) and model.batch_shape:  # Gaussian bandit: no exact DP, greedy
        prior = np.stack([model.prior_mean, model.prior_std], axis=1)
        return GaussianGreedy(len(prior), prior, model.noise_std)
    return BayesPredictor(model)  # prediction envs: the exact Bayes predictive


def run_demo(env_id: str = "MetaBandit-v0", seed: int = 0, policy: str = "bayes", **kwargs: Any) -> float:
    """Play one episode of ``env_id`` and print every step; returns the episode's return.

    ``bayes``: the exact Bayes-optimal policy (``MetaBandit-v0``) or Bayes predictor (the
    prediction envs); on ``MetaGaussianBandit-v0``, greedy on the posterior means. ``greedy``:
    the arm of highest posterior mean (bandits; the Bayes predictor otherwise). ``random``:
    uniformly random actions. Ties are broken uniformly at random.
    """
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")
    env = gym.make(env_id, **kwargs)
    base: meta_envs.core.MetaEnv = env.unwrapped  # type: ignore[assignment]
    rng = np.random.default_rng(seed)
    env.action_space.seed(seed)
    obs, info = env.reset(seed=seed)
    agent = _demo_agent(env, policy)
    state = agent.initial_state(1) if agent is not None else None
    print(f"{env_id} {kwargs or ''} seed={seed} policy={policy}")
    print(f"task: {np.array2string(np.asarray(info['task']), precision=3)}")
    total, terminated = 0.0, False
    while not terminated:
        if agent is None:
            action = env.action_space.sample()
        else:
            state, output = agent.step(state, obs[None].astype(np.float64))
            if isinstance(env.action_space, gym.spaces.Discrete):
                action = int(sample_categorical(output, rng)[0])
            else:
                action = output[0].astype(np.float32)
        obs, reward, terminated, _, info = env.step(action)
        total += reward
        posterior = np.array2string(np.asarray(info["posterior"]), precision=3).replace("\n", "")
        shown = action if np.ndim(action) == 0 else np.array2string(np.asarray(action), precision=3)
        print(f"t={base._t[0]:3d}  action={shown}  reward={reward:8.4f}  posterior={posterior}")
    print(f"return: {total:.4f}")
    env.close()
    return total


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="meta-bayes", description="Meta-learning through a Bayesian lens: environments, Bayes agents, studies."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    envs = sub.add_parser("envs", help="list the registered environments and their defaults")
    envs.add_argument("--json", action="store_true", help="print JSON instead of text")
    demo = sub.add_parser("demo", help="play one episode and print the posterior at every step")
    demo.add_argument("env_id", nargs="?", default="MetaBandit-v0", choices=meta_envs.ENV_IDS)
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--policy", choices=POLICIES, default="bayes")
    demo.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                      help="an environment argument, e.g. --set n_arms=3 --set 'prior=(2, 2)'")
    train = sub.add_parser("train", help="meta-train an agent on an env and write it to a folder")
    train.add_argument("env_id", choices=meta_envs.ENV_IDS)
    train.add_argument("--algo", choices=TRAIN_ALGOS, required=True,
                       help="supervised: LSTM predictors (prediction envs); recurrent-ppo (sb3-contrib) or "
                            "rl2 (the fast batched trainer): bandit agents")
    train.add_argument("--preset", default=None,
                       help="hyperparameters; default: the env's own tuned preset "
                            "(agents.recurrent_ppo.PRESETS, agents.rl2.PRESETS)")
    train.add_argument("--hp", dest="hyperparameters", action="append", default=[], metavar="KEY=VALUE",
                       help="a hyperparameter over the preset's (recurrent-ppo, rl2), e.g. --hp core=gru "
                            "--hp hidden_size=32")
    train.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                       help="a progress bar (default: when stderr is a terminal)")
    train.add_argument("--timesteps", type=int, default=None,
                       help="env steps (predictions) to train on; default: the preset's own budget")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--out", required=True, help="the run's folder (config, checkpoint, TensorBoard logs)")
    train.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                       help="an environment argument, as for demo")
    evaluate = sub.add_parser("evaluate", help="evaluate a trained agent against the Bayes-optimal one")
    evaluate.add_argument("run_dir")
    evaluate.add_argument("--episodes", type=int, default=20_000)
    evaluate.add_argument("--horizon", type=int, default=None, help="default: the trained horizon")
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    simulate = sub.add_parser("simulate", help="does the trained agent simulate the Bayes agent, and vice versa?")
    simulate.add_argument("run_dir")
    simulate.add_argument("--episodes", type=int, default=1000, help="input episodes (half train the regressors)")
    simulate.add_argument("--out", default=None, help="folder of the pictures (default: RUN_DIR/figures)")
    simulate.add_argument("--seed", type=int, default=0)
    simulate.add_argument("--json", action="store_true", help="print one JSON object")
    from benchmarks.reproduce import add_arguments

    reproduce = sub.add_parser("reproduce", help="the whole study: train, evaluate, simulate, write a report")
    add_arguments(reproduce)
    sweep = sub.add_parser("sweep", help="a grid of train + evaluate (+ simulate) jobs, on a process pool or Ray")
    sweep.add_argument("spec", help="the grid: a YAML or TOML file (see benchmarks/sweep_spec.py)")
    sweep.add_argument("--out", required=True, help="the sweep's folder (a rerun resumes it)")
    sweep.add_argument("--backend", choices=("local", "ray", "serial"), default="local",
                       help="local: a process pool on this machine (default); ray: a Ray cluster (--address) or a "
                            "Ray instance started here; serial: one after another in this process")
    sweep.add_argument("--address", default=None,
                       help="the Ray cluster: host:port, ray://host:port or auto (default: start Ray here)")
    sweep.add_argument("--workers", type=int, default=None,
                       help="cells at a time (default: local, the cores over the SPEC's threads; ray, as many as "
                            "the cluster has CPUs for)")
    sweep.add_argument("--report", action="store_true",
                       help="also write DIR/report.md with the study's figures (regret curves take a while)")
    sweep.add_argument("--dry-run", action="store_true",
                       help="check the SPEC and the folder, list the cells and which are finished; run nothing")
    report = sub.add_parser("report", help="write the report of a finished study or sweep folder")
    report.add_argument("folder")
    return parser


#: The supervised preset: at most two minutes of training on this machine (issue 4's budget).
SUPERVISED_PRESET = {"hidden_size": 64, "batch_size": 256, "learning_rate": 3e-3, "max_seconds": 120.0}


def supervised_config(env_id: str, env_kwargs: dict[str, Any], seed: int, timesteps: int | None = None,
                      max_seconds: float | None = None) -> Any:
    """The supervised preset's :class:`~agents.predictor.PredictorConfig`: a budget of ``timesteps``
    predictions, else of ``max_seconds`` of training (default the preset's two minutes)."""
    from agents.predictor import PredictorConfig

    horizon = int(gym.make(env_id, **env_kwargs).unwrapped.horizon)
    batch = int(SUPERVISED_PRESET["batch_size"])
    steps = 1_000_000 if timesteps is None else max(1, -(-timesteps // (batch * horizon)))
    if timesteps is None and max_seconds is None:
        max_seconds = SUPERVISED_PRESET["max_seconds"]
    return PredictorConfig(
        env_id=env_id, env_kwargs=env_kwargs, steps=steps, seed=seed,
        hidden_size=int(SUPERVISED_PRESET["hidden_size"]), batch_size=batch,
        learning_rate=float(SUPERVISED_PRESET["learning_rate"]), max_seconds=max_seconds,
        eval_every=min(500, steps),
    )


def _train_supervised(env_id: str, out: str, timesteps: int | None, seed: int, preset: str | None,
                      env_kwargs: dict[str, Any]) -> None:
    from agents.predictor import PREDICTION_ENVS, train_predictor

    if env_id not in PREDICTION_ENVS:
        raise ValueError(f"--algo supervised trains predictors: env_id must be one of {PREDICTION_ENVS}, "
                         f"got {env_id} (bandit envs train with --algo recurrent-ppo)")
    if preset not in (None, "default"):
        raise ValueError(f"--algo supervised has one preset, 'default'; got --preset {preset!r}")
    result = train_predictor(supervised_config(env_id, env_kwargs, seed, timesteps), out, log=_log)
    _log(f"trained {env_id} for {result['seconds']:.1f} s; the run is in {out}")


def _train_bandit(algo: str, env_id: str, out: str, timesteps: int | None, seed: int, preset: str | None,
                  env_kwargs: dict[str, Any], progress: bool, hyperparameters: dict[str, Any]) -> None:
    """``--algo recurrent-ppo`` or ``--algo rl2``: the preset (default: the env's own) and the overrides."""
    from agents.bandit_eval import BANDIT_ENVS

    if env_id not in BANDIT_ENVS:
        raise ValueError(f"--algo {algo} trains bandit agents: env_id must be one of {BANDIT_ENVS}, "
                         f"got {env_id} (prediction envs train with --algo supervised)")
    if algo == "rl2":
        from agents import rl2 as pipeline
    else:
        from agents import recurrent_ppo as pipeline
    config = pipeline.preset_config(preset or env_id, env_id, env_kwargs, seed=seed, timesteps=timesteps,
                                    **hyperparameters)
    train = pipeline.train_rl2 if algo == "rl2" else pipeline.train_recurrent_ppo
    result = train(config, out, progress_bar=progress, log=_log)
    _log(f"trained {env_id} for {result['timesteps']} env steps in {result['seconds']:.1f} s; the run is in {out}")


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_train(env_id: str, algo: str, out: str, timesteps: int | None, seed: int, preset: str | None = None,
              progress: bool = False, hyperparameters: dict[str, Any] | None = None, **env_kwargs: Any) -> None:
    """``meta-bayes train``: supervised predictors (prediction envs); RecurrentPPO or RL² (bandit envs)."""
    if timesteps is not None and timesteps < 1:
        raise ValueError(f"--timesteps must be >= 1, got {timesteps}")
    if seed < 0:
        raise ValueError(f"--seed must be >= 0, got {seed}")
    if algo not in TRAIN_ALGOS:
        raise ValueError(f"--algo must be one of {TRAIN_ALGOS}, got {algo!r}")
    hyperparameters = dict(hyperparameters or {})
    fixed = sorted(set(hyperparameters) & {"env_id", "env_kwargs", "algo", "seed", "timesteps"})
    if fixed:
        raise ValueError(f"--hp cannot set {fixed}: use the argument of the same name (--set for env_kwargs)")
    if algo == "supervised":
        if hyperparameters:
            raise ValueError(f"--hp applies to recurrent-ppo and rl2, not to supervised "
                             f"(got {sorted(hyperparameters)})")
        _train_supervised(env_id, out, timesteps, seed, preset, env_kwargs)
    else:
        _train_bandit(algo, env_id, out, timesteps, seed, preset, env_kwargs, progress, hyperparameters)


def _evaluate_predictor(machine: Any, config: Any, episodes: int, horizon: int | None, seed: int) -> dict[str, Any]:
    from bayes.evaluate import evaluate_predictor

    env = gym.make(config.env_id, **config.env_kwargs).unwrapped
    result = evaluate_predictor(machine, env.model, horizon or env.horizon, episodes, seed)
    return {
        "mean_kl": result.mean_kl,
        "mean_kl_stderr": result.mean_kl_stderr,
        "kl_per_step": result.kl.tolist(),
        "log_loss": result.total_log_loss,
        "log_loss_stderr": result.total_log_loss_stderr,
        "bayes_log_loss": float(result.bayes_log_loss.sum()),
    }


def _evaluate_bandit(machine: Any, config: Any, episodes: int, horizon: int | None, seed: int) -> dict[str, Any]:
    from agents.bandit_eval import evaluate_bandit_agent, reference_policy
    from bayes.evaluate import PairedComparison

    result = evaluate_bandit_agent(machine, config.env_id, config.env_kwargs, episodes, seed, horizon)
    name, reference = reference_policy(config.env_id, config.env_kwargs, result.horizon)
    pair = PairedComparison.of(result, evaluate_bandit_agent(reference, config.env_id, config.env_kwargs, episodes,
                                                             seed, horizon))
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
    }


def run_evaluate(run_dir: str, episodes: int, horizon: int | None, seed: int) -> dict[str, Any]:
    """``meta-bayes evaluate``: the JSON summary of a trained run against the Bayes agent.

    Bandit runs: return, its standard error, the exact Bayes-optimal return and the Bayes gap,
    and the return paired (same tasks and reward draws) with the Bayes-optimal policy where
    its DP fits in memory, else with Thompson sampling. Prediction runs: KL per step to the
    Bayes predictive and the log-loss.
    """
    from agents.runs import load_run

    if episodes < 2:
        raise ValueError(f"--episodes must be >= 2, got {episodes}")
    if horizon is not None and horizon < 1:
        raise ValueError(f"--horizon must be >= 1, got {horizon}")
    machine, config = load_run(run_dir)
    summary: dict[str, Any] = {"env_id": config.env_id, "env_kwargs": config.env_kwargs, "algo": config.algo}
    evaluate = _evaluate_predictor if config.algo == "supervised" else _evaluate_bandit
    start = time.perf_counter()
    summary.update(evaluate(machine, config, episodes, horizon, seed))
    trained = int(gym.make(config.env_id, **config.env_kwargs).unwrapped.horizon)
    summary.update({"horizon": horizon or trained, "trained_horizon": trained, "episodes": episodes, "seed": seed,
                    "seconds": time.perf_counter() - start})
    return summary


def _print_summary(summary: dict[str, Any]) -> None:
    head = f"{summary['env_id']} ({summary['algo']}) horizon {summary['horizon']}, {summary['episodes']} episodes:"
    if summary["algo"] == "supervised":
        print(f"{head} mean KL to Bayes {summary['mean_kl']:.5f} ± {summary['mean_kl_stderr']:.5f}; "
              f"log-loss {summary['log_loss']:.4f} (Bayes {summary['bayes_log_loss']:.4f})")
        return
    gap = "" if summary["bayes_gap"] is None else f", Bayes gap {summary['bayes_gap']:.4f}"
    bayes = "" if summary["bayes_optimal_return"] is None else f", Bayes-optimal {summary['bayes_optimal_return']:.4f}"
    paired = summary["paired"]
    print(f"{head} return {summary['mean_return']:.4f} ± {summary['stderr']:.4f}{bayes}, "
          f"random {summary['random_return']:.4f}{gap}; minus {paired['reference']} on the same episodes: "
          f"{paired['mean_difference']:+.4f} ± {paired['stderr']:.4f}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``meta-bayes`` console script."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "envs":
            _print_envs(args.json)
        elif args.command == "demo":
            run_demo(args.env_id, seed=args.seed, policy=args.policy, **_parse_set(args.settings))
        elif args.command == "train":
            progress = sys.stderr.isatty() if args.progress is None else args.progress
            run_train(args.env_id, args.algo, args.out, args.timesteps, args.seed, args.preset, progress,
                      _parse_set(args.hyperparameters, "--hp"), **_parse_set(args.settings))
        elif args.command == "evaluate":
            summary = run_evaluate(args.run_dir, args.episodes, args.horizon, args.seed)
            if args.json:
                print(json.dumps(summary))
            else:
                _print_summary(summary)
        elif args.command == "reproduce":
            from benchmarks.reproduce import reproduce

            reproduce(args.preset, args.out, args.seeds, args.tasks, log=_log, algo=args.algo)
        elif args.command == "sweep":
            from benchmarks.sweep import sweep

            results = sweep(args.spec, args.out, args.backend, args.address, args.workers, log=_log,
                            report=args.report, dry_run=args.dry_run)
            if args.dry_run:
                return 0
            print((Path(args.out) / "table.md").read_text())
            if results["failed"]:
                return 1
        elif args.command == "report":
            from benchmarks.report import report_folder

            print(report_folder(args.folder, log=_log))
        elif args.command == "simulate":
            from benchmarks.simulate import print_summary, run_simulation

            summary = run_simulation(args.run_dir, args.episodes, args.out, args.seed, log=_log)
            if args.json:
                print(json.dumps(summary))
            else:
                print_summary(summary)
    except (ValueError, TypeError, ConnectionError) as exc:
        print(f"meta-bayes: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        where = ""
        if args.command == "train":
            where = f"; its last checkpoint is in {args.out}: run the same command to resume"
        elif args.command in ("sweep", "reproduce"):
            where = f"; finished steps and checkpoints are in {args.out}: run the same command to resume"
        print(f"meta-bayes: interrupted{where}", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `meta-bayes envs | head`: the reader left, not an error
        sys.stdout = open(os.devnull, "w")
        return 0
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
