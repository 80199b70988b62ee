"""The tiling mapper against hand counts (docs/mapping.md), networks no core or system can
hold, and ``validate --map/--plot``.

Loihi 1's accounting throughout: a synapse costs 8 bits; an input axon's synapses are
stored in groups of 64, each ``8 n + 10`` bits rounded up to 64-bit words, so
bits(n) = 64 for n <= 6, 128 for n <= 14, 192 for n <= 22, 576 for n = 64.
Networks are written with h5py (slayer's layout: shapes CHW, stride and padding (y, x)).
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import yaml

from benchmarks.validate_pilotnet import build as build_pilotnet
from neurodeploy.app.cli import main
from neurodeploy.hardware.profile import load_profile, profiles_dir
from neurodeploy.hardware.resources import check_resources, map_cores
from neurodeploy.core.netxfile import read_netx
from tests import netx_factory as nf

LOIHI1, LOIHI2 = load_profile("loihi1"), load_profile("loihi2")
RNG = np.random.default_rng(0)


def weights(*shape):
    """Even int8-range weights, as slayer exports them."""
    return 2 * RNG.integers(-60, 61, size=shape)


def conv(c_in, c_out, output_chw, stride=(1, 1), padding=(0, 0), kernel=3):
    """A conv layer; ``stride`` and ``padding`` in the file's (y, x) order."""
    layer = nf.conv_layer(weights(c_out, c_in, kernel, kernel), output_chw)
    layer.update(stride=np.array(stride), padding=np.array(padding))
    return layer


def input_layer(chw, neurons=True):
    """netx's Input block (with a neuron group) or a shape-only input."""
    return {"type": "input", "shape": np.array(chw), **({"neuron": nf.cuba_neuron()} if neurons else {})}


def dense(n_in, n_out):
    return nf.dense_layer(weights(n_out, n_in))


def mapped(tmp_path, layers, profile=LOIHI1, name="net.net"):
    return map_cores(read_netx(nf.write_netx(tmp_path / name, layers)), profile)


def edited(tmp_path, base, **resources):
    """A copy of profile ``base`` with some resource values replaced (in its ``compiler``
    section where it has that key)."""
    raw = yaml.safe_load((profiles_dir() / f"{base}.yaml").read_text())
    for key, value in resources.items():
        section = "compiler" if key in raw.get("compiler", {}) else "resources"
        raw[section][key]["value"] = value
    path = tmp_path / f"{base}_edited.yaml"
    path.write_text(yaml.safe_dump(raw))
    return load_profile(path)


def by_name(core_map):
    return {layer.name: layer for layer in core_map.layers}


def test_dense_784_128_64_10(tmp_path):
    """dense0: 784 input axons, each with 128 synapses = two groups of 64 (576 bits each):
    784 x 1152 = 903,168 bits <= 1,048,576; 128 neurons; 128 output axons (one
    destination core each): one core. dense1: 128 axons x 576 = 73,728 bits; dense2: 64
    axons x bits(10) = 64 x 128 = 8,192 bits. 3 cores, 1 chip: Kapoho Bay (2 chips)."""
    core_map = mapped(tmp_path, [dense(784, 128), dense(128, 64), dense(64, 10)])
    assert [(m.cores, m.binding) for m in core_map.layers] == [(1, "whole layer")] * 3
    assert [m.usage["synapse_memory_bits"] for m in core_map.layers] == [903_168, 73_728, 8_192]
    assert core_map.layers[0].usage["output_axons_per_core"] == 128
    assert (core_map.cores, core_map.chips, core_map.system) == (3, 1, "Kapoho Bay")
    assert (core_map.input.placement, core_map.input.sources, core_map.input.targets) == ("host", 784, 784)


