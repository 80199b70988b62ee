"""The emulator's two arithmetic paths, so exactness tests can run both against Lava.

On the CPU the emulator runs its neuron loop as one compiled kernel and convolutions as
``conv2d`` (oneDNN's direct algorithm); on a GPU it runs the same loop as torch
operations and convolutions as unfold + matrix product. :data:`PATHS` names a context
for each; :func:`device_path` puts the GPU's arithmetic on the CPU.
"""
from __future__ import annotations

from contextlib import contextmanager, nullcontext
from functools import partial
from typing import Callable, ContextManager, Iterator
from unittest.mock import patch

from neurodeploy.sim import emulator, fixed_point
from neurodeploy.sim.emulator_layers import ConvSynapse


@contextmanager
def device_path() -> Iterator[None]:
    """The GPU's arithmetic on the CPU: torch neuron loop, unfold + matmul convolution."""
    with patch.object(emulator, "integrate", partial(fixed_point.integrate, kernel=False)), \
            patch.object(ConvSynapse, "_direct", lambda self, values: False):
        yield


PATHS: dict[str, Callable[[], ContextManager[None]]] = {"cpu kernel": nullcontext, "device path": device_path}
