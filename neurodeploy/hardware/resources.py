"""The core mapper (hardware.md section 3): how many cores each layer needs, and why.

Each layer with neurons is split evenly over the fewest cores such that one core's share
respects every per-core limit of the profile:

- neurons per core;
- input axons: one per distinct source neuron feeding the core; a dense layer needs all
  of its inputs on every core, a kernel layer at most ``neurons x fan-in`` of them;
- synapse memory, with the profile's accounting rule (nengo-loihi's ``bits_per_axon``):
  each input axon's synapses are stored in groups of ``synapse_group_size``, each group
  ``n x bits + overhead`` rounded up to whole words; bits per synapse are the weight bits,
  plus delay bits when the layer has delays, plus tag bits when it is plastic. Kernel
  layers are counted without weight sharing (an upper bound);
- output axons: one per (neuron, destination core) pair; the last layer sends to one.

Layers are mapped from the output backwards because a layer's output axons depend on
how many cores its successor occupies.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterable

from neurodeploy.hardware.findings import NETWORK, Finding, breach, note
from neurodeploy.hardware.profile import Fact, Profile
from neurodeploy.netxfile import NetxLayer, NetxNetwork

#: Per-core limits the mapper enforces, in the order a binding limit is named.
LIMITS = ("neurons_per_core", "input_axons_per_core", "synapse_memory_bits", "output_axons_per_core")
WHOLE_LAYER = "whole layer"  # binding "limit" of a layer that fits one core


@dataclass(frozen=True)
class LayerMapping:
    """One layer's placement: ``usage`` is one core's load at the chosen packing;
    ``blocked`` names the limits that even one neuron per core breaks (then the layer
    cannot be mapped, and ``cores`` counts one per neuron)."""

    name: str
    neurons: int
    synapses: int
    cores: int
    neurons_per_core: int
    binding: str
    usage: dict[str, int]
    blocked: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CoreMap:
    layers: tuple[LayerMapping, ...]
    cores: int
    chips: int

    @property
    def mappable(self) -> bool:
        return not any(layer.blocked for layer in self.layers)

    def to_dict(self) -> dict[str, Any]:
        return {"cores": self.cores, "chips": self.chips,
                "layers": [layer.to_dict() for layer in self.layers]}


def synapse_bits_per_axon(synapses: int, bits_per_synapse: int, profile: Profile) -> int:
    """Synapse memory one input axon with ``synapses`` targets takes on a core."""
    res = profile.resources
    group, word = res.synapse_group_size.value, res.synapse_word_bits.value

    def stored(n: int) -> int:
        return math.ceil((n * bits_per_synapse + res.synapse_group_overhead_bits.value) / word) * word

    full, rest = divmod(synapses, group)
    return full * stored(group) + (stored(rest) if rest else 0)


def map_cores(network: NetxNetwork, profile: Profile, plastic: Iterable[str] = ()) -> CoreMap:
    """Place every layer with neurons; ``plastic`` names layers whose synapses learn."""
    plastic = set(plastic)
    placed: list[LayerMapping] = []
    destination_cores = 1
    for layer in reversed([layer for layer in network.layers if layer.n_neurons]):
        mapping = _map_layer(layer, profile, destination_cores, layer.name in plastic)
        placed.append(mapping)
        destination_cores = mapping.cores
    placed.reverse()
    cores = sum(mapping.cores for mapping in placed)
    return CoreMap(layers=tuple(placed), cores=cores,
                   chips=math.ceil(cores / profile.resources.cores_per_chip.value))


def check_resources(core_map: CoreMap, profile: Profile) -> list[Finding]:
    """Errors for layers that do not fit even one neuron per core; a note on uncertain limits."""
    res = profile.resources
    findings = []
    for layer in core_map.layers:
        for limit in layer.blocked:
            fact: Fact = getattr(res, limit)
            findings.append(breach(
                fact, check=f"resources.{_short(limit)}", layer=layer.name,
                value=layer.usage[limit], limit=fact.value,
                fix=_FIXES.get(limit, f"Raise resources.{limit} in the profile or shrink the layer.")))
    uncertain = [name for name in LIMITS if getattr(res, name).uncertain]
    if uncertain:
        findings.append(note(
            check="resources.uncertain_limits", layer=NETWORK, value=core_map.cores,
            limit=", ".join(uncertain), severity="info",
            source=f"{profile.name} profile: {', '.join(uncertain)} [uncertain limit]",
            fix="Core counts rest on per-core limits that are not public: confirm them with the "
                "vendor's compiler before planning hardware."))
    return findings


def _map_layer(layer: NetxLayer, profile: Profile, destination_cores: int, plastic: bool) -> LayerMapping:
    usage = _usage_model(layer, profile, destination_cores, plastic)
    limits = {name: getattr(profile.resources, name).value for name in LIMITS}

    def broken(per_core: int) -> list[str]:
        load = usage(per_core)
        return [name for name in LIMITS if load[name] > limits[name]]

    total = layer.n_neurons
    blocked = broken(1)
    if blocked:  # not even one neuron fits a core: count one core per neuron
        return LayerMapping(layer.name, total, layer.n_synapses, total, 1, blocked[0],
                            usage(1), tuple(blocked))
    low, high = 1, total  # largest share that fits: usage grows with the share
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if not broken(middle) else (low, middle - 1)
    cores = math.ceil(total / low)
    per_core = math.ceil(total / cores)
    binding = WHOLE_LAYER if low == total else broken(low + 1)[0]
    return LayerMapping(layer.name, total, layer.n_synapses, cores, per_core, binding, usage(per_core))


def _usage_model(layer: NetxLayer, profile: Profile, destination_cores: int,
                 plastic: bool) -> Callable[[int], dict[str, int]]:
    res = profile.resources
    bits = profile.precision.weight_bits.value
    bits += res.synapse_delay_bits.value if layer.delay is not None else 0
    bits += res.synapse_tag_bits.value if plastic else 0
    sources = math.prod(layer.input_shape) if layer.input_shape else layer.fan_in
    sources += layer.n_neurons if layer.weight_rec is not None else 0

    def usage(per_core: int) -> dict[str, int]:
        """One core's load when it holds ``per_core`` of the layer's neurons."""
        synapses = per_core * layer.fan_in
        axons = min(sources, synapses)
        per_axon = math.ceil(synapses / axons) if axons else 0
        return {"neurons_per_core": per_core,
                "input_axons_per_core": axons,
                "synapse_memory_bits": axons * synapse_bits_per_axon(per_axon, bits, profile),
                "output_axons_per_core": per_core * destination_cores}

    return usage


def _short(limit: str) -> str:
    return limit.removesuffix("_per_core").removesuffix("_bits")


_FIXES = {
    "input_axons_per_core": "The layer's fan-in needs more input axons than one core has: "
                            "reduce its inputs (pool or downsample earlier) or split the layer "
                            "into parallel branches.",
    "synapse_memory_bits": "One neuron's synapses alone exceed a core's synapse memory: "
                           "reduce the fan-in or the weight bits.",
    "output_axons_per_core": "One neuron fans out to more cores than a core has output axons: "
                             "make the next layer smaller or sparser.",
}
