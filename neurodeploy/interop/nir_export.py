"""Float layers (de-quantised netx) to a NIR graph: the import's mapping run backwards.

With ``c = current_decay`` and ``m = voltage_decay`` of a layer at step ``dt``:

- ``c = 1, m > 0``: ``LIF(tau = dt / m, r = 1 / m)``, the bias on the synapse (it enters
  ``v`` with gain 1; as ``v_leak = bias / m`` only for a conv bias that varies within a
  channel), since snnTorch's and SpikingJelly's importers refuse ``v_leak != 0``;
- ``c = 1, m = 0``: ``IF(r = 1 / dt)``, the bias on the synapse (``Affine``/conv bias);
- ``0 < c < 1, m > 0``: ``CubaLIF(tau_syn = dt / c, tau_mem = dt / m, r = 1 / m,
  w_in = 1 / c, v_leak = bias / m)``;
- non-spiking read-outs become ``LI`` / ``CubaLI`` alike.

Every gain is 1, so NIR's weights are the float weights and Euler at ``dt`` gives back
the same layer. Each neuron node records its Loihi scale in ``metadata['loihi_scale']``
and the graph its ``dt``, so importing the graph again writes the same integers.
A current that never decays (``iDecay = 0``) or a leak-free CUBA neuron with a decaying
current has no NIR primitive and is refused.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from neurodeploy.interop.layers import FloatLayer, FloatNetwork, NirError
from neurodeploy.interop.nir_import import DT_KEY, SCALE_KEY

GRAPH_SOURCE = "neurodeploy netx export"
#: Frameworks whose NIR importer ignores a LIF's ``r`` (Norse 1.1 warns and drops it): for
#: them a LIF is written with ``r = 1`` and its gain ``1 / d`` in the synapse's weights.
GAIN_IN_WEIGHTS = ("norse",)


def to_nir_graph(network: FloatNetwork, source: str, reader: Optional[str] = None) -> Any:
    """The NIR graph of ``network``, built with NIR's type checks on; ``reader`` names the
    framework that will import it, where its importer needs another equivalent form."""
    import nir

    nodes: dict[str, Any] = {"input": nir.Input(input_type=np.array(network.input_shape))}
    edges: list[tuple[str, str]] = []
    last = "input"
    for layer in network.layers:
        gain = _weight_gain(layer, reader)
        for name, node in _layer_nodes(layer, network.dt, source, gain):
            nodes[name] = node
            edges.append((last, name))
            last = name
        if layer.weight_rec is not None:
            rec = f"{layer.name}_rec"
            nodes[rec] = nir.Linear(weight=layer.weight_rec.astype(np.float64) * gain)
            edges += [(last, rec), (rec, last)]
    nodes["output"] = nir.Output(output_type=np.array(network.layers[-1].shape))
    edges.append((last, "output"))
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={DT_KEY: network.dt, "source": GRAPH_SOURCE},
                        type_check=True)


def _weight_gain(layer: FloatLayer, reader: Optional[str]) -> float:
    """1, or a LIF's ``1 / d`` moved from its ``r`` into the weights for ``reader``."""
    lif = layer.current_decay == 1 and layer.voltage_decay > 0
    return 1 / layer.voltage_decay if lif and reader in GAIN_IN_WEIGHTS else 1.0


def _layer_nodes(layer: FloatLayer, dt: float, source: str, gain: float) -> list[tuple[str, Any]]:
    """The NIR nodes of one layer in order: [Flatten] [Delay] synapse [Delay] neuron."""
    import nir

    nodes: list[tuple[str, Any]] = []
    if layer.flatten:
        nodes.append((f"{layer.name}_flatten", nir.Flatten(
            input_type={"input": np.array(layer.input_shape)}, start_dim=0, end_dim=-1)))
    delay_in, delay_out = _split_delays(layer, source)
    if delay_in is not None:
        nodes.append((f"{layer.name}_delay_in", nir.Delay(delay=delay_in * dt)))
    synaptic_bias, neuron = _neuron(layer, dt, source, gain)
    nodes.append((f"{layer.name}_synapse", _synapse(layer, synaptic_bias, gain)))
    if delay_out is not None:
        nodes.append((f"{layer.name}_delay", nir.Delay(delay=delay_out * dt)))
    nodes.append((layer.name, neuron))
    return nodes


