"""A batched emulator that is bit-exact with Lava's fixed_pt simulation of a netx network.

It computes what :func:`neurodeploy.sim.runner.simulate` computes (netx built with
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
:class:`neurodeploy.blocks.NetworkTiming`, as on Lava.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence, Union

import numpy as np
import torch

from neurodeploy.blocks import NetworkTiming
from neurodeploy.encoding import FrameSchedule, encode_steps
from neurodeploy.errors import NetworkFileError
from neurodeploy.inputs import BiasInput, ImageInput, Inputs, SpikeInput, as_inputs, check_drive, check_fits
from neurodeploy.netxfile import NetxNetwork, read_netx
from neurodeploy.results import SimulationResult
from neurodeploy.sim.emulator_layers import INT32_LIMIT, NEURON_TYPES, DelayLine, EmulatedLayer, build_layers
from neurodeploy.sim.fixed_point import EXACT, STATE_SHIFT, CubaState, wrap
from neurodeploy.sim.trace import LayerTrace

#: Fixed-point passes that re-run every unsettled sample at once before settling them in order.
BATCHED_PASSES = 3

Bias = Callable[[int], Optional[torch.Tensor]]


@dataclass
class _Carry:
    """What one layer hands from one stretch of the timeline to the next."""

    history: Optional[torch.Tensor]   # last ``depth`` input steps, for a delay line
    last: Optional[torch.Tensor]      # own spikes of the last step, for recurrence


@dataclass
class _Activity:
    spikes: torch.Tensor                     # (B, T, *shape) bool
    voltage: Optional[torch.Tensor] = None   # (B, T, *shape) int64


def emulate(network: Union[NetxNetwork, str, Path], inputs: Union[Inputs, np.ndarray],
            schedule: Optional[FrameSchedule] = None, batch_size: int = 256, record: bool = False,
            seed: int = 0, threads: int = 1, reset: bool = True, reset_interval: Optional[int] = None,
            keep_output: bool = False) -> SimulationResult:
    """Run ``inputs`` through ``network`` as Lava fixed_pt would, bit for bit.

    ``inputs`` is an :class:`~neurodeploy.inputs.ImageInput`, a ``SpikeInput``, a
    ``BiasInput``, or ``uint8``/``uint16`` images ``(N, C, H, W)`` with their ``schedule``
    (``seed`` seeds the rate encodings). Returns what the Lava runner returns; with
    ``record`` also every block's spikes and voltages per window (:class:`LayerTrace`,
    torch layout), with ``keep_output`` every output spike of the decode window.
    ``reset=False`` runs without the per-frame reset (state carries across samples);
    ``reset_interval`` resets every that many steps instead of once per frame.
    ``threads`` is torch's intra-op thread count during the run: one by default, because
    OpenMP threads spin-wait on a loaded machine and small per-step tensors then crawl.
    """
    inputs = as_inputs(inputs, schedule, seed)
    description = network if isinstance(network, NetxNetwork) else read_netx(network)
    timing = NetworkTiming.of(description, inputs.frame_steps, reset, reset_interval)
    layers = emulated_layers(description, inputs, timing)
    began = time.perf_counter()
    with torch.inference_mode(), _threads(threads):
        run = _run_batched if timing.resets_per_frame else _run_timeline
        windows = run(layers, timing, inputs, batch_size, record)
    wall_s = time.perf_counter() - began
    output = windows[-1].spikes
    decoded = output[:, :timing.decode_steps].reshape(len(output), timing.decode_steps,
                                                      int(np.prod(layers[-1].shape)))
    samples = inputs.samples
    per_layer = {layer.name: float(torch.count_nonzero(activity.spikes)) / max(samples, 1)
                 for layer, activity in zip(layers, windows)}
    return SimulationResult(
        "emulator", torch.count_nonzero(decoded, dim=1).numpy().astype(np.int64), per_layer,
        {layer.name: int(np.prod(layer.shape)) for layer in layers}, timing.frame_steps,
        timing.total_steps(samples), wall_s,
        recording={block.name: LayerTrace(block.hops, activity.spikes.numpy(), activity.voltage.numpy())
                   for block, activity in zip(timing.blocks, windows)} if record else None,
        output_spikes=decoded.numpy() if keep_output else None)


def emulated_layers(network: NetxNetwork, inputs: Inputs, timing: NetworkTiming) -> list[EmulatedLayer]:
    """The emulator's layers for ``network`` fed ``inputs``; refuses a mismatch of the two."""
    first = timing.blocks[0] if timing.blocks else None
    if first is not None and first.is_input and first.layer.neuron_type not in NEURON_TYPES:
        build_layers(network, inputs.sample_shape)  # refuses the neuron by name
    check_drive(network, inputs)
    layers = build_layers(network, inputs.sample_shape)
    if inputs.kind != "images":  # images are flattened for a dense input, as on Lava
        check_fits(inputs, layers[0].input_shape, str(network.path))
    if isinstance(inputs, BiasInput) and inputs.samples:
        # the overflow proofs of the Input block's neurons bound |bias| over every sample
        bound = torch.from_numpy(np.abs(inputs.bias.astype(np.int64)).max(axis=0) << STATE_SHIFT).to(EXACT)
        layers[0] = replace(layers[0], neurons=replace(layers[0].neurons, bias=bound))
    if [layer.name for layer in layers] != [block.name for block in timing.blocks]:
        raise NetworkFileError(f"{network.path}: the emulator's layers "
                               f"{[layer.name for layer in layers]} differ from the blocks netx builds "
                               f"{[block.name for block in timing.blocks]}")
    return layers


