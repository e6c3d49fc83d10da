"""The study end to end: meta-train agents on the task suite, compare them with the Bayes agents.

Usage::

    meta-bayes reproduce --preset quick|full [--out DIR] [--seeds N] [--tasks NAME ...]
                         [--algo rl2|recurrent-ppo|both] [--backend local|ray|serial] [--workers N]
                         [--address ADDR]
    python -m benchmarks.reproduce --preset quick

The prediction tasks are meta-trained by the supervised LSTM predictor (:mod:`agents.predictor`),
the bandit tasks by the batched RL² trainer (:mod:`agents.rl2`, ``--algo rl2``, the default);
``--algo recurrent-ppo`` trains them with sb3-contrib's RecurrentPPO
(:mod:`agents.recurrent_ppo`) instead, and ``--algo both`` with both, side by side, each row
labelled with its trainer. Every budget is counted in env steps (predictions for the
predictors), never in seconds, so the same seeds give the same table on any machine.

For every task, trainer and seed (a :class:`benchmarks.cells.Cell`, the job a sweep runs):
train (or reuse a finished run in ``DIR/runs``), evaluate against the Bayes agent on paired
episodes at the trained horizon and at ``generalisation_factor`` times it (the figures at 5
and 50 times are read from that one long evaluation), and run the simulation analysis. The
cells run on a sweep backend (:mod:`benchmarks.sweep`): a local process pool by default,
``--workers`` cells at a time (the cores over the preset's ``threads`` per cell: 2 cells at
once on 2 cores), a Ray cluster, or one after another; a cell's numbers depend only on the cell,
so every backend gives the same table. A failed cell is retried once, then reported, and the
others go on. Each finished step is recorded in ``DIR/results/<cell>.json``, so an interrupted
study resumes where it stopped (Ctrl-C lets the running cells write their checkpoints). Then
``DIR/report.md``, ``DIR/results.json`` and the figures: per task the mean and 95% t interval
across seeds of every figure (:mod:`benchmarks.sweep_results`) and, at the top, the paper's
claims as verdicts (:mod:`benchmarks.claims`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import gymnasium as gym

import meta_envs
from bayes.files import check_folder, make_folder, write_json
from bayes.validation import MAX_SEEDS
from benchmarks.cells import Cell, cell_finished, read_record, training_config, versions
from benchmarks.suite import TASKS, Task

__all__ = ["ALGO_CHOICES", "PRESETS", "TASKS", "Task", "cells_of", "main", "reproduce", "task_cell"]


ALGO_CHOICES = ("rl2", "recurrent-ppo", "both")  #: what ``--algo`` may choose for the bandit tasks
BACKEND_CHOICES = ("local", "ray", "serial")

#: RecurrentPPO settings for a budget shorter than the preset's own: the entropy bonus falls to 0
#: over the whole budget and the learning rate only to half. Measured on ``MetaBandit-v0`` with
#: 2,048,000 steps: return 12.20 (4,000 held-out episodes) against 11.87 with the 10M-step
#: schedule squeezed into the same budget.
SHORT_BUDGET_SCHEDULE = {"ent_anneal_fraction": 1.0, "learning_rate_final": 5e-4}

#: The predictors' learning rate decays linearly from the preset's 3e-3 to 3e-4 over the budget.
#: Measured on ``MetaGaussian-v0`` with 30,720,000 predictions (seeds 0-3, 20,000 episodes): KL
#: per step 0.00009 to 0.00022, against 0.00037 to 0.00144 with the constant rate.
PREDICTOR_SCHEDULE = {"learning_rate_final": 3e-4}

#: Budgets of the study, every one in env steps (predictions for ``supervised``): ``timesteps``
#: per trainer (None: the trainer's preset's own), ``task_timesteps`` per task and trainer where
#: a task needs another budget, ``hyperparameters`` per trainer over its preset; the evaluation
#: (``eval_episodes`` at the trained horizon, ``long_episodes`` at ``generalisation_factor``
#: times it), the simulation analysis (``simulation_episodes``), torch ``threads`` per cell, the
#: default number of ``seeds``, and the disk space a study needs. ``quick`` fits in 15 minutes
#: on 2 CPU cores; ``full`` is what a paper would report: 5 seeds, the trainers' own budgets or
#: longer (rl2: twice its preset's on 2 arms, 80M env steps on 3 arms), larger evaluations.
#: ``docs/study.md`` has the figures of both.
PRESETS: dict[str, dict[str, Any]] = {
    "quick": {"timesteps": {"supervised": 10_240_000, "rl2": 24_576_000, "recurrent-ppo": 2_048_000},
              "task_timesteps": {"bandit-3arm": {"rl2": 40_960_000}},
              "hyperparameters": {"recurrent-ppo": SHORT_BUDGET_SCHEDULE, "supervised": PREDICTOR_SCHEDULE},
              "eval_episodes": 5000, "long_episodes": 1000, "simulation_episodes": 600,
              "generalisation_factor": 50, "threads": 1, "seeds": 1, "min_free_mb": 300},
    "full": {"timesteps": {"supervised": 30_720_000, "rl2": None, "recurrent-ppo": None},
             "task_timesteps": {"bandit-2arm": {"rl2": 49_152_000}, "bandit-3arm": {"rl2": 81_920_000}},
             "hyperparameters": {"supervised": PREDICTOR_SCHEDULE},
             "eval_episodes": 20_000, "long_episodes": 2000, "simulation_episodes": 2000,
             "generalisation_factor": 50, "threads": 1, "seeds": 5, "min_free_mb": 1000},
}


def task_cell(task: Task, algo: str, seed: int, budget: dict[str, Any]) -> Cell:
    """The cell of ``task`` trained by ``algo`` with ``seed`` under the study's ``budget``."""
    timesteps = budget["task_timesteps"].get(task.name, {}).get(algo, budget["timesteps"][algo])
    config = task.name if algo == "supervised" else f"{task.name}-{algo}"
    return Cell(name=f"{config}-seed{seed}", task=task.name, env_id=task.env_id, env_kwargs=dict(task.env_kwargs),
                algo=algo, seed=seed, config=config, hyperparameters=dict(budget["hyperparameters"].get(algo, {})),
                timesteps=timesteps, threads=budget["threads"], eval_episodes=budget["eval_episodes"],
                eval_seed=1000, long_factor=budget["generalisation_factor"], long_episodes=budget["long_episodes"],
                simulation_episodes=budget["simulation_episodes"],
                shifts={label: dict(settings) for label, settings in task.shifts.items()})


