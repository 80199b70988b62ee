"""The one Lava runner every command uses.

It builds the netx network once with a state reset at every frame boundary, feeds it
from the generator process, counts spikes per sample per layer, runs all samples on one
built network (rebuilding per sample leaks and slows; consecutive runs of whole frames tell
the progress), stops the runtime when done and
turns faults into one clear error:

- Lava waits forever when a child process dies; the watchdog polls the children it
  started and reports a dead or stopped one within :data:`POLL_S` seconds;
- a hang is a run that makes no progress (no new time step, no new Lava process) for
  :data:`STALL_S` seconds, however long the whole run takes: a slow machine or a big
  network takes longer per step, not forever; the caller may add a wall-clock limit;
- after a fault or Ctrl-C the runtime is not stopped politely (that waits on the dead
  child) but aborted: every Lava process killed, its shared memory unlinked;
- Lava's children ignore SIGINT (Ctrl-C reaches the whole process group; the parent
  alone answers it) and exit on their own when the parent dies, even by ``kill -9``.

The abort and the watchdog use private attributes of Lava and of multiprocessing; they are
checked once, before the first run (:func:`check_lava_internals`).
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional, Union

import numpy as np

from neurodeploy.core.blocks import NetworkTiming
from neurodeploy.core.encoding import FrameSchedule
from neurodeploy.core.errors import InputError, NetworkFileError, SimulationError, first_line
from neurodeploy.core.inputs import BiasInput, ImageInput, Inputs, SpikeInput, as_inputs, check_drive
from neurodeploy.core.netxfile import NetxNetwork, read_netx
from neurodeploy.core.progress import progress
from neurodeploy.core.results import SimulationResult

if TYPE_CHECKING:
    from neurodeploy.core.trace import LayerTrace

STOP_GRACE_S = 10.0
#: How often the watchdog looks at Lava's child processes and the run's progress.
POLL_S = 0.25
#: Seconds without progress after which a run is hung. A healthy run's longest stretch
#: without a new step or process is starting its processes (under 4 s for the mnist5k
#: conv net beside two spinning processes on a loaded 2-core machine); a step itself
#: takes well under a second there.
STALL_S = 30.0
#: Runs under a watchdog now, so possibly forking Lava's processes (read by the fork hook).
_lava_runs = 0
_lava_runs_lock = threading.Lock()
#: Threads of runs given up on (a fault, a hang, Ctrl-C) that have not ended: Lava may still
#: be starting that run's processes there, after the abort; a process forked by one of
#: them exits at once (read by the fork hook).
_abandoned: set[int] = set()
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


def run_on_lava(network: Union[NetxNetwork, str, Path], inputs: Union[Inputs, np.ndarray],
             schedule: Optional[FrameSchedule] = None, timeout_s: Optional[float] = None,
             select_tag: str = "fixed_pt", record_layers: bool = False, reset: bool = True,
             reset_interval: Optional[int] = None, keep_output: bool = False) -> SimulationResult:
    """Run ``inputs`` through ``network`` on Lava's CPU simulator (``Loihi2SimCfg``).

    ``inputs`` as for :func:`neurodeploy.backends.emulator.engine.emulate`: images go through the
    generator process, spike arrays through :class:`~neurodeploy.backends.lavasim.procs.spike_source.SpikeSource`,
    biases into netx's Input block (set between samples). ``record_layers`` also logs
    every block's spikes and voltages at every step (slow; for parity) and returns them
    per window in ``recording``; ``keep_output`` keeps every output spike of the decode
    window. ``reset=False`` builds netx without its periodic reset; ``reset_interval``
    resets every that many steps instead of once per frame. ``timeout_s``: a wall-clock
    limit on top of the watchdog's no-progress rule (:data:`STALL_S`); default none."""
    from lava.magma.core.run_configs import Loihi2SimCfg

    from neurodeploy.backends.lavasim import step_board
    from neurodeploy.backends.lavasim.procs.counter import SpikeCounter

    check_lava_internals()

    inputs = as_inputs(inputs, schedule)
    description = network if isinstance(network, NetxNetwork) else read_netx(network)
    timing = NetworkTiming.of(description, inputs.frame_steps, reset, reset_interval)
    check_drive(description, inputs)
    if isinstance(inputs, ImageInput) and inputs.schedule.temporal_kind == "rate":
        inputs = _rate_spikes(inputs)
    built = build_network(description, timing, inputs.sample_shape)
    samples, frame = inputs.samples, timing.frame_steps
    source = _source(built, inputs)
    with step_board.claim() as slot:  # the output counter reports each step there; the watchdog reads it
        counters = []
        for block, layer in zip(timing.blocks, built.layers):
            counter = SpikeCounter(shape=layer.out.shape, samples=samples, frame_steps=frame, hops=block.hops,
                                   decode_steps=timing.window_steps(block),
                                   progress=slot if block is timing.blocks[-1] else None)
            layer.out.connect(counter.a_in)
            counters.append((block, counter))
        steps = timing.total_steps(samples)
        recorders = [_recorder(layer, steps) for layer in built.layers] if record_layers else []
        output = _spike_log(built.layers[-1], steps) if keep_output and not record_layers else None
        root = source if source is not None else built
        run_cfg = Loihi2SimCfg(select_tag=select_tag)
        outcome: list[tuple] = []

        def read() -> None:
            wall_s = time.perf_counter() - began
            outcome.append((wall_s, *_results(built, timing, samples, counters, recorders, output, keep_output)))

        began = time.perf_counter()
        try:
            run_with_watchdog(lambda: _run(root, built, inputs, timing, run_cfg), timeout_s, steps,
                              reached=lambda: step_board.reached(slot), read=read)
        except BaseException:
            abort_runtime(root)
            raise
        stop_runtime(root)
    wall_s, output_counts, per_layer, recording, output_spikes = outcome[0]
    return SimulationResult("lava", output_counts, per_layer,
                            timing.neurons, frame, steps,
                            wall_s, recording=recording, output_spikes=output_spikes)


