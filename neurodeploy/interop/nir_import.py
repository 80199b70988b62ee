"""NIR graphs to the discrete-time float layers that netx quantises.

The graph must be a chain ``Input -> [Flatten] [Delay] synapse [Delay] neuron -> ... ->
Output`` where a synapse is ``Affine``, ``Linear`` or ``Conv2d`` and a neuron ``CubaLIF``,
``LIF``, ``IF``, ``LI`` or ``CubaLI`` (the last two as a non-spiking read-out); a neuron may
feed itself through one ``Linear``/``Affine`` (netx's ``dense_rec``). Nested graphs
(snnTorch's ``RLeaky``/``RSynaptic``) are inlined. Anything else is refused with the node
named.

NIR's ODEs are discretised with forward Euler at the given ``dt``; with
``a = dt / tau_syn`` and ``m = dt / tau_mem`` (``dt / tau`` for LIF/LI):

- CubaLIF: ``current_decay = a``, ``voltage_decay = m``, weight row gain ``m * r * a * w_in``,
  bias ``m * v_leak`` (an Affine bias enters the current, which Loihi cannot bias: it is
  mapped only when ``a = 1``);
- LIF: ``current_decay = 1``, ``voltage_decay = m``, gain ``m * r``, bias ``gain * b + m * v_leak``;
- IF: ``current_decay = 1``, ``voltage_decay = 0``, gain ``dt * r``, bias ``gain * b``.

Loihi resets ``v`` to 0 after a spike and has no refractory period, so ``v_reset`` must
be 0. Per-neuron thresholds are folded into the weight rows (``v / k`` is the same
neuron), leaving one threshold per layer as netx holds it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Optional

import numpy as np

from neurodeploy.interop.layers import FloatLayer, FloatNetwork, NirError
from neurodeploy.interop.quantise import layer_names

SYNAPSES = ("Affine", "Linear", "Conv2d")
NEURONS = ("CubaLIF", "LIF", "IF", "LI", "CubaLI")
SUPPORTED = ("Input", "Output", "Flatten", "Delay", *SYNAPSES, *NEURONS)
#: Metadata keys this bridge reads and writes: the graph's step and a layer's Loihi scale.
DT_KEY = "dt"
SCALE_KEY = "loihi_scale"


def read_graph(path: str | Path) -> Any:
    """``nir.read`` without NIR's type inference (peers write graphs it rejects); one
    :class:`NirError` line when the file is not NIR."""
    import nir

    path = Path(path)
    if not path.is_file():
        raise NirError(f"{path}: NIR file not found")
    try:
        return nir.read(path, type_check=False)
    except Exception as error:  # h5py, KeyError, ValueError, AssertionError: all "not NIR"
        text = str(error).strip().splitlines()
        raise NirError(f"{path}: not a NIR graph ({text[0] if text else type(error).__name__})") from None


def graph_dt(graph: Any, dt: Optional[float], source: str) -> float:
    """The step: ``dt`` given, or the graph's ``metadata['dt']``; never assumed."""
    recorded = (getattr(graph, "metadata", None) or {}).get(DT_KEY)
    recorded = float(recorded) if recorded is not None else None
    if dt is None and recorded is None:
        raise NirError(f"{source}: the graph records no dt; pass --dt (seconds per step; "
                       f"snnTorch exports assume 1e-4)")
    if dt is not None and recorded is not None and not math.isclose(dt, recorded, rel_tol=1e-9):
        raise NirError(f"{source}: --dt {dt:g} disagrees with the graph's metadata dt {recorded:g}")
    chosen = dt if dt is not None else recorded
    if not chosen > 0:
        raise NirError(f"{source}: dt = {chosen:g}; it must be > 0 seconds")
    return float(chosen)


def to_float_network(graph: Any, dt: float, source: str) -> FloatNetwork:
    """Map a NIR graph to float layers at step ``dt``; :class:`NirError` names the node."""
    nodes, edges = _inline(graph, source)
    for name, node in nodes.items():
        kind = type(node).__name__
        if kind not in SUPPORTED:
            raise NirError(f"{source}: node {name!r} is a {kind}, which netx cannot run; the bridge "
                           f"maps {', '.join(SUPPORTED)}")
    recurrent, forward = _recurrent_synapses(nodes, edges)
    path = _chain(nodes, forward, source, set(recurrent.values()))
    input_shape = tuple(int(v) for v in np.atleast_1d(_shape(nodes[path[0]].output_type)))
    builder = _Builder(nodes, recurrent, dt, source, input_shape)
    for name in path[1:-1]:
        builder.add(name)
    layers = builder.finish()
    named = [replace(layer, name=name) for layer, name in
             zip(layers, layer_names(FloatNetwork(tuple(layers), dt, input_shape)))]
    return FloatNetwork(tuple(named), dt, input_shape)


