"""The batched RL² trainer (:mod:`agents.rl2`): throughput against RecurrentPPO, and quality.

Usage::

    python -m benchmarks.rl2_training                              # both parts
    python -m benchmarks.rl2_training --part throughput --seconds 30
    python -m benchmarks.rl2_training --part quality --cases bandit-2arm --out runs/rl2-bench
    python -m benchmarks.rl2_training --part curve --cases bandit-2arm --critics core belief --seeds 0 1 2
    python -m benchmarks.rl2_training --json
    python -m benchmarks.rl2_training --device cuda --part throughput   # the GPU beside the 2-core CPU
    python -m benchmarks.rl2_training --device cuda --part quality --cases bandit-2arm   # time to the Bayes level

Parts, with their targets:

- ``throughput``: env steps per second of training, side by side in one process, after one
  untimed warm-up rollout each: the RecurrentPPO preset of ``MetaBandit-v0``
  (:data:`agents.recurrent_ppo.PRESETS`, LSTM of 64 units) and the rl2 preset
  (:data:`agents.rl2.PRESETS`, LSTM of 64 units, the same heads), and the rl2 trainer with the
  ``a2c`` update (one gradient step per batch, on the rollout's own graph). The rl2 figures
  are of :func:`agents.rl2.train_rl2` itself, TensorBoard logging included. Targets: at least
  200,000 env steps/s, and at least 50 times the RecurrentPPO preset. With ``--device cuda``
  (or ``auto`` on a machine with CUDA) the rl2 preset also trains on the device, the same
  network, and its env steps per second are set beside the CPU's; target: at least 10 times.
- ``quality``: for each case of :data:`CASES`, the env's rl2 preset trained for its own budget
  (a finished run in ``--out`` is reused, an unfinished one resumed), then evaluated exactly as
  ``meta-bayes evaluate DIR --json`` does (20,000 episodes, paired with the Bayes-optimal policy
  on the same tasks and reward draws). Targets: paired Bayes gap (the return's shortfall against
  the Bayes-optimal policy on the same episodes, over the Bayes-optimal minus random return) at
  most 2% on ``MetaBandit-v0``'s defaults within 90 seconds of training; at most 5% on 3 arms
  and on horizon 100 within 15 minutes each; on ``MetaGaussianBandit-v0`` a return at least
  that of Thompson sampling and of the Gittins index policy on the same episodes.
- ``curve``: sample efficiency, the critics side by side (no target): for each case, critic
  (``core``: the value head on the LSTM's output; ``belief``: on the exact posterior and the
  time, :mod:`agents.belief`) and seed, the case's preset trained for ``--timesteps`` env
  steps, evaluated every ``--eval-every`` steps on 4,000 held-out episodes paired with the
  reference policy; printed as the paired Bayes gap (Bernoulli arms) or the paired difference
  with Thompson sampling (normal arms) against env steps and seconds, mean ± standard error
  over the seeds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import torch

import meta_envs
from agents.bandit_eval import evaluate_bandit_agent
from agents.devices import DEVICES, check_device, resolve_device
from agents.rl2 import preset_config, train_rl2

ENV_ID = "MetaBandit-v0"
TARGETS = {"steps_per_second": 200_000, "ratio": 50.0}
DEVICE_RATIO = 10.0  #: the accelerator's rl2 env steps per second over the CPU's, same network


@dataclass(frozen=True)
class Case:
    """One quality target: an env, its arguments, the most training time and the most Bayes gap;
    ``overrides`` of the env's rl2 preset (``meta-bayes train ... --timesteps N --hp KEY=VALUE``)."""

    name: str
    env_id: str
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    minutes: float | None = None
    max_gap: float | None = None
    overrides: dict[str, Any] = field(default_factory=dict)


CASES = (
    Case("bandit-2arm", ENV_ID, {}, 1.5, 0.02),
    Case("gaussian-bandit", "MetaGaussianBandit-v0"),
    Case("bandit-3arm", ENV_ID, {"n_arms": 3}, 15.0, 0.05, {"timesteps": 100_000_000}),
    Case("bandit-2arm-h100", ENV_ID, {"horizon": 100}, 15.0, 0.05,
         {"timesteps": 100_000_000, "num_envs": 2048, "gae_lambda": 0.99}),
)