def _results(built: Any, timing: NetworkTiming, samples: int, counters: list, recorders: list,
             output: Optional[Any], keep_output: bool) -> tuple:
    """Output counts, mean spikes per layer, the recording and the output spikes of a
    finished run, read from its processes."""
    frame = timing.frame_steps
    output_counts = counters[-1][1].window.get().reshape(samples, -1).astype(np.int64)
    per_layer = {block.name: float(counter.total.get().mean()) if samples else 0.0 for block, counter in counters}
    recording = {block.name: _trace(recorder, block.hops, samples, frame)
                 for block, recorder in zip(timing.blocks, recorders)} if recorders else None
    output_spikes = None
    if keep_output:
        from neurodeploy.core.trace import windows

        timeline = recording[timing.output.name].spikes if recording else windows(
            np.moveaxis(output.data.get(), -1, 0) != 0, timing.hops, samples, frame)
        output_spikes = timeline[:, :timing.decode_steps].reshape(
            samples, timing.decode_steps, int(np.prod(built.layers[-1].out.shape)))
    return output_counts, per_layer, recording, output_spikes


def _rate_spikes(inputs: ImageInput) -> SpikeInput:
    """A rate code's random spikes, drawn as the emulator draws them (``ImageInput.spikes``),
    played by the spike source: the generator process emits only the deterministic codes,
    and this keeps Lava and the emulator on the same spikes."""
    return SpikeInput(inputs.spikes().numpy(), inputs.labels)


