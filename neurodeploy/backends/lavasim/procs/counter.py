"""A Lava sink that counts one layer's spikes per sample instead of logging every step.

A layer ``hops`` synaptic hops from the input answers frame ``k``'s input during time
steps ``k * F + 1 + hops .. (k + 1) * F + hops`` (its reset comes ``hops`` steps after
the frame starts). ``window`` counts per neuron over the part of that span that torch
also sees (its first ``decode_steps``, from :class:`neurodeploy.core.blocks.NetworkTiming`):
the decision rule reads it. ``total`` counts
every spike of the span, tail included: what the hardware really spends.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from neurodeploy.backends.lavasim.step_board import report


class SpikeCounter(AbstractProcess):
    """Counts spikes arriving on ``a_in`` per sample (see the module docstring); with a
    ``progress`` slot it also reports every step it reaches there (:mod:`neurodeploy.backends.lavasim.step_board`)."""

    def __init__(self, *, shape: tuple[int, ...], samples: int, frame_steps: int, hops: int,
                 decode_steps: int, progress: Optional[int] = None, name: Optional[str] = None,
                 **kwargs: Any) -> None:
        super().__init__(frame_steps=frame_steps, hops=hops, decode_steps=decode_steps, progress=progress,
                         name=name, **kwargs)
        self.a_in = InPort(shape=shape)
        self.window = Var(shape=(samples, *shape), init=0)
        self.total = Var(shape=(samples,), init=0)


@implements(proc=SpikeCounter, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt", "floating_pt")
class PySpikeCounterModel(PyLoihiProcessModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    window: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    total: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)

    def run_spk(self) -> None:
        if self.proc_params["progress"] is not None:
            report(self.proc_params["progress"], self.time_step)
        spikes = self.a_in.recv() != 0
        frame_steps, hops = self.proc_params["frame_steps"], self.proc_params["hops"]  # from NetworkTiming
        elapsed = self.time_step - 1 - hops
        if elapsed < 0:
            return
        sample, step = divmod(elapsed, frame_steps)
        if sample >= self.total.shape[0]:
            return
        self.total[sample] += int(spikes.sum())
        if step < self.proc_params["decode_steps"]:
            self.window[sample] += spikes

