"""Per-sample activity counts (NeuroBench style) from a simulation's spike counts.

The energy model needs synaptic operations, neuron updates and spikes per sample. A spike
of a presynaptic population costs one synaptic operation per synapse it fans out to; the
average fan-out of a layer's inputs is its synapse count over its input count (exact for
dense layers, the mean over border effects for convolutions).

The same counts per layer (``layers``: synaptic operations a layer receives and spikes it
sends) let a step-time model find the busiest core (:mod:`neurodeploy.hardware.energy`).
"""
from __future__ import annotations

import math
from typing import Any

from neurodeploy.core.netxfile import NetxNetwork

#: Per-layer counts under ``activity["layers"][name]``.
LAYER_KEYS = ("synaptic_ops", "spikes")


def activity_counts(network: NetxNetwork, input_spikes: float, layer_spikes: dict[str, float],
                    frame_steps: int) -> dict[str, Any]:
    """``synaptic_ops_per_sample``, ``neuron_updates_per_sample``, ``spikes_per_sample``
    and the per-layer split under ``layers`` (an on-chip Input block counts the input
    spikes as its own)."""
    synaptic = [layer for layer in network.layers if layer.is_synaptic]
    presynaptic = [input_spikes] + [layer_spikes[layer.name] for layer in synaptic[:-1]]
    layers: dict[str, dict[str, float]] = {}
    first = network.layers[0] if network.layers else None
    if first is not None and first.type == "input" and first.n_neurons:
        layers[first.name] = {"synaptic_ops": 0.0, "spikes": float(input_spikes)}
    for spikes, layer in zip(presynaptic, synaptic):
        inputs = math.prod(layer.input_shape) if layer.input_shape else layer.weight.shape[1]
        layers[layer.name] = {"synaptic_ops": spikes * layer.n_synapses / inputs,
                              "spikes": float(layer_spikes[layer.name])}
    return {"synaptic_ops_per_sample": sum(counts["synaptic_ops"] for counts in layers.values()),
            "neuron_updates_per_sample": float(network.n_neurons * frame_steps),
            "spikes_per_sample": input_spikes + sum(layer_spikes[layer.name] for layer in synaptic),
            "layers": layers}
