"""DA-SSDP in torch: the rule's pieces on hand-made spike trains, the gate fit, the plug-in."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from neurodeploy.core.config import DassdpConfig
from neurodeploy.core.errors import ConfigError
from neurodeploy.training.dassdp_gate import SIGN_GATE_DEADBAND, Gate, fit_gate
from neurodeploy.training.lavadl import slayer
from neurodeploy.training.dassdp import (DASSDP, SyncLossRecord, Window,
                                         gated_update, gathered_product, latency_scan,
                                         active_pairs, first_spike_latency,
                                         float_amplitudes, gaussian, latency_difference,
                                         plasticity_table, potentiation_depression, spike_flags,
                                         synchrony, weight_update)

NEURON = dict(threshold=1.25, current_decay=0.25, voltage_decay=0.03, tau_grad=0.03,
              scale_grad=3.0, requires_grad=False)


def _spikes(rows: list[list[int]]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float32)[None]


def _direct_update(t_pre, t_post, gate, window, sigma, a_plus, a_base, co_silent="skip"):
    """The spec's definition, pair by pair, to check the factorised weight_update against.

    Written out without active_pairs: co-silent pairs are zeroed by hand under ``skip``."""
    pre, post = spike_flags(t_pre, window), spike_flags(t_post, window)
    sync = post[:, :, None] * pre[:, None, :]
    kernel = gaussian(latency_difference(t_post, t_pre).double(), sigma)
    pd = a_plus * sync.double() * kernel - a_base * (1 - sync.double()) * kernel
    if co_silent == "skip":
        pd = pd * (1 - (1 - post[:, :, None]) * (1 - pre[:, None, :])).double()
    return (pd * gate[:, None, None]).mean(0).clamp(-1, 1)


# --- the pieces -------------------------------------------------------------------------

def test_first_spike_latency_and_flags_with_a_silent_neuron():
    spikes = _spikes([[0, 0, 1, 0, 1],
                      [0, 0, 0, 0, 0],
                      [1, 1, 0, 0, 0],
                      [0, 0, 0, 0, 0.5]])
    latency = first_spike_latency(spikes)
    assert latency.tolist() == [[2, 5, 0, 4]]
    assert spike_flags(latency, 5).tolist() == [[1.0, 0.0, 1.0, 1.0]]


def test_latency_difference_and_gaussian():
    dt = latency_difference(torch.tensor([0, 5]), torch.tensor([2, 5, 1]))
    assert dt.tolist() == [[2, 5, 1], [3, 0, 4]]
    kernel = gaussian(torch.tensor([0.0, 2.0, 4.0]), sigma=2.0)
    assert kernel.tolist() == pytest.approx([1.0, math.exp(-0.5), math.exp(-2.0)])


def test_potentiation_for_synchronous_pairs_depression_for_the_rest():
    kernel = torch.tensor([0.5, 0.5])
    pd = potentiation_depression(torch.tensor([1.0, 0.0]), kernel, a_plus=2.0, a_base=0.4)
    assert pd.tolist() == pytest.approx([1.0, -0.2])


def test_synchrony_is_the_mean_of_the_pair_products():
    pre = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    post = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    expected = (post[:, :, None] * pre[:, None, :]).mean((1, 2))
    assert synchrony(pre, post).tolist() == pytest.approx(expected.tolist())
    assert synchrony(pre, post).tolist() == pytest.approx([2 / 3, 0.0])


@pytest.mark.parametrize("co_silent, both_silent", [("skip", 0.0), ("reference", -0.5)])
def test_plasticity_table_treats_latency_window_as_silent(co_silent, both_silent):
    table = plasticity_table(4, sigma=1.0, a_plus=1.0, a_base=0.5, co_silent=co_silent,
                             dtype=torch.float64)
    assert table[1, 1] == pytest.approx(1.0)  # both fire together
    assert table[0, 2] == pytest.approx(math.exp(-2.0))
    assert table[4, 3] == pytest.approx(-0.5 * math.exp(-0.5))  # post silent at t = window
    assert table[3, 4] == pytest.approx(-0.5 * math.exp(-0.5))  # pre silent
    # both silent: G = 1, so the reference depresses by the full A_base at every update
    assert table[4, 4] == pytest.approx(both_silent)


def test_co_silent_pairs_no_longer_shrink_the_weights():
    """Two silent neurons, many updates: the reference's rule drifts by -A_base per update."""
    silent = torch.tensor([[3]])  # window 3: latency 3 is "no spike"
    drift = {}
    for co_silent in ("skip", "reference"):
        table = plasticity_table(3, 1.0, a_plus=0.01, a_base=0.004, co_silent=co_silent)
        drift[co_silent] = sum(weight_update(silent, silent, torch.ones(1), table)
                               for _ in range(100)).item()
    assert drift["skip"] == 0.0
    assert drift["reference"] == pytest.approx(-0.4)


