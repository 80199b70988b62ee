"""A typed, read-only view of any netx ``.net`` file (lava-dl's HDF5 network exchange).

lava-dl's own reader (``lava.lib.dl.netx.hdf5.Network``) builds Lava processes and fails
on the first layer type it cannot run. The validator, the Lava runner and the emulator
need the file's contents without building anything, including layers netx cannot run,
so this module reads every layer once into small frozen dataclasses, in the spirit of
NIR: plain numpy arrays and tuples, no h5py handles kept open.

The reading rules are netx's own (``netx/hdf5.py``, ``netx/utils.py`` ``NetDict``,
``netx/blocks/process.py`` and the Lava processes they build), so that a file netx builds
is read and a file netx cannot build is refused (:class:`NetworkFileError`) or, for a
layer type netx has no builder for, read for the validator to report:

- ``type`` (of a layer and of a neuron) is text: netx decodes its first element as ASCII.
- ``shape`` is given in netx's (x, y, z) = WHC order: the file stores slayer's CHW and
  netx reverses it (``shape[::-1]``). A dense layer's shape is ``(n,)`` with ``n`` the
  product of the stored shape, as ``create_dense`` takes it (PilotNet stores ``[100, 1, 1]``).
- A dense ``weight`` is ``(out, in)``; a one-dimensional one is reshaped to ``(n, -1)``
  as netx does (PilotNet's last layer stores ``(10,)``). A conv ``weight`` is ``(out,
  in / groups, kH, kW)``; trailing axes of size one are dropped (netx reshapes to
  ``weight.shape[:4]``: ``tiny.net`` stores ``(24, 3, 5, 5, 1)``). The kernel size comes
  from the weight: netx never reads ``kernelSize``.
- ``stride``, ``padding``, ``dilation`` are one integer or two (y, x), read as (x, y)
  like ``shape``; ``groups`` is one integer. A conv needs all four, and its neuron.
- ``delay`` is kept as stored: one number, one per output neuron, one per input or one per
  synapse, as ``create_dense`` expands it.
- Each block is connected to the previous one as ``Network._create`` connects them: a
  conv takes the previous block's (x, y, z) output, a dense layer takes it flattened only
  after a ``flatten`` layer, and the output netx computes must be the layer's shape.

Every file is checked as a schema while it is read: sizes are bounded before a dataset is
read, shapes are positive and agree with the weights, every number is finite, and each
layer type has the datasets netx reads for it. Some checks are stricter than netx's
constructor where Lava would build a network that cannot run (a bias of the wrong size,
a conv kernel for other input channels, an ``input`` block after other blocks).
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Optional

import h5py
import numpy as np

from neurodeploy.core.errors import NetworkFileError, first_line, shown

#: Types whose neurons each take every input of the flattened previous layer.
DENSE_TYPES = ("dense", "dense_rec", "dense_comp")
#: Types whose synapses are a kernel slid over a (x, y, channel) input.
KERNEL_TYPES = ("conv", "pool", "convT", "unpool")
#: Types netx builds a block from (``input`` only with a neuron); ``flatten`` only marks
#: that the next dense layer takes its input flattened.
BLOCK_TYPES = ("input", "dense", "dense_rec", "conv")

Pair = tuple[int, int]

#: Most values one dataset may hold (checked before it is read: a small compressed file
#: can declare terabytes).
MAX_DATASET_VALUES = 1 << 26
#: Most neurons one layer may have (a Loihi 2 chip holds about 2**20).
MAX_LAYER_NEURONS = 1 << 22
#: Largest kernel, stride, padding or dilation along one axis.
MAX_GEOMETRY = 1 << 12
#: Datasets netx reads unconditionally for each layer type it builds (an ``input`` layer
#: needs its shape only when it has a neuron).
REQUIRED = {"dense": ("shape", "weight"), "dense_rec": ("shape", "weight", "weight_rec"),
            "conv": ("shape", "weight", "neuron", "stride", "padding", "dilation", "groups")}
#: Neuron parameters netx reads for each neuron type (``get_neuron_params``; an SDNN
#: neuron with ``sigma_output`` reads none, ``RF`` types read slayer's ``rf.neuron_params``).
NEURON_REQUIRED = {"CUBA": ("vThMant", "iDecay", "vDecay"), "LOIHI": ("vThMant", "iDecay", "vDecay"),
                   "SDNN": ("vThMant",), "RF": ("vThMant", "sinDecay", "cosDecay")}
#: Neuron parameters netx and the checks read as numbers.
NEURON_NUMBERS = ("vThMant", "iDecay", "vDecay", "refDelay", "messageBits", "period", "decay",
                  "sinDecay", "cosDecay", "gradedSpike")


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
        """Steps from the input to the output block (see :mod:`neurodeploy.core.blocks`)."""
        from neurodeploy.core.blocks import runnable_blocks

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
            layers = _connect(self.layers, tuple(int(v) for v in input_shape))
        except NetworkFileError as error:
            raise NetworkFileError(f"{self.path}: {error}") from None
        return replace(self, layers=layers)

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
    not HDF5, has no layers, or breaks one of netx's reading rules (module docstring);
    layer types netx has no builder for are read.
    """
    from neurodeploy.core.paths import input_file

    path = input_file(path, "network file", NetworkFileError)  # by type: a FIFO or device is refused unopened
    raw = b""
    try:
        with open(path, "rb") as stream:
            raw = stream.read()
        handle = h5py.File(io.BytesIO(raw), "r")
    except _H5PY_ERRORS as error:
        hint = (f"; a training checkpoint? export it first: neurodeploy export {path} -o model.net"
                if raw.startswith((b"PK\x03\x04", b"\x80")) else "")  # torch's zip, or a plain pickle
        raise NetworkFileError(f"{path}: not an HDF5 file ({first_line(error, 120)}){hint}") from None
    with handle:
        try:
            groups = _layer_groups(path, handle)
        except _H5PY_ERRORS as error:
            raise NetworkFileError(f"{path}: unreadable 'layer' group ({first_line(error, 120)})") from None
        layers: list[NetxLayer] = []
        for index, group in enumerate(groups):
            try:
                layers.append(_read_layer(index, group))
            except NetworkFileError as error:
                raise NetworkFileError(f"{path}: {error}") from None
            except _H5PY_ERRORS as error:
                raise NetworkFileError(f"{path}: layer/{index} is malformed "
                                       f"({first_line(error, 120)})") from None
    try:
        connected = _connect(tuple(layers), None if input_shape is None else tuple(int(v) for v in input_shape))
    except NetworkFileError as error:
        raise NetworkFileError(f"{path}: {error}") from None
    return NetxNetwork(path=path, layers=connected, raw=raw)


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
    for key in keys:
        if not isinstance(group.get(key), h5py.Group):
            raise NetworkFileError(f"{path}: layer/{key} is not a group")
    return [group[key] for key in keys]