# ---------------------------------------------------------------------------- throughput


def _rl2_rate(seconds: float, threads: int, **overrides: Any) -> float:
    """Env steps per second of ``train_rl2`` on the preset (with ``overrides``) over ``seconds``,
    counted from the end of the first batch."""
    marks: list[tuple[float, int]] = []

    def clock(info: dict[str, Any]) -> bool:
        marks.append((time.perf_counter(), int(info["timesteps"])))
        return marks[-1][0] - marks[0][0] < seconds

    config = preset_config(ENV_ID, ENV_ID, seed=0, timesteps=10**12, torch_threads=threads, **overrides)
    config.eval_every = 10**12
    with tempfile.TemporaryDirectory() as folder:
        train_rl2(config, folder, log=lambda _m: None, callback=clock)
    (t0, n0), (t1, n1) = marks[0], marks[-1]
    return (n1 - n0) / (t1 - t0)


def throughput(seconds: float, threads: int, device: str = "cpu") -> dict[str, Any]:
    from agents.recurrent_ppo import build_model
    from agents.recurrent_ppo import preset_config as rppo_config
    from benchmarks.recurrent_ppo_training import sb3_steps_per_second

    torch.set_num_threads(threads)
    rppo = rppo_config(ENV_ID, ENV_ID, seed=0)
    rppo_rate = sb3_steps_per_second(build_model(rppo), seconds)
    rl2_rate = _rl2_rate(seconds, threads)
    a2c_rate = _rl2_rate(seconds, threads, update="a2c")
    result = {"recurrent_ppo_steps_per_second": rppo_rate, "rl2_steps_per_second": rl2_rate,
              "rl2_a2c_steps_per_second": a2c_rate, "ratio": rl2_rate / rppo_rate, "a2c_ratio": a2c_rate / rppo_rate,
              "lstm_hidden_size": rppo.lstm_hidden_size, "threads": threads, "seconds": seconds}
    if resolve_device(device).type != "cpu":  # the same network on the accelerator, beside the CPU's rate
        device_rate = _rl2_rate(seconds, threads, device=device)
        result.update(device=str(resolve_device(device)), rl2_device_steps_per_second=device_rate,
                      device_ratio=device_rate / rl2_rate)
    return result


# ---------------------------------------------------------------------------- quality


def log(message: str) -> None:
    """Progress goes to stderr, so that ``--json`` keeps stdout to the one JSON object."""
    print(message, file=sys.stderr, flush=True)


def _gaussian_pairs(run_dir: Path, episodes: int, seed: int) -> dict[str, Any]:
    """The agent's return minus Thompson sampling's and each Gittins policy's, on the same episodes."""
    from agents.evaluation import gaussian_references
    from agents.runs import load_run

    machine, config = load_run(run_dir)
    agent = evaluate_bandit_agent(machine, config.env_id, config.env_kwargs, episodes, seed)
    return {"mean_return": agent.mean_return, "stderr": agent.stderr,
            "pairs": gaussian_references(agent, config, episodes, seed)}


def quality(cases: Sequence[Case], out: str, episodes: int, seed: int, echo: bool = True,
            device: str = "cpu") -> list[dict[str, Any]]:
    from agents.evaluation import evaluate_run

    rows = []
    for case in cases:
        folder = Path(out) / case.name
        config = preset_config(case.env_id, case.env_id, case.env_kwargs, seed=0, device=device, **case.overrides)
        log(f"== {case.name}: {case.env_id} {case.env_kwargs or ''}, {config.timesteps:,} env steps")
        trained = train_rl2(config, folder, log=lambda m: log(f"   {m}"))
        summary = evaluate_run(folder, episodes, None, seed)
        row = {"case": case.name, "env_id": case.env_id, "env_kwargs": case.env_kwargs, "overrides": case.overrides,
               "train_seconds": trained["seconds"], "timesteps": trained["timesteps"], "minutes": case.minutes,
               "max_gap": case.max_gap, "evaluate": summary}
        if case.env_id == "MetaGaussianBandit-v0":
            row["gaussian"] = _gaussian_pairs(folder, episodes, seed)
        rows.append(row)
        if echo:
            _print_row(row)
    return rows