def test_active_pairs_and_an_unknown_choice():
    post, pre = torch.tensor([[1.0], [0.0]]), torch.tensor([[1.0, 0.0]])
    assert active_pairs(post, pre, "skip").tolist() == [[1.0, 1.0], [1.0, 0.0]]
    assert active_pairs(post, pre, "reference") == 1.0
    with pytest.raises(ConfigError, match="co_silent='never'; expected one of"):
        active_pairs(post, pre, "never")


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 5), st.integers(1, 4), st.integers(1, 6), st.integers(1, 9),
       st.integers(0, 2 ** 31 - 1), st.sampled_from(["skip", "reference"]))
def test_weight_update_equals_the_pairwise_definition(batch, cout, cin, window, seed, co_silent):
    generator = torch.Generator().manual_seed(seed)
    t_pre = torch.randint(0, window + 1, (batch, cin), generator=generator)
    t_post = torch.randint(0, window + 1, (batch, cout), generator=generator)
    gate = 2 * torch.rand(batch, generator=generator, dtype=torch.float64)
    table = plasticity_table(window, 1.3, 0.4, 0.1, co_silent=co_silent, dtype=torch.float64)
    expected = _direct_update(t_pre, t_post, gate, window, 1.3, 0.4, 0.1, co_silent)
    assert torch.allclose(weight_update(t_pre, t_post, gate, table), expected, atol=1e-12)


def test_weight_update_divides_by_the_given_batch():
    table = plasticity_table(3, 1.0, a_plus=0.3, a_base=0.1, dtype=torch.float64)
    t_pre, t_post, gate = torch.tensor([[0, 3]]), torch.tensor([[0]]), torch.ones(1, dtype=torch.float64)
    one = weight_update(t_pre, t_post, gate, table)
    assert torch.allclose(weight_update(t_pre, t_post, gate, table, batch=32), one / 32)


@pytest.mark.parametrize("co_silent, both_silent", [("reference", -1.0), ("skip", 0.0)])
def test_weight_update_is_clamped_to_one(co_silent, both_silent):
    table = plasticity_table(3, 10.0, a_plus=10.0, a_base=10.0, co_silent=co_silent)
    latency = torch.tensor([[0, 3]])
    delta = weight_update(latency, latency, torch.ones(1), table)
    assert delta.tolist() == [[1.0, -1.0], [-1.0, both_silent]]


def test_gate_is_clamped_to_zero_and_two():
    gate = Gate(dopamine=1.0, sync_slope=100.0, sync_mean=0.5)
    assert gate(torch.tensor([0.0, 0.5, 1.0])).tolist() == [0.0, 1.0, 2.0]
    # the sign gate's -1 switches the rule off, as the reference's clamp does ...
    assert Gate(dopamine=-1.0)(torch.tensor([0.3])).tolist() == [0.0]
    assert Gate(dopamine=3.0)(torch.tensor([0.3])).tolist() == [2.0]
    # ... unless the clamp is disabled: then it reverses the rule
    assert Gate(dopamine=-1.0, clamp=False)(torch.tensor([0.3])).tolist() == [-1.0]
    assert Gate(sync_slope=100.0, clamp=False)(torch.tensor([0.1])).tolist() == pytest.approx([11.0])


