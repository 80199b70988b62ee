"""The one Lava runner every command uses.

It builds the netx network once with a state reset at every frame boundary, feeds it
from the generator process, counts spikes per sample per layer, runs all samples in one
Lava run (rebuilding per sample leaks and slows), stops the runtime in ``finally`` and
turns a hang (Lava waits forever when a child process dies) into a clear error.
"""
from __future__ import annotations

import multiprocessing
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

import numpy as np

from neurodeploy.encoding import FrameSchedule
from neurodeploy.errors import NetworkFileError, SimulationError
from neurodeploy.model.train import predict_from_counts

if TYPE_CHECKING:
    from neurodeploy.netxfile import NetxNetwork
    from neurodeploy.sim.trace import LayerTrace

STOP_GRACE_S = 30.0


@dataclass(frozen=True)
class SimulationResult:
    """Per-sample output counts in the decision window, predictions and activity."""

    predictions: np.ndarray
    output_counts: np.ndarray
    spikes_per_layer: dict[str, float]
    steps: int
    wall_s: float
    recording: Optional[dict[str, "LayerTrace"]] = None

    def accuracy(self, labels: np.ndarray) -> float:
        return float(np.mean(self.predictions == labels))

    @property
    def steps_per_second(self) -> float:
        return self.steps / self.wall_s if self.wall_s else float("nan")


def arrange_for_port(images: np.ndarray, port_shape: tuple[int, ...]) -> np.ndarray:
    """``(N, C, H, W)`` images in the order of the network's input port.

    Dense inputs are flattened C-major like torch's ``flatten``; conv inputs are netx's
    ``(W, H, C)``.
    """
    if len(port_shape) == 1:
        arranged = images.reshape(len(images), -1)
    else:
        arranged = images.transpose(0, 3, 2, 1)
    if arranged.shape[1:] != tuple(port_shape):
        raise NetworkFileError(f"images of shape {images.shape[1:]} do not fit the network's "
                               f"input port {tuple(port_shape)}")
    return np.ascontiguousarray(arranged)


def simulate(network_file: str | Path, images: np.ndarray, schedule: FrameSchedule,
             timeout_s: float = 600.0, select_tag: str = "fixed_pt",
             record_layers: bool = False) -> SimulationResult:
    """Run ``images`` (``uint8 (N, C, H, W)``) through ``network_file`` on Lava's CPU simulator.

    ``record_layers`` also logs every layer's spikes and voltages at every step (slow; for
    parity checks) and returns them per frame window in ``recording``."""
    from lava.magma.core.run_configs import Loihi2SimCfg

    from neurodeploy.netxfile import read_netx
    from neurodeploy.procs.counter import SpikeCounter
    from neurodeploy.procs.generator import HybridSpikeGenerator

    description = read_netx(network_file)
    network = build_network(description, images.shape[1:], reset_interval=schedule.frame_steps)
    samples = len(images)
    generator = HybridSpikeGenerator(images=arrange_for_port(images, network.inp.shape),
                                     schedule=schedule)
    generator.s_out.connect(network.inp)
    runnable = [layer for layer in description.layers if layer.type != "flatten"]
    counters = []
    for hops, (layer, info) in enumerate(zip(network.layers, runnable), start=1):
        counter = SpikeCounter(shape=layer.out.shape, samples=samples,
                               frame_steps=schedule.frame_steps, hops=hops)
        layer.out.connect(counter.a_in)
        counters.append((info.name, counter))
    steps = samples * schedule.frame_steps + len(counters)
    recorders = [_recorder(layer, steps) for layer in network.layers] if record_layers else []
    began = time.perf_counter()
    try:
        run_with_watchdog(lambda: generator.run(
            condition=_run_steps(steps), run_cfg=Loihi2SimCfg(select_tag=select_tag)), timeout_s, steps)
        wall_s = time.perf_counter() - began
        output_counts = counters[-1][1].window.get().reshape(samples, -1)
        per_layer = {name: float(counter.total.get().mean()) for name, counter in counters}
        recording = {name: _trace(recorder, hops, samples, schedule.frame_steps)
                     for hops, ((name, _), recorder) in enumerate(zip(counters, recorders), start=1)
                     } if record_layers else None
    finally:
        stop_runtime(generator)
    return SimulationResult(predict_from_counts(output_counts), output_counts, per_layer, steps, wall_s,
                            recording=recording)


def build_network(description: "NetxNetwork", image_shape: tuple[int, ...],
                  reset_interval: Optional[int]):
    """The netx network of an already-read ``.net`` for ``(C, H, W)`` images.

    With ``reset_interval`` every layer resets once per frame, ``hops`` steps after the
    frame starts (``reset_offset=1``; netx adds one per layer); ``None`` builds plain LIF
    neurons whose state the caller resets.
    """
    from neurodeploy.lavadl import netx

    channels, height, width = image_shape
    conv_input = description.layers[0].type == "conv"
    reset = {"reset_interval": reset_interval, "reset_offset": 1} if reset_interval else {}
    try:
        return netx.hdf5.Network(net_config=str(description.path), **reset,
                                 input_shape=(width, height, channels) if conv_input else None)
    except (NotImplementedError, RuntimeError, KeyError, ValueError) as error:
        raise NetworkFileError(f"{description.path}: netx cannot build this network ({error})") from None


def _recorder(layer, steps: int):
    """A RingBuffer on the layer's spikes and a Monitor on its neurons' voltage."""
    from lava.proc.io.sink import RingBuffer
    from lava.proc.monitor.process import Monitor

    spikes = RingBuffer(shape=layer.out.shape, buffer=steps)
    layer.out.connect(spikes.a_in)
    voltage = Monitor()
    voltage.probe(layer.neuron.v, steps)
    return spikes, voltage, layer.neuron


def _trace(recorder, hops: int, samples: int, frame_steps: int) -> "LayerTrace":
    from neurodeploy.sim.trace import LayerTrace, windows

    spikes, voltage, neuron = recorder
    spike_timeline = np.moveaxis(spikes.data.get(), -1, 0) != 0
    voltage_timeline = voltage.get_data()[neuron.name]["v"].astype(np.int64)
    return LayerTrace(hops, windows(spike_timeline, hops, samples, frame_steps),
                      windows(voltage_timeline, hops, samples, frame_steps))


def _run_steps(steps: int):
    from lava.magma.core.run_conditions import RunSteps

    return RunSteps(num_steps=steps)


def run_with_watchdog(run: Callable[[], None], timeout_s: float, steps: int) -> None:
    """Run ``run`` in a thread; a hang past ``timeout_s`` or a failure becomes SimulationError."""
    failure: list[BaseException] = []

    def target() -> None:
        try:
            run()
        except BaseException as error:  # re-raised in the caller's thread below
            failure.append(error)

    worker = threading.Thread(target=target, name="lava-run", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        raise SimulationError(f"Lava did not finish {steps} steps within {timeout_s:g} s "
                              f"(a child process may have died); the runtime was stopped")
    if failure:
        raise SimulationError(f"Lava run failed: {_first_line(failure[0])}") from failure[0]


def stop_runtime(process) -> None:
    """Stop the runtime; if stopping hangs too, terminate Lava's child processes."""
    if getattr(process, "runtime", None) is None:
        return
    stopper = threading.Thread(target=process.stop, name="lava-stop", daemon=True)
    stopper.start()
    stopper.join(STOP_GRACE_S)
    if stopper.is_alive():
        for child in multiprocessing.active_children():
            child.terminate()


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
