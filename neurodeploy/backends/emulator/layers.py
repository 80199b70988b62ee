"""netx layers as the emulator runs them: the integer synapses and neurons Lava would build.

The weights go through the operations netx and Lava's fixed_pt models apply (netx's
``optimize_weight_bits``, then ``clip_weights`` / ``truncate_weights`` with the sign mode
the Dense model determines), in :mod:`neurodeploy.core.loaded_weights`: numpy only, and tested
equal to netx's and Lava's own functions wherever Lava is installed.

Synaptic sums run as float matrix products, which is exact here: the inputs are 0/1
spikes and the weights integers, so every partial sum, in whatever order BLAS adds, is an
integer no larger than the layer's ``sum(|w|)`` over one neuron's fan-in. Below 2**24
float32 holds all such integers exactly, below 2**53 float64 does; each synapse picks the
narrowest exact type and a file whose sums could exceed 2**53 is refused; sums of several
synapses are taken in float64. A product runs over every step of a batch at once (the
synapse is linear and feed-forward); which operand is transposed only changes the order
of the additions, never their result.

Convolution on the CPU is ``conv2d`` only where the backend torch selects adds plain
products: oneDNN's direct convolution (``Mkldnn``; PyTorch asks ideep for
``convolution_direct``, never ``convolution_auto`` or Winograd) or im2col + GEMM
(``Slow2d``; float64 always goes there). Both multiply 0/1 by integer weights and add
integers whose every partial sum is bounded by ``sum(|w|)`` below 2**24 (float32) or
2**53 (float64), so every intermediate is exact. NNPACK (Winograd and FFT transforms with
fractional coefficients, which round) is refused: conv2d runs with it disabled, and any
backend outside those two falls back to unfold + matrix product, which is also the GPU's
path (cuDNN may pick Winograd or FFT, and TF32 is turned off for cuBLAS).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, NoReturn, Optional, Union

import numpy as np
import torch
import torch.nn.functional as functional

from neurodeploy.core.errors import NetworkFileError
from neurodeploy.core.loaded_weights import WeightsNotLoadable, dense_blocks
from neurodeploy.core.netxfile import NetxLayer, NetxNetwork
from neurodeploy.backends.emulator.fixed_point import DECAY_UNITY, EXACT, STATE_SHIFT, CubaParams, shift_, wrap

LAYER_TYPES = ("input", "dense", "dense_rec", "conv", "flatten")
SUPPORTED = ("input (shape only, or netx's Input block with a CUBA neuron)", "dense", "dense_rec",
             "conv", "flatten")
NEURON_TYPES = ("CUBA", "LOIHI")
#: netx's neuron for a dense layer without a ``neuron`` group: a non-leaky integrator.
DEFAULT_NEURON = {"type": "CUBA", "iDecay": 0, "vDecay": 4096, "vThMant": 1 << 17}
NETX_MAX_DELAY = 62
FLOAT32_EXACT = 1 << 24
FLOAT64_EXACT = 1 << 53
INT32_LIMIT = 1 << 31
NARROW = 32             # outputs below which a dense product runs transposed (benchmarks/emulator_batch.py)
CONV_BITS = 24          # PyConvModelFixed clamps its output to signed 24 bits
_EXACT_CONV_BACKENDS = (torch._C._ConvBackend.Mkldnn, torch._C._ConvBackend.Slow2d,
                        torch._C._ConvBackend.SlowDilated2d)


@dataclass(frozen=True, eq=False)
class DenseSynapse:
    """Lava's ``PyDenseModelBitAcc``: ``a = sum(w[:, spiking]) << weight_exp`` (``>>`` if negative)."""

    weight_t: torch.Tensor      # (in, out), integer values in an exact float type
    exponent: int
    bound: int                  # max |a| over every input

    def __call__(self, spikes: torch.Tensor) -> torch.Tensor:
        """``(M, in)`` bool spikes -> ``(M, out)`` activations (integers, exact in the
        weights' float type; add them up in float64)."""
        values = spikes.to(self.weight_t.dtype)
        if self.weight_t.shape[1] < NARROW:  # BLAS is several times faster on (out, in) @ (in, M) then
            return shift_((self.weight_t.T @ values.T).T, self.exponent)
        return shift_(values @ self.weight_t, self.exponent)

    def to(self, device: torch.device) -> "DenseSynapse":
        return replace(self, weight_t=self.weight_t.to(device))


