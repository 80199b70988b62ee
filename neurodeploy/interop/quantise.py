"""Float layers to netx integers and back, with Loihi's ranges checked and the error measured.

Per layer one scale ``s`` (integer units per float voltage unit) maps every parameter:
``weight = q(W * s)``, ``vThMant = round(threshold * s)``, ``bias = round(bias * s)``;
decays are ``iDecay = round(4096 * current_decay)``, ``vDecay = round(4096 * voltage_decay)``.
``q`` is Loihi's 8-bit synapse: mixed-sign weights are even integers in -256..254 (the
sign takes the LSB, as SLAYER's ``quantize_8bit`` and netx's ``optimize_weight_bits``
assume), single-sign weights whole numbers up to 255. netx derives the per-layer weight
exponent from these integers; the file then holds exactly what Lava runs, which
:func:`write_float_netx` checks against the emulator's synapse builder.

Without a known scale, ``s`` is the largest that keeps every weight in range: the weights
keep all 8 bits and the threshold gets the finest mantissa the weights allow.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import h5py
import numpy as np

from neurodeploy.core.atomic import atomic_path
from neurodeploy.interop.layers import FloatLayer, FloatNetwork, NirError
from neurodeploy.core.netxfile import NetxLayer, read_netx

DECAY_UNITY = 4096
THRESHOLD_MAX = (1 << 17) - 1       # Loihi's 17-bit threshold mantissa (hw_configs threshold_mantissa)
BIAS_RANGE = (-4096, 4095)          # 13-bit bias mantissa (hw_configs bias_mantissa)
MAX_DELAY = 62                      # netx clamps axonal delays at 62
MIXED_RANGE = (-256, 254)
SINGLE_MAX = 255
#: What netx reads for a file without a scale: SLAYER's weight scale (1 << 6).
SLAYER_SCALE = 64.0


@dataclass(frozen=True)
class ParameterError:
    """How far one quantised parameter lands from its float value (in float units)."""

    layer: str
    parameter: str
    float_max_abs: float
    max_abs_error: float
    relative: float          # max_abs_error / float_max_abs (0 when the float is all zero)


@dataclass(frozen=True)
class QuantisedLayer:
    """The integers of one layer, its scale and netx's weight exponent."""

    name: str
    scale: float
    datasets: dict[str, Any]
    errors: tuple[ParameterError, ...]


def quantise(network: FloatNetwork, source: str) -> list[QuantisedLayer]:
    """Every layer's netx integers; :class:`NirError` naming ``source``, the node, the value
    and the limit when a parameter does not fit Loihi."""
    return [_quantise_layer(layer, source) for layer in network.layers]


def write_float_netx(network: FloatNetwork, path: str | Path, source: str) -> list[QuantisedLayer]:
    """Quantise ``network`` and write it as a netx file (atomically), in the layout of
    slayer's ``export_hdf5``; returns the quantised layers with their errors."""
    quantised = quantise(network, source)
    path = Path(path)
    with atomic_path(path) as temporary:
        with h5py.File(temporary, "w") as handle:
            group = handle.create_group("layer")
            index = 0
            for layer, done in zip(network.layers, quantised):
                if layer.flatten:
                    _write_group(group.create_group(str(index)), {
                        "type": "flatten", "shape": np.array([math.prod(layer.input_shape), 1, 1])})
                    index += 1
                _write_group(group.create_group(str(index)), done.datasets)
                index += 1
        _check_lava_runs_the_file(temporary, path, network)
    return quantised


def layer_names(network: FloatNetwork) -> list[str]:
    """The netx names the layers get in file order (a flatten takes an index too)."""
    names, index = [], 0
    for layer in network.layers:
        index += layer.flatten
        names.append(f"{'dense_rec' if layer.weight_rec is not None else layer.kind}{index}")
        index += 1
    return names


