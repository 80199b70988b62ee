"""DA-SSDP, dopamine-modulated spike-synchrony-dependent plasticity, for SLAYER training.

The rule (``docs/dassdp.md``; Tian et al. 2025, arXiv 2512.07194) is a second, local
update that the training loop adds to chosen dense layers after each optimiser step. Per
layer and sample it keeps only first-spike latencies (a neuron's binary spike flag is
"latency < window"), never the spike log, and turns them into::

    pd[o, i] = A_plus * sync * G - A_base * (active - sync) * G,   sync = post[o] * pre[i],
    G = exp(-(t_post[o] - t_pre[i])^2 / (2 sigma^2))

scaled by a dopamine gate fitted once, at the end of warm-up, from how the layer's batch
synchrony went with the loss. ``active`` is 1 for every pair in the reference; by default
(``co_silent: skip``) it is 0 for pairs where neither neuron spiked, which then do not
change (see docs/dassdp.md for this and the project's other stated choices).

The elementwise pieces (:func:`spike_flags`, :func:`latency_difference`,
:func:`potentiation_depression`, :func:`synchrony`, :class:`Gate`) use operators only, so
they take numpy arrays as well as tensors: the Lava process models in
:mod:`neurodeploy.backends.lavasim.procs.dassdp` evaluate these same functions, in numpy.

Units: ``dW`` is added to the synapse's float ``weight`` parameter, the units SLAYER's
``pre_hook_fx`` (``quantize_8bit``: step ``2 / w_scale``) quantises in the forward pass
and ``w_scale`` turns into Lava's integer weights at export. The amplitudes are given in
weight steps by default (``amplitude_unit: weight_step``) and converted per layer with
its ``w_scale`` (:func:`float_amplitudes`). A typical ``dW`` (0.05 step) is far below one
quantisation step; like an optimiser step, it accumulates in the float shadow weight
until it moves the quantised one. On Lava the same update is ``dW * w_scale`` weight
units (:class:`neurodeploy.backends.lavasim.procs.dassdp.DassdpRule`). Under weight_norm the update is
written through ``g`` and ``v`` so that the effective weight moves by exactly ``dW``.
"""
from __future__ import annotations

from functools import cache
from types import ModuleType
from typing import Any, Callable, Mapping, NamedTuple, Optional

import numpy as np
import torch

from neurodeploy.core.config import DassdpConfig
from neurodeploy.training.dassdp_gate import Gate, fit_gate
from neurodeploy.training.ddp import all_gather, all_sum, in_group
from neurodeploy.core.errors import ConfigError

CO_SILENT = ("skip", "reference")
"""What a pair where neither neuron spiked gets: nothing, or the reference's ``-A_base``."""

STEP_IN_LAVA_UNITS = 2
"""One weight step in Lava's integer weight units: SLAYER's ``quantize_8bit`` rounds to
``2 / w_scale`` and export multiplies by ``w_scale``, so netx weights are even."""

MIN_STD = 1e-9
"""A warm-up standard deviation below ``MIN_STD * max(1, |mean|)`` counts as zero: S or L
did not vary, so no correlation can be fitted and the gate stays 1."""


# --- the rule, one piece per function -------------------------------------------------

def first_spike_latency(spikes: torch.Tensor) -> torch.Tensor:
    """Step of each neuron's first spike in a window ``(..., T)``; ``T`` when it is silent.

    On the CPU one compiled scan (:mod:`neurodeploy.training.dassdp_kernels`), elsewhere
    :func:`latency_scan`.
    """
    if spikes.device.type != "cpu":
        return latency_scan(spikes)
    if spikes.dim() == 3:  # (N, C, T), as the plug-in sees them: no copy
        return torch.from_numpy(_kernels().first_spike_latency(spikes.detach().numpy()))
    rows = spikes.detach().reshape(1, -1, spikes.shape[-1]).numpy()
    return torch.from_numpy(_kernels().first_spike_latency(rows)).reshape(spikes.shape[:-1])