# --- one layer, as netx reads it --------------------------------------------------------

def _read_layer(index: int, group: h5py.Group) -> NetxLayer:
    if "type" not in group:
        raise NetworkFileError(f"layer/{index} has no 'type'")
    kind = _text(group, "type")
    where = f"layer/{index} ({kind})"
    needed = REQUIRED.get(kind, ("shape",) if kind == "input" and "neuron" in group else ())
    missing = [key for key in needed if key not in group]
    if missing:
        raise NetworkFileError(f"{where} lacks '{missing[0]}', which netx reads for every "
                               f"{'input layer with a neuron' if kind == 'input' else kind + ' layer'}")
    shape = _shape(group, allow_scalar=kind in DENSE_TYPES)
    weight, imag = _weights(group, where)
    arrays = {"weight": weight, "weight_rec": _array(group, "weight_rec"), "weight_imag": imag,
              "bias": _array(group, "bias"), "delay": _array(group, "delay")}
    _check_numbers(arrays, where)
    if kind in DENSE_TYPES:
        shape = (_size(shape),) if shape else shape
        arrays = _dense_rows(arrays, _size(shape), where)
    layer = NetxLayer(index=index, name=f"{kind}{index}", type=kind, shape=shape, input_shape=None,
                      neuron=_neuron(group, where), **arrays)
    if kind in KERNEL_TYPES:
        layer = _with_geometry(layer, group)
    check_layer(layer)
    return layer