def read_float_netx(path: str | Path, dt: float, scales: Optional[dict[str, float]] = None,
                    input_shape: Optional[tuple[int, ...]] = None) -> FloatNetwork:
    """De-quantise a netx file: each layer divided by its scale (from ``scales``, else
    SLAYER's 64). ``input_shape`` (torch layout) is needed for a conv first layer."""
    netx = read_netx(path)
    layers: list[FloatLayer] = []
    flatten = False
    current = tuple(input_shape) if input_shape else None
    for layer in netx.layers:
        if layer.type == "flatten":
            flatten = True
            continue
        if layer.type not in ("dense", "dense_rec", "conv"):
            raise NirError(f"{path}: layer {layer.name} is a {layer.type!r} layer; the NIR bridge "
                           f"maps dense, dense_rec, conv and flatten layers")
        if current is None:
            current = _first_input(path, layer)
        scale = float((scales or {}).get(layer.name, SLAYER_SCALE))
        made = _dequantise(path, layer, scale, flatten, current)
        layers.append(made)
        current, flatten = made.shape, False
    if not layers:
        raise NirError(f"{path}: no dense or conv layer to map")
    first = layers[0]
    return FloatNetwork(tuple(layers), dt, first.input_shape)


# --- float -> integers ------------------------------------------------------------------

def _quantise_layer(layer: FloatLayer, source: str) -> QuantisedLayer:
    where = f"{source}: node {layer.source or layer.name}"
    weights = [layer.weight] + ([layer.weight_rec] if layer.weight_rec is not None else [])
    scale = layer.scale if layer.scale is not None else _best_scale(weights)
    low, high, step = _weight_range(weights)
    integers = []
    for name, weight in zip(("weight", "weight_rec"), weights):
        scaled = np.asarray(weight, dtype=float) * scale
        if scaled.size and (scaled.min() < low - step / 2 or scaled.max() > high + step / 2):
            raise NirError(f"{where}: {name} reaches {_extreme(scaled):g} at scale {scale:g}; "
                           f"Loihi's 8-bit synapse holds {low}..{high}")
        integers.append(np.clip(step * np.round(scaled / step), low, high))
    datasets: dict[str, Any] = {"type": "dense_rec" if layer.weight_rec is not None else layer.kind,
                                "shape": np.array(layer.shape)}
    if layer.kind == "dense":
        datasets.update(inFeatures=layer.weight.shape[1], outFeatures=layer.weight.shape[0])
    else:
        datasets.update(inChannels=layer.weight.shape[1] * layer.groups, outChannels=layer.weight.shape[0],
                        kernelSize=np.array(layer.weight.shape[2:]), stride=np.array(layer.stride),
                        padding=np.array(layer.padding), dilation=np.array(layer.dilation),
                        groups=layer.groups)
    datasets["weight"] = integers[0].astype(np.float32)
    if layer.weight_rec is not None:
        datasets["weight_rec"] = integers[1].astype(np.float32)
    errors = [_error(layer.name, name, w, q / scale) for name, w, q in zip(("weight", "weight_rec"), weights, integers)]
    neuron = _neuron(layer, scale, where)
    if layer.bias is not None:
        float_bias = layer.bias_per_neuron()
        bias = np.round(float_bias * scale)
        if bias.size and (bias.min() < BIAS_RANGE[0] or bias.max() > BIAS_RANGE[1]):
            raise NirError(f"{where}: bias reaches {_extreme(bias):g} at scale {scale:g}; Loihi's "
                           f"13-bit bias mantissa holds {BIAS_RANGE[0]}..{BIAS_RANGE[1]}")
        datasets["bias"] = _netx_layout(bias, layer.kind).astype(np.float32)
        errors.append(_error(layer.name, "bias", float_bias, bias / scale))
    if layer.delay is not None:
        datasets["delay"] = _delay(layer.delay, where).astype(np.float32)
    datasets["neuron"] = neuron
    errors += _neuron_errors(layer, neuron, scale)
    return QuantisedLayer(layer.name, scale, datasets, tuple(errors))


def _netx_layout(per_neuron: np.ndarray, kind: str) -> np.ndarray:
    """Torch's (C, H, W) per-neuron array in netx's (W, H, C); dense is (n,) either way."""
    return per_neuron.transpose(2, 1, 0) if kind == "conv" else per_neuron


def _torch_layout(netx: np.ndarray, shape: tuple[int, ...], kind: str) -> np.ndarray:
    """A netx bias back in torch's layout: per channel ``(C,)`` as it is, per neuron
    ``(W, H, C)`` transposed."""
    if kind == "conv" and netx.size != shape[0]:
        return netx.reshape(tuple(reversed(shape))).transpose(2, 1, 0)
    return netx.reshape(-1) if kind == "conv" else netx.reshape(shape)


