"""LSTM predictors trained for at most two minutes each: KL to the Bayes predictive, against its target.

Usage::

    python -m benchmarks.predictor_training [--seconds 120] [--out runs/predictors] [--json]

For each prediction env (defaults, horizon 20) a 64-unit LSTM predictor is trained for at most
``--seconds`` seconds of wall time on this machine's cores, then evaluated on 20,000 episodes:
the mean KL per step to the Bayes predictive at the trained horizon 20 and at horizon 100.
Target: mean KL at most 0.002 nats per step at horizon 20.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import gymnasium as gym

import meta_envs
from agents.predictor import PREDICTION_ENVS, PredictorConfig, load_predictor, train_predictor
from bayes.evaluate import evaluate_predictor

TARGET_KL = 0.002


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--out", default="runs/predictors")
    parser.add_argument("--episodes", type=int, default=20_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    gym.register_envs(meta_envs)
    rows = []
    for env_id in PREDICTION_ENVS:
        out = Path(args.out) / env_id
        config = PredictorConfig(env_id=env_id, steps=1_000_000, max_seconds=args.seconds, eval_every=2000)
        result = train_predictor(config, out, resume=False, log=lambda _m: None)
        machine, _ = load_predictor(out)
        model = gym.make(env_id).unwrapped.model
        kl20 = evaluate_predictor(machine, model, 20, args.episodes, seed=1)
        kl100 = evaluate_predictor(machine, model, 100, args.episodes // 4, seed=2)
        rows.append({"env": env_id, "train_seconds": result["seconds"], "steps": result["history"][-1]["step"],
                     "mean_kl_h20": kl20.mean_kl, "stderr_h20": kl20.mean_kl_stderr,
                     "mean_kl_h100": kl100.mean_kl, "met": kl20.mean_kl <= TARGET_KL})
    code = 0 if all(r["met"] for r in rows) else 1  # a missed target exits 1
    if args.json:
        print(json.dumps(rows, indent=2))
        return code
    header = f"{'env':<20} {'seconds':>8} {'steps':>7} {'KL h=20':>10} {'stderr':>9} {'KL h=100':>10}"
    print(f"{header}  target KL <= {TARGET_KL}")
    for r in rows:
        print(
            f"{r['env']:<20} {r['train_seconds']:>8.1f} {r['steps']:>7} {r['mean_kl_h20']:>10.5f}"
            f" {r['stderr_h20']:>9.5f} {r['mean_kl_h100']:>10.5f}  {'met' if r['met'] else 'MISSED'}"
        )
    return code


if __name__ == "__main__":
    raise SystemExit(main())
