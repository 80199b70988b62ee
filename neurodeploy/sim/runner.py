"""The one Lava runner every command uses.

It builds the netx network once with a state reset at every frame boundary, feeds it
from the generator process, counts spikes per sample per layer, runs all samples on one
built network (rebuilding per sample leaks and slows; consecutive runs of whole frames tell
the progress), stops the runtime when done and
turns faults into one clear error:

- Lava waits forever when a child process dies; the watchdog polls the children it
  started and reports a dead one within :data:`POLL_S` seconds;
- a run past its deadline (:func:`deadline_s`, proportional to steps x blocks, unless the
  caller gives one) is a hang;
- after a fault or Ctrl-C the runtime is not stopped politely (that waits on the dead
  child) but aborted: every Lava process killed, its shared memory unlinked;
- Lava's children ignore SIGINT (Ctrl-C reaches the whole process group; the parent
  alone answers it) and exit on their own when the parent dies, even by ``kill -9``.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
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
from neurodeploy.progress import progress
from neurodeploy.results import SimulationResult

if TYPE_CHECKING:
    from neurodeploy.sim.trace import LayerTrace

STOP_GRACE_S = 10.0
#: How often the watchdog looks at Lava's child processes.
POLL_S = 0.25
#: The deadline of a run: time to start, plus time per step and block (a step of one
#: block takes about 1 ms on a loaded 2-core machine, so this allows 20 times that).
DEADLINE_START_S = 60.0
DEADLINE_STEP_S = 0.02
#: Runs under a watchdog now, so possibly forking Lava's processes (read by the fork hook).
_lava_runs = 0
_lava_runs_lock = threading.Lock()
#: Most consecutive runs the samples are split into, to tell progress between them.
PROGRESS_RUNS = 50


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
             schedule: Optional[FrameSchedule] = None, timeout_s: Optional[float] = None,
             select_tag: str = "fixed_pt", record_layers: bool = False, reset: bool = True,
             reset_interval: Optional[int] = None, keep_output: bool = False) -> SimulationResult:
    """Run ``inputs`` through ``network`` on Lava's CPU simulator (``Loihi2SimCfg``).

    ``inputs`` as for :func:`neurodeploy.sim.emulator.emulate`: images go through the
    generator process, spike arrays through :class:`~neurodeploy.procs.spike_source.SpikeSource`,
    biases into netx's Input block (set between samples). ``record_layers`` also logs
    every block's spikes and voltages at every step (slow; for parity) and returns them
    per window in ``recording``; ``keep_output`` keeps every output spike of the decode
    window. ``reset=False`` builds netx without its periodic reset; ``reset_interval``
    resets every that many steps instead of once per frame. ``timeout_s`` defaults to
    :func:`deadline_s`."""
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
        counter = SpikeCounter(shape=layer.out.shape, samples=samples, frame_steps=frame, hops=block.hops,
                               decode_steps=timing.window_steps(block))
        layer.out.connect(counter.a_in)
        counters.append((block, counter))
    steps = timing.total_steps(samples)
    recorders = [_recorder(layer, steps) for layer in built.layers] if record_layers else []
    output = _spike_log(built.layers[-1], steps) if keep_output and not record_layers else None
    root = source if source is not None else built
    run_cfg = Loihi2SimCfg(select_tag=select_tag)
    began = time.perf_counter()
    try:
        run_with_watchdog(lambda: _run(root, built, inputs, timing, run_cfg), timeout_s, steps,
                          len(timing.blocks))
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
    except BaseException:
        abort_runtime(root)
        raise
    stop_runtime(root)
    return SimulationResult("lava", output_counts, per_layer,
                            timing.neurons, frame, steps,
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
    """Runs of whole frames, the last one with the drain (at most :data:`PROGRESS_RUNS` runs,
    so progress can be told; Lava keeps every state between runs); a bias drive runs one
    frame per sample, its bias set between."""
    from lava.magma.core.run_conditions import RunSteps

    with progress("Lava", inputs.samples) as advance:
        if not isinstance(inputs, BiasInput):
            chunk = max(1, -(-inputs.samples // PROGRESS_RUNS))
            for first in range(0, max(inputs.samples, 1), chunk):
                count = min(chunk, inputs.samples - first)
                drain = timing.hops if first + chunk >= inputs.samples else 0
                root.run(condition=RunSteps(num_steps=count * timing.frame_steps + drain), run_cfg=run_cfg)
                advance(count)
            return
        _run_biased(root, built, inputs, timing, run_cfg, advance)


def _run_biased(root: Any, built: Any, inputs: BiasInput, timing: NetworkTiming, run_cfg: Any,
                advance: Callable[[int], None]) -> None:
    from lava.magma.core.run_conditions import RunSteps

    bias = built.layers[0].neuron.bias_mant
    for sample in range(inputs.samples):
        values = _bias_whc(inputs.bias[sample])
        if sample == 0:
            bias.init = values
        else:
            bias.set(values)
        root.run(condition=RunSteps(num_steps=timing.frame_steps), run_cfg=run_cfg)
        advance(1)
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


def deadline_s(steps: int, blocks: int) -> float:
    """The watchdog of a run of ``steps`` steps through ``blocks`` blocks: it grows with the work."""
    return DEADLINE_START_S + DEADLINE_STEP_S * steps * max(blocks, 1)


def run_with_watchdog(run: Callable[[], None], timeout_s: Optional[float], steps: int, blocks: int = 1) -> None:
    """Run ``run`` in a thread while watching Lava's child processes: a child that dies, a
    run past ``timeout_s`` (default :func:`deadline_s`) or a failure is a SimulationError.

    A child stopped by a signal (SIGSTOP: the run would stall until the deadline) counts as
    a fault too. The caller aborts the runtime (:func:`abort_runtime`) on any exception,
    Ctrl-C included."""
    global _lava_runs
    limit = timeout_s if timeout_s is not None else deadline_s(steps, blocks)
    if not 0 < limit < float("inf"):
        raise SimulationError(f"timeout {limit!r} s: expected a positive, finite number of seconds")
    failure: list[BaseException] = []

    def target() -> None:
        try:
            run()
        except BaseException as error:  # re-raised in the caller's thread below
            failure.append(error)

    before = set(_children())
    started: dict[int, multiprocessing.Process] = {}
    worker = threading.Thread(target=target, name="lava-run", daemon=True)
    ends = time.monotonic() + limit
    with _lava_runs_lock:
        _lava_runs += 1
    try:
        worker.start()
        while worker.is_alive():
            worker.join(POLL_S)
            started.update((child.pid, child) for child in _children() if child not in before)
            fault = next(filter(None, map(_fault, started.values())), None)
            if fault and worker.is_alive():
                raise SimulationError(f"Lava process {fault} during the run of {steps} steps; "
                                      f"every Lava process was stopped")
            if time.monotonic() > ends and worker.is_alive():
                raise SimulationError(f"Lava did not finish {steps} steps within {limit:g} s; "
                                      f"every Lava process was stopped (--timeout sets the limit)")
    finally:
        with _lava_runs_lock:
            _lava_runs -= 1
    if failure:
        raise SimulationError(f"Lava run failed: {_first_line(failure[0])[:200]}") from failure[0]


def stop_runtime(process) -> None:
    """Stop the runtime politely after a good run; if that hangs too, abort it."""
    if getattr(process, "runtime", None) is None:
        return
    stopper = threading.Thread(target=process.stop, name="lava-stop", daemon=True)
    stopper.start()
    stopper.join(STOP_GRACE_S)
    if stopper.is_alive():
        abort_runtime(process)


def abort_runtime(process) -> None:
    """Kill every process of ``process``'s Lava runtime and unlink its shared memory, at
    once: after a fault or Ctrl-C a polite stop would wait forever on a dead child."""
    runtime = getattr(process, "runtime", None)
    if runtime is None:
        return
    infrastructure = getattr(runtime, "_messaging_infrastructure", None)
    memory = getattr(infrastructure, "smm", None)
    manager = getattr(memory, "_manager", None)
    children = list(getattr(infrastructure, "actors", ()))
    children += [child for child in (getattr(manager, "_process", None),) if child is not None]
    for child in children:
        if child.exitcode is None:
            child.kill()
    for child in children:
        multiprocessing.Process.join(child, 1.0)  # Lava's SystemProcess.join takes no timeout
    for handle in getattr(memory, "_shared_memory_handles", ()):
        try:
            handle.close()
            handle.unlink()
        except (OSError, BufferError):
            pass  # already unlinked (the manager got there first) or still mapped by a thread
    # Lava's __del__ stops a started runtime again, which would wait on the processes just
    # killed; this runtime is finished.
    runtime._is_started = False
    runtime.stop = lambda: None


def _children() -> list[multiprocessing.Process]:
    """This process's multiprocessing children, those that already ended included
    (``active_children`` drops a child that died before the first look)."""
    import multiprocessing.process

    return list(getattr(multiprocessing.process, "_children", ())) or multiprocessing.active_children()


def _fault(child: multiprocessing.Process) -> Optional[str]:
    """What is wrong with a Lava child (it has exited, or is stopped), or ``None``."""
    where = f"{child.name} (pid {child.pid})"
    code = child.exitcode  # polls the process: a finished child gets its code here
    if code is None:
        try:
            state = Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return None  # no /proc here, or it ended just now: the next poll sees its exit code
        return f"{where} is stopped (state {state})" if state in ("T", "t") else None
    if code < 0:
        try:
            return f"{where} was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"{where} was killed by signal {-code}"
    return f"{where} exited with code {code}"


def _in_lava_child() -> None:
    """In a process Lava forks: ignore Ctrl-C (the parent answers it) and exit when the
    parent is gone, so a killed run leaves no process (nor, once they exit, shared memory)."""
    if not _lava_runs:
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()

    def exit_with_parent() -> None:
        while os.getppid() == parent:
            time.sleep(POLL_S)
        os._exit(1)

    threading.Thread(target=exit_with_parent, name="exit-with-parent", daemon=True).start()


os.register_at_fork(after_in_child=_in_lava_child)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
