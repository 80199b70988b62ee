"""The emulator's contract without Lava: batching, refusals with clear errors, the CLI."""
import subprocess
import sys

import h5py
import numpy as np
import pytest

from neurodeploy.core.encoding import FrameSchedule
from neurodeploy.core.errors import NetworkFileError
from neurodeploy.backends.emulator.engine import emulate
from tests import netx_factory
from tests.conftest import write_config
from tests.random_nets import random_case

CLI = [sys.executable, "-m", "neurodeploy.app.cli"]


@pytest.mark.parametrize("seed", [4, 15, 57])
def test_batch_size_does_not_change_anything(tmp_path, seed):
    """Delay buffers and recurrent spikes carried across batches as across samples."""
    case = random_case(tmp_path, seed, samples=11)
    runs = [emulate(case.path, case.images, case.schedule, batch_size=size, record=True) for size in (1, 4, 256)]
    for run in runs[1:]:
        np.testing.assert_array_equal(run.output_counts, runs[0].output_counts)
        assert run.spikes_per_layer == runs[0].spikes_per_layer
        for name, trace in runs[0].recording.items():
            np.testing.assert_array_equal(run.recording[name].spikes, trace.spikes)
            np.testing.assert_array_equal(run.recording[name].voltage, trace.voltage)


def test_delays_of_zero_act_as_a_plain_dense_layer(tmp_path):
    """netx builds a DelayDense whenever the file has delays; with all of them 0 it must
    behave as Dense, across batches too."""
    weight = np.random.default_rng(0).integers(-100, 100, size=(5, 16))
    plain = netx_factory.write_netx(tmp_path / "plain.net", [netx_factory.dense_layer(weight)])
    delayed = netx_factory.write_netx(tmp_path / "zero.net", [netx_factory.dense_layer(weight, delay=np.zeros(5))])
    images = np.random.default_rng(1).integers(0, 256, size=(7, 1, 4, 4)).astype(np.uint8)
    expected = emulate(plain, images, FrameSchedule(gap=1), record=True)
    got = emulate(delayed, images, FrameSchedule(gap=1), batch_size=3, record=True)
    np.testing.assert_array_equal(got.recording["dense0"].voltage, expected.recording["dense0"].voltage)


def test_no_samples_give_empty_results(small_run):
    trained, _ = small_run
    result = emulate(trained.network_file, np.zeros((0, 1, 8, 8), np.uint8), trained.manifest.schedule)
    assert result.output_counts.shape == (0, 10) and len(result.predictions) == 0


def test_result_has_the_runner_fields(small_run):
    trained, _ = small_run
    schedule = trained.manifest.schedule
    result = emulate(trained.network_file, trained.split.test.images[:7], schedule)
    assert result.steps == 7 * schedule.frame_steps + 2
    assert result.output_counts.shape == (7, 10)
    assert set(result.spikes_per_layer) == {"dense0", "dense1"}
    assert result.recording is None
    np.testing.assert_array_equal(result.predictions, result.output_counts.argmax(axis=1))


def test_rate_codes_run_and_are_seeded(small_run):
    """The emulator encodes rate codes with ``encode``, seeded: the same seed, the same spikes."""
    trained, _ = small_run
    images = trained.split.test.images[:5]
    schedule = FrameSchedule(encoding="rate_bit", gap=2)
    first, again = (emulate(trained.network_file, images, schedule, seed=3) for _ in range(2))
    np.testing.assert_array_equal(first.output_counts, again.output_counts)


@pytest.mark.parametrize("builder, layer", [(netx_factory.pool_net, "pool1"),
                                            (netx_factory.sigma_delta_net, "input0")])
def test_unsupported_layers_are_refused_by_name(tmp_path, builder, layer):
    path = builder(tmp_path / "odd.net")
    with pytest.raises(NetworkFileError, match=rf"odd\.net: layer {layer}: .*the emulator runs input"):
        emulate(path, np.zeros((1, 2, 8, 8), np.uint8), FrameSchedule())


