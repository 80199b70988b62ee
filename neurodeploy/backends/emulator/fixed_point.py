"""Loihi's fixed-point CUBA neuron as Lava's ``PyLifResetModelBitAcc`` computes it, batched.

Every step follows ``AbstractPyLifModelFixed.subthr_dynamics`` (lava-nc 0.10) operation by
operation, on the values Lava keeps in int32 arrays:

- current: ``u = wrap24(int32(trunc(u * (4096 - du - 1) / 4096)) + int32(a_in << 6))``, where
  Lava's ``wrap24`` is a *single* conditional wrap (``> 2**23`` subtracts ``2**24``,
  ``<= -2**23`` adds it), not a modulo;
- voltage: ``v = clip(trunc(v * (4096 - dv) / 4096) + u + (bias << 6), -(2**23 - 1), 2**23 - 1)``;
- spike where ``v > vth << 6``, then ``v = 0`` where it spiked.

The integers are held in float64 tensors, which is exact: every value stays below 2**44
(an int32 times a 12-bit decay), float64 holds every integer below 2**53, and each
operation used (products with the dyadic ``factor / 4096``, ``trunc``, sums, ``remainder``
by a power of two, comparisons) returns the exact result when it is representable. float64
runs these element-wise steps about twice as fast as int64 on x86 (no vector int64 multiply).

int32 overflow (numpy wraps silently) is reproduced with :func:`wrap` wherever the
layer's largest possible input could reach it. :class:`CubaParams` proves per layer which
overflow rules can act at all (from the weights, decays and biases), and the step skips
the others: trained networks need neither the 24-bit wrap nor the voltage clip.

:func:`integrate` runs a whole feed-forward drive ``(B, T, ...)`` through the loop at once:
on the CPU as one compiled kernel (:mod:`neurodeploy.backends.emulator.kernels`, the same operations),
elsewhere (a GPU) step by step with :class:`CubaState`.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from types import ModuleType
from typing import Optional, Sequence

import torch

UV_LIMIT = 1 << 23          # u and v are 24-bit: Lava's max_uv_val
DECAY_UNITY = 1 << 12       # decays are 12-bit fractions of 4096
STATE_SHIFT = 6             # act_shift, vth_shift and netx's bias_exp
EXACT = torch.float64       # the dtype that holds the integers (see the module docstring)


def wrap(values: torch.Tensor, bits: int) -> torch.Tensor:
    """Two's-complement wrap of integer ``values`` to ``bits`` bits, as int32 arithmetic overflows."""
    half = float(1 << (bits - 1))
    return torch.remainder(values.to(EXACT) + half, 2 * half) - half


def shift_(values: torch.Tensor, exponent: int) -> torch.Tensor:
    """``values <<= exponent``, or an arithmetic ``>>= -exponent`` (floor) when negative;
    in place. Exact in float32 too: scaling by a power of two only moves the exponent."""
    if exponent > 0:
        return values.mul_(float(1 << exponent))
    if exponent < 0:
        return values.mul_(1.0 / (1 << -exponent)).floor_()
    return values


@dataclass(frozen=True, eq=False)
class CubaParams:
    """One layer's neuron constants as Lava's model holds them after netx built it.

    ``bias`` is the effective bias ``int32(int16(bias)) << 6`` per neuron (broadcastable
    against a batch); ``input_bound`` bounds ``|a_in|`` over every possible input. The
    properties prove, per layer, which of Lava's overflow rules can ever act, so the
    step skips the ones that cannot.
    """

    current_factor: int
    voltage_factor: int
    threshold: int
    bias: Optional[torch.Tensor]
    input_bound: int

    @property
    def input_wraps(self) -> bool:
        """``|a_in|`` may pass 2**31: Lava's int32 activation wraps before the neurons see it."""
        return self.input_bound >= 1 << 31

    @property
    def int32_safe(self) -> bool:
        """No int32 value can overflow and ``|u| <= 2**23`` always: ``|a_in << 6| <= 2**24``
        keeps ``u + a_in << 6`` inside ``(-3 * 2**23, 3 * 2**23)``, where the single 24-bit
        wrap equals ``u - 2**24 * floor((u + 2**23 - 1) / 2**24)``."""
        return (self.input_bound << STATE_SHIFT) <= 2 * UV_LIMIT

    @property
    def current_never_wraps(self) -> bool:
        """``|u_t| <= c |u_t-1| + |a << 6|`` with ``c = factor / 4096 < 1`` keeps
        ``|u| < (a << 6) / (1 - c) < 2**23``: the 24-bit wrap never acts."""
        return (self.input_bound << STATE_SHIFT) * DECAY_UNITY < (UV_LIMIT - 1) * (DECAY_UNITY - self.current_factor)

    @property
    def voltage_never_saturates(self) -> bool:
        """Likewise ``|v| < (max |u| + max |bias|) / (1 - c_v) < 2**23 - 1``: the clip never acts."""
        if not self.current_never_wraps:
            return False
        bias = int(self.bias.abs().max()) if self.bias is not None and self.bias.numel() else 0
        leak_u, leak_v = DECAY_UNITY - self.current_factor, DECAY_UNITY - self.voltage_factor
        worst = ((self.input_bound << STATE_SHIFT) * DECAY_UNITY + bias * leak_u) * DECAY_UNITY
        return worst < (UV_LIMIT - 1) * leak_v * leak_u


