"""Run folders: prepare one for training, write and read its checkpoint, load its trained agent.

A run folder holds ``config.json`` (the trainer's config, with an ``algo`` key naming the
trainer in :mod:`agents.registry`), ``checkpoint.pt``, TensorBoard logs under ``tb/`` and, for
a run trained with ``snapshots``, the weights at a few log-spaced points of training under
``snapshots/`` (:func:`list_snapshots`; :mod:`agents.training` says when they are written).
:func:`prepare_run` makes or reopens one; :func:`save_checkpoint` and :func:`load_checkpoint`
write and read the checkpoint (and the snapshots), which hold tensors and plain data only and
are read with ``torch.load(weights_only=True)``, so no pickled code runs; :func:`load_run`
hands a folder (and optionally one of its snapshots) to its trainer's loader and returns the
agent as a state machine.
"""

from __future__ import annotations

import importlib
import json
import os
import pickle
import re
from collections.abc import Callable
from dataclasses import MISSING, asdict, fields
from pathlib import Path
from typing import Any

from bayes.files import check_folder, make_folder, write_atomically, write_json

__all__ = ["REMEDY", "SNAPSHOTS", "check_run_config", "config_from_dict", "config_json", "env_signature",
           "list_snapshots", "load_checkpoint", "load_run", "load_run_folder", "prepare_run", "read_config", "run_algo",
           "save_checkpoint", "snapshot_path"]

#: What to do about a run folder that cannot be read.
REMEDY = "delete the folder, or train into a new one"

#: The folder of a run's snapshots, inside the run folder: ``snapshots/<progress, 12 digits>.pt``.
SNAPSHOTS = "snapshots"
_SNAPSHOT_NAME = re.compile(r"^(\d+)\.pt$")


def snapshot_path(out: str | os.PathLike[str], progress: int) -> Path:
    """The file of the snapshot at ``progress`` (the trainer's count: env steps or gradient steps)
    in the run folder ``out``: ``out/snapshots/<progress, zero-padded to 12 digits>.pt``."""
    return Path(out) / SNAPSHOTS / f"{int(progress):012d}.pt"


def list_snapshots(out: str | os.PathLike[str]) -> list[tuple[int, Path]]:
    """``[(progress, path)]`` of the snapshots in the run folder ``out``, by increasing progress
    (empty if it has none). Only files named like :func:`snapshot_path`'s count."""
    folder = Path(out) / SNAPSHOTS
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _SNAPSHOT_NAME.match(p.name)) and p.is_file()]
    return sorted(found)


def check_run_config(out: Path, current: dict[str, Any], ignore: tuple[str, ...] = (),
                     defaults: dict[str, Any] | None = None) -> None:
    """Refuse ``out`` if its ``config.json`` is unreadable or differs from ``current`` outside ``ignore``
    (the keys a resumed run may change, such as its budget). A key that an older ``config.json``
    lacks compares as its value in ``defaults`` (the config class's defaults, which loading it
    gives it: a field added since, such as ``snapshots``)."""
    path = out / "config.json"
    if not path.exists():
        return
    previous = read_config(path)
    previous = {**{k: v for k, v in (defaults or {}).items() if k not in previous}, **previous}
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


def _field_defaults(config: Any) -> dict[str, Any]:
    """The default of every field of ``config``'s dataclass that has one, as in ``config.json``."""
    values = {}
    for f in fields(config):
        if f.default is not MISSING:
            values[f.name] = f.default
        elif f.default_factory is not MISSING:
            values[f.name] = f.default_factory()
    return json.loads(json.dumps(values))


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
    check_run_config(out, current, ignore=resumable, defaults=_field_defaults(config))
    make_folder(out, "the run folder (--out)")
    if not (out / "config.json").exists():
        write_json(out / "config.json", current)
    return out


def save_checkpoint(payload: dict[str, Any], path: Path, config: Any, update_config: bool = True) -> None:
    """``torch.save`` of ``payload`` and the env signature of ``config`` (:func:`env_signature`),
    atomically: a crash never leaves a half-written checkpoint. Then (``update_config``; not for a
    snapshot, which lies one folder down) ``config.json`` beside it is brought up to ``config``
    (a resumed run may have changed its budget or time limit)."""
    import torch

    write_atomically(path, lambda handle: torch.save({**payload, "env": env_signature(config)}, handle))
    if not update_config:
        return
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
        saved = torch.load(path, weights_only=True, map_location="cpu")  # onto any device after
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
                    build: Callable[[Any, dict[str, Any]], Any],
                    checkpoint: str | os.PathLike[str] | None = None) -> tuple[Any, Any]:
    """``(build(config, saved), config)`` from ``config.json`` and ``checkpoint.pt``, or the
    ``checkpoint`` file given instead (a snapshot: :func:`list_snapshots`), which holds the same
    weights under the same keys; any failure is a ``ValueError`` saying that ``out_dir`` holds no
    readable ``label`` run."""
    out = Path(out_dir)
    path = out / "checkpoint.pt" if checkpoint is None else Path(checkpoint)
    try:
        config = from_dict(read_config(out / "config.json"))
        config.validate()
        return build(config, load_checkpoint(path, config)), config
    except _READ_ERRORS as exc:
        reason = str(exc) if isinstance(exc, ValueError) else (
            f"{path} is corrupt or of another network ({type(exc).__name__}: {exc}); {REMEDY}")
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


def load_run(run_dir: str | os.PathLike[str], checkpoint: str | os.PathLike[str] | None = None) -> tuple[Any, Any]:
    """``(machine, config)``: the trained agent of ``run_dir`` as a StateMachine, and its config;
    with ``checkpoint`` (one of its snapshots, :func:`list_snapshots`), the agent of that file,
    built by the same loader of the trainer (called as ``loader(run_dir, checkpoint=...)``)."""
    from agents.registry import trainer

    entry = trainer(run_algo(run_dir))
    if checkpoint is None:
        return entry.load(run_dir)
    return getattr(importlib.import_module(entry.module), entry.load_name)(run_dir, checkpoint=checkpoint)
