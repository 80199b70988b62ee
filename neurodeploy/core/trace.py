"""Per-step activity of one layer, cut into frame windows, the form parity compares.

Lava runs samples back to back; layer ``j`` (``hops = j + 1`` synaptic hops from the
input) resets ``hops + 1`` steps after its sample's frame starts and answers that sample
during the ``frame_steps`` steps that follow (see :mod:`neurodeploy.backends.lavasim.procs.counter`).
Window step ``r`` of sample ``k`` is Lava time step ``k * frame_steps + r + hops + 1``
and *frame step* ``r + hops`` (the step of the frame whose input it answers, torch's time
axis); steps past ``frame_steps - 1`` are the drain tail. Shapes are torch's: ``(n,)`` or
``(C, H, W)``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np


@dataclass(frozen=True)
class LayerTrace:
    """``spikes`` ``(N, steps, *shape)`` bool and ``voltage`` (``v`` after each step, 0 where
    it spiked; same shape, int64) or ``None`` when not recorded, for window steps
    ``0 .. steps - 1`` (all ``frame_steps`` of them, or fewer: torch has no drain tail)."""

    hops: int
    spikes: np.ndarray
    voltage: Optional[np.ndarray] = None


def windows(timeline: np.ndarray, hops: int, samples: int, frame_steps: int) -> np.ndarray:
    """A Lava per-step array ``(steps, *lava_shape)`` (index ``t - 1``) as ``(N, F, *shape)``
    windows in torch layout (a WHC ``lava_shape`` becomes CHW)."""
    start = hops
    needed = start + samples * frame_steps
    if len(timeline) < needed:
        raise ValueError(f"timeline of {len(timeline)} steps is shorter than the {needed} "
                         f"that {samples} frames of a layer {hops} hops deep need")
    cut = timeline[start:needed].reshape(samples, frame_steps, *timeline.shape[1:])
    if cut.ndim == 5:
        cut = cut.transpose(0, 1, 4, 3, 2)
    return np.ascontiguousarray(cut)
