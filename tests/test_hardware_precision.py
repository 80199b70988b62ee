"""Precision checks, each on a crafted network that breaks exactly its limit, and the
weights they judge tied to what netx and Lava load (core/loaded_weights; Lava's Dense)."""
from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest

from neurodeploy.core.loaded_weights import lava_dense_weights, netx_optimised
from neurodeploy.hardware.precision import as_loaded, check_precision
from neurodeploy.hardware.profile import load_profile
from neurodeploy.core.netxfile import read_netx
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


@pytest.mark.parametrize("weights", [[[12, -9, 142]], [[201, -77], [10, 4]]])
def test_odd_mixed_weights_filling_the_range_load_unchanged(tmp_path, weights):
    """netx gives such a matrix 9 weight bits and exponent 0, so Lava's truncate_weights
    drops 8 - 9 + 1 = 0 bits (the profile rule before this said the LSB was lost)."""
    weights = np.array(weights, dtype=float)
    path = nf.write_netx(tmp_path / "net.net", [nf.dense_layer(weights)])
    assert netx_optimised(weights.astype(int))[1:] == (9, 0)
    np.testing.assert_array_equal(as_loaded(read_netx(path).layers[0]), weights)
    assert check_precision(read_netx(path), LOIHI1) == [] == check_precision(read_netx(path), LOIHI2)


def _quantisation(tmp_path, layer, loaded):
    """The one finding on ``layer``, whose weights load as ``loaded`` (worked out by hand)."""
    network = read_netx(nf.write_netx(tmp_path / "net.net", [layer]))
    stored = np.hstack([layer["weight"]] + ([layer["weight_rec"]] if "weight_rec" in layer else []))
    np.testing.assert_array_equal(as_loaded(network.layers[0]), loaded)
    finding = only(check_precision(network, LOIHI2), "precision.weight_quantisation")
    expected = np.linalg.norm(stored - loaded) / np.linalg.norm(stored)
    silent = not np.any(loaded)  # a layer whose every weight loads as 0 never fires: an error
    assert (finding.severity, finding.layer, finding.limit) == ("error" if silent else "warning",
                                                                network.layers[0].name, 0)
    assert finding.fix.startswith("Every weight loads as 0") == silent
    assert finding.value == pytest.approx(expected, abs=1e-6)
    return finding


def test_all_negative_extreme_at_a_power_of_two_loses_a_step(tmp_path):
    """netx scales -128 by 2 to -256 (7 bits, exponent -1); Lava's inhibitory clip holds
    -255, truncated to -254: -127 in the file's scale."""
    loaded = np.array([[-127, -3, -7], [-64, -5, -1]])
    _quantisation(tmp_path, nf.dense_layer(np.array([[-128, -3, -7], [-64, -5, -1]])), loaded)


def test_non_positive_weights_with_a_zero_load_as_zero(tmp_path):
    """netx calls a matrix with largest weight 0 mixed (9 bits), Lava inhibitory: its
    truncate_weights shifts by 8 - 9 + 0 = -1 bits, which numpy makes 0."""
    finding = _quantisation(tmp_path, nf.dense_layer(np.array([[-3, 0, -5], [-200, -17, -1]])), np.zeros((2, 3)))
    assert finding.value == 1.0 and finding.severity == "error"


def test_one_signed_recurrent_part_of_a_mixed_matrix_loads_as_zero(tmp_path):
    """netx optimises weight and weight_rec together (mixed: 9 bits, exponent 0); the
    recurrent Dense block is excitatory in Lava, and drops 8 - 9 = -1 bits: all 0."""
    layer = nf.dense_layer(np.array([[200, -90], [5, 7], [1, 2]]),
                           weight_rec=np.array([[1, 3, 2], [2, 4, 1], [1, 1, 1]]))
    loaded = np.hstack([layer["weight"], np.zeros((3, 3))])
    _quantisation(tmp_path, layer, loaded)


def test_weights_netx_cannot_scale_are_an_error(tmp_path):
    """netx's optimize_weight_bits divides by the largest weight; the reading rules refuse
    all-zero weights for the layers neurodeploy runs, not for dense_comp (netx's complex dense)."""
    layer = {**nf.dense_layer(np.zeros((2, 3))), "type": "dense_comp",
             "weight": {"real": np.zeros((2, 3), np.float32), "imag": np.ones((2, 3), np.float32)},
             "neuron": {"type": "RF", "vThMant": 5, "sinDecay": 10, "cosDecay": 10}}
    finding = only(findings_of(tmp_path, [layer], LOIHI2), "precision.weight_scale")
    assert (finding.severity, finding.layer, finding.value) == ("error", "dense_comp0", 0)


def test_small_odd_weights_are_rescaled_by_netx_without_loss(tmp_path):
    assert findings_of(tmp_path, [nf.dense_layer(np.array([[101.0, -77.0], [3.0, 1.0]]))]) == []


def test_fractional_weights_are_truncated(tmp_path):
    weights = np.array([[1.5, -2.0], [2.75, 4.0]])
    finding = only(findings_of(tmp_path, [nf.dense_layer(weights)]), "precision.weight_quantisation")
    expected = np.linalg.norm(weights - np.trunc(weights)) / np.linalg.norm(weights)
    assert finding.value == pytest.approx(expected, abs=1e-6)
    assert "astype(int)" in finding.fix


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


# --- precision's loaded weights are netx's and Lava's ---------------------------------------

VALUES = (-600, -300, -256, -255, -129, -128, -64, -3, -1, 0, 1, 2, 7, 127, 128, 254, 255, 256, 700)


