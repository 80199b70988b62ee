"""The deployment manifest written beside every exported `.net`.

It records what the `.net` file cannot: the frame schedule the network was trained with,
the encoder, the neuron parameters, the data set and split, the seed and the package
versions. The Lava runner, the emulator and the hardware validator read timing from here.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

from neurodeploy.atomic import read_json, write_json
from neurodeploy.encoding.schedule import FrameSchedule
from neurodeploy.errors import ConfigError, NeurodeployError

MANIFEST_FORMAT = "neurodeploy-manifest/1"


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

    @property
    def hops(self) -> int:
        """Synaptic hops from the input to the output: one step of latency each."""
        return sum(layer.type in ("dense", "conv", "dense_rec") for layer in self.layers)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["schedule"] = self.schedule.to_dict()
        data["hops"] = self.hops
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
            )
        except KeyError as error:
            raise NeurodeployError(f"{path}: manifest lacks the key {error}") from None
        except ConfigError as error:
            raise NeurodeployError(f"{path}: {error}") from None
