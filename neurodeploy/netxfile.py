"""A typed, read-only view of any netx ``.net`` file (lava-dl's HDF5 network exchange).

lava-dl's own reader (``lava.lib.dl.netx.hdf5.Network``) builds Lava processes and fails
on the first layer type it cannot run. The validator, the Lava runner and the emulator
need the file's contents without building anything, including layers netx cannot run,
so this module reads every layer once into small frozen dataclasses, in the spirit of
NIR: plain numpy arrays and tuples, no h5py handles kept open.

Layout conventions follow ``netx/hdf5.py``:

- ``shape`` is given in netx's (x, y, z) = WHC order: the file stores slayer's CHW and
  netx reverses it (``shape[::-1]``). A dense layer's shape is ``(n,)``.
- ``kernel``, ``stride``, ``padding`` and ``dilation`` are (x, y), reversed like ``shape``.
- ``weight`` is kept as stored: dense ``(out, in)``, conv ``(out, in / groups, kH, kW)``.
- ``delay`` is kept as stored (slayer writes one axonal delay per output neuron).

Every file is checked as a schema while it is read (:func:`check_layer`): sizes are
bounded before a dataset is read, shapes are positive and agree with the weights, every
number is finite, and each layer type has the datasets netx reads for it. A file that
fails is unusable input (:class:`NetworkFileError`), never a network to validate.
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Optional

import h5py
import numpy as np

from neurodeploy.errors import NetworkFileError, shown

#: Types whose neurons each take every input of the flattened previous layer.
DENSE_TYPES = ("dense", "dense_rec", "dense_comp")
#: Types whose synapses are a kernel slid over a (x, y, channel) input.
KERNEL_TYPES = ("conv", "pool", "convT", "unpool")

Pair = tuple[int, int]

#: Most values one dataset may hold (checked before it is read: a small compressed file
#: can declare terabytes).
MAX_DATASET_VALUES = 1 << 26
#: Most neurons one layer may have (a Loihi 2 chip holds about 2**20).
MAX_LAYER_NEURONS = 1 << 22
#: Largest kernel, stride, padding or dilation along one axis.
MAX_GEOMETRY = 1 << 12
#: Datasets netx reads unconditionally for each layer type it builds.
REQUIRED = {"input": ("shape",), "dense": ("shape", "weight"), "dense_rec": ("shape", "weight", "weight_rec"),
            "dense_comp": ("shape", "weight"), "conv": ("shape", "weight", "neuron")}
#: Neuron parameters netx reads for each neuron type.
NEURON_REQUIRED = {"CUBA": ("vThMant", "iDecay", "vDecay"), "LOIHI": ("vThMant", "iDecay", "vDecay")}
#: Neuron parameters netx and the checks read as numbers.
NEURON_NUMBERS = ("vThMant", "iDecay", "vDecay", "refDelay", "messageBits", "period", "decay",
                  "sin_decay", "cos_decay", "gradedSpike")


@dataclass(frozen=True, eq=False)
class NetxLayer:
    """One ``layer/{index}`` group of a netx file, decoded."""

    index: int
    name: str
    type: str
    shape: tuple[int, ...]
    input_shape: Optional[tuple[int, ...]]
    weight: Optional[np.ndarray] = None
    weight_rec: Optional[np.ndarray] = None
    weight_imag: Optional[np.ndarray] = None
    bias: Optional[np.ndarray] = None
    delay: Optional[np.ndarray] = None
    neuron: dict[str, Any] = field(default_factory=dict)
    kernel: Optional[Pair] = None
    stride: Optional[Pair] = None
    padding: Optional[Pair] = None
    dilation: Optional[Pair] = None
    groups: Optional[int] = None

    @property
    def n_neurons(self) -> int:
        """Neurons the layer places on chip; ``flatten`` and friends place none."""
        if self.type == "input":
            return _size(self.shape) if self.neuron else 0
        return _size(self.shape) if self.is_synaptic else 0

    @property
    def is_synaptic(self) -> bool:
        """Whether the layer has synapses (an input layer's ``weight`` is a scalar gain)."""
        return self.weight is not None and self.type != "input"

    @property
    def neuron_type(self) -> Optional[str]:
        """The neuron model (``CUBA``, ``SDNN``, ...); netx's default for a dense layer
        without a neuron group is a non-leaky CUBA integrator."""
        if self.neuron:
            return str(self.neuron.get("type"))
        return "CUBA" if self.type in DENSE_TYPES and self.is_synaptic else None

    @property
    def fan_in(self) -> int:
        """Synapses per neuron (feed-forward plus recurrent)."""
        if not self.is_synaptic:
            return 0
        if self.type in KERNEL_TYPES:
            return int(np.prod(self.weight.shape[1:]))
        recurrent = self.weight_rec.size // max(self.n_neurons, 1) if self.weight_rec is not None else 0
        return self.weight.size // max(self.n_neurons, 1) + recurrent

    @property
    def n_synapses(self) -> int:
        return self.n_neurons * self.fan_in

    @property
    def graded(self) -> bool:
        """Whether netx makes the layer send graded (multi-bit) spikes."""
        return self.message_bits > 0

    @property
    def message_bits(self) -> int:
        """Graded-spike payload bits as netx sets them (SDNN default 16, else 0)."""
        if "messageBits" in self.neuron:
            return int(self.neuron["messageBits"])
        return 16 if self.neuron_type == "SDNN" else 0


@dataclass(frozen=True, eq=False)
class NetxNetwork:
    """All layers of a netx file, in file order."""

    path: Path
    layers: tuple[NetxLayer, ...]
    raw: bytes = field(default=b"", repr=False)   # the file's bytes: netx builds from these

    @property
    def input_shape(self) -> Optional[tuple[int, ...]]:
        return self.layers[0].input_shape

    @property
    def hops(self) -> int:
        """Steps from the input to the output block (see :mod:`neurodeploy.blocks`)."""
        from neurodeploy.blocks import runnable_blocks

        blocks = runnable_blocks(self)
        return blocks[-1].hops if blocks else 0

    @property
    def n_neurons(self) -> int:
        return sum(layer.n_neurons for layer in self.layers)

    @property
    def n_synapses(self) -> int:
        return sum(layer.n_synapses for layer in self.layers)

    def with_input_shape(self, input_shape: tuple[int, ...]) -> "NetxNetwork":
        """The network fed ``input_shape`` (WHC), as ``netx.hdf5.Network(input_shape=...)``;
        :class:`NetworkFileError` if the first layer cannot take it."""
        try:
            first = _given_input(self.layers[0], input_shape)
        except NetworkFileError as error:
            raise NetworkFileError(f"{self.path}: {error}") from None
        return replace(self, layers=(first, *self.layers[1:]))

    def layer(self, name: str) -> NetxLayer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(f"{self.path}: no layer named {name!r}; layers are "
                       f"{[layer.name for layer in self.layers]}")


def read_netx(path: str | Path, input_shape: Optional[tuple[int, ...]] = None) -> NetxNetwork:
    """Read a netx file, once: its bytes are kept for netx to build from. ``input_shape`` (WHC) overrides the inferred input of the first
    layer, as ``netx.hdf5.Network(input_shape=...)`` does, and is checked against it.

    Raises :class:`NetworkFileError` (one line naming the file) when the file is missing,
    not HDF5, has no layers, or a layer lacks its ``type``; unknown layer types are read.
    """
    path = Path(path)
    if not path.is_file():
        raise NetworkFileError(f"{path}: network file not found")
    try:
        with open(path, "rb") as stream:
            raw = stream.read()
        handle = h5py.File(io.BytesIO(raw), "r")
    except _H5PY_ERRORS as error:
        raise NetworkFileError(f"{path}: not an HDF5 file ({_first_line(error)[:120]})") from None
    with handle:
        try:
            groups = _layer_groups(path, handle)
        except _H5PY_ERRORS as error:
            raise NetworkFileError(f"{path}: unreadable 'layer' group ({_first_line(error)[:120]})") from None
        layers: list[NetxLayer] = []
        for index, group in enumerate(groups):
            previous = layers[-1] if layers else None
            try:
                layers.append(_read_layer(index, group, previous))
            except NetworkFileError as error:
                raise NetworkFileError(f"{path}: {error}") from None
            except _H5PY_ERRORS as error:
                raise NetworkFileError(f"{path}: layer/{index} is malformed "
                                       f"({_first_line(error)[:120]})") from None
    network = NetxNetwork(path=path, layers=tuple(layers), raw=raw)
    return network.with_input_shape(input_shape) if input_shape is not None else network


def conv_output_shape(input_whc: tuple[int, ...], layer: NetxLayer) -> Pair:
    """(x, y) size a kernel layer produces from ``input_whc`` (PyTorch arithmetic)."""
    return tuple(  # type: ignore[return-value]
        (input_whc[axis] + 2 * layer.padding[axis] - layer.dilation[axis] * (layer.kernel[axis] - 1) - 1)
        // layer.stride[axis] + 1
        for axis in (0, 1))


def _layer_groups(path: Path, handle: h5py.File) -> list[h5py.Group]:
    group = handle.get("layer")
    if not isinstance(group, h5py.Group) or len(group) == 0:
        raise NetworkFileError(f"{path}: no 'layer' group with layers; not a netx network")
    keys = sorted(group.keys(), key=lambda key: int(key) if key.isdigit() else -1)
    if keys != [str(i) for i in range(len(keys))]:
        raise NetworkFileError(f"{path}: 'layer' holds {keys}; expected groups 0..{len(keys) - 1}")
    return [group[key] for key in keys]


def _read_layer(index: int, group: h5py.Group, previous: Optional[NetxLayer]) -> NetxLayer:
    if "type" not in group:
        raise NetworkFileError(f"layer/{index} has no 'type'")
    kind = _text(_read(group, "type"))
    missing = [key for key in REQUIRED.get(kind, ()) if key not in group]
    if missing:
        raise NetworkFileError(f"layer/{index} ({kind}) lacks '{missing[0]}', which netx reads "
                               f"for every {kind} layer")
    arrays = {key: _array(group, key) for key in ("weight", "weight_rec", "bias", "delay")}
    imag = None
    if isinstance(group.get("weight"), h5py.Group):  # complex synapses: weight/real, weight/imag
        arrays["weight"], imag = _array(group, "weight/real"), _array(group, "weight/imag")
    geometry = {key: _pair(group, key) for key in ("stride", "padding", "dilation")}
    kernel = _pair(group, "kernelSize")
    if kernel is None and arrays["weight"] is not None and kind in KERNEL_TYPES:
        kernel = (int(arrays["weight"].shape[-1]), int(arrays["weight"].shape[-2]))
    layer = NetxLayer(
        index=index, name=f"{kind}{index}", type=kind,
        shape=_shape(group),
        input_shape=None,
        weight=arrays["weight"], weight_rec=arrays["weight_rec"], weight_imag=imag,
        bias=arrays["bias"], delay=arrays["delay"],
        neuron=_neuron(group), kernel=kernel,
        stride=geometry["stride"] or ((1, 1) if kernel else None),
        padding=geometry["padding"] or ((0, 0) if kernel else None),
        dilation=geometry["dilation"] or ((1, 1) if kernel else None),
        groups=_whole(group, "groups", 1, MAX_LAYER_NEURONS) if "groups" in group else None,
    )
    check_layer(layer)
    layer = replace(layer, input_shape=_fed_by(previous, layer) if previous else _implied_input(layer))
    if layer.input_shape is not None and min(layer.input_shape, default=1) < 1:
        raise NetworkFileError(f"layer/{index} ({kind}): its geometry implies an input of shape "
                               f"{layer.input_shape}; expected positive sizes")
    return layer


def check_layer(layer: NetxLayer) -> None:
    """The schema of one layer: finite numbers, weights that agree with the shape, the
    neuron parameters netx reads; raises :class:`NetworkFileError` naming the layer."""
    where = f"layer/{layer.index} ({layer.type})"
    for name in ("weight", "weight_rec", "weight_imag", "bias", "delay"):
        array = getattr(layer, name)
        if array is None:
            continue
        if name.startswith("weight") and array.size == 0:
            raise NetworkFileError(f"{where}: {name} is empty")
        if array.size and not np.isfinite(array).all():
            raise NetworkFileError(f"{where}: {name} holds NaN or infinite values")
    _check_neuron(layer, where)
    if layer.type in DENSE_TYPES:
        _check_dense(layer, where)
    elif layer.type in KERNEL_TYPES:
        _check_kernel(layer, where)
    elif layer.type == "input":
        for name in ("weight", "bias"):
            array = getattr(layer, name)
            if array is not None and array.size != 1:
                raise NetworkFileError(f"{where}: {name} has {array.size} values; netx reads one number")


def _check_neuron(layer: NetxLayer, where: str) -> None:
    if not layer.neuron:
        return
    kind = layer.neuron.get("type")
    if not isinstance(kind, str):
        raise NetworkFileError(f"{where}: neuron/type is {shown(kind)}; expected a name such as 'CUBA'")
    for key, value in layer.neuron.items():
        numbers = np.asarray(value)
        if numbers.dtype.kind not in "biuf":
            if key in NEURON_NUMBERS:
                raise NetworkFileError(f"{where}: neuron/{key} is {shown(value)}; expected a number")
            continue  # slayer writes names too (``activation``)
        if not np.isfinite(numbers).all():
            raise NetworkFileError(f"{where}: neuron/{key} is {shown(value)}; expected a finite number")
    missing = [key for key in NEURON_REQUIRED.get(kind, ()) if key not in layer.neuron]
    if missing:
        raise NetworkFileError(f"{where}: neuron/{missing[0]} is missing; netx reads it for {kind} neurons")


def _check_dense(layer: NetxLayer, where: str) -> None:
    if layer.weight is None:
        return
    n = _size(layer.shape)
    if layer.weight.ndim != 2 or layer.weight.shape[0] != n:
        raise NetworkFileError(f"{where}: weight has shape {layer.weight.shape}; expected "
                               f"({n}, inputs) for its shape {tuple(reversed(layer.shape))}")
    if layer.weight_rec is not None and layer.weight_rec.shape != (n, n):
        raise NetworkFileError(f"{where}: weight_rec has shape {layer.weight_rec.shape}; expected {(n, n)}")
    if layer.weight_imag is not None and layer.weight_imag.shape != layer.weight.shape:
        raise NetworkFileError(f"{where}: weight/imag has shape {layer.weight_imag.shape}; "
                               f"expected weight/real's {layer.weight.shape}")
    if layer.delay is not None and layer.delay.shape not in ((n,), (layer.weight.shape[1],), layer.weight.shape):
        raise NetworkFileError(f"{where}: delay has shape {layer.delay.shape}; expected one per "
                               f"neuron ({n},), per input ({layer.weight.shape[1]},) or per synapse")
    _check_bias(layer, where, (1, n))


def _check_kernel(layer: NetxLayer, where: str) -> None:
    for name in ("kernel", "stride", "dilation", "padding"):
        pair = getattr(layer, name)
        low = 0 if name == "padding" else 1
        if pair is not None and not all(low <= value <= MAX_GEOMETRY for value in pair):
            raise NetworkFileError(f"{where}: {name} {pair} is outside {low}..{MAX_GEOMETRY}")
    if layer.weight is None:
        return
    if len(layer.shape) != 3 or layer.weight.ndim != 4:
        raise NetworkFileError(f"{where}: shape {tuple(reversed(layer.shape))} and weight "
                               f"{layer.weight.shape}; expected (C, H, W) and (out, in, kH, kW)")
    channels = layer.shape[2]
    if layer.type in ("conv", "convT") and layer.weight.shape[0] != channels:
        raise NetworkFileError(f"{where}: weight has {layer.weight.shape[0]} output channels; "
                               f"its shape has {channels}")
    if layer.kernel != (layer.weight.shape[3], layer.weight.shape[2]):
        raise NetworkFileError(f"{where}: kernelSize {tuple(reversed(layer.kernel))} disagrees "
                               f"with the weight's {layer.weight.shape[2:]}")
    if layer.groups is not None and channels % layer.groups:
        raise NetworkFileError(f"{where}: groups={layer.groups} does not divide its {channels} channels")
    _check_bias(layer, where, (1, channels, layer.n_neurons))


def _check_bias(layer: NetxLayer, where: str, sizes: tuple[int, ...]) -> None:
    if layer.bias is not None and layer.bias.size not in sizes:
        raise NetworkFileError(f"{where}: bias has {layer.bias.size} values; expected one of {sorted(set(sizes))}")


def _fed_by(previous: NetxLayer, layer: NetxLayer) -> Optional[tuple[int, ...]]:
    """What the previous layer hands ``layer``: its output, flattened for a dense layer."""
    source = previous.shape or previous.input_shape
    return (_size(source),) if layer.type in DENSE_TYPES else source


def _given_input(layer: NetxLayer, given: tuple[int, ...]) -> NetxLayer:
    """The first layer fed ``given``; raises when its weights cannot take it."""
    given = tuple(int(v) for v in given)
    implied = _implied_input(layer)
    if implied is not None:
        if layer.type in KERNEL_TYPES:
            ok = len(given) == 3 and given[2] == implied[2] \
                and conv_output_shape(given, layer) == tuple(layer.shape[:2])
        else:
            ok = _size(given) == _size(implied)
        if not ok:
            raise NetworkFileError(f"input shape {given} disagrees with layer {layer.name}, "
                                   f"which takes {implied}")
    return replace(layer, input_shape=given)


def _implied_input(layer: NetxLayer) -> Optional[tuple[int, ...]]:
    """What a first layer's weights take; for a kernel layer the smallest such input."""
    if layer.type == "input":
        return layer.shape
    if layer.type in DENSE_TYPES and layer.weight is not None:
        return (layer.weight.size // max(_size(layer.shape), 1),)
    if layer.type in ("conv", "pool") and layer.weight is not None and len(layer.shape) == 3:
        channels = layer.shape[2] if layer.type == "pool" \
            else layer.weight.shape[1] * (layer.groups or 1)
        xy = [(layer.shape[axis] - 1) * layer.stride[axis] - 2 * layer.padding[axis]
              + layer.dilation[axis] * (layer.kernel[axis] - 1) + 1 for axis in (0, 1)]
        return (xy[0], xy[1], int(channels))
    return None


def _neuron(group: h5py.Group) -> dict[str, Any]:
    neuron = group.get("neuron")
    if not isinstance(neuron, h5py.Group):
        return {}
    return {key: _value(_read(neuron, key)) for key in neuron.keys()}


def _read(group: h5py.Group, key: str) -> Any:
    """A dataset's contents, its size checked before anything is allocated."""
    dataset = group.get(key)
    if not isinstance(dataset, h5py.Dataset):
        raise NetworkFileError(f"{group.name.lstrip('/')}/{key} is not a dataset")
    if dataset.size is not None and dataset.size > MAX_DATASET_VALUES:
        raise NetworkFileError(f"{dataset.name.lstrip('/')} declares {dataset.shape} = {dataset.size} "
                               f"values; at most {MAX_DATASET_VALUES} are read")
    return dataset[()]


def _array(group: h5py.Group, key: str) -> Optional[np.ndarray]:
    if not isinstance(group.get(key), h5py.Dataset):
        return None
    array = np.asarray(_read(group, key))
    if array.dtype.kind not in "biuf":
        raise NetworkFileError(f"{group.name.lstrip('/')}/{key} holds {array.dtype}, not numbers")
    return array


def _integers(group: h5py.Group, key: str, low: int, high: int) -> np.ndarray:
    """A dataset of whole numbers in ``low..high`` (a shape, a stride...)."""
    values = np.atleast_1d(np.asarray(_read(group, key)))
    where = f"{group.name.lstrip('/')}/{key}"
    if values.dtype.kind not in "biuf":
        raise NetworkFileError(f"{where} holds {values.dtype}, not numbers")
    if values.size == 0 or values.size > 4 or values.ndim != 1:
        raise NetworkFileError(f"{where} has shape {values.shape}; expected 1 to 4 whole numbers")
    if not np.isfinite(values).all() or (values != np.round(values)).any() \
            or values.min() < low or values.max() > high:
        raise NetworkFileError(f"{where} is {shown(values.tolist())}; expected whole numbers in {low}..{high}")
    return values.astype(np.int64)


def _whole(group: h5py.Group, key: str, low: int, high: int) -> int:
    values = _integers(group, key, low, high)
    if values.size != 1:
        raise NetworkFileError(f"{group.name.lstrip('/')}/{key} holds {values.size} numbers; expected one")
    return int(values[0])


def _shape(group: h5py.Group) -> tuple[int, ...]:
    """The layer's shape in netx's (x, y, z) order, at most :data:`MAX_LAYER_NEURONS` neurons."""
    if "shape" not in group:
        return ()
    values = _integers(group, "shape", 1, MAX_LAYER_NEURONS)
    if values.size > 3 or math.prod(values.tolist()) > MAX_LAYER_NEURONS:
        raise NetworkFileError(f"{group.name.lstrip('/')}/shape {values.tolist()}: expected up to 3 axes "
                               f"and at most {MAX_LAYER_NEURONS} neurons")
    return tuple(int(v) for v in values[::-1])


def _pair(group: h5py.Group, key: str) -> Optional[Pair]:
    if key not in group:
        return None
    values = _integers(group, key, -MAX_GEOMETRY, MAX_GEOMETRY)
    if values.size == 1:
        return (int(values[0]), int(values[0]))
    return (int(values[-1]), int(values[-2]))


def _value(raw: Any) -> Any:
    """h5py scalars to Python; strings decoded; arrays kept."""
    if isinstance(raw, bytes):
        return raw.decode("ascii", "replace")
    if isinstance(raw, np.ndarray):
        return _value(raw.reshape(-1)[0]) if raw.size == 1 and raw.dtype.kind in "SOU" else raw
    if isinstance(raw, np.generic):
        return raw.item()
    return raw


def _text(raw: Any) -> str:
    value = _value(raw)
    return value if isinstance(value, str) else str(value)


def _size(shape: Optional[tuple[int, ...]]) -> int:
    return math.prod(shape) if shape else 0


#: What h5py raises on a corrupt file (heap, B-tree, dataspace damage), beside our own errors.
_H5PY_ERRORS = (OSError, KeyError, IndexError, ValueError, TypeError, RuntimeError, UnicodeError,
                OverflowError, AttributeError)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
