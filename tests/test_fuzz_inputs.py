"""Fuzz: the files the commands read and the paths they write.

- Beside a network, for ``validate``: manifests, ``--activity`` files and hardware
  profiles, each broken once (a value replaced by a hostile one, a key deleted, the whole
  file junk: binary, deeply nested, non-UTF-8, an alias bomb).
- Spike, bias and label arrays: real arrays of any dtype and shape, headers that claim
  terabytes over a few bytes, ``.npz`` archives with odd members, flipped or cut short.
- Odd paths as every file input and output: FIFOs, device nodes, directories, missing
  folders, names of 255+ bytes, symlink loops, links to devices.
- Checkpoints: hostile pickles (plain and torch's zip) with a payload anywhere, broken
  values and keys, junk, truncation; no payload may run.
- ``--ray`` addresses that are malformed, do not resolve or do not answer.

Every case ends cleanly (``tests/fuzz_harness.py``); a profile whose count or width a
check divides by (``cores_per_chip: 0``) is refused, exit 2; no special file is replaced
and no folder created.
"""
from __future__ import annotations

import builtins
import io
import json
import math
import os
import stat
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from neurodeploy.hardware.profile import profiles_dir
from tests import netx_factory as nf
from tests.fuzz_harness import assert_clean, fuzz_settings, hostile, json_values, run_cli

LOIHI2 = yaml.safe_load((profiles_dir() / "loihi2.yaml").read_text())
#: Profile numbers a check divides by or shifts with: zero or less is unusable.
POSITIVE = ("cores_per_chip", "neurons_per_core", "synapse_memory_bits", "synapse_group_size",
            "synapse_word_bits", "input_axons_per_core", "output_axons_per_core", "chips",
            "weight_bits", "state_bits", "accumulator_bits", "decay_scale", "epoch_time_bits", "trace_bits")

junk_text = st.one_of(
    st.binary(max_size=200).map(lambda raw: ("bytes", raw)),
    st.integers(1, 3000).map(lambda depth: ("text", "a: " + "[" * depth + "]" * depth + "\n")),
    st.integers(1, 3000).map(lambda depth: ("text", "{\"a\": " * depth + "1" + "}" * depth)),
    st.just(("text", "a: &a [x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n"
                     "c: [*b, *b, *b, *b, *b, *b, *b, *b]\n")),
    st.just(("bytes", b"\xff\xfe\x00 name: \x80\x81")),
    st.text(max_size=200).map(lambda text: ("text", text)),
)