# --- the gate fit -----------------------------------------------------------------------

def _record(sync: np.ndarray, loss: np.ndarray, batch: int = 7) -> SyncLossRecord:
    record = SyncLossRecord()
    for start in range(0, len(sync), batch):
        record.update(torch.tensor(sync[start:start + batch], dtype=torch.float32),
                      torch.tensor(loss[start:start + batch], dtype=torch.float32))
    return record


def test_record_gives_minus_the_correlation_and_population_std():
    rng = np.random.default_rng(0)
    sync = rng.random(60).astype(np.float32)
    loss = (2.0 - 3.0 * sync + rng.normal(0, 0.5, 60)).astype(np.float32)
    record = _record(sync, loss)
    assert record.k == pytest.approx(-np.corrcoef(sync, loss)[0, 1], abs=1e-9)
    assert record.sync_mean == pytest.approx(sync.astype(np.float64).mean(), abs=1e-9)
    assert record.sync_std == pytest.approx(sync.astype(np.float64).std(), abs=1e-9)
    assert record.k > 0  # synchrony that goes with lower loss is rewarded


def test_gate_fit_per_mode_follows_the_sign_of_k():
    rng = np.random.default_rng(1)
    sync = rng.random(50)
    worse = _record(sync, 1.0 + sync)  # synchrony goes with higher loss: k = -1
    assert worse.k == pytest.approx(-1.0)
    continuous = fit_gate(worse.k, worse.sync_mean, worse.sync_std, "continuous")
    assert continuous.sync_slope == pytest.approx(-1.0 / worse.sync_std)
    assert continuous(torch.tensor([worse.sync_mean])).item() == pytest.approx(1.0)
    assert fit_gate(worse.k, worse.sync_mean, worse.sync_std, "sign") == Gate(-1.0)
    assert fit_gate(worse.k, worse.sync_mean, worse.sync_std, "sign", clamp=False) == Gate(-1.0, clamp=False)
    assert fit_gate(0.5 * SIGN_GATE_DEADBAND, 0.3, 0.1, "sign") == Gate(1.0)
    assert fit_gate(worse.k, worse.sync_mean, worse.sync_std, "one") == Gate()


def test_constant_synchrony_or_loss_fits_a_neutral_gate():
    constant = _record(np.full(30, 0.1), np.linspace(0, 1, 30))
    assert (constant.k, constant.sync_std) == (0.0, 0.0)
    assert fit_gate(constant.k, constant.sync_mean, constant.sync_std, "continuous") == Gate()
    assert SyncLossRecord().k == 0.0


# --- the plug-in ------------------------------------------------------------------------

def _network(weight_norm: bool = False) -> dict[str, torch.nn.Module]:
    torch.manual_seed(0)
    return {"dense0": slayer.block.cuba.Dense(NEURON, 6, 5, weight_norm=weight_norm),
            "dense1": slayer.block.cuba.Dense(NEURON, 5, 3, weight_norm=weight_norm)}


STEP = 2 / 64  # lava-dl's default w_scale is 64: one weight step in float units


def _config(**fields) -> DassdpConfig:
    """Amplitudes of 1.6 and 0.32 weight steps (0.05 and 0.01 in float units)."""
    values = dict(enabled=True, layers=["dense1"], warmup_epochs=1, A_plus=1.6, A_base=0.32,
                  sigma=1.5, gate="continuous") | fields
    return DassdpConfig(**values)


def _unchecked(config: DassdpConfig, **fields) -> DassdpConfig:
    """``config`` with ``fields`` set past the schema's checks (what the plug-in checks again)."""
    for key, value in fields.items():
        object.__setattr__(config, key, value)
    return config


def _batches(count: int, steps: int = 6):
    generator = torch.Generator().manual_seed(3)
    for _ in range(count):
        pre = (torch.rand(4, 5, steps, generator=generator) < 0.3).float()
        post = (torch.rand(4, 3, steps, generator=generator) < 0.3).float()
        yield pre, post, torch.rand(4, generator=generator)


