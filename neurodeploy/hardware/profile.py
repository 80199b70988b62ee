"""Hardware profiles: one YAML per chip in ``neurodeploy/hw_configs/``, every number with its source.

A profile is data, not code: the validator's checks read their limits from it, and the
DA-SSDP Lava process reads the learning engine's widths from it. Each number is a
:class:`Fact` (one value) or a :class:`Span` (an inclusive range) carrying ``source`` and
``confidence`` (``code``, ``doc``, ``secondary``, ``uncertain``); a limit marked
``uncertain`` turns a violation into a warning. The schema is strict: an unknown key, a
wrong type or a missing source is an error naming the file and the key.

The schema is declared below with :mod:`neurodeploy.core.schema` (not pydantic: building its
models was most of ``neurodeploy validate``'s start-up time, ``benchmarks/startup.py``).

Profiles are looked up in ``$NEURODEPLOY_HW_CONFIGS`` if set, else in the package data
directory ``neurodeploy/hw_configs/`` (the top-level ``hw_configs/`` of a checkout is a
symlink to it).
"""
from __future__ import annotations

import os
from difflib import get_close_matches
from pathlib import Path
from typing import Any, Iterator, Union

from neurodeploy.core.errors import ConfigError, shown
from neurodeploy.core.paths import PACKAGE_DIR
from neurodeploy.core.schema import (Check, Invalid, Node, choice, field, flag, integer, list_of, number, section,
                                strings_to_strings, text)

ENV_VAR = "NEURODEPLOY_HW_CONFIGS"
MAX_NAME = 64  # a profile name longer than this names no shipped profile (and no file name fits)
CONFIDENCES = ("code", "doc", "compiler output", "secondary", "uncertain")

#: A count the checks divide by (cores, neurons, memory, group sizes, chips).
COUNT = integer(1, 1 << 48)
#: A field width in bits (``2 ** bits`` must stay a number a check can use).
BITS = integer(0, 64)
WIDTH = integer(1, 64)
ANY_INT = integer(-(1 << 63), (1 << 63) - 1)


def fact(check: Check) -> Any:
    """A :class:`Fact` whose ``value`` passes ``check``."""
    return field(lambda value, where: Fact.of(value, where, check))


def span(check: Check, optional: bool = False) -> Any:
    """A :class:`Span` whose ends pass ``check`` (``optional``: may be left out, then None)."""
    rule = lambda value, where: Span.of(value, where, check)  # noqa: E731
    return field(rule, None) if optional else field(rule)


class _Cited(Node):
    source = field(text(1))
    confidence = field(choice(*CONFIDENCES))
    note = field(text(), None)

    @property
    def uncertain(self) -> bool:
        return self.confidence == "uncertain"

    @property
    def citation(self) -> str:
        """What a finding shows in its ``source`` column."""
        tag = "uncertain limit" if self.uncertain else self.confidence
        return f"{self.source} [{tag}]"


class Fact(_Cited):
    """One number (or flag, or list of names) and where it comes from."""

    value: Any

    @classmethod
    def of(cls, raw: Any, where: str, check: Check) -> "Fact":
        fact = cls.read(_without(raw, "value", where), where + ".")
        object.__setattr__(fact, "value", check(raw["value"], where + ".value"))
        return fact


class Span(_Cited):
    """An inclusive range ``min..max`` and where it comes from."""

    min: Any
    max: Any

    @classmethod
    def of(cls, raw: Any, where: str, check: Check) -> "Span":
        without = _without(_without(raw, "min", where), "max", where)
        span = cls.read(without, where + ".")
        for end in ("min", "max"):
            object.__setattr__(span, end, check(raw[end], f"{where}.{end}"))
        if span.min > span.max:
            raise Invalid("value", where, f"min={span.min} is above max={span.max}", raw)
        return span

    def __contains__(self, value: float) -> bool:
        return self.min <= value <= self.max

    @property
    def text(self) -> str:
        return f"{self.min}..{self.max}"


