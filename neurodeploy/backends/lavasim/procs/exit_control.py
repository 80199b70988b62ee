"""Early exit inside the Lava run: a process that counts the output layer's spikes, applies
the decision rule at every step and, when a sample exits (or its frame ends), restarts
the network for the next sample itself, with no host round trip.

The restart happens in the step's management phase, through RefPorts: it zeroes every Var
that carries activity into the next sample (each LIF's ``u`` and ``v``, each synapse's
activation buffer; :func:`neurodeploy.backends.lavasim.early_exit.state_vars` names them) and points
the generator at the next sample from the next step on (its ``sample`` and ``origin``).
That is what the host did between runs, one ``Var.set`` round trip per Var, now done
between two time steps of one run (each write read back before the step ends: a target
applies a write asynchronously, and unchecked some landed after the next step began).
After the last sample's exit the process asks Lava to pause (``_req_pause``, a private
flag of Lava's process model, checked by :func:`check_lava_internals`), so the run ends at
exactly the step the last sample needed. Every step it reaches is reported to the run's
slot of :mod:`neurodeploy.backends.lavasim.step_board`: the watchdog's progress, and Lava's own count
of the steps simulated.

A process has as many RefPorts as the network has state Vars, so its model class is made
per count (:func:`control_model`, a subclass of the one Lava finds here) and handed to the
run config's ``exception_proc_model_map``.
"""
from __future__ import annotations

from functools import cache, lru_cache
from typing import Any, Optional

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyRefPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort, RefPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from neurodeploy.core.decision import should_exit
from neurodeploy.backends.lavasim.private import require
from neurodeploy.backends.lavasim.step_board import report


class ExitControl(AbstractProcess):
    """Counts spikes on ``a_in`` per sample and restarts the network at each exit.

    ``state_shapes``: the shapes of the Vars to zero at a restart, connected afterwards as
    ``state_0 .. state_{k-1}`` (``RefPort.connect_var``); ``next_sample`` and
    ``next_origin`` go to the generator's ``sample`` and ``origin``. Results: per sample
    the steps it ran (``exit_steps``) and its output counts then (``counts``);
    ``finished`` samples in all. Each step reached is reported to slot ``progress`` of
    the step board."""

    def __init__(self, *, shape: tuple[int, ...], samples: int, frame_steps: int, threshold: float,
                 state_shapes: list[tuple[int, ...]], progress: int, name: Optional[str] = None,
                 **kwargs: Any) -> None:
        super().__init__(shape=shape, samples=samples, frame_steps=frame_steps, threshold=float(threshold),
                         progress=progress, name=name, **kwargs)
        self.a_in = InPort(shape=shape)
        self.next_sample = RefPort(shape=(1,))
        self.next_origin = RefPort(shape=(1,))
        for index, state_shape in enumerate(state_shapes):
            setattr(self, f"state_{index}", RefPort(shape=state_shape))
        self.exit_steps = Var(shape=(samples,), init=0)
        self.counts = Var(shape=(samples, *shape), init=0)
        self.finished = Var(shape=(1,), init=0)


@implements(proc=ExitControl, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyExitControlModel(PyLoihiProcessModel):
    """The rule and the restart, for a process without state RefPorts; subclassed per
    number of them (:func:`control_model`)."""

    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    next_sample: PyRefPort = LavaPyType(PyRefPort.VEC_DENSE, np.int32)
    next_origin: PyRefPort = LavaPyType(PyRefPort.VEC_DENSE, np.int32)
    exit_steps: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=32)
    counts: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=32)
    finished: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=32)
    states = 0

    def __init__(self, proc_params: dict[str, Any]) -> None:
        super().__init__(proc_params)
        self._step = 0           # steps of the current sample so far
        self._restart = False

    def run_spk(self) -> None:
        report(self.proc_params["progress"], self.time_step)
        spikes = self.a_in.recv() != 0
        sample = int(self.finished[0])
        self._restart = False
        if sample >= self.exit_steps.shape[0]:
            return
        self.counts[sample] += spikes
        self._step += 1
        if self._step == self.proc_params["frame_steps"] or should_exit(self.counts[sample],
                                                                        self.proc_params["threshold"]):
            self.exit_steps[sample] = self._step
            self.finished[0] = sample + 1
            self._step = 0
            self._restart = True
            if sample + 1 == self.exit_steps.shape[0]:
                self._req_pause = True  # the last sample is done: the run ends at this step

    def post_guard(self) -> bool:
        return self._restart

    def run_post_mgmt(self) -> None:
        self.next_sample.write(np.array([self.finished[0]], dtype=np.int32))
        self.next_origin.write(np.array([self.time_step], dtype=np.int32))
        ports = [getattr(self, f"state_{index}") for index in range(self.states)]
        for port in ports:
            port.write(np.zeros(port.shape, dtype=np.int32))
        # A write is applied when its target gets to it, which may be after the next step
        # has begun; reading every port back waits until each target has applied its write.
        for port in (self.next_sample, self.next_origin, *ports):
            port.read()


@lru_cache(maxsize=None)
def control_model(states: int) -> type:
    """The model of an :class:`ExitControl` with ``states`` state RefPorts."""
    ports = {f"state_{index}": LavaPyType(PyRefPort.VEC_DENSE, np.int32) for index in range(states)}
    return type(f"PyExitControlModel{states}", (PyExitControlModel,), {**ports, "states": states})


@cache
def check_lava_internals() -> None:
    """The private flag the control sets, checked once before the first early-exit run."""
    require(PyLoihiProcessModel, ("_req_pause",), "ending an early-exit run at the last sample's exit")
