"""The CPU loops of the emulator, compiled: the CUBA neuron of :mod:`neurodeploy.backends.emulator.fixed_point`,
alone or fused with an event-driven synapse.

Torch runs the neuron loop as about ten tensor operations per time step (each a pass over
the batch's state, and ``trunc`` is not vectorised), so the neuron update dominated the
emulator. Here numba compiles the whole loop over samples, steps and neurons: each
neuron's ``u`` and ``v`` stay in registers, the drive is read once, the spikes written
once. The arithmetic is :meth:`CubaState.step`'s, operation by operation, on the same
float64 values (exact for the same reason: integers below 2**53, dyadic factors, ``trunc``,
``floor`` and comparisons), so both paths give the same bits; the tests run both against Lava.

The event kernels (:func:`dense_events`, :func:`conv_events`) compute a feed-forward
synapse as Lava's does, by adding the weights of the inputs that spiked (an integer sum in
float64, exact below 2**53 whatever the order), then step the neurons on that sum at once:
no dense product over the silent inputs, no drive tensor between synapse and neuron.
The compiled code is cached on disk by numba (``cache=True``): the first call in a fresh
environment compiles for a few seconds, later processes load it.
"""
from __future__ import annotations

from neurodeploy.core.runtime import use_user_numba_cache

use_user_numba_cache()  # before numba compiles or loads anything: the user's cache, not the package's folder

import numba  # noqa: E402
import numpy as np  # noqa: E402

UV_LIMIT = float(1 << 23)
HALF32 = float(1 << 31)


@numba.njit(cache=True, nogil=True, inline="always")
def _wrap(value: float, half: float) -> float:
    """Two's-complement wrap to ``2 * half``, as :func:`fixed_point.wrap` computes it."""
    return (value + half) - 2.0 * half * np.floor((value + half) / (2.0 * half)) - half


@numba.njit(cache=True, nogil=True, inline="always")
def _neurons(a_in: np.ndarray, u: np.ndarray, v: np.ndarray, offset: np.ndarray, cuba: tuple,
             fired: np.ndarray) -> None:  # pragma: no cover - compiled
    """One step of ``len(u)`` neurons taking ``a_in``; writes ``fired``. ``cuba`` = (current
    and voltage factors, threshold, and :class:`CubaParams`' proofs: wrap_input,
    int32_safe, wraps, saturates)."""
    current, voltage, threshold, wrap_input, int32_safe, wraps, saturates = cuba
    if int32_safe and not (wrap_input or wraps or saturates):  # what trained networks need
        for i in range(len(u)):  # one branch-free loop that vectorises
            x = np.trunc(u[i] * current) + a_in[i] * 64.0
            u[i] = x
            y = np.trunc(v[i] * voltage) + x + offset[i]
            fired[i] = y > threshold
            v[i] = 0.0 if y > threshold else y
    elif int32_safe and not (wrap_input or wraps):  # the voltage clip could not be ruled out
        for i in range(len(u)):
            x = np.trunc(u[i] * current) + a_in[i] * 64.0
            u[i] = x
            y = min(max(np.trunc(v[i] * voltage) + x + offset[i], -(UV_LIMIT - 1.0)), UV_LIMIT - 1.0)
            fired[i] = y > threshold
            v[i] = 0.0 if y > threshold else y
    else:
        for i in range(len(u)):
            u[i], v[i], fired[i] = _general(u[i], v[i], a_in[i], offset[i], current, voltage, threshold,
                                            wrap_input, int32_safe, wraps, saturates)


@numba.njit(cache=True, nogil=True, inline="always")
def _emit(fired: np.ndarray, row: int, pointers: np.ndarray, indices: np.ndarray) -> None:
    """Append the neurons that fired to the output events (row ``row`` of ``pointers``)."""
    at = pointers[row]
    for i in range(len(fired)):
        if fired[i]:
            indices[at] = i
            at += 1
    pointers[row + 1] = at


@numba.njit(cache=True, nogil=True, inline="always")
def _begin_step(row: int, steps: int, resets: np.ndarray, u: np.ndarray, v: np.ndarray,
                a_in: np.ndarray) -> None:  # pragma: no cover - compiled
    """Row ``row = b * steps + t``: neurons at rest at a sample's first step and where
    ``resets[t]``; no synaptic input yet."""
    if row % steps == 0 or resets[row % steps]:
        u[:] = 0.0
        v[:] = 0.0
    a_in[:] = 0.0