@pytest.mark.parametrize("layers, message", [
    ([netx_factory.conv_layer(np.ones((2, 1, 3, 3)), (2, 4, 4), padding=1), netx_factory.dense_layer(np.ones((3, 32)))],
     r"1 \(dense\): weight takes 32 inputs; netx connects it to the \(4, 4, 2\) output of conv0 \(without a flatten"),
    ([netx_factory.dense_layer(np.ones((3, 16)), netx_factory.cuba_neuron(vThMant=1.5))],
     r"dense0: neuron/vThMant is 1\.5; Lava's fixed-point neuron needs an integer"),
    ([netx_factory.dense_layer(np.ones((3, 16)), netx_factory.cuba_neuron(vDecay=5000))],
     r"dense0: neuron/vDecay=5000 is outside 0\.\.4096"),
    ([netx_factory.dense_layer(np.ones((3, 16)), netx_factory.cuba_neuron(type="SDNN"))],
     "dense0: neuron type 'SDNN' is not supported"),
    ([netx_factory.dense_layer(np.ones((3, 15)))], r"dense0: weight of shape \(3, 15\) does not map 16 inputs"),
    ([netx_factory.dense_layer(np.zeros((3, 16)))], r"0 \(dense\): weight is all zero once truncated to integers as netx reads it"),
    ([netx_factory.dense_layer(np.ones((3, 16)), delay=np.array([1, -1, 2]))], r"0 \(dense\): delay holds -1.0; delays are >= 0"),
])
def test_malformed_layers_are_refused_by_name(tmp_path, layers, message):
    path = netx_factory.write_netx(tmp_path / "bad.net", layers)
    with pytest.raises(NetworkFileError, match=rf"bad\.net: layer[ /]{message}"):  # the emulator's or the reader's
        emulate(path, np.zeros((1, 1, 4, 4), np.uint8), FrameSchedule())


def test_a_file_that_is_not_hdf5_is_refused(tmp_path):
    path = tmp_path / "text.net"
    path.write_text("not a network")
    with pytest.raises(NetworkFileError, match="text.net: not an HDF5 file"):
        emulate(path, np.zeros((1, 1, 4, 4), np.uint8), FrameSchedule())


@pytest.mark.timeout(120)
@pytest.mark.parametrize("command", [["simulate", "--backend", "emulator"], ["parity"]])
def test_cli_refuses_an_unsupported_file_in_one_line(tmp_path, small_run, command):
    _, config = small_run
    path = netx_factory.pool_net(tmp_path / "pool.net")
    done = subprocess.run([*CLI, *command, str(path), "--config", str(config), "-n", "2"],
                          capture_output=True, text=True, timeout=110)
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "layer pool1" in lines[0] and "Traceback" not in done.stderr


@pytest.mark.timeout(240)
def test_cli_simulate_with_the_emulator_matches_lava(tmp_path, small_run):
    from neurodeploy.core.netxfile import read_netx
    from neurodeploy.app.pipeline import InputRequest, simulation_inputs
    from neurodeploy.backends.lavasim.runner import run_on_lava as simulate

    trained, _ = small_run
    out = tmp_path / "emulated.json"
    done = subprocess.run([*CLI, "simulate", str(trained.network_file), "--backend", "emulator", "-n", "12",
                           "--json", str(out)], capture_output=True, text=True, timeout=200)
    assert done.returncode == 0, done.stderr
    import json

    metrics = json.loads(out.read_text())
    inputs, _ = simulation_inputs(read_netx(trained.network_file), InputRequest(samples=12))
    lava = simulate(trained.network_file, inputs, timeout_s=120)
    assert metrics["backend"] == "emulator" and metrics["samples"] == 12
    assert metrics["accuracy"] == lava.accuracy(inputs.labels)
    assert metrics["spikes_per_sample"] == lava.spikes_per_layer


def test_cli_config_names_data_when_there_is_no_manifest(tmp_path, small_run):
    trained, config = small_run
    copy = tmp_path / "alone.net"
    copy.write_bytes(trained.network_file.read_bytes())
    other = write_config(tmp_path, {"name": "x", "data": {"dataset": "digits"}, "model": {"hidden": [32]}})
    done = subprocess.run([*CLI, "simulate", str(copy), "--backend", "emulator", "-c", str(other), "-n", "3"],
                          capture_output=True, text=True, timeout=110)
    assert done.returncode == 0, done.stderr


def test_bias_beyond_int16_wraps_as_in_lava(tmp_path):
    """netx hands the bias to an int16 ``bias_mant``: 40000 becomes -25536."""
    weight = np.ones((2, 4))
    path = netx_factory.write_netx(tmp_path / "bias.net", [
        netx_factory.dense_layer(weight, netx_factory.cuba_neuron(vThMant=(1 << 17) - 1), bias=np.array([40000, 100]))])
    with h5py.File(path) as handle:
        assert handle["layer/0/bias"][0] == 40000
    result = emulate(path, np.zeros((1, 1, 2, 2), np.uint8), FrameSchedule(gap=1), record=True)
    voltage = result.recording["dense0"].voltage[0, 0]
    assert voltage.tolist() == [(40000 - 65536) << 6, 100 << 6]
