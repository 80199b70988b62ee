"""Exceptions a user can act on.

Every error a user can cause (bad data, bad config, bad file) is raised as one of these
types with a message that names the file, the field, the value and what was expected.
The CLI prints the message on one line and exits with code 2; anything else is a bug and
keeps its traceback.
"""
from __future__ import annotations

from typing import Any, Optional

#: Most characters of a bad value a message shows (a value can be megabytes long).
SHOWN_CHARACTERS = 80


class NeurodeployError(Exception):
    """Base class of all user-facing errors; the CLI maps it to exit code 2."""


class DataError(NeurodeployError):
    """A data set is missing, unreadable or has the wrong dtype, rank or range."""


class ConfigError(NeurodeployError):
    """An experiment config has an unknown key, a wrong type or an invalid value."""


class NetworkFileError(NeurodeployError):
    """A `.net` file is not HDF5, lacks layers, or holds something netx cannot run."""


class SimulationError(NeurodeployError):
    """A Lava run failed or hung; the runtime was stopped."""


class InputError(NeurodeployError):
    """An input array (spikes, biases, labels) has the wrong rank, shape, dtype or values."""


class OutputError(NeurodeployError):
    """An output file or folder cannot be written (no permission, read-only, disk full)."""


def shown(value: Any, limit: int = SHOWN_CHARACTERS) -> str:
    """``repr(value)`` cut to ``limit`` characters, for messages that quote what they got."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit - 3]}..."


def first_line(error: BaseException, limit: Optional[int] = None) -> str:
    """The first line of ``error``'s message (cut to ``limit`` characters), or its type's
    name when it has none: what a one-line message quotes of an error it caught."""
    text = str(error).strip()
    line = text.splitlines()[0] if text else type(error).__name__
    return line if limit is None else line[:limit]


class DistributedError(NeurodeployError):
    """Ray could not be started or reached, or a task's worker died more often than retried."""
