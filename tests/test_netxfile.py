"""The netx reader on lava-dl's own exports and on broken files."""
from __future__ import annotations

import re

import h5py
import numpy as np
import pytest

from tests import netx_factory as nf
from neurodeploy.core.errors import NetworkFileError
from neurodeploy.core.netxfile import conv_output_shape, read_netx


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    folder = tmp_path_factory.mktemp("exports")
    return {name: getattr(nf, name)(folder / f"{name}.net") for name in
            ("digits_like", "conv_net", "pool_net", "recurrent_net", "delay_net", "sigma_delta_net")}


def test_digits_export_reads_as_two_dense_layers(exports):
    network = read_netx(exports["digits_like"])
    assert [layer.name for layer in network.layers] == ["dense0", "dense1"]
    first, second = network.layers
    assert first.shape == (128,) and first.input_shape == (64,) and first.weight.shape == (128, 64)
    assert second.input_shape == (128,) and second.fan_in == 128
    assert first.neuron["type"] == "CUBA" and isinstance(first.neuron["iDecay"], int)
    assert first.neuron_type == "CUBA" and not first.graded
    assert network.hops == 2 and network.input_shape == (64,)
    assert network.n_neurons == 138 and network.n_synapses == 64 * 128 + 128 * 10
    # slayer's quantize_8bit: even integers within -256..254
    assert np.all(first.weight % 2 == 0) and first.weight.min() >= -256 and first.weight.max() <= 254
    assert network.layer("dense1") is second
    with pytest.raises(KeyError):
        network.layer("dense7")


def test_conv_export_is_read_in_netx_whc_order(exports):
    conv, flatten, dense = read_netx(exports["conv_net"]).layers
    assert (conv.name, flatten.name, dense.name) == ("conv0", "flatten1", "dense2")
    # slayer stores C, H, W = 3, 4, 5; netx reverses it to x, y, z = W, H, C
    assert conv.shape == (5, 4, 3)
    assert conv.kernel == (3, 3) and conv.stride == (2, 2) and conv.padding == (1, 1)
    assert conv.fan_in == 2 * 3 * 3 and conv.n_synapses == 60 * 18
    # the smallest input the kernel maps to 5 x 4 (the true one was 10 x 8)
    assert conv.input_shape == (9, 7, 2)
    assert conv_output_shape((10, 8, 2), conv) == (5, 4) == conv_output_shape(conv.input_shape, conv)
    assert flatten.n_neurons == 0 and flatten.input_shape == (5, 4, 3)
    assert dense.input_shape == (60,) and dense.fan_in == 60


def test_given_input_shape_is_checked_against_the_first_layer(exports):
    network = read_netx(exports["conv_net"], input_shape=(10, 8, 2))
    assert network.input_shape == (10, 8, 2)
    with pytest.raises(NetworkFileError, match=r"conv_net.net: input shape \(10, 8, 3\) disagrees"):
        read_netx(exports["conv_net"], input_shape=(10, 8, 3))
    with pytest.raises(NetworkFileError, match="disagrees with layer dense0"):
        read_netx(exports["digits_like"]).with_input_shape((65,))


def test_other_slayer_blocks_are_read(exports):
    pool = read_netx(exports["pool_net"]).layer("pool1")
    assert pool.type == "pool" and pool.kernel == (2, 2) and pool.fan_in == 4
    recurrent = read_netx(exports["recurrent_net"]).layer("dense_rec1")
    assert recurrent.weight_rec.shape == (8, 8) and recurrent.fan_in == 12 + 8
    delayed = read_netx(exports["delay_net"]).layer("dense0")
    assert delayed.delay.tolist() == [0, 1, 2, 3, 4, 5]
    sigma_delta = read_netx(exports["sigma_delta_net"])
    assert [layer.neuron_type for layer in sigma_delta.layers] == ["SDNN"] * 3
    assert sigma_delta.layers[0].type == "input" and sigma_delta.layers[0].n_neurons == 10
    assert all(layer.graded and layer.message_bits == 16 for layer in sigma_delta.layers)
    assert sigma_delta.layers[2].neuron["sigma_output"] is True