def test_dense_layer_larger_than_one_core(tmp_path):
    """784 -> 1200: 784 axons share 1,048,576 bits, 1,337 bits each: two full groups
    (1,152) leave 185, so the rest r needs 8 r + 10 <= 128: r <= 14, t <= 142 neurons per
    core -> ceil(1200 / 142) = 9 cores, evened to ceil(1200 / 9) = 134 neurons each:
    134 = 2 x 64 + 6 synapses per axon, 1,152 + bits(6) = 1,216 bits, 953,344 in all."""
    [layer] = mapped(tmp_path, [dense(784, 1200)]).layers
    assert (layer.cores, layer.neurons_per_core, layer.binding, layer.tile) == \
        (9, 134, "synapse_memory_bits", (134,))
    assert layer.usage["synapse_memory_bits"] == 784 * (1152 + 64)


def test_strided_3x3_conv_stack(tmp_path):
    """1x16x16 -> conv0 (4 ch, 3x3, stride 2, pad 1) -> 4x8x8 -> conv1 (8 ch, same) -> 8x4x4.

    Output o reads rows 2o-1..2o+1, so of 16 input rows 9 are read by one output and 7 by
    two (histogram {1: 9, 2: 7}, the same for columns). conv0, one core: every one of 256
    inputs is an axon; synapses per axon 4 x ny x nx: 81 axons x bits(4) + 126 x bits(8)
    + 49 x bits(16) = 81 x 64 + 126 x 128 + 49 x 192 = 30,720 bits. conv1: rows of 8 give
    {1: 5, 2: 3}; per input channel 25 x bits(8) + 30 x bits(16) + 9 x bits(32) = 25 x 128
    + 30 x 192 + 9 x 320 = 11,840, times 4 channels = 47,360 bits, 256 input axons. Output
    axons: conv0's neurons each reach conv1's one core (256); conv1 sends off chip (128).
    The host injects 256 sources, one core each."""
    core_map = mapped(tmp_path, [input_layer((1, 16, 16), neurons=False),
                                 conv(1, 4, (4, 8, 8), (2, 2), (1, 1)), conv(4, 8, (8, 4, 4), (2, 2), (1, 1))])
    conv0, conv1 = core_map.layers
    assert (conv0.cores, conv1.cores) == (1, 1)
    assert conv0.usage == {"neurons_per_core": 256, "input_axons_per_core": 256,
                           "synapse_memory_bits": 30_720, "output_axons_per_core": 256}
    assert conv1.usage == {"neurons_per_core": 128, "input_axons_per_core": 256,
                           "synapse_memory_bits": 47_360, "output_axons_per_core": 128}
    assert (core_map.input.placement, core_map.input.layer, core_map.input.feeds) == ("host", "input0", "conv1")
    assert (core_map.input.sources, core_map.input.targets, core_map.input.max_cores_per_source) == (256, 256, 1)


def test_output_axons_follow_the_kernel_footprint(tmp_path):
    """The stack above with 16 neurons per core. conv1 (8x4x4): 8 cores, whole channels and
    2 positions per tile. conv0 (4x8x8): 16 cores, tile x2 y2 channel4. A conv0 neuron at
    input column i reaches the conv1 tiles whose outputs read i: along the split axis
    (outputs {0,1}, {2,3}) only column 3 reaches two tiles, r = [1,1,1,2,1,1,1,1]; along the
    unsplit axis each output is its own tile, r = readers = [1,2,1,2,1,2,1,1]. A conv0 tile
    of 2 x 2 positions x 4 channels then needs at most (1+2) x (1+2) x 4 = 36 output axons,
    where "every neuron to every destination core" would charge 16 x 8 = 128."""
    profile = edited(tmp_path, "loihi1", neurons_per_core=16)
    core_map = mapped(tmp_path, [conv(1, 4, (4, 8, 8), (2, 2), (1, 1)), conv(4, 8, (8, 4, 4), (2, 2), (1, 1))],
                      profile)
    conv0, conv1 = core_map.layers
    assert (conv1.cores, conv1.tile[2], sorted(conv1.tile[:2])) == (8, 8, [1, 2])
    assert (conv0.cores, conv0.tile) == (16, (2, 2, 4))
    assert conv0.usage["output_axons_per_core"] == 36
    assert conv0.usage["input_axons_per_core"] == 5 * 5  # 2 outputs read 2 x 2 + 1 inputs per axis


