"""RecurrentPPO on ``MetaBandit-v0``: throughput against the stock set-up, quality, evaluation speed.

Usage::

    python -m benchmarks.recurrent_ppo_training                  # all three parts
    python -m benchmarks.recurrent_ppo_training --part throughput --seconds 20
    python -m benchmarks.recurrent_ppo_training --part quality --out runs/rppo-bandit
    python -m benchmarks.recurrent_ppo_training --json

Parts, with their targets:

- ``throughput``: env steps per second of training, side by side in one process: the stock
  set-up a new user writes (``make_vec_env`` with 8 envs, i.e. ``DummyVecEnv``, and
  sb3-contrib's default ``RecurrentPPO("MlpLstmPolicy", ...)`` hyperparameters, LSTM of 256
  units) and the ``MetaBandit-v0`` preset (:data:`agents.recurrent_ppo.PRESETS`). Each is
  trained for whole rollouts until ``--seconds`` have passed. Target: at least 5 times stock.
- ``quality``: the preset trained for its own budget (resumed if ``--out`` holds an
  unfinished run of it), then evaluated on 20,000 episodes paired with the Bayes-optimal
  policy (same tasks and reward draws). Target: Bayes gap at most 5% within 30 minutes.
- ``evaluation``: agent steps per second of the batched evaluation of the trained agent
  (``--episodes`` episodes at once). Target: at least 50,000.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import torch

import meta_envs
from agents.bandit_eval import evaluate_bandit_agent, reference_policy
from agents.recurrent_ppo import build_model, load_recurrent_ppo, preset_config, train_recurrent_ppo
from bayes.evaluate import PairedComparison

ENV_ID = "MetaBandit-v0"
TARGETS = {"throughput_ratio": 5.0, "bayes_gap": 0.05, "train_minutes": 30.0, "agent_steps_per_second": 50_000}


def sb3_steps_per_second(model: Any, seconds: float) -> float:
    """Env steps per second of ``model.learn`` over whole rollouts lasting at least ``seconds``."""
    rollout = model.n_steps * model.n_envs
    model.learn(rollout)  # warm-up (untimed): allocations, first LSTM calls
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        model.learn(rollout, reset_num_timesteps=False)
        done += rollout
    return done / (time.perf_counter() - start)


def throughput(seconds: float, threads: int) -> dict[str, Any]:
    from sb3_contrib import RecurrentPPO
    from stable_baselines3.common.env_util import make_vec_env

    torch.set_num_threads(threads)
    stock = RecurrentPPO("MlpLstmPolicy", make_vec_env(ENV_ID, n_envs=8, seed=0), seed=0, device="cpu")
    stock_rate = sb3_steps_per_second(stock, seconds)
    preset = build_model(preset_config(ENV_ID, ENV_ID, seed=0))
    preset_rate = sb3_steps_per_second(preset, seconds)
    return {"stock_steps_per_second": stock_rate, "preset_steps_per_second": preset_rate,
            "ratio": preset_rate / stock_rate, "threads": threads, "seconds": seconds}


def quality(out: str, episodes: int) -> dict[str, Any]:
    config = preset_config(ENV_ID, ENV_ID, seed=0)
    result = train_recurrent_ppo(config, out, resume=True, log=lambda m: print(m, flush=True))
    machine, _ = load_recurrent_ppo(out)
    name, bayes = reference_policy(ENV_ID, {})
    agent = evaluate_bandit_agent(machine, ENV_ID, {}, episodes, seed=12345)
    reference = evaluate_bandit_agent(bayes, ENV_ID, {}, episodes, seed=12345)
    shortfall = PairedComparison.of(reference, agent)
    return {"train_seconds": result["seconds"], "timesteps": result["timesteps"],
            "mean_return": agent.mean_return, "stderr": agent.stderr,
            "bayes_optimal_return": agent.bayes_optimal_return, "random_return": agent.random_return,
            "bayes_gap": agent.bayes_gap, "paired_reference": name,
            "paired_shortfall": shortfall.mean_difference, "paired_stderr": shortfall.stderr,
            "episodes": episodes}


def evaluation_speed(out: str, episodes: int) -> dict[str, Any]:
    machine, _ = load_recurrent_ppo(out)
    evaluate_bandit_agent(machine, ENV_ID, {}, 100, seed=0)  # warm-up
    start = time.perf_counter()
    result = evaluate_bandit_agent(machine, ENV_ID, {}, episodes, seed=1)
    seconds = time.perf_counter() - start
    return {"episodes": episodes, "agent_steps": episodes * result.horizon, "seconds": seconds,
            "agent_steps_per_second": episodes * result.horizon / seconds, "threads": torch.get_num_threads()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=("all", "throughput", "quality", "evaluation"), default="all")
    parser.add_argument("--seconds", type=float, default=30.0, help="training time of each throughput measurement")
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--out", default="runs/recurrent-ppo-bandit")
    parser.add_argument("--episodes", type=int, default=20_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    gym.register_envs(meta_envs)
    report: dict[str, Any] = {"env_id": ENV_ID, "targets": TARGETS}
    if args.part in ("all", "throughput"):
        report["throughput"] = throughput(args.seconds, args.threads)
    if args.part in ("all", "quality"):
        report["quality"] = quality(args.out, args.episodes)
    if args.part in ("all", "evaluation"):
        if not (Path(args.out) / "checkpoint.pt").exists():
            raise SystemExit(f"--part evaluation needs a trained run in {args.out}: run --part quality first")
        report["evaluation"] = evaluation_speed(args.out, args.episodes)
    code = 0 if all(_verdicts(report).values()) else 1  # a missed target exits 1
    if args.json:
        print(json.dumps(report, indent=2))
        return code
    if "throughput" in report:
        t = report["throughput"]
        print(f"training throughput ({t['threads']} threads, {t['seconds']:.0f} s each): stock (8 envs, "
              f"DummyVecEnv) {t['stock_steps_per_second']:,.0f} env steps/s, preset "
              f"{t['preset_steps_per_second']:,.0f} env steps/s: {t['ratio']:.1f}x "
              f"(target >= {TARGETS['throughput_ratio']:.0f}x: {_word(_verdicts(report)['throughput'])})")
    if "quality" in report:
        q = report["quality"]
        print(f"quality: {q['timesteps']:,} env steps in {q['train_seconds'] / 60:.1f} min; return "
              f"{q['mean_return']:.4f} ± {q['stderr']:.4f} on {q['episodes']:,} episodes (Bayes-optimal "
              f"{q['bayes_optimal_return']:.4f}, random {q['random_return']:.4f}); Bayes gap {q['bayes_gap']:.4f}; "
              f"paired shortfall to {q['paired_reference']} {q['paired_shortfall']:.4f} ± {q['paired_stderr']:.4f} "
              f"(target gap <= {TARGETS['bayes_gap']} within {TARGETS['train_minutes']:.0f} min: "
              f"{_word(_verdicts(report)['quality'])})")
    if "evaluation" in report:
        e = report["evaluation"]
        rate = e["agent_steps_per_second"]
        print(f"batched evaluation: {e['agent_steps']:,} agent steps in {e['seconds']:.2f} s = {rate:,.0f} agent "
              f"steps/s (target >= {TARGETS['agent_steps_per_second']:,}: {_word(_verdicts(report)['evaluation'])})")
    return code


def _verdicts(report: dict[str, Any]) -> dict[str, bool]:
    """Whether each part of ``report`` meets its target (:data:`TARGETS`)."""
    out = {}
    if "throughput" in report:
        out["throughput"] = report["throughput"]["ratio"] >= TARGETS["throughput_ratio"]
    if "quality" in report:
        q = report["quality"]
        out["quality"] = q["bayes_gap"] <= TARGETS["bayes_gap"] and q["train_seconds"] <= 60 * TARGETS["train_minutes"]
    if "evaluation" in report:
        out["evaluation"] = report["evaluation"]["agent_steps_per_second"] >= TARGETS["agent_steps_per_second"]
    return out


def _word(met: bool) -> str:
    return "met" if met else "MISSED"


if __name__ == "__main__":
    raise SystemExit(main())
