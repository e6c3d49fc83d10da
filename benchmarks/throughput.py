"""Env steps per second: the native numpy vector env against Gymnasium's ``SyncVectorEnv``.

Usage::

    python -m benchmarks.throughput                       # MetaBandit-v0 at 1, 64, 1024, 4096 envs
    python -m benchmarks.throughput --env all --seconds 2 # every registered id
    python -m benchmarks.throughput --json                # one JSON object instead of the table

Both vectorisations of the same env id step the same pre-drawn random actions for at least
``--seconds`` each (after an untimed warm-up of half that), in one process pinned to one core,
one vector env alive at a time. An env step is one sub-environment
stepping once, so a call of ``step`` on ``num_envs`` environments counts ``num_envs`` steps
(Gymnasium's next-step autoreset included, as in any training loop). ``SyncVectorEnv`` is built
by ``gym.make_vec(..., vectorization_mode="sync")``, i.e. the single envs exactly as
``gym.make`` returns them.

Targets checked for ``MetaBandit-v0``: the native env at 4096 envs makes at least 10
million steps per second, and at least 50 times the steps per second of ``SyncVectorEnv`` at
1024 envs.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import time
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np

import meta_envs

__all__ = ["measure", "throughput_table"]

NUM_ENVS = (1, 64, 1024, 4096)
TARGET_ENV = "MetaBandit-v0"
TARGET_STEPS_PER_SECOND = 10_000_000
TARGET_RATIO = 50.0


def pin_to_one_core() -> str:
    """Restrict this process to one CPU (Linux); returns a description for the report."""
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to cpu {cpu}"
    return "not pinned (no sched_setaffinity on this platform)"


def measure(envs: gym.vector.VectorEnv, seconds: float, seed: int = 0, n_action_batches: int = 64) -> float:
    """Sub-environment steps per second of ``envs`` over at least ``seconds`` of stepping."""
    envs.action_space.seed(seed)
    actions = [envs.action_space.sample() for _ in range(n_action_batches)]
    envs.reset(seed=seed)
    # warm-up, untimed, for half the measured time: the first calls grow the allocator's pools
    warm_until, i = time.perf_counter() + seconds / 2, 0
    while time.perf_counter() < warm_until or i < 3:
        envs.step(actions[i % n_action_batches])
        i += 1
    calls, start = 0, time.perf_counter()
    while True:
        envs.step(actions[calls % n_action_batches])
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds and calls >= 3:
            return calls * envs.num_envs / elapsed


def throughput_table(
    env_id: str, num_envs: Sequence[int] = NUM_ENVS, seconds: float = 1.0, **env_kwargs: Any
) -> list[dict[str, Any]]:
    """Rows ``{num_envs, native, sync, ratio}`` of steps per second for ``env_id``."""
    rows = []
    for n in num_envs:
        row: dict[str, Any] = {"num_envs": n}
        for mode, key in (("vector_entry_point", "native"), ("sync", "sync")):
            # one vector env alive at a time: thousands of live single envs would slow the
            # garbage collector, and so the other measurement
            envs = gym.make_vec(env_id, num_envs=n, vectorization_mode=mode, **env_kwargs)
            row[key] = measure(envs, seconds)
            envs.close()
            del envs
            gc.collect()
        row["ratio"] = row["native"] / row["sync"]
        rows.append(row)
    return rows


def _targets(rows: list[dict[str, Any]]) -> dict[str, Any]:
    by_n = {row["num_envs"]: row for row in rows}
    result: dict[str, Any] = {}
    if 4096 in by_n:
        native = by_n[4096]["native"]
        result["native_4096_steps_per_second"] = native
        result["native_4096_meets_10M"] = native >= TARGET_STEPS_PER_SECOND
        if 1024 in by_n:
            ratio = native / by_n[1024]["sync"]
            result["native_4096_over_sync_1024"] = ratio
            result["ratio_meets_50x"] = ratio >= TARGET_RATIO
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="MetaBandit-v0", help="an env id, or 'all'")
    parser.add_argument("--num-envs", type=int, nargs="+", default=list(NUM_ENVS))
    parser.add_argument("--seconds", type=float, default=1.0, help="time spent stepping each configuration")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--no-pin", action="store_true", help="do not restrict the process to one core")
    args = parser.parse_args(argv)
    if args.env != "all" and args.env not in meta_envs.ENV_IDS:
        parser.error(f"--env must be 'all' or one of {list(meta_envs.ENV_IDS)}, got {args.env!r}")
    if any(n < 1 for n in args.num_envs) or args.seconds <= 0:
        parser.error("--num-envs must be positive ints and --seconds positive")
    pinning = "not pinned (--no-pin)" if args.no_pin else pin_to_one_core()
    env_ids = list(meta_envs.ENV_IDS) if args.env == "all" else [args.env]
    report: dict[str, Any] = {
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "gymnasium": gym.__version__,
        "cores": pinning,
        "results": {},
    }
    for env_id in env_ids:
        rows = throughput_table(env_id, args.num_envs, args.seconds)
        # the targets are stated for MetaBandit-v0; the other ids are reported for reference
        targets = _targets(rows) if env_id == TARGET_ENV else {}
        report["results"][env_id] = {"rows": rows, "targets": targets}
        if not args.json:
            print(f"\n{env_id}: env steps per second, one core ({pinning})")
            print(f"{'num_envs':>9} {'native':>14} {'SyncVectorEnv':>14} {'native/sync':>12}")
            for row in rows:
                print(f"{row['num_envs']:>9} {row['native']:>14,.0f} {row['sync']:>14,.0f} {row['ratio']:>12.1f}")
            if "native_4096_meets_10M" in targets:
                ok = "met" if targets["native_4096_meets_10M"] else "MISSED"
                rate = targets["native_4096_steps_per_second"]
                print(f"target native@4096 >= 10,000,000 steps/s: {rate:,.0f} ({ok})")
            if "ratio_meets_50x" in targets:
                ok = "met" if targets["ratio_meets_50x"] else "MISSED"
                print(f"target native@4096 / sync@1024 >= 50: {targets['native_4096_over_sync_1024']:.1f} ({ok})")
    if args.json:
        print(json.dumps(report, indent=2))
    missed = [k for r in report["results"].values() for k, v in r["targets"].items() if "_meets_" in k and not v]
    return 1 if missed else 0  # a missed target is a failure for whoever runs the benchmark


if __name__ == "__main__":
    raise SystemExit(main())
