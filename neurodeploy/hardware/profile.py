"""Hardware profiles: one YAML per chip in ``neurodeploy/hw_configs/``, every number with its source.

A profile is data, not code: the validator's checks read their limits from it, and the
DA-SSDP Lava process reads the learning engine's widths from it. Each number is a
:class:`Fact` (one value) or a :class:`Span` (an inclusive range) carrying ``source`` and
``confidence`` (``code``, ``doc``, ``secondary``, ``uncertain``); a limit marked
``uncertain`` turns a violation into a warning. The schema is strict: an unknown key, a
wrong type or a missing source is an error naming the file and the key.

Profiles are looked up in ``$NEURODEPLOY_HW_CONFIGS`` if set, else in the package data
directory ``neurodeploy/hw_configs/`` (the top-level ``hw_configs/`` of a checkout is a
symlink to it).
"""
from __future__ import annotations

import os
from difflib import get_close_matches
from pathlib import Path
from typing import Annotated, Any, Generic, Iterator, Literal, Optional, TypeVar, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from neurodeploy.errors import ConfigError, shown

ENV_VAR = "NEURODEPLOY_HW_CONFIGS"
Confidence = Literal["code", "doc", "secondary", "uncertain"]
T = TypeVar("T")
N = TypeVar("N", int, float)
#: A count the checks divide by (cores, neurons, memory, group sizes, chips).
Count = Annotated[int, Field(gt=0, le=1 << 48)]
#: A field width in bits (``2 ** bits`` must stay a number a check can use).
Bits = Annotated[int, Field(ge=0, le=64)]
Width = Annotated[int, Field(gt=0, le=64)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


class _Cited(_Strict):
    source: str = Field(min_length=1, description="where the number comes from (keys of `references`)")
    confidence: Confidence
    note: Optional[str] = None

    @property
    def uncertain(self) -> bool:
        return self.confidence == "uncertain"

    @property
    def citation(self) -> str:
        """What a finding shows in its ``source`` column."""
        tag = "uncertain limit" if self.uncertain else self.confidence
        return f"{self.source} [{tag}]"


class Fact(_Cited, Generic[T]):
    """One number (or flag, or list of names) and where it comes from."""

    value: T


class Span(_Cited, Generic[N]):
    """An inclusive range ``min..max`` and where it comes from."""

    min: N
    max: N

    @model_validator(mode="after")
    def _ordered(self) -> "Span":
        if self.min > self.max:
            raise ValueError(f"min={self.min} is above max={self.max}")
        return self

    def __contains__(self, value: float) -> bool:
        return self.min <= value <= self.max

    @property
    def text(self) -> str:
        return f"{self.min}..{self.max}"


class _Section(_Strict):
    pass


class Timing(_Section):
    """Time-step semantics and every temporal limit, in steps unless named ``_s``."""

    step: Fact[Literal["barrier", "timer", "event"]]
    step_time_s: Span[float]
    hop_latency_steps: Fact[Annotated[int, Field(ge=0, le=1 << 16)]]
    delay_steps: Span[int]
    delay_guaranteed_steps: Optional[Span[int]] = None
    refractory_steps: Span[int]
    t_epoch_steps: Span[int]
    t_epoch_typical_steps: Span[int]
    epoch_time_bits: Fact[Width]


class WeightRanges(_Section):
    """Integer weight range per synapse sign mode, as the chip's loader clips them."""

    mixed: Span[int]
    excitatory: Span[int]
    inhibitory: Span[int]


class Precision(_Section):
    weight_bits: Fact[Width]
    weight_range: WeightRanges
    mixed_sign_drops_lsb: Fact[bool]
    weight_exponent: Span[int]
    accumulator_bits: Fact[Width]
    state_bits: Fact[Width]
    state_overflow: Fact[Literal["wrap", "saturate"]]
    input_shift_bits: Fact[Bits]
    decay: Span[int]
    decay_scale: Fact[Count]
    current_decay_offset: Fact[Bits]
    threshold_mantissa: Span[int]
    threshold_shift_bits: Fact[Bits]
    bias_mantissa: Span[int]
    bias_exponent: Span[int]
    graded_spike_bits: Fact[Bits]


class Learning(_Section):
    """The learning engine, as the DA-SSDP Lava process needs it."""

    on_chip: Fact[bool]
    trace_bits: Fact[Width]
    trace_impulse_fraction_bits: Fact[Bits]
    scale_mantissa: Span[int]
    scale_exponent: Span[int]
    accumulator_bits: Fact[Width]
    weight_update_fraction_bits: Fact[Bits]
    stochastic_rounding: Fact[bool]
    third_factor: Fact[bool]


class System(_Section):
    """A board or system that exists, by its chip count: the verdict names the smallest
    one that holds a network."""

    name: str = Field(min_length=1)
    kind: Literal["board", "system"]
    chips: Fact[Count]


class Resources(_Section):
    """Per-core limits, the synapse-memory accounting rule (bits per input axon:
    groups of ``synapse_group_size`` synapses, each group ``n * bits_per_synapse +
    synapse_group_overhead_bits`` rounded up to ``synapse_word_bits``), whether a core
    stores a conv kernel once for all positions, and the systems built from the chip."""

    cores_per_chip: Fact[Count]
    neurons_per_core: Fact[Count]
    synapse_memory_bits: Fact[Count]
    synapse_group_size: Fact[Count]
    synapse_group_overhead_bits: Fact[Bits]
    synapse_word_bits: Fact[Width]
    synapse_delay_bits: Fact[Bits]
    synapse_tag_bits: Fact[Bits]
    input_axons_per_core: Fact[Count]
    output_axons_per_core: Fact[Count]
    conv_weight_sharing: Fact[bool]
    systems: list[System] = Field(default_factory=list)


class Energy(_Section):
    """Energy per operation in joules; a missing entry means no public figure."""

    synaptic_op_j: Optional[Span[float]] = None
    neuron_update_j: Optional[Span[float]] = None
    spike_j: Optional[Span[float]] = None
    learning_update_j: Optional[Span[float]] = None
    static_power_w_per_chip: Optional[Span[float]] = None


class Support(_Section):
    """What the target can run at all (through netx and Lava for Loihi)."""

    layer_types: Fact[list[str]]
    neuron_types: Fact[list[str]]
    delays: Fact[bool]


class Profile(_Strict):
    name: str = Field(min_length=1)
    title: str
    description: str
    references: dict[str, str]
    timing: Timing
    precision: Precision
    learning: Learning
    resources: Resources
    energy: Energy
    support: Support

    def facts(self) -> Iterator[tuple[str, Union[Fact, Span]]]:
        """Every cited number as ``(dotted key, fact)``."""
        yield from _walk(self, "")

    @property
    def summary(self) -> str:
        """One line for ``neurodeploy profiles``."""
        res = self.resources
        uncertain = sum(fact.uncertain for _, fact in self.facts())
        return (f"{self.title}: {res.cores_per_chip.value} cores/chip, "
                f"{res.neurons_per_core.value} neurons/core, "
                f"{uncertain} of {sum(1 for _ in self.facts())} numbers uncertain")


def profiles_dir() -> Path:
    """Where named profiles live: ``$NEURODEPLOY_HW_CONFIGS`` or the package's own ``hw_configs/``
    (shipped as package data, so a wheel install finds them)."""
    override = os.environ.get(ENV_VAR)
    return Path(override) if override else Path(__file__).resolve().parents[1] / "hw_configs"


def list_profiles() -> list[Path]:
    """YAML files of the named profiles, sorted by name."""
    folder = profiles_dir()
    return sorted(folder.glob("*.yaml")) if folder.is_dir() else []


def load_profile(name_or_path: str | Path) -> Profile:
    """Load a profile by name (``loihi2``) or by the path of a YAML file."""
    from neurodeploy.yamlfile import read_yaml

    path = _resolve(str(name_or_path))
    raw = read_yaml(path, "profile")
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: top level is {type(raw).__name__}; expected a mapping")
    try:
        return Profile.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(f"{path}: {_describe(error)}") from None


def _resolve(name_or_path: str) -> Path:
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.parent != Path("."):
        if not candidate.is_file():
            raise ConfigError(f"{candidate}: profile file not found")
        return candidate
    named = profiles_dir() / f"{name_or_path}.yaml"
    if not named.is_file():
        known = [path.stem for path in list_profiles()]
        guess = get_close_matches(name_or_path, known, n=1)
        hint = f" (did you mean '{guess[0]}'?)" if guess else ""
        raise ConfigError(f"unknown hardware profile {shown(name_or_path)}{hint}; known: {known} "
                          f"(in {profiles_dir()}), or give a path to a YAML file")
    return named


def _describe(error: ValidationError) -> str:
    """The first schema violation as ``key.path: what is wrong``; an unknown key comes
    first, with the missing key it probably misspells."""
    errors = error.errors()
    extra = [item for item in errors if item["type"] == "extra_forbidden"]
    first = (extra or errors)[0]
    where = ".".join(str(part) for part in first["loc"]) or "(top level)"
    if first["type"] == "extra_forbidden":
        missing = [str(item["loc"][-1]) for item in errors
                   if item["type"] == "missing" and item["loc"][:-1] == first["loc"][:-1]]
        guess = get_close_matches(str(first["loc"][-1]), missing, n=1)
        return f"unknown key '{where}'" + (f" (did you mean '{guess[0]}'?)" if guess else "")
    if first["type"] == "missing":
        return f"missing key '{where}'"
    return f"{where}: {first['msg'].removeprefix('Value error, ')} (got {shown(first.get('input'))})"


def _walk(node: Any, prefix: str) -> Iterator[tuple[str, Union[Fact, Span]]]:
    for key in type(node).model_fields:
        value = getattr(node, key)
        dotted = f"{prefix}{key}"
        if isinstance(value, _Cited):
            yield dotted, value
        elif isinstance(value, _Section):
            yield from _walk(value, dotted + ".")
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, System):
                    yield from _walk(item, f"{dotted}.{item.name}.")
