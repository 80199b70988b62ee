"""DA-SSDP as a Lava learning connection: a LearningDense whose weights follow the rule.

Lava's learning engine evaluates sum-of-products rules over traces; DA-SSDP needs the
Gaussian of a latency *difference*, which that form cannot express. So the rule gets
process models of its own, built on Lava's learning-connection machinery
(``PyLearningConnection``): the spiking phase is LearningDense's, pre spikes arrive on
``s_in`` and post spikes on the back-propagating-spike port ``s_in_bap``, Lava records
within-epoch spike times in ``tx``/``ty`` and runs the learning phase when
``time_step % t_epoch == 0``. Two things differ: ``tx``/``ty`` keep the *first* spike of
the epoch (Lava keeps the last), and the learning phase applies DA-SSDP, through the same
functions as the torch rule (:mod:`neurodeploy.learning.dassdp`), instead of a product
series; the x/y traces are unused and stay 0. One epoch is one window of the rule with a
batch of one. The models compute in numpy: Lava forks a process per model, and torch's
thread pools are not fork-safe.

One epoch's update is divided by ``batch`` (``dassdp.online_batch``, by default the
training batch size): a training step adds the batch *mean* of the per-sample updates,
so without the division each online sample would move the weights ``batch`` times more
than it did in training.

The third factor is a :class:`~neurodeploy.learning.dassdp.Gate` held in four Vars,
``dopamine``, ``sync_slope``, ``sync_mean`` and ``gate_clamp``, read at every epoch end. The gate fitted
in training goes in unchanged (the process measures each epoch's synchrony itself); a
reward signal drives ``dopamine``, set between windows with ``proc.dopamine.set(...)``.
Vars rather than a modulatory InPort: the gate changes per window, not per step, and a
port would need a sender process in every network.
"""
from __future__ import annotations

from typing import Any, Literal, get_args

import numpy as np
import torch
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.learning.constants import W_ACCUMULATOR_S, W_TRACE, W_WEIGHTS_S
from lava.magma.core.learning.learning_rule import Loihi2FLearningRule
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

from neurodeploy.config import DassdpConfig
from neurodeploy.errors import ConfigError
from neurodeploy.learning.dassdp import (CO_SILENT, STEP_IN_LAVA_UNITS, Gate, active_pairs,
                                         float_amplitudes, gaussian, latency_difference,
                                         potentiation_depression, spike_flags, synchrony)

TRACE_MAX = 2 ** W_TRACE - 1
"""Full scale of a 7-bit trace (W_TRACE = 7): the fixed-point Gaussian table's 1.0."""

FRACTION_BITS = W_ACCUMULATOR_S - W_WEIGHTS_S
"""Fraction bits of the learning accumulator below the weight LSB: 16 - 9 = 7, as Lava
shifts weights before a learning update."""

Rounding = Literal["stochastic", "nearest"]


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
    """Weight-unit update -> integer update, as the learning engine rounds it.

    ``delta`` goes into an accumulator with FRACTION_BITS fraction bits (round to
    nearest), then ``(accumulator + noise) >> FRACTION_BITS``: ``noise`` uniform in
    ``0..2^FRACTION_BITS - 1`` rounds stochastically (unbiased with respect to the
    accumulator), ``2^(FRACTION_BITS - 1)`` rounds to nearest.
    """
    accumulator = np.rint(np.asarray(delta) * 2 ** FRACTION_BITS).astype(np.int64)
    return (accumulator + noise) >> FRACTION_BITS