# --- graph shape ------------------------------------------------------------------------

def _inline(graph: Any, source: str) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Nodes and edges with nested graphs spliced in (``outer.inner`` names)."""
    import nir

    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    entry: dict[str, list[str]] = {}
    exit_: dict[str, list[str]] = {}
    for name, node in graph.nodes.items():
        if isinstance(node, nir.NIRGraph):
            inner, inner_edges = _inline(node, source)
            inputs = [k for k, n in inner.items() if isinstance(n, nir.Input)]
            outputs = [k for k, n in inner.items() if isinstance(n, nir.Output)]
            if len(inputs) != 1 or len(outputs) != 1:
                raise NirError(f"{source}: subgraph {name!r} has {len(inputs)} inputs and "
                               f"{len(outputs)} outputs; the bridge inlines one of each")
            entry[name] = [f"{name}.{b}" for a, b in inner_edges if a == inputs[0]]
            exit_[name] = [f"{name}.{a}" for a, b in inner_edges if b == outputs[0]]
            nodes.update({f"{name}.{k}": n for k, n in inner.items() if k not in (inputs[0], outputs[0])})
            edges += [(f"{name}.{a}", f"{name}.{b}") for a, b in inner_edges
                      if a != inputs[0] and b != outputs[0]]
        else:
            nodes[name] = node
    for a, b in graph.edges:
        a, b = str(a), str(b)
        for start in exit_.get(a, [a]):
            for end in entry.get(b, [b]):
                if start not in nodes or end not in nodes:
                    missing = start if start not in nodes else end
                    raise NirError(f"{source}: edge ({a!r}, {b!r}) names {missing!r}, which is not a node")
                edges.append((start, end))
    return nodes, edges


def _recurrent_synapses(nodes: dict[str, Any], edges: list[tuple[str, str]]
                        ) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Neuron -> its self-feeding Linear/Affine (netx's ``dense_rec``), and the other edges."""
    recurrent: dict[str, str] = {}
    for neuron, node in nodes.items():
        if type(node).__name__ not in NEURONS:
            continue
        for a, synapse in edges:
            if a != neuron or type(nodes[synapse]).__name__ not in ("Linear", "Affine"):
                continue
            if [b for x, b in edges if x == synapse] == [neuron] and \
                    [x for x, b in edges if b == synapse] == [neuron]:
                recurrent[neuron] = synapse
    loops = set(recurrent.values())
    forward = [(a, b) for a, b in edges if a not in loops and b not in loops]
    return recurrent, forward


def _chain(nodes: dict[str, Any], edges: list[tuple[str, str]], source: str,
           recurrent: set[str]) -> list[str]:
    """The node names from the one Input to the one Output; branches and cycles refused
    (``recurrent`` synapses are off the path by design)."""
    kinds = {name: type(node).__name__ for name, node in nodes.items()}
    inputs = [name for name, kind in kinds.items() if kind == "Input"]
    outputs = [name for name, kind in kinds.items() if kind == "Output"]
    if len(inputs) != 1 or len(outputs) != 1:
        raise NirError(f"{source}: the graph has {len(inputs)} Input and {len(outputs)} Output "
                       f"nodes; netx runs one input and one output")
    successors: dict[str, list[str]] = {name: [] for name in nodes}
    for a, b in edges:
        successors[a].append(b)
    cycle = _cycle(successors)
    if cycle:
        raise NirError(f"{source}: cycle {' -> '.join(cycle)} that netx cannot run (netx runs only "
                       f"a neuron feeding itself through one Linear/Affine)")
    path = [inputs[0]]
    while kinds[path[-1]] != "Output":
        after = successors[path[-1]]
        if len(after) != 1:
            raise NirError(f"{source}: node {path[-1]!r} feeds {after or 'nothing'}; netx runs a chain "
                           f"(one successor per node)")
        path.append(after[0])
    stray = sorted(set(nodes) - set(path) - recurrent)
    if stray:
        raise NirError(f"{source}: node {stray[0]!r} is off the path from input to output")
    return path


