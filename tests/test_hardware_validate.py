"""`validate` end to end: reports, exit codes, the CLI, unusable input and speed."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from neurodeploy.app.cli import main
from neurodeploy.core.encoding.schedule import FrameSchedule
from neurodeploy.core.errors import NeurodeployError
from neurodeploy.hardware import validate_file
from neurodeploy.hardware.profile import load_profile, profiles_dir
from neurodeploy.core.manifest import LayerInfo
from tests import netx_factory as nf

ROOT = Path(__file__).resolve().parents[1]
ACTIVITY = {"synaptic_ops_per_sample": 1.0e5, "neuron_updates_per_sample": 2.5e3, "spikes_per_sample": 400.0}
FOREIGN = ("conv_net", "pool_net", "recurrent_net", "delay_net", "sigma_delta_net")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A digits-like export with its manifest, and foreign exports without one."""
    folder = tmp_path_factory.mktemp("runs")
    digits = folder / "digits"
    digits.mkdir()
    net = nf.digits_like(digits / "model.net")
    nf.write_manifest(net, FrameSchedule(gap=2))
    foreign = {name: getattr(nf, name)(folder / f"{name}.net") for name in FOREIGN}
    foreign["average_net"] = nf.write_netx(folder / "average_net.net", [
        nf.dense_layer(np.full((6, 4), 2.0)), nf.raw_layer("average", [2])])
    return {"digits": net, **foreign}


def run_cli(args, capsys):
    """``neurodeploy`` in-process: (exit code, stdout, stderr)."""
    try:
        main(args)
        code = 0
    except SystemExit as stop:
        code = stop.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("hw", ["loihi1", "loihi2"])
def test_digits_export_is_deployable(runs, hw):
    report = validate_file(runs["digits"], hw)
    profile = load_profile(hw)
    assert report.manifest == str(runs["digits"].with_name("manifest.json"))
    assert report.verdict == "deployable" and report.exit_code == 0
    assert report.count("error") == report.count("warning") == 0
    assert (report.mapping.cores, report.mapping.chips) == (2, 1)
    summary = report.summary
    assert summary["steps_per_sample"] == 18
    assert summary["time_per_sample_s"] == pytest.approx(
        (18 * profile.timing.step_time_s.min, 18 * profile.timing.step_time_s.max))
    assert summary["energy_per_sample_j"] is None  # no activity given
    json.dumps(report.to_dict())


def test_energy_range_from_activity(runs):
    from neurodeploy.hardware.validate import validate
    from neurodeploy.core.manifest import Manifest
    from neurodeploy.core.netxfile import read_netx

    profile = load_profile("loihi1")
    manifest = Manifest.load(runs["digits"].with_name("manifest.json"))
    report = validate(read_netx(runs["digits"]), profile, manifest, ACTIVITY)
    energy = profile.energy
    low = (1e5 * energy.synaptic_op_j.min + 2.5e3 * energy.neuron_update_j.min + 400 * energy.spike_j.min
           + energy.static_power_w_per_chip.min * 18 * profile.timing.step_time_s.min)
    high = (1e5 * energy.synaptic_op_j.max + 2.5e3 * energy.neuron_update_j.max + 400 * energy.spike_j.max
            + energy.static_power_w_per_chip.max * 18 * profile.timing.step_time_s.max)
    assert report.estimate.energy_per_sample_j == pytest.approx((low, high))
    # Loihi 2: the same sum with its calibrated figures; the busiest core sets the step (without
    # a per-layer split, the totals are spread over layers by synapses and neurons, noted)
    loihi2_profile = load_profile("loihi2")
    loihi2 = validate(read_netx(runs["digits"]), loihi2_profile, manifest, ACTIVITY)
    energy = loihi2_profile.energy
    dynamic = tuple(1e5 * getattr(energy.synaptic_op_j, end) + 2.5e3 * getattr(energy.neuron_update_j, end)
                    + 400 * getattr(energy.spike_j, end) for end in ("min", "max"))
    assert loihi2.estimate.dynamic_energy_per_sample_j == pytest.approx(dynamic)
    assert loihi2.estimate.busiest_layer == "dense0"
    assert any("no per-layer activity" in note for note in loihi2.estimate.notes)
    with pytest.raises(NeurodeployError, match="missing key"):
        validate(read_netx(runs["digits"]), profile, manifest, {"spikes_per_sample": 1.0})


@pytest.mark.parametrize("name", [*FOREIGN, "average_net"])
@pytest.mark.parametrize("hw", ["loihi1", "loihi2"])
def test_foreign_netx_files_give_a_report(runs, name, hw):
    report = validate_file(runs[name], hw)
    assert report.manifest is None and report.by_check("timing.no_schedule")
    assert report.mapping.cores >= 1
    json.dumps(report.to_dict())
    unsupported = {f.layer for f in report.findings if f.check == "support.layer_type"}
    assert unsupported == {"pool_net": {"pool1"}, "average_net": {"average1"}}.get(name, set())
    expect_errors = bool(unsupported) or (name == "sigma_delta_net" and hw == "loihi1")
    assert report.exit_code == int(expect_errors)


