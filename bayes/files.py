"""Writing files atomically: a reader (or a crash) never sees half a file.

Every file the project writes that a later run reads back (checkpoints, ``config.json``,
study records, the Gittins cache) goes through :func:`write_atomically`: the content is
written to a temporary file in the same folder, flushed to disk, then renamed over the
target with :func:`os.replace`, which is atomic on POSIX and Windows file systems.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

__all__ = ["check_folder", "make_folder", "write_atomically", "write_json", "write_text"]


def check_folder(path: str | os.PathLike[str], what: str) -> Path:
    """``path`` if it is a folder, or could be made one, that this process can write in.

    Checks without leaving anything behind: ``path`` itself, or its nearest existing ancestor,
    must be a folder (not a file) in which a folder can be made (made and removed at once).
    ``ValueError`` naming ``what`` (a flag such as ``--out``) and the path otherwise;
    :func:`make_folder` then makes it.
    """
    if not str(path).strip():
        raise ValueError(f"{what} must name a folder, got an empty path")
    target = Path(path)
    if any(len(part.encode()) > 255 for part in target.parts):
        raise ValueError(f"{what} {target} has a name longer than 255 bytes, more than file systems allow")
    if target.exists() and not target.is_dir():
        raise ValueError(f"{what} {target} is a file, not a folder: name a folder (new or existing)")
    ancestor = target
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ValueError(f"{what} {target} cannot be made: {ancestor} is a file, not a folder")
    try:  # a probe, removed at once: permissions alone miss read-only and virtual file systems (/proc)
        os.rmdir(tempfile.mkdtemp(dir=ancestor, prefix=".meta-bayes-probe-"))
    except OSError:
        raise ValueError(f"{what} {target} cannot be made: {ancestor} is not writable") from None
    return target


def make_folder(path: str | os.PathLike[str], what: str) -> Path:
    """:func:`check_folder`, then make ``path`` (and its parents); an ``OSError`` while making it
    (a read-only file system, say) becomes a ``ValueError`` naming ``what`` and the path."""
    target = check_folder(path, what)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"{what} {target} cannot be made: {exc.strerror or exc}") from None
    return target


def write_atomically(path: str | os.PathLike[str], write: Callable[[IO[bytes]], Any], mode: int = 0o644) -> None:
    """Call ``write(handle)`` on a temporary binary file beside ``path``, then rename it to ``path``.

    The parent folder is created if needed. If ``write`` raises, the temporary file is removed
    and ``path`` keeps its previous content. ``mode``: the permissions of the new file (a
    temporary file is created private, 0600).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp", delete=False)
    try:
        with handle:
            write(handle.file)  # the plain binary file object (io.BufferedRandom) that libraries accept
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(handle.name, mode)
        os.replace(handle.name, target)
    except BaseException:
        try:
            os.unlink(handle.name)
        except OSError:
            pass
        raise


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    write_atomically(path, lambda handle: handle.write(text.encode("utf-8")))


def write_json(path: str | os.PathLike[str], data: Any) -> None:
    """Write ``data`` as indented JSON to ``path`` atomically."""
    write_text(path, json.dumps(data, indent=2))
