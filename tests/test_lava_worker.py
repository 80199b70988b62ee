"""The Lava backend driven from another interpreter (``NEURODEPLOY_LAVA_PYTHON``).

In the Lava leg the worker runs this very python: what comes back must equal the
in-process runner's result bit for bit, for every kind of input and every run option, and a
worker's NeurodeployError must come back as the same line. A worker that dies, hangs or
cannot be found is one line, with a fake python (both legs). The core leg, where Lava is not
installed, runs the CLI against the Lava leg's venv when it exists beside the checkout.
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import neurodeploy as nd
from neurodeploy.app.cli import main
from neurodeploy.backends import installed_names
from neurodeploy.backends.lavasim import worker
from neurodeploy.core.errors import InputError, NeurodeployError, SimulationError, shown
from neurodeploy.core.netxfile import read_netx

REPO = Path(__file__).resolve().parents[1]
SLAYER = REPO / "tests" / "fixtures" / "slayer"
VARIABLE = "NEURODEPLOY_LAVA_PYTHON"
LAVA_TIMEOUT_S = 120
#: The Lava leg's venv, which the core leg's worker runs when it exists (CI: after the Lava leg).
LAVA_VENV_PYTHON = REPO / ".venv" / "bin" / "python"


def both(network, inputs, **options):
    """The worker's result (this python) and the in-process runner's, for the same call."""
    from neurodeploy.backends.lavasim.runner import run_on_lava

    far = worker.run_in_worker(sys.executable, network, inputs, timeout_s=LAVA_TIMEOUT_S, **options)
    near = run_on_lava(network, inputs, timeout_s=LAVA_TIMEOUT_S, record_layers=options.pop("record", False),
                       **options)
    return far, near


def assert_identical(far: nd.SimulationResult, near: nd.SimulationResult) -> None:
    """Every field but the wall time (each run's own), arrays with their dtypes."""
    for name in ("backend", "spikes_per_layer", "neurons_per_layer", "frame_steps", "steps", "extra"):
        assert getattr(far, name) == getattr(near, name), name
    assert list(far.spikes_per_layer) == list(near.spikes_per_layer)
    assert far.output_counts.dtype == near.output_counts.dtype
    np.testing.assert_array_equal(far.output_counts, near.output_counts)
    assert (far.output_spikes is None) == (near.output_spikes is None)
    if near.output_spikes is not None:
        assert far.output_spikes.dtype == near.output_spikes.dtype
        np.testing.assert_array_equal(far.output_spikes, near.output_spikes)
    assert (far.recording is None) == (near.recording is None)
    if near.recording is not None:
        assert list(far.recording) == list(near.recording)
        for name, trace in near.recording.items():
            mine = far.recording[name]
            assert mine.hops == trace.hops, name
            assert mine.spikes.dtype == trace.spikes.dtype and mine.voltage.dtype == trace.voltage.dtype, name
            np.testing.assert_array_equal(mine.spikes, trace.spikes, err_msg=f"{name} spikes")
            np.testing.assert_array_equal(mine.voltage, trace.voltage, err_msg=f"{name} voltages")


def images(samples: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(samples, 1, 8, 8), dtype=np.uint8)


@pytest.mark.lava
def test_images_with_their_schedule_labels_seed_and_offset_recorded():
    network = read_netx(SLAYER / "digits_like.net")
    schedule = nd.FrameSchedule("temporal_bit", temporal_steps=6, drop_lsb=4, steps_per_plane=2, order="lsb_first",
                                plane_fill="full", gap=network.hops)
    inputs = nd.ImageInput(images(3), schedule, seed=4, labels=np.array([1, 0, 7]), first=2)
    far, near = both(network, inputs, record=True, keep_output=True)
    assert_identical(far, near)
    assert near.output_counts.sum() > 0 and near.steps == 3 * schedule.frame_steps + network.hops


@pytest.mark.lava
def test_a_rate_code_draws_the_same_spikes_per_seed_and_sample_in_the_worker():
    network = read_netx(SLAYER / "digits_like.net")
    schedule = nd.FrameSchedule("rate_bit", temporal_steps=8, drop_lsb=5, gap=network.hops)
    inputs = nd.ImageInput(images(3, seed=1), schedule, seed=5, first=2)
    far, near = both(network, inputs, keep_output=True, reset=False)
    assert_identical(far, near)
    # The draw depends on (seed, sample): had the worker drawn from (0, 0) it would differ.
    other = nd.simulate(network, replace(inputs, seed=0, first=0), backend="emulator", keep_output=True, reset=False)
    assert not np.array_equal(other.output_spikes, far.output_spikes)


@pytest.mark.lava
def test_spikes_on_a_conv_net_recorded_with_a_reset_interval():
    network = read_netx(SLAYER / "conv_net.net")
    spikes = np.random.default_rng(2).random((2, 9, 2, 8, 10)) < 0.3
    far, near = both(network, nd.SpikeInput(spikes, labels=np.array([0, 1])), record=True, reset_interval=4)
    assert_identical(far, near)
    assert any(near.spikes_per_layer.values())


@pytest.mark.lava
def test_biases_into_netx_input_block(tmp_path):
    from tests.test_any_netx import input_dense_net, random_bias

    network = read_netx(input_dense_net(tmp_path / "input_dense.net"))
    far, near = both(network, nd.BiasInput(random_bias(3, (20,)), steps=7), record=True, keep_output=True)
    assert_identical(far, near)
    assert all(spikes > 0 for spikes in near.spikes_per_layer.values()), near.spikes_per_layer


@pytest.mark.lava
def test_an_error_in_the_worker_comes_back_as_the_same_line(capsys):
    from neurodeploy.backends.lavasim.runner import run_on_lava

    network = read_netx(SLAYER / "digits_like.net")
    wrong = nd.SpikeInput(np.zeros((2, 5, 30), dtype=bool))
    with pytest.raises(InputError) as here:
        run_on_lava(network, wrong, timeout_s=LAVA_TIMEOUT_S)
    with pytest.raises(InputError) as there:
        worker.run_in_worker(sys.executable, network, wrong, timeout_s=LAVA_TIMEOUT_S)
    assert str(there.value) == str(here.value) and "digits_like.net" in str(here.value)
    assert "Traceback" not in capsys.readouterr().err


@pytest.fixture
def lava_hidden(monkeypatch):
    """This process cannot find Lava (as on the core install); the worker's python still can."""
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, package=None: None if name.partition(".")[0] == "lava" else real(name, package))