def latency_scan(spikes: torch.Tensor) -> torch.Tensor:
    """:func:`first_spike_latency` in torch operations, in uint8 (one byte a step) for
    windows up to 255 steps, else in int32."""
    window = spikes.shape[-1]
    dtype = torch.uint8 if window <= 255 else torch.int32
    countdown = torch.arange(window, 0, -1, dtype=dtype, device=spikes.device)
    return window - spikes.ne(0).to(dtype).mul_(countdown).amax(-1).long()


def spike_flags(latency: Any, window: int) -> Any:
    """1.0 where a neuron spiked at least once in the window (its latency is inside it)."""
    return (latency < window) * 1.0


def latency_difference(t_post: Any, t_pre: Any) -> Any:
    """``dt[..., o, i] = |t_post[..., o] - t_pre[..., i]|`` for every (post, pre) pair."""
    return abs(t_post[..., :, None] - t_pre[..., None, :])


def gaussian(dt: torch.Tensor, sigma: float) -> torch.Tensor:
    """The latency kernel ``G = exp(-dt^2 / (2 sigma^2))``; ``sigma`` in steps."""
    return torch.exp(-(dt * dt) / (2.0 * sigma ** 2))


def potentiation_depression(sync: Any, kernel: Any, a_plus: float, a_base: float,
                            active: Any = 1.0) -> Any:
    """``pd = A_plus*sync*G - A_base*(active-sync)*G``: potentiate synchronous pairs, depress the rest.

    ``sync`` is 0/1 as a float; ``kernel`` is G; ``active`` (from :func:`active_pairs`) says
    which pairs are depressed when not synchronous: all of them (1) in the reference.
    """
    return kernel * (a_plus * sync - a_base * (active - sync))


def active_pairs(post: Any, pre: Any, co_silent: str) -> Any:
    """1 for a pair the rule may change: every pair (``reference``), or those where at
    least one of the two neurons spiked (``skip``). ``post``/``pre`` are the 0/1 flags
    broadcast to pairs (``post[..., :, None]``, ``pre[..., None, :]``)."""
    if co_silent == "reference":
        return 1.0
    if co_silent == "skip":
        return post + pre - post * pre
    raise ConfigError(f"dassdp.co_silent={co_silent!r}; expected one of {CO_SILENT}")


def float_amplitudes(config: DassdpConfig, weight_step: float) -> tuple[float, float]:
    """``(A_plus, A_base)`` in float weight units; ``weight_step`` is the layer's ``2 / w_scale``."""
    scale = weight_step if config.amplitude_unit == "weight_step" else 1.0
    return config.A_plus * scale, config.A_base * scale


def synchrony(pre_flags: Any, post_flags: Any) -> Any:
    """Batch synchrony ``S[b] = mean over (o, i) of post[b, o] * pre[b, i]``.

    The mean of an outer product is the product of the means, so no pair tensor is formed.
    """
    return post_flags.mean(-1) * pre_flags.mean(-1)


def plasticity_table(window: int, sigma: float, a_plus: float, a_base: float, *,
                     co_silent: str = "skip", dtype: torch.dtype = torch.float32,
                     device: Optional[torch.device] = None) -> torch.Tensor:
    """``pd`` as a function of the two latencies: ``table[t_post, t_pre]``, both in 0..window.

    Latencies are whole steps and a silent neuron's latency is ``window``, so these
    ``(window + 1)^2`` values are every ``pd`` the rule can produce; ``table[window,
    window]`` is the co-silent pair's (0 under ``skip``, ``-A_base`` under ``reference``).

    Values smaller than ``tiny / eps`` of ``dtype`` (1e-31 in float32: the Gaussian's
    tail beyond about 11 sigma) are 0: no float weight can resolve them, and products
    with them are subnormal numbers, which x86 CPUs compute by microcode assists about a
    hundred times slower (they took most of an update's time).
    """
    latency = torch.arange(window + 1, device=device)
    fired = spike_flags(latency, window).to(dtype)
    post, pre = fired[:, None], fired[None, :]
    kernel = gaussian(latency_difference(latency, latency).to(dtype), sigma)
    table = potentiation_depression(post * pre, kernel, a_plus, a_base, active_pairs(post, pre, co_silent))
    floor = torch.finfo(dtype).tiny / torch.finfo(dtype).eps
    return table.masked_fill_(table.abs() < floor, 0.0)