@pytest.fixture(scope="module")
def network(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("fuzz_inputs")
    path = nf.write_netx(folder / "net.net", [nf.dense_layer(np.full((8, 6), 2.0)), nf.dense_layer(np.full((3, 8), 2.0))])
    nf.write_manifest(path, input_shape=(1, 2, 3))
    return path


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path of a JSON/YAML tree, leaves and sections alike."""
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, prefix + (index,))
    return found


@st.composite
def broken_tree(draw, tree: Any) -> tuple[Any, tuple, Any]:
    """A deep copy of ``tree`` with one path replaced (by a hostile or random value) or deleted."""
    tree = json.loads(json.dumps(tree))
    path = draw(st.sampled_from(_paths(tree)))
    parent = tree
    for key in path[:-1]:
        parent = parent[key]
    if draw(st.integers(0, 4)) == 0:
        del parent[path[-1]]
        return tree, path, "<deleted>"
    value = draw(hostile | json_values)
    parent[path[-1]] = value
    return tree, path, value


def _write(path: Path, content: Any, dump) -> None:
    if isinstance(content, tuple):
        kind, raw = content
        path.write_bytes(raw) if kind == "bytes" else path.write_text(raw)
    else:
        path.write_text(dump(content))


@fuzz_settings(250)
@given(data=st.data())
def test_broken_manifests_end_cleanly(network, data):
    manifest = json.loads(network.with_name("manifest.json").read_text())
    content = data.draw(st.one_of(broken_tree(manifest).map(lambda case: case[0]), junk_text))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "manifest.json"
        _write(path, content, json.dumps)
        out = Path(folder) / "out"
        assert_clean(run_cli(["validate", network, "--hw", "loihi1", "--manifest", path, "--map", out / "map.json"]), out)


ACTIVITY = {"synaptic_ops_per_sample": 10.0, "neuron_updates_per_sample": 5.0, "spikes_per_sample": 2.0}


@fuzz_settings(200)
@given(data=st.data())
def test_broken_activity_files_end_cleanly(network, data):
    content = data.draw(st.one_of(broken_tree(ACTIVITY).map(lambda case: case[0]),
                                  broken_tree({"activity": ACTIVITY}).map(lambda case: case[0]),
                                  json_values, junk_text))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "activity.json"
        _write(path, content, json.dumps)
        assert_clean(run_cli(["validate", network, "--hw", "loihi1", "--activity", path, "--json"]))


@fuzz_settings(350)
@given(data=st.data())
def test_broken_profiles_end_cleanly(network, data):
    case = data.draw(st.one_of(broken_tree(LOIHI2), junk_text))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "chip.yaml"
        _write(path, case if isinstance(case[0], str) else case[0],
               lambda tree: yaml.safe_dump(tree, allow_unicode=True))
        outcome = run_cli(["validate", network, "--hw", path])
        assert_clean(outcome)
        if not isinstance(case[0], str):
            _, key_path, value = case
            zero = isinstance(value, (int, float)) and not isinstance(value, bool) and not value > 0
            if zero and len(key_path) >= 2 and key_path[-1] == "value" and key_path[-2] in POSITIVE:
                assert outcome.code == 2, str(outcome)


# --- spike, bias and label arrays ------------------------------------------------------

DTYPES = ["|b1", "|u1", "<i2", ">i4", "<i8", "<u8", "<f2", "<f4", "<f8", "<c8", "<U3", "|S2", "|V4", "<M8[s]"]
DIMS = [0, 1, 1, 2, 3, 4, 5, 6, 6, 6, 8, 2 ** 31, 10 ** 12]
CLAIMS = ["|O", "<f8", "nonsense", "<i8"]


def _npy(array: np.ndarray) -> bytes:
    stream = io.BytesIO()
    np.lib.format.write_array(stream, array, allow_pickle=False)
    return stream.getvalue()


@st.composite
def npy_bytes(draw) -> bytes:
    """An ``.npy``: a real array of a random dtype and shape (values 0/1, any, NaN), or a
    header claiming any shape and dtype over a few bytes of data."""
    shape = tuple(draw(st.lists(st.sampled_from(DIMS), max_size=5)))
    dtype = draw(st.sampled_from(DTYPES))
    if max(shape, default=1) <= 4096 and math.prod(shape) * np.dtype(dtype).itemsize <= 4096 \
            and draw(st.integers(0, 3)):
        values = draw(st.sampled_from(["binary", "any", "nan", "big"]))
        rng = np.random.default_rng(draw(st.integers(0, 1000)))
        raw = {"binary": rng.integers(0, 2, shape), "any": rng.integers(-3, 5000, shape),
               "nan": np.full(shape, np.nan), "big": np.full(shape, 2.0 ** 70)}[values]
        with np.errstate(all="ignore"):
            try:
                return _npy(np.asarray(raw).astype(dtype))
            except (TypeError, ValueError, OverflowError):
                return _npy(np.zeros(shape, dtype))
    header = {"descr": draw(st.sampled_from(DTYPES + CLAIMS)), "fortran_order": draw(st.booleans()), "shape": shape}
    stream = io.BytesIO()
    stream.write(np.lib.format.magic(1, 0))
    text = repr(header).encode("latin1")
    stream.write(len(text).to_bytes(2, "little") + text)
    stream.write(draw(st.binary(max_size=64)))
    return stream.getvalue()


@st.composite
def array_files(draw) -> tuple[str, bytes]:
    """(suffix, bytes): an ``.npy``, an ``.npz`` of such members (stored or deflated), either
    one with bytes flipped or cut short, or junk."""
    kind = draw(st.sampled_from(["npy", "npz", "npz", "flipped", "cut", "junk"]))
    if kind == "junk":
        return draw(st.sampled_from([".npy", ".npz"])), draw(st.binary(max_size=300))
    if kind == "npy":
        return ".npy", draw(npy_bytes())
    names = draw(st.lists(st.sampled_from(["spikes", "bias", "labels", "x", "spikes.npy", "../up", ""]),
                          max_size=3, unique=True))
    stream = io.BytesIO()
    method = draw(st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]))
    with zipfile.ZipFile(stream, "w", method) as archive:
        for name in names:
            archive.writestr(f"{name}.npy", draw(npy_bytes()))
    raw = stream.getvalue()
    if kind in ("flipped", "cut") and raw:
        data = bytearray(raw)
        if kind == "cut":
            data = data[:draw(st.integers(0, len(data) - 1))]
        else:
            for _ in range(draw(st.integers(1, 4))):
                data[draw(st.integers(0, len(data) - 1))] ^= draw(st.integers(1, 255))
        raw = bytes(data)
    return ".npz", raw


@fuzz_settings(300)
@given(data=st.data())
def test_broken_arrays_end_cleanly(network, data):
    suffix, raw = data.draw(array_files())
    role = data.draw(st.sampled_from(["--spikes", "--bias", "--labels"]))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"array{suffix}"
        path.write_bytes(raw)
        good = Path(folder) / "good.npy"
        np.save(good, np.zeros((2, 4, 6), bool))
        args = ["simulate", network, "--backend", "emulator", "--layout", data.draw(st.sampled_from(["chw", "whc"]))]
        if role == "--labels":
            args += ["--spikes", good, "--labels", path]
        else:
            args += [role, path] + (["--steps", data.draw(st.sampled_from(["1", "4", "70000"]))] if role == "--bias" else [])
        out = Path(folder) / "out"
        out.mkdir()
        assert_clean(run_cli(args + ["--json", out / "m.json"]), out)


# --- special files and odd paths, as every input and output ----------------------------

#: Kinds of path that must never be read as a file or replaced by one.
PATH_KINDS = ["fifo", "null", "zero", "full", "directory", "missing", "missing-folder", "long", "very-long",
              "newline", "loop", "link-to-device", "empty"]  # no NUL byte: a command line cannot hold one
#: Output kinds that name a usable new file, so that the command would run in earnest.
BENIGN_OUTPUTS = {"missing", "newline", "empty"}
DEVICE_NUMBERS = {"null": (1, 3), "zero": (1, 5), "full": (1, 7)}


def odd_path(folder: Path, kind: str, name: str) -> str:
    """A path of ``kind`` in ``folder`` (device nodes need root: a FIFO stands in without it)."""
    path = folder / name
    if kind in DEVICE_NUMBERS:
        try:
            os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(*DEVICE_NUMBERS[kind]))
        except PermissionError:
            os.mkfifo(path)
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    elif kind == "missing-folder":
        path = folder / "no" / "such" / name
    elif kind in ("long", "very-long"):
        path = folder / ("n" * (252 if kind == "long" else 400) + Path(name).suffix)
    elif kind == "newline":
        path = folder / f"a\nb{name}"
    elif kind == "loop":
        os.symlink(path, path)
    elif kind == "link-to-device":
        os.symlink("/dev/null", path)
    elif kind == "empty":
        path.write_bytes(b"")
    return str(path)


INPUT_SURFACES = {
    "check CONFIG": (["check", "PATH"], "c.yaml"),
    "simulate -c": (["simulate", "{net}", "-c", "PATH", "--backend", "emulator"], "c.yaml"),
    "simulate NET": (["simulate", "PATH", "--spikes", "{spikes}", "--backend", "emulator"], "m.net"),
    "simulate --spikes": (["simulate", "{net}", "--spikes", "PATH", "--backend", "emulator"], "s.npy"),
    "simulate --bias": (["simulate", "{net}", "--bias", "PATH", "--steps", "4", "--backend", "emulator"], "b.npy"),
    "simulate --labels": (["simulate", "{net}", "--spikes", "{spikes}", "--labels", "PATH", "--backend", "emulator"], "l.npy"),
    "validate NET": (["validate", "PATH", "--hw", "loihi2"], "m.net"),
    "validate --manifest": (["validate", "{net}", "--hw", "loihi2", "--manifest", "PATH"], "manifest.json"),
    "validate --activity": (["validate", "{net}", "--hw", "loihi2", "--activity", "PATH"], "a.json"),
    "validate --hw": (["validate", "{net}", "--hw", "PATH"], "chip.yaml"),
    "export CHECKPOINT": (["export", "PATH", "-o", "{out}/x.net"], "checkpoint.pt"),
    "parity --checkpoint": (["parity", "{net}", "--spikes", "{spikes}", "--checkpoint", "PATH"], "checkpoint.pt"),
    "import-nir GRAPH": (["import-nir", "PATH", "-o", "{out}/x.net", "--dt", "1e-3"], "g.nir"),
    "export-nir NET": (["export-nir", "PATH", "-o", "{out}/x.nir", "--dt", "1e-3"], "m.net"),
}
#: Outputs that are folders: the folder named is created, parents and all.
FOLDER_OUTPUTS = {"run", "cmp"}
OUTPUT_SURFACES = {
    "validate --map": (["validate", "{net}", "--hw", "loihi2", "--map", "PATH"], "map.json"),
    "validate --plot": (["validate", "{net}", "--hw", "loihi2", "--plot", "PATH"], "map.png"),
    "simulate --json": (["simulate", "{net}", "--spikes", "{spikes}", "--backend", "emulator", "--json", "PATH"], "m.json"),
    "simulate --save-output": (["simulate", "{net}", "--spikes", "{spikes}", "--backend", "emulator",
                                "--save-output", "PATH"], "o.npz"),
    "parity --json": (["parity", "{net}", "--spikes", "{spikes}", "--json", "PATH"], "p.json"),
    "export -o": (["export", "{out}/none.pt", "-o", "PATH"], "x.net"),
    "export-nir -o": (["export-nir", "{net}", "-o", "PATH", "--dt", "1e-3"], "x.nir"),
    "import-nir -o": (["import-nir", "{out}/none.nir", "-o", "PATH", "--dt", "1e-3"], "x.net"),
    "check -o": (["check", "{config}", "-o", "PATH"], "run"),
    "compare -o": (["compare", "{config}", "--seeds", "1", "-o", "PATH"], "cmp"),
}


@pytest.fixture(scope="module")
def surface_files(network, tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("fuzz_paths")
    spikes = folder / "spikes.npy"
    np.save(spikes, np.random.default_rng(0).random((2, 4, 6)) < 0.3)
    config = folder / "config.yaml"
    config.write_text(yaml.safe_dump({"name": "p", "data": {"dataset": "digits", "limit": 200},
                                      "train": {"epochs": 0}}))  # refused by check: no case trains
    return {"net": network, "spikes": spikes, "config": config}


def _kinds(folder: Path) -> dict[str, int]:
    return {path.name: stat.S_IFMT(os.lstat(path).st_mode) for path in folder.iterdir()}


@fuzz_settings(250)
@given(data=st.data())
def test_odd_paths_as_inputs_and_outputs_end_cleanly(surface_files, data):
    output = data.draw(st.booleans())
    surfaces = OUTPUT_SURFACES if output else INPUT_SURFACES
    template, name = surfaces[data.draw(st.sampled_from(sorted(surfaces)))]
    kinds = [kind for kind in PATH_KINDS if not (output and kind in BENIGN_OUTPUTS)]
    kind = data.draw(st.sampled_from(kinds))
    with tempfile.TemporaryDirectory() as root:
        root = Path(root)
        folder, out = root / "odd", root / "out"
        folder.mkdir()
        out.mkdir()
        path = odd_path(folder, kind, name)
        before = _kinds(folder)
        names = {**{key: str(value) for key, value in surface_files.items()}, "out": str(out)}
        args = [path if part == "PATH" else part.format(**names) for part in template]
        here = os.getcwd()
        os.chdir(root)  # a config's default run folder lands here, not in the checkout
        try:
            outcome = run_cli(args, timeout_s=60)
        finally:
            os.chdir(here)
        assert_clean(outcome, out)
        assert _kinds(folder) == before, (str(outcome), "a special file was replaced or a file written")
        if output or kind not in ("missing", "newline", "empty"):  # an empty config is all defaults
            assert outcome.code == 2, str(outcome)
        if name not in FOLDER_OUTPUTS:  # a folder output makes the folder it names
            assert not (folder / "no").exists(), str(outcome)


# --- checkpoints -----------------------------------------------------------------------

class Payload:
    """Unpickling this calls ``open(marker, "w")``: the marker appears if code ran."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return builtins.open, (self.marker, "w")


@pytest.fixture(scope="module")
def checkpoint_state() -> dict[str, Any]:
    """What ``train`` saves, for a small dense network (no training needed to shape it)."""
    import torch

    from neurodeploy.core.config import parse_config
    from neurodeploy.training.network import SpikingNetwork

    config = parse_config({"name": "ck", "data": {"dataset": "digits", "limit": 200}, "model": {"hidden": [4]}})
    network = SpikingNetwork(config.model, (1, 8, 8), 10)
    optimizer = torch.optim.Adam(network.parameters())
    return {"epoch": 1, "model": network.state_dict(), "optimizer": optimizer.state_dict(), "history": [],
            "wall_s": 0.0, "identity": {}, "config": config.dump(), "input_shape": (1, 8, 8),
            "num_classes": 10, "plugin": None}


@fuzz_settings(150)
@given(data=st.data())
def test_broken_checkpoints_end_cleanly_and_run_no_code(checkpoint_state, data):
    import pickle

    import torch

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        marker = str(folder / "ran")
        state = dict(checkpoint_state)
        change = data.draw(st.sampled_from(["payload", "payload-deep", "value", "delete", "config", "whole"]))
        key = data.draw(st.sampled_from(sorted(state)))
        if change == "payload":
            state[key] = Payload(marker)
        elif change == "payload-deep":
            state["config"] = {**state["config"], "model": [Payload(marker)]}
        elif change == "value":
            state[key] = data.draw(hostile | json_values)
        elif change == "delete":
            del state[key]
        elif change == "config":
            state["config"] = {**state["config"], data.draw(st.sampled_from(sorted(state["config"]))):
                               data.draw(hostile | json_values)}
        else:
            state = data.draw(hostile | json_values)
        path = folder / "checkpoint.pt"
        writer = data.draw(st.sampled_from(["torch", "pickle", "cut", "junk"]))
        if writer == "junk":
            path.write_bytes(data.draw(st.binary(max_size=400)))
        elif writer == "pickle":
            path.write_bytes(pickle.dumps(state, protocol=data.draw(st.integers(0, 5))))
        else:
            torch.save(state, path)
            if writer == "cut":
                raw = path.read_bytes()
                path.write_bytes(raw[:data.draw(st.integers(0, len(raw) - 1))])
        out = folder / "out"
        out.mkdir()
        outcome = run_cli(["export", path, "-o", out / "model.net"])
        assert_clean(outcome, out)
        assert not Path(marker).exists(), f"code ran from the checkpoint: {outcome}"
        if "payload" in change:
            assert outcome.code == 2, str(outcome)


# --- --ray addresses -------------------------------------------------------------------

#: Hosts that do not resolve or, with the ports below, do not answer (never 'local'/'auto').
RAY_HOSTS = ["127.0.0.1", "0.0.0.0", "[::1]", "::1", "nohost.invalid", "256.1.1.1", "", "a" * 300, "ray://127.0.0.1",
             "ray://nohost.invalid", "http://127.0.0.1", "1.2.3", "-1", "127.0.0.1:1", "localhost.invalid"]
RAY_PORTS = ["1", "0", "65536", "-1", "x", "", "99999999999999999999", "1.5", "6379 ", "\u0661"]
ray_addresses = (st.tuples(st.sampled_from(RAY_HOSTS), st.sampled_from(RAY_PORTS)).map(":".join)
                 | st.text(alphabet="abcxyz./-_ ", max_size=40).filter(lambda text: text not in ("local", "auto")))


@fuzz_settings(50)
@given(address=ray_addresses, command=st.sampled_from(["simulate", "parity"]))
def test_ray_addresses_end_cleanly_within_the_connect_timeout(surface_files, address, command):
    pytest.importorskip("ray")
    args = [command, surface_files["net"], "--spikes", surface_files["spikes"], "--ray", address]
    outcome = run_cli(args + (["--backend", "emulator"] if command == "simulate" else []), timeout_s=25)
    assert_clean(outcome)
    assert outcome.code == 2, str(outcome)
