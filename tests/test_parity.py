"""The parity report: comparisons of recorded traces, a mismatch injected into a copy of a
``.net`` found at its layer and step, torch joining only with an explicit checkpoint, the CLI's JSON."""
import json
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest

from neurodeploy.training.checkpoint import checkpoint_network
from neurodeploy.core.netxfile import read_netx
from neurodeploy.app.pipeline import InputRequest, simulation_inputs
from neurodeploy.app.parity import divergences, parity_report, torch_traces
from neurodeploy.core.trace import LayerTrace

LAVA_TIMEOUT_S = 120


def test_compare_finds_the_first_differing_step_sample_and_voltage():
    spikes = np.zeros((3, 6, 4), dtype=bool)
    other = spikes.copy()
    other[2, 3, 1] = other[1, 4, 0] = True
    voltage = np.zeros((3, 6, 4), dtype=np.int64)
    drifted = voltage.copy()
    drifted[0, 5, 2] = -7
    (layer,) = divergences({"dense1": LayerTrace(2, spikes, voltage)}, {"dense1": LayerTrace(2, other, drifted)})
    assert (layer.differing, layer.samples, layer.compared) == (2, 2, 72)
    assert (layer.first_step, layer.first_sample) == (3 + 2, 2)
    assert (layer.voltage_differing, layer.voltage_max_abs, layer.voltage_first_step) == (1, 7, 5 + 2)


def test_compare_covers_the_steps_both_traces_have_and_skips_missing_voltages():
    full = np.zeros((2, 5, 3), dtype=bool)
    full[0, 4, 0] = True                      # the drain tail: torch does not simulate it
    (layer,) = divergences({"conv0": LayerTrace(1, full[:, :4].copy())}, {"conv0": LayerTrace(1, full)})
    assert layer.identical and layer.compared == 24 and layer.voltage_differing is None


def _copy_run(source, folder):
    folder.mkdir()
    for name in ("model.net", "manifest.json", "checkpoint.pt"):
        if (source / name).exists():
            shutil.copy(source / name, folder / name)
    return folder / "model.net"


@pytest.mark.timeout(300)
def test_an_injected_threshold_is_found_at_its_layer_and_step(tmp_path, small_run):
    """dense1's threshold raised past any voltage in a copy of the .net: torch (from the
    checkpoint) still spikes there, the emulator and Lava do not; the first difference
    is dense1's first spike in torch, and dense0 agrees everywhere."""
    trained, _ = small_run
    copy = _copy_run(trained.run_dir, tmp_path / "tampered")
    with h5py.File(copy, "r+") as handle:
        handle["layer/1/neuron/vThMant"][()] = (1 << 17) - 1
    inputs, _ = simulation_inputs(read_netx(copy), InputRequest(samples=10))
    report = parity_report(copy, inputs, timeout_s=LAVA_TIMEOUT_S, checkpoint=copy.parent / "checkpoint.pt")

    original, _ = torch_traces(checkpoint_network(trained.run_dir / "checkpoint.pt")[0], inputs)
    dense1 = original["dense1"]
    fires = dense1.spikes.any(axis=2)
    expected_step = int(np.flatnonzero(fires.any(axis=0))[0])
    torch_vs_emulator = report.comparison("torch", "emulator")
    assert torch_vs_emulator.first_divergence.layer == "dense1"
    dense0, tampered = torch_vs_emulator.layers
    assert dense0.identical
    assert tampered.first_step == expected_step + dense1.hops
    assert tampered.first_sample == int(np.flatnonzero(fires[:, expected_step])[0])
    assert tampered.differing == int(dense1.spikes.sum())
    assert report.emulator_exact
    assert report.comparison("torch", "lava").first_divergence.layer == "dense1"


@pytest.mark.timeout(240)
def test_torch_joins_only_when_a_checkpoint_is_given(tmp_path, small_run):
    """The checkpoint.pt beside the network is not read unless asked for (a data file
    handed over with a .net is not trusted by being there)."""
    trained, _ = small_run
    copy = _copy_run(trained.run_dir, tmp_path / "alone")
    assert (copy.parent / "checkpoint.pt").exists()
    inputs, _ = simulation_inputs(read_netx(copy), InputRequest(samples=3))
    report = parity_report(copy, inputs, timeout_s=LAVA_TIMEOUT_S)
    assert "no training checkpoint given" in report.torch_unavailable
    assert [(c.reference, c.other) for c in report.comparisons] == [("emulator", "lava")]
    assert report.emulator_exact and set(report.accuracy) == {"emulator", "lava"}


@pytest.mark.timeout(240)
def test_cli_parity_prints_and_writes_json(tmp_path, small_run):
    trained, _ = small_run
    out = tmp_path / "parity.json"
    done = subprocess.run([sys.executable, "-m", "neurodeploy.app.cli", "parity", str(trained.network_file),
                           "-n", "4", "--json", str(out), "--checkpoint", str(trained.run_dir / "checkpoint.pt")],
                          capture_output=True, text=True, timeout=220)
    assert done.returncode == 0, done.stderr
    assert "emulator and Lava agree exactly" in done.stdout
    report = json.loads(out.read_text())
    assert report["emulator_exact"] and report["samples"] == 4
    pairs = [(c["reference"], c["other"]) for c in report["comparisons"]]
    assert pairs == [("torch", "emulator"), ("emulator", "lava"), ("torch", "lava")]
    emulator_vs_lava = report["comparisons"][1]
    assert emulator_vs_lava["first_divergence"] is None and emulator_vs_lava["prediction_agreement"] == 1.0
