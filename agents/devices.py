"""Where a trainer's network runs: ``--device auto|cpu|cuda`` for the rl2 and supervised trainers.

The envs step in numpy on the CPU whatever the device; a trainer on CUDA sends each step's
observations (and a batch's rewards and belief features) to the device through page-locked
("pinned") host memory, asynchronously, and brings the sampled actions back (the action sampler
draws its uniforms on the CPU from the trainer's own generator, so the actions' random stream is
the same on every device). Checkpoints are read onto the CPU first (``map_location="cpu"``) and
then copied onto the network's device, so a run trained on one device loads and resumes on the
other.

- ``cpu``: the default, so that the same seed gives the same numbers on every machine;
- ``cuda``: the first CUDA device; refused in one line where torch sees none;
- ``auto``: CUDA where torch sees a device, else the CPU.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

__all__ = ["CPU", "DEVICES", "check_device", "resolve_device", "to_device"]

DEVICES = ("cpu", "cuda", "auto")  #: what ``device`` (``--device``) may name
CPU = torch.device("cpu")


def check_device(name: Any, flag: str = "device") -> str:
    """``name`` if it is one of :data:`DEVICES` and usable here; ``ValueError`` naming ``flag`` otherwise
    (``cuda`` where torch sees no CUDA device included)."""
    if name not in DEVICES:
        raise ValueError(f"{flag} must be one of {DEVICES}, got {name!r}")
    if name == "cuda" and not torch.cuda.is_available():
        build = f"with CUDA {torch.version.cuda}" if torch.version.cuda else "for the CPU only"
        raise ValueError(f"{flag} cuda: torch sees no CUDA device here (torch.cuda.is_available() is False; torch "
                         f"{torch.__version__}, built {build}): use cpu, or auto to take CUDA where there is one")
    return str(name)


def resolve_device(name: str) -> torch.device:
    """The torch device of ``name`` (:func:`check_device` first): ``auto`` is CUDA where torch sees one."""
    name = check_device(name)
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def to_device(array: np.ndarray, device: torch.device) -> torch.Tensor:
    """A numpy array as a tensor on ``device``: shared with the array on the CPU (no copy); through
    pinned memory, without waiting for the copy, on CUDA."""
    tensor = torch.from_numpy(array)
    if device.type == "cpu":
        return tensor
    return tensor.pin_memory().to(device, non_blocking=True)
