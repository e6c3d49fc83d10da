"""Run folders: tell what a folder holds and load its trained agent as a state machine.

Every training pipeline writes ``config.json`` with an ``algo`` key (``"supervised"``,
``"recurrent-ppo"``, ``"rl2"``) beside its checkpoint; :func:`load_run` reads it and hands the folder to
the pipeline's own loader. Checkpoints are read with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

from bayes.validation import check_int, check_number

__all__ = ["ALGOS", "check_actor_critic", "check_run_config", "config_from_dict", "env_signature",
           "linear_schedule", "load_env_checkpoint", "load_run", "load_run_folder", "preset_of", "run_algo",
           "save_checkpoint"]

ALGOS = ("supervised", "recurrent-ppo", "rl2")


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


def config_from_dict(cls: type, values: dict[str, Any], label: str) -> Any:
    """``cls(**values)`` for a dataclass config; ``ValueError`` naming unknown keys first."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown {label} config keys {unknown}; known: {sorted(known)}")
    return cls(**values)


def preset_of(cls: type, presets: dict[str, dict[str, Any]], label: str, preset: str, env_id: str,
              env_kwargs: dict[str, Any] | None, seed: int, timesteps: int | None, overrides: dict[str, Any]) -> Any:
    """The validated config ``cls`` of ``presets[preset]`` for ``env_id``, with ``overrides`` of its
    fields; ``timesteps`` (None: the preset's own budget) also drops ``max_seconds`` and brings
    ``eval_every`` within the budget."""
    if preset not in presets:
        raise ValueError(f"unknown {label} preset {preset!r}; known: {sorted(presets)}")
    values = {**presets[preset], **overrides, "env_id": env_id, "env_kwargs": dict(env_kwargs or {}), "seed": seed}
    if timesteps is not None:
        values["timesteps"] = timesteps
        values["max_seconds"] = None
        values["eval_every"] = min(values.get("eval_every", cls.eval_every), timesteps)
    config = config_from_dict(cls, values, label)
    config.validate()
    return config


def linear_schedule(start: float, end: float, fraction: float, total: int, timesteps: int) -> float:
    """A value going linearly from ``start`` to ``end`` over the first ``fraction`` of ``total`` steps,
    then staying at ``end``: ``end + (start - end) * max(0, 1 - timesteps / (fraction * total))``
    (``fraction <= 0``: ``end`` throughout)."""
    if fraction <= 0:
        return end
    return end + (start - end) * max(0.0, 1.0 - timesteps / (fraction * total))


def check_actor_critic(config: Any) -> None:
    """The checks every actor-critic config shares (seed, learning rates, discounting, loss
    coefficients, head sizes, time limit); ``ValueError`` naming the first field out of range."""
    check_int(config.seed, "seed", 0)
    for name in ("learning_rate", "learning_rate_final"):
        check_number(getattr(config, name), name, 0.0, 1.0)
    for name in ("gamma", "gae_lambda", "ent_anneal_fraction"):
        value = check_number(getattr(config, name), name)
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must lie in [0, 1], got {value}")
    for name in ("clip_range", "ent_coef", "ent_coef_final", "vf_coef", "max_grad_norm"):
        value = check_number(getattr(config, name), name)
        if value < 0:
            raise ValueError(f"{name} must be >= 0, got {value}")
    if not isinstance(config.net_arch, list) or not all(
        isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in config.net_arch
    ):
        raise ValueError(f"net_arch must be a list of positive ints, got {config.net_arch!r}")
    if config.max_seconds is not None:
        check_number(config.max_seconds, "max_seconds", 0.0)


def save_checkpoint(payload: dict[str, Any], path: Path) -> None:
    """``torch.save`` through a temporary file: a crash never leaves a half-written checkpoint."""
    import torch

    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def env_signature(config: Any) -> str:
    """The env a checkpoint was made for: its id and arguments, as one string."""
    return json.dumps({"env_id": config.env_id, "env_kwargs": config.env_kwargs}, sort_keys=True)


def load_env_checkpoint(path: Path, config: Any) -> dict[str, Any]:
    """``torch.load(path, weights_only=True)``; ``ValueError`` if it was made for another env than
    ``config``'s (see :func:`env_signature`)."""
    import torch

    saved = torch.load(path, weights_only=True)
    if saved.get("env") != env_signature(config):
        raise ValueError(f"{path} was made for {saved.get('env')}, not for {env_signature(config)}")
    return saved


_READ_ERRORS = (OSError, ValueError, TypeError, KeyError, RuntimeError, EOFError, pickle.UnpicklingError)


def load_run_folder(out_dir: str | os.PathLike[str], from_dict: Callable[[dict[str, Any]], Any], label: str,
                    build: Callable[[Any, dict[str, Any]], Any]) -> tuple[Any, Any]:
    """``(build(config, checkpoint), config)`` from ``config.json`` and ``checkpoint.pt``; any
    failure is a ``ValueError`` saying that ``out_dir`` holds no readable ``label`` run."""
    out = Path(out_dir)
    try:
        config = from_dict(json.loads((out / "config.json").read_text()))
        config.validate()
        return build(config, load_env_checkpoint(out / "checkpoint.pt", config)), config
    except _READ_ERRORS as exc:
        raise ValueError(f"{out} does not hold a readable {label} run: {exc}") from exc


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
    if algo == "rl2":
        from agents.rl2 import load_rl2

        return load_rl2(run_dir)
    from agents.recurrent_ppo import load_recurrent_ppo

    return load_recurrent_ppo(run_dir)