def _check_numbers(arrays: dict[str, Optional[np.ndarray]], where: str) -> None:
    for name, array in arrays.items():
        if array is None:
            continue
        if name.startswith("weight") and array.size == 0:
            raise NetworkFileError(f"{where}: {name} is empty")
        if array.size and not np.isfinite(array).all():
            raise NetworkFileError(f"{where}: {name} holds NaN or infinite values")


def _dense_rows(arrays: dict[str, Optional[np.ndarray]], n: int, where: str) -> dict[str, Optional[np.ndarray]]:
    """netx's reading of dense weights: ``(n, inputs)``; a flat weight (and then its
    recurrent weight) reshaped to ``(n, -1)``."""
    weight = arrays["weight"]
    if weight is None:
        return arrays
    flat = weight.ndim == 1
    rows = dict(arrays, weight=_as_rows(weight, n, where, "weight"))
    if arrays["weight_imag"] is not None:
        rows["weight_imag"] = _as_rows(arrays["weight_imag"], n, where, "weight/imag")
    if arrays["weight_rec"] is not None and flat:
        rows["weight_rec"] = _as_rows(arrays["weight_rec"], n, where, "weight_rec")
    return rows


def _weights(group: h5py.Group, where: str) -> tuple[Optional[np.ndarray], Optional[np.ndarray]]:
    """``weight``, or ``weight/real`` and ``weight/imag`` (netx's complex synapse)."""
    node = group.get("weight")
    if node is None or isinstance(node, h5py.Dataset):
        return _array(group, "weight"), None
    if "real" not in node or "imag" not in node:
        raise NetworkFileError(f"{where}: weight is a group without 'real' and 'imag'; netx reads "
                               f"a dataset (or both parts of a complex weight)")
    real, imag = _array(group, "weight/real"), _array(group, "weight/imag")
    if real is None or imag is None:
        raise NetworkFileError(f"{where}: weight/real and weight/imag must be datasets")
    return real, imag


def _with_geometry(layer: NetxLayer, group: h5py.Group) -> NetxLayer:
    """A kernel layer's kernel, stride, padding, dilation and groups. netx's conv reads its
    kernel from the weight and needs the other four (checked as REQUIRED); for the layer
    types netx cannot build the file's ``kernelSize`` and PyTorch's defaults stand in."""
    weight = layer.weight
    if layer.type == "conv" and weight is not None:
        weight = _conv_weight(weight, f"layer/{layer.index} (conv)")
    kernel = (int(weight.shape[3]), int(weight.shape[2])) if weight is not None and weight.ndim >= 4 else None
    if layer.type != "conv" and "kernelSize" in group:
        kernel = _pair(group, "kernelSize")
    geometry = {key: _pair(group, key) for key in ("stride", "padding", "dilation")}
    return replace(layer, weight=weight, kernel=kernel,
                   stride=geometry["stride"] or ((1, 1) if kernel else None),
                   padding=geometry["padding"] or ((0, 0) if kernel else None),
                   dilation=geometry["dilation"] or ((1, 1) if kernel else None),
                   groups=_groups(group) if "groups" in group else None)


def _conv_weight(weight: np.ndarray, where: str) -> np.ndarray:
    """netx's ``weight.reshape(weight.shape[:4])``: axes past the fourth must be of size one."""
    if weight.ndim < 4 or math.prod(weight.shape[4:]) != 1:
        raise NetworkFileError(f"{where}: weight has shape {weight.shape}; netx reads "
                               f"(out, in / groups, kH, kW), optionally followed by axes of size 1")
    return weight.reshape(weight.shape[:4])