@dataclass(frozen=True, eq=False)
class ConvSynapse:
    """Lava's ``PyConvModelFixed``: a correlation with the slayer kernel, clamped to 24 bits."""

    weight: torch.Tensor        # (out, in / groups, kH, kW), exact float type
    groups: int
    kernel: tuple[int, int]     # torch order (h, w), as are the fields below
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    output_shape: tuple[int, int, int]
    bound: int

    def __call__(self, spikes: torch.Tensor) -> torch.Tensor:
        """``(M, C, H, W)`` bool spikes -> ``(M, C', H', W')`` activations (integers, exact in
        the weights' float type, or float64 once wrapped)."""
        values = spikes.to(self.weight.dtype)
        if values.device.type == "cpu" and self._direct(values):
            with torch.backends.nnpack.flags(enabled=False):
                total = functional.conv2d(values, self.weight, None, self.stride, self.padding,
                                          self.dilation, self.groups)
        else:
            groups, width = self.groups, self.weight[0].numel()
            columns = functional.unfold(values, self.kernel, self.dilation, self.padding, self.stride)
            grouped = self.weight.reshape(groups, -1, width)     # (g, out/g, in/g * kH * kW)
            total = torch.matmul(grouped, columns.reshape(len(values), groups, width, -1))
            total = total.reshape(len(values), *self.output_shape)  # (M, g, out/g, L) is NCHW
        return wrap(total, CONV_BITS) if self.bound >= 1 << (CONV_BITS - 1) else total

    def _direct(self, values: torch.Tensor) -> bool:
        """Whether torch's conv2d for these operands, NNPACK off, adds plain products (see
        the module docstring). A torch without its private backend query gets the unfold +
        matrix product, which is exact whatever torch does."""
        if not hasattr(torch._C, "_select_conv_backend"):
            return False
        with torch.backends.nnpack.flags(enabled=False):
            backend = torch._C._select_conv_backend(values, self.weight, None, self.stride, self.padding,
                                                    self.dilation, False, (0, 0), self.groups, None)
        return backend in _EXACT_CONV_BACKENDS

    def to(self, device: torch.device) -> "ConvSynapse":
        return replace(self, weight=self.weight.to(device))


@dataclass(frozen=True, eq=False)
class DelayLine:
    """Lava's ``PyDelayDenseModelBitAcc``: a spike at step t with delay d arrives at t + 1 + d,
    each delay's sum shifted by ``weight_exp`` on its own; the buffer survives resets."""

    taps: tuple[tuple[int, DenseSynapse], ...]

    @property
    def depth(self) -> int:
        return max(delay for delay, _ in self.taps)

    @property
    def bound(self) -> int:
        return sum(tap.bound for _, tap in self.taps)

    def __call__(self, timeline: torch.Tensor) -> torch.Tensor:
        """``(depth + M, in)`` spikes, the first ``depth`` of them history -> ``(M, out)``."""
        steps = len(timeline) - self.depth
        total: Optional[torch.Tensor] = None
        for delay, tap in self.taps:
            part = tap(timeline[self.depth - delay:self.depth - delay + steps])
            total = part.to(EXACT) if total is None else total.add_(part)
        return total

    def to(self, device: torch.device) -> "DelayLine":
        return DelayLine(tuple((delay, tap.to(device)) for delay, tap in self.taps))


Synapse = Union[DenseSynapse, ConvSynapse, DelayLine]


@dataclass(frozen=True, eq=False)
class BiasDrive:
    """netx's ``Input`` block: no synapse (netx leaves its ``inp`` unconnected); the
    neurons are driven by a bias mantissa per sample that the caller sets."""

    bound: int = 0

    def to(self, device: torch.device) -> "BiasDrive":
        return self


