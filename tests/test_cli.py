"""Bad input through the real command line: one line, exit code 2, no traceback, no output."""
import subprocess
import sys

import h5py
import numpy as np
import pytest
import yaml

from tests.conftest import SMALL_RUN


def neurodeploy(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "neurodeploy.app.cli", *args], capture_output=True,
                          text=True, timeout=240, cwd=cwd)


def assert_one_line_error(result: subprocess.CompletedProcess, *needles: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


#: train or run, which need Lava (the Lava leg), and check, which reads the config the same way (both legs).
TRAIN_OR_CHECK = [pytest.param("train", marks=pytest.mark.lava), "check"]
RUN_OR_CHECK = [pytest.param("run", marks=pytest.mark.lava), "check"]


def _config(tmp_path, **sections):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({**SMALL_RUN, "output": str(tmp_path / "run"), **sections}))
    return path


def test_help_lists_the_commands():
    result = neurodeploy("--help")
    assert result.returncode == 0
    for command in ("train", "export", "simulate", "run"):
        assert command in result.stdout


def test_missing_network_file(tmp_path):
    assert_one_line_error(neurodeploy("simulate", str(tmp_path / "nope.net"), "--backend", "emulator"), "nope.net", "not found")


def test_network_file_that_is_not_hdf5(tmp_path):
    path = tmp_path / "text.net"
    path.write_text("hello")
    assert_one_line_error(neurodeploy("simulate", str(path), "--backend", "emulator"), "text.net", "not an HDF5 file")


def test_network_file_without_layers(tmp_path):
    path = tmp_path / "empty.net"
    with h5py.File(path, "w") as handle:
        handle.create_dataset("something", data=np.zeros(3))
    assert_one_line_error(neurodeploy("simulate", str(path), "--backend", "emulator"), "empty.net", "no 'layer' group")


@pytest.mark.parametrize("command", TRAIN_OR_CHECK)
def test_config_with_an_unknown_key(tmp_path, command):
    path = _config(tmp_path, trainn={"epochs": 1})
    assert_one_line_error(neurodeploy(command, str(path)), "config.yaml", "unknown key 'trainn'")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("command", RUN_OR_CHECK)
def test_config_with_a_wrong_type(tmp_path, command):
    path = _config(tmp_path, train={"epochs": "many"})
    assert_one_line_error(neurodeploy(command, str(path)), "train.epochs", "'many'")


@pytest.mark.parametrize("command", TRAIN_OR_CHECK)
def test_missing_data_path(tmp_path, command):
    path = _config(tmp_path, data={"dataset": "mnist", "path": str(tmp_path / "mnist")})
    assert_one_line_error(neurodeploy(command, str(path)), "mnist: folder not found")
    assert not (tmp_path / "run" / "model.net").exists()


@pytest.mark.parametrize("dtype_code, shape, message", [
    (0x0B, (2, 4, 4), "not an unsigned-byte IDX"),   # int16 images: wrong dtype
    (0x08, (2, 16), "expected (N, H, W)"),           # rank 2 images: wrong rank
])
@pytest.mark.parametrize("command", TRAIN_OR_CHECK)
def test_images_of_the_wrong_dtype_or_rank(tmp_path, dtype_code, shape, message, command):
    folder = tmp_path / "mnist"
    folder.mkdir()
    header = bytes([0, 0, dtype_code, len(shape)]) + np.asarray(shape, ">u4").tobytes()
    (folder / "train-images-idx3-ubyte").write_bytes(header + bytes(int(np.prod(shape)) * (2 if dtype_code == 0x0B else 1)))
    labels = bytes([0, 0, 8, 1]) + np.asarray([2], ">u4").tobytes() + bytes(2)
    (folder / "train-labels-idx1-ubyte").write_bytes(labels)
    path = _config(tmp_path, data={"dataset": "mnist", "path": str(folder)})
    assert_one_line_error(neurodeploy(command, str(path)), message)
    assert not (tmp_path / "run" / "model.net").exists()


@pytest.mark.parametrize("command", TRAIN_OR_CHECK)
def test_bad_set_override(tmp_path, command):
    assert_one_line_error(neurodeploy(command, str(_config(tmp_path)), "--set", "train.epochs"), "KEY=VALUE")


def test_every_option_says_what_it_does():
    import click

    from neurodeploy.app.cli import cli

    missing = [f"{name} {option.opts[0]}" for name, command in cli.commands.items() for option in command.params
               if isinstance(option, click.Option) and not option.help]
    assert not missing, missing


def _tiny(tmp_path, samples=3):
    from tests.netx_factory import write_netx

    weight = 2 * np.random.default_rng(0).integers(-20, 21, size=(10, 64))
    neuron = {"type": "CUBA", "iDecay": 1024, "vDecay": 128, "vThMant": 80, "refDelay": 1, "gradedSpike": 0}
    net = write_netx(tmp_path / "net.net", [{"type": "dense", "shape": np.array([10]), "inFeatures": 64,
                                             "outFeatures": 10, "weight": weight.astype(np.int64), "neuron": neuron}])
    spikes = tmp_path / "spikes.npy"
    np.save(spikes, np.random.default_rng(1).random((samples, 12, 64)) < 0.3)
    return net, spikes


def test_json_dash_prints_the_json_alone_and_a_path_keeps_the_table(tmp_path):
    import json

    net, spikes = _tiny(tmp_path)
    result = neurodeploy("simulate", str(net), "--spikes", str(spikes), "--backend", "emulator", "--json", "-")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["samples"] == 3  # stdout is the JSON, nothing else
    result = neurodeploy("validate", str(net), "--hw", "loihi2", "--json", str(tmp_path / "v.json"))
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "v.json").read_text())["verdict"] == "deployable"
    assert result.stdout.count("DEPLOYABLE") == 1
    assert max(map(len, result.stdout.splitlines())) > 80  # piped: rich's 80 columns no longer wrap the table
    assert "\x1b[" not in result.stdout
    bare = neurodeploy("validate", str(net), "--hw", "loihi2", "--json")
    assert json.loads(bare.stdout)["verdict"] == "deployable"


@pytest.mark.parametrize("accuracy", [{}, {"emulator": 0.5, "lava": 0.5}])
def test_parity_prints_accuracy_only_with_labels(accuracy, capsys):
    from neurodeploy.app.report.parity_table import render
    from neurodeploy.app.parity import Comparison, ParityReport

    render(ParityReport("net.net", 2, 12, accuracy, (Comparison("emulator", "lava", (), 1.0),)))
    printed = capsys.readouterr().out
    assert "emulator and Lava agree exactly" in printed
    assert ("accuracy: emulator 50.0 %, lava 50.0 %" in printed) == bool(accuracy)
    assert ("accuracy" in printed) == bool(accuracy)  # no empty 'accuracy:' line without labels


@pytest.mark.parametrize("command", RUN_OR_CHECK)
def test_a_checkpoint_given_as_a_network_and_a_network_given_as_a_config(tmp_path, command):
    net, _ = _tiny(tmp_path)
    (tmp_path / "checkpoint.pt").write_bytes(b"PK\x03\x04" + bytes(40))
    assert_one_line_error(neurodeploy("simulate", str(tmp_path / "checkpoint.pt"), "--backend", "emulator"),
                          "not an HDF5 file",
                          f"export it first: neurodeploy export {tmp_path / 'checkpoint.pt'} -o model.net")
    assert_one_line_error(neurodeploy(command, str(net)), "it is an HDF5 file (a netx .net?)", "neurodeploy init")
