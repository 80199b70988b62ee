"""A float, discrete-time simulation of :class:`FloatNetwork`: NIR's model at step ``dt``.

It runs the equations of :mod:`neurodeploy.interop.layers` in float64 with no synaptic
latency (NIR implies none) and each sample from rest, so it is what the NIR graph means
at ``dt``; the emulator runs the same network quantised, one step of latency per hop,
which its hop-aligned windows undo. Differences between the two are then quantisation
(and Loihi's truncating decays), nothing else.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as functional

from neurodeploy.interop.layers import FloatLayer, FloatNetwork
from neurodeploy.core.progress import progress


@dataclass(frozen=True)
class FloatTrace:
    """One layer's spikes ``(N, T, *shape)`` bool and voltages (float64, after reset)."""

    spikes: np.ndarray
    voltage: np.ndarray


def simulate_float(network: FloatNetwork, spikes: np.ndarray | torch.Tensor) -> dict[str, FloatTrace]:
    """Run ``spikes`` ``(N, T, *input_shape)`` through every layer; traces by layer name."""
    current = torch.as_tensor(np.asarray(spikes), dtype=torch.float64)
    traces: dict[str, FloatTrace] = {}
    with torch.inference_mode(), progress("float NIR", len(network.layers), unit="layers") as advance:
        for layer in network.layers:  # each layer runs every sample at once: progress is per layer
            out, voltage = _run_layer(layer, current)
            traces[layer.name] = FloatTrace(out.numpy().astype(bool), voltage.numpy())
            current = out
            advance(1)
    return traces


def _run_layer(layer: FloatLayer, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    batch, steps = inputs.shape[:2]
    drive = _drive(layer, inputs.reshape(batch, steps, *layer.synapse_input))
    keep_u, keep_v = 1.0 - layer.current_decay, 1.0 - layer.voltage_decay
    bias = torch.as_tensor(layer.bias_per_neuron(), dtype=torch.float64)
    rec = None if layer.weight_rec is None else torch.as_tensor(layer.weight_rec, dtype=torch.float64)
    threshold = layer.threshold
    u = torch.zeros((batch, *layer.shape), dtype=torch.float64)
    v = torch.zeros_like(u)
    z = torch.zeros_like(u)
    spikes = torch.zeros((batch, steps, *layer.shape), dtype=torch.float64)
    voltage = torch.zeros_like(spikes)
    for step in range(steps):
        u = keep_u * u + drive[:, step]
        if rec is not None:
            u = u + z @ rec.T
        v = keep_v * v + u + bias
        if threshold is not None:
            z = (v > threshold).to(torch.float64)
            v = v * (1 - z)
        spikes[:, step], voltage[:, step] = z, v
    return spikes, voltage


def _drive(layer: FloatLayer, inputs: torch.Tensor) -> torch.Tensor:
    """The synaptic input of every step at once ``(N, T, *shape)`` (it depends on no state)."""
    batch, steps = inputs.shape[:2]
    weight = torch.as_tensor(layer.weight, dtype=torch.float64)
    if layer.kind == "conv":
        flat = functional.conv2d(inputs.reshape(batch * steps, *inputs.shape[2:]), weight,
                                 stride=layer.stride, padding=layer.padding, dilation=layer.dilation,
                                 groups=layer.groups)
        return flat.reshape(batch, steps, *layer.shape)
    delays: Optional[np.ndarray] = layer.delay_per_synapse()
    if delays is None:
        return inputs @ weight.T
    total = torch.zeros((batch, steps, layer.shape[0]), dtype=torch.float64)
    for delay in np.unique(delays).astype(int):
        part = torch.where(torch.as_tensor(delays == delay), weight, torch.zeros_like(weight))
        shifted = torch.zeros_like(inputs)
        shifted[:, delay:] = inputs[:, :steps - delay] if delay < steps else 0
        total += shifted @ part.T
    return total