@pytest.mark.lava
def test_parity_on_the_cli_runs_lava_in_the_worker_where_lava_is_missing(lava_hidden, monkeypatch, tmp_path):
    calls = []
    original = worker.run_in_worker

    def spy(python, *args, **options):
        calls.append(python)
        return original(python, *args, **options)

    monkeypatch.setattr(worker, "run_in_worker", spy)
    monkeypatch.setenv(VARIABLE, sys.executable)
    spikes = tmp_path / "spikes.npy"
    np.save(spikes, np.random.default_rng(3).random((3, 10, 64)) < 0.3)
    main(["parity", str(SLAYER / "digits_like.net"), "--spikes", str(spikes), "--json", str(tmp_path / "p.json")])
    assert calls == [sys.executable]  # exit 0 above: the emulator here and Lava there agree on every spike
    assert json.loads((tmp_path / "p.json").read_text())["emulator_exact"] is True


@pytest.mark.parametrize("argv", [["simulate", "missing.net"], ["simulate", "missing.net", "--backend", "lava"],
                                  ["parity", "missing.net"]])
def test_a_variable_that_names_no_executable_is_one_line_before_anything_is_read(lava_hidden, monkeypatch, tmp_path,
                                                                                   capsys, argv):
    not_executable = tmp_path / "python3.10"
    not_executable.write_text("#!/bin/sh\n")
    for value in (str(tmp_path / "nowhere" / "python"), str(not_executable)):
        monkeypatch.setenv(VARIABLE, value)
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err.splitlines() == [
            f"error: {VARIABLE}={shown(value)}: no executable file of that name; expected the python of an environment "
            f"with neurodeploy[lava] installed"]
    with pytest.raises(NeurodeployError, match=f"^{VARIABLE}="):
        nd.simulate(SLAYER / "missing.net", np.zeros((1, 2, 64), dtype=bool), backend="lava")


