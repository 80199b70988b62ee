"""The CPU loops of :mod:`neurodeploy.training.fused_cuba`, compiled with numba.

lava-dl 0.6's CPU path runs a CUBA neuron as two leaky integrators (current, then voltage),
each a Python loop over time steps of about ten int64 tensor operations, and the same
again backwards. Here one compiled loop per neuron runs both integrators, the spike and
the reset forward, and both recurrences backward, keeping the state in registers.

The arithmetic is SLAYER's, operation by operation (lava-dl 0.6,
``slayer/neuron/dynamics/leaky_integrator.py`` and ``slayer/spike/spike.py``):

- forward, per step: ``u = rstz(u * (4096 - decay), 12) + int64(float32(x * scale))``
  (``rstz``: right shift rounding towards zero); the integrator's output is
  ``float32(u) / scale``, and the voltage integrator takes that float times ``scale``
  truncated back to int64, as SLAYER's second call does; torch compares an int64 tensor
  with a Python float in float32, so the reset is ``float32(v) >= float32(threshold *
  scale)`` and the spike ``float32(v) / scale >= float32(threshold)`` (the same test
  when ``scale`` is a power of two, as it is: ``cuba_forward`` says why);
- backward: the surrogate ``(scale_rho / 2 / tau_rho) * exp(-|v - threshold| / tau_rho)``
  times the incoming gradient, then ``g[t] = keep * g[t + 1] + g_out[t]`` for the voltage
  and then the current, all in float32, each product and sum rounded as torch rounds it
  (numba adds no fused multiply-add without fastmath).

Only ``exp`` stays with torch (its CPU ``exp`` is vectorised library code whose last bit a
compiled ``expf`` need not match): the forward loop writes ``-|v - threshold| / tau_rho``,
torch exponentiates it, and the backward loop takes the result. Integer products are
exact; the float operations are IEEE single precision in both; so the bits agree
(``tests/test_cuba_fast.py`` checks them against lava-dl on dense, conv, delayed and
recurrent blocks). Compiled code is cached on disk (``cache=True``).
"""
from __future__ import annotations

from neurodeploy.core.runtime import use_user_numba_cache

use_user_numba_cache()  # before numba compiles or loads anything: the user's cache, not the package's folder

import numba  # noqa: E402
import numpy as np  # noqa: E402

DECAY_BITS = 12
DECAY_MASK = (1 << DECAY_BITS) - 1


@numba.njit(cache=True, nogil=True, inline="always")
def _shift_to_zero(value: int) -> int:  # pragma: no cover - compiled
    """``value >> 12`` rounding towards zero (lava-dl's ``right_shift_to_zero``): a negative
    value is biased by ``2**12 - 1`` first, so the floor of the shift is the truncation."""
    return (value + ((value >> 63) & DECAY_MASK)) >> DECAY_BITS


@numba.njit(cache=True, nogil=True)
def cuba_forward(drive: np.ndarray, state: np.ndarray, constants: tuple, spikes: np.ndarray,
                 exp_arg: np.ndarray, traces: np.ndarray, last: np.ndarray) -> None:  # pragma: no cover - compiled
    """Run ``drive`` ``(M, T)`` float32 through ``M`` CUBA neurons; writes ``spikes`` ``(M, T)``.

    ``state`` ``(2, M)``: current and voltage at the start (``(0, 0)``: at rest).
    ``constants``: current and voltage factors (int64, ``4096 - decay``), ``scale``
    (float32, a power of two), reset threshold (float32, times ``scale``), spike threshold
    and ``tau_rho`` (float32), ``shift`` (1: spikes leave one step later, SLAYER's
    ``delay_shift``). Written only where they have ``M`` rows: ``exp_arg`` (the
    surrogate's exponent), ``traces`` ``(2, M, T)`` (current and voltage outputs),
    ``last`` ``(2, M)`` (both at the last step, the voltage before its reset).

    With ``scale`` a power of two, dividing by it and multiplying back are exact, so the
    voltage integrator's input ``int64(float32(u) / scale * scale)`` is ``int64(float32(u))``
    and SLAYER's spike test ``float32(v) / scale >= float32(threshold)`` is its reset test
    ``float32(v) >= float32(threshold * scale)``: one comparison serves both."""
    current_factor, voltage_factor, scale, reset_threshold, spike_threshold, tau, shift = constants
    neurons, steps = drive.shape
    from_rest = state.shape[1] != neurons
    keep_arg = exp_arg.shape[0] == neurons
    keep_traces = traces.shape[1] == neurons
    keep_last = last.shape[1] == neurons
    zero = np.float32(0.0)
    one = np.float32(1.0)
    inverse = one / scale
    for m in range(neurons):
        u = np.int64(0) if from_rest else np.int64(state[0, m] * scale)
        v = np.int64(0) if from_rest else np.int64(state[1, m] * scale)
        if shift:
            spikes[m, 0] = zero
        u_float = zero
        v_float = zero
        for t in range(steps):
            u = _shift_to_zero(u * current_factor) + np.int64(drive[m, t] * scale)
            u_float = np.float32(u)
            v = _shift_to_zero(v * voltage_factor) + np.int64(u_float)
            v_float = np.float32(v)
            fired = v_float >= reset_threshold
            if t + shift < steps:
                spikes[m, t + shift] = one if fired else zero
            if keep_arg:
                exp_arg[m, t] = -abs(v_float * inverse - spike_threshold) / tau
            if keep_traces:
                traces[0, m, t] = u_float * inverse
                traces[1, m, t] = v_float * inverse
            if fired:
                v = np.int64(0)
        if keep_last:
            last[0, m] = u_float * inverse
            last[1, m] = v_float * inverse


@numba.njit(cache=True, nogil=True)
def cuba_backward(surrogate: np.ndarray, grad_spikes: np.ndarray, constants: tuple,
                  grad_drive: np.ndarray, grad_current: np.ndarray) -> None:  # pragma: no cover - compiled
    """Gradients of :func:`cuba_forward`'s ``drive`` from those of its ``spikes``.

    ``surrogate`` ``(M, T)``: ``exp`` of the forward's ``exp_arg``. ``constants``: the
    surrogate's gain ``scale_rho / 2 / tau_rho``, the voltage and current keep factors
    ``1 - decay / 4096`` (all float32) and ``shift``. Writes ``grad_drive`` ``(M, T)`` and,
    where it has ``M`` rows, ``grad_current`` (the voltage integrator's input gradient)."""
    gain, voltage_keep, current_keep, shift = constants
    neurons, steps = surrogate.shape
    keep_current = grad_current.shape[0] == neurons
    zero = np.float32(0.0)
    for m in range(neurons):
        grad_v = zero
        grad_u = zero
        for t in range(steps - 1, -1, -1):
            incoming = grad_spikes[m, t + shift] if t + shift < steps else zero
            grad_out = (gain * surrogate[m, t]) * incoming
            if t == steps - 1:
                grad_v = grad_out
            else:
                grad_v = voltage_keep * grad_v + grad_out
            if keep_current:
                grad_current[m, t] = grad_v
            if t == steps - 1:
                grad_u = grad_v
            else:
                grad_u = current_keep * grad_u + grad_v
            grad_drive[m, t] = grad_u
