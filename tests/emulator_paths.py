"""The emulator's arithmetic paths, so exactness tests can run each against Lava.

On the CPU the emulator runs feed-forward layers event by event where that pays
(:mod:`neurodeploy.backends.emulator.events`), else as a matrix product or ``conv2d`` (oneDNN's direct
algorithm) into one compiled neuron loop; on a GPU it runs the loop as torch operations
and convolutions as unfold + matrix product. :data:`PATHS` names a context forcing each;
:func:`device_path` puts the GPU's arithmetic on the CPU.
"""
from __future__ import annotations

from contextlib import contextmanager
from functools import partial
from typing import Callable, ContextManager, Iterator
from unittest.mock import patch

from neurodeploy.backends.emulator import engine as emulator, events, fixed_point
from neurodeploy.backends.emulator.layers import ConvSynapse


@contextmanager
def event_path(on: bool) -> Iterator[None]:
    """Every layer that can run on events does (``on``), or none does."""
    with patch.object(events, "worth_it", lambda *args: on):
        yield


@contextmanager
def device_path() -> Iterator[None]:
    """The GPU's arithmetic on the CPU: torch neuron loop, unfold + matmul convolution."""
    with event_path(False), patch.object(emulator, "integrate", partial(fixed_point.integrate, kernel=False)), \
            patch.object(ConvSynapse, "_direct", lambda self, values: False):
        yield


PATHS: dict[str, Callable[[], ContextManager[None]]] = {
    "events": partial(event_path, True), "cpu kernel": partial(event_path, False), "device path": device_path}
