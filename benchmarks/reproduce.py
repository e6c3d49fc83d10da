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
resumes where it stopped (an unfinished training run resumes from its checkpoint).
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

__all__ = ["ALGOS", "PRESETS", "TASKS", "Task", "main", "reproduce", "with_algo"]


@dataclass(frozen=True)
class Task:
    """One task of the suite: an env with its arguments and the algorithm that meta-trains on it."""

    name: str
    env_id: str
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    algo: str = "supervised"

    @property
    def bandit(self) -> bool:
        return self.algo != "supervised"


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
ALGOS = ("recurrent-ppo", "rl2")  #: the bandit trainers ``--algo`` may add to the study


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for package in ("meta-bayes", "numpy", "gymnasium", "torch", "stable-baselines3", "sb3-contrib"):
        try:
            out[package] = md.version(package)
        except md.PackageNotFoundError:
            out[package] = "not installed"
    return out


def _train(task: Task, run: Path, seed: int, preset: dict[str, Any], log: Callable[[str], None]) -> dict[str, Any]:
    """Train (or resume) the task's agent in ``run``; returns the training time and steps."""
    if task.algo == "rl2":
        from agents.rl2 import preset_config as rl2_config
        from agents.rl2 import train_rl2

        config = rl2_config(task.env_id, task.env_id, task.env_kwargs, seed=seed, timesteps=preset["rl2_timesteps"])
        result = train_rl2(config, run, progress_bar=sys.stderr.isatty(), log=log)
        return {"train_seconds": result["seconds"], "train_steps": result["timesteps"]}
    if task.bandit:
        from agents.recurrent_ppo import preset_config, train_recurrent_ppo

        config = preset_config(task.env_id, task.env_id, task.env_kwargs, seed=seed,
                               timesteps=preset["rppo_timesteps"])
        if preset["rppo_timesteps"] is not None:  # a short budget: keep learning to its end
            config = replace(config, **SHORT_BUDGET_SCHEDULE)
        result = train_recurrent_ppo(config, run, progress_bar=sys.stderr.isatty(), log=log)
        return {"train_seconds": result["seconds"], "train_steps": result["timesteps"]}
    from agents.predictor import train_predictor
    from benchmarks.cli import supervised_config

    config = supervised_config(task.env_id, task.env_kwargs, seed, max_seconds=preset["supervised_seconds"])
    result = train_predictor(config, run, resume=False, log=log)
    horizon = int(gym.make(task.env_id, **task.env_kwargs).unwrapped.horizon)
    steps = result["history"][-1]["step"] if result["history"] else 0
    return {"train_seconds": result["seconds"], "train_steps": steps * config.batch_size * horizon}


def _evaluate(task: Task, run: Path, preset: dict[str, Any], seed: int) -> dict[str, Any]:
    """Paired evaluation at the trained horizon and at ``generalisation_factor`` times it."""
    from benchmarks.cli import run_evaluate

    horizon = int(gym.make(task.env_id, **task.env_kwargs).unwrapped.horizon)
    out: dict[str, Any] = {}
    for label, h in (("trained", horizon), ("long", horizon * preset["generalisation_factor"])):
        episodes = preset["eval_episodes"] if label == "trained" else max(1000, preset["eval_episodes"] // 4)
        summary = run_evaluate(str(run), episodes, h, seed=1000 + seed)
        keys = (("mean_return", "stderr", "bayes_optimal_return", "random_return", "bayes_gap", "paired",
                 "regret_curve") if task.bandit else ("mean_kl", "mean_kl_stderr", "kl_per_step", "log_loss",
                                                      "bayes_log_loss"))
        out[label] = {"horizon": h, "episodes": episodes, **{k: summary[k] for k in keys}}
    return out


def _simulate(run: Path, figures: Path, preset: dict[str, Any], seed: int) -> dict[str, Any]:
    from benchmarks.simulate import run_simulation

    summary = run_simulation(str(run), preset["simulation_episodes"], str(figures), seed=seed)
    keep = ("state_dissimilarity", "state_stderr", "output_dissimilarity", "output_stderr", "return_difference",
            "return_stderr")
    return {
        "reference": summary["reference"],
        "bayes_in_agent": {k: summary["bayes_in_agent"].get(k) for k in keep},
        "agent_in_bayes": {k: summary["agent_in_bayes"].get(k) for k in keep},
        "figures": summary["figures"],
    }


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
        manifest.write_text(json.dumps({"preset": preset_name}, indent=2))


def _task_results(task: Task, seed: int, out: Path, preset: dict[str, Any], log: Callable[[str], None]) -> dict:
    """Train, evaluate and analyse one task and seed, reusing every step already recorded."""
    record_path = out / "results" / f"{task.name}-seed{seed}.json"
    record: dict[str, Any] = json.loads(record_path.read_text()) if record_path.exists() else {}
    record.update({"task": task.name, "env_id": task.env_id, "env_kwargs": task.env_kwargs, "algo": task.algo,
                   "seed": seed})
    run = out / "runs" / f"{task.name}-seed{seed}"
    steps: list[tuple[str, Callable[[], dict[str, Any]]]] = [
        ("training", lambda: _train(task, run, seed, preset, log)),
        ("evaluation", lambda: _evaluate(task, run, preset, seed)),
        ("simulation", lambda: _simulate(run, out / "figures" / f"{task.name}-seed{seed}", preset, seed)),
    ]
    for name, work in steps:
        if name in record:
            log(f"[{task.name} seed {seed}] {name}: reusing the recorded result")
            continue
        log(f"[{task.name} seed {seed}] {name} ...")
        start = time.perf_counter()
        record[name] = work()
        record[name]["seconds"] = time.perf_counter() - start
        record_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = record_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=2))
        tmp.replace(record_path)
        log(f"[{task.name} seed {seed}] {name} done in {record[name]['seconds']:.0f} s")
    return record


def with_algo(tasks: Sequence[Task], algo: str) -> list[Task]:
    """``tasks``, and after each bandit task the same task trained with ``algo`` (``<name>-<algo>``)
    when ``algo`` is not the suite's own RecurrentPPO."""
    if algo not in ALGOS:
        raise ValueError(f"--algo must be one of {ALGOS}, got {algo!r}")
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
            records.append(_task_results(task, seed, folder, budget, log))
    log("drawing the figures and writing the report")
    from benchmarks.report import write_report

    results = {"preset": preset, "budget": budget, "seeds": seeds, "versions": _versions(),
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
    parser.add_argument("--algo", choices=ALGOS, default="recurrent-ppo",
                        help="rl2: also train every bandit task with the fast batched trainer (agents.rl2), "
                             "beside RecurrentPPO, the reference baseline")


if __name__ == "__main__":
    raise SystemExit(main())