def weight_update(t_pre: torch.Tensor, t_post: torch.Tensor, gate: torch.Tensor,
                  table: torch.Tensor, batch: Optional[int] = None,
                  reduce: Callable[[torch.Tensor], torch.Tensor] = lambda total: total) -> torch.Tensor:
    """``dW = clamp(sum over b of gate[b] * pd[b] / batch, -1, 1)``, shape ``(Cout, Cin)``.

    ``batch`` defaults to the number of samples (the batch mean of training); a Lava
    online step of ``batch`` windows passes its own. ``reduce`` turns this batch's sum into
    the global batch's (the sum over DDP ranks) before the mean and the clamp, so every
    replica applies the same dW. ``pd[b, o, i] = table[t_post[b, o], t_pre[b, i]]``; the
    ``(N, Cout, Cin)`` pair tensor is never formed (it cost 70 % of a digits training
    step): on the CPU a compiled loop adds gathered table rows
    (:func:`neurodeploy.training.dassdp_kernels.batch_update`), elsewhere
    :func:`gathered_product` does it as one matrix product.
    """
    batch = batch or len(gate)
    if table.device.type != "cpu":
        return reduce(gathered_product(t_pre, t_post, gate, table)).div_(batch).clamp_(-1.0, 1.0)
    arrays = (np.ascontiguousarray(tensor.numpy()) for tensor in (table, t_pre, t_post, gate.to(table.dtype)))
    # the global batch's sum divided by it is the sum of each rank's part divided by it
    return reduce(torch.from_numpy(_kernels().batch_update(*arrays, batch))).clamp_(-1.0, 1.0)


def gathered_product(t_pre: torch.Tensor, t_post: torch.Tensor, gate: torch.Tensor,
                     table: torch.Tensor) -> torch.Tensor:
    """``sum over b of gate[b] * table[t_post[b, o], t_pre[b, i]]`` as one matrix product:
    gated one-hot post latencies ``(Cout, U * N)`` times the table rows that the pre
    latencies pick ``(U * N, Cin)``, both laid out so that no copy is needed."""
    levels, samples = table.shape[0], len(gate)
    rows = table.index_select(1, t_pre.reshape(-1)).reshape(levels * samples, -1)   # [(u, b), i]
    post = torch.zeros((t_post.shape[1], levels, samples), dtype=table.dtype, device=table.device)
    post.scatter_(1, t_post.T[:, None, :], gate.to(table.dtype).expand(t_post.shape[1], 1, samples))
    return post.reshape(len(post), -1) @ rows


def gated_update(window: "Window", gate: "Gate", table: torch.Tensor, batch: int,
                 reduce: Optional[Callable[[torch.Tensor], torch.Tensor]] = None) -> torch.Tensor:
    """One layer's dW for a batch of windows under ``gate``: :func:`weight_update` of the
    samples gated by their synchrony, in ``table``'s dtype.

    On the CPU with nothing to ``reduce`` (no DDP group) this is one compiled call,
    :func:`neurodeploy.training.dassdp_kernels.gated_update`: synchrony, gate, sum, mean
    and clamp, each the same arithmetic as here, so the same bits; it saves the dozen
    small array operations that cost as much as the update itself.
    """
    if reduce is None and table.device.type == "cpu":
        return torch.from_numpy(_kernels().gated_update(
            table.numpy(), window.t_pre.numpy(), window.t_post.numpy(), window.steps, gate.dopamine,
            gate.sync_slope, gate.sync_mean, gate.clamp, batch))
    gates = torch.as_tensor(gate(window.synchrony), device=table.device).to(table.dtype)
    return weight_update(window.t_pre, window.t_post, gates, table, batch, reduce or (lambda total: total))


