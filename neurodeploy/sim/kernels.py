"""The CUBA neuron loop of :mod:`neurodeploy.sim.fixed_point` as one compiled CPU kernel.

Torch runs the loop as about ten tensor operations per time step (each a pass over the
batch's state, and ``trunc`` is not vectorised), so the neuron update dominated the
emulator. Here numba compiles the whole loop over samples, steps and neurons: each
neuron's ``u`` and ``v`` stay in registers, the drive is read once, the spikes written
once. The arithmetic is :meth:`CubaState.step`'s, operation by operation, on the same
float64 values (exact for the same reason: integers below 2**53, dyadic factors, ``trunc``,
``floor`` and comparisons), so both paths give the same bits; the tests run both against Lava.
The compiled code is cached on disk by numba (``cache=True``): the first call in a fresh
environment compiles for about a second, later processes load it.
"""
from __future__ import annotations

import numba
import numpy as np

UV_LIMIT = float(1 << 23)
HALF32 = float(1 << 31)


@numba.njit(cache=True, nogil=True, inline="always")
def _wrap32(value: float) -> float:
    """Two's-complement wrap to 32 bits, as :func:`fixed_point.wrap` computes it."""
    return (value + HALF32) - 2.0 * HALF32 * np.floor((value + HALF32) / (2.0 * HALF32)) - HALF32


@numba.njit(cache=True, nogil=True)
def cuba_loop(drive: np.ndarray, resets: np.ndarray, bias: np.ndarray, current: float, voltage: float,
              threshold: float, wrap_input: bool, int32_safe: bool, wraps: bool, saturates: bool,
              spikes: np.ndarray, record: np.ndarray) -> None:  # pragma: no cover - compiled
    """Run ``drive`` ``(B, T, n)`` (``a_in`` per step) through the neurons.

    ``resets`` ``(T,)`` zeroes ``u`` and ``v`` before a step; ``bias`` ``(1 or B, 1 or T, n)``
    is the effective bias (``bias_mant << 6``); the flags are :class:`CubaParams`' proofs.
    Writes ``spikes`` ``(B, T, n)`` and, when ``record`` has that shape too, the voltage."""
    batch, steps, size = drive.shape
    recording = record.shape[0] == batch and batch > 0
    per_sample, per_step = bias.shape[0] > 1, bias.shape[1] > 1
    plain = int32_safe and not (wrap_input or wraps or saturates)  # what trained networks need
    u = np.zeros(size)
    v = np.zeros(size)
    for b in range(batch):
        u[:] = 0.0
        v[:] = 0.0
        for t in range(steps):
            if resets[t]:
                u[:] = 0.0
                v[:] = 0.0
            a_in = drive[b, t]
            offset = bias[b if per_sample else 0, t if per_step else 0]
            fired = spikes[b, t]
            if plain:  # one branch-free loop that vectorises
                for i in range(size):
                    x = np.trunc(u[i] * current) + a_in[i] * 64.0
                    u[i] = x
                    y = np.trunc(v[i] * voltage) + x + offset[i]
                    fired[i] = y > threshold
                    v[i] = 0.0 if y > threshold else y
            else:
                for i in range(size):
                    u[i], v[i], fired[i] = _general(u[i], v[i], a_in[i], offset[i], current, voltage, threshold,
                                                    wrap_input, int32_safe, wraps, saturates)
            if recording:
                for i in range(size):
                    record[b, t, i] = np.int64(v[i])


@numba.njit(cache=True, nogil=True, inline="always")
def _general(x: float, y: float, a: float, offset: float, current: float, voltage: float, threshold: float,
             wrap_input: bool, int32_safe: bool, wraps: bool, saturates: bool) -> tuple:
    """One neuron's step with every overflow rule :class:`CubaParams` could not rule out."""
    if wrap_input:
        a = _wrap32(a)
    x = np.trunc(x * current)
    if int32_safe:
        x += a * 64.0
        if wraps:
            x -= np.floor((x + (UV_LIMIT - 1.0)) * (1.0 / (2.0 * UV_LIMIT))) * (2.0 * UV_LIMIT)
    else:
        x = _wrap32(x + _wrap32(a * 64.0))
        if x > UV_LIMIT:
            x -= 2.0 * UV_LIMIT
        elif x <= -UV_LIMIT:
            x += 2.0 * UV_LIMIT
    y = np.trunc(y * voltage) + x + offset
    if not int32_safe:
        y = _wrap32(y)
    if saturates:
        y = min(max(y, -(UV_LIMIT - 1.0)), UV_LIMIT - 1.0)
    fired = y > threshold
    return x, 0.0 if fired else y, fired
