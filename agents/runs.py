"""Run folders: prepare one for training, write and read its checkpoint, load its trained agent.

A run folder holds ``config.json`` (the trainer's config, with an ``algo`` key naming the
trainer in :mod:`agents.registry`), ``checkpoint.pt`` and TensorBoard logs under ``tb/``.
:func:`prepare_run` makes or reopens one; :func:`save_checkpoint` and :func:`load_checkpoint`
write and read the checkpoint, which holds tensors and plain data only and is read with
``torch.load(weights_only=True)``, so no pickled code runs; :func:`load_run` hands a folder to
its trainer's loader and returns the agent as a state machine.
"""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Callable
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from bayes.files import check_folder, make_folder, write_atomically, write_json

__all__ = ["REMEDY", "check_run_config", "config_from_dict", "config_json", "env_signature", "load_checkpoint",
           "load_run", "load_run_folder", "prepare_run", "read_config", "run_algo", "save_checkpoint"]

#: What to do about a run folder that cannot be read.
REMEDY = "delete the folder, or train into a new one"


def check_run_config(out: Path, current: dict[str, Any], ignore: tuple[str, ...] = ()) -> None:
    """Refuse ``out`` if its ``config.json`` is unreadable or differs from ``current`` outside ``ignore``
    (the keys a resumed run may change, such as its budget)."""
    path = out / "config.json"
    if not path.exists():
        return
    previous = read_config(path)
    if {k: v for k, v in previous.items() if k not in ignore} != {k: v for k, v in current.items() if k not in ignore}:
        raise ValueError(f"{out} holds a run of another configuration ({path}); use a new folder")


def read_config(path: Path) -> dict[str, Any]:
    """The mapping in a run's ``config.json``; ``ValueError`` naming ``path`` and what to do if it
    cannot be read, is not JSON (or nests too deeply to parse) or holds anything but a mapping."""
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError) as exc:
        raise ValueError(f"{path} is not readable JSON ({exc}); {REMEDY}") from None
    if not isinstance(config, dict):
        raise ValueError(f"{path} holds a {type(config).__name__}, not a run's config; {REMEDY}")
    return config


def config_from_dict(cls: type, values: dict[str, Any], label: str) -> Any:
    """``cls(**values)`` for a dataclass config; ``ValueError`` naming unknown keys first."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown {label} config keys {unknown}; known: {sorted(known)}")
    return cls(**values)


def config_json(config: Any) -> dict[str, Any]:
    """``config`` as it reads back from ``config.json`` (tuples become lists)."""
    return json.loads(json.dumps(asdict(config)))


def prepare_run(config: Any, out_dir: str | os.PathLike[str], resumable: tuple[str, ...] = ()) -> Path:
    """Make or reopen the run folder ``out_dir`` for ``config``; returns its path.

    In order, before anything is written: ``config.validate()``; the env is made, so its own
    checks of ``env_kwargs`` run (``config.make_env()``); a folder whose ``config.json`` is
    unreadable or holds another configuration (outside the fields in ``resumable``, which a
    resumed run may change, such as its budget) is refused. Then the folder is made and, for a
    new run, ``config.json`` written (atomically). A resumed run's ``config.json`` keeps the
    configuration of its checkpoint until the new session writes a checkpoint of its own
    (:func:`save_checkpoint` rewrites it), so the two never disagree.
    """
    config.validate()
    config.make_env()
    out = check_folder(out_dir, "the run folder (--out)")
    current = config_json(config)
    check_run_config(out, current, ignore=resumable)
    make_folder(out, "the run folder (--out)")
    if not (out / "config.json").exists():
        write_json(out / "config.json", current)
    return out


def save_checkpoint(payload: dict[str, Any], path: Path, config: Any) -> None:
    """``torch.save`` of ``payload`` and the env signature of ``config`` (:func:`env_signature`),
    atomically: a crash never leaves a half-written checkpoint. Then ``config.json`` beside it
    is brought up to ``config`` (a resumed run may have changed its budget or time limit)."""
    import torch

    write_atomically(path, lambda handle: torch.save({**payload, "env": env_signature(config)}, handle))
    current = config_json(config)
    config_path = path.parent / "config.json"
    try:
        unchanged = read_config(config_path) == current
    except ValueError:  # missing or unreadable: write it
        unchanged = False
    if not unchanged:
        write_json(config_path, current)


def env_signature(config: Any) -> str:
    """The env a checkpoint was made for: its id and arguments, as one string."""
    return json.dumps({"env_id": config.env_id, "env_kwargs": config.env_kwargs}, sort_keys=True)


def load_checkpoint(path: Path, config: Any) -> dict[str, Any]:
    """``torch.load(path, weights_only=True)``; ``ValueError`` if it was made for another env than
    ``config``'s (see :func:`env_signature`; a checkpoint that names no env passes)."""
    import torch

    try:
        saved = torch.load(path, weights_only=True)
    except _READ_ERRORS as exc:
        raise ValueError(f"{path} is corrupt: {_read_failure(path, exc)}; {REMEDY}") from None
    if not isinstance(saved, dict):
        raise ValueError(f"{path} is corrupt: it holds a {type(saved).__name__}, not a checkpoint; {REMEDY}")
    if saved.get("env", env_signature(config)) != env_signature(config):
        raise ValueError(f"{path} was made for {saved.get('env')}, not for {env_signature(config)}")
    return saved


