"""A batched emulator that is bit-exact with Lava's fixed_pt simulation of a netx network.

It computes what :func:`neurodeploy.backends.lavasim.runner.run_on_lava` computes (netx built with
``reset_interval = frame_steps, reset_offset = 1``, fed ``encode(images, schedule)``,
counted per sample) for a whole batch of samples at once, layer after layer.

Why samples can run side by side: layer ``j`` answers sample ``k`` in a window of
``frame_steps`` steps that opens with its reset (``u = v = 0``), and in that window it
receives exactly the previous layer's window of the same sample (a Dense or Conv adds the
one step of latency that the reset offsets add too). Only two things outlive a reset in
Lava: spikes still in a DelayDense buffer (delays) and a recurrent Dense's buffer holding
the layer's own last spikes. Both are carried here exactly as Lava carries them: delays
as a time shift along the samples' back-to-back timeline, recurrent spikes by iterating
each batch to the fixed point of "sample k starts from sample k - 1's last spikes"
(sample 0's carry is exact, so pass p settles sample p; in practice one or two passes).
Before the first reset, Lava runs ``hops`` warm-up steps with no input, where a bias can
make neurons fire; networks with delays or recurrence replay them too.

Without a reset plan (``reset=False``, or resets at another interval than the frame)
nothing separates the samples, so the whole input
runs as one timeline (a batch of one, every step in order, each block's input shifted by
its step of latency): exact, and slower. Windows and hops come from
:class:`neurodeploy.core.blocks.NetworkTiming`, as on Lava.
"""
from __future__ import annotations

import math
import time
import weakref
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import torch

from neurodeploy.core.blocks import NetworkTiming
from neurodeploy.core.encoding import FrameSchedule
from neurodeploy.core.errors import NetworkFileError
from neurodeploy.core.inputs import BiasInput, ImageInput, Inputs, SpikeInput, as_inputs, check_drive, check_fits
from neurodeploy.core.netxfile import NetxNetwork, read_netx
from neurodeploy.core.progress import progress
from neurodeploy.core.results import SimulationResult
from neurodeploy.core.runtime import compile_time, exact_cuda, resolve_device
from neurodeploy.core.runtime import threads as runtime_threads
from neurodeploy.backends.emulator import events
from neurodeploy.backends.emulator.events import Events
from neurodeploy.backends.emulator.layers import NEURON_TYPES, DelayLine, EmulatedLayer, build_layers
from neurodeploy.backends.emulator.fixed_point import EXACT, STATE_SHIFT, CubaState, integrate, wrap
from neurodeploy.core.trace import LayerTrace

#: Fixed-point passes that re-run every unsettled sample at once before settling them in order.
BATCHED_PASSES = 3
#: Elements of the widest layer's input plus drive per batch (measured: benchmarks/emulator_batch.py).
BATCH_ELEMENTS = 1 << 20
MAX_BATCH = 256

@dataclass
class _Carry:
    """What one layer hands from one stretch of the timeline to the next."""

    history: Optional[torch.Tensor]   # last ``depth`` input steps, for a delay line
    last: Optional[torch.Tensor]      # own spikes of the last step, for recurrence


@dataclass
class _Activity:
    spikes: Optional[torch.Tensor]           # (B, T, *shape) bool; None once counted (inner layers)
    voltage: Optional[torch.Tensor] = None   # (B, T, *shape) int64
    count: Optional[int] = None              # spikes in all, where already counted
    events: Optional[Events] = None          # the same spikes as events, where a layer made them


