"""Layers that never fire: the sign of a graph imported with the wrong conventions.

A network whose output layer never spikes still validates DEPLOYABLE and "agrees" with a
float reference that is silent too; only its activity shows it. Each command that has
activity (``import-nir --dataset``, ``parity-nir``, ``validate --activity``) names such a
layer in a one-line warning.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np

HINT = ("check the exporter's conventions (import-nir --from, --dt) or the input encoding; "
        "see docs/nir.md")


def silent_layers(spikes_per_layer: Mapping[str, float]) -> list[str]:
    """The names of the layers with no spike at all, in order."""
    return [name for name, spikes in spikes_per_layer.items() if not spikes > 0]


def warnings(spikes_per_layer: Mapping[str, float], what: str) -> list[str]:
    """One line per silent layer; ``what`` says on which input and backend."""
    return [f"layer {name} never fired on {what}; {HINT}" for name in silent_layers(spikes_per_layer)]


def silent_after_import(network_file: str | Path, samples: int) -> list[str]:
    """Warnings for the layers of an imported network that never fire on the first
    ``samples`` test samples of its manifest's data set, on the emulator."""
    from neurodeploy.core.inputs import SpikeInput
    from neurodeploy.interop.files import encoded_test_split
    from neurodeploy.interop.quantise import THRESHOLD_MAX
    from neurodeploy.core.manifest import Manifest, manifest_path_for
    from neurodeploy.core.netxfile import read_netx
    from neurodeploy.backends.emulator.engine import emulate

    manifest = Manifest.load(manifest_path_for(network_file))
    description = read_netx(network_file)
    port = tuple(manifest.port_shape)        # netx's (W, H, C) for a conv input: torch's reversed
    spikes, _ = encoded_test_split(network_file, manifest, port[::-1] if len(port) == 3 else port, samples)
    if not len(spikes):
        return []
    result = emulate(description, SpikeInput(np.ascontiguousarray(spikes)))
    read_outs = {layer.name for layer in description.layers    # non-spiking (NIR LI / CubaLI)
                 if layer.neuron and int(layer.neuron.get("vThMant", 0)) >= THRESHOLD_MAX}
    counts = {name: spikes for name, spikes in result.spikes_per_layer.items() if name not in read_outs}
    return warnings(counts, f"{len(spikes)} test samples (emulator)")


def silent_in_activity(path: str | Path) -> list[str]:
    """Warnings for the layers an activity or metrics JSON records as silent: its
    ``spikes_per_layer`` (a simulation result) or ``spikes_per_sample`` per backend (a
    run's metrics). Files without per-layer counts give none."""
    from neurodeploy.core.atomic import read_json

    data = read_json(path, "activity file")
    found: list[str] = []
    for backend, counts in _per_layer(data):
        found += warnings(counts, f"the activity in {Path(path).name}{f' ({backend})' if backend else ''}")
    return found


def _per_layer(data: Any) -> list[tuple[str, dict[str, float]]]:
    if not isinstance(data, dict):
        return []
    numbers = lambda counts: isinstance(counts, dict) and counts and all(  # noqa: E731
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in counts.values())
    if numbers(data.get("spikes_per_layer")):
        return [("", data["spikes_per_layer"])]
    per_backend = data.get("spikes_per_sample")
    if isinstance(per_backend, dict):
        return [(backend, counts) for backend, counts in per_backend.items() if numbers(counts)]
    return []
