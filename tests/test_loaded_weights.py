"""neurodeploy.core.loaded_weights against netx's and Lava's own functions, value for value.

The emulator and the precision checks quantise weights with the project's numpy code so
they run without Lava; this is the test that ties that code to netx's
``optimize_weight_bits`` and Lava's ``clip_weights`` / ``truncate_weights`` (Lava leg).
"""
from __future__ import annotations

import contextlib
import io
from pathlib import Path

import h5py
import numpy as np
import pytest

from neurodeploy.core.loaded_weights import WeightsNotLoadable, lava_dense_weights, netx_optimised

pytestmark = pytest.mark.lava  # compares with netx and Lava themselves


def _theirs(weight: np.ndarray):
    """netx's optimisation then Lava's Dense model's first-step clip and truncation."""
    from lava.lib.dl.netx import utils as netx_utils
    from lava.utils import weightutils

    with contextlib.redirect_stdout(io.StringIO()):
        optimised, bits, exponent, _ = netx_utils.optimize_weight_bits(weight)
    held = optimised.astype(np.int32)
    mode = weightutils.determine_sign_mode(held)
    held = weightutils.truncate_weights(weightutils.clip_weights(held, mode, num_bits=8), mode, bits)
    return optimised, bits, exponent, held.astype(np.int64)


def _assert_same(weight: np.ndarray) -> None:
    try:
        expected = _theirs(weight)
    except (OverflowError, ValueError):
        with pytest.raises(WeightsNotLoadable):
            netx_optimised(weight)
        return
    optimised, bits, exponent = netx_optimised(weight)
    assert (bits, exponent) == expected[1:3]
    assert optimised.dtype == expected[0].dtype
    np.testing.assert_array_equal(optimised, expected[0])
    np.testing.assert_array_equal(lava_dense_weights(optimised, bits), expected[3])


def _regimes(rng: np.random.Generator):
    """Weight matrices of every sign mode, scale and trailing-zero count netx distinguishes."""
    for _ in range(40):
        shape = tuple(int(n) for n in rng.integers(1, 12, size=2))
        low, high = sorted(int(v) for v in rng.choice([-600, -300, -256, -255, -129, -128, -64, -3, -1, 0,
                                                       1, 2, 7, 127, 128, 254, 255, 256, 700], size=2))
        weight = rng.integers(low, high + 1, size=shape)
        yield weight
        yield weight * (2 ** int(rng.integers(0, 5)))      # trailing zero bits
        yield -np.abs(weight)                              # inhibitory
        yield np.abs(weight)                               # excitatory
    yield np.zeros((3, 4), dtype=int)                      # netx's scale is infinite
    yield np.array([[0, -5, 0]])                           # max 0: netx says mixed, Lava inhibitory
    yield np.array([[254, -256]])
    yield np.array([[255, -1]])
    yield np.array([[-257, 3]])


def test_random_weights_equal_netx_and_lava():
    rng = np.random.default_rng(7)
    for weight in _regimes(rng):
        _assert_same(weight)


def _dense_weights(path: Path):
    with h5py.File(path, "r") as file:
        layers = file.get("layer")
        for key in sorted(layers, key=int) if layers is not None else ():
            layer = layers[key]
            kind = np.asarray(layer["type"][()]).reshape(-1)[0]
            if kind in (b"dense", b"dense_rec") and "weight" in layer:
                yield f"{path.name}:{key}", layer["weight"][()].astype(int)


def test_every_lava_dl_dense_weight_equals_netx_and_lava():
    from lava.lib.dl.netx import utils as netx_utils

    nets = Path(netx_utils.__file__).resolve().parents[4] / "tests" / "lava" / "lib" / "dl" / "netx"
    found = [item for path in sorted(nets.rglob("*.net")) for item in _dense_weights(path)]
    assert len(found) >= 6, f"lava-dl's netx test networks not found under {nets}"
    for _, weight in found:
        _assert_same(weight)