def emulate(network: Union[NetxNetwork, str, Path], inputs: Union[Inputs, np.ndarray],
            schedule: Optional[FrameSchedule] = None, batch_size: Optional[int] = None, record: bool = False,
            seed: int = 0, threads: Optional[int] = None, reset: bool = True,
            reset_interval: Optional[int] = None, keep_output: bool = False,
            device: Union[str, torch.device] = "cpu") -> SimulationResult:
    """Run ``inputs`` through ``network`` as Lava fixed_pt would, bit for bit.

    ``inputs`` is an :class:`~neurodeploy.core.inputs.ImageInput`, a ``SpikeInput``, a
    ``BiasInput``, or ``uint8``/``uint16`` images ``(N, C, H, W)`` with their ``schedule``
    (``seed`` seeds the rate encodings). Returns what the Lava runner returns; with
    ``record`` also every block's spikes and voltages per window (:class:`LayerTrace`,
    torch layout), with ``keep_output`` every output spike of the decode window.
    ``reset=False`` runs without the per-frame reset (state carries across samples);
    ``reset_interval`` resets every that many steps instead of once per frame.
    ``batch_size`` samples run side by side (default: as many as keep a layer's drive
    near :data:`BATCH_ELEMENTS`). ``threads``: torch's CPU threads during the run
    (default :func:`neurodeploy.core.runtime.thread_count`, one). ``device``: ``cpu``,
    ``cuda`` (bit-exact too: see :mod:`neurodeploy.backends.emulator.layers`) or ``auto``.
    """
    inputs = as_inputs(inputs, schedule, seed)
    description = _network(network)
    timing = NetworkTiming.of(description, inputs.frame_steps, reset, reset_interval)
    device = resolve_device(device)
    layers = emulated_layers(description, inputs, timing, device)
    batch_size = batch_size or _batch_size(layers, timing.frame_steps)
    began = time.perf_counter()
    with torch.inference_mode(), runtime_threads(threads), exact_cuda(), compile_time() as compiled:
        run = _run_batched if timing.resets_per_frame else _run_timeline
        windows = run(layers, timing, inputs, batch_size, record, device)
    wall_s = time.perf_counter() - began - compiled.seconds  # the run; numba's compile is reported apart
    output = windows[-1].spikes
    decoded = output[:, :timing.decode_steps].reshape(len(output), timing.decode_steps,
                                                      math.prod(layers[-1].shape))
    samples = inputs.samples
    per_layer = {layer.name: activity.count / max(samples, 1) for layer, activity in zip(layers, windows)}
    return SimulationResult(
        "emulator", torch.count_nonzero(decoded, dim=1).numpy().astype(np.int64), per_layer,
        {layer.name: math.prod(layer.shape) for layer in layers}, timing.frame_steps,
        timing.total_steps(samples), wall_s,
        recording={block.name: LayerTrace(block.hops, activity.spikes.numpy(), activity.voltage.numpy())
                   for block, activity in zip(timing.blocks, windows)} if record else None,
        output_spikes=decoded.numpy() if keep_output else None, extra={"compile_s": compiled.seconds})


