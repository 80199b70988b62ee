"""NIR graphs to the discrete-time float layers that netx quantises.

The graph must be a chain ``Input -> [Flatten] [Delay] synapse [Delay] neuron -> ... ->
Output`` where a synapse is ``Affine``, ``Linear`` or ``Conv2d`` and a neuron ``CubaLIF``,
``LIF``, ``IF``, ``LI`` or ``CubaLI`` (the last two as a non-spiking read-out); a neuron may
feed itself through one ``Linear``/``Affine`` (netx's ``dense_rec``). Nested graphs
(snnTorch's ``RLeaky``/``RSynaptic``) are inlined. Anything else is refused with the node
named.

NIR's ODEs are discretised as the framework that wrote the graph steps them
(:mod:`.conventions`): with ``c`` and ``d`` the decays of ``tau_syn`` and ``tau_mem`` (``tau``
for LIF/LI) at ``dt``, ``1 - keep`` where ``keep`` is ``1 - dt/tau`` (Euler) or
``exp(-dt/tau)`` (exact), and ``g_u``, ``g_v`` the convention's current and voltage gains
(NIR's ODE: ``g_u = c * w_in``, ``g_v = d * r``):

- CubaLIF: ``current_decay = c``, ``voltage_decay = d``, weight row gain ``g_u * g_v``,
  bias ``d * v_leak`` (an Affine bias enters the current, which Loihi cannot bias: it is
  mapped only when ``c = 1``);
- LIF: ``current_decay = 1``, ``voltage_decay = d``, gain ``g_v``, bias ``gain * b + d * v_leak``;
- IF: ``current_decay = 1``, ``voltage_decay = 0``, gain ``dt * r`` (or ``r``), bias ``gain * b``.

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

from neurodeploy.interop.conventions import Convention, resolve
from neurodeploy.interop.layers import FloatLayer, FloatNetwork, NirError
from neurodeploy.interop.quantise import layer_names

SYNAPSES = ("Affine", "Linear", "Conv2d")
NEURONS = ("CubaLIF", "LIF", "IF", "LI", "CubaLI")
SUPPORTED = ("Input", "Output", "Flatten", "Delay", *SYNAPSES, *NEURONS)
#: Metadata keys this bridge reads and writes: the graph's step and a layer's Loihi scale.
DT_KEY = "dt"
SCALE_KEY = "loihi_scale"


@dataclass(frozen=True)
class LoadedGraph:
    """A NIR file mapped to float layers, with the convention used and what the import
    decided on the user's behalf (one line each, for the user to read)."""

    network: FloatNetwork
    convention: Convention
    notes: tuple[str, ...]


def load_graph(path: str | Path, dt: Optional[float], framework: Optional[str] = None) -> LoadedGraph:
    """Read ``path``, pick the exporter's convention (``framework``, else the graph's own
    word, else the default) and map it at step ``dt`` (else the graph's metadata dt)."""
    source = str(path)
    graph = read_graph(path)
    convention, said = resolve(graph, framework, source)
    network, notes = to_float_network(graph, graph_dt(graph, dt, source, convention), source, convention)
    return LoadedGraph(network, convention, (said, *notes))


def read_graph(path: str | Path) -> Any:
    """``nir.read`` without NIR's type inference (peers write graphs it rejects); one
    :class:`NirError` line naming what is wrong when the file is not a readable NIR graph.
    Only the failures of reading a file are caught: anything else is a bug, and shows."""
    import h5py
    import nir

    from neurodeploy.core.paths import input_file

    path = input_file(path, "NIR file", NirError)  # by type: a FIFO or device is refused unopened
    if not h5py.is_hdf5(path):
        raise NirError(f"{path}: not a NIR graph (not an HDF5 file)")
    try:
        return nir.read(path, type_check=False)
    except KeyError as error:
        raise NirError(f"{path}: not a NIR graph (a node lacks the field {error.args[0]!r} "
                       f"that its type needs)") from None
    except (OSError, ValueError, TypeError, AttributeError, AssertionError, NotImplementedError) as error:
        text = str(error).strip().splitlines()
        raise NirError(f"{path}: not a readable NIR graph ({type(error).__name__}: "
                       f"{text[0] if text else 'no detail'})") from None


