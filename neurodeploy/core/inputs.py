"""What a network is fed: images through an encoder, raw spike arrays, or input biases.

Three kinds, one interface (``samples``, ``frame_steps``, ``labels``, ``head``):

- :class:`ImageInput`: ``uint8``/``uint16`` images ``(N, C, H, W)`` encoded by the frame
  schedule (on Lava by the generator process, in the emulator by the torch encoder).
- :class:`SpikeInput`: spikes ``(N, T, *shape)`` as bool, fed to the first synaptic layer
  step by step; ``shape`` in torch's CHW order (a file in netx's WHC order is turned
  round when loaded).
- :class:`BiasInput`: one bias mantissa array ``(N, *shape)`` per sample for a network
  whose first layer is netx's ``Input`` block with a neuron, held for ``T`` steps, as
  lava-dl's own netx tests drive such networks.

Arrays from files are checked here, before any backend starts: a wrong rank, shape,
dtype or value is one :class:`~neurodeploy.core.errors.InputError` line naming the file, the
shape expected and the shape found. A file is bounded before its data is read: a FIFO or
device is refused by type, and each array's header (shape x dtype) must fit
:data:`MAX_ARRAY_BYTES` and the bytes the file (or ``.npz`` member) holds. numpy only.
"""
from __future__ import annotations

import math
import struct
import zipfile
import zlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Optional, Union

import numpy as np

from neurodeploy.core.encoding.schedule import FrameSchedule
from neurodeploy.core.errors import InputError, NetworkFileError, first_line, shown
from neurodeploy.core.paths import input_file, shown_path

if TYPE_CHECKING:
    from neurodeploy.core.netxfile import NetxNetwork

LAYOUTS = ("chw", "whc")
#: Lava's LIF holds ``bias_mant`` as a signed 13-bit integer.
BIAS_MANTISSA_LIMIT = 1 << 12
#: Most steps a sample may take (bounds memory and run time before anything starts).
MAX_STEPS = 1 << 16
#: Largest array a file may hold, by its header's shape x dtype, checked before loading.
MAX_ARRAY_BYTES = 1 << 31

_ZIP_MAGIC, _EMPTY_ZIP_MAGIC = b"PK\x03\x04", b"PK\x05\x06"
_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
#: What numpy and zipfile raise on a corrupt, truncated or hostile file.
_READ_ERRORS = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, struct.error,
                NotImplementedError, RuntimeError, OverflowError, KeyError)


@dataclass(frozen=True)
class ImageInput:
    """Integer images encoded by ``schedule``; a rate code draws sample ``first + k``'s
    spikes from (``seed``, ``first + k``), so a shard (``first`` its offset) gets the spikes
    that sample gets in the whole set."""

    images: np.ndarray
    schedule: FrameSchedule
    seed: int = 0
    labels: Optional[np.ndarray] = None
    first: int = 0

    kind = "images"

    @property
    def samples(self) -> int:
        return len(self.images)

    @property
    def frame_steps(self) -> int:
        return self.schedule.frame_steps

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.images.shape[1:])

    def head(self, count: Optional[int]) -> "ImageInput":
        return self if count is None else replace(self, images=self.images[:count],
                                                  labels=_head(self.labels, count))

    def spikes(self, start: int = 0, stop: Optional[int] = None, dtype: Any = None) -> Any:
        """Samples ``start .. stop - 1`` encoded, ``(B, frame_steps, *shape)`` torch of
        ``dtype`` (default bool): the one place a backend turns images into spikes."""
        import torch

        from neurodeploy.core.encoding import encode_steps

        return encode_steps(self.images[start:stop], self.schedule, seed=self.seed, first=self.first + start,
                            dtype=torch.bool if dtype is None else dtype)


