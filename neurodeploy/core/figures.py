"""Figures: matplotlib without a display, written as PNG atomically.

Every plot the commands write comes through :func:`save_figure`, so none is left
half-written by an interrupted run (see :mod:`neurodeploy.core.atomic`) and all share one
resolution. matplotlib is imported only when a figure is drawn.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from neurodeploy.core.atomic import atomic_path

#: Dots per inch of every PNG written.
DPI = 110


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(figure: Any, path: str | Path, close: bool = True) -> None:
    """Lay ``figure`` out tight and write it to ``path`` as PNG (the old file or the new
    one, never half of it); closed afterwards unless ``close`` is false (the caller keeps it)."""
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=DPI)
    if close:
        pyplot().close(figure)
