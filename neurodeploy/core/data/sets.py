"""The image-set type every loader returns, the train/test split, and the checks a split must pass."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from neurodeploy.core.errors import DataError

IMAGE_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16))


@dataclass(frozen=True)
class ImageSet:
    """Images ``uint8`` or ``uint16 (N, C, H, W)`` and labels ``int64 (N,)``, checked on creation.

    ``uint16`` carries intensities of more than 8 bits (``encoding.n_bits`` up to 16); the
    encoder checks the values against the configured ``n_bits``.
    """

    images: np.ndarray
    labels: np.ndarray
    source: str = "images"

    def __post_init__(self) -> None:
        if self.images.dtype not in IMAGE_DTYPES:
            raise DataError(f"{self.source}: images have dtype {self.images.dtype}; expected uint8 "
                            f"(up to 8 bits) or uint16 (up to 16 bits)")
        if self.images.ndim != 4:
            raise DataError(f"{self.source}: images have shape {self.images.shape}; "
                            f"expected rank 4 (N, C, H, W)")
        if self.labels.shape != (len(self.images),):
            raise DataError(f"{self.source}: {len(self.labels)} labels for {len(self.images)} images")

    def __len__(self) -> int:
        return len(self.images)

    def head(self, count: int) -> "ImageSet":
        return ImageSet(self.images[:count], self.labels[:count], self.source)


@dataclass(frozen=True)
class Split:
    train: ImageSet
    test: ImageSet
    num_classes: int
    description: dict[str, Any]

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.train.images.shape[1:])  # type: ignore[return-value]

    def hold_out(self, fraction: float, seed: int) -> tuple["Split", ImageSet]:
        """Carve a seeded validation set from the training images (stratified when every
        class has two or more), so a choice such as an exit threshold never sees the test
        split; returns the split that trains on the rest, and the validation set."""
        from sklearn.model_selection import train_test_split

        if not 0 < fraction < 1:
            raise DataError(f"{self.train.source}: validation fraction {fraction}; expected 0 < fraction < 1")
        _, counts = np.unique(self.train.labels, return_counts=True)
        train_x, valid_x, train_y, valid_y = train_test_split(
            self.train.images, self.train.labels, test_size=fraction, random_state=seed,
            stratify=self.train.labels if counts.min() >= 2 else None)
        description = {**self.description, "train_samples": len(train_x), "validation_samples": len(valid_x),
                       "validation_fraction": fraction}
        train = ImageSet(train_x, train_y, self.train.source)
        return Split(train, self.test, self.num_classes, description), ImageSet(valid_x, valid_y, "validation")


def check_splits(train: ImageSet, test: ImageSet) -> None:
    """Train and test images that one network can take: both non-empty, one image shape
    and dtype, labels that are class indices; checked before anything is trained."""
    for split in (train, test):
        if len(split) == 0:
            raise DataError(f"{split.source}: no images; expected at least one")
        if split.labels.min() < 0:
            raise DataError(f"{split.source}: label {int(split.labels.min())} is negative; expected class indices 0..")
    if train.images.shape[1:] != test.images.shape[1:] or train.images.dtype != test.images.dtype:
        raise DataError(f"{test.source}: images of shape {test.images.shape[1:]} ({test.images.dtype}) "
                        f"but {train.source} holds {train.images.shape[1:]} ({train.images.dtype}); "
                        f"expected one shape (C, H, W) and dtype for both")
    if min(train.images.shape[2:]) < 1:
        raise DataError(f"{train.source}: images of shape {train.images.shape[1:]}; expected positive sizes")
