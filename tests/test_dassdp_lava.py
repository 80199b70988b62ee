"""DA-SSDP on Lava: the learning process against the torch rule on the same spike trains,
its fixed point learning sub-LSB updates, and the Lava hooks it relies on."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from lava.magma.core.run_conditions import RunSteps
from lava.magma.core.run_configs import Loihi2SimCfg
from lava.proc.io.sink import RingBuffer as Sink
from lava.proc.io.source import RingBuffer
from lava.proc.lif.process import LIF

from neurodeploy.core.config import DassdpConfig
from neurodeploy.core.errors import ConfigError
from neurodeploy.backends.lavasim.private import LavaInternalsError
from neurodeploy.training.dassdp import Gate, online_updates, plasticity_table
from neurodeploy.backends.lavasim.procs.dassdp import (FRACTION_BITS, LAVA_CALLS, LAVA_HOOKS, DassdpDense,
                                      DassdpRule, check_lava_hooks, check_learning_window,
                                      quantise_update, tag_exponent)

T_EPOCH, EPOCHS, CIN, COUT = 6, 8, 7, 4
SIGMA, A_PLUS, A_BASE, WEIGHT_SCALE = 1.5, 0.3, 0.1, 16.0
GATE = Gate(dopamine=1.0, sync_slope=4.0, sync_mean=0.1)


def _trains(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Pre (CIN, steps) and post (COUT, steps) spikes, one neuron of each silent throughout."""
    rng = np.random.default_rng(seed)
    pre = (rng.random((CIN, T_EPOCH * EPOCHS)) < 0.25).astype(float)
    post = (rng.random((COUT, T_EPOCH * EPOCHS)) < 0.25).astype(float)
    pre[-1], post[-1] = 0, 0
    return pre, post


def _torch_updates(pre: np.ndarray, post: np.ndarray, gate: Gate, co_silent: str = "skip",
                   batch: int = 1, t_epoch: int = T_EPOCH, amplitudes: tuple = (A_PLUS, A_BASE),
                   weight_scale: float = WEIGHT_SCALE) -> np.ndarray:
    """dW of each online step by the torch rule, in weight units: (steps, COUT, CIN)."""
    table = plasticity_table(t_epoch, SIGMA, *amplitudes, co_silent=co_silent, dtype=torch.float64)
    updates = online_updates(torch.tensor(pre), torch.tensor(post), t_epoch, gate, table, batch)
    return (updates * weight_scale).numpy()


def _process(pre: np.ndarray, post: np.ndarray, weights: np.ndarray,
             rounding: str = "stochastic", co_silent: str = "skip", batch: int = 1,
             gate: Gate = GATE) -> DassdpDense:
    """A DassdpDense fed pre spikes on ``s_in`` and post spikes on ``s_in_bap``."""
    rule = DassdpRule(t_epoch=T_EPOCH, frame_steps=2 * T_EPOCH, sigma=SIGMA, A_plus=A_PLUS,
                      A_base=A_BASE, weight_scale=WEIGHT_SCALE, co_silent=co_silent, batch=batch,
                      rounding=rounding, rng_seed=5)
    connection = DassdpDense(weights=weights, learning_rule=rule, gate=gate)
    pre_source, post_source = RingBuffer(data=pre), RingBuffer(data=post)
    pre_source.s_out.connect(connection.s_in)
    post_source.s_out.connect(connection.s_in_bap)
    return connection


@pytest.mark.timeout(120)
@pytest.mark.parametrize("co_silent, batch", [("skip", 1), ("reference", 1), ("skip", 4)])
def test_floating_point_process_matches_the_torch_rule(co_silent, batch):
    """Both co-silent choices, and online steps of 4 windows (a training batch of 4): the
    weights move by the step's mean at its end, not before."""
    pre, post = _trains()
    weights = np.linspace(-40, 40, COUT * CIN).reshape(COUT, CIN)
    connection = _process(pre, post, weights.copy(), co_silent=co_silent, batch=batch)
    config = Loihi2SimCfg(select_tag="floating_pt")
    try:
        connection.run(condition=RunSteps(num_steps=T_EPOCH * (EPOCHS - batch)), run_cfg=config)
        middle = connection.weights.get()
        connection.dopamine.set(np.array([0.0]))  # no reward: the last online step must not learn
        connection.run(condition=RunSteps(num_steps=T_EPOCH * (batch - 1)), run_cfg=config)
        pending = connection.weights.get()
        connection.run(condition=RunSteps(num_steps=T_EPOCH), run_cfg=config)
        final = connection.weights.get()
    finally:
        connection.stop()
    expected = _torch_updates(pre, post, GATE, co_silent, batch)[:-1].sum(0)
    assert np.array_equal(pending, middle)
    assert np.abs(expected).max() > 1.0 / batch
    assert np.abs((middle - weights) - expected).max() <= 1e-6
    assert np.array_equal(final, middle)
    silent = (middle - weights)[-1, -1]  # the last pre and post neurons never spike
    assert silent == 0.0 if co_silent == "skip" else silent < -0.1 / batch
    if batch > 1:
        unscaled = _torch_updates(pre, post, GATE, co_silent)[:EPOCHS - batch].sum(0)
        assert np.allclose(expected * batch, unscaled)  # nothing hit the clamp


