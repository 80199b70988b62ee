"""Data sets as ``uint8``/``uint16 (N, C, H, W)`` images and integer labels, with a fixed split."""
from neurodeploy.core.data.loaders import load_split
from neurodeploy.core.data.sets import ImageSet, Split

__all__ = ["ImageSet", "Split", "load_split"]