def check_layer(layer: NetxLayer) -> None:
    """The schema of one layer once read: weights that agree with the shape, the neuron
    parameters netx reads; raises :class:`NetworkFileError` naming the layer."""
    where = f"layer/{layer.index} ({layer.type})"
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
        if layer.neuron and not layer.shape:
            raise NetworkFileError(f"{where}: an input layer with a neuron needs its shape")


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
        if key in NEURON_NUMBERS and numbers.size != 1:
            raise NetworkFileError(f"{where}: neuron/{key} holds {numbers.size} values; netx's "
                                   f"neurons take one per layer")
    family = "RF" if "RF" in kind else kind
    needed = NEURON_REQUIRED.get(family, ())
    if kind == "SDNN" and "sigma_output" in layer.neuron and layer.type != "input":
        needed = ()
    missing = [key for key in needed if key not in layer.neuron]
    if missing:
        raise NetworkFileError(f"{where}: neuron/{missing[0]} is missing; netx reads it for {kind} neurons")
    if layer.type == "dense_comp":
        return  # netx has no builder for it (the validator says so)
    complex_weight = layer.weight_imag is not None
    if family == "RF" and not (layer.type == "dense" and complex_weight):
        raise NetworkFileError(f"{where}: {kind} neurons take complex synapses only (netx "
                               f"connects them to a dense layer's weight/real and weight/imag)")
    if complex_weight and family != "RF":
        raise NetworkFileError(f"{where}: a complex weight (weight/real, weight/imag) needs RF "
                               f"neurons; netx's ComplexDense feeds a_real_in, which {kind} neurons lack")


def _check_dense(layer: NetxLayer, where: str) -> None:
    if layer.weight is None:
        return
    n = _size(layer.shape)
    if layer.weight_imag is not None and not layer.neuron and layer.type == "dense":
        raise NetworkFileError(f"{where}: a complex weight (weight/real, weight/imag) needs RF "
                               f"neurons; netx's default neuron is CUBA")
    if layer.weight_imag is not None and layer.weight_imag.shape != layer.weight.shape:
        raise NetworkFileError(f"{where}: weight/imag has shape {layer.weight_imag.shape}; "
                               f"expected weight/real's {layer.weight.shape}")
    if layer.weight_rec is not None and layer.weight_rec.shape != (n, n):
        raise NetworkFileError(f"{where}: weight_rec has shape {layer.weight_rec.shape}; expected {(n, n)}")
    if layer.type != "dense_comp":
        _check_scalable(layer, where)
    if layer.delay is not None:
        _check_delay(layer, where)
    if layer.bias is not None and (layer.bias.ndim > 1 or layer.bias.size not in (1, n)):
        raise NetworkFileError(f"{where}: bias has shape {layer.bias.shape}; expected one value or {n}")


def _as_rows(weight: np.ndarray, n: int, where: str, name: str) -> np.ndarray:
    """netx's reading of a dense weight: ``(n, inputs)``; a flat one reshaped to ``(n, -1)``."""
    if weight.ndim == 1 and n and weight.size % n == 0:
        weight = weight.reshape(n, -1)
    if weight.ndim != 2 or weight.shape[0] != n:
        raise NetworkFileError(f"{where}: {name} has shape {weight.shape}; expected ({n}, inputs) "
                               f"(or {n} x inputs values in one axis) for its {n} neurons")
    return weight


def _check_scalable(layer: NetxLayer, where: str) -> None:
    """netx's ``optimize_weight_bits`` divides by the largest weight (as ``astype(int)``
    reads it): a layer whose weights are all zero once truncated cannot be built."""
    parts = [layer.weight] + [w for w in (layer.weight_rec,) if w is not None]
    for name, values in (("weight", parts), ("weight/imag", [layer.weight_imag])):
        if values[0] is None:
            continue
        if not any(np.trunc(part).any() for part in values):
            raise NetworkFileError(f"{where}: {name} is all zero once truncated to integers as netx "
                                   f"reads it; netx cannot scale such a synapse")