@dataclass(frozen=True)
class SpikeInput:
    spikes: np.ndarray
    labels: Optional[np.ndarray] = None

    kind = "spikes"

    def __post_init__(self) -> None:
        if self.spikes.dtype != np.bool_ or self.spikes.ndim < 3:
            raise InputError(f"spikes must be bool (N, T, *shape), got {self.spikes.dtype} "
                             f"{self.spikes.shape}")

    @property
    def samples(self) -> int:
        return len(self.spikes)

    @property
    def frame_steps(self) -> int:
        return int(self.spikes.shape[1])

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.spikes.shape[2:])

    def head(self, count: Optional[int]) -> "SpikeInput":
        return self if count is None else replace(self, spikes=self.spikes[:count],
                                                  labels=_head(self.labels, count))


@dataclass(frozen=True)
class BiasInput:
    bias: np.ndarray
    steps: int
    labels: Optional[np.ndarray] = None

    kind = "bias"

    def __post_init__(self) -> None:
        if not 1 <= self.steps <= MAX_STEPS:
            raise InputError(f"steps={self.steps}: expected 1..{MAX_STEPS} steps per sample")
        if self.bias.dtype.kind not in "iu" or self.bias.ndim < 2:
            raise InputError(f"bias must be integers (N, *shape), got {self.bias.dtype} {self.bias.shape}")
        if self.bias.size and np.abs(self.bias.astype(np.int64)).max() >= BIAS_MANTISSA_LIMIT:
            worst = int(np.abs(self.bias.astype(np.int64)).max())
            raise InputError(f"bias mantissa |{worst}| is beyond Lava's signed 13-bit range "
                             f"(-{BIAS_MANTISSA_LIMIT}..{BIAS_MANTISSA_LIMIT - 1})")

    @property
    def samples(self) -> int:
        return len(self.bias)

    @property
    def frame_steps(self) -> int:
        return self.steps

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.bias.shape[1:])

    def head(self, count: Optional[int]) -> "BiasInput":
        return self if count is None else replace(self, bias=self.bias[:count],
                                                  labels=_head(self.labels, count))


Inputs = Union[ImageInput, SpikeInput, BiasInput]


def as_inputs(data: Union[Inputs, np.ndarray], schedule: Optional[FrameSchedule] = None,
              seed: int = 0) -> Inputs:
    """An input object as given, or ``uint8``/``uint16`` images with their ``schedule``."""
    if isinstance(data, (ImageInput, SpikeInput, BiasInput)):
        return data
    if schedule is None:
        raise InputError("images need a frame schedule (schedule=FrameSchedule(...)) to be encoded")
    return ImageInput(np.asarray(data), schedule, seed)


def load_spikes(path: str | Path, layout: str = "chw", steps: Optional[int] = None) -> SpikeInput:
    """Spikes ``(N, T, *shape)`` from ``.npy`` or ``.npz`` (key ``spikes``, optional
    ``labels``), bool or 0/1 numbers, ``shape`` in ``layout`` (``chw`` or netx's ``whc``).
    ``steps`` checks T."""
    path = Path(path)
    array, labels = _load(path, "spikes")
    if array.ndim < 3:
        raise InputError(f"{path}: spikes of shape {array.shape}; expected (N, T, *input_shape)")
    _some_samples(path, array, "spikes")
    if steps is not None and array.shape[1] != steps:
        raise InputError(f"{path}: spikes of shape {array.shape} hold {array.shape[1]} steps; "
                         f"--steps says {steps}")
    if not 1 <= array.shape[1] <= MAX_STEPS:
        raise InputError(f"{path}: {array.shape[1]} steps per sample; expected 1..{MAX_STEPS}")
    return SpikeInput(_to_chw(_binary(path, array), layout, path, leading=2), _labels(path, labels, len(array)))