@dataclass(frozen=True, eq=False)
class EmulatedLayer:
    """One netx block: synapse (+ recurrent synapse) into CUBA neurons with reset.

    Shapes are torch's: ``(n,)`` for dense, ``(C, H, W)`` for conv (Lava's are WHC).
    """

    name: str
    input_shape: tuple[int, ...]
    shape: tuple[int, ...]
    synapse: Union[Synapse, BiasDrive]
    recurrent: Optional[DenseSynapse]
    neurons: CubaParams

    @property
    def bias_driven(self) -> bool:
        return isinstance(self.synapse, BiasDrive)

    @property
    def delayed(self) -> bool:
        return isinstance(self.synapse, DelayLine)

    @property
    def carries_state(self) -> bool:
        """Whether something survives the frame reset: a delay buffer or recurrent spikes."""
        return self.delayed or self.recurrent is not None

    @property
    def input_bound(self) -> int:
        return self.synapse.bound + (self.recurrent.bound if self.recurrent is not None else 0)

    def to(self, device: torch.device) -> "EmulatedLayer":
        """The layer with its weights and biases on ``device``."""
        neurons = self.neurons
        if neurons.bias is not None:
            neurons = replace(neurons, bias=neurons.bias.to(device))
        return replace(self, synapse=self.synapse.to(device), neurons=neurons,
                       recurrent=None if self.recurrent is None else self.recurrent.to(device))


def build_layers(network: NetxNetwork, image_shape: tuple[int, int, int]) -> list[EmulatedLayer]:
    """The layers netx would build from ``network`` fed ``(C, H, W)`` images, or a
    :class:`NetworkFileError` naming the file, the layer and what the emulator runs."""
    for layer in network.layers:  # a type we cannot run outranks any shape it would fail on
        if layer.type not in LAYER_TYPES:
            _refuse(network, layer, f"type {layer.type!r} is not supported")
    layers: list[EmulatedLayer] = []
    current = tuple(image_shape)
    flatten_next = False
    for layer in network.layers:
        try:
            if layer.type == "input":
                _check_input(layer, first=not layers)
                if layer.neuron:
                    layers.append(_input_block(layer, current))
            elif layer.type == "flatten":
                flatten_next = True
            elif layer.type == "conv":
                if len(current) != 3:
                    raise NetworkFileError(f"a conv layer needs a (C, H, W) input, not {current}")
                layers.append(_conv(layer, current))
            elif layer.type in ("dense", "dense_rec"):
                if len(current) != 1 and layers and not flatten_next:
                    raise NetworkFileError(f"takes the {current} output of {layers[-1].name} "
                                           f"without a flatten layer between them")
                layers.append(_dense(layer, int(np.prod(current))))
                flatten_next = False
        except NetworkFileError as error:
            _refuse(network, layer, str(error))
        if layers:
            current = layers[-1].shape
    if not layers:
        raise NetworkFileError(f"{network.path}: no dense or conv layer to emulate")
    return layers


def _refuse(network: NetxNetwork, layer: NetxLayer, reason: str) -> NoReturn:
    raise NetworkFileError(f"{network.path}: layer {layer.name}: {reason}; the emulator runs "
                           f"{', '.join(SUPPORTED)} layers with CUBA neurons") from None


def _check_input(layer: NetxLayer, first: bool) -> None:
    if not first:
        raise NetworkFileError("an input layer after other layers is not supported")


def _input_block(layer: NetxLayer, given: tuple[int, ...]) -> EmulatedLayer:
    """netx ``create_input``: an LIF of the layer's shape with no synapse; the file's
    ``weight`` and ``bias`` are netx's input transform, which its Input block ignores."""
    shape = tuple(reversed(layer.shape)) if len(layer.shape) > 1 else tuple(layer.shape)
    if tuple(given) != shape:
        raise NetworkFileError(f"the input is {tuple(given)}, but the Input block's neurons are {shape}")
    return EmulatedLayer(layer.name, shape, shape, BiasDrive(), None, _cuba(layer.neuron, None, 0))


def _dense(layer: NetxLayer, fan_in: int) -> EmulatedLayer:
    """netx ``create_dense`` + ``blocks.Dense`` / ``RecurrentDense``."""
    size = int(np.prod(layer.shape))
    if layer.weight is None:
        raise NetworkFileError("has no weight")
    weight = _integers(layer.weight).reshape(size, -1)
    if weight.shape != (size, fan_in):
        raise NetworkFileError(f"weight of shape {weight.shape} does not map {fan_in} inputs "
                               f"to {size} neurons")
    recurrent = None
    if layer.type == "dense_rec":
        if layer.weight_rec is None:
            raise NetworkFileError("dense_rec layer has no weight_rec")
        if layer.delay is not None:
            raise NetworkFileError("dense_rec with delays is not supported (netx builds its "
                                   "recurrent DelayDense without the weight exponent)")
        rec_weight = _integers(layer.weight_rec).reshape(size, -1)
        if rec_weight.shape != (size, size):
            raise NetworkFileError(f"weight_rec of shape {rec_weight.shape} is not {(size, size)}")
        (weight, rec_weight), exponent = _loaded(np.hstack([weight, rec_weight]), fan_in)
        recurrent = _dense_synapse(rec_weight, exponent)
    else:
        (weight,), exponent = _loaded(weight, fan_in)
    synapse: Synapse
    if layer.delay is not None:
        synapse = _delay_line(weight, _delays(layer.delay, weight.shape), exponent)
    else:
        synapse = _dense_synapse(weight, exponent)
    neuron = layer.neuron or DEFAULT_NEURON
    bias = None if layer.bias is None else _bias(layer.bias, (size,))
    return EmulatedLayer(layer.name, (fan_in,), (size,), synapse, recurrent,
                         _cuba(neuron, bias, synapse.bound + (recurrent.bound if recurrent else 0)))


