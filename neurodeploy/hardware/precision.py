"""Precision checks (hardware.md section 2): weights, neuron parameters and state headroom.

Weights are judged as netx and Lava will load them, computed once in
:mod:`neurodeploy.core.loaded_weights` (tested equal to netx's and Lava's own functions):
netx reads them with ``astype(int)`` and passes a dense layer's matrix (recurrent part
appended) through ``optimize_weight_bits``; each Lava ``Dense`` block then clips and
truncates its part, and scales its sums by ``2**weight_exp``. A conv kernel reaches Lava's
``Conv`` unchanged. Neuron parameters are judged in netx's mapping to Lava's LIF
(``du = iDecay - 1``, ``dv = vDecay``, ``vth = vThMant``, ``bias_mant = bias``).
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from neurodeploy.core.loaded_weights import WeightsNotLoadable, dense_blocks
from neurodeploy.core.netxfile import DENSE_TYPES, NetxLayer, NetxNetwork
from neurodeploy.hardware.findings import Finding, breach, note
from neurodeploy.hardware.profile import Profile, Span

LIF_TYPES = ("CUBA", "LOIHI")
AS_LOADED = ("LDL netx/utils.py NetDict (astype(int)) and optimize_weight_bits; "
             "L proc/dense/models.py (clip_weights, truncate_weights, weight_exp) [code]")


def check_precision(network: NetxNetwork, profile: Profile) -> list[Finding]:
    findings: list[Finding] = []
    graded_input = False
    for layer in network.layers:
        if layer.is_synaptic:
            stored, fan_in = _rows(layer)  # one pass over the weights for both checks
            try:
                loaded = _loaded(layer, stored, fan_in)
            except WeightsNotLoadable:  # the reading rules refuse this for the types neurodeploy runs
                findings.append(_unscalable(layer))
            else:
                findings += _weights(layer, profile, stored, loaded)
                if layer.neuron_type in LIF_TYPES and not graded_input:
                    findings += _headroom(layer, profile, loaded)
        if layer.neuron and layer.neuron_type in LIF_TYPES:
            findings += _lif_parameters(layer, profile)
        findings += _graded_bits(layer, profile)
        if layer.n_neurons:
            graded_input = layer.graded
    return findings


def as_loaded(layer: NetxLayer) -> np.ndarray:
    """A synaptic layer's weights as Lava's synapses hold them, in the file's scale (the
    held integers times ``2**weight_exp``), as rows per output neuron or channel with
    recurrent inputs appended. Raises :class:`WeightsNotLoadable` where netx cannot scale them."""
    return _loaded(layer, *_rows(layer))


def _loaded(layer: NetxLayer, stored: np.ndarray, fan_in: int) -> np.ndarray:
    """``stored`` as loaded: netx's ``astype(int)``; for a dense layer netx's
    ``optimize_weight_bits`` over the whole matrix, then Lava's clip and truncation per
    Dense block (feed-forward ``[:, :fan_in]``, recurrent the rest), in that block's sign mode."""
    with np.errstate(invalid="ignore"):  # a weight beyond int64 reads as netx reads it (and breaches the range)
        ints = stored.astype(int)
    if layer.type not in DENSE_TYPES:
        return ints.astype(float)
    blocks, exponent = dense_blocks(ints, fan_in)
    if layer.type == "dense_rec" and layer.delay is not None:
        exponent = 0  # netx's RecurrentDense builds its DelayDense synapses without weight_exp
    return np.hstack(blocks) * 2.0 ** exponent


def _sign_mode(ints: np.ndarray, profile: Profile) -> tuple[str, Span]:
    """netx's choice of sign mode from the extremes, and that mode's weight range."""
    ranges = profile.precision.weight_range
    if ints.size and ints.max() < 0:
        return "inhibitory", ranges.inhibitory
    if not ints.size or ints.min() >= 0:
        return "excitatory", ranges.excitatory
    return "mixed", ranges.mixed


