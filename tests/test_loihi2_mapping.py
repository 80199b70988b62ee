"""The Loihi 2 core map against the per-core tables Intel's compiler printed.

lava-dl's tutorial notebooks keep the tables the Loihi 2 compiler printed when the
networks ran on a board (``Loihi2HwCfg``); ``benchmarks/loihi2_compiler_tables.py`` copies
them (cores per layer, input first) and writes the networks lava-dl does not install with
h5py (PilotNet SNN is its own ``gts/pilotnet_lif/network.net``):

- PilotNet SNN: 74 cores (input 13, convs 25/13/3/3/2, dense 12/1/1/1), tiles
  ``Conv(16, 66, 3)`` ... ``Conv(16, 2, 64)``, ``SynMem allocation=61440`` then ``12800``;
- PilotNet SDNN (input layer skipped): 61 cores, ``allocation=66560``;
- MNIST 784-128-64-10: 5 cores (3/1/1); Oxford 200-256-200: 5 cores (3/2);
- YOLO-KP (ten convs on 448 x 448 x 3): 574 cores.

The target: every layer within 25 % (or one core) of the compiler, every network's total
within 10 %. Oxford's total misses it (4 against 5): a strict xfail that says so.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from benchmarks.loihi2_calibration import gts_folder
from benchmarks.loihi2_compiler_tables import COMPILER, COMPILER_TILES, build, like, within
from neurodeploy.app.cli import main
from neurodeploy.hardware.compiler_map import dense_units, weight_bits
from neurodeploy.hardware.profile import load_profile
from neurodeploy.hardware.resources import map_cores
from neurodeploy.core.netxfile import read_netx

LOIHI2 = load_profile("loihi2")


def network(name, folder):
    path, shape = build(name, folder)
    return read_netx(path, input_shape=shape)


@pytest.fixture(scope="module")
def mapped(tmp_path_factory):
    """Each network's Loihi 2 core map, built once for the module."""
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = map_cores(network(name, tmp_path_factory.mktemp(name)), LOIHI2)
        return cache[name]
    return get


def _names(names) -> list:
    """pilotnet_snn is lava-dl's installed file: the Lava leg only."""
    return [pytest.param(name, marks=pytest.mark.lava) if name == "pilotnet_snn" else name for name in sorted(names)]


@pytest.mark.parametrize("name", _names(COMPILER))
def test_every_layer_within_a_quarter_of_the_compiler(mapped, name):
    cores = [layer.cores for layer in mapped(name).layers]
    assert len(cores) == len(COMPILER[name])
    assert all(within(ours, theirs) for ours, theirs in zip(cores, COMPILER[name])), (cores, COMPILER[name])


@pytest.mark.parametrize("name", _names(set(COMPILER) - {"oxford"}))
def test_network_total_within_a_tenth_of_the_compiler(mapped, name):
    total = mapped(name).cores
    assert abs(total - sum(COMPILER[name])) <= 0.1 * sum(COMPILER[name]), (total, sum(COMPILER[name]))


@pytest.mark.xfail(strict=True, reason="Oxford: 4 cores against the compiler's 5 (hidden layer 2 vs 3): "
                                       "its SynMem allocation on two cores, 8,200 units, is under the "
                                       "12,000 register; docs/mapping.md")
def test_oxford_total_within_a_tenth_of_the_compiler(mapped):
    total = mapped("oxford").cores
    assert abs(total - sum(COMPILER["oxford"])) <= 0.1 * sum(COMPILER["oxford"])


@pytest.mark.lava
def test_pilotnet_snn_tiles_and_synapse_memory_as_printed():
    """The compiler's tiles, its SynMem allocations for the dense layers (the one-core
    61,440 and the six-core 12,800 it printed before settling on 12 cores) and the
    synapse rows it printed for the last two convs and the dense layers."""
    core_map = map_cores(read_netx(gts_folder() / "network.net"), LOIHI2)
    layers = {layer.name: layer for layer in core_map.layers}
    assert [layer.tile for layer in core_map.layers[:6]] == COMPILER_TILES["pilotnet_snn"]
    compiler = LOIHI2.compiler
    assert dense_units(2560, 100, 4, compiler) == 61440 and dense_units(2560, 17, 4, compiler) == 12800
    assert [layers[name].usage["synapses"] for name in ("conv4", "conv5", "dense8", "dense9", "dense10")] == \
        [2160, 2880, 1300, 150, 10]
    assert layers["dense7"].binding == "SynMem register" and layers["input0"].usage["synapses"] == 0


#: (input axons, neurons on the core, weight extremes, units the compiler printed)
PRINTED_DENSE = [(2560, 100, (-6, 6), 61440), (2560, 17, (-6, 6), 12800),           # SNN SynMem violations
                 (100, 50, (-14, 10), 1300), (50, 10, (-24, 20), 150), (10, 1, (-24, 42), 10),  # SNN rows
                 (2560, 100, (-10, 12), 66560), (2560, 17, (-10, 12), 12800),       # SDNN violations
                 (100, 50, (-36, 14), 1500), (50, 10, (-12, 16), 150), (10, 1, (-12, 10), 10),  # SDNN rows
                 (256, 200, (-98, 124), 16128), (200, 256, (-178, 192), 16200),     # Oxford violations
                 (200, 254, (-178, 192), 16000),
                 (784, 50, (-98, 130), 12544), (128, 64, (-166, 254), 2688), (64, 10, (-88, 254), 256)]  # MNIST