def curve(cases: Sequence[Case], critics: Sequence[str], seeds: Sequence[int], timesteps: int, eval_every: int,
          threads: int, out: str) -> list[dict[str, Any]]:
    """The paired figure of every evaluation during training, per case, critic and seed."""
    rows = []
    for case in cases:
        for critic in critics:
            for seed in seeds:
                overrides = {**case.overrides, "timesteps": timesteps, "eval_every": eval_every,
                             "eval_episodes": 4000, "torch_threads": threads, "critic": critic}
                config = preset_config(case.env_id, case.env_id, case.env_kwargs, seed=seed, **overrides)
                folder = Path(out) / "curve" / f"{case.name}-{critic}-{timesteps}-seed{seed}"
                log(f"== {case.name}, {critic} critic, seed {seed}: {config.timesteps:,} env steps")
                trained = train_rl2(config, folder, log=lambda m: log(f"   {m}"))
                points = [{"timesteps": h["timesteps"], "seconds": h["seconds"],
                           "figure": h.get("paired_gap", h["paired_difference"])} for h in trained["history"]]
                rows.append({"case": case.name, "critic": critic, "seed": seed, "points": points,
                             "figure": "paired_gap" if "paired_gap" in trained["history"][-1] else
                             "paired_difference"})
    return rows


def _print_curve(rows: Sequence[dict[str, Any]]) -> None:
    import numpy as np

    for case in dict.fromkeys(r["case"] for r in rows):
        of_case = [r for r in rows if r["case"] == case]
        critics = list(dict.fromkeys(r["critic"] for r in of_case))
        print(f"{case}: {of_case[0]['figure']} (mean ± standard error over seeds) against env steps", flush=True)
        print("| env steps | " + " | ".join(f"{c} critic | {c} seconds" for c in critics) + " |")
        print("|---:|" + "---:|---:|" * len(critics))
        steps = sorted({p["timesteps"] for r in of_case for p in r["points"]})
        for step in steps:
            cells = []
            for critic in critics:
                points = [p for r in of_case if r["critic"] == critic for p in r["points"] if p["timesteps"] == step]
                values = np.array([p["figure"] for p in points])
                se = values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else float("nan")
                cells.append(f"{values.mean():.4f} ± {se:.4f} | {np.mean([p['seconds'] for p in points]):.0f}")
            print(f"| {step:,} | " + " | ".join(cells) + " |", flush=True)


def _paired_gap(summary: dict[str, Any]) -> float | None:
    """The Bayes gap from the return paired with the Bayes-optimal policy's (None without that reference)."""
    from benchmarks.sweep_results import paired_gap

    gap, _, reference = paired_gap(summary)
    return gap if reference == "bayes-optimal" else None


def _gap_met(row: dict[str, Any]) -> bool | None:
    """A Bernoulli case's target: paired Bayes gap at most ``max_gap`` within ``minutes`` (None: no gap target)."""
    gap = _paired_gap(row["evaluate"])
    if gap is None or row["max_gap"] is None:
        return None
    return gap <= row["max_gap"] and row["train_seconds"] <= 60 * row["minutes"]


def _verdicts(report: dict[str, Any]) -> list[bool]:
    """Every target of ``report``: throughput (rate and ratio), each case's gap, each Gaussian pairing."""
    out = []
    if "throughput" in report:
        t = report["throughput"]
        out += [t["rl2_steps_per_second"] >= TARGETS["steps_per_second"], t["ratio"] >= TARGETS["ratio"]]
        if "device_ratio" in t:
            out.append(t["device_ratio"] >= DEVICE_RATIO)
    for row in report.get("quality", []):
        met = _gap_met(row)
        out += [] if met is None else [met]
        out += [pair["difference"] >= 0 for pair in row.get("gaussian", {}).get("pairs", {}).values()]
    return out