def _cycle(successors: dict[str, list[str]]) -> list[str]:
    """One cycle of the graph as a node list (first node repeated at the end), or []."""
    state: dict[str, int] = {}    # 1: on the current path, 2: finished
    stack: list[str] = []

    def visit(name: str) -> list[str]:
        state[name] = 1
        stack.append(name)
        for after in successors[name]:
            if state.get(after) == 1:
                return stack[stack.index(after):] + [after]
            if after not in state:
                found = visit(after)
                if found:
                    return found
        stack.pop()
        state[name] = 2
        return []

    for start in successors:
        if start not in state:
            found = visit(start)
            if found:
                return found
    return []


def _shape(types: Any) -> Any:
    value = types.get("output") if isinstance(types, dict) else types
    if value is None:
        return None
    return np.asarray(value).astype(int)


# --- layers ---------------------------------------------------------------------------------

@dataclass
class _Pending:
    """What has been read since the last neuron."""

    flatten: bool = False
    delay_in: Optional[np.ndarray] = None
    synapse: Optional[str] = None
    delay_out: Optional[np.ndarray] = None


class _Builder:
    """Walks the chain node by node and closes a :class:`FloatLayer` at each neuron."""

    def __init__(self, nodes: dict[str, Any], recurrent: dict[str, str], dt: float,
                 source: str, input_shape: tuple[int, ...]) -> None:
        self.nodes, self.recurrent, self.dt, self.source = nodes, recurrent, dt, source
        self.shape = input_shape
        self.pending = _Pending()
        self.layers: list[FloatLayer] = []

    def fail(self, name: str, reason: str) -> None:
        raise NirError(f"{self.source}: node {name!r} ({type(self.nodes[name]).__name__}): {reason}")

    def add(self, name: str) -> None:
        kind = type(self.nodes[name]).__name__
        pending = self.pending
        if kind == "Flatten":
            if pending.synapse or pending.delay_in is not None:
                self.fail(name, "a Flatten between a synapse and its neuron is not a netx layer")
            pending.flatten = len(self.shape) > 1
        elif kind == "Delay":
            self._delay(name)
        elif kind in SYNAPSES:
            if pending.synapse:
                self.fail(name, f"follows the synapse {pending.synapse!r} without a neuron between; "
                                f"a netx layer is one synapse into neurons")
            pending.synapse = name
        elif pending.synapse is None:
            self.fail(name, "a neuron without a synapse before it (netx input neurons are not mapped)")
        else:
            self.layers.append(self._layer(name))
            self.pending = _Pending()

    def finish(self) -> list[FloatLayer]:
        if self.pending.synapse:
            self.fail(self.pending.synapse, "feeds the output without a neuron; netx layers end in neurons")
        if not self.layers:
            raise NirError(f"{self.source}: no synapse-and-neuron layer to map")
        return self.layers

    def _delay(self, name: str) -> None:
        steps = np.asarray(self.nodes[name].delay, dtype=float) / self.dt
        if self.pending.synapse is None:
            if self.pending.delay_in is not None:
                self.fail(name, "two Delays in a row")
            self.pending.delay_in = steps
        else:
            if self.pending.delay_out is not None:
                self.fail(name, "two Delays in a row")
            self.pending.delay_out = steps

    def _layer(self, neuron_name: str) -> FloatLayer:
        pending, synapse = self.pending, self.nodes[self.pending.synapse]
        input_shape = (math.prod(self.shape),) if pending.flatten else self.shape
        if type(synapse).__name__ == "Conv2d":
            weight, shape, geometry, bias = self._conv(pending.synapse, synapse, input_shape)
        else:
            weight = np.asarray(synapse.weight, dtype=float)
            if weight.ndim != 2 or weight.shape[1] != math.prod(input_shape) or len(input_shape) != 1:
                self.fail(pending.synapse, f"weight {weight.shape} does not take the {input_shape} "
                                           f"input (a Flatten may be missing)")
            shape, geometry = (weight.shape[0],), {}
            bias = np.asarray(synapse.bias, dtype=float) if type(synapse).__name__ == "Affine" else None
        neuron = _NeuronMap(self, neuron_name, shape)
        rows = neuron.row_gain(weight.ndim == 4)
        weight = weight * rows.reshape(-1, *([1] * (weight.ndim - 1)))
        weight_rec = None
        if neuron_name in self.recurrent:
            rec = self.nodes[self.recurrent[neuron_name]]
            weight_rec = np.asarray(rec.weight, dtype=float)
            if weight.ndim == 4 or weight_rec.shape != (shape[0], shape[0]):
                self.fail(self.recurrent[neuron_name], f"recurrent weight {weight_rec.shape} is not "
                                                       f"({shape[0]}, {shape[0]}) on a dense layer")
            weight_rec = weight_rec * rows.reshape(-1, 1)
            if type(rec).__name__ == "Affine" and np.any(rec.bias):
                bias = np.asarray(rec.bias, dtype=float) + (0 if bias is None else bias)
        delay = self._delays(weight.shape, pending, weight.ndim == 4)
        if delay is not None and weight_rec is not None:
            self.fail(neuron_name, "a recurrent layer with delays; netx builds its recurrent DelayDense "
                                   "without the weight exponent, so Lava would not run what the file says")
        fed, self.shape = self.shape, shape
        return FloatLayer(
            name=neuron_name, kind="conv" if weight.ndim == 4 else "dense", input_shape=fed,
            shape=shape, weight=weight, current_decay=neuron.current_decay,
            voltage_decay=neuron.voltage_decay, threshold=neuron.threshold,
            bias=neuron.bias(bias, pending.synapse), weight_rec=weight_rec, delay=delay,
            flatten=pending.flatten, scale=neuron.scale,
            source=f"{pending.synapse}+{neuron_name}", **geometry)

    def _conv(self, name: str, node: Any, input_shape: tuple[int, ...]
              ) -> tuple[np.ndarray, tuple[int, ...], dict[str, Any], Optional[np.ndarray]]:
        weight = np.asarray(node.weight, dtype=float)
        groups = int(node.groups)
        if weight.ndim != 4 or len(input_shape) != 3 or input_shape[0] != weight.shape[1] * groups:
            self.fail(name, f"kernel {weight.shape} (groups={groups}) does not take the {input_shape} input")
        pair = lambda value: tuple(int(v) for v in np.broadcast_to(np.asarray(value).astype(int), (2,)))  # noqa: E731
        stride, dilation = pair(node.stride), pair(node.dilation)
        padding = node.padding
        if isinstance(padding, (str, bytes)):
            padding = padding.decode() if isinstance(padding, bytes) else padding
            if padding == "valid":
                padding = (0, 0)
            elif padding == "same" and stride == (1, 1) and all(k % 2 for k in weight.shape[2:]):
                padding = tuple(dilation[i] * (weight.shape[2 + i] - 1) // 2 for i in (0, 1))
            else:
                self.fail(name, f"padding {padding!r} with stride {stride} and kernel "
                                f"{weight.shape[2:]} has no symmetric netx padding")
        padding = pair(padding)
        out_hw = tuple((input_shape[1 + i] + 2 * padding[i] - dilation[i] * (weight.shape[2 + i] - 1) - 1)
                       // stride[i] + 1 for i in (0, 1))
        bias = np.asarray(node.bias, dtype=float) if node.bias is not None and np.any(node.bias) else None
        geometry = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
        return weight, (weight.shape[0], *out_hw), geometry, bias

    def _delays(self, weight_shape: tuple[int, ...], pending: _Pending, conv: bool) -> Optional[np.ndarray]:
        if pending.delay_in is None and pending.delay_out is None:
            return None
        name = pending.synapse
        if conv:
            self.fail(name, "delays on a conv layer; netx carries delays on dense layers")
        total = np.zeros(weight_shape)
        if pending.delay_out is not None:
            total += np.broadcast_to(np.asarray(pending.delay_out).reshape(-1, 1), weight_shape)
        if pending.delay_in is not None:
            total += np.broadcast_to(np.asarray(pending.delay_in).reshape(1, -1), weight_shape)
        if pending.delay_in is None or np.all(total == total[:, :1]):
            return total[:, 0].copy()       # one delay per neuron: slayer's layout
        return total


class _NeuronMap:
    """One NIR neuron node's Euler discretisation (see the module docstring)."""

    def __init__(self, builder: _Builder, name: str, shape: tuple[int, ...]) -> None:
        self.builder, self.name, self.shape = builder, name, shape
        node, dt = builder.nodes[name], builder.dt
        kind = type(node).__name__
        self.kind = kind
        get = lambda field: self._param(node, field)  # noqa: E731
        if kind in ("CubaLIF", "CubaLI"):
            a, m = dt / get("tau_syn"), dt / get("tau_mem")
            self.gain = m * get("r") * a * get("w_in")
            self.current, self.voltage_decays = a, m
            self.leak = m * get("v_leak")
        elif kind in ("LIF", "LI"):
            m = dt / get("tau")
            self.gain, self.current, self.voltage_decays = m * get("r"), np.ones(shape), m
            self.leak = m * get("v_leak")
        else:  # IF
            self.gain, self.current, self.voltage_decays = dt * get("r"), np.ones(shape), np.zeros(shape)
            self.leak = np.zeros(shape)
        spiking = kind in ("CubaLIF", "LIF", "IF")
        if spiking and np.any(get("v_reset") != 0):
            builder.fail(name, f"v_reset = {float(np.max(np.abs(get('v_reset')))):g}; Loihi resets v to 0")
        thresholds = get("v_threshold") if spiking else None
        if thresholds is not None and np.any(thresholds <= 0):
            builder.fail(name, f"v_threshold = {float(thresholds.min()):g}; Loihi spikes above a positive threshold")
        self.threshold = float(thresholds.max()) if thresholds is not None else None
        self.normaliser = thresholds / self.threshold if thresholds is not None else np.ones(shape)
        metadata = getattr(node, "metadata", None) or {}
        self.scale = float(metadata[SCALE_KEY]) if SCALE_KEY in metadata else None

    @property
    def current_decay(self) -> float:
        return self._uniform(self.current, "dt/tau_syn")

    @property
    def voltage_decay(self) -> float:
        return self._uniform(self.voltage_decays, "dt/tau_mem")

    def row_gain(self, conv: bool) -> np.ndarray:
        """The factor each output row of the weights takes: per neuron (dense) or per
        channel (conv: positions share a kernel)."""
        rows = self.gain / self.normaliser
        if not conv:
            return rows.reshape(-1)
        per_channel = rows.reshape(rows.shape[0], -1)
        if not np.allclose(per_channel, per_channel[:, :1], rtol=1e-9, atol=0):
            self.builder.fail(self.name, "gains or thresholds differ within a channel; conv neurons of a "
                                         "channel share one kernel")
        return per_channel[:, 0]

    def bias(self, synaptic: Optional[np.ndarray], synapse: str) -> Optional[np.ndarray]:
        """The voltage bias per neuron: leak term plus a synaptic bias where the current
        does not persist (Loihi biases the voltage, not the current)."""
        total = np.array(self.leak, dtype=float)
        if synaptic is not None and np.any(synaptic):
            if self.current_decay < 1:
                self.builder.fail(synapse, f"bias {float(np.max(np.abs(synaptic))):g} enters the synaptic "
                                           f"current of {self.name!r} (dt/tau_syn = {self.current_decay:g} < 1); "
                                           f"Loihi adds bias to the voltage only")
            per_neuron = synaptic.reshape(-1, 1, 1) * np.ones(self.shape) if len(self.shape) == 3 \
                else synaptic.reshape(self.shape)
            total = total + self.gain * per_neuron
        total = total / self.normaliser
        return total if np.any(total) else None

    def _param(self, node: Any, field: str) -> np.ndarray:
        value = np.asarray(getattr(node, field), dtype=float)
        if value.size == 1:
            return np.full(self.shape, float(value.reshape(-1)[0]))   # NIR#176: scalars broadcast
        if value.size != math.prod(self.shape):
            self.builder.fail(self.name, f"{field} has shape {value.shape}; the layer has {self.shape} neurons")
        return value.reshape(self.shape)

    def _uniform(self, values: np.ndarray, what: str) -> float:
        low, high = float(np.min(values)), float(np.max(values))
        if not math.isclose(low, high, rel_tol=1e-6, abs_tol=1e-12):
            self.builder.fail(self.name, f"{what} ranges {low:g}..{high:g}; netx holds one decay per layer")
        return float(np.mean(values))