def _check_delay(layer: NetxLayer, where: str) -> None:
    """netx's expansion of ``delay`` to one per synapse (``create_dense``) and Lava's
    ``DelayDense`` rules (non-negative; as many as the recurrent weights too)."""
    delay, weight = layer.delay, layer.weight
    n, inputs = weight.shape
    if delay.ndim == 0:
        full = weight.shape
    elif delay.ndim == 1 and delay.size in (n, inputs):
        full = weight.shape
    elif delay.shape == weight.shape:
        full = weight.shape
    else:
        raise NetworkFileError(f"{where}: delay has shape {delay.shape}; expected one number, one "
                               f"per neuron ({n},), per input ({inputs},) or per synapse {weight.shape}")
    if delay.size and np.trunc(delay).min() < 0:
        raise NetworkFileError(f"{where}: delay holds {shown(float(delay.min()))}; delays are >= 0")
    if layer.weight_rec is not None and full != layer.weight_rec.shape:
        raise NetworkFileError(f"{where}: delays of shape {full} cannot serve weight_rec "
                               f"{layer.weight_rec.shape}: netx gives both synapses the same delays")


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
    bias = layer.bias
    if bias is not None and layer.type == "conv" and bias.shape not in ((channels,), tuple(layer.shape)):
        raise NetworkFileError(f"{where}: bias has shape {bias.shape}; netx spreads one per channel "
                               f"({channels},) or takes one per neuron {tuple(layer.shape)} (x, y, channel)")
    if bias is not None and layer.type != "conv" and bias.size not in (1, channels, layer.n_neurons):
        raise NetworkFileError(f"{where}: bias has {bias.size} values; expected one of "
                               f"{sorted({1, channels, layer.n_neurons})}")


# --- the chain of blocks, as Network._create connects it --------------------------------

def _connect(layers: tuple[NetxLayer, ...], given: Optional[tuple[int, ...]]) -> tuple[NetxLayer, ...]:
    """Each layer with the input netx feeds it (``input_shape``), checked the way
    ``Network._create`` and the blocks connect ports; ``given`` is ``input_shape=``.

    From the first layer type netx has no builder for (``pool``, ``average``, an unknown
    name...) on, netx stops building; the rest is read as it comes, each layer fed the
    previous one's output, for the validator to report that layer."""
    connected: list[NetxLayer] = []
    last: Optional[NetxLayer] = None    # the last block netx built
    flatten_next = stopped = False
    source = given
    for position, layer in enumerate(layers):
        where = f"layer/{layer.index} ({layer.type})"
        if position == 0 and given is not None:
            layer = _given_input(layer, given)
        if stopped or layer.type not in BLOCK_TYPES + ("flatten",):
            stopped = True
            previous = connected[-1] if connected else None
            fed = _fed_by(previous, layer) if previous else (layer.input_shape or _implied_input(layer))
        elif layer.type == "input":
            if layer.neuron and last is not None:
                raise NetworkFileError(f"{where}: an input block after {last.name}; netx builds it "
                                       f"as a second Input block that nothing feeds")
            if layer.neuron:
                last = layer
            elif layer.shape:
                source = layer.shape  # netx: self.input_shape
            fed = layer.input_shape or layer.shape
        elif layer.type == "flatten":
            flatten_next = True
            fed = last.shape if last is not None else source
        elif layer.type == "conv":
            if last is None and source is None and position > 0:
                raise NetworkFileError(f"{where}: netx cannot infer its input: the input layer before it "
                                       f"has no shape (netx: 'Input shape could not be inferred')")
            fed = last.shape if last is not None else (layer.input_shape or source or _implied_input(layer))
            _check_conv_input(layer, fed, where)
            last = layer
        else:
            fed = _dense_input(layer, last, source, flatten_next, where)
            flatten_next, last = False, layer
        if fed is not None and min(fed, default=1) < 1:
            raise NetworkFileError(f"{where}: its geometry implies an input of shape {fed}; expected "
                                   f"positive sizes")
        connected.append(replace(layer, input_shape=fed))
    if last is None and not stopped:
        raise NetworkFileError("no layer netx builds a block from (an input layer with a neuron, "
                               "dense, dense_rec or conv)")
    return tuple(connected)


