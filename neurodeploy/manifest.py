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

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from neurodeploy.atomic import read_json, write_json
from neurodeploy.config import DataConfig
from neurodeploy.encoding.schedule import FrameSchedule
from neurodeploy.errors import ConfigError, NeurodeployError, shown

MANIFEST_FORMAT = "neurodeploy-manifest/1"
MANIFEST_NAME = "manifest.json"


def package_versions(packages: tuple[str, ...]) -> dict[str, str]:
    """Installed versions of ``packages`` for a manifest's provenance."""
    from importlib import metadata

    versions = {}
    for package in packages:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def manifest_path_for(network_path: str | Path) -> Path:
    """Where the manifest of a ``.net`` lives: ``<stem>.manifest.json`` beside it when that
    exists (a second export into a run folder), else the folder's ``manifest.json``."""
    network_path = Path(network_path)
    own = network_path.with_name(f"{network_path.stem}.manifest.json")
    return own if own.is_file() else network_path.with_name(MANIFEST_NAME)


Size = Annotated[int, Field(gt=0, le=1 << 24)]


class _Layer(BaseModel):
    model_config = ConfigDict(strict=True)
    name: str
    type: str
    shape: list[Size] = Field(max_length=3)


class _ManifestFile(BaseModel):
    """The types of a manifest's keys, checked before any is used (a manifest is user input)."""

    model_config = ConfigDict(strict=True, allow_inf_nan=False)
    network_file: str = Field(min_length=1)
    input_shape: list[Size] = Field(min_length=3, max_length=3)
    port_shape: list[Size] = Field(min_length=1, max_length=3)
    layers: list[_Layer]
    schedule: dict[str, Any]
    neuron: dict[str, Any] = {}
    dataset: dict[str, Any] = {}
    seed: int = Field(0, ge=0, lt=2 ** 32)
    versions: dict[str, str] = {}
    dassdp: Optional[dict[str, Any]] = None
    data: Optional[dict[str, Any]] = None
    hops: Optional[int] = Field(None, ge=0, le=1 << 16)


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
    neuron: dict[str, Any] = field(default_factory=dict)
    dataset: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    versions: dict[str, str] = field(default_factory=dict)
    dassdp: Optional[dict[str, Any]] = None
    data: Optional[DataConfig] = None
    hops: Optional[int] = None    # the network's, from :mod:`neurodeploy.blocks`, at export

    def data_config(self, path: str | Path = "manifest") -> DataConfig:
        """The data config the network was trained and tested with."""
        if self.data is not None:
            return self.data
        known = {key: self.dataset[key] for key in DataConfig.model_fields if key in self.dataset}
        if "dataset" not in known:
            raise NeurodeployError(f"{path}: names no data set (no 'data', no 'dataset.dataset'); "
                                   f"pass --config, or --spikes/--bias")
        needs = ["test_fraction"] if known["dataset"] in ("digits", "mnist5k", "folder") else []
        missing = [key for key in needs if key not in known]
        if missing:
            raise NeurodeployError(f"{path}: an older manifest without 'data' and without "
                                   f"dataset.{missing[0]}; pass --config to name the split")
        return DataConfig.model_validate(known)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["schedule"] = self.schedule.to_dict()
        data["data"] = self.data.model_dump() if self.data is not None else None
        return {"format": MANIFEST_FORMAT, **data}

    def save(self, path: str | Path) -> None:
        write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> "Manifest":
        path = Path(path)
        data = read_json(path, "manifest")
        if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
            raise NeurodeployError(f"{path}: format is {data.get('format') if isinstance(data, dict) else None!r}; "
                                   f"expected {MANIFEST_FORMAT!r}")
        try:
            _ManifestFile.model_validate({key: value for key, value in data.items() if key != "format"})
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise NeurodeployError(f"{path}: {where}: {first['msg']} (got {shown(first.get('input'))})") from None
        try:
            return cls(
                network_file=data["network_file"],
                input_shape=tuple(data["input_shape"]),
                port_shape=tuple(data["port_shape"]),
                layers=[LayerInfo(l["name"], l["type"], tuple(l["shape"])) for l in data["layers"]],
                schedule=FrameSchedule.from_dict(data["schedule"]),
                neuron=data.get("neuron", {}),
                dataset=data.get("dataset", {}),
                seed=data.get("seed", 0),
                versions=data.get("versions", {}),
                dassdp=data.get("dassdp"),
                data=DataConfig.model_validate(data["data"]) if data.get("data") is not None else None,
                hops=data.get("hops"),
            )
        except KeyError as error:
            raise NeurodeployError(f"{path}: manifest lacks the key {error}") from None
        except ConfigError as error:
            raise NeurodeployError(f"{path}: {error}") from None
        except (TypeError, ValueError) as error:  # pydantic's ValidationError is a ValueError
            raise NeurodeployError(f"{path}: malformed manifest ({str(error).splitlines()[0][:120]})") from None
