"""DA-SSDP as a Lava learning connection: a LearningDense whose weights follow the rule.

Lava's learning engine evaluates sum-of-products rules over traces; DA-SSDP needs the
Gaussian of a latency *difference*, which that form cannot express. So the rule gets
process models of its own, built on Lava's learning-connection machinery
(``PyLearningConnection``): the spiking phase is LearningDense's, pre spikes arrive on
``s_in`` and post spikes on the back-propagating-spike port ``s_in_bap``, Lava records
within-epoch spike times in ``tx``/``ty`` and runs the learning phase when
``time_step % t_epoch == 0``. Two things differ: ``tx``/``ty`` keep the *first* spike of
the epoch (Lava keeps the last), and the learning phase applies DA-SSDP, through the same
functions as the torch rule (:mod:`neurodeploy.training.dassdp`), instead of a product
series; the x/y traces are unused and stay 0. One epoch is one window of the rule (one
sample). The models compute in numpy: Lava forks a process per model, and torch's
thread pools are not fork-safe.

One *online step* is ``batch`` learning epochs (``dassdp.online_batch``, by default the
training batch size), as one training step is a batch of samples: each epoch's update
(gate times pd, one window) is added to the synapse's tag (``tag_1``, Loihi's per-synapse
eligibility variable), and every ``batch`` epochs the tag's mean over the step,
``clip(tag / batch, -1, 1)``, moves the weights and the tag restarts from zero. This is
the training rule's batch mean, and in fixed point it is what lets the rule learn at all:
one epoch's share of a step (0.003 weight units at the defaults) is below the learning
accumulator's resolution (2^-7 units) and would round to zero, while a whole window's
update (0.1 units) is resolved, and the step's mean reaches the weights through unbiased
stochastic rounding (:class:`DassdpRule`).

The third factor is a :class:`~neurodeploy.training.dassdp.Gate` held in four Vars,
``dopamine``, ``sync_slope``, ``sync_mean`` and ``gate_clamp``, read at every epoch end. The gate fitted
in training goes in unchanged (the process measures each epoch's synchrony itself); a
reward signal drives ``dopamine``, set between windows with ``proc.dopamine.set(...)``.
Vars rather than a modulatory InPort: the gate changes per window, not per step, and a
port would need a sender process in every network.
"""
from __future__ import annotations

import math
from functools import cache
from typing import Any, Literal, get_args

import numpy as np
import torch
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.learning.constants import W_ACCUMULATOR_S, W_TAG_1_U, W_TRACE, W_WEIGHTS_S
from lava.magma.core.learning.learning_rule import Loihi2FLearningRule, LoihiLearningRule
from lava.magma.core.model.py.connection import (LearningConnectionModelBitApproximate,
                                                 LearningConnectionModelFloat,
                                                 PyLearningConnection)
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.variable import Var
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol
from lava.proc.dense.models import (AbstractPyDenseModelBitAcc, AbstractPyDenseModelFloat,
                                    PyLearningDenseModelBitApproximate,
                                    PyLearningDenseModelFloat)
from lava.proc.dense.process import LearningDense

from neurodeploy.core.config import DassdpConfig
from neurodeploy.core.errors import ConfigError
from neurodeploy.backends.lavasim.private import LavaInternalsError, pinned_lava, require
from neurodeploy.training.dassdp import (CO_SILENT, STEP_IN_LAVA_UNITS, Gate, active_pairs,
                                         float_amplitudes, gaussian, latency_difference,
                                         potentiation_depression, spike_flags, synchrony)

TRACE_MAX = 2 ** W_TRACE - 1
"""Full scale of a 7-bit trace (W_TRACE = 7): the fixed-point Gaussian table's 1.0."""

FRACTION_BITS = W_ACCUMULATOR_S - W_WEIGHTS_S
"""Fraction bits of the learning accumulator below the weight LSB: 16 - 9 = 7, as Lava
shifts weights before a learning update."""

TAG_MAX = 2 ** W_TAG_1_U - 1
"""Largest tag magnitude: 8 bits + sign (Lava saturates ``tag_1`` to about +-255)."""

GATE_MAX = 2.0
"""The clamped gate's ceiling, for which the tag's range is checked."""

