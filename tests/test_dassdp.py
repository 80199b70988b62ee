"""DA-SSDP in torch: the rule's pieces on hand-made spike trains, the gate fit, the plug-in."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from neurodeploy.config import DassdpConfig
from neurodeploy.errors import ConfigError
from neurodeploy.lavadl import slayer
from neurodeploy.learning.dassdp import (DASSDP, Gate, SIGN_GATE_DEADBAND, SyncLossRecord,
                                         first_spike_latency, fit_gate, gaussian,
                                         latency_difference, plasticity_table,
                                         potentiation_depression, spike_flags, synchrony,
                                         weight_update)

NEURON = dict(threshold=1.25, current_decay=0.25, voltage_decay=0.03, tau_grad=0.03,
              scale_grad=3.0, requires_grad=False)


def _spikes(rows: list[list[int]]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float32)[None]


def _direct_update(t_pre, t_post, gate, window, sigma, a_plus, a_base):
    """The spec's definition, pair by pair, to check the factorised weight_update against."""
    pre, post = spike_flags(t_pre, window), spike_flags(t_post, window)
    sync = post[:, :, None] * pre[:, None, :]
    kernel = gaussian(latency_difference(t_post, t_pre).double(), sigma)
    pd = potentiation_depression(sync.double(), kernel, a_plus, a_base)
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


def test_plasticity_table_treats_latency_window_as_silent():
    table = plasticity_table(4, sigma=1.0, a_plus=1.0, a_base=0.5, dtype=torch.float64)
    assert table[1, 1] == pytest.approx(1.0)  # both fire together
    assert table[0, 2] == pytest.approx(math.exp(-2.0))
    assert table[4, 3] == pytest.approx(-0.5 * math.exp(-0.5))  # post silent at t = window
    assert table[4, 4] == pytest.approx(-0.5)  # both silent: baseline depression, G = 1


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 5), st.integers(1, 4), st.integers(1, 6), st.integers(1, 9),
       st.integers(0, 2 ** 31 - 1))
def test_weight_update_equals_the_pairwise_definition(batch, cout, cin, window, seed):
    generator = torch.Generator().manual_seed(seed)
    t_pre = torch.randint(0, window + 1, (batch, cin), generator=generator)
    t_post = torch.randint(0, window + 1, (batch, cout), generator=generator)
    gate = 2 * torch.rand(batch, generator=generator, dtype=torch.float64)
    table = plasticity_table(window, 1.3, 0.4, 0.1, dtype=torch.float64)
    expected = _direct_update(t_pre, t_post, gate, window, 1.3, 0.4, 0.1)
    assert torch.allclose(weight_update(t_pre, t_post, gate, table), expected, atol=1e-12)


def test_weight_update_is_clamped_to_one():
    table = plasticity_table(3, 10.0, a_plus=10.0, a_base=10.0)
    latency = torch.tensor([[0, 3]])
    delta = weight_update(latency, latency, torch.ones(1), table)
    assert delta.tolist() == [[1.0, -1.0], [-1.0, -1.0]]


def test_gate_is_clamped_to_zero_and_two():
    gate = Gate(dopamine=1.0, sync_slope=100.0, sync_mean=0.5)
    assert gate(torch.tensor([0.0, 0.5, 1.0])).tolist() == [0.0, 1.0, 2.0]
    assert Gate(dopamine=-1.0)(torch.tensor([0.3])).tolist() == [-1.0]


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


def _config(**fields) -> DassdpConfig:
    values = dict(enabled=True, layers=["dense1"], warmup_epochs=1, A_plus=0.05, A_base=0.01,
                  sigma=1.5, gate="continuous") | fields
    return DassdpConfig(**values)


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
    expected = _direct_update(t_pre, t_post, gates, 6, 1.5, 0.05, 0.01)
    change = (_effective_weight(layers["dense1"]) - before).reshape(3, 5).double()
    assert gate.sync_slope != 0.0
    assert torch.allclose(change, expected, atol=1e-6)


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
    (DassdpConfig.model_construct(**{**_config().model_dump(), "sigma": -1.0}), 3,
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
