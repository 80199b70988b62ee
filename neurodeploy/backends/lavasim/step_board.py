"""How far a Lava run has got, readable while it runs: the watchdog's measure of progress.

Not a Lava process, so it lives outside ``procs/`` (Lava's compiler re-executes every
module there, which would map a second, unused board).

A run's time step lives in Lava's child processes, out of the parent's reach until the
run ends. This module maps a small board of counters in anonymous shared memory when it
is imported, in the parent, before Lava forks its children (Lava's multiprocessing always
forks, so a child shares the mapping); each run claims a slot (:func:`claim`), one of its
process models writes the step it has reached there every step (:func:`report`), and the
watchdog in the parent reads it (:func:`reached`).
"""
from __future__ import annotations

import mmap
import threading
from contextlib import contextmanager
from typing import Iterator

import numpy as np

#: Lava runs one process may have under way at once (each takes a slot while it runs).
SLOTS = 64

_board = np.frombuffer(mmap.mmap(-1, SLOTS * np.dtype(np.int64).itemsize), dtype=np.int64)
_free = list(range(SLOTS))
_lock = threading.Lock()


@contextmanager
def claim() -> Iterator[int]:
    """A slot of the board, set to step 0, for the length of one run."""
    with _lock:
        if not _free:
            raise RuntimeError(f"more than {SLOTS} Lava runs under way at once in one process")
        slot = _free.pop()
    _board[slot] = 0
    try:
        yield slot
    finally:
        with _lock:
            _free.append(slot)


def report(slot: int, step: int) -> None:
    """Called by a process model in a Lava child: the run has reached time step ``step``."""
    _board[slot] = step


def reached(slot: int) -> int:
    """The last time step reported to ``slot``."""
    return int(_board[slot])
