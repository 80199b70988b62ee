"""Spike encodings and the frame schedule they share with every other part.

The schedule is light; the encoders need torch, so they load on first use (the validator
and `neurodeploy --help` read schedules without paying for torch).
"""
from typing import Any

from neurodeploy.core.encoding.schedule import ENCODINGS, FrameSchedule, StepPhase

_ENCODERS = ("bit_plane_train", "bit_planes", "check_images", "check_intensities", "encode", "encode_steps",
             "from_unit_float", "image_dtype", "level_steps", "rate", "ttfs", "ttfs_step")

__all__ = ["ENCODINGS", "FrameSchedule", "StepPhase", *_ENCODERS]


def __getattr__(name: str) -> Any:
    if name in _ENCODERS:
        from neurodeploy.core.encoding import encoders

        return getattr(encoders, name)
    raise AttributeError(f"module 'neurodeploy.core.encoding' has no attribute {name!r}")