@pytest.mark.parametrize("axons, neurons, extremes, printed", PRINTED_DENSE)
def test_dense_synapse_memory_as_printed(axons, neurons, extremes, printed):
    """Every dense allocation the tables print (MNIST's as shares of 16,000: 78.40 %,
    16.80 %, 1.60 %; its busiest core holds 50 neurons, 1.22 % of 4,095)."""
    bits = weight_bits(like((neurons, axons), extremes), LOIHI2.precision.weight_bits.value)
    assert dense_units(axons, neurons, bits, LOIHI2.compiler) == printed


def test_pilotnet_sdnn_synapse_memory_as_printed(tmp_path):
    """SDNN's dense 100 on one core: 66,560 units (printed), its dense 50: 1,500."""
    core_map = map_cores(network("pilotnet_sdnn", tmp_path), LOIHI2)
    dense7 = core_map.layers[5]
    assert dense_units(2560, 100, weight_bits(like((100, 2560), (-10, 12)), 8), LOIHI2.compiler) == 66560
    assert dense7.cores == 12 and core_map.layers[6].usage["synapses"] == 1500


def test_mnist_shares_as_printed(mapped):
    """MNIST's table gives shares: AxonIn 4.90 / 0.80 / 0.40 %, Synapses 16.80 and 1.60 %
    for the two one-core layers, Neurons 1.56 and 0.24 %."""
    core_map = mapped("mnist")
    shares = [{key: round(100 * value, 2) for key, value in layer.utilisation.items()} for layer in core_map.layers]
    assert [share["axon_in"] for share in shares] == [4.9, 0.8, 0.4]
    assert [share["synapses"] for share in shares[1:]] == [16.8, 1.6]
    assert [share["neurons"] for share in shares[1:]] == [1.56, 0.24]


def test_weight_bits_follow_netx():
    """netx's optimize_weight_bits plus a sign bit for mixed signs (lava-dl netx/utils.py):
    -6..6 in steps of 2 takes 3 bits there, 4 here; all-positive weights take no sign bit."""
    assert weight_bits(np.array([-6.0, -2.0, 0.0, 2.0, 6.0]), 8) == 4
    assert weight_bits(np.array([-98.0, 130.0, 2.0]), 8) == 8
    assert weight_bits(np.array([0.0, 2.0, 254.0]), 8) == 7
    assert weight_bits(np.zeros(4), 8) == 1


def test_validate_prints_the_compiler_table(tmp_path, capsys):
    net, _ = build("mnist", tmp_path)
    try:
        main(["validate", str(net), "--hw", "loihi2"])
        code = 0
    except SystemExit as stop:
        code = stop.code
    out = capsys.readouterr().out
    assert code == 0 and "Per core utilization" in out
    assert all(header in out for header in ("AxonIn", "NeuronGr", "Neurons", "Synapses", "AxonMap", "AxonMem", "Total"))
    assert "4.90%" in out and "Total: 5 cores" in out
    try:
        main(["validate", str(net), "--hw", "loihi2", "--json"])
    except SystemExit:
        pass
    mapping = json.loads(capsys.readouterr().out)["mapping"]
    assert mapping["accounting"] == "loihi2-compiler" and mapping["limits"]["synapses"] == 16000
    first = mapping["layers"][0]
    assert first["cores"] == 3 and first["utilisation"]["axon_in"] == 0.049
    assert set(first["usage"]) == {"axon_in", "neuron_groups", "neurons", "synapses", "axon_map", "axon_mem"}
    assert math.isclose(first["utilisation"]["total"], sum(first["usage"][key] for key in first["usage"]
                                                           if key != "neuron_groups") / 20000, abs_tol=1e-4)


@pytest.mark.lava
def test_shipped_pilotnet_file_is_the_benchmarked_one():
    """The installed gts file has the layer shapes of the benchmark's printout."""
    network = read_netx(Path(gts_folder()) / "network.net")
    assert [layer.shape for layer in network.layers if layer.n_neurons][:6] == \
        [(200, 66, 3), (99, 32, 24), (49, 15, 36), (24, 7, 48), (22, 4, 64), (20, 2, 64)]


@pytest.mark.parametrize("seed", range(300))
def test_weight_bits_equal_netx_bits_plus_sign(seed):
    """Against netx's own arithmetic (neurodeploy.core.loaded_weights.netx_optimised, checked
    equal to lava-dl's in test_loaded_weights) on random layers: integer and fractional,
    one sign or both, inside and far outside netx's -256..254 (clipped first there),
    multiples of 2**k, magnitudes beyond int64."""
    from neurodeploy.core.loaded_weights import WeightsNotLoadable, netx_optimised

    rng = np.random.default_rng(seed)
    scale = float(rng.choice([4, 200, 300, 1000, 1 << 18, 2.0 ** 70]))
    low = -scale if rng.random() < 0.7 else float(rng.choice([0, 3]))
    high = scale if rng.random() < 0.8 else float(rng.choice([0, -5]))
    weight = rng.uniform(min(low, high), max(low, high), size=int(rng.integers(1, 60)))
    weight = weight if seed % 5 == 0 else np.trunc(weight / 2 ** (seed % 4)) * 2 ** (seed % 4)
    weight = weight.astype(np.float32 if seed % 3 else np.float64)
    try:
        _, bits, _ = netx_optimised(weight)
    except WeightsNotLoadable:  # all zero, or a largest weight of -0.0: netx builds no such layer
        return
    signed = int(weight.max() >= 0 > weight.min())
    assert weight_bits(weight, 8) == max(1, min(bits + signed, 8)), weight