def _without(raw: Any, key: str, where: str) -> dict:
    """``raw`` less ``key``, which it must have."""
    if type(raw) is not dict:
        raise Invalid("value", where, "should be a mapping", raw)
    if key not in raw:
        raise Invalid("missing", f"{where}.{key}")
    return {name: value for name, value in raw.items() if name != key}


class _Section(Node):
    pass


class Timing(_Section):
    """Time-step semantics and every temporal limit, in steps unless named ``_s``."""

    step = fact(choice("barrier", "timer", "event"))
    step_time_s = span(number)
    hop_latency_steps = fact(integer(0, 1 << 16))
    delay_steps = span(ANY_INT)
    delay_guaranteed_steps = span(ANY_INT, optional=True)
    refractory_steps = span(ANY_INT)
    t_epoch_steps = span(ANY_INT)
    t_epoch_typical_steps = span(ANY_INT)
    epoch_time_bits = fact(WIDTH)
    synaptic_op_s = span(number, optional=True)
    neuron_update_s = span(number, optional=True)
    spike_s = span(number, optional=True)


class WeightRanges(_Section):
    """Integer weight range per synapse sign mode, as the chip's loader clips them."""

    mixed = span(ANY_INT)
    excitatory = span(ANY_INT)
    inhibitory = span(ANY_INT)


class Precision(_Section):
    weight_bits = fact(WIDTH)
    weight_range = section(WeightRanges)
    weight_exponent = span(ANY_INT)
    accumulator_bits = fact(WIDTH)
    state_bits = fact(WIDTH)
    state_overflow = fact(choice("wrap", "saturate"))
    input_shift_bits = fact(BITS)
    decay = span(ANY_INT)
    decay_scale = fact(COUNT)
    current_decay_offset = fact(BITS)
    threshold_mantissa = span(ANY_INT)
    threshold_shift_bits = fact(BITS)
    bias_mantissa = span(ANY_INT)
    bias_exponent = span(ANY_INT)
    graded_spike_bits = fact(BITS)


class Learning(_Section):
    """The learning engine, as the DA-SSDP Lava process needs it."""

    on_chip = fact(flag)
    trace_bits = fact(WIDTH)
    trace_impulse_fraction_bits = fact(BITS)
    scale_mantissa = span(ANY_INT)
    scale_exponent = span(ANY_INT)
    accumulator_bits = fact(WIDTH)
    weight_update_fraction_bits = fact(BITS)
    stochastic_rounding = fact(flag)
    third_factor = fact(flag)


class System(_Section):
    """A board or system that exists, by its chip count: the verdict names the smallest
    one that holds a network."""

    name = field(text(1))
    kind = field(choice("board", "system"))
    chips = fact(COUNT)


class Resources(_Section):
    """Per-core limits, the synapse-memory accounting rule (bits per input axon:
    groups of ``synapse_group_size`` synapses, each group ``n * bits_per_synapse +
    synapse_group_overhead_bits`` rounded up to ``synapse_word_bits``), whether a core
    stores a conv kernel once for all positions, and the systems built from the chip."""

    cores_per_chip = fact(COUNT)
    neurons_per_core = fact(COUNT)
    synapse_memory_bits = fact(COUNT)
    synapse_group_size = fact(COUNT)
    synapse_group_overhead_bits = fact(BITS)
    synapse_word_bits = fact(WIDTH)
    synapse_delay_bits = fact(BITS)
    synapse_tag_bits = fact(BITS)
    input_axons_per_core = fact(COUNT)
    output_axons_per_core = fact(COUNT)
    conv_weight_sharing = fact(flag)
    systems = field(list_of(lambda item, where: System.read(item, where + ".")), [])