class DassdpRule(Loihi2FLearningRule):
    """DA-SSDP's parameters in LearningDense's learning-rule slot.

    ``A_plus``, ``A_base`` and ``sigma`` are the training rule's, ``A_plus``/``A_base``
    in its float weight units (:meth:`from_config` converts weight steps);
    ``weight_scale`` converts them to the connection's weight units (SLAYER's ``w_scale``
    for netx integer weights, 1 for float weights). ``co_silent`` is the rule's choice for
    pairs where neither neuron spiked; ``batch`` divides every epoch's update (one sample
    counted as one of a training batch). ``rounding`` and ``rng_seed`` choose how the
    fixed-point model rounds updates. Validates the window on construction, so a bad one
    fails before any Lava object exists.

    Fixed-point bound: on the same spikes and from the same weights, one epoch's
    fixed-point weight change differs from the floating-point one,
    ``clip(gate * pd / batch, -1, 1) * weight_scale``, by at most, per synapse::

        R + 2^-8 + |gate| * max(A_plus, A_base) * weight_scale / (254 * batch)   weight units

    with ``R = 1 - 2^-7`` (stochastic) or ``1/2`` (nearest): the final rounding, the
    accumulator's rounding to 2^-7 (FRACTION_BITS), and G's 7-bit table (half an LSB of
    1/127, scaled by the amplitude). Stochastic rounding is unbiased with respect to the
    accumulator; clipping to 8 bits + sign does not widen the bound (it is 1-Lipschitz).
    :meth:`quantisation_bound` evaluates it.
    """

    def __init__(self, *, t_epoch: int, frame_steps: int, sigma: float, A_plus: float,
                 A_base: float, weight_scale: float = 1.0, co_silent: str = "skip",
                 batch: int = 1, rounding: Rounding = "stochastic", rng_seed: int = 0) -> None:
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
        from neurodeploy.config import TrainConfig

        a_plus, a_base = float_amplitudes(config, STEP_IN_LAVA_UNITS / weight_scale)
        batch = config.online_batch or TrainConfig.model_fields["batch_size"].default
        return cls(t_epoch=config.t_epoch or frame_steps, frame_steps=frame_steps,
                   sigma=config.sigma, A_plus=a_plus, A_base=a_base, weight_scale=weight_scale,
                   co_silent=config.co_silent, batch=batch, rounding=rounding, rng_seed=rng_seed)

    def quantisation_bound(self, gate: float) -> float:
        """Largest |fixed - float| weight change of one epoch and synapse, in weight units."""
        rounding = 0.5 if self.rounding == "nearest" else 1 - 2.0 ** -FRACTION_BITS
        table = (abs(gate) * max(self.A_plus, self.A_base) * self.weight_scale
                 / (2 * TRACE_MAX * self.batch))
        return rounding + 2.0 ** -(FRACTION_BITS + 1) + table

    def _validate_learning_rule_strings(self) -> None:
        # Lava insists on at least one product-series string; DA-SSDP has none.
        self._active_str_learning_rules = {}
        self._decimate_exponent = None


class DassdpDense(LearningDense):
    """A dense connection whose weights learn by DA-SSDP once per learning epoch.

    Ports as LearningDense: ``s_in`` (pre spikes), ``a_out``, ``s_in_bap`` (post spikes).
    ``weights`` are in the connection's units (Lava's integer units for ``fixed_pt``).
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
        """End of a learning epoch: apply DA-SSDP, then forget the epoch's spike times."""
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
        delta = (gate * pd / rule.batch).clip(-1.0, 1.0) * rule.weight_scale
        weights = self._saturate_synaptic_variable("weights", self.weights + self._round(delta))
        self.weights = weights.astype(self.weights.dtype)
        self._reset_dependencies_and_spike_times()

    def _kernel(self) -> np.ndarray:
        raise NotImplementedError

    def _round(self, delta: np.ndarray) -> np.ndarray:
        raise NotImplementedError


@implements(proc=DassdpDense, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyDassdpDenseModelFloat(AbstractDassdpModel, LearningConnectionModelFloat,
                              AbstractPyDenseModelFloat):
    """Floating point: the torch rule's dW, times ``weight_scale``."""

    run_spk = PyLearningDenseModelFloat.run_spk

    def _kernel(self) -> np.ndarray:
        return self._learning_rule.kernel

    def _round(self, delta: np.ndarray) -> np.ndarray:
        return delta


@implements(proc=DassdpDense, protocol=LoihiProtocol)
@requires(CPU)
@tag("bit_approximate_loihi", "fixed_pt")
class PyDassdpDenseModelBitApproximate(AbstractDassdpModel, LearningConnectionModelBitApproximate,
                                       AbstractPyDenseModelBitAcc):
    """Fixed point: G from the 7-bit table, integer updates, weights clipped to 8 bits + sign.

    Stochastic rounding draws one independent number per synapse and epoch from
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

    def _round(self, delta: np.ndarray) -> np.ndarray:
        if self._learning_rule.rounding == "nearest":
            return quantise_update(delta, 2 ** (FRACTION_BITS - 1))
        return quantise_update(delta, self._rng.integers(0, 2 ** FRACTION_BITS, delta.shape))
