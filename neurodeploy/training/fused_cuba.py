"""SLAYER's CUBA neuron computed in one pass: the same bits, without the Python time loop.

lava-dl 0.6 runs a CUBA neuron on the CPU as two leaky-integrator calls (current, then
voltage) that loop over time steps in Python with int64 tensors, a spike function, and
the block's one-step ``delay_shift``; backward, two more Python loops. That was 64 % of a
digits training step and 75 % of a conv one. On a GPU, SLAYER instead compiles CUDA
extensions at first use, which needs nvcc and ninja on the user's machine.

:class:`FusedCubaNeuron` computes the same thing as one autograd function. The
environment variable ``NEURODEPLOY_DYNAMICS`` chooses how, for training, evaluation and
parity alike (like the thread count, it changes the speed, never the numbers):

- ``fused`` (the default): on the CPU, the compiled loops of
  :mod:`neurodeploy.training.fused_cuba_kernels`; on any other device, the ``torch`` path;
- ``torch``: plain torch operations on the tensors' device (what a GPU runs: no compiler
  needed), one step at a time for the integer recurrences, everything else vectorised;
- ``slayer``: lava-dl's own code (on a GPU, its CUDA extensions, compiled at first use).

Forward and backward repeat SLAYER's arithmetic operation by operation (see the kernels'
docstring), so spikes, losses and trained weights are bit for bit those of lava-dl's CPU
path; ``tests/test_cuba_fast.py`` checks dense, conv, axonal-delay and recurrent blocks,
with and without DA-SSDP. Neuron variants this does not cover (per-channel decays, graded
spikes, norm, dropout, debug) run lava-dl's code unchanged.

:func:`use_dynamics` installs it on the CUBA neurons of any module (the network builder
calls it): the neuron object stays the same lava-dl ``Neuron`` (same parameters, state
dict and export) with a subclass that overrides ``forward``; in a Dense or Conv block the
neuron also applies the block's ``delay_shift`` (the block's flag is cleared meanwhile,
and restored by ``use_dynamics(module, "slayer")``). lava-dl itself is not patched.
"""
from __future__ import annotations

import importlib.metadata
import sys
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
from neurodeploy.training.lavadl import slayer
from neurodeploy.core.runtime import DYNAMICS, Dynamics, chosen_dynamics

from lava.lib.dl.slayer.axon.delay import delay
from lava.lib.dl.slayer.neuron import cuba
from lava.lib.dl.slayer.neuron.dynamics.leaky_integrator import persistent_state
from lava.lib.dl.slayer.spike.spike import _spike_backward

#: The lava-dl release whose arithmetic the fused neuron repeats; another falls back to SLAYER.
LAVA_DL_VERSION = "0.6.0"
#: SLAYER's decays are 12-bit fractions: a state keeps ``(4096 - decay) / 4096`` a step.
DECAY_ONE = 1 << 12


