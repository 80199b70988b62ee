"""Write outputs under a temporary name and rename them into place.

An interrupted export or report then leaves either the old file or nothing, never a
half-written `.net` or JSON that a later step would trust. A process killed outright
(``kill -9``) cannot remove its temporary file; the next write into that folder does
(:func:`remove_stale_partials`). A folder that cannot be written, or a full disk, is one
:class:`~neurodeploy.core.errors.OutputError` line naming the path.

The rename replaces whatever has the name, so an output may only be a regular file or a
new name in a folder that exists (:func:`check_output`, called by the commands before any
work and again by every write): ``-o /dev/null`` would otherwise turn the device node into
a file, and a mistyped folder would be created wherever it points. Only a folder the user
names as a folder (a run folder) is created.
"""
from __future__ import annotations

import errno
import json
import os
import re
import stat
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from neurodeploy.core.errors import NeurodeployError, OutputError
from neurodeploy.core.paths import input_file, kind, reason, shown_path

#: ``.<name>.partial-<pid>``: the temporary name of a file being written by process ``pid``.
PARTIAL = re.compile(r"^\..+\.partial-(\d+)$")
#: Longest file name (bytes) Linux file systems take; the temporary name must fit too.
NAME_MAX = 255
#: Largest JSON file (manifest, activity) read: far above any real one, far below memory.
MAX_JSON_BYTES = 1 << 26


@contextmanager
def atomic_path(path: str | Path, what: str = "output") -> Iterator[Path]:
    """Yield a temporary sibling of ``path``; rename it to ``path`` only if the block succeeds."""
    path = _checked_target(Path(path), what)
    temporary = _temporary(path)
    try:
        remove_stale_partials(path.parent)
        yield temporary
        os.replace(temporary, path)
    except OSError as error:
        raise output_error(path, error) from None
    finally:
        try:
            temporary.unlink(missing_ok=True)
        except OSError:
            pass  # the folder itself is gone or unwritable: nothing was left in it


def remove_stale_partials(folder: str | Path) -> list[Path]:
    """Delete the temporary files of writers that no longer run (killed mid-write)."""
    removed = []
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = PARTIAL.match(entry.name)
        if match and not _alive(int(match.group(1))):
            try:
                entry.unlink()
                removed.append(entry)
            except OSError:
                pass  # another process cleaned it, or we may not: the write itself will say
    return removed


def check_output(path: str | Path, what: str = "output") -> Path:
    """Refuse, before any work, an output that is not a regular file or a new name in an
    existing folder, or whose folder cannot be written; creates nothing."""
    path = _checked_target(Path(path), what)
    _probe(path.parent, what)
    return path


def check_writable(folder: str | Path, what: str = "output folder") -> Path:
    """Create the folder the user named (a run folder) if needed and prove a file can be
    written there, before any work; refused when it, or a file in it, is not a regular
    file or folder (a run replaces its files there by name)."""
    folder = Path(folder)
    mode = _mode(folder, what)
    if mode is not None and not stat.S_ISDIR(mode):
        raise OutputError(f"{shown_path(folder)}: the {what} is {kind(mode)}, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        entries = list(folder.iterdir())
    except OSError as error:
        raise output_error(folder, error, what) from None
    for entry in entries:
        mode = _mode(entry, what)
        if mode is not None and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            raise OutputError(f"{shown_path(entry)}: the {what} holds {kind(mode)} under this name; "
                              f"a run replaces only regular files (move it away)")
    _probe(folder, what)
    remove_stale_partials(folder)
    return folder


def output_error(path: Path, error: OSError, what: str = "output") -> OutputError:
    """One line naming the path and why it cannot be written."""
    hint = {errno.ENOSPC: "; free some space or write elsewhere",
            errno.EDQUOT: "; free some space or write elsewhere",
            errno.EACCES: "; choose a folder you may write to",
            errno.EROFS: "; choose a folder you may write to"}.get(error.errno, "")
    return OutputError(f"{shown_path(path)}: cannot write the {what} ({reason(error)}){hint}")


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}.partial-{os.getpid()}")


def _checked_target(path: Path, what: str) -> Path:
    """``path`` if renaming a file onto it replaces at most a regular file, in a folder that exists."""
    if not path.name:
        raise OutputError(f"{shown_path(path)}: the {what} needs a file name")
    spare = NAME_MAX - len(os.fsencode(_temporary(path).name))
    if spare < 0:
        raise OutputError(f"{shown_path(path)}: the {what}'s file name is {len(os.fsencode(path.name))} bytes; "
                          f"at most {NAME_MAX + spare} fit (with room for its temporary name)")
    mode = _mode(path, what)
    if mode is not None and not stat.S_ISREG(mode):
        raise OutputError(f"{shown_path(path)}: the {what} is {kind(mode)}; an output replaces only a "
                          f"regular file (name a new file)")
    parent = _mode(path.parent, what)
    if parent is None or not stat.S_ISDIR(parent):
        raise OutputError(f"{shown_path(path)}: the {what}'s folder {shown_path(path.parent)} "
                          f"{'does not exist' if parent is None else 'is ' + kind(parent)}; "
                          f"create the folder first (an output creates none)")
    return path


def _mode(path: Path, what: str) -> int | None:
    """``stat`` mode of ``path`` (links followed), ``None`` when nothing has that name."""
    try:
        return path.stat().st_mode
    except FileNotFoundError:
        return None
    except OSError as error:
        raise output_error(path, error, what) from None
    except ValueError as error:  # an embedded NUL byte
        raise OutputError(f"{shown_path(path)}: not a usable path for the {what} ({error})") from None


def _probe(folder: Path, what: str) -> None:
    """Write and remove an empty file in ``folder``: permissions, read-only mounts, quotas."""
    probe = folder / f".write-check-{uuid.uuid4().hex[:8]}.partial-{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise output_error(folder, error, what) from None


def write_json(path: str | Path, data: Any) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")


def read_json(path: str | Path, what: str) -> Any:
    """Parse the JSON file ``path`` (a regular file of at most :data:`MAX_JSON_BYTES`); a
    missing, special, huge or unreadable file is one error naming it."""
    path = input_file(path, what)
    try:
        size = path.stat().st_size
        if size > MAX_JSON_BYTES:
            raise NeurodeployError(f"{shown_path(path)}: the {what} is {size} bytes; at most {MAX_JSON_BYTES} are read")
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise NeurodeployError(f"{path}: {what} not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise NeurodeployError(f"{path}: not a readable JSON {what} ({str(error)[:120]})") from None


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True
