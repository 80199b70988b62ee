"""The core mapper: which tile of each layer's neurons one core holds, how many cores and
chips that takes, and the smallest system of the profile that holds the network.

docs/mapping.md states the model with its formulas and what it leaves out. In short, a
layer's output neurons are cut into equal tiles along its axes (x, y and channel for a
kernel layer, one range for a dense layer); a tile fits a core when all four per-core
limits hold for the most loaded tile:

- neurons: the tile's size;
- input axons: the distinct source neurons whose receptive fields reach the tile;
- synapse memory: per input axon, its synapses into the tile stored with the profile's
  accounting rule (nengo-loihi's ``bits_per_axon``), or, where the chip shares conv
  kernels, the tile's kernel slice once;
- output axons: per source neuron, one per distinct destination core it reaches, from the
  successor's kernel footprint and tiling (every destination core for a dense successor).

Layers are placed from the output backwards because a layer's output axons depend on how
its successor is tiled. Along each axis the connectivity is a set of (output, input)
pairs, so every count above is a product of per-axis counts, which is what keeps a
PilotNet-sized network well under a second.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Iterable, Optional, Protocol, Sequence

import numpy as np

from neurodeploy.hardware.compiler_map import COLUMNS, compiler_core_map
from neurodeploy.hardware.coremap import HOST, ON_CHIP, CoreMap, InputPlacement, LayerMapping, finish, smallest_system
from neurodeploy.hardware.findings import NETWORK, Finding, breach, note
from neurodeploy.hardware.profile import Fact, Profile
from neurodeploy.core.netxfile import DENSE_TYPES, NetxLayer, NetxNetwork

#: Per-core limits the mapper enforces, in the order a binding limit is named.
LIMITS = ("neurons_per_core", "input_axons_per_core", "synapse_memory_bits", "output_axons_per_core")
WHOLE_LAYER = "whole layer"  # binding "limit" of a layer that fits one core

Histogram = tuple[tuple[int, int], ...]  # (synapses per input axon, input axons with that many)


def synapse_bits_per_axon(synapses: int, bits_per_synapse: int, profile: Profile) -> int:
    """Synapse memory one input axon with ``synapses`` targets takes on a core."""
    return int(_stored_bits(np.asarray(synapses), bits_per_synapse, profile))


def map_cores(network: NetxNetwork, profile: Profile, plastic: Iterable[str] = ()) -> CoreMap:
    """Place every layer with neurons; ``plastic`` names layers whose synapses learn.
    A profile with a ``compiler`` section is mapped the way its compiler's tables show
    (:mod:`neurodeploy.hardware.compiler_map`)."""
    if profile.compiler is not None:
        return compiler_core_map(network, profile)
    plastic = set(plastic)
    limits = {name: getattr(profile.resources, name).value for name in LIMITS}
    placed: list[LayerMapping] = []
    fan_out = _FanOut(scale=1)  # the last layer's spikes leave the chip once per neuron
    for layer in reversed([layer for layer in network.layers if layer.n_neurons]):
        layout = _layout(layer, profile, layer.name in plastic)
        mapping, fan_out = _place(layer, layout, fan_out, profile, limits)
        placed.append(mapping)
    placed.reverse()
    return finish(tuple(placed), profile, _input_placement(network, fan_out), limits)


def check_resources(core_map: CoreMap, profile: Profile) -> list[Finding]:
    """Errors for layers no core can hold (on every profile: nothing maps, whatever the
    limit's confidence) and for networks beyond the largest system; the system verdict;
    a note on uncertain limits."""
    res = profile.resources
    findings = []
    for layer in core_map.layers:
        for limit in layer.blocked:
            fact: Fact = limit_fact(profile, limit)
            fix = _FIXES[limit] + (" (uncertain limit: confirm with the vendor's compiler)"
                                   if fact.uncertain else "")
            findings.append(note(check=f"resources.{_short(limit)}", layer=layer.name,
                                 value=layer.usage[limit], limit=fact.value, severity="error",
                                 source=fact.citation, fix=fix))
    if core_map.mappable:
        findings.extend(_check_system(core_map, profile))
    if core_map.accounting != "nengo-loihi":
        return findings
    uncertain = [name for name in LIMITS if getattr(res, name).uncertain]
    if res.conv_weight_sharing.uncertain and any(layer.shared_weights for layer in core_map.layers):
        uncertain.append("conv_weight_sharing")
    if uncertain:
        findings.append(note(
            check="resources.uncertain_limits", layer=NETWORK, value=core_map.cores,
            limit=", ".join(uncertain), severity="info",
            source=f"{profile.name} profile: {', '.join(uncertain)} [uncertain limit]",
            fix="Core counts rest on per-core limits that are not public: confirm them with the "
                "vendor's compiler before planning hardware."))
    return findings


def limit_fact(profile: Profile, limit: str) -> Fact:
    """The profile's fact for a limit named in a core map (a resource, or a compiler column)."""
    if profile.compiler is not None and limit not in LIMITS:
        return getattr(profile.compiler, "synapse_register" if limit == "synapses" else COLUMNS[limit])
    return getattr(profile.resources, limit)


def _check_system(core_map: CoreMap, profile: Profile) -> list[Finding]:
    systems = sorted(profile.resources.systems, key=lambda system: system.chips.value)
    if not systems:
        return []
    chosen = smallest_system(profile, core_map.chips)
    if chosen is None:
        largest = systems[-1]
        return [breach(largest.chips, check="resources.system", layer=NETWORK, value=core_map.chips,
                       limit=f"{largest.name}: {_chips(largest.chips.value)}",
                       fix=f"The network needs {core_map.chips} chips; the largest {profile.title} "
                           f"system, {largest.name}, has {largest.chips.value}: shrink or prune it.")]
    verdict = (f"Smallest {profile.title} system that holds the network: {chosen.name} "
               f"({chosen.kind}, {_chips(chosen.chips.value)}).")
    limit = f"{chosen.name}: {_chips(chosen.chips.value)}"
    if chosen.chips.uncertain:
        return [note(check="resources.system", layer=NETWORK, value=core_map.chips,
                     limit=limit, severity="warning",
                     source=chosen.chips.citation,
                     fix=f"{verdict} Its chip count is uncertain: confirm it before planning.")]
    return [note(check="resources.system", layer=NETWORK, value=core_map.chips,
                 limit=limit, severity="info",
                 source=chosen.chips.citation, fix=verdict)]


def _chips(count: int) -> str:
    return f"{count} chip" if count == 1 else f"{count} chips"


# --- per-axis connectivity ---------------------------------------------------------------

class _Axis(Protocol):
    """One axis of a layer's output neurons and what its tiles read along it."""

    n: int

    def load(self, tile: int) -> tuple[int, tuple[Histogram, ...]]:
        """The most inputs any tile of ``tile`` outputs reaches along this axis, and each
        distinct histogram of synapses per reached input over the tiles. Axes of kernel
        layers also give ``reach(tile)``: per input, how many of the tiles read it."""


class _FullAxis:
    """Every output reads every one of ``n_in`` inputs (dense layers, ungrouped channels,
    and an input block's neurons with ``n_in = 0``)."""

    def __init__(self, n_in: int, n: int) -> None:
        self.n_in, self.n = n_in, n

    def load(self, tile: int) -> tuple[int, tuple[Histogram, ...]]:
        return self.n_in, (((min(tile, self.n), self.n_in),) if self.n_in else (),)

    def reach(self, tile: int) -> np.ndarray:
        return np.full(self.n_in, math.ceil(self.n / tile), dtype=np.int64)


class _PairAxis:
    """Connectivity given as (output, input) pairs: a kernel axis or grouped channels."""

    def __init__(self, n_in: int, n: int, outputs: np.ndarray, inputs: np.ndarray) -> None:
        self.n_in, self.n = n_in, n
        self._outputs, self._inputs = outputs, inputs
        self._counts: dict[int, np.ndarray] = {}

    def counts(self, tile: int) -> np.ndarray:
        """(tiles, inputs): synapses from each input into each tile."""
        if tile not in self._counts:
            tiles = math.ceil(self.n / tile)
            keys = (self._outputs // tile) * self.n_in + self._inputs
            self._counts[tile] = np.bincount(keys, minlength=tiles * self.n_in).reshape(tiles, self.n_in)
        return self._counts[tile]

    def load(self, tile: int) -> tuple[int, tuple[Histogram, ...]]:
        counts = self.counts(tile)
        tiles, top = counts.shape[0], int(counts.max(initial=0))
        # per tile, how many inputs send it 1, 2, ... top synapses: one bincount for all tiles
        keys = (np.arange(tiles)[:, None] * (top + 1) + counts).ravel()
        per_tile = np.bincount(keys, minlength=tiles * (top + 1)).reshape(tiles, top + 1)[:, 1:]
        reached = int(per_tile.sum(axis=1).max(initial=0))
        histograms = {tuple((value, count) for value, count in enumerate(row, 1) if count)
                      for row in per_tile.tolist()}
        return reached, tuple(histograms)

    def reach(self, tile: int) -> np.ndarray:
        return (self.counts(tile) > 0).sum(axis=0)


class _PerNeuronAxis:
    """Connectivity unknown beyond ``fan_in`` inputs per neuron out of ``sources``: a tile
    reads at most ``tile x fan_in`` of them (the fallback for convT and unpool)."""

    def __init__(self, sources: int, fan_in: int, n: int) -> None:
        self.sources, self.fan_in, self.n = sources, fan_in, n

    def load(self, tile: int) -> tuple[int, tuple[Histogram, ...]]:
        synapses = min(tile, self.n) * self.fan_in
        axons = min(self.sources, synapses)
        return axons, (((math.ceil(synapses / axons), axons),) if axons else (),)


def _kernel_axis(n_in: int, n: int, kernel: int, stride: int, padding: int, dilation: int) -> _PairAxis:
    """Output ``o`` reads inputs ``o * stride - padding + j * dilation`` for ``j < kernel``."""
    outputs = np.repeat(np.arange(n), kernel)
    inputs = outputs * stride - padding + np.tile(np.arange(kernel) * dilation, n)
    inside = (inputs >= 0) & (inputs < n_in)
    return _PairAxis(n_in, n, outputs[inside], inputs[inside])


def _channel_axis(n_in: int, n: int, groups: int) -> _Axis:
    """Output channel ``c`` reads the input channels of its group."""
    if groups == 1:
        return _FullAxis(n_in, n)
    per_in, per_out = n_in // groups, n // groups
    outputs = np.repeat(np.arange(n), per_in)
    inputs = (outputs // per_out) * per_in + np.tile(np.arange(per_in), n)
    return _PairAxis(n_in, n, outputs, inputs)


# --- one layer ---------------------------------------------------------------------------

@dataclass(frozen=True)
class _Layout:
    """A layer as the search sees it: its axes, how its synapses are stored, and whether
    its axes line up with its input's (so that the predecessor's fan-out can be traced)."""

    names: tuple[str, ...]
    axes: tuple[_Axis, ...]
    bits_per_synapse: int
    spatial: bool = False
    shared_taps: int = 0     # kernel taps stored once per core when conv weights are shared
    recurrent: bool = False


@dataclass(frozen=True)
class _FanOut:
    """Destination cores per source neuron: ``scale`` times the product over the source's
    axes of ``per_axis[a][i]`` (all ones when ``per_axis`` is empty)."""

    scale: int
    per_axis: tuple[np.ndarray, ...] = ()

    @property
    def widest(self) -> int:
        """Destination cores of the source neuron that reaches most."""
        return self.scale * math.prod(int(per_input.max()) for per_input in self.per_axis)


def _axis_names(sizes: tuple[int, ...]) -> tuple[str, ...]:
    return ("x", "y", "channel") if len(sizes) == 3 else ("neuron",)


def _layout(layer: NetxLayer, profile: Profile, plastic: bool) -> _Layout:
    res = profile.resources
    bits = profile.precision.weight_bits.value
    bits += res.synapse_delay_bits.value if layer.delay is not None else 0
    bits += res.synapse_tag_bits.value if plastic else 0
    shape = layer.shape
    if layer.type == "input":  # netx's Input block: neurons driven through their bias
        sizes = shape if len(shape) == 3 else (layer.n_neurons,)
        return _Layout(_axis_names(sizes), tuple(_FullAxis(0, n) for n in sizes), bits)
    if layer.type in DENSE_TYPES:
        own = layer.n_neurons if layer.weight_rec is not None else 0
        feed = layer.weight.size // layer.n_neurons
        return _Layout(("neuron",), (_FullAxis(feed + own, layer.n_neurons),), bits, recurrent=bool(own))
    source = layer.input_shape
    if layer.type in ("conv", "pool") and source and len(source) == 3 and len(shape) == 3:
        groups = source[2] if layer.type == "pool" else (layer.groups or 1)
        axes = tuple(_kernel_axis(source[a], shape[a], layer.kernel[a], layer.stride[a],
                                  layer.padding[a], layer.dilation[a]) for a in (0, 1))
        taps = layer.kernel[0] * layer.kernel[1] if res.conv_weight_sharing.value and not plastic else 0
        return _Layout(_axis_names(shape), axes + (_channel_axis(source[2], shape[2], groups),),
                       bits, spatial=True, shared_taps=taps)
    sources = math.prod(source) if source else layer.fan_in
    return _Layout(("neuron",), (_PerNeuronAxis(sources, layer.fan_in, layer.n_neurons),), bits)


@dataclass(frozen=True)
class _AxisLoad:
    """One axis at one tile size: the most inputs a tile reaches, and its distinct
    histograms as (histogram, entry) arrays of synapses per input and inputs with that
    many, short histograms padded with entries of no inputs (``None``: no histogram)."""

    reached: int
    values: Optional[np.ndarray]
    counts: Optional[np.ndarray]

    @classmethod
    def of(cls, reached: int, histograms: tuple[Histogram, ...]) -> "_AxisLoad":
        if not histograms:
            return cls(reached, None, None)
        width = max(1, max(len(histogram) for histogram in histograms))
        values = np.ones((len(histograms), width), dtype=np.int64)
        counts = np.zeros((len(histograms), width), dtype=np.int64)
        for row, histogram in enumerate(histograms):
            if histogram:
                values[row, :len(histogram)], counts[row, :len(histogram)] = zip(*histogram)
        return cls(reached, values, counts)


class _Loads:
    """The most loaded core's count for each limit, per tile, cached."""

    def __init__(self, layout: _Layout, fan_out: _FanOut, profile: Profile, limits: dict[str, int]) -> None:
        self.layout, self.fan_out, self.profile, self.limits = layout, fan_out, profile, limits
        self._axis: dict[tuple[int, int], _AxisLoad] = {}
        self._windows: dict[tuple[int, int], int] = {}
        self._cheap: dict[tuple[int, ...], dict[str, int]] = {}
        self._cache: dict[tuple[int, ...], dict[str, int]] = {}

    def __call__(self, tile: tuple[int, ...]) -> dict[str, int]:
        if tile not in self._cache:
            loads = self._counts(tile)
            memory = self._memory([self._axis_load(index, t) for index, t in enumerate(tile)])
            self._cache[tile] = {**loads, "synapse_memory_bits": memory}
        return self._cache[tile]

    def cores(self, tile: Sequence[int]) -> int:
        return math.prod(math.ceil(axis.n / t) for axis, t in zip(self.layout.axes, tile))

    def rank(self, tile: tuple[int, ...]) -> tuple[int, int, float]:
        """Fewest cores first; then fewest channel tiles (each one more destination core for
        every upstream neuron); then the lightest load, summed over the limits."""
        load = self(tile)
        channel_tiles = math.ceil(self.layout.axes[-1].n / tile[-1]) if self.layout.spatial else 1
        return self.cores(tile), channel_tiles, sum(load[name] / self.limits[name] for name in LIMITS)

    def fits(self, tile: tuple[int, ...]) -> bool:
        """Whether every limit holds; synapse memory, the one costly load, is computed
        only for tiles within the other three limits."""
        if tile not in self._cache:
            loads = self._counts(tile)
            if any(loads[name] > self.limits[name] for name in loads):
                return False
        return not self.broken(tile)

    def broken(self, tile: tuple[int, ...]) -> list[str]:
        load = self(tile)
        return [name for name in LIMITS if load[name] > self.limits[name]]

    def _axis_load(self, index: int, tile: int) -> _AxisLoad:
        key = (index, tile)
        if key not in self._axis:
            self._axis[key] = _AxisLoad.of(*self.layout.axes[index].load(tile))
        return self._axis[key]

    def _window(self, index: int, tile: int) -> int:
        """The largest sum of destination cores over one aligned source tile along an axis."""
        key = (index, tile)
        if key not in self._windows:
            per_input = self.fan_out.per_axis[index]
            self._windows[key] = int(np.add.reduceat(per_input, np.arange(0, per_input.size, tile)).max())
        return self._windows[key]

    def _counts(self, tile: tuple[int, ...]) -> dict[str, int]:
        """Every load but synapse memory."""
        if tile in self._cheap:
            return self._cheap[tile]
        layout = self.layout
        neurons = math.prod(min(t, axis.n) for axis, t in zip(layout.axes, tile))
        if self.fan_out.per_axis and len(self.fan_out.per_axis) == len(tile):
            out = self.fan_out.scale * math.prod(self._window(index, t) for index, t in enumerate(tile))
        else:  # no per-axis trace (dense successor, or axes that do not line up): the widest
            out = self.fan_out.widest * neurons
        if layout.recurrent:
            out += neurons * self.cores(tile)
        self._cheap[tile] = loads = {
            "neurons_per_core": neurons,
            "input_axons_per_core": math.prod(self._axis_load(index, t).reached for index, t in enumerate(tile)),
            "output_axons_per_core": out}
        return loads

    def _memory(self, per_axis: list[_AxisLoad]) -> int:
        """Synapse memory of the most loaded tile: the worst combination of per-axis
        histograms (all combinations at once, one outer product over the axes, summed over
        each combination's entries); with shared conv weights, the channel axis's kernel
        slice per tap."""
        if self.layout.shared_taps:
            per_axis = per_axis[-1:]
        if any(load.values is None for load in per_axis):  # no histogram along an axis: no combination
            return 0
        synapses, axons = np.ones((), dtype=np.int64), np.ones((), dtype=np.int64)
        for load in per_axis:
            synapses = np.multiply.outer(synapses, load.values) if synapses.ndim else load.values
            axons = np.multiply.outer(axons, load.counts) if axons.ndim else load.counts
        stored = _stored_bits(synapses, self.layout.bits_per_synapse, self.profile) * axons
        worst = int(stored.sum(axis=tuple(range(1, stored.ndim, 2))).max()) if stored.ndim else int(stored)
        return worst * max(self.layout.shared_taps, 1)


def _place(layer: NetxLayer, layout: _Layout, fan_out: _FanOut, profile: Profile,
           limits: dict[str, int]) -> tuple[LayerMapping, _FanOut]:
    """Search the tile with the fewest cores that fits; return its mapping and the fan-out
    this layer's tiling imposes on its predecessor."""
    loads = _Loads(layout, fan_out, profile, limits)
    smallest = tuple(1 for _ in layout.axes)
    blocked = loads.broken(smallest)
    if blocked:
        tile, binding = smallest, blocked[0]
    else:
        tile = _search(layout, loads)
        binding = _binding(layout, tile, loads)
    usage = loads(tile)
    grid = tuple(math.ceil(axis.n / t) for axis, t in zip(layout.axes, tile))
    mapping = LayerMapping(
        name=layer.name, neurons=layer.n_neurons, synapses=layer.n_synapses,
        cores=layer.n_neurons if blocked else math.prod(grid), neurons_per_core=usage["neurons_per_core"],
        binding=binding, usage=usage,
        utilisation={name: round(usage[name] / limits[name], 4) for name in LIMITS},
        axes=layout.names, tile=tuple(min(t, axis.n) for axis, t in zip(layout.axes, tile)), grid=grid,
        shared_weights=bool(layout.shared_taps), blocked=tuple(blocked))
    if layout.spatial:
        return mapping, _FanOut(1, tuple(axis.reach(t) for axis, t in zip(layout.axes, tile)))
    return mapping, _FanOut(mapping.cores)


def _candidates(n: int) -> list[int]:
    """Tile sizes worth trying along an axis of ``n``: one per distinct tile count."""
    counts = np.arange(1, n + 1)
    return sorted({int(v) for v in -(-n // counts)})


def _search(layout: _Layout, loads: _Loads) -> tuple[int, ...]:
    """The best-ranked tile that fits: the longest axis by binary search (loads grow with
    the tile), the others exhaustively over their distinct tile counts."""
    options = [_candidates(axis.n) for axis in layout.axes]
    last = max(range(len(options)), key=lambda index: len(options[index]))
    others = [index for index in range(len(options)) if index != last]
    best: Optional[tuple[tuple[int, int, float], tuple[int, ...]]] = None
    for chosen in itertools.product(*(options[index] for index in others)):
        def tile_with(size: int) -> tuple[int, ...]:
            tile = [0] * len(options)
            for index, value in zip(others, chosen):
                tile[index] = value
            tile[last] = size
            return tuple(tile)

        sizes = options[last]
        if best is not None and loads.cores(tile_with(sizes[-1])) > best[0][0]:
            continue
        if not loads.fits(tile_with(sizes[0])):
            continue
        low, high = 0, len(sizes) - 1
        while low < high:
            middle = (low + high + 1) // 2
            low, high = (middle, high) if loads.fits(tile_with(sizes[middle])) else (low, middle - 1)
        tile = tile_with(sizes[low])
        if best is None or loads.rank(tile) < best[0]:
            best = (loads.rank(tile), tile)
    assert best is not None  # the one-neuron tile fits, so some tile does
    return best[1]


def _binding(layout: _Layout, tile: tuple[int, ...], loads: _Loads) -> str:
    """The limit that stops the tile growing: of those broken by the next larger tile
    along any axis, the one this tile uses most."""
    grown: set[str] = set()
    for index, axis in enumerate(layout.axes):
        if tile[index] >= axis.n:
            continue
        bigger = [size for size in _candidates(axis.n) if size > tile[index]][0]
        grown.update(loads.broken(tile[:index] + (bigger,) + tile[index + 1:]))
    if all(t >= axis.n for t, axis in zip(tile, layout.axes)):
        return WHOLE_LAYER
    usage = loads(tile)
    pool = [name for name in LIMITS if name in grown] or list(LIMITS)
    return max(pool, key=lambda name: usage[name] / loads.limits[name])


def _input_placement(network: NetxNetwork, fan_out: _FanOut) -> InputPlacement:
    """How the input reaches the chip; ``fan_out`` is what the first placed layer imposes
    on whatever feeds it."""
    first = network.layers[0] if network.layers else None
    if first is not None and first.type == "input" and first.n_neurons:
        return InputPlacement(ON_CHIP, first.name, first.n_neurons, None, 0, 0)
    layer = next((layer for layer in network.layers if layer.n_neurons), None)
    named = first.name if first is not None and first.type == "input" else None
    if layer is None:
        return InputPlacement(HOST, named, 0, None, 0, 0)
    sources = math.prod(layer.input_shape) if layer.input_shape else layer.fan_in
    if fan_out.per_axis:
        targets = fan_out.scale * math.prod(int(per_input.sum()) for per_input in fan_out.per_axis)
    else:
        targets = fan_out.scale * sources
    return InputPlacement(HOST, named, sources, layer.name, targets, fan_out.widest)


def _stored_bits(synapses: np.ndarray, bits_per_synapse: int, profile: Profile) -> np.ndarray:
    """Synapse memory of input axons with ``synapses`` targets each: groups of
    ``synapse_group_size``, each ``n x bits + overhead`` rounded up to whole words."""
    res = profile.resources
    group, word = res.synapse_group_size.value, res.synapse_word_bits.value
    overhead = res.synapse_group_overhead_bits.value

    def stored(n: np.ndarray) -> np.ndarray:
        return -(-(n * bits_per_synapse + overhead) // word) * word

    full, rest = np.divmod(synapses, group)
    return full * stored(np.asarray(group)) + np.where(rest > 0, stored(rest), 0)


def _short(limit: str) -> str:
    return limit.removesuffix("_per_core").removesuffix("_bits")


_FIXES = {
    "neurons_per_core": "Not even one neuron fits a core: check the profile's neurons_per_core.",
    "input_axons_per_core": "One neuron's fan-in needs more input axons than a core has: "
                            "reduce its inputs (pool or downsample earlier) or split the layer "
                            "into parallel branches.",
    "synapse_memory_bits": "One neuron's synapses alone exceed a core's synapse memory: "
                           "reduce the fan-in or the weight bits.",
    "output_axons_per_core": "One neuron fans out to more cores than a core has output axons: "
                             "make the next layer smaller or sparser.",
    "axon_in": "A layer reads more inputs than a core has input axons (AxonIn): "
               "reduce its fan-in (pool or downsample earlier) or split it into branches.",
    "synapses": "One neuron's synapses (or one channel's kernel) exceed a core's synapse memory: "
                "reduce the fan-in, the kernel or the weight bits.",
}
