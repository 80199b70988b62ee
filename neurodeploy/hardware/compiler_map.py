"""Loihi 2's core map as Intel's compiler accounts for it, from the per-core tables it
prints (lava-dl's tutorial notebooks keep them; docs/mapping.md, "Loihi 2").

The compiler reports, per core of each layer, six registers as a share of their
capacity: input axons (AxonIn), neuron groups (NeuronGr), neurons, synapse memory
(Synapses), output-axon map entries (AxonMap) and axon memory (AxonMem), and the share of
the core's memory pool they take together (Total). This module counts the same six for
the busiest core of each layer and places layers the way the tables show the compiler
does:

- a layer with (x, y, channel) axes (netx's Input block, conv, pool) is cut into tiles
  ``Conv(x, y, c)`` with x a power of two, y the height halved k times and c the
  channels halved j times; of the tiles whose neurons and shared kernel fit, the one
  with the fewest channel tiles wins (as many channels as the kernel memory allows),
  then the fewest cores, then one with ``x <= y < 4x``, then the fewest y tiles, then
  the widest x (the ties broken to match the printed tiles: 19 of 20);
- a dense layer starts on one core and, while a core's synapse allocation exceeds the
  SynMem register, multiplies its core count by the overshoot rounded up (the
  compiler's ``Violation ... SynMem ... Final max_ratio=N`` loop).

Synapse memory: a dense layer stores, per input axon, its synapses into the core at
``2 x weight bits + 17`` each in units of 105 (the profile's ``dense_synapse_cost_*``);
a conv layer stores its kernel once per core (shared over positions), per tap and input
channel the tile's channels at ``weight bits`` each in ``conv_synapse_word_bits`` words.
Weight bits are what netx gives the layer (``optimize_weight_bits``), plus a sign bit for
mixed-sign weights, at most the profile's ``weight_bits``.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from neurodeploy.hardware.coremap import HOST, ON_CHIP, CoreMap, InputPlacement, LayerMapping, finish
from neurodeploy.hardware.profile import Compiler, Profile
from neurodeploy.core.netxfile import DENSE_TYPES, NetxLayer, NetxNetwork

#: The compiler's columns, in its order, and the profile key of each one's capacity.
COLUMNS = {"axon_in": "axon_in_per_core", "neuron_groups": "neuron_groups_per_core",
           "neurons": "neurons_per_core", "synapses": "synapses_per_core",
           "axon_map": "axon_map_per_core", "axon_mem": "axon_mem_per_core"}
#: Column headers as the compiler prints them.
HEADERS = {"axon_in": "AxonIn", "neuron_groups": "NeuronGr", "neurons": "Neurons",
           "synapses": "Synapses", "axon_map": "AxonMap", "axon_mem": "AxonMem", "total": "Total"}
TOTAL = "total"


@dataclass(frozen=True)
class Placement:
    """One layer on the compiler's cores: the busiest core's registers and the tiling."""

    cores: int
    usage: dict[str, int]
    tile: tuple[int, ...]
    grid: tuple[int, ...]
    axes: tuple[str, ...]
    binding: str
    blocked: tuple[str, ...] = ()
    shared_weights: bool = False


def limits(compiler: Compiler) -> dict[str, int]:
    """Capacity of each column, and the memory pool under ``total``."""
    return {**{column: getattr(compiler, key).value for column, key in COLUMNS.items()},
            TOTAL: compiler.memory_pool.value}


def utilisation(usage: dict[str, int], capacity: dict[str, int]) -> dict[str, float]:
    """Each column as a share of its capacity; ``total``: the pool share of the counts
    that live in it (every register but the neuron groups)."""
    shares = {column: round(usage[column] / capacity[column], 4) for column in COLUMNS}
    pooled = sum(usage[column] for column in COLUMNS if column != "neuron_groups")
    shares[TOTAL] = round(pooled / capacity[TOTAL], 4)
    return shares


def weight_bits(weight: Optional[np.ndarray], max_bits: int) -> int:
    """Bits a synapse's weight takes: netx's ``optimize_weight_bits`` (lava-dl
    netx/utils.py; :func:`neurodeploy.core.loaded_weights.netx_optimised`) plus a sign bit when
    signs are mixed, at most ``max_bits``."""
    if weight is None or weight.size == 0 or not np.any(weight):
        return 1
    weight = np.asarray(weight)
    high, low = float(weight.max()), float(weight.min())
    if (high > 254 and low < 0) or (low < -256 and high > 0):  # netx clips mixed signs first
        weight = np.clip(weight, -256, 254)
        high, low = min(high, 254.0), max(low, -256.0)
    signed = int(high >= 0 > low)
    if high < 0:
        scale = -256 / low
    elif low >= 0:
        scale = 255 / high
    else:
        scale = min(127 / high if high > 0 else math.inf, -128 / low)
    scale_bits = math.floor(math.log2(scale)) + signed
    shift = _common_zero_bits(weight, max(high, -low)) - signed
    return max(1, min(int(8 - scale_bits - shift) + signed, max_bits))


def _common_zero_bits(weight: np.ndarray, largest: float) -> int:
    """The largest ``n <= 8`` with every weight a multiple of ``2**n`` (netx's loop over
    ``n = 8 .. 1``, one pass: the trailing zeros of all magnitudes OR-ed together).
    ``largest``: the largest magnitude; floats from 2**62 on are multiples of 2**9 and
    left out, since int64 cannot hold them."""
    if largest >= 2.0 ** 62:
        if not np.array_equal(weight, np.trunc(weight)):
            return 0
        weight = weight[np.abs(weight) < 2.0 ** 62]
    integers = weight.astype(np.int64)
    if not np.array_equal(integers, weight):
        return 0
    combined = int(np.bitwise_or.reduce(np.abs(integers), axis=None))
    return min(8, (combined & -combined).bit_length() - 1) if combined else 8


def place(layer: NetxLayer, source: Optional["Placement"], successor: Optional[NetxLayer],
          profile: Profile) -> Placement:
    """Where ``layer`` goes; ``source`` is its predecessor's placement (for AxonIn),
    ``successor`` the next layer with neurons (for AxonMap)."""
    compiler = profile.compiler
    assert compiler is not None
    capacity = limits(compiler)
    bits = weight_bits(layer.weight, profile.precision.weight_bits.value)
    if _spatial(layer):
        return _place_spatial(layer, bits, source, successor, compiler, capacity)
    return _place_dense(layer, bits, compiler, capacity)


def _spatial(layer: NetxLayer) -> bool:
    if len(layer.shape) != 3:
        return False
    return layer.type == "input" or (layer.type in ("conv", "pool") and layer.kernel is not None
                                     and bool(layer.input_shape) and len(layer.input_shape) == 3)


# --- dense layers: the SynMem partitioning loop --------------------------------------------

def dense_units(axons: int, neurons: int, bits: int, compiler: Compiler) -> int:
    """Synapse units of one core holding ``neurons`` of a dense layer: per input axon,
    ``ceil(neurons * (2 bits + 17) / 105)`` with the profile's three constants (fitted:
    every dense allocation the compiler printed comes out exactly)."""
    per_synapse = compiler.dense_synapse_cost_per_weight_bit.value * bits + compiler.dense_synapse_cost_fixed.value
    return axons * -(-neurons * per_synapse // compiler.dense_synapse_cost_per_unit.value)


def _place_dense(layer: NetxLayer, bits: int, compiler: Compiler, capacity: dict[str, int]) -> Placement:
    n = layer.n_neurons
    axons = layer.fan_in  # feed-forward plus recurrent inputs
    register = compiler.synapse_register.value
    cores = max(1, math.ceil(n / capacity["neurons"]))
    binding = "neurons" if cores > 1 else "whole layer"
    while True:
        per_core = math.ceil(n / cores)
        allocation = dense_units(axons, per_core, bits, compiler) if layer.is_synaptic else 0
        if allocation <= register or per_core == 1:
            break
        cores = min(n, cores * math.ceil(allocation / register))
        binding = "SynMem register"
    usage = {"axon_in": axons if layer.is_synaptic else 0, "neuron_groups": 1, "neurons": per_core,
             "synapses": allocation, "axon_map": per_core, "axon_mem": 0}
    blocked = tuple(column for column in ("axon_in", "synapses")
                    if usage[column] > (register if column == "synapses" else capacity[column]))
    return Placement(cores=cores, usage=usage, tile=(per_core,), grid=(cores,), axes=("neuron",),
                     binding=blocked[0] if blocked else binding, blocked=blocked)


# --- layers with (x, y, channel) axes: the compiler's Conv(x, y, c) tiles -----------------

def _halvings(n: int) -> list[int]:
    """``n`` halved 0, 1, ... times (rounded up), down to 1."""
    sizes = [n]
    while sizes[-1] > 1:
        sizes.append(-(-sizes[-1] // 2))
    return sizes


def _powers(n: int) -> list[int]:
    """Powers of two up to the first not below ``n``."""
    return [1 << k for k in range(max(1, n - 1).bit_length() + 1)]


def conv_units(layer: NetxLayer, channels: int, bits: int, compiler: Compiler) -> int:
    """Synapse units of one core's shared kernel: per tap and input channel, the tile's
    ``channels`` weights in words of ``conv_synapse_word_bits``."""
    if layer.type == "input" or layer.weight is None:
        return 0
    taps = layer.kernel[0] * layer.kernel[1] if layer.kernel else 1
    inputs = layer.input_shape[2] // (layer.groups or 1) if layer.type == "conv" else 1
    return taps * inputs * -(-channels * bits // compiler.conv_synapse_word_bits.value)


def _place_spatial(layer: NetxLayer, bits: int, source: Optional[Placement], successor: Optional[NetxLayer],
                   compiler: Compiler, capacity: dict[str, int]) -> Placement:
    width, height, channels = layer.shape
    best: Optional[tuple[tuple[int, int, int, int], tuple[int, int, int]]] = None
    for x, y, c in itertools.product(_powers(width), _halvings(height), _halvings(channels)):
        if x * y * c > capacity["neurons"] or conv_units(layer, c, bits, compiler) > capacity["synapses"]:
            continue
        grid = (math.ceil(width / x), math.ceil(height / y), math.ceil(channels / c))
        rank = (grid[2], math.prod(grid), not x <= y < 4 * x, grid[1], -x)
        if best is None or rank < best[0]:
            best = (rank, (x, y, c))
    if best is None:  # not even one neuron's kernel slice fits
        tile, blocked = (1, 1, 1), ("synapses",)
    else:
        tile, blocked = best[1], ()
    x, y, c = tile
    grid = (math.ceil(width / x), math.ceil(height / y), math.ceil(channels / c))
    neurons = min(x, width) * min(y, height) * min(c, channels)
    usage = {"axon_in": _axon_in(layer, tile, source), "neuron_groups": 1, "neurons": neurons,
             "synapses": conv_units(layer, c, bits, compiler),
             "axon_map": _axon_map(layer, tile, successor), "axon_mem": 0}
    return Placement(cores=math.prod(grid), usage=usage, tile=tile, grid=grid, axes=("x", "y", "channel"),
                     binding=_spatial_binding(layer, tile, bits, compiler, capacity, blocked),
                     blocked=blocked, shared_weights=layer.type != "input")


def _spatial_binding(layer: NetxLayer, tile: tuple[int, int, int], bits: int, compiler: Compiler,
                     capacity: dict[str, int], blocked: tuple[str, ...]) -> str:
    """What stops the tile growing: the neurons a doubled x would need, else the kernel
    slice of all channels, else nothing (the whole layer fits)."""
    if blocked:
        return blocked[0]
    x, y, c = tile
    width, height, channels = layer.shape
    if x >= width and y >= height and c >= channels:
        return "whole layer"
    if c < channels and conv_units(layer, channels, bits, compiler) > capacity["synapses"]:
        return "synapses"
    return "neurons"


def _axon_in(layer: NetxLayer, tile: tuple[int, int, int], source: Optional[Placement]) -> int:
    """Conv axons into the busiest core: with the kernel shared, one per source core whose
    neurons reach the tile; one for the host or an Input block's bias."""
    if layer.type == "input" or source is None or len(source.tile) != 3:
        return 1
    reached = 1
    for axis in (0, 1):
        size, step, pad = tile[axis], layer.stride[axis], layer.padding[axis]
        span = (size - 1) * step + (layer.kernel[axis] - 1) * layer.dilation[axis] + 1
        first = [max(0, start * step - pad) for start in range(0, layer.shape[axis], size)]
        last = [min(layer.input_shape[axis] - 1, start * step - pad + span - 1)
                for start in range(0, layer.shape[axis], size)]
        source_size = source.tile[axis]
        reached *= max(hi // source_size - lo // source_size + 1 for lo, hi in zip(first, last))
    return reached * source.grid[2]


def _axon_map(layer: NetxLayer, tile: tuple[int, int, int], successor: Optional[NetxLayer]) -> int:
    """Output-axon map entries: one per position of the tile when a conv layer follows
    (the channels travel with the shared kernel), else one per neuron."""
    x, y, c = (min(t, n) for t, n in zip(tile, layer.shape))
    if successor is not None and successor.type in ("conv", "pool"):
        return x * y
    return x * y * c


def layer_columns(layer: NetxLayer) -> bool:
    """Whether the compiler places ``layer`` at all (flatten and shape-only inputs hold no neurons)."""
    return layer.n_neurons > 0 and (layer.type in DENSE_TYPES or _spatial(layer) or layer.is_synaptic)


def place_network(network: NetxNetwork, profile: Profile) -> list[tuple[NetxLayer, Placement]]:
    """Every layer with neurons, input first."""
    layers = [layer for layer in network.layers if layer_columns(layer)]
    placed: list[tuple[NetxLayer, Placement]] = []
    source: Optional[Placement] = None
    for index, layer in enumerate(layers):
        successor = layers[index + 1] if index + 1 < len(layers) else None
        placement = place(layer, source, successor, profile)
        placed.append((layer, placement))
        source = placement
    return placed


def compiler_core_map(network: NetxNetwork, profile: Profile) -> CoreMap:
    """The network's :class:`CoreMap` in the compiler's columns (``usage`` in its units,
    ``utilisation`` as shares of each capacity and of the memory pool)."""
    assert profile.compiler is not None
    capacity = limits(profile.compiler)
    placed = place_network(network, profile)
    layers = tuple(LayerMapping(
        name=layer.name, neurons=layer.n_neurons, synapses=layer.n_synapses, cores=placement.cores,
        neurons_per_core=placement.usage["neurons"], binding=placement.binding, usage=placement.usage,
        utilisation=utilisation(placement.usage, capacity), axes=placement.axes,
        tile=placement.tile, grid=placement.grid, shared_weights=placement.shared_weights,
        blocked=placement.blocked) for layer, placement in placed)
    if placed and placed[0][0].type == "input":
        first = placed[0][0]
        placement_in = InputPlacement(ON_CHIP, first.name, first.n_neurons, None, 0, 0)
    elif placed:
        layer, placement = placed[0]
        named = network.layers[0].name if network.layers[0].type == "input" else None
        sources = math.prod(layer.input_shape) if layer.input_shape else layer.fan_in
        per_source = 1 if _spatial(layer) else placement.cores
        placement_in = InputPlacement(HOST, named, sources, layer.name, sources * per_source, per_source)
    else:
        placement_in = InputPlacement(HOST, None, 0, None, 0, 0)
    return finish(layers, profile, placement_in, capacity, accounting="loihi2-compiler")
