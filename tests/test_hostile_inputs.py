"""Every input surface is bounded before it is read (issue cases, each one line, exit 2, no
traceback, no hang): array headers that claim terabytes, corrupt and truncated ``.npz``,
zero samples (on Lava too), FIFOs, devices and directories given as any input file,
names of 255+ characters, absurd counts, ``--ray`` addresses that do not answer, and a
``.net`` copied beside another network's manifest."""
from __future__ import annotations

import io
import os
import shutil
import stat
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from neurodeploy.core.errors import InputError
from neurodeploy.core.inputs import MAX_ARRAY_BYTES, load_bias, load_labels, load_spikes
from tests import netx_factory as nf
from tests.conftest import write_config
from tests.fuzz_harness import assert_clean, command_files, run_cli

CONFIG = {"name": "in", "seed": 0, "data": {"dataset": "digits", "limit": 200}, "train": {"epochs": 1},
          "model": {"hidden": [8]}}


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    return command_files(tmp_path_factory.mktemp("hostile_inputs"), CONFIG)


def header_only(path: Path, shape: tuple[int, ...], dtype: str = "<f8", data: bytes = b"") -> Path:
    """An .npy whose header claims ``shape`` and which holds only ``data``."""
    with open(path, "wb") as stream:
        np.lib.format.write_array_header_1_0(stream, {"descr": dtype, "fortran_order": False, "shape": shape})
        stream.write(data)
    return path


