"""The ``meta-bayes`` command line: a thin layer over the Python API.

Subcommands::

    meta-bayes envs [--json]                       the registered environments and their defaults
    meta-bayes demo [ENV_ID] [--seed S] [--policy greedy|random] [--set KEY=VALUE ...]
                                                   one episode, step by step, with the posterior

Later subcommands (train, evaluate, simulate, reproduce) are added by their modules.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import json
import os
import sys
from collections.abc import Sequence
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


def _parse_set(items: Sequence[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; values are Python literals (numbers, tuples, strings)."""
    kwargs: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"meta-bayes: --set expects KEY=VALUE, got {item!r}")
        try:
            kwargs[key] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            kwargs[key] = text
    return kwargs


POLICIES = ("bayes", "greedy", "random")


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``meta-bayes`` console script."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "envs":
            _print_envs(args.json)
        elif args.command == "demo":
            run_demo(args.env_id, seed=args.seed, policy=args.policy, **_parse_set(args.settings))
    except (ValueError, TypeError) as exc:
        print(f"meta-bayes: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `meta-bayes envs | head`: the reader left, not an error
        sys.stdout = open(os.devnull, "w")
        return 0
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