def test_unknown_and_complex_layers_are_read(tmp_path):
    path = nf.write_netx(tmp_path / "odd.net", [
        nf.dense_layer(np.ones((4, 3))),
        nf.raw_layer("average", [2]),
        nf.raw_layer("mystery", [2]),
    ])
    with h5py.File(path, "a") as handle:
        node = handle["layer"].create_group("3")
        node.create_dataset("type", (1,), "S10", [b"dense_comp"])
        node.create_dataset("shape", data=np.array([2]))
        node.create_dataset("weight/real", data=np.ones((2, 2)))
        node.create_dataset("weight/imag", data=np.zeros((2, 2)))
    network = read_netx(path)
    assert [layer.type for layer in network.layers] == ["dense", "average", "mystery", "dense_comp"]
    assert network.layers[1].n_neurons == 0 and network.layers[2].weight is None
    complex_layer = network.layers[3]
    assert complex_layer.weight.shape == (2, 2) and complex_layer.weight_imag.shape == (2, 2)


def _no_layer_group(path):
    with h5py.File(path, "w") as handle:
        handle.create_dataset("weights", data=np.ones(3))


def _empty_layer_group(path):
    with h5py.File(path, "w") as handle:
        handle.create_group("layer")


def _layer_without_type(path):
    with h5py.File(path, "w") as handle:
        handle.create_group("layer/0").create_dataset("shape", data=np.array([3]))


def _gap_in_layers(path):
    with h5py.File(path, "w") as handle:
        handle.create_group("layer/0").create_dataset("type", (1,), "S10", [b"dense"])
        handle.create_group("layer/2").create_dataset("type", (1,), "S10", [b"dense"])


def _text_weights(path):
    with h5py.File(path, "w") as handle:
        handle.create_group("layer/0").create_dataset("type", (1,), "S10", [b"dense"])
        handle["layer/0"].create_dataset("weight", data=np.array([b"a", b"b"]))
        handle["layer/0"].create_dataset("shape", data=np.array([2]))


@pytest.mark.parametrize("make, message", [
    (lambda path: None, "network file not found"),
    (lambda path: path.write_text("not hdf5 at all"), "not an HDF5 file"),
    (_no_layer_group, "no 'layer' group"),
    (_empty_layer_group, "no 'layer' group"),
    (_layer_without_type, "layer/0 has no 'type'"),
    (_gap_in_layers, "expected groups 0..1"),
    (_text_weights, "layer/0/weight holds |S1, not numbers"),
])
def test_broken_files_raise_one_line_naming_the_file(tmp_path, make, message):
    path = tmp_path / "broken.net"
    make(path)
    with pytest.raises(NetworkFileError) as caught:
        read_netx(path)
    text = str(caught.value)
    assert text.startswith(str(path)) and message in text and "\n" not in text


def _conv_with_shape(shape):
    return [{**nf.conv_layer(np.ones((2, 1, 3, 3)), (2, 4, 4)), "shape": np.array(shape)}]


WEIGHTS = np.full((4, 3), 2.0)