def zipped(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, raw in members.items():
            archive.writestr(name, raw)
    return path


def npy_bytes(array: np.ndarray) -> bytes:
    stream = io.BytesIO()
    np.save(stream, array)
    return stream.getvalue()


def _one_line(outcome, *words: str) -> None:
    assert outcome.code == 2, str(outcome)
    assert_clean(outcome)
    for word in words:
        assert word in outcome.stderr, str(outcome)


# --- arrays ----------------------------------------------------------------------------

def test_headers_claiming_terabytes_are_refused_before_loading(tmp_path):
    huge = header_only(tmp_path / "huge.npy", (10 ** 6, 10 ** 3, 10 ** 3))
    for path in (huge, zipped(tmp_path / "huge.npz", {"spikes.npy": huge.read_bytes()})):
        with pytest.raises(InputError, match=f"at most {MAX_ARRAY_BYTES} bytes"):
            load_spikes(path)


def test_headers_claiming_more_than_the_file_holds_are_truncated(tmp_path):
    short = header_only(tmp_path / "short.npy", (4, 5, 6), "|b1", b"\0" * 10)
    for path in (short, zipped(tmp_path / "short.npz", {"spikes.npy": short.read_bytes()})):
        with pytest.raises(InputError, match="truncated or corrupt"):
            load_spikes(path)


@pytest.mark.parametrize("damage", ["truncated", "crc", "garbage", "empty-zip", "pickled"])
def test_broken_npz_files_are_one_line(tmp_path, damage):
    good = tmp_path / "good.npz"
    np.savez(good, spikes=np.zeros((2, 4, 6), bool), labels=np.array([0, 1]))
    raw = good.read_bytes()
    path = tmp_path / "bad.npz"
    if damage == "truncated":
        path.write_bytes(raw[:len(raw) // 2])
    elif damage == "crc":
        data = bytearray(raw)
        offset = raw.index(b"\x93NUMPY") + 130  # inside spikes.npy's data, stored uncompressed
        data[offset] ^= 0xFF
        path.write_bytes(bytes(data))
    elif damage == "garbage":
        path.write_bytes(b"PK\x03\x04" + os.urandom(200))
    elif damage == "empty-zip":
        zipped(path, {})
    else:
        zipped(path, {"spikes.npy": npy_bytes(np.array([{"a": 1}], dtype=object))})
    with pytest.raises(InputError) as error:
        load_spikes(path)
    assert str(error.value).startswith(str(path)) and "\n" not in str(error.value)


def test_zero_samples_are_refused_for_every_array(tmp_path):
    np.save(tmp_path / "spikes.npy", np.zeros((0, 4, 6), bool))
    np.save(tmp_path / "bias.npy", np.zeros((0, 6), np.int64))
    with pytest.raises(InputError, match="no samples"):
        load_spikes(tmp_path / "spikes.npy")
    with pytest.raises(InputError, match="no samples"):
        load_bias(tmp_path / "bias.npy", steps=4)
    np.save(tmp_path / "labels.npy", np.zeros(0, np.int64))
    with pytest.raises(InputError, match="expected 2 integers"):
        load_labels(tmp_path / "labels.npy", 2)


@pytest.mark.parametrize("backend", [pytest.param("lava", marks=pytest.mark.lava), "emulator"])
def test_zero_samples_on_either_backend_is_a_clear_error(tmp_path, files, backend):
    np.save(tmp_path / "none.npy", np.zeros((0, 4, 6), bool))
    outcome = run_cli(["simulate", files["net"], "--spikes", tmp_path / "none.npy", "--backend", backend])
    _one_line(outcome, "no samples")


# --- special files as inputs -----------------------------------------------------------

def _special(folder: Path, kind: str, name: str) -> Path:
    path = folder / name
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    else:
        try:
            os.mknod(path, stat.S_IFCHR | 0o444, os.makedev(1, 5))  # /dev/zero
        except PermissionError:
            pytest.skip("mknod needs root")
    return path


#: Every file input: a command line with IN where the file goes.
FILE_INPUTS = {
    "check CONFIG": ["check", "IN"],
    "train CONFIG": ["train", "IN"],
    "simulate -c": ["simulate", "{net}", "-c", "IN", "--backend", "emulator"],
    "simulate NET": ["simulate", "IN", "--spikes", "{spikes}", "--backend", "emulator"],
    "simulate --spikes": ["simulate", "{net}", "--spikes", "IN", "--backend", "emulator"],
    "simulate --bias": ["simulate", "{net}", "--bias", "IN", "--steps", "4", "--backend", "emulator"],
    "simulate --labels": ["simulate", "{net}", "--spikes", "{spikes}", "--labels", "IN", "--backend", "emulator"],
    "validate --manifest": ["validate", "{net}", "--hw", "loihi2", "--manifest", "IN"],
    "validate --activity": ["validate", "{net}", "--hw", "loihi2", "--activity", "IN"],
    "validate --hw": ["validate", "{net}", "--hw", "IN"],
    "validate NET": ["validate", "IN", "--hw", "loihi2"],
    "export CHECKPOINT": ["export", "IN", "-o", "{folder}/never.net"],
    "parity --checkpoint": ["parity", "{net}", "--spikes", "{spikes}", "--checkpoint", "IN"],
}


#: Commands that stop at once without Lava (the core leg), before reading any file.
NEEDS_LAVA = {"train", "run", "export", "parity", "compare"}


def _surfaces() -> list:
    return [pytest.param(name, marks=pytest.mark.lava) if FILE_INPUTS[name][0] in NEEDS_LAVA else name
            for name in sorted(FILE_INPUTS)]


def _args(template: list[str], files: dict[str, Path], path: Path) -> list[str]:
    return [str(path) if part == "IN" else part.format(**files) for part in template]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", ["fifo", "device", "directory"])
@pytest.mark.parametrize("surface", _surfaces())
def test_special_files_are_refused_by_type_before_opening(tmp_path, files, surface, kind):
    template = FILE_INPUTS[surface]
    name = "in.yaml" if "--hw" in template else "in"
    path = _special(tmp_path, kind, name)
    began = time.perf_counter()
    outcome = run_cli(_args(template, files, path), timeout_s=30)
    assert time.perf_counter() - began < 30
    assert outcome.code == 2, str(outcome)
    assert_clean(outcome)
    if kind != "directory" or "IN" not in template[1:2]:  # click refuses some directories itself
        assert "not a regular file" in outcome.stderr or "is a directory" in outcome.stderr, str(outcome)


@pytest.mark.parametrize("surface", ["check CONFIG", "validate --manifest", "validate --activity"])
def test_dev_zero_is_refused(files, surface):
    outcome = run_cli(_args(FILE_INPUTS[surface], files, Path("/dev/zero")), timeout_s=30)
    _one_line(outcome, "/dev/zero", "character device")


@pytest.mark.parametrize("surface", sorted(FILE_INPUTS))
def test_names_of_255_and_more_characters_are_one_line(tmp_path, files, surface):
    template = FILE_INPUTS[surface]
    path = tmp_path / ("n" * 300 + (".yaml" if "--hw" in template else ""))
    outcome = run_cli(_args(template, files, path), timeout_s=30)
    assert outcome.code == 2, str(outcome)
    assert_clean(outcome)


# --- counts and addresses --------------------------------------------------------------

@pytest.mark.lava
def test_absurd_seed_counts_name_the_limit(files):
    began = time.perf_counter()
    outcome = run_cli(["compare", files["config"], "--seeds", "1000000000", "-o", files["folder"] / "cmp"])
    _one_line(outcome, "1000000000", "1..1000")
    assert time.perf_counter() - began < 10


def test_absurd_sample_counts_run_the_samples_there_are(files, tmp_path):
    outcome = run_cli(["simulate", files["net"], "--spikes", files["spikes"], "--backend", "emulator",
                       "-n", str(10 ** 12), "--json", tmp_path / "m.json"])
    assert outcome.code == 0, str(outcome)
    assert '"samples": 2' in (tmp_path / "m.json").read_text()


RAY_COMMANDS = {
    "simulate": ["simulate", "{net}", "--spikes", "{spikes}", "--backend", "emulator", "--ray", "ADDRESS"],
    "parity": ["parity", "{net}", "--spikes", "{spikes}", "--ray", "ADDRESS"],
    "compare": ["compare", "{config}", "--seeds", "1", "--encodings", "rate", "-o", "{folder}/cmp", "--ray", "ADDRESS"],
}
LAVA_COMMANDS = {"parity", "compare"}  # they stop first without Lava (the core leg), before --ray is read


@pytest.mark.timeout(60)
@pytest.mark.parametrize("address", ["127.0.0.1:1", "nohost.invalid:6379", "256.1.1.1:6379", "nohost.invalid",
                                     "ray://127.0.0.1:1"])
@pytest.mark.parametrize("command", [pytest.param(name, marks=[pytest.mark.lava] if name in LAVA_COMMANDS else [])
                                     for name in sorted(RAY_COMMANDS)])
def test_ray_addresses_that_do_not_answer_are_one_line_within_10_s(files, command, address):
    pytest.importorskip("ray")
    began = time.perf_counter()
    args = [address if part == "ADDRESS" else part.format(**files) for part in RAY_COMMANDS[command]]
    outcome = run_cli(args, timeout_s=40)
    took = time.perf_counter() - began
    _one_line(outcome, f"--ray {address}")
    assert took < 10 + 15, f"took {took:.1f} s"  # 10 s to answer, plus importing Ray on a loaded machine


# --- a network beside another network's manifest --------------------------------------

def test_a_foreign_net_beside_a_manifest_is_not_fed_that_manifest(tmp_path, files):
    shutil.copy(files["net"], tmp_path / "model.net")
    nf.write_manifest(tmp_path / "model.net", input_shape=(1, 2, 3))
    shutil.copy(files["net"], tmp_path / "foreign.net")
    outcome = run_cli(["simulate", tmp_path / "foreign.net", "--backend", "emulator"])
    _one_line(outcome, "manifest.json", "describes 'model.net', not foreign.net")
    spiked = run_cli(["simulate", tmp_path / "foreign.net", "--spikes", files["spikes"], "--backend", "emulator"])
    assert spiked.code == 0, str(spiked)


# --- data set files --------------------------------------------------------------------

class _Payload:
    """Unpickling this calls ``open(marker, "w")``: the marker appears if code ran."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        import builtins

        return builtins.open, (self.marker, "w")


def test_a_cifar_batch_that_would_run_code_is_refused(tmp_path):
    """CIFAR's python batches are pickles: only numpy arrays and plain data are built."""
    import pickle

    rng = np.random.default_rng(0)
    marker = tmp_path / "ran"
    for name in ("data_batch_1", "test_batch"):
        batch = {b"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8), b"labels": [0, 1, 2, 3]}
        if name == "test_batch":
            batch[b"batch_label"] = _Payload(marker)
        (tmp_path / name).write_bytes(pickle.dumps(batch))
    config = write_config(tmp_path, {**CONFIG, "data": {"dataset": "cifar10", "path": str(tmp_path)}}, "c.yaml")
    outcome = run_cli(["check", config, "-o", tmp_path / "run"])
    _one_line(outcome, "test_batch", "never does")
    assert not marker.exists()
