"""How faithfully a quantised netx file runs its NIR graph: float NIR vs the emulator (and Lava).

Both sides get the same spike arrays. The float side is :func:`simulate_float` of the
graph at its ``dt``; the quantised side the bit-exact emulator on the netx file, whose
hop-aligned windows undo Loihi's one step of latency per layer. Reported: predictions
(the class with most output spikes over the decode window, ``frame_steps - hops`` steps,
on both sides), prediction agreement, per layer the mean absolute spike-count difference
per sample and the first step where any spike differs, and the quantisation error of
every parameter. With ``lava`` the same spikes also run on Lava fixed_pt, and the
emulator must agree with it exactly.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

from neurodeploy.interop import silence
from neurodeploy.interop.layers import FloatNetwork
from neurodeploy.interop.quantise import ParameterError, quantise
from neurodeploy.interop.reference import simulate_float


@dataclass(frozen=True)
class LayerFidelity:
    layer: str
    float_spikes: float          # per sample
    loihi_spikes: float          # per sample
    mean_abs_count_difference: float   # per sample, summed over neurons
    first_divergent_step: Optional[int]  # None: identical spike trains


@dataclass(frozen=True)
class FidelityReport:
    network: str
    samples: int
    frame_steps: int
    decode_steps: int
    accuracy: dict[str, float]           # float / emulator / lava, when labels are given
    agreement: dict[str, float]          # float-emulator, emulator-lava
    layers: tuple[LayerFidelity, ...]
    quantisation: tuple[ParameterError, ...]
    warnings: tuple[str, ...] = ()       # layers that never fired (float or emulator)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def float_predictions(network: FloatNetwork, spikes: np.ndarray, decode_steps: int
                      ) -> tuple[np.ndarray, dict[str, Any]]:
    """Predictions of the float simulation and its per-layer traces."""
    from neurodeploy.core.decision import predict_from_counts

    traces = simulate_float(network, spikes)
    output = traces[network.layers[-1].name].spikes[:, :decode_steps]
    return predict_from_counts(output.reshape(len(output), decode_steps, -1).sum(axis=1)), traces


def fidelity(network: FloatNetwork, network_file: str | Path, spikes: np.ndarray,
             labels: Optional[np.ndarray] = None, lava: bool = False, timeout_s: Optional[float] = None) -> FidelityReport:
    """Compare ``network`` (float, from the NIR graph) with ``network_file`` (its netx
    quantisation) on ``spikes`` ``(N, T, *input_shape)`` bool."""
    from neurodeploy.core.blocks import NetworkTiming
    from neurodeploy.core.inputs import SpikeInput
    from neurodeploy.core.netxfile import read_netx
    from neurodeploy.backends.emulator.engine import emulate

    description = read_netx(network_file)
    inputs = SpikeInput(np.ascontiguousarray(spikes, dtype=bool))
    timing = NetworkTiming.of(description, inputs.frame_steps)
    float_pred, traces = float_predictions(network, inputs.spikes, timing.decode_steps)
    emulated = emulate(description, inputs, record=True)
    predictions = {"float": float_pred, "emulator": emulated.predictions}
    agreement = {"float_emulator": _agree(float_pred, emulated.predictions)}
    if lava:
        from neurodeploy.backends.lavasim.runner import run_on_lava

        ran = run_on_lava(description, inputs, timeout_s=timeout_s)
        predictions["lava"] = ran.predictions
        agreement["emulator_lava"] = _agree(emulated.predictions, ran.predictions)
        agreement["emulator_lava_counts"] = float(np.mean(np.all(
            emulated.output_counts == ran.output_counts, axis=-1))) if len(spikes) else float("nan")
    accuracy = {name: _agree(pred, labels) for name, pred in predictions.items()} if labels is not None else {}
    layers = tuple(_layer(name, traces[name].spikes, emulated.recording[name].spikes)
                   for name in (layer.name for layer in network.layers))
    errors = tuple(error for layer in quantise(network, str(network_file)) for error in layer.errors)
    what = f"the {len(spikes)} samples given"
    spiking = [layer for layer in layers if network.layer(layer.layer).spiking]   # not the LI read-outs
    silent = tuple(silence.warnings({layer.layer: layer.loihi_spikes for layer in spiking}, f"{what} (emulator)")
                   + silence.warnings({layer.layer: layer.float_spikes for layer in spiking}, f"{what} (float NIR)"))
    return FidelityReport(str(network_file), len(spikes), timing.frame_steps, timing.decode_steps,
                          accuracy, agreement, layers, errors, silent)


def _layer(name: str, reference: np.ndarray, quantised: np.ndarray) -> LayerFidelity:
    steps = min(reference.shape[1], quantised.shape[1])
    a, b = reference[:, :steps], quantised[:, :steps]
    per_sample = lambda x: x.reshape(len(x), -1).sum(axis=1)  # noqa: E731
    counts_a = a.reshape(len(a), steps, -1).sum(axis=1)
    counts_b = b.reshape(len(b), steps, -1).sum(axis=1)
    differs = (a != b).reshape(len(a), steps, -1).any(axis=(0, 2))
    first = int(np.flatnonzero(differs)[0]) if differs.any() else None
    return LayerFidelity(name, float(per_sample(a).mean()) if len(a) else 0.0,
                         float(per_sample(b).mean()) if len(b) else 0.0,
                         float(np.abs(counts_a - counts_b).sum(axis=1).mean()) if len(a) else 0.0, first)


def _agree(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.asarray(a) == np.asarray(b))) if len(a) else float("nan")
