"""The core mapper against hand counts, and layers that cannot be mapped at all."""
from __future__ import annotations

import numpy as np
import pytest
import yaml

from neurodeploy.hardware.profile import load_profile, profiles_dir
from neurodeploy.hardware.resources import check_resources, map_cores, synapse_bits_per_axon
from neurodeploy.core.netxfile import read_netx
from tests import netx_factory as nf

LOIHI1, LOIHI2 = load_profile("loihi1"), load_profile("loihi2")


def dense_net(tmp_path, widths, name="net.net"):
    """Dense layers of ``widths`` with zero-cost weights (mapping ignores values)."""
    layers = [nf.dense_layer(np.full((out, inp), 2.0, dtype=np.float32))
              for inp, out in zip(widths, widths[1:])]
    return read_netx(nf.write_netx(tmp_path / name, layers))


def profile_with(tmp_path, **resources):
    raw = yaml.safe_load((profiles_dir() / "loihi1.yaml").read_text())
    for key, value in resources.items():
        raw["resources"][key]["value"] = value
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(raw))
    return load_profile(path)


def errors(findings):
    return [finding for finding in findings if finding.severity == "error"]


def test_synapse_memory_per_axon_follows_the_64_bit_word_rule():
    # groups of 64 synapses, each 8 bits + 10 bits of header, rounded up to 64-bit words
    assert synapse_bits_per_axon(0, 8, LOIHI1) == 0
    assert synapse_bits_per_axon(1, 8, LOIHI1) == 64            # 18 bits -> one word
    assert synapse_bits_per_axon(6, 8, LOIHI1) == 64            # 58 bits
    assert synapse_bits_per_axon(7, 8, LOIHI1) == 128           # 66 bits
    assert synapse_bits_per_axon(64, 8, LOIHI1) == 9 * 64       # 522 bits
    assert synapse_bits_per_axon(65, 8, LOIHI1) == 9 * 64 + 64  # a second group of one


def test_hand_count_digits_network(tmp_path):
    # 64 -> 128 -> 10. dense0: 64 axons x 2 groups x 576 bits = 73,728 bits, 128 neurons: 1 core.
    # dense1: 128 axons x 128 bits (10 x 8 + 10 = 90 -> 2 words) = 16,384 bits: 1 core.
    core_map = map_cores(dense_net(tmp_path, (64, 128, 10)), LOIHI1)
    assert [(m.name, m.cores, m.binding) for m in core_map.layers] == \
        [("dense0", 1, "whole layer"), ("dense1", 1, "whole layer")]
    assert core_map.layers[0].usage["synapse_memory_bits"] == 64 * 2 * 576
    assert core_map.layers[1].usage["synapse_memory_bits"] == 128 * 128
    assert (core_map.cores, core_map.chips) == (2, 1)


def test_hand_count_synapse_memory_bound_layer(tmp_path):
    # 2048 -> 1000. Memory per core 1,048,576 bits over 2048 axons: 512 bits per axon, so a
    # core's neurons n need 8n + 10 <= 512 -> n <= 62; 1000 / 62 -> 17 cores (59 each).
    core_map = map_cores(dense_net(tmp_path, (2048, 1000)), LOIHI1)
    [layer] = core_map.layers
    assert (layer.cores, layer.neurons_per_core, layer.binding) == (17, 59, "synapse_memory_bits")
    assert (core_map.cores, core_map.chips) == (17, 1)


def test_hand_count_output_axon_bound_layer(tmp_path):
    # 16 -> 3000 -> 1000. dense1: 3000 axons, 1,048,576 / 3000 = 349 bits per axon:
    # 8n + 10 <= 320 -> n <= 38 -> 1000 / 38 -> 27 cores (38 each; 26 cores would need 39).
    # dense0 sends each neuron to 27 cores: 27 n <= 4096 -> n <= 151 -> 3000 / 151 -> 20 cores.
    core_map = map_cores(dense_net(tmp_path, (16, 3000, 1000)), LOIHI1)
    first, second = core_map.layers
    assert (second.cores, second.neurons_per_core, second.binding) == (27, 38, "synapse_memory_bits")
    assert (first.cores, first.neurons_per_core, first.binding) == (20, 150, "output_axons_per_core")
    assert first.usage["output_axons_per_core"] == 150 * 27
    assert (core_map.cores, core_map.chips) == (47, 1)


def test_hand_count_neuron_bound_layer_and_chips(tmp_path):
    # 8 -> 140,000: 1024 neurons per core -> 137 cores -> 2 chips of 128 cores
    core_map = map_cores(dense_net(tmp_path, (8, 140_000)), LOIHI1)
    [layer] = core_map.layers
    assert (layer.cores, layer.binding) == (137, "neurons_per_core")
    assert core_map.chips == 2


