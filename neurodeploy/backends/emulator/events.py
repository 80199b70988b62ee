"""Event-driven synapses on the CPU: add the weights of the inputs that spiked, then step
the neurons, in one compiled loop (:mod:`neurodeploy.backends.emulator.kernels`).

Spikes are sparse (on the digits 16 % of the input and 4 % of a hidden layer fire in a
step), so a synapse that visits only the spikes does several times fewer additions than
the dense matrix product and never builds the drive tensor between synapse and neuron.
Images in a deterministic code become events straight from their intensities (each
intensity's spike steps are a table), with no spike trains built at all. It is exact for
the reason the product is: integer weights summed in a float type that holds every
partial sum (the bound each synapse proves when it is built), in whatever order.

A dense product still wins where many inputs fire (per multiply-add it runs near the
machine's peak and the scattered adds do not), so :func:`worth_it` picks per layer and
batch from the number of events, by measured costs per operation.
"""
from __future__ import annotations

import math
import weakref
from dataclasses import dataclass
from typing import Optional, Sequence, Union

import numpy as np
import torch

from neurodeploy.core.encoding import FrameSchedule, check_images, level_steps
from neurodeploy.backends.emulator.layers import CONV_BITS, ConvSynapse, DenseSynapse, EmulatedLayer
from neurodeploy.backends.emulator.fixed_point import EXACT, neuron_constants

#: Nanoseconds per operation on one CPU thread, measured on this project's 2-core machine
#: with benchmarks/event_costs.py: the product path pays per multiply-add (BLAS or oneDNN)
#: and per output value (casts, the drive tensor, the neuron loop; conv's are larger), the
#: event path per output value (the neuron loop, the events it emits) and per addition of
#: a weight row. A conv's additions are scattered over output channels held neuron after
#: neuron, several times dearer once the layer's sums outgrow the first cache levels.
COSTS_NS = {"product": 0.02, "dense_output": 3.0, "conv_output": 9.0, "event_output": 0.7,
            "dense_add": 0.2, "conv_add": 1.5, "conv_add_uncached": 9.0}
CACHE_BYTES = 64 * 1024

_PREPARED: "weakref.WeakKeyDictionary[EmulatedLayer, _Prepared]" = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Events:
    """Spikes as lists: the inputs that fired in each of ``batch * steps`` steps, row
    ``b * steps + t`` being ``indices[pointers[row]:pointers[row + 1]]`` (flat indices
    into ``shape``)."""

    pointers: np.ndarray
    indices: np.ndarray
    batch: int
    steps: int
    shape: tuple[int, ...]

    @classmethod
    def of_spikes(cls, spikes: torch.Tensor) -> "Events":
        """From ``(B, T, *shape)`` 0/1 spikes."""
        from neurodeploy.backends.emulator.kernels import compact

        batch, steps = spikes.shape[:2]
        flat = spikes.reshape(batch * steps, -1).to(torch.bool).contiguous().numpy()
        return cls(*compact(flat), batch, steps, tuple(spikes.shape[2:]))

    @classmethod
    def of_images(cls, images: Union[np.ndarray, torch.Tensor], schedule: FrameSchedule) -> "Events":
        """``(N, C, H, W)`` images in a deterministic code, without building their spike trains."""
        from neurodeploy.backends.emulator.kernels import level_events

        pixels = check_images(images, schedule.n_bits)
        pointers, steps = level_steps(schedule)
        rows = level_events(pixels.reshape(len(pixels), -1).numpy(), pointers, steps, schedule.frame_steps)
        return cls(*rows, len(pixels), schedule.frame_steps, tuple(pixels.shape[1:]))

    @property
    def count(self) -> int:
        return len(self.indices)

    def dense(self) -> torch.Tensor:
        """The spikes as a ``(B, T, *shape)`` bool tensor."""
        rows = self.batch * self.steps
        spikes = torch.zeros((rows, math.prod(self.shape)), dtype=torch.bool)
        row_of = np.repeat(np.arange(rows), np.diff(self.pointers))
        spikes[torch.from_numpy(row_of), torch.from_numpy(self.indices)] = True
        return spikes.reshape(self.batch, self.steps, *self.shape)


def supported(layer: EmulatedLayer) -> bool:
    """Feed-forward dense and conv layers without delays or recurrence (the rest keep the
    tensor path)."""
    return layer.recurrent is None and isinstance(layer.synapse, (DenseSynapse, ConvSynapse))


def worth_it(layer: EmulatedLayer, events: int, steps: int) -> bool:
    """Whether ``events`` input spikes over ``steps`` steps (samples times frame) take less
    time through the event loop than through the product and the neuron loop, by the
    costs in :data:`COSTS_NS`."""
    synapse, outputs = layer.synapse, math.prod(layer.shape)
    if isinstance(synapse, ConvSynapse):  # each output adds (C / g) kH kW inputs; an input reaches
        taps = math.prod(synapse.kernel)  # about kH kW / stride**2 positions, O / g channels each
        products = steps * outputs * synapse.weight.shape[1] * taps
        fan_out = synapse.weight.shape[0] // synapse.groups * max(taps // math.prod(synapse.stride), 1)
        add = COSTS_NS["conv_add" if outputs * 8 <= CACHE_BYTES else "conv_add_uncached"]
        per_output = COSTS_NS["conv_output"]
    else:
        products, fan_out = steps * outputs * math.prod(layer.input_shape), outputs
        add, per_output = COSTS_NS["dense_add"], COSTS_NS["dense_output"]
    tensor = steps * outputs * per_output + products * COSTS_NS["product"]
    return steps * outputs * COSTS_NS["event_output"] + events * fan_out * add < tensor