class FusedCubaNeuron(cuba.Neuron):
    """lava-dl's CUBA neuron with a fused ``forward`` (never constructed: see :func:`use_dynamics`)."""

    #: ``torch`` forces the device path on the CPU too; ``fused`` picks by device.
    path: Dynamics = "fused"
    #: 1 when the neuron applies its block's one-step ``delay_shift`` itself.
    output_shift: int = 0

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if not (self.debug is False and input.dtype == torch.float32 and input.dim() >= 3):
            spikes = cuba.Neuron.forward(self, input)  # lava-dl's, and its block's shift
            return delay(spikes, self.output_shift) if self.output_shift else spikes
        self._take_shape(input)
        if self.requires_grad is True:
            self.clamp()
        state = self._start_state(input)
        current_decay, voltage_decay = _decay(self.current_decay), _decay(self.voltage_decay)
        spec = _Spec.of(self, input.device, current_decay, voltage_decay)
        drive = input.reshape(-1, input.shape[-1])
        if any(tensor.requires_grad for tensor in (drive, current_decay, voltage_decay)):
            spikes, last = _FusedCuba.apply(drive, current_decay, voltage_decay, state, spec)
        else:
            spikes, last, _ = spec.compute(drive, current_decay, voltage_decay, state, keep=False)
        spikes = spikes.reshape(input.shape)
        if self.persistent_state is True:
            self._keep_state(last, spikes, input.shape[:-1])
        return spikes

    def _take_shape(self, input: torch.Tensor) -> None:
        """The neuron shape from the first input, checked against it afterwards (as SLAYER does)."""
        if self.shape is None:
            self.shape = input.shape[1:-1]
            self.num_neurons = int(np.prod(self.shape))
        elif input.shape[1:-1] != self.shape:
            raise ValueError(f"CUBA neuron of shape {tuple(self.shape)} got input {tuple(input.shape)}")

    def _start_state(self, input: torch.Tensor) -> torch.Tensor:
        """``(2, M)`` current and voltage to start from; ``(0, 0)`` at rest. Only a
        persistent neuron carries state (SLAYER's rule: a new batch size starts at rest)."""
        rest = torch.zeros((0, 0), dtype=input.dtype, device=input.device)
        if self.persistent_state is not True or self.current_state.shape[0] != input.shape[0]:
            return rest
        shape = input.shape[:-1]
        current = (self.current_state * torch.ones(shape, dtype=input.dtype, device=input.device)).reshape(-1)
        voltage = (self.voltage_state * torch.ones(shape, dtype=input.dtype, device=input.device)).reshape(-1)
        return torch.stack([current, voltage]).to(input.dtype)

    def _keep_state(self, last: torch.Tensor, spikes: torch.Tensor, shape: torch.Size) -> None:
        """SLAYER's persistent state: the last current, and the last voltage zeroed where it
        spiked (a persistent neuron never takes its block's shift)."""
        with torch.no_grad():
            self.current_state = last[0].reshape(shape).clone()
            self.voltage_state = persistent_state(last[1].reshape(shape).clone(), spikes[..., -1]).detach().clone()


def fusable(neuron: cuba.Neuron) -> bool:
    """Whether the fused code repeats ``neuron`` exactly: shared decays, no norm, dropout or
    graded spikes, a power-of-two state scale (lava-dl's own neurons stay for the rest; a
    float64 input or debug mode falls back to lava-dl's code call by call)."""
    scale = int(neuron.s_scale)
    return (neuron.shared_param is True and neuron.norm is None and neuron.drop is None
            and neuron.graded_spike is False and neuron.complex is False
            and neuron.current_decay.numel() == 1 and neuron.voltage_decay.numel() == 1
            and scale > 0 and scale & (scale - 1) == 0)


def _decay(parameter: torch.Tensor) -> torch.Tensor:
    """The decay as SLAYER feeds it to its integrators: ``quantize``d, in the graph when learnt."""
    return cuba.quantize(parameter) if parameter.requires_grad and torch.is_grad_enabled() else parameter.detach()


