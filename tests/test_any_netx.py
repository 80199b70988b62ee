"""Networks the toolkit did not make, fed inputs it did not encode: emulator == Lava.

Files come from lava-dl's own ``export_hdf5`` (``slayer.block.cuba.Input`` with its neuron,
``Dense``, ``Conv``) and from h5py by hand with a shape-only input layer. Each is driven
by random spikes or, for netx's Input block, random biases, through the public API and
through the CLI with nothing beside the ``.net``; every spike and voltage of every block
at every step must be equal on both backends.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import neurodeploy as nd
from neurodeploy.core.blocks import NetworkTiming
from neurodeploy.core.errors import InputError
from tests import netx_factory
from tests.emulator_paths import PATHS

LAVA_TIMEOUT_S = 120
CLI = [sys.executable, "-m", "neurodeploy.app.cli"]
#: slayer's CUBA neuron with a low threshold, so random drives make every layer fire.
EAGER = {**netx_factory.CUBA_PARAMS, "threshold": 0.5}


def input_dense_net(path: Path, seed: int = 0) -> Path:
    """lava-dl's cuba.Input(neuron) 20 -> Dense 20 -> 12 -> Dense 12 -> 5."""
    slayer = netx_factory._slayer(seed)
    blocks = [slayer.block.cuba.Input(EAGER), slayer.block.cuba.Dense(EAGER, 20, 12, weight_scale=4),
              slayer.block.cuba.Dense(EAGER, 12, 5, weight_scale=4)]
    return netx_factory.export_blocks(path, blocks, netx_factory._spikes(3, 20, 8))


def input_conv_net(path: Path, seed: int = 0) -> Path:
    """lava-dl's cuba.Input(neuron) on 2x6x8, Conv 2 -> 3 (3x3, stride 2, pad 1), Flatten, Dense 36 -> 4."""
    slayer = netx_factory._slayer(seed)
    blocks = [slayer.block.cuba.Input(EAGER),
              slayer.block.cuba.Conv(EAGER, 2, 3, 3, stride=2, padding=1, weight_scale=4),
              slayer.block.cuba.Flatten(), slayer.block.cuba.Dense(EAGER, 3 * 3 * 4, 4, weight_scale=4)]
    return netx_factory.export_blocks(path, blocks, netx_factory._spikes(2, 2, 6, 8, 8))


def shape_only_input_net(path: Path) -> Path:
    """By hand with h5py: a shape-only input layer of 16, dense 16 -> 10 -> 200 (a regression-style output)."""
    rng = np.random.default_rng(3)
    return netx_factory.write_netx(path, [
        netx_factory.raw_layer("input", [16]),
        netx_factory.dense_layer(rng.integers(-60, 90, size=(10, 16)), netx_factory.cuba_neuron(vThMant=60)),
        netx_factory.dense_layer(rng.integers(-60, 90, size=(200, 10)), netx_factory.cuba_neuron(vThMant=40))])


