"""The Loihi 2 core map against the per-core tables Intel's compiler printed.

lava-dl's tutorial notebooks keep, in their saved outputs, the tables the Loihi 2
compiler printed when the networks ran on a board (``Loihi2HwCfg``); the tables list the
output layer first, here they are input first:

- ``netx/pilotnet_snn/benchmark.ipynb``: 74 cores (input 13, convs 25/13/3/3/2, dense 12/1/1/1),
  tiles ``Conv(16, 66, 3)`` ... ``Conv(16, 2, 64)``, and ``Violation ... SynMem
  allocation=61440 ... registers=12000`` then ``allocation=12800``;
- ``netx/pilotnet_sdnn/benchmark.ipynb`` (input layer skipped): 61 cores, ``allocation=66560``;
- ``netx/mnist/run.ipynb`` (784-128-64-10): 5 cores (3/1/1);
- ``netx/oxford/run.ipynb`` (200-256-200): 5 cores (3/2);
- ``netx/yolo_kp/run.ipynb`` (10 convs on a 448 x 448 x 3 input): 574 cores.

The target: every layer within 25 % (or one core) of the compiler, every network's total
within 10 %. PilotNet SNN is lava-dl's own file (installed with its wheel as
``gts/pilotnet_lif``); the others are not installed, so they are rebuilt here with h5py:
the same layer shapes and weights with the same extremes and granularity, hence the same
weight bits netx gives them (the only thing of the weights the accounting reads). YOLO-KP's
trained weights are not public in the repository (a Git LFS pointer): its weights here are
8-bit, and its core counts come out the same for 4- to 8-bit weights.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from benchmarks.loihi2_calibration import gts_folder
from benchmarks.validate_pilotnet import build_yolo_kp
from neurodeploy.cli import main
from neurodeploy.hardware.compiler_map import dense_units, weight_bits
from neurodeploy.hardware.profile import load_profile
from neurodeploy.hardware.resources import map_cores
from neurodeploy.netxfile import read_netx
from tests import netx_factory as nf

LOIHI2 = load_profile("loihi2")
#: Cores per layer, input first, as the compiler printed them.
COMPILER = {"pilotnet_snn": [13, 25, 13, 3, 3, 2, 12, 1, 1, 1],
            "pilotnet_sdnn": [25, 13, 3, 3, 2, 12, 1, 1, 1],
            "mnist": [3, 1, 1],
            "oxford": [3, 2],
            "yolo_kp": [224, 112, 56, 28, 56, 16, 32, 14, 32, 4]}
SDNN = {"type": "SDNN", "activation": "relu", "vThMant": 6}
#: PilotNet SDNN (lava-dl tutorial network.net): per conv (c_in, c_out, output CHW, stride
#: (y, x), padding (y, x), weight extremes) and per dense (fan-in, width, extremes).
SDNN_CONVS = ((3, 24, (24, 32, 99), (2, 2), (0, 0), (-30, 34)), (24, 36, (36, 15, 49), (2, 2), (0, 0), (-22, 20)),
              (36, 48, (48, 7, 24), (2, 2), (0, 0), (-16, 14)), (48, 64, (64, 4, 22), (2, 1), (1, 0), (-14, 16)),
              (64, 64, (64, 2, 20), (1, 1), (0, 0), (-14, 10)))
SDNN_DENSE = ((2560, 100, (-10, 12)), (100, 50, (-36, 14)), (50, 10, (-12, 16)), (10, 1, (-12, 10)))
MNIST_DENSE = ((784, 128, (-98, 130)), (128, 64, (-166, 254)), (64, 10, (-88, 254)))
OXFORD_DENSE = ((200, 256, (-178, 192)), (256, 200, (-98, 124)))


def like(shape, extremes):
    """Weights of ``shape`` with the given extremes, even like slayer's exports."""
    low, high = extremes
    return np.resize(np.array([low, high, 2, -2, 0], dtype=np.float32), shape)


def dense_stack(path, spec, neuron=None):
    layers = [nf.dense_layer(like((width, fan_in), extremes), neuron=neuron) for fan_in, width, extremes in spec]
    return read_netx(nf.write_netx(path, layers))