def test_plastic_synapses_cost_tag_bits(tmp_path):
    network = dense_net(tmp_path, (64, 128, 10))
    plastic = map_cores(network, LOIHI1, plastic=["dense0"]).layers[0]
    # 8 weight + 9 tag bits: 64 x 17 + 10 = 1098 bits -> 18 words per group of 64
    assert plastic.usage["synapse_memory_bits"] == 64 * 2 * 18 * 64


def test_fan_in_beyond_the_input_axons_cannot_be_mapped(tmp_path):
    core_map = map_cores(dense_net(tmp_path, (5000, 10)), LOIHI1)
    [finding] = errors(check_resources(core_map, LOIHI1))
    assert (finding.severity, finding.check, finding.layer, finding.value, finding.limit) == \
        ("error", "resources.input_axons", "dense0", 5000, 4096)
    assert not core_map.mappable and core_map.layers[0].blocked == ("input_axons_per_core",)
    # Loihi 2 takes 16,000 input axons a core (its compiler's AxonIn): 5,000 map, 16,001 do not
    assert map_cores(dense_net(tmp_path, (5000, 10)), LOIHI2).mappable
    loihi2 = map_cores(dense_net(tmp_path, (16_001, 1), name="wide.net"), LOIHI2)
    # (and one unit of synapse memory per input axon breaks the 12,000-unit SynMem register too)
    axon_in, synapses = errors(check_resources(loihi2, LOIHI2))
    assert (axon_in.check, axon_in.value, axon_in.limit) == ("resources.axon_in", 16_001, 16_000)
    assert (synapses.check, synapses.value, synapses.limit) == ("resources.synapses", 16_001, 12_000)
    finding = axon_in
    assert "[compiler output]" in finding.source and not loihi2.mappable


def test_one_neuron_beyond_the_synapse_memory_cannot_be_mapped(tmp_path):
    profile = profile_with(tmp_path, synapse_memory_bits=1000)
    [finding] = errors(check_resources(map_cores(dense_net(tmp_path, (64, 4)), profile), profile))
    # one neuron: 64 axons x one 64-bit word
    assert (finding.check, finding.layer, finding.value, finding.limit) == \
        ("resources.synapse_memory", "dense0", 64 * 64, 1000)


def test_one_neuron_beyond_the_output_axons_cannot_be_mapped(tmp_path):
    # dense1 (5 neurons) may keep only 2 per core (its output axons) -> 3 cores; each
    # dense0 neuron then needs 3 output axons, one more than the limit
    profile = profile_with(tmp_path, output_axons_per_core=2)
    core_map = map_cores(dense_net(tmp_path, (4, 3, 5)), profile)
    assert core_map.layers[1].cores == 3
    [finding] = errors(check_resources(core_map, profile))
    assert (finding.check, finding.layer, finding.value, finding.limit) == ("resources.output_axons", "dense0", 3, 2)


def test_uncertain_per_core_limits_are_noted_once(tmp_path):
    """Loihi 1's limits are public (no note); an edited profile with an uncertain limit gets
    one note; Loihi 2's map follows its compiler's printed registers (no note)."""
    network = dense_net(tmp_path, (64, 128, 10))
    assert [f.check for f in check_resources(map_cores(network, LOIHI1), LOIHI1)] == ["resources.system"]
    raw = yaml.safe_load((profiles_dir() / "loihi1.yaml").read_text())
    raw["resources"]["neurons_per_core"]["confidence"] = "uncertain"
    (tmp_path / "guess.yaml").write_text(yaml.safe_dump(raw))
    guess = load_profile(tmp_path / "guess.yaml")
    [note] = [f for f in check_resources(map_cores(network, guess), guess) if f.check != "resources.system"]
    assert (note.severity, note.check, note.layer, note.value) == ("info", "resources.uncertain_limits", "network", 2)
    assert [f.check for f in check_resources(map_cores(network, LOIHI2), LOIHI2)] == ["resources.system"]


@pytest.mark.parametrize("builder", ["conv_net", "recurrent_net", "sigma_delta_net", "pool_net"])
def test_every_layer_with_neurons_is_placed(tmp_path, builder):
    network = read_netx(getattr(nf, builder)(tmp_path / "net.net"))
    core_map = map_cores(network, LOIHI1)
    assert [m.name for m in core_map.layers] == [layer.name for layer in network.layers if layer.n_neurons]
    assert all(m.cores >= 1 and m.synapses == network.layer(m.name).n_synapses for m in core_map.layers)