def _conv(layer: NetxLayer, input_shape: tuple[int, ...]) -> EmulatedLayer:
    """netx ``create_conv`` + ``blocks.Conv``: the file's (out, in/groups, kH, kW) kernel,
    which netx flips and transposes for scipy's convolution, is a torch correlation."""
    if not layer.neuron:
        raise NetworkFileError("conv layer has no neuron")
    if layer.weight is None or layer.weight.ndim < 4:
        raise NetworkFileError("conv weight is not (out, in, kH, kW)")
    weight = _integers(layer.weight).reshape(layer.weight.shape[:4]).astype(np.int32).astype(np.int64)
    groups = layer.groups or 1
    channels, height, width = input_shape
    out_channels = weight.shape[0]
    if channels != weight.shape[1] * groups or out_channels % groups:
        raise NetworkFileError(f"kernel {weight.shape} with groups={groups} does not take "
                               f"{channels} input channels")
    flip = lambda pair: (int(pair[1]), int(pair[0]))  # noqa: E731  netx (x, y) -> torch (h, w)
    kernel, stride, padding, dilation = (flip(p) for p in (layer.kernel, layer.stride,
                                                           layer.padding, layer.dilation))
    out_hw = [(size + 2 * pad - dil * (k - 1) - 1) // step + 1
              for size, pad, dil, k, step in zip((height, width), padding, dilation, kernel, stride)]
    shape = (out_channels, *out_hw)
    expected = (layer.shape[2], layer.shape[1], layer.shape[0]) if len(layer.shape) == 3 else None
    if expected != shape:
        raise NetworkFileError(f"a {input_shape} input gives a {shape} output, but the layer's "
                               f"shape is {expected}")
    bound = int(np.abs(weight).reshape(out_channels, -1).sum(axis=1).max())
    if bound >= INT32_LIMIT:
        raise NetworkFileError(f"conv sums reach {bound}; Lava casts them from float64 to int32, "
                               f"which is undefined beyond 2**31")
    synapse = ConvSynapse(torch.as_tensor(weight, dtype=_exact_dtype(bound)), groups, kernel, stride,
                          padding, dilation, shape, bound)
    bias = None if layer.bias is None else _bias(layer.bias, (layer.shape[0], layer.shape[1], layer.shape[2]))
    return EmulatedLayer(layer.name, tuple(input_shape), shape, synapse, None,
                         _cuba(layer.neuron, bias, min(bound, 1 << (CONV_BITS - 1))))


def _loaded(weight: np.ndarray, fan_in: int) -> tuple[list[np.ndarray], int]:
    """The Dense blocks' weights as Lava holds them, and the exponent (:func:`dense_blocks`)."""
    try:
        return dense_blocks(weight, fan_in)
    except WeightsNotLoadable as error:
        raise NetworkFileError(str(error)) from None


def _dense_synapse(weight: np.ndarray, exponent: int) -> DenseSynapse:
    """A synapse over weights already as Lava's model holds them (see :func:`_loaded`)."""
    total = int(np.abs(weight).sum(axis=1).max()) if weight.size else 0
    bound = total << exponent if exponent > 0 else (total >> -exponent) + 1
    _exact_dtype(bound)
    return DenseSynapse(torch.as_tensor(weight.T.copy(), dtype=_exact_dtype(total)), exponent, bound)


def _delay_line(weight: np.ndarray, delays: np.ndarray, exponent: int) -> DelayLine:
    """One synapse per delay value, as ``get_delay_wgts_mat`` splits the clipped weights."""
    return DelayLine(tuple((int(delay), _dense_synapse(np.where(delays == delay, weight, 0), exponent))
                           for delay in np.unique(delays)))