def _input_steps(inputs: Inputs, start: int, stop: int, generator: torch.Generator) -> torch.Tensor:
    """Input spikes ``(B, T, *shape)`` of samples ``start .. stop - 1``."""
    if isinstance(inputs, ImageInput):
        return encode_steps(inputs.images[start:stop], inputs.schedule, generator)
    if isinstance(inputs, SpikeInput):
        return torch.from_numpy(inputs.spikes[start:stop])
    return torch.zeros((stop - start, inputs.frame_steps, *inputs.sample_shape), dtype=torch.bool)


def _bias_of(inputs: Inputs, start: int, stop: int) -> Optional[torch.Tensor]:
    """The input block's effective bias ``bias_mant << 6`` per sample, ``(B, *shape)``."""
    if not isinstance(inputs, BiasInput):
        return None
    return torch.from_numpy(inputs.bias[start:stop].astype(np.int64) << STATE_SHIFT).to(EXACT)


def _run_batched(layers: Sequence[EmulatedLayer], timing: NetworkTiming, inputs: Inputs,
                 batch_size: int, record: bool) -> list[_Activity]:
    """Samples side by side: every block's window of a sample opens with its reset."""
    frame = timing.frame_steps
    generator = torch.Generator().manual_seed(getattr(inputs, "seed", 0))
    carries = _warm_up(layers, timing)
    parts: list[list[_Activity]] = [[] for _ in layers]
    resets = [step == 0 for step in range(frame)]
    for start in range(0, inputs.samples, batch_size):
        stop = min(start + batch_size, inputs.samples)
        spikes = _input_steps(inputs, start, stop, generator)
        bias = _bias_of(inputs, start, stop)
        for index, layer in enumerate(layers):
            constant = (lambda step, b=bias: b) if layer.bias_driven else None  # noqa: E731
            activity, carries[index] = _run_layer(layer, spikes, resets, carries[index], record, constant)
            spikes = activity.spikes
            parts[index].append(activity if record else _Activity(spikes))
    return [_joined(part, layer, frame) for part, layer in zip(parts, layers)]