def _check_conv_input(layer: NetxLayer, fed: Optional[tuple[int, ...]], where: str) -> None:
    """``lava.proc.conv`` takes an (x, y, channel) input and ``blocks.Conv`` requires the
    output it computes to be the layer's shape; the kernel must take those channels."""
    if fed is None or len(fed) != 3:
        raise NetworkFileError(f"{where}: netx feeds it {fed}; a conv takes an (x, y, channel) input")
    if min(fed) < 1:
        raise NetworkFileError(f"{where}: its geometry implies an input of shape {fed}; expected "
                               f"positive sizes")
    channels = layer.weight.shape[1] * (layer.groups or 1)
    if fed[2] != channels:
        raise NetworkFileError(f"{where}: its kernel takes {channels} input channels "
                               f"({layer.weight.shape[1]} x groups={layer.groups}); it is fed {fed}")
    made = conv_output_shape(fed, layer)
    if made != tuple(layer.shape[:2]):
        raise NetworkFileError(f"{where}: a {fed} input gives (x, y) = {made}; its shape is "
                               f"{tuple(layer.shape)}")


def _dense_input(layer: NetxLayer, last: Optional[NetxLayer], source: Optional[tuple[int, ...]],
                 flatten_next: bool, where: str) -> tuple[int, ...]:
    """What a dense block takes: the previous block's output as is, or transposed and
    flattened after a ``flatten`` layer (netx's ``out.transpose([2, 1, 0]).flatten()``)."""
    inputs = int(layer.weight.shape[1])
    if last is None:
        if source is not None and _size(source) != inputs:
            raise NetworkFileError(f"{where}: weight takes {inputs} inputs; the network's input "
                                   f"is {source}")
        return (inputs,)
    out = tuple(last.shape)
    if flatten_next and len(out) != 3:
        raise NetworkFileError(f"{where}: a flatten layer after {last.name}, whose output {out} is "
                               f"not (x, y, z); netx transposes it as one")
    fed = (_size(out),) if flatten_next else out
    if fed != (inputs,):
        hint = "" if flatten_next or len(out) == 1 else " (without a flatten layer between them)"
        raise NetworkFileError(f"{where}: weight takes {inputs} inputs; netx connects it to the "
                               f"{out} output of {last.name}{hint}")
    return fed


def _fed_by(previous: NetxLayer, layer: NetxLayer) -> Optional[tuple[int, ...]]:
    """What the previous layer hands ``layer``: its output, flattened for a dense layer."""
    source = previous.shape or previous.input_shape
    return (_size(source),) if layer.type in DENSE_TYPES else source


def _given_input(layer: NetxLayer, given: tuple[int, ...]) -> NetxLayer:
    """The first layer fed ``given``; raises when its weights cannot take it."""
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


# --- datasets, as NetDict reads them ----------------------------------------------------

def _neuron(group: h5py.Group, where: str) -> dict[str, Any]:
    if "neuron" not in group:
        return {}
    neuron = group.get("neuron")
    if not isinstance(neuron, h5py.Group):
        raise NetworkFileError(f"{where}: neuron is not a group; netx reads its parameters from one")
    values = {key: _value(_read(neuron, key)) for key in neuron.keys() if key != "type"}
    if "type" in neuron:
        values["type"] = _text(neuron, "type")
    return values


def _read(group: h5py.Group, key: str) -> Any:
    """A dataset's contents, its size checked before anything is allocated."""
    dataset = group.get(key)
    if not isinstance(dataset, h5py.Dataset):
        raise NetworkFileError(f"{group.name.lstrip('/')}/{key} is not a dataset")
    if dataset.size is not None and dataset.size > MAX_DATASET_VALUES:
        raise NetworkFileError(f"{dataset.name.lstrip('/')} declares {dataset.shape} = {dataset.size} "
                               f"values; at most {MAX_DATASET_VALUES} are read")
    return dataset[()]


def _text(group: h5py.Group, key: str) -> str:
    """A ``type``: NetDict takes the first element (or the scalar) and decodes it as ASCII."""
    raw = _read(group, key)
    where = f"{group.name.lstrip('/')}/{key}"
    if isinstance(raw, np.ndarray):
        if raw.ndim == 0 or raw.size == 0:
            raise NetworkFileError(f"{where} has shape {raw.shape}; netx reads its first element as text")
        raw = raw.reshape(-1)[0] if raw.ndim == 1 else raw
    if not isinstance(raw, bytes):
        raise NetworkFileError(f"{where} is {shown(_value(raw))}; netx reads ASCII text")
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        raise NetworkFileError(f"{where} is {shown(raw)}; netx reads ASCII text") from None