def test_conv_with_stride_2_1_and_padding(tmp_path):
    """2x5x6 -> conv (3 ch, 3x3, stride (2, 1), padding (1, 0)) -> 3x3x4: 36 neurons, one core.

    Rows (stride 2, pad 1): output o reads 2o-1..2o+1, all 5 rows are read, by {1,2,1,2,1}
    outputs. Columns (stride 1, no pad): o reads o..o+2, all 6 columns, by {1,2,3,3,2,1}.
    Input axons 2 x 5 x 6 = 60. Synapses per axon 3 x ny x nx; per input channel:
    6 x bits(3) + 6 x bits(6) + 6 x bits(9) + 4 x bits(6) + 4 x bits(12) + 4 x bits(18)
    = 384 + 384 + 768 + 256 + 512 + 768 = 3,072; two channels 6,144 bits. The synapses
    stored, 2 x 3 x 7 x 12 = 504, are fewer than 36 x 18 = 648: padding reads nothing."""
    [layer] = mapped(tmp_path, [conv(2, 3, (3, 3, 4), stride=(2, 1), padding=(1, 0))]).layers
    assert layer.usage == {"neurons_per_core": 36, "input_axons_per_core": 60,
                           "synapse_memory_bits": 6_144, "output_axons_per_core": 36}
    assert (layer.cores, layer.binding, layer.axes) == (1, "whole layer", ("x", "y", "channel"))


def test_input_block_with_neurons_is_placed_on_chip(tmp_path):
    """netx's Input block (an ``input`` layer with a ``neuron`` group) puts 1x16x16 = 256
    neurons on chip, driven through their bias: no input axons, no synapse memory; each
    sends to conv0's one core (256 output axons). One core more than the shape-only input
    of the conv stack test, and nothing is injected into conv0."""
    core_map = mapped(tmp_path, [input_layer((1, 16, 16)), conv(1, 4, (4, 8, 8), (2, 2), (1, 1)),
                                 conv(4, 8, (8, 4, 4), (2, 2), (1, 1))])
    first = core_map.layers[0]
    assert (first.name, first.cores) == ("input0", 1)
    assert first.usage == {"neurons_per_core": 256, "input_axons_per_core": 0,
                           "synapse_memory_bits": 0, "output_axons_per_core": 256}
    assert (core_map.input.placement, core_map.input.layer, core_map.cores) == ("on-chip", "input0", 3)


def test_conv_digits_export_shape_keeps_its_three_cores(tmp_path):
    """examples/conv_digits.yaml: 1x8x8 -> conv 16 ch (3x3, stride 2, pad 1) -> 16x4x4 ->
    dense 128 -> dense 10. Every layer fits one core, as the per-neuron model also said:
    3 cores (the digits network 64-128-10 keeps its 2, see test_hardware_resources)."""
    core_map = mapped(tmp_path, [conv(1, 16, (16, 4, 4), (2, 2), (1, 1)), {"type": "flatten", "shape": np.array([256])},
                                 dense(256, 128), dense(128, 10)])
    assert [m.cores for m in core_map.layers] == [1, 1, 1] and core_map.cores == 3