def _delays(raw: np.ndarray, weight_shape: tuple[int, ...]) -> np.ndarray:
    """netx's expansion of a file's delays to one per synapse, clamped at 62."""
    delay = np.asarray(raw)
    if delay.max() > NETX_MAX_DELAY:
        delay = np.clip(delay, 0, NETX_MAX_DELAY)
    if delay.ndim == 0:
        delay = delay * np.ones(weight_shape)
    elif delay.ndim == 1 and delay.size == weight_shape[0]:
        delay = np.repeat(delay.reshape(-1, 1), weight_shape[1], axis=1)
    elif delay.ndim == 1 and delay.size == weight_shape[1]:
        delay = np.repeat(delay.reshape(1, -1), weight_shape[0], axis=0)
    if delay.shape != tuple(weight_shape):
        raise NetworkFileError(f"delay of shape {np.shape(raw)} does not fit weight {weight_shape}")
    delay = delay.astype(int)
    if delay.min() < 0:
        raise NetworkFileError(f"delays must be >= 0, found {delay.min()}")
    return delay


def _bias(raw: np.ndarray, whc: tuple[int, ...]) -> torch.Tensor:
    """netx's bias as the neuron holds it: truncated, int16 ``bias_mant`` (torch layout)."""
    bias = _integers(raw)
    if len(whc) == 1:
        if bias.size != whc[0]:
            raise NetworkFileError(f"bias of shape {bias.shape} does not fit {whc[0]} neurons")
        mantissa = bias.reshape(whc)
    elif bias.shape == whc:
        mantissa = bias
    elif bias.ndim >= 1 and bias.shape[0] == whc[-1]:  # one per channel, as blocks.Conv spreads it
        mantissa = np.zeros(whc)
        try:
            mantissa[:, :] = bias
        except ValueError:
            raise NetworkFileError(f"bias of shape {bias.shape} does not fit neurons of shape {whc}") from None
    else:
        raise NetworkFileError(f"bias of shape {bias.shape} does not fit neurons of shape {whc}")
    mantissa = mantissa.astype(np.int32).astype(np.int16).astype(np.int64)
    if len(whc) == 3:
        mantissa = mantissa.transpose(2, 1, 0)
    return torch.as_tensor(np.ascontiguousarray(mantissa) << STATE_SHIFT, dtype=EXACT)


def _cuba(neuron: dict[str, Any], bias: Optional[torch.Tensor], input_bound: int) -> CubaParams:
    """netx ``get_neuron_params`` for CUBA: ``du = iDecay - 1``, ``dv = vDecay``, ``vth = vThMant``."""
    kind = str(neuron.get("type"))
    if kind not in NEURON_TYPES:
        raise NetworkFileError(f"neuron type {kind!r} is not supported")
    if int(neuron.get("messageBits", 0) or 0) > 0:
        raise NetworkFileError(f"graded spikes (messageBits={neuron['messageBits']}) are not supported")
    values = {}
    for key in ("iDecay", "vDecay", "vThMant"):
        value = neuron.get(key)
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
            raise NetworkFileError(f"neuron/{key} is {value!r}; Lava's fixed-point neuron needs an integer")
        values[key] = int(value)
    for key in ("iDecay", "vDecay"):
        if not 0 <= values[key] <= DECAY_UNITY:
            raise NetworkFileError(f"neuron/{key}={values[key]} is outside 0..{DECAY_UNITY}")
    if abs(values["vThMant"]) >= 1 << 56:
        raise NetworkFileError(f"neuron/vThMant={values['vThMant']} does not fit 64 bits once shifted")
    return CubaParams(current_factor=DECAY_UNITY - values["iDecay"], voltage_factor=DECAY_UNITY - values["vDecay"],
                      threshold=values["vThMant"] << STATE_SHIFT, bias=bias,
                      input_bound=min(input_bound, INT32_LIMIT))


def _integers(raw: np.ndarray) -> np.ndarray:
    """netx's ``NetDict`` reads weights and biases with ``astype(int)``: truncation toward 0."""
    return np.asarray(raw).astype(int)


def _exact_dtype(bound: int) -> torch.dtype:
    if bound < FLOAT32_EXACT:
        return torch.float32
    if bound < FLOAT64_EXACT:
        return torch.float64
    raise NetworkFileError(f"synaptic sums reach {bound}, beyond what the emulator computes exactly (2**53)")
