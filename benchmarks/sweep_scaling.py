"""Does the local backend keep the cores busy? A 4-cell sweep on the pool against the same cells in series.

Usage::

    python -m benchmarks.sweep_scaling [--out DIR] [--timesteps N] [--workers N] [--two-threads] [--json]

The sweep: ``MetaBandit-v0`` with 2 and with 3 arms x seeds 0 and 1, each cell training the
rl2 ``quick`` preset for ``--timesteps`` env steps on one torch thread, then evaluating
(5,000 episodes at the trained horizon, 1,250 at 5 times it) and running the simulation
analysis (600 episodes). It runs twice from scratch, side by side in this process's run:

- ``serial``: the cells one after another in this process (``--backend serial``);
- ``local``: the same SPEC on the local process pool (``--backend local``, ``--workers``,
  default the cores), spawning its workers included.

It prints both wall times, their ratio (the target: at most 0.6 on 2 cores) and whether the
per-cell results are identical (they must be: same cells, same seeds, same threads).
``--two-threads`` adds, for context, the cells in series with 2 torch threads each (other
numbers, since the threads are part of a cell): what one process would do with both cores.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.sweep import sweep

SPEC = """name: scaling
seeds: 2
threads: {threads}
timesteps: {timesteps}
evaluation: {{episodes: 5000, long_factor: 5}}
simulation: {{episodes: 600}}
tasks:
  - {{name: bandit-2arm, env_id: MetaBandit-v0, env_kwargs: {{n_arms: 2}}, algos: [rl2], preset: quick}}
  - {{name: bandit-3arm, env_id: MetaBandit-v0, env_kwargs: {{n_arms: 3}}, algos: [rl2], preset: quick}}
"""


def _run(folder: Path, backend: str, timesteps: int, threads: int, workers: int | None) -> dict[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)
    spec = folder / "spec.yaml"
    spec.write_text(SPEC.format(threads=threads, timesteps=timesteps))
    start = time.perf_counter()
    results = sweep(spec, folder / "sweep", backend=backend, workers=workers,
                    log=lambda m: print(f"  {backend}: {m}", file=sys.stderr, flush=True))
    seconds = time.perf_counter() - start
    if results["failed"]:
        raise RuntimeError(f"cells failed on the {backend} backend: {results['failed']}")
    steps = {r["config"] + f"-seed{r['seed']}": {k: r[k]["seconds"] for k in ("training", "evaluation", "simulation")}
             for r in results["results"]}
    evaluations = {r["run"]: {k: v for k, v in r["evaluation"].items() if k != "seconds"} for r in results["results"]}
    return {"seconds": seconds, "evaluations": evaluations,
            "step_seconds": steps}


TARGET_RATIO = 0.6  #: the local pool's time over the serial backend's, at most


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=None, help="where the sweeps go (default: a temporary folder)")
    parser.add_argument("--timesteps", type=int, default=2_048_000, help="env steps per cell (default: about 15 s)")
    parser.add_argument("--workers", type=int, default=None, help="pool workers (default: the cores)")
    parser.add_argument("--two-threads", action="store_true", help="also the cells in series on 2 threads each")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out or tmp)
        serial = _run(out / "serial", "serial", args.timesteps, 1, None)
        local = _run(out / "local", "local", args.timesteps, 1, args.workers)
        two = _run(out / "serial-2threads", "serial", args.timesteps, 2, None) if args.two_threads else None
    summary = {"cores": os.cpu_count(), "timesteps": args.timesteps, "serial_seconds": serial["seconds"],
               "local_seconds": local["seconds"], "ratio": local["seconds"] / serial["seconds"],
               "identical_results": serial["evaluations"] == local["evaluations"],
               "serial_step_seconds": serial["step_seconds"]}
    if two is not None:
        summary["serial_two_threads_seconds"] = two["seconds"]
        summary["ratio_to_two_threads"] = local["seconds"] / two["seconds"]
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"4 cells, {args.timesteps:,} env steps each, {os.cpu_count()} cores")
        print(f"  one after another (serial backend, 1 thread per cell): {serial['seconds']:.1f} s")
        print(f"  local process pool:                                    {local['seconds']:.1f} s")
        print(f"  ratio local / serial: {summary['ratio']:.3f} (target <= {TARGET_RATIO}: "
              f"{'met' if summary['ratio'] <= TARGET_RATIO else 'MISSED'}); identical per-cell results: "
              f"{summary['identical_results']}")
        if two is not None:
            print(f"  for context, in series on 2 threads per cell: {two['seconds']:.1f} s "
                  f"(local / that: {summary['ratio_to_two_threads']:.3f})")
    # a missed target, or cells whose numbers differ between the backends, exits 1
    return 0 if summary["identical_results"] and summary["ratio"] <= TARGET_RATIO else 1


if __name__ == "__main__":
    raise SystemExit(main())