LAVA_HOOKS = (
    (LoihiLearningRule, ("_validate_learning_rule_strings", "_active_str_learning_rules",
                         "_decimate_exponent")),
    (PyLearningConnection, ("_learning_rule", "_process_pre_spikes", "_process_post_spikes",
                            "_within_epoch_time_step", "_reset_dependencies_and_spike_times")),
    (LearningConnectionModelFloat, ("_saturate_synaptic_variable",)),
    (LearningConnectionModelBitApproximate, ("_saturate_synaptic_variable",)),
)
"""Lava's private names the DA-SSDP models override or use, by the class that has them."""

LAVA_CALLS = ((LoihiLearningRule, "__init__", "_validate_learning_rule_strings"),
              (PyLearningConnection, "recv_traces", "_process_pre_spikes"),
              (PyLearningConnection, "recv_traces", "_process_post_spikes"))
"""Lava's methods (class, method) that must still call the hooks the models override."""

Rounding = Literal["stochastic", "nearest"]


@cache
def check_lava_hooks(hooks: tuple = LAVA_HOOKS, calls: tuple = LAVA_CALLS) -> None:
    """Raise LavaInternalsError naming any private hook of Lava's learning process that the
    installed Lava lacks (``hooks``), or that Lava no longer calls (``calls``): without them
    the connection would keep Lava's last-spike times or skip the rule, silently."""
    for owner, names in hooks:
        require(owner, names, "the DA-SSDP learning connection")
    for owner, method, hook in calls:
        require(owner, (method,), "the DA-SSDP learning connection")
        if hook not in getattr(owner, method).__code__.co_names:
            raise LavaInternalsError(f"{owner.__qualname__}.{method} no longer calls {hook}: the "
                                     f"DA-SSDP learning connection overrides it; written against "
                                     f"{pinned_lava()}")


def check_learning_window(t_epoch: int, sigma: float, frame_steps: int,
                          profile: str = "loihi2") -> None:
    """Refuse a DA-SSDP window that the profile's learning engine cannot run.

    Raises ConfigError listing every error of :func:`neurodeploy.hardware.timing.check_window_steps`
    (epoch length, epochs tiling the frame, sigma against the step and the trace width),
    each with its value, limit and source. Lava's default profile is Loihi 2's.
    """
    from neurodeploy.hardware.profile import load_profile
    from neurodeploy.hardware.timing import check_window_steps

    if isinstance(t_epoch, bool) or not isinstance(t_epoch, int):
        raise ConfigError(f"dassdp.t_epoch={t_epoch!r} is not a whole number of steps")
    errors = [finding for finding in check_window_steps(load_profile(profile), frame_steps, t_epoch, sigma)
              if finding.severity == "error"]
    if errors:
        raise ConfigError("; ".join(f"DA-SSDP window ({frame_steps}-step frame): {f.check} "
                                    f"value {f.value} breaks limit {f.limit} [{f.source}]: {f.fix}"
                                    for f in errors))


def quantise_update(delta: np.ndarray, noise: np.ndarray | int) -> np.ndarray:
    """Update in units of the target's LSB -> integer update, as the learning engine rounds it.

    ``delta`` goes into an accumulator with FRACTION_BITS fraction bits (round to
    nearest), then ``(accumulator + noise) >> FRACTION_BITS``: ``noise`` uniform in
    ``0..2^FRACTION_BITS - 1`` rounds stochastically (unbiased with respect to the
    accumulator), ``2^(FRACTION_BITS - 1)`` rounds to nearest.
    """
    accumulator = np.rint(np.asarray(delta) * 2 ** FRACTION_BITS).astype(np.int64)
    return (accumulator + noise) >> FRACTION_BITS


def tag_exponent(batch: int, largest_update: float) -> int:
    """``e`` such that the fixed-point tag counts in units of ``2^-e`` weight units.

    ``FRACTION_BITS - ceil(log2 batch)`` makes the step's mean, ``tag * 2^-e / batch``, a
    whole number of accumulator LSBs for a power-of-two batch (Lava's finest product
    scaling, 2^-7); lowered until ``batch`` windows of ``largest_update`` weight units
    each cannot saturate the tag.
    """
    exponent = FRACTION_BITS - math.ceil(math.log2(batch))
    while largest_update > 0 and batch * largest_update * 2.0 ** exponent > TAG_MAX:
        exponent -= 1
    return exponent