def _best_scale(weights: list[np.ndarray]) -> float:
    """The largest scale that keeps every weight inside its 8-bit range."""
    values = np.concatenate([np.asarray(w, dtype=float).ravel() for w in weights])
    top, bottom = float(values.max(initial=0.0)), float(values.min(initial=0.0))
    low, high, _ = _weight_range(weights)
    limits = [high / top if top > 0 else math.inf, low / bottom if bottom < 0 else math.inf]
    scale = min(limits)
    return SLAYER_SCALE if math.isinf(scale) else scale


def _weight_range(weights: list[np.ndarray]) -> tuple[int, int, int]:
    """(low, high, step) of Loihi's weights for the layer's sign mode (netx optimises the
    feed-forward and recurrent weights together, so they share it)."""
    values = np.concatenate([np.asarray(w, dtype=float).ravel() for w in weights])
    if values.size and values.min() < 0 < values.max():
        return MIXED_RANGE[0], MIXED_RANGE[1], 2
    if values.size and values.min() < 0:
        return -SINGLE_MAX, 0, 1
    return 0, SINGLE_MAX, 1


def _neuron(layer: FloatLayer, scale: float, where: str) -> dict[str, Any]:
    decays = {}
    for key, name, value in (("iDecay", "dt/tau_syn", layer.current_decay),
                             ("vDecay", "dt/tau_mem", layer.voltage_decay)):
        if not 0.0 <= value <= 1.0:
            raise NirError(f"{where}: {name} = {value:g} is outside 0..1 (dt must not exceed "
                           f"the time constant)")
        decays[key] = int(round(value * DECAY_UNITY))
        if value > 0 and decays[key] == 0:
            raise NirError(f"{where}: {name} = {value:g} rounds to a 12-bit decay of 0; the smallest "
                           f"is 1/{DECAY_UNITY} (dt/tau >= {0.5 / DECAY_UNITY:g})")
    if layer.threshold is None:
        threshold = THRESHOLD_MAX
    else:
        threshold = int(round(layer.threshold * scale))
        if threshold > THRESHOLD_MAX:
            raise NirError(f"{where}: threshold {layer.threshold:g} is {layer.threshold * scale:g} at the "
                           f"weights' scale {scale:g}; the threshold mantissa holds 1..{THRESHOLD_MAX}")
        if threshold < 1:
            raise NirError(f"{where}: threshold {layer.threshold:g} rounds to {threshold} at scale "
                           f"{scale:g}; the threshold mantissa holds 1..{THRESHOLD_MAX}")
    return {"type": "CUBA", **decays, "vThMant": threshold, "refDelay": 1, "gradedSpike": False}


def _neuron_errors(layer: FloatLayer, neuron: dict[str, Any], scale: float) -> list[ParameterError]:
    errors = [_error(layer.name, "current_decay", layer.current_decay, neuron["iDecay"] / DECAY_UNITY),
              _error(layer.name, "voltage_decay", layer.voltage_decay, neuron["vDecay"] / DECAY_UNITY)]
    if layer.threshold is not None:
        errors.append(_error(layer.name, "threshold", layer.threshold, neuron["vThMant"] / scale))
    return errors


def _delay(delay: np.ndarray, where: str) -> np.ndarray:
    steps = np.round(np.asarray(delay, dtype=float))
    if np.abs(steps - delay).max(initial=0) > 1e-6:
        raise NirError(f"{where}: delay {_extreme(np.asarray(delay) - steps):g} steps off a whole step; "
                       f"Loihi delays are whole steps")
    if steps.size and (steps.min() < 0 or steps.max() > MAX_DELAY):
        raise NirError(f"{where}: delay of {_extreme(steps):g} steps; netx carries 0..{MAX_DELAY}")
    return steps


def _error(layer: str, parameter: str, value: Any, quantised: Any) -> ParameterError:
    value, quantised = np.asarray(value, dtype=float), np.asarray(quantised, dtype=float)
    top = float(np.abs(value).max(initial=0.0))
    error = float(np.abs(value - quantised).max(initial=0.0))
    return ParameterError(layer, parameter, top, error, error / top if top else 0.0)


def _extreme(values: np.ndarray) -> float:
    values = np.asarray(values, dtype=float).ravel()
    return float(values[np.argmax(np.abs(values))]) if values.size else 0.0


