"""Export writes a netx file that netx reads back exactly, atomically, with its manifest."""
import h5py
import numpy as np
import pytest

from neurodeploy.core.errors import ConfigError, NetworkFileError
from neurodeploy.core.manifest import Manifest
from neurodeploy.training import export as export_module
from neurodeploy.app.train_export import train_and_export
from tests.conftest import SMALL_RUN, write_config


def test_export_writes_net_and_manifest(small_run):
    trained, _ = small_run
    manifest = Manifest.load(trained.run_dir / "manifest.json")
    assert manifest.schedule == trained.manifest.schedule and manifest.hops == 2
    assert [layer.name for layer in manifest.layers] == ["dense0", "dense1"]
    assert manifest.versions["lava-nc"] == "0.10.0" and manifest.dataset["dataset"] == "digits"
    with h5py.File(trained.network_file) as handle:
        assert sorted(handle["layer"].keys()) == ["0", "1"]
        assert handle["layer/0/weight"].shape == (32, 64)
    assert (trained.run_dir / "train_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_roundtrip_check_catches_a_changed_weight(small_run, monkeypatch):
    trained, _ = small_run
    from neurodeploy.training.network import SpikingNetwork

    network = SpikingNetwork(trained.config.model, trained.split.input_shape, 10)
    original = export_module._lava_weight
    monkeypatch.setattr(export_module, "_lava_weight", lambda layer, conv: original(layer, conv) + 2)
    with pytest.raises(NetworkFileError, match="dense0 weights changed on the netx round trip"):
        export_module.export_netx(network, trained.run_dir / "other.net")
    assert not (trained.run_dir / "other.net").exists()


def test_interrupted_export_leaves_no_file(tmp_path, small_run, monkeypatch):
    trained, _ = small_run
    from neurodeploy.training.network import SpikingNetwork

    def interrupt(path, network):
        raise KeyboardInterrupt

    monkeypatch.setattr(export_module, "check_roundtrip", interrupt)
    network = SpikingNetwork(trained.config.model, trained.split.input_shape, 10)
    with pytest.raises(KeyboardInterrupt):
        export_module.export_netx(network, tmp_path / "model.net")
    assert list(tmp_path.iterdir()) == []


def test_training_resumes_from_its_checkpoint(tmp_path):
    config = write_config(tmp_path, {**SMALL_RUN, "output": str(tmp_path / "run"), "train": {"epochs": 1}})
    first = train_and_export(str(config))
    resumed = train_and_export(str(config), {"train.epochs": 2})
    assert len(resumed.history) == 2 and resumed.history[0] == first.history[0]
    with pytest.raises(ConfigError, match=r"made with a different config \(train.lr: 0.003 then, 0.5 now\)"):
        train_and_export(str(config), {"train.lr": 0.5})


def test_conv_network_exports_and_roundtrips(tmp_path):
    config = write_config(tmp_path, {**SMALL_RUN, "output": str(tmp_path / "run"), "train": {"epochs": 1},
                                     "model": {"conv": [{"channels": 4}], "hidden": [16]}})
    trained = train_and_export(str(config))
    assert [layer.type for layer in trained.manifest.layers] == ["conv", "flatten", "dense", "dense"]
    assert trained.manifest.port_shape == (8, 8, 1) and trained.manifest.hops == 3
    assert np.isfinite(trained.torch_accuracy)


def test_export_to_another_file_leaves_the_runs_own_files_alone(small_run, tmp_path):
    """``export ckpt -o other.net`` once moved the run's model.net and repointed its manifest."""
    import shutil

    from tests.fuzz_harness import assert_clean, run_cli

    trained, _ = small_run
    run = tmp_path / "run"
    shutil.copytree(trained.run_dir, run)
    before = {name: (run / name).read_bytes() for name in ("model.net", "manifest.json")}
    outcome = run_cli(["export", run / "checkpoint.pt", "-o", run / "other.net"])
    assert_clean(outcome, codes=(0,))
    assert {name: (run / name).read_bytes() for name in before} == before
    assert Manifest.load(run / "other.manifest.json").network_file == "other.net"
    assert not [path.name for path in run.iterdir() if ".partial" in path.name]
    spikes = tmp_path / "spikes.npy"
    np.save(spikes, np.random.default_rng(0).random((3, trained.manifest.schedule.frame_steps, 64)) < 0.2)
    for network in ("model.net", "other.net"):
        assert_clean(run_cli(["simulate", run / network, "--spikes", spikes, "--backend", "emulator"]), codes=(0,))