def graph_dt(graph: Any, dt: Optional[float], source: str, convention: Convention) -> float:
    """The step: ``dt`` given, or the graph's ``metadata['dt']``; never assumed."""
    recorded = _recorded_dt(graph, source)
    if dt is None and recorded is None:
        raise NirError(f"{source}: the graph records no dt; pass --dt (seconds per step; "
                       f"{convention.why_dt}, so its graphs import with --dt {convention.dt:g})")
    if dt is not None and not math.isfinite(dt):
        raise NirError(f"{source}: --dt {dt}; it must be a finite number of seconds")
    if dt is not None and recorded is not None and not math.isclose(dt, recorded, rel_tol=1e-9):
        raise NirError(f"{source}: --dt {dt:g} disagrees with the graph's metadata dt {recorded:g}")
    chosen = dt if dt is not None else recorded
    if not chosen > 0:
        raise NirError(f"{source}: dt = {chosen:g}; it must be > 0 seconds")
    return float(chosen)


def _recorded_dt(graph: Any, source: str) -> Optional[float]:
    value = (getattr(graph, "metadata", None) or {}).get(DT_KEY)
    if value is None:
        return None
    array = np.asarray(value)
    if array.dtype.kind not in "iuf" or array.size != 1 or not np.isfinite(array).all():
        raise NirError(f"{source}: metadata dt = {_short(value)}; NIR records dt as one finite "
                       f"number of seconds")
    return float(array.reshape(-1)[0])


def to_float_network(graph: Any, dt: float, source: str, convention: Convention
                     ) -> tuple[FloatNetwork, tuple[str, ...]]:
    """Map a NIR graph to float layers at step ``dt`` as ``convention`` steps it, and the
    notes of what was read on the user's behalf; :class:`NirError` names the node."""
    nodes, edges = _inline(graph, source)
    for name, node in nodes.items():
        kind = type(node).__name__
        if kind not in SUPPORTED:
            raise NirError(f"{source}: node {name!r} is a {kind}, which netx cannot run; the bridge "
                           f"maps {', '.join(SUPPORTED)}")
    recurrent, forward = _recurrent_synapses(nodes, edges)
    path = _chain(nodes, forward, source, set(recurrent.values()))
    input_shape, notes = _input_shape(nodes, path[0], source)
    builder = _Builder(nodes, recurrent, dt, source, input_shape, convention)
    for name in path[1:-1]:
        builder.add(name)
    layers = builder.finish()
    named = [replace(layer, name=name) for layer, name in
             zip(layers, layer_names(FloatNetwork(tuple(layers), dt, input_shape)))]
    return FloatNetwork(tuple(named), dt, input_shape), notes


def _input_shape(nodes: dict[str, Any], name: str, source: str) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """The Input's shape without a batch dimension. netx takes ``(n,)`` or ``(C, H, W)``, so
    a leading 1 on a 2-d or 4-d shape (Norse and Rockpool export with a batched sample) is
    a batch dimension: dropped, and said so."""
    raw = _numbers(_shape(nodes[name].output_type), f"{source}: node {name!r} (Input): shape")
    if raw.size == 0 or np.any(raw < 1) or np.any(raw != np.round(raw)):
        raise NirError(f"{source}: node {name!r} (Input): shape {_short(raw)}; expected whole "
                       f"sizes >= 1 (NIR writers must record the input shape)")
    shape = tuple(int(v) for v in np.atleast_1d(raw))
    if len(shape) in (2, 4) and shape[0] == 1:
        return shape[1:], (f"node {name!r}: the leading 1 of the input shape {shape} is read as a "
                           f"batch dimension and dropped",)
    return shape, ()


