"""Data sets as ``uint8``/``uint16 (N, C, H, W)`` images and integer labels, with a fixed split."""
from neurodeploy.data.sets import ImageSet, Split, load_split

__all__ = ["ImageSet", "Split", "load_split"]
