"""Run folders: tell what a folder holds and load its trained agent as a state machine.

Every training pipeline writes ``config.json`` with an ``algo`` key (``"supervised"``,
``"recurrent-ppo"``) beside its checkpoint; :func:`load_run` reads it and hands the folder to
the pipeline's own loader. Checkpoints are read with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["ALGOS", "check_run_config", "load_run", "run_algo", "save_checkpoint"]

ALGOS = ("supervised", "recurrent-ppo")


def check_run_config(out: Path, current: dict[str, Any], ignore: tuple[str, ...] = ()) -> None:
    """Refuse ``out`` if its ``config.json`` is unreadable or differs from ``current`` outside ``ignore``
    (the keys a resumed run may change, such as its budget)."""
    path = out / "config.json"
    if not path.exists():
        return
    try:
        previous = json.loads(path.read_text())
    except ValueError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}); use a new folder") from exc
    if {k: v for k, v in previous.items() if k not in ignore} != {k: v for k, v in current.items() if k not in ignore}:
        raise ValueError(f"{out} holds a run of another configuration ({path}); use a new folder")


def save_checkpoint(payload: dict[str, Any], path: Path) -> None:
    """``torch.save`` through a temporary file: a crash never leaves a half-written checkpoint."""
    import torch

    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def run_algo(run_dir: str | os.PathLike[str]) -> str:
    """The ``algo`` of the run in ``run_dir``; ``ValueError`` saying what is missing or wrong."""
    out = Path(run_dir)
    if not out.is_dir():
        raise ValueError(f"{out} is not a folder holding a training run (no such folder)")
    path = out / "config.json"
    if not path.is_file():
        raise ValueError(f"{out} does not hold a training run: {path} is missing")
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path} is not readable JSON: {exc}") from exc
    algo = config.get("algo") if isinstance(config, dict) else None
    if algo not in ALGOS:
        raise ValueError(f"{path} names algo {algo!r}; known: {ALGOS}")
    return str(algo)


def load_run(run_dir: str | os.PathLike[str]) -> tuple[Any, Any]:
    """``(machine, config)``: the trained agent of ``run_dir`` as a StateMachine, and its config."""
    algo = run_algo(run_dir)
    if algo == "supervised":
        from agents.predictor import load_predictor

        return load_predictor(run_dir)
    from agents.recurrent_ppo import load_recurrent_ppo

    return load_recurrent_ppo(run_dir)