def _random_layer(rng: np.random.Generator, outputs: int, inputs: int) -> dict:
    """A dense or dense_rec layer (some with delays) of any sign mode, scale and trailing
    zero bits, integer or not, inside the weight ranges or outside; never all zero."""
    while True:
        low, high = sorted(int(v) for v in rng.choice(VALUES if rng.random() < 0.3 else VALUES[2:-2], size=2))
        parts = [rng.integers(low, high + 1, size=shape) * 2 ** int(rng.choice([0, 0, 0, 1, 2, 3]))
                 for shape in ((outputs, inputs), (outputs, outputs))]
        sign = rng.integers(3)  # as drawn, all <= 0, all >= 0
        parts = [part if sign == 0 else -np.abs(part) if sign == 1 else np.abs(part) for part in parts]
        if rng.random() < 0.3:  # fractions, which netx truncates
            parts = [part + np.round(rng.uniform(-0.99, 0.99, size=part.shape), 2) for part in parts]
        recurrent = rng.random() < 0.35
        if np.trunc(parts[0]).any() or (recurrent and np.trunc(parts[1]).any()):
            break
    delayed = rng.random() < 0.25 and (not recurrent or inputs == outputs)  # netx delays weight_rec alike
    delay = rng.integers(0, 4, size=outputs) if delayed else None
    return nf.dense_layer(parts[0], weight_rec=parts[1] if recurrent else None, delay=delay)


def _random_network(tmp_path, seed: int, count: int):
    rng = np.random.default_rng(seed)
    sizes = [int(n) for n in rng.integers(1, 9, size=count + 1)]
    layers = [_random_layer(rng, sizes[i + 1], sizes[i]) for i in range(count)]
    return read_netx(nf.write_netx(tmp_path / f"random{seed}.net", layers))


def _expected(layer) -> np.ndarray:
    """netx_optimised over weight and weight_rec together, lava_dense_weights per Dense
    block, times 2**exponent (netx builds a delayed RecurrentDense without it)."""
    parts = [layer.weight.astype(int)] + ([layer.weight_rec.astype(int)] if layer.weight_rec is not None else [])
    optimised, bits, exponent = netx_optimised(np.hstack(parts))
    split = np.cumsum([part.shape[1] for part in parts])[:-1]
    held = np.hstack([lava_dense_weights(block, bits) for block in np.split(optimised, split, axis=1)])
    return held * 2.0 ** (0 if layer.weight_rec is not None and layer.delay is not None else exponent)


def test_loaded_weights_are_netx_optimised_then_lava_dense(tmp_path):
    """400 random matrices: what precision judges is what core/loaded_weights says netx and
    Lava load, and precision notes a loss exactly where they change an in-range weight."""
    compared = changed = 0
    for seed in range(10):
        network = _random_network(tmp_path, seed, 40)
        findings = {(f.layer, f.check) for f in check_precision(network, LOIHI2)}
        for layer in network.layers:
            expected = _expected(layer)
            np.testing.assert_array_equal(as_loaded(layer), expected, err_msg=f"seed {seed} {layer.name}")
            stored = np.hstack([layer.weight] + ([layer.weight_rec] if layer.weight_rec is not None else []))
            breached = (layer.name, "precision.weight_range") in findings
            lost = not breached and not np.array_equal(stored, expected)
            assert ((layer.name, "precision.weight_quantisation") in findings) == lost, (seed, layer.name)
            compared, changed = compared + 1, changed + lost
    assert compared == 400 and 0 < changed < compared


@pytest.mark.lava
@pytest.mark.timeout(120)
@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")  # netx on a largest weight of 0
def test_loaded_weights_are_what_lavas_dense_blocks_hold(tmp_path):
    """netx builds the file and Lava runs one step; each Dense block then holds its clipped,
    truncated weights, scaled by its weight_exp: equal to precision's, random layers and
    the cases above included."""
    from lava.lib.dl import netx
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg

    rng = np.random.default_rng(11)
    crafted = [nf.dense_layer(np.array([[12, -9], [142, 3], [200, -90]])),
               nf.dense_layer(np.array([[-128, -3, -7], [-64, -5, -1]])),
               nf.dense_layer(np.array([[-3, 0], [-200, -17], [-5, -1]]), delay=np.array([1, 0, 2])),
               nf.dense_layer(np.array([[200, -90, 1], [5, 7, 2]]), weight_rec=np.array([[1, 3], [2, 4]])),
               nf.dense_layer(np.array([[-20, 0], [-7, -64]]), weight_rec=np.array([[-1, 0], [-3, -2]]),
                              delay=np.array([1, 2]))]
    sizes = [2] + [int(n) for n in rng.integers(1, 7, size=10)]
    layers = crafted + [_random_layer(rng, sizes[i + 1], sizes[i]) for i in range(10)]
    path = nf.write_netx(tmp_path / "net.net", layers)
    with contextlib.redirect_stdout(io.StringIO()):  # netx prints on stdout
        network = netx.hdf5.Network(net_config=str(path))
    try:
        network.run(condition=RunSteps(num_steps=1), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        held = []
        for block in network.layers:
            synapses = [block.synapse] + ([block.synapse_rec] if hasattr(block, "synapse_rec") else [])
            held.append(np.hstack([synapse.weights.get() * 2.0 ** synapse.proc_params.get("weight_exp", 0)
                                   for synapse in synapses]))
    finally:
        network.stop()
    ours = [as_loaded(layer) for layer in read_netx(path).layers]
    assert len(held) == len(ours) == 15
    for index, (theirs, mine) in enumerate(zip(held, ours)):
        np.testing.assert_array_equal(mine, theirs, err_msg=f"layer {index}")
