"""What a path names, checked by its type before a file is opened.

A FIFO given as a config blocks ``open`` until a writer comes, ``/dev/zero`` reads
forever, a directory or a 300-character name makes the OS say something a user cannot
place. Every file the project reads is first checked here with ``stat`` (which opens
nothing): a regular file, or one error line naming the path and what it is instead.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Type

from neurodeploy.core.errors import NeurodeployError, first_line

#: Longest path a message quotes in full; a longer one is cut in the middle.
SHOWN_PATH = 160
#: The installed package's folder: its data (``hw_configs/``, ``examples/``) lives there.
PACKAGE_DIR = Path(__file__).resolve().parents[1]


def input_file(path: str | os.PathLike, what: str,
               error: Type[NeurodeployError] = NeurodeployError) -> Path:
    """``path`` if it names a regular file (or a link to one); else ``error`` naming it."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise error(f"{shown_path(path)}: {what} not found") from None
    except OSError as problem:
        raise error(f"{shown_path(path)}: cannot read the {what} ({reason(problem)})") from None
    except ValueError as problem:  # an embedded NUL byte
        raise error(f"{shown_path(path)}: not a usable path for the {what} ({problem})") from None
    if not stat.S_ISREG(mode):
        raise error(f"{shown_path(path)}: the {what} is {kind(mode)}, not a regular file")
    return path


def is_regular(path: str | os.PathLike) -> bool:
    """Whether ``path`` names a regular file; ``False`` for a name the OS cannot even look
    up (too long, a NUL byte), where :meth:`Path.is_file` raises."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def kind(mode: int) -> str:
    """What a ``stat`` mode names, with its article: ``a directory``, ``a FIFO``..."""
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISREG, "a regular file")):
        if test(mode):
            return name
    return "a special file"


def reason(error: OSError) -> str:
    """The OS's words for ``error`` without the path it repeats."""
    return os.strerror(error.errno) if error.errno else first_line(error, 120)


def shown_path(path: str | os.PathLike) -> str:
    """``path`` as a message quotes it: whole, or its two ends when very long."""
    text = str(path)
    if len(text) <= SHOWN_PATH:
        return text
    half = SHOWN_PATH // 2 - 2
    return f"{text[:half]}...{text[-half:]} ({len(text)} characters)"
