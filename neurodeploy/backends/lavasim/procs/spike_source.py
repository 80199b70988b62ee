"""A Lava process that plays a given spike array, one time step after another.

For inputs that are already spikes (an event camera's frames, another tool's encoder):
the array ``(steps, *port_shape)`` is held in memory and step ``t`` (Lava counts from 1)
sends row ``t - 1``; after the last row it is silent, so the network drains.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol


class SpikeSource(AbstractProcess):
    """Sends ``spikes[t - 1]`` (bool ``(steps, *port_shape)``) on ``s_out`` at step ``t``."""

    def __init__(self, *, spikes: np.ndarray, name: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.s_out = OutPort(shape=spikes.shape[1:])
        self.spikes = Var(shape=spikes.shape, init=spikes.astype(np.int8))


@implements(proc=SpikeSource, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt", "bit_accurate_loihi")
class PySpikeSourceFixed(PyLoihiProcessModel):
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, bool, precision=1)
    spikes: np.ndarray = LavaPyType(np.ndarray, np.int8, precision=1)

    def run_spk(self) -> None:
        row = self.time_step - 1
        if row < self.spikes.shape[0]:
            self.s_out.send(self.spikes[row] != 0)
        else:
            self.s_out.send(np.zeros(self.spikes.shape[1:], dtype=bool))