def _print_row(row: dict[str, Any]) -> None:
    s = row["evaluate"]
    paired = s["paired"]
    head = (f"{row['case']}: {row['timesteps']:,} env steps in {row['train_seconds'] / 60:.2f} min; return "
            f"{s['mean_return']:.4f} ± {s['stderr']:.4f} on {s['episodes']:,} episodes")
    if s["bayes_gap"] is not None:
        paired_gap = _paired_gap(s)
        met = _gap_met(row)
        extra = "" if paired_gap is None else f"; paired gap {paired_gap:.4f}"
        print(f"{head} (Bayes-optimal {s['bayes_optimal_return']:.4f}, random {s['random_return']:.4f}); "
              f"Bayes gap {s['bayes_gap']:.4f}{extra}; minus {paired['reference']} on the same episodes "
              f"{paired['mean_difference']:+.4f} ± {paired['stderr']:.4f} (target paired gap <= {row['max_gap']} "
              f"within {60 * row['minutes']:.0f} s: {'met' if met else 'MISSED'})", flush=True)
    else:
        print(head, flush=True)
    for name, pair in row.get("gaussian", {}).get("pairs", {}).items():
        verdict = "met" if pair["difference"] >= 0 else "MISSED"
        print(f"   minus {name} ({pair['return']:.4f}) on the same episodes: {pair['difference']:+.4f} ± "
              f"{pair['stderr']:.4f} (target >= 0: {verdict})", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=("all", "throughput", "quality", "curve"), default="all")
    parser.add_argument("--critics", nargs="+", choices=("core", "belief"), default=["core", "belief"],
                        help="curve: the critics to compare")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="curve: training seeds")
    parser.add_argument("--timesteps", type=int, default=24_000_000, help="curve: env steps per run")
    parser.add_argument("--eval-every", type=int, default=4_000_000, help="curve: env steps between evaluations")
    parser.add_argument("--seconds", type=float, default=30.0, help="training time of each throughput measurement")
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--cases", nargs="+", choices=[c.name for c in CASES], default=[c.name for c in CASES])
    parser.add_argument("--out", default="runs/rl2-benchmark")
    parser.add_argument("--episodes", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0, help="seed of the evaluation episodes")
    parser.add_argument("--device", choices=DEVICES, default="cpu",
                        help="where rl2 trains (throughput: beside the CPU; quality: the runs themselves)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    try:
        check_device(args.device, "--device")
    except ValueError as exc:
        print(f"rl2_training: error: {exc}", file=sys.stderr)
        return 2
    gym.register_envs(meta_envs)
    report: dict[str, Any] = {"targets": TARGETS}
    if args.part in ("all", "throughput"):
        t = report["throughput"] = throughput(args.seconds, args.threads, args.device)
        if not args.json:
            rate, ratio = t["rl2_steps_per_second"], t["ratio"]
            print(f"training throughput ({t['threads']} threads, {t['seconds']:.0f} s each, LSTM of "
                  f"{t['lstm_hidden_size']} units): RecurrentPPO preset {t['recurrent_ppo_steps_per_second']:,.0f} "
                  f"env steps/s; rl2 preset {rate:,.0f} env steps/s = {ratio:.1f}x; rl2 a2c update "
                  f"{t['rl2_a2c_steps_per_second']:,.0f} env steps/s = {t['a2c_ratio']:.1f}x (targets >= "
                  f"{TARGETS['steps_per_second']:,} env steps/s: {'met' if rate >= 200_000 else 'MISSED'}; >= "
                  f"{TARGETS['ratio']:.0f}x: {'met' if ratio >= TARGETS['ratio'] else 'MISSED'})", flush=True)
            if "device" in t:
                print(f"rl2 preset on {t['device']}: {t['rl2_device_steps_per_second']:,.0f} env steps/s = "
                      f"{t['device_ratio']:.1f}x the CPU's (target >= {DEVICE_RATIO:.0f}x: "
                      f"{'met' if t['device_ratio'] >= DEVICE_RATIO else 'MISSED'})", flush=True)
    if args.part in ("all", "quality"):
        cases = [c for c in CASES if c.name in args.cases]
        report["quality"] = quality(cases, args.out, args.episodes, args.seed, echo=not args.json,
                                    device=args.device)
    if args.part == "curve":
        cases = [c for c in CASES if c.name in args.cases]
        report["curve"] = curve(cases, args.critics, args.seeds, args.timesteps, args.eval_every, args.threads,
                                args.out)
        if not args.json:
            _print_curve(report["curve"])
    if args.json:
        print(json.dumps(report, indent=2))
    return 0 if all(_verdicts(report)) else 1  # a missed target exits 1


if __name__ == "__main__":
    raise SystemExit(main())
