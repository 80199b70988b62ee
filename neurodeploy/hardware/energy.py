"""Time and energy per sample, as ranges from the profile's per-step and per-op figures.

Time is the frame length times the wall time per step (unthrottled to real time): the
profile's step-time range, or, where the profile gives per-op times (Loihi 2), the
busiest core's work per step: each layer's synaptic ops, neuron updates and spikes per
sample shared evenly over its cores, the layer whose core takes longest setting the step
(never below the profile's shortest step). Energy needs activity counted in a simulation
(synaptic ops, neuron updates and spikes per sample); it is the sum of per-op energies
plus static power over the sample's time, both at the low and at the high end of every
range. Missing figures give no estimate rather than a made-up one.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Optional

from neurodeploy.core.errors import NeurodeployError, shown
from neurodeploy.hardware.activity import LAYER_KEYS
from neurodeploy.hardware.profile import Profile

if TYPE_CHECKING:
    from neurodeploy.hardware.resources import CoreMap

#: Activity counts per sample an energy estimate needs, and one it can use.
ACTIVITY_KEYS = ("synaptic_ops_per_sample", "neuron_updates_per_sample", "spikes_per_sample")
OPTIONAL_ACTIVITY_KEYS = ("learning_updates_per_sample", "layers")
Range = tuple[float, float]


@dataclass(frozen=True)
class Estimate:
    steps_per_sample: Optional[int]
    time_per_sample_s: Optional[Range]
    energy_per_sample_j: Optional[Range]
    dynamic_energy_per_sample_j: Optional[Range]
    notes: tuple[str, ...] = ()
    step_time_s: Optional[Range] = None
    busiest_layer: Optional[str] = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_activity(activity: dict[str, Any], source: str = "activity") -> dict[str, Any]:
    """The activity dict with its keys and values checked (non-negative numbers; under
    ``layers``, a mapping of layer names to ``synaptic_ops`` and ``spikes``)."""
    if not isinstance(activity, dict):
        raise NeurodeployError(f"{source}: expected a mapping with {list(ACTIVITY_KEYS)}")
    unknown = set(activity) - set(ACTIVITY_KEYS) - set(OPTIONAL_ACTIVITY_KEYS)
    missing = set(ACTIVITY_KEYS) - set(activity)
    if unknown or missing:
        raise NeurodeployError(f"{source}: unknown key(s) {shown(sorted(unknown))}, missing key(s) "
                               f"{sorted(missing)}; expected {list(ACTIVITY_KEYS)}")
    checked: dict[str, Any] = {}
    for key, value in activity.items():
        if key == "layers":
            checked[key] = _check_layers(value, f"{source}: layers")
        else:
            checked[key] = _count(value, f"{source}: {key}")
    return checked


def _count(value: Any, where: str) -> float:
    number = _finite(value)
    if isinstance(value, bool) or number is None or number < 0:
        raise NeurodeployError(f"{where}={shown(value)}; expected a finite number >= 0")
    return number


def _check_layers(layers: Any, where: str) -> dict[str, dict[str, float]]:
    if not isinstance(layers, dict) or not all(isinstance(name, str) for name in layers):
        raise NeurodeployError(f"{where}: expected a mapping of layer names to {list(LAYER_KEYS)}")
    checked = {}
    for name, counts in layers.items():
        if not isinstance(counts, dict) or set(counts) != set(LAYER_KEYS):
            raise NeurodeployError(f"{where}.{name}={shown(counts)}; expected a mapping with {list(LAYER_KEYS)}")
        checked[name] = {key: _count(counts[key], f"{where}.{name}.{key}") for key in LAYER_KEYS}
    return checked


def _finite(value: Any) -> Optional[float]:
    """``value`` as a finite float, or ``None`` (not a number, NaN, infinite, too large)."""
    if not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def estimate(profile: Profile, steps_per_sample: Optional[int], chips: int,
             activity: Optional[dict[str, Any]] = None, core_map: Optional["CoreMap"] = None) -> Estimate:
    """Time and energy per sample; ``core_map`` (with activity) lets a profile with
    per-op times set the step by the busiest core."""
    notes: list[str] = []
    time: Optional[Range] = None
    counts = check_activity(activity) if activity is not None else None
    step, busiest = _step(profile, counts, core_map, steps_per_sample, notes)
    if steps_per_sample is None:
        notes.append("no frame schedule: steps and time per sample unknown")
    else:
        time = (steps_per_sample * step[0], steps_per_sample * step[1])
    if counts is None:
        notes.append("no activity counts: run a simulation and pass them for an energy estimate")
        return Estimate(steps_per_sample, time, None, None, tuple(notes), step, busiest)
    dynamic = _dynamic(profile, counts, notes)
    total = None
    static = profile.energy.static_power_w_per_chip
    if dynamic is not None and time is not None and static is not None:
        total = (dynamic[0] + chips * static.min * time[0], dynamic[1] + chips * static.max * time[1])
    elif dynamic is not None:
        notes.append("static energy left out (no static power figure or no time per sample)")
    return Estimate(steps_per_sample, time, total, dynamic, tuple(notes), step, busiest)


def _step(profile: Profile, counts: Optional[dict[str, Any]], core_map: Optional["CoreMap"],
          steps: Optional[int], notes: list[str]) -> tuple[Range, Optional[str]]:
    """Wall time per step: the busiest core's work where the profile has per-op times
    and there is activity and a core map, else the profile's step-time range."""
    timing = profile.timing
    floor = (timing.step_time_s.min, timing.step_time_s.max)
    per_op = (timing.synaptic_op_s, timing.neuron_update_s, timing.spike_s)
    if None in per_op or counts is None or core_map is None or not steps or not core_map.layers:
        return floor, None
    layers = _layer_counts(counts, core_map, notes)
    neurons = sum(layer.neurons for layer in core_map.layers) or 1
    loads: dict[str, Range] = {}
    for layer in core_map.layers:
        synaptic_ops, spikes = layers.get(layer.name, (0.0, 0.0))
        work = (synaptic_ops, counts["neuron_updates_per_sample"] * layer.neurons / neurons, spikes)
        low, high = (sum(getattr(span, end) * count for span, count in zip(per_op, work)) / (layer.cores * steps)
                     for end in ("min", "max"))
        loads[layer.name] = (low, high)
    busiest = max(loads, key=lambda name: loads[name][1])
    return (max(floor[0], loads[busiest][0]), max(floor[0], loads[busiest][1])), busiest


