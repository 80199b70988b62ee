"""Timing checks (hardware.md section 1): the frame, delays and learning epochs in steps.

The frame schedule comes from the manifest; a foreign netx file without one still gets
the checks that need only the network (delays, refractory periods).
:func:`check_learning_window` is public because the DA-SSDP Lava process runs it before
a run, with the same profile and schedule.
"""
from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np

from neurodeploy.core.encoding.schedule import FrameSchedule
from neurodeploy.hardware.findings import SCHEDULE, Finding, breach, note
from neurodeploy.hardware.profile import Profile
from neurodeploy.core.netxfile import NetxLayer, NetxNetwork

LAST_SPIKE_ONLY = ("L core/model/py/connection.py _process_pre_spikes and tutorial09 "
                   "(one spike time per synapse and epoch is kept) [code]")
WHOLE_STEP_LATENCY = "dassdp.md (latencies are whole steps on a time-stepped chip) [doc]"
WHOLE_STEPS = "L core/sync/protocols/loihi_protocol.py (time advances in whole steps) [code]"
EPOCH_POSITIVE = "L core/learning/learning_rule.py (t_epoch must be at least 1) [code]"
EPOCH_GUARD = ("L core/model/py/connection.py lrn_guard (learning runs at steps where "
               "t % t_epoch == 0) [code]")


def check_timing(network: NetxNetwork, profile: Profile, schedule: Optional[FrameSchedule] = None,
                 dassdp: Optional[dict[str, Any]] = None) -> list[Finding]:
    """All timing findings; frame and learning checks need ``schedule``."""
    findings: list[Finding] = []
    for layer in network.layers:
        findings += _delays(layer, profile) + _refractory(layer, profile)
    if schedule is None:
        findings.append(note(
            check="timing.no_schedule", layer=SCHEDULE, value=None, limit=None, severity="info",
            source="manifest.json (frame schedule) [code]",
            fix="Validate beside the deployment manifest (or pass --manifest) to check the "
                "frame, the drain gap and the learning epochs."))
        return findings
    findings += _drain(network, profile, schedule)
    if dassdp:
        t_epoch = dassdp.get("t_epoch") or schedule.frame_steps
        findings += check_learning_window(profile, schedule, t_epoch, dassdp.get("sigma", 1.0))
    return findings


def check_learning_window(profile: Profile, schedule: FrameSchedule, t_epoch: Any,
                          sigma: float) -> list[Finding]:
    """DA-SSDP window checks: epoch length, alignment with the frame, spikes per epoch,
    sigma and latency resolution. Returns findings; an empty list means the window fits."""
    if not _whole(t_epoch):
        return [note(check="timing.whole_steps", layer=SCHEDULE, value=t_epoch, limit="whole steps",
                     source=EPOCH_GUARD, severity="error",
                     fix="Set dassdp.t_epoch to a whole number of steps that divides the frame.")]
    t_epoch = int(t_epoch)
    return (check_window_steps(profile, schedule.frame_steps, t_epoch, sigma)
            + _spikes_per_epoch(schedule, t_epoch) + _latency_bits(profile, schedule.frame_steps))


def check_window_steps(profile: Profile, frame_steps: int, t_epoch: int, sigma: float) -> list[Finding]:
    """The window checks that need only the frame length: epoch range, epochs tiling the
    frame, sigma against the step and the trace width. The DA-SSDP Lava process runs these
    before it builds anything."""
    return (_epoch_length(profile, t_epoch) + _epoch_alignment(profile, frame_steps, t_epoch)
            + _sigma(profile, sigma))


def sigma_max(trace_bits: int) -> float:
    """Widest sigma at which a ``trace_bits`` Gaussian table still tells a one-step latency
    difference from none: ``round(full * G(1)) < full`` with ``full = 2**bits - 1``."""
    full = 2 ** trace_bits - 1
    return math.sqrt(0.5 / math.log(full / (full - 0.5)))