_READ_ERRORS = (OSError, ValueError, TypeError, KeyError, RuntimeError, EOFError, AttributeError,
                pickle.UnpicklingError)


def _read_failure(path: Path, exc: BaseException) -> str:
    """Why ``path`` could not be read, in a few words: never torch's long advice (to load with
    ``weights_only=False``, which would run the pickled code of an untrusted file)."""
    try:
        size = path.stat().st_size
    except OSError:
        return "it cannot be opened"
    if size == 0:
        return "it is empty"
    if isinstance(exc, (EOFError, OSError)) or "zip" in str(exc).lower() or "central directory" in str(exc):
        return f"it is truncated or not a torch file ({size} bytes)"
    return f"it is not a checkpoint written by meta-bayes ({type(exc).__name__})"


def load_run_folder(out_dir: str | os.PathLike[str], from_dict: Callable[[dict[str, Any]], Any], label: str,
                    build: Callable[[Any, dict[str, Any]], Any]) -> tuple[Any, Any]:
    """``(build(config, checkpoint), config)`` from ``config.json`` and ``checkpoint.pt``; any
    failure is a ``ValueError`` saying that ``out_dir`` holds no readable ``label`` run."""
    out = Path(out_dir)
    try:
        config = from_dict(read_config(out / "config.json"))
        config.validate()
        return build(config, load_checkpoint(out / "checkpoint.pt", config)), config
    except _READ_ERRORS as exc:
        reason = str(exc) if isinstance(exc, ValueError) else (
            f"{out / 'checkpoint.pt'} is corrupt or of another network ({type(exc).__name__}: {exc}); {REMEDY}")
        raise ValueError(f"{out} does not hold a readable {label} run: {reason}") from None


def run_algo(run_dir: str | os.PathLike[str]) -> str:
    """The ``algo`` of the run in ``run_dir``; ``ValueError`` saying what is missing or wrong."""
    from agents.registry import TRAINERS

    out = Path(run_dir)
    if not out.is_dir():
        raise ValueError(f"{out} is not a folder holding a training run (no such folder)")
    path = out / "config.json"
    if not path.is_file():
        raise ValueError(f"{out} does not hold a training run: {path} is missing")
    algo = read_config(path).get("algo")
    if algo not in TRAINERS:
        raise ValueError(f"{path} names algo {algo!r}; known: {tuple(TRAINERS)}")
    return str(algo)


def load_run(run_dir: str | os.PathLike[str]) -> tuple[Any, Any]:
    """``(machine, config)``: the trained agent of ``run_dir`` as a StateMachine, and its config."""
    from agents.registry import trainer

    return trainer(run_algo(run_dir)).load(run_dir)