@pytest.mark.parametrize("layers, message", [
    ([nf.dense_layer(np.full((4, 3), np.nan))], "weight holds NaN or infinite values"),
    ([nf.dense_layer(np.full((4, 3), np.inf))], "weight holds NaN or infinite values"),
    ([nf.dense_layer(WEIGHTS, nf.cuba_neuron(vThMant=np.nan))], "neuron/vThMant is nan"),
    ([nf.dense_layer(WEIGHTS, nf.cuba_neuron(vDecay=np.inf))], "neuron/vDecay is inf"),
    ([nf.dense_layer(WEIGHTS, nf.cuba_neuron(vThMant="abc"))], "neuron/vThMant is 'abc'; expected a number"),
    ([{key: value for key, value in nf.dense_layer(WEIGHTS).items() if key != "weight"},
      nf.dense_layer(np.ones((2, 4)))], "lacks 'weight'"),
    (_conv_with_shape([2, 2 ** 62, 4]), "layer/0/shape is [2, 4611686018427387904, 4]"),
    (_conv_with_shape([2, 2 ** 20, 2 ** 20]), "at most 4194304 neurons"),
    ([{**nf.dense_layer(WEIGHTS), "shape": np.array([-4])}], "layer/0/shape is [-4]"),
    ([{**nf.dense_layer(WEIGHTS), "weight": np.zeros((0, 3))}], "weight is empty"),
    ([{**nf.dense_layer(WEIGHTS), "shape": np.array([7])}], "weight has shape (4, 3); expected (7, inputs)"),
    ([{**nf.conv_layer(np.ones((2, 1, 3, 3)), (2, 4, 4)), "stride": np.array([0, 0])}], "stride (0, 0) is outside"),
])
def test_malformed_networks_are_unusable_input_never_deployable(tmp_path, layers, message):
    from tests.fuzz_harness import assert_clean, run_cli

    path = nf.write_netx(tmp_path / "bad.net", layers)
    with pytest.raises(NetworkFileError, match=re.escape(message)):
        read_netx(path)
    outcome = run_cli(["validate", path, "--hw", "loihi2"])
    assert_clean(outcome, codes=(2,))
    assert message in outcome.stderr


# --- netx's reading rules: what netx builds is read, what it cannot build is refused ------

@pytest.fixture(scope="module")
def oracle():
    from tests.netx_oracle import shared

    return shared()


def _conv_net(**changes):
    """An input shape, a conv and a dense readout after flatten, as lava-dl lays them out."""
    conv = {**nf.conv_layer(np.full((2, 1, 3, 3), 2.0), (2, 4, 4)), **changes}
    return [nf.raw_layer("input", [1, 6, 6]), conv, nf.raw_layer("flatten", [32]),
            nf.dense_layer(np.full((3, 32), 2.0))]


def _without(layers, index, key):
    del layers[index][key]
    return layers


RF = {"type": "RF_PHASE", "vThMant": 10, "sinDecay": 100, "cosDecay": 3000}
DENSE = np.full((4, 3), 2.0)


@pytest.mark.parametrize("layers, complex_at", [
    (_conv_net(weight=np.full((2, 1, 3, 3, 1), 2.0)), None),                 # tiny.net's 5-axis kernel
    ([{**nf.dense_layer(DENSE), "weight": DENSE.reshape(-1), "shape": np.array([4, 1, 1])}], None),  # PilotNet's
    (_conv_net(stride=np.int64(1), padding=np.int64(0), dilation=np.int64(1)), None),  # one number for both axes
    (_conv_net(bias=np.ones(2)), None),                                      # one bias per channel
    ([nf.dense_layer(DENSE, delay=np.float32(3))], None),                    # one delay for every synapse
    ([nf.dense_layer(DENSE), nf.raw_layer("mystery", [4]), nf.dense_layer(np.full((2, 4), 2.0))], None),
    ([nf.dense_layer(DENSE, RF)], 0),                                        # RF neurons on complex weights
])
def test_files_netx_builds_are_read(tmp_path, oracle, layers, complex_at):
    path = nf.write_netx(tmp_path / "ok.net", layers)
    if complex_at is not None:
        with h5py.File(path, "a") as handle:
            group = handle[f"layer/{complex_at}"]
            weight = group["weight"][()]
            del group["weight"]
            group.create_dataset("weight/real", data=weight)
            group.create_dataset("weight/imag", data=-weight)
    assert oracle.build(path).built
    network = read_netx(path)
    assert network.layers[-1].input_shape is not None


