"""The discrete-time float form of a netx network: what NIR maps to and Loihi quantises.

One :class:`FloatLayer` is one netx block (synapse, optional recurrent synapse, CUBA
neurons) with every parameter in *voltage units per step*, so that at step ``t``::

    u[t] = (1 - current_decay) * u[t-1] + W s[t - delay] + W_rec z[t-1]
    v[t] = (1 - voltage_decay) * v[t-1] + u[t] + bias
    z[t] = v[t] > threshold;  v[t] = 0 where z[t]

This is Lava's CUBA neuron with its integers replaced by reals (Lava runs exactly this,
truncating after each decay), and forward Euler applied to NIR's ODEs at step ``dt``
(see :mod:`neurodeploy.interop.nir_import` for the mapping). Shapes are torch's: a dense
layer's neurons are ``(n,)``, a conv layer's ``(C, H, W)``. ``threshold`` is ``None`` for a
non-spiking read-out (NIR ``LI`` / ``CubaLI``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from neurodeploy.core.blocks import chain_hops
from neurodeploy.core.errors import NeurodeployError

Pair = tuple[int, int]


@dataclass(frozen=True, eq=False)
class FloatLayer:
    """One netx block in float, discrete time. ``name`` is the netx layer name
    (``dense0``, ``conv1``...), ``source`` the NIR node(s) it came from."""

    name: str
    kind: str                                # "dense" or "conv"
    input_shape: tuple[int, ...]             # torch layout, before any flatten
    shape: tuple[int, ...]                   # torch layout
    weight: np.ndarray                       # dense (out, in); conv (out, in / groups, kH, kW)
    current_decay: float                     # dt / tau_syn; 1: the current lasts one step
    voltage_decay: float                     # dt / tau_mem; 0: no leak
    threshold: Optional[float]               # None: non-spiking read-out
    bias: Optional[np.ndarray] = None        # per neuron, added to v each step
    weight_rec: Optional[np.ndarray] = None  # (out, out), from the layer's own spikes
    delay: Optional[np.ndarray] = None       # steps: (out,) per neuron or (out, in) per synapse
    flatten: bool = False                    # a netx flatten layer precedes it
    stride: Pair = (1, 1)                    # conv geometry, torch order (h, w)
    padding: Pair = (0, 0)
    dilation: Pair = (1, 1)
    groups: int = 1
    scale: Optional[float] = None            # Loihi integer units per float unit, when known
    source: str = ""

    @property
    def synapse_input(self) -> tuple[int, ...]:
        """What the synapse takes: the input, flattened when a flatten precedes it."""
        return (math.prod(self.input_shape),) if self.flatten else self.input_shape

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def spiking(self) -> bool:
        return self.threshold is not None

    def bias_per_neuron(self) -> np.ndarray:
        """The bias broadcast to the layer's neurons (zeros when absent)."""
        if self.bias is None:
            return np.zeros(self.shape)
        bias = np.asarray(self.bias, dtype=float)
        if self.kind == "conv" and bias.shape == (self.shape[0],):
            return np.broadcast_to(bias.reshape(-1, 1, 1), self.shape).copy()
        return bias.reshape(self.shape)

    def delay_per_synapse(self) -> Optional[np.ndarray]:
        """Delays as ``(out, in)`` steps (netx's expansion of a per-neuron vector)."""
        if self.delay is None:
            return None
        delay = np.asarray(self.delay)
        if delay.ndim == 1:
            return np.repeat(delay.reshape(-1, 1), self.weight.shape[1], axis=1)
        return delay


@dataclass(frozen=True, eq=False)
class FloatNetwork:
    """A chain of :class:`FloatLayer` at time step ``dt`` seconds, fed ``input_shape``
    (torch layout) spikes."""

    layers: tuple[FloatLayer, ...]
    dt: float
    input_shape: tuple[int, ...]

    @property
    def hops(self) -> int:
        """Synaptic hops from input to output: one step of latency each on Loihi (every
        float layer has a synapse)."""
        return chain_hops(True for _ in self.layers)

    def layer(self, name: str) -> FloatLayer:
        return next(layer for layer in self.layers if layer.name == name)


class NirError(NeurodeployError):
    """A NIR graph or a netx file that the bridge cannot map; the message names the file,
    the node, the value and the limit."""
