"""The experiment config: one YAML file shared by train, export, simulate and run.

Pydantic models with ``extra="forbid"``, strict types and finite numbers, so an unknown
key, a wrong type or a value out of range is an error that names the file (or the
``--set`` that brought it), the key path, the value (cut short) and what was expected,
with the key it probably misspells. Sizes are bounded so that a config cannot ask for
more steps, neurons or seeds than anything downstream can run.
"""
from __future__ import annotations

import typing
from difflib import get_close_matches
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from neurodeploy.encoding.schedule import MAX_BITS, FrameSchedule
from neurodeploy.errors import ConfigError, shown

#: Most steps one encoded sample may take (training unrolls them all in memory).
MAX_FRAME_STEPS = 4096
#: Widest layer and largest kernel a config may ask for.
MAX_WIDTH = 1 << 16
MAX_KERNEL = 64


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class DataConfig(_Section):
    """Where the images come from and how they are split."""

    dataset: Literal["digits", "mnist5k", "cifar10", "cifar100", "mnist", "folder"] = "digits"
    path: Optional[str] = None
    test_fraction: float = Field(0.2, gt=0, lt=1)
    limit: Optional[int] = Field(None, gt=0, description="keep only the first N samples")


class EncodingConfig(_Section):
    """The frame schedule's fields; ``gap: null`` means the network's hop count."""

    encoding: Literal["rate", "ttfs", "rate_bit", "temporal_bit"] = "temporal_bit"
    temporal_steps: int = Field(8, ge=1, le=MAX_FRAME_STEPS)
    n_bits: int = Field(8, ge=1, le=MAX_BITS, description="bits per pixel: uint8 images up to 8, uint16 up to 16")
    steps_per_plane: int = Field(1, ge=1, le=MAX_FRAME_STEPS)
    gap: Optional[int] = Field(None, ge=0, le=MAX_FRAME_STEPS)
    order: Literal["msb_first", "lsb_first"] = "msb_first"
    plane_fill: Literal["first", "full"] = "first"
    drop_lsb: int = Field(0, ge=0, le=MAX_BITS)

    @model_validator(mode="after")
    def _frame_fits(self) -> "EncodingConfig":
        schedule = self.schedule(hops=0)
        if schedule.frame_steps > MAX_FRAME_STEPS:
            raise ValueError(f"a frame of {schedule.frame_steps} steps (temporal_steps + planes x "
                             f"steps_per_plane + gap) is more than {MAX_FRAME_STEPS}")
        return self

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
    channels: int = Field(gt=0, le=MAX_WIDTH)
    kernel: int = Field(3, gt=0, le=MAX_KERNEL)
    stride: int = Field(2, gt=0, le=MAX_KERNEL)
    padding: int = Field(1, ge=0, le=MAX_KERNEL)


class ModelConfig(_Section):
    """A dense stack, or strided convolutions then a dense stack (netx 0.6 has no pooling)."""

    conv: list[ConvLayerConfig] = []
    hidden: list[int] = [128]
    neuron: NeuronConfig = NeuronConfig()
    weight_norm: bool = False

    @model_validator(mode="after")
    def _positive_widths(self) -> "ModelConfig":
        if any(not 0 < width <= MAX_WIDTH for width in self.hidden):
            raise ValueError(f"hidden widths must be positive and at most {MAX_WIDTH}")
        return self


class TrainConfig(_Section):
    epochs: int = Field(15, gt=0, le=100_000)
    batch_size: int = Field(32, gt=0, le=MAX_WIDTH)
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
        None, ge=1, description="Lava learning epochs per online step (their mean is applied); default train.batch_size")


class SimulateConfig(_Section):
    samples: Optional[int] = Field(None, gt=0, description="test samples run on Lava; default all")
    timeout_s: Optional[float] = Field(None, gt=0, le=1e6,
                                       description="wall-clock limit for one Lava run; default none (a run with no new time step for 30 s is hung)")


class ExperimentConfig(_Section):
    name: str = "experiment"
    seed: int = Field(0, ge=0, lt=2 ** 32, description="numpy's seed range")
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
    from neurodeploy.yamlfile import read_yaml

    path = Path(path)
    raw = read_yaml(path, "config file")
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: top level is {type(raw).__name__}; expected a mapping")
    for dotted, value in (overrides or {}).items():
        _set_dotted(raw, dotted, value)
    return parse_config(raw, source=str(path), overrides=overrides)


def parse_config(raw: dict[str, Any], source: str = "config",
                 overrides: Optional[dict[str, Any]] = None) -> ExperimentConfig:
    """Validate a config mapping; an error names ``source``, or the ``--set`` it came from."""
    try:
        return ExperimentConfig.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        origin = next((f"--set {key}={shown(value)}" for key, value in (overrides or {}).items()
                       if _related(key, where)), source)
        raise ConfigError(f"{origin}: {_describe(first)}") from None


def _related(override: str, where: str) -> bool:
    """Whether the dotted key ``override`` set the value at ``where`` (or a part of it)."""
    return bool(where) and (override == where or override.startswith(where + ".") or where.startswith(override + "."))


def _describe(first: dict[str, Any]) -> str:
    where = ".".join(str(part) for part in first["loc"]) or "(top level)"
    if first["type"] == "extra_forbidden":
        known = _keys_at(first["loc"][:-1])
        guess = get_close_matches(str(first["loc"][-1]), known, n=1)
        prefix = "".join(f"{part}." for part in first["loc"][:-1] if not isinstance(part, int))
        hint = f" (did you mean '{prefix}{guess[0]}'?)" if guess else f"; expected one of {known}"
        return f"unknown key '{where}'{hint}"
    message = first["msg"].removeprefix("Value error, ")
    return f"{where}: {message} (got {shown(first.get('input'))})"


def _keys_at(loc: tuple[Any, ...]) -> list[str]:
    """The keys a config section at ``loc`` (``("train",)``, ``("model", "conv", 0)``) takes."""
    model: Any = ExperimentConfig
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part)) if isinstance(model, type) and issubclass(model, BaseModel) else None
        if field is None:
            return []
        model = field.annotation
        for argument in typing.get_args(model) or ():
            if isinstance(argument, type) and issubclass(argument, BaseModel):
                model = argument
    return list(model.model_fields) if isinstance(model, type) and issubclass(model, BaseModel) else []


def _set_dotted(raw: dict[str, Any], dotted: str, value: Any) -> None:
    """Put ``value`` at ``a.b.c``; a part that is already a value, not a section, is an error."""
    parts = dotted.split(".")
    if not all(parts):
        raise ConfigError(f"--set {shown(dotted)}: expected a dotted key such as train.epochs")
    node: Any = raw
    for depth, key in enumerate(parts):
        section = ".".join(parts[:depth])
        if isinstance(node, list) and key.isdigit() and int(key) < len(node):
            key = int(key)  # model.conv.0.kernel: the first conv layer's kernel
        elif not isinstance(node, dict):
            raise ConfigError(f"--set {shown(dotted)}: '{section}' is the value {shown(node)}, "
                              f"not a section with keys")
        if depth == len(parts) - 1:
            node[key] = value
        else:
            node = node.setdefault(key, {}) if isinstance(node, dict) else node[key]