def _unscalable(layer: NetxLayer) -> Finding:
    return note(check="precision.weight_scale", layer=layer.name, value=0, limit="a non-zero weight",
                severity="error", source=AS_LOADED,
                fix="netx's optimize_weight_bits divides by the largest weight, so it cannot load "
                    "weights that are all zero once truncated: give the layer non-zero integer weights.")


def _weights(layer: NetxLayer, profile: Profile, stored: np.ndarray, loaded: np.ndarray) -> list[Finding]:
    """``stored``: the rows as read; ``loaded`` as Lava holds them (:func:`_loaded`)."""
    if stored.size == 0:
        return []
    ints = np.trunc(stored)
    mode, span = _sign_mode(ints, profile)
    outside = _outside(ints, span)
    if outside is not None:
        return [breach(span, check="precision.weight_range", layer=layer.name, value=outside,
                       limit=f"{span.text} ({mode})",
                       fix=f"Quantise the weights into {span.text} before export (slayer's "
                           f"quantize_8bit does); netx clips or mis-scales values outside it.")]
    if np.array_equal(stored, loaded):  # nothing lost in loading: no norms
        return []
    norm = float(np.linalg.norm(stored))
    error = float(np.linalg.norm(stored - loaded)) / norm if norm else 0.0
    fix = ("Export integer weights: netx reads them with astype(int), which drops fractions."
           if not np.array_equal(stored, ints) else
           "netx's optimize_weight_bits and Lava's Dense clip/truncate_weights change these integer weights "
           "(the emulator runs them too): keep each part of the matrix mixed with a positive weight, "
           "excitatory, or all negative with an extreme that is not a power of two.")
    if not np.any(loaded):  # the layer never receives input on Lava (or the emulator)
        return [note(check="precision.weight_quantisation", layer=layer.name, value=round(error, 6), limit=0,
                     source=AS_LOADED, severity="error", fix=f"Every weight loads as 0, so the layer is silent. {fix}")]
    return [note(check="precision.weight_quantisation", layer=layer.name, value=round(error, 6), limit=0,
                 source=AS_LOADED, fix=fix)]


def _headroom(layer: NetxLayer, profile: Profile, loaded: np.ndarray) -> list[Finding]:
    """Worst case: every input of a neuron spikes in the same step, every step."""
    if loaded.size == 0:
        return []
    worst = int(max(np.clip(loaded, 0, None).sum(axis=1).max(), -np.clip(loaded, None, 0).sum(axis=1).min()))
    return _accumulator(layer, profile, worst) + _current(layer, profile, worst)


def _accumulator(layer: NetxLayer, profile: Profile, worst: int) -> list[Finding]:
    bits = profile.precision.accumulator_bits
    largest = 2 ** (bits.value - 1) - 1
    if worst <= largest:
        return []
    return [breach(bits, check="precision.accumulator_headroom", layer=layer.name, value=worst,
                   limit=largest, severity="warning",
                   fix=f"If all inputs of one neuron spike together the {bits.value}-bit dendritic "
                       f"sum overflows: scale the weights down (and the threshold with them) or "
                       f"cut the fan-in.")]


def _current(layer: NetxLayer, profile: Profile, worst: int) -> list[Finding]:
    """Steady state of u under ``worst`` input per step: worst x 2^shift x scale / iDecay."""
    precision = profile.precision
    i_decay = layer.neuron.get("iDecay")
    if not isinstance(i_decay, (int, float)) or i_decay <= 0:
        return []
    steady = int(worst * 2 ** precision.input_shift_bits.value * precision.decay_scale.value / i_decay)
    largest = 2 ** (precision.state_bits.value - 1) - 1
    if steady <= largest:
        return []
    return [breach(precision.state_bits, check="precision.state_headroom", layer=layer.name,
                   value=steady, limit=largest, severity="warning",
                   fix=f"The current u can reach {steady} under sustained input and "
                       f"{precision.state_overflow.value}s beyond {largest}: use a faster current "
                       f"decay (larger iDecay) or smaller weights.")]


