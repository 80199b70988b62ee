"""Activity counts equal a hand count on tiny networks."""
import numpy as np
import pytest

from neurodeploy.hardware.activity import activity_counts
from neurodeploy.core.netxfile import read_netx
from tests.netx_factory import conv_layer, dense_layer, raw_layer, write_netx


def test_dense_counts_match_a_hand_count(tmp_path):
    network = read_netx(write_netx(tmp_path / "n.net", [dense_layer(np.ones((3, 4))),
                                                         dense_layer(np.ones((2, 3)))]))
    counts = activity_counts(network, input_spikes=5.0, layer_spikes={"dense0": 7.0, "dense1": 1.0},
                             frame_steps=10)
    # 5 input spikes x 3 targets + 7 hidden spikes x 2 targets; (3 + 2) neurons x 10 steps
    assert counts == {"synaptic_ops_per_sample": 5 * 3 + 7 * 2, "neuron_updates_per_sample": 50.0,
                      "spikes_per_sample": 5 + 7 + 1,
                      "layers": {"dense0": {"synaptic_ops": 5 * 3, "spikes": 7.0},
                                 "dense1": {"synaptic_ops": 7 * 2, "spikes": 1.0}}}


def test_conv_fan_out_is_synapses_per_input(tmp_path):
    layers = [conv_layer(np.ones((2, 1, 3, 3)), (2, 2, 2), stride=1), raw_layer("flatten", [8, 1, 1]),
              dense_layer(np.ones((1, 8)))]
    network = read_netx(write_netx(tmp_path / "c.net", layers), input_shape=(4, 4, 1))
    counts = activity_counts(network, 16.0, {"conv0": 4.0, "dense2": 1.0}, frame_steps=1)
    # conv: 8 neurons x 9 synapses over 16 inputs -> 4.5 targets per input spike
    assert counts["synaptic_ops_per_sample"] == pytest.approx(16 * 72 / 16 + 4 * 1)
    assert counts["neuron_updates_per_sample"] == 9.0