class DassdpRule(Loihi2FLearningRule):
    """DA-SSDP's parameters in LearningDense's learning-rule slot.

    ``A_plus``, ``A_base`` and ``sigma`` are the training rule's, ``A_plus``/``A_base``
    in its float weight units (:meth:`from_config` converts weight steps);
    ``weight_scale`` converts them to the connection's weight units (SLAYER's ``w_scale``
    for netx integer weights, 1 for float weights). ``co_silent`` is the rule's choice for
    pairs where neither neuron spiked; ``batch`` is the number of learning epochs in one
    online step (one window counted as one sample of a training batch). ``rounding`` and
    ``rng_seed`` choose how the fixed-point model rounds. Validates the window and checks
    Lava's hooks on construction, so a bad one fails before any Lava object exists.

    Fixed point: each epoch's update ``gate * pd * weight_scale`` is rounded into the tag,
    whose unit is ``2^-tag_exponent`` weight units (:func:`tag_exponent`: 1/4 at a batch
    of 32); at the step's end ``clip(tag * 2^-tag_exponent / batch, -1, 1) *
    weight_scale`` is rounded into the 8-bit + sign weights. Both roundings go through the
    accumulator (:func:`quantise_update`) and are stochastic by default, so the expected
    weight change is the float one. On the same spikes and from the same weights, one
    step's fixed-point weight change differs from the floating-point one by at most, per
    synapse::

        (R + 2^-8) * (1 + 2^-tag_exponent) + |gate| * max(A_plus, A_base) * weight_scale / 254

    weight units, with ``R = 1 - 2^-7`` (stochastic) or ``1/2`` (nearest): the weight's
    rounding, the batch of tag roundings averaged over the step, and G's 7-bit table (half
    an LSB of 1/127, scaled by the amplitude). Clipping to 8 bits + sign does not widen it
    (it is 1-Lipschitz); for ``|gate| <= 2`` the tag cannot saturate (checked here).
    :meth:`quantisation_bound` evaluates it.
    """

    def __init__(self, *, t_epoch: int, frame_steps: int, sigma: float, A_plus: float,
                 A_base: float, weight_scale: float = 1.0, co_silent: str = "skip",
                 batch: int = 1, rounding: Rounding = "stochastic", rng_seed: int = 0) -> None:
        check_lava_hooks()
        check_learning_window(t_epoch, sigma, frame_steps)
        if rounding not in get_args(Rounding):
            raise ConfigError(f"DA-SSDP rounding={rounding!r}; "
                              f"expected one of {get_args(Rounding)}")
        if min(A_plus, A_base) < 0 or not weight_scale > 0:
            raise ConfigError(f"DA-SSDP A_plus={A_plus}, A_base={A_base} must be >= 0 and "
                              f"weight_scale={weight_scale} > 0")
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise ConfigError(f"dassdp.online_batch={batch!r}; expected a whole number of samples >= 1")
        if co_silent not in CO_SILENT:
            raise ConfigError(f"dassdp.co_silent={co_silent!r}; expected one of {CO_SILENT}")
        self.sigma, self.A_plus, self.A_base = float(sigma), float(A_plus), float(A_base)
        self.weight_scale, self.co_silent, self.batch = float(weight_scale), co_silent, batch
        self.rounding = rounding
        self.tag_exponent = tag_exponent(batch, GATE_MAX * max(self.A_plus, self.A_base) * self.weight_scale)
        # G by latency difference 0..t_epoch, and as 7-bit trace values (the fixed-point table)
        self.kernel = gaussian(torch.arange(t_epoch + 1, dtype=torch.float64), self.sigma).numpy()
        self.kernel_table = np.rint(TRACE_MAX * self.kernel).astype(np.int64)
        super().__init__(t_epoch=t_epoch, rng_seed=rng_seed)

    @classmethod
    def from_config(cls, config: DassdpConfig, *, frame_steps: int, weight_scale: float,
                    rounding: Rounding = "stochastic", rng_seed: int = 0) -> "DassdpRule":
        """The rule of an experiment's ``dassdp`` section for netx weights of SLAYER's
        ``w_scale = weight_scale``. ``t_epoch: null`` means the frame; ``online_batch: null``
        (only left so in a bare DassdpConfig: an experiment fills in train.batch_size) means
        the default training batch size."""
        from neurodeploy.core.config import TrainConfig

        a_plus, a_base = float_amplitudes(config, STEP_IN_LAVA_UNITS / weight_scale)
        batch = config.online_batch or TrainConfig().batch_size
        return cls(t_epoch=config.t_epoch or frame_steps, frame_steps=frame_steps,
                   sigma=config.sigma, A_plus=a_plus, A_base=a_base, weight_scale=weight_scale,
                   co_silent=config.co_silent, batch=batch, rounding=rounding, rng_seed=rng_seed)

    def quantisation_bound(self, gate: float) -> float:
        """Largest |fixed - float| weight change of one online step and synapse, in weight units."""
        rounding = 0.5 if self.rounding == "nearest" else 1 - 2.0 ** -FRACTION_BITS
        accumulator = 2.0 ** -(FRACTION_BITS + 1)
        table = abs(gate) * max(self.A_plus, self.A_base) * self.weight_scale / (2 * TRACE_MAX)
        return (rounding + accumulator) * (1 + 2.0 ** -self.tag_exponent) + table

    def total_tolerance(self, expected: np.ndarray) -> float:
        """How far the fixed-point weight change summed over synapses and online steps may
        be from the floating-point one, ``expected.sum()`` (``expected``: the steps' float
        changes in weight units), for stochastic rounding: five standard deviations of the
        roundings (a step's fraction ``f`` rounds with variance ``f (1 - f)``; a batch of
        window roundings into the tag adds at most ``2^-2e / (4 batch)``) plus, for every
        synapse and step, the systematic part of :meth:`quantisation_bound` (accumulator
        and G table at a gate of 2). Nearest rounding has no spread: every step's bound."""
        if self.rounding == "nearest":
            return expected.size * self.quantisation_bound(GATE_MAX)
        fraction = expected - np.floor(expected)
        variance = ((fraction * (1 - fraction)).sum()
                    + expected.size * 2.0 ** (-2 * self.tag_exponent) / (4 * self.batch))
        systematic = (2.0 ** -(FRACTION_BITS + 1) * (1 + 2.0 ** -self.tag_exponent)
                      + GATE_MAX * max(self.A_plus, self.A_base) * self.weight_scale / (2 * TRACE_MAX))
        return float(5 * np.sqrt(variance) + expected.size * systematic)

    def _validate_learning_rule_strings(self) -> None:
        # Lava insists on at least one product-series string; DA-SSDP has none.
        self._active_str_learning_rules = {}
        self._decimate_exponent = None