def _synapse(layer: FloatLayer, bias: Optional[np.ndarray], gain: float) -> Any:
    import nir

    weight = layer.weight.astype(np.float64) * gain
    bias = None if bias is None else bias * gain
    if layer.kind == "conv":
        return nir.Conv2d(input_shape=tuple(layer.input_shape[1:]), weight=weight, stride=layer.stride,
                          padding=layer.padding, dilation=layer.dilation, groups=layer.groups,
                          bias=np.zeros(weight.shape[0]) if bias is None else bias)
    # Affine even without a bias: sinabs' importer reads no Linear (Norse writes Affine too)
    return nir.Affine(weight=weight, bias=np.zeros(weight.shape[0]) if bias is None else bias)


def _neuron(layer: FloatLayer, dt: float, source: str, gain: float) -> tuple[Optional[np.ndarray], Any]:
    """(bias for the synapse or None, the neuron node)."""
    import nir

    c, m = layer.current_decay, layer.voltage_decay
    where = f"{source}: layer {layer.name}"
    if c == 0:
        raise NirError(f"{where}: iDecay = 0 (the current never decays) has no NIR neuron")
    if m == 0 and c < 1:
        raise NirError(f"{where}: vDecay = 0 with a decaying current (iDecay < 4096) has no NIR neuron")
    full = lambda value: np.full(layer.shape, float(value))  # noqa: E731
    bias = layer.bias_per_neuron()
    metadata = {SCALE_KEY: float(layer.scale)} if layer.scale is not None else {}
    threshold = None if layer.threshold is None else full(layer.threshold)
    if m == 0:
        synaptic = _synaptic_bias(layer, bias, where)
        return synaptic, nir.IF(r=full(1 / dt), v_threshold=threshold, v_reset=full(0), metadata=metadata)
    if c == 1:
        synaptic = _synaptic_bias(layer, bias, where, required=False)
        leak = np.zeros(layer.shape) if synaptic is not None or not np.any(bias) else bias / m
        common = {"r": full(1 / (m * gain)), "v_leak": leak}
        if threshold is None:
            return synaptic, nir.LI(tau=full(dt / m), metadata=metadata, **common)
        return synaptic, nir.LIF(tau=full(dt / m), v_threshold=threshold, v_reset=full(0), metadata=metadata,
                                 **common)
    common = {"r": full(1 / m), "v_leak": bias / m}
    cuba = {"tau_syn": full(dt / c), "tau_mem": full(dt / m), "w_in": full(1 / c), **common}
    if threshold is None:
        return None, nir.CubaLI(metadata=metadata, **cuba)
    return None, nir.CubaLIF(v_threshold=threshold, v_reset=full(0), metadata=metadata, **cuba)


def _synaptic_bias(layer: FloatLayer, bias: np.ndarray, where: str,
                   required: bool = True) -> Optional[np.ndarray]:
    """The bias on the synapse (gain 1 into ``v`` for a one-step current): an IF neuron has
    no leak to carry it (``required``); for LIF it is where importers expect it. None when
    there is none, or a conv bias varies within a channel and is not ``required``."""
    if not np.any(bias):
        return None
    if layer.kind == "dense":
        return bias.reshape(-1)
    per_channel = bias.reshape(bias.shape[0], -1)
    if not np.all(per_channel == per_channel[:, :1]):
        if not required:
            return None
        raise NirError(f"{where}: a leak-free conv layer with a bias that varies within a channel "
                       f"has no NIR form")
    return per_channel[:, 0].copy()


def _split_delays(layer: FloatLayer, source: str) -> tuple[Optional[np.ndarray], Optional[np.ndarray]]:
    """netx delays as NIR Delay nodes: one per neuron after the synapse, or one per input
    before it; other per-synapse patterns have no NIR form."""
    if layer.delay is None:
        return None, None
    delay = np.asarray(layer.delay, dtype=float)
    if delay.ndim == 1:
        return None, delay
    if np.all(delay == delay[:, :1]):
        return None, delay[:, 0].copy()
    if np.all(delay == delay[:1, :]):
        return delay[0].copy(), None
    raise NirError(f"{source}: layer {layer.name}: delays differ per synapse, neither per neuron nor "
                   f"per input; NIR's Delay node cannot carry them")