def _write_group(group: h5py.Group, datasets: dict[str, Any]) -> None:
    for key, value in datasets.items():
        if key == "type":
            group.create_dataset("type", (1,), "S10", [value.encode("ascii")])
        elif key == "neuron":
            for name, item in value.items():
                group.create_dataset(f"neuron/{name}", data=item)
        else:
            group.create_dataset(key, data=value)


def _check_lava_runs_the_file(path: Path, shown: Path, network: FloatNetwork) -> None:
    """The weights written must be what Lava's synapses hold (netx's exponent and Lava's
    truncation change nothing): a bug otherwise, not a user error. Messages name ``shown``,
    the user's output, never the temporary ``path`` being checked."""
    from neurodeploy.core.errors import NeurodeployError
    from neurodeploy.backends.emulator.layers import ConvSynapse, DelayLine, build_layers

    try:
        netx = read_netx(path)
        image = network.input_shape if len(network.input_shape) == 3 else (*network.input_shape, 1, 1)
        built_layers = build_layers(netx, tuple(image))
    except NeurodeployError as error:
        raise type(error)(str(error).replace(str(path), str(shown))) from None
    for built in built_layers:
        if isinstance(built.synapse, ConvSynapse):
            continue  # Lava's conv model uses the file's integers as they are
        taps = built.synapse.taps if isinstance(built.synapse, DelayLine) else ((0, built.synapse),)
        synapses = [("weight", [tap for _, tap in taps])]
        if built.recurrent is not None:
            synapses.append(("weight_rec", [built.recurrent]))
        for key, parts in synapses:
            held = sum(part.weight_t.double().numpy().T * 2.0 ** part.exponent for part in parts)
            written = getattr(netx.layer(built.name), key).reshape(held.shape)
            assert np.array_equal(held, written), f"{shown}: {built.name}/{key}: Lava runs other weights"


# --- integers -> float ------------------------------------------------------------------

def _dequantise(path: str | Path, layer: NetxLayer, scale: float, flatten: bool,
                input_shape: tuple[int, ...]) -> FloatLayer:
    neuron = layer.neuron
    if not neuron or str(neuron.get("type")) not in ("CUBA", "LOIHI") or layer.graded:
        raise NirError(f"{path}: layer {layer.name} has neuron {neuron.get('type') if neuron else None!r}; "
                       f"the NIR bridge maps binary-spiking CUBA neurons")
    shape = tuple(reversed(layer.shape)) if layer.type == "conv" else (int(np.prod(layer.shape)),)
    kind = "conv" if layer.type == "conv" else "dense"
    weight = np.asarray(layer.weight, dtype=float)
    if kind == "dense":
        weight = weight.reshape(shape[0], -1)
        input_shape = input_shape if flatten else (weight.shape[1],)
    flip = lambda pair: (int(pair[1]), int(pair[0]))  # noqa: E731  netx (x, y) -> torch (h, w)
    geometry = {} if kind == "dense" else {
        "stride": flip(layer.stride), "padding": flip(layer.padding),
        "dilation": flip(layer.dilation), "groups": layer.groups or 1}
    threshold = int(neuron["vThMant"])
    return FloatLayer(
        name=layer.name, kind=kind, input_shape=tuple(input_shape), shape=shape,
        weight=weight / scale,
        current_decay=int(neuron["iDecay"]) / DECAY_UNITY, voltage_decay=int(neuron["vDecay"]) / DECAY_UNITY,
        threshold=None if threshold >= THRESHOLD_MAX else threshold / scale,
        bias=None if layer.bias is None else _torch_layout(np.asarray(layer.bias, dtype=float), shape, kind) / scale,
        weight_rec=None if layer.weight_rec is None else np.asarray(layer.weight_rec, dtype=float).reshape(
            shape[0], -1) / scale,
        delay=None if layer.delay is None else np.asarray(layer.delay, dtype=float),
        flatten=flatten, scale=scale, source=layer.name, **geometry)


def _first_input(path: str | Path, layer: NetxLayer) -> tuple[int, ...]:
    if layer.type == "conv":
        raise NirError(f"{path}: the first layer {layer.name} is a conv layer; give the input "
                       f"shape (C,H,W), e.g. from the manifest")
    return (int(np.prod(layer.input_shape)),)
