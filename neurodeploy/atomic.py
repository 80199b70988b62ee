"""Write outputs under a temporary name and rename them into place.

An interrupted export or report then leaves either the old file or nothing, never a
half-written `.net` or JSON that a later step would trust. A process killed outright
(``kill -9``) cannot remove its temporary file; the next write into that folder does
(:func:`remove_stale_partials`). A folder that cannot be written, or a full disk, is one
:class:`~neurodeploy.errors.OutputError` line naming the path.
"""
from __future__ import annotations

import errno
import json
import os
import re
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from neurodeploy.errors import NeurodeployError, OutputError

#: ``.<name>.partial-<pid>``: the temporary name of a file being written by process ``pid``.
PARTIAL = re.compile(r"^\..+\.partial-(\d+)$")


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling of ``path``; rename it to ``path`` only if the block succeeds."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
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


def check_writable(folder: str | Path, what: str = "output folder") -> Path:
    """Create ``folder`` if needed and prove a file can be written there, before any work."""
    folder = Path(folder)
    probe = folder / f".write-check-{uuid.uuid4().hex[:8]}.partial-{os.getpid()}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise output_error(folder, error, what) from None
    remove_stale_partials(folder)
    return folder


def output_error(path: Path, error: OSError, what: str = "output") -> OutputError:
    """One line naming the path and why it cannot be written."""
    reason = os.strerror(error.errno) if error.errno else str(error)
    hint = {errno.ENOSPC: "; free some space or write elsewhere",
            errno.EDQUOT: "; free some space or write elsewhere",
            errno.EACCES: "; choose a folder you may write to",
            errno.EROFS: "; choose a folder you may write to"}.get(error.errno, "")
    return OutputError(f"{path}: cannot write the {what} ({reason}){hint}")


def write_json(path: str | Path, data: Any) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")


def read_json(path: str | Path, what: str) -> Any:
    """Parse the JSON file ``path``; a missing or unreadable file is one error naming it."""
    path = Path(path)
    try:
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
