"""The study end to end: meta-train agents on the task suite, compare them with the Bayes agents.

Usage::

    meta-bayes reproduce --preset quick|full [--out DIR] [--seeds N] [--tasks NAME ...] [--algo rl2]
    python -m benchmarks.reproduce --preset quick

``--algo rl2`` adds, beside every bandit task trained with RecurrentPPO (the reference
baseline, kept in the report), the same task trained with the fast batched trainer
(:mod:`agents.rl2`), named ``<task>-rl2``.

For every task of :data:`TASKS` and every seed: train (or reuse a finished run in
``DIR/runs``), evaluate against the Bayes agent on paired episodes at the trained horizon and
at ``generalisation_factor`` times it, and run the simulation analysis; then write
``DIR/report.md``, ``DIR/results.json`` and the figures under ``DIR/figures``. Each finished
step of a task is recorded in ``DIR/results/<task>-seed<k>.json``, so an interrupted study
resumes where it stopped (an unfinished training run resumes from its checkpoint). Each task
and seed is a :class:`benchmarks.cells.Cell`, the same job a sweep (:mod:`benchmarks.sweep`)
runs over a grid of settings.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import gymnasium as gym

import meta_envs
from agents.bandit_eval import BANDIT_ENVS
from bayes.files import write_json
from benchmarks.cells import Cell, run_cell

__all__ = ["BANDIT_ALGOS", "PRESETS", "TASKS", "Task", "main", "reproduce", "task_cell", "with_algo"]


@dataclass(frozen=True)
class Task:
    """One task of the suite: an env with its arguments and the algorithm that meta-trains on it."""

    name: str
    env_id: str
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    algo: str = "supervised"

    @property
    def bandit(self) -> bool:
        return self.env_id in BANDIT_ENVS


TASKS: tuple[Task, ...] = (
    Task("coin-fair", "MetaCoin-v0", {"prior": "fair"}),
    Task("coin-bent", "MetaCoin-v0", {"prior": "bent"}),
    Task("die", "MetaDie-v0"),
    Task("gaussian", "MetaGaussian-v0"),
    Task("exponential", "MetaExponential-v0"),
    Task("bandit-2arm", "MetaBandit-v0", {"n_arms": 2}, "recurrent-ppo"),
    Task("bandit-3arm", "MetaBandit-v0", {"n_arms": 3}, "recurrent-ppo"),
    Task("gaussian-bandit", "MetaGaussianBandit-v0", {}, "recurrent-ppo"),
)

#: RecurrentPPO settings for a budget shorter than the preset's own: the entropy bonus falls to 0
#: over the whole budget and the learning rate only to half. Measured on ``MetaBandit-v0`` with
#: 2,048,000 steps: return 12.20 (4,000 held-out episodes) against 11.87 with the 10M-step
#: schedule squeezed into the same budget.
SHORT_BUDGET_SCHEDULE = {"ent_anneal_fraction": 1.0, "learning_rate_final": 5e-4}

#: Budgets of the study. ``quick`` fits in 15 minutes on 2 CPU cores: 25 s per predictor and
#: 2M env steps (about 2 minutes) per bandit agent, still short of convergence; ``full``
#: trains every agent with its own preset's budget (two minutes per predictor, 10M steps per
#: bandit agent, about 15 minutes each), what a paper would report.
#: ``rl2_timesteps`` (``--algo rl2`` only): about a minute of the rl2 trainer in ``quick``, the
#: preset's own budget (about 4 minutes) in ``full``.
PRESETS: dict[str, dict[str, Any]] = {
    "quick": {"supervised_seconds": 25.0, "rppo_timesteps": 2_048_000, "rl2_timesteps": 8_192_000,
              "eval_episodes": 5000, "simulation_episodes": 600, "generalisation_factor": 5, "min_free_mb": 300},
    "full": {"supervised_seconds": 120.0, "rppo_timesteps": None, "rl2_timesteps": None, "eval_episodes": 20_000,
             "simulation_episodes": 2000, "generalisation_factor": 5, "min_free_mb": 1000},
}
BANDIT_ALGOS = ("recurrent-ppo", "rl2")  #: the bandit trainers ``--algo`` may add to the study


def versions() -> dict[str, str]:
    """The versions of Python and of the packages the results depend on."""
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for package in ("meta-bayes", "numpy", "gymnasium", "torch", "stable-baselines3", "sb3-contrib"):
        try:
            out[package] = md.version(package)
        except md.PackageNotFoundError:
            out[package] = "not installed"
    return out


def task_cell(task: Task, seed: int, budget: dict[str, Any]) -> Cell:
    """The cell of ``task`` and ``seed`` under the study's ``budget``."""
    timesteps: int | None = None
    hyperparameters: dict[str, Any] = {}
    if task.algo == "rl2":
        timesteps = budget["rl2_timesteps"]
    elif task.algo == "recurrent-ppo":
        timesteps = budget["rppo_timesteps"]
        if timesteps is not None:  # a short budget: keep learning to its end
            hyperparameters = dict(SHORT_BUDGET_SCHEDULE)
    name = f"{task.name}-seed{seed}"
    return Cell(name=name, task=task.name, env_id=task.env_id, env_kwargs=dict(task.env_kwargs), algo=task.algo,
                seed=seed, config=task.name, hyperparameters=hyperparameters, timesteps=timesteps,
                max_seconds=budget["supervised_seconds"] if task.algo == "supervised" else None,
                eval_episodes=budget["eval_episodes"], eval_seed=1000,
                long_factor=budget["generalisation_factor"], simulation_episodes=budget["simulation_episodes"])


