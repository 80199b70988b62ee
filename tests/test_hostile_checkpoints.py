"""No code runs from a checkpoint: every reader (``export``, ``train`` resuming from its
run folder, ``parity --checkpoint``) loads ``checkpoint.pt`` as plain data, and a file
whose unpickling would call a function (plain pickle or torch's zip format) is one line,
exit 2, with the payload never run. A checkpoint beside a ``.net`` is read only when
asked; a corrupt one is an error, not "torch: unavailable"."""
from __future__ import annotations

import builtins
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from neurodeploy.core.errors import NeurodeployError
from neurodeploy.training.checkpoint import checkpoint_network, load_checkpoint
from tests import netx_factory as nf
from tests.conftest import write_config
from tests.fuzz_harness import assert_clean, run_cli

TINY = {"name": "tiny", "seed": 0, "data": {"dataset": "digits", "limit": 200}, "train": {"epochs": 1},
        "model": {"hidden": [8]}}


class Payload:
    """Unpickling this calls ``open(marker, "w")``: the file appears if code ran."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return builtins.open, (self.marker, "w")


def hostile(path: Path, marker: Path, kind: str) -> Path:
    state = {"epoch": 1, "model": {}, "config": {}, "input_shape": (1, 8, 8), "num_classes": 10,
             "identity": Payload(marker)}
    if kind == "pickle":
        path.write_bytes(pickle.dumps(state, protocol=2))
    else:
        torch.save(state, path)
    return path


KINDS = ["pickle", "torch-zip"]


@pytest.mark.parametrize("kind", KINDS)
def test_load_checkpoint_runs_no_code(tmp_path, kind):
    marker = tmp_path / "ran"
    with pytest.raises(NeurodeployError, match="not a neurodeploy checkpoint") as error:
        load_checkpoint(hostile(tmp_path / "checkpoint.pt", marker, kind))
    assert not marker.exists()
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.lava
def test_export_of_a_hostile_checkpoint_is_one_line(tmp_path, kind):
    marker, out = tmp_path / "ran", tmp_path / "out"
    out.mkdir()
    outcome = run_cli(["export", hostile(tmp_path / "checkpoint.pt", marker, kind), "-o", out / "model.net"])
    assert outcome.code == 2 and "not a neurodeploy checkpoint" in outcome.stderr, str(outcome)
    assert_clean(outcome, out)
    assert not marker.exists()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.lava
def test_training_does_not_resume_from_a_hostile_checkpoint(tmp_path, kind):
    marker, run = tmp_path / "ran", tmp_path / "run"
    run.mkdir()
    hostile(run / "checkpoint.pt", marker, kind)
    outcome = run_cli(["train", write_config(tmp_path, TINY), "-o", run])
    assert outcome.code == 2 and "checkpoint" in outcome.stderr, str(outcome)
    assert_clean(outcome)
    assert not marker.exists()
    assert sorted(path.name for path in run.iterdir()) == ["checkpoint.pt"]


@pytest.fixture(scope="module")
def tiny_net(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("hostile_parity")
    net = nf.write_netx(folder / "model.net", [nf.dense_layer(np.full((8, 6), 2.0)), nf.dense_layer(np.full((3, 8), 2.0))])
    spikes = folder / "spikes.npy"
    np.save(spikes, np.random.default_rng(0).random((2, 4, 6)) < 0.3)
    return net, spikes


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.lava
def test_parity_with_a_hostile_checkpoint_stops_before_any_backend(tmp_path, tiny_net, kind):
    net, _ = tiny_net
    marker = tmp_path / "ran"
    folder = tmp_path / "run"
    folder.mkdir()
    shutil.copy(net, folder / "model.net")
    nf.write_manifest(folder / "model.net", input_shape=(1, 2, 3))
    outcome = run_cli(["parity", folder / "model.net", "-n", "2", "--checkpoint",
                       hostile(folder / "checkpoint.pt", marker, kind)])
    assert outcome.code == 2 and "not a neurodeploy checkpoint" in outcome.stderr, str(outcome)
    assert_clean(outcome)
    assert not marker.exists()


@pytest.mark.timeout(120)
@pytest.mark.lava
def test_parity_ignores_a_checkpoint_lying_beside_the_network(tmp_path, tiny_net):
    """Without --checkpoint the file beside the .net is not opened: no code runs, torch is
    left out and says how to bring it in."""
    net, spikes = tiny_net
    marker = tmp_path / "ran"
    shutil.copy(net, tmp_path / "model.net")
    hostile(tmp_path / "checkpoint.pt", marker, "pickle")
    outcome = run_cli(["parity", tmp_path / "model.net", "--spikes", spikes, "--json", tmp_path / "p.json"],
                      timeout_s=100)
    assert outcome.code == 0, str(outcome)
    assert_clean(outcome)
    assert not marker.exists()
    assert "--checkpoint" in outcome.stdout


@pytest.mark.parametrize("damage", ["bytes", "truncated", "empty", "list", "fifo"])
@pytest.mark.lava
def test_a_corrupt_checkpoint_is_an_error(tmp_path, damage):
    import os

    path = tmp_path / "checkpoint.pt"
    if damage == "fifo":
        os.mkfifo(path)
    elif damage == "list":
        torch.save([1, 2, 3], path)
    else:
        torch.save({"epoch": 1, "model": {"w": torch.zeros(64)}}, path)
        raw = path.read_bytes()
        path.write_bytes({"bytes": np.random.default_rng(0).bytes(300), "truncated": raw[:len(raw) // 2],
                          "empty": b""}[damage])
    with pytest.raises(NeurodeployError) as error:
        checkpoint_network(path)
    assert str(error.value).startswith(str(path)) and "\n" not in str(error.value)


@pytest.mark.lava
def test_parity_with_a_corrupt_checkpoint_is_an_error_not_torch_unavailable(tmp_path, tiny_net):
    net, spikes = tiny_net
    (tmp_path / "broken.pt").write_bytes(b"PK\x03\x04 not a zip at all")
    shutil.copy(net, tmp_path / "model.net")
    nf.write_manifest(tmp_path / "model.net", input_shape=(1, 2, 3))
    outcome = run_cli(["parity", tmp_path / "model.net", "-n", "2", "--checkpoint", tmp_path / "broken.pt"])
    assert outcome.code == 2 and "broken.pt" in outcome.stderr and "unavailable" not in outcome.stdout, str(outcome)
    assert_clean(outcome)
