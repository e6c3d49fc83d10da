"""Time and memory of the exact bandit references, against their targets.

Usage::

    python -m benchmarks.bandit_references          # every case, one fresh process each
    python -m benchmarks.bandit_references --json

Each case runs in a fresh Python process pinned to one core, so its peak resident memory is its
own; the table prints the value computed, the seconds it took and that peak.

Targets: ``bayes_optimal_value(2, 200)`` under 1 s; ``bayes_optimal_value(2, 500)`` under 60 s
and 2 GB; ``bayes_optimal_value(3, 30)`` under 10 s; ``gittins_table(0.99, 200, tol=1e-6)`` under
60 s (computed, not read from the disk cache; the value shown is the index of Beta(1, 1));
``evaluate_bandit_policy`` with an index policy at least 1 million policy steps per second
(100,000 episodes of 20 steps, the exact Bayes value for the gap included; a policy's tables are
built in the untimed set-up).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["CASES", "run_case"]

#: (label, untimed set-up statement, timed expression computing the value, seconds limit,
#:  memory limit in MiB or None, policy steps taken or None): a case with steps is a rate target
_EVALUATE = "evaluate_bandit_policy(policy, n_episodes=100_000).mean_return"  # 2 million policy steps
CASES: list[tuple[str, str, str, float | None, float | None, int | None]] = [
    ("bayes_optimal_value(2, 200)", "", "bayes_optimal_value(2, 200)", 1.0, None, None),
    ("bayes_optimal_value(2, 500)", "", "bayes_optimal_value(2, 500)", 60.0, 2048.0, None),
    ("bayes_optimal_value(3, 30)", "", "bayes_optimal_value(3, 30)", 10.0, None, None),
    ("gittins_table(0.99, 200, tol=1e-6)", "", "gittins_table(0.99, 200, tol=1e-6, cache=False)[0, 0]",
     60.0, None, None),
    ("evaluate: GreedyPolicy", "policy = GreedyPolicy(2)", _EVALUATE, None, None, 2_000_000),
    ("evaluate: UCB1", "policy = UCB1(2)", _EVALUATE, None, None, 2_000_000),
    ("evaluate: GittinsPolicy(0.99)", "policy = GittinsPolicy(2, 0.99); policy.table((1.0, 1.0), 32)",
     _EVALUATE, None, None, 2_000_000),
    ("evaluate: BayesUCB", "policy = BayesUCB(2)", _EVALUATE, None, None, 2_000_000),
]
MIN_STEPS_PER_SECOND = 1_000_000

_CHILD = """
import json, os, resource, time
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {{min(os.sched_getaffinity(0))}})
from bayes.bandits import *  # noqa: F403 (the expressions name any policy)
from bayes.evaluate import evaluate_bandit_policy
{setup}
start = time.perf_counter()
value = {expression}
seconds = time.perf_counter() - start
peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
print(json.dumps({{"value": float(value), "seconds": seconds, "peak_mib": peak_mib}}))
"""


def run_case(expression: str, setup: str = "", timeout: float = 600.0) -> dict[str, Any]:
    """Evaluate ``expression`` after ``setup`` in a fresh process: its value, the seconds the
    expression took, and the process's peak memory (MiB)."""
    result = subprocess.run(
        [sys.executable, "-c", _CHILD.format(expression=expression, setup=setup)],
        capture_output=True, text=True, timeout=timeout, check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{expression} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    rows = []
    for label, setup, expression, max_seconds, max_mib, steps in CASES:
        figures = run_case(expression, setup)
        if steps is not None:
            figures["steps_per_second"] = steps / figures["seconds"]
            ok = figures["steps_per_second"] >= MIN_STEPS_PER_SECOND
            target = f">= {MIN_STEPS_PER_SECOND:,} policy steps/s: {figures['steps_per_second']:,.0f}"
        else:
            assert max_seconds is not None
            ok = figures["seconds"] < max_seconds and (max_mib is None or figures["peak_mib"] < max_mib)
            target = f"< {max_seconds:g} s" + (f", < {max_mib:g} MiB" if max_mib else "")
        rows.append({"case": label, **figures, "target": target, "met": ok})
    code = 0 if all(row["met"] for row in rows) else 1  # a missed target exits 1
    if args.json:
        print(json.dumps(rows, indent=2))
        return code
    print(f"{'case':<30} {'value':>14} {'seconds':>9} {'peak MiB':>9}  target")
    for row in rows:
        status = "met" if row["met"] else "MISSED"
        print(
            f"{row['case']:<30} {row['value']:>14.6f} {row['seconds']:>9.3f} {row['peak_mib']:>9.0f}"
            f"  {row['target']} ({status})"
        )
    return code


if __name__ == "__main__":
    raise SystemExit(main())
