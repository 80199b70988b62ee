"""The deployment manifest written beside every exported `.net`.

It records what the `.net` file cannot: the frame schedule the network was trained with,
the encoder, the neuron parameters, the whole data config (so a run is simulated and
validated on the very split it was tested on), the seed and the package versions
(provenance). The Lava runner, the emulator and the hardware validator read timing from
here. Manifests written before the data config was kept (``neurodeploy-manifest/1``
without ``data``) load when their data set description names what the split needs, and
otherwise say which key is missing.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from neurodeploy.core.atomic import read_json, write_json
from neurodeploy.core.encoding.schedule import FrameSchedule
from neurodeploy.core.errors import ConfigError, NeurodeployError, first_line, shown
from neurodeploy.core.paths import is_regular
from neurodeploy.core.schema import (Invalid, Node, field, integer, list_of, mapping, node, optional, strings_to_strings,
                                text)

if TYPE_CHECKING:
    from neurodeploy.core.config import DataConfig

MANIFEST_FORMAT = "neurodeploy-manifest/1"
MANIFEST_NAME = "manifest.json"


def package_versions(packages: tuple[str, ...]) -> dict[str, str]:
    """Installed versions of ``packages`` for a manifest's provenance."""
    from neurodeploy.core.extras import installed_version

    return {package: installed_version(package) for package in packages}


def manifest_path_for(network_path: str | Path) -> Path:
    """Where the manifest of a ``.net`` lives: ``<stem>.manifest.json`` beside it when that
    exists (a second export into a run folder), else the folder's ``manifest.json``."""
    network_path = Path(network_path)
    own = network_path.with_name(f"{network_path.stem}.manifest.json")
    return own if is_regular(own) else network_path.with_name(MANIFEST_NAME)


SIZE = integer(1, 1 << 24)


class _Layer(Node):
    name = field(text())
    type = field(text())
    shape = field(list_of(SIZE, max_length=3))


class _ManifestFile(Node):
    """The types of a manifest's keys, checked before any is used (a manifest is user input)."""

    format = field(text())
    network_file = field(text(1))
    input_shape = field(list_of(SIZE, 3, 3))
    port_shape = field(list_of(SIZE, 1, 3))
    layers = field(list_of(node(_Layer)))
    schedule = field(mapping)
    neuron = field(mapping, {})
    dataset = field(mapping, {})
    seed = field(integer(0, 2 ** 32 - 1), 0)
    versions = field(strings_to_strings, {})
    dassdp = field(optional(mapping), None)
    data = field(optional(mapping), None)
    hops = field(optional(integer(0, 1 << 16)), None)


@dataclass(frozen=True)
class LayerInfo:
    """One netx layer as the project names it (``dense0``, ``conv0``, ``flatten1``...)."""

    name: str
    type: str
    shape: tuple[int, ...]


@dataclass
class Manifest:
    network_file: str
    input_shape: tuple[int, int, int]
    port_shape: tuple[int, ...]
    layers: list[LayerInfo]
    schedule: FrameSchedule
    neuron: dict[str, Any] = dataclasses.field(default_factory=dict)
    dataset: dict[str, Any] = dataclasses.field(default_factory=dict)
    seed: int = 0
    versions: dict[str, str] = dataclasses.field(default_factory=dict)
    dassdp: Optional[dict[str, Any]] = None
    data: Optional[dict[str, Any]] = None   # the whole DataConfig, as its dump()
    hops: Optional[int] = None    # the network's, from :mod:`neurodeploy.core.blocks`, at export

    def data_config(self, path: str | Path = "manifest") -> "DataConfig":
        """The data config the network was trained and tested with (typed here, on use:
        reading a manifest to validate a network needs no run config)."""
        from neurodeploy.core.config import DataConfig

        if self.data is not None:
            raw, where = self.data, "data."
        else:
            raw, where = {key: self.dataset[key] for key in DataConfig.fields() if key in self.dataset}, "dataset."
            if "dataset" not in raw:
                raise NeurodeployError(f"{path}: names no data set (no 'data', no 'dataset.dataset'); "
                                       f"pass --config, or --spikes/--bias")
            needs = ["test_fraction"] if raw["dataset"] in ("digits", "mnist5k", "folder") else []
            missing = [key for key in needs if key not in raw]
            if missing:
                raise NeurodeployError(f"{path}: an older manifest without 'data' and without "
                                       f"dataset.{missing[0]}; pass --config to name the split")
        try:
            return DataConfig.read(raw, where)
        except Invalid as error:
            raise NeurodeployError(f"{path}: {error.describe()}") from None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["schedule"] = self.schedule.to_dict()
        return {"format": MANIFEST_FORMAT, **data}

    def save(self, path: str | Path) -> None:
        write_json(path, self.to_dict())

    def describes(self, network_path: str | Path) -> bool:
        """Whether this manifest was written for the network file ``network_path``."""
        return Path(self.network_file).name == Path(network_path).name

    @classmethod
    def beside(cls, network_path: str | Path,
               instead: str = "pass --spikes FILE (or --bias FILE --steps T)") -> Optional["Manifest"]:
        """The manifest beside ``network_path`` (:func:`manifest_path_for`), ``None`` when
        there is none; one that names another network file is an error, not a fallback:
        it would feed this network another network's schedule and data. ``instead``: what
        the user may do without it (the error's last words)."""
        network_path = Path(network_path)
        path = manifest_path_for(network_path)
        if not os.path.lexists(path):
            return None
        manifest = cls.load(path)
        if not manifest.describes(network_path):
            raise NeurodeployError(f"{path}: describes {shown(manifest.network_file)}, not {network_path.name}; "
                                   f"give the network a folder of its own with its manifest"
                                   f"{f', or {instead}' if instead else ''}")
        return manifest

    @classmethod
    def load(cls, path: str | Path) -> "Manifest":
        path = Path(path)
        data = read_json(path, "manifest")
        if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
            raise NeurodeployError(f"{path}: format is {data.get('format') if isinstance(data, dict) else None!r}; "
                                   f"expected {MANIFEST_FORMAT!r}")
        try:
            checked = _ManifestFile.read(data)
        except Invalid as error:
            raise NeurodeployError(f"{path}: {error.describe()}") from None
        try:
            return cls(
                network_file=checked.network_file,
                input_shape=tuple(checked.input_shape),
                port_shape=tuple(checked.port_shape),
                layers=[LayerInfo(layer.name, layer.type, tuple(layer.shape)) for layer in checked.layers],
                schedule=FrameSchedule.from_dict(checked.schedule),
                neuron=checked.neuron, dataset=checked.dataset, seed=checked.seed, versions=checked.versions,
                dassdp=checked.dassdp, data=checked.data, hops=checked.hops,
            )
        except ConfigError as error:
            raise NeurodeployError(f"{path}: {error}") from None
        except (TypeError, ValueError) as error:
            raise NeurodeployError(f"{path}: malformed manifest ({first_line(error, 120)})") from None