def _check_folder(out: Path, preset_name: str) -> None:
    """Refuse an output folder that holds an incompatible study, or a disk too full, before any work."""
    manifest = out / "study.json"
    if manifest.exists():
        try:
            previous = json.loads(manifest.read_text())
        except ValueError as exc:
            raise ValueError(f"{manifest} is not readable JSON ({exc}): use another --out") from exc
        if previous.get("preset") != preset_name:
            raise ValueError(f"{out} holds a study of preset {previous.get('preset')!r}, not {preset_name!r}: "
                             "use another --out (or the same preset to resume it)")
    elif out.exists() and any(out.iterdir()):
        raise ValueError(f"{out} is not empty and holds no study (no {manifest.name}): use another --out")
    out.mkdir(parents=True, exist_ok=True)
    free_mb = shutil.disk_usage(out).free / 2**20
    need = PRESETS[preset_name]["min_free_mb"]
    if free_mb < need:
        raise ValueError(f"{out} has {free_mb:.0f} MiB free; the {preset_name} study needs about {need} MiB")
    if not manifest.exists():
        write_json(manifest, {"preset": preset_name})


def with_algo(tasks: Sequence[Task], algo: str) -> list[Task]:
    """``tasks``, and after each bandit task the same task trained with ``algo`` (``<name>-<algo>``)
    when ``algo`` is not the suite's own RecurrentPPO."""
    if algo not in BANDIT_ALGOS:
        raise ValueError(f"--algo must be one of {BANDIT_ALGOS}, got {algo!r}")
    out: list[Task] = []
    for task in tasks:
        out.append(task)
        if task.bandit and algo != task.algo:
            out.append(replace(task, name=f"{task.name}-{algo}", algo=algo))
    return out


def reproduce(preset: str = "quick", out: str = "runs/reproduce", seeds: int = 1,
              tasks: Sequence[str] | None = None, log: Callable[[str], None] = print,
              budget: dict[str, Any] | None = None, algo: str = "recurrent-ppo") -> dict[str, Any]:
    """Run the study and write its report; returns the content of ``results.json``.

    ``budget``: entries that replace the preset's (e.g. shorter training in tests). ``algo="rl2"``
    adds the bandit tasks trained with :mod:`agents.rl2` beside the RecurrentPPO ones.
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; known: {sorted(PRESETS)}")
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"--seeds must be an int >= 1, got {seeds!r}")
    names = [t.name for t in TASKS]
    unknown = sorted(set(tasks or ()) - set(names))
    if unknown:
        raise ValueError(f"unknown tasks {unknown}; known: {names}")
    chosen = with_algo([t for t in TASKS if tasks is None or t.name in tasks], algo)
    unknown_keys = sorted(set(budget or {}) - set(PRESETS[preset]))
    if unknown_keys:
        raise ValueError(f"unknown budget keys {unknown_keys}; known: {sorted(PRESETS[preset])}")
    budget = {**PRESETS[preset], **(budget or {})}
    folder = Path(out)
    _check_folder(folder, preset)
    gym.register_envs(meta_envs)
    start = time.perf_counter()
    records = []
    for i, task in enumerate(chosen):
        for seed in range(seeds):
            log(f"task {i + 1}/{len(chosen)}: {task.name} ({task.env_id} {task.env_kwargs or ''}, {task.algo}),"
                f" seed {seed}; {time.perf_counter() - start:.0f} s so far")
            records.append(run_cell(task_cell(task, seed, budget), folder, log, progress_bar=sys.stderr.isatty()))
    log("drawing the figures and writing the report")
    from benchmarks.report import write_report

    results = {"preset": preset, "budget": budget, "seeds": seeds, "versions": versions(),
               "tasks": [asdict(t) for t in chosen], "results": records,
               "seconds": time.perf_counter() - start}
    write_report(folder, results, log)
    log(f"the report is in {folder / 'report.md'}")
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        reproduce(args.preset, args.out, args.seeds, args.tasks, log=lambda m: print(m, file=sys.stderr, flush=True),
                  algo=args.algo)
    except ValueError as exc:
        print(f"reproduce: error: {exc}", file=sys.stderr)
        return 2
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", default="quick", help=f"one of {sorted(PRESETS)}")
    parser.add_argument("--out", default="runs/reproduce", help="the study's folder (reused to resume)")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--tasks", nargs="+", default=None, metavar="NAME",
                        help=f"a subset of {[t.name for t in TASKS]}")
    parser.add_argument("--algo", choices=BANDIT_ALGOS, default="recurrent-ppo",
                        help="rl2: also train every bandit task with the fast batched trainer (agents.rl2), "
                             "beside RecurrentPPO, the reference baseline")


if __name__ == "__main__":
    raise SystemExit(main())
