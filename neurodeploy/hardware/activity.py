"""Per-sample activity counts (NeuroBench style) from a simulation's spike counts.

The energy model needs synaptic operations, neuron updates and spikes per sample. A spike
of a presynaptic population costs one synaptic operation per synapse it fans out to; the
average fan-out of a layer's inputs is its synapse count over its input count (exact for
dense layers, the mean over border effects for convolutions).
"""
from __future__ import annotations

import math

from neurodeploy.netxfile import NetxNetwork


def activity_counts(network: NetxNetwork, input_spikes: float, layer_spikes: dict[str, float],
                    frame_steps: int) -> dict[str, float]:
    """``synaptic_ops_per_sample``, ``neuron_updates_per_sample`` and ``spikes_per_sample``."""
    synaptic = [layer for layer in network.layers if layer.is_synaptic]
    presynaptic = [input_spikes] + [layer_spikes[layer.name] for layer in synaptic[:-1]]
    synaptic_ops = 0.0
    for spikes, layer in zip(presynaptic, synaptic):
        inputs = math.prod(layer.input_shape) if layer.input_shape else layer.weight.shape[1]
        synaptic_ops += spikes * layer.n_synapses / inputs
    return {"synaptic_ops_per_sample": synaptic_ops,
            "neuron_updates_per_sample": float(network.n_neurons * frame_steps),
            "spikes_per_sample": input_spikes + sum(layer_spikes[layer.name] for layer in synaptic)}