def test_pilotnet_shaped_stack(tmp_path):
    """PilotNet as the benchmark writes it (input 3x66x200 as an Input block; convs of
    76,032, 26,460, 8,064, 5,632 and 2,560 neurons; dense 100, 50, 10, 1). Neurons alone need ceil(n / 1024) per layer: input 39; convs 75 + 26 + 8 + 6 + 3;
    dense 4 x 1: 161 cores. Without weight sharing conv2's 26,460 x 216 = 5,715,360
    synapses take at least 8 bits each, 45.7 Mbit: at least 44 cores of 1 Mbit. The
    total must lie between 122 and 400 with every layer mappable (the per-neuron model
    said 126,794 cores and two unmappable layers). Loihi 2, sharing conv kernels and with
    8x the neurons per core, needs fewer; both fit their smallest board."""
    network = read_netx(build_pilotnet(tmp_path / "pilotnet.net"))
    loihi1, loihi2 = map_cores(network, LOIHI1), map_cores(network, LOIHI2)
    layers = by_name(loihi1)
    assert loihi1.mappable and 161 <= loihi1.cores <= 400
    assert all(layers[name].cores >= low for name, low in
               (("input0", 39), ("conv1", 75), ("conv2", 44), ("conv3", 8), ("conv4", 6), ("conv5", 3)))
    assert all(layer.usage[limit] <= getattr(LOIHI1.resources, limit).value
               for layer in loihi1.layers for limit in layer.usage)
    assert (loihi1.chips, loihi1.system) == (2, "Kapoho Bay")
    assert loihi2.mappable and loihi2.cores < loihi1.cores and loihi2.system == "Oheo Gulch"
    assert by_name(loihi2)["conv2"].shared_weights and not layers["conv2"].shared_weights
    findings = check_resources(loihi1, LOIHI1)
    assert not [f for f in findings if f.severity == "error"]


def test_a_layer_no_core_can_hold_is_an_error(tmp_path):
    """One conv neuron reading 512 channels x 3 x 3 = 4,608 inputs needs 4,608 input axons
    on a Loihi 1 core, beyond 4,096. Loihi 2 shares the kernel (a few conv axons a core):
    it maps."""
    core_map = mapped(tmp_path, [conv(512, 1, (1, 1, 1))], LOIHI1)
    [finding] = [f for f in check_resources(core_map, LOIHI1) if f.severity == "error"]
    assert (finding.check, finding.layer, finding.value, finding.limit) == ("resources.input_axons", "conv0", 4608, 4096)
    assert not core_map.mappable and core_map.system is None
    loihi2 = mapped(tmp_path, [conv(512, 1, (1, 1, 1))], LOIHI2, name="l2.net")
    assert loihi2.mappable and loihi2.cores == 1 and loihi2.layers[0].usage["axon_in"] == 1


@pytest.mark.parametrize("hw, neurons, largest, chips", [("loihi1", 769, "Pohoiki Springs", 768),
                                                         ("loihi2", 1153, "Hala Point", 1152)])
def test_more_chips_than_the_largest_system_is_an_error_naming_it(tmp_path, hw, neurons, largest, chips):
    """With one neuron per core and one core per chip, n neurons need n chips: one more
    than the largest system has."""
    profile = edited(tmp_path, hw, neurons_per_core=1, cores_per_chip=1)
    core_map = mapped(tmp_path, [dense(4, neurons)], profile)
    assert (core_map.chips, core_map.system) == (neurons, None)
    [finding] = [f for f in check_resources(core_map, profile) if f.check == "resources.system"]
    assert (finding.severity, finding.value, finding.limit) == ("error", neurons, f"{largest}: {chips} chips")
    assert largest in finding.fix


def test_a_system_of_uncertain_size_is_a_warning_that_says_so(tmp_path):
    """Three chips on Loihi 2: Kapoho Point, whose chip count (8 in Intel's announcement,
    4 in Lava's docstring) is uncertain."""
    profile = edited(tmp_path, "loihi2", neurons_per_core=1, cores_per_chip=1)
    core_map = mapped(tmp_path, [dense(4, 3)], profile)
    [finding] = [f for f in check_resources(core_map, profile) if f.check == "resources.system"]
    assert (core_map.system, finding.severity) == ("Kapoho Point", "warning")
    assert "uncertain" in finding.source and "uncertain" in finding.fix