@pytest.mark.timeout(120)
@pytest.mark.parametrize("clamp", [True, False])
def test_a_negative_gate_is_clamped_to_zero_unless_the_clamp_is_off(clamp):
    pre, post = _trains(seed=3)
    weights = np.zeros((COUT, CIN))
    gate = Gate(dopamine=-1.0, clamp=clamp)
    connection = _process(pre, post, weights.copy(), gate=gate)
    try:
        connection.run(condition=RunSteps(num_steps=T_EPOCH * 2),
                       run_cfg=Loihi2SimCfg(select_tag="floating_pt"))
        change = connection.weights.get() - weights
    finally:
        connection.stop()
    if clamp:
        assert np.array_equal(change, weights)
    else:  # the rule reversed: exactly minus the gate-1 update
        reversed_rule = -_torch_updates(pre, post, Gate())[:2].sum(0)
        assert np.abs(reversed_rule).max() > 1.0
        assert np.abs(change - reversed_rule).max() <= 1e-6


@pytest.mark.timeout(120)
def test_post_spikes_from_a_lif_layer_arrive_on_the_bap_port():
    pre, _ = _trains(seed=2)
    weights = np.full((COUT, CIN), 30.0)
    rule = DassdpRule(t_epoch=T_EPOCH, frame_steps=T_EPOCH, sigma=SIGMA, A_plus=A_PLUS,
                      A_base=A_BASE, weight_scale=WEIGHT_SCALE)
    connection = DassdpDense(weights=weights.copy(), learning_rule=rule, gate=GATE)
    source, sink = RingBuffer(data=pre), Sink(shape=(COUT,), buffer=pre.shape[1])
    neurons = LIF(shape=(COUT,), du=0.25, dv=0.03, vth=50.0)
    source.s_out.connect(connection.s_in)
    connection.a_out.connect(neurons.a_in)
    neurons.s_out.connect(connection.s_in_bap)
    neurons.s_out.connect(sink.a_in)
    try:
        connection.run(condition=RunSteps(num_steps=pre.shape[1]),
                       run_cfg=Loihi2SimCfg(select_tag="floating_pt"))
        final, post = connection.weights.get(), sink.data.get()
    finally:
        connection.stop()
    expected = _torch_updates(pre, post, GATE).sum(0)
    assert post.sum() > 0 and np.abs(expected).max() > 1.0
    assert np.abs((final - weights) - expected).max() <= 1e-6