def max_input_spikes_per_epoch(schedule: FrameSchedule, t_epoch: int) -> int:
    """Most spikes one input line can send inside one learning epoch (epochs start at step
    0 of the first frame, frames repeat), from what the schedule lets each step carry."""
    frame = schedule.frame_steps
    emits = np.array([_may_spike(schedule, step) for step in range(frame)], dtype=int)
    period = math.lcm(frame, t_epoch)
    best = 0
    for start in range(0, period, t_epoch):
        steps = np.arange(start, start + t_epoch)
        count = int(emits[steps % frame].sum())
        if schedule.temporal_kind == "ttfs":  # one spike per frame's temporal part, at most
            temporal = steps[steps % frame < schedule.temporal_steps]
            count += len(np.unique(temporal // frame))
        best = max(best, count)
    return best


def _spikes_per_epoch(schedule: FrameSchedule, t_epoch: int) -> list[Finding]:
    spikes = max_input_spikes_per_epoch(schedule, t_epoch) if t_epoch >= 1 else 0
    if spikes <= 1:
        return []
    frame = schedule.frame_steps
    single = max(d for d in range(1, frame + 1)
                 if frame % d == 0 and max_input_spikes_per_epoch(schedule, d) <= 1)
    return [note(check="timing.spikes_per_epoch", layer=SCHEDULE, value=spikes, limit=1,
                 source=LAST_SPIKE_ONLY,
                 fix=f"An input line can spike {spikes} times in one {t_epoch}-step epoch and the "
                     f"learning engine keeps only the last spike time, so traces are approximate: "
                     f"t_epoch={single} keeps one spike per epoch, or accept the approximation.")]


def _sigma(profile: Profile, sigma: float) -> list[Finding]:
    if not sigma >= 1:
        return [note(check="timing.sigma_resolution", layer=SCHEDULE, value=sigma, limit=1,
                     source=WHOLE_STEP_LATENCY, severity="error",
                     fix="Set dassdp.sigma to at least 1 step: latencies are whole steps, so a "
                         "narrower kernel only rewards exact coincidences.")]
    bits = profile.learning.trace_bits
    widest = sigma_max(bits.value)
    if sigma > widest:
        return [breach(bits, check="timing.sigma_trace_width", layer=SCHEDULE, value=sigma,
                       limit=round(widest, 2),
                       fix=f"Set dassdp.sigma to at most {widest:.2f} steps: in a {bits.value}-bit "
                           f"Gaussian table a one-step latency difference then rounds to the "
                           f"same value as none, and latency stops mattering.")]
    return []


def _latency_bits(profile: Profile, frame: int) -> list[Finding]:
    """Latencies span the frame and must fit the within-epoch spike-time field."""
    return _epoch_time_field(profile, frame, "timing.latency_bits",
                             "Shorten the frame to at most {longest} steps (fewer temporal steps or bit "
                             "planes, a smaller gap) so latencies fit the {bits}-bit within-epoch "
                             "spike time.")


def _epoch_time_field(profile: Profile, steps: int, check: str, fix: str) -> list[Finding]:
    """``steps`` against the learning engine's within-epoch spike-time field."""
    bits = profile.timing.epoch_time_bits
    longest = 2 ** bits.value - 1
    if steps <= longest:
        return []
    return [breach(bits, check=check, layer=SCHEDULE, value=steps, limit=longest,
                   fix=fix.format(longest=longest, bits=bits.value))]


def _may_spike(schedule: FrameSchedule, step: int) -> bool:
    """Whether a step may carry a spike, TTFS temporal steps aside (counted per frame)."""
    phase = schedule.phase(step)
    if phase.part == "temporal":
        return schedule.temporal_kind == "rate"
    return phase.emits


def _epoch_length(profile: Profile, t_epoch: int) -> list[Finding]:
    return _epoch_time_bits(profile, t_epoch) + _epoch_range(profile, t_epoch)


def _epoch_time_bits(profile: Profile, t_epoch: int) -> list[Finding]:
    """Within-epoch spike times have a fixed width in the learning engine itself, whatever
    the published epoch range says."""
    return _epoch_time_field(profile, t_epoch, "timing.epoch_time_bits",
                             "Set dassdp.t_epoch to at most {longest} steps: within-epoch spike "
                             "times are {bits}-bit, so a later spike's time cannot be stored.")


def _epoch_range(profile: Profile, t_epoch: int) -> list[Finding]:
    span, typical = profile.timing.t_epoch_steps, profile.timing.t_epoch_typical_steps
    if t_epoch < 1:  # no epoch at all: an error whatever the chip's (maybe uncertain) range
        return [note(check="timing.t_epoch_range", layer=SCHEDULE, value=t_epoch, limit=span.text,
                     source=EPOCH_POSITIVE, severity="error",
                     fix=f"Set dassdp.t_epoch to a whole number of steps within {span.text}.")]
    if t_epoch not in span:
        return [breach(span, check="timing.t_epoch_range", layer=SCHEDULE, value=t_epoch,
                       limit=span.text,
                       fix=f"Set dassdp.t_epoch within {span.text} steps; Lava accepts larger "
                           f"values but the chip stores within-epoch times in "
                           f"{profile.timing.epoch_time_bits.value} bits.")]
    if t_epoch not in typical:
        return [breach(typical, check="timing.t_epoch_typical", layer=SCHEDULE, value=t_epoch,
                       limit=typical.text, severity="info",
                       fix=f"Epochs of {typical.text} steps are the tested range; longer ones "
                           f"see more than one spike per synapse more often.")]
    return []


def _epoch_alignment(profile: Profile, frame: int, t_epoch: int) -> list[Finding]:
    """Each sample must hold whole epochs: updates fall on multiples of t_epoch."""
    if t_epoch > frame:
        return [note(check="timing.epoch_straddle", layer=SCHEDULE, value=t_epoch, limit=frame,
                     source=EPOCH_GUARD, severity="error",
                     fix=f"An epoch of {t_epoch} steps spans more than one {frame}-step frame, "
                         f"so one update mixes two samples: set t_epoch to a divisor of {frame}.")]
    if t_epoch >= 1 and frame % t_epoch:
        span = profile.timing.t_epoch_steps
        divisors = [d for d in range(1, frame + 1) if frame % d == 0 and d in span]
        padded = math.ceil(frame / t_epoch) * t_epoch
        return [note(check="timing.epoch_multiple", layer=SCHEDULE, value=frame,
                     limit=f"multiple of {t_epoch}", source=EPOCH_GUARD, severity="error",
                     fix=f"Make the frame a multiple of t_epoch: grow the gap by "
                         f"{padded - frame} steps (frame {padded}) or set t_epoch to one of "
                         f"{divisors[-4:]}.")]
    return []


def _drain(network: NetxNetwork, profile: Profile, schedule: FrameSchedule) -> list[Finding]:
    """The gap must let the last input spikes cross every hop (and delay) before reset."""
    latency = profile.timing.hop_latency_steps
    delays = sum(int(np.ceil(layer.delay.max())) for layer in network.layers
                 if layer.delay is not None and layer.delay.size)
    needed = network.hops * latency.value + max(delays, 0)
    if schedule.gap >= needed:
        return []
    return [breach(latency, check="timing.hop_latency", layer=SCHEDULE, value=schedule.gap,
                   limit=needed,
                   fix=f"Set encoding.gap to at least {needed} ({network.hops} hops x "
                       f"{latency.value} step + {max(delays, 0)} delay steps) so the last "
                       f"spikes reach the output before the reset.")]


def _delays(layer: NetxLayer, profile: Profile) -> list[Finding]:
    if layer.delay is None or layer.delay.size == 0:
        return []
    span = profile.timing.delay_steps
    delay = layer.delay.astype(float)
    fractional = delay[delay != np.round(delay)]
    if fractional.size:
        return [note(check="timing.whole_steps", layer=layer.name, value=float(fractional[0]),
                     limit="whole steps", source=WHOLE_STEPS, severity="error",
                     fix="Round the delays to whole steps before export (netx truncates them).")]
    low, high = int(delay.min()), int(delay.max())
    if low < span.min or high > span.max:
        return [breach(span, check="timing.delay_range", layer=layer.name,
                       value=low if low < span.min else high, limit=span.text,
                       fix=f"Clamp the delays to {span.text} steps in training (netx clamps "
                           f"larger ones silently), or move the extra latency into the frame.")]
    guaranteed = profile.timing.delay_guaranteed_steps
    if guaranteed is not None and high > guaranteed.max:
        return [breach(guaranteed, check="timing.delay_guaranteed", layer=layer.name,
                       value=high, limit=guaranteed.text, severity="warning",
                       fix=f"Delays above {guaranteed.max} fit only on cores with spare "
                           f"compartments: keep them within {guaranteed.text} or expect more cores.")]
    return []


def _refractory(layer: NetxLayer, profile: Profile) -> list[Finding]:
    if "refDelay" not in layer.neuron:
        return []
    span, value = profile.timing.refractory_steps, layer.neuron["refDelay"]
    if not _whole(value):
        return [note(check="timing.whole_steps", layer=layer.name, value=value, limit="whole steps",
                     source=WHOLE_STEPS, severity="error",
                     fix="Set the refractory delay to a whole number of steps.")]
    if value not in span:
        return [breach(span, check="timing.refractory_range", layer=layer.name, value=value,
                       limit=span.text,
                       fix=f"Keep the refractory delay within {span.text} steps.")]
    return []


def _whole(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and float(value).is_integer()