class DassdpDense(LearningDense):
    """A dense connection whose weights learn by DA-SSDP, one online step every
    ``learning_rule.batch`` learning epochs.

    Ports as LearningDense: ``s_in`` (pre spikes), ``a_out``, ``s_in_bap`` (post spikes).
    ``weights`` are in the connection's units (Lava's integer units for ``fixed_pt``);
    ``tag_1`` holds the step's accumulated updates (fixed point: in units of
    ``2^-tag_exponent`` weight units).
    """

    def __init__(self, *, weights: np.ndarray, learning_rule: DassdpRule, gate: Gate = Gate(),
                 **kwargs: Any) -> None:
        if not isinstance(learning_rule, DassdpRule):
            raise TypeError(f"DassdpDense needs a DassdpRule, got {type(learning_rule).__name__}")
        super().__init__(weights=weights, learning_rule=learning_rule, **kwargs)
        self.dopamine = Var(shape=(1,), init=gate.dopamine)
        self.sync_slope = Var(shape=(1,), init=gate.sync_slope)
        self.sync_mean = Var(shape=(1,), init=gate.sync_mean)
        self.gate_clamp = Var(shape=(1,), init=int(gate.clamp))


class AbstractDassdpModel(PyLearningConnection):
    """What both precisions share: first-spike recording and the epoch-end update.

    The concrete models reuse LearningDense's spiking phase (``run_spk``) as is. They
    cannot subclass its models: Lava's ``implements`` refuses to re-target a model class
    that already implements LearningDense, so they are built from the same bases instead.
    """

    dopamine: np.ndarray = LavaPyType(np.ndarray, float)
    sync_slope: np.ndarray = LavaPyType(np.ndarray, float)
    sync_mean: np.ndarray = LavaPyType(np.ndarray, float)
    gate_clamp: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=1)
    _learning_rule: DassdpRule

    def _process_pre_spikes(self, s_in: np.ndarray) -> None:
        self._record_first_spike(self.tx, s_in)

    def _process_post_spikes(self, s_in_bap: np.ndarray) -> None:
        self._record_first_spike(self.ty, s_in_bap)

    def _record_first_spike(self, times: np.ndarray, spikes: np.ndarray) -> None:
        """Within-epoch time (1..t_epoch) of each neuron's first spike; 0 while silent."""
        times[(spikes != 0) & (times == 0)] = self._within_epoch_time_step()

    def on_var_update(self) -> None:
        """Nothing to rebuild: the gate Vars are read at every epoch end."""

    def run_lrn(self) -> None:
        """End of a learning epoch: add DA-SSDP's window update to the tag, move the
        weights by the tag's mean at the end of an online step, forget the spike times."""
        rule, window = self._learning_rule, self._learning_rule.t_epoch
        t_pre = np.where(self.tx > 0, self.tx - 1, window).astype(np.int64)
        t_post = np.where(self.ty > 0, self.ty - 1, window).astype(np.int64)
        pre, post = spike_flags(t_pre, window), spike_flags(t_post, window)
        gate = Gate(float(self.dopamine[0]), float(self.sync_slope[0]), float(self.sync_mean[0]),
                    bool(self.gate_clamp[0]))(synchrony(pre, post))
        kernel = self._kernel()[latency_difference(t_post, t_pre)]
        post, pre = post[:, None], pre[None, :]
        pd = potentiation_depression(post * pre, kernel, rule.A_plus, rule.A_base,
                                     active_pairs(post, pre, rule.co_silent))
        self.tag_1 = self._add_to_tag(gate * pd * rule.weight_scale)
        if (self.time_step // window) % rule.batch == 0:
            weights = self._saturate_synaptic_variable("weights", self.weights + self._step_change())
            self.weights = weights.astype(self.weights.dtype)
            self.tag_1 = np.zeros_like(self.tag_1)
        self._reset_dependencies_and_spike_times()

    def _kernel(self) -> np.ndarray:
        raise NotImplementedError

    def _add_to_tag(self, delta: np.ndarray) -> np.ndarray:
        """The tag after adding one window's update of ``delta`` weight units."""
        raise NotImplementedError

    def _step_change(self) -> np.ndarray:
        """The weight change of the online step just ended, from the tag."""
        raise NotImplementedError


@implements(proc=DassdpDense, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyDassdpDenseModelFloat(AbstractDassdpModel, LearningConnectionModelFloat,
                              AbstractPyDenseModelFloat):
    """Floating point: the torch rule's dW, times ``weight_scale``; the tag in weight units."""

    run_spk = PyLearningDenseModelFloat.run_spk

    def _kernel(self) -> np.ndarray:
        return self._learning_rule.kernel

    def _add_to_tag(self, delta: np.ndarray) -> np.ndarray:
        return self.tag_1 + delta

    def _step_change(self) -> np.ndarray:
        rule = self._learning_rule
        return (self.tag_1 / rule.batch).clip(-rule.weight_scale, rule.weight_scale)


@implements(proc=DassdpDense, protocol=LoihiProtocol)
@requires(CPU)
@tag("bit_approximate_loihi", "fixed_pt")
class PyDassdpDenseModelBitApproximate(AbstractDassdpModel, LearningConnectionModelBitApproximate,
                                       AbstractPyDenseModelBitAcc):
    """Fixed point: G from the 7-bit table, an 8-bit + sign tag in ``2^-tag_exponent``
    weight units, integer weights clipped to 8 bits + sign.

    Stochastic rounding draws one independent number per synapse and rounding from
    ``rng_seed`` (Lava's own model shares one per epoch). As in LearningDense's fixed
    model, odd initial weights of a mixed-sign matrix lose their LSB at the first step.
    """

    run_spk = PyLearningDenseModelBitApproximate.run_spk

    def __init__(self, proc_params: dict[str, Any]) -> None:
        super().__init__(proc_params)
        self.num_weight_bits: int = self.proc_params.get("num_weight_bits", 8)  # as LearningDense
        self._rng = np.random.default_rng(self._learning_rule.rng_seed)

    def _kernel(self) -> np.ndarray:
        return self._learning_rule.kernel_table / TRACE_MAX

    def _add_to_tag(self, delta: np.ndarray) -> np.ndarray:
        tag = self.tag_1 + self._round(delta * 2.0 ** self._learning_rule.tag_exponent)
        return self._saturate_synaptic_variable("tag_1", tag)

    def _step_change(self) -> np.ndarray:
        rule = self._learning_rule
        mean = self.tag_1 * 2.0 ** -rule.tag_exponent / rule.batch
        return self._round(mean.clip(-rule.weight_scale, rule.weight_scale))

    def _round(self, delta: np.ndarray) -> np.ndarray:
        if self._learning_rule.rounding == "nearest":
            return quantise_update(delta, 2 ** (FRACTION_BITS - 1))
        return quantise_update(delta, self._rng.integers(0, 2 ** FRACTION_BITS, delta.shape))