class CubaState:
    """Current and voltage of a batch of neurons, advanced one Lava step at a time."""

    def __init__(self, params: CubaParams, shape: tuple[int, ...], device: Optional[torch.device] = None) -> None:
        self.params = params
        self.u = torch.zeros(shape, dtype=EXACT, device=device)
        self.v = torch.zeros(shape, dtype=EXACT, device=device)
        self._current = params.current_factor / DECAY_UNITY
        self._voltage = params.voltage_factor / DECAY_UNITY
        self._int32_safe = params.int32_safe
        self._wraps = not params.current_never_wraps
        self._saturates = not params.voltage_never_saturates

    def reset(self) -> None:
        """``PyLifResetModelBitAcc``'s reset: ``u *= 0; v *= 0`` before the step's dynamics."""
        self.u.zero_()
        self.v.zero_()

    def step(self, a_in: torch.Tensor, bias: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Integrate ``a_in`` (int32 values, in any float type that holds them exactly) for
        one step; returns the spikes (bool). Sums are taken in float64. ``bias`` replaces
        the layer's bias this step (an Input block's, set per sample)."""
        p = self.params
        u, v = self.u, self.v
        if self._current != 1.0:
            u.mul_(self._current).trunc_()
        if self._int32_safe:
            u.add_(a_in, alpha=float(1 << STATE_SHIFT))
            if self._wraps:
                u.sub_((u + (UV_LIMIT - 1)).mul_(1 / (2 * UV_LIMIT)).floor_().mul_(2 * UV_LIMIT))
        else:
            u = wrap(u + wrap(a_in * float(1 << STATE_SHIFT), 32), 32)
            self.u = u = torch.where(u > UV_LIMIT, u - 2 * UV_LIMIT,
                                     torch.where(u <= -UV_LIMIT, u + 2 * UV_LIMIT, u))
        if self._voltage != 1.0:
            v.mul_(self._voltage).trunc_()
        v.add_(u)
        bias = p.bias if bias is None else bias
        if bias is not None:
            v.add_(bias)
        if not self._int32_safe:
            self.v = v = wrap(v, 32)
        if self._saturates:
            v.clamp_(-(UV_LIMIT - 1), UV_LIMIT - 1)
        spikes = v > p.threshold
        v.masked_fill_(spikes, 0.0)
        return spikes


def integrate(params: CubaParams, drive: torch.Tensor, resets: Sequence[bool],
              bias: Optional[torch.Tensor] = None, record: bool = False,
              kernel: Optional[bool] = None) -> tuple[torch.Tensor, Optional[torch.Tensor], Optional[int]]:
    """Spikes ``(B, T, *shape)`` (bool), with ``record`` voltages (int64), and from the
    compiled loop the number of spikes (else None), of neurons
    that start at rest and take ``drive`` (``a_in`` per step, int32 values in an exact
    float type, not yet wrapped when ``|a_in|`` may pass 2**31), reset where ``resets``
    says. ``bias`` ``(1 or B, 1 or T, *shape)`` replaces the layer's bias (an Input
    block's, per sample). ``kernel`` forces the compiled loop on or off (default: on for
    CPU tensors)."""
    batch, steps, shape = drive.shape[0], drive.shape[1], tuple(drive.shape[2:])
    if bias is None and params.bias is not None:
        bias = params.bias.reshape(1, 1, *shape)
    if kernel is None:
        kernel = drive.device.type == "cpu"
    if kernel:
        return _compiled(params, drive, resets, bias, record)
    state = CubaState(params, (batch, *shape), drive.device)
    spikes = torch.empty((batch, steps, *shape), dtype=torch.bool, device=drive.device)
    voltage = torch.empty((batch, steps, *shape), dtype=torch.int64, device=drive.device) if record else None
    for step in range(steps):
        if resets[step]:
            state.reset()
        a_in = wrap(drive[:, step], 32) if params.input_wraps else drive[:, step]
        spikes[:, step] = state.step(a_in, None if bias is None else bias[:, step if bias.shape[1] > 1 else 0])
        if voltage is not None:
            voltage[:, step] = state.v
    return spikes, voltage, None


def _compiled(params: CubaParams, drive: torch.Tensor, resets: Sequence[bool], bias: Optional[torch.Tensor],
              record: bool) -> tuple[torch.Tensor, Optional[torch.Tensor], int]:
    batch, steps = drive.shape[:2]
    flat = drive.reshape(batch, steps, -1).contiguous()
    size = flat.shape[2]
    spikes = torch.empty((batch, steps, size), dtype=torch.bool)
    voltage = torch.empty((batch, steps, size) if record else (0, 0, 0), dtype=torch.int64)
    offsets = (torch.zeros((1, 1, size), dtype=EXACT) if bias is None
               else bias.reshape(bias.shape[0], bias.shape[1], -1).to(EXACT).contiguous())
    count = _kernels().cuba_loop(flat.numpy(), torch.as_tensor(list(resets), dtype=torch.bool).numpy(),
                                 offsets.numpy(), neuron_constants(params), spikes.numpy(), voltage.numpy())
    shape = drive.shape
    return spikes.reshape(shape), voltage.reshape(shape) if record else None, int(count)


def neuron_constants(params: CubaParams) -> tuple:
    """What the compiled kernels take of a layer's neurons: the current and voltage
    factors, the threshold and the overflow proofs (wrap_input, int32_safe, wraps,
    saturates)."""
    return (params.current_factor / DECAY_UNITY, params.voltage_factor / DECAY_UNITY, float(params.threshold),
            params.input_wraps, params.int32_safe, not params.current_never_wraps,
            not params.voltage_never_saturates)


@lru_cache(maxsize=1)
def _kernels() -> ModuleType:
    """The compiled kernels, imported (and compiled, or loaded from numba's cache) on first use."""
    from neurodeploy.backends.emulator import kernels

    return kernels
