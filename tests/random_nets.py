"""Random netx files for exactness tests: sizes, weights, decays, thresholds, biases and
delays drawn from one seed, with extreme values on purpose (weights that netx clips or
zeroes, conv kernels large enough to wrap the 24-bit current and saturate the voltage,
biases beyond int16, decays 0 and 4096, delays past netx's 62, frames shorter than the
network is deep). Written with h5py in lava-dl's layout through ``netx_factory``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

from neurodeploy.core.encoding import FrameSchedule
from tests.netx_factory import conv_layer, cuba_neuron, dense_layer, write_netx


@dataclass(frozen=True)
class RandomCase:
    path: Path
    images: np.ndarray
    schedule: FrameSchedule


def random_case(folder: Path, seed: int, samples: int = 6, conv: Optional[bool] = None,
                delay: Optional[bool] = None, recurrent: Optional[bool] = None) -> RandomCase:
    """A network, images and a schedule from ``seed``; features not fixed are drawn."""
    rng = np.random.default_rng(seed)
    conv = bool(rng.integers(2)) if conv is None else conv
    delay = bool(rng.integers(2)) if delay is None else delay
    recurrent = bool(rng.integers(2)) if recurrent is None else recurrent
    layers: list[dict[str, Any]] = []
    channels, height, width = int(rng.integers(1, 4)), int(rng.integers(3, 7)), int(rng.integers(3, 7))
    features = channels * height * width
    if conv:
        out_channels, kernel = int(rng.integers(1, 5)), int(rng.integers(1, 4))
        stride, padding = int(rng.integers(1, 3)), int(rng.integers(0, 2))
        out_h, out_w = ((size + 2 * padding - kernel) // stride + 1 for size in (height, width))
        scale = int(rng.choice([4, 64, 1 << 14, 1 << 18]))
        layer = conv_layer(rng.integers(-scale, scale + 1, size=(out_channels, channels, kernel, kernel)),
                           (out_channels, out_h, out_w), stride, padding, _neuron(rng))
        layer.update(_bias(rng, out_channels))
        layers += [layer, {"type": "flatten", "shape": np.array([out_channels * out_h * out_w, 1, 1])}]
        features = out_channels * out_h * out_w
    hidden = int(rng.integers(2, 12))
    layers.append(dense_layer(_dense_weight(rng, hidden, features), _neuron(rng),
                              delay=rng.integers(0, 70, size=hidden) if delay else None,
                              **_bias(rng, hidden)))
    size = int(rng.integers(2, 8))
    layers.append(dense_layer(_dense_weight(rng, size, hidden), _neuron(rng),
                              weight_rec=_dense_weight(rng, size, size) if recurrent else None,
                              **_bias(rng, size)))
    path = write_netx(folder / f"random{seed}.net", layers)
    bright = rng.random() < 0.5
    images = rng.integers(128 if bright else 0, 256, size=(samples, channels, height, width)).astype(np.uint8)
    schedule = FrameSchedule(temporal_steps=int(rng.integers(1, 6)), drop_lsb=int(rng.integers(0, 8)),
                             gap=int(rng.integers(0, 4)))
    return RandomCase(path, images, schedule)


def _dense_weight(rng: np.random.Generator, rows: int, columns: int) -> np.ndarray:
    """Mixed, one-signed or clipped weights; never all zero (netx cannot quantise those)."""
    kind = rng.choice(["mixed", "excitatory", "inhibitory", "clipped", "tiny"])
    if kind == "mixed":
        weight = rng.integers(-256, 255, size=(rows, columns))
    elif kind == "excitatory":
        weight = rng.integers(0, 256, size=(rows, columns))
    elif kind == "inhibitory":
        weight = -rng.integers(0, 256, size=(rows, columns))
    elif kind == "clipped":
        weight = rng.integers(-600, 600, size=(rows, columns))
    else:
        weight = rng.integers(-2, 3, size=(rows, columns))
    weight[0, 0] = weight[0, 0] or 1
    return weight


def _neuron(rng: np.random.Generator) -> dict[str, Any]:
    def pick(extremes: list[int], high: int) -> int:
        return int(rng.choice(extremes)) if rng.random() < 0.5 else int(rng.integers(0, high))

    return cuba_neuron(iDecay=pick([0, 4096], 4097), vDecay=pick([0, 4096], 4097),
                       vThMant=pick([0, 1, (1 << 17) - 1], 400))


def _bias(rng: np.random.Generator, size: int) -> dict[str, np.ndarray]:
    if rng.random() < 0.4:
        return {}
    high = int(rng.choice([100, 5000, 40000]))
    return {"bias": rng.integers(-high, high, size=size)}
