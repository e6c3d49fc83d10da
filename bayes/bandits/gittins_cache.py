"""The disk cache of Gittins indices and tables: one ``.npy`` file per result.

The folder is ``$META_BAYES_CACHE`` (:data:`CACHE_ENV`), by default
``~/.cache/meta-bayes/gittins``, read at every call (a test or a run may point it elsewhere).
A file is named by a hash of the kind of result and of every argument that determines it
(:func:`cache_path`). Files are written atomically with :func:`bayes.files.write_atomically`
(a reader never sees half a file), and a cache that cannot be written is skipped without an
error; a file is checked when read, and one that is missing, damaged or fails the check reads
as ``None`` (the caller recomputes and stores it again).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bayes.files import write_atomically

__all__ = ["CACHE_ENV", "cache_dir", "cache_path", "load", "store"]

#: Environment variable naming the cache directory.
CACHE_ENV = "META_BAYES_CACHE"

_VERSION = 1  # part of every key: a change of the stored format starts a new set of files


def cache_dir() -> Path:
    """The cache folder: ``$META_BAYES_CACHE`` if set, else ``~/.cache/meta-bayes/gittins``."""
    configured = os.environ.get(CACHE_ENV)
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "meta-bayes" / "gittins"


def cache_path(kind: str, *key: float) -> Path:
    """The file of the result ``kind`` (``"table"``, ``"index"``) for the arguments ``key``."""
    text = f"v{_VERSION}-{kind}-" + "-".join(repr(float(k)) for k in key)
    digest = hashlib.sha256(text.encode()).hexdigest()[:24]
    return cache_dir() / f"{kind}-{digest}.npy"


def load(path: Path, check: Callable[[np.ndarray], bool]) -> np.ndarray | None:
    """The float64 array at ``path`` if it exists, loads and passes ``check``; else ``None``."""
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    if not isinstance(array, np.ndarray) or array.dtype != np.float64 or not check(array):
        return None
    return array


def store(path: Path, array: np.ndarray) -> None:
    """Write ``array`` to ``path`` atomically (mode 0644); a cache that cannot be written is skipped."""
    try:
        write_atomically(path, lambda handle: np.save(handle, array, allow_pickle=False))
    except OSError:
        pass
