"""The hybrid temporal-bit spike generator as a Lava process.

It holds a batch of images (``uint8``, or ``uint16`` for ``n_bits`` above 8) in memory and encodes them itself, one step at a
time, sample after sample, in the frame schedule's timing: a Loihi-style input process,
not a replay of pre-encoded spikes. The per-step rule (TTFS step, then the bit-plane
windows, then the gap) comes from :meth:`FrameSchedule.phase` and
:func:`neurodeploy.core.encoding.ttfs_step`, the same code the torch encoder uses.

Two Vars say where it is: ``sample``, the sample whose frame it emits, and ``origin``, the
time step just before that frame's first step. The model moves both on by one frame at
every frame end, so left alone the frames follow back to back; the host between runs, or
another process through RefPorts between two steps, may set both to start any sample at
any step, which is how early exit skips the rest of a frame
(:mod:`neurodeploy.backends.lavasim.procs.exit_control`).
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

from neurodeploy.core.encoding import FrameSchedule, check_intensities, ttfs_step
from neurodeploy.core.encoding.schedule import MAX_BITS
from neurodeploy.core.errors import ConfigError


class HybridSpikeGenerator(AbstractProcess):
    """Emits the encoded frames of ``images`` (``uint8|uint16 (N, *port_shape)``) on ``s_out``.

    Pixels must be integers in ``0..2**schedule.n_bits - 1``; they are held as int32, so
    the same process carries 8-bit and 16-bit inputs.

    By default frame ``k`` occupies time steps ``k * frame_steps + 1 .. (k + 1) * frame_steps``
    (Lava counts from 1); it is silent before ``origin`` and after the last sample.
    """

    def __init__(self, *, images: np.ndarray, schedule: FrameSchedule,
                 name: Optional[str] = None, **kwargs: Any) -> None:
        # checked after the base init: a half-built Lava process fails in its __del__
        super().__init__(schedule=schedule.to_dict(), name=name, **kwargs)
        if schedule.temporal_kind != "ttfs":
            raise ConfigError(f"generator: encoding {schedule.encoding!r} draws random spikes; "
                              f"the Lava generator emits the deterministic codes "
                              f"('ttfs', 'temporal_bit'); use the emulator for rate codes")
        if images.ndim < 2:
            raise ConfigError(f"generator: images have shape {images.shape}; expected "
                              f"(N, *port_shape)")
        check_intensities(images, schedule.n_bits, source="generator images")
        self.s_out = OutPort(shape=images.shape[1:])
        self.images = Var(shape=images.shape, init=images.astype(np.int32))
        self.sample = Var(shape=(1,), init=0)
        self.origin = Var(shape=(1,), init=0)


class AbstractGeneratorModel(PyLoihiProcessModel):
    """Shared encoding; subclasses choose the spike dtype of their tag."""

    s_out: PyOutPort
    images: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=MAX_BITS)
    sample: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=32)
    origin: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=32)

    def __init__(self, proc_params: dict[str, Any]) -> None:
        super().__init__(proc_params)
        self.schedule = FrameSchedule.from_dict(proc_params["schedule"])
        self.phases = [self.schedule.phase(step) for step in range(self.schedule.frame_steps)]
        self._sample = -1
        self._pixels = np.zeros(0, dtype=np.int64)
        self._spike_step = np.zeros(0, dtype=np.int64)

    def frame_spikes(self) -> np.ndarray:
        """Spikes of the current time step as a bool array of the port shape."""
        frames, step = divmod(self.time_step - 1 - int(self.origin[0]), self.schedule.frame_steps)
        if frames > 0:  # the frame ended: the next sample follows
            self.sample[0] += frames
            self.origin[0] += frames * self.schedule.frame_steps
        sample = int(self.sample[0])
        if frames < 0 or sample >= self.images.shape[0]:
            return np.zeros(self.images.shape[1:], dtype=bool)
        if sample != self._sample:
            self._sample = sample
            self._pixels = self.images[sample].astype(np.int64)
            self._spike_step = ttfs_step(self._pixels, self.schedule.temporal_steps,
                                         self.schedule.n_bits)
        phase = self.phases[step]
        if phase.part == "temporal":
            return (self._spike_step == phase.index) & (self._pixels > 0)
        if phase.part == "plane" and phase.emits:
            return ((self._pixels >> phase.index) & 1).astype(bool)
        return np.zeros(self._pixels.shape, dtype=bool)


@implements(proc=HybridSpikeGenerator, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyHybridSpikeGeneratorFloat(AbstractGeneratorModel):
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)

    def run_spk(self) -> None:
        self.s_out.send(self.frame_spikes().astype(float))


@implements(proc=HybridSpikeGenerator, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt", "bit_accurate_loihi")
class PyHybridSpikeGeneratorFixed(AbstractGeneratorModel):
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, bool, precision=1)

    def run_spk(self) -> None:
        self.s_out.send(self.frame_spikes())
