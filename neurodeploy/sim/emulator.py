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
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional, Sequence

import numpy as np
import torch

from neurodeploy.encoding import FrameSchedule, check_images, encode
from neurodeploy.model.train import predict_from_counts
from neurodeploy.netxfile import read_netx
from neurodeploy.sim.emulator_layers import INT32_LIMIT, DelayLine, EmulatedLayer, build_layers
from neurodeploy.sim.fixed_point import EXACT, CubaState, wrap
from neurodeploy.sim.runner import SimulationResult
from neurodeploy.sim.trace import LayerTrace

#: Fixed-point passes that re-run every unsettled sample at once before settling them in order.
BATCHED_PASSES = 3


@dataclass
class _Carry:
    """What one layer hands from one stretch of the timeline to the next."""

    history: Optional[torch.Tensor]   # last ``depth`` input steps, for a delay line
    last: Optional[torch.Tensor]      # own spikes of the last step, for recurrence


@dataclass
class _Activity:
    spikes: torch.Tensor                     # (B, T, *shape) bool
    voltage: Optional[torch.Tensor] = None   # (B, T, *shape) int64


def emulate(network_file: str | Path, images: np.ndarray, schedule: FrameSchedule,
            batch_size: int = 256, record: bool = False, seed: int = 0,
            threads: int = 1) -> SimulationResult:
    """Run ``images`` (``uint8 (N, C, H, W)``) through ``network_file`` as Lava fixed_pt would.

    Returns what :func:`neurodeploy.sim.runner.simulate` returns, bit for bit; with
    ``record`` also every layer's spikes and voltages per frame window
    (:class:`LayerTrace`, torch layout) in ``recording``. ``seed`` seeds the rate
    encodings (the deterministic codes ignore it). ``threads`` is torch's intra-op thread
    count during the run: one by default, because OpenMP threads spin-wait on a loaded
    machine and the small per-step tensors then run many times slower.
    """
    pixels = check_images(images, schedule.n_bits)
    layers = build_layers(read_netx(network_file), tuple(pixels.shape[1:]))
    frame = schedule.frame_steps
    generator = torch.Generator().manual_seed(seed)
    began = time.perf_counter()
    with torch.inference_mode(), _threads(threads):
        carries = _warm_up(layers, frame)
        counts = [torch.zeros((0, int(np.prod(layers[-1].shape))), dtype=torch.int64)]
        totals = np.zeros(len(layers))
        recorded: list[list[_Activity]] = [[] for _ in layers]
        resets = [step == 0 for step in range(frame)]
        for start in range(0, len(pixels), batch_size):
            spikes = encode(pixels[start:start + batch_size], schedule, generator).movedim(-1, 1).bool()
            for index, layer in enumerate(layers):
                activity, carries[index] = _run_layer(layer, spikes, resets, carries[index], record)
                spikes = activity.spikes
                totals[index] += int(torch.count_nonzero(spikes))
                if record:
                    recorded[index].append(activity)
            window = max(frame - len(layers), 0)
            counts.append(torch.count_nonzero(spikes[:, :window], dim=1).reshape(len(spikes), -1))
    wall_s = time.perf_counter() - began
    output_counts = torch.cat(counts).numpy()
    samples = len(pixels)
    per_layer = {layer.name: total / max(samples, 1) for layer, total in zip(layers, totals)}
    recording = {layer.name: _trace(hops, parts) for hops, (layer, parts)
                 in enumerate(zip(layers, recorded), start=1)} if record else None
    return SimulationResult(predict_from_counts(output_counts), output_counts, per_layer,
                            steps=samples * frame + len(layers), wall_s=wall_s, recording=recording)


@contextmanager
def _threads(count: int) -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _warm_up(layers: Sequence[EmulatedLayer], frame: int) -> list[Optional[_Carry]]:
    """The steps before each layer's first frame: layer ``j`` runs ``j + 1`` of them (Lava
    time 1 .. j + 1) on the previous layer's warm-up spikes, resetting where its offset
    says. Only layers that carry state past a reset need the result."""
    if not any(layer.carries_state for layer in layers):
        return [None] * len(layers)
    carries: list[Optional[_Carry]] = []
    previous = torch.zeros((1, 0, *layers[0].input_shape), dtype=torch.bool)
    for index, layer in enumerate(layers):
        steps = index + 1
        inputs = torch.cat([torch.zeros((1, 1, *layer.input_shape), dtype=torch.bool),
                            previous.reshape(1, steps - 1, *layer.input_shape)], dim=1)
        resets = [(step - steps) % frame == 0 for step in range(steps)]
        empty = _Carry(_empty_history(layer), torch.zeros((1, *layer.shape), dtype=torch.bool)
                       if layer.recurrent is not None else None)
        activity, carry = _run_layer(layer, inputs, resets, empty, record=False)
        carries.append(carry if layer.carries_state else None)
        previous = activity.spikes
    return carries


def _run_layer(layer: EmulatedLayer, inputs: torch.Tensor, resets: Sequence[bool],
               carry: Optional[_Carry], record: bool) -> tuple[_Activity, Optional[_Carry]]:
    """Run ``inputs`` ``(B, T, ...)`` (B stretches of T steps, back to back) through ``layer``."""
    batch, steps = inputs.shape[:2]
    inputs = inputs.reshape(batch, steps, *layer.input_shape)
    currents = _delayed(layer, inputs, carry)
    if layer.recurrent is None:
        activity = _integrate(layer, inputs, currents, slice(None), resets, None, record)
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
               record: bool) -> _Activity:
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
        drive = currents[rows, step] if currents is not None else layer.synapse(selected[:, step])
        if layer.recurrent is not None:
            drive = drive.to(EXACT).add_(layer.recurrent(previous.reshape(batch, -1)))
        if wraps:
            drive = wrap(drive, 32)
        previous = spikes[:, step] = state.step(drive)
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


def _trace(hops: int, parts: list[_Activity]) -> LayerTrace:
    return LayerTrace(hops, torch.cat([part.spikes for part in parts]).numpy(),
                      torch.cat([part.voltage for part in parts]).numpy())
