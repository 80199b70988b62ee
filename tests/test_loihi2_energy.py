"""Loihi 2 step time and energy per inference against Intel's measured PilotNet SNN.

lava-dl's ``netx/pilotnet_snn/benchmark.ipynb`` measured on an Oheo Gulch board: 408.91
inferences/s at 16 steps an inference (152.8 us a step), 1.0935 mJ dynamic and 1.6611 mJ
total energy per inference. The activity is the reference spike record lava-dl installs
with the same network (``gts/pilotnet_lif``, first 16 steps). The estimate's range must
hold each measured figure, and be no wider than the profile states (+-25 % on time,
+-20 % on dynamic energy), so a drifted calibration or a widened range fails here.
"""
from __future__ import annotations

import pytest

from benchmarks.loihi2_calibration import MEASURED, pilotnet_activity
from neurodeploy.hardware.energy import estimate
from neurodeploy.hardware.profile import load_profile
from neurodeploy.hardware.resources import map_cores

pytestmark = pytest.mark.lava  # lava-dl's installed PilotNet and its spike record

LOIHI2 = load_profile("loihi2")


@pytest.fixture(scope="module")
def pilotnet():
    network, activity = pilotnet_activity()
    core_map = map_cores(network, LOIHI2)
    return activity, core_map, estimate(LOIHI2, 16, core_map.chips, activity, core_map)


def test_activity_is_counted_from_the_spike_record(pilotnet):
    """Input block 565,197 spikes in 16 steps (89 % of 39,600 neurons a step); conv1
    receives each through 27 x 24 x 99 x 32 / 39,600 = 51.84 synapses on average."""
    activity, _, _ = pilotnet
    layers = activity["layers"]
    assert layers["input0"] == {"synaptic_ops": 0.0, "spikes": 565_197.0}
    assert layers["conv1"]["synaptic_ops"] == pytest.approx(565_197 * 27 * 24 * 99 * 32 / 39_600)
    assert activity["neuron_updates_per_sample"] == 158_509 * 16


def test_step_time_and_energy_hold_the_measured_point(pilotnet):
    _, core_map, result = pilotnet
    low, high = result.step_time_s
    assert low <= MEASURED["step_time_s"] <= high and high / low <= 1.001 * 1.25 / 0.75
    low, high = result.dynamic_energy_per_sample_j
    assert low <= MEASURED["dynamic_energy_j"] <= high and high / low <= 1.001 * 1.2 / 0.8
    low, high = result.energy_per_sample_j
    assert low <= MEASURED["total_energy_j"] <= high
    assert core_map.cores == 74 and core_map.chips == 1


def test_calibration_is_centred(pilotnet):
    """The midpoints sit on the measurement: the constants are the fit, not just near it."""
    _, _, result = pilotnet
    assert sum(result.step_time_s) / 2 == pytest.approx(MEASURED["step_time_s"], rel=0.01)
    assert sum(result.dynamic_energy_per_sample_j) / 2 == pytest.approx(MEASURED["dynamic_energy_j"], rel=0.01)


def test_the_busiest_core_sets_the_step(pilotnet):
    """Halving a layer's cores doubles its per-core work: the step follows the layer whose
    core works longest."""
    activity, core_map, result = pilotnet
    assert result.busiest_layer == "conv4"
    from dataclasses import replace
    fewer = replace(core_map, layers=tuple(replace(layer, cores=1) if layer.name == "conv1" else layer
                                           for layer in core_map.layers))
    slower = estimate(LOIHI2, 16, 1, activity, fewer)
    assert slower.busiest_layer == "conv1" and slower.step_time_s[0] > 10 * result.step_time_s[0]