@dataclass(frozen=True)
class _Spec:
    """One call's constants, in the forms SLAYER's code has them."""

    threshold: float      # Python float: threshold + threshold_eps
    scale: int            # s_scale: states are integers of 1 / scale
    tau_rho: float
    scale_rho: float
    shift: int
    #: The rounded current and voltage decays for the compiled loops; ``None``: the torch
    #: operations, which take the decays as tensors on their device.
    decays: Optional[tuple[int, int]]

    @classmethod
    def of(cls, neuron: FusedCubaNeuron, device: torch.device, current_decay: torch.Tensor,
           voltage_decay: torch.Tensor) -> "_Spec":
        compiled = neuron.path == "fused" and device.type == "cpu"
        return cls(threshold=neuron.threshold + neuron.threshold_eps, scale=int(neuron.s_scale),
                   tau_rho=neuron.tau_rho * cuba.TAU_RHO_MULT, scale_rho=neuron.scale_rho * cuba.SCALE_RHO_MULT,
                   shift=int(neuron.output_shift),
                   decays=(_rounded(current_decay), _rounded(voltage_decay)) if compiled else None)

    @property
    def device_path(self) -> bool:
        return self.decays is None

    def compute(self, drive: torch.Tensor, current_decay: torch.Tensor, voltage_decay: torch.Tensor,
                state: torch.Tensor, keep: bool, traces: bool = False
                ) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, ...]]:
        """Spikes ``(M, T)``, the last current and voltage ``(2, M)``, and what backward needs."""
        run = _torch_forward if self.device_path else _compiled_forward
        return run(self, drive.contiguous(), current_decay, voltage_decay, state, keep, traces)

    def surrogate_constants(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Threshold, ``tau_rho`` and ``scale_rho`` as the float32 tensors SLAYER's Spike saves."""
        return tuple(torch.tensor(value, device=device, dtype=torch.float32)  # type: ignore[return-value]
                     for value in (self.threshold, self.tau_rho, self.scale_rho))

    @property
    def surrogate_gain(self) -> np.float32:
        """``scale_rho / 2 / tau_rho`` in float32, as SLAYER's spike backward computes it."""
        return np.float32(self.scale_rho) / np.float32(2) / np.float32(self.tau_rho)


class _FusedCuba(torch.autograd.Function):
    """Drive ``(M, T)`` to spikes; gradients for the drive and (when learnt) the decays."""

    @staticmethod
    def forward(ctx, drive, current_decay, voltage_decay, state, spec):  # type: ignore[override]
        traces = ctx.needs_input_grad[1] or ctx.needs_input_grad[2]
        spikes, last, saved = spec.compute(drive, current_decay, voltage_decay, state, keep=True, traces=traces)
        ctx.spec = spec
        ctx.save_for_backward(current_decay, voltage_decay, *saved)
        ctx.mark_non_differentiable(last)
        return spikes, last

    @staticmethod
    def backward(ctx, grad_spikes, _grad_last):  # type: ignore[override]
        spec: _Spec = ctx.spec
        current_decay, voltage_decay, *saved = ctx.saved_tensors
        run = _torch_backward if spec.device_path else _compiled_backward
        traces = ctx.needs_input_grad[1] or ctx.needs_input_grad[2]
        grad_drive, grad_current = run(spec, grad_spikes.contiguous(), current_decay, voltage_decay,
                                       saved, traces)
        grad_current_decay = grad_voltage_decay = None
        if traces:
            current, voltage = saved[-2], saved[-1]
            grad_current_decay = _decay_gradient(grad_drive, current) if ctx.needs_input_grad[1] else None
            grad_voltage_decay = _decay_gradient(grad_current, voltage) if ctx.needs_input_grad[2] else None
        return grad_drive, grad_current_decay, grad_voltage_decay, None, None


def _decay_gradient(grad_input: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
    """A shared decay's gradient as SLAYER's leaky integrator sums it."""
    return torch.sum((grad_input[..., 1:] * output[..., :-1]).flatten(), dim=0, keepdim=True)


def _keep_factor(decay: torch.Tensor) -> torch.Tensor:
    """``1 - decay / 4096`` in float32: what a state keeps a step, as SLAYER's backward has it."""
    return 1 - torch.round(decay) / DECAY_ONE


# --- the CPU path: numba -----------------------------------------------------------------
# The constants are numpy float32 scalars: their arithmetic is IEEE single precision, as
# torch's on float32 tensors, without a tensor per scalar.

def _rounded(decay: torch.Tensor) -> int:
    """The decay after SLAYER's ``quantize`` (``torch.round``: half to even, as ``round``)."""
    return int(round(decay.item()))


def _compiled_keep_factor(decay: int) -> np.float32:
    return np.float32(1) - np.float32(decay) / np.float32(DECAY_ONE)


def _compiled_forward(spec: _Spec, drive: torch.Tensor, current_decay: torch.Tensor,
                      voltage_decay: torch.Tensor, state: torch.Tensor, keep: bool, traces: bool):
    from neurodeploy.training.fused_cuba_kernels import cuba_forward

    neurons, steps = drive.shape
    spikes = torch.empty_like(drive)
    exp_arg = torch.empty_like(drive) if keep else drive.new_empty((0, 0))
    trace = drive.new_empty((2, neurons, steps) if traces else (0, 0, 0))
    last = drive.new_empty((2, neurons))
    scale = np.float32(spec.scale)
    current, voltage = spec.decays
    constants = (np.int64(DECAY_ONE - current), np.int64(DECAY_ONE - voltage), scale,
                 np.float32(spec.threshold * spec.scale), np.float32(spec.threshold),
                 np.float32(spec.tau_rho), np.int64(spec.shift))
    cuba_forward(drive.detach().numpy(), state.detach().numpy(), constants, spikes.numpy(),
                 exp_arg.numpy(), trace.numpy(), last.numpy())
    saved = (exp_arg, trace[0], trace[1]) if traces else (exp_arg,)
    return spikes, last, saved


def _compiled_backward(spec: _Spec, grad_spikes: torch.Tensor, current_decay: torch.Tensor,
                       voltage_decay: torch.Tensor, saved: list[torch.Tensor], traces: bool):
    from neurodeploy.training.fused_cuba_kernels import cuba_backward

    surrogate = torch.exp(saved[0])
    current, voltage = spec.decays
    constants = (spec.surrogate_gain, _compiled_keep_factor(voltage), _compiled_keep_factor(current), np.int64(spec.shift))
    grad_drive = torch.empty_like(surrogate)
    grad_current = torch.empty_like(surrogate) if traces else surrogate.new_empty((0, 0))
    cuba_backward(surrogate.numpy(), grad_spikes.numpy(), constants, grad_drive.numpy(), grad_current.numpy())
    return grad_drive, (grad_current if traces else None)


# --- the device path: torch operations ---------------------------------------------------

def _integrate(increments: torch.Tensor, factor: torch.Tensor, start: Optional[torch.Tensor],
               reset_threshold: Optional[float]) -> torch.Tensor:
    """A leaky integrator over ``increments`` ``(T, M)`` int64, one step at a time; SLAYER's
    reset (to 0 where ``state >= reset_threshold``, compared in float32) when given."""
    out = torch.empty_like(increments)
    state = torch.zeros_like(increments[0]) if start is None else start
    for t in range(increments.shape[0]):
        state = torch.add(torch.div(state * factor, DECAY_ONE, rounding_mode="trunc"), increments[t], out=out[t])
        if reset_threshold is not None:
            state = torch.where(state >= reset_threshold, 0, state)
    return out


def _torch_forward(spec: _Spec, drive: torch.Tensor, current_decay: torch.Tensor,
                   voltage_decay: torch.Tensor, state: torch.Tensor, keep: bool, traces: bool):
    scale = spec.scale
    start = state.shape[-1] == drive.shape[0]
    current_factor = DECAY_ONE - torch.round(current_decay.detach()).to(torch.int64)
    voltage_factor = DECAY_ONE - torch.round(voltage_decay.detach()).to(torch.int64)
    steps_first = drive.detach().t()
    u = _integrate((scale * steps_first).to(torch.int64), current_factor,
                   (state[0] * scale).to(torch.int64) if start else None, None)
    current = u / scale
    v = _integrate((scale * current).to(torch.int64), voltage_factor,
                   (state[1] * scale).to(torch.int64) if start else None, spec.threshold * scale)
    voltage = (v / scale).t().contiguous()
    fired = (voltage >= spec.threshold).to(drive.dtype)
    spikes = _shift(fired, spec.shift)
    last = torch.stack([current[-1], voltage[:, -1]])
    saved: tuple[torch.Tensor, ...] = ()
    if keep:
        saved = (voltage, current.t().contiguous(), voltage) if traces else (voltage,)
    return spikes, last, saved


def _shift(values: torch.Tensor, shift: int) -> torch.Tensor:
    """``values`` ``(M, T)`` ``shift`` steps later (earlier when negative), zeros entering,
    as SLAYER's time shift moves them."""
    if shift == 0:
        return values
    shifted = torch.zeros_like(values)
    if shift > 0:
        shifted[:, shift:] = values[:, :-shift]
    else:
        shifted[:, :shift] = values[:, -shift:]
    return shifted


def _leak_back(grad_output: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """SLAYER's leaky-integrator backward over ``(T, M)``: ``g[t] = keep * g[t + 1] + out[t]``."""
    grad = torch.empty_like(grad_output)
    grad[-1] = grad_output[-1]
    for t in range(grad_output.shape[0] - 2, -1, -1):
        torch.add(keep * grad[t + 1], grad_output[t], out=grad[t])
    return grad


def _torch_backward(spec: _Spec, grad_spikes: torch.Tensor, current_decay: torch.Tensor,
                    voltage_decay: torch.Tensor, saved: list[torch.Tensor], traces: bool):
    voltage = saved[0]
    threshold, tau_rho, scale_rho = spec.surrogate_constants(grad_spikes.device)
    incoming = _shift(grad_spikes, -spec.shift)
    grad_voltage = _spike_backward(voltage, threshold, tau_rho, scale_rho, False) * incoming
    grad_current = _leak_back(grad_voltage.t().contiguous(), _keep_factor(voltage_decay.detach()))
    grad_drive = _leak_back(grad_current, _keep_factor(current_decay.detach()))
    return grad_drive.t().contiguous(), (grad_current.t().contiguous() if traces else None)


# --- installing it -----------------------------------------------------------------------

def _shifting_blocks() -> tuple[type, ...]:
    """Blocks whose ``forward`` delays the neuron's output by ``step_delay`` (lava-dl 0.6)."""
    return (slayer.block.cuba.Dense, slayer.block.cuba.Conv)


def lava_dl_matches() -> bool:
    """Whether the installed lava-dl is the release the fused neuron repeats."""
    try:
        return importlib.metadata.version("lava-dl") == LAVA_DL_VERSION
    except importlib.metadata.PackageNotFoundError:
        return False


def use_dynamics(module: torch.nn.Module, dynamics: Optional[Dynamics] = None) -> str:
    """Compute the CUBA neurons in ``module`` with ``dynamics`` (default: :func:`chosen_dynamics`);
    returns the one in use (``slayer`` when the installed lava-dl is not the release the
    fused neuron repeats)."""
    dynamics = chosen_dynamics() if dynamics is None else dynamics
    if dynamics not in DYNAMICS:
        raise ValueError(f"dynamics {dynamics!r}: expected one of {DYNAMICS}")
    if dynamics != "slayer" and not lava_dl_matches():
        print(f"neurodeploy: lava-dl {importlib.metadata.version('lava-dl')} is not {LAVA_DL_VERSION}; "
              f"CUBA neurons run lava-dl's own dynamics", file=sys.stderr)
        dynamics = "slayer"
    for block in module.modules():
        neuron = getattr(block, "neuron", None)
        if isinstance(neuron, cuba.Neuron):
            _install(block, neuron, dynamics)
    return dynamics


def dynamics_of(module: torch.nn.Module) -> str:
    """The dynamics :func:`use_dynamics` gave ``module``'s CUBA neurons (``slayer`` if none)."""
    for neuron in module.modules():
        if isinstance(neuron, FusedCubaNeuron):
            return neuron.path
    return "slayer"


def _install(block: torch.nn.Module, neuron: cuba.Neuron, dynamics: str) -> None:
    if isinstance(neuron, FusedCubaNeuron) and neuron.output_shift:
        block.delay_shift = True  # type: ignore[assignment]
        del neuron.output_shift
    if dynamics == "slayer" or not fusable(neuron):
        if isinstance(neuron, FusedCubaNeuron):
            neuron.__dict__.pop("path", None)
            neuron.__class__ = cuba.Neuron
        return
    neuron.__class__ = FusedCubaNeuron
    neuron.path = dynamics  # type: ignore[assignment]
    if isinstance(block, _shifting_blocks()) and block.delay_shift is True and not neuron.persistent_state:
        block.delay_shift = False  # type: ignore[assignment]
        neuron.output_shift = 1  # type: ignore[assignment]