def _effective_weight(block: torch.nn.Module) -> torch.Tensor:
    synapse = block.synapse
    if synapse.weight_norm_enabled:
        return torch._weight_norm(synapse.weight_v, synapse.weight_g, 0).detach().clone()
    return synapse.weight.detach().clone()


def test_warmup_changes_nothing_then_the_rule_adds_dw():
    layers = _network()
    plugin = DASSDP(_config(), layers, epochs=3, frame_steps=6)
    before = _effective_weight(layers["dense1"])
    batches = list(_batches(4))
    for pre, post, loss in batches[:3]:
        plugin.observe("dense1", pre, post)
        plugin.after_step(0, loss)
    assert torch.equal(_effective_weight(layers["dense1"]), before)
    assert plugin.gates is None and plugin.state_dict()["records"]["dense1"]["count"] == 12

    pre, post, loss = batches[3]
    plugin.observe("dense1", pre, post)
    plugin.after_step(1, loss)
    gate = plugin.gates["dense1"]
    t_pre, t_post = first_spike_latency(pre), first_spike_latency(post)
    gates = gate(synchrony(spike_flags(t_pre, 6), spike_flags(t_post, 6))).double()
    expected = _direct_update(t_pre, t_post, gates, 6, 1.5, 1.6 * STEP, 0.32 * STEP)
    change = (_effective_weight(layers["dense1"]) - before).reshape(3, 5).double()
    assert gate.sync_slope != 0.0
    assert expected.abs().max() > 1e-3
    assert torch.allclose(change, expected, atol=1e-6)


@pytest.mark.parametrize("scale, unit, step", [(64, "weight_step", 2 / 64),
                                               (128, "weight_step", 2 / 128), (128, "float", 1.0)])
def test_amplitudes_are_weight_steps_of_each_layer(scale, unit, step):
    torch.manual_seed(0)
    layers = {"dense1": slayer.block.cuba.Dense(NEURON | {"scale": scale}, 5, 3)}
    plugin = DASSDP(_config(amplitude_unit=unit), layers, epochs=3, frame_steps=6)
    assert plugin.amplitudes["dense1"] == pytest.approx((1.6 * step, 0.32 * step))
    assert float_amplitudes(_config(amplitude_unit=unit), 2 / scale) == pytest.approx((1.6 * step, 0.32 * step))


def test_weight_steps_need_a_quantised_layer():
    layers = {"dense1": slayer.synapse.Dense(5, 3)}  # no pre_hook_fx: float weights
    assert DASSDP(_config(amplitude_unit="float"), layers, epochs=3, frame_steps=6).amplitudes
    with pytest.raises(ConfigError, match="layer 'dense1' has no quantised weights"):
        DASSDP(_config(), layers, epochs=3, frame_steps=6)


def test_defaults_are_the_stated_choices():
    config = DassdpConfig()
    assert (config.co_silent, config.amplitude_unit, config.warmup_loss, config.gate_clamp) == \
        ("skip", "weight_step", "batch_mean", True)
    # the reference's 1.5e-3 and 5e-4 at lava-dl's default w_scale of 64
    assert float_amplitudes(config, STEP) == pytest.approx((1.5e-3, 5e-4))


def _synchrony(pre: torch.Tensor, post: torch.Tensor, window: int) -> torch.Tensor:
    """S per sample as the plug-in computes it on the CPU: from the latencies, in numpy's float64."""
    flags = [spike_flags(first_spike_latency(spikes).numpy(), window) for spikes in (pre, post)]
    return torch.as_tensor(synchrony(*flags))


