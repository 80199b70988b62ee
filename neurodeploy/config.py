"""The experiment config: one YAML file shared by train, export, simulate and run.

Pydantic models with ``extra="forbid"`` and strict types, so an unknown key or a wrong
type is an error that names the file, the key path, the value and what was expected.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from neurodeploy.encoding.schedule import MAX_BITS, FrameSchedule
from neurodeploy.errors import ConfigError


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class DataConfig(_Section):
    """Where the images come from and how they are split."""

    dataset: Literal["digits", "mnist5k", "cifar10", "cifar100", "mnist", "folder"] = "digits"
    path: Optional[str] = None
    test_fraction: float = Field(0.2, gt=0, lt=1)
    limit: Optional[int] = Field(None, gt=0, description="keep only the first N samples")


class EncodingConfig(_Section):
    """The frame schedule's fields; ``gap: null`` means the network's hop count."""

    encoding: Literal["rate", "ttfs", "rate_bit", "temporal_bit"] = "temporal_bit"
    temporal_steps: int = Field(8, ge=1)
    n_bits: int = Field(8, ge=1, le=MAX_BITS, description="bits per pixel: uint8 images up to 8, uint16 up to 16")
    steps_per_plane: int = Field(1, ge=1)
    gap: Optional[int] = Field(None, ge=0)
    order: Literal["msb_first", "lsb_first"] = "msb_first"
    plane_fill: Literal["first", "full"] = "first"
    drop_lsb: int = Field(0, ge=0)

    def schedule(self, hops: int) -> FrameSchedule:
        fields = self.model_dump()
        fields["gap"] = hops if self.gap is None else self.gap
        return FrameSchedule(**fields)


class NeuronConfig(_Section):
    """lava-dl CUBA neuron parameters (the contract between training and deployment)."""

    threshold: float = Field(1.25, gt=0)
    current_decay: float = Field(0.25, ge=0, le=1)
    voltage_decay: float = Field(0.03, ge=0, le=1)
    tau_grad: float = Field(0.03, gt=0)
    scale_grad: float = Field(3.0, gt=0)
    requires_grad: bool = False


class ConvLayerConfig(_Section):
    channels: int = Field(gt=0)
    kernel: int = Field(3, gt=0)
    stride: int = Field(2, gt=0)
    padding: int = Field(1, ge=0)


class ModelConfig(_Section):
    """A dense stack, or strided convolutions then a dense stack (netx 0.6 has no pooling)."""

    conv: list[ConvLayerConfig] = []
    hidden: list[int] = [128]
    neuron: NeuronConfig = NeuronConfig()
    weight_norm: bool = False

    @model_validator(mode="after")
    def _positive_widths(self) -> "ModelConfig":
        if any(width <= 0 for width in self.hidden):
            raise ValueError(f"hidden widths must be positive, got {self.hidden}")
        return self


class TrainConfig(_Section):
    epochs: int = Field(15, gt=0)
    batch_size: int = Field(32, gt=0)
    lr: float = Field(3e-3, gt=0)
    true_rate: float = Field(0.5, gt=0, le=1)
    false_rate: float = Field(0.05, ge=0, le=1)
    device: Literal["auto", "cpu", "cuda"] = "auto"


class DassdpConfig(_Section):
    """DA-SSDP plug-in settings (dassdp.md, docs/dassdp.md); off by default.

    ``A_plus`` and ``A_base`` are in ``amplitude_unit``: weight steps (SLAYER's 8-bit
    quantisation step ``2 / w_scale``, one step of the deployed weights) by default, so the
    rule's strength does not depend on the float weight scale. 0.048 and 0.016 steps are
    the reference's 1.5e-3 and 5e-4 at lava-dl's default ``w_scale`` of 64.
    """

    enabled: bool = False
    layers: list[str] = []
    warmup_epochs: int = Field(2, ge=0)
    A_plus: float = Field(0.048, ge=0)
    A_base: float = Field(0.016, ge=0)
    amplitude_unit: Literal["weight_step", "float"] = "weight_step"
    sigma: float = Field(1.0, gt=0)
    co_silent: Literal["skip", "reference"] = Field(
        "skip", description="pairs where neither neuron spiked: no update, or the reference's -A_base")
    gate: Literal["continuous", "sign", "one"] = "continuous"
    gate_clamp: bool = Field(True, description="clamp the gate to [0, 2] as the reference does")
    warmup_loss: Literal["batch_mean", "per_sample"] = Field(
        "batch_mean", description="the loss the warm-up correlates with synchrony")
    t_epoch: Optional[int] = Field(None, ge=1, description="Lava learning window; default: the frame")
    online_batch: Optional[int] = Field(
        None, ge=1, description="a Lava window's update is divided by this; default train.batch_size")


class SimulateConfig(_Section):
    samples: Optional[int] = Field(None, gt=0, description="test samples run on Lava; default all")
    timeout_s: float = Field(600.0, gt=0, description="watchdog for one Lava run")


class ExperimentConfig(_Section):
    name: str = "experiment"
    seed: int = 0
    output: str = "runs/experiment"
    data: DataConfig = DataConfig()
    encoding: EncodingConfig = EncodingConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    dassdp: DassdpConfig = DassdpConfig()
    simulate: SimulateConfig = SimulateConfig()
    hardware: list[str] = Field(["loihi1", "loihi2"], description="profiles `run` validates against")

    @model_validator(mode="after")
    def _warmup_fits(self) -> "ExperimentConfig":
        if self.dassdp.enabled and self.dassdp.warmup_epochs >= self.train.epochs:
            raise ValueError(f"dassdp.warmup_epochs={self.dassdp.warmup_epochs} leaves no "
                             f"epoch of train.epochs={self.train.epochs} for plasticity; "
                             f"expected warmup_epochs < epochs")
        return self

    @model_validator(mode="after")
    def _online_batch_is_the_training_batch(self) -> "ExperimentConfig":
        """Resolve ``dassdp.online_batch: null`` here, so the manifest records the value used."""
        if self.dassdp.online_batch is None:
            self.dassdp.online_batch = self.train.batch_size
        return self


def load_config(path: str | Path, overrides: Optional[dict[str, Any]] = None) -> ExperimentConfig:
    """Read and validate a YAML config; ``overrides`` are dotted keys, e.g. ``{"train.epochs": 1}``."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"{path}: cannot read YAML ({_first_line(error)})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: top level is {type(raw).__name__}; expected a mapping")
    for dotted, value in (overrides or {}).items():
        _set_dotted(raw, dotted, value)
    return parse_config(raw, source=str(path))


def parse_config(raw: dict[str, Any], source: str = "config") -> ExperimentConfig:
    try:
        return ExperimentConfig.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(f"{source}: {_describe(error)}") from None


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "(top level)"
    if first["type"] == "extra_forbidden":
        return f"unknown key '{where}'"
    message = first["msg"].removeprefix("Value error, ")
    return f"{where}: {message} (got {first.get('input')!r})"


def _set_dotted(raw: dict[str, Any], dotted: str, value: Any) -> None:
    node = raw
    *parents, leaf = dotted.split(".")
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = value


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