def test_without_lava_or_the_variable_the_line_names_both(lava_hidden, monkeypatch, capsys):
    monkeypatch.delenv(VARIABLE, raising=False)
    with pytest.raises(SystemExit):
        main(["simulate", "missing.net"])
    line, = capsys.readouterr().err.splitlines()
    assert line.endswith(f"install on no other), or set {VARIABLE} to the python of an environment that has it; "
                         f"--backend emulator runs without it"), line
    assert installed_names() == ("emulator",)
    monkeypatch.setenv(VARIABLE, "python3")
    assert installed_names() == ("emulator", "lava")


def fake_python(folder: Path, body: str) -> Path:
    path = folder / "python"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def test_a_worker_that_dies_is_one_line_naming_its_python_and_last_words(tmp_path, capsys):
    python = fake_python(tmp_path, "echo 'starting up' >&2\necho \"No module named 'lava'\" >&2\necho >&2\nexit 3\n")
    network = read_netx(SLAYER / "digits_like.net")
    with pytest.raises(NeurodeployError) as error:
        worker.run_in_worker(str(python), network, nd.SpikeInput(np.zeros((1, 4, 64), dtype=bool)))
    assert str(error.value) == f"the Lava worker ({python}) exited with code 3: No module named 'lava'"
    assert capsys.readouterr().err == "starting up\nNo module named 'lava'\n\n"  # passed through as it came


def test_a_worker_past_its_time_is_stopped_with_every_process_it_started(tmp_path, monkeypatch):
    pid_file = tmp_path / "sleeper.pid"
    python = fake_python(tmp_path, f"sleep 300 &\necho $! > {pid_file}\nwait\n")  # the sleeper ignores SIGINT
    monkeypatch.setattr(worker, "START_MARGIN_S", 0.0)
    monkeypatch.setattr(worker, "STOP_GRACE_S", 0.5)
    began = time.monotonic()
    with pytest.raises(SimulationError, match=r"did not finish within 0\.5 s .* were stopped"):
        worker.run_in_worker(str(python), read_netx(SLAYER / "digits_like.net"),
                             nd.SpikeInput(np.zeros((1, 4, 64), dtype=bool)), timeout_s=0.5)
    assert time.monotonic() - began < 10
    sleeper = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while _alive(sleeper) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(sleeper)


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper has stopped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


@pytest.mark.skipif(importlib.util.find_spec("lava") is not None or not LAVA_VENV_PYTHON.exists(),
                    reason="the core leg (no Lava here) with the Lava leg's venv at .venv beside it")
def test_the_core_install_simulates_on_lava_in_the_lava_venv(tmp_path):
    """``neurodeploy simulate`` (Lava, the default) from this Lava-less python, Lava in
    ``.venv``'s: the same output spikes as the emulator here."""
    network = SLAYER / "digits_like.net"
    spikes = np.random.default_rng(4).random((4, 12, 64)) < 0.3
    np.save(tmp_path / "spikes.npy", spikes)
    done = subprocess.run([sys.executable, "-m", "neurodeploy.app.cli", "simulate", str(network), "--spikes",
                           str(tmp_path / "spikes.npy"), "--save-output", str(tmp_path / "lava.npz")],
                          capture_output=True, text=True, timeout=300, env={**os.environ, VARIABLE: str(LAVA_VENV_PYTHON)})
    assert done.returncode == 0, done.stderr
    lava = np.load(tmp_path / "lava.npz")
    emulated = nd.simulate(network, nd.SpikeInput(spikes), backend="emulator", keep_output=True)
    assert lava["output_counts"].sum() > 0
    np.testing.assert_array_equal(lava["output_counts"], emulated.output_counts)
    np.testing.assert_array_equal(lava["output_spikes"], emulated.output_spikes)