def _source(built: Any, inputs: Inputs) -> Optional[Any]:
    """The process that feeds the network's input port; ``None`` for a bias drive."""
    if isinstance(inputs, BiasInput):
        return None
    if isinstance(inputs, ImageInput):
        from neurodeploy.backends.lavasim.procs.generator import HybridSpikeGenerator

        source = HybridSpikeGenerator(images=arrange_for_port(inputs.images, built.inp.shape),
                                      schedule=inputs.schedule)
    else:
        from neurodeploy.backends.lavasim.procs.spike_source import SpikeSource

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
    :mod:`neurodeploy.core.blocks`); without, plain LIF neurons whose state the caller resets.
    netx reads the bytes held in ``description``, not the file again."""
    import io

    from neurodeploy.training.lavadl import netx

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
    from neurodeploy.core.trace import LayerTrace, windows

    spikes, voltage, neuron = recorder
    spike_timeline = np.moveaxis(spikes.data.get(), -1, 0) != 0
    voltage_timeline = voltage.get_data()[neuron.name]["v"].astype(np.int64)
    return LayerTrace(hops, windows(spike_timeline, hops, samples, frame_steps),
                      windows(voltage_timeline, hops, samples, frame_steps))


class Stall:
    """The hang rule: a run is hung once its progress has stayed the same for ``limit_s``
    seconds. Progress is whatever the caller can see move (the time step reached, the
    processes started); the clock is the caller's, so the rule is testable without waiting."""

    def __init__(self, limit_s: float, now: float) -> None:
        if not 0 < limit_s < float("inf"):
            raise SimulationError(f"stall limit {limit_s!r} s: expected a positive, finite number of seconds")
        self.limit_s, self.progress, self.since = limit_s, None, now

    def hung(self, progress: Any, now: float) -> bool:
        """Whether a run showing ``progress`` at time ``now`` has stalled for too long."""
        if progress != self.progress:
            self.progress, self.since = progress, now
        return now - self.since > self.limit_s


def run_with_watchdog(run: Callable[[], None], timeout_s: Optional[float], steps: int,
                      reached: Optional[Callable[[], int]] = None, stall_s: float = STALL_S,
                      read: Optional[Callable[[], None]] = None) -> None:
    """Run ``run``, then ``read`` (the results out of the paused run), in a thread while
    watching them; a SimulationError is raised for

    - a Lava child that exits or is stopped by a signal (SIGSTOP: the run would stall),
      within :data:`POLL_S` seconds;
    - no progress for ``stall_s`` seconds during ``run`` (:class:`Stall`): progress is a
      new child process or a new time step (``reached()``, the step the run reports, see
      :mod:`neurodeploy.backends.lavasim.step_board`); time per step does not count. The clock starts
      at the first sign of the run (a process or a step): before it, Lava compiles the
      network in this process, with nothing to wait on. Reading moves no step (Lava sends
      a Var item by item: a recording takes its time), so ``read`` is watched for faulty
      children only;
    - a run past the caller's wall-clock limit ``timeout_s`` (none by default);
    - a failure of ``run`` or ``read``.

    The caller aborts the runtime (:func:`abort_runtime`) on any exception, Ctrl-C included."""
    global _lava_runs
    if timeout_s is not None and not 0 < timeout_s < float("inf"):
        raise SimulationError(f"timeout {timeout_s!r} s: expected a positive, finite number of seconds")
    began = time.monotonic()
    stall = Stall(stall_s, began)
    failure: list[BaseException] = []
    reading = threading.Event()

    ended = threading.Event()

    def target() -> None:
        try:
            run()
            reading.set()
            if read is not None:
                read()
        except BaseException as error:  # re-raised in the caller's thread below
            failure.append(error)
        finally:
            with _lava_runs_lock:
                ended.set()
                _abandoned.discard(threading.get_ident())

    before = set(_children())
    started: dict[int, multiprocessing.Process] = {}
    worker = threading.Thread(target=target, name="lava-run", daemon=True)
    with _lava_runs_lock:
        _lava_runs += 1
    try:
        worker.start()
        while worker.is_alive():
            worker.join(POLL_S)
            started.update((child.pid, child) for child in _children() if child not in before)
            fault = next(filter(None, map(_fault, started.values())), None)
            step = reached() if reached is not None else 0
            now = time.monotonic()
            if not worker.is_alive():
                break
            if fault:
                raise SimulationError(f"Lava process {fault} during the run of {steps} steps; "
                                      f"every Lava process was stopped")
            if stall.hung((len(started), step), now) and (started or step) and not reading.is_set():
                raise SimulationError(f"Lava made no progress for {stall_s:g} s (at step {step} of {steps}): "
                                      f"hung; every Lava process was stopped")
            if timeout_s is not None and now - began > timeout_s:
                raise SimulationError(f"Lava did not finish {steps} steps within {timeout_s:g} s (at step {step}); "
                                      f"every Lava process was stopped (--timeout sets the limit)")
    finally:
        with _lava_runs_lock:
            _lava_runs -= 1
            if not ended.is_set():  # given up on while Lava may still be starting processes
                _abandoned.add(worker.ident)
    if failure:
        raise SimulationError(f"Lava run failed: {first_line(failure[0], 200)}") from failure[0]