def _numbers(value: Any, where: str) -> np.ndarray:
    """``value`` as finite floats, or one :class:`NirError` line naming ``where``."""
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise NirError(f"{where} is {_short(value)}, not numbers") from None
    if not np.isfinite(array).all():
        bad = array[~np.isfinite(array)].reshape(-1)[0]
        raise NirError(f"{where} holds {bad}; NIR parameters must be finite numbers")
    return array


def _short(value: Any) -> str:
    """A value for a one-line message: arrays by dtype and shape, scalars and text by repr."""
    if isinstance(value, np.ndarray) and value.size != 1:
        return f"an array of {value.dtype} {value.shape}"
    if isinstance(value, np.ndarray):
        value = value.reshape(-1)[0]
    if isinstance(value, np.generic):  # numpy 2's repr names the type: np.float64(nan)
        value = value.item()
    text = " ".join(repr(value.decode("utf8", "replace") if isinstance(value, bytes) else value).split())
    return text if len(text) <= 40 else text[:37] + "..."


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
    return () if value is None else value


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
                 source: str, input_shape: tuple[int, ...], convention: Convention) -> None:
        self.nodes, self.recurrent, self.dt, self.source = nodes, recurrent, dt, source
        self.convention = convention
        self.shape = input_shape
        self.pending = _Pending()
        self.layers: list[FloatLayer] = []

    def fail(self, name: str, reason: str) -> None:
        raise NirError(f"{self.where(name)}: {reason}")

    def where(self, name: str) -> str:
        return f"{self.source}: node {name!r} ({type(self.nodes[name]).__name__})"

    def numbers(self, name: str, field: str) -> np.ndarray:
        """A field of a node as finite floats (NIR files carry any dtype)."""
        return _numbers(getattr(self.nodes[name], field), f"{self.where(name)}: {field}")

    def whole(self, name: str, field: str) -> np.ndarray:
        values = self.numbers(name, field)
        if np.any(values != np.round(values)) or np.any(values < 0):
            self.fail(name, f"{field} = {_short(values.tolist())}; expected whole numbers >= 0")
        return values.astype(int)

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
        steps = self.numbers(name, "delay") / self.dt
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
            weight = self.numbers(pending.synapse, "weight")
            if weight.ndim != 2 or weight.shape[1] != math.prod(input_shape) or len(input_shape) != 1:
                self.fail(pending.synapse, f"weight {weight.shape} does not take the {input_shape} "
                                           f"input (a Flatten may be missing)")
            shape, geometry = (weight.shape[0],), {}
            bias = self.numbers(pending.synapse, "bias") if type(synapse).__name__ == "Affine" else None
        neuron = _NeuronMap(self, neuron_name, shape)
        rows = neuron.row_gain(weight.ndim == 4)
        weight = weight * rows.reshape(-1, *([1] * (weight.ndim - 1)))
        weight_rec = None
        if neuron_name in self.recurrent:
            rec = self.nodes[self.recurrent[neuron_name]]
            weight_rec = self.numbers(self.recurrent[neuron_name], "weight")
            if weight.ndim == 4 or weight_rec.shape != (shape[0], shape[0]):
                self.fail(self.recurrent[neuron_name], f"recurrent weight {weight_rec.shape} is not "
                                                       f"({shape[0]}, {shape[0]}) on a dense layer")
            weight_rec = weight_rec * rows.reshape(-1, 1)
            if type(rec).__name__ == "Affine" and np.any(rec.bias):
                bias = self.numbers(self.recurrent[neuron_name], "bias") + (0 if bias is None else bias)
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
        weight = self.numbers(name, "weight")
        groups = int(np.max(self.whole(name, "groups")))
        if weight.ndim != 4 or len(input_shape) != 3 or input_shape[0] != weight.shape[1] * groups:
            self.fail(name, f"kernel {weight.shape} (groups={groups}) does not take the {input_shape} input")
        pair = lambda field: self._pair(name, field)  # noqa: E731
        stride, dilation = pair("stride"), pair("dilation")
        padding = node.padding
        if isinstance(padding, np.ndarray) and padding.dtype.kind in "SUO":
            padding = padding.reshape(-1)[0]
        if isinstance(padding, (str, bytes)):
            padding = padding.decode() if isinstance(padding, bytes) else padding
            if padding == "valid":
                padding = (0, 0)
            elif padding == "same" and stride == (1, 1) and all(k % 2 for k in weight.shape[2:]):
                padding = tuple(dilation[i] * (weight.shape[2 + i] - 1) // 2 for i in (0, 1))
            else:
                self.fail(name, f"padding {padding!r} with stride {stride} and kernel "
                                f"{weight.shape[2:]} has no symmetric netx padding")
        else:
            padding = pair("padding")
        out_hw = tuple((input_shape[1 + i] + 2 * padding[i] - dilation[i] * (weight.shape[2 + i] - 1) - 1)
                       // stride[i] + 1 for i in (0, 1))
        bias = self.numbers(name, "bias") if node.bias is not None else None
        bias = bias if bias is not None and np.any(bias) else None
        geometry = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
        return weight, (weight.shape[0], *out_hw), geometry, bias

    def _pair(self, name: str, field: str) -> tuple[int, int]:
        values = self.whole(name, field).reshape(-1)
        if values.size not in (1, 2):
            self.fail(name, f"{field} has {values.size} values; a 2-d conv takes 1 or 2")
        return tuple(int(v) for v in np.broadcast_to(values, (2,)))  # type: ignore[return-value]

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
    """One NIR neuron node discretised as its exporter steps it (see the module docstring)."""

    def __init__(self, builder: _Builder, name: str, shape: tuple[int, ...]) -> None:
        self.builder, self.name, self.shape = builder, name, shape
        node, dt, rule = builder.nodes[name], builder.dt, builder.convention
        kind = type(node).__name__
        self.kind = kind
        get = lambda field: self._param(node, field)  # noqa: E731
        if kind in ("CubaLIF", "CubaLI"):
            c, d = self._decay(get("tau_syn"), "tau_syn"), self._decay(get("tau_mem"), "tau_mem")
            into_current = {"ode": c, "whole": 1.0, "decayed": 1.0 - c}[rule.current_gain] * get("w_in")
            self.gain = into_current * self._voltage_gain(d, get("r"))
            self.current, self.voltage_decays = c, d
            self.leak = d * get("v_leak")
        elif kind in ("LIF", "LI"):
            d = self._decay(get("tau"), "tau")
            self.gain, self.current, self.voltage_decays = self._voltage_gain(d, get("r")), np.ones(shape), d
            self.leak = d * get("v_leak")
        else:  # IF
            gain = get("r") * (dt if rule.if_gain == "ode" else 1.0)
            self.gain, self.current, self.voltage_decays = gain, np.ones(shape), np.zeros(shape)
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

    def _decay(self, tau: np.ndarray, field: str) -> np.ndarray:
        """``1 - keep`` per step: Euler's ``dt/tau`` or the exact ``1 - exp(-dt/tau)``."""
        rule, dt = self.builder.convention, self.builder.dt
        if np.any(tau <= 0):
            self.builder.fail(self.name, f"{field} = {float(tau.min()):g}; time constants must be > 0")
        ratio = dt / rule.seconds(tau, dt)
        return -np.expm1(-ratio) if rule.decay == "exact" else ratio

    def _voltage_gain(self, decay: np.ndarray, r: np.ndarray) -> np.ndarray:
        return decay * r if self.builder.convention.voltage_gain == "ode" else np.ones(self.shape)

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
        value = self.builder.numbers(self.name, field)
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