def run(layer: EmulatedLayer, events: Events, resets: Sequence[bool],
        record: bool) -> tuple[torch.Tensor, Optional[torch.Tensor], Events]:
    """``events`` through ``layer``: spikes ``(B, T, *shape)`` (bool), voltages (int64,
    with ``record``) and the same spikes as events (for the next layer)."""
    from neurodeploy.backends.emulator import kernels

    rows, size = events.batch * events.steps, math.prod(layer.shape)
    prepared = _prepared(layer)
    spikes = torch.empty((rows, size), dtype=torch.bool)
    voltage = torch.empty((rows if record else 0, size), dtype=torch.int64)
    pointers, indices = np.empty(rows + 1, dtype=np.int64), np.empty(rows * size, dtype=np.int64)
    cuba = (np.asarray(resets, dtype=np.bool_), prepared.bias, prepared.neurons, spikes.numpy(), voltage.numpy(),
            pointers, indices)
    synapse = layer.synapse
    if isinstance(synapse, DenseSynapse):
        kernels.dense_events(events.pointers, events.indices, events.steps, prepared.weights,
                             2.0 ** synapse.exponent, *cuba)
    else:
        kernels.conv_events(events.pointers, events.indices, events.steps, *prepared.routes, prepared.weights,
                            layer.shape[0], synapse.bound >= 1 << (CONV_BITS - 1), *cuba)
    shape = (events.batch, events.steps, *layer.shape)
    fired = Events(pointers, indices[:pointers[-1]].copy(), events.batch, events.steps, tuple(layer.shape))
    return spikes.reshape(shape), voltage.reshape(shape) if record else None, fired


@dataclass(frozen=True)
class _Prepared:
    """A layer as the kernels read it, made once per layer."""

    weights: np.ndarray        # the synapse's exact float type: (in, out), or (C, kH * kW, O / groups)
    bias: np.ndarray           # (1, 1, n) float64
    neurons: tuple             # fixed_point.neuron_constants
    routes: tuple[np.ndarray, ...] = ()   # conv: _conv_routes


def _prepared(layer: EmulatedLayer) -> _Prepared:
    prepared = _PREPARED.get(layer)
    if prepared is None:
        synapse = layer.synapse
        bias, neurons = _bias(layer.neurons.bias, math.prod(layer.shape)), neuron_constants(layer.neurons)
        if isinstance(synapse, DenseSynapse):
            prepared = _Prepared(synapse.weight_t.contiguous().numpy(), bias, neurons)
        else:  # an input channel's taps, each a row of its group's output channels
            weight = synapse.weight                                             # (O, C / g, kH, kW)
            groups, per_group = synapse.groups, weight.shape[0] // synapse.groups
            grouped = weight.reshape(groups, per_group, weight.shape[1], -1)   # (g, O / g, C / g, taps)
            weights = grouped.permute(0, 2, 3, 1).reshape(-1, grouped.shape[3], per_group).contiguous().numpy()
            prepared = _Prepared(weights, bias, neurons, _conv_routes(synapse, layer.input_shape))
        _PREPARED[layer] = prepared
    return prepared


def _conv_routes(synapse: ConvSynapse, input_shape: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    """Where each input spike goes in a conv: per flat input index its channel and position,
    per channel its group's first output channel, and per input position (CSR) the output
    positions it reaches with the kernel tap that takes it there (correlation: output ``oy``
    reads input ``oy * stride - pad + ky * dilation``)."""
    channels, height, width = input_shape
    out_h, out_w = synapse.output_shape[1:]
    (k_h, k_w), (s_h, s_w), (p_h, p_w), (d_h, d_w) = synapse.kernel, synapse.stride, synapse.padding, synapse.dilation
    oy, ox, ky, kx = np.meshgrid(np.arange(out_h), np.arange(out_w), np.arange(k_h), np.arange(k_w), indexing="ij")
    y, x = oy * s_h - p_h + ky * d_h, ox * s_w - p_w + kx * d_w
    inside = (y >= 0) & (y < height) & (x >= 0) & (x < width)
    source = (y * width + x)[inside]
    order = np.argsort(source, kind="stable")
    pointers = np.zeros(height * width + 1, dtype=np.int64)
    pointers[1:] = np.cumsum(np.bincount(source, minlength=height * width))
    outputs = (oy * out_w + ox)[inside][order].astype(np.int64)
    taps = (ky * k_w + kx)[inside][order].astype(np.int64)
    flat = np.arange(channels * height * width)
    per_group = synapse.weight.shape[0] // synapse.groups
    first = (np.arange(channels) // (channels // synapse.groups) * per_group).astype(np.int64)
    return flat // (height * width), flat % (height * width), first, pointers, outputs, taps


def _bias(bias: Optional[torch.Tensor], size: int) -> np.ndarray:
    """The layer's effective bias as the kernels take it, ``(1, 1, n)`` float64."""
    if bias is None:
        return np.zeros((1, 1, size))
    return bias.to(EXACT).contiguous().reshape(1, 1, size).numpy()
