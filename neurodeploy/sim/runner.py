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
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional, Union

import numpy as np

from neurodeploy.blocks import NetworkTiming
from neurodeploy.encoding import FrameSchedule
from neurodeploy.errors import InputError, NetworkFileError, SimulationError
from neurodeploy.inputs import BiasInput, ImageInput, Inputs, SpikeInput, as_inputs, check_drive
from neurodeploy.netxfile import NetxNetwork, read_netx
from neurodeploy.results import SimulationResult

if TYPE_CHECKING:
    from neurodeploy.sim.trace import LayerTrace

STOP_GRACE_S = 30.0


def arrange_for_port(array: np.ndarray, port_shape: tuple[int, ...], leading: int = 1) -> np.ndarray:
    """Samples ``(*lead, C, H, W)`` (``leading`` lead axes: ``N`` for images, ``N, T`` for
    spikes) in the order of the network's input port: flattened C-major like torch's
    ``flatten`` for a dense port, netx's ``(W, H, C)`` for a conv port."""
    lead = array.shape[:leading]
    if len(port_shape) == 1:
        arranged = array.reshape(*lead, -1)
    else:
        axes = tuple(range(leading)) + tuple(reversed(range(leading, array.ndim)))
        arranged = array.transpose(axes)
    if arranged.shape[leading:] != tuple(port_shape):
        raise InputError(f"inputs of shape {array.shape[leading:]} do not fit the network's "
                         f"input port {tuple(port_shape)} (netx's WHC order)")
    return np.ascontiguousarray(arranged)


def simulate(network: Union[NetxNetwork, str, Path], inputs: Union[Inputs, np.ndarray],
             schedule: Optional[FrameSchedule] = None, timeout_s: float = 600.0,
             select_tag: str = "fixed_pt", record_layers: bool = False, reset: bool = True,
             reset_interval: Optional[int] = None, keep_output: bool = False) -> SimulationResult:
    """Run ``inputs`` through ``network`` on Lava's CPU simulator (``Loihi2SimCfg``).

    ``inputs`` as for :func:`neurodeploy.sim.emulator.emulate`: images go through the
    generator process, spike arrays through :class:`~neurodeploy.procs.spike_source.SpikeSource`,
    biases into netx's Input block (set between samples). ``record_layers`` also logs
    every block's spikes and voltages at every step (slow; for parity) and returns them
    per window in ``recording``; ``keep_output`` keeps every output spike of the decode
    window. ``reset=False`` builds netx without its periodic reset; ``reset_interval``
    resets every that many steps instead of once per frame."""
    from lava.magma.core.run_configs import Loihi2SimCfg

    from neurodeploy.procs.counter import SpikeCounter

    inputs = as_inputs(inputs, schedule)
    description = network if isinstance(network, NetxNetwork) else read_netx(network)
    timing = NetworkTiming.of(description, inputs.frame_steps, reset, reset_interval)
    check_drive(description, inputs)
    if isinstance(inputs, ImageInput) and inputs.schedule.temporal_kind == "rate":
        inputs = _rate_spikes(inputs)
    built = build_network(description, timing, inputs.sample_shape)
    samples, frame = inputs.samples, timing.frame_steps
    source = _source(built, inputs)
    counters = []
    for block, layer in zip(timing.blocks, built.layers):
        counter = SpikeCounter(shape=layer.out.shape, samples=samples, frame_steps=frame, hops=block.hops)
        layer.out.connect(counter.a_in)
        counters.append((block, counter))
    steps = timing.total_steps(samples)
    recorders = [_recorder(layer, steps) for layer in built.layers] if record_layers else []
    output = _spike_log(built.layers[-1], steps) if keep_output and not record_layers else None
    root = source if source is not None else built
    run_cfg = Loihi2SimCfg(select_tag=select_tag)
    began = time.perf_counter()
    try:
        run_with_watchdog(lambda: _run(root, built, inputs, timing, run_cfg), timeout_s, steps)
        wall_s = time.perf_counter() - began
        output_counts = counters[-1][1].window.get().reshape(samples, -1).astype(np.int64)
        per_layer = {block.name: float(counter.total.get().mean()) if samples else 0.0
                     for block, counter in counters}
        recording = {block.name: _trace(recorder, block.hops, samples, frame)
                     for block, recorder in zip(timing.blocks, recorders)} if record_layers else None
        output_spikes = None
        if keep_output:
            from neurodeploy.sim.trace import windows

            timeline = recording[timing.output.name].spikes if recording else windows(
                np.moveaxis(output.data.get(), -1, 0) != 0, timing.hops, samples, frame)
            output_spikes = timeline[:, :timing.decode_steps].reshape(
                samples, timing.decode_steps, int(np.prod(built.layers[-1].out.shape)))
    finally:
        stop_runtime(root)
    return SimulationResult("lava", output_counts, per_layer,
                            {block.name: block.layer.n_neurons for block in timing.blocks}, frame, steps,
                            wall_s, recording=recording, output_spikes=output_spikes)