@pytest.mark.timeout(120)
@pytest.mark.parametrize("rounding", ["stochastic", "nearest"])
def test_fixed_point_process_stays_within_its_quantisation_bound(rounding):
    pre, post = _trains(seed=1)
    batch = 2
    weights = np.tile(np.arange(-60, 60, 30), (COUT, 2))[:, :CIN] * 2  # even: no truncation
    connection = _process(pre, post, weights.copy(), rounding, batch=batch)
    config = Loihi2SimCfg(select_tag="fixed_pt")
    reference = _torch_updates(pre, post, GATE, batch=batch)
    bound = connection.proc_params["learning_rule"].quantisation_bound(gate=2.0)
    changes = []
    try:
        previous = weights.astype(float)
        for step in range(EPOCHS // batch):
            connection.run(condition=RunSteps(num_steps=T_EPOCH * batch), run_cfg=config)
            current = connection.weights.get()
            target = np.clip(previous + reference[step], -256, 255)  # 8 bits + sign, MIXED
            assert np.abs(current - target).max() <= bound, f"step {step}"
            changes.append(current - previous)
            previous = current
    finally:
        connection.stop()
    assert bound < 1.2 if rounding == "stochastic" else bound < 0.65
    assert np.abs(np.array(changes)).max() >= 2  # updates of several weight units were tested


@pytest.mark.timeout(120)
def test_fixed_point_learns_updates_below_one_weight_step():
    """The project's default amplitudes (0.048 and 0.016 weight steps, w_scale 64) and a
    training batch of 32: one window's share of a step, 0.003 weight units, is below the
    accumulator's 2^-7, and the weights used not to move at all. Through the tag and
    stochastic rounding their expected change is the floating-point one: the total fixed
    change over all synapses is the float total within 5 standard deviations of the
    rounding, and that total is further from zero, so a process that moved nothing fails."""
    t_epoch, batch, steps, cin, cout, w_scale = 3, 32, 4, 64, 32, 64.0
    amplitudes = (0.048 * 2 / w_scale, 0.016 * 2 / w_scale)
    rng = np.random.default_rng(7)
    pre = (rng.random((cin, t_epoch * batch * steps)) < 0.5).astype(float)
    post = (rng.random((cout, t_epoch * batch * steps)) < 0.5).astype(float)
    rule = DassdpRule(t_epoch=t_epoch, frame_steps=t_epoch, sigma=SIGMA, A_plus=amplitudes[0],
                      A_base=amplitudes[1], weight_scale=w_scale, batch=batch, rng_seed=3)
    connection = DassdpDense(weights=np.zeros((cout, cin)), learning_rule=rule, gate=Gate())
    sources = RingBuffer(data=pre), RingBuffer(data=post)
    sources[0].s_out.connect(connection.s_in)
    sources[1].s_out.connect(connection.s_in_bap)
    try:
        connection.run(condition=RunSteps(num_steps=pre.shape[1]),
                       run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        fixed = connection.weights.get()
    finally:
        connection.stop()
    expected = _torch_updates(pre, post, Gate(), batch=batch, t_epoch=t_epoch,
                              amplitudes=amplitudes, weight_scale=w_scale)
    assert expected.shape[0] == steps and np.abs(expected).max() < 0.1  # each step sub-LSB
    assert (np.abs(expected) / batch).max() < 2.0 ** -(FRACTION_BITS + 1)  # a window's share rounds to 0
    tolerance = rule.total_tolerance(expected)
    assert abs(expected.sum()) > 2 * tolerance
    assert abs(fixed.sum() - expected.sum()) <= tolerance
    assert np.count_nonzero(fixed) > fixed.size / 8


def test_tag_unit_resolves_a_window_and_cannot_saturate():
    assert tag_exponent(32, 0.19) == 2  # a quarter weight unit at the defaults
    assert tag_exponent(1, 0.19) == 7
    assert tag_exponent(32, 3.0) == 1 and 32 * 3.0 * 2 ** 1 <= 255
    assert tag_exponent(128, 40.0) == -5


def test_a_missing_lava_hook_is_an_error_naming_it():
    check_lava_hooks()  # the installed, pinned Lava has them all

    class Renamed:
        def _process_pre_spike(self):
            pass

    with pytest.raises(LavaInternalsError, match=r"Renamed has no _process_pre_spikes: "
                                                 r"neurodeploy needs it for the DA-SSDP .*lava-nc"):
        check_lava_hooks(((Renamed, ("_process_pre_spikes",)),), ())

    class Refactored:
        def recv_traces(self, s_in):
            self._record(s_in)

    with pytest.raises(LavaInternalsError, match="Refactored.recv_traces no longer calls _process_pre_spikes"):
        check_lava_hooks((), ((Refactored, "recv_traces", "_process_pre_spikes"),))
    with pytest.raises(LavaInternalsError, match="Refactored has no receive_traces"):
        check_lava_hooks((), ((Refactored, "receive_traces", "_process_pre_spikes"),))
    assert {hook for *_, hook in LAVA_CALLS} == {"_validate_learning_rule_strings",
                                                 "_process_pre_spikes", "_process_post_spikes"}
    assert sum(len(names) for _, names in LAVA_HOOKS) == 10


@pytest.mark.timeout(120)
def test_lava_calls_the_overridden_hooks():
    """Every neuron spikes twice per epoch, first at a different step than last: the update
    equals the rule on first-spike latencies (our ``_process_pre/post_spikes``), not on the
    last spikes Lava's own hooks record, and the weights moved (our ``run_lrn``)."""
    first = np.zeros((CIN, T_EPOCH * 2))
    for neuron in range(CIN):
        for start in (0, T_EPOCH):
            first[neuron, start + neuron % 3] = first[neuron, start + 3 + neuron % 2] = 1
    post = np.roll(first[:COUT], 1, axis=1)
    weights = np.zeros((COUT, CIN))
    connection = _process(first, post, weights.copy())
    try:
        connection.run(condition=RunSteps(num_steps=first.shape[1]),
                       run_cfg=Loihi2SimCfg(select_tag="floating_pt"))
        change = connection.weights.get() - weights
    finally:
        connection.stop()
    expected = _torch_updates(first, post, GATE).sum(0)

    def last_only(spikes):  # each epoch's last spike, as Lava's hooks would record it
        epochs = spikes.reshape(len(spikes), -1, T_EPOCH)
        last = np.zeros_like(epochs)
        np.put_along_axis(last, T_EPOCH - 1 - np.argmax(epochs[:, :, ::-1], axis=2)[:, :, None], 1, axis=2)
        return last.reshape(spikes.shape)

    last = _torch_updates(last_only(first), last_only(post), GATE).sum(0)
    assert np.abs(expected).max() > 1.0 and np.abs(expected - last).max() > 1.0
    assert np.abs(change - expected).max() <= 1e-6


@settings(max_examples=200, deadline=None)
@given(st.floats(-300, 300, allow_nan=False), st.integers(0, 2 ** FRACTION_BITS - 1))
def test_rounding_error_is_below_one_unit_and_unbiased(delta, noise):
    scale = 2 ** FRACTION_BITS
    assert abs(quantise_update(delta, noise) - delta) <= (scale - 1) / scale + 1 / (2 * scale)
    assert abs(quantise_update(delta, scale // 2) - delta) <= 0.5 + 1 / (2 * scale)
    every_noise = quantise_update(np.full(scale, delta), np.arange(scale))
    assert abs(every_noise.mean() - delta) <= 1 / (2 * scale)


def test_the_experiment_config_passes_its_batch_size_to_lava():
    from neurodeploy.core.config import parse_config

    config = parse_config({"train": {"batch_size": 16}, "dassdp": {"enabled": True, "layers": ["dense1"]}})
    rule = DassdpRule.from_config(config.dassdp, frame_steps=18, weight_scale=64)
    assert config.dassdp.online_batch == 16 and rule.batch == 16
    assert parse_config({"dassdp": {"online_batch": 3}}).dassdp.online_batch == 3


@pytest.mark.parametrize("fields, match", [
    ({"co_silent": "never"}, "co_silent='never'; expected one of"),
    ({"batch": 0}, "online_batch=0; expected a whole number of samples >= 1"),
])
def test_bad_rule_choices_are_refused(fields, match):
    with pytest.raises(ConfigError, match=match):
        DassdpRule(**{**dict(t_epoch=6, frame_steps=18, sigma=1.0, A_plus=0.1, A_base=0.1), **fields})


@pytest.mark.parametrize("t_epoch, sigma, frame_steps, match", [
    (64, 1.0, 64, r"timing.epoch_time_bits value 64 breaks limit 63 \[L core/model/py/connection.py"),
    (0, 1.0, 18, r"timing.t_epoch_range value 0 breaks limit 1..63 \[L core/learning/learning_rule.py"),
    (6, 0.5, 18, "timing.sigma_resolution value 0.5 breaks limit 1"),
    (6, 20.0, 18, r"timing.sigma_trace_width value 20.0 breaks limit 11.26 \[.*W_TRACE = 7"),
    (4, 1.0, 18, "timing.epoch_multiple value 18 breaks limit multiple of 4"),
    (6.0, 1.0, 18, "t_epoch=6.0 is not a whole number of steps"),
])
def test_learning_window_limits_are_checked_before_a_run(t_epoch, sigma, frame_steps, match):
    with pytest.raises(ConfigError, match=match):
        check_learning_window(t_epoch, sigma, frame_steps)


def test_rule_from_config_defaults_to_the_frame():
    rule = DassdpRule.from_config(DassdpConfig(enabled=True, layers=["dense1"]), frame_steps=18,
                                  weight_scale=64)
    assert rule.t_epoch == 18 and rule.kernel_table[0] == 127 and rule.kernel_table[1] == 77
    # amplitudes in weight steps (2 / w_scale float units); the training batch divides each window
    assert (rule.A_plus, rule.A_base) == pytest.approx((0.048 * 2 / 64, 0.016 * 2 / 64))
    assert (rule.batch, rule.co_silent) == (32, "skip")
    wide = DassdpRule.from_config(DassdpConfig(amplitude_unit="float", online_batch=8,
                                               co_silent="reference"), frame_steps=18, weight_scale=64)
    assert (wide.A_plus, wide.A_base, wide.batch, wide.co_silent) == (0.048, 0.016, 8, "reference")
    with pytest.raises(ConfigError, match="timing.epoch_multiple value 18 breaks limit multiple of 5"):
        DassdpRule.from_config(DassdpConfig(t_epoch=5), frame_steps=18, weight_scale=64)