def _run_timeline(layers: Sequence[EmulatedLayer], timing: NetworkTiming, inputs: Inputs,
                  batch_size: int, record: bool) -> list[_Activity]:
    """All samples as one timeline from Lava step 1, each block's input one step late;
    each block's windows are then cut from its timeline."""
    frame, samples = timing.frame_steps, inputs.samples
    length = timing.total_steps(samples)
    generator = torch.Generator().manual_seed(getattr(inputs, "seed", 0))
    external = torch.zeros((1, length, *inputs.sample_shape), dtype=torch.bool)
    if samples:
        external[0, :samples * frame] = _input_steps(inputs, 0, samples, generator).reshape(
            samples * frame, *inputs.sample_shape)
    per_sample = _bias_of(inputs, 0, samples)
    spikes = external
    windows = []
    for layer, block in zip(layers, timing.blocks):
        resets = timing.resets(block, length)
        bias = None
        if layer.bias_driven:
            drained = torch.zeros((1, *layer.shape), dtype=EXACT)
            bias = lambda step: (per_sample[step // frame][None]  # noqa: E731
                                 if step < samples * frame else drained)
        else:
            spikes = torch.cat([torch.zeros_like(spikes[:, :1]), spikes[:, :-1]], dim=1)
        activity, _ = _run_layer(layer, spikes, resets, _empty_carry(layer), record, bias)
        spikes = activity.spikes
        cut = slice(block.hops, block.hops + samples * frame)
        windows.append(_Activity(*(None if part is None else part[0, cut].reshape(samples, frame, *layer.shape)
                                   for part in (activity.spikes, activity.voltage))))
    return windows


def _joined(parts: list[_Activity], layer: EmulatedLayer, frame: int) -> _Activity:
    if not parts:
        return _Activity(torch.zeros((0, frame, *layer.shape), dtype=torch.bool),
                         torch.zeros((0, frame, *layer.shape), dtype=torch.int64))
    voltage = torch.cat([part.voltage for part in parts]) if parts[0].voltage is not None else None
    return _Activity(torch.cat([part.spikes for part in parts]), voltage)


@contextmanager
def _threads(count: int) -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _warm_up(layers: Sequence[EmulatedLayer], timing: NetworkTiming) -> list[Optional[_Carry]]:
    """The steps before each block's first window: a block ``hops`` deep runs ``hops`` of
    them (Lava time 1 .. hops) on the previous block's warm-up spikes, resetting where its
    phase says. Only layers that carry state past a reset need the result."""
    if not any(layer.carries_state for layer in layers):
        return [None] * len(layers)
    frame = timing.frame_steps
    carries: list[Optional[_Carry]] = []
    previous = torch.zeros((1, 0, *layers[0].input_shape), dtype=torch.bool)
    for layer, block in zip(layers, timing.blocks):
        steps = block.hops
        if layer.bias_driven:
            inputs = previous
        else:
            inputs = torch.cat([torch.zeros((1, 1, *layer.input_shape), dtype=torch.bool),
                                previous.reshape(1, steps - 1, *layer.input_shape)], dim=1)
        resets = [(step - steps) % frame == 0 for step in range(steps)]
        activity, carry = _run_layer(layer, inputs, resets, _empty_carry(layer), record=False)
        carries.append(carry if layer.carries_state else None)
        previous = activity.spikes
    return carries


def _empty_carry(layer: EmulatedLayer) -> _Carry:
    """A layer's carry before Lava's first step: nothing in flight."""
    return _Carry(_empty_history(layer), torch.zeros((1, *layer.shape), dtype=torch.bool)
                  if layer.recurrent is not None else None)


def _run_layer(layer: EmulatedLayer, inputs: torch.Tensor, resets: Sequence[bool],
               carry: Optional[_Carry], record: bool,
               bias: Optional[Bias] = None) -> tuple[_Activity, Optional[_Carry]]:
    """Run ``inputs`` ``(B, T, ...)`` (B stretches of T steps, back to back) through
    ``layer``; ``bias(step)`` is an Input block's bias at each step."""
    batch, steps = inputs.shape[:2]
    inputs = inputs.reshape(batch, steps, *layer.input_shape)
    currents = _delayed(layer, inputs, carry)
    if layer.recurrent is None:
        activity = _integrate(layer, inputs, currents, slice(None), resets, None, record, bias)
    else:
        activity = _settle(layer, inputs, currents, resets, carry.last, record)
    if carry is None:
        return activity, None
    history = carry.history
    if isinstance(layer.synapse, DelayLine):
        timeline = torch.cat([history, inputs.reshape(-1, *layer.input_shape)])
        history = timeline[len(timeline) - layer.synapse.depth:]
    last = activity.spikes[-1:, -1] if layer.recurrent is not None else None
    return activity, _Carry(history, last)


def _delayed(layer: EmulatedLayer, inputs: torch.Tensor, carry: Optional[_Carry]) -> Optional[torch.Tensor]:
    """A delay line's activations for every step, ``(B, T, n)``, read off the samples'
    back-to-back timeline after the carried history; ``None`` for other synapses, which
    are computed step by step (small tensors stay in cache)."""
    if not isinstance(layer.synapse, DelayLine):
        return None
    batch, steps = inputs.shape[:2]
    timeline = torch.cat([carry.history, inputs.reshape(batch * steps, -1)])
    return layer.synapse(timeline).reshape(batch, steps, *layer.shape)


def _integrate(layer: EmulatedLayer, inputs: torch.Tensor, currents: Optional[torch.Tensor],
               rows: slice | torch.Tensor, resets: Sequence[bool], carried: Optional[torch.Tensor],
               record: bool, bias: Optional[Bias] = None) -> _Activity:
    """The neuron loop over the steps of the selected samples (``rows``)."""
    selected = inputs[rows]
    batch, steps = selected.shape[:2]
    state = CubaState(layer.neurons, (batch, *layer.shape))
    spikes = torch.empty((batch, steps, *layer.shape), dtype=torch.bool)
    voltage = torch.empty((batch, steps, *layer.shape), dtype=torch.int64) if record else None
    previous = carried
    wraps = layer.input_bound >= INT32_LIMIT
    for step in range(steps):
        if resets[step]:
            state.reset()
        if layer.bias_driven:
            drive = torch.zeros((batch, *layer.shape), dtype=EXACT)
        else:
            drive = currents[rows, step] if currents is not None else layer.synapse(selected[:, step])
        if layer.recurrent is not None:
            drive = drive.to(EXACT).add_(layer.recurrent(previous.reshape(batch, -1)))
        if wraps:
            drive = wrap(drive, 32)
        previous = spikes[:, step] = state.step(drive, None if bias is None else bias(step))
        if voltage is not None:
            voltage[:, step] = state.v
    return _Activity(spikes, voltage)


def _settle(layer: EmulatedLayer, inputs: torch.Tensor, currents: Optional[torch.Tensor],
            resets: Sequence[bool], first: torch.Tensor, record: bool) -> _Activity:
    """A recurrent layer over B back-to-back samples: iterate until every sample started
    from the spikes its predecessor really ended with (the fixed point is Lava's run)."""
    batch = len(inputs)
    assumed = torch.zeros((batch, *layer.shape), dtype=torch.bool)
    assumed[0] = first[0]
    activity = _integrate(layer, inputs, currents, slice(None), resets, assumed, record)
    for passes in range(1, batch + BATCHED_PASSES + 1):
        actual = torch.cat([first, activity.spikes[:-1, -1]])
        stale = (actual != assumed).reshape(batch, -1).any(dim=1).nonzero().flatten()
        if not len(stale):
            return activity
        if passes > BATCHED_PASSES:
            stale = stale[:1]
        assumed[stale] = actual[stale]
        again = _integrate(layer, inputs, currents, stale, resets, assumed[stale], record)
        activity.spikes[stale] = again.spikes
        if record:
            activity.voltage[stale] = again.voltage
    raise AssertionError("recurrent carries did not settle")  # unreachable: pass p settles sample p


def _empty_history(layer: EmulatedLayer) -> Optional[torch.Tensor]:
    """A delay line's buffer before Lava's first step: no spikes."""
    if not isinstance(layer.synapse, DelayLine):
        return None
    return torch.zeros((layer.synapse.depth, *layer.input_shape), dtype=torch.bool)
