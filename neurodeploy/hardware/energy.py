"""Time and energy per sample, as ranges from the profile's per-step and per-op figures.

Time is the frame length times the profile's wall time per step (unthrottled to real
time). Energy needs activity counted in a simulation (synaptic ops, neuron updates and
spikes per sample); it is the sum of per-op energies plus static power over the sample's
time, both at the low and at the high end of every range. Missing figures give no
estimate rather than a made-up one.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Optional

from neurodeploy.errors import NeurodeployError, shown
from neurodeploy.hardware.profile import Profile

#: Activity counts per sample an energy estimate needs, and one it can use.
ACTIVITY_KEYS = ("synaptic_ops_per_sample", "neuron_updates_per_sample", "spikes_per_sample")
OPTIONAL_ACTIVITY_KEYS = ("learning_updates_per_sample",)
Range = tuple[float, float]


@dataclass(frozen=True)
class Estimate:
    steps_per_sample: Optional[int]
    time_per_sample_s: Optional[Range]
    energy_per_sample_j: Optional[Range]
    dynamic_energy_per_sample_j: Optional[Range]
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_activity(activity: dict[str, Any], source: str = "activity") -> dict[str, float]:
    """The activity dict with its keys and values checked (non-negative numbers)."""
    if not isinstance(activity, dict):
        raise NeurodeployError(f"{source}: expected a mapping with {list(ACTIVITY_KEYS)}")
    unknown = set(activity) - set(ACTIVITY_KEYS) - set(OPTIONAL_ACTIVITY_KEYS)
    missing = set(ACTIVITY_KEYS) - set(activity)
    if unknown or missing:
        raise NeurodeployError(f"{source}: unknown key(s) {shown(sorted(unknown))}, missing key(s) "
                               f"{sorted(missing)}; expected {list(ACTIVITY_KEYS)}")
    checked = {}
    for key, value in activity.items():
        number = _finite(value)
        if isinstance(value, bool) or number is None or number < 0:
            raise NeurodeployError(f"{source}: {key}={shown(value)}; expected a finite number >= 0")
        checked[key] = number
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
             activity: Optional[dict[str, Any]] = None) -> Estimate:
    notes: list[str] = []
    time: Optional[Range] = None
    if steps_per_sample is None:
        notes.append("no frame schedule: steps and time per sample unknown")
    else:
        step = profile.timing.step_time_s
        time = (steps_per_sample * step.min, steps_per_sample * step.max)
    if activity is None:
        notes.append("no activity counts: run a simulation and pass them for an energy estimate")
        return Estimate(steps_per_sample, time, None, None, tuple(notes))
    counts = check_activity(activity)
    dynamic = _dynamic(profile, counts, notes)
    total = None
    static = profile.energy.static_power_w_per_chip
    if dynamic is not None and time is not None and static is not None:
        total = (dynamic[0] + chips * static.min * time[0], dynamic[1] + chips * static.max * time[1])
    elif dynamic is not None:
        notes.append("static energy left out (no static power figure or no time per sample)")
    return Estimate(steps_per_sample, time, total, dynamic, tuple(notes))


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