def cells_of(tasks: Sequence[Task], algo: str, seeds: int, budget: dict[str, Any]) -> list[Cell]:
    """Every cell of the study, in report order: per task, per trainer, per seed."""
    return [task_cell(task, a, seed, budget) for task in tasks for a in task.algos(algo) for seed in range(seeds)]


def _manifest(preset: str, algo: str, seeds: int, budget: dict[str, Any]) -> dict[str, Any]:
    return {"preset": preset, "algo": algo, "seeds": seeds, "budget": json.loads(json.dumps(budget))}


def _check_folder(out: Path, manifest: dict[str, Any]) -> None:
    """Refuse an output folder that holds an incompatible study (naming the difference), or a disk
    too full, before any work; a study that only gains seeds is extended."""
    check_folder(out, "--out")
    path = out / "study.json"
    if path.exists():
        try:
            previous = json.loads(path.read_text())
        except ValueError as exc:
            raise ValueError(f"{path} is not readable JSON ({exc}): use another --out") from exc
        if not isinstance(previous, dict):
            raise ValueError(f"{path} holds a {type(previous).__name__}, not a study's manifest: use another --out")
        for key, flag in (("preset", "--preset"), ("algo", "--algo"), ("budget", "the budget")):
            if previous.get(key) != manifest[key]:
                shown = (previous.get(key), manifest[key]) if key != "budget" else (
                    sorted(k for k in set(previous.get(key) or {}) | set(manifest[key])
                           if (previous.get(key) or {}).get(k) != manifest[key].get(k)), None)
                what = (f"{flag} {shown[0]!r}, not {shown[1]!r}" if key != "budget"
                        else f"another budget (it differs in {shown[0]})")
                raise ValueError(f"{out} holds a study made with {what}: use another --out, or the same settings "
                                 "to resume it")
        if manifest["seeds"] < previous.get("seeds", 1):
            raise ValueError(f"{out} holds a study of {previous.get('seeds')} seeds, not {manifest['seeds']}: use "
                             f"--seeds {previous.get('seeds')} to resume it (or more to extend it), or another --out")
    elif out.exists() and any(out.iterdir()):
        raise ValueError(f"{out} is not empty and holds no study (no {path.name}): use another --out")
    make_folder(out, "--out")
    free_mb = shutil.disk_usage(out).free / 2**20
    need = PRESETS[manifest["preset"]]["min_free_mb"]
    if free_mb < need:
        raise ValueError(f"{out} has {free_mb:.0f} MiB free; the {manifest['preset']} study needs about {need} MiB")