def _batch_size(layers: Sequence[EmulatedLayer], frame_steps: int) -> int:
    """Samples per batch: the widest layer's drive for a batch (``B * T * neurons``) near
    :data:`BATCH_ELEMENTS`, between 1 and :data:`MAX_BATCH`."""
    widest = max(math.prod(layer.shape) + math.prod(layer.input_shape) for layer in layers)
    return max(1, min(MAX_BATCH, BATCH_ELEMENTS // max(widest * frame_steps, 1)))


def emulated_layers(network: NetxNetwork, inputs: Inputs, timing: NetworkTiming,
                    device: torch.device = torch.device("cpu")) -> list[EmulatedLayer]:
    """The emulator's layers for ``network`` fed ``inputs``, on ``device``; refuses a
    mismatch of the two."""
    first = timing.blocks[0] if timing.blocks else None
    if first is not None and first.is_input and first.layer.neuron_type not in NEURON_TYPES:
        build_layers(network, inputs.sample_shape)  # refuses the neuron by name
    check_drive(network, inputs)
    layers = list(_built(network, inputs.sample_shape, device))
    flattened = len(layers[0].input_shape) == 1 and math.prod(inputs.sample_shape) == layers[0].input_shape[0]
    if inputs.kind != "images" and not flattened:  # a dense input takes any shape of its size (checked
        check_fits(inputs, layers[0].input_shape, str(network.path))  # against the file by check_drive)
    if isinstance(inputs, BiasInput) and inputs.samples:
        # the overflow proofs of the Input block's neurons bound |bias| over every sample
        bound = torch.from_numpy(np.abs(inputs.bias.astype(np.int64)).max(axis=0) << STATE_SHIFT).to(device, EXACT)
        layers[0] = replace(layers[0], neurons=replace(layers[0].neurons, bias=bound))
    if [layer.name for layer in layers] != [block.name for block in timing.blocks]:
        raise NetworkFileError(f"{network.path}: the emulator's layers "
                               f"{[layer.name for layer in layers]} differ from the blocks netx builds "
                               f"{[block.name for block in timing.blocks]}")
    return layers


#: Layers built per network read (weights quantised as netx and Lava do), per input shape and device.
_LAYERS: "weakref.WeakKeyDictionary[NetxNetwork, dict[tuple, tuple[EmulatedLayer, ...]]]" = weakref.WeakKeyDictionary()


def _built(network: NetxNetwork, sample_shape: tuple[int, ...], device: torch.device) -> tuple[EmulatedLayer, ...]:
    """``build_layers`` once per network object, input shape and device: a network read
    once and simulated many times pays for the quantisation once."""
    per_network = _LAYERS.setdefault(network, {})
    key = (tuple(sample_shape), str(device))
    if key not in per_network:
        per_network[key] = tuple(layer.to(device) for layer in build_layers(network, sample_shape))
    return per_network[key]


@lru_cache(maxsize=8)
def _read(path: Path, stamp: tuple[int, int, int]) -> NetxNetwork:
    """A file read once per ``(inode, size, mtime)``: calls with the same unchanged path share it."""
    return read_netx(path)


def _network(network: Union[NetxNetwork, str, Path]) -> NetxNetwork:
    if isinstance(network, NetxNetwork):
        return network
    path = Path(network).resolve()
    try:
        status = path.stat()
    except OSError:
        return read_netx(path)  # names the missing file
    return _read(path, (status.st_ino, status.st_size, status.st_mtime_ns))


def _input_steps(inputs: Inputs, start: int, stop: int, device: torch.device) -> torch.Tensor:
    """Input spikes ``(B, T, *shape)`` of samples ``start .. stop - 1``; images are encoded
    straight to float32 0/1 in the (B, T, ...) layout the first synapse multiplies."""
    if isinstance(inputs, ImageInput):
        return inputs.spikes(start, stop, torch.float32).to(device)
    if isinstance(inputs, SpikeInput):
        return torch.from_numpy(inputs.spikes[start:stop]).to(device)
    return torch.zeros((stop - start, inputs.frame_steps, *inputs.sample_shape), dtype=torch.bool, device=device)


def _first_input(layer: EmulatedLayer, inputs: Inputs, start: int, stop: int,
                 device: torch.device) -> Union[torch.Tensor, Events]:
    """The first layer's input for samples ``start .. stop - 1``: images in a deterministic
    code go to an event-driven first layer as events, read from their intensities."""
    if (isinstance(inputs, ImageInput) and inputs.schedule.temporal_kind != "rate" and device.type == "cpu"
            and events.supported(layer)):
        found = Events.of_images(inputs.images[start:stop], inputs.schedule)
        if events.worth_it(layer, found.count, (stop - start) * inputs.frame_steps):
            return found
    return _input_steps(inputs, start, stop, device)


def _bias_of(inputs: Inputs, start: int, stop: int, device: torch.device) -> Optional[torch.Tensor]:
    """The input block's effective bias ``bias_mant << 6`` per sample, ``(B, *shape)``."""
    if not isinstance(inputs, BiasInput):
        return None
    return torch.from_numpy(inputs.bias[start:stop].astype(np.int64) << STATE_SHIFT).to(device, EXACT)


def _run_batched(layers: Sequence[EmulatedLayer], timing: NetworkTiming, inputs: Inputs,
                 batch_size: int, record: bool, device: torch.device) -> list[_Activity]:
    """Samples side by side: every block's window of a sample opens with its reset. Inner
    layers' spikes are counted and dropped unless ``record``."""
    frame = timing.frame_steps
    carries = _warm_up(layers, timing, device)
    parts: list[list[_Activity]] = [[] for _ in layers]
    counts = [0] * len(layers)
    resets = [step == 0 for step in range(frame)]
    with progress("emulator", inputs.samples) as advance:
        for start in range(0, inputs.samples, batch_size):
            stop = min(start + batch_size, inputs.samples)
            spikes, known = _first_input(layers[0], inputs, start, stop, device), None
            bias = _bias_of(inputs, start, stop, device)
            for index, layer in enumerate(layers):
                constant = bias[:, None] if layer.bias_driven and bias is not None else None
                activity, carries[index] = _run_layer(layer, spikes, resets, carries[index], record, constant, known)
                spikes = activity.spikes if activity.events is None else activity.events
                known = activity.count
                counts[index] += int(torch.count_nonzero(activity.spikes)) if activity.count is None else activity.count
                if record or index == len(layers) - 1:
                    parts[index].append(activity)
            advance(stop - start)
    return [_joined(part, layer, frame, count) for part, layer, count in zip(parts, layers, counts)]


def _run_timeline(layers: Sequence[EmulatedLayer], timing: NetworkTiming, inputs: Inputs,
                  batch_size: int, record: bool, device: torch.device) -> list[_Activity]:
    """All samples as one timeline from Lava step 1, each block's input one step late;
    each block's windows are then cut from its timeline."""
    frame, samples = timing.frame_steps, inputs.samples
    length = timing.total_steps(samples)
    external = torch.zeros((1, length, *inputs.sample_shape), dtype=torch.bool, device=device)
    if samples:
        external[0, :samples * frame] = _input_steps(inputs, 0, samples, device).reshape(
            samples * frame, *inputs.sample_shape)
    per_sample = _bias_of(inputs, 0, samples, device)
    spikes = external
    windows = []
    for layer, block in zip(layers, timing.blocks):
        resets = timing.resets(block, length)
        bias = None
        if layer.bias_driven and per_sample is not None:  # each sample's bias for its frame, then none
            bias = torch.zeros((1, length, *layer.shape), dtype=EXACT, device=device)
            bias[0, :samples * frame] = per_sample.repeat_interleave(frame, dim=0)
        elif not layer.bias_driven:
            spikes = torch.cat([torch.zeros_like(spikes[:, :1]), spikes[:, :-1]], dim=1)
        activity, _ = _run_layer(layer, spikes, resets, _empty_carry(layer, device), record, bias)
        spikes = activity.spikes
        cut = slice(block.hops, block.hops + samples * frame)
        window = _Activity(*(None if part is None else part[0, cut].reshape(samples, frame, *layer.shape).cpu()
                             for part in (activity.spikes, activity.voltage)))
        window.count = int(torch.count_nonzero(window.spikes))
        windows.append(window)
    return windows


def _joined(parts: list[_Activity], layer: EmulatedLayer, frame: int, count: int) -> _Activity:
    """One layer's batches as one activity on the CPU (no spikes kept for an inner layer)."""
    if not parts:
        return _Activity(torch.zeros((0, frame, *layer.shape), dtype=torch.bool),
                         torch.zeros((0, frame, *layer.shape), dtype=torch.int64), count)
    voltage = torch.cat([part.voltage for part in parts]).cpu() if parts[0].voltage is not None else None
    return _Activity(torch.cat([part.spikes for part in parts]).cpu(), voltage, count)


def _warm_up(layers: Sequence[EmulatedLayer], timing: NetworkTiming, device: torch.device) -> list[Optional[_Carry]]:
    """The steps before each block's first window: a block ``hops`` deep runs ``hops`` of
    them (Lava time 1 .. hops) on the previous block's warm-up spikes, resetting where its
    phase says. Only layers that carry state past a reset need the result."""
    if not any(layer.carries_state for layer in layers):
        return [None] * len(layers)
    frame = timing.frame_steps
    carries: list[Optional[_Carry]] = []
    previous = torch.zeros((1, 0, *layers[0].input_shape), dtype=torch.bool, device=device)
    for layer, block in zip(layers, timing.blocks):
        steps = block.hops
        if layer.bias_driven:
            inputs = previous
        else:
            inputs = torch.cat([torch.zeros((1, 1, *layer.input_shape), dtype=torch.bool, device=device),
                                previous.reshape(1, steps - 1, *layer.input_shape)], dim=1)
        resets = [(step - steps) % frame == 0 for step in range(steps)]
        activity, carry = _run_layer(layer, inputs, resets, _empty_carry(layer, device), record=False)
        carries.append(carry if layer.carries_state else None)
        previous = activity.spikes
    return carries


def _empty_carry(layer: EmulatedLayer, device: torch.device) -> _Carry:
    """A layer's carry before Lava's first step: nothing in flight."""
    return _Carry(_empty_history(layer, device), torch.zeros((1, *layer.shape), dtype=torch.bool, device=device)
                  if layer.recurrent is not None else None)


def _on_events(layer: EmulatedLayer, inputs: Union[torch.Tensor, Events], count: Optional[int]) -> Optional[Events]:
    """``inputs`` (``count`` spikes, where known) as events where the layer runs them on
    the CPU's event loop and that pays (:func:`neurodeploy.backends.emulator.events.worth_it`), else None."""
    if not events.supported(layer) or (isinstance(inputs, torch.Tensor) and inputs.device.type != "cpu"):
        return None
    if isinstance(inputs, Events):
        count, steps = inputs.count, inputs.batch * inputs.steps
    else:
        count = int(torch.count_nonzero(inputs)) if count is None else count
        steps = inputs.shape[0] * inputs.shape[1]
    if not events.worth_it(layer, count, steps):
        return None
    return inputs if isinstance(inputs, Events) else Events.of_spikes(inputs)


def _run_layer(layer: EmulatedLayer, inputs: Union[torch.Tensor, Events], resets: Sequence[bool],
               carry: Optional[_Carry], record: bool, bias: Optional[torch.Tensor] = None,
               count: Optional[int] = None) -> tuple[_Activity, Optional[_Carry]]:
    """Run ``inputs`` ``(B, T, ...)`` (B stretches of T steps, back to back; spikes or
    :class:`~neurodeploy.backends.emulator.events.Events`, ``count`` spikes where known) through
    ``layer``; ``bias`` ``(1 or B, 1 or T, *shape)`` is an Input block's bias."""
    on_events = _on_events(layer, inputs, count) if bias is None else None
    if on_events is not None:
        spikes, voltage, fired = events.run(layer, on_events, resets, record)
        return _Activity(spikes, voltage, fired.count, fired), carry
    if isinstance(inputs, Events):
        inputs = inputs.dense()
    batch, steps = inputs.shape[:2]
    inputs = inputs.reshape(batch, steps, *layer.input_shape)
    if layer.recurrent is None:
        activity = _Activity(*integrate(layer.neurons, _drive(layer, inputs, carry), resets, bias, record))
    else:
        activity = _settle(layer, _drive(layer, inputs, carry), resets, carry.last, record)
    if carry is None:
        return activity, None
    history = carry.history
    if isinstance(layer.synapse, DelayLine):
        timeline = torch.cat([history, inputs.reshape(-1, *layer.input_shape)])
        history = timeline[len(timeline) - layer.synapse.depth:]
    last = activity.spikes[-1:, -1] if layer.recurrent is not None else None
    return activity, _Carry(history, last)


def _drive(layer: EmulatedLayer, inputs: torch.Tensor, carry: Optional[_Carry]) -> torch.Tensor:
    """The synaptic activations of every step at once, ``(B, T, *shape)``: a feed-forward
    synapse is linear and has no state but a delay line's history, so one matrix product
    over all ``B * T`` steps does it (a delay line reads the samples' back-to-back timeline
    after the carried history). An Input block has no synapse: zeros."""
    batch, steps = inputs.shape[:2]
    if layer.bias_driven:
        return torch.zeros((batch, steps, *layer.shape), dtype=torch.float32, device=inputs.device)
    timeline = inputs.reshape(batch * steps, *layer.input_shape)
    if isinstance(layer.synapse, DelayLine):
        timeline = torch.cat([carry.history, timeline.reshape(batch * steps, -1)])
    return layer.synapse(timeline).reshape(batch, steps, *layer.shape)


def _recurrent(layer: EmulatedLayer, drive: torch.Tensor, resets: Sequence[bool], carried: torch.Tensor,
               record: bool) -> _Activity:
    """The neuron loop of a recurrent layer, step by step: each step's input includes the
    layer's own spikes of the step before (``carried`` before the first)."""
    batch, steps = drive.shape[:2]
    state = CubaState(layer.neurons, (batch, *layer.shape), drive.device)
    spikes = torch.empty((batch, steps, *layer.shape), dtype=torch.bool, device=drive.device)
    voltage = torch.empty((batch, steps, *layer.shape), dtype=torch.int64, device=drive.device) if record else None
    previous = carried
    for step in range(steps):
        if resets[step]:
            state.reset()
        a_in = drive[:, step].to(EXACT).add_(layer.recurrent(previous.reshape(batch, -1)))
        if layer.neurons.input_wraps:
            a_in = wrap(a_in, 32)
        previous = spikes[:, step] = state.step(a_in)
        if voltage is not None:
            voltage[:, step] = state.v
    return _Activity(spikes, voltage)


def _settle(layer: EmulatedLayer, drive: torch.Tensor, resets: Sequence[bool], first: torch.Tensor,
            record: bool) -> _Activity:
    """A recurrent layer over B back-to-back samples: iterate until every sample started
    from the spikes its predecessor really ended with (the fixed point is Lava's run)."""
    batch = len(drive)
    assumed = torch.zeros((batch, *layer.shape), dtype=torch.bool, device=drive.device)
    assumed[0] = first[0]
    activity = _recurrent(layer, drive, resets, assumed, record)
    for passes in range(1, batch + BATCHED_PASSES + 1):
        actual = torch.cat([first, activity.spikes[:-1, -1]])
        stale = (actual != assumed).reshape(batch, -1).any(dim=1).nonzero().flatten()
        if not len(stale):
            return activity
        if passes > BATCHED_PASSES:
            stale = stale[:1]
        assumed[stale] = actual[stale]
        again = _recurrent(layer, drive[stale], resets, assumed[stale], record)
        activity.spikes[stale] = again.spikes
        if record:
            activity.voltage[stale] = again.voltage
    raise AssertionError("recurrent carries did not settle")  # unreachable: pass p settles sample p


def _empty_history(layer: EmulatedLayer, device: torch.device) -> Optional[torch.Tensor]:
    """A delay line's buffer before Lava's first step: no spikes."""
    if not isinstance(layer.synapse, DelayLine):
        return None
    return torch.zeros((layer.synapse.depth, *layer.input_shape), dtype=torch.bool, device=device)