@pytest.mark.parametrize("warmup_loss", ["batch_mean", "per_sample"])
def test_warmup_records_the_configured_loss(warmup_loss):
    plugin = DASSDP(_config(warmup_loss=warmup_loss), _network(), epochs=3, frame_steps=6)
    expected = SyncLossRecord()
    for pre, post, loss in _batches(5):
        plugin.observe("dense1", pre, post)
        plugin.after_step(0, loss)
        sync = _synchrony(pre, post, 6)
        expected.update(sync, loss.mean().repeat(4) if warmup_loss == "batch_mean" else loss)
    assert plugin.state_dict()["records"]["dense1"] == expected.state_dict()
    other = SyncLossRecord()
    for pre, post, loss in _batches(5):
        sync = _synchrony(pre, post, 6)
        other.update(sync, loss if warmup_loss == "batch_mean" else loss.mean().repeat(4))
    assert other.k != pytest.approx(expected.k)  # the choice changes the fitted gate


@pytest.mark.filterwarnings("ignore:torch.nn.utils.weight_norm is deprecated")
def test_weight_norm_layers_get_the_same_update_exactly():
    plain, normed = _network(), _network(weight_norm=True)
    updates = []
    for layers in (plain, normed):
        plugin = DASSDP(_config(warmup_epochs=0, gate="one"), layers, epochs=2, frame_steps=6)
        before = _effective_weight(layers["dense1"])
        pre, post, loss = next(_batches(1))
        plugin.observe("dense1", pre, post)
        plugin.after_step(0, loss)
        updates.append(_effective_weight(layers["dense1"]) - before)
    assert torch.allclose(updates[0], updates[1], atol=1e-6)
    assert updates[0].abs().max() > 0


def test_a_resumed_plugin_continues_the_same_rule():
    batches = list(_batches(5))

    def run(layers, plugin, chunk, first_epoch):
        for step, (pre, post, loss) in enumerate(chunk):
            plugin.observe("dense1", pre, post)
            plugin.after_step(first_epoch + step // 2, loss)

    straight = _network()
    plugin = DASSDP(_config(), straight, epochs=3, frame_steps=6)
    run(straight, plugin, batches, 0)

    resumed = _network()
    first = DASSDP(_config(), resumed, epochs=3, frame_steps=6)
    run(resumed, first, batches[:2], 0)
    state = first.state_dict()
    second = DASSDP(_config(), resumed, epochs=3, frame_steps=6)
    second.load_state_dict(state)
    run(resumed, second, batches[2:], 1)
    assert torch.equal(_effective_weight(straight["dense1"]), _effective_weight(resumed["dense1"]))
    assert second.gates == plugin.gates


def test_only_latencies_are_kept_between_observe_and_after_step():
    plugin = DASSDP(_config(), _network(), epochs=3, frame_steps=6)
    pre, post, _ = next(_batches(1))
    plugin.observe("dense1", pre, post)
    assert plugin.kept_bytes() == 8 * 4 * (5 + 3)  # int64 latency per sample and neuron


def test_misuse_is_reported():
    plugin = DASSDP(_config(), _network(), epochs=3, frame_steps=6)
    pre, post, loss = next(_batches(1))
    with pytest.raises(RuntimeError, match="no observe"):
        plugin.after_step(0, loss)
    with pytest.raises(ValueError, match="expects pre"):
        plugin.observe("dense1", post, pre)
    with pytest.raises(ValueError, match="not plastic"):
        plugin.observe("dense0", pre, post)
    with pytest.raises(ConfigError, match="checkpoint is for layers"):
        plugin.load_state_dict({**plugin.state_dict(), "layers": ["dense0"]})


# --- bad configs ------------------------------------------------------------------------

@pytest.mark.parametrize("config, epochs, match", [
    (_unchecked(_config(), sigma=-1.0), 3,
     r"dassdp.sigma=-1.0 is invalid"),
    (_config(layers=["dense1", "fc9"]), 3,
     r"unknown layer\(s\) \['fc9'\]; available: dense0, dense1"),
    (_config(layers=[]), 3, "no layer chosen; available: dense0, dense1"),
    (_config(warmup_epochs=3), 3, "warmup_epochs=3 leaves no epoch of train.epochs=3"),
    (_config(t_epoch=4), 3, "t_epoch=4 does not divide the frame of 6 steps"),
])
def test_bad_config_is_one_clear_error(config, epochs, match):
    with pytest.raises(ConfigError, match=match) as error:
        DASSDP(config, _network(), epochs=epochs, frame_steps=6)
    assert "\n" not in str(error.value)


def test_conv_layers_are_refused():
    layers = {"conv0": slayer.block.cuba.Conv(NEURON, 2, 4, 3)}
    with pytest.raises(ConfigError, match="'conv0' is a Conv synapse; DA-SSDP adapts dense"):
        DASSDP(_config(layers=["conv0"]), layers, epochs=3, frame_steps=6)


# --- the compiled CPU path against the torch operations (what other devices run) -------

@settings(max_examples=30, deadline=None)
@given(st.integers(1, 4), st.integers(1, 9), st.integers(1, 30), st.integers(0, 2 ** 31 - 1))
def test_compiled_latency_equals_the_torch_scan(batch, neurons, window, seed):
    generator = torch.Generator().manual_seed(seed)
    values = torch.randint(-2, 3, (batch, neurons, window), generator=generator).float() / 2  # graded, negative
    spikes = values * (torch.rand(values.shape, generator=generator) < 0.2)
    for view in (spikes, spikes.transpose(0, 1), spikes[..., None, :].expand(-1, -1, 2, -1)):
        assert torch.equal(first_spike_latency(view), latency_scan(view))  # any strides and rank


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6), st.integers(1, 12), st.integers(1, 12), st.integers(1, 9),
       st.integers(0, 2 ** 31 - 1), st.sampled_from([torch.float32, torch.float64]))