@numba.njit(cache=True, nogil=True, inline="always")
def _fire(a_in: np.ndarray, u: np.ndarray, v: np.ndarray, offset: np.ndarray, cuba: tuple, row: int,
          spikes: np.ndarray, record: np.ndarray, out_pointers: np.ndarray,
          out_indices: np.ndarray) -> None:  # pragma: no cover - compiled
    """The event kernels' step after the synapse: the neurons, their spikes out as a row of
    ``spikes`` and as events, and the voltage into ``record`` when it has a row for it."""
    _neurons(a_in, u, v, offset, cuba, spikes[row])
    _emit(spikes[row], row, out_pointers, out_indices)
    if record.shape[0] == spikes.shape[0]:
        for i in range(len(v)):
            record[row, i] = np.int64(v[i])


@numba.njit(cache=True, nogil=True)
def cuba_loop(drive: np.ndarray, resets: np.ndarray, bias: np.ndarray, cuba: tuple, spikes: np.ndarray,
              record: np.ndarray) -> int:  # pragma: no cover - compiled
    """Run ``drive`` ``(B, T, n)`` (``a_in`` per step) through the neurons.

    ``resets`` ``(T,)`` zeroes ``u`` and ``v`` before a step; ``bias`` ``(1 or B, 1 or T, n)``
    is the effective bias (``bias_mant << 6``); ``cuba`` as :func:`_neurons` takes it.
    Writes ``spikes`` ``(B, T, n)`` and, when ``record`` has that shape too, the voltage;
    returns how many spikes it wrote."""
    batch, steps, size = drive.shape
    recording = record.shape[0] == batch and batch > 0
    per_sample, per_step = bias.shape[0] > 1, bias.shape[1] > 1
    u = np.zeros(size)
    v = np.zeros(size)
    count = 0
    for b in range(batch):
        u[:] = 0.0
        v[:] = 0.0
        for t in range(steps):
            if resets[t]:
                u[:] = 0.0
                v[:] = 0.0
            _neurons(drive[b, t], u, v, bias[b if per_sample else 0, t if per_step else 0], cuba, spikes[b, t])
            for i in range(size):
                count += spikes[b, t, i]
            if recording:
                for i in range(size):
                    record[b, t, i] = np.int64(v[i])
    return count


@numba.njit(cache=True, nogil=True)
def compact(spikes: np.ndarray) -> tuple:  # pragma: no cover - compiled
    """The inputs that fired in each row of ``spikes`` ``(S, n)`` bool, as ``(pointers,
    indices)``: row ``s``'s are ``indices[pointers[s]:pointers[s + 1]]``, ascending."""
    rows, size = spikes.shape
    pointers = np.zeros(rows + 1, dtype=np.int64)
    for s in range(rows):
        fired = 0
        for i in range(size):
            fired += spikes[s, i]
        pointers[s + 1] = pointers[s] + fired
    indices = np.empty(pointers[rows], dtype=np.int64)
    for s in range(rows):
        at = pointers[s]
        for i in range(size):
            if spikes[s, i]:
                indices[at] = i
                at += 1
    return pointers, indices


@numba.njit(cache=True, nogil=True)
def level_events(pixels: np.ndarray, level_pointers: np.ndarray, level_steps: np.ndarray,
                 steps: int) -> tuple:  # pragma: no cover - compiled
    """The spikes of a deterministic code without the spike trains: pixel ``i`` of sample
    ``b`` at intensity ``x`` fires at steps ``level_steps[level_pointers[x]:level_pointers[x + 1]]``.
    ``pixels`` ``(B, n)``; returns ``(pointers, indices)`` over the ``B * steps`` rows as
    :func:`compact` does."""
    batch, size = pixels.shape
    pointers = np.zeros(batch * steps + 1, dtype=np.int64)
    for b in range(batch):
        for i in range(size):
            level = pixels[b, i]
            for k in range(level_pointers[level], level_pointers[level + 1]):
                pointers[b * steps + level_steps[k] + 1] += 1
    for s in range(batch * steps):
        pointers[s + 1] += pointers[s]
    indices = np.empty(pointers[batch * steps], dtype=np.int64)
    filled = pointers[:-1].copy()
    for b in range(batch):
        for i in range(size):
            level = pixels[b, i]
            for k in range(level_pointers[level], level_pointers[level + 1]):
                row = b * steps + level_steps[k]
                indices[filled[row]] = i
                filled[row] += 1
    return pointers, indices