@cache
def check_lava_internals() -> None:
    """The private attributes :func:`abort_runtime` and the watchdog use, checked once per
    process before the first run: a missing one is a
    :class:`~neurodeploy.backends.lavasim.private.LavaInternalsError` naming it, not a cleanup that
    silently does nothing."""
    import multiprocessing.managers
    import multiprocessing.process

    from lava.magma.runtime.message_infrastructure.multiprocessing import MultiProcessing
    from lava.magma.runtime.message_infrastructure.shared_memory_manager import SharedMemoryManager
    from lava.magma.runtime.runtime import Runtime

    from neurodeploy.backends.lavasim.private import PYTHON_PIN, LavaInternalsError, require

    require(Runtime, ("_messaging_infrastructure", "_is_started", "stop"), "aborting a run after a fault")
    require(MultiProcessing, ("actors", "smm"), "killing a run's processes after a fault")
    require(SharedMemoryManager, ("_manager", "_shared_memory_handles"), "unlinking a run's shared memory")
    require(multiprocessing.managers.BaseManager, ("_process",), "killing Lava's shared-memory server",
            pinned=PYTHON_PIN)
    require(multiprocessing.process, ("_children",), "the watchdog's view of Lava's processes", pinned=PYTHON_PIN)
    method = multiprocessing.get_start_method()
    if method != "fork":
        raise LavaInternalsError(f"multiprocessing start method {method!r}: the watchdog reads a run's progress "
                                 f"from memory Lava's processes inherit, which needs 'fork' (what Lava sets)")


def stop_runtime(process) -> None:
    """Stop the runtime politely after a good run; if that hangs too, abort it."""
    if process.runtime is None:
        return
    stopper = threading.Thread(target=process.stop, name="lava-stop", daemon=True)
    stopper.start()
    stopper.join(STOP_GRACE_S)
    if stopper.is_alive():
        abort_runtime(process)


def abort_runtime(process) -> None:
    """Kill every process of ``process``'s Lava runtime and unlink its shared memory, at
    once: after a fault or Ctrl-C a polite stop would wait forever on a dead child."""
    runtime = process.runtime
    if runtime is None:  # the run failed before Lava built its runtime
        return
    infrastructure = runtime._messaging_infrastructure
    if infrastructure is not None:  # None: the runtime failed before it started anything
        memory = infrastructure.smm
        manager = memory._manager  # None once Lava has shut it down
        killed: list[multiprocessing.Process] = []
        while True:  # again until none is new: the run's thread may have added one meanwhile
            children = [child for child in infrastructure.actors if child not in killed]
            if manager is not None and manager._process is not None and manager._process not in killed:
                children.append(manager._process)
            if not children:
                break
            for child in children:
                if child.exitcode is None:
                    child.kill()
            for child in children:
                multiprocessing.Process.join(child, 1.0)  # Lava's SystemProcess.join takes no timeout
            killed += children
        for handle in memory._shared_memory_handles:
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

    return list(multiprocessing.process._children)


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
    parent is gone, so a killed run leaves no process (nor, once they exit, shared memory);
    exit at once when forked for a run already given up on (the abort has passed: nothing
    else would stop it)."""
    if threading.get_ident() in _abandoned:
        os._exit(1)
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
