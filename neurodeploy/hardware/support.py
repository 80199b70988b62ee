"""Support checks (hardware.md section 4): what the target cannot run at all.

Layer and neuron types that netx cannot build, delays or learning on a chip without
them, graded spikes on a chip with binary spikes only, and layers whose inputs do not
match what feeds them: each is reported by name instead of failing at load time.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

from neurodeploy.hardware.findings import Finding, breach, note
from neurodeploy.hardware.profile import Profile
from neurodeploy.core.netxfile import DENSE_TYPES, NetxLayer, NetxNetwork, conv_output_shape

_LAYER_FIXES = {
    "pool": "netx cannot build pooling: use a strided conv (stride = pool size) instead.",
    "average": "netx cannot build an average readout: use a dense readout layer and average "
               "its spike counts on the host.",
    "convT": "netx cannot build transposed convolutions: upsample with a dense layer or "
             "avoid decoder layers.",
    "unpool": "netx cannot build unpooling: avoid decoder layers or use a dense layer.",
    "concat": "netx cannot build concatenation: keep the network a single chain.",
    "dense_comp": "netx has no builder for complex-valued dense layers: use real weights.",
}
CHAIN = "LDL netx/hdf5.py Network._create (each layer reads the previous layer's output) [code]"


def check_support(network: NetxNetwork, profile: Profile, plastic: Iterable[str] = ()) -> list[Finding]:
    findings: list[Finding] = []
    for layer in network.layers:
        findings += _layer_type(layer, profile) + _neuron_type(layer, profile)
        findings += _delays(layer, profile) + _graded(layer, profile) + _input_size(layer)
    learning = profile.learning.on_chip
    if not learning.value:
        findings += [breach(learning, check="support.learning", layer=name, value=True, limit=False,
                            fix="This chip cannot learn on chip: run DA-SSDP in training only and "
                                "deploy frozen weights.") for name in plastic]
    return findings


def _layer_type(layer: NetxLayer, profile: Profile) -> list[Finding]:
    supported = profile.support.layer_types
    if layer.type in supported.value:
        return []
    return [breach(supported, check="support.layer_type", layer=layer.name, value=layer.type,
                   limit=", ".join(supported.value),
                   fix=_LAYER_FIXES.get(layer.type, f"Unknown layer type {layer.type!r}: "
                                                    f"re-export with supported blocks."))]


def _neuron_type(layer: NetxLayer, profile: Profile) -> list[Finding]:
    supported = profile.support.neuron_types
    kind = layer.neuron_type
    if kind is None or kind in supported.value:
        return []
    return [breach(supported, check="support.neuron_type", layer=layer.name, value=kind,
                   limit=", ".join(supported.value),
                   fix=f"Train this layer with one of {', '.join(supported.value)} neurons "
                       f"(e.g. slayer.block.cuba) for this target.")]


def _delays(layer: NetxLayer, profile: Profile) -> list[Finding]:
    allowed = profile.support.delays
    if allowed.value or layer.delay is None or not np.any(layer.delay):
        return []
    return [breach(allowed, check="support.delays", layer=layer.name,
                   value=float(np.max(layer.delay)), limit=0,
                   fix="This chip has no synaptic delays: train without delay=True, or realise "
                       "the delay with relay neurons.")]


def _graded(layer: NetxLayer, profile: Profile) -> list[Finding]:
    """Graded spikes from a neuron type the chip supports (an unsupported type is
    reported as such)."""
    bits = profile.precision.graded_spike_bits
    supported = layer.neuron_type in profile.support.neuron_types.value
    if bits.value > 0 or not layer.graded or not layer.n_neurons or not supported:
        return []
    return [breach(bits, check="support.graded_spikes", layer=layer.name,
                   value=layer.message_bits or "graded", limit=0,
                   fix="This chip sends binary spikes only: use spiking (CUBA) neurons without "
                       "graded spikes.")]


def _input_size(layer: NetxLayer) -> list[Finding]:
    """Whether the layer's weights take what the previous layer gives."""
    if not layer.is_synaptic or layer.input_shape is None:
        return []
    if layer.type in DENSE_TYPES:
        expected = layer.weight.size // max(layer.n_neurons, 1)
        given = int(np.prod(layer.input_shape))
        ok = expected == given
    elif layer.type == "conv" and len(layer.input_shape) == 3 and len(layer.shape) == 3:
        channels = layer.weight.shape[1] * (layer.groups or 1)
        expected = f"{channels} channels mapped to {tuple(layer.shape[:2])}"
        given = layer.input_shape
        ok = given[2] == channels and conv_output_shape(given, layer) == tuple(layer.shape[:2])
    else:
        return []
    if ok:
        return []
    return [note(check="support.input_size", layer=layer.name, value=given, limit=expected,
                 source=CHAIN, severity="error",
                 fix="The layer's weights do not match the previous layer's output: re-export "
                     "the network from one consistent model.")]
