"""Spike encodings and the frame schedule they share with every other part."""
from neurodeploy.encoding.encoders import (bit_plane_train, bit_planes, check_images, encode,
                                           from_unit_float, rate, ttfs, ttfs_step)
from neurodeploy.encoding.schedule import ENCODINGS, FrameSchedule, StepPhase

__all__ = ["ENCODINGS", "FrameSchedule", "StepPhase", "bit_plane_train", "bit_planes",
           "check_images", "encode", "from_unit_float", "rate", "ttfs", "ttfs_step"]