def _array(group: h5py.Group, key: str) -> Optional[np.ndarray]:
    if key not in group:
        return None
    if not isinstance(group.get(key), h5py.Dataset):
        raise NetworkFileError(f"{group.name.lstrip('/')}/{key} is not a dataset; netx reads it as numbers")
    array = np.asarray(_read(group, key))
    if array.dtype.kind not in "biuf":
        raise NetworkFileError(f"{group.name.lstrip('/')}/{key} holds {array.dtype}, not numbers")
    return array


def _integers(group: h5py.Group, key: str, low: int, high: int, allow_scalar: bool = True) -> np.ndarray:
    """A dataset of integers in ``low..high`` (a shape, a stride...), as stored (one number
    or a list): netx prints them with an integer format, so a float dtype does not build."""
    values = np.asarray(_read(group, key))
    where = f"{group.name.lstrip('/')}/{key}"
    if values.dtype.kind not in "iu":
        raise NetworkFileError(f"{where} holds {values.dtype}; netx reads integers")
    if (values.ndim == 0 and not allow_scalar) or values.ndim > 1 or values.size == 0:
        raise NetworkFileError(f"{where} has shape {values.shape}; expected a list of integers")
    if values.min() < low or values.max() > high:
        raise NetworkFileError(f"{where} is {shown(values.tolist())}; expected integers in {low}..{high}")
    return values.astype(np.int64)


def _groups(group: h5py.Group) -> int:
    """``groups``: one integer (Lava's conv requires a scalar)."""
    values = _integers(group, "groups", 1, MAX_LAYER_NEURONS)
    if values.ndim != 0:
        raise NetworkFileError(f"{group.name.lstrip('/')}/groups has shape {values.shape}; netx and "
                               f"Lava take one integer")
    return int(values)


def _shape(group: h5py.Group, allow_scalar: bool) -> tuple[int, ...]:
    """The layer's shape in netx's (x, y, z) order, at most :data:`MAX_LAYER_NEURONS` neurons."""
    if "shape" not in group:
        return ()
    values = np.atleast_1d(_integers(group, "shape", 1, MAX_LAYER_NEURONS, allow_scalar))
    if values.size > 3 or math.prod(values.tolist()) > MAX_LAYER_NEURONS:
        raise NetworkFileError(f"{group.name.lstrip('/')}/shape {values.tolist()}: expected up to 3 axes "
                               f"and at most {MAX_LAYER_NEURONS} neurons")
    return tuple(int(v) for v in values[::-1])


def _pair(group: h5py.Group, key: str) -> Optional[Pair]:
    """One integer for both axes, or (y, x) read as (x, y): netx's ``expand``."""
    if key not in group:
        return None
    values = _integers(group, key, -MAX_GEOMETRY, MAX_GEOMETRY)
    if values.ndim == 0:
        return (int(values), int(values))
    if values.size != 2:
        raise NetworkFileError(f"{group.name.lstrip('/')}/{key} holds {values.size} numbers; netx "
                               f"reads one or two")
    return (int(values[1]), int(values[0]))


def _value(raw: Any) -> Any:
    """h5py scalars to Python; strings decoded; arrays kept."""
    if isinstance(raw, bytes):
        return raw.decode("ascii", "replace")
    if isinstance(raw, np.ndarray):
        return _value(raw.reshape(-1)[0]) if raw.size == 1 and raw.dtype.kind in "SOU" else raw
    if isinstance(raw, np.generic):
        return raw.item()
    return raw


def _size(shape: Optional[tuple[int, ...]]) -> int:
    return math.prod(shape) if shape else 0


#: What h5py raises on a corrupt file (heap, B-tree, dataspace damage), beside our own errors.
_H5PY_ERRORS = (OSError, KeyError, IndexError, ValueError, TypeError, RuntimeError, UnicodeError,
                OverflowError, AttributeError)
