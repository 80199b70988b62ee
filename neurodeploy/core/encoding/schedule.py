"""The frame schedule: how many steps one sample takes and what happens in each.

The encoder, the Lava generator process, the Lava runner, the DA-SSDP learning windows
and the hardware validator all read timing from this one object; none recomputes it.

A frame is ``temporal_steps`` steps of the temporal part (rate or TTFS), then one window
of ``steps_per_plane`` steps per transmitted bit-plane (hybrid encodings only), then
``gap`` silent steps that let the network drain before its state is reset.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from neurodeploy.core.errors import ConfigError, shown

#: Each encoding: the code of its temporal part (``rate`` or ``ttfs``, which the encoders,
#: the Lava generator and the emulator each implement) and whether bit-plane windows follow.
#: The one table an encoding is added to; a name not in it is refused, never read as TTFS.
ENCODING_TABLE: dict[str, tuple[str, bool]] = {
    "rate": ("rate", False), "ttfs": ("ttfs", False),
    "rate_bit": ("rate", True), "temporal_bit": ("ttfs", True),
}
ENCODINGS = tuple(ENCODING_TABLE)
#: The temporal codes the torch encoders, the Lava generator and the emulator each implement;
#: a table line with another code is refused until all three implement it.
TEMPORAL_CODES = ("rate", "ttfs")
ORDERS = ("msb_first", "lsb_first")
PLANE_FILLS = ("first", "full")
MAX_BITS = 16
"""Widest pixel intensity: uint16 images, 16 bit-planes."""
MAX_FRAME_STEPS = 1 << 16
"""Most steps a frame may take, whatever file it comes from (bounds every run's memory)."""


@dataclass(frozen=True)
class StepPhase:
    """What one step of a frame carries.

    ``part`` is ``"temporal"``, ``"plane"`` or ``"gap"``. For ``"temporal"``, ``index`` is
    the step inside the temporal part; for ``"plane"`` it is the bit index carried (0 is
    the LSB) and ``emits`` says whether a set bit spikes on this step of its window.
    """

    part: str
    index: int = 0
    emits: bool = False


@dataclass(frozen=True)
class FrameSchedule:
    """Timing of one encoded sample, in whole time steps."""

    encoding: str = "temporal_bit"
    temporal_steps: int = 8
    n_bits: int = 8
    steps_per_plane: int = 1
    gap: int = 0
    order: str = "msb_first"
    plane_fill: str = "first"
    drop_lsb: int = 0

    def __post_init__(self) -> None:
        _require(self.encoding in ENCODING_TABLE, "encoding", self.encoding, f"one of {tuple(ENCODING_TABLE)}")
        code = ENCODING_TABLE[self.encoding][0]
        _require(code in TEMPORAL_CODES, "encoding", self.encoding,
                 f"a temporal code in {TEMPORAL_CODES}, not {code!r}: the encoders, the Lava generator and the "
                 f"emulator implement no other")
        _require(self.order in ORDERS, "order", self.order, f"one of {ORDERS}")
        _require(self.plane_fill in PLANE_FILLS, "plane_fill", self.plane_fill,
                 f"one of {PLANE_FILLS}")
        for name, low in (("temporal_steps", 1), ("n_bits", 1), ("steps_per_plane", 1),
                          ("gap", 0), ("drop_lsb", 0)):
            value = getattr(self, name)
            _require(isinstance(value, int) and not isinstance(value, bool) and low <= value <= MAX_FRAME_STEPS,
                     name, value, f"a whole number of steps in {low}..{MAX_FRAME_STEPS}")
        _require(self.n_bits <= MAX_BITS, "n_bits", self.n_bits, f"at most {MAX_BITS}")
        _require(self.drop_lsb < self.n_bits, "drop_lsb", self.drop_lsb,
                 f"fewer than n_bits={self.n_bits}")
        _require(self.frame_steps <= MAX_FRAME_STEPS, "frame_steps", self.frame_steps, f"at most {MAX_FRAME_STEPS}")

    @property
    def is_hybrid(self) -> bool:
        return ENCODING_TABLE[self.encoding][1]

    @property
    def temporal_kind(self) -> str:
        """``"rate"`` or ``"ttfs"``: the code used in the temporal part."""
        return ENCODING_TABLE[self.encoding][0]

    @property
    def max_intensity(self) -> int:
        return 2 ** self.n_bits - 1

    @property
    def planes(self) -> tuple[int, ...]:
        """Bit indices sent, in the order their windows follow the temporal part."""
        if not self.is_hybrid:
            return ()
        kept = range(self.drop_lsb, self.n_bits)
        return tuple(reversed(kept)) if self.order == "msb_first" else tuple(kept)

    @property
    def plane_start(self) -> int:
        """First step of the first bit-plane window."""
        return self.temporal_steps

    @property
    def active_steps(self) -> int:
        """Steps that may carry input spikes (temporal part plus plane windows)."""
        return self.temporal_steps + len(self.planes) * self.steps_per_plane

    @property
    def frame_steps(self) -> int:
        """Steps one sample occupies, gap included."""
        return self.active_steps + self.gap

    def plane_window(self, bit: int) -> tuple[int, int]:
        """``(start, stop)`` steps of the window that carries ``bit``."""
        position = self.planes.index(bit)
        start = self.plane_start + position * self.steps_per_plane
        return start, start + self.steps_per_plane

    def phase(self, step: int) -> StepPhase:
        """What step ``step`` (0-based, inside the frame) carries."""
        if not 0 <= step < self.frame_steps:
            raise ValueError(f"step {step} outside the frame of {self.frame_steps} steps")
        if step < self.temporal_steps:
            return StepPhase("temporal", step)
        if step < self.active_steps:
            offset = step - self.plane_start
            position, within = divmod(offset, self.steps_per_plane)
            return StepPhase("plane", self.planes[position],
                             emits=self.plane_fill == "full" or within == 0)
        return StepPhase("gap")

    def with_gap(self, gap: int) -> "FrameSchedule":
        return FrameSchedule(**{**asdict(self), "gap": gap})

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "frame_steps": self.frame_steps,
                "active_steps": self.active_steps, "planes": list(self.planes)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "FrameSchedule":
        """Build from a manifest or config dict; derived keys are checked, not trusted."""
        names = {f.name for f in fields(cls)}
        derived = {"frame_steps", "active_steps", "planes"}
        unknown = set(data) - names - derived
        if unknown:
            raise ConfigError(f"frame schedule: unknown key(s) {shown(sorted(unknown))}; "
                              f"expected some of {sorted(names)}")
        schedule = cls(**{k: v for k, v in data.items() if k in names})
        if "frame_steps" in data and data["frame_steps"] != schedule.frame_steps:
            raise ConfigError(f"frame schedule: frame_steps={shown(data['frame_steps'])} disagrees "
                              f"with the {schedule.frame_steps} steps its fields define")
        return schedule


def _require(ok: bool, field: str, value: Any, expected: str) -> None:
    if not ok:
        raise ConfigError(f"frame schedule: {field}={shown(value)} is invalid; expected {expected}")