def _layer_counts(counts: dict[str, Any], core_map: "CoreMap", notes: list[str]) -> dict[str, tuple[float, float]]:
    """(synaptic ops, spikes) per sample of each layer: the activity's own split, or the
    totals spread over layers by synapses and neurons."""
    if "layers" in counts:
        return {name: (layer["synaptic_ops"], layer["spikes"]) for name, layer in counts["layers"].items()}
    notes.append("no per-layer activity: synaptic ops spread over layers by synapses, spikes by neurons "
                 "(the busiest core is a guess)")
    synapses = sum(layer.synapses for layer in core_map.layers) or 1
    neurons = sum(layer.neurons for layer in core_map.layers) or 1
    return {layer.name: (counts["synaptic_ops_per_sample"] * layer.synapses / synapses,
                         counts["spikes_per_sample"] * layer.neurons / neurons) for layer in core_map.layers}


def _dynamic(profile: Profile, counts: dict[str, float], notes: list[str]) -> Optional[Range]:
    energy = profile.energy
    terms = [(energy.synaptic_op_j, "synaptic_ops_per_sample"),
             (energy.neuron_update_j, "neuron_updates_per_sample"),
             (energy.spike_j, "spikes_per_sample")]
    if counts.get("learning_updates_per_sample"):
        terms.append((energy.learning_update_j, "learning_updates_per_sample"))
    missing = [key for span, key in terms if span is None]
    if missing:
        notes.append(f"profile {profile.name} has no public energy figure for {', '.join(missing)}")
        return None
    return (sum(span.min * counts[key] for span, key in terms),
            sum(span.max * counts[key] for span, key in terms))