def _rate_spikes(inputs: ImageInput) -> SpikeInput:
    """A rate code's random spikes, drawn as the emulator draws them (torch, seeded with the
    inputs' seed), played by the spike source: the generator process emits only the
    deterministic codes, and this keeps Lava and the emulator on the same spikes."""
    import torch

    from neurodeploy.encoding import encode_steps

    spikes = encode_steps(inputs.images, inputs.schedule, torch.Generator().manual_seed(inputs.seed))
    return SpikeInput(spikes.numpy(), inputs.labels)


def _source(built: Any, inputs: Inputs) -> Optional[Any]:
    """The process that feeds the network's input port; ``None`` for a bias drive."""
    if isinstance(inputs, BiasInput):
        return None
    if isinstance(inputs, ImageInput):
        from neurodeploy.procs.generator import HybridSpikeGenerator

        source = HybridSpikeGenerator(images=arrange_for_port(inputs.images, built.inp.shape),
                                      schedule=inputs.schedule)
    else:
        from neurodeploy.procs.spike_source import SpikeSource

        arranged = arrange_for_port(inputs.spikes, built.inp.shape, leading=2)
        source = SpikeSource(spikes=arranged.reshape(-1, *built.inp.shape))
    source.s_out.connect(built.inp)
    return source


def _run(root: Any, built: Any, inputs: Inputs, timing: NetworkTiming, run_cfg: Any) -> None:
    """All steps in one run; a bias drive runs one frame per sample, its bias set between."""
    from lava.magma.core.run_conditions import RunSteps

    if not isinstance(inputs, BiasInput):
        root.run(condition=RunSteps(num_steps=timing.total_steps(inputs.samples)), run_cfg=run_cfg)
        return
    bias = built.layers[0].neuron.bias_mant
    for sample in range(inputs.samples):
        values = _bias_whc(inputs.bias[sample])
        if sample == 0:
            bias.init = values
        else:
            bias.set(values)
        root.run(condition=RunSteps(num_steps=timing.frame_steps), run_cfg=run_cfg)
    if inputs.samples == 0:
        return
    bias.set(np.zeros(bias.shape))
    if timing.hops:
        root.run(condition=RunSteps(num_steps=timing.hops), run_cfg=run_cfg)


def _bias_whc(bias: np.ndarray) -> np.ndarray:
    """A CHW bias mantissa in the Input block's WHC order."""
    return np.ascontiguousarray(bias.T if bias.ndim > 1 else bias).astype(np.float64)


def build_network(description: NetxNetwork, timing: NetworkTiming, sample_shape: tuple[int, ...]):
    """The netx network of an already-read ``.net`` for samples of ``sample_shape`` (CHW).

    With ``timing.reset`` every block resets as its window opens (see
    :mod:`neurodeploy.blocks`); without, plain LIF neurons whose state the caller resets.
    netx reads the bytes held in ``description``, not the file again."""
    import io

    from neurodeploy.lavadl import netx

    first = description.layers[0]
    conv_input = first.type == "conv"
    input_shape = tuple(reversed(sample_shape)) if conv_input else None
    try:
        built = netx.hdf5.Network(net_config=io.BytesIO(description.raw), **timing.netx_reset,
                                  input_shape=input_shape)
    except (NotImplementedError, RuntimeError, KeyError, ValueError, TypeError, OSError) as error:
        raise NetworkFileError(f"{description.path}: netx cannot build this network ({error})") from None
    built.net_config.f.close()  # netx is done with it; an h5py file on a buffer left open crashes at exit
    return built


def _spike_log(layer, steps: int):
    """A RingBuffer on a block's spikes, every step."""
    from lava.proc.io.sink import RingBuffer

    spikes = RingBuffer(shape=layer.out.shape, buffer=steps)
    layer.out.connect(spikes.a_in)
    return spikes


def _recorder(layer, steps: int):
    """A RingBuffer on the layer's spikes and a Monitor on its neurons' voltage."""
    from lava.proc.monitor.process import Monitor

    spikes = _spike_log(layer, steps)
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