def test_compiled_update_equals_the_gathered_product(batch, cout, cin, window, seed, dtype):
    """Both orientations of the compiled loop (Cin <= Cout and Cin > Cout), both dtypes."""
    generator = torch.Generator().manual_seed(seed)
    t_pre = torch.randint(0, window + 1, (batch, cin), generator=generator)
    t_post = torch.randint(0, window + 1, (batch, cout), generator=generator)
    gate = 2 * torch.rand(batch, generator=generator, dtype=dtype)
    table = plasticity_table(window, 1.3, 0.4, 0.1, dtype=dtype)
    expected = gathered_product(t_pre, t_post, gate, table).div_(batch).clamp_(-1, 1)
    tolerance = 1e-6 if dtype == torch.float32 else 1e-13
    assert torch.allclose(weight_update(t_pre, t_post, gate, table), expected, rtol=0, atol=tolerance)


@pytest.mark.parametrize("gate", [Gate(1.0, 3.0, 0.2), Gate(-1.0, clamp=False), Gate(1.0, 40.0, 0.5)])
def test_one_compiled_call_is_the_step_by_step_update_bit_for_bit(gate):
    generator = torch.Generator().manual_seed(4)
    window = Window(torch.randint(0, 19, (32, 64), generator=generator),
                    torch.randint(0, 19, (32, 128), generator=generator), 18)
    table = plasticity_table(18, 1.0, 0.05, 0.02)
    fused = gated_update(window, gate, table, 32)
    stepwise = gated_update(window, gate, table, 32, reduce=lambda total: total)  # the general path
    assert fused.dtype == torch.float32 and torch.equal(fused, stepwise)
    assert fused.abs().max() > 1e-3
    flags = [spike_flags(latency, 18) for latency in (window.t_pre, window.t_post)]
    assert np.array_equal(window.synchrony, synchrony(*flags).double().numpy())


def test_the_table_has_no_subnormal_entries():
    """Products with subnormal floats take microcode assists; such entries are below any
    weight's resolution and are zero instead (the Gaussian's far tail only)."""
    table = plasticity_table(18, 1.0, 0.003, 0.001)
    exact = plasticity_table(18, 1.0, 0.003, 0.001, dtype=torch.float64)
    tiny = torch.finfo(torch.float32).tiny
    assert not ((table != 0) & (table.abs() < tiny)).any()
    flushed = (table == 0) & (exact != 0)
    assert flushed.any() and exact[flushed].abs().max() < tiny / torch.finfo(torch.float32).eps
    assert torch.allclose(table.double(), exact, rtol=1e-6, atol=1e-31)
