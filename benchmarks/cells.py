"""One cell of a study: train an agent, evaluate it against the Bayes agent, run the simulation analysis.

A :class:`Cell` is everything that defines one such job: the task (env id and arguments), the
training algorithm, its preset and hyperparameters, the budget, the seed, and how to evaluate.
The reproduction study (:mod:`benchmarks.reproduce`) runs a fixed list of cells one after
another; a sweep (:mod:`benchmarks.sweep`) runs a grid of them on a process pool or a Ray
cluster. Both lay out their folder the same way, so one report reads either::

    DIR/runs/<cell>/             the training run (config, checkpoint, TensorBoard logs)
    DIR/results/<cell>.json      the record: the cell and each finished step's result
    DIR/figures/<cell>/          the simulation analysis's pictures

:func:`run_cell` records each step (training, evaluation, simulation) as soon as it finishes,
so an interrupted cell resumes at the step it stopped in (an unfinished training run from its
checkpoint). A record made with other settings is refused rather than mixed with new results.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agents.bandit_eval import BANDIT_ENVS, base_env
from agents.evaluation import evaluate_run
from agents.registry import train as train_run
from agents.registry import trainer
from agents.registry import training_config as registry_config
from bayes.files import write_json

__all__ = ["FIXED_KEYS", "STEPS", "Cell", "algo_fields", "cell_finished", "read_record", "record_path", "run_cell",
           "training_config", "versions"]

STEPS = ("training", "evaluation", "shifted", "simulation")  #: the steps of a cell, in order
#: Config fields a cell sets itself (``seed``, the budget, the env), never through its hyperparameters.
FIXED_KEYS = ("env_id", "env_kwargs", "algo", "seed", "timesteps", "steps", "torch_threads")


@dataclass(frozen=True)
class Cell:
    """One train + evaluate (+ simulate) job.

    ``timesteps``: the training budget in env steps (predictions for ``supervised``); None: the
    preset's own budget, or for ``supervised`` a budget of ``max_seconds`` of training (a time
    budget does not give the same numbers on another machine). ``threads``: torch threads of the
    job (None: the preset's own). The agent is evaluated on ``eval_episodes`` episodes with seed
    ``eval_seed + seed`` at the trained horizon, and when ``long_factor`` is set on
    ``long_episodes`` episodes at ``long_factor`` times it; ``simulation_episodes=None`` skips
    the simulation analysis. ``reference`` (:data:`agents.bandit_eval.REFERENCES`): what a bandit
    agent is paired with at the trained horizon where the exact DP does not fit. ``shifts``
    (label to env arguments over the trained ones) adds the step ``shifted``: the agent evaluated
    on each shifted task distribution against Bayes under the training prior and under the
    shifted one (``meta-bayes evaluate --set``). ``config``
    names the cell's settings without its seed: the cells of one config differ only by seed,
    and a sweep aggregates over them.
    """

    name: str
    task: str
    env_id: str
    algo: str
    seed: int
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    config: str = ""
    preset: str | None = None
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    timesteps: int | None = None
    max_seconds: float | None = None
    threads: int | None = None
    eval_episodes: int = 5000
    eval_seed: int = 1000
    long_factor: int | None = 5
    long_episodes: int | None = None
    reference: str = "default"
    simulation_episodes: int | None = 600
    shifts: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def bandit(self) -> bool:
        return self.env_id in BANDIT_ENVS

    @property
    def run(self) -> str:
        """The run folder, relative to the study's folder."""
        return f"runs/{self.name}"

    def as_dict(self) -> dict[str, Any]:
        """The cell as plain JSON data (tuples become lists), as stored in its record."""
        return json.loads(json.dumps(asdict(self)))


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


def algo_fields(algo: str) -> set[str]:
    """The config fields of ``algo``'s trainer that a cell's hyperparameters may set."""
    return trainer(algo).fields() - set(FIXED_KEYS)


def training_config(cell: Cell) -> Any:
    """The validated training config of ``cell`` (``ValueError`` naming what is wrong)."""
    fields = algo_fields(cell.algo)  # refuses an unknown algo
    fixed = sorted(set(cell.hyperparameters) & set(FIXED_KEYS))
    if fixed:
        raise ValueError(f"hyperparameters cannot set {fixed}: the cell sets them (seed, timesteps, threads, task)")
    unknown = sorted(set(cell.hyperparameters) - fields)
    if unknown:
        raise ValueError(f"unknown {cell.algo} hyperparameters {unknown}; known: {sorted(fields)}")
    settings = dict(cell.hyperparameters)
    if cell.threads is not None and "torch_threads" in trainer(cell.algo).fields():
        settings["torch_threads"] = cell.threads
    if cell.max_seconds is not None:
        settings["max_seconds"] = cell.max_seconds
    return registry_config(cell.algo, cell.env_id, cell.env_kwargs, cell.seed, cell.preset, cell.timesteps, settings)


def horizon_of(cell: Cell) -> int:
    """The trained horizon of the cell's env (``ValueError`` naming a bad env argument)."""
    return int(base_env(cell.env_id, cell.env_kwargs).horizon)


def train(cell: Cell, run: Path, log: Callable[[str], None], progress_bar: bool = False) -> dict[str, Any]:
    """Train (or resume) the cell's agent in ``run``; returns the training time and env steps."""
    result = train_run(training_config(cell), run, progress_bar=progress_bar, log=log)
    return {"train_seconds": result["train_seconds"], "train_steps": result["train_steps"]}


def evaluate(cell: Cell, run: Path) -> dict[str, Any]:
    """Paired evaluation at the trained horizon and (``long_factor``) at a multiple of it."""
    horizon = horizon_of(cell)
    horizons = [("trained", horizon, cell.eval_episodes)]
    if cell.long_factor is not None:
        horizons.append(("long", horizon * cell.long_factor,
                         cell.long_episodes or max(1000, cell.eval_episodes // 4)))
    keys = (("mean_return", "stderr", "bayes_optimal_return", "random_return", "bayes_gap", "paired", "regret_curve",
             "regret_curve_stderr", "reference_regret_curve", "reference_regret_curve_stderr", "random_step_regret",
             "references")
            if cell.bandit else ("mean_kl", "mean_kl_stderr", "kl_per_step", "kl_per_step_stderr", "log_loss",
                                 "bayes_log_loss"))
    out: dict[str, Any] = {}
    for label, h, episodes in horizons:
        # the Gaussian bandit's index policies at the trained horizon only: the claims read them there
        summary = evaluate_run(run, episodes, h, seed=cell.eval_seed + cell.seed, references=label == "trained",
                               reference=cell.reference if label == "trained" else "default")
        out[label] = {"horizon": h, "episodes": episodes, **{k: summary[k] for k in keys if k in summary}}
    return out


def evaluate_shifted(cell: Cell, run: Path) -> dict[str, Any]:
    """The agent on each of the cell's shifted task distributions, at the trained horizon:
    ``{label: summary}`` with the two Bayes references (:func:`agents.evaluation.evaluate_run`)."""
    keys = (("mean_return", "stderr", "bayes_optimal_return", "paired", "bayes_references") if cell.bandit
            else ("mean_kl", "mean_kl_stderr", "log_loss", "bayes_log_loss", "bayes_references"))
    out: dict[str, Any] = {}
    for label, settings in cell.shifts.items():
        summary = evaluate_run(run, cell.eval_episodes, seed=cell.eval_seed + cell.seed, references=False,
                               settings=settings)
        out[label] = {"settings": settings, "episodes": cell.eval_episodes,
                      **{k: summary[k] for k in keys if k in summary}}
    return out


def simulate(cell: Cell, run: Path, figures: Path) -> dict[str, Any]:
    """The simulation analysis between the trained agent and its Bayes agent, with its pictures."""
    from benchmarks.simulate import run_simulation

    summary = run_simulation(str(run), cell.simulation_episodes, str(figures), seed=cell.seed)
    keep = ("state_dissimilarity", "state_stderr", "output_dissimilarity", "output_stderr", "return_difference",
            "return_stderr")
    return {
        "reference": summary["reference"],
        "bayes_in_agent": {k: summary["bayes_in_agent"].get(k) for k in keep},
        "agent_in_bayes": {k: summary["agent_in_bayes"].get(k) for k in keep},
        "figures": summary["figures"],
    }


def record_path(out: Path, name: str) -> Path:
    return out / "results" / f"{name}.json"


def read_record(out: Path, cell: Cell) -> dict[str, Any]:
    """The cell's record so far (empty if none); ``ValueError`` if it was made with other settings."""
    path = record_path(out, cell.name)
    if not path.exists():
        return {}
    try:
        record = json.loads(path.read_text())
    except ValueError as exc:
        raise ValueError(f"{path} is not readable JSON ({exc}): delete it to run the cell again") from exc
    stored = record.get("cell")
    current = cell.as_dict()
    if stored is not None:  # a field added since the record was made: the record is extended, not refused
        stored = {**{k: v for k, v in current.items() if k not in stored}, **stored}
    if stored is not None and stored != current:
        changed = sorted(k for k in set(stored) | set(current) if stored.get(k) != current.get(k))
        raise ValueError(f"{path} holds cell {cell.name!r} made with other settings (they differ in {changed}): "
                         "use another folder, or delete the cell's record and run folder")
    return record


def cell_finished(record: dict[str, Any], cell: Cell) -> bool:
    """Whether ``record`` holds every step ``cell`` asks for."""
    return all(step in record for step in _steps(cell))


def _steps(cell: Cell) -> tuple[str, ...]:
    """The steps ``cell`` asks for, in order: :data:`STEPS` without those it leaves out."""
    return tuple(step for step in STEPS if (step != "simulation" or cell.simulation_episodes is not None)
                 and (step != "shifted" or cell.shifts))


def run_cell(cell: Cell, out: Path, log: Callable[[str], None] = print, progress_bar: bool = False) -> dict[str, Any]:
    """Train, evaluate and analyse ``cell`` in ``out``, reusing every step already recorded; returns
    the record (also written to ``out/results/<cell>.json`` after each step)."""
    out = Path(out)
    record = read_record(out, cell)
    record.update({"task": cell.task, "env_id": cell.env_id, "env_kwargs": cell.env_kwargs, "algo": cell.algo,
                   "seed": cell.seed, "config": cell.config or cell.name, "run": cell.run, "cell": cell.as_dict()})
    run = out / cell.run
    work_of: dict[str, Callable[[], dict[str, Any]]] = {
        "training": lambda: train(cell, run, log, progress_bar),
        "evaluation": lambda: evaluate(cell, run),
        "shifted": lambda: evaluate_shifted(cell, run),
        "simulation": lambda: simulate(cell, run, out / "figures" / cell.name),
    }
    for name, work in ((step, work_of[step]) for step in _steps(cell)):
        if name in record:
            log(f"[{cell.name}] {name}: reusing the recorded result")
            continue
        log(f"[{cell.name}] {name} ...")
        start = time.perf_counter()
        record[name] = work()
        record[name]["seconds"] = time.perf_counter() - start
        write_json(record_path(out, cell.name), record)
        log(f"[{cell.name}] {name} done in {record[name]['seconds']:.0f} s")
    return record