def _lif_parameters(layer: NetxLayer, profile: Profile) -> list[Finding]:
    return _threshold(layer, profile) + _decays(layer, profile) + _bias(layer, profile)


def _threshold(layer: NetxLayer, profile: Profile) -> list[Finding]:
    span = profile.precision.threshold_mantissa
    outside = _outside(layer.neuron.get("vThMant"), span)
    if outside is None:
        return []
    return [breach(span, check="precision.threshold_range", layer=layer.name, value=outside,
                   limit=span.text,
                   fix="Rescale the layer (weights and threshold together) so vThMant fits the mantissa.")]


def _decays(layer: NetxLayer, profile: Profile) -> list[Finding]:
    """netx passes du = iDecay - offset and dv = vDecay to the 12-bit decay registers."""
    precision = profile.precision
    findings = []
    for key, check, offset in (("iDecay", "precision.current_decay_range", precision.current_decay_offset.value),
                               ("vDecay", "precision.voltage_decay_range", 0)):
        value = layer.neuron.get(key)
        outside = _outside(None if value is None else np.asarray(value) - offset, precision.decay)
        if outside is not None:
            allowed = f"{precision.decay.min + offset}..{precision.decay.max + offset}"
            findings.append(breach(
                precision.decay, check=check, layer=layer.name, value=outside + offset, limit=allowed,
                fix=f"Keep {key} within {allowed} (decay fractions of {precision.decay_scale.value}); "
                    f"clamp the decay in training."))
    return findings


def _bias(layer: NetxLayer, profile: Profile) -> list[Finding]:
    span = profile.precision.bias_mantissa
    outside = _outside(None if layer.bias is None else np.trunc(layer.bias), span)
    if outside is None:
        return []
    return [breach(span, check="precision.bias_range", layer=layer.name, value=outside, limit=span.text,
                   fix="Scale the bias into the mantissa range (netx maps it to bias_mant with a "
                       "fixed exponent) or fold it into the threshold.")]


def _graded_bits(layer: NetxLayer, profile: Profile) -> list[Finding]:
    bits = profile.precision.graded_spike_bits
    if not layer.graded or bits.value == 0 or layer.message_bits <= bits.value:
        return []
    return [breach(bits, check="precision.graded_spike_bits", layer=layer.name,
                   value=layer.message_bits, limit=bits.value,
                   fix=f"Send graded spikes with at most {bits.value} payload bits (neuron messageBits).")]


def _rows(layer: NetxLayer) -> tuple[np.ndarray, int]:
    """Weights as (output neuron or channel, inputs), recurrent inputs appended (the
    matrix netx optimises for a dense_rec layer), and the feed-forward inputs' count."""
    weight = layer.weight
    count = weight.shape[0] if weight.ndim >= 2 else max(layer.n_neurons, 1)
    if weight.size % count:
        count = 1
    rows = weight.reshape(count, -1)
    fan_in = rows.shape[1]
    if layer.weight_rec is not None and layer.weight_rec.size % count == 0:
        rows = np.hstack([rows, layer.weight_rec.reshape(count, -1)])
    return rows.astype(float), fan_in


def _outside(values: Any, span: Span) -> Optional[float]:
    """An extreme of ``values`` (scalar or array) that lies outside ``span``, or None."""
    if values is None:
        return None
    array = np.asarray(values)
    if array.size == 0 or array.dtype.kind not in "biuf":  # nothing numeric to judge
        return None
    array = np.asarray(array, dtype=float)  # no copy of what is float already
    low, high = float(array.min()), float(array.max())
    if high > span.max:
        return _number(high)
    return _number(low) if low < span.min else None


def _number(value: float) -> float | int:
    return int(value) if value.is_integer() else value