def _check_arguments(preset: str, seeds: int | None, tasks: Sequence[str] | None, algo: str, backend: str,
                     workers: int | None, address: str | None, budget: dict[str, Any] | None) -> None:
    """``ValueError`` naming the flag of the first bad argument."""
    from benchmarks.sweep import check_backend

    if preset not in PRESETS:
        raise ValueError(f"--preset must be one of {sorted(PRESETS)}, got {preset!r} (unknown preset {preset!r})")
    if seeds is not None and (isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1):
        raise ValueError(f"--seeds must be an int >= 1, got {seeds!r}")
    if seeds is not None and seeds > MAX_SEEDS:
        raise ValueError(f"--seeds must be at most {MAX_SEEDS:,}, got {seeds:,}")
    if algo not in ALGO_CHOICES:
        raise ValueError(f"--algo must be one of {ALGO_CHOICES}, got {algo!r}")
    names = [t.name for t in TASKS]
    unknown = sorted(set(tasks or ()) - set(names))
    if unknown:
        raise ValueError(f"--tasks: unknown tasks {unknown}; known: {names}")
    unknown_keys = sorted(set(budget or {}) - set(PRESETS[preset]))
    if unknown_keys:
        raise ValueError(f"unknown budget keys {unknown_keys}; known: {sorted(PRESETS[preset])}")
    check_backend(backend, workers, address)