def online_updates(pre_spikes: torch.Tensor, post_spikes: torch.Tensor, t_epoch: int,
                   gate: Gate, table: torch.Tensor, batch: int = 1) -> torch.Tensor:
    """The rule as a Lava learning connection applies it: ``(steps, Cout, Cin)`` updates.

    ``pre_spikes (Cin, steps)`` and ``post_spikes (Cout, steps)`` are continuous trains;
    each learning epoch of ``t_epoch`` steps is one window of one sample, and every
    ``batch`` epochs make one online step, which adds their mean as a training step of
    ``batch`` samples does. A last, incomplete step is not applied.
    """
    def latencies(spikes: torch.Tensor) -> torch.Tensor:
        return first_spike_latency(spikes.reshape(len(spikes), -1, t_epoch).transpose(0, 1))

    t_pre, t_post = latencies(pre_spikes), latencies(post_spikes)
    gates = gate(synchrony(spike_flags(t_pre, t_epoch), spike_flags(t_post, t_epoch)))
    steps = [slice(start, start + batch) for start in range(0, len(gates) - batch + 1, batch)]
    return torch.stack([weight_update(t_pre[step], t_post[step], gates[step], table, batch)
                        for step in steps]) if steps else table.new_zeros((0, len(post_spikes), len(pre_spikes)))


