"""Progress of long work and the messages of a run, for a terminal and for a log alike.

On a terminal, a live bar (rich) with messages kept above it. Anywhere else (a pipe, CI,
``tee``, a notebook's captured output), plain lines with a timestamp, flushed as they
happen, a progress line at most every :data:`INTERVAL_S` seconds
(``$NEURODEPLOY_PROGRESS_S`` changes it): work done sooner prints none. ``set_quiet(True)``
(the commands' ``--quiet``) silences both; results and errors are printed elsewhere.
Everything goes to stderr, so stdout carries only what a command produces.
"""
from __future__ import annotations

import os
import sys
import threading
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Callable, Iterator, Optional

if TYPE_CHECKING:
    from rich.console import Console

#: Seconds between two progress lines when not on a terminal.
INTERVAL_S = 10.0
INTERVAL_ENV = "NEURODEPLOY_PROGRESS_S"

_quiet = False
_console: Optional["Console"] = None
_lock = threading.Lock()


def set_quiet(quiet: bool) -> None:
    """Silence progress and messages (``--quiet``)."""
    global _quiet
    _quiet = quiet


def is_quiet() -> bool:
    return _quiet


def on_terminal() -> bool:
    return sys.stderr.isatty()


def console() -> "Console":
    """The stderr console the live bars draw on (made on first use: rich is not light)."""
    global _console
    if _console is None:
        from rich.console import Console

        _console = Console(stderr=True)
    return _console


def say(message: str) -> None:
    """A message that stays: above the bar on a terminal, a timestamped line otherwise."""
    if _quiet:
        return
    if on_terminal():
        console().print(message, highlight=False, markup=False)
    else:
        _line(message)


def _line(message: str) -> None:
    with _lock:
        sys.stderr.write(f"{time.strftime('%H:%M:%S')} {message}\n")
        sys.stderr.flush()


def _interval() -> float:
    try:
        return max(float(os.environ.get(INTERVAL_ENV, INTERVAL_S)), 0.0)
    except ValueError:
        return INTERVAL_S


def rate_text(done: int, left: int, elapsed: float, unit: str) -> str:
    """``, 10.2 samples/s, 23 s left`` once ``done`` units took ``elapsed`` seconds."""
    if done <= 0 or elapsed <= 0:
        return ""
    return f", {done / elapsed:.3g} {unit}/s{time_left(done, left, elapsed)}"


def time_left(done: int, left: int, elapsed: float) -> str:
    """``, 23 s left`` at the pace of ``done`` units in ``elapsed`` seconds ("" before any)."""
    if done <= 0 or elapsed <= 0:
        return ""
    return f", {_duration(left * elapsed / done)} left"


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


@contextmanager
def progress(description: str, total: int, unit: str = "samples") -> Iterator[Callable[[int], None]]:
    """Yield ``advance(n=1)`` for work of ``total`` units."""
    if _quiet or total <= 0:
        yield lambda n=1: None
    elif on_terminal():
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                   TimeRemainingColumn)

        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn(unit),
                      TimeElapsedColumn(), TimeRemainingColumn(), console=console(), transient=True) as bar:
            task = bar.add_task(description, total=total)
            yield lambda n=1: bar.advance(task, n)
    else:
        yield _PlainProgress(description, total, unit)


class _PlainProgress:
    """``advance`` for a log: a line when :func:`_interval` has passed since the last one.
    The rate counts from the first unit done, so a start-up (Lava's compile, numba's)
    does not skew the time left."""

    def __init__(self, description: str, total: int, unit: str):
        self.description, self.total, self.unit = description, total, unit
        self.done, self.last = 0, time.perf_counter()
        self.first: Optional[tuple[int, float]] = None

    def __call__(self, n: int = 1) -> None:
        self.done += n
        now = time.perf_counter()
        if self.first is None:
            self.first = (self.done, now)
        if self.done < self.total and now - self.last >= _interval():
            self.last = now
            first_done, first_time = self.first
            _line(f"{self.description}: {self.done}/{self.total} {self.unit}"
                  + rate_text(self.done - first_done, self.total - self.done, now - first_time, self.unit))
