"""Precision checks, each on a crafted network that breaks exactly its limit."""
from __future__ import annotations

import numpy as np
import pytest

from neurodeploy.hardware.precision import check_precision
from neurodeploy.hardware.profile import load_profile
from neurodeploy.netxfile import read_netx
from tests import netx_factory as nf

LOIHI1, LOIHI2 = load_profile("loihi1"), load_profile("loihi2")


def findings_of(tmp_path, layers, profile=LOIHI1):
    return check_precision(read_netx(nf.write_netx(tmp_path / "net.net", layers)), profile)


def only(findings, check):
    assert [f.check for f in findings] == [check], findings
    return findings[0]


def test_slayer_weights_and_parameters_pass(tmp_path):
    layers = [nf.dense_layer(w) for w in nf.digits_weights()]
    assert findings_of(tmp_path, layers) == [] and findings_of(tmp_path, layers, LOIHI2) == []


@pytest.mark.parametrize("weights, value, limit", [
    ([[300, -2], [4, 6]], 300, "-256..254 (mixed)"),
    ([[-258, 2], [4, 6]], -258, "-256..254 (mixed)"),
    ([[256, 2], [4, 6]], 256, "0..255 (excitatory)"),
    ([[-256, -2], [-4, -6]], -256, "-255..0 (inhibitory)"),
])
def test_weight_range_per_sign_mode(tmp_path, weights, value, limit):
    finding = only(findings_of(tmp_path, [nf.dense_layer(np.array(weights))]), "precision.weight_range")
    assert (finding.severity, finding.layer, finding.value, finding.limit) == ("error", "dense0", value, limit)


def test_odd_weights_spanning_the_mixed_range_lose_their_lsb(tmp_path):
    weights = np.array([[201.0, -77.0], [10.0, 4.0]])
    finding = only(findings_of(tmp_path, [nf.dense_layer(weights)]), "precision.weight_quantisation")
    loaded = np.array([[200.0, -78.0], [10.0, 4.0]])  # Lava's truncate_weights: 101 -> 100, -77 -> -78
    expected = np.linalg.norm(weights - loaded) / np.linalg.norm(weights)
    assert (finding.severity, finding.layer, finding.limit) == ("warning", "dense0", 0)
    assert finding.value == pytest.approx(expected, abs=1e-6)


def test_small_odd_weights_are_rescaled_by_netx_without_loss(tmp_path):
    assert findings_of(tmp_path, [nf.dense_layer(np.array([[101.0, -77.0], [3.0, 1.0]]))]) == []


def test_fractional_weights_are_truncated(tmp_path):
    weights = np.array([[1.5, -2.0], [2.75, 4.0]])
    finding = only(findings_of(tmp_path, [nf.dense_layer(weights)]), "precision.weight_quantisation")
    expected = np.linalg.norm(weights - np.trunc(weights)) / np.linalg.norm(weights)
    assert finding.value == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("override, check, value, limit", [
    ({"vThMant": 200_000}, "precision.threshold_range", 200_000, "0..131071"),
    ({"iDecay": 0}, "precision.current_decay_range", 0, "1..4096"),
    ({"iDecay": 5000}, "precision.current_decay_range", 5000, "1..4096"),
    ({"vDecay": 4096}, "precision.voltage_decay_range", 4096, "0..4095"),
])
def test_neuron_parameter_ranges(tmp_path, override, check, value, limit):
    layer = nf.dense_layer(np.array([[2, -2], [4, 6]]), neuron=nf.cuba_neuron(**override))
    finding = only(findings_of(tmp_path, [layer]), check)
    assert (finding.severity, finding.layer, finding.value, finding.limit) == ("error", "dense0", value, limit)


def test_bias_range(tmp_path):
    layer = nf.dense_layer(np.array([[2, -2], [4, 6]]), bias=np.array([5000.0, 3.0]))
    finding = only(findings_of(tmp_path, [layer]), "precision.bias_range")
    assert (finding.value, finding.limit) == (5000, "-4096..4095")


def test_accumulator_headroom(tmp_path):
    weights = np.full((2, 200), 200.0)
    weights[1, 0] = -2.0  # mixed signs; neuron 0 can receive 200 x 200 = 40000 in one step
    layer = nf.dense_layer(weights, neuron=nf.cuba_neuron(iDecay=4096))  # u = 64 x 40000 < 2^23
    finding = only(findings_of(tmp_path, [layer]), "precision.accumulator_headroom")
    assert (finding.severity, finding.value, finding.limit) == ("warning", 40_000, 2 ** 15 - 1)


def test_state_headroom(tmp_path):
    weights = np.full((2, 100), 200.0)
    weights[1, 0] = -2.0  # 20000 per step fits 16 bits
    layer = nf.dense_layer(weights, neuron=nf.cuba_neuron(iDecay=512))
    finding = only(findings_of(tmp_path, [layer]), "precision.state_headroom")
    assert (finding.severity, finding.value, finding.limit) == ("warning", 20_000 * 64 * 4096 // 512, 2 ** 23 - 1)


def test_graded_payload_bits(tmp_path):
    layer = nf.dense_layer(np.array([[2, -2], [4, 6]]), neuron={"type": "SDNN", "vThMant": 6, "messageBits": 30})
    finding = only(findings_of(tmp_path, [layer], LOIHI2), "precision.graded_spike_bits")
    assert (finding.layer, finding.value, finding.limit) == ("dense0", 30, 24)


def test_headroom_is_not_judged_behind_graded_inputs(tmp_path):
    graded = nf.dense_layer(np.full((200, 2), 2.0), neuron={"type": "SDNN", "vThMant": 6})
    weights = np.full((2, 200), 200.0)
    weights[1, 0] = -2.0  # behind binary inputs this warns (test_accumulator_headroom)
    layers = [graded, nf.dense_layer(weights, neuron=nf.cuba_neuron(iDecay=4096))]
    assert findings_of(tmp_path, layers, LOIHI2) == []