@pytest.mark.parametrize("layers, message, netx_builds", [
    (_without(_conv_net(), 1, "groups"), "layer/1 (conv) lacks 'groups'", False),       # issue 24's files
    (_without(_conv_net(), 1, "dilation"), "layer/1 (conv) lacks 'dilation'", False),
    (_conv_net(weight={"x": np.ones((2, 1, 3, 3))}), "weight is a group without 'real' and 'imag'", False),
    ([{**nf.dense_layer(DENSE), "neuron": np.float64(np.nan)}], "neuron is not a group", False),
    (_conv_net(stride=np.array([1.0, 1.0])), "layer/1/stride holds float64; netx reads integers", False),
    (_conv_net(groups=np.array([1])), "groups has shape (1,); netx and Lava take one integer", False),
    (_conv_net(stride=np.array([1, 1, 1])), "stride holds 3 numbers; netx reads one or two", False),
    (_conv_net(weight=np.full((2, 1, 3, 3, 2), 2.0)), "weight has shape (2, 1, 3, 3, 2)", False),
    ([{**nf.dense_layer(DENSE), "weight": np.ones(10)}], "weight has shape (10,); expected (4, inputs)", False),
    ([nf.dense_layer(np.full((4, 3), 0.5))], "weight is all zero once truncated to integers", False),
    ([nf.dense_layer(DENSE, RF)], "RF_PHASE neurons take complex synapses only", False),
    ([nf.dense_layer(DENSE), nf.raw_layer("flatten", [4]), nf.dense_layer(np.full((2, 4), 2.0))],
     "a flatten layer after dense0, whose output (4,) is not (x, y, z)", False),
    (_conv_net()[:2] + _conv_net()[3:],  # no flatten between the conv and the dense layer
     "weight takes 32 inputs; netx connects it to the (4, 4, 2) output of conv1 (without a flatten", False),
    (_conv_net(bias=np.ones(1)), "bias has shape (1,); netx spreads one per channel (2,)", False),
    ([{**nf.dense_layer(DENSE), "type": np.int64(3)}], "layer/0/type is 3; netx reads ASCII text", False),
    ([nf.raw_layer("input", [3])], "no layer netx builds a block from", False),
    ([nf.dense_layer(DENSE, delay=-np.ones(4))], "delay holds -1.0; delays are >= 0", False),
    # stricter than netx's constructor: Lava builds these, but they cannot run
    ([nf.raw_layer("input", [2, 6, 6]), *_conv_net()[1:]], "its kernel takes 1 input channels", True),
    ([nf.dense_layer(DENSE, bias=np.ones(3))], "bias has shape (3,); expected one value or 4", True),
    ([nf.dense_layer(DENSE), nf.raw_layer("input", [4], neuron=nf.cuba_neuron()),
      nf.dense_layer(np.full((2, 4), 2.0))], "an input block after dense0", True),
])
def test_files_netx_cannot_build_are_refused(tmp_path, oracle, layers, message, netx_builds):
    path = nf.write_netx(tmp_path / "bad.net", layers)
    with pytest.raises(NetworkFileError) as refused:
        read_netx(path)
    text = str(refused.value)
    assert message in text and text.startswith(str(path)) and "\n" not in text
    verdict = oracle.build(path)
    assert verdict.built == netx_builds, verdict


def test_a_shapeless_input_layer_before_a_conv_is_refused_as_netx_refuses_it(tmp_path, oracle):
    """netx infers a first conv's input from the input layer's shape; without one (and no
    input_shape, which neurodeploy passes only to a network that starts with a conv) its
    builder raises 'Input shape could not be inferred'. Found by the fuzz suite's netx oracle."""
    conv = nf.conv_layer(np.ones((2, 1, 3, 3)), (2, 4, 4), stride=2, padding=1)
    path = nf.write_netx(tmp_path / "shapeless.net", [{"type": "input"}, conv])
    with pytest.raises(NetworkFileError, match="cannot infer its input"):
        read_netx(path)
    assert not oracle.build(path, None).built