def reproduce(preset: str = "quick", out: str = "runs/reproduce", seeds: int | None = None,
              tasks: Sequence[str] | None = None, log: Callable[[str], None] = print,
              budget: dict[str, Any] | None = None, algo: str = "rl2", backend: str = "local",
              workers: int | None = None, address: str | None = None) -> dict[str, Any]:
    """Run the study and write its report; returns the content of ``results.json``.

    ``seeds``: seeds per task and trainer (None: the preset's). ``budget``: entries that replace
    the preset's (e.g. shorter training in tests). ``algo``: the bandit tasks' trainer, ``rl2``,
    ``recurrent-ppo`` or ``both``. ``backend``, ``workers``, ``address``: as for
    :func:`benchmarks.sweep.sweep`. Every argument is checked, and a Ray address reached, before
    any cell runs (``ValueError`` or ``ConnectionError`` naming the flag).
    """
    from benchmarks.sweep import default_workers, run_cells

    _check_arguments(preset, seeds, tasks, algo, backend, workers, address, budget)
    budget = {**PRESETS[preset], **(budget or {})}
    seeds = budget["seeds"] if seeds is None else seeds
    chosen = [t for t in TASKS if tasks is None or t.name in tasks]
    folder = Path(out).resolve()
    manifest = _manifest(preset, algo, seeds, budget)
    _check_folder(folder, manifest)
    gym.register_envs(meta_envs)
    cells = cells_of(chosen, algo, seeds, budget)
    todo = [c for c in cells if not cell_finished(read_record(folder, c), c)]  # every record read and checked
    workers = default_workers(backend, workers, budget["threads"])
    log(f"study ({preset} preset, {algo}): {len(cells)} cells, {len(cells) - len(todo)} already finished, "
        f"{len(todo)} to run on the {backend} backend" + (f" ({workers} at a time)" if workers else ""))
    # the longest first (a budget of None is the trainer's preset's own), so that the pool's last cells are short ones
    todo.sort(key=lambda c: (c.algo == "supervised", -(c.timesteps or getattr(training_config(c), "timesteps", 0))))
    start = time.perf_counter()
    failed = run_cells(todo, folder, backend, address, workers, budget["threads"], log,
                       started=lambda: write_json(folder / "study.json", manifest))
    records = []
    for cell in cells:
        record = read_record(folder, cell)
        if cell_finished(record, cell):
            records.append(record)
    log("drawing the figures and writing the report")
    from benchmarks.claims import THRESHOLDS, claims, summary
    from benchmarks.report import write_report
    from benchmarks.sweep_results import aggregate

    configs = aggregate(records)
    rows = claims(configs)
    results = {"kind": "study", "preset": preset, "algo": algo, "budget": budget, "seeds": seeds,
               "backend": backend, "workers": workers, "versions": versions(), "tasks": [asdict(t) for t in chosen],
               "cells": len(cells), "finished": len(records),
               "failed": [{"cell": name, **outcome} for name, outcome in failed.items()],
               "claims": {"thresholds": THRESHOLDS, "summary": summary(rows), "rows": rows},
               "configs": configs, "results": records, "seconds": time.perf_counter() - start}
    if records:
        write_report(folder, results, log)
        log(f"the report is in {folder / 'report.md'}")
    if failed:
        log(f"{len(failed)} of {len(cells)} cells failed: " + ", ".join(failed) + f" (see {folder / 'failed'})")
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        results = run_from_arguments(args, log=lambda m: print(m, file=sys.stderr, flush=True))
    except (ValueError, ConnectionError) as exc:
        print(f"reproduce: error: {exc}", file=sys.stderr)
        return 2
    return 1 if results["failed"] else 0


def run_from_arguments(args: argparse.Namespace, log: Callable[[str], None]) -> dict[str, Any]:
    """:func:`reproduce` with the arguments of :func:`add_arguments`."""
    return reproduce(args.preset, args.out, args.seeds, args.tasks, log=log, algo=args.algo, backend=args.backend,
                     workers=args.workers, address=args.address)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", default="quick", help=f"one of {sorted(PRESETS)}")
    parser.add_argument("--out", default="runs/reproduce", help="the study's folder (reused to resume)")
    parser.add_argument("--seeds", type=int, default=None,
                        help="seeds per task and trainer (default: quick 1, full 5); more than a finished study's "
                             "extend it")
    parser.add_argument("--tasks", nargs="+", default=None, metavar="NAME",
                        help=f"a subset of {[t.name for t in TASKS]}")
    parser.add_argument("--algo", default="rl2", metavar="{rl2,recurrent-ppo,both}",
                        help="the bandit tasks' trainer: rl2 (agents.rl2, the default), recurrent-ppo "
                             "(sb3-contrib's RecurrentPPO) or both side by side")
    parser.add_argument("--backend", default="local", metavar="{local,ray,serial}",
                        help="local: a process pool on this machine (default); ray: a Ray cluster (--address) or "
                             "a Ray instance started here; serial: one cell after another in this process")
    parser.add_argument("--workers", type=int, default=None,
                        help="cells at a time (default: local, the cores over the preset's threads per cell)")
    parser.add_argument("--address", default=None, help="the Ray cluster: host:port, ray://host:port or auto")


if __name__ == "__main__":
    raise SystemExit(main())
