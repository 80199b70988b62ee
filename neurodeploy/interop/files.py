"""NIR files to netx files with their manifest, and back; what the CLI commands call.

Every check runs before anything is written; the ``.net``, the manifest and the ``.nir``
are each written under a temporary name and renamed into place.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

from neurodeploy.interop.layers import FloatNetwork, NirError
from neurodeploy.interop.quantise import QuantisedLayer
from neurodeploy.core.manifest import MANIFEST_NAME

NIR_KEY = "nir"
PACKAGES = ("neurodeploy", "nir", "lava-nc", "lava-dl")


@dataclass(frozen=True)
class ImportResult:
    network_file: Path
    manifest_file: Path
    network: FloatNetwork
    layers: tuple[QuantisedLayer, ...]
    notes: tuple[str, ...] = ()          # what the import read on the user's behalf


def import_nir_file(nir_path: str | Path, output: str | Path, dt: Optional[float] = None,
                    image_shape: Optional[tuple[int, int, int]] = None, encoding: str = "rate",
                    temporal_steps: int = 16, gap: Optional[int] = None,
                    data: Optional[Any] = None, framework: Optional[str] = None) -> ImportResult:
    """Map ``nir_path`` to ``output`` (netx) and a manifest beside it, reading the graph
    with the conventions of ``framework`` (see :mod:`.conventions`). The frame schedule
    gets ``gap`` silent steps (default: :func:`latency_steps`) so the decode window
    covers every input step; the manifest records ``dt``, each layer's scale and the data
    config (a :class:`~neurodeploy.core.config.DataConfig`) that ``simulate`` then feeds."""
    from neurodeploy.core.encoding.schedule import FrameSchedule
    from neurodeploy.interop.nir_import import load_graph
    from neurodeploy.interop.quantise import layer_names, quantise, write_float_netx
    from neurodeploy.core.manifest import LayerInfo, Manifest, package_versions
    from neurodeploy.core.netxfile import read_netx

    source = str(nir_path)
    loaded = load_graph(nir_path, dt, framework)
    network = loaded.network
    quantise(network, source)      # every range check, before a file is touched
    image = _image_shape(network, image_shape, source)
    schedule = FrameSchedule(encoding=encoding, temporal_steps=temporal_steps,
                             gap=latency_steps(network) if gap is None else gap)
    output = Path(output)
    manifest = Manifest(
        network_file=output.name, input_shape=image, port_shape=_port(network),
        layers=_layer_infos(network, layer_names(network), LayerInfo), schedule=schedule,
        neuron={NIR_KEY: {"source": source, "dt": network.dt, "latency_steps": latency_steps(network),
                          "framework": loaded.convention.name}},
        dataset={"dataset": data.dataset} if data is not None else {},
        data=data.dump() if data is not None else None,
        versions=package_versions(PACKAGES))
    written = write_float_netx(network, output, source)
    manifest.neuron[NIR_KEY]["scales"] = {layer.name: layer.scale for layer in written}
    manifest.hops = read_netx(output).hops
    manifest_file = output.with_name(MANIFEST_NAME)  # the import owns its output folder
    manifest.save(manifest_file)
    return ImportResult(output, manifest_file, network, tuple(written), loaded.notes)


def export_nir_file(network_file: str | Path, output: str | Path, dt: Optional[float] = None,
                    reader: Optional[str] = None) -> Any:
    """Write the NIR graph of ``network_file`` (de-quantised with the manifest's scales,
    SLAYER's 64 otherwise) to ``output``; it reads back with ``nir.read`` type-checked."""
    import nir

    from neurodeploy.core.atomic import atomic_path
    from neurodeploy.interop.nir_export import to_nir_graph

    network = read_netx_float(network_file, dt)
    graph = to_nir_graph(network, str(network_file), reader)
    with atomic_path(output) as temporary:
        nir.write(temporary, graph)
        nir.read(temporary)   # NIR's own type checks on what was written
    return graph


def read_netx_float(network_file: str | Path, dt: Optional[float] = None) -> FloatNetwork:
    """A netx file de-quantised: ``dt`` and scales from the manifest beside it (an import
    records them), ``dt`` given otherwise."""
    from neurodeploy.interop.quantise import read_float_netx
    from neurodeploy.core.manifest import Manifest

    path = Path(network_file)
    manifest = Manifest.beside(path, instead="move the manifest away and pass --dt")
    recorded: dict[str, Any] = {}
    input_shape = None
    if manifest is not None:
        recorded = manifest.neuron.get(NIR_KEY, {}) if isinstance(manifest.neuron, dict) else {}
        input_shape = tuple(manifest.input_shape)
    recorded_dt = recorded.get("dt")
    if dt is None and recorded_dt is None:
        where = "its manifest" if manifest is not None else "no manifest beside it"
        raise NirError(f"{path}: no dt recorded ({where}); pass --dt (seconds per Loihi step)")
    if dt is not None and recorded_dt is not None and not math.isclose(dt, recorded_dt, rel_tol=1e-9):
        raise NirError(f"{path}: --dt {dt:g} disagrees with the manifest's dt {recorded_dt:g}")
    first_conv = input_shape is not None and len(input_shape) == 3 and input_shape[1:] != (1, 1)
    return read_float_netx(path, float(dt if dt is not None else recorded_dt), recorded.get("scales"),
                           input_shape if first_conv else None)


def latency_steps(network: FloatNetwork) -> int:
    """Steps from an input spike to the output on Loihi at most: one per hop plus the
    longest delay of each layer."""
    return network.hops + sum(int(np.max(layer.delay)) if layer.delay is not None else 0
                              for layer in network.layers)


def encoded_test_split(network_file: str | Path, manifest: Any, input_shape: tuple[int, ...],
                       samples: Optional[int]) -> tuple[Any, Any]:
    """The manifest's test split encoded with its schedule and seed: spikes ``(N, T,
    *input_shape)`` bool and labels."""
    from neurodeploy.core.data import load_split
    from neurodeploy.core.encoding import encode_steps
    from neurodeploy.core.errors import NeurodeployError

    try:
        data = manifest.data_config(network_file)
    except NeurodeployError:
        raise NirError(f"{network_file}: its manifest names no data set; import with --dataset") from None
    test = load_split(data, manifest.seed).test.head(samples)
    spikes = encode_steps(test.images, manifest.schedule, seed=manifest.seed).numpy()
    return spikes.reshape(len(spikes), spikes.shape[1], *input_shape), test.labels


def _image_shape(network: FloatNetwork, given: Optional[tuple[int, int, int]], source: str
                 ) -> tuple[int, int, int]:
    """The (C, H, W) images a data set feeds: the input itself, or a shape of its size."""
    shape = network.input_shape
    if given is None:
        return tuple(shape) if len(shape) == 3 else (int(math.prod(shape)), 1, 1)  # type: ignore[return-value]
    if len(shape) == 3 and tuple(given) != tuple(shape) or math.prod(given) != math.prod(shape):
        raise NirError(f"{source}: --image-shape {tuple(given)} does not fit the graph's input {shape}")
    return tuple(int(v) for v in given)  # type: ignore[return-value]


def _port(network: FloatNetwork) -> tuple[int, ...]:
    shape = network.input_shape
    return tuple(reversed(shape)) if network.layers[0].kind == "conv" else (int(math.prod(shape)),)


def _layer_infos(network: FloatNetwork, names: list[str], info: Any) -> list[Any]:
    """The manifest's layer list in netx order (WHC shapes), flatten layers included."""
    infos, index = [], 0
    for layer, name in zip(network.layers, names):
        if layer.flatten:
            infos.append(info(f"flatten{index}", "flatten", (1, 1, int(math.prod(layer.input_shape)))))
            index += 1
        infos.append(info(name, name.rstrip("0123456789"), tuple(reversed(layer.shape)) if layer.kind == "conv" else layer.shape))
        index += 1
    return infos
