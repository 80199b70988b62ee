"""Support checks: what a target cannot run at all, reported by name."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import yaml

from neurodeploy.hardware.profile import load_profile, profiles_dir
from neurodeploy.core.errors import NetworkFileError
from neurodeploy.hardware.support import check_support
from neurodeploy.core.netxfile import read_netx
from tests import netx_factory as nf

LOIHI1, LOIHI2 = load_profile("loihi1"), load_profile("loihi2")


def edited_loihi1(tmp_path, section, key, value):
    raw = yaml.safe_load((profiles_dir() / "loihi1.yaml").read_text())
    raw[section][key]["value"] = value
    path = tmp_path / "edited.yaml"
    path.write_text(yaml.safe_dump(raw))
    return load_profile(path)


def small(tmp_path, *extra, name="net.net"):
    return read_netx(nf.write_netx(tmp_path / name, [nf.dense_layer(np.full((3, 4), 2.0)), *extra]))


def test_pool_export_is_reported_not_raised(tmp_path):
    network = read_netx(nf.pool_net(tmp_path / "pool.net"))
    [finding] = check_support(network, LOIHI1)
    assert (finding.severity, finding.check, finding.layer, finding.value) == \
        ("error", "support.layer_type", "pool1", "pool")
    assert finding.limit == "input, flatten, dense, dense_rec, conv" and "strided conv" in finding.fix


@pytest.mark.parametrize("kind", ["average", "concat", "mystery"])
def test_other_layer_types_netx_cannot_build(tmp_path, kind):
    [finding] = check_support(small(tmp_path, nf.raw_layer(kind, [3])), LOIHI2)
    assert (finding.check, finding.layer, finding.value) == ("support.layer_type", f"{kind}1", kind)


def test_sigma_delta_neurons_need_loihi2(tmp_path):
    network = read_netx(nf.sigma_delta_net(tmp_path / "sd.net"))
    findings = check_support(network, LOIHI1)
    assert [(f.check, f.layer, f.value) for f in findings] == \
        [("support.neuron_type", name, "SDNN") for name in ("input0", "dense1", "dense2")]
    assert findings[0].limit == "CUBA, LOIHI"
    assert check_support(network, LOIHI2) == []


def test_graded_spikes_on_a_binary_chip(tmp_path):
    graded = nf.dense_layer(np.full((2, 3), 2.0), neuron=nf.cuba_neuron(messageBits=8))
    [finding] = check_support(small(tmp_path, graded), LOIHI1)
    assert (finding.check, finding.layer, finding.value, finding.limit) == ("support.graded_spikes", "dense1", 8, 0)
    assert check_support(small(tmp_path, graded, name="two.net"), LOIHI2) == []


def test_delays_on_a_chip_without_them(tmp_path):
    network = read_netx(nf.delay_net(tmp_path / "delay.net"))
    assert check_support(network, LOIHI1) == []
    no_delays = edited_loihi1(tmp_path, "support", "delays", False)
    [finding] = check_support(network, no_delays)
    assert (finding.check, finding.layer, finding.value, finding.limit) == ("support.delays", "dense0", 5.0, 0)


def test_learning_on_a_chip_without_it(tmp_path):
    network = small(tmp_path)
    assert check_support(network, LOIHI1, plastic=["dense0"]) == []
    frozen = edited_loihi1(tmp_path, "learning", "on_chip", False)
    [finding] = check_support(network, frozen, plastic=["dense0"])
    assert (finding.check, finding.layer, finding.value, finding.limit) == ("support.learning", "dense0", True, False)


def test_layer_that_does_not_take_its_input(tmp_path):
    mismatched = nf.dense_layer(np.full((2, 5), 2.0))  # expects 5 inputs, dense0 gives 3
    with pytest.raises(NetworkFileError, match=r"dense\): weight takes 5 inputs; netx connects it to the \(3,\)"):
        small(tmp_path, mismatched)  # netx cannot connect them: the reader refuses the file
    network = small(tmp_path, nf.dense_layer(np.full((2, 3), 2.0)), name="ok.net")
    first, second = network.layers
    network = replace(network, layers=(first, replace(second, weight=np.full((2, 5), 2.0))))
    [finding] = check_support(network, LOIHI1)  # a network built in memory is still checked
    assert (finding.severity, finding.check, finding.layer, finding.value, finding.limit) == \
        ("error", "support.input_size", "dense1", 3, 5)


def test_conv_that_does_not_take_its_input(tmp_path):
    rng = np.random.default_rng(0)
    conv = nf.conv_layer(2 * rng.integers(-3, 4, size=(3, 2, 3, 3)), output_chw=(3, 4, 4))
    other = nf.conv_layer(2 * rng.integers(-3, 4, size=(5, 4, 3, 3)), output_chw=(5, 2, 2))  # wants 4 channels
    with pytest.raises(NetworkFileError, match="its kernel takes 4 input channels"):
        read_netx(nf.write_netx(tmp_path / "conv.net", [conv, other]))  # refused as netx reads it
    fits = nf.conv_layer(2 * rng.integers(-3, 4, size=(5, 3, 3, 3)), output_chw=(5, 2, 2))
    network = read_netx(nf.write_netx(tmp_path / "fits.net", [conv, fits]))
    network = replace(network, layers=(network.layers[0], replace(network.layers[1], weight=other["weight"])))
    [finding] = check_support(network, LOIHI1)
    assert (finding.check, finding.layer, finding.value) == ("support.input_size", "conv1", (4, 4, 3))
    assert finding.limit == "4 channels mapped to (2, 2)"