class SyncLossRecord:
    """The warm-up record of (S, L) per sample, kept as running moments.

    Means and the 2x2 co-moment matrix merge batch by batch (Chan, Golub and LeVeque's
    pairwise update) in float64, which gives ``k``, ``mu_S`` and the population ``sd_S``
    exactly as the full series would, in constant memory. Under torch.distributed every
    rank merges every rank's batch, in rank order, so all replicas fit the same gate.
    """

    def __init__(self) -> None:
        self.count = 0
        self.mean = torch.zeros(2, dtype=torch.float64)
        self.comoment = torch.zeros(2, 2, dtype=torch.float64)

    def update(self, synchrony: torch.Tensor, loss: torch.Tensor) -> None:
        batch = torch.stack([synchrony, loss], 1).to("cpu", torch.float64)
        batch_mean = batch.mean(0)
        centred = batch - batch_mean
        moments = torch.cat([torch.tensor([float(len(batch))], dtype=torch.float64), batch_mean,
                             (centred.T @ centred).flatten()])
        for part in all_gather(moments):
            self._merge(int(part[0]), part[1:3], part[3:].reshape(2, 2))

    def _merge(self, size: int, batch_mean: torch.Tensor, batch_comoment: torch.Tensor) -> None:
        if size == 0:
            return
        delta = batch_mean - self.mean
        total = self.count + size
        merged = torch.outer(delta, delta) * (self.count * size / total)
        self.comoment += batch_comoment + merged
        self.mean += delta * (size / total)
        self.count = total

    def _std(self) -> torch.Tensor:
        std = (self.comoment.diagonal() / max(self.count, 1)).sqrt()
        return torch.where(std < MIN_STD * self.mean.abs().clamp_min(1.0), 0.0, std)

    @property
    def sync_mean(self) -> float:
        return float(self.mean[0])

    @property
    def sync_std(self) -> float:
        return float(self._std()[0])

    @property
    def k(self) -> float:
        """``-mean(S_n * L_n)`` of the standardised series: minus their correlation."""
        std = self._std()
        if self.count == 0 or bool((std == 0).any()):
            return 0.0
        return float(-self.comoment[0, 1] / self.count / (std[0] * std[1]))

    def state_dict(self) -> dict[str, Any]:
        return {"count": self.count, "mean": self.mean.tolist(), "comoment": self.comoment.tolist()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.count = int(state["count"])
        self.mean = torch.tensor(state["mean"], dtype=torch.float64)
        self.comoment = torch.tensor(state["comoment"], dtype=torch.float64)


# --- the training-loop plug-in ----------------------------------------------------------

class Window(NamedTuple):
    """What one layer keeps of one forward pass: first-spike latencies and the window length."""

    t_pre: torch.Tensor
    t_post: torch.Tensor
    steps: int

    @property
    def synchrony(self) -> Any:
        """``S`` per sample: on the CPU a numpy array from one compiled loop (the same
        numbers as :func:`synchrony` of the flags, in float64), else a tensor."""
        if self.t_pre.device.type != "cpu":
            return synchrony(spike_flags(self.t_pre, self.steps), spike_flags(self.t_post, self.steps))
        return _kernels().synchrony(self.t_pre.numpy(), self.t_post.numpy(), self.steps)

    @property
    def nbytes(self) -> int:
        return sum(t.element_size() * t.nelement() for t in (self.t_pre, self.t_post))


class DASSDP:
    """DA-SSDP riding on a SLAYER training loop.

    ``layers`` maps every layer name the network offers to its block (or synapse);
    ``config.layers`` picks the plastic ones, which must be dense. Per training step the
    loop calls :meth:`observe` once per chosen layer with the block's input and output
    spikes (as the block returns them, i.e. after ``delay_shift``, as Lava's LIF sees
    them), then :meth:`after_step` after ``optimizer.step()``. A window is the whole
    frame in training; ``t_epoch`` (Lava's window) only has to tile the frame. Each
    plastic layer has its own synchrony record and gate, fitted once when warm-up ends
    (with ``warmup_epochs: 0`` nothing is recorded and the gate is 1), and its own
    amplitudes in float units (its weight step times ``A_plus``/``A_base``).
    """

    def __init__(self, config: DassdpConfig, layers: Mapping[str, torch.nn.Module], *,
                 epochs: int, frame_steps: int) -> None:
        _check_config(config, layers, epochs, frame_steps)
        self.config = config
        self.layers: list[str] = list(config.layers)
        self._synapses = {name: _dense_synapse(name, layers[name]) for name in self.layers}
        self._sizes = {name: tuple(_weight(synapse).shape[:2]) for name, synapse in self._synapses.items()}
        self.amplitudes = {name: float_amplitudes(config, _weight_step(name, layers[name], config))
                           for name in self.layers}
        """``(A_plus, A_base)`` per plastic layer, in float weight units."""
        self._records = {name: SyncLossRecord() for name in self.layers}
        self._gates: Optional[dict[str, Gate]] = None
        self._windows: dict[str, Window] = {}
        self._tables: dict[tuple[str, int, torch.device, torch.dtype], torch.Tensor] = {}
        self._last_latency: Optional[tuple[tuple, torch.Tensor]] = None

    @property
    def gates(self) -> Optional[dict[str, Gate]]:
        """The fitted gate per layer (what a Lava DA-SSDP process takes); None in warm-up."""
        return self._gates

    def observe(self, name: str, pre_spikes: torch.Tensor, post_spikes: torch.Tensor) -> None:
        """Keep layer ``name``'s first-spike latencies of this step: ``(N, Cin|Cout, T)`` spikes."""
        if name not in self._synapses:
            raise ValueError(f"DASSDP.observe: layer {name!r} is not plastic; "
                             f"plastic layers: {', '.join(self.layers)}")
        outputs, inputs = self._sizes[name]
        batch, steps = pre_spikes.shape[0], pre_spikes.shape[-1]
        expected = ((batch, inputs, steps), (batch, outputs, steps))
        if (tuple(pre_spikes.shape), tuple(post_spikes.shape)) != expected:
            raise ValueError(f"DASSDP.observe: layer {name!r} expects pre {expected[0]} and post "
                             f"{expected[1]} spikes (N, neurons, T), got "
                             f"{tuple(pre_spikes.shape)} and {tuple(post_spikes.shape)}")
        self._windows[name] = Window(self._latency(pre_spikes), self._latency(post_spikes), steps)

    def _latency(self, spikes: torch.Tensor) -> torch.Tensor:
        """:func:`first_spike_latency`, computed once for a tensor that is one layer's
        post and the next layer's pre spikes (same memory, shape, strides and version)."""
        key = (spikes.data_ptr(), tuple(spikes.shape), spikes.stride(), spikes._version, spikes.device)
        if self._last_latency is None or self._last_latency[0] != key:
            self._last_latency = (key, first_spike_latency(spikes))
        return self._last_latency[1]

    @torch.no_grad()
    def after_step(self, epoch: int, loss_per_sample: torch.Tensor) -> None:
        """Record S and L (warm-up) or add dW to the plastic weights, for the step just taken."""
        windows = self._take_windows(loss_per_sample.shape[0])
        if epoch < self.config.warmup_epochs:
            loss = loss_per_sample.detach()
            if self.config.warmup_loss == "batch_mean":  # the spec's: one loss per (global) batch
                loss = _global_mean(loss).expand(len(loss))
            for name, window in windows.items():
                self._records[name].update(torch.as_tensor(window.synchrony), loss)
            return
        if self._gates is None:
            self._gates = {name: fit_gate(record.k, record.sync_mean, record.sync_std,
                                          self.config.gate, self.config.gate_clamp)
                           for name, record in self._records.items()}
        batch, reduce = loss_per_sample.shape[0], None
        if in_group():  # the global batch, and each replica's sum of it
            batch, reduce = int(all_sum(torch.tensor(batch))), all_sum
        for name, window in windows.items():
            synapse = self._synapses[name]
            weight = _weight(synapse)
            table = self._table(name, window.steps, weight.device, weight.dtype)
            _add_to_weight(synapse, gated_update(window, self._gates[name], table, batch, reduce))

    def kept_bytes(self) -> int:
        """Bytes held between observe and after_step: the latencies, nothing else."""
        return sum(window.nbytes for window in self._windows.values())

    def state_dict(self) -> dict[str, Any]:
        return {"layers": list(self.layers),
                "records": {name: record.state_dict() for name, record in self._records.items()},
                "gates": None if self._gates is None
                else {name: gate.to_dict() for name, gate in self._gates.items()}}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if list(state["layers"]) != self.layers:
            raise ConfigError(f"DA-SSDP checkpoint is for layers {list(state['layers'])}; "
                              f"dassdp.layers is {self.layers}")
        for name, record in self._records.items():
            record.load_state_dict(state["records"][name])
        self._gates = None if state["gates"] is None \
            else {name: Gate(**gate) for name, gate in state["gates"].items()}

    def _take_windows(self, batch: int) -> dict[str, Window]:
        missing = [name for name in self.layers if name not in self._windows]
        if missing:
            raise RuntimeError(f"DASSDP.after_step: no observe() for {missing} in this step")
        windows, self._windows = self._windows, {}
        self._last_latency = None
        sizes = {name: window.t_pre.shape[0] for name, window in windows.items()}
        if any(size != batch for size in sizes.values()):
            raise ValueError(f"DASSDP.after_step: {batch} losses for batches of {sizes}")
        return windows

    def _table(self, name: str, steps: int, device: torch.device,
               dtype: torch.dtype) -> torch.Tensor:
        key = (name, steps, device, dtype)
        if key not in self._tables:
            self._tables[key] = plasticity_table(steps, self.config.sigma, *self.amplitudes[name],
                                                 co_silent=self.config.co_silent, dtype=dtype,
                                                 device=device)
        return self._tables[key]


@cache
def _kernels() -> ModuleType:
    """:mod:`neurodeploy.training.dassdp_kernels`, imported at first use: numba loads only
    where the CPU path runs (not in the Lava process models, which import this module)."""
    from neurodeploy.training import dassdp_kernels

    return dassdp_kernels


def _global_mean(values: torch.Tensor) -> torch.Tensor:
    """The mean over this batch, or over the global batch of all DDP ranks."""
    if not in_group():
        return values.mean()
    return all_sum(values.sum()) / all_sum(torch.tensor(len(values), dtype=values.dtype, device=values.device))


def check_window_alignment(t_epoch: int, frame_steps: int) -> None:
    """A learning epoch must tile the frame, so that none straddles two samples."""
    if frame_steps % t_epoch:
        raise ConfigError(f"dassdp.t_epoch={t_epoch} does not divide the frame of {frame_steps} "
                          f"steps, so a learning epoch would straddle two samples; expected a "
                          f"divisor of {frame_steps}")


def _check_config(config: DassdpConfig, layers: Mapping[str, torch.nn.Module], epochs: int,
                  frame_steps: int) -> None:
    if not config.sigma > 0:
        raise ConfigError(f"dassdp.sigma={config.sigma} is invalid; expected a latency width "
                          f"> 0 steps")
    unknown = [name for name in config.layers if name not in layers]
    if unknown or not config.layers:
        what = f"unknown layer(s) {unknown}" if unknown else "no layer chosen"
        raise ConfigError(f"dassdp.layers: {what}; available: {', '.join(layers) or 'none'}")
    if config.warmup_epochs >= epochs:
        raise ConfigError(f"dassdp.warmup_epochs={config.warmup_epochs} leaves no epoch of "
                          f"train.epochs={epochs} for plasticity; expected warmup_epochs < epochs")
    if config.t_epoch is not None:
        check_window_alignment(config.t_epoch, frame_steps)


def _dense_synapse(name: str, layer: torch.nn.Module) -> torch.nn.Module:
    # Imported here: the Lava process models import this module for the rule alone.
    from neurodeploy.training.lavadl import slayer

    synapse = getattr(layer, "synapse", layer)
    if not isinstance(synapse, slayer.synapse.Dense) or tuple(_weight(synapse).shape[2:]) != (1, 1, 1):
        raise ConfigError(f"dassdp.layers: {name!r} is a {type(synapse).__name__} synapse; "
                          f"DA-SSDP adapts dense layers only")
    return synapse


def _weight_step(name: str, layer: torch.nn.Module, config: DassdpConfig) -> float:
    """The layer's quantisation step ``2 / w_scale`` in float units (1.0 with ``amplitude_unit: float``).

    ``w_scale`` is the block's neuron's, or that of the neuron whose ``quantize_8bit`` is
    the bare synapse's ``pre_hook_fx``.
    """
    if config.amplitude_unit == "float":
        return 1.0
    neuron = getattr(layer, "neuron", None)
    if neuron is None:
        neuron = getattr(getattr(layer, "pre_hook_fx", None), "__self__", None)
    w_scale = getattr(neuron, "w_scale", None)
    if not w_scale:
        raise ConfigError(f"dassdp.amplitude_unit='weight_step': layer {name!r} has no quantised "
                          f"weights (no neuron w_scale); expected a lava-dl block, or set "
                          f"dassdp.amplitude_unit: float")
    return STEP_IN_LAVA_UNITS / w_scale


def _weight(synapse: torch.nn.Module) -> torch.Tensor:
    """The ``(out, in, 1, 1, 1)`` weight; under weight_norm its direction ``v`` has that shape."""
    return synapse.weight_v if getattr(synapse, "weight_norm_enabled", False) else synapse.weight


def _add_to_weight(synapse: torch.nn.Module, delta: torch.Tensor) -> None:
    """Add ``delta`` to the effective weight.

    Under weight_norm (``weight = g * v / |v|`` per output row) the new weight ``w`` is
    written back as ``g = |w|`` and ``v = w * |v| / |w|``: exact, and ``|v|`` keeps its
    scale, so the optimiser's state for ``v`` stays meaningful.
    """
    if not getattr(synapse, "weight_norm_enabled", False):
        synapse.weight.add_(delta.reshape(synapse.weight.shape).to(synapse.weight.dtype))
        return
    direction, magnitude = synapse.weight_v, synapse.weight_g
    direction_norm = torch.norm_except_dim(direction, 2, 0)
    weight = magnitude * direction / direction_norm + delta.reshape(direction.shape)
    weight_norm = torch.norm_except_dim(weight, 2, 0)
    direction.copy_(weight * (direction_norm / weight_norm))
    magnitude.copy_(weight_norm)
