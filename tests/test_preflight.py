"""Regression tests, one per class of bad input the hardening issue measured: each ends in
one line and exit code 2 (or a usage error), before any work starts."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

from neurodeploy.hardware.profile import profiles_dir
from tests import netx_factory as nf
from tests.conftest import SMALL_RUN, write_config
from tests.fuzz_harness import assert_clean, run_cli

LAUGHS = ('a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
          'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n'
          'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n')


def _refused(args, *needles: str) -> str:
    outcome = run_cli(args)
    assert_clean(outcome, codes=(2,))
    line = outcome.stderr.strip().splitlines()[-1]
    for needle in needles:
        assert needle in line, line
    return line


@pytest.fixture
def config(tmp_path) -> Path:
    return write_config(tmp_path, {**SMALL_RUN, "output": str(tmp_path / "run")})


@pytest.mark.parametrize("setting, needles", [
    ("encoding.temporal_steps=100000", ["--set encoding.temporal_steps=100000", "at most 4096"]),
    ("seed=-1", ["seed", "at least 0"]),
    ("seed=1099511627776", ["seed", "at most 4294967295"]),
    ("encoding.gap=1180591620717411303424", ["encoding.gap", "4096"]),
    ("data.test_fraction=0.001", ["data.test_fraction=0.001", "each needs at least one per class"]),
    ("data.test_fraction=0.999", ["data.test_fraction=0.999", "each needs at least one per class"]),
    ("model.conv=[{channels: 2, kernel: 12}]", ["model.conv[0].kernel=12 is larger than its 8x8 input"]),
    ("seed.x=1", ["--set 'seed.x'", "'seed' is the value 0, not a section"]),
    ("name.a.b=1", ["--set 'name.a.b'", "'name' is the value 'small', not a section"]),
    ("train.epoch=3", ["--set train.epoch=3", "unknown key 'train.epoch' (did you mean 'train.epochs'?)"]),
    ("hardware=[loihi9]", ["hardware: unknown hardware profile 'loihi9' (did you mean 'loihi2'?)"]),
    ("train.lr=.inf", ["train.lr", "finite number"]),
])
@pytest.mark.parametrize("command", ["check", pytest.param("train", marks=pytest.mark.lava)])
def test_bad_configs_are_refused_by_check_and_train(config, setting, needles, command):
    _refused([command, config, "--set", setting], *needles)
    assert not (config.parent / "run").exists() or not any((config.parent / "run").iterdir())


def test_a_typo_in_the_config_file_has_a_did_you_mean(tmp_path):
    path = write_config(tmp_path, {**SMALL_RUN, "trian": {"epochs": 1}})
    _refused(["check", path], "config.yaml: unknown key 'trian' (did you mean 'train'?)")


def test_config_errors_come_before_torch_and_lava_are_imported(config):
    code = ("import sys\nfrom neurodeploy.app.cli import main\ntry:\n"
            f"    main(['train', {str(config)!r}, '--set', 'hardware=[loihi9]'])\n"
            "except SystemExit as exit_:\n"
            "    print(exit_.code, 'torch' in sys.modules, any(name.startswith('lava') for name in sys.modules))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == ["2", "False", "False"], result.stdout + result.stderr


def test_an_alias_bomb_is_refused_at_once_in_a_short_line(tmp_path):
    path = tmp_path / "laughs.yaml"
    path.write_text(LAUGHS)
    began = time.monotonic()
    line = _refused(["check", path], "laughs.yaml", "aliases (*name) are not supported")
    assert time.monotonic() - began < 5 and len(line) < 200


@pytest.mark.parametrize("text, needle", [
    (b"\xff\xfe\x00 binary \x80", "not UTF-8 text"),
    (("a: " + "[" * 5000 + "]" * 5000).encode(), "nested deeper than 32 levels"),
    (("a:\n" + "".join("  " * depth + "- \n" for depth in range(200))).encode(), "nested deeper than 32 levels"),
])
def test_unreadable_yaml_configs_and_profiles(tmp_path, text, needle):
    path = tmp_path / "bad.yaml"
    path.write_bytes(text)
    _refused(["check", path], "bad.yaml", needle)
    net = nf.write_netx(tmp_path / "net.net", [nf.dense_layer(np.full((3, 4), 2.0))])
    _refused(["validate", net, "--hw", path], "bad.yaml", needle)


@pytest.mark.parametrize("section, key", [("resources", "cores_per_chip"), ("resources", "neurons_per_core"),
                                          ("precision", "weight_bits")])
def test_profile_limits_must_be_positive(tmp_path, section, key):
    profile = yaml.safe_load((profiles_dir() / "loihi2.yaml").read_text())
    profile[section][key]["value"] = 0
    path = tmp_path / "zero.yaml"
    path.write_text(yaml.safe_dump(profile))
    net = nf.write_netx(tmp_path / "net.net", [nf.dense_layer(np.full((3, 4), 2.0))])
    _refused(["validate", net, "--hw", path], f"{section}.{key}.value", "greater than 0")


def _write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_mnist_splits_of_different_image_sizes(tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    rng = np.random.default_rng(0)
    _write_idx(folder / "train-images-idx3-ubyte", rng.integers(0, 255, (20, 28, 28)))
    _write_idx(folder / "train-labels-idx1-ubyte", np.arange(20) % 10)
    _write_idx(folder / "t10k-images-idx3-ubyte", rng.integers(0, 255, (10, 20, 20)))
    _write_idx(folder / "t10k-labels-idx1-ubyte", np.arange(10))
    path = write_config(tmp_path, {"data": {"dataset": "mnist", "path": str(folder)}, "output": str(tmp_path / "r")})
    _refused(["check", path], "(test): images of shape (1, 20, 20)", "holds (1, 28, 28)")


def _image_folder(root: Path, counts: dict[str, int]) -> Path:
    from PIL import Image

    for name, count in counts.items():
        (root / name).mkdir(parents=True)
        for index in range(count):
            Image.fromarray(np.full((4, 4), 9 * index, dtype=np.uint8)).save(root / name / f"{index}.png")
    return root


@pytest.mark.parametrize("counts, needle", [
    ({"a": 5, "b": 1}, "class 1 has 1 image"),
    ({"a": 0, "b": 0}, "no readable images in its class folders"),
    ({"a": 4, "b": 0}, "class folder 'b' holds no readable images"),
])
def test_image_folders_that_cannot_be_split(tmp_path, counts, needle):
    folder = _image_folder(tmp_path / "images", counts)
    path = write_config(tmp_path, {"data": {"dataset": "folder", "path": str(folder)}, "output": str(tmp_path / "r")})
    _refused(["check", path], needle)


@pytest.mark.parametrize("options, needle", [
    (["-n", "0"], "Invalid value for '--samples'"), (["-n", "-5"], "Invalid value for '--samples'"),
    (["--timeout", "0"], "Invalid value for '--timeout'"), (["--timeout", "inf"], "Invalid value for '--timeout'"),
    (["--timeout", "nan"], "Invalid value for '--timeout'"),
    (["--exit-threshold", "nan"], "Invalid value for '--exit-threshold'"),
    (["--exit-threshold", "-1"], "Invalid value for '--exit-threshold'"),
    (["--exit-threshold", "inf"], "Invalid value for '--exit-threshold'"),
])
def test_bad_command_line_numbers(tmp_path, options, needle):
    net = nf.write_netx(tmp_path / "net.net", [nf.dense_layer(np.full((3, 4), 2.0))])
    spikes = tmp_path / "s.npy"
    np.save(spikes, np.zeros((2, 3, 4), dtype=bool))
    outcome = run_cli(["simulate", net, "--spikes", spikes, *options])
    assert_clean(outcome, codes=(2,))
    assert needle in outcome.stderr


@pytest.mark.parametrize("field, value, needle", [
    ("port_shape", [None], "port_shape.0"), ("port_shape", [float("inf")], "port_shape.0"),
    ("input_shape", "abc", "input_shape"), ("layers", [{"name": 1}], "layers.0"),
    ("seed", -3, "seed"), ("hops", 2 ** 70, "hops"),
])
def test_manifests_with_junk(tmp_path, field, value, needle):
    net = nf.write_netx(tmp_path / "net.net", [nf.dense_layer(np.full((3, 4), 2.0))])
    manifest = nf.write_manifest(net, input_shape=(1, 2, 2))
    data = json.loads(manifest.read_text())
    data[field] = value
    manifest.write_text(json.dumps(data))
    _refused(["validate", net, "--hw", "loihi2"], "manifest.json", needle)


@pytest.mark.parametrize("activity, needle", [
    ({"synaptic_ops_per_sample": float("nan"), "neuron_updates_per_sample": 1, "spikes_per_sample": 1}, "finite"),
    ({"synaptic_ops_per_sample": 10 ** 400, "neuron_updates_per_sample": 1, "spikes_per_sample": 1}, "finite"),
    ([1, 2, 3], "expected a mapping"), ({str(key): 1 for key in range(5000)}, "unknown key(s)"),
])
def test_activity_files_with_junk(tmp_path, activity, needle):
    net = nf.write_netx(tmp_path / "net.net", [nf.dense_layer(np.full((3, 4), 2.0))])
    path = tmp_path / "activity.json"
    path.write_text(json.dumps(activity))
    line = _refused(["validate", net, "--hw", "loihi1", "--activity", path], needle)
    assert len(line) < 400


def test_a_compressed_file_declaring_terabytes_is_refused_before_reading(tmp_path):
    path = tmp_path / "bomb.net"
    with h5py.File(path, "w") as handle:
        layer = handle.create_group("layer/0")
        layer.create_dataset("type", (1,), "S10", [b"dense"])
        layer.create_dataset("shape", data=np.array([1 << 20]))
        layer.create_dataset("weight", shape=(1 << 20, 1 << 20), dtype="f4", chunks=(256, 256), compression="gzip")
    assert path.stat().st_size < 100_000
    _refused(["validate", path, "--hw", "loihi2"], "layer/0/weight declares", "at most")


def test_check_refuses_an_unknown_neuron_dynamics_before_torch(tmp_path, monkeypatch):
    """NEURODEPLOY_DYNAMICS is read by check (no torch), so a typo stops before training."""
    monkeypatch.setenv("NEURODEPLOY_DYNAMICS", "cuda")
    config = write_config(tmp_path, {**SMALL_RUN, "output": str(tmp_path / "run")})
    outcome = run_cli(["check", config])
    assert_clean(outcome)
    assert outcome.code == 2 and "NEURODEPLOY_DYNAMICS='cuda'" in outcome.stderr