class Compiler(_Section):
    """Per-core registers of a vendor compiler that prints its own core map (Loihi 2's
    ``Per core utilization`` table): each column's capacity, the memory pool they share,
    the SynMem register its partitioner splits on, and how it stores synapses
    (docs/mapping.md, "Loihi 2")."""

    neurons_per_core = fact(COUNT)
    neuron_groups_per_core = fact(COUNT)
    axon_in_per_core = fact(COUNT)
    synapses_per_core = fact(COUNT)
    synapse_register = fact(COUNT)
    axon_map_per_core = fact(COUNT)
    axon_mem_per_core = fact(COUNT)
    memory_pool = fact(COUNT)
    dense_synapse_cost_per_weight_bit = fact(COUNT)
    dense_synapse_cost_fixed = fact(COUNT)
    dense_synapse_cost_per_unit = fact(COUNT)
    conv_synapse_word_bits = fact(WIDTH)


class Energy(_Section):
    """Energy per operation in joules; a missing entry means no public figure."""

    synaptic_op_j = span(number, optional=True)
    neuron_update_j = span(number, optional=True)
    spike_j = span(number, optional=True)
    learning_update_j = span(number, optional=True)
    static_power_w_per_chip = span(number, optional=True)


class Support(_Section):
    """What the target can run at all (through netx and Lava for Loihi)."""

    layer_types = fact(list_of(text()))
    neuron_types = fact(list_of(text()))
    delays = fact(flag)


class Profile(Node):
    name = field(text(1))
    title = field(text())
    description = field(text())
    references = field(strings_to_strings)
    timing = section(Timing)
    precision = section(Precision)
    learning = section(Learning)
    resources = section(Resources)
    compiler = field(lambda raw, where: Compiler.read(raw, where + "."), None)
    energy = section(Energy)
    support = section(Support)

    def facts(self) -> Iterator[tuple[str, Union[Fact, Span]]]:
        """Every cited number as ``(dotted key, fact)``."""
        yield from _walk(self, "")

    @property
    def summary(self) -> str:
        """One line for ``neurodeploy profiles``."""
        res = self.resources
        uncertain = sum(fact.uncertain for _, fact in self.facts())
        neurons = (self.compiler or res).neurons_per_core.value
        return (f"{self.title}: {res.cores_per_chip.value} cores/chip, "
                f"{neurons} neurons/core, "
                f"{uncertain} of {sum(1 for _ in self.facts())} numbers uncertain")


def profiles_dir() -> Path:
    """Where named profiles live: ``$NEURODEPLOY_HW_CONFIGS`` or the package's own ``hw_configs/``
    (shipped as package data, so a wheel install finds them)."""
    override = os.environ.get(ENV_VAR)
    return Path(override) if override else PACKAGE_DIR / "hw_configs"


def list_profiles() -> list[Path]:
    """YAML files of the named profiles, sorted by name."""
    folder = profiles_dir()
    return sorted(folder.glob("*.yaml")) if folder.is_dir() else []


def load_profile(name_or_path: str | Path) -> Profile:
    """Load a profile by name (``loihi2``) or by the path of a YAML file."""
    from neurodeploy.core.yamlfile import read_yaml

    path = _resolve(str(name_or_path))
    raw = read_yaml(path, "profile")
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: top level is {type(raw).__name__}; expected a mapping")
    try:
        return Profile.read(raw)
    except Invalid as error:
        raise ConfigError(f"{path}: {error.describe()}") from None


def _resolve(name_or_path: str) -> Path:
    from neurodeploy.core.paths import input_file

    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.parent != Path("."):
        return input_file(candidate, "profile file", ConfigError)
    named = profiles_dir() / f"{name_or_path}.yaml"
    if len(name_or_path) > MAX_NAME or not named.is_file():
        known = [path.stem for path in list_profiles()]
        guess = get_close_matches(name_or_path, known, n=1)
        hint = f" (did you mean '{guess[0]}'?)" if guess else ""
        raise ConfigError(f"unknown hardware profile {shown(name_or_path)}{hint}; known: {known} "
                          f"(in {profiles_dir()}), or give a path to a YAML file")
    return named


def _walk(node: Any, prefix: str) -> Iterator[tuple[str, Union[Fact, Span]]]:
    for key in type(node).fields():
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