def load_bias(path: str | Path, steps: int, layout: str = "chw") -> BiasInput:
    """Input-block biases ``(N, *shape)`` from ``.npy``/``.npz`` (key ``bias``), whole numbers."""
    path = Path(path)
    array, labels = _load(path, "bias")
    if array.ndim < 2:
        raise InputError(f"{path}: bias of shape {array.shape}; expected (N, *input_shape)")
    _some_samples(path, array, "bias")
    if array.dtype.kind == "f":
        if not np.isfinite(array).all():
            raise InputError(f"{path}: bias holds NaN or infinite values")
        if not np.array_equal(array, np.round(array)):
            raise InputError(f"{path}: bias holds fractions; Lava's bias mantissa is a whole number")
        array = array.astype(np.int64)
    elif array.dtype.kind not in "iub":
        raise InputError(f"{path}: bias of dtype {array.dtype}; expected whole numbers")
    try:
        return BiasInput(_to_chw(array.astype(np.int64), layout, path, leading=1), int(steps),
                         _labels(path, labels, len(array)))
    except InputError as error:
        raise InputError(f"{path}: {error}") from None


def load_labels(path: str | Path, samples: int) -> np.ndarray:
    """Integer labels ``(N,)`` from ``.npy`` or ``.npz`` (key ``labels``)."""
    path = Path(path)
    array, _ = _load(path, "labels")
    return _labels(path, array, samples)


def check_drive(network: "NetxNetwork", inputs: Inputs) -> None:
    """Refuse, before any backend starts, inputs the network's first block cannot take:
    netx's Input block is driven by biases only (netx leaves its ``inp`` unconnected),
    other networks by spikes or images of the shape their first layer takes."""
    from neurodeploy.core.blocks import runnable_blocks

    blocks = runnable_blocks(network)
    if not blocks:
        raise NetworkFileError(f"{network.path}: no layer that netx builds a block for (types: "
                               f"{[layer.type for layer in network.layers]})")
    first = blocks[0]
    if first.is_input and inputs.kind != "bias":
        raise InputError(f"{network.path}: layer {first.name} is netx's Input block with a neuron, "
                         f"driven by its bias; give biases (--bias) instead of {inputs.kind}")
    if inputs.kind == "bias" and not first.is_input:
        raise InputError(f"{network.path}: biases drive netx's Input block with a neuron, and "
                         f"this network has none; give spikes or images")
    whc = first.layer.shape if first.is_input else network.input_shape
    if inputs.kind != "images" and whc and (first.is_input or first.layer.type != "conv"):
        check_fits(inputs, tuple(reversed(whc)), str(network.path))


def check_fits(inputs: Inputs, expected: tuple[int, ...], where: str) -> None:
    """Raise unless each sample of ``inputs`` has the torch-layout ``expected`` shape."""
    if tuple(inputs.sample_shape) != tuple(expected):
        lead = "(N, T, " if inputs.kind == "spikes" else "(N, "
        raise InputError(f"{where}: {inputs.kind} of shape {lead}{_dims(inputs.sample_shape)}) do not fit "
                         f"the network's input; expected {lead}{_dims(expected)}) in CHW order")


def _load(path: Path, key: str) -> tuple[np.ndarray, Optional[np.ndarray]]:
    """Array ``key`` (and ``labels``, when an ``.npz`` holds both) from ``path``, each
    bounded by its header before a byte of data is read."""
    path = input_file(path, f"{key} file", InputError)
    try:
        with open(path, "rb") as stream:
            magic = stream.read(len(_ZIP_MAGIC))
            if magic not in (_ZIP_MAGIC, _EMPTY_ZIP_MAGIC):
                stream.seek(0)
                _check_header(path, key, stream, path.stat().st_size)
                stream.seek(0)
                return np.load(stream, allow_pickle=False), None
        with zipfile.ZipFile(path) as archive:
            members = {name[:-4]: info for info in archive.infolist()
                       for name in [info.filename] if name.endswith(".npy")}
            chosen = key if key in members else (next(iter(members)) if len(members) == 1 else None)
            if chosen is None:
                raise InputError(f"{shown_path(path)}: holds {sorted(members)[:8]}; expected an array named {key!r}")
            wanted = [chosen] + (["labels"] if "labels" in members and chosen != "labels" else [])
            arrays = [_member(path, archive, members[name], name) for name in wanted]
    except _READ_ERRORS as error:
        raise InputError(f"{shown_path(path)}: not a readable .npy or .npz array file ({first_line(error, 200)})") from None
    return arrays[0], (arrays[1] if len(arrays) > 1 else None)