def test_cli_table_json_and_exit_codes(runs, capsys):
    code, out, _ = run_cli(["validate", str(runs["digits"]), "--hw", "loihi1"], capsys)
    assert code == 0 and "DEPLOYABLE" in out and "dense0" in out and "2 cores" in out
    code, out, _ = run_cli(["validate", str(runs["pool_net"]), "--hw", "loihi1", "--json"], capsys)
    report = json.loads(out)
    assert code == 1 and report["verdict"] == "not deployable" and report["exit_code"] == 1
    assert {"severity", "layer", "check", "value", "limit", "source", "fix"} <= set(report["findings"][0])
    code, out, _ = run_cli(["profiles"], capsys)
    assert code == 0 and "loihi1" in out and "loihi2" in out and "uncertain" in out


def test_cli_activity_file_gives_energy(runs, tmp_path, capsys):
    activity = tmp_path / "metrics.json"
    activity.write_text(json.dumps({"accuracy": 0.9, "activity": ACTIVITY}))
    code, out, _ = run_cli(["validate", str(runs["digits"]), "--hw", "loihi1", "--activity", str(activity),
                            "--json"], capsys)
    low, high = json.loads(out)["summary"]["energy_per_sample_j"]
    assert code == 0 and 0 < low < high


def _profile_missing_key(tmp_path):
    text = (profiles_dir() / "loihi1.yaml").read_text().replace("  neurons_per_core:", "  neurons_per_cor:")
    path = tmp_path / "typo.yaml"
    path.write_text(text)
    return ["--hw", str(path)], "neurons_per_cor"


def _manifest(tmp_path, runs, **changes):
    folder = tmp_path / "run"
    folder.mkdir()
    net = folder / "model.net"
    net.write_bytes(runs["digits"].read_bytes())
    nf.write_manifest(net, **changes)
    return net


@pytest.mark.parametrize("case", [
    "missing_file", "not_hdf5", "not_netx", "profile_typo", "unknown_profile",
    "manifest_input_size", "manifest_layers", "manifest_steps", "manifest_plastic_layer",
])
def test_unusable_input_is_one_line_and_exit_2(runs, tmp_path, capsys, case):
    hw, expected = ["--hw", "loihi1"], None
    net = tmp_path / "model.net"
    if case == "missing_file":
        expected = "network file not found"
    elif case == "not_hdf5":
        net.write_text("hello")
        expected = "not an HDF5 file"
    elif case == "not_netx":
        import h5py
        with h5py.File(net, "w") as handle:
            handle.create_dataset("x", data=np.ones(2))
        expected = "no 'layer' group"
    elif case == "profile_typo":
        net = runs["digits"]
        hw, expected = _profile_missing_key(tmp_path)
    elif case == "unknown_profile":
        net, hw, expected = runs["digits"], ["--hw", "loihi9"], "unknown hardware profile 'loihi9'"
    elif case == "manifest_input_size":
        net, expected = _manifest(tmp_path, runs, port_shape=(100,)), "port_shape (100,) disagrees"
    elif case == "manifest_layers":
        layers = [LayerInfo("dense0", "dense", (128,)), LayerInfo("dense1", "dense", (11,))]
        net, expected = _manifest(tmp_path, runs, layers=layers), "layers (name, type, size)"
    elif case == "manifest_steps":
        net = _manifest(tmp_path, runs)
        manifest = net.with_name("manifest.json")
        data = json.loads(manifest.read_text())
        data["schedule"]["frame_steps"] = 30
        manifest.write_text(json.dumps(data))
        expected = "frame_steps=30 disagrees"
    elif case == "manifest_plastic_layer":
        net = _manifest(tmp_path, runs, dassdp={"layers": ["dense5"], "sigma": 1.0, "t_epoch": 6})
        expected = "dassdp.layers ['dense5']"
    code, out, err = run_cli(["validate", str(net), *hw], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: ") and expected in err


def test_subprocess_prints_no_traceback(runs, tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "neurodeploy.app.cli", *args], capture_output=True,
                              text=True, cwd=ROOT, timeout=120)

    missing = run("validate", str(tmp_path / "absent.net"), "--hw", "loihi1")
    pool = run("validate", str(runs["pool_net"]), "--hw", "loihi2")
    assert (missing.returncode, pool.returncode) == (2, 1)
    assert "Traceback" not in missing.stderr + pool.stderr + pool.stdout
    assert missing.stderr.strip().startswith("error: ") and "support.layer_type" in pool.stdout


def test_million_synapse_network_validates_in_under_5_seconds(tmp_path):
    spec = importlib.util.spec_from_file_location("validate_speed", ROOT / "benchmarks" / "validate_speed.py")
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    path = benchmark.build(tmp_path)
    start = time.perf_counter()
    report = validate_file(path, "loihi1")
    elapsed = time.perf_counter() - start
    synapses = sum(layer.synapses for layer in report.mapping.layers)
    assert synapses > 1_000_000 and report.verdict == "deployable"
    assert elapsed < 5.0, f"{elapsed:.2f} s"


def test_digits_with_a_learning_window_is_deployable_with_a_spike_warning(runs, tmp_path):
    net = _manifest(tmp_path, runs, dassdp={"enabled": True, "layers": ["dense1"], "t_epoch": 6, "sigma": 1.0})
    report = validate_file(net, "loihi1")
    assert report.exit_code == 0
    [warning] = [f for f in report.findings if f.severity == "warning"]
    assert (warning.check, warning.value) == ("timing.spikes_per_epoch", 5)
    plastic = validate_file(net, "loihi1").mapping.layers[1]
    assert plastic.usage["synapse_memory_bits"] > validate_file(runs["digits"], "loihi1").mapping.layers[1].usage[
        "synapse_memory_bits"]
