"""What a dense layer's weights become on their way into Lava, without Lava installed.

netx reads a file's weights and passes them through ``optimize_weight_bits``
(``lava/lib/dl/netx/utils.py``): it picks a sign mode from the extremes, clips a
mixed-sign matrix into [-256, 254], shifts the weights left until they span the 8-bit
range, and derives the weight bits and exponent from the shift and the weights' trailing
zero bits. Lava's fixed_pt ``Dense`` model then, on its first step, clips them to 8 bits
for the sign mode it determines itself and truncates the bits it cannot store
(``lava/utils/weightutils.py``: ``determine_sign_mode``, ``clip_weights``,
``truncate_weights``).

These are the same operations, written against numpy alone so the emulator and the
precision checks run on any Python without lava-nc or lava-dl (archived, Python 3.10
only). ``tests/test_loaded_weights.py`` checks them equal to netx's and Lava's own
functions, value for value, wherever Lava is installed.
"""
from __future__ import annotations

import numpy as np

WEIGHT_BITS = 8  # Lava's max_num_weight_bits and clip width for Dense


class WeightsNotLoadable(ValueError):
    """netx's ``optimize_weight_bits`` fails on these weights (e.g. all zero: its scale is infinite)."""


def netx_optimised(weight: np.ndarray) -> tuple[np.ndarray, int, int]:
    """netx's ``optimize_weight_bits``: (shifted integer weights, weight bits, weight exponent).

    Raises :class:`WeightsNotLoadable` where netx's own arithmetic fails (an infinite or
    undefined scale), which makes netx's network build fail too.
    """
    weight = np.asarray(weight)
    max_weight, min_weight = np.max(weight), np.min(weight)
    if max_weight > 254 and min_weight < 0:
        weight = np.clip(weight, -256, 254)
        max_weight = np.max(weight)
    if min_weight < -256 and max_weight > 0:
        weight = np.clip(weight, -256, 254)
        min_weight = np.min(weight)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if max_weight < 0:
            is_signed, scale = 0, -256 / min_weight
        elif min_weight >= 0:
            is_signed, scale = 0, 255 / max_weight
        else:
            is_signed, scale = 1, np.min([127 / max_weight, -128 / min_weight])
        scale_bits = np.floor(np.log2(scale)) + is_signed
        trailing = WEIGHT_BITS
        while trailing > 0 and np.sum(np.abs(weight / (2 ** trailing) - np.round(weight / (2 ** trailing)))) != 0:
            trailing -= 1
    trailing -= is_signed
    try:
        shift = int(scale_bits)
        bits, exponent = int(WEIGHT_BITS - scale_bits - trailing), int(-scale_bits)
    except (OverflowError, ValueError) as error:
        raise WeightsNotLoadable(f"netx cannot quantise these weights ({error})") from None
    return np.left_shift(weight.astype(np.int32), shift).astype(int), bits, exponent


def dense_blocks(weight: np.ndarray, fan_in: int) -> tuple[list[np.ndarray], int]:
    """What a netx dense layer's Lava ``Dense`` blocks hold, and netx's weight exponent.

    ``weight``: the layer's integer rows, recurrent weights appended after the first
    ``fan_in`` columns (``dense_rec``). netx optimises the whole matrix at once; each Dense
    block (feed-forward, then recurrent) then clips and truncates its own part, in the sign
    mode it determines itself. Raises :class:`WeightsNotLoadable` as :func:`netx_optimised`."""
    optimised, bits, exponent = netx_optimised(weight)
    parts = [optimised[:, :fan_in], optimised[:, fan_in:]] if optimised.shape[1] > fan_in else [optimised]
    return [lava_dense_weights(part, bits) for part in parts], exponent


def lava_sign_mode(weight: np.ndarray) -> str:
    """Lava's ``determine_sign_mode`` (ties differ from netx's: all <= 0 is inhibitory)."""
    if np.min(weight) >= 0:
        return "excitatory"
    if np.max(weight) <= 0:
        return "inhibitory"
    return "mixed"


def lava_dense_weights(weight: np.ndarray, bits: int) -> np.ndarray:
    """What ``PyDenseModelBitAcc`` holds after its first step: ``clip_weights(num_bits=8)``
    then ``truncate_weights(bits)`` in the sign mode it determines, as int64."""
    weight = np.asarray(weight).astype(np.int32)
    mode = lava_sign_mode(weight)
    mixed, inhibitory = int(mode == "mixed"), mode == "inhibitory"
    if inhibitory:
        weight = -weight
    weight = np.clip(weight, (-2 ** WEIGHT_BITS) * mixed, 2 ** WEIGHT_BITS - 1).astype(np.int32)
    dropped = WEIGHT_BITS - bits + mixed
    weight = (weight >> dropped) << dropped
    if inhibitory:
        weight = -weight
    return weight.astype(np.int64)