def random_spikes(samples: int, steps: int, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((samples, steps, *shape)) < 0.3


def random_bias(samples: int, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 40, size=(samples, *shape))


def assert_backends_equal(network, inputs, **plan) -> nd.SimulationResult:
    """Every block's spikes and voltages on every step, and the output counts, are equal."""
    lava = nd.simulate(network, inputs, backend="lava", record=True, timeout_s=LAVA_TIMEOUT_S, **plan)
    for arithmetic, context in PATHS.items():  # events, product + compiled loop, the GPU's torch path
        with context():
            emulated = nd.simulate(network, inputs, backend="emulator", record=True, **plan)
        assert list(emulated.recording) == list(lava.recording)
        for name, trace in lava.recording.items():
            mine = emulated.recording[name]
            np.testing.assert_array_equal(mine.spikes, trace.spikes, err_msg=f"{arithmetic}: {name} spikes")
            np.testing.assert_array_equal(mine.voltage, trace.voltage, err_msg=f"{arithmetic}: {name} voltages")
        np.testing.assert_array_equal(emulated.output_counts, lava.output_counts, err_msg=arithmetic)
        assert emulated.spikes_per_layer == lava.spikes_per_layer, arithmetic
        assert emulated.steps == lava.steps
    return lava


@pytest.mark.timeout(300)
@pytest.mark.lava
def test_lava_dl_input_block_with_neuron_driven_by_biases(tmp_path):
    network = nd.load_network(input_dense_net(tmp_path / "input_dense.net"))
    timing = NetworkTiming.of(network, 12)
    assert [(block.name, block.hops) for block in timing.blocks] == [("input0", 0), ("dense1", 1), ("dense2", 2)]
    lava = assert_backends_equal(network, nd.BiasInput(random_bias(5, (20,)), steps=12))
    assert all(spikes > 0 for spikes in lava.spikes_per_layer.values()), lava.spikes_per_layer


@pytest.mark.timeout(300)
@pytest.mark.lava
def test_lava_dl_input_block_before_a_conv_driven_by_biases(tmp_path):
    network = nd.load_network(input_conv_net(tmp_path / "input_conv.net"))
    bias = random_bias(3, (2, 6, 8), seed=1)  # CHW; the Input block's neurons are WHC 8x6x2
    lava = assert_backends_equal(network, nd.BiasInput(bias, steps=10))
    assert lava.spikes_per_layer["conv1"] > 0


@pytest.mark.timeout(300)
@pytest.mark.lava
def test_lava_dl_dense_and_conv_exports_driven_by_spikes(tmp_path):
    dense = nd.load_network(netx_factory.digits_like(tmp_path / "dense.net"))
    assert_backends_equal(dense, nd.SpikeInput(random_spikes(4, 10, (64,))))
    conv = nd.load_network(netx_factory.conv_net(tmp_path / "conv.net"))
    assert_backends_equal(conv, nd.SpikeInput(random_spikes(3, 9, (2, 8, 10), seed=2)))


@pytest.mark.timeout(300)
@pytest.mark.parametrize("plan", [{}, {"reset": False}, {"reset_interval": 5}])
@pytest.mark.lava
def test_shape_only_input_layer_on_every_reset_plan(tmp_path, plan):
    """The counters and the emulator name and count every block (the input layer builds none)."""
    network = nd.load_network(shape_only_input_net(tmp_path / "by_hand.net"))
    lava = assert_backends_equal(network, nd.SpikeInput(random_spikes(4, 8, (16,), seed=4)), **plan)
    assert list(lava.spikes_per_layer) == ["dense1", "dense2"]
    assert lava.output_counts.shape == (4, 200)


@pytest.mark.lava
def test_spikes_into_an_input_block_are_refused_before_lava_starts(tmp_path):
    network = nd.load_network(input_dense_net(tmp_path / "input_dense.net"))
    for backend in ("lava", "emulator"):
        with pytest.raises(InputError, match="input0 is netx's Input block with a neuron.*--bias"):
            nd.simulate(network, nd.SpikeInput(random_spikes(1, 4, (20,))), backend=backend)


@pytest.mark.timeout(300)
@pytest.mark.lava
def test_cli_simulate_spikes_with_nothing_beside_the_net(tmp_path):
    """A regression-style network with no labels: counts and rates, not accuracy; both
    backends write the same counts and the same output spikes."""
    net = shape_only_input_net(tmp_path / "alone.net")
    spikes = tmp_path / "x.npy"
    np.save(spikes, random_spikes(3, 16, (16,), seed=5).astype(np.uint8))
    saved = {}
    for backend in ("lava", "emulator"):
        out, metrics = tmp_path / f"{backend}.npz", tmp_path / f"{backend}.json"
        done = subprocess.run([*CLI, "simulate", str(net), "--spikes", str(spikes), "--steps", "16",
                               "--reset-interval", "16", "--backend", backend, "--json", str(metrics),
                               "--save-output", str(out)], capture_output=True, text=True, timeout=200)
        assert done.returncode == 0, done.stderr
        assert "accuracy" not in done.stdout and "no labels" in done.stdout
        data = json.loads(metrics.read_text())
        assert "accuracy" not in data and data["samples"] == 3 and data["input"] == "spikes"
        saved[backend] = np.load(out)
    np.testing.assert_array_equal(saved["lava"]["output_counts"], saved["emulator"]["output_counts"])
    np.testing.assert_array_equal(saved["lava"]["output_spikes"], saved["emulator"]["output_spikes"])
    assert saved["emulator"]["output_spikes"].shape == (3, 16 - 2, 200)


@pytest.mark.timeout(300)
@pytest.mark.lava
def test_cli_simulate_biases_with_labels(tmp_path):
    net = input_dense_net(tmp_path / "input_dense.net")
    arrays = tmp_path / "bias.npz"
    np.savez(arrays, bias=random_bias(4, (20,), seed=6), labels=np.array([0, 1, 2, 3]))
    results = []
    for backend in ("lava", "emulator"):
        metrics = tmp_path / f"{backend}.json"
        done = subprocess.run([*CLI, "simulate", str(net), "--bias", str(arrays), "--steps", "12",
                               "--backend", backend, "--json", str(metrics)], capture_output=True, text=True,
                              timeout=200)
        assert done.returncode == 0, done.stderr
        results.append(json.loads(metrics.read_text()))
    assert "accuracy" in results[0] and results[0]["accuracy"] == results[1]["accuracy"]
    assert results[0]["spikes_per_sample"] == results[1]["spikes_per_sample"]


@pytest.mark.parametrize("array, message", [
    (np.zeros((3, 16)), r"spikes of shape \(3, 16\); expected \(N, T, \*input_shape\)"),
    (np.full((2, 4, 16), 2), "spikes hold 2; expected only 0 and 1"),
    (np.full((2, 4, 16), np.nan), "NaN"),
    (np.zeros((2, 4, 15), bool), r"expected \(N, T, 16\)"),
    (np.array([["a"]]), "dtype <U1|spikes of shape"),
])
def test_cli_bad_spike_arrays_are_one_line(tmp_path, array, message):
    net = shape_only_input_net(tmp_path / "alone.net")
    spikes = tmp_path / "bad.npy"
    np.save(spikes, array)
    done = subprocess.run([*CLI, "simulate", str(net), "--spikes", str(spikes), "--backend", "emulator"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "bad.npy" in done.stderr or "alone.net" in done.stderr
    assert __import__("re").search(message, done.stderr), done.stderr


@pytest.mark.lava
def test_each_command_reads_the_net_once(tmp_path, monkeypatch):
    """``nd.simulate`` on Lava and on the emulator, and ``nd.validate``, given a path, open it once."""
    import builtins

    import h5py

    path = shape_only_input_net(tmp_path / "once.net")
    opened = []
    real_open, real_h5 = builtins.open, h5py.File

    def counting_open(file, *args, **kwargs):
        if str(file) == str(path):
            opened.append("open")
        return real_open(file, *args, **kwargs)

    def counting_h5(name, *args, **kwargs):
        if str(name) == str(path):
            opened.append("h5py")
        return real_h5(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", counting_open)
    monkeypatch.setattr(h5py, "File", counting_h5)
    spikes = nd.SpikeInput(random_spikes(2, 6, (16,)))
    for call in (lambda: nd.simulate(path, spikes, backend="emulator"),
                 lambda: nd.simulate(path, spikes, backend="lava", timeout_s=LAVA_TIMEOUT_S),
                 lambda: nd.validate(path, "loihi2")):
        opened.clear()
        call()
        assert opened == ["open"], opened


@pytest.mark.timeout(300)
def test_rate_codes_on_lava_see_the_emulators_spikes(small_run):
    """Lava's generator emits only deterministic codes; the runner plays the emulator's
    seeded rate spikes, so both backends agree on every spike."""
    trained, _ = small_run
    inputs = nd.ImageInput(trained.split.test.images[:5], nd.FrameSchedule(encoding="rate_bit", gap=2), seed=7)
    assert_backends_equal(trained.read_network(), inputs)