def test_validate_writes_the_map_and_the_plot(tmp_path, capsys):
    path = nf.write_netx(tmp_path / "net.net", [conv(1, 4, (4, 8, 8), (2, 2), (1, 1)),
                                                {"type": "flatten", "shape": np.array([256])}, dense(256, 10)])
    try:
        main(["validate", str(path), "--hw", "loihi1", "--map", str(tmp_path / "map.json"),
              "--plot", str(tmp_path / "map.png")])
        code = 0
    except SystemExit as stop:
        code = stop.code
    out = capsys.readouterr().out
    assert code == 0 and "x8 y8 channel4" in out and "whole layer" in out and "(Kapoho Bay)" in out
    written = json.loads((tmp_path / "map.json").read_text())
    assert (written["cores"], written["system"], [layer["cores"] for layer in written["layers"]]) == \
        (2, "Kapoho Bay", [1, 1])
    assert set(written["layers"][0]["utilisation"]) == set(written["limits"])
    assert (tmp_path / "map.png").read_bytes()[:4] == b"\x89PNG"


# --- the vectorised loads against their definitions (random axes and histograms) ----------

def _per_tile_load(axis, tile):
    """An axis's load by its definition: each tile's row of synapses per input counted alone."""
    counts = axis.counts(tile)
    reached = int((counts > 0).sum(axis=1).max())
    return reached, {tuple((int(v), int(c)) for v, c in zip(*np.unique(row[row > 0], return_counts=True)))
                     for row in counts}


@pytest.mark.parametrize("seed", range(40))
def test_axis_histograms_equal_a_count_per_tile(seed):
    """Kernel axes (any stride, padding, dilation) and grouped channels, every tile size."""
    from neurodeploy.hardware.resources import _candidates, _channel_axis, _kernel_axis

    rng = np.random.default_rng(seed)
    kernel, stride, dilation = (int(v) for v in rng.integers(1, 5, size=3))
    n_in = int(rng.integers(kernel * dilation, 40))
    padding = int(rng.integers(0, kernel))
    n = (n_in + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1
    groups = int(rng.choice([2, 3, 4]))
    axes = [_kernel_axis(n_in, n, kernel, stride, padding, dilation),
            _channel_axis(groups * int(rng.integers(1, 5)), groups * int(rng.integers(1, 6)), groups)]
    for axis in axes:
        for tile in _candidates(axis.n):
            reached, histograms = axis.load(tile)
            assert (reached, set(histograms)) == _per_tile_load(axis, tile)


@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("seed", range(25))
def test_synapse_memory_is_the_worst_combination_of_histograms(seed, shared):
    """All combinations at once (padded, one outer product) equal the worst one found
    combination by combination, with nengo-loihi's bits per axon; empty histograms and
    axes without any give nothing to store."""
    import itertools

    from neurodeploy.hardware.resources import (LIMITS, _AxisLoad, _FanOut, _FullAxis, _Layout, _Loads,
                                                synapse_bits_per_axon)

    rng = np.random.default_rng(seed)
    axes = int(rng.integers(1, 4))
    options = [tuple({tuple(sorted({int(v): int(rng.integers(1, 50)) for v in rng.integers(1, 30, size=size)}.items()))
                      for size in rng.integers(0, 5, size=int(rng.integers(0 if seed % 7 == 0 else 1, 4)))})
               for _ in range(axes)]
    bits = int(rng.integers(1, 10))
    taps = int(rng.integers(1, 10)) if shared else 0
    layout = _Layout(("neuron",) * axes, tuple(_FullAxis(1, 1) for _ in range(axes)), bits, shared_taps=taps)
    loads = _Loads(layout, _FanOut(1), LOIHI1, {name: 1 for name in LIMITS})
    used = options[-1:] if shared else options
    expected = max((sum(synapse_bits_per_axon(math.prod(v for v, _ in entries), bits, LOIHI1)
                        * math.prod(c for _, c in entries) for entries in itertools.product(*combination))
                    for combination in itertools.product(*used)), default=0) * max(taps, 1)
    assert loads._memory([_AxisLoad.of(0, histograms) for histograms in options]) == expected