@numba.njit(cache=True, nogil=True)
def dense_events(pointers: np.ndarray, indices: np.ndarray, steps: int, weight_t: np.ndarray, scale: float,
                 resets: np.ndarray, bias: np.ndarray, cuba: tuple, spikes: np.ndarray, record: np.ndarray,
                 out_pointers: np.ndarray, out_indices: np.ndarray) -> None:  # pragma: no cover - compiled
    """``PyDenseModelBitAcc`` into the neurons, event by event: row ``s = b * steps + t``
    of the input events (:func:`compact`) adds those rows of ``weight_t`` ``(n_in, n_out)``
    (integers, in a float type that holds every sum exactly), scaled by ``scale`` ``2 **
    weight_exp`` and floored (Lava's arithmetic shift). Writes ``spikes`` ``(B * steps,
    n_out)`` (and ``record`` as :func:`cuba_loop` does, when it has that shape) and the
    same spikes as events into ``out_pointers`` ``(B * steps + 1,)`` and ``out_indices``
    (room for every neuron at every step)."""
    rows, size = spikes.shape
    u, v, a_in = np.zeros(size), np.zeros(size), np.zeros(size, dtype=weight_t.dtype)
    out_pointers[0] = 0
    for s in range(rows):
        _begin_step(s, steps, resets, u, v, a_in)
        for k in range(pointers[s], pointers[s + 1]):
            i = indices[k]
            for j in range(size):
                a_in[j] += weight_t[i, j]
        if scale != 1.0:
            for j in range(size):
                a_in[j] = np.floor(a_in[j] * scale)
        _fire(a_in, u, v, bias[0, 0], cuba, s, spikes, record, out_pointers, out_indices)


@numba.njit(cache=True, nogil=True)
def conv_events(pointers: np.ndarray, indices: np.ndarray, steps: int, channel_of: np.ndarray,
                position_of: np.ndarray, first_of: np.ndarray, tap_pointers: np.ndarray, tap_outputs: np.ndarray,
                tap_kernel: np.ndarray, weight: np.ndarray, outs: int, wrap24: bool, resets: np.ndarray,
                bias: np.ndarray, cuba: tuple, spikes: np.ndarray, record: np.ndarray, out_pointers: np.ndarray,
                out_indices: np.ndarray) -> None:  # pragma: no cover - compiled
    """``PyConvModelFixed`` into the neurons, event by event: a spike of input ``i`` (channel
    ``channel_of[i]``, position ``position_of[i]``) adds, for each kernel tap that reaches
    an output position from there (``tap_pointers``/``tap_outputs``/``tap_kernel``, CSR by
    input position), that tap's weights to the position's neurons of the channel's group
    (output channels ``first_of[c]`` on). ``weight`` ``(C, kH * kW, O / groups)`` integers
    in an exact float type; ``outs`` = O; ``wrap24`` wraps the sum to 24 bits. Neurons,
    ``bias`` ``(1, 1, O H' W')``, ``spikes`` and ``record`` ``(B * steps, O H' W')`` are
    channel-major, as the other layers hold them; the events go out as :func:`dense_events`'s."""
    per_group = weight.shape[2]
    rows, size = spikes.shape
    positions = size // outs
    u, v, a_in = np.zeros(size), np.zeros(size), np.zeros(size, dtype=weight.dtype)
    out_pointers[0] = 0
    for s in range(rows):
        _begin_step(s, steps, resets, u, v, a_in)
        for k in range(pointers[s], pointers[s + 1]):
            c = channel_of[indices[k]]
            position = position_of[indices[k]]
            for e in range(tap_pointers[position], tap_pointers[position + 1]):
                base = first_of[c] * positions + tap_outputs[e]
                tap = tap_kernel[e]
                for o in range(per_group):
                    a_in[base + o * positions] += weight[c, tap, o]
        if wrap24:
            for i in range(size):
                a_in[i] = _wrap(a_in[i], UV_LIMIT)
        _fire(a_in, u, v, bias[0, 0], cuba, s, spikes, record, out_pointers, out_indices)


@numba.njit(cache=True, nogil=True, inline="always")
def _general(x: float, y: float, a: float, offset: float, current: float, voltage: float, threshold: float,
             wrap_input: bool, int32_safe: bool, wraps: bool, saturates: bool) -> tuple:
    """One neuron's step with every overflow rule :class:`CubaParams` could not rule out."""
    if wrap_input:
        a = _wrap(a, HALF32)
    x = np.trunc(x * current)
    if int32_safe:
        x += a * 64.0
        if wraps:
            x -= np.floor((x + (UV_LIMIT - 1.0)) * (1.0 / (2.0 * UV_LIMIT))) * (2.0 * UV_LIMIT)
    else:
        x = _wrap(x + _wrap(a * 64.0, HALF32), HALF32)
        if x > UV_LIMIT:
            x -= 2.0 * UV_LIMIT
        elif x <= -UV_LIMIT:
            x += 2.0 * UV_LIMIT
    y = np.trunc(y * voltage) + x + offset
    if not int32_safe:
        y = _wrap(y, HALF32)
    if saturates:
        y = min(max(y, -(UV_LIMIT - 1.0)), UV_LIMIT - 1.0)
    fired = y > threshold
    return x, 0.0 if fired else y, fired
