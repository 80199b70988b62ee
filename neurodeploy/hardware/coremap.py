"""What a core mapper returns: each layer's placement, where the input comes from, and the
cores, chips and smallest system they take.

Two mappers fill it: the per-core limits of :mod:`neurodeploy.hardware.resources` and the
compiler's columns of :mod:`neurodeploy.hardware.compiler_map`; both build it with
:func:`finish`, and validation, energy and the reports read it.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Optional

from neurodeploy.hardware.profile import Profile, System

ON_CHIP, HOST = "on-chip", "host"


@dataclass(frozen=True)
class LayerMapping:
    """One layer's placement. ``tile`` is the most loaded core's extent along ``axes``
    (``grid`` tiles along each); ``usage`` and ``utilisation`` are that core's load and its
    share of each limit. ``blocked`` names the limits even a one-neuron tile breaks: then
    the layer cannot be mapped and ``cores`` counts one per neuron."""

    name: str
    neurons: int
    synapses: int
    cores: int
    neurons_per_core: int
    binding: str
    usage: dict[str, int]
    utilisation: dict[str, float]
    axes: tuple[str, ...]
    tile: tuple[int, ...]
    grid: tuple[int, ...]
    shared_weights: bool = False
    blocked: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class InputPlacement:
    """Where the network's input comes from. ``on-chip``: netx's ``Input`` block, neurons
    mapped like any layer and driven through their bias; ``host``: spikes injected into
    the first layer's input axons, one message per (source, destination core) pair, so
    ``targets`` counts those pairs and ``max_cores_per_source`` the widest fan-out."""

    placement: str
    layer: Optional[str]
    sources: int
    feeds: Optional[str]
    targets: int
    max_cores_per_source: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CoreMap:
    layers: tuple[LayerMapping, ...]
    cores: int
    chips: int
    input: InputPlacement
    system: Optional[str] = None
    limits: dict[str, int] = field(default_factory=dict)
    #: ``nengo-loihi`` (per-core limits, :mod:`~neurodeploy.hardware.resources`) or ``loihi2-compiler``
    #: (the columns of Intel's compiler table, :mod:`~neurodeploy.hardware.compiler_map`).
    accounting: str = "nengo-loihi"

    @property
    def mappable(self) -> bool:
        return not any(layer.blocked for layer in self.layers)

    @property
    def columns(self) -> tuple[str, ...]:
        """The utilisation keys each layer carries, in display order."""
        return tuple(self.limits)

    def to_dict(self) -> dict[str, Any]:
        return {"cores": self.cores, "chips": self.chips, "system": self.system,
                "accounting": self.accounting,
                "limits": self.limits, "input": self.input.to_dict(),
                "layers": [layer.to_dict() for layer in self.layers]}


def finish(layers: tuple[LayerMapping, ...], profile: Profile, placement: InputPlacement,
           limits: dict[str, int], accounting: str = "nengo-loihi") -> CoreMap:
    """The core map of placed layers: cores, chips and the smallest system that holds them."""
    cores = sum(mapping.cores for mapping in layers)
    chips = math.ceil(cores / profile.resources.cores_per_chip.value)
    mappable = not any(mapping.blocked for mapping in layers)
    system = smallest_system(profile, chips) if mappable else None
    return CoreMap(layers=layers, cores=cores, chips=chips, input=placement, limits=limits,
                   system=system.name if system else None, accounting=accounting)


def smallest_system(profile: Profile, chips: int) -> Optional[System]:
    """The profile's system with the fewest chips that still has ``chips``, or None."""
    fitting = [system for system in profile.resources.systems if system.chips.value >= chips]
    return min(fitting, key=lambda system: system.chips.value) if fitting else None