def pilotnet_sdnn(path):
    layers = []
    for c_in, c_out, output, stride, padding, extremes in SDNN_CONVS:
        layer = nf.conv_layer(like((c_out, c_in, 3, 3), extremes), output, neuron=SDNN)
        layer.update(stride=np.array(stride), padding=np.array(padding))
        layers.append(layer)
    layers.append({"type": "flatten", "shape": np.array([2560])})
    layers += [nf.dense_layer(like((width, fan_in), extremes), neuron=SDNN) for fan_in, width, extremes in SDNN_DENSE]
    return read_netx(nf.write_netx(path, layers), input_shape=(200, 66, 3))


def network(name, tmp_path):
    if name == "pilotnet_snn":
        return read_netx(gts_folder() / "network.net")
    if name == "pilotnet_sdnn":
        return pilotnet_sdnn(tmp_path / "sdnn.net")
    if name == "yolo_kp":
        return read_netx(build_yolo_kp(tmp_path / "yolo_kp.net"))
    spec = {"mnist": MNIST_DENSE, "oxford": OXFORD_DENSE}[name]
    return dense_stack(tmp_path / f"{name}.net", spec)


def within(ours, theirs):
    """The target for a layer: within 25 % of the compiler's count, or one core."""
    return abs(ours - theirs) <= max(1, 0.25 * theirs)


@pytest.fixture(scope="module")
def mapped(tmp_path_factory):
    """Each network's Loihi 2 core map, built once for the module."""
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = map_cores(network(name, tmp_path_factory.mktemp(name)), LOIHI2)
        return cache[name]
    return get


@pytest.mark.parametrize("name", sorted(COMPILER))
def test_every_layer_within_a_quarter_of_the_compiler(mapped, name):
    cores = [layer.cores for layer in mapped(name).layers]
    assert len(cores) == len(COMPILER[name])
    assert all(within(ours, theirs) for ours, theirs in zip(cores, COMPILER[name])), (cores, COMPILER[name])


@pytest.mark.parametrize("name", sorted(set(COMPILER) - {"oxford"}))
def test_network_total_within_a_tenth_of_the_compiler(mapped, name):
    total = mapped(name).cores
    assert abs(total - sum(COMPILER[name])) <= 0.1 * sum(COMPILER[name]), (total, sum(COMPILER[name]))


@pytest.mark.xfail(strict=True, reason="Oxford: 4 cores against the compiler's 5 (hidden layer 2 vs 3): "
                                       "its SynMem allocation on two cores, 8,200 units, is under the "
                                       "12,000 register; docs/mapping.md")
def test_oxford_total_within_a_tenth_of_the_compiler(mapped):
    total = mapped("oxford").cores
    assert abs(total - sum(COMPILER["oxford"])) <= 0.1 * sum(COMPILER["oxford"])


def test_pilotnet_snn_tiles_and_synapse_memory_as_printed():
    """The compiler's tiles, its SynMem allocations for the dense layers (the one-core
    61,440 and the six-core 12,800 it printed before settling on 12 cores) and the
    synapse rows it printed for the last two convs and the dense layers."""
    core_map = map_cores(read_netx(gts_folder() / "network.net"), LOIHI2)
    layers = {layer.name: layer for layer in core_map.layers}
    assert [layers[name].tile for name in ("input0", "conv1", "conv2", "conv3", "conv4", "conv5")] == \
        [(16, 66, 3), (4, 32, 24), (4, 15, 36), (8, 7, 48), (8, 4, 64), (16, 2, 64)]
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
    core_map = map_cores(pilotnet_sdnn(tmp_path / "sdnn.net"), LOIHI2)
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
    net = nf.write_netx(tmp_path / "mnist.net", [nf.dense_layer(like((w, f), e)) for f, w, e in MNIST_DENSE])
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


def test_shipped_pilotnet_file_is_the_benchmarked_one():
    """The installed gts file has the layer shapes of the benchmark's printout."""
    network = read_netx(Path(gts_folder()) / "network.net")
    assert [layer.shape for layer in network.layers if layer.n_neurons][:6] == \
        [(200, 66, 3), (99, 32, 24), (49, 15, 36), (24, 7, 48), (22, 4, 64), (20, 2, 64)]