def _member(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> np.ndarray:
    """One ``.npy`` member of an ``.npz``, its header checked against the member's size."""
    with archive.open(info) as stream:
        _check_header(path, name, stream, info.file_size)
    with archive.open(info) as stream:
        return np.lib.format.read_array(stream, allow_pickle=False)


def _check_header(path: Path, name: str, stream: BinaryIO, size: int) -> None:
    """Refuse an array whose header claims more than :data:`MAX_ARRAY_BYTES`, or more
    bytes than ``size`` (the file's or the zip member's) holds; leaves ``stream`` after it."""
    version = np.lib.format.read_magic(stream)
    if version not in _HEADER_READERS:
        raise InputError(f"{shown_path(path)}: {name!r} is .npy format version {version}; expected 1.0 or 2.0")
    shape, _, dtype = _HEADER_READERS[version](stream)
    if dtype.hasobject:
        raise InputError(f"{shown_path(path)}: {name!r} holds Python objects ({dtype}); expected numbers")
    claimed = math.prod(shape) * dtype.itemsize
    if claimed > MAX_ARRAY_BYTES:
        raise InputError(f"{shown_path(path)}: {name!r} claims shape {shown(shape)} of {dtype} ({claimed} bytes); "
                         f"at most {MAX_ARRAY_BYTES} bytes are loaded")
    held = size - stream.tell()
    if claimed > held:
        raise InputError(f"{shown_path(path)}: {name!r} claims shape {shown(shape)} of {dtype} ({claimed} bytes) "
                         f"and holds {max(held, 0)}: truncated or corrupt")


def _some_samples(path: Path, array: np.ndarray, key: str) -> None:
    """A file of inputs holds at least one sample, each of at least one element."""
    if not array.size:
        raise InputError(f"{shown_path(path)}: {key} of shape {array.shape} hold no "
                         f"{'samples' if not len(array) else 'values'}; expected at least one sample")


def _binary(path: Path, array: np.ndarray) -> np.ndarray:
    if array.dtype == np.bool_:
        return array
    if array.dtype.kind not in "iuf":
        raise InputError(f"{path}: spikes of dtype {array.dtype}; expected bool or 0/1 numbers")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise InputError(f"{path}: spikes hold NaN or infinite values; expected 0/1")
    bad = (array != 0) & (array != 1)
    if bad.any():
        raise InputError(f"{path}: spikes hold {array[bad].flat[0].item()!r}; expected only 0 and 1 "
                         f"(graded spikes are not supported)")
    return array.astype(bool)


def _to_chw(array: np.ndarray, layout: str, path: Path, leading: int) -> np.ndarray:
    if layout not in LAYOUTS:
        raise InputError(f"layout {layout!r}: expected one of {LAYOUTS}")
    if layout == "whc" and array.ndim - leading > 1:
        axes = tuple(range(leading)) + tuple(reversed(range(leading, array.ndim)))
        array = array.transpose(axes)
    return np.ascontiguousarray(array)


def _labels(path: Path, labels: Optional[np.ndarray], samples: int) -> Optional[np.ndarray]:
    if labels is None:
        return None
    if labels.ndim != 1 or labels.dtype.kind not in "iu" or len(labels) != samples:
        raise InputError(f"{path}: labels of shape {labels.shape} and dtype {labels.dtype}; "
                         f"expected {samples} integers")
    return labels.astype(np.int64)


def _head(labels: Optional[np.ndarray], count: int) -> Optional[np.ndarray]:
    return None if labels is None else labels[:count]


def _dims(shape: tuple[int, ...]) -> str:
    return ", ".join(str(v) for v in shape)
